//! The validated topology: what [`crate::check`] produces and the runtime consumes.
//!
//! Every reference in it resolves, every literal is consistent; spans are kept (but not
//! serialised) so that later stages can still point into the file.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use thin_vec::ThinVec;

pub use crate::ast::{AliasMode, Driver, Mac, PortSpec, Proto, Span};

/// Names of the networks that exist without being declared.
pub const PREDEFINED: [&str; 3] = ["bridge", "host", "none"];

/// A name: of a network, container, alias or bridge. Up to 24 bytes are kept inline rather
/// than on the heap, which covers nearly every name, so a topology of 10,000 containers
/// neither allocates one per name nor chases a pointer to read one.
pub type Name = compact_str::CompactString;

/// A checked topology file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Topology {
    /// The topology's name (by default the file name without `.net`); it seeds every id.
    pub name: String,
    /// Declared networks in file order, then the predefined ones that containers use.
    pub networks: Vec<Network>,
    /// Containers in file order.
    pub containers: Vec<Container>,
    /// Top-level hooks in file order.
    pub hooks: Vec<Hook>,
}

impl Topology {
    pub fn network(&self, name: &str) -> Option<&Network> {
        self.networks.iter().find(|n| n.name == name)
    }

    pub fn container(&self, name: &str) -> Option<&Container> {
        self.containers.iter().find(|c| c.name == name)
    }
}

/// Where a network comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NetworkKind {
    /// Declared in the file.
    User,
    /// The predefined default `bridge` (legacy: no embedded DNS, no aliases).
    DefaultBridge,
    /// The predefined `host` network: the container shares the host's namespace.
    Host,
    /// The predefined `none` network: only `lo`.
    None,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Network {
    pub name: Name,
    pub kind: NetworkKind,
    pub driver: Driver,
    /// Subnets as declared (empty: chosen automatically by IPAM).
    pub subnets: Vec<Subnet>,
    pub ipv6: bool,
    /// Linux bridge name, when given (`bridge` or the Docker option).
    pub bridge: Option<Name>,
    pub mtu: Option<u32>,
    /// Inter-container connectivity on this network.
    pub icc: bool,
    pub masquerade: bool,
    /// Default host address for published ports.
    pub host_ip: Option<IpAddr>,
    pub internal: bool,
    pub labels: BTreeMap<String, String>,
    /// Docker-style options exactly as written (`option "key" = "value"`).
    pub options: BTreeMap<String, String>,
    pub alias_mode: AliasMode,
    pub hooks: Vec<Hook>,
    #[serde(skip)]
    pub span: Span,
}

impl Network {
    /// A predefined network with its defaults.
    pub fn predefined(name: &str) -> Option<Network> {
        let kind = match name {
            "bridge" => NetworkKind::DefaultBridge,
            "host" => NetworkKind::Host,
            "none" => NetworkKind::None,
            _ => return None,
        };
        Some(Network::new(name, kind))
    }

    /// A network with every setting at its default.
    pub fn new(name: &str, kind: NetworkKind) -> Network {
        Network {
            name: Name::from(name),
            kind,
            driver: Driver::Bridge,
            subnets: Vec::new(),
            ipv6: false,
            bridge: None,
            mtu: None,
            icc: true,
            masquerade: true,
            host_ip: None,
            internal: false,
            labels: BTreeMap::new(),
            options: BTreeMap::new(),
            alias_mode: AliasMode::First,
            hooks: Vec::new(),
            span: Span::default(),
        }
    }

    /// True for networks whose containers get a bridge, addresses and (if user-defined) DNS.
    pub fn is_bridged(&self) -> bool {
        matches!(self.kind, NetworkKind::User | NetworkKind::DefaultBridge)
    }

    /// True for user-defined networks (embedded DNS, aliases, static IPs).
    pub fn is_user_defined(&self) -> bool {
        self.kind == NetworkKind::User
    }
}

/// A declared subnet and what belongs to it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Subnet {
    pub cidr: IpNet,
    pub gateway: Option<IpAddr>,
    /// Dynamic addresses come only from here.
    pub ip_range: Option<IpNet>,
    /// Reserved addresses, in declaration order.
    pub aux: Vec<(String, IpAddr)>,
    #[serde(skip)]
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Container {
    pub name: Name,
    /// In attachment order: the first is eth0. Never empty (default: `bridge`). Most
    /// containers have one, kept inline: planning reads it with its container rather than
    /// through a pointer.
    pub attachments: Attachments,
    /// The lists most containers leave empty are `ThinVec`s: one pointer each.
    pub publish: ThinVec<PortSpec>,
    /// A process kept running in the container (`sh -c`).
    pub run: Option<String>,
    /// Upstream resolvers for this container's DNS (default: the host's).
    pub dns: ThinVec<IpAddr>,
    pub hooks: ThinVec<Hook>,
    #[serde(skip)]
    pub span: Span,
}

impl Container {
    pub fn attachment(&self, network: &str) -> Option<&Attachment> {
        self.attachments.iter().find(|a| a.network == network)
    }
}

/// A container's attachments: the first inline, more on the heap.
pub type Attachments = smallvec::SmallVec<[Attachment; 1]>;

/// A container's membership in one network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attachment {
    pub network: Name,
    pub ip: Option<Ipv4Addr>,
    pub ip6: Option<Ipv6Addr>,
    pub aliases: ThinVec<Name>,
    pub links: ThinVec<Link>,
    pub mac: Option<Mac>,
    #[serde(skip)]
    pub span: Span,
}

/// `link TARGET as ALIAS`: a name only the linking container sees, on one network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    pub target: Name,
    pub alias: Name,
}

/// When a hook runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HookEvent {
    Plan,
    BeforeApply,
    AfterApply,
    BeforeDestroy,
    AfterDestroy,
    NetworkCreated,
    NetworkRemoved,
    ContainerUp,
    ContainerDown,
}

impl HookEvent {
    pub const ALL: [HookEvent; 9] = [
        HookEvent::Plan,
        HookEvent::BeforeApply,
        HookEvent::AfterApply,
        HookEvent::BeforeDestroy,
        HookEvent::AfterDestroy,
        HookEvent::NetworkCreated,
        HookEvent::NetworkRemoved,
        HookEvent::ContainerUp,
        HookEvent::ContainerDown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            HookEvent::Plan => "plan",
            HookEvent::BeforeApply => "before-apply",
            HookEvent::AfterApply => "after-apply",
            HookEvent::BeforeDestroy => "before-destroy",
            HookEvent::AfterDestroy => "after-destroy",
            HookEvent::NetworkCreated => "network-created",
            HookEvent::NetworkRemoved => "network-removed",
            HookEvent::ContainerUp => "container-up",
            HookEvent::ContainerDown => "container-down",
        }
    }

    pub fn parse(s: &str) -> Option<HookEvent> {
        HookEvent::ALL.into_iter().find(|e| e.as_str() == s)
    }
}

/// `hook EVENT "path"`; the path is as written, relative to the topology file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hook {
    pub event: HookEvent,
    pub path: String,
    /// The whole `hook` statement.
    #[serde(skip)]
    pub span: Span,
    /// The path string.
    #[serde(skip)]
    pub path_span: Span,
}
