//! Turning netlink dump messages into [`NsObjects`].

use std::collections::HashMap;
use std::net::IpAddr;

use futures::TryStreamExt;
use ipnet::IpNet;
use rtnetlink::packet_route::address::{AddressAttribute, AddressMessage};
use rtnetlink::packet_route::link::{
    InfoBridgePort, InfoKind, InfoPortData, LinkAttribute, LinkFlags, LinkInfo, LinkMessage,
};
use rtnetlink::packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol,
};
use rtnetlink::{Handle, RouteMessageBuilder};

use super::types::{Address, Link, LinkKind, MacAddr, NsObjects, Route, RouteOrigin};

/// Dumps links, addresses and routes once each and assembles them.
pub(crate) async fn dump(handle: &Handle) -> Result<NsObjects, rtnetlink::Error> {
    let links: Vec<LinkMessage> = handle.link().get().execute().try_collect().await?;
    let addrs: Vec<AddressMessage> = handle.address().get().execute().try_collect().await?;
    let routes: Vec<RouteMessage> = handle
        .route()
        .get(RouteMessageBuilder::<IpAddr>::new().build())
        .execute()
        .try_collect()
        .await?;
    Ok(assemble(&links, &addrs, &routes))
}

fn assemble(links: &[LinkMessage], addrs: &[AddressMessage], routes: &[RouteMessage]) -> NsObjects {
    let names: HashMap<u32, String> = links
        .iter()
        .filter_map(|m| link_name(m).map(|n| (m.header.index, n.to_string())))
        .collect();
    let mut out = NsObjects {
        links: links.iter().filter_map(|m| parse_link(m, &names)).collect(),
        addresses: addrs.iter().filter_map(|m| parse_address(m, &names)).collect(),
        routes: routes.iter().filter_map(|m| parse_route(m, &names)).collect(),
    };
    out.links.sort_by_key(|l| l.index);
    out.addresses.sort();
    out.routes.sort();
    out.routes.dedup();
    out
}

/// The `IFLA_IFNAME` of a link message.
pub(crate) fn link_name(m: &LinkMessage) -> Option<&str> {
    m.attributes.iter().find_map(|a| match a {
        LinkAttribute::IfName(n) => Some(n.as_str()),
        _ => None,
    })
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

fn parse_link(m: &LinkMessage, names: &HashMap<u32, String>) -> Option<Link> {
    let mut link = Link {
        index: m.header.index,
        name: link_name(m)?.to_string(),
        kind: LinkKind::Device,
        mtu: 0,
        mac: None,
        master: None,
        alias: link_alias(m).map(str::to_string),
        up: m.header.flags.contains(LinkFlags::Up),
        isolated: false,
    };
    for attr in &m.attributes {
        match attr {
            LinkAttribute::Mtu(mtu) => link.mtu = *mtu,
            LinkAttribute::Address(b) => link.mac = MacAddr::from_slice(b),
            LinkAttribute::Controller(i) => link.master = names.get(i).cloned(),
            LinkAttribute::LinkInfo(infos) => {
                for info in infos {
                    match info {
                        LinkInfo::Kind(kind) => {
                            link.kind = match kind {
                                InfoKind::Bridge => LinkKind::Bridge,
                                InfoKind::Veth => LinkKind::Veth,
                                other => LinkKind::Other(other.to_string()),
                            };
                        }
                        LinkInfo::PortData(InfoPortData::BridgePort(port)) => {
                            link.isolated = port.iter().any(|p| matches!(p, InfoBridgePort::Isolated(true)));
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    Some(link)
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

fn parse_address(m: &AddressMessage, names: &HashMap<u32, String>) -> Option<Address> {
    Some(Address {
        link: names.get(&m.header.index)?.clone(),
        addr: address_of(m)?,
    })
}

fn route_ip(a: &RouteAddress) -> Option<IpAddr> {
    match a {
        RouteAddress::Inet(v4) => Some(IpAddr::V4(*v4)),
        RouteAddress::Inet6(v6) => Some(IpAddr::V6(*v6)),
        _ => None,
    }
}

fn parse_route(m: &RouteMessage, names: &HashMap<u32, String>) -> Option<Route> {
    let mut table = u32::from(m.header.table);
    let mut dst = None;
    let mut gateway = None;
    let mut dev = None;
    for attr in &m.attributes {
        match attr {
            RouteAttribute::Table(t) => table = *t,
            RouteAttribute::Destination(a) => dst = route_ip(a),
            RouteAttribute::Gateway(a) => gateway = route_ip(a),
            RouteAttribute::Oif(i) => dev = names.get(i).cloned(),
            _ => {}
        }
    }
    if table != u32::from(RouteHeader::RT_TABLE_MAIN) {
        return None;
    }
    let unspecified: IpAddr = match m.header.address_family {
        rtnetlink::packet_route::AddressFamily::Inet => IpAddr::from([0u8; 4]),
        rtnetlink::packet_route::AddressFamily::Inet6 => IpAddr::from([0u16; 8]),
        _ => return None,
    };
    let dst = IpNet::new(dst.unwrap_or(unspecified), m.header.destination_prefix_length).ok()?;
    if is_link_local(dst.addr()) && dst.prefix_len() >= 10 {
        return None;
    }
    let origin = match m.header.protocol {
        RouteProtocol::Kernel => RouteOrigin::Kernel,
        RouteProtocol::Static => RouteOrigin::Static,
        other => RouteOrigin::Other(u8::from(other)),
    };
    Some(Route {
        dst,
        gateway,
        dev,
        origin,
    })
}
