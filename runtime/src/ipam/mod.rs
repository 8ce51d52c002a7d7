//! IPAM: a checked topology plus the lock file → the concrete desired state.
//!
//! Stability rule: what the lock holds is kept whenever it still fits the file, and only
//! then is anything new chosen. So adding, removing or reordering networks and containers
//! never moves the addresses of the others; a removed entity's addresses are simply not
//! carried into the new lock.

mod addrs;
mod containers;
pub mod pools;
mod ports;

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use netplan_lang::Diag;
use netplan_lang::model::{Driver, Mac, Network, NetworkKind, Topology};
use rustc_hash::FxHashMap as HashMap;

use crate::desired::*;
use crate::ids;
use crate::lock::{Lock, NetworkLock};
pub use addrs::SubnetAlloc;
use containers::Passes;
use pools::overlaps;

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
    allocate_in(topo, lock, host, Passes::One)
}

fn allocate_in(
    topo: &Topology,
    lock: &Lock,
    host: &HostReserved,
    passes: Passes,
) -> Result<Allocated, Vec<Diag>> {
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
    let fresh = || {
        let mut allocs = Builder::subnet_allocators(&networks, containers::per_network(topo));
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
        allocs
    };
    let (containers, records) = b.containers(&networks, &net_index, &fresh, passes);
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

/// Per network: the allocator of each subnet family.
#[derive(Default)]
struct NetAllocs {
    v4: Option<SubnetAlloc>,
    v6: Option<SubnetAlloc>,
    /// The default bridge, whose addresses other topologies share.
    shared: bool,
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
    /// reserved by rule (gateway, aux); static and locked addresses are reserved as the
    /// containers are read. Each has room for `room` addresses besides, so that it is
    /// allocated once.
    fn subnet_allocators(nets: &[NetState], room: usize) -> Vec<NetAllocs> {
        nets.iter()
            .map(|n| {
                let mut a = NetAllocs {
                    shared: n.kind == NetworkKind::DefaultBridge,
                    ..NetAllocs::default()
                };
                for s in &n.subnets {
                    let mut alloc = SubnetAlloc::new(s.cidr, s.ip_range);
                    alloc.make_room(room + 1 + s.aux.len());
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
