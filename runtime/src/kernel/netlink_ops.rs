//! Single netlink operations used by [`LinuxKernel`](super::LinuxKernel): lookups with
//! ownership checks, error translation, routes, port flags and per-link sysctls.

use std::io;

use futures::TryStreamExt;
use rtnetlink::packet_route::link::{InfoBridgePort, LinkMessage};
use rtnetlink::packet_route::route::RouteScope;
use rtnetlink::{Handle, LinkBridgePort, LinkUnspec, RouteMessageBuilder};

use super::error::libc_errno::ENODEV;
use super::observe::link_alias;
use super::types::RouteSpec;
use super::{KernelError, KernelResult, is_netplan_tag, netns, pending};

/// Converts an rtnetlink error into the matching OS error.
pub(super) fn nl_io(e: rtnetlink::Error) -> io::Error {
    match e {
        rtnetlink::Error::NetlinkError(msg) => msg.to_io(),
        other => io::Error::other(other.to_string()),
    }
}

pub(super) fn errno_of(e: &io::Error) -> i32 {
    e.raw_os_error().unwrap_or(0)
}

/// `link NAME` or `link NAME in netns NS`.
pub(super) fn link_object(netns: Option<&str>, name: &str) -> String {
    match netns {
        None => format!("link {name}"),
        Some(ns) => format!("link {name} in netns {ns}"),
    }
}

/// Checks an interface name the way the kernel will (1..=15 bytes, no `/`, `:` or whitespace).
pub(super) fn validate_ifname(object: &str, name: &str) -> KernelResult<()> {
    let ok = !name.is_empty()
        && name.len() <= 15
        && name != "."
        && name != ".."
        && !name.chars().any(|c| c == '/' || c == ':' || c.is_whitespace());
    if ok {
        Ok(())
    } else {
        Err(KernelError::Invalid {
            object: object.to_string(),
            reason: format!("{name:?} is not a valid interface name (1 to 15 bytes, no '/', ':' or spaces)"),
        })
    }
}

/// Looks a link up by name; `Ok(None)` when it does not exist.
pub(super) async fn find_link(h: &Handle, name: &str) -> io::Result<Option<LinkMessage>> {
    match h
        .link()
        .get()
        .match_name(name.to_string())
        .execute()
        .try_next()
        .await
    {
        Ok(m) => Ok(m),
        Err(e) => {
            let e = nl_io(e);
            if errno_of(&e) == ENODEV { Ok(None) } else { Err(e) }
        }
    }
}

/// Looks up a link that netplan must own: missing and foreign links are errors. An untagged
/// host link is netplan's when its creation was recorded ([`pending`](super::pending)): netplan
/// was interrupted while making it.
pub(super) async fn owned_link(
    h: &Handle,
    netns: Option<&str>,
    name: &str,
    op: &str,
) -> KernelResult<LinkMessage> {
    let object = link_object(netns, name);
    match find_link(h, name).await {
        Err(e) => Err(KernelError::os(op, object, e)),
        Ok(None) => Err(KernelError::missing(op, object)),
        Ok(Some(m)) if is_netplan_tag(link_alias(&m)) => Ok(m),
        Ok(Some(m)) if link_alias(&m).is_none() && netns.is_none() => match pending::read(name) {
            Ok(Some(r)) if is_netplan_tag(Some(&r.tag)) => Ok(m),
            Ok(_) => Err(KernelError::foreign(op, object)),
            Err(e) => Err(KernelError::os(op, object, e)),
        },
        Ok(Some(_)) => Err(KernelError::foreign(op, object)),
    }
}

/// Explains an `EEXIST` on creation: foreign clash or a netplan object already there.
pub(super) async fn explain_clash(
    h: &Handle,
    netns: Option<&str>,
    name: &str,
    op: &str,
    object: &str,
    err: io::Error,
) -> KernelError {
    match find_link(h, name).await {
        Ok(Some(m)) if !is_netplan_tag(link_alias(&m)) => KernelError::foreign(op, link_object(netns, name)),
        _ => KernelError::os(op, object, err),
    }
}

/// Sets `net.ipv4.conf.NAME.promote_secondaries=1` in `netns` (the file is per namespace, as
/// seen by the thread that opens it).
pub(super) fn promote_secondaries(netns: Option<&str>, name: &str) -> io::Result<()> {
    let path = format!("/proc/sys/net/ipv4/conf/{name}/promote_secondaries");
    match netns {
        None => std::fs::write(path, "1"),
        Some(ns) => netns::in_netns(ns, move || std::fs::write(path, "1")).and_then(|r| r),
    }
}

/// Sets or clears `IFLA_BRPORT_ISOLATED` on bridge port `index`.
pub(super) async fn set_isolated(h: &Handle, index: u32, isolated: bool) -> io::Result<()> {
    let msg = LinkBridgePort::new(index)
        .append_info_data(InfoBridgePort::Isolated(isolated))
        .build();
    h.link().set_port(msg).execute().await.map_err(nl_io)
}

/// Brings `lo` up.
pub(super) async fn loopback_up(h: &Handle) -> io::Result<()> {
    let lo = find_link(h, "lo")
        .await?
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no loopback device"))?;
    let set = LinkUnspec::new_with_index(lo.header.index).up().build();
    h.link().set(set).execute().await.map_err(nl_io)
}

pub(super) async fn add_route(h: &Handle, index: u32, r: &RouteSpec) -> io::Result<()> {
    let invalid = |e| io::Error::new(io::ErrorKind::InvalidInput, format!("{e:?}"));
    let mut b = RouteMessageBuilder::<std::net::IpAddr>::new()
        .destination_prefix(r.dst.addr(), r.dst.prefix_len())
        .map_err(invalid)?
        .output_interface(index);
    match r.gateway {
        Some(gw) => b = b.gateway(gw).map_err(invalid)?,
        None => b = b.scope(RouteScope::Link),
    }
    h.route().add(b.build()).execute().await.map_err(nl_io)
}
