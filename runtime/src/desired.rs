//! The desired state: everything netplan will create for a topology, fully concrete.
//!
//! It is built by [`crate::ipam`] from a checked topology and the lock file, compared by
//! [`crate::diff`], recorded in the state directory after an apply, and carried out by apply.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use netplan_lang::model::{AliasMode, Driver, Mac, NetworkKind, Proto};
use serde::{Deserialize, Serialize};

pub use crate::ids::Id;

/// Names (of networks, containers, interfaces, namespaces) are the language's: up to 24
/// bytes inline, so copying one from the topology allocates nothing.
pub use netplan_lang::model::Name;

/// Everything one topology creates.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Desired {
    /// The topology's name.
    pub topology: String,
    /// Networks in declaration order (predefined ones last).
    pub networks: Vec<NetState>,
    /// Containers in declaration order.
    pub containers: Vec<ContainerState>,
    /// Kernel-wide switches this topology needs.
    pub forwarding: Forwarding,
}

impl Desired {
    pub fn network(&self, name: &str) -> Option<&NetState> {
        self.networks.iter().find(|n| n.name == name)
    }

    pub fn container(&self, name: &str) -> Option<&ContainerState> {
        self.containers.iter().find(|c| c.name == name)
    }

    /// Every endpoint with its container, in declaration order.
    pub fn endpoints(&self) -> impl Iterator<Item = (&ContainerState, &Endpoint)> {
        self.containers
            .iter()
            .flat_map(|c| c.endpoints.iter().map(move |e| (c, e)))
    }
}

/// `net.ipv4.ip_forward` / `net.ipv6.conf.all.forwarding`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Forwarding {
    pub ipv4: bool,
    pub ipv6: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NetState {
    pub name: Name,
    /// 64 hex, deterministic.
    pub id: Id,
    pub kind: NetworkKind,
    pub driver: Driver,
    /// The Linux bridge (None for `host`, `none` and overlay networks).
    pub bridge: Option<Name>,
    pub subnets: Vec<SubnetState>,
    pub ipv6: bool,
    pub mtu: u32,
    /// Firewall intent.
    pub icc: bool,
    pub masquerade: bool,
    pub internal: bool,
    pub host_ip: Option<IpAddr>,
    pub alias_mode: AliasMode,
    pub labels: BTreeMap<String, String>,
    pub options: BTreeMap<String, String>,
    /// Names resolvable on this network (container names and aliases), in declaration order.
    pub records: Vec<DnsRecord>,
}

impl NetState {
    /// Whether containers on this network get the embedded DNS server.
    pub fn has_dns(&self) -> bool {
        self.kind == NetworkKind::User
    }

    pub fn subnet4(&self) -> Option<&SubnetState> {
        self.subnets.iter().find(|s| s.cidr.addr().is_ipv4())
    }

    pub fn subnet6(&self) -> Option<&SubnetState> {
        self.subnets.iter().find(|s| s.cidr.addr().is_ipv6())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubnetState {
    pub cidr: IpNet,
    pub gateway: IpAddr,
    pub ip_range: Option<IpNet>,
    pub aux: BTreeMap<String, IpAddr>,
    /// Chosen by IPAM rather than declared.
    pub automatic: bool,
}

/// A name on a network and who answers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DnsRecord {
    pub name: Name,
    pub container: Name,
    /// True for `alias` names, false for the container's own name.
    pub alias: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContainerState {
    pub name: Name,
    /// 64 hex, deterministic.
    pub id: Id,
    /// The named network namespace; None when the container runs in the host's (`host`).
    pub netns: Option<Name>,
    /// In attachment order (eth0 first); `host` and `none` give no endpoint. Most containers
    /// have one, kept inline: read with its container rather than through a pointer.
    pub endpoints: Endpoints,
    pub ports: Vec<PortState>,
    pub run: Option<String>,
    pub resolver: Resolver,
    /// Upstream resolvers declared for this container (empty: the host's).
    pub dns: Vec<IpAddr>,
    /// Contents of the container's /etc/hosts.
    pub hosts: String,
    /// Stopped by `netplan stop`: endpoints down, process ended, addresses kept.
    #[serde(default)]
    pub stopped: bool,
}

/// A container's endpoints: the first inline, more on the heap.
pub type Endpoints = smallvec::SmallVec<[Endpoint; 1]>;

/// What a container's resolv.conf points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Resolver {
    /// `nameserver 127.0.0.11`: the embedded DNS server (user-defined networks).
    Embedded,
    /// The host's resolvers minus loopback ones (default bridge only).
    Host,
    /// No network at all (`none`), or the host's own file (`host`).
    Unchanged,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Endpoint {
    pub network: Name,
    /// 64 hex, deterministic.
    pub id: Id,
    /// eth0, eth1, … in attachment order.
    pub interface: Name,
    /// Host end of the veth pair.
    pub host_veth: Name,
    pub ipv4: Option<Ipv4Net>,
    pub ipv6: Option<Ipv6Net>,
    pub gateway4: Option<Ipv4Addr>,
    pub gateway6: Option<Ipv6Addr>,
    /// Declared with `ip` / `ip6`.
    pub static_ipv4: bool,
    pub static_ipv6: bool,
    pub mac: Mac,
    pub mtu: u32,
    pub aliases: Vec<Name>,
    pub links: Vec<LinkState>,
    /// The container's default route goes through this endpoint.
    pub default_route: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkState {
    pub target: Name,
    pub alias: Name,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortState {
    /// None: every host address.
    pub host_ip: Option<IpAddr>,
    pub host_port: u16,
    /// Whether the host port was chosen by IPAM.
    pub automatic: bool,
    pub container_ip: IpAddr,
    pub port: u16,
    pub proto: Proto,
}
