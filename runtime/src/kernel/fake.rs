//! [`FakeKernel`]: an in-memory [`Kernel`] that behaves like [`LinuxKernel`](super::LinuxKernel)
//! for netplan's operations, for tests without root.
//!
//! It models what netplan observes: `lo` (up, with `127.0.0.1/8` and `::1/128`) in every
//! namespace, kernel routes for the subnets of addresses on up links, veth pairs that die
//! together, bridge ports that lose their master when the bridge goes, the same ownership
//! refusals and the same errors (`EEXIST`, `ENETUNREACH`, ...). Kernel-chosen MACs are
//! deterministic (`02:00:00:00:xx:xx`). Deleting a namespace removes its links at once (the
//! real kernel does so asynchronously). Every mutating call is recorded in [`FakeKernel::calls`].

use std::collections::BTreeMap;
use std::io;
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard};

use ipnet::IpNet;

use super::error::libc_errno::{EEXIST, ENODEV};
use super::fake_state::{NamedNs, Ns, State, link_object};
use super::types::{
    BridgeSpec, FirewallSpec, Link, LinkKind, NetnsInfo, NsObjects, Observed, ProcessSpec, Route,
    RouteOrigin, VethSpec,
};
use super::{Kernel, KernelError, KernelResult, is_netplan_tag};

const ENETUNREACH: i32 = nix::errno::Errno::ENETUNREACH as i32;
const EOPNOTSUPP: i32 = nix::errno::Errno::EOPNOTSUPP as i32;

/// In-memory kernel for tests. See the module documentation for what it models.
pub struct FakeKernel {
    state: Mutex<State>,
}

impl Default for FakeKernel {
    fn default() -> Self {
        FakeKernel::new()
    }
}

impl FakeKernel {
    /// An empty machine: a host namespace with only `lo`, no named namespaces, no firewall.
    pub fn new() -> FakeKernel {
        FakeKernel {
            state: Mutex::new(State {
                host: Ns::with_loopback(),
                next_pid: 1000,
                ..State::default()
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records `call` and fails it if a failure was injected for `method`.
    fn enter(&self, method: &str, call: String, object: &str) -> KernelResult<MutexGuard<'_, State>> {
        let mut st = self.lock();
        st.calls.push(call);
        if let Some(pos) = st.failures.iter().position(|(m, _)| m == method) {
            let (_, errno) = st.failures.remove(pos);
            return Err(KernelError::os(
                method,
                object,
                io::Error::from_raw_os_error(errno),
            ));
        }
        Ok(st)
    }

    /// Makes the next call of trait method `method` (e.g. `"create_veth"`) fail with `errno`.
    pub fn fail_next(&self, method: &str, errno: i32) {
        self.lock().failures.push((method.to_string(), errno));
    }

    /// Adds a link netplan did not create (no alias), as `ip link add NAME type KIND` would.
    pub fn add_foreign_link(&self, netns: Option<&str>, name: &str, kind: LinkKind) {
        let mut st = self.lock();
        let mac = st.mac();
        if let Some(ns) = st.ns_mut(netns) {
            let index = ns.alloc_index();
            ns.links.push(Link {
                index,
                name: name.into(),
                kind,
                mtu: 1500,
                mac: Some(mac),
                master: None,
                alias: None,
                up: false,
                isolated: false,
                unfinished: false,
            });
        }
    }

    /// Adds a named namespace netplan did not create, as `ip netns add NAME` would.
    /// Takes link `name` in `netns` down, as `ip link set NAME down` would.
    pub fn set_link_down(&self, netns: Option<&str>, name: &str) {
        if let Some(l) = self.lock().ns_mut(netns).and_then(|ns| ns.link_mut(name)) {
            l.up = false;
        }
    }

    pub fn add_foreign_netns(&self, name: &str) {
        let mut ns = Ns::with_loopback();
        for l in &mut ns.links {
            l.up = false;
        }
        ns.addresses.clear();
        ns.routes.clear();
        self.lock().netns.insert(name.into(), NamedNs { tag: None, ns });
    }

    /// The firewall currently applied.
    pub fn firewall(&self) -> Option<FirewallSpec> {
        self.lock().firewall.clone()
    }

    /// Forwarding state `(v4, v6)`.
    pub fn forwarding(&self) -> (bool, bool) {
        self.lock().forwarding
    }

    /// Running processes by pid.
    pub fn processes(&self) -> BTreeMap<u32, ProcessSpec> {
        self.lock().processes.clone()
    }

    /// Every trait call so far, e.g. `create_bridge br-1`, in order.
    pub fn calls(&self) -> Vec<String> {
        self.lock().calls.clone()
    }
}

impl Kernel for FakeKernel {
    fn observe(&self, namespaces: &[String]) -> KernelResult<Observed> {
        let st = self.lock();
        let mut out = Observed {
            host: st.host.snapshot(),
            netns: st
                .netns
                .iter()
                .map(|(name, n)| NetnsInfo {
                    name: name.clone(),
                    tag: n.tag.clone(),
                })
                .collect(),
            inside: BTreeMap::new(),
        };
        for name in namespaces {
            if let Some(n) = st.netns.get(name) {
                out.inside.insert(name.clone(), n.ns.snapshot());
            }
        }
        Ok(out)
    }

    fn create_netns(&self, name: &str, tag: &str) -> KernelResult<()> {
        let object = format!("netns {name}");
        let mut st = self.enter("create_netns", format!("create_netns {name}"), &object)?;
        super::netns::validate_name(name).map_err(|reason| KernelError::Invalid {
            object: object.clone(),
            reason,
        })?;
        if let Some(existing) = st.netns.get(name) {
            return Err(if is_netplan_tag(existing.tag.as_deref()) {
                KernelError::os("creating", object, io::Error::from_raw_os_error(EEXIST))
            } else {
                KernelError::foreign("creating", object)
            });
        }
        st.netns.insert(
            name.into(),
            NamedNs {
                tag: Some(tag.into()),
                ns: Ns::with_loopback(),
            },
        );
        Ok(())
    }

    fn delete_netns(&self, name: &str) -> KernelResult<()> {
        let object = format!("netns {name}");
        let mut st = self.enter("delete_netns", format!("delete_netns {name}"), &object)?;
        st.owned_netns(name, "deleting")?;
        st.netns.remove(name);
        let hosts: Vec<String> = st
            .pairs
            .iter()
            .filter(|(_, (ns, _))| ns == name)
            .map(|(h, _)| h.clone())
            .collect();
        for h in hosts {
            st.pairs.remove(&h);
            st.host.remove_link(&h);
        }
        Ok(())
    }

    fn create_bridge(&self, spec: &BridgeSpec) -> KernelResult<()> {
        let object = format!("bridge {}", spec.name);
        let mut st = self.enter("create_bridge", format!("create_bridge {}", spec.name), &object)?;
        if let Some(e) = st.clash(None, &spec.name, &object) {
            return Err(e);
        }
        let mac = st.mac();
        let index = st.host.alloc_index();
        st.host.links.push(Link {
            index,
            name: spec.name.clone(),
            kind: LinkKind::Bridge,
            mtu: spec.mtu.unwrap_or(1500),
            mac: Some(mac),
            master: None,
            alias: Some(spec.tag.clone()),
            up: true,
            isolated: false,
            unfinished: false,
        });
        for a in &spec.addresses {
            st.host.add_address(&spec.name, *a);
        }
        Ok(())
    }

    fn create_veth(&self, spec: &VethSpec) -> KernelResult<()> {
        let object = format!(
            "veth {} (peer {} in netns {})",
            spec.host_name, spec.peer_name, spec.netns
        );
        let call = format!("create_veth {} {}:{}", spec.host_name, spec.netns, spec.peer_name);
        let mut st = self.enter("create_veth", call, &object)?;
        st.owned_netns(&spec.netns, "creating")?;
        st.owned_link(None, &spec.bridge, "attaching a veth to")?;
        if let Some(e) = st.clash(None, &spec.host_name, &object) {
            return Err(e);
        }
        if let Some(e) = st.clash(Some(&spec.netns), &spec.peer_name, &object) {
            return Err(e);
        }
        let peer_object = link_object(Some(&spec.netns), &spec.peer_name);
        for r in &spec.routes {
            let reachable = r
                .gateway
                .is_none_or(|gw: IpAddr| spec.addresses.iter().any(|a| a.contains(&gw)));
            if !reachable {
                let what = format!(
                    "adding route {} via {} to",
                    r.dst,
                    r.gateway.map(|g| g.to_string()).unwrap_or_default()
                );
                return Err(KernelError::os(
                    what,
                    peer_object,
                    io::Error::from_raw_os_error(ENETUNREACH),
                ));
            }
        }
        let mtu = spec.mtu.unwrap_or(1500);
        let host_mac = st.mac();
        let peer_mac = spec.mac.unwrap_or_else(|| st.mac());
        let index = st.host.alloc_index();
        st.host.links.push(Link {
            index,
            name: spec.host_name.clone(),
            kind: LinkKind::Veth,
            mtu,
            mac: Some(host_mac),
            master: Some(spec.bridge.clone()),
            alias: Some(spec.tag.clone()),
            up: true,
            isolated: spec.isolated,
            unfinished: false,
        });
        let Some(ns) = st.ns_mut(Some(&spec.netns)) else {
            return Err(KernelError::missing("creating", format!("netns {}", spec.netns)));
        };
        let index = ns.alloc_index();
        ns.links.push(Link {
            index,
            name: spec.peer_name.clone(),
            kind: LinkKind::Veth,
            mtu,
            mac: Some(peer_mac),
            master: None,
            alias: Some(spec.tag.clone()),
            up: true,
            isolated: false,
            unfinished: false,
        });
        for a in &spec.addresses {
            ns.add_address(&spec.peer_name, *a);
        }
        for r in &spec.routes {
            ns.routes.push(Route {
                dst: r.dst,
                gateway: r.gateway,
                dev: Some(spec.peer_name.clone()),
                origin: RouteOrigin::Static,
            });
        }
        st.pairs.insert(
            spec.host_name.clone(),
            (spec.netns.clone(), spec.peer_name.clone()),
        );
        Ok(())
    }

    fn delete_link(&self, netns: Option<&str>, name: &str) -> KernelResult<()> {
        let object = link_object(netns, name);
        let mut st = self.enter("delete_link", format!("delete_link {object}"), &object)?;
        if let Some(ns) = netns
            && !st.netns.contains_key(ns)
        {
            return Err(KernelError::missing("deleting", format!("netns {ns}")));
        }
        st.owned_link(netns, name, "deleting")?;
        st.delete_link(netns, name);
        Ok(())
    }

    fn set_link_mtu(&self, netns: Option<&str>, name: &str, mtu: u32) -> KernelResult<()> {
        let object = link_object(netns, name);
        let mut st = self.enter("set_link_mtu", format!("set_link_mtu {object} {mtu}"), &object)?;
        st.owned_link(netns, name, "setting the MTU of")?;
        if let Some(l) = st.ns_mut(netns).and_then(|ns| ns.link_mut(name)) {
            l.mtu = mtu;
        }
        Ok(())
    }

    /// The in-memory kernel makes a link in one step, so it keeps no creation records.
    fn forget_interrupted_creations(&self) -> KernelResult<usize> {
        Ok(0)
    }

    fn set_loopback_up(&self, netns: &str) -> KernelResult<()> {
        let object = format!("netns {netns}");
        let mut st = self.enter("set_loopback_up", format!("set_loopback_up {netns}"), &object)?;
        let op = "bringing up lo in";
        st.owned_netns(netns, op)?;
        match st.ns_mut(Some(netns)).and_then(|ns| ns.link_mut("lo")) {
            Some(lo) => {
                lo.up = true;
                Ok(())
            }
            None => Err(KernelError::missing(op, object)),
        }
    }

    fn set_port_isolation(&self, name: &str, isolated: bool) -> KernelResult<()> {
        let object = link_object(None, name);
        let mut st = self.enter(
            "set_port_isolation",
            format!("set_port_isolation {name} {isolated}"),
            &object,
        )?;
        let op = if isolated {
            "isolating bridge port"
        } else {
            "un-isolating bridge port"
        };
        let link = st.owned_link(None, name, op)?;
        if link.master.is_none() {
            return Err(KernelError::os(
                op,
                object,
                io::Error::from_raw_os_error(EOPNOTSUPP),
            ));
        }
        if let Some(l) = st.host.link_mut(name) {
            l.isolated = isolated;
        }
        Ok(())
    }

    fn replace_addresses(&self, netns: Option<&str>, name: &str, addresses: &[IpNet]) -> KernelResult<()> {
        let object = link_object(netns, name);
        let mut st = self.enter(
            "replace_addresses",
            format!("replace_addresses {object}"),
            &object,
        )?;
        st.owned_link(netns, name, "replacing addresses of")?;
        let Some(ns) = st.ns_mut(netns) else {
            return Err(KernelError::os(
                "replacing addresses of",
                object,
                io::Error::from_raw_os_error(ENODEV),
            ));
        };
        let current = NsObjects {
            addresses: ns.addresses.clone(),
            ..NsObjects::default()
        }
        .addresses_of(name);
        for a in current.iter().filter(|a| !addresses.contains(a)) {
            ns.remove_address(name, *a);
        }
        for a in addresses.iter().filter(|a| !current.contains(a)) {
            ns.add_address(name, *a);
        }
        Ok(())
    }

    fn enable_forwarding(&self, v4: bool, v6: bool) -> KernelResult<()> {
        let mut st = self.enter(
            "enable_forwarding",
            format!("enable_forwarding {v4} {v6}"),
            "forwarding",
        )?;
        st.forwarding.0 |= v4;
        st.forwarding.1 |= v6;
        Ok(())
    }

    fn apply_firewall(&self, spec: &FirewallSpec) -> KernelResult<()> {
        let mut st = self.enter("apply_firewall", "apply_firewall".into(), "firewall")?;
        super::firewall::build_ruleset(spec)?;
        st.firewall = Some(spec.clone());
        Ok(())
    }

    fn remove_firewall(&self) -> KernelResult<()> {
        let mut st = self.enter("remove_firewall", "remove_firewall".into(), "firewall")?;
        st.firewall = None;
        Ok(())
    }

    fn spawn_process(&self, spec: &ProcessSpec) -> KernelResult<u32> {
        let object = format!("netns {}", spec.netns);
        let mut st = self.enter("spawn_process", format!("spawn_process {}", spec.netns), &object)?;
        st.owned_netns(&spec.netns, "starting a process in")?;
        if spec.argv.is_empty() {
            return Err(KernelError::Invalid {
                object: format!("process for netns {}", spec.netns),
                reason: "empty command".into(),
            });
        }
        st.next_pid += 1;
        let pid = st.next_pid;
        st.processes.insert(pid, spec.clone());
        Ok(pid)
    }

    fn kill_process(&self, netns: &str, pid: u32) -> KernelResult<()> {
        let object = format!("process {pid} in netns {netns}");
        let mut st = self.enter("kill_process", format!("kill_process {netns} {pid}"), &object)?;
        match st.processes.get(&pid) {
            None => Ok(()),
            Some(p) if p.netns != netns => Err(KernelError::Invalid {
                object,
                reason: "that pid now belongs to a process outside the namespace; left alone".into(),
            }),
            Some(_) => {
                st.processes.remove(&pid);
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::FakeKernel;
    use crate::kernel::{BridgeSpec, Kernel, KernelError, LinkKind, tag_for};

    fn bridge(name: &str) -> BridgeSpec {
        BridgeSpec {
            name: name.into(),
            mtu: None,
            addresses: vec![],
            tag: tag_for("t"),
        }
    }

    #[test]
    fn injected_failure_hits_once_and_is_recorded() {
        let k = FakeKernel::new();
        k.fail_next("create_bridge", 12);
        let err = k.create_bridge(&bridge("br-x")).expect_err("injected failure");
        assert_eq!(err.errno(), Some(12));
        assert!(k.create_bridge(&bridge("br-x")).is_ok());
        assert_eq!(k.calls(), ["create_bridge br-x", "create_bridge br-x"]);
    }

    #[test]
    fn foreign_objects_are_refused() {
        let k = FakeKernel::new();
        k.add_foreign_link(None, "br-f", LinkKind::Bridge);
        k.add_foreign_netns("ns-f");
        assert!(matches!(
            k.create_bridge(&bridge("br-f")),
            Err(KernelError::Foreign { .. })
        ));
        assert!(matches!(
            k.delete_link(None, "br-f"),
            Err(KernelError::Foreign { .. })
        ));
        assert!(matches!(k.delete_netns("ns-f"), Err(KernelError::Foreign { .. })));
        assert!(matches!(
            k.create_netns("ns-f", "netplan:t"),
            Err(KernelError::Foreign { .. })
        ));
    }
}
