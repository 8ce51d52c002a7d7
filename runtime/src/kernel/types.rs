//! Plain data exchanged with the [`Kernel`](super::Kernel): observed state and specs.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::str::FromStr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use super::{is_netplan_tag, tag_topology};

/// A 48-bit Ethernet address, written `02:42:ac:11:00:02`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct MacAddr(pub [u8; 6]);

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

impl FromStr for MacAddr {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut out = [0u8; 6];
        let mut parts = s.split(':');
        for byte in &mut out {
            let part = parts.next().ok_or_else(|| format!("invalid MAC address {s:?}"))?;
            if part.len() != 2 {
                return Err(format!("invalid MAC address {s:?}"));
            }
            *byte = u8::from_str_radix(part, 16).map_err(|_| format!("invalid MAC address {s:?}"))?;
        }
        if parts.next().is_some() {
            return Err(format!("invalid MAC address {s:?}"));
        }
        Ok(MacAddr(out))
    }
}

impl From<MacAddr> for String {
    fn from(m: MacAddr) -> String {
        m.to_string()
    }
}

impl TryFrom<String> for MacAddr {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl MacAddr {
    /// Builds the MAC from a slice as found in netlink messages; `None` unless 6 bytes long.
    pub fn from_slice(bytes: &[u8]) -> Option<MacAddr> {
        <[u8; 6]>::try_from(bytes).ok().map(MacAddr)
    }
}

/// What kind of link an interface is (`IFLA_INFO_KIND`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LinkKind {
    /// A Linux bridge.
    Bridge,
    /// One end of a veth pair.
    Veth,
    /// Any other kind, by its kernel name (`dummy`, `vxlan`, ...).
    Other(String),
    /// No kind reported: loopback and physical devices.
    Device,
}

/// One network interface as observed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    /// Interface index (only meaningful within its namespace).
    pub index: u32,
    /// Interface name.
    pub name: String,
    /// Link kind.
    pub kind: LinkKind,
    /// MTU in bytes.
    pub mtu: u32,
    /// Hardware address, for Ethernet-like links.
    pub mac: Option<MacAddr>,
    /// Name of the bridge (or other controller) this link is enslaved to, same namespace.
    pub master: Option<String>,
    /// Interface alias; netplan stores its ownership tag here.
    pub alias: Option<String>,
    /// Administratively up (`IFF_UP`).
    pub up: bool,
    /// An isolated bridge port (`IFLA_BRPORT_ISOLATED`); always `false` for non-ports.
    pub isolated: bool,
    /// A link netplan was creating when it was interrupted (before it carried its tag; `alias`
    /// then holds the tag it was to get). Apply deletes and creates it again.
    #[serde(default, skip_serializing_if = "is_false")]
    pub unfinished: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl Link {
    /// Whether netplan created this link.
    pub fn is_netplan(&self) -> bool {
        is_netplan_tag(self.alias.as_deref())
    }

    /// The topology that owns this link, if netplan created it.
    pub fn topology(&self) -> Option<&str> {
        tag_topology(self.alias.as_deref())
    }
}

/// One interface address (`10.0.0.2/24`: address with its prefix length).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Address {
    /// Name of the link that carries the address.
    pub link: String,
    /// The address and prefix length.
    pub addr: IpNet,
}

/// Who installed a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RouteOrigin {
    /// Added by the kernel for an address's own subnet (`proto kernel`).
    Kernel,
    /// Added explicitly, as netplan does (`proto static`).
    Static,
    /// Any other routing protocol number (boot, dhcp, ra, ...).
    Other(u8),
}

/// One route of the main routing table.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Route {
    /// Destination; `0.0.0.0/0` or `::/0` for a default route.
    pub dst: IpNet,
    /// Next hop, if any.
    pub gateway: Option<IpAddr>,
    /// Output interface name.
    pub dev: Option<String>,
    /// Who installed it.
    pub origin: RouteOrigin,
}

/// Links, addresses and routes of one namespace.
///
/// IPv6 link-local addresses (`fe80::/10`) and their routes are left out: the kernel manages
/// them and netplan never does. Only the main routing table is reported.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NsObjects {
    /// All links, ordered by index.
    pub links: Vec<Link>,
    /// All addresses, ordered by link name then address.
    pub addresses: Vec<Address>,
    /// Main-table routes, sorted.
    pub routes: Vec<Route>,
}

impl NsObjects {
    /// The link called `name`.
    pub fn link(&self, name: &str) -> Option<&Link> {
        self.links.iter().find(|l| l.name == name)
    }

    /// The addresses on link `name`, sorted.
    pub fn addresses_of(&self, name: &str) -> Vec<IpNet> {
        self.addresses
            .iter()
            .filter(|a| a.link == name)
            .map(|a| a.addr)
            .collect()
    }

    /// The routes through link `name`, sorted.
    pub fn routes_via(&self, name: &str) -> Vec<&Route> {
        self.routes
            .iter()
            .filter(|r| r.dev.as_deref() == Some(name))
            .collect()
    }
}

/// A named network namespace and its netplan marker.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct NetnsInfo {
    /// Name under `/run/netns`.
    pub name: String,
    /// Content of the netplan marker, `None` when the namespace is not netplan's.
    pub tag: Option<String>,
}

impl NetnsInfo {
    /// Whether netplan created this namespace.
    pub fn is_netplan(&self) -> bool {
        is_netplan_tag(self.tag.as_deref())
    }
}

/// Result of [`Kernel::observe`](super::Kernel::observe).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observed {
    /// Objects in the namespace netplan runs in.
    pub host: NsObjects,
    /// Every named namespace, sorted by name.
    pub netns: Vec<NetnsInfo>,
    /// Objects inside each requested namespace that exists.
    pub inside: BTreeMap<String, NsObjects>,
}

impl Observed {
    /// The named namespace `name`, if it exists.
    pub fn netns(&self, name: &str) -> Option<&NetnsInfo> {
        // `netns` is sorted by name; a list built by hand may not be, so a miss looks again.
        match self.netns.binary_search_by(|n| n.name.as_str().cmp(name)) {
            Ok(i) => self.netns.get(i),
            Err(_) => self.netns.iter().find(|n| n.name == name),
        }
    }

    /// Objects of `netns` (`None` = host), if observed.
    pub fn objects(&self, netns: Option<&str>) -> Option<&NsObjects> {
        match netns {
            None => Some(&self.host),
            Some(ns) => self.inside.get(ns),
        }
    }
}

/// A bridge to create in the host namespace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BridgeSpec {
    /// Interface name (at most 15 bytes).
    pub name: String,
    /// MTU; kernel default when `None`.
    pub mtu: Option<u32>,
    /// Gateway addresses with prefix length, e.g. `10.0.0.1/24`.
    pub addresses: Vec<IpNet>,
    /// Ownership tag, from [`tag_for`](super::tag_for).
    pub tag: String,
}

/// A route to install inside a container namespace.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RouteSpec {
    /// Destination; `0.0.0.0/0` (or `::/0`) for the default route.
    pub dst: IpNet,
    /// Next hop; `None` for an on-link route.
    pub gateway: Option<IpAddr>,
}

/// A veth pair connecting a container namespace to a bridge.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VethSpec {
    /// Name of the end that stays in the host namespace, enslaved to `bridge`.
    pub host_name: String,
    /// Bridge (netplan-owned) in the host namespace.
    pub bridge: String,
    /// Named namespace (netplan-owned) that receives the peer.
    pub netns: String,
    /// Name of the peer inside the namespace, usually `eth0`.
    pub peer_name: String,
    /// MAC of the peer; kernel-chosen when `None`.
    pub mac: Option<MacAddr>,
    /// MTU of both ends; kernel default when `None`.
    pub mtu: Option<u32>,
    /// Addresses of the peer, e.g. `10.0.0.2/24`.
    pub addresses: Vec<IpNet>,
    /// Routes inside the namespace through the peer, including the default route.
    pub routes: Vec<RouteSpec>,
    /// Make the host end an isolated bridge port: isolated ports exchange no frames with each
    /// other, only with the bridge itself (the gateway) and non-isolated ports. netplan sets
    /// this for every container of a network with icc off.
    pub isolated: bool,
    /// Ownership tag for both ends.
    pub tag: String,
}

/// Transport protocol of a published port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
}

impl Proto {
    /// `tcp` or `udp`.
    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        }
    }
}

/// One netplan network as the firewall sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirewallNetwork {
    /// The network's bridge.
    pub bridge: String,
    /// Its subnets.
    pub subnets: Vec<IpNet>,
    /// Inter-container communication on this bridge; `false` drops it.
    pub icc: bool,
    /// Internal network: no traffic to or from anything outside the bridge.
    pub internal: bool,
    /// Masquerade traffic leaving the bridge (ignored for internal networks).
    pub masquerade: bool,
}

/// A published port: host `host_ip:host_port` forwarded to `container_ip:container_port`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishedPort {
    /// Host address to listen on; `None` = every local address of the matching family.
    pub host_ip: Option<IpAddr>,
    /// Host port.
    pub host_port: u16,
    /// Container address.
    pub container_ip: IpAddr,
    /// Container port.
    pub container_port: u16,
    /// Protocol.
    pub proto: Proto,
}

/// The complete firewall netplan wants; applied atomically by
/// [`Kernel::apply_firewall`](super::Kernel::apply_firewall).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirewallSpec {
    /// All netplan networks (isolation applies between every pair of them).
    pub networks: Vec<FirewallNetwork>,
    /// All published ports.
    pub published: Vec<PublishedPort>,
}

/// A process to start inside a container namespace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessSpec {
    /// Netplan-owned named namespace to run in.
    pub netns: String,
    /// Program and arguments; use `["/bin/sh", "-c", CMD]` for a shell command.
    pub argv: Vec<String>,
    /// File receiving stdout and stderr (appended; created if missing).
    pub log_path: PathBuf,
    /// Extra environment variables.
    pub env: Vec<(String, String)>,
}

#[cfg(test)]
mod tests {
    use super::MacAddr;

    #[test]
    fn mac_round_trips() {
        let m: MacAddr = "02:42:AC:11:00:02".parse().expect("valid MAC");
        assert_eq!(m.0, [0x02, 0x42, 0xac, 0x11, 0x00, 0x02]);
        assert_eq!(m.to_string(), "02:42:ac:11:00:02");
    }

    #[test]
    fn bad_macs_are_rejected() {
        for bad in [
            "",
            "02:42:ac:11:00",
            "02:42:ac:11:00:02:03",
            "2:42:ac:11:00:02",
            "zz:42:ac:11:00:02",
        ] {
            assert!(bad.parse::<MacAddr>().is_err(), "{bad:?} accepted");
        }
    }
}
