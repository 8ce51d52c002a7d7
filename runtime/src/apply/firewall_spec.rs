//! The machine's firewall, from the desired states of every applied topology.

use std::collections::HashSet;
use std::net::IpAddr;

use crate::desired::Desired;
use crate::kernel::{FirewallNetwork, FirewallSpec, Proto, PublishedPort};

fn proto(p: netplan_lang::model::Proto) -> Proto {
    match p {
        netplan_lang::model::Proto::Tcp => Proto::Tcp,
        netplan_lang::model::Proto::Udp => Proto::Udp,
    }
}

/// The [`FirewallSpec`] for `topologies`: every bridge network (isolation between all of them,
/// `icc`, `internal`, `masquerade`) and the published ports of running containers. A bridge
/// shared by several topologies (the default `bridge`) appears once. Ports of a container on
/// an internal network are never published.
pub fn firewall_spec<'a>(topologies: impl IntoIterator<Item = &'a Desired>) -> FirewallSpec {
    let mut spec = FirewallSpec::default();
    let mut bridges = HashSet::new();
    for d in topologies {
        for n in &d.networks {
            let Some(bridge) = &n.bridge else { continue };
            if !bridges.insert(bridge.clone()) {
                continue;
            }
            spec.networks.push(FirewallNetwork {
                bridge: bridge.to_string(),
                subnets: n
                    .subnets
                    .iter()
                    .filter(|s| s.cidr.addr().is_ipv4() || n.ipv6)
                    .map(|s| s.cidr.trunc())
                    .collect(),
                icc: n.icc,
                internal: n.internal,
                masquerade: n.masquerade,
            });
        }
        for c in d.containers.iter().filter(|c| !c.stopped) {
            for p in &c.ports {
                let network = c.endpoints.iter().find(|e| {
                    e.ipv4.is_some_and(|a| IpAddr::V4(a.addr()) == p.container_ip)
                        || e.ipv6.is_some_and(|a| IpAddr::V6(a.addr()) == p.container_ip)
                });
                let internal = network
                    .and_then(|e| d.network(&e.network))
                    .is_none_or(|n| n.internal || n.bridge.is_none());
                if internal {
                    continue;
                }
                spec.published.push(PublishedPort {
                    host_ip: p.host_ip,
                    host_port: p.host_port,
                    container_ip: p.container_ip,
                    container_port: p.port,
                    proto: proto(p.proto),
                });
            }
        }
    }
    spec
}
