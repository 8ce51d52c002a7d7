//! The kernel objects one desired state needs.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use netplan_lang::model::{Driver, NetworkKind};

use crate::desired::{Desired, NetState};
use crate::kernel::{BridgeSpec, MacAddr, RouteSpec, VethSpec, tag_for};

/// The topology name in the tag of objects shared by every topology (the default bridge):
/// their tag is `netplan:` with nothing after it.
pub(crate) const SHARED_TOPOLOGY: &str = "";

/// A bridge to have.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct WantBridge {
    pub spec: BridgeSpec,
    pub network: String,
    /// The default bridge, shared by every topology on the machine.
    pub shared: bool,
}

/// A named namespace to have.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct WantNetns {
    pub name: String,
    pub container: String,
}

/// A veth pair to have.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct WantVeth {
    pub spec: VethSpec,
    pub container: String,
    pub network: String,
}

/// A container's files under `/etc/netns/NAME/`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct WantFiles {
    pub netns: String,
    pub container: String,
    /// `None`: the container keeps the host's resolv.conf.
    pub resolv: Option<String>,
    pub hosts: String,
}

/// A `run` process to have.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct WantProcess {
    pub container: String,
    /// `None`: the host namespace (`host` network).
    pub netns: Option<String>,
    pub argv: Vec<String>,
}

/// Everything one topology needs in the kernel.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Wanted {
    pub topology: String,
    pub tag: String,
    pub bridges: Vec<WantBridge>,
    pub netns: Vec<WantNetns>,
    pub veths: Vec<WantVeth>,
    pub files: Vec<WantFiles>,
    pub processes: Vec<WantProcess>,
}

impl Wanted {
    /// Namespace names to observe.
    pub fn namespaces(&self) -> Vec<String> {
        self.netns.iter().map(|n| n.name.clone()).collect()
    }
}

/// Whether `n` is realised as a Linux bridge on this host.
pub(crate) fn is_bridged(n: &NetState) -> bool {
    n.bridge.is_some()
        && n.driver == Driver::Bridge
        && matches!(n.kind, NetworkKind::User | NetworkKind::DefaultBridge)
}

/// The tag of a network's bridge.
pub(crate) fn bridge_tag(topology: &str, n: &NetState) -> String {
    if n.kind == NetworkKind::DefaultBridge {
        tag_for(SHARED_TOPOLOGY)
    } else {
        tag_for(topology)
    }
}

/// The bridge's gateway addresses with their prefix lengths.
pub(crate) fn bridge_addresses(n: &NetState) -> Vec<IpNet> {
    let mut out: Vec<IpNet> = n
        .subnets
        .iter()
        .filter(|s| s.cidr.addr().is_ipv4() || n.ipv6)
        .filter_map(|s| IpNet::new(s.gateway, s.cidr.prefix_len()).ok())
        .collect();
    out.sort();
    out
}

fn veth_spec(topology: &str, netns: &str, e: &crate::desired::Endpoint, n: &NetState) -> Option<VethSpec> {
    let bridge = n.bridge.clone()?;
    let mut addresses: Vec<IpNet> = Vec::new();
    addresses.extend(e.ipv4.map(IpNet::V4));
    addresses.extend(e.ipv6.map(IpNet::V6));
    addresses.sort();
    let mut routes = Vec::new();
    if e.default_route {
        if let (Some(_), Some(gw)) = (e.ipv4, e.gateway4) {
            routes.push(RouteSpec {
                dst: IpNet::V4(Ipv4Net::new(Ipv4Addr::UNSPECIFIED, 0).ok()?),
                gateway: Some(IpAddr::V4(gw)),
            });
        }
        if let (Some(_), Some(gw)) = (e.ipv6, e.gateway6) {
            routes.push(RouteSpec {
                dst: IpNet::V6(Ipv6Net::new(Ipv6Addr::UNSPECIFIED, 0).ok()?),
                gateway: Some(IpAddr::V6(gw)),
            });
        }
    }
    Some(VethSpec {
        host_name: e.host_veth.to_string(),
        bridge: bridge.to_string(),
        netns: netns.to_string(),
        peer_name: e.interface.to_string(),
        mac: Some(MacAddr(e.mac.0)),
        mtu: Some(e.mtu),
        addresses,
        routes,
        isolated: !n.icc,
        tag: tag_for(topology),
    })
}

/// The kernel objects of `d`. `host_resolv` is the host's resolv.conf text.
pub(crate) fn wanted(d: &Desired, host_resolv: &str) -> Wanted {
    let topology = d.topology.as_str();
    let mut w = Wanted {
        topology: topology.to_string(),
        tag: tag_for(topology),
        ..Wanted::default()
    };
    for n in d.networks.iter().filter(|n| is_bridged(n)) {
        let Some(name) = &n.bridge else { continue };
        w.bridges.push(WantBridge {
            spec: BridgeSpec {
                name: name.to_string(),
                mtu: Some(n.mtu),
                addresses: bridge_addresses(n),
                tag: bridge_tag(topology, n),
            },
            network: n.name.to_string(),
            shared: n.kind == NetworkKind::DefaultBridge,
        });
    }
    for c in &d.containers {
        if let Some(ns) = c.netns() {
            w.netns.push(WantNetns {
                name: ns.to_string(),
                container: c.name.to_string(),
            });
            w.files.push(WantFiles {
                netns: ns.to_string(),
                container: c.name.to_string(),
                resolv: crate::dns::resolv_conf(c, host_resolv),
                hosts: c.hosts(),
            });
            if !c.stopped {
                for e in &c.endpoints {
                    let Some(n) = d.network(&e.network).filter(|n| is_bridged(n)) else {
                        continue;
                    };
                    if let Some(spec) = veth_spec(topology, ns, e, n) {
                        w.veths.push(WantVeth {
                            spec,
                            container: c.name.to_string(),
                            network: e.network.to_string(),
                        });
                    }
                }
            }
        }
        if let (Some(run), false) = (&c.run, c.stopped) {
            w.processes.push(WantProcess {
                container: c.name.to_string(),
                netns: c.netns().map(str::to_string),
                argv: vec!["/bin/sh".into(), "-c".into(), run.to_string()],
            });
        }
    }
    w
}
