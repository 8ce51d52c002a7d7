//! IPAM: a checked topology plus the lock file → the concrete desired state.
//!
//! Stability rule: what the lock holds is kept whenever it still fits the file, and only
//! then is anything new chosen. So adding, removing or reordering networks and containers
//! never moves the addresses of the others; a removed entity's addresses are simply not
//! carried into the new lock.

mod addrs;
pub mod pools;
mod ports;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use netplan_lang::Diag;
use netplan_lang::model::{Container, Driver, Mac, Network, NetworkKind, Topology};

use crate::desired::*;
use crate::ids;
use crate::lock::{ContainerLock, EndpointLock, Lock, NetworkLock};
pub use addrs::SubnetAlloc;
use pools::overlaps;
use ports::PortAlloc;

/// Host ports for `publish` without one come from Docker's ephemeral range.
pub const EPHEMERAL_PORTS: std::ops::RangeInclusive<u16> = 49153..=65535;

/// Default MTU of bridges and veths.
pub const DEFAULT_MTU: u32 = 1500;

/// Address ranges the host already uses (its routes and nameservers), to be avoided by
/// automatic subnets. Empty when the machine is not observed (`plan --against`).
#[derive(Debug, Clone, Default)]
pub struct HostReserved {
    pub ranges: Vec<(IpNet, String)>,
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
    };
    let networks = b.networks(host);
    let mut allocs = b.subnet_allocators(&networks);
    let containers = b.containers(&networks, &mut allocs);
    if !b.errors.is_empty() {
        return Err(b.errors);
    }
    let networks = with_records(networks, topo);
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
}

/// Locked addresses (IPv4, IPv6) kept for one endpoint.
type KeptPair = (Option<Ipv4Addr>, Option<Ipv6Addr>);

/// Per network: the allocator of each subnet family.
#[derive(Default)]
struct NetAllocs {
    v4: Option<SubnetAlloc>,
    v6: Option<SubnetAlloc>,
}

impl Builder<'_> {
    // ------------------------------------------------------------------ networks

    fn networks(&mut self, host: &HostReserved) -> Vec<NetState> {
        let topo = self.topo;
        // Everything declared is taken, whatever the order.
        let mut used: Vec<(IpNet, String)> = topo
            .networks
            .iter()
            .flat_map(|n| {
                n.subnets
                    .iter()
                    .map(|s| (s.cidr.trunc(), format!("network {}", n.name)))
            })
            .collect();
        let needs_auto = |n: &Network| n.kind != NetworkKind::Host && n.kind != NetworkKind::None;
        // Locked automatic subnets come next, so that they never move.
        let mut chosen: HashMap<&str, (Option<Ipv4Net>, Option<Ipv6Net>)> = HashMap::new();
        for n in topo.networks.iter().filter(|n| needs_auto(n)) {
            let Some(l) = self.lock.networks.get(&n.name) else {
                continue;
            };
            let has4 = n.subnets.iter().any(|s| s.cidr.addr().is_ipv4());
            let has6 = n.subnets.iter().any(|s| s.cidr.addr().is_ipv6());
            let mut keep = |net: Option<IpNet>, declared: bool, used: &mut Vec<(IpNet, String)>| {
                let net = net?;
                if declared {
                    return None;
                }
                if let Some((_, who)) = used.iter().find(|(u, _)| overlaps(u, &net)) {
                    self.notes.push(Note {
                        address: format!("network.{}", n.name),
                        message: format!("locked subnet {net} now overlaps {who}; choosing a new one"),
                    });
                    return None;
                }
                used.push((net, format!("network {}", n.name)));
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
            chosen.insert(n.name.as_str(), (v4, v6));
        }
        // Then new automatic subnets: the default bridge first (it takes 172.17/16 when free),
        // then the others in declaration order.
        let mut order: Vec<&Network> = topo.networks.iter().filter(|n| needs_auto(n)).collect();
        order.sort_by_key(|n| n.kind != NetworkKind::DefaultBridge);
        for n in order {
            let (mut v4, mut v6) = chosen.get(n.name.as_str()).copied().unwrap_or((None, None));
            if v4.is_none() && !n.subnets.iter().any(|s| s.cidr.addr().is_ipv4()) {
                v4 = self.pick_v4(n, &mut used, host);
            }
            if n.ipv6 && v6.is_none() && !n.subnets.iter().any(|s| s.cidr.addr().is_ipv6()) {
                v6 = self.pick_v6(n, &mut used);
            }
            chosen.insert(n.name.as_str(), (v4, v6));
        }
        topo.networks
            .iter()
            .map(|n| {
                let (v4, v6) = chosen.get(n.name.as_str()).copied().unwrap_or((None, None));
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

    fn pick_v4(
        &mut self,
        n: &Network,
        used: &mut Vec<(IpNet, String)>,
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
            used.push((p, format!("network {}", n.name)));
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

    fn pick_v6(&mut self, n: &Network, used: &mut Vec<(IpNet, String)>) -> Option<Ipv6Net> {
        for pool in pools::ula_v6(&self.topo.name) {
            let p = IpNet::V6(pool);
            if used.iter().any(|(u, _)| overlaps(u, &p)) {
                continue;
            }
            used.push((p, format!("network {}", n.name)));
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

    /// One allocator per subnet family and network, with everything reserved by rule
    /// (gateway, aux) and every static address of any container already taken.
    fn subnet_allocators(&mut self, nets: &[NetState]) -> HashMap<String, NetAllocs> {
        let mut out: HashMap<String, NetAllocs> = HashMap::new();
        for n in nets {
            let mut a = NetAllocs::default();
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
            out.insert(n.name.clone(), a);
        }
        for c in &self.topo.containers {
            for at in &c.attachments {
                let Some(a) = out.get_mut(&at.network) else {
                    continue;
                };
                if let (Some(ip), Some(al)) = (at.ip, a.v4.as_mut()) {
                    al.reserve(IpAddr::V4(ip));
                }
                if let (Some(ip), Some(al)) = (at.ip6, a.v6.as_mut()) {
                    al.reserve(IpAddr::V6(ip));
                }
            }
        }
        out
    }

    // ------------------------------------------------------------------ containers

    fn containers(
        &mut self,
        nets: &[NetState],
        allocs: &mut HashMap<String, NetAllocs>,
    ) -> Vec<ContainerState> {
        let topo = self.topo;
        let net_by_name: HashMap<&str, &NetState> = nets.iter().map(|n| (n.name.as_str(), n)).collect();
        // Pass 1: keep every locked dynamic address that still fits.
        let mut kept: HashMap<(&str, &str), KeptPair> = HashMap::new();
        for c in &topo.containers {
            let Some(cl) = self.lock.containers.get(&c.name) else {
                continue;
            };
            for at in &c.attachments {
                let Some(el) = cl.endpoints.get(&at.network) else {
                    continue;
                };
                let Some(a) = allocs.get_mut(&at.network) else {
                    continue;
                };
                let subject = format!("endpoint.{}.{}", c.name, at.network);
                let v4 = if at.ip.is_none() {
                    el.ipv4
                        .and_then(|ip| keep_locked(a.v4.as_mut(), IpAddr::V4(ip), &subject, &mut self.notes))
                } else {
                    None
                };
                let v6 = if at.ip6.is_none() {
                    el.ipv6
                        .and_then(|ip| keep_locked(a.v6.as_mut(), IpAddr::V6(ip), &subject, &mut self.notes))
                } else {
                    None
                };
                kept.insert(
                    (c.name.as_str(), at.network.as_str()),
                    (
                        v4.and_then(as_v4),
                        v6.and_then(|a| match a {
                            IpAddr::V6(x) => Some(x),
                            IpAddr::V4(_) => None,
                        }),
                    ),
                );
            }
        }
        // Pass 2: everything else, lowest free first, in declaration order.
        let mut taken_veths: HashSet<String> = HashSet::new();
        let mut ports = PortAlloc::new(topo, self.lock);
        let mut out = Vec::with_capacity(topo.containers.len());
        for c in &topo.containers {
            let mut endpoints = Vec::new();
            let mut clock = ContainerLock::default();
            let mut default_route_taken = false;
            for at in &c.attachments {
                let Some(net) = net_by_name.get(at.network.as_str()) else {
                    continue;
                };
                if !matches!(net.kind, NetworkKind::User | NetworkKind::DefaultBridge) {
                    continue;
                }
                let (kept4, kept6) = kept
                    .get(&(c.name.as_str(), at.network.as_str()))
                    .copied()
                    .unwrap_or_default();
                let mut a = allocs.get_mut(&at.network);
                let v4 = match (at.ip, kept4) {
                    (Some(ip), _) | (None, Some(ip)) => Some(ip),
                    (None, None) => match a.as_mut().and_then(|a| a.v4.as_mut()) {
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
                    match (at.ip6, kept6) {
                        (Some(ip), _) | (None, Some(ip)) => Some(ip),
                        (None, None) => match a.as_mut().and_then(|a| a.v6.as_mut()) {
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
                let host_veth = ids::veth_name(&id, |n| taken_veths.contains(n));
                taken_veths.insert(host_veth.clone());
                let default_route = !default_route_taken && !net.internal;
                default_route_taken |= default_route;
                endpoints.push(Endpoint {
                    network: at.network.clone(),
                    interface: format!("eth{}", endpoints.len()),
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
                    aliases: at.aliases.clone(),
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
            let port_states = ports.assign(c, &endpoints, &net_by_name, &mut clock);
            if !clock.endpoints.is_empty() || !clock.ports.is_empty() {
                self.new_lock.containers.insert(c.name.clone(), clock);
            }
            out.push(container_state(topo, c, endpoints, port_states, &net_by_name));
        }
        // Legacy links on the default bridge become /etc/hosts entries of the linking container.
        let addr_on: HashMap<(String, String), Ipv4Addr> = out
            .iter()
            .flat_map(|c| {
                c.endpoints
                    .iter()
                    .filter_map(|e| Some(((c.name.clone(), e.network.clone()), e.ipv4?.addr())))
            })
            .collect();
        for c in &mut out {
            let mut extra = String::new();
            for e in c.endpoints.iter().filter(|e| {
                net_by_name
                    .get(e.network.as_str())
                    .is_some_and(|n| n.kind == NetworkKind::DefaultBridge)
            }) {
                for l in &e.links {
                    if let Some(ip) = addr_on.get(&(l.target.clone(), e.network.clone())) {
                        extra.push_str(&format!("{ip}\t{} {}\n", l.alias, l.target));
                    }
                }
            }
            c.hosts.push_str(&extra);
        }
        out
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

fn as_v4(a: IpAddr) -> Option<Ipv4Addr> {
    match a {
        IpAddr::V4(x) => Some(x),
        IpAddr::V6(_) => None,
    }
}

/// Keeps a locked address if it still fits the subnet and is not taken; notes it otherwise.
fn keep_locked(
    alloc: Option<&mut SubnetAlloc>,
    ip: IpAddr,
    subject: &str,
    notes: &mut Vec<Note>,
) -> Option<IpAddr> {
    let alloc = alloc?;
    let why = if !alloc.assignable(ip) {
        Some(format!("is no longer inside {}", alloc.subnet()))
    } else if alloc.is_taken(ip) {
        Some("is now a gateway, aux or static address".to_string())
    } else {
        None
    };
    if let Some(why) = why {
        notes.push(Note {
            address: subject.to_string(),
            message: format!("locked address {ip} {why}; choosing a new one"),
        });
        return None;
    }
    alloc.reserve(ip);
    Some(ip)
}

/// `02:42` and the four IPv4 bytes, as Docker did; without IPv4, a locally administered
/// MAC from the endpoint id.
fn mac_for(v4: Option<Ipv4Addr>, id: &str) -> Mac {
    match v4 {
        Some(ip) => {
            let o = ip.octets();
            Mac([0x02, 0x42, o[0], o[1], o[2], o[3]])
        }
        None => {
            let byte =
                |i: usize| u8::from_str_radix(id.get(i * 2..i * 2 + 2).unwrap_or("00"), 16).unwrap_or(0);
            Mac([0x02, 0x42, byte(0), byte(1), byte(2), byte(3)])
        }
    }
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
                .unwrap_or_else(|| ids::DEFAULT_BRIDGE.to_string()),
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

fn with_records(mut nets: Vec<NetState>, topo: &Topology) -> Vec<NetState> {
    let index: HashMap<String, usize> = nets
        .iter()
        .enumerate()
        .map(|(i, n)| (n.name.clone(), i))
        .collect();
    for c in &topo.containers {
        for at in &c.attachments {
            let Some(&i) = index.get(&at.network) else {
                continue;
            };
            let n = &mut nets[i];
            if !n.has_dns() {
                continue;
            }
            n.records.push(DnsRecord {
                name: c.name.clone(),
                container: c.name.clone(),
                alias: false,
            });
            for a in &at.aliases {
                n.records.push(DnsRecord {
                    name: a.clone(),
                    container: c.name.clone(),
                    alias: true,
                });
            }
        }
    }
    nets
}

fn container_state(
    topo: &Topology,
    c: &Container,
    endpoints: Vec<Endpoint>,
    ports: Vec<PortState>,
    nets: &HashMap<&str, &NetState>,
) -> ContainerState {
    let kinds: Vec<NetworkKind> = c
        .attachments
        .iter()
        .filter_map(|a| nets.get(a.network.as_str()).map(|n| n.kind))
        .collect();
    let on_host = kinds.contains(&NetworkKind::Host);
    let resolver = if kinds.contains(&NetworkKind::User) {
        Resolver::Embedded
    } else if kinds.contains(&NetworkKind::DefaultBridge) {
        Resolver::Host
    } else {
        Resolver::Unchanged
    };
    let mut hosts = String::from("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n");
    if let Some(e) = endpoints.first() {
        if let Some(ip) = e.ipv4 {
            hosts.push_str(&format!("{}\t{}\n", ip.addr(), c.name));
        }
        if let Some(ip) = e.ipv6 {
            hosts.push_str(&format!("{}\t{}\n", ip.addr(), c.name));
        }
    }
    ContainerState {
        name: c.name.clone(),
        id: ids::id(&topo.name, "container", &[&c.name]),
        netns: (!on_host).then(|| c.name.clone()),
        endpoints,
        ports,
        run: c.run.clone(),
        resolver,
        dns: c.dns.clone(),
        hosts,
        stopped: false,
    }
}
