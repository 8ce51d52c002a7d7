//! Apply logic against the in-memory kernel: ordering, idempotence, failures, convergence.

use std::path::PathBuf;

use super::{Env, FakeHost, NoObserver, apply, apply_ready, destroy, drift, prepare, set_stopped};
use crate::desired::Desired;
use crate::ipam::HostReserved;
use crate::kernel::{FakeKernel, Kernel, LinkKind, tag_for};
use crate::lock::Lock;
use crate::planning::against_applied;
use crate::state::StateDir;

struct Fixture {
    dir: PathBuf,
    kernel: FakeKernel,
}

impl Fixture {
    fn new(tag: &str) -> Fixture {
        let dir = std::env::temp_dir().join(format!("netplan-apply-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        Fixture {
            dir,
            kernel: FakeKernel::new(),
        }
    }

    fn state(&self) -> StateDir {
        StateDir::new(self.dir.join("state"))
    }

    fn host(&self) -> FakeHost<'_> {
        FakeHost::new(&self.kernel, self.dir.join("etc-netns"))
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn desired(name: &str, text: &str) -> Desired {
    allocate(name, text, &Lock::default()).0
}

fn allocate(name: &str, text: &str, lock: &Lock) -> (Desired, Lock) {
    let checked = netplan_lang::check::check_text(text, name);
    let topo = checked
        .topology
        .unwrap_or_else(|| panic!("test topology has errors: {:?}", checked.diags));
    match against_applied(&topo, lock, None, &HostReserved::default()) {
        Ok(p) => (p.allocated.desired, p.allocated.lock),
        Err(d) => panic!("{d:?}"),
    }
}

const TWO_NETS: &str = "network a { subnet 10.1.0.0/24 }\n\
                        network b { subnet 10.2.0.0/24\n icc off\n mtu 1400 }\n\
                        container c1 { network a }\n\
                        container c2 { network a; network b }\n\
                        container c3 { network b\n run \"sleep 1000\" }\n";

#[test]
fn creates_in_dependency_order_and_is_idempotent() {
    let f = Fixture::new("order");
    let (state, host) = (f.state(), f.host());
    let env = Env {
        kernel: &f.kernel,
        host: &host,
        state: &state,
    };
    let d = desired("t", TWO_NETS);
    let out = apply(env, &d, &mut NoObserver).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.networks_created, ["a", "b"]);
    assert_eq!(out.containers_up, ["c1", "c2", "c3"]);
    let calls = f.kernel.calls();
    let pos = |needle: &str| {
        calls
            .iter()
            .position(|c| c.starts_with(needle))
            .unwrap_or_else(|| panic!("no call {needle} in {calls:?}"))
    };
    // firewall before the first bridge, bridges before namespaces, namespaces before veths,
    // veths before processes
    assert!(pos("apply_firewall") < pos("create_bridge"));
    assert!(pos("create_bridge") < pos("create_netns"));
    assert!(pos("create_netns") < pos("create_veth"));
    assert!(pos("create_veth") < pos("spawn_process"));
    assert_eq!(calls.iter().filter(|c| c.starts_with("create_veth")).count(), 4);
    let fw = f.kernel.firewall().unwrap_or_default();
    assert_eq!(fw.networks.len(), 2);
    assert!(!fw.networks[1].icc);
    // MTU and isolation on the icc-off network
    let obs = f.kernel.observe(&["c3".into()]).unwrap_or_default();
    let c3 = &d.containers[2].endpoints[0];
    let host_end = obs
        .host
        .link(&c3.host_veth)
        .cloned()
        .unwrap_or_else(|| panic!("no host end"));
    assert!(host_end.isolated);
    assert_eq!(host_end.mtu, 1400);
    assert_eq!(obs.inside["c3"].link("eth0").map(|l| l.mtu), Some(1400));
    // /etc/netns files
    let hosts = std::fs::read_to_string(f.dir.join("etc-netns/c1/hosts")).unwrap_or_default();
    assert!(hosts.contains("10.1.0.2\tc1"), "{hosts}");
    let resolv = std::fs::read_to_string(f.dir.join("etc-netns/c1/resolv.conf")).unwrap_or_default();
    assert!(resolv.contains("nameserver 127.0.0.11"), "{resolv}");
    assert_eq!(f.kernel.processes().len(), 1);

    // Second apply: nothing at all.
    let before = f.kernel.calls().len();
    let again = apply(env, &d, &mut NoObserver).unwrap_or_else(|e| panic!("{e}"));
    assert!(again.is_noop(), "{again:?}");
    assert_eq!(f.kernel.calls()[before..].to_vec(), Vec::<String>::new());
    assert!(drift(env, &d).unwrap_or_default().is_empty());
}

#[test]
fn failure_midway_records_progress_and_next_apply_converges() {
    let f = Fixture::new("fail");
    let (state, host) = (f.state(), f.host());
    let env = Env {
        kernel: &f.kernel,
        host: &host,
        state: &state,
    };
    let d = desired("t", TWO_NETS);
    // The first veth fails: bridges, namespaces and files exist, no endpoint.
    f.kernel.fail_next("create_veth", 12);
    let err = apply(env, &d, &mut NoObserver)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("creating veth"), "{err}");
    let partial = state.applied("t").ok().flatten().unwrap_or_default();
    assert_eq!(partial.networks.len(), 2);
    assert!(partial.containers.iter().all(|c| c.endpoints.is_empty()));
    let out = apply(env, &d, &mut NoObserver).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.created, 4 + 1, "{out:?}");
    assert_eq!(state.applied("t").ok().flatten(), Some(d.clone()));
    assert!(
        apply(env, &d, &mut NoObserver)
            .map(|o| o.is_noop())
            .unwrap_or(false)
    );
}

#[test]
fn drift_is_seen_and_repaired() {
    let f = Fixture::new("drift");
    let (state, host) = (f.state(), f.host());
    let env = Env {
        kernel: &f.kernel,
        host: &host,
        state: &state,
    };
    let d = desired("t", TWO_NETS);
    apply(env, &d, &mut NoObserver).unwrap_or_else(|e| panic!("{e}"));
    let c2a = d.containers[1].endpoints[0].host_veth.clone();
    let bridge_b = d.networks[1].bridge.clone().unwrap_or_default();
    f.kernel.delete_link(None, &c2a).unwrap_or_else(|e| panic!("{e}"));
    f.kernel
        .delete_link(None, &bridge_b)
        .unwrap_or_else(|e| panic!("{e}"));
    host.flush_firewall();
    let c1_ns = d.containers[0].netns().unwrap_or_default().to_string();
    f.kernel.set_link_down(Some(&c1_ns), "lo");
    let found = drift(env, &d).unwrap_or_else(|e| panic!("{e}"));
    let text: Vec<String> = found
        .iter()
        .map(|x| format!("{}: {}", x.address, x.message))
        .collect();
    assert!(
        text.iter()
            .any(|t| t == "endpoint.c2.a: veth of c2 on a missing or changed"),
        "{text:?}"
    );
    assert!(
        text.iter().any(|t| t.starts_with("network.b: bridge")),
        "{text:?}"
    );
    assert!(text.iter().any(|t| t.starts_with("firewall")), "{text:?}");
    assert!(
        text.iter()
            .any(|t| t == &format!("container.c1: lo in namespace {c1_ns} is down")),
        "{text:?}"
    );
    let out = apply(env, &d, &mut NoObserver).unwrap_or_else(|e| panic!("{e}"));
    assert!(!out.is_noop());
    let lo_up = f
        .kernel
        .observe(&[c1_ns.to_string()])
        .ok()
        .and_then(|o| o.objects(Some(&c1_ns)).and_then(|ns| ns.link("lo")).map(|l| l.up));
    assert_eq!(lo_up, Some(true));
    assert!(drift(env, &d).unwrap_or_default().is_empty());
    assert!(
        apply(env, &d, &mut NoObserver)
            .map(|o| o.is_noop())
            .unwrap_or(false)
    );
}

/// `netplan apply`'s path: one observation gives the plan's drift and the operations.
#[test]
fn prepared_apply_shows_drift_of_the_recorded_state_and_repairs_it() {
    let f = Fixture::new("ready");
    let (state, host) = (f.state(), f.host());
    let env = Env {
        kernel: &f.kernel,
        host: &host,
        state: &state,
    };
    let d = desired("t", TWO_NETS);
    let first = prepare(env, &d).unwrap_or_else(|e| panic!("{e}"));
    assert!(first.drift().is_empty() && first.recorded().is_none());
    apply_ready(env, first, &mut NoObserver).unwrap_or_else(|e| panic!("{e}"));
    let noop = prepare(env, &d).unwrap_or_else(|e| panic!("{e}"));
    assert!(noop.drift().is_empty());
    let before = f.kernel.calls().len();
    let out = apply_ready(env, noop, &mut NoObserver).unwrap_or_else(|e| panic!("{e}"));
    assert!(out.is_noop(), "{out:?}");
    assert_eq!(f.kernel.calls()[before..].to_vec(), Vec::<String>::new());

    // Drift, then an apply that also adds a container: the plan shows the drift of what is
    // recorded (the same as `drift` finds), the apply repairs it and adds the container.
    let c1 = d.containers[0].endpoints[0].host_veth.clone();
    f.kernel.delete_link(None, &c1).unwrap_or_else(|e| panic!("{e}"));
    let (plus, _) = allocate(
        "t",
        &format!("{TWO_NETS}container c4 {{ network a }}\n"),
        &Lock::default(),
    );
    let ready = prepare(env, &plus).unwrap_or_else(|e| panic!("{e}"));
    let alone = drift(env, &d).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ready.drift(), alone.as_slice());
    assert!(
        ready.drift().iter().any(|x| x.address == "endpoint.c1.a"),
        "{:?}",
        ready.drift()
    );
    assert_eq!(ready.recorded(), Some(&d));
    let out = apply_ready(env, ready, &mut NoObserver).unwrap_or_else(|e| panic!("{e}"));
    assert!(out.containers_up.contains(&"c4".to_string()), "{out:?}");
    assert!(drift(env, &plus).unwrap_or_default().is_empty());
    assert!(apply(env, &plus, &mut NoObserver).is_ok_and(|o| o.is_noop()));
}

#[test]
fn disconnect_touches_only_that_endpoint_and_destroy_removes_everything() {
    let f = Fixture::new("disc");
    let (state, host) = (f.state(), f.host());
    let env = Env {
        kernel: &f.kernel,
        host: &host,
        state: &state,
    };
    let (d, lock) = allocate("t", TWO_NETS, &Lock::default());
    apply(env, &d, &mut NoObserver).unwrap_or_else(|e| panic!("{e}"));
    let before = f.kernel.calls().len();
    let text = TWO_NETS.replace(
        "container c2 { network a; network b }",
        "container c2 { network a }",
    );
    let (d2, _) = allocate("t", &text, &lock);
    apply(env, &d2, &mut NoObserver).unwrap_or_else(|e| panic!("{e}"));
    let calls: Vec<String> = f.kernel.calls()[before..].to_vec();
    let removed = &d.containers[1].endpoints[1].host_veth;
    assert_eq!(
        // The container end goes with the pair (its deletion finds it gone).
        calls
            .iter()
            .filter(|c| !c.ends_with("in netns c2"))
            .cloned()
            .collect::<Vec<_>>(),
        [format!("delete_link link {removed}")],
        "{calls:?}"
    );
    destroy(env, "t", &mut NoObserver).unwrap_or_else(|e| panic!("{e}"));
    let obs = f.kernel.observe(&[]).unwrap_or_default();
    assert!(obs.netns.is_empty(), "{:?}", obs.netns);
    assert_eq!(obs.host.links.iter().filter(|l| l.is_netplan()).count(), 0);
    assert!(f.kernel.processes().is_empty());
    assert_eq!(f.kernel.firewall(), None);
    assert_eq!(state.topologies().unwrap_or_default(), Vec::<String>::new());
    let etc = std::fs::read_dir(f.dir.join("etc-netns"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(etc, 0);
}

#[test]
fn stop_and_start() {
    let f = Fixture::new("stop");
    let (state, host) = (f.state(), f.host());
    let env = Env {
        kernel: &f.kernel,
        host: &host,
        state: &state,
    };
    let d = desired("t", TWO_NETS);
    apply(env, &d, &mut NoObserver).unwrap_or_else(|e| panic!("{e}"));
    let (topo, out) = set_stopped(env, None, "c3", true, &mut NoObserver).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(topo, "t");
    assert_eq!(out.containers_down, ["c3"]);
    assert!(f.kernel.processes().is_empty());
    let obs = f.kernel.observe(&["c3".into()]).unwrap_or_default();
    assert!(obs.netns("c3").is_some());
    assert!(obs.inside["c3"].link("eth0").is_none());
    let rec = state.applied("t").ok().flatten().unwrap_or_default();
    assert!(rec.container("c3").is_some_and(|c| c.stopped));
    // Applying the file starts it again.
    let out = apply(env, &d, &mut NoObserver).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.containers_up, ["c3"]);
    assert_eq!(f.kernel.processes().len(), 1);
    assert!(set_stopped(env, None, "nope", true, &mut NoObserver).is_err());
}

#[test]
fn foreign_objects_stop_the_apply_before_any_change() {
    let f = Fixture::new("foreign");
    let (state, host) = (f.state(), f.host());
    let env = Env {
        kernel: &f.kernel,
        host: &host,
        state: &state,
    };
    let d = desired("t", TWO_NETS);
    f.kernel.add_foreign_netns("c2");
    let before = f.kernel.calls().len();
    let err = apply(env, &d, &mut NoObserver)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.contains("namespace c2") && err.contains("not created by netplan"),
        "{err}"
    );
    assert_eq!(f.kernel.calls().len(), before);
    let f2 = Fixture::new("foreign2");
    let (state2, host2) = (f2.state(), f2.host());
    let env2 = Env {
        kernel: &f2.kernel,
        host: &host2,
        state: &state2,
    };
    let bridge = d.networks[0].bridge.clone().unwrap_or_default();
    f2.kernel.add_foreign_link(None, &bridge, LinkKind::Bridge);
    let err = apply(env2, &d, &mut NoObserver)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains(&format!("bridge {bridge}")), "{err}");
    // Another topology's namespace with the same name is refused too.
    let other = desired("u", "container c1 {}");
    let f3 = Fixture::new("foreign3");
    let (state3, host3) = (f3.state(), f3.host());
    let env3 = Env {
        kernel: &f3.kernel,
        host: &host3,
        state: &state3,
    };
    apply(env3, &other, &mut NoObserver).unwrap_or_else(|e| panic!("{e}"));
    let err = apply(env3, &d, &mut NoObserver)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("belongs to topology u"), "{err}");
    let _ = tag_for("t");
}

#[test]
fn leftovers_of_a_crash_are_cleaned() {
    let f = Fixture::new("crash");
    let (state, host) = (f.state(), f.host());
    let env = Env {
        kernel: &f.kernel,
        host: &host,
        state: &state,
    };
    let d = desired("t", TWO_NETS);
    // A crashed run made a namespace and a veth of a container that is no longer wanted, and
    // recorded nothing.
    f.kernel
        .create_netns("old", &tag_for("t"))
        .unwrap_or_else(|e| panic!("{e}"));
    let out = apply(env, &d, &mut NoObserver).unwrap_or_else(|e| panic!("{e}"));
    assert!(out.removed >= 1);
    let obs = f.kernel.observe(&[]).unwrap_or_default();
    assert!(obs.netns("old").is_none());
    // Overlay networks are refused before anything happens.
    let o = desired(
        "o",
        "network m { driver overlay\n subnet 10.9.0.0/16 }\ncontainer x { network m }",
    );
    let before = f.kernel.calls().len();
    let err = apply(env, &o, &mut NoObserver)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("network m uses driver overlay"), "{err}");
    assert_eq!(f.kernel.calls().len(), before);
}
