//! Firewall tests: the ruleset shape (everywhere) and its effect on real traffic (sandbox).

use std::time::Duration;

use netplan_runtime::kernel::{
    FirewallNetwork, FirewallSpec, Kernel, KernelError, Proto, PublishedPort, build_ruleset,
};

use super::net::{Server, eventually_reaches, fetch, reaches};
use super::{
    Cleanup, TestResult, bridge, check, cidr, container, container_with, ctx, has_table, nft_ruleset, real,
    sock,
};

pub fn ruleset_shape() -> TestResult {
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

pub fn firewall_isolation() -> TestResult {
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

pub fn firewall_internal() -> TestResult {
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

pub fn firewall_icc_off() -> TestResult {
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

pub fn firewall_publish() -> TestResult {
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
