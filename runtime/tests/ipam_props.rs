//! Properties of IPAM and the diff over random valid topologies.

use std::collections::HashSet;
use std::net::IpAddr;

use netplan_lang::check::check_text;
use netplan_runtime::desired::Desired;
use netplan_runtime::diff::diff;
use netplan_runtime::ipam::{HostReserved, allocate};
use netplan_runtime::lock::Lock;
use proptest::prelude::*;

/// A random topology as text: networks with and without subnets (and ip-ranges, aux
/// addresses, IPv6), containers on one to three networks, some static addresses.
#[derive(Debug, Clone)]
struct Spec {
    /// (explicit subnet?, ipv6?, ip-range?, aux?) per network.
    nets: Vec<(bool, bool, bool, bool)>,
    /// Per container: (network index, static host number or 0) for each attachment.
    containers: Vec<Vec<(usize, u8)>>,
}

impl Spec {
    fn text(&self, skip_container: Option<usize>) -> String {
        let mut t = String::new();
        for (i, (explicit, v6, range, aux)) in self.nets.iter().enumerate() {
            t.push_str(&format!("network n{i} {{\n"));
            if *explicit {
                t.push_str(&format!("  subnet 10.{i}.0.0/24\n"));
                if *range {
                    t.push_str(&format!("  ip-range 10.{i}.0.128/25\n"));
                }
                if *aux {
                    t.push_str(&format!("  aux printer 10.{i}.0.130\n"));
                }
            }
            if *v6 {
                t.push_str("  ipv6\n");
            }
            t.push_str("}\n");
        }
        let mut used_static: HashSet<(usize, u8)> = HashSet::new();
        for (ci, atts) in self.containers.iter().enumerate() {
            // The skipped container is still walked, so that the others' statements stay
            // exactly as they were.
            let mut out = format!("container c{ci} {{\n");
            let mut seen = HashSet::new();
            for (ni, host) in atts {
                let ni = ni % self.nets.len();
                if !seen.insert(ni) {
                    continue;
                }
                let (explicit, _, _, aux) = self.nets[ni];
                // Static addresses only where Docker allows them, never twice, never the aux.
                let host = *host;
                if explicit
                    && (2..=250).contains(&host)
                    && !(aux && host == 130)
                    && used_static.insert((ni, host))
                {
                    out.push_str(&format!("  network n{ni} {{ ip 10.{ni}.0.{host} }}\n"));
                } else {
                    out.push_str(&format!("  network n{ni}\n"));
                }
            }
            out.push_str("}\n");
            if Some(ci) != skip_container {
                t.push_str(&out);
            }
        }
        t
    }
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        prop::collection::vec((any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>()), 1..6),
        prop::collection::vec(prop::collection::vec((0usize..6, any::<u8>()), 1..4), 0..25),
    )
        .prop_map(|(nets, containers)| Spec { nets, containers })
}

fn plan(text: &str, lock: &Lock) -> (Desired, Lock) {
    let checked = check_text(text, "prop");
    let Some(topo) = checked.topology else {
        panic!("generated topology does not check:\n{text}\n{:?}", checked.diags);
    };
    match allocate(&topo, lock, &HostReserved::default()) {
        Ok(a) => (a.desired, a.lock),
        Err(e) => panic!("allocation failed:\n{text}\n{e:?}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn addresses_are_unique_inside_and_unreserved(s in spec()) {
        let (d, _) = plan(&s.text(None), &Lock::default());
        let mut seen: HashSet<IpAddr> = HashSet::new();
        for (c, e) in d.endpoints() {
            let net = d.network(&e.network).unwrap_or_else(|| panic!("endpoint on unknown network"));
            for addr in [e.ipv4.map(|n| IpAddr::V4(n.addr())), e.ipv6.map(|n| IpAddr::V6(n.addr()))].into_iter().flatten() {
                prop_assert!(seen.insert(addr), "{addr} given twice (container {})", c.name);
                let subnet = net.subnets.iter().find(|s| s.cidr.contains(&addr));
                let subnet = subnet.unwrap_or_else(|| panic!("{addr} outside every subnet of {}", net.name));
                prop_assert_ne!(addr, subnet.gateway);
                prop_assert_ne!(addr, subnet.cidr.network());
                if addr.is_ipv4() {
                    prop_assert_ne!(addr, subnet.cidr.broadcast());
                }
                prop_assert!(!subnet.aux.values().any(|a| *a == addr), "{addr} is an aux address");
            }
        }
    }

    #[test]
    fn replanning_an_unchanged_file_is_empty(s in spec()) {
        let text = s.text(None);
        let (first, lock) = plan(&text, &Lock::default());
        let (second, lock2) = plan(&text, &lock);
        prop_assert!(diff(&first, &second).is_empty());
        prop_assert_eq!(lock, lock2);
    }

    #[test]
    fn removing_a_container_moves_no_other_address(s in spec(), victim in 0usize..25) {
        let (before, lock) = plan(&s.text(None), &Lock::default());
        let (after, _) = plan(&s.text(Some(victim)), &lock);
        for c in &after.containers {
            let Some(old) = before.container(&c.name) else { continue };
            for e in &c.endpoints {
                let o = old.endpoints.iter().find(|o| o.network == e.network);
                prop_assert_eq!(o.map(|o| (o.ipv4, o.ipv6)), Some((e.ipv4, e.ipv6)), "{} moved", c.name);
            }
        }
    }
}
