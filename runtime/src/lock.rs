//! The lock file (`topology.net.lock`): every address netplan chose, so that plans are
//! stable over edits and the same on any machine.
//!
//! TOML, sorted by name (BTreeMap), one value per line: friendly to review and diff.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use ipnet::{Ipv4Net, Ipv6Net};
use serde::{Deserialize, Serialize};
use smallvec::SmallVec;

use crate::desired::Name;

/// The format version this build reads and writes.
pub const LOCK_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lock {
    pub version: u32,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub networks: BTreeMap<Name, NetworkLock>,
    /// A sorted vector rather than a B-tree: built in one go by IPAM and read by name.
    #[serde(default, skip_serializing_if = "NameMap::is_empty")]
    pub containers: NameMap<ContainerLock>,
}

impl Default for Lock {
    fn default() -> Self {
        Lock {
            version: LOCK_VERSION,
            networks: BTreeMap::new(),
            containers: NameMap::new(),
        }
    }
}

/// Subnets chosen automatically for a network.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct NetworkLock {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet4: Option<Ipv4Net>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet6: Option<Ipv6Net>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ContainerLock {
    /// Addresses per network name.
    #[serde(default, skip_serializing_if = "NameMap::is_empty")]
    pub endpoints: NameMap<EndpointLock>,
    /// Host ports chosen for `publish` without one, keyed by the publish spec
    /// (e.g. `"80/tcp"`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub ports: BTreeMap<String, u16>,
}

/// A map from names to values, sorted by name like a `BTreeMap<String, V>` and
/// (de)serialized the same way, kept as one sorted vector. Built in one go (`collect`);
/// `insert` shifts the entries after the new one, so it suits small maps only.
///
/// A container has a handful of endpoints; as a B-tree each container's map took a whole
/// node of over 500 bytes, which made the lock of 10,000 containers about 6 MB and planning
/// slow down more than linearly as that outgrew the caches. As a vector it takes a few dozen
/// bytes per endpoint, and the first entry (most containers have one endpoint) sits inline,
/// read with its container rather than through a pointer. The lock's containers are one
/// such vector too: IPAM builds it at once and looks names up in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameMap<V> {
    /// Sorted by name, names unique.
    entries: SmallVec<[(Name, V); 1]>,
}

impl<V> Default for NameMap<V> {
    fn default() -> Self {
        NameMap {
            entries: SmallVec::new(),
        }
    }
}

impl<V> NameMap<V> {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_capacity(n: usize) -> Self {
        NameMap {
            entries: SmallVec::with_capacity(n),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    fn find(&self, name: &str) -> Result<usize, usize> {
        self.entries.binary_search_by(|(k, _)| k.as_str().cmp(name))
    }

    pub fn get(&self, name: &str) -> Option<&V> {
        self.find(name).ok().map(|i| &self.entries[i].1)
    }

    pub fn get_mut(&mut self, name: &str) -> Option<&mut V> {
        self.find(name).ok().map(|i| &mut self.entries[i].1)
    }

    pub fn contains_key(&self, name: &str) -> bool {
        self.find(name).is_ok()
    }

    /// Sets the value of `name`, returning the one it replaces.
    pub fn insert(&mut self, name: Name, value: V) -> Option<V> {
        match self.find(&name) {
            Ok(i) => Some(std::mem::replace(&mut self.entries[i].1, value)),
            Err(i) => {
                self.entries.insert(i, (name, value));
                None
            }
        }
    }

    pub fn remove(&mut self, name: &str) -> Option<V> {
        self.find(name).ok().map(|i| self.entries.remove(i).1)
    }

    /// Entries in name order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&Name, &V)> {
        self.entries.iter().map(|(k, v)| (k, v))
    }

    pub fn keys(&self) -> impl ExactSizeIterator<Item = &Name> {
        self.entries.iter().map(|(k, _)| k)
    }

    pub fn values(&self) -> impl ExactSizeIterator<Item = &V> {
        self.entries.iter().map(|(_, v)| v)
    }

    /// The entries in name order.
    pub fn as_slice(&self) -> &[(Name, V)] {
        &self.entries
    }

    /// The value at position `i` (in name order).
    pub fn value_at(&self, i: usize) -> Option<&V> {
        self.entries.get(i).map(|(_, v)| v)
    }
}

/// Where [`Placed::put`] put an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// At the earlier map's position.
    At(usize),
    /// Among the entries the earlier map did not hold.
    Rest(usize),
}

/// Builds a [`NameMap`] from entries most of which take the place of the entry of the same
/// name in an earlier map of `slots` entries (`put` with `Some(p)`: the name is the one at
/// position `p` there). Those go straight to their slots; only the others are sorted, then
/// merged in. So rebuilding the lock of a topology that kept its containers sorts nothing:
/// linear rather than n log n name comparisons, and each entry is written where it stays
/// rather than gathered in a list first. Like `collect`: of equal names, the last one wins.
pub struct Placed<V> {
    /// The earlier map's positions, each holding an empty entry until it is put.
    slots: Vec<(Name, V)>,
    filled: Vec<bool>,
    rest: Vec<(Name, V)>,
}

impl<V: Default> Placed<V> {
    pub fn new(slots: usize) -> Self {
        Placed {
            slots: (0..slots).map(|_| (Name::default(), V::default())).collect(),
            filled: vec![false; slots],
            rest: Vec::new(),
        }
    }

    /// Adds an entry; `position` is where the earlier map held `name`, if it did. The slot
    /// it went to finds it again until the map is finished.
    pub fn put(&mut self, position: Option<usize>, name: Name, value: V) -> Slot {
        match position.and_then(|p| Some((p, self.slots.get_mut(p)?, self.filled.get_mut(p)?))) {
            Some((p, slot, filled)) => {
                *slot = (name, value);
                *filled = true;
                Slot::At(p)
            }
            None => {
                self.rest.push((name, value));
                Slot::Rest(self.rest.len() - 1)
            }
        }
    }

    /// The value put into `slot`.
    pub fn get_mut(&mut self, slot: Slot) -> Option<&mut V> {
        let entry = match slot {
            Slot::At(p) => self
                .slots
                .get_mut(p)
                .filter(|_| self.filled.get(p) == Some(&true)),
            Slot::Rest(i) => self.rest.get_mut(i),
        };
        entry.map(|(_, v)| v)
    }

    pub fn finish(self) -> NameMap<V> {
        let out = self.merge();
        if out.is_sorted_by(|a, b| a.0 < b.0) {
            NameMap {
                entries: SmallVec::from_vec(out),
            }
        } else {
            // A position that did not hold the name: sort after all.
            out.into_iter().collect()
        }
    }

    /// [`Self::finish`] before the check that the promised positions held.
    fn merge(self) -> Vec<(Name, V)> {
        let Placed {
            mut slots,
            filled,
            rest,
        } = self;
        // Positions nothing took (a container removed) are dropped in place; when every
        // one was taken and nothing is new, the entries are already where they stay.
        if filled.contains(&false) {
            let mut taken = filled.iter();
            slots.retain(|_| taken.next().copied().unwrap_or(false));
        }
        if rest.is_empty() {
            return slots;
        }
        let rest: NameMap<V> = rest.into_iter().collect();
        let mut rest = rest.entries.into_iter().peekable();
        let mut out: Vec<(Name, V)> = Vec::with_capacity(slots.len() + rest.len());
        for (name, value) in slots {
            while let Some(r) = rest.next_if(|r| r.0 < name) {
                out.push(r);
            }
            out.push((name, value));
        }
        out.extend(rest);
        out
    }
}

impl<V> FromIterator<(Name, V)> for NameMap<V> {
    /// Like a `BTreeMap`: of equal names, the last one is kept.
    fn from_iter<I: IntoIterator<Item = (Name, V)>>(iter: I) -> Self {
        let entries: Vec<(Name, V)> = iter.into_iter().collect();
        if entries.is_sorted_by(|a, b| a.0 < b.0) {
            return NameMap {
                entries: SmallVec::from_vec(entries),
            };
        }
        // Positions are sorted rather than the entries, which can be large (a container's
        // lock is 72 bytes): sorting 10,000 of them moved megabytes. Ties go by position,
        // so that of equal names the last one wins.
        let mut order: Vec<usize> = (0..entries.len()).collect();
        order.sort_unstable_by(|&a, &b| entries[a].0.cmp(&entries[b].0).then(a.cmp(&b)));
        let mut slots: Vec<Option<(Name, V)>> = entries.into_iter().map(Some).collect();
        let mut out: Vec<(Name, V)> = Vec::with_capacity(slots.len());
        for i in order {
            let Some(e) = slots.get_mut(i).and_then(Option::take) else {
                continue;
            };
            match out.last_mut() {
                Some(last) if last.0 == e.0 => *last = e,
                _ => out.push(e),
            }
        }
        NameMap {
            entries: SmallVec::from_vec(out),
        }
    }
}

impl<'a, V> IntoIterator for &'a NameMap<V> {
    type Item = (&'a Name, &'a V);
    type IntoIter = std::iter::Map<std::slice::Iter<'a, (Name, V)>, fn(&'a (Name, V)) -> (&'a Name, &'a V)>;

    fn into_iter(self) -> Self::IntoIter {
        self.entries.iter().map(|(k, v)| (k, v))
    }
}

impl<V> IntoIterator for NameMap<V> {
    type Item = (Name, V);
    type IntoIter = smallvec::IntoIter<[(Name, V); 1]>;

    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

impl<V: Serialize> Serialize for NameMap<V> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter())
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for NameMap<V> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit<V>(std::marker::PhantomData<V>);
        impl<'de, V: Deserialize<'de>> serde::de::Visitor<'de> for Visit<V> {
            type Value = NameMap<V>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a map")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0).min(64));
                while let Some(e) = map.next_entry::<Name, V>()? {
                    entries.push(e);
                }
                Ok(entries.into_iter().collect())
            }
        }
        deserializer.deserialize_map(Visit(std::marker::PhantomData))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct EndpointLock {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv4: Option<Ipv4Addr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv6: Option<Ipv6Addr>,
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum LockError {
    #[error("cannot read lock file {path}: {source}")]
    #[diagnostic(code(netplan::lock::read))]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("lock file {path} is not valid: {message}")]
    #[diagnostic(
        code(netplan::lock::parse),
        help(
            "the lock file is written by netplan; restore it from version control, or delete it to let netplan choose addresses anew"
        )
    )]
    Parse { path: PathBuf, message: String },
    #[error("lock file {path} has format version {found}; this netplan reads version {LOCK_VERSION}")]
    #[diagnostic(
        code(netplan::lock::version),
        help("use the netplan release that wrote it, or delete the lock file")
    )]
    Version { path: PathBuf, found: u32 },
    #[error("cannot write lock file {path}: {source}")]
    #[diagnostic(code(netplan::lock::write))]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl Lock {
    /// The lock file that belongs to a topology file: the same path plus `.lock`.
    pub fn path_for(topology: &Path) -> PathBuf {
        let mut p = topology.as_os_str().to_owned();
        p.push(".lock");
        PathBuf::from(p)
    }

    /// Reads a lock file; a missing file is an empty lock.
    pub fn load(path: &Path) -> Result<Lock, LockError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Lock::default()),
            Err(source) => {
                return Err(LockError::Read {
                    path: path.into(),
                    source,
                });
            }
        };
        Lock::parse(&text).map_err(|e| match e {
            LockError::Parse { message, .. } => LockError::Parse {
                path: path.into(),
                message,
            },
            LockError::Version { found, .. } => LockError::Version {
                path: path.into(),
                found,
            },
            other => other,
        })
    }

    /// Parses lock file text.
    pub fn parse(text: &str) -> Result<Lock, LockError> {
        #[derive(Deserialize)]
        struct Head {
            version: u32,
        }
        let head: Head = toml::from_str(text).map_err(|e| LockError::Parse {
            path: PathBuf::new(),
            message: e.message().to_string(),
        })?;
        if head.version != LOCK_VERSION {
            return Err(LockError::Version {
                path: PathBuf::new(),
                found: head.version,
            });
        }
        toml::from_str(text).map_err(|e| LockError::Parse {
            path: PathBuf::new(),
            message: e.message().to_string(),
        })
    }

    /// The file's text: a header comment, then sorted TOML.
    pub fn render(&self, topology_file: &str) -> String {
        let body = toml::to_string(self).unwrap_or_else(|_| format!("version = {LOCK_VERSION}\n"));
        format!(
            "# netplan lock file for {topology_file}: the addresses netplan chose.\n\
             # Commit it with the topology so plans stay the same on every machine.\n\
             # Written by netplan; do not edit by hand.\n\n{body}"
        )
    }

    /// Writes the lock file only when its content changes. Returns whether it wrote.
    pub fn save(&self, path: &Path, topology_file: &str) -> Result<bool, LockError> {
        let text = self.render(topology_file);
        if std::fs::read_to_string(path).is_ok_and(|old| old == text) {
            return Ok(false);
        }
        crate::atomic_file::write(path, text).map_err(|source| LockError::Write {
            path: path.into(),
            source,
        })?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_sorted() {
        let mut l = Lock::default();
        l.networks.insert(
            "zeta".into(),
            NetworkLock {
                subnet4: "172.18.0.0/16".parse().ok(),
                subnet6: None,
            },
        );
        l.networks.insert("alpha".into(), NetworkLock::default());
        let mut c = ContainerLock::default();
        c.endpoints.insert(
            "zeta".into(),
            EndpointLock {
                ipv4: "172.18.0.2".parse().ok(),
                ipv6: None,
            },
        );
        c.ports.insert("80/tcp".into(), 49153);
        l.containers.insert("web".into(), c);
        let text = l.render("t.net");
        assert!(text.find("[networks.alpha]") < text.find("[networks.zeta]"));
        assert_eq!(Lock::parse(&text).ok(), Some(l));
    }

    #[test]
    fn name_map_is_a_sorted_map() {
        let mut m = NameMap::new();
        assert_eq!(m.insert("zeta".into(), 1), None);
        assert_eq!(m.insert("alpha".into(), 2), None);
        assert_eq!(m.insert("zeta".into(), 3), Some(1));
        assert_eq!(m.keys().collect::<Vec<_>>(), ["alpha", "zeta"]);
        assert_eq!(m.get("zeta"), Some(&3));
        assert_eq!(m.get("beta"), None);
        // Already sorted and unique: kept as it is.
        let s: NameMap<i32> = [("a".into(), 1), ("b".into(), 2)].into_iter().collect();
        assert_eq!(
            s.iter().collect::<Vec<_>>(),
            [(&Name::from("a"), &1), (&Name::from("b"), &2)]
        );
        // As from a map filled in order: the last value of a name stays.
        let c: NameMap<i32> = [("b".into(), 1), ("a".into(), 2), ("b".into(), 3)]
            .into_iter()
            .collect();
        assert_eq!(
            c.iter().collect::<Vec<_>>(),
            [(&Name::from("a"), &2), (&Name::from("b"), &3)]
        );
        // Written and read exactly as the B-tree map it replaces.
        let b: BTreeMap<String, i32> = c.iter().map(|(k, v)| (k.to_string(), *v)).collect();
        assert_eq!(toml::to_string(&c).ok(), toml::to_string(&b).ok());
        let back: Result<NameMap<i32>, _> = toml::from_str("b = 1\na = 2\n");
        assert_eq!(
            back.ok().map(|m| m.into_iter().collect::<Vec<_>>()),
            Some(vec![(Name::from("a"), 2), (Name::from("b"), 1)])
        );
    }

    proptest::proptest! {
        /// Collected in any order, with names given more than once, it holds what a
        /// `BTreeMap` filled in that order holds.
        #[test]
        fn collects_like_a_btree_map(pairs in proptest::collection::vec(("[a-e]{1,3}", 0..100i32), 0..60)) {
            let map: NameMap<i32> = pairs.iter().map(|(k, v)| (Name::from(k.as_str()), *v)).collect();
            let tree: BTreeMap<&str, i32> = pairs.iter().map(|(k, v)| (k.as_str(), *v)).collect();
            let got: Vec<(&str, i32)> = map.iter().map(|(k, v)| (k.as_str(), *v)).collect();
            let want: Vec<(&str, i32)> = tree.into_iter().collect();
            proptest::prop_assert_eq!(got, want);
        }
    }

    proptest::proptest! {
        /// Entries placed where an earlier map held their name, and new ones, give what a
        /// `BTreeMap` filled in the same order holds.
        #[test]
        fn placed_like_a_btree_map(
            prior in proptest::collection::btree_set("[a-e]{1,3}", 0..30),
            picks in proptest::collection::vec((0..40usize, "[a-f]{1,3}", 0..100i32), 0..60),
        ) {
            let prior: Vec<String> = prior.into_iter().collect();
            let mut entries = Vec::new();
            let mut tree: BTreeMap<String, i32> = BTreeMap::new();
            for (pick, fresh, v) in picks {
                // Either a name of the earlier map, at its position, or any name without one.
                let (position, name) = match prior.get(pick) {
                    Some(n) => (Some(pick), n.clone()),
                    None => (prior.iter().position(|n| *n == fresh), fresh),
                };
                entries.push((position, Name::from(name.as_str()), v));
                tree.insert(name, v);
            }
            // The merge itself, without the fallback sort that would hide a wrong one.
            let mut placed = Placed::new(prior.len());
            let mut slots = Vec::new();
            for (position, name, v) in entries {
                // Put with the value negated, then set through the slot.
                let slot = placed.put(position, name, -v);
                slots.push((slot, v));
            }
            for (slot, v) in slots {
                if let Some(value) = placed.get_mut(slot) {
                    *value = v;
                }
            }
            let merged = placed.merge();
            let got: Vec<(String, i32)> = merged.iter().map(|(k, v)| (k.to_string(), *v)).collect();
            let want: Vec<(String, i32)> = tree.into_iter().collect();
            proptest::prop_assert_eq!(got, want);
        }
    }

    #[test]
    fn a_wrong_position_still_gives_a_sorted_map() {
        let mut placed = Placed::new(2);
        placed.put(Some(0), Name::from("z"), 1);
        placed.put(Some(1), Name::from("a"), 2);
        let m = placed.finish();
        assert_eq!(m.keys().collect::<Vec<_>>(), ["a", "z"]);
    }

    #[test]
    fn refuses_other_versions_and_garbage() {
        assert!(matches!(
            Lock::parse("version = 9\n"),
            Err(LockError::Version { found: 9, .. })
        ));
        assert!(matches!(
            Lock::parse("networks = 3"),
            Err(LockError::Parse { .. })
        ));
    }
}
