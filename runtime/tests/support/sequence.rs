//! One sequence of kernel operations, run against the real and the fake kernel; the
//! transcripts (results and observed state after every step) must be identical.

use std::fmt::Write;
use std::time::{Duration, Instant};

use netplan_runtime::kernel::{
    BridgeSpec, Kernel, KernelResult, MacAddr, NsObjects, Observed, RouteSpec, VethSpec, tag_for,
};

/// Namespaces the sequence uses.
pub const NAMESPACES: [&str; 2] = ["sq-a", "sq-b"];

fn net(s: &str) -> ipnet::IpNet {
    s.parse().unwrap_or_else(|_| panic!("bad test CIDR {s}"))
}

fn veth(host: &str, netns: &str, peer: &str, mac: Option<MacAddr>, addrs: &[&str], gw: &str) -> VethSpec {
    VethSpec {
        host_name: host.into(),
        bridge: "sq-br0".into(),
        netns: netns.into(),
        peer_name: peer.into(),
        mac,
        mtu: Some(1400),
        addresses: addrs.iter().map(|a| net(a)).collect(),
        routes: vec![RouteSpec {
            dst: net("0.0.0.0/0"),
            gateway: gw.parse().ok(),
        }],
        isolated: false,
        tag: tag_for("seq"),
    }
}

fn keep(name: &str) -> bool {
    name == "lo" || name.starts_with("sq-") || name.starts_with("eth")
}

fn render_ns(out: &mut String, label: &str, objs: &NsObjects) {
    for l in objs.links.iter().filter(|l| keep(&l.name)) {
        // Only MACs netplan chose are comparable; the kernel picks the rest at random.
        let mac = match (label, l.name.as_str()) {
            ("sq-a", "eth0") | (_, "lo") => l.mac.map(|m| m.to_string()).unwrap_or_default(),
            _ => "-".into(),
        };
        let _ = writeln!(
            out,
            "  {label} link {} {:?} mtu={} mac={mac} master={:?} alias={:?} up={} isolated={}",
            l.name, l.kind, l.mtu, l.master, l.alias, l.up, l.isolated
        );
    }
    for a in objs.addresses.iter().filter(|a| keep(&a.link)) {
        let _ = writeln!(out, "  {label} addr {} {}", a.link, a.addr);
    }
    for r in objs.routes.iter().filter(|r| r.dev.as_deref().is_some_and(keep)) {
        let _ = writeln!(
            out,
            "  {label} route {} via {:?} dev {:?} {:?}",
            r.dst, r.gateway, r.dev, r.origin
        );
    }
}

/// A stable text form of everything the sequence may have touched.
pub fn render(o: &Observed) -> String {
    let mut out = String::new();
    for n in o.netns.iter().filter(|n| n.name.starts_with("sq-")) {
        let _ = writeln!(out, "  netns {} tag={:?}", n.name, n.tag);
    }
    render_ns(&mut out, "host", &o.host);
    for (name, objs) in &o.inside {
        render_ns(&mut out, name, objs);
    }
    out
}

fn observe(k: &dyn Kernel) -> KernelResult<Observed> {
    k.observe(&NAMESPACES.map(String::from))
}

/// The real kernel destroys a deleted namespace's links asynchronously: wait for `link`.
fn wait_gone(k: &dyn Kernel, link: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        match observe(k) {
            Ok(o) if o.host.link(link).is_some() => std::thread::sleep(Duration::from_millis(20)),
            _ => return,
        }
    }
}

/// Runs the sequence; returns one transcript entry per step.
pub fn run(k: &dyn Kernel) -> Vec<String> {
    let tag = tag_for("seq");
    let mut transcript = Vec::new();
    let mut step = |name: &str, r: KernelResult<()>, k: &dyn Kernel| {
        let result = match r {
            Ok(()) => "ok".to_string(),
            Err(e) => format!("error: {e}"),
        };
        let state = match observe(k) {
            Ok(o) => render(&o),
            Err(e) => format!("observe failed: {e}"),
        };
        transcript.push(format!("{name}: {result}\n{state}"));
    };
    let mac = "02:77:00:00:00:02".parse().ok();
    step("create_netns sq-a", k.create_netns("sq-a", &tag), k);
    step("create_netns sq-b", k.create_netns("sq-b", &tag), k);
    step("create_netns sq-a again", k.create_netns("sq-a", &tag), k);
    let bridge = BridgeSpec {
        name: "sq-br0".into(),
        mtu: Some(1400),
        addresses: vec![net("10.77.0.1/24"), net("fd77::1/64")],
        tag: tag.clone(),
    };
    step("create_bridge", k.create_bridge(&bridge), k);
    step("create_bridge again", k.create_bridge(&bridge), k);
    let a = veth("sq-va", "sq-a", "eth0", mac, &["10.77.0.2/24"], "10.77.0.1");
    step("create_veth a", k.create_veth(&a), k);
    let mut b = veth(
        "sq-vb",
        "sq-b",
        "eth0",
        None,
        &["10.77.0.3/24", "fd77::3/64"],
        "10.77.0.1",
    );
    b.routes.push(RouteSpec {
        dst: net("::/0"),
        gateway: "fd77::1".parse().ok(),
    });
    b.routes.push(RouteSpec {
        dst: net("10.200.0.0/16"),
        gateway: None,
    });
    step("create_veth b", k.create_veth(&b), k);
    let missing = veth("sq-vx", "sq-none", "eth0", None, &["10.77.0.4/24"], "10.77.0.1");
    step("create_veth into missing netns", k.create_veth(&missing), k);
    let unreachable = veth("sq-vc", "sq-b", "eth1", None, &["10.78.0.2/24"], "10.77.0.1");
    step("create_veth unreachable gateway", k.create_veth(&unreachable), k);
    let clash = veth("sq-vd", "sq-a", "eth0", None, &["10.77.0.5/24"], "10.77.0.1");
    step("create_veth peer name taken", k.create_veth(&clash), k);
    step("set_port_isolation on", k.set_port_isolation("sq-va", true), k);
    step(
        "set_port_isolation of a bridge",
        k.set_port_isolation("sq-br0", true),
        k,
    );
    step("set_link_mtu", k.set_link_mtu(Some("sq-a"), "eth0", 1300), k);
    let new_addr = [net("10.77.0.22/24")];
    step(
        "replace_addresses",
        k.replace_addresses(Some("sq-a"), "eth0", &new_addr),
        k,
    );
    step("delete_link lo refused", k.delete_link(None, "lo"), k);
    step("delete_link sq-vb", k.delete_link(None, "sq-vb"), k);
    let r = k.delete_netns("sq-a");
    wait_gone(k, "sq-va");
    step("delete_netns sq-a", r, k);
    step("delete_link sq-br0", k.delete_link(None, "sq-br0"), k);
    step("delete_netns sq-b", k.delete_netns("sq-b"), k);
    step("delete_netns sq-b again", k.delete_netns("sq-b"), k);
    transcript
}
