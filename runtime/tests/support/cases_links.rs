//! Namespaces, links, processes and the real-vs-fake sequence (sandbox).

use std::process::Command;
use std::time::{Duration, Instant};

use netplan_runtime::kernel::{
    FakeKernel, Kernel, KernelError, LinkKind, ProcessSpec, RouteOrigin, RouteSpec, VethSpec, tag_for,
};

use super::net::{Server, eventually_reaches, fetch};
use super::{Cleanup, TOPO, TestResult, bridge, check, cidr, container, ctx, real, sock};

pub fn sequence_on_fake() -> TestResult {
    let t = super::sequence::run(&FakeKernel::new());
    let text = t.join("\n");
    check(
        text.contains("create_bridge again: error: creating bridge sq-br0: File exists (os error 17)"),
        &text,
    )?;
    check(
        text.contains("delete_link lo refused: error: refusing deleting link lo"),
        &text,
    )?;
    check(
        text.contains("sq-a link eth0 Veth mtu=1300 mac=02:77:00:00:00:02"),
        &text,
    )
}

pub fn real_matches_fake() -> TestResult {
    let k = real()?;
    let fake = super::sequence::run(&FakeKernel::new());
    let real = super::sequence::run(&k);
    for (f, r) in fake.iter().zip(&real) {
        check(
            f == r,
            format!("real kernel differs from the fake\n--- fake\n{f}\n--- real\n{r}"),
        )?;
    }
    check(fake.len() == real.len(), "transcripts differ in length")
}

pub fn netns_lifecycle() -> TestResult {
    let k = real()?;
    let mut c = Cleanup::new(&k);
    ctx(k.create_netns("nl-a", &tag_for(TOPO)), "create_netns")?;
    c.netns("nl-a");
    let o = ctx(k.observe(&["nl-a".into(), "nl-none".into()]), "observe")?;
    let info = o.netns("nl-a").ok_or("nl-a not listed")?;
    check(
        info.is_netplan() && info.tag.as_deref() == Some("netplan:ktest"),
        format!("{info:?}"),
    )?;
    let inside = o.inside.get("nl-a").ok_or("nl-a not observed")?;
    check(inside.link("lo").is_some_and(|l| l.up), "lo not up in new netns")?;
    check(!o.inside.contains_key("nl-none"), "missing netns observed")?;
    check(
        std::path::Path::new("/run/netplan/netns/nl-a").exists(),
        "no marker file",
    )?;
    // iproute2 sees it as a normal named namespace
    let ip = ctx(
        Command::new("ip")
            .args(["netns", "exec", "nl-a", "ip", "-o", "link"])
            .output(),
        "ip netns exec",
    )?;
    check(
        String::from_utf8_lossy(&ip.stdout).contains("lo:"),
        "ip netns exec cannot enter it",
    )?;
    // a foreign namespace: created without marker
    ctx(
        Command::new("ip").args(["netns", "add", "nl-foreign"]).status(),
        "ip netns add",
    )?;
    let create = k.create_netns("nl-foreign", &tag_for(TOPO));
    check(
        matches!(create, Err(KernelError::Foreign { .. })),
        format!("create over foreign netns: {create:?}"),
    )?;
    let delete = k.delete_netns("nl-foreign");
    check(
        matches!(delete, Err(KernelError::Foreign { .. })),
        format!("delete of foreign netns: {delete:?}"),
    )?;
    check(
        delete
            .err()
            .is_some_and(|e| e.to_string().contains("netns nl-foreign")),
        "error does not name the netns",
    )?;
    ctx(
        Command::new("ip")
            .args(["netns", "delete", "nl-foreign"])
            .status(),
        "ip netns delete",
    )?;
    ctx(k.delete_netns("nl-a"), "delete_netns")?;
    let o = ctx(k.observe(&[]), "observe")?;
    check(o.netns("nl-a").is_none(), "nl-a still listed")?;
    check(
        !std::path::Path::new("/run/netplan/netns/nl-a").exists(),
        "marker left behind",
    )
}

pub fn bridge_and_veth() -> TestResult {
    let k = real()?;
    let mut c = Cleanup::new(&k);
    let mut br = bridge("bv-br", "10.81.0.1/24");
    br.mtu = Some(1450);
    ctx(k.create_bridge(&br), "create_bridge")?;
    c.link("bv-br");
    ctx(k.create_netns("bv-a", &tag_for(TOPO)), "create_netns")?;
    c.netns("bv-a");
    let spec = VethSpec {
        host_name: "bv-host".into(),
        bridge: "bv-br".into(),
        netns: "bv-a".into(),
        peer_name: "eth0".into(),
        mac: "02:81:00:00:00:02".parse().ok(),
        mtu: Some(1450),
        addresses: vec![cidr("10.81.0.2/24")],
        routes: vec![
            RouteSpec {
                dst: cidr("0.0.0.0/0"),
                gateway: "10.81.0.1".parse().ok(),
            },
            RouteSpec {
                dst: cidr("10.99.0.0/16"),
                gateway: None,
            },
        ],
        isolated: false,
        tag: tag_for(TOPO),
    };
    ctx(k.create_veth(&spec), "create_veth")?;
    let o = ctx(k.observe(&["bv-a".into()]), "observe")?;
    let b = o.host.link("bv-br").ok_or("bridge missing")?;
    check(
        b.kind == LinkKind::Bridge && b.mtu == 1450 && b.up && b.is_netplan(),
        format!("{b:?}"),
    )?;
    check(
        o.host.addresses_of("bv-br") == vec![cidr("10.81.0.1/24")],
        "bridge address",
    )?;
    let h = o.host.link("bv-host").ok_or("host end missing")?;
    check(
        h.kind == LinkKind::Veth && h.mtu == 1450 && h.up && h.master.as_deref() == Some("bv-br"),
        format!("{h:?}"),
    )?;
    check(
        h.topology() == Some(TOPO),
        format!("host end alias {:?}", h.alias),
    )?;
    let inside = o.inside.get("bv-a").ok_or("netns not observed")?;
    let p = inside.link("eth0").ok_or("peer missing")?;
    check(p.mtu == 1450 && p.up && p.is_netplan(), format!("{p:?}"))?;
    check(
        p.mac.map(|m| m.to_string()).as_deref() == Some("02:81:00:00:00:02"),
        format!("peer MAC {:?}", p.mac),
    )?;
    check(
        inside.addresses_of("eth0") == vec![cidr("10.81.0.2/24")],
        "peer address",
    )?;
    let routes = inside.routes_via("eth0");
    let default = routes
        .iter()
        .find(|r| r.dst == cidr("0.0.0.0/0"))
        .ok_or(format!("no default route: {routes:?}"))?;
    check(
        default.gateway == "10.81.0.1".parse().ok() && default.origin == RouteOrigin::Static,
        format!("{default:?}"),
    )?;
    check(
        routes
            .iter()
            .any(|r| r.dst == cidr("10.99.0.0/16") && r.gateway.is_none()),
        "on-link route",
    )?;
    check(
        o.host.link("eth0").is_none(),
        "peer leaked into the host namespace",
    )?;
    // second creation names object and errno
    let again = k
        .create_bridge(&br)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    check(again == "creating bridge bv-br: File exists (os error 17)", again)
}

pub fn tcp_same_bridge() -> TestResult {
    let k = real()?;
    let mut c = Cleanup::new(&k);
    ctx(k.create_bridge(&bridge("tc-br", "10.82.0.1/24")), "create_bridge")?;
    c.link("tc-br");
    container(&k, &mut c, "tc-a", "tc-br", "10.82.0.2/24", "10.82.0.1")?;
    container(&k, &mut c, "tc-b", "tc-br", "10.82.0.3/24", "10.82.0.1")?;
    let _srv = Server::start(Some("tc-b"), sock("10.82.0.3:7000"), "hello from b")?;
    let got = fetch(Some("tc-a"), sock("10.82.0.3:7000"), Duration::from_secs(5))?;
    check(got == "hello from b", got)?;
    // the gateway (host) answers too
    let _host = Server::start(None, sock("10.82.0.1:7001"), "host")?;
    check(
        eventually_reaches(Some("tc-a"), sock("10.82.0.1:7001"), "host"),
        "container cannot reach gateway",
    )
}

pub fn foreign_links_refused() -> TestResult {
    let k = real()?;
    let mut c = Cleanup::new(&k);
    let st = ctx(
        Command::new("ip")
            .args(["link", "add", "fr-br", "type", "bridge"])
            .status(),
        "ip link add",
    )?;
    check(st.success(), "ip link add failed")?;
    let create = k.create_bridge(&bridge("fr-br", "10.87.0.1/24"));
    check(
        matches!(create, Err(KernelError::Foreign { .. })),
        format!("create over foreign bridge: {create:?}"),
    )?;
    check(
        create.err().is_some_and(|e| e.to_string().contains("link fr-br")),
        "error does not name the link",
    )?;
    let del = k.delete_link(None, "fr-br");
    check(
        matches!(del, Err(KernelError::Foreign { .. })),
        format!("delete foreign: {del:?}"),
    )?;
    let mtu = k.set_link_mtu(None, "fr-br", 1400);
    check(
        matches!(mtu, Err(KernelError::Foreign { .. })),
        format!("mtu foreign: {mtu:?}"),
    )?;
    let addrs = k.replace_addresses(None, "fr-br", &[]);
    check(
        matches!(addrs, Err(KernelError::Foreign { .. })),
        format!("addresses foreign: {addrs:?}"),
    )?;
    // attaching a container to a foreign bridge is refused too
    ctx(k.create_netns("fr-a", &tag_for(TOPO)), "create_netns")?;
    c.netns("fr-a");
    let attach = container(&k, &mut c, "fr-a2", "fr-br", "10.87.0.2/24", "10.87.0.1");
    check(
        attach.is_err_and(|e| e.contains("refusing")),
        "veth attached to a foreign bridge",
    )?;
    let o = ctx(k.observe(&[]), "observe")?;
    check(
        o.host.link("fr-br").is_some_and(|l| !l.is_netplan()),
        "foreign bridge changed",
    )?;
    check(o.host.link("v-fr-a2").is_none(), "half-made veth left behind")?;
    let st = ctx(
        Command::new("ip").args(["link", "del", "fr-br"]).status(),
        "ip link del",
    )?;
    check(st.success(), "ip link del failed")
}

pub fn processes() -> TestResult {
    let k = real()?;
    let mut c = Cleanup::new(&k);
    ctx(k.create_netns("pr-a", &tag_for(TOPO)), "create_netns")?;
    c.netns("pr-a");
    ctx(
        std::fs::create_dir_all("/etc/netns/pr-a"),
        "mkdir /etc/netns/pr-a",
    )?;
    ctx(
        std::fs::write("/etc/netns/pr-a/resolv.conf", "nameserver 127.0.0.11\n"),
        "resolv.conf",
    )?;
    let log = std::path::PathBuf::from("/var/lib/netplan/pr-a.log");
    let spec = ProcessSpec {
        netns: "pr-a".into(),
        argv: [
            "/bin/sh",
            "-c",
            "echo started $GREETING; cat /etc/resolv.conf; ls /sys/class/net; exec sleep 300",
        ]
        .map(String::from)
        .to_vec(),
        log_path: log.clone(),
        env: vec![("GREETING".into(), "hi".into())],
    };
    let pid = ctx(k.spawn_process(&spec), "spawn_process")?;
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut text = String::new();
    while Instant::now() < deadline && !text.contains("lo") {
        std::thread::sleep(Duration::from_millis(50));
        text = std::fs::read_to_string(&log).unwrap_or_default();
    }
    check(text.contains("started hi"), format!("log: {text:?}"))?;
    check(
        text.contains("nameserver 127.0.0.11"),
        format!("resolv.conf not overlaid: {text:?}"),
    )?;
    let ns_of = |p: &str| std::fs::metadata(p).map(|m| std::os::unix::fs::MetadataExt::ino(&m));
    check(
        ctx(ns_of(&format!("/proc/{pid}/ns/net")), "process netns")?
            == ctx(ns_of("/run/netns/pr-a"), "netns file")?,
        "process not inside the namespace",
    )?;
    let wrong = k.kill_process("pr-a", std::process::id());
    check(
        wrong.is_err(),
        "kill_process accepted a pid outside the namespace",
    )?;
    ctx(k.kill_process("pr-a", pid), "kill_process")?;
    check(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "process still there",
    )?;
    ctx(k.kill_process("pr-a", pid), "kill_process of a gone process")?;
    let foreign = k.spawn_process(&ProcessSpec {
        netns: "pr-none".into(),
        ..spec
    });
    check(foreign.is_err(), "spawned into a missing namespace")
}
