//! [`LinuxKernel`]: the real [`Kernel`], on rtnetlink, nftables and named namespaces.

use std::collections::HashSet;
use std::fs::File;
use std::future::Future;
use std::io;
use std::os::fd::AsRawFd;
use std::sync::Mutex;

use futures::TryStreamExt;
use ipnet::IpNet;
use rtnetlink::packet_route::link::{InfoData, InfoVeth};
use rtnetlink::{Handle, LinkBridge, LinkMessageBuilder, LinkUnspec, LinkVeth};
use tokio::runtime::Runtime;
use tokio::task::JoinHandle;

use super::dump::{self, Dumper};
use super::error::libc_errno::{EADDRNOTAVAIL, EEXIST};
use super::netlink_ops::{
    add_route, errno_of, explain_clash, find_link, link_object, loopback_up, nl_io, owned_link,
    promote_secondaries, set_isolated, validate_ifname,
};
use super::observe::link_mac;
use super::types::{BridgeSpec, FirewallSpec, NetnsInfo, NsObjects, Observed, ProcessSpec, VethSpec};
use super::{Kernel, KernelError, KernelResult, firewall, is_netplan_tag, netns, pending, process};

/// The real kernel. Works in the network namespace of the thread that called [`LinuxKernel::new`]
/// (the "host"); named namespaces are reached through `/run/netns`.
pub struct LinuxKernel {
    rt: Runtime,
    host: Handle,
    _host_conn: JoinHandle<()>,
    /// A blocking socket in the host namespace for observation dumps.
    host_dumps: Mutex<Dumper>,
}

/// A netlink connection; its background task is stopped on drop.
struct Conn {
    handle: Handle,
    task: Option<JoinHandle<()>>,
}

impl Drop for Conn {
    fn drop(&mut self) {
        if let Some(t) = &self.task {
            t.abort();
        }
    }
}

impl LinuxKernel {
    /// Opens a netlink connection in the calling thread's network namespace.
    pub fn new() -> KernelResult<Self> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
            .map_err(|e| KernelError::os("starting", "netlink runtime", e))?;
        let (conn, host, _) = {
            let _guard = rt.enter();
            rtnetlink::new_connection().map_err(|e| KernelError::os("opening", "netlink socket", e))?
        };
        let task = rt.spawn(conn);
        let host_dumps = Dumper::new().map_err(|e| KernelError::os("opening", "netlink socket", e))?;
        Ok(LinuxKernel {
            rt,
            host,
            _host_conn: task,
            host_dumps: Mutex::new(host_dumps),
        })
    }

    /// One link, address and route dump of the host namespace.
    fn dump_host(&self) -> io::Result<NsObjects> {
        let mut dumper = self
            .host_dumps
            .lock()
            .map_err(|_| io::Error::other("the host netlink socket is unusable after a panic"))?;
        dumper.objects()
    }

    /// Brings `lo` of the host namespace up (a fresh namespace starts with it down).
    pub fn loopback_up(&self) -> KernelResult<()> {
        self.run(loopback_up(&self.host))
            .map_err(|e| KernelError::os("bringing up", "link lo", e))
    }

    /// Runs `f` to completion on the private runtime. From inside another tokio runtime the
    /// work moves to a scoped thread, because `block_on` may not nest.
    fn run<F>(&self, f: F) -> F::Output
    where
        F: Future + Send,
        F::Output: Send,
    {
        if tokio::runtime::Handle::try_current().is_err() {
            return self.rt.block_on(f);
        }
        std::thread::scope(|s| match s.spawn(|| self.rt.block_on(f)).join() {
            Ok(v) => v,
            Err(panic) => std::panic::resume_unwind(panic),
        })
    }

    /// A netlink connection inside `netns` (`None` = the host).
    fn conn(&self, netns: Option<&str>, op: &str) -> KernelResult<Conn> {
        let Some(ns) = netns else {
            return Ok(Conn {
                handle: self.host.clone(),
                task: None,
            });
        };
        let object = format!("netns {ns}");
        if !netns::exists(ns) {
            return Err(KernelError::missing(op, object));
        }
        let rt = self.rt.handle().clone();
        let made = netns::in_netns(ns, move || {
            let _guard = rt.enter();
            rtnetlink::new_connection().map(|(c, h, _)| (c, h))
        });
        let (conn, handle) = made.and_then(|r| r).map_err(|e| KernelError::os(op, object, e))?;
        let task = self.rt.spawn(conn);
        Ok(Conn {
            handle,
            task: Some(task),
        })
    }

    /// Requires `netns` to exist and carry a netplan marker.
    fn owned_netns(&self, name: &str, op: &str) -> KernelResult<()> {
        let object = format!("netns {name}");
        if !netns::exists(name) {
            return Err(KernelError::missing(op, object));
        }
        match netns::read_marker(name) {
            Ok(Some(tag)) if is_netplan_tag(Some(&tag)) => Ok(()),
            Ok(_) => Err(KernelError::foreign(op, object)),
            Err(e) => Err(KernelError::os(op, object, e)),
        }
    }

    /// Creates host link `name` through `make`, with a record of the creation in between
    /// ([`pending`]): should netplan die before the link carries `tag`, the next run still
    /// knows it as its own.
    fn recording(
        &self,
        name: &str,
        tag: &str,
        peer: Option<(&str, &str)>,
        object: &str,
        make: impl FnOnce() -> KernelResult<()>,
    ) -> KernelResult<()> {
        pending::mark(name, tag, peer)
            .map_err(|e| KernelError::os("recording the creation of", object, e))?;
        let made = make();
        // Made and tagged, or not made (or removed again): the record has served. One left
        // behind would let a later foreign link of that name pass for netplan's.
        pending::clear(name).map_err(|e| KernelError::os("removing", pending::PENDING_DIR, e))?;
        made
    }

    fn make_bridge(&self, spec: &BridgeSpec, op: &str, object: &str) -> KernelResult<()> {
        self.run(async {
            let b = LinkBridge::new(&spec.name);
            if let Err(e) = self.host.link().add(b.build()).execute().await {
                let e = nl_io(e);
                if errno_of(&e) == EEXIST {
                    return Err(explain_clash(&self.host, None, &spec.name, op, object, e).await);
                }
                return Err(KernelError::os(op, object, e));
            }
            if let Err(err) = self.finish_bridge(spec, object).await {
                if let Ok(Some(m)) = find_link(&self.host, &spec.name).await {
                    let _ = self.host.link().del(m.header.index).execute().await;
                }
                return Err(err);
            }
            Ok(())
        })
    }

    fn make_veth(&self, spec: &VethSpec, op: &str, object: &str) -> KernelResult<()> {
        let ns_file = File::open(netns::netns_path(&spec.netns))
            .map_err(|e| KernelError::os(op, format!("netns {}", spec.netns), e))?;
        let ns = self.conn(Some(&spec.netns), op)?;
        self.run(async {
            let bridge = owned_link(&self.host, None, &spec.bridge, "attaching a veth to").await?;
            let mut peer = LinkMessageBuilder::<LinkUnspec>::new()
                .name(spec.peer_name.clone())
                .setns_by_fd(ns_file.as_raw_fd());
            let mut veth = LinkVeth::new(&spec.host_name, &spec.peer_name).controller(bridge.header.index);
            if let Some(mtu) = spec.mtu {
                peer = peer.mtu(mtu);
                veth = veth.mtu(mtu);
            }
            if let Some(mac) = spec.mac {
                peer = peer.address(mac.0.to_vec());
            }
            let veth = veth.set_info_data(InfoData::Veth(InfoVeth::Peer(peer.build())));
            if let Err(e) = self.host.link().add(veth.build()).execute().await {
                let e = nl_io(e);
                if errno_of(&e) == EEXIST {
                    let clash = explain_clash(&self.host, None, &spec.host_name, op, object, e).await;
                    if let KernelError::Foreign { .. } = clash {
                        return Err(clash);
                    }
                    let again = io::Error::from_raw_os_error(EEXIST);
                    let ns_name = Some(spec.netns.as_str());
                    return Err(explain_clash(&ns.handle, ns_name, &spec.peer_name, op, object, again).await);
                }
                return Err(KernelError::os(op, object, e));
            }
            if let Err(err) = self.finish_veth(spec, &ns.handle, object).await {
                if let Ok(Some(m)) = find_link(&self.host, &spec.host_name).await {
                    let _ = self.host.link().del(m.header.index).execute().await;
                }
                return Err(err);
            }
            Ok(())
        })
    }

    async fn finish_bridge(&self, spec: &BridgeSpec, object: &str) -> KernelResult<()> {
        let op = "creating";
        let h = &self.host;
        let link = find_link(h, &spec.name)
            .await
            .map_err(|e| KernelError::os(op, object, e))?
            .ok_or_else(|| KernelError::missing(op, object))?;
        let index = link.header.index;
        // Pin the MAC: otherwise the bridge takes the lowest port MAC and changes it as
        // containers come and go, which breaks neighbours' ARP caches.
        let mut set = LinkUnspec::new_with_index(index).alias(spec.tag.clone());
        if let Some(mac) = link_mac(&link) {
            set = set.address(mac);
        }
        // The MTU is set here, not at creation: only a change through RTM_SETLINK makes the
        // bridge keep it as chosen by the user instead of following its ports (and falling
        // back to 1500 when the last port goes). 1500 is already the value, so a bridge asked
        // for 1500 still follows its ports, which netplan creates with the same MTU anyway.
        if let Some(mtu) = spec.mtu {
            set = set.mtu(mtu);
        }
        h.link()
            .set(set.build())
            .execute()
            .await
            .map_err(|e| KernelError::os("tagging", object, nl_io(e)))?;
        for a in &spec.addresses {
            h.address()
                .add(index, a.addr(), a.prefix_len())
                .execute()
                .await
                .map_err(|e| KernelError::os(format!("adding address {a} to"), object, nl_io(e)))?;
        }
        Ok(())
    }

    async fn finish_veth(&self, spec: &VethSpec, ns: &Handle, object: &str) -> KernelResult<()> {
        let op = "creating";
        let host_end = find_link(&self.host, &spec.host_name)
            .await
            .map_err(|e| KernelError::os(op, object, e))?
            .ok_or_else(|| KernelError::missing(op, object))?;
        let set = LinkUnspec::new_with_index(host_end.header.index)
            .alias(spec.tag.clone())
            .up()
            .build();
        self.host
            .link()
            .set(set)
            .execute()
            .await
            .map_err(|e| KernelError::os("tagging", object, nl_io(e)))?;
        if spec.isolated {
            set_isolated(&self.host, host_end.header.index, true)
                .await
                .map_err(|e| KernelError::os("isolating bridge port", object, e))?;
        }
        let peer_object = link_object(Some(&spec.netns), &spec.peer_name);
        let peer = find_link(ns, &spec.peer_name)
            .await
            .map_err(|e| KernelError::os(op, &peer_object, e))?
            .ok_or_else(|| KernelError::missing(op, &peer_object))?;
        let index = peer.header.index;
        let set = LinkUnspec::new_with_index(index)
            .alias(spec.tag.clone())
            .up()
            .build();
        ns.link()
            .set(set)
            .execute()
            .await
            .map_err(|e| KernelError::os("tagging", &peer_object, nl_io(e)))?;
        for a in &spec.addresses {
            ns.address()
                .add(index, a.addr(), a.prefix_len())
                .execute()
                .await
                .map_err(|e| KernelError::os(format!("adding address {a} to"), &peer_object, nl_io(e)))?;
        }
        for r in &spec.routes {
            let what = match r.gateway {
                Some(gw) => format!("adding route {} via {gw} to", r.dst),
                None => format!("adding route {} to", r.dst),
            };
            add_route(ns, index, r)
                .await
                .map_err(|e| KernelError::os(what, &peer_object, e))?;
        }
        Ok(())
    }
}

impl Kernel for LinuxKernel {
    fn observe(&self, namespaces: &[String]) -> KernelResult<Observed> {
        let listed = netns::names().map_err(|e| KernelError::os("listing", netns::NETNS_DIR, e))?;
        let present: HashSet<&str> = listed.iter().map(String::as_str).collect();
        let existing: Vec<String> = namespaces
            .iter()
            .filter(|ns| present.contains(ns.as_str()))
            .cloned()
            .collect();
        // Worker threads read the namespaces while this one reads the host and the markers.
        let (host, markers, inside) = std::thread::scope(|s| {
            let workers = s.spawn(|| dump::dump_namespaces(&existing));
            let host = self.dump_host();
            let markers: io::Result<Vec<NetnsInfo>> = listed
                .iter()
                .map(|name| {
                    let tag = netns::read_marker(name)?;
                    Ok(NetnsInfo {
                        name: name.clone(),
                        tag,
                    })
                })
                .collect();
            (host, markers, workers.join())
        });
        let mut host = host.map_err(|e| KernelError::os("observing", "host namespace", e))?;
        let unfinished = pending::all().map_err(|e| KernelError::os("listing", pending::PENDING_DIR, e))?;
        for link in host.links.iter_mut().filter(|l| l.alias.is_none()) {
            if let Some(r) = unfinished
                .get(&link.name)
                .filter(|r| is_netplan_tag(Some(&r.tag)))
            {
                link.alias = Some(r.tag.clone());
                link.unfinished = true;
            }
        }
        let netns = markers.map_err(|e| KernelError::os("listing", netns::MARKER_DIR, e))?;
        let inside = inside.map_err(|_| {
            KernelError::os(
                "observing",
                "named namespaces",
                io::Error::other("the observer thread failed"),
            )
        })?;
        let mut observed = Observed {
            host,
            netns,
            inside: Default::default(),
        };
        for (ns, objects) in existing.into_iter().zip(inside) {
            // `None`: a mount point without a namespace (see `create_netns`), listed but empty.
            if let Some(objects) =
                objects.map_err(|e| KernelError::os("observing", format!("netns {ns}"), e))?
            {
                observed.inside.insert(ns, objects);
            }
        }
        // The untagged peer of a pair still being made is netplan's too (see [`pending`]).
        for r in unfinished.values().filter(|r| is_netplan_tag(Some(&r.tag))) {
            let Some((ns, peer)) = &r.peer else { continue };
            let Some(objects) = observed.inside.get_mut(ns) else {
                continue;
            };
            for link in objects
                .links
                .iter_mut()
                .filter(|l| &l.name == peer && l.alias.is_none())
            {
                link.alias = Some(r.tag.clone());
                link.unfinished = true;
            }
        }
        Ok(observed)
    }

    fn create_netns(&self, name: &str, tag: &str) -> KernelResult<()> {
        let op = "creating";
        let object = format!("netns {name}");
        netns::validate_name(name).map_err(|reason| KernelError::Invalid {
            object: object.clone(),
            reason,
        })?;
        if netns::exists(name) {
            match netns::read_marker(name) {
                Ok(Some(t)) if is_netplan_tag(Some(&t)) => {
                    if netns::is_namespace(name) {
                        return Err(KernelError::os(op, object, io::Error::from_raw_os_error(EEXIST)));
                    }
                    // netplan's own mount point that a crash left unmounted: made again below.
                    netns::remove(name).map_err(|e| KernelError::os(op, &object, e))?;
                }
                _ => return Err(KernelError::foreign(op, object)),
            }
        }
        // The marker comes first: a crash while the namespace is made leaves one netplan
        // recognises as its own (and makes again, or removes), never an unowned one.
        netns::write_marker(name, tag).map_err(|e| KernelError::os("writing marker of", &object, e))?;
        if let Err(e) = netns::add(name) {
            let _ = netns::remove_marker(name);
            return Err(KernelError::os(op, &object, e));
        }
        let finish = || -> KernelResult<()> {
            let conn = self.conn(Some(name), op)?;
            self.run(loopback_up(&conn.handle))
                .map_err(|e| KernelError::os("bringing up lo in", &object, e))
        };
        if let Err(e) = finish() {
            let _ = netns::remove(name);
            let _ = netns::remove_marker(name);
            return Err(e);
        }
        Ok(())
    }

    fn forget_interrupted_creations(&self) -> KernelResult<usize> {
        let op = "listing";
        let records = pending::all().map_err(|e| KernelError::os(op, pending::PENDING_DIR, e))?;
        let mut forgotten = 0;
        for name in records.keys() {
            let exists = self
                .run(find_link(&self.host, name))
                .map_err(|e| KernelError::os("looking up", link_object(None, name), e))?
                .is_some();
            if !exists {
                pending::clear(name).map_err(|e| KernelError::os("removing", pending::PENDING_DIR, e))?;
                forgotten += 1;
            }
        }
        Ok(forgotten)
    }

    fn set_loopback_up(&self, netns: &str) -> KernelResult<()> {
        let op = "bringing up lo in";
        self.owned_netns(netns, op)?;
        let conn = self.conn(Some(netns), op)?;
        self.run(loopback_up(&conn.handle))
            .map_err(|e| KernelError::os(op, format!("netns {netns}"), e))
    }

    fn delete_netns(&self, name: &str) -> KernelResult<()> {
        let op = "deleting";
        self.owned_netns(name, op)?;
        let object = format!("netns {name}");
        netns::remove(name).map_err(|e| KernelError::os(op, &object, e))?;
        netns::remove_marker(name).map_err(|e| KernelError::os("removing marker of", object, e))
    }

    fn create_bridge(&self, spec: &BridgeSpec) -> KernelResult<()> {
        let op = "creating";
        let object = format!("bridge {}", spec.name);
        validate_ifname(&object, &spec.name)?;
        self.recording(&spec.name, &spec.tag, None, &object, || {
            self.make_bridge(spec, op, &object)
        })
    }

    fn create_veth(&self, spec: &VethSpec) -> KernelResult<()> {
        let op = "creating";
        let object = format!(
            "veth {} (peer {} in netns {})",
            spec.host_name, spec.peer_name, spec.netns
        );
        validate_ifname(&object, &spec.host_name)?;
        validate_ifname(&object, &spec.peer_name)?;
        self.owned_netns(&spec.netns, op)?;
        let peer = Some((spec.netns.as_str(), spec.peer_name.as_str()));
        self.recording(&spec.host_name, &spec.tag, peer, &object, || {
            self.make_veth(spec, op, &object)
        })
    }

    fn delete_link(&self, netns: Option<&str>, name: &str) -> KernelResult<()> {
        let op = "deleting";
        let conn = self.conn(netns, op)?;
        self.run(async {
            let link = owned_link(&conn.handle, netns, name, op).await?;
            conn.handle
                .link()
                .del(link.header.index)
                .execute()
                .await
                .map_err(|e| KernelError::os(op, link_object(netns, name), nl_io(e)))
        })?;
        if netns.is_none() {
            // An interrupted creation of it is over too.
            pending::clear(name).map_err(|e| KernelError::os("removing", pending::PENDING_DIR, e))?;
        }
        Ok(())
    }

    fn set_link_mtu(&self, netns: Option<&str>, name: &str, mtu: u32) -> KernelResult<()> {
        let op = "setting the MTU of";
        let conn = self.conn(netns, op)?;
        self.run(async {
            let link = owned_link(&conn.handle, netns, name, op).await?;
            let set = LinkUnspec::new_with_index(link.header.index).mtu(mtu).build();
            conn.handle
                .link()
                .set(set)
                .execute()
                .await
                .map_err(|e| KernelError::os(op, link_object(netns, name), nl_io(e)))
        })
    }

    fn set_port_isolation(&self, name: &str, isolated: bool) -> KernelResult<()> {
        let op = if isolated {
            "isolating bridge port"
        } else {
            "un-isolating bridge port"
        };
        self.run(async {
            let link = owned_link(&self.host, None, name, op).await?;
            set_isolated(&self.host, link.header.index, isolated)
                .await
                .map_err(|e| KernelError::os(op, link_object(None, name), e))
        })
    }

    fn replace_addresses(&self, netns: Option<&str>, name: &str, addresses: &[IpNet]) -> KernelResult<()> {
        let op = "replacing addresses of";
        let conn = self.conn(netns, op)?;
        let object = link_object(netns, name);
        validate_ifname(&object, name)?;
        self.run(async {
            let h = &conn.handle;
            let index = owned_link(h, netns, name, op).await?.header.index;
            promote_secondaries(netns, name).map_err(|e| KernelError::os(op, &object, e))?;
            let current: Vec<_> = h
                .address()
                .get()
                .set_link_index_filter(index)
                .execute()
                .try_collect()
                .await
                .map_err(|e| KernelError::os(op, &object, nl_io(e)))?;
            let mut stale = Vec::new();
            let mut present = Vec::new();
            for msg in current {
                match super::observe::address_of(&msg) {
                    Some(addr) if addresses.contains(&addr) => present.push(addr),
                    Some(addr) => stale.push((addr, msg)),
                    None => {}
                }
            }
            // New addresses first, then the old ones go: with promote_secondaries a new address
            // in the same subnet survives the removal of the old primary, and the link never
            // loses its last IPv4 address (which would make the kernel drop its routes).
            for a in addresses.iter().filter(|a| !present.contains(a)) {
                h.address()
                    .add(index, a.addr(), a.prefix_len())
                    .execute()
                    .await
                    .map_err(|e| KernelError::os(format!("adding address {a} to"), &object, nl_io(e)))?;
            }
            for (addr, msg) in stale {
                match h.address().del(msg).execute().await.map_err(nl_io) {
                    Ok(()) => {}
                    // Already gone together with its primary.
                    Err(e) if errno_of(&e) == EADDRNOTAVAIL => {}
                    Err(e) => {
                        return Err(KernelError::os(
                            format!("removing address {addr} from"),
                            &object,
                            e,
                        ));
                    }
                }
            }
            Ok(())
        })
    }

    fn enable_forwarding(&self, v4: bool, v6: bool) -> KernelResult<()> {
        let mut knobs = Vec::new();
        if v4 {
            knobs.push("/proc/sys/net/ipv4/ip_forward");
        }
        if v6 {
            knobs.push("/proc/sys/net/ipv6/conf/all/forwarding");
        }
        for knob in knobs {
            std::fs::write(knob, "1").map_err(|e| KernelError::os("enabling", knob, e))?;
        }
        Ok(())
    }

    fn apply_firewall(&self, spec: &FirewallSpec) -> KernelResult<()> {
        firewall::apply(spec)
    }

    fn remove_firewall(&self) -> KernelResult<()> {
        firewall::remove()
    }

    fn spawn_process(&self, spec: &ProcessSpec) -> KernelResult<u32> {
        self.owned_netns(&spec.netns, "starting a process in")?;
        process::spawn(spec)
    }

    fn kill_process(&self, netns: &str, pid: u32) -> KernelResult<()> {
        process::kill(netns, pid)
    }
}
