//! Deterministic names and ids, so that the same file plans the same way on any machine.

use compact_str::CompactString;
use sha2::{Digest, Sha256};

/// A deterministic object id: 32 bytes, shown and stored as 64 lowercase hex.
///
/// Kept as bytes rather than text: a plan of 10,000 containers makes one per container,
/// endpoint and network, and bytes need neither an allocation nor formatting.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id(pub [u8; 32]);

const HEX: &[u8; 16] = b"0123456789abcdef";

impl Id {
    /// The 64 lowercase hex digits, as ASCII bytes: every text form of the id is cut from these.
    fn digits(&self) -> [u8; 64] {
        let mut out = [0u8; 64];
        for (pair, b) in out.chunks_exact_mut(2).zip(self.0) {
            pair[0] = HEX[usize::from(b >> 4)];
            pair[1] = HEX[usize::from(b & 0xf)];
        }
        out
    }

    /// The first `n` hex digits (at most 64).
    pub fn hex_prefix(&self, n: usize) -> String {
        ascii(&self.digits()[..n.min(64)]).to_string()
    }

    /// All 64 hex digits.
    pub fn hex(&self) -> String {
        self.hex_prefix(64)
    }

    /// The first 12 hex digits, as Docker shows ids.
    pub fn short(&self) -> String {
        self.hex_prefix(12)
    }

    /// Whether the (lowercase) hex form starts with `prefix`.
    pub fn starts_with(&self, prefix: &str) -> bool {
        self.digits().starts_with(prefix.as_bytes())
    }

    /// Reads 64 hex digits.
    pub fn parse(text: &str) -> Option<Id> {
        let b = text.as_bytes();
        if b.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (o, pair) in out.iter_mut().zip(b.chunks_exact(2)) {
            let digit = |c: u8| char::from(c).to_digit(16).and_then(|d| u8::try_from(d).ok());
            *o = (digit(pair[0])? << 4) | digit(pair[1])?;
        }
        Some(Id(out))
    }
}

/// Hex digits as text (they are ASCII, so this never comes out empty).
fn ascii(digits: &[u8]) -> &str {
    std::str::from_utf8(digits).unwrap_or_default()
}

impl std::fmt::Display for Id {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(ascii(&self.digits()))
    }
}

impl std::fmt::Debug for Id {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "\"{self}\"")
    }
}

impl serde::Serialize for Id {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Id {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Id, D::Error> {
        let text = std::borrow::Cow::<'de, str>::deserialize(d)?;
        Id::parse(&text).ok_or_else(|| serde::de::Error::custom(format!("not a 64-hex id: {text:?}")))
    }
}

/// The id of an object from the topology name, the object kind and the object's name(s).
pub fn id(topology: &str, kind: &str, parts: &[&str]) -> Id {
    let mut h = Sha256::new();
    h.update(topology.as_bytes());
    h.update([0]);
    h.update(kind.as_bytes());
    for p in parts {
        h.update([0]);
        h.update(p.as_bytes());
    }
    Id(h.finalize().into())
}

/// Linux interface names are at most 15 bytes.
pub const IFNAMSIZ: usize = 15;

/// `br-` and the first 12 hex of the network id, as Docker names its bridges.
pub fn bridge_name(network_id: &Id) -> CompactString {
    prefixed("br-", network_id)
}

/// `prefix` and the first 12 hex of an id, allocated once at its final size.
fn prefixed(prefix: &str, id: &Id) -> CompactString {
    let mut s = CompactString::with_capacity(prefix.len() + 12);
    s.push_str(prefix);
    s.push_str(ascii(&id.digits()[..12]));
    s
}

/// The name of the bridge behind the predefined `bridge` network.
pub const DEFAULT_BRIDGE: &str = "netplan0";

/// Host end of an endpoint's veth pair: `vnp` and 12 hex of the endpoint id (15 bytes).
/// `claim` takes a name if it is free and says whether it did; the name grows a suffix
/// digit until one is claimed. Claiming in one step lets the caller look a name up once.
pub fn veth_name(endpoint_id: &Id, mut claim: impl FnMut(&str) -> bool) -> CompactString {
    let base = prefixed("vnp", endpoint_id);
    if claim(&base) {
        return base;
    }
    // Astronomically rare: a 48-bit prefix collision. Trade the last hex for a digit.
    for d in 0..10 {
        let cand = compact_str::format_compact!("{}{d}", &base[..IFNAMSIZ - 1]);
        if claim(&cand) {
            return cand;
        }
    }
    base
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_and_distinct() {
        let a = id("t", "network", &["n"]);
        assert_eq!(a.hex().len(), 64);
        assert_eq!(a.to_string(), a.hex());
        assert_eq!(a.short(), a.hex()[..12]);
        assert_eq!(Id::parse(&a.hex()), Some(a));
        assert_eq!(Id::parse(&a.hex().to_uppercase()), Some(a));
        assert_eq!(Id::parse(&a.hex()[1..]), None);
        assert!(a.starts_with(&a.hex()[..5]));
        // The hex form is lowercase, and so must a prefix be, as before ids were bytes.
        let ab = Id([0xab; 32]);
        assert!(ab.starts_with("abab") && !ab.starts_with("ABAB"));
        assert!(!a.starts_with(&format!("{}0", a.hex())));
        let json = serde_json::to_string(&a).unwrap_or_default();
        assert_eq!(json, format!("\"{a}\""));
        assert_eq!(serde_json::from_str::<Id>(&json).ok(), Some(a));
        assert!(serde_json::from_str::<Id>("\"zz\"").is_err());
        assert_eq!(a, id("t", "network", &["n"]));
        assert_ne!(a, id("t", "container", &["n"]));
        assert_ne!(a, id("u", "network", &["n"]));
        // Parts are separated, so ("ab","c") and ("a","bc") differ.
        assert_ne!(id("t", "e", &["ab", "c"]), id("t", "e", &["a", "bc"]));
        assert_eq!(bridge_name(&a).len(), 15);
    }

    #[test]
    fn veth_names_fit_and_dodge_collisions() {
        let e = id("t", "endpoint", &["c", "n"]);
        let mut taken = std::collections::HashSet::new();
        let n = veth_name(&e, |x| taken.insert(x.to_string()));
        assert!(n.len() <= IFNAMSIZ);
        let m = veth_name(&e, |x| taken.insert(x.to_string()));
        assert_ne!(m, n);
        assert!(m.len() <= IFNAMSIZ);
        assert_eq!(taken.len(), 2, "each name claimed once: {taken:?}");
    }
}
