//! Host ports for `publish`: declared ones first, then those the lock pins, then the lowest
//! free port of the ephemeral range.

use std::net::IpAddr;

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use thin_vec::ThinVec;

use netplan_lang::model::{Container, Name, Network, Proto, Topology};

use super::EPHEMERAL_PORTS;
use crate::desired::{Endpoint, PortState};
use crate::lock::{ContainerLock, Lock};

/// Host ports: declared ones are reserved first, then locked ones (so that they never
/// move), then the lowest free ephemeral port, per (host address, protocol).
pub(super) struct PortAlloc {
    taken: HashSet<(Option<IpAddr>, Proto, u16)>,
    /// Every (protocol, port) bound on some address, wildcard or not: a wildcard binding
    /// clashes with all of them, and this makes that one lookup rather than a scan of every
    /// port taken.
    bound: HashSet<(Proto, u16)>,
    /// Per (host address, protocol): no ephemeral port below this one is free. Nothing is
    /// released within a run, so the next search starts here rather than at 49153, which
    /// made choosing n ports quadratic.
    cursor: HashMap<(Option<IpAddr>, Proto), u16>,
    /// Locked automatic ports still wanted, by (container, publish key).
    locked: HashMap<(Name, String), u16>,
}

/// The lock key of a publish entry without host port, e.g. `127.0.0.1:80/tcp`.
fn port_key(host_ip: Option<IpAddr>, port: u16, proto: Proto) -> String {
    format!(
        "{}{port}/{proto}",
        host_ip.map(|i| format!("{i}:")).unwrap_or_default()
    )
}

impl PortAlloc {
    /// `publishing`: the positions of the containers that publish ports.
    pub(super) fn new(topo: &Topology, lock: &Lock, publishing: &[usize]) -> Self {
        let mut me = PortAlloc {
            taken: HashSet::default(),
            bound: HashSet::default(),
            cursor: HashMap::default(),
            locked: HashMap::default(),
        };
        // One pass over the containers: declared ports, and who wants automatic ones.
        let mut automatic: Vec<&Container> = Vec::new();
        for c in publishing.iter().filter_map(|&i| topo.containers.get(i)) {
            for p in &c.publish {
                if let Some(hp) = p.host_port {
                    me.take(p.host_ip, p.proto, hp);
                }
            }
            if c.publish.iter().any(|p| p.host_port.is_none()) {
                automatic.push(c);
            }
        }
        if automatic.is_empty() {
            return me;
        }
        let by_name: HashMap<&str, &Network> = topo.networks.iter().map(|n| (n.name.as_str(), n)).collect();
        for c in automatic {
            let net_host_ip = c
                .attachments
                .iter()
                .find_map(|a| {
                    by_name
                        .get(a.network.as_str())
                        .filter(|n| n.is_bridged() && !n.internal)
                        .map(|n| n.host_ip)
                })
                .flatten();
            let Some(cl) = lock.containers.get(c.name.as_str()) else {
                continue;
            };
            for p in c.publish.iter().filter(|p| p.host_port.is_none()) {
                let host_ip = p.host_ip.or(net_host_ip);
                let key = port_key(host_ip, p.port, p.proto);
                if let Some(&hp) = cl.ports.get(&key)
                    && me.is_free(host_ip, p.proto, hp)
                {
                    me.take(host_ip, p.proto, hp);
                    me.locked.insert((c.name.clone(), key), hp);
                }
            }
        }
        me
    }

    fn take(&mut self, ip: Option<IpAddr>, proto: Proto, port: u16) {
        self.taken.insert((ip, proto, port));
        self.bound.insert((proto, port));
    }

    fn is_free(&self, ip: Option<IpAddr>, proto: Proto, port: u16) -> bool {
        // A wildcard binding clashes with every address, and every address with a wildcard.
        !self.taken.contains(&(ip, proto, port))
            && !self.taken.contains(&(None, proto, port))
            && (ip.is_some() || !self.bound.contains(&(proto, port)))
    }

    /// The lowest free ephemeral port for (address, protocol), now taken.
    fn take_ephemeral(&mut self, ip: Option<IpAddr>, proto: Proto) -> Option<u16> {
        let start = self
            .cursor
            .get(&(ip, proto))
            .copied()
            .unwrap_or(*EPHEMERAL_PORTS.start());
        let port = (start..=*EPHEMERAL_PORTS.end()).find(|hp| self.is_free(ip, proto, *hp))?;
        self.cursor.insert((ip, proto), port);
        self.take(ip, proto, port);
        Some(port)
    }

    /// `route`: the endpoint that carries the default route, and the default host address of
    /// its network.
    pub(super) fn assign(
        &mut self,
        c: &Container,
        route: Option<(&Endpoint, Option<IpAddr>)>,
        clock: &mut ContainerLock,
    ) -> ThinVec<PortState> {
        let Some((ep, net_host_ip)) = route else {
            return ThinVec::new();
        };
        let mut out = ThinVec::new();
        for p in &c.publish {
            let host_ip = p.host_ip.or(net_host_ip);
            let container_ip = match host_ip {
                Some(IpAddr::V6(_)) => ep.ipv6.map(|n| IpAddr::V6(n.addr())),
                _ => ep.ipv4.map(|n| IpAddr::V4(n.addr())),
            };
            let Some(container_ip) = container_ip else {
                continue;
            };
            let (host_port, automatic) = match p.host_port {
                Some(hp) => (hp, false),
                None => {
                    let key = port_key(host_ip, p.port, p.proto);
                    let hp = match self.locked.get(&(c.name.clone(), key.clone())) {
                        Some(&hp) => hp,
                        None => {
                            let Some(hp) = self.take_ephemeral(host_ip, p.proto) else {
                                continue;
                            };
                            hp
                        }
                    };
                    clock.ports.insert(key, hp);
                    (hp, true)
                }
            };
            out.push(PortState {
                host_ip,
                host_port,
                automatic,
                container_ip,
                port: p.port,
                proto: p.proto,
            });
        }
        out
    }
}
