//! Planning speed: IPAM + diff of N containers on N/10 networks against a state that
//! differs in 1% of the objects.
//!
//! Run: `cargo bench -p netplan-runtime --bench plan`

use netplan_lang::Topology;
use netplan_lang::check::check_text;
use netplan_runtime::desired::Desired;
use netplan_runtime::diff::diff;
use netplan_runtime::ipam::{HostReserved, allocate};
use netplan_runtime::lock::Lock;

fn main() {
    divan::main();
}

/// `containers` containers on `containers / 10` networks with explicit /20 subnets; every
/// tenth container also joins a second network and declares an alias.
fn topology_text(containers: usize, changed_every: Option<usize>) -> String {
    let networks = (containers / 10).max(1);
    let mut t = String::with_capacity(containers * 64);
    for n in 0..networks {
        let mtu = if changed_every.is_some_and(|k| n % k == 0) {
            "\n  mtu 1400"
        } else {
            ""
        };
        t.push_str(&format!(
            "network n{n} {{\n  subnet 10.{}.{}.0/20{mtu}\n}}\n",
            n / 16,
            (n % 16) * 16
        ));
    }
    for c in 0..containers {
        let mut net = c % networks;
        if changed_every.is_some_and(|k| c % k == 1) {
            net = (net + 1) % networks;
        }
        t.push_str(&format!("container c{c} {{\n  network n{net}"));
        if c % 10 == 0 {
            t.push_str(&format!(" {{ alias a{c} }}\n  network n{}", (net + 1) % networks));
        }
        t.push_str("\n}\n");
    }
    t
}

fn checked(text: &str) -> Topology {
    match check_text(text, "bench").topology {
        Some(t) => t,
        None => panic!("generated topology does not check"),
    }
}

struct Input {
    old: Desired,
    lock: Lock,
    new: Topology,
}

fn input(containers: usize) -> Input {
    let old_topo = checked(&topology_text(containers, None));
    let Ok(first) = allocate(&old_topo, &Lock::default(), &HostReserved::default()) else {
        panic!("allocation failed")
    };
    Input {
        old: first.desired,
        lock: first.lock,
        // 1% of networks change their MTU, 1% of containers move to another network.
        new: checked(&topology_text(containers, Some(100))),
    }
}

#[divan::bench(args = [1_000, 10_000], sample_count = 20)]
fn plan_1pct_changed(bencher: divan::Bencher, containers: usize) {
    let i = input(containers);
    bencher.bench(|| {
        let Ok(a) = allocate(divan::black_box(&i.new), &i.lock, &HostReserved::default()) else {
            panic!("allocation failed")
        };
        diff(&i.old, &a.desired)
    });
}
