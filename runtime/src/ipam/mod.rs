//! IPAM: a checked topology plus the lock file → the concrete desired state.
//!
//! Stability rule: what the lock holds is kept whenever it still fits the file, and only
//! then is anything new chosen. So adding, removing or reordering networks and containers
//! never moves the addresses of the others; a removed entity's addresses are simply not
//! carried into the new lock.

mod addrs;
pub mod pools;
mod ports;

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use netplan_lang::Diag;
use netplan_lang::model::{Container, Driver, Mac, Network, NetworkKind, Topology};
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use thin_vec::ThinVec;

use crate::desired::*;
use crate::ids;
use crate::lock::{ContainerLock, EndpointLock, Lock, NameMap, NetworkLock, Placed};
use crate::positions::Positions;
pub use addrs::SubnetAlloc;
use pools::overlaps;
use ports::PortAlloc;

/// Host ports for `publish` without one come from Docker's ephemeral range.
pub const EPHEMERAL_PORTS: std::ops::RangeInclusive<u16> = 49153..=65535;

/// Default MTU of bridges and veths.
pub const DEFAULT_MTU: u32 = 1500;

/// What the machine already uses, to be avoided. Empty when the machine is not observed
/// (`plan --against`).
#[derive(Debug, Clone, Default)]
pub struct HostReserved {
    /// Address ranges of the host's routes and nameservers, avoided by automatic subnets.
    pub ranges: Vec<(IpNet, String)>,
    /// Addresses that containers of other applied topologies hold on the default bridge,
    /// which every topology shares, with who holds each (`container web of topology shop`).
    /// No container of this topology is given one of them.
    pub default_bridge: BTreeMap<IpAddr, String>,
}

impl HostReserved {
    /// Who holds `ip` on the shared default bridge, if another topology does.
    pub fn bridge_holder(&self, ip: IpAddr) -> Option<&str> {
        self.default_bridge.get(&ip).map(String::as_str)
    }
}

/// Something IPAM decided that the plan should say.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Note {
    /// The object it is about, e.g. `network.isolated_nw`.
    pub address: String,
    pub message: String,
}

/// The outcome of IPAM.
#[derive(Debug, Clone)]
pub struct Allocated {
    pub desired: Desired,
    pub lock: Lock,
    pub notes: Vec<Note>,
}

/// Builds the desired state. Errors (an exhausted pool or subnet) carry spans into the file.
pub fn allocate(topo: &Topology, lock: &Lock, host: &HostReserved) -> Result<Allocated, Vec<Diag>> {
    let mut b = Builder {
        topo,
        lock,
        notes: Vec::new(),
        errors: Vec::new(),
        new_lock: Lock::default(),
        host,
        ula_cursor: 0,
        publishing: Vec::new(),
        lock_positions: Vec::new(),
    };
    // Networks by name: a name stands for its last declaration, as a map filled in order
    // would have it. The networks of the desired state follow `topo.networks` one to one.
    let net_index: HashMap<&str, usize> = topo
        .networks
        .iter()
        .enumerate()
        .map(|(i, n)| (n.name.as_str(), i))
        .collect();
    let networks = b.networks(host, &net_index);
    let mut allocs = Builder::subnet_allocators(&networks);
    // On the shared default bridge, what other topologies hold is taken before anything.
    for a in allocs.iter_mut().filter(|a| a.shared) {
        for al in [a.v4.as_mut(), a.v6.as_mut()].into_iter().flatten() {
            for &ip in host.default_bridge.keys() {
                if al.assignable(ip) {
                    al.reserve(ip);
                }
            }
        }
    }
    let (mut facts, counts) = b.facts(&net_index, &mut allocs);
    b.keep_locked(&mut facts, &mut allocs);
    let (containers, records) = b.containers(&networks, &facts, &counts, &mut allocs);
    if !b.errors.is_empty() {
        return Err(b.errors);
    }
    let mut networks = networks;
    for (n, r) in networks.iter_mut().zip(records) {
        n.records = r;
    }
    let forwarding = Forwarding {
        ipv4: networks.iter().any(|n| n.bridge.is_some() && !n.internal),
        ipv6: networks
            .iter()
            .any(|n| n.bridge.is_some() && !n.internal && n.ipv6),
    };
    Ok(Allocated {
        desired: Desired {
            topology: topo.name.clone(),
            networks,
            containers,
            forwarding,
        },
        lock: b.new_lock,
        notes: b.notes,
    })
}

struct Builder<'a> {
    topo: &'a Topology,
    lock: &'a Lock,
    notes: Vec<Note>,
    errors: Vec<Diag>,
    new_lock: Lock,
    host: &'a HostReserved,
    /// No unique-local /64 before this position in [`pools::ula_v6`] is free: subnets in use
    /// only grow while networks are placed, so each search starts where the last one ended
    /// rather than at the first /64, which made placing n IPv6 networks cubic.
    ula_cursor: u128,
    /// The containers that publish ports (positions), noted while reading them for
    /// [`Self::facts`], so that ports need not read every container again.
    publishing: Vec<usize>,
    /// Per container (in file order): its position in the lock's containers, if there.
    lock_positions: Vec<Option<usize>>,
}

/// What IPAM knows of one attachment before choosing addresses: its network (an index
/// into the networks) and the addresses the lock holds for it (once the lock has been
/// checked: the ones kept). Positions are 32-bit: there is one of these per attachment,
/// read three times, and at 40 rather than 56 bytes more of them stay in the caches.
#[derive(Debug, Clone, Copy)]
struct AtFacts {
    net: Option<u32>,
    locked4: Option<Ipv4Addr>,
    locked6: Option<Ipv6Addr>,
    /// Which container and attachment (positions), to name them in a note.
    container: u32,
    attachment: u32,
}

impl AtFacts {
    fn net(&self) -> Option<usize> {
        self.net.map(|n| n as usize)
    }
}

/// A position as stored in [`AtFacts`]; one past `u32::MAX` positions would name nothing,
/// which no lookup finds.
fn position32(i: usize) -> u32 {
    u32::try_from(i).unwrap_or(u32::MAX)
}

/// Per network: the allocator of each subnet family.
#[derive(Default)]
struct NetAllocs {
    v4: Option<SubnetAlloc>,
    v6: Option<SubnetAlloc>,
    /// The default bridge, whose addresses other topologies share.
    shared: bool,
}

/// Per network: how many attachments and names (container names and aliases) it has, to
/// size what is built for it once. Apart from the allocators, which are many times larger:
/// counting reads every container's network in turn, and with 1,000 networks the counts
/// then stay in the caches where the allocators would not.
#[derive(Default, Clone, Copy)]
struct NetCounts {
    attachments: u32,
    names: u32,
}

impl<'a> Builder<'a> {
    // ------------------------------------------------------------------ networks

    fn networks(&mut self, host: &HostReserved, net_index: &HashMap<&str, usize>) -> Vec<NetState> {
        let topo = self.topo;
        // The position that stands for each network's name (its own, unless it is declared
        // again later).
        let canon: Vec<usize> = if net_index.len() == topo.networks.len() {
            (0..topo.networks.len()).collect()
        } else {
            topo.networks
                .iter()
                .enumerate()
                .map(|(i, n)| net_index.get(n.name.as_str()).copied().unwrap_or(i))
                .collect()
        };
        // Everything declared is taken, whatever the order.
        let mut used: Vec<(IpNet, &str)> = topo
            .networks
            .iter()
            .flat_map(|n| n.subnets.iter().map(|s| (s.cidr.trunc(), n.name.as_str())))
            .collect();
        let needs_auto = |n: &Network| n.kind != NetworkKind::Host && n.kind != NetworkKind::None;
        // Locked automatic subnets come next, so that they never move.
        let mut chosen: Vec<(Option<Ipv4Net>, Option<Ipv6Net>)> = vec![(None, None); topo.networks.len()];
        for (i, n) in topo.networks.iter().enumerate().filter(|(_, n)| needs_auto(n)) {
            let Some(l) = self.lock.networks.get(n.name.as_str()) else {
                continue;
            };
            let has4 = n.subnets.iter().any(|s| s.cidr.addr().is_ipv4());
            let has6 = n.subnets.iter().any(|s| s.cidr.addr().is_ipv6());
            let mut keep = |net: Option<IpNet>, declared: bool, used: &mut Vec<(IpNet, &'a str)>| {
                let net = net?;
                if declared {
                    return None;
                }
                if let Some((_, who)) = used.iter().find(|(u, _)| overlaps(u, &net)) {
                    self.notes.push(Note {
                        address: format!("network.{}", n.name),
                        message: format!(
                            "locked subnet {net} now overlaps network {who}; choosing a new one"
                        ),
                    });
                    return None;
                }
                used.push((net, n.name.as_str()));
                Some(net)
            };
            let v4 = keep(l.subnet4.map(IpNet::V4), has4, &mut used).and_then(|n| match n {
                IpNet::V4(x) => Some(x),
                IpNet::V6(_) => None,
            });
            let v6 = if n.ipv6 {
                keep(l.subnet6.map(IpNet::V6), has6, &mut used).and_then(|n| match n {
                    IpNet::V6(x) => Some(x),
                    IpNet::V4(_) => None,
                })
            } else {
                None
            };
            chosen[canon[i]] = (v4, v6);
        }
        // Then new automatic subnets: the default bridge first (it takes 172.17/16 when free),
        // then the others in declaration order.
        let mut order: Vec<(usize, &Network)> = topo
            .networks
            .iter()
            .enumerate()
            .filter(|(_, n)| needs_auto(n))
            .collect();
        order.sort_by_key(|(_, n)| n.kind != NetworkKind::DefaultBridge);
        for (i, n) in order {
            let (mut v4, mut v6) = chosen[canon[i]];
            if v4.is_none() && !n.subnets.iter().any(|s| s.cidr.addr().is_ipv4()) {
                v4 = self.pick_v4(n, &mut used, host);
            }
            if n.ipv6 && v6.is_none() && !n.subnets.iter().any(|s| s.cidr.addr().is_ipv6()) {
                v6 = self.pick_v6(n, &mut used);
            }
            chosen[canon[i]] = (v4, v6);
        }
        topo.networks
            .iter()
            .zip(&canon)
            .map(|(n, &c)| {
                let (v4, v6) = chosen[c];
                if v4.is_some() || v6.is_some() {
                    self.new_lock.networks.insert(
                        n.name.clone(),
                        NetworkLock {
                            subnet4: v4,
                            subnet6: v6,
                        },
                    );
                }
                net_state(topo, n, v4, v6)
            })
            .collect()
    }

    fn pick_v4<'n>(
        &mut self,
        n: &'n Network,
        used: &mut Vec<(IpNet, &'n str)>,
        host: &HostReserved,
    ) -> Option<Ipv4Net> {
        for pool in pools::default_v4() {
            let p = IpNet::V4(pool);
            if used.iter().any(|(u, _)| overlaps(u, &p)) {
                continue;
            }
            if let Some((r, why)) = host.ranges.iter().find(|(r, _)| overlaps(r, &p)) {
                self.notes.push(Note {
                    address: format!("network.{}", n.name),
                    message: format!("skipped {pool}: overlaps {why} ({r})"),
                });
                continue;
            }
            used.push((p, n.name.as_str()));
            self.notes.push(Note {
                address: format!("network.{}", n.name),
                message: format!("subnet {pool} chosen automatically"),
            });
            return Some(pool);
        }
        self.errors.push(
            Diag::error(
                "netplan::ipam::exhausted",
                format!(
                    "could not find an available, non-overlapping IPv4 address pool among the defaults to assign to network `{}`",
                    n.name
                ),
            )
            .primary(n.span, "needs an automatic subnet")
            .help("declare a subnet for this network, e.g. `subnet 10.80.0.0/24`"),
        );
        None
    }

    fn pick_v6<'n>(&mut self, n: &'n Network, used: &mut Vec<(IpNet, &'n str)>) -> Option<Ipv6Net> {
        for (i, pool) in (self.ula_cursor..).zip(pools::ula_v6_from(&self.topo.name, self.ula_cursor)) {
            let p = IpNet::V6(pool);
            if used.iter().any(|(u, _)| overlaps(u, &p)) {
                continue;
            }
            self.ula_cursor = i + 1;
            used.push((p, n.name.as_str()));
            self.notes.push(Note {
                address: format!("network.{}", n.name),
                message: format!("IPv6 subnet {pool} chosen automatically (unique local)"),
            });
            return Some(pool);
        }
        self.errors.push(
            Diag::error(
                "netplan::ipam::exhausted",
                format!("no free IPv6 /64 left for network `{}`", n.name),
            )
            .primary(n.span, "needs an automatic IPv6 subnet")
            .help("declare an IPv6 subnet for this network, e.g. `subnet fd00:80::/64`"),
        );
        None
    }

    /// One allocator per subnet family and network (indexed like `nets`), with everything
    /// reserved by rule (gateway, aux); static addresses are reserved by [`Self::facts`].
    fn subnet_allocators(nets: &[NetState]) -> Vec<NetAllocs> {
        nets.iter()
            .map(|n| {
                let mut a = NetAllocs {
                    shared: n.kind == NetworkKind::DefaultBridge,
                    ..NetAllocs::default()
                };
                for s in &n.subnets {
                    let mut alloc = SubnetAlloc::new(s.cidr, s.ip_range);
                    alloc.reserve(s.gateway);
                    for addr in s.aux.values() {
                        alloc.reserve(*addr);
                    }
                    if s.cidr.addr().is_ipv4() {
                        a.v4 = Some(alloc);
                    } else {
                        a.v6 = Some(alloc);
                    }
                }
                a
            })
            .collect()
    }

    // ------------------------------------------------------------------ containers

    /// One pass over every attachment of every container: its network, the addresses the
    /// lock holds for it, and every static address reserved in its subnet. Everything after
    /// this that does not need the file's names works on these facts, in one compact
    /// vector, rather than going over the containers again: with 10,000 containers they no
    /// longer stay in the caches from one pass to the next.
    fn facts(
        &mut self,
        net_index: &HashMap<&str, usize>,
        allocs: &mut [NetAllocs],
    ) -> (Vec<AtFacts>, Vec<NetCounts>) {
        let topo = self.topo;
        // The lock's containers by name, hashed: one probe per container rather than a
        // binary search over all of them. The position is kept for the new lock.
        let (locked, _) = Positions::new(self.lock.containers.as_slice(), |e| e.0.as_str());
        self.lock_positions = Vec::with_capacity(topo.containers.len());
        let mut out = Vec::with_capacity(topo.containers.iter().map(|c| c.attachments.len()).sum());
        let mut counts = vec![NetCounts::default(); allocs.len()];
        for (ci, c) in topo.containers.iter().enumerate() {
            if !c.publish.is_empty() {
                self.publishing.push(ci);
            }
            let position = locked.find(&c.name);
            self.lock_positions.push(position);
            let cl = position.and_then(|i| self.lock.containers.value_at(i));
            for (ai, at) in c.attachments.iter().enumerate() {
                let net = net_index.get(at.network.as_str()).copied();
                let mut f = AtFacts {
                    net: net.and_then(|n| u32::try_from(n).ok()),
                    locked4: None,
                    locked6: None,
                    container: position32(ci),
                    attachment: position32(ai),
                };
                let Some(n) = net.and_then(|i| counts.get_mut(i)) else {
                    out.push(f);
                    continue;
                };
                n.attachments = n.attachments.saturating_add(1);
                let names = u32::try_from(1 + at.aliases.len()).unwrap_or(u32::MAX);
                n.names = n.names.saturating_add(names);
                // Static addresses are rare: the allocators are read only for them.
                if (at.ip.is_some() || at.ip6.is_some())
                    && let Some(a) = net.and_then(|i| allocs.get_mut(i))
                {
                    if let (Some(ip), Some(al)) = (at.ip, a.v4.as_mut()) {
                        al.reserve(IpAddr::V4(ip));
                    }
                    if let (Some(ip), Some(al)) = (at.ip6, a.v6.as_mut()) {
                        al.reserve(IpAddr::V6(ip));
                    }
                }
                if let Some(el) = cl.and_then(|cl| cl.endpoints.get(&at.network)) {
                    f.locked4 = el.ipv4.filter(|_| at.ip.is_none());
                    f.locked6 = el.ipv6.filter(|_| at.ip6.is_none());
                }
                out.push(f);
            }
        }
        for (a, n) in allocs.iter_mut().zip(&counts) {
            for al in [a.v4.as_mut(), a.v6.as_mut()].into_iter().flatten() {
                al.make_room(n.attachments as usize);
            }
        }
        (out, counts)
    }

    /// Keeps every locked dynamic address that still fits (in declaration order: of two
    /// endpoints locked to one address, the first keeps it); `facts` then holds the kept
    /// addresses only.
    fn keep_locked(&mut self, facts: &mut [AtFacts], allocs: &mut [NetAllocs]) {
        let topo = self.topo;
        for f in facts {
            if f.locked4.is_none() && f.locked6.is_none() {
                continue;
            }
            let Some(a) = f.net().and_then(|i| allocs.get_mut(i)) else {
                continue;
            };
            // The names are read only for a note.
            let subject = || {
                let c = topo.containers.get(f.container as usize);
                let at = c.and_then(|c| c.attachments.get(f.attachment as usize));
                (
                    c.map_or("", |c| c.name.as_str()),
                    at.map_or("", |at| at.network.as_str()),
                )
            };
            let host = self.host;
            let held = |ip: IpAddr| if a.shared { host.bridge_holder(ip) } else { None };
            f.locked4 = f
                .locked4
                .map(IpAddr::V4)
                .and_then(|ip| keep_locked(a.v4.as_mut(), ip, held(ip), subject, &mut self.notes))
                .and_then(as_v4);
            f.locked6 = f
                .locked6
                .map(IpAddr::V6)
                .and_then(|ip| keep_locked(a.v6.as_mut(), ip, held(ip), subject, &mut self.notes))
                .and_then(|a| match a {
                    IpAddr::V6(x) => Some(x),
                    IpAddr::V4(_) => None,
                });
        }
    }

    /// Every container's endpoints, lowest free address first, in declaration order; and
    /// each network's DNS records (container names and aliases, in declaration order).
    fn containers(
        &mut self,
        nets: &[NetState],
        facts: &[AtFacts],
        counts: &[NetCounts],
        allocs: &mut [NetAllocs],
    ) -> (Vec<ContainerState>, Vec<Vec<DnsRecord>>) {
        let topo = self.topo;
        let mut records: Vec<Vec<DnsRecord>> = nets
            .iter()
            .zip(counts)
            .map(|(n, c)| {
                if n.has_dns() {
                    Vec::with_capacity(c.names as usize)
                } else {
                    Vec::new()
                }
            })
            .collect();
        let mut taken_veths: HashSet<VethKey> =
            HashSet::with_capacity_and_hasher(facts.len(), Default::default());
        let mut ports = PortAlloc::new(topo, self.lock, &self.publishing);
        let mut out = Vec::with_capacity(topo.containers.len());
        // The containers the lock held keep its order.
        let mut locks = Placed::new(self.lock.containers.len());
        // Whether any endpoint on the default bridge has legacy links.
        let mut legacy_links = false;
        let mut at_index = 0;
        for (ci, c) in topo.containers.iter().enumerate() {
            let base = at_index;
            at_index += c.attachments.len();
            let mine = facts.get(base..at_index).unwrap_or_default();
            let mut endpoints = Endpoints::with_capacity(c.attachments.len());
            let mut clock = ContainerLock {
                endpoints: NameMap::with_capacity(c.attachments.len()),
                ..ContainerLock::default()
            };
            let mut default_route_taken = false;
            // The default route's endpoint and its network's host address, for `publish`.
            let mut route: Option<(usize, Option<IpAddr>)> = None;
            let mut kinds = Kinds::default();
            for (f, at) in mine.iter().zip(&c.attachments) {
                let Some(ni) = f.net() else {
                    continue;
                };
                let (Some(net), Some(a)) = (nets.get(ni), allocs.get_mut(ni)) else {
                    continue;
                };
                kinds.add(net.kind);
                if net.has_dns()
                    && let Some(r) = records.get_mut(ni)
                {
                    r.push(DnsRecord {
                        name: c.name.clone(),
                        container: c.name.clone(),
                        alias: false,
                    });
                    r.extend(at.aliases.iter().map(|a| DnsRecord {
                        name: a.clone(),
                        container: c.name.clone(),
                        alias: true,
                    }));
                }
                if !matches!(net.kind, NetworkKind::User | NetworkKind::DefaultBridge) {
                    continue;
                }
                legacy_links |= net.kind == NetworkKind::DefaultBridge && !at.links.is_empty();
                let v4 = match (at.ip, f.locked4) {
                    (Some(ip), _) | (None, Some(ip)) => Some(ip),
                    (None, None) => match a.v4.as_mut() {
                        Some(al) => match al.take_lowest().and_then(as_v4) {
                            Some(ip) => Some(ip),
                            None => {
                                self.full(c, at, net, al.subnet());
                                None
                            }
                        },
                        None => None,
                    },
                };
                let v6 = if net.ipv6 {
                    match (at.ip6, f.locked6) {
                        (Some(ip), _) | (None, Some(ip)) => Some(ip),
                        (None, None) => match a.v6.as_mut() {
                            Some(al) => match al.take_lowest() {
                                Some(IpAddr::V6(ip)) => Some(ip),
                                _ => {
                                    self.full(c, at, net, al.subnet());
                                    None
                                }
                            },
                            None => None,
                        },
                    }
                } else {
                    None
                };
                clock
                    .endpoints
                    .insert(at.network.clone(), EndpointLock { ipv4: v4, ipv6: v6 });
                let s4 = net.subnet4();
                let s6 = net.subnet6();
                let id = ids::id(&topo.name, "endpoint", &[&c.name, &at.network]);
                let host_veth = ids::veth_name(&id, |n| taken_veths.contains(&veth_key(n)));
                taken_veths.insert(veth_key(&host_veth));
                let default_route = !default_route_taken && !net.internal;
                default_route_taken |= default_route;
                if default_route {
                    route = Some((endpoints.len(), net.host_ip));
                }
                endpoints.push(Endpoint {
                    network: at.network.clone(),
                    interface: Interface::at(endpoints.len()),
                    host_veth,
                    ipv4: v4
                        .zip(s4)
                        .and_then(|(ip, s)| Ipv4Net::new(ip, s.cidr.prefix_len()).ok()),
                    ipv6: v6
                        .zip(s6)
                        .and_then(|(ip, s)| Ipv6Net::new(ip, s.cidr.prefix_len()).ok()),
                    gateway4: s4.and_then(|s| as_v4(s.gateway)),
                    gateway6: s6.and_then(|s| match s.gateway {
                        IpAddr::V6(g) => Some(g),
                        IpAddr::V4(_) => None,
                    }),
                    static_ipv4: at.ip.is_some(),
                    static_ipv6: at.ip6.is_some(),
                    mac: at.mac.unwrap_or_else(|| mac_for(v4, &id)),
                    mtu: net.mtu,
                    aliases: at.aliases.iter().cloned().collect(),
                    links: at
                        .links
                        .iter()
                        .map(|l| LinkState {
                            target: l.target.clone(),
                            alias: l.alias.clone(),
                        })
                        .collect(),
                    default_route,
                    id,
                });
            }
            let route = route.and_then(|(e, host_ip)| Some((endpoints.get(e)?, host_ip)));
            let port_states = ports.assign(c, route, &mut clock);
            if !clock.endpoints.is_empty() || !clock.ports.is_empty() {
                let position = self.lock_positions.get(ci).copied().flatten();
                locks.put(position, c.name.clone(), clock);
            }
            out.push(container_state(topo, c, endpoints, port_states, kinds));
        }
        self.new_lock.containers = locks.finish();
        if legacy_links {
            add_legacy_links(&mut out, nets, &topo.networks);
        }
        (out, records)
    }

    fn full(&mut self, c: &Container, at: &netplan_lang::model::Attachment, net: &NetState, subnet: IpNet) {
        self.errors.push(
            Diag::error(
                "netplan::ipam::subnet_full",
                format!(
                    "no free address left in {subnet} for container `{}` on network `{}`",
                    c.name, net.name
                ),
            )
            .primary(at.span, "this attachment needs an address")
            .help("use a larger subnet or ip-range for the network, or fewer containers on it"),
        );
    }
}

/// A host veth name as a fixed-size key, so that remembering the names in use allocates
/// nothing per endpoint: the bytes, then the length. [`ids::veth_name`] never makes a name
/// longer than [`ids::IFNAMSIZ`] bytes, so the key is exact.
type VethKey = [u8; ids::IFNAMSIZ + 1];

fn veth_key(name: &str) -> VethKey {
    let mut k = [0u8; ids::IFNAMSIZ + 1];
    let b = name.as_bytes();
    let n = b.len().min(ids::IFNAMSIZ);
    k[..n].copy_from_slice(&b[..n]);
    k[ids::IFNAMSIZ] = u8::try_from(b.len()).unwrap_or(u8::MAX);
    k
}

/// The kinds of network a container is attached to.
#[derive(Debug, Clone, Copy, Default)]
struct Kinds {
    host: bool,
    user: bool,
    default_bridge: bool,
}

impl Kinds {
    fn add(&mut self, kind: NetworkKind) {
        match kind {
            NetworkKind::Host => self.host = true,
            NetworkKind::User => self.user = true,
            NetworkKind::DefaultBridge => self.default_bridge = true,
            NetworkKind::None => {}
        }
    }
}

/// Legacy links on the default bridge become /etc/hosts entries of the linking container.
fn add_legacy_links(out: &mut [ContainerState], nets: &[NetState], declared: &[Network]) {
    // A name stands for its last declaration, as in every lookup by name here.
    let net_index: HashMap<&str, usize> = declared
        .iter()
        .enumerate()
        .map(|(i, n)| (n.name.as_str(), i))
        .collect();
    let on_default_bridge = |network: &str| {
        net_index
            .get(network)
            .and_then(|&i| nets.get(i))
            .is_some_and(|n| n.kind == NetworkKind::DefaultBridge)
    };
    let extras: Vec<(usize, ThinVec<LinkHost>)> = {
        let addr_on: HashMap<(&str, &str), Ipv4Addr> = out
            .iter()
            .flat_map(|c| {
                c.endpoints
                    .iter()
                    .filter_map(move |e| Some(((c.name.as_str(), e.network.as_str()), e.ipv4?.addr())))
            })
            .collect();
        out.iter()
            .enumerate()
            .filter_map(|(i, c)| {
                let lines: ThinVec<LinkHost> = c
                    .endpoints
                    .iter()
                    .filter(|e| on_default_bridge(&e.network))
                    .flat_map(|e| {
                        e.links.iter().filter_map(|l| {
                            let ip = addr_on.get(&(l.target.as_str(), e.network.as_str()))?;
                            Some(LinkHost {
                                ip: *ip,
                                alias: l.alias.clone(),
                                target: l.target.clone(),
                            })
                        })
                    })
                    .collect();
                (!lines.is_empty()).then_some((i, lines))
            })
            .collect()
    };
    for (i, lines) in extras {
        if let Some(c) = out.get_mut(i) {
            c.link_hosts = lines;
        }
    }
}

fn as_v4(a: IpAddr) -> Option<Ipv4Addr> {
    match a {
        IpAddr::V4(x) => Some(x),
        IpAddr::V6(_) => None,
    }
}

/// Keeps a locked address if it still fits the subnet and is not taken; notes it otherwise.
/// `subject` names the endpoint: (container, network).
fn keep_locked<'s>(
    alloc: Option<&mut SubnetAlloc>,
    ip: IpAddr,
    held_by: Option<&str>,
    subject: impl FnOnce() -> (&'s str, &'s str),
    notes: &mut Vec<Note>,
) -> Option<IpAddr> {
    let alloc = alloc?;
    let why = if !alloc.assignable(ip) {
        Some(format!("is no longer inside {}", alloc.subnet()))
    } else if let Some(who) = held_by {
        Some(format!("is held by {who} on the shared default bridge"))
    } else if alloc.is_taken(ip) {
        Some("is now a gateway, aux or static address".to_string())
    } else {
        None
    };
    if let Some(why) = why {
        notes.push(Note {
            address: {
                let (c, n) = subject();
                format!("endpoint.{c}.{n}")
            },
            message: format!("locked address {ip} {why}; choosing a new one"),
        });
        return None;
    }
    alloc.reserve(ip);
    Some(ip)
}

/// `02:42` and the four IPv4 bytes, as Docker did; without IPv4, a locally administered
/// MAC from the endpoint id.
fn mac_for(v4: Option<Ipv4Addr>, id: &ids::Id) -> Mac {
    let o = match v4 {
        Some(ip) => ip.octets(),
        None => [id.0[0], id.0[1], id.0[2], id.0[3]],
    };
    Mac([0x02, 0x42, o[0], o[1], o[2], o[3]])
}

fn net_state(topo: &Topology, n: &Network, v4: Option<Ipv4Net>, v6: Option<Ipv6Net>) -> NetState {
    let id = ids::id(&topo.name, "network", &[&n.name]);
    let mut subnets: Vec<SubnetState> = n
        .subnets
        .iter()
        .filter(|s| n.ipv6 || s.cidr.addr().is_ipv4())
        .map(|s| SubnetState {
            cidr: s.cidr.trunc(),
            gateway: s.gateway.unwrap_or_else(|| first_host(s.cidr)),
            ip_range: s.ip_range,
            aux: s.aux.iter().cloned().collect(),
            automatic: false,
        })
        .collect();
    for auto in [v4.map(IpNet::V4), v6.map(IpNet::V6)].into_iter().flatten() {
        subnets.push(SubnetState {
            cidr: auto,
            gateway: first_host(auto),
            ip_range: None,
            aux: BTreeMap::new(),
            automatic: true,
        });
    }
    subnets.sort_by_key(|s| s.cidr.addr().is_ipv6());
    let bridge = match n.kind {
        NetworkKind::Host | NetworkKind::None => None,
        NetworkKind::DefaultBridge => Some(
            n.bridge
                .clone()
                .unwrap_or_else(|| Name::const_new(ids::DEFAULT_BRIDGE)),
        ),
        NetworkKind::User if n.driver == Driver::Overlay => None,
        NetworkKind::User => Some(n.bridge.clone().unwrap_or_else(|| ids::bridge_name(&id))),
    };
    NetState {
        name: n.name.clone(),
        id,
        kind: n.kind,
        driver: n.driver,
        bridge,
        subnets,
        ipv6: n.ipv6,
        mtu: n.mtu.unwrap_or(DEFAULT_MTU),
        icc: n.icc,
        masquerade: n.masquerade,
        internal: n.internal,
        host_ip: n.host_ip,
        alias_mode: n.alias_mode,
        labels: n.labels.clone(),
        options: n.options.clone(),
        records: Vec::new(),
    }
}

/// The first host address: `.1` in IPv4, `::1` in IPv6.
fn first_host(net: IpNet) -> IpAddr {
    match net.trunc() {
        IpNet::V4(n) => {
            let base = u32::from(n.network());
            IpAddr::V4(if n.prefix_len() >= 31 { base } else { base + 1 }.into())
        }
        IpNet::V6(n) => IpAddr::V6((u128::from(n.network()) + 1).into()),
    }
}

fn container_state(
    topo: &Topology,
    c: &Container,
    endpoints: Endpoints,
    ports: ThinVec<PortState>,
    kinds: Kinds,
) -> ContainerState {
    let on_host = kinds.host;
    let resolver = if kinds.user {
        Resolver::Embedded
    } else if kinds.default_bridge {
        Resolver::Host
    } else {
        Resolver::Unchanged
    };
    ContainerState {
        name: c.name.clone(),
        id: ids::id(&topo.name, "container", &[&c.name]),
        on_host,
        endpoints,
        ports,
        run: c.run.as_deref().map(Box::from),
        resolver,
        dns: c.dns.iter().copied().collect(),
        link_hosts: ThinVec::new(),
        stopped: false,
    }
}
