//! IPAM behaviours taken from Docker, one case each, through the whole front end.

use netplan_lang::check::check_text;
use netplan_runtime::desired::Desired;
use netplan_runtime::ipam::{HostReserved, allocate};
use netplan_runtime::lock::Lock;

fn plan_with(text: &str, lock: &Lock, host: &HostReserved) -> (Desired, Lock, Vec<String>) {
    let checked = check_text(text, "cases");
    let Some(topo) = checked.topology else {
        panic!("does not check: {:?}", checked.diags)
    };
    match allocate(&topo, lock, host) {
        Ok(a) => (
            a.desired,
            a.lock,
            a.notes
                .into_iter()
                .map(|n| format!("{}: {}", n.address, n.message))
                .collect(),
        ),
        Err(e) => panic!("allocation failed: {e:?}"),
    }
}

fn plan(text: &str) -> Desired {
    plan_with(text, &Lock::default(), &HostReserved::default()).0
}

fn ipv4(d: &Desired, c: &str, net: &str) -> String {
    d.container(c)
        .and_then(|c| c.endpoints.iter().find(|e| e.network == net))
        .and_then(|e| e.ipv4)
        .map(|n| n.addr().to_string())
        .unwrap_or_default()
}

#[test]
fn default_bridge_takes_172_17_and_user_networks_follow() {
    let d = plan(
        "network a {}\nnetwork b {}\ncontainer x {}\ncontainer y { network a }\ncontainer z { network b }\n",
    );
    assert_eq!(ipv4(&d, "x", "bridge"), "172.17.0.2");
    assert_eq!(ipv4(&d, "y", "a"), "172.18.0.2");
    assert_eq!(ipv4(&d, "z", "b"), "172.19.0.2");
}

#[test]
fn automatic_subnets_skip_declared_and_host_ranges_and_say_why() {
    let host = HostReserved {
        ranges: vec![(
            "172.18.5.0/24".parse().unwrap_or_default(),
            "host route via eth0".into(),
        )],
        ..HostReserved::default()
    };
    let (d, _, _) = plan_with(
        "network a {}\ncontainer y { network a }\n",
        &Lock::default(),
        &host,
    );
    // No default bridge in use: the first pool, 172.17, goes to the first network.
    assert_eq!(ipv4(&d, "y", "a"), "172.17.0.2");
    let (d2, _, notes2) = plan_with(
        "network z { subnet 172.17.0.0/16 }\nnetwork a {}\ncontainer y { network a }\n",
        &Lock::default(),
        &host,
    );
    // 172.17 declared, 172.18 overlaps a host route (skipped, with the reason), 172.19 it is.
    assert_eq!(ipv4(&d2, "y", "a"), "172.19.0.2");
    assert!(
        notes2
            .iter()
            .any(|n| n.contains("skipped 172.18.0.0/16") && n.contains("host route via eth0")),
        "{notes2:?}"
    );
}

#[test]
fn gateway_aux_and_static_addresses_are_never_handed_out() {
    let d = plan(
        "network n { subnet 10.1.0.0/24; aux printer 10.1.0.2 }\n\
         container s { network n { ip 10.1.0.3 } }\n\
         container a { network n }\ncontainer b { network n }\n",
    );
    assert_eq!(ipv4(&d, "a", "n"), "10.1.0.4");
    assert_eq!(ipv4(&d, "b", "n"), "10.1.0.5");
}

#[test]
fn ip_range_restricts_dynamic_addresses_only() {
    let d = plan(
        "network n { subnet 10.2.0.0/16; ip-range 10.2.2.0/24 }\n\
         container a { network n }\ncontainer s { network n { ip 10.2.9.9 } }\n",
    );
    assert_eq!(ipv4(&d, "a", "n"), "10.2.2.0");
    assert_eq!(ipv4(&d, "s", "n"), "10.2.9.9");
}

#[test]
fn mac_interfaces_and_default_route_follow_docker() {
    let d = plan(
        "network isolated_nw { subnet 172.25.0.0/16 }\nnetwork back { subnet 10.9.0.0/24; internal }\n\
         container c { network back; network isolated_nw }\n",
    );
    let c = d.container("c").unwrap_or_else(|| panic!("no container"));
    assert_eq!(c.endpoints[0].interface, "eth0");
    assert_eq!(c.endpoints[1].interface, "eth1");
    assert_eq!(c.endpoints[1].mac.to_string(), "02:42:ac:19:00:02");
    // The internal network comes first but cannot carry the default route.
    assert!(!c.endpoints[0].default_route && c.endpoints[1].default_route);
}

#[test]
fn ipv6_gateway_is_1_and_containers_start_at_2_with_ula_when_undeclared() {
    let d = plan(
        "network v { subnet fd00:9::/64; ipv6 }\nnetwork u { ipv6 }\ncontainer c { network v; network u }\n",
    );
    let c = d.container("c").unwrap_or_else(|| panic!("no container"));
    assert_eq!(
        c.endpoints[0].ipv6.map(|n| n.to_string()).as_deref(),
        Some("fd00:9::2/64")
    );
    assert_eq!(
        c.endpoints[0].gateway6.map(|g| g.to_string()).as_deref(),
        Some("fd00:9::1")
    );
    let ula = c.endpoints[1].ipv6.map(|n| n.to_string()).unwrap_or_default();
    assert!(ula.starts_with("fd") && ula.ends_with("::2/64"), "{ula}");
}

#[test]
fn the_default_bridge_skips_what_other_topologies_hold() {
    let text = "container a {}\ncontainer b {}\n";
    let (_, lock, _) = plan_with(text, &Lock::default(), &HostReserved::default());
    // Another topology was applied since, and holds 172.17.0.2 and .4 on the shared bridge.
    let mut host = HostReserved::default();
    for (ip, who) in [("172.17.0.2", "web"), ("172.17.0.4", "db")] {
        if let Ok(ip) = ip.parse() {
            host.default_bridge
                .insert(ip, format!("container {who} of topology shop"));
        }
    }
    // Without a lock: a and b take the lowest addresses nobody holds.
    let (d, _, _) = plan_with(text, &Lock::default(), &host);
    assert_eq!(ipv4(&d, "a", "bridge"), "172.17.0.3");
    assert_eq!(ipv4(&d, "b", "bridge"), "172.17.0.5");
    // With the lock that pinned a to .2 and b to .3: a moves, and the plan says why.
    let (d, _, notes) = plan_with(text, &lock, &host);
    assert_eq!(ipv4(&d, "b", "bridge"), "172.17.0.3");
    assert_eq!(ipv4(&d, "a", "bridge"), "172.17.0.5");
    assert!(
        notes.iter().any(|n| n.starts_with("endpoint.a.bridge:")
            && n.contains(
                "172.17.0.2 is held by container web of topology shop on the shared default bridge"
            )),
        "{notes:?}"
    );
    // A user-defined network is not shared: the same addresses are free there.
    let (d, _, _) = plan_with(
        "network n { subnet 172.17.0.0/16 }\ncontainer a { network n }\n",
        &Lock::default(),
        &host,
    );
    assert_eq!(ipv4(&d, "a", "n"), "172.17.0.2");
}

#[test]
fn unique_local_subnets_are_handed_out_in_order_around_declared_ones() {
    let ula: Vec<String> = netplan_runtime::ipam::pools::ula_v6("cases")
        .take(4)
        .map(|n| n.to_string())
        .collect();
    // The second /64 is declared by c: the automatic ones take the first, third and fourth.
    let text = format!(
        "network a {{ ipv6 }}\nnetwork b {{ ipv6 }}\nnetwork c {{ subnet {}; ipv6 }}\n\
         network d {{ ipv6 }}\ncontainer x {{ network a; network b; network c; network d }}\n",
        ula[1]
    );
    let d = plan(&text);
    let subnet6 = |n: &str| {
        d.network(n)
            .and_then(|n| n.subnet6())
            .map(|s| s.cidr.to_string())
            .unwrap_or_default()
    };
    assert_eq!(
        [subnet6("a"), subnet6("b"), subnet6("c"), subnet6("d")],
        [ula[0].clone(), ula[2].clone(), ula[1].clone(), ula[3].clone()]
    );
}

#[test]
fn published_ports_get_stable_ephemeral_host_ports() {
    let text = "network n { subnet 10.3.0.0/24 }\n\
                container a { network n; publish 80 }\n\
                container b { network n; publish 49153:80; publish 53/udp }\n";
    let (d, lock, _) = plan_with(text, &Lock::default(), &HostReserved::default());
    let port = |c: &str, p: u16| {
        d.container(c)
            .and_then(|c| c.ports.iter().find(|x| x.port == p))
            .map(|x| (x.host_port, x.automatic))
    };
    // 49153 is declared by b, so a's automatic port is the next one.
    assert_eq!(port("a", 80), Some((49154, true)));
    assert_eq!(port("b", 80), Some((49153, false)));
    assert_eq!(
        port("b", 53),
        Some((49153, true)),
        "another protocol: the same number is free"
    );
    // Adding a container that publishes before a does not move a's port.
    let more = format!("container first {{ network n; publish 8080 }}\n{text}");
    let (d2, _, _) = plan_with(&more, &lock, &HostReserved::default());
    let port2 = |c: &str, p: u16| {
        d2.container(c)
            .and_then(|c| c.ports.iter().find(|x| x.port == p))
            .map(|x| x.host_port)
    };
    assert_eq!(port2("a", 80), Some(49154));
    assert_eq!(port2("first", 8080), Some(49155));
}

#[test]
fn ephemeral_ports_respect_wildcard_and_address_bindings() {
    // A wildcard binding clashes with a binding on any address, and the other way round;
    // bindings on two different addresses do not clash.
    let text = "network n { subnet 10.3.0.0/24 }\n\
                container a { network n; publish 127.0.0.1:49153:80 }\n\
                container b { network n; publish 80 }\n\
                container c { network n; publish 127.0.0.2::80 }\n\
                container d { network n; publish 127.0.0.1::80 }\n\
                container e { network n; publish 80; publish 81 }\n\
                container f { network n; publish 127.0.0.2::80 }\n";
    let (d, _, _) = plan_with(text, &Lock::default(), &HostReserved::default());
    let ports = |c: &str| -> Vec<u16> {
        d.container(c)
            .map(|c| c.ports.iter().map(|x| x.host_port).collect())
            .unwrap_or_default()
    };
    assert_eq!(ports("a"), [49153]);
    assert_eq!(ports("b"), [49154], "49153 is taken on 127.0.0.1");
    assert_eq!(ports("c"), [49153], "another address: 49153 is free there");
    assert_eq!(ports("d"), [49155], "49153 is a's, 49154 b's wildcard");
    assert_eq!(ports("e"), [49156, 49157]);
    // c's and b's ports are taken for 127.0.0.2; d's is on another address.
    assert_eq!(ports("f"), [49155]);
}

#[test]
fn a_lock_entry_that_no_longer_fits_is_replaced_with_a_note() {
    let (_, lock, _) = plan_with(
        "network n { subnet 10.4.0.0/24 }\ncontainer a { network n }\n",
        &Lock::default(),
        &HostReserved::default(),
    );
    // Now b claims a's locked address statically.
    let (d, _, notes) = plan_with(
        "network n { subnet 10.4.0.0/24 }\ncontainer a { network n }\ncontainer b { network n { ip 10.4.0.2 } }\n",
        &lock,
        &HostReserved::default(),
    );
    assert_eq!(ipv4(&d, "b", "n"), "10.4.0.2");
    assert_eq!(ipv4(&d, "a", "n"), "10.4.0.3");
    assert!(
        notes
            .iter()
            .any(|n| n.contains("endpoint.a.n") && n.contains("10.4.0.2")),
        "{notes:?}"
    );
}
