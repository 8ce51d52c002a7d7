//! Planning speed: IPAM + diff of N containers on N/10 networks against a state that
//! differs in 1% of the objects.
//!
//! Run: `cargo bench -p netplan-runtime --bench plan`
//!
//! Two measurements of the same work:
//! - `warm`: the plan run again and again. The 1,000-container case then stays in the CPU's
//!   2 MB L2 cache from one run to the next; the 10,000-container one (9 MB of input and up
//!   to 7 MB allocated by the plan) cannot. This is the one the growth target (10x objects,
//!   at most 12x time) is read on.
//! - `cold`: the caches are flushed before every run, as `netplan plan` meets them: it plans
//!   once per process, after reading the file, the lock, the recorded state and the kernel.
//!
//! The result (desired state, lock and plan) is handed back and dropped outside the timing,
//! as the command goes on to use it.
//!
//! `ephemeral_ports` and `ula_subnets` allocate what is chosen anew in every run: a host
//! port per container, an IPv6 /64 per network. They guard against quadratic searches.

use netplan_lang::Topology;
use netplan_lang::check::check_text;
use netplan_runtime::desired::Desired;
use netplan_runtime::diff::{Plan, diff};
use netplan_runtime::ipam::{Allocated, HostReserved, allocate};
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

fn plan(i: &Input) -> (Plan, Allocated) {
    let Ok(a) = allocate(divan::black_box(&i.new), &i.lock, &HostReserved::default()) else {
        panic!("allocation failed")
    };
    (diff(&i.old, &a.desired), a)
}

/// 1,000 and 10,000 are the sizes the targets name; the others show where the time per
/// container steps up: past the L2 cache (2 MB here) and past the L3 (32 MB, shared).
#[divan::bench(args = [1_000, 2_000, 5_000, 10_000, 20_000], sample_count = 100)]
fn warm(bencher: divan::Bencher, containers: usize) {
    let i = input(containers);
    bencher.bench(|| plan(&i));
}

/// Larger than every cache of the machines this runs on (2 MB L2, 32 MB L3 here).
const EVICT_BYTES: usize = 128 << 20;

#[divan::bench(args = [1_000, 10_000], sample_count = 40, sample_size = 1)]
fn cold(bencher: divan::Bencher, containers: usize) {
    let i = input(containers);
    let mut evict = vec![0u8; EVICT_BYTES];
    bencher
        .with_inputs(|| {
            // Writing a line of every 64 bytes pushes the plan's data out of every cache.
            for b in evict.iter_mut().step_by(64) {
                *b = b.wrapping_add(1);
            }
            divan::black_box(&evict);
        })
        .bench_local_values(|()| plan(&i));
}

/// IPAM without a lock or host: everything is chosen in this run.
fn allocate_afresh(topo: &Topology) -> Result<Allocated, Vec<netplan_lang::Diag>> {
    allocate(divan::black_box(topo), &Lock::default(), &HostReserved::default())
}

/// `containers` containers that each publish port 80 without a host port, planned without a
/// lock: every host port is chosen from the ephemeral range in this run.
fn publishing_text(containers: usize) -> String {
    let mut t = String::from("network n {\n  subnet 10.0.0.0/16\n}\n");
    for c in 0..containers {
        t.push_str(&format!("container c{c} {{\n  network n\n  publish 80\n}}\n"));
    }
    t
}

#[divan::bench(args = [1_000, 10_000], sample_count = 20)]
fn ephemeral_ports(bencher: divan::Bencher, containers: usize) {
    let topo = checked(&publishing_text(containers));
    bencher.bench(|| allocate_afresh(&topo));
}

/// `networks` IPv6 networks without a declared subnet: every one gets a unique-local /64.
fn ipv6_text(networks: usize) -> String {
    (0..networks)
        .map(|n| format!("network n{n} {{\n  ipv6\n}}\n"))
        .collect()
}

#[divan::bench(args = [100, 1_000], sample_count = 20)]
fn ula_subnets(bencher: divan::Bencher, networks: usize) {
    let topo = checked(&ipv6_text(networks));
    bencher.bench(|| allocate_afresh(&topo));
}
