//! What the machine already uses, read without root: the host's IPv4 routes and its
//! nameservers, which automatic subnets avoid (Docker does the same), and the addresses other
//! topologies hold on the shared default bridge.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};

use ipnet::{IpNet, Ipv4Net};
use netplan_lang::model::NetworkKind;

use crate::desired::Desired;
use crate::ipam::HostReserved;

/// Parses `/proc/net/route` text into (destination, interface), skipping default routes
/// and interfaces listed in `ignore` (netplan's own bridges).
pub fn parse_proc_route(text: &str, ignore: &[String]) -> Vec<(Ipv4Net, String)> {
    let mut out = Vec::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 8 || ignore.iter().any(|i| i == f[0]) {
            continue;
        }
        let hex = |s: &str| {
            u32::from_str_radix(s, 16)
                .ok()
                .map(|v| Ipv4Addr::from(v.swap_bytes()))
        };
        let (Some(dest), Some(mask)) = (hex(f[1]), hex(f[7])) else {
            continue;
        };
        let len = u32::from(mask).count_ones() as u8;
        if len == 0 {
            continue;
        }
        if let Ok(net) = Ipv4Net::new(dest, len) {
            out.push((net.trunc(), f[0].to_string()));
        }
    }
    out
}

/// Nameserver addresses of a resolv.conf text.
pub fn parse_nameservers(text: &str) -> Vec<IpAddr> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("nameserver"))
        .filter_map(|rest| rest.split_whitespace().next())
        .filter_map(|a| a.parse().ok())
        .collect()
}

/// Search domains of a resolv.conf text (`search` and the older `domain`).
pub fn parse_search(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| {
            let l = l.trim();
            l.strip_prefix("search").or_else(|| l.strip_prefix("domain"))
        })
        .flat_map(|rest| rest.split_whitespace().map(str::to_string))
        .collect()
}

/// Reads this machine's routes and nameservers. Unreadable files count as empty: the
/// reservation is a courtesy to the host, not a correctness condition of the plan.
pub fn reserved(ignore_interfaces: &[String]) -> HostReserved {
    let mut ranges = Vec::new();
    if let Ok(t) = std::fs::read_to_string("/proc/net/route") {
        for (net, dev) in parse_proc_route(&t, ignore_interfaces) {
            ranges.push((IpNet::V4(net), format!("host route via {dev}")));
        }
    }
    if let Ok(t) = std::fs::read_to_string("/etc/resolv.conf") {
        for ns in parse_nameservers(&t) {
            if !ns.is_loopback() {
                ranges.push((IpNet::from(ns), "host nameserver".to_string()));
            }
        }
    }
    HostReserved {
        ranges,
        ..HostReserved::default()
    }
}

/// The addresses that containers of the other applied topologies hold on the default
/// bridge, which all topologies share, with who holds each. Stopped containers keep theirs.
pub fn default_bridge_holders(applied: &[Desired], topology: &str) -> BTreeMap<IpAddr, String> {
    let mut out = BTreeMap::new();
    for d in applied.iter().filter(|d| d.topology != topology) {
        let shared: Vec<&str> = d
            .networks
            .iter()
            .filter(|n| n.kind == NetworkKind::DefaultBridge)
            .map(|n| n.name.as_str())
            .collect();
        for (c, e) in d
            .endpoints()
            .filter(|(_, e)| shared.contains(&e.network.as_str()))
        {
            let who = || format!("container {} of topology {}", c.name, d.topology);
            for ip in [
                e.ipv4.map(|a| IpAddr::V4(a.addr())),
                e.ipv6.map(|a| IpAddr::V6(a.addr())),
            ]
            .into_iter()
            .flatten()
            {
                out.entry(ip).or_insert_with(who);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn applied(name: &str, text: &str) -> Desired {
        let Some(topo) = netplan_lang::check::check_text(text, name).topology else {
            panic!("{name} does not check")
        };
        match crate::ipam::allocate(&topo, &crate::lock::Lock::default(), &HostReserved::default()) {
            Ok(a) => a.desired,
            Err(e) => panic!("{e:?}"),
        }
    }

    #[test]
    fn default_bridge_holders_are_other_topologies_on_the_default_bridge() {
        let shop = applied(
            "shop",
            "network n { subnet 10.5.0.0/24 }\ncontainer web {}\ncontainer x { network n }\n",
        );
        let mine = applied("mine", "container a {}\n");
        let held = default_bridge_holders(&[shop, mine], "mine");
        let held: Vec<(String, &str)> = held
            .iter()
            .map(|(ip, who)| (ip.to_string(), who.as_str()))
            .collect();
        // web's address on the default bridge; not x's on a network of its own, not mine's.
        assert_eq!(
            held,
            [("172.17.0.2".to_string(), "container web of topology shop")]
        );
    }

    #[test]
    fn proc_route() {
        let t = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
                 eth0\t00000000\t0100A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n\
                 eth0\t0000A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n\
                 br-x\t000012AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n";
        let r = parse_proc_route(t, &["br-x".to_string()]);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].0.to_string(), "192.168.0.0/24");
    }

    #[test]
    fn resolv_conf() {
        let t = "# c\nnameserver 10.0.0.2\nnameserver ::1\nsearch a.example b.example\noptions ndots:1\n";
        assert_eq!(parse_nameservers(t).len(), 2);
        assert_eq!(parse_search(t), ["a.example", "b.example"]);
    }
}
