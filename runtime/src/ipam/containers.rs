//! IPAM for the containers: their endpoints and addresses, host ports, DNS records and
//! lock entries.
//!
//! Every static and locked address is reserved before any new one is chosen, and new ones
//! go lowest first, in declaration order. The containers are built in one pass that
//! reserves each one's static and locked addresses as it meets them and leaves its new
//! addresses open; those are chosen after the pass, then the host ports. Read once, the
//! file's containers need not come back from memory for a second pass, which with 10,000
//! of them outgrow the caches.
//!
//! One case needs two passes: a static address found taken already, as when an earlier
//! container holds it from the lock. The static address wins and the locked one moves,
//! which the pass learns too late. Then it starts over the way the rule is stated: every
//! static and locked address first, then the containers.

use super::ports::PortAlloc;
use super::{
    Builder, Diag, IpAddr, IpNet, Ipv4Addr, Ipv4Net, Ipv6Addr, Ipv6Net, Lock, Mac, NetAllocs, Note,
    SubnetAlloc, ids,
};
use crate::desired::*;
use crate::lock::{ContainerLock, EndpointLock, NameMap, Placed, Slot};
use crate::positions::Positions;
use netplan_lang::model::{Container, Network, NetworkKind, Topology};
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use thin_vec::ThinVec;

/// What IPAM knows of one attachment before choosing addresses: its network (an index
/// into the networks) and the addresses the lock holds for it (once the lock has been
/// checked: the ones kept). Positions are 32-bit: there is one of these per attachment,
/// and at 40 rather than 56 bytes more of them stay in the caches.
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

/// A position as stored here; one past `u32::MAX` positions would name nothing, which no
/// lookup finds.
fn position32(i: usize) -> u32 {
    u32::try_from(i).unwrap_or(u32::MAX)
}

/// An endpoint with an address still to choose.
struct Open {
    container: u32,
    attachment: u32,
    endpoint: u32,
    net: u32,
    v4: bool,
    v6: bool,
    /// Its container's lock entry.
    lock: Option<Slot>,
}

/// A container that publishes ports, assigned once its addresses are chosen.
struct Publisher {
    container: u32,
    /// The default route's endpoint and its network's host address.
    route: Option<(u32, Option<IpAddr>)>,
    lock: Option<Slot>,
}

/// What the pass over the containers builds, and what it leaves open.
struct Pass {
    out: Vec<ContainerState>,
    records: Vec<Vec<DnsRecord>>,
    locks: Placed<ContainerLock>,
    taken_veths: HashSet<VethKey>,
    open: Vec<Open>,
    publishers: Vec<Publisher>,
    /// Whether any endpoint on the default bridge has legacy links.
    legacy_links: bool,
}

/// How many containers' names one network is expected to hold: as many as there are per
/// network on average. What is sized by it then grows only for the crowded networks, and
/// all of it together holds about as many entries as there are attachments.
pub(super) fn per_network(topo: &Topology) -> usize {
    topo.containers.len() / topo.networks.len().max(1) + 1
}

impl Pass {
    fn new(topo: &Topology, nets: &[NetState], lock: &Lock) -> Self {
        let per_net = per_network(topo);
        Pass {
            out: Vec::with_capacity(topo.containers.len()),
            records: nets
                .iter()
                .map(|n| {
                    if n.has_dns() {
                        Vec::with_capacity(per_net)
                    } else {
                        Vec::new()
                    }
                })
                .collect(),
            // The containers the lock held keep its order.
            locks: Placed::new(lock.containers.len()),
            taken_veths: HashSet::with_capacity_and_hasher(topo.containers.len(), Default::default()),
            open: Vec::new(),
            publishers: Vec::new(),
            legacy_links: false,
        }
    }
}

/// Which passes [`Builder::containers`] may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Passes {
    /// One, unless a static address turns out to be taken already.
    One,
    /// Two from the start (to compare both in tests).
    #[cfg_attr(not(test), expect(dead_code))]
    Two,
}

impl<'a> Builder<'a> {
    /// Every container's state (endpoints with addresses, ports) in declaration order, and
    /// each network's DNS records (container names and aliases, in declaration order).
    /// `fresh` makes the networks' allocators as they are before any container.
    pub(super) fn containers(
        &mut self,
        nets: &[NetState],
        net_index: &HashMap<&str, usize>,
        fresh: &dyn Fn() -> Vec<NetAllocs>,
        passes: Passes,
    ) -> (Vec<ContainerState>, Vec<Vec<DnsRecord>>) {
        let mut allocs = fresh();
        let notes = self.notes.len();
        let one = match passes {
            Passes::One => self.one_pass(nets, net_index, &mut allocs),
            Passes::Two => None,
        };
        let pass = match one {
            Some(pass) => pass,
            None => {
                // What the first attempt noted and reserved is forgotten.
                self.notes.truncate(notes);
                self.publishing.clear();
                self.lock_positions.clear();
                allocs = fresh();
                self.two_passes(nets, net_index, &mut allocs)
            }
        };
        self.finish(pass, nets, &mut allocs)
    }

    /// Each container's facts, its locked addresses kept, and the container built, one
    /// container after the other. None as soon as a static address is found taken.
    fn one_pass(
        &mut self,
        nets: &[NetState],
        net_index: &HashMap<&str, usize>,
        allocs: &mut [NetAllocs],
    ) -> Option<Pass> {
        let topo = self.topo;
        let lock = self.lock;
        // The lock's containers by name, hashed: one probe per container rather than a
        // binary search over all of them. The position is kept for the new lock.
        let (locked, _) = Positions::new(lock.containers.as_slice(), |e| e.0.as_str());
        let mut pass = Pass::new(topo, nets, lock);
        let mut facts = Vec::new();
        for (ci, c) in topo.containers.iter().enumerate() {
            facts.clear();
            if !self.container_facts(ci, c, &locked, net_index, allocs, &mut facts) {
                return None;
            }
            self.keep_locked(&mut facts, allocs);
            self.build(&mut pass, nets, ci, c, &facts);
        }
        Some(pass)
    }

    /// Every container's facts and every locked address kept, then the containers built.
    fn two_passes(
        &mut self,
        nets: &[NetState],
        net_index: &HashMap<&str, usize>,
        allocs: &mut [NetAllocs],
    ) -> Pass {
        let topo = self.topo;
        let lock = self.lock;
        let (locked, _) = Positions::new(lock.containers.as_slice(), |e| e.0.as_str());
        let mut facts = Vec::with_capacity(topo.containers.iter().map(|c| c.attachments.len()).sum());
        for (ci, c) in topo.containers.iter().enumerate() {
            self.container_facts(ci, c, &locked, net_index, allocs, &mut facts);
        }
        self.keep_locked(&mut facts, allocs);
        let mut pass = Pass::new(topo, nets, lock);
        let mut at = 0;
        for (ci, c) in topo.containers.iter().enumerate() {
            let mine = facts.get(at..at + c.attachments.len()).unwrap_or_default();
            at += c.attachments.len();
            self.build(&mut pass, nets, ci, c, mine);
        }
        pass
    }

    /// One container's attachments: the network of each, the addresses the lock holds for
    /// it, and its static addresses reserved. False when a static address was taken
    /// already.
    fn container_facts(
        &mut self,
        ci: usize,
        c: &Container,
        locked: &Positions<'_, (Name, ContainerLock)>,
        net_index: &HashMap<&str, usize>,
        allocs: &mut [NetAllocs],
        out: &mut Vec<AtFacts>,
    ) -> bool {
        if !c.publish.is_empty() {
            self.publishing.push(ci);
        }
        let position = locked.find(&c.name);
        self.lock_positions.push(position);
        let cl = position.and_then(|i| self.lock.containers.value_at(i));
        let mut fresh = true;
        for (ai, at) in c.attachments.iter().enumerate() {
            let net = net_index.get(at.network.as_str()).copied();
            let mut f = AtFacts {
                net: net.and_then(|n| u32::try_from(n).ok()),
                locked4: None,
                locked6: None,
                container: position32(ci),
                attachment: position32(ai),
            };
            if let Some(a) = net.and_then(|i| allocs.get_mut(i)) {
                if let (Some(ip), Some(al)) = (at.ip, a.v4.as_mut()) {
                    fresh &= al.reserve(IpAddr::V4(ip));
                }
                if let (Some(ip), Some(al)) = (at.ip6, a.v6.as_mut()) {
                    fresh &= al.reserve(IpAddr::V6(ip));
                }
                if let Some(el) = cl.and_then(|cl| cl.endpoints.get(&at.network)) {
                    f.locked4 = el.ipv4.filter(|_| at.ip.is_none());
                    f.locked6 = el.ipv6.filter(|_| at.ip6.is_none());
                }
            }
            out.push(f);
        }
        fresh
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
                .and_then(as_v6);
        }
    }

    /// One container: its endpoints with their static and kept addresses (the others
    /// left open), its DNS records and its lock entry.
    fn build(&mut self, pass: &mut Pass, nets: &[NetState], ci: usize, c: &Container, facts: &[AtFacts]) {
        let topo = self.topo;
        let mut endpoints = Endpoints::with_capacity(c.attachments.len());
        let mut clock = ContainerLock {
            endpoints: NameMap::with_capacity(c.attachments.len()),
            ..ContainerLock::default()
        };
        let mut default_route_taken = false;
        let mut route: Option<(u32, Option<IpAddr>)> = None;
        let mut kinds = Kinds::default();
        let opened = pass.open.len();
        for (ai, (f, at)) in facts.iter().zip(&c.attachments).enumerate() {
            let Some((ni, net)) = f.net().and_then(|i| Some((i, nets.get(i)?))) else {
                continue;
            };
            kinds.add(net.kind);
            if net.has_dns()
                && let Some(r) = pass.records.get_mut(ni)
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
            pass.legacy_links |= net.kind == NetworkKind::DefaultBridge && !at.links.is_empty();
            let s4 = net.subnet4();
            let s6 = net.subnet6();
            let v4 = at.ip.or(f.locked4);
            let v6 = at.ip6.or(f.locked6).filter(|_| net.ipv6);
            // Without a subnet of a family there is nothing to choose from.
            let open4 = v4.is_none() && s4.is_some();
            let open6 = net.ipv6 && v6.is_none() && s6.is_some();
            if open4 || open6 {
                pass.open.push(Open {
                    container: position32(ci),
                    attachment: position32(ai),
                    endpoint: position32(endpoints.len()),
                    net: position32(ni),
                    v4: open4,
                    v6: open6,
                    lock: None,
                });
            }
            clock
                .endpoints
                .insert(at.network.clone(), EndpointLock { ipv4: v4, ipv6: v6 });
            let id = ids::id(&topo.name, "endpoint", &[&c.name, &at.network]);
            let host_veth = ids::veth_name(&id, |n| pass.taken_veths.insert(veth_key(n)));
            let default_route = !default_route_taken && !net.internal;
            default_route_taken |= default_route;
            if default_route {
                route = Some((position32(endpoints.len()), net.host_ip));
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
                gateway6: s6.and_then(|s| as_v6(s.gateway)),
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
        // Ports are only published through an endpoint, which has a lock entry.
        let slot = (!clock.endpoints.is_empty()).then(|| {
            let position = self.lock_positions.get(ci).copied().flatten();
            pass.locks.put(position, c.name.clone(), clock)
        });
        for o in pass.open.get_mut(opened..).unwrap_or_default() {
            o.lock = slot;
        }
        if !c.publish.is_empty() {
            pass.publishers.push(Publisher {
                container: position32(ci),
                route,
                lock: slot,
            });
        }
        pass.out.push(container_state(topo, c, endpoints, kinds));
    }

    /// Chooses the open addresses, lowest free first in declaration order, then the host
    /// ports; adds legacy links and finishes the lock.
    fn finish(
        &mut self,
        mut pass: Pass,
        nets: &[NetState],
        allocs: &mut [NetAllocs],
    ) -> (Vec<ContainerState>, Vec<Vec<DnsRecord>>) {
        let topo = self.topo;
        for o in &pass.open {
            let (Some(c), Some(net), Some(a)) = (
                pass.out.get_mut(o.container as usize),
                nets.get(o.net as usize),
                allocs.get_mut(o.net as usize),
            ) else {
                continue;
            };
            let Some(e) = c.endpoints.get_mut(o.endpoint as usize) else {
                continue;
            };
            let mut full = [None, None];
            let mut chosen4 = None;
            if let (true, Some(al), Some(s)) = (o.v4, a.v4.as_mut(), net.subnet4()) {
                chosen4 = al.take_lowest().and_then(as_v4);
                match chosen4 {
                    Some(ip) => {
                        e.ipv4 = Ipv4Net::new(ip, s.cidr.prefix_len()).ok();
                        let declared = topo
                            .containers
                            .get(o.container as usize)
                            .and_then(|c| c.attachments.get(o.attachment as usize))
                            .is_some_and(|at| at.mac.is_some());
                        if !declared {
                            e.mac = mac_for(Some(ip), &e.id);
                        }
                    }
                    None => full[0] = Some(al.subnet()),
                }
            }
            let mut chosen6 = None;
            if let (true, Some(al), Some(s)) = (o.v6, a.v6.as_mut(), net.subnet6()) {
                chosen6 = al.take_lowest().and_then(as_v6);
                match chosen6 {
                    Some(ip) => e.ipv6 = Ipv6Net::new(ip, s.cidr.prefix_len()).ok(),
                    None => full[1] = Some(al.subnet()),
                }
            }
            if let Some(entry) = o
                .lock
                .and_then(|s| pass.locks.get_mut(s))
                .and_then(|l| l.endpoints.get_mut(&e.network))
            {
                if o.v4 {
                    entry.ipv4 = chosen4;
                }
                if o.v6 {
                    entry.ipv6 = chosen6;
                }
            }
            for subnet in full.into_iter().flatten() {
                self.full(o.container as usize, o.attachment as usize, net, subnet);
            }
        }
        if !pass.publishers.is_empty() {
            let mut ports = PortAlloc::new(topo, self.lock, &self.publishing);
            let mut no_lock = ContainerLock::default();
            for p in &pass.publishers {
                let (Some(c), Some(state)) = (
                    topo.containers.get(p.container as usize),
                    pass.out.get_mut(p.container as usize),
                ) else {
                    continue;
                };
                let route = p
                    .route
                    .and_then(|(e, host_ip)| Some((state.endpoints.get(e as usize)?, host_ip)));
                let clock = match p.lock.and_then(|s| pass.locks.get_mut(s)) {
                    Some(l) => l,
                    None => &mut no_lock,
                };
                state.ports = ports.assign(c, route, clock);
            }
        }
        if pass.legacy_links {
            add_legacy_links(&mut pass.out, nets, &topo.networks);
        }
        self.new_lock.containers = pass.locks.finish();
        (pass.out, pass.records)
    }

    fn full(&mut self, container: usize, attachment: usize, net: &NetState, subnet: IpNet) {
        let c = self.topo.containers.get(container);
        let at = c.and_then(|c| c.attachments.get(attachment));
        let mut d = Diag::error(
            "netplan::ipam::subnet_full",
            format!(
                "no free address left in {subnet} for container `{}` on network `{}`",
                c.map_or("", |c| c.name.as_str()),
                net.name
            ),
        );
        if let Some(at) = at {
            d = d.primary(at.span, "this attachment needs an address");
        }
        self.errors
            .push(d.help("use a larger subnet or ip-range for the network, or fewer containers on it"));
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

fn container_state(topo: &Topology, c: &Container, endpoints: Endpoints, kinds: Kinds) -> ContainerState {
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
        on_host: kinds.host,
        endpoints,
        ports: ThinVec::new(),
        run: c.run.as_deref().map(Box::from),
        resolver,
        dns: c.dns.iter().copied().collect(),
        link_hosts: ThinVec::new(),
        stopped: false,
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

fn as_v6(a: IpAddr) -> Option<Ipv6Addr> {
    match a {
        IpAddr::V6(x) => Some(x),
        IpAddr::V4(_) => None,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipam::{HostReserved, allocate_in};
    use proptest::prelude::*;

    /// Networks (with IPv6 or not) on small subnets, so that addresses run out at times;
    /// containers on one or two of them, each attachment with a host number that may make
    /// it static.
    #[derive(Debug, Clone)]
    struct Spec {
        nets: Vec<bool>,
        containers: Vec<Vec<(usize, u8)>>,
    }

    impl Spec {
        /// The file, with `statics` deciding which host numbers are static addresses and
        /// `skip` leaving out one container.
        fn text(&self, statics: u8, skip: Option<usize>) -> String {
            let mut t = String::new();
            for (i, v6) in self.nets.iter().enumerate() {
                let v6 = if *v6 {
                    format!("\n  ipv6\n  subnet fd00:{i}::/125")
                } else {
                    String::new()
                };
                t.push_str(&format!("network n{i} {{\n  subnet 10.0.{i}.0/28{v6}\n}}\n"));
            }
            let mut used = std::collections::HashSet::new();
            for (ci, atts) in self.containers.iter().enumerate() {
                if Some(ci) == skip {
                    continue;
                }
                t.push_str(&format!("container c{ci} {{\n"));
                let mut seen = std::collections::HashSet::new();
                for (ni, host) in atts {
                    let ni = ni % self.nets.len();
                    if !seen.insert(ni) {
                        continue;
                    }
                    if (2..=14).contains(host) && host % statics == 0 && used.insert((ni, *host)) {
                        t.push_str(&format!("  network n{ni} {{ ip 10.0.{ni}.{host} }}\n"));
                    } else {
                        t.push_str(&format!("  network n{ni}\n"));
                    }
                }
                if ci % 4 == 0 {
                    t.push_str("  publish 80\n");
                }
                t.push_str("}\n");
            }
            t
        }
    }

    fn spec() -> impl Strategy<Value = Spec> {
        (
            prop::collection::vec(any::<bool>(), 1..4),
            prop::collection::vec(prop::collection::vec((0usize..4, 0u8..16), 1..3), 1..14),
        )
            .prop_map(|(nets, containers)| Spec { nets, containers })
    }

    fn topology(text: &str) -> Topology {
        match netplan_lang::check::check_text(text, "passes").topology {
            Some(t) => t,
            None => panic!("generated topology does not check:\n{text}"),
        }
    }

    type Outcome = Result<(Desired, Lock, Vec<Note>), Vec<Diag>>;

    fn plan(topo: &Topology, lock: &Lock, passes: Passes) -> Outcome {
        allocate_in(topo, lock, &HostReserved::default(), passes).map(|a| (a.desired, a.lock, a.notes))
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

        /// Reading the containers once gives what reading them twice does, whatever the
        /// lock holds: also when a static address takes one an earlier container held
        /// from the lock, and when a subnet runs out.
        #[test]
        fn one_pass_plans_as_two_do(
            s in spec(),
            before in 2u8..6,
            after in 2u8..6,
            skip in prop::option::of(0usize..14),
        ) {
            let earlier = topology(&s.text(before, skip));
            let lock = match plan(&earlier, &Lock::default(), Passes::Two) {
                Ok((_, lock, _)) => lock,
                Err(_) => Lock::default(),
            };
            let now = topology(&s.text(after, None));
            prop_assert_eq!(plan(&now, &lock, Passes::One), plan(&now, &lock, Passes::Two));
        }
    }

    #[test]
    fn a_later_static_address_moves_an_earlier_locked_one() {
        let earlier = topology("network n { subnet 10.4.0.0/24 }\ncontainer a { network n }\n");
        let Ok((_, lock, _)) = plan(&earlier, &Lock::default(), Passes::One) else {
            panic!("the first plan must succeed")
        };
        let now = topology(
            "network n { subnet 10.4.0.0/24 }\ncontainer a { network n }\ncontainer b { network n { ip 10.4.0.2 } }\n",
        );
        let Ok((d, new_lock, notes)) = plan(&now, &lock, Passes::One) else {
            panic!("the plan must succeed")
        };
        let addr = |c: &str| {
            d.container(c)
                .and_then(|c| c.endpoints.first())
                .and_then(|e| e.ipv4)
                .map(|n| n.addr().to_string())
        };
        assert_eq!(addr("b").as_deref(), Some("10.4.0.2"));
        assert_eq!(addr("a").as_deref(), Some("10.4.0.3"));
        let locked = new_lock
            .containers
            .get("a")
            .and_then(|c| c.endpoints.get("n"))
            .and_then(|e| e.ipv4);
        assert_eq!(locked.map(|a| a.to_string()).as_deref(), Some("10.4.0.3"));
        assert_eq!(
            notes.iter().filter(|n| n.address == "endpoint.a.n").count(),
            1,
            "{notes:?}"
        );
    }
}
