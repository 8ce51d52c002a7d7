//! Turning netlink messages into [`NsObjects`].
//!
//! The dumps of an observation are read in place, attribute by attribute, taking only what
//! netplan looks at ([`Collector`]): at a thousand namespaces, decoding every attribute of
//! every message into typed values costs more than the kernel's own work. Single lookups made
//! while changing things use the typed messages (the helpers at the end).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;
use rtnetlink::packet_core::NlasIterator;
use rtnetlink::packet_route::address::{AddressAttribute, AddressMessage};
use rtnetlink::packet_route::link::{LinkAttribute, LinkMessage};

use super::types::{Address, Link, LinkKind, MacAddr, NsObjects, Route, RouteOrigin};

const AF_INET: u8 = 2;
const AF_INET6: u8 = 10;
const IFF_UP: u32 = 1;
const RT_TABLE_MAIN: u32 = 254;
const RTPROT_KERNEL: u8 = 2;
const RTPROT_STATIC: u8 = 4;

const IFLA_ADDRESS: u16 = 1;
const IFLA_IFNAME: u16 = 3;
const IFLA_MTU: u16 = 4;
const IFLA_MASTER: u16 = 10;
const IFLA_LINKINFO: u16 = 18;
const IFLA_IFALIAS: u16 = 20;
const IFLA_INFO_KIND: u16 = 1;
const IFLA_INFO_SLAVE_KIND: u16 = 4;
const IFLA_INFO_SLAVE_DATA: u16 = 5;
const IFLA_BRPORT_ISOLATED: u16 = 33;

const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;

const RTA_DST: u16 = 1;
const RTA_OIF: u16 = 4;
const RTA_GATEWAY: u16 = 5;
const RTA_TABLE: u16 = 15;

/// Sizes of the fixed headers before the attributes.
const IFINFOMSG_LEN: usize = 16;
const IFADDRMSG_LEN: usize = 8;
const RTMSG_LEN: usize = 12;

/// The attributes (type, value) after a fixed header; nothing when the message is too short.
/// A malformed attribute ends the list: the ones before it are still used.
fn attrs(buf: &[u8], header: usize) -> impl Iterator<Item = (u16, &[u8])> {
    NlasIterator::new(buf.get(header..).unwrap_or_default())
        .map_while(Result::ok)
        .map(|nla| {
            let (kind, len) = (nla.kind(), usize::from(nla.length()));
            // The attribute's value: after its 4-byte header, up to its length (checked).
            (kind, nla.into_inner().get(4..len).unwrap_or_default())
        })
}

fn u32_at(buf: &[u8], at: usize) -> Option<u32> {
    let bytes: [u8; 4] = buf.get(at..at + 4)?.try_into().ok()?;
    Some(u32::from_ne_bytes(bytes))
}

fn u32_of(value: &[u8]) -> Option<u32> {
    u32_at(value, 0)
}

/// A string attribute, without its terminating NULs.
fn str_of(value: &[u8]) -> String {
    let end = value.iter().position(|b| *b == 0).unwrap_or(value.len());
    String::from_utf8_lossy(&value[..end]).into_owned()
}

/// An address attribute of family `family`.
fn ip_of(family: u8, value: &[u8]) -> Option<IpAddr> {
    match family {
        AF_INET => <[u8; 4]>::try_from(value)
            .ok()
            .map(|b| IpAddr::V4(Ipv4Addr::from(b))),
        AF_INET6 => <[u8; 16]>::try_from(value)
            .ok()
            .map(|b| IpAddr::V6(Ipv6Addr::from(b))),
        _ => None,
    }
}

/// A route before its output interface index is resolved to a name.
struct RawRoute {
    dst: IpNet,
    gateway: Option<IpAddr>,
    oif: Option<u32>,
    origin: RouteOrigin,
}

/// Collects the answers of one namespace's link, address and route dumps.
#[derive(Default)]
pub(crate) struct Collector {
    /// Links with the index of their controller (bridge), resolved once all are known.
    links: Vec<(Link, Option<u32>)>,
    addresses: Vec<(u32, IpNet)>,
    routes: Vec<RawRoute>,
}

impl Collector {
    /// Takes one `RTM_NEWLINK` payload (`ifinfomsg` and attributes).
    pub(crate) fn link(&mut self, buf: &[u8]) {
        let (Some(index), Some(flags)) = (u32_at(buf, 4), u32_at(buf, 8)) else {
            return;
        };
        let mut name = None;
        let mut master = None;
        let mut link = Link {
            index,
            name: String::new(),
            kind: LinkKind::Device,
            mtu: 0,
            mac: None,
            master: None,
            alias: None,
            up: flags & IFF_UP != 0,
            isolated: false,
            unfinished: false,
        };
        for (kind, value) in attrs(buf, IFINFOMSG_LEN) {
            match kind {
                IFLA_IFNAME => name = Some(str_of(value)),
                IFLA_MTU => link.mtu = u32_of(value).unwrap_or(0),
                IFLA_ADDRESS => link.mac = MacAddr::from_slice(value),
                IFLA_MASTER => master = u32_of(value),
                IFLA_IFALIAS => link.alias = Some(str_of(value)).filter(|a| !a.is_empty()),
                IFLA_LINKINFO => link_info(value, &mut link),
                _ => {}
            }
        }
        if let Some(name) = name {
            link.name = name;
            self.links.push((link, master));
        }
    }

    /// Takes one `RTM_NEWADDR` payload (`ifaddrmsg` and attributes).
    pub(crate) fn address(&mut self, buf: &[u8]) {
        let (Some(&family), Some(&prefix_len), Some(index)) = (buf.first(), buf.get(1), u32_at(buf, 4))
        else {
            return;
        };
        // IFA_LOCAL is the interface's own address on point-to-point links; IFA_ADDRESS otherwise.
        let mut local = None;
        let mut address = None;
        for (kind, value) in attrs(buf, IFADDRMSG_LEN) {
            match kind {
                IFA_LOCAL => local = ip_of(family, value),
                IFA_ADDRESS => address = ip_of(family, value),
                _ => {}
            }
        }
        let Some(addr) = local.or(address) else { return };
        if is_link_local(addr) {
            return;
        }
        if let Ok(net) = IpNet::new(addr, prefix_len) {
            self.addresses.push((index, net));
        }
    }

    /// Takes one `RTM_NEWROUTE` payload (`rtmsg` and attributes); keeps main-table routes.
    pub(crate) fn route(&mut self, buf: &[u8]) {
        if buf.len() < RTMSG_LEN {
            return;
        }
        let (family, dst_len, protocol) = (buf[0], buf[1], buf[5]);
        let mut table = u32::from(buf[4]);
        let mut dst = None;
        let mut gateway = None;
        let mut oif = None;
        for (kind, value) in attrs(buf, RTMSG_LEN) {
            match kind {
                RTA_TABLE => table = u32_of(value).unwrap_or(table),
                RTA_DST => dst = ip_of(family, value),
                RTA_GATEWAY => gateway = ip_of(family, value),
                RTA_OIF => oif = u32_of(value),
                _ => {}
            }
        }
        if table != RT_TABLE_MAIN {
            return;
        }
        let unspecified = match family {
            AF_INET => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            AF_INET6 => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
            _ => return,
        };
        let Ok(dst) = IpNet::new(dst.unwrap_or(unspecified), dst_len) else {
            return;
        };
        if is_link_local(dst.addr()) && dst.prefix_len() >= 10 {
            return;
        }
        let origin = match protocol {
            RTPROT_KERNEL => RouteOrigin::Kernel,
            RTPROT_STATIC => RouteOrigin::Static,
            other => RouteOrigin::Other(other),
        };
        self.routes.push(RawRoute {
            dst,
            gateway,
            oif,
            origin,
        });
    }

    /// Resolves interface indexes to names and sorts everything.
    pub(crate) fn finish(self) -> NsObjects {
        let names: HashMap<u32, String> = self
            .links
            .iter()
            .map(|(l, _)| (l.index, l.name.clone()))
            .collect();
        let mut out = NsObjects {
            links: self
                .links
                .into_iter()
                .map(|(mut link, master)| {
                    link.master = master.and_then(|i| names.get(&i).cloned());
                    link
                })
                .collect(),
            addresses: self
                .addresses
                .into_iter()
                .filter_map(|(index, addr)| {
                    Some(Address {
                        link: names.get(&index)?.clone(),
                        addr,
                    })
                })
                .collect(),
            routes: self
                .routes
                .into_iter()
                .map(|r| Route {
                    dst: r.dst,
                    gateway: r.gateway,
                    dev: r.oif.and_then(|i| names.get(&i).cloned()),
                    origin: r.origin,
                })
                .collect(),
        };
        out.links.sort_by_key(|l| l.index);
        out.addresses.sort();
        out.routes.sort();
        out.routes.dedup();
        out
    }
}

/// `IFLA_LINKINFO`: the link's kind, and for a bridge port whether it is isolated.
fn link_info(value: &[u8], link: &mut Link) {
    let mut port_of_bridge = false;
    let mut isolated = false;
    for (kind, v) in attrs(value, 0) {
        match kind {
            IFLA_INFO_KIND => {
                link.kind = match str_of(v).as_str() {
                    "bridge" => LinkKind::Bridge,
                    "veth" => LinkKind::Veth,
                    other => LinkKind::Other(other.to_string()),
                };
            }
            IFLA_INFO_SLAVE_KIND => port_of_bridge = str_of(v) == "bridge",
            IFLA_INFO_SLAVE_DATA => {
                isolated = attrs(v, 0).any(|(k, flag)| k == IFLA_BRPORT_ISOLATED && flag.first() == Some(&1));
            }
            _ => {}
        }
    }
    link.isolated = port_of_bridge && isolated;
}

/// The `IFLA_IFALIAS` of a link message.
pub(crate) fn link_alias(m: &LinkMessage) -> Option<&str> {
    m.attributes.iter().find_map(|a| match a {
        LinkAttribute::IfAlias(n) if !n.is_empty() => Some(n.as_str()),
        _ => None,
    })
}

/// The hardware address of a link message.
pub(crate) fn link_mac(m: &LinkMessage) -> Option<Vec<u8>> {
    m.attributes.iter().find_map(|a| match a {
        LinkAttribute::Address(b) => Some(b.clone()),
        _ => None,
    })
}

fn is_link_local(addr: IpAddr) -> bool {
    match addr {
        IpAddr::V6(a) => (a.segments()[0] & 0xffc0) == 0xfe80,
        IpAddr::V4(_) => false,
    }
}

/// The address with prefix length of an address message; `None` for IPv6 link-local ones.
pub(crate) fn address_of(m: &AddressMessage) -> Option<IpNet> {
    // IFA_LOCAL is the interface's own address on point-to-point links; IFA_ADDRESS otherwise.
    let local = m.attributes.iter().find_map(|a| match a {
        AddressAttribute::Local(ip) => Some(*ip),
        _ => None,
    });
    let addr = local.or_else(|| {
        m.attributes.iter().find_map(|a| match a {
            AddressAttribute::Address(ip) => Some(*ip),
            _ => None,
        })
    })?;
    if is_link_local(addr) {
        return None;
    }
    IpNet::new(addr, m.header.prefix_len).ok()
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use rtnetlink::packet_core::Emitable;
    use rtnetlink::packet_route::AddressFamily;
    use rtnetlink::packet_route::address::{AddressAttribute, AddressMessage};
    use rtnetlink::packet_route::link::{
        InfoBridgePort, InfoKind, InfoPortData, InfoPortKind, LinkAttribute, LinkFlags, LinkInfo, LinkMessage,
    };
    use rtnetlink::packet_route::route::{
        RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol,
    };

    use super::Collector;
    use crate::kernel::{LinkKind, MacAddr, RouteOrigin};

    fn bytes(m: &impl Emitable) -> Vec<u8> {
        let mut b = vec![0u8; m.buffer_len()];
        m.emit(&mut b);
        b
    }

    fn link(index: u32, attrs: Vec<LinkAttribute>) -> Vec<u8> {
        let mut m = LinkMessage::default();
        m.header.index = index;
        m.header.flags = LinkFlags::Up;
        m.attributes = attrs;
        bytes(&m)
    }

    fn v4(s: &str) -> std::net::Ipv4Addr {
        s.parse().unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn links_addresses_and_routes_are_read_in_place() {
        let mut c = Collector::default();
        c.link(&link(
            7,
            vec![
                LinkAttribute::IfName("veth1".into()),
                LinkAttribute::Mtu(1400),
                LinkAttribute::Address(vec![2, 0x42, 0xac, 0x11, 0, 2]),
                LinkAttribute::Controller(3),
                LinkAttribute::IfAlias("netplan:t".into()),
                LinkAttribute::LinkInfo(vec![
                    LinkInfo::Kind(InfoKind::Veth),
                    LinkInfo::PortKind(InfoPortKind::Bridge),
                    LinkInfo::PortData(InfoPortData::BridgePort(vec![
                        InfoBridgePort::Cost(100),
                        InfoBridgePort::Isolated(true),
                    ])),
                ]),
            ],
        ));
        c.link(&link(
            3,
            vec![
                LinkAttribute::IfName("br0".into()),
                LinkAttribute::LinkInfo(vec![LinkInfo::Kind(InfoKind::Bridge)]),
            ],
        ));
        c.link(&link(1, vec![LinkAttribute::IfName("lo".into())]));
        // Too short to be a link message: ignored, no panic.
        c.link(&[1, 2, 3]);

        let mut a = AddressMessage::default();
        a.header.family = AddressFamily::Inet;
        a.header.prefix_len = 24;
        a.header.index = 7;
        a.attributes = vec![
            AddressAttribute::Address(IpAddr::V4(v4("10.0.0.2"))),
            AddressAttribute::Local(IpAddr::V4(v4("10.0.0.2"))),
        ];
        c.address(&bytes(&a));
        let mut ll = AddressMessage::default();
        ll.header.family = AddressFamily::Inet6;
        ll.header.prefix_len = 64;
        ll.header.index = 7;
        let fe80: IpAddr = "fe80::1".parse().unwrap_or_else(|e| panic!("{e}"));
        ll.attributes = vec![AddressAttribute::Address(fe80)];
        c.address(&bytes(&ll));

        let mut r = RouteMessage::default();
        r.header.address_family = AddressFamily::Inet;
        r.header.table = RouteHeader::RT_TABLE_MAIN;
        r.header.protocol = RouteProtocol::Static;
        r.attributes = vec![
            RouteAttribute::Gateway(RouteAddress::Inet(v4("10.0.0.1"))),
            RouteAttribute::Oif(7),
        ];
        c.route(&bytes(&r));
        let mut local = RouteMessage::default();
        local.header.address_family = AddressFamily::Inet;
        local.header.table = 255; // RT_TABLE_LOCAL
        local.header.destination_prefix_length = 32;
        local.attributes = vec![RouteAttribute::Destination(RouteAddress::Inet(v4("10.0.0.2")))];
        c.route(&bytes(&local));

        let o = c.finish();
        let names: Vec<&str> = o.links.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["lo", "br0", "veth1"]);
        let veth = o.link("veth1").cloned().unwrap_or_else(|| panic!("no veth1"));
        assert_eq!(veth.kind, LinkKind::Veth);
        assert_eq!(veth.mtu, 1400);
        assert_eq!(veth.mac, Some(MacAddr([2, 0x42, 0xac, 0x11, 0, 2])));
        assert_eq!(veth.master.as_deref(), Some("br0"));
        assert_eq!(veth.alias.as_deref(), Some("netplan:t"));
        assert!(veth.up && veth.isolated);
        assert_eq!(o.link("br0").map(|l| l.kind.clone()), Some(LinkKind::Bridge));
        assert_eq!(
            o.link("lo").map(|l| (l.kind.clone(), l.isolated)),
            Some((LinkKind::Device, false))
        );
        // The link-local address is left out.
        assert_eq!(
            o.addresses_of("veth1"),
            vec!["10.0.0.2/24".parse().unwrap_or_else(|e| panic!("{e}"))]
        );
        // Only the main table.
        assert_eq!(o.routes.len(), 1);
        let route = &o.routes[0];
        assert_eq!(route.dst.to_string(), "0.0.0.0/0");
        assert_eq!(route.gateway, Some(IpAddr::V4(v4("10.0.0.1"))));
        assert_eq!(route.dev.as_deref(), Some("veth1"));
        assert_eq!(route.origin, RouteOrigin::Static);
    }

    #[test]
    fn truncated_attributes_do_not_panic() {
        let full = link(
            2,
            vec![
                LinkAttribute::IfName("eth0".into()),
                LinkAttribute::IfAlias("netplan:t".into()),
            ],
        );
        for cut in 0..full.len() {
            let mut c = Collector::default();
            c.link(&full[..cut]);
            c.address(&full[..cut]);
            c.route(&full[..cut]);
            let _ = c.finish();
        }
    }
}
