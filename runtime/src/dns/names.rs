//! The name data the service answers from: one immutable [`Snapshot`] built from every applied
//! desired state, swapped whole on reload.
//!
//! What exists in a snapshot:
//! * per DNS network (user-defined networks of every topology): its **members**, the endpoints of
//!   containers that are not stopped, in declaration order, with their addresses, and a map from
//!   each lower-cased name (container name, its 12-hex short id as Docker serves it, or `alias`)
//!   to the members that answer it;
//! * per served container (embedded resolver, own namespace, not stopped): a [`View`] listing its
//!   DNS endpoints with the `link X as A` aliases declared on each, its upstream resolvers, and
//!   whether it may forward at all (not when every network it is on is `internal`);
//! * every name a topology defines: its containers' names and short ids (running or stopped),
//!   the aliases and link aliases declared on any of its networks, and its DNS networks' names,
//!   so that a netplan name the asker may not see is answered NXDOMAIN at once instead of being
//!   forwarded upstream (no leak, no delay). `NAME.NETWORK` is netplan's when NAME is a name of
//!   a topology and NETWORK one of its DNS networks, whether or not NAME is on NETWORK now: a
//!   link alias whose target left the network, a disconnected endpoint's `NAME.NETWORK`, a
//!   stopped container's;
//! * every container address, for PTR (addresses of stopped containers are netplan's too).
//!
//! Endpoints are the truth: a disconnected endpoint (absent from the state) answers nothing, even
//! while a stale record for it remains. Lookups never allocate per member; building a snapshot for
//! 1,000 containers takes a few milliseconds.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use netplan_lang::model::AliasMode;

use crate::desired::{Desired, Resolver};

use super::{MAX_UPSTREAMS, is_self};

/// The hasher of the snapshot's maps: FxHash's multiply-rotate, several times faster than the
/// default SipHash on short names. Keys come from the topologies, never from the network; a query
/// only looks names up, so a crafted name cannot make a map degrade.
#[derive(Debug, Default, Clone, Copy)]
pub struct NameHasher(u64);

impl NameHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl Hasher for NameHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(w) ^ ((rest.len() as u64) << 59));
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }

    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        // hashbrown picks buckets with the low bits and tags with the top 7: mix both in.
        self.0.rotate_left(26)
    }
}

/// A map of the snapshot, hashed with [`NameHasher`].
pub type NameMap<K, V> = HashMap<K, V, BuildHasherDefault<NameHasher>>;

/// Index of a network in a snapshot.
pub type NetId = u32;
/// Index of a member within its network.
pub type MemberId = u32;

/// One container's live endpoint on a DNS network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The container's name as declared.
    pub container: String,
    pub v4: Option<Ipv4Addr>,
    pub v6: Option<Ipv6Addr>,
}

/// A network with embedded DNS.
#[derive(Debug)]
pub struct NetData {
    /// As declared.
    pub name: String,
    /// Lower-cased, for `NAME.NETWORK` matching.
    pub lname: String,
    pub topology: String,
    pub internal: bool,
    pub mode: AliasMode,
    /// Live endpoints in declaration order.
    pub members: Vec<Member>,
    /// Lower-cased container name → its member.
    by_container: NameMap<String, MemberId>,
    /// Lower-cased name or alias → members answering it, in declaration order.
    names: NameMap<String, Vec<MemberId>>,
}

impl NetData {
    /// The member of container `lname` (lower-cased), if it is live on this network.
    pub fn member_of(&self, lname: &str) -> Option<MemberId> {
        self.by_container.get(lname).copied()
    }

    /// [`NetData::member_of`], borrowed from the snapshot.
    pub(crate) fn member_ref(&self, lname: &str) -> Option<&MemberId> {
        self.by_container.get(lname)
    }

    /// The members answering `lname` (lower-cased), in declaration order.
    pub fn backers(&self, lname: &str) -> &[MemberId] {
        self.names.get(lname).map_or(&[], Vec::as_slice)
    }

    /// Member `id`.
    pub fn member(&self, id: MemberId) -> Option<&Member> {
        self.members.get(id as usize)
    }
}

/// One DNS endpoint of a served container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewEndpoint {
    pub net: NetId,
    /// Lower-cased link alias → lower-cased target container name (`link X as A`).
    pub links: NameMap<String, String>,
}

/// What one served container may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct View {
    pub topology: String,
    pub container: String,
    /// Its endpoints on DNS networks, in attachment order.
    pub endpoints: Vec<ViewEndpoint>,
    /// Where unknown names go (its `dns` setting, else the host's), at most three.
    pub upstreams: Vec<IpAddr>,
    /// False when every network it is on is `internal`: nothing is forwarded.
    pub forward: bool,
}

/// All name data of the machine at one moment.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// Increases with every reload.
    pub generation: u64,
    nets: Vec<NetData>,
    /// Served namespace → view.
    views: NameMap<String, View>,
    /// Every lower-cased bare name a topology defines → the topologies (indices) defining it.
    known: NameMap<String, Vec<u32>>,
    /// Lower-cased DNS network name → the topologies (indices) that have it.
    known_nets: NameMap<String, Vec<u32>>,
    /// Container address → (network, member) pairs of live endpoints.
    addrs: NameMap<IpAddr, Vec<(NetId, MemberId)>>,
    /// Addresses of endpoints of stopped containers (kept, answering nothing).
    stopped_addrs: HashSet<IpAddr>,
    /// Topologies added so far.
    topologies: u32,
    /// The host's resolvers (used by containers without a `dns` setting).
    pub host_upstreams: Vec<IpAddr>,
    /// Problems found while building (a namespace claimed twice).
    pub warnings: Vec<String>,
}

fn lower(s: &str) -> String {
    s.to_ascii_lowercase()
}

/// Records that topology `topo` defines `name` (topologies are added in increasing order).
fn mark(map: &mut NameMap<String, Vec<u32>>, name: String, topo: u32) {
    let topos = map.entry(name).or_default();
    if topos.last() != Some(&topo) {
        topos.push(topo);
    }
}

/// The upstream list actually used: without the embedded server itself, at most three.
pub(crate) fn usable(upstreams: impl IntoIterator<Item = IpAddr>) -> Vec<IpAddr> {
    let mut out: Vec<IpAddr> = Vec::new();
    for ip in upstreams {
        if !is_self(ip) && !out.contains(&ip) && out.len() < MAX_UPSTREAMS {
            out.push(ip);
        }
    }
    out
}

impl Snapshot {
    /// Builds the name data of every applied desired state. `host_upstreams` are the host's
    /// nameservers (its resolv.conf).
    pub fn build(applied: &[Desired], host_upstreams: Vec<IpAddr>) -> Snapshot {
        let host_upstreams = usable(host_upstreams);
        let mut s = Snapshot {
            host_upstreams,
            ..Snapshot::default()
        };
        for d in applied {
            s.add_topology(d);
        }
        s
    }

    fn add_topology(&mut self, d: &Desired) {
        let topo = self.topologies;
        self.topologies += 1;
        // This topology's DNS networks → snapshot ids.
        let mut local: HashMap<&str, NetId> = HashMap::new();
        for n in d.networks.iter().filter(|n| n.has_dns()) {
            let id = self.nets.len() as NetId;
            local.insert(n.name.as_str(), id);
            let lname = lower(&n.name);
            mark(&mut self.known_nets, lname.clone(), topo);
            for r in &n.records {
                mark(&mut self.known, lower(&r.name), topo);
            }
            self.nets.push(NetData {
                name: n.name.to_string(),
                lname,
                topology: d.topology.clone(),
                internal: n.internal,
                mode: n.alias_mode,
                members: Vec::new(),
                by_container: NameMap::default(),
                names: NameMap::default(),
            });
        }
        for c in &d.containers {
            let cname = lower(&c.name);
            mark(&mut self.known, cname.clone(), topo);
            let short = c.id.short();
            mark(&mut self.known, short.clone(), topo);
            for e in &c.endpoints {
                let aliases: Vec<String> = e.aliases.iter().map(|a| lower(a)).collect();
                for name in aliases
                    .iter()
                    .cloned()
                    .chain(e.links.iter().map(|l| lower(&l.alias)))
                {
                    mark(&mut self.known, name, topo);
                }
                let Some(&id) = local.get(e.network.as_str()) else {
                    continue;
                };
                let net = &mut self.nets[id as usize];
                if c.stopped {
                    let ips = [
                        e.ipv4.map(|n| IpAddr::V4(n.addr())),
                        e.ipv6.map(|n| IpAddr::V6(n.addr())),
                    ];
                    self.stopped_addrs.extend(ips.into_iter().flatten());
                    continue;
                }
                let mid = net.members.len() as MemberId;
                net.members.push(Member {
                    container: c.name.to_string(),
                    v4: e.ipv4.map(|n| n.addr()),
                    v6: e.ipv6.map(|n| n.addr()),
                });
                net.by_container.insert(cname.clone(), mid);
                for name in [&cname, &short].into_iter().chain(&aliases) {
                    let backers = net.names.entry(name.clone()).or_default();
                    if !backers.contains(&mid) {
                        backers.push(mid);
                    }
                }
                let ips = [
                    e.ipv4.map(|n| IpAddr::V4(n.addr())),
                    e.ipv6.map(|n| IpAddr::V6(n.addr())),
                ];
                for ip in ips.into_iter().flatten() {
                    self.addrs.entry(ip).or_default().push((id, mid));
                }
            }
        }
        for c in &d.containers {
            let Some(netns) = c.netns() else { continue };
            if c.resolver != Resolver::Embedded || c.stopped {
                continue;
            }
            let endpoints = c
                .endpoints
                .iter()
                .filter_map(|e| {
                    let net = *local.get(e.network.as_str())?;
                    let links = e
                        .links
                        .iter()
                        .map(|l| (lower(&l.alias), lower(&l.target)))
                        .collect();
                    Some(ViewEndpoint { net, links })
                })
                .collect();
            let forward = c
                .endpoints
                .iter()
                .any(|e| d.network(&e.network).is_none_or(|n| !n.internal));
            let upstreams = if c.dns.is_empty() {
                self.host_upstreams.clone()
            } else {
                usable(c.dns.iter().copied())
            };
            let view = View {
                topology: d.topology.clone(),
                container: c.name.to_string(),
                endpoints,
                upstreams,
                forward,
            };
            if let Some(other) = self.views.get(netns) {
                self.warnings.push(format!(
                    "namespace {netns} is claimed by container {} of topology {} and by container {} of \
                     topology {}; the first one is served",
                    other.container, other.topology, c.name, d.topology
                ));
                continue;
            }
            self.views.insert(netns.to_string(), view);
        }
    }

    /// The view of the container served in namespace `netns`.
    pub fn view(&self, netns: &str) -> Option<&View> {
        self.views.get(netns)
    }

    /// Every served namespace (unordered).
    pub fn namespaces(&self) -> impl Iterator<Item = &str> {
        self.views.keys().map(String::as_str)
    }

    /// Network `id`.
    pub fn net(&self, id: NetId) -> Option<&NetData> {
        self.nets.get(id as usize)
    }

    /// Whether `lname` (lower-cased, no trailing dot) is a name some topology defines: one of
    /// its bare names, or `NAME.NETWORK` with NAME one of its names and NETWORK one of its DNS
    /// networks (split at any dot, names and networks may contain dots).
    pub fn is_known(&self, lname: &str) -> bool {
        if self.known.contains_key(lname) {
            return true;
        }
        lname.match_indices('.').any(|(i, _)| {
            let (name, net) = (&lname[..i], &lname[i + 1..]);
            match (self.known.get(name), self.known_nets.get(net)) {
                (Some(a), Some(b)) => a.iter().any(|t| b.contains(t)),
                _ => false,
            }
        })
    }

    /// The (network, member) pairs that own address `ip`.
    pub fn owners(&self, ip: IpAddr) -> &[(NetId, MemberId)] {
        self.addrs.get(&ip).map_or(&[], Vec::as_slice)
    }

    /// Whether `ip` is the address of a stopped container (on one of its DNS networks).
    pub fn is_stopped_addr(&self, ip: IpAddr) -> bool {
        self.stopped_addrs.contains(&ip)
    }

    /// Number of DNS networks.
    pub fn network_count(&self) -> usize {
        self.nets.len()
    }
}
