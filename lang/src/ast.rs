//! The syntax tree of a `.net` file, exactly as written, with a byte span on every part.
//!
//! Literals (addresses, CIDRs, MACs, ports) are already checked and typed here; everything
//! that needs the whole file (names, overlaps, references) is left to [`crate::check`].

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;
use serde::Serialize;

/// A byte range into the source text.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, serde::Deserialize,
)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Self {
        Span { start, end }
    }
    pub fn len(&self) -> usize {
        self.end.saturating_sub(self.start)
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The smallest span covering both.
    pub fn join(self, other: Span) -> Span {
        Span::new(self.start.min(other.start), self.end.max(other.end))
    }
}

impl From<Span> for miette::SourceSpan {
    fn from(s: Span) -> Self {
        (s.start, s.len()).into()
    }
}

impl From<pest::Span<'_>> for Span {
    fn from(s: pest::Span<'_>) -> Self {
        Span::new(s.start(), s.end())
    }
}

/// A value together with where it was written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Spanned<T> {
    pub value: T,
    pub span: Span,
}

impl<T> Spanned<T> {
    pub fn new(value: T, span: Span) -> Self {
        Spanned { value, span }
    }
}

/// A name of a network, container, alias, aux address or label.
pub type Name = Spanned<String>;

/// A whole `.net` file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct File {
    pub items: Vec<Item>,
    /// Every comment in the file, in order (kept for the formatter).
    pub comments: Vec<Comment>,
}

/// A `# ...` comment: its text (including the `#`) and where it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Comment {
    pub text: String,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Item {
    Network(NetworkDecl),
    Container(ContainerDecl),
    Hook(HookDecl),
    Unknown(Unknown),
}

impl Item {
    pub fn span(&self) -> Span {
        match self {
            Item::Network(n) => n.span,
            Item::Container(c) => c.span,
            Item::Hook(h) => h.span,
            Item::Unknown(u) => u.span,
        }
    }
}

/// A statement starting with a word that is no keyword here (e.g. `subnett`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unknown {
    pub keyword: Name,
    pub span: Span,
}

/// An optional `{ ... }` block: `None` when omitted, `Some(vec![])` for `{}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Block<T> {
    pub stmts: Vec<T>,
    /// From `{` to `}` inclusive.
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NetworkDecl {
    pub name: Name,
    pub block: Option<Block<NetworkStmt>>,
    /// The whole declaration, keyword to closing brace.
    pub span: Span,
}

impl NetworkDecl {
    pub fn stmts(&self) -> &[NetworkStmt] {
        self.block.as_ref().map_or(&[], |b| &b.stmts)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Driver {
    Bridge,
    Overlay,
}

/// How a DNS name backed by several containers answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum AliasMode {
    /// The first live backer in declaration order (Docker's classic behaviour).
    #[default]
    First,
    /// Every live backer, shuffled (newer Docker).
    All,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "stmt", rename_all = "snake_case")]
pub enum NetworkStmt {
    /// `driver bridge|overlay`; the name is kept as written so the checker can
    /// name an unknown driver.
    Driver {
        name: Name,
        span: Span,
    },
    Subnet(SubnetDecl),
    Ipv6 {
        span: Span,
    },
    Gateway(AddrStmt),
    IpRange(CidrStmt),
    Aux(AuxStmt),
    Bridge {
        name: Name,
        span: Span,
    },
    Mtu {
        value: Spanned<u32>,
        span: Span,
    },
    Icc {
        on: Spanned<bool>,
        span: Span,
    },
    Masquerade {
        on: Spanned<bool>,
        span: Span,
    },
    HostIp(AddrStmt),
    Label {
        key: Name,
        value: Spanned<String>,
        span: Span,
    },
    Internal {
        span: Span,
    },
    Option {
        key: Spanned<String>,
        value: Spanned<String>,
        span: Span,
    },
    AliasMode {
        name: Name,
        span: Span,
    },
    Hook(HookDecl),
    Unknown(Unknown),
}

impl NetworkStmt {
    pub fn span(&self) -> Span {
        match self {
            NetworkStmt::Driver { span, .. }
            | NetworkStmt::Ipv6 { span }
            | NetworkStmt::Bridge { span, .. }
            | NetworkStmt::Mtu { span, .. }
            | NetworkStmt::Icc { span, .. }
            | NetworkStmt::Masquerade { span, .. }
            | NetworkStmt::Label { span, .. }
            | NetworkStmt::Internal { span }
            | NetworkStmt::Option { span, .. }
            | NetworkStmt::AliasMode { span, .. } => *span,
            NetworkStmt::Subnet(s) => s.span,
            NetworkStmt::Gateway(a) | NetworkStmt::HostIp(a) => a.span,
            NetworkStmt::IpRange(c) => c.span,
            NetworkStmt::Aux(a) => a.span,
            NetworkStmt::Hook(h) => h.span,
            NetworkStmt::Unknown(u) => u.span,
        }
    }
}

/// A statement holding one address, e.g. `gateway 172.25.0.1`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AddrStmt {
    pub addr: Spanned<IpAddr>,
    pub span: Span,
}

/// A statement holding one CIDR, e.g. `ip-range 172.25.3.0/24`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CidrStmt {
    pub cidr: Spanned<IpNet>,
    pub span: Span,
}

/// `aux NAME ADDR`: a reserved address.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuxStmt {
    pub name: Name,
    pub addr: Spanned<IpAddr>,
    pub span: Span,
}

/// `subnet CIDR [{ gateway …; ip-range …; aux … }]`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SubnetDecl {
    pub cidr: Spanned<IpNet>,
    pub block: Option<Block<SubnetStmt>>,
    pub span: Span,
}

impl SubnetDecl {
    pub fn stmts(&self) -> &[SubnetStmt] {
        self.block.as_ref().map_or(&[], |b| &b.stmts)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "stmt", rename_all = "snake_case")]
pub enum SubnetStmt {
    Gateway(AddrStmt),
    IpRange(CidrStmt),
    Aux(AuxStmt),
    Unknown(Unknown),
}

impl SubnetStmt {
    pub fn span(&self) -> Span {
        match self {
            SubnetStmt::Gateway(a) => a.span,
            SubnetStmt::IpRange(c) => c.span,
            SubnetStmt::Aux(a) => a.span,
            SubnetStmt::Unknown(u) => u.span,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ContainerDecl {
    pub name: Name,
    pub block: Option<Block<ContainerStmt>>,
    pub span: Span,
}

impl ContainerDecl {
    pub fn stmts(&self) -> &[ContainerStmt] {
        self.block.as_ref().map_or(&[], |b| &b.stmts)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "stmt", rename_all = "snake_case")]
pub enum ContainerStmt {
    Network(AttachDecl),
    Publish(PublishStmt),
    Run { command: Spanned<String>, span: Span },
    Dns(AddrStmt),
    Hook(HookDecl),
    Unknown(Unknown),
}

impl ContainerStmt {
    pub fn span(&self) -> Span {
        match self {
            ContainerStmt::Network(a) => a.span,
            ContainerStmt::Publish(p) => p.span,
            ContainerStmt::Run { span, .. } => *span,
            ContainerStmt::Dns(a) => a.span,
            ContainerStmt::Hook(h) => h.span,
            ContainerStmt::Unknown(u) => u.span,
        }
    }
}

/// `network NAME [{ ip …; ip6 …; alias …; link X as A; mac … }]` inside a container.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttachDecl {
    pub network: Name,
    pub block: Option<Block<AttachStmt>>,
    pub span: Span,
}

impl AttachDecl {
    pub fn stmts(&self) -> &[AttachStmt] {
        self.block.as_ref().map_or(&[], |b| &b.stmts)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "stmt", rename_all = "snake_case")]
pub enum AttachStmt {
    Ip { addr: Spanned<Ipv4Addr>, span: Span },
    Ip6 { addr: Spanned<Ipv6Addr>, span: Span },
    Alias { name: Name, span: Span },
    Link { target: Name, alias: Name, span: Span },
    Mac { mac: Spanned<Mac>, span: Span },
    Unknown(Unknown),
}

impl AttachStmt {
    pub fn span(&self) -> Span {
        match self {
            AttachStmt::Ip { span, .. }
            | AttachStmt::Ip6 { span, .. }
            | AttachStmt::Alias { span, .. }
            | AttachStmt::Link { span, .. }
            | AttachStmt::Mac { span, .. } => *span,
            AttachStmt::Unknown(u) => u.span,
        }
    }
}

/// A MAC address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Mac(pub [u8; 6]);

impl std::fmt::Display for Mac {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let b = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        )
    }
}

impl std::str::FromStr for Mac {
    type Err = String;
    /// Six hex octets separated by `:` or `-`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = s.split([':', '-']).collect();
        if parts.len() != 6 {
            return Err(format!(
                "a MAC address has six octets separated by `:`, found {}",
                parts.len()
            ));
        }
        let mut out = [0u8; 6];
        for (i, p) in parts.iter().enumerate() {
            if p.len() != 2 {
                return Err(format!("octet `{p}` must be two hex digits"));
            }
            out[i] = u8::from_str_radix(p, 16).map_err(|_| format!("`{p}` is not a hex octet"))?;
        }
        Ok(Mac(out))
    }
}

impl Serialize for Mac {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Mac {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    Tcp,
    Udp,
}

impl std::fmt::Display for Proto {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        })
    }
}

/// `[HOST_IP:][HOST_PORT:]PORT[/tcp|udp]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
pub struct PortSpec {
    pub host_ip: Option<IpAddr>,
    pub host_port: Option<u16>,
    pub port: u16,
    pub proto: Proto,
}

impl std::fmt::Display for PortSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.host_ip, self.host_port) {
            (Some(IpAddr::V6(ip)), hp) => {
                write!(f, "[{ip}]:{}:", hp.map(|p| p.to_string()).unwrap_or_default())?
            }
            (Some(ip), hp) => write!(f, "{ip}:{}:", hp.map(|p| p.to_string()).unwrap_or_default())?,
            (None, Some(hp)) => write!(f, "{hp}:")?,
            (None, None) => {}
        }
        write!(f, "{}/{}", self.port, self.proto)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PublishStmt {
    pub spec: Spanned<PortSpec>,
    pub span: Span,
}

/// `hook EVENT "path.rhai"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HookDecl {
    pub event: Name,
    pub path: Spanned<String>,
    pub span: Span,
}
