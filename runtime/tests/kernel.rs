//! Kernel layer tests. Real-kernel tests run only inside a throwaway namespace sandbox
//! (`netplan_runtime::kernel::sandbox`): without root they are reported as ignored.
//! Fake-kernel and ruleset tests run everywhere.

mod support;

use std::net::SocketAddr;
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use libtest_mimic::{Arguments, Trial};
use netplan_runtime::kernel::sandbox::{self, Sandbox};
use netplan_runtime::kernel::{
    BridgeSpec, FakeKernel, FirewallNetwork, FirewallSpec, Kernel, KernelError, LinkKind, LinuxKernel,
    ProcessSpec, Proto, PublishedPort, RouteOrigin, RouteSpec, VethSpec, build_ruleset, tag_for,
};
use support::net::{Server, eventually_reaches, fetch, reaches};
use support::{Cleanup, TestResult, check, ctx};

const TOPO: &str = "ktest";

fn cidr(s: &str) -> ipnet::IpNet {
    s.parse().unwrap_or_else(|_| panic!("bad test CIDR {s}"))
}

fn sock(s: &str) -> SocketAddr {
    s.parse()
        .unwrap_or_else(|_| panic!("bad test socket address {s}"))
}

fn real() -> Result<LinuxKernel, String> {
    ctx(LinuxKernel::new(), "opening the kernel")
}

fn bridge(name: &str, gw: &str) -> BridgeSpec {
    BridgeSpec {
        name: name.into(),
        mtu: None,
        addresses: vec![cidr(gw)],
        tag: tag_for(TOPO),
    }
}

/// A container namespace `ns` attached to `br` with `addr` (e.g. `10.80.0.2/24`) and a
/// default route via `gw`. The host end is called `v-<ns>`.
fn container(k: &dyn Kernel, c: &mut Cleanup, ns: &str, br: &str, addr: &str, gw: &str) -> TestResult {
    container_with(k, c, ns, br, addr, gw, false)
}

fn container_with(
    k: &dyn Kernel,
    c: &mut Cleanup,
    ns: &str,
    br: &str,
    addr: &str,
    gw: &str,
    isolated: bool,
) -> TestResult {
    ctx(k.create_netns(ns, &tag_for(TOPO)), "create_netns")?;
    c.netns(ns);
    let spec = VethSpec {
        host_name: format!("v-{ns}"),
        bridge: br.into(),
        netns: ns.into(),
        peer_name: "eth0".into(),
        mac: None,
        mtu: None,
        addresses: vec![cidr(addr)],
        routes: vec![RouteSpec {
            dst: cidr("0.0.0.0/0"),
            gateway: gw.parse().ok(),
        }],
        isolated,
        tag: tag_for(TOPO),
    };
    ctx(k.create_veth(&spec), "create_veth")
}

/// Whether nft lists table `family name`.
fn has_table(rules: &serde_json::Value, family: &str, name: &str) -> bool {
    rules["nftables"].as_array().is_some_and(|items| {
        items
            .iter()
            .any(|i| i["table"]["family"] == family && i["table"]["name"] == name)
    })
}

fn nft_ruleset() -> Result<serde_json::Value, String> {
    let out = ctx(
        Command::new("nft").args(["-j", "list", "ruleset"]).output(),
        "running nft",
    )?;
    check(
        out.status.success(),
        format!("nft list ruleset: {}", String::from_utf8_lossy(&out.stderr)),
    )?;
    ctx(serde_json::from_slice(&out.stdout), "parsing nft output")
}

// ---------------------------------------------------------------- everywhere (no root)

fn sequence_on_fake() -> TestResult {
    let t = support::sequence::run(&FakeKernel::new());
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

fn ruleset_shape() -> TestResult {
    let spec = FirewallSpec {
        networks: vec![
            FirewallNetwork {
                bridge: "br-a".into(),
                subnets: vec![cidr("10.1.0.0/24")],
                icc: false,
                internal: false,
                masquerade: true,
            },
            FirewallNetwork {
                bridge: "br-b".into(),
                subnets: vec![cidr("10.2.0.0/24")],
                icc: true,
                internal: true,
                masquerade: true,
            },
        ],
        published: vec![PublishedPort {
            host_ip: None,
            host_port: 8080,
            container_ip: "10.1.0.2".parse().map_err(|e| format!("{e}"))?,
            container_port: 80,
            proto: Proto::Tcp,
        }],
    };
    let doc = ctx(build_ruleset(&spec), "build_ruleset")?.to_string();
    for needle in [
        r#"[{"match":{"left":{"meta":{"key":"iifname"}},"op":"==","right":"br-a"}},{"match":{"left":{"meta":{"key":"oifname"}},"op":"==","right":"br-a"}},{"drop":null}]"#,
        r#"{"match":{"left":{"meta":{"key":"oifname"}},"op":"==","right":{"set":["br-b"]}}}"#,
        r#""dnat":{"addr":"10.1.0.2","family":"ip","port":80}"#,
        r#"{"fib":{"flags":["daddr"],"result":"type"}}"#,
    ] {
        check(doc.contains(needle), format!("ruleset lacks {needle}:\n{doc}"))?;
    }
    // internal networks never masquerade
    check(
        !doc.contains(r#""addr":"10.2.0.0""#),
        format!("internal network masqueraded:\n{doc}"),
    )?;
    let bad = FirewallSpec {
        networks: vec![],
        published: vec![PublishedPort {
            host_ip: "::1".parse().ok(),
            host_port: 1,
            container_ip: "10.1.0.2".parse().map_err(|e| format!("{e}"))?,
            container_port: 1,
            proto: Proto::Udp,
        }],
    };
    check(
        matches!(build_ruleset(&bad), Err(KernelError::Invalid { .. })),
        "mixed families accepted",
    )
}

// ---------------------------------------------------------------- real kernel (sandbox)

fn real_matches_fake() -> TestResult {
    let k = real()?;
    let fake = support::sequence::run(&FakeKernel::new());
    let real = support::sequence::run(&k);
    for (f, r) in fake.iter().zip(&real) {
        check(
            f == r,
            format!("real kernel differs from the fake\n--- fake\n{f}\n--- real\n{r}"),
        )?;
    }
    check(fake.len() == real.len(), "transcripts differ in length")
}

fn netns_lifecycle() -> TestResult {
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

fn bridge_and_veth() -> TestResult {
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

fn tcp_same_bridge() -> TestResult {
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

fn firewall_isolation() -> TestResult {
    let k = real()?;
    let mut c = Cleanup::new(&k);
    ctx(k.enable_forwarding(true, false), "enable_forwarding")?;
    ctx(k.create_bridge(&bridge("fi-br1", "10.83.1.1/24")), "bridge 1")?;
    c.link("fi-br1");
    ctx(k.create_bridge(&bridge("fi-br2", "10.83.2.1/24")), "bridge 2")?;
    c.link("fi-br2");
    container(&k, &mut c, "fi-a", "fi-br1", "10.83.1.2/24", "10.83.1.1")?;
    container(&k, &mut c, "fi-b", "fi-br2", "10.83.2.2/24", "10.83.2.1")?;
    let _sa = Server::start(Some("fi-a"), sock("10.83.1.2:7000"), "a")?;
    let _sb = Server::start(Some("fi-b"), sock("10.83.2.2:7000"), "b")?;
    // routed between bridges before the firewall exists
    check(
        eventually_reaches(Some("fi-a"), sock("10.83.2.2:7000"), "b"),
        "no routing between bridges to begin with",
    )?;
    let spec = FirewallSpec {
        networks: vec![
            FirewallNetwork {
                bridge: "fi-br1".into(),
                subnets: vec![cidr("10.83.1.0/24")],
                icc: true,
                internal: false,
                masquerade: true,
            },
            FirewallNetwork {
                bridge: "fi-br2".into(),
                subnets: vec![cidr("10.83.2.0/24")],
                icc: true,
                internal: false,
                masquerade: true,
            },
        ],
        published: vec![],
    };
    c.firewall();
    ctx(k.apply_firewall(&spec), "apply_firewall")?;
    check(
        !reaches(Some("fi-a"), sock("10.83.2.2:7000"), "b"),
        "fi-br1 -> fi-br2 not isolated",
    )?;
    check(
        !reaches(Some("fi-b"), sock("10.83.1.2:7000"), "a"),
        "fi-br2 -> fi-br1 not isolated",
    )?;
    let _host = Server::start(None, sock("10.83.1.1:7001"), "host")?;
    check(
        eventually_reaches(Some("fi-a"), sock("10.83.1.1:7001"), "host"),
        "isolation blocked the gateway",
    )?;
    let rules = nft_ruleset()?;
    check(
        has_table(&rules, "inet", "netplan"),
        format!("no inet netplan table: {rules}"),
    )?;
    let text = rules.to_string();
    check(
        text.contains("fi-br2") && text.contains("masquerade"),
        format!("rules missing: {text}"),
    )?;
    // applying twice is fine (atomic replace) and removal leaves nothing
    ctx(k.apply_firewall(&spec), "apply_firewall again")?;
    ctx(k.remove_firewall(), "remove_firewall")?;
    ctx(k.remove_firewall(), "remove_firewall again")?;
    check(
        !has_table(&nft_ruleset()?, "inet", "netplan"),
        "table left after removal",
    )?;
    check(
        eventually_reaches(Some("fi-a"), sock("10.83.2.2:7000"), "b"),
        "routing not restored after removal",
    )
}

fn firewall_internal() -> TestResult {
    let k = real()?;
    let mut c = Cleanup::new(&k);
    ctx(k.enable_forwarding(true, false), "enable_forwarding")?;
    ctx(
        k.create_bridge(&bridge("in-br", "10.88.1.1/24")),
        "netplan bridge",
    )?;
    c.link("in-br");
    // stands for "the rest of the world": a bridge the firewall does not manage
    ctx(
        k.create_bridge(&bridge("in-out", "10.88.2.1/24")),
        "outside bridge",
    )?;
    c.link("in-out");
    container(&k, &mut c, "in-a", "in-br", "10.88.1.2/24", "10.88.1.1")?;
    container(&k, &mut c, "in-b", "in-br", "10.88.1.3/24", "10.88.1.1")?;
    container(&k, &mut c, "in-world", "in-out", "10.88.2.2/24", "10.88.2.1")?;
    let _world = Server::start(Some("in-world"), sock("10.88.2.2:7000"), "world")?;
    let _b = Server::start(Some("in-b"), sock("10.88.1.3:7000"), "b")?;
    let mut net = FirewallNetwork {
        bridge: "in-br".into(),
        subnets: vec![cidr("10.88.1.0/24")],
        icc: true,
        internal: false,
        masquerade: true,
    };
    c.firewall();
    ctx(
        k.apply_firewall(&FirewallSpec {
            networks: vec![net.clone()],
            published: vec![],
        }),
        "apply",
    )?;
    check(
        eventually_reaches(Some("in-a"), sock("10.88.2.2:7000"), "world"),
        "non-internal network cannot get out",
    )?;
    net.internal = true;
    ctx(
        k.apply_firewall(&FirewallSpec {
            networks: vec![net],
            published: vec![],
        }),
        "apply internal",
    )?;
    check(
        !reaches(Some("in-a"), sock("10.88.2.2:7000"), "world"),
        "internal network still gets out",
    )?;
    check(
        !reaches(Some("in-world"), sock("10.88.1.3:7000"), "b"),
        "internal network reachable from outside",
    )?;
    check(
        eventually_reaches(Some("in-a"), sock("10.88.1.3:7000"), "b"),
        "internal network blocks its own containers",
    )
}

fn firewall_icc_off() -> TestResult {
    let k = real()?;
    let mut c = Cleanup::new(&k);
    ctx(k.create_bridge(&bridge("ic-br", "10.84.0.1/24")), "create_bridge")?;
    c.link("ic-br");
    // icc off as the planner does it: isolated ports plus the firewall rule
    container_with(&k, &mut c, "ic-a", "ic-br", "10.84.0.2/24", "10.84.0.1", true)?;
    container_with(&k, &mut c, "ic-b", "ic-br", "10.84.0.3/24", "10.84.0.1", true)?;
    let o = ctx(k.observe(&[]), "observe")?;
    check(
        o.host.link("v-ic-a").is_some_and(|l| l.isolated),
        "port not isolated",
    )?;
    let _sb = Server::start(Some("ic-b"), sock("10.84.0.3:7000"), "b")?;
    let _host = Server::start(None, sock("10.84.0.1:7001"), "host")?;
    let mut net = FirewallNetwork {
        bridge: "ic-br".into(),
        subnets: vec![cidr("10.84.0.0/24")],
        icc: false,
        internal: false,
        masquerade: false,
    };
    c.firewall();
    ctx(
        k.apply_firewall(&FirewallSpec {
            networks: vec![net.clone()],
            published: vec![],
        }),
        "apply_firewall",
    )?;
    check(
        !reaches(Some("ic-a"), sock("10.84.0.3:7000"), "b"),
        "icc off did not block same-bridge traffic",
    )?;
    check(
        eventually_reaches(Some("ic-a"), sock("10.84.0.1:7001"), "host"),
        "icc off blocked the gateway",
    )?;
    // icc back on
    net.icc = true;
    ctx(
        k.apply_firewall(&FirewallSpec {
            networks: vec![net],
            published: vec![],
        }),
        "apply_firewall icc on",
    )?;
    ctx(k.set_port_isolation("v-ic-a", false), "un-isolate a")?;
    ctx(k.set_port_isolation("v-ic-b", false), "un-isolate b")?;
    check(
        eventually_reaches(Some("ic-a"), sock("10.84.0.3:7000"), "b"),
        "icc on still blocks",
    )?;
    let o = ctx(k.observe(&[]), "observe")?;
    check(
        o.host.link("v-ic-a").is_some_and(|l| !l.isolated),
        "port still isolated",
    )
}

fn firewall_publish() -> TestResult {
    let k = real()?;
    let mut c = Cleanup::new(&k);
    ctx(k.enable_forwarding(true, false), "enable_forwarding")?;
    ctx(
        k.create_bridge(&bridge("pb-br", "10.85.0.1/24")),
        "container bridge",
    )?;
    c.link("pb-br");
    // an "outside" client network, not managed by the firewall at first
    ctx(
        k.create_bridge(&bridge("pb-ext", "10.86.0.1/24")),
        "outside bridge",
    )?;
    c.link("pb-ext");
    container(&k, &mut c, "pb-web", "pb-br", "10.85.0.2/24", "10.85.0.1")?;
    container(&k, &mut c, "pb-client", "pb-ext", "10.86.0.2/24", "10.86.0.1")?;
    let _web = Server::start(Some("pb-web"), sock("10.85.0.2:80"), "web")?;
    let spec = FirewallSpec {
        networks: vec![FirewallNetwork {
            bridge: "pb-br".into(),
            subnets: vec![cidr("10.85.0.0/24")],
            icc: true,
            internal: false,
            masquerade: true,
        }],
        published: vec![
            PublishedPort {
                host_ip: "10.86.0.1".parse().ok(),
                host_port: 8080,
                container_ip: "10.85.0.2".parse().map_err(|e| format!("{e}"))?,
                container_port: 80,
                proto: Proto::Tcp,
            },
            PublishedPort {
                host_ip: None,
                host_port: 8081,
                container_ip: "10.85.0.2".parse().map_err(|e| format!("{e}"))?,
                container_port: 80,
                proto: Proto::Tcp,
            },
        ],
    };
    check(
        !reaches(Some("pb-client"), sock("10.86.0.1:8080"), "web"),
        "published before the firewall",
    )?;
    c.firewall();
    ctx(k.apply_firewall(&spec), "apply_firewall")?;
    let got = fetch(Some("pb-client"), sock("10.86.0.1:8080"), Duration::from_secs(5))?;
    check(got == "web", got)?;
    check(
        eventually_reaches(Some("pb-client"), sock("10.86.0.1:8081"), "web"),
        "any-address publish from outside",
    )?;
    check(
        eventually_reaches(None, sock("10.86.0.1:8081"), "web"),
        "publish from the host itself (output chain)",
    )?;
    let rules = nft_ruleset()?.to_string();
    check(
        rules.contains(r#""dnat":{"addr":"10.85.0.2","family":"ip","port":80}"#),
        format!("no dnat rule: {rules}"),
    )?;
    // The client's network becomes a netplan network too: isolation now blocks it from the
    // container directly, but the published port stays reachable (`ct status dnat accept`).
    check(
        eventually_reaches(Some("pb-client"), sock("10.85.0.2:80"), "web"),
        "direct route before isolation",
    )?;
    let mut isolated = spec.clone();
    isolated.networks.push(FirewallNetwork {
        bridge: "pb-ext".into(),
        subnets: vec![cidr("10.86.0.0/24")],
        icc: true,
        internal: false,
        masquerade: true,
    });
    ctx(k.apply_firewall(&isolated), "apply_firewall with two networks")?;
    check(
        !reaches(Some("pb-client"), sock("10.85.0.2:80"), "web"),
        "other network reaches the container directly",
    )?;
    check(
        eventually_reaches(Some("pb-client"), sock("10.86.0.1:8080"), "web"),
        "published port not reachable from another netplan network",
    )
}

fn foreign_links_refused() -> TestResult {
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

fn processes() -> TestResult {
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

/// A real-kernel test: name and body.
type Case = (&'static str, fn() -> TestResult);

fn main() -> ExitCode {
    let mut args = Arguments::from_args();
    let everywhere = vec![
        Trial::test("fake::sequence", || sequence_on_fake().map_err(Into::into)),
        Trial::test("firewall::ruleset_shape", || ruleset_shape().map_err(Into::into)),
    ];
    let kernel: Vec<Case> = vec![
        ("real::matches_fake", real_matches_fake),
        ("real::netns_lifecycle", netns_lifecycle),
        ("real::bridge_and_veth", bridge_and_veth),
        ("real::tcp_same_bridge", tcp_same_bridge),
        ("real::firewall_isolation", firewall_isolation),
        ("real::firewall_icc_off", firewall_icc_off),
        ("real::firewall_internal", firewall_internal),
        ("real::firewall_publish", firewall_publish),
        ("real::foreign_links_refused", foreign_links_refused),
        ("real::processes", processes),
    ];
    let inside = match sandbox::enter() {
        Ok(Sandbox::Finished(code)) => return ExitCode::from(u8::try_from(code).unwrap_or(1)),
        Ok(Sandbox::Inside) => true,
        Ok(Sandbox::NotRoot) => {
            eprintln!(
                "note: the real-kernel tests need root (they run in a private namespace sandbox); reporting them as ignored"
            );
            false
        }
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    // The real-kernel tests share one sandbox (and one firewall): run them one at a time.
    args.test_threads = Some(1);
    let mut trials = everywhere;
    for (name, f) in kernel {
        trials.push(Trial::test(name, move || f().map_err(Into::into)).with_ignored_flag(!inside));
    }
    libtest_mimic::run(&args, trials).exit_code()
}
