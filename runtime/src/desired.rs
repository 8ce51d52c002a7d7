//! The desired state: everything netplan will create for a topology, fully concrete.
//!
//! It is built by [`crate::ipam`] from a checked topology and the lock file, compared by
//! [`crate::diff`], recorded in the state directory after an apply, and carried out by apply.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use netplan_lang::model::{AliasMode, Driver, Mac, NetworkKind, Proto};
use serde::{Deserialize, Serialize};
use thin_vec::ThinVec;

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

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ContainerState {
    pub name: Name,
    /// 64 hex, deterministic.
    pub id: Id,
    /// Runs in the host's network namespace (`host`) rather than one of its own, which is
    /// named after the container ([`ContainerState::netns`]). Written and read as `netns`:
    /// the name, or null.
    #[serde(
        rename = "netns",
        deserialize_with = "on_host_from_netns",
        default = "on_host_without_netns"
    )]
    pub on_host: bool,
    /// In attachment order (eth0 first); `host` and `none` give no endpoint. Most containers
    /// have one, kept inline: read with its container rather than through a pointer.
    pub endpoints: Endpoints,
    pub ports: ThinVec<PortState>,
    pub run: Option<Box<str>>,
    pub resolver: Resolver,
    /// Upstream resolvers declared for this container (empty: the host's).
    pub dns: ThinVec<IpAddr>,
    /// Legacy links on the default bridge: the lines of the container's /etc/hosts after
    /// its own name. The file itself ([`ContainerState::hosts`]) is made from these, the name
    /// and the first endpoint when it is needed rather than kept, which saved building and
    /// comparing a string per container in every plan; every JSON form still has it, as
    /// `hosts`.
    #[serde(default)]
    pub link_hosts: ThinVec<LinkHost>,
    /// Stopped by `netplan stop`: endpoints down, process ended, addresses kept.
    #[serde(default)]
    pub stopped: bool,
}

/// The two localhost lines every container's /etc/hosts starts with.
const LOCALHOST: &str = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n";

/// A container's recorded `netns` (its name, or null) as whether it runs on the host.
fn on_host_from_netns<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(Option::<Name>::deserialize(d)?.is_none())
}

/// No `netns` recorded reads as null, as it did when the name was kept.
fn on_host_without_netns() -> bool {
    true
}

impl ContainerState {
    /// The container's own network namespace, named after it; None when it runs in the
    /// host's.
    pub fn netns(&self) -> Option<&str> {
        (!self.on_host).then_some(self.name.as_str())
    }

    /// Contents of the container's /etc/hosts: localhost, the container's name on the
    /// addresses of its first endpoint, then its legacy links.
    pub fn hosts(&self) -> String {
        use std::fmt::Write as _;
        let first = self.endpoints.first();
        let v4 = first.and_then(|e| e.ipv4);
        let v6 = first.and_then(|e| e.ipv6);
        // Sized for the longest addresses (15 and 39 characters), tab and newline.
        let line = |len: usize| len + 2 + self.name.len();
        let mut hosts =
            String::with_capacity(LOCALHOST.len() + v4.map_or(0, |_| line(15)) + v6.map_or(0, |_| line(39)));
        hosts.push_str(LOCALHOST);
        if let Some(ip) = v4 {
            let _ = writeln!(hosts, "{}\t{}", ip.addr(), self.name);
        }
        if let Some(ip) = v6 {
            let _ = writeln!(hosts, "{}\t{}", ip.addr(), self.name);
        }
        for l in &self.link_hosts {
            let _ = writeln!(hosts, "{}\t{} {}", l.ip, l.alias, l.target);
        }
        hosts
    }
}

/// Written in the order of the fields, with `hosts` (the file, made from `link_hosts` and
/// the rest) before `link_hosts`, which is left out when empty.
impl Serialize for ContainerState {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let fields = if self.link_hosts.is_empty() { 10 } else { 11 };
        let mut s = serializer.serialize_struct("ContainerState", fields)?;
        s.serialize_field("name", &self.name)?;
        s.serialize_field("id", &self.id)?;
        s.serialize_field("netns", &self.netns())?;
        s.serialize_field("endpoints", &self.endpoints)?;
        s.serialize_field("ports", &self.ports)?;
        s.serialize_field("run", &self.run)?;
        s.serialize_field("resolver", &self.resolver)?;
        s.serialize_field("dns", &self.dns)?;
        s.serialize_field("hosts", &self.hosts())?;
        if self.link_hosts.is_empty() {
            s.skip_field("link_hosts")?;
        } else {
            s.serialize_field("link_hosts", &self.link_hosts)?;
        }
        s.serialize_field("stopped", &self.stopped)?;
        s.end()
    }
}

/// A legacy link on the default bridge, as a line of the linking container's /etc/hosts:
/// the target's address there, then the link's alias and the target's name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkHost {
    pub ip: Ipv4Addr,
    pub alias: Name,
    pub target: Name,
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
    pub interface: Interface,
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
    pub aliases: ThinVec<Name>,
    pub links: ThinVec<LinkState>,
    /// The container's default route goes through this endpoint.
    pub default_route: bool,
}

/// A container-side interface: `eth` and the endpoint's position among the container's
/// endpoints. Kept as the number (4 bytes rather than a 24-byte name: one endpoint is
/// inline in every container of the desired state, which the plan builds and compares in
/// full); written and read as the name, `eth0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Interface(pub u32);

impl Interface {
    /// The interface of the endpoint at `position`.
    pub fn at(position: usize) -> Self {
        Interface(u32::try_from(position).unwrap_or(u32::MAX))
    }
}

impl std::fmt::Display for Interface {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "eth{}", self.0)
    }
}

impl std::str::FromStr for Interface {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        s.strip_prefix("eth")
            // Digits only, and no leading zero: every name reads back as it was written.
            .filter(|n| n.bytes().all(|b| b.is_ascii_digit()) && (*n == "0" || !n.starts_with('0')))
            .and_then(|n| n.parse().ok())
            .map(Interface)
            .ok_or_else(|| format!("not a container interface (eth0, eth1, ...): {s:?}"))
    }
}

impl PartialEq<&str> for Interface {
    fn eq(&self, other: &&str) -> bool {
        other.parse::<Interface>().is_ok_and(|o| o == *self)
    }
}

impl Serialize for Interface {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Interface {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = Name::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipam::{HostReserved, allocate};
    use crate::lock::Lock;

    fn desired(text: &str) -> Desired {
        let topo = netplan_lang::check::check_text(text, "t").topology;
        let a = topo.map(|t| allocate(&t, &Lock::default(), &HostReserved::default()));
        match a {
            Some(Ok(a)) => a.desired,
            _ => panic!("the topology must plan"),
        }
    }

    #[test]
    fn hosts_is_written_as_the_file_and_read_back_from_the_links() {
        let d = desired("container target {}\ncontainer user { network bridge { link target as db } }\n");
        let Some(user) = d.container("user") else {
            panic!("no container user")
        };
        assert_eq!(user.link_hosts.len(), 1);
        let hosts = user.hosts();
        assert!(hosts.starts_with(LOCALHOST), "{hosts}");
        assert!(hosts.ends_with("\tuser\n172.17.0.2\tdb target\n"), "{hosts}");

        let json = serde_json::to_value(user).unwrap_or_default();
        assert_eq!(json["hosts"], serde_json::Value::String(hosts));
        assert_eq!(json["link_hosts"][0]["alias"], "db");
        let keys: Vec<&str> = json
            .as_object()
            .map_or(vec![], |o| o.keys().map(String::as_str).collect());
        let at = |k: &str| keys.iter().position(|x| *x == k);
        assert!(
            at("dns") < at("hosts") && at("hosts") < at("link_hosts") && at("link_hosts") < at("stopped")
        );

        let text = serde_json::to_string(&d).unwrap_or_default();
        let back: Result<Desired, _> = serde_json::from_str(&text);
        assert_eq!(back.ok().as_ref(), Some(&d));
    }

    #[test]
    fn without_links_there_is_no_link_hosts_key_and_an_older_state_still_reads() {
        let d = desired(
            "network n {\n  subnet 10.1.0.0/24\n  ipv6\n  subnet fd00::/64\n}\ncontainer web { network n }\n",
        );
        let Some(web) = d.container("web") else {
            panic!("no container web")
        };
        assert_eq!(
            web.hosts(),
            format!("{LOCALHOST}10.1.0.2\tweb\nfd00::2\tweb\n"),
            "the name on both addresses of the first endpoint"
        );
        let json = serde_json::to_value(&d).unwrap_or_default();
        let c = &json["containers"][0];
        assert!(c.get("link_hosts").is_none(), "{c}");
        // A state recorded by a build that kept the file itself: `hosts` is ignored.
        let mut older = c.clone();
        if let Some(o) = older.as_object_mut() {
            o.insert("hosts".into(), "anything".into());
        }
        let back: Result<ContainerState, _> = serde_json::from_value(older);
        assert_eq!(back.ok().as_ref(), Some(web));
    }

    #[test]
    fn interfaces_are_written_and_read_as_names() {
        let d = desired("network a {}\nnetwork b {}\ncontainer web {\n  network a\n  network b\n}\n");
        let Some(web) = d.container("web") else {
            panic!("no container web")
        };
        let names: Vec<String> = web.endpoints.iter().map(|e| e.interface.to_string()).collect();
        assert_eq!(names, ["eth0", "eth1"]);
        let json = serde_json::to_value(web).unwrap_or_default();
        assert_eq!(json["endpoints"][1]["interface"], "eth1");
        for good in ["eth0", "eth7", "eth12"] {
            let back: Result<Interface, _> = serde_json::from_value(good.into());
            assert_eq!(back.map(|i| i.to_string()).ok().as_deref(), Some(good));
        }
        for bad in ["eth", "eth01", "eth-1", "wlan0", "eth1x", "", "eth99999999999"] {
            let back: Result<Interface, _> = serde_json::from_value(bad.into());
            assert!(back.is_err(), "{bad:?} read as {back:?}");
        }
    }

    #[test]
    fn netns_is_written_as_the_name_or_null_and_read_back() {
        let d = desired("container web {}\ncontainer agent { network host }\n");
        let json = serde_json::to_value(&d).unwrap_or_default();
        assert_eq!(json["containers"][0]["netns"], "web");
        assert!(json["containers"][1]["netns"].is_null());
        let back: Result<Desired, _> = serde_json::from_value(json);
        let back = back.unwrap_or_default();
        let netns: Vec<Option<&str>> = back.containers.iter().map(ContainerState::netns).collect();
        assert_eq!(netns, [Some("web"), None]);
        assert_eq!(back, d);
        // Without the key it reads as null, as the optional name it was.
        let mut bare = serde_json::to_value(&d.containers[0]).unwrap_or_default();
        if let Some(o) = bare.as_object_mut() {
            o.remove("netns");
        }
        let bare: Result<ContainerState, _> = serde_json::from_value(bare);
        assert_eq!(bare.ok().map(|c| c.on_host), Some(true));
    }
}
