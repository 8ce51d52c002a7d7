//! Parse, check and format a large generated topology: 1,000 networks with explicit
//! subnets and 10,000 containers attached to one or two networks each, some with static
//! addresses, aliases, links and MAC addresses.
//!
//! `cargo bench -p netplan-lang --bench check`. The allocation profiler reports, per
//! iteration, how much memory each stage allocates at most.

use std::fmt::Write as _;
use std::sync::LazyLock;

#[global_allocator]
static ALLOC: divan::AllocProfiler = divan::AllocProfiler::system();

const NETWORKS: usize = 1_000;
const CONTAINERS: usize = 10_000;

/// The generated topology's text.
static TEXT: LazyLock<String> = LazyLock::new(|| topology(NETWORKS, CONTAINERS));

/// `networks` networks `n{i}` with subnet `10.{i / 256}.{i % 256}.0/24`, and `containers`
/// containers `c{j}`. Container `j` joins network `j % networks` first; every other one also
/// joins a second network. Every third container has a static address on its first network
/// (hosts .10 and up, unique per network), every fourth an alias, every fifth a link to the
/// container before it on the same network, every seventh a MAC address.
fn topology(networks: usize, containers: usize) -> String {
    let mut s = String::with_capacity(containers * 120);
    for i in 0..networks {
        let _ = writeln!(
            s,
            "network n{i} {{\n  subnet 10.{}.{}.0/24\n}}\n",
            i / 256,
            i % 256
        );
    }
    for j in 0..containers {
        let first = j % networks;
        let _ = writeln!(s, "container c{j} {{\n  network n{first} {{");
        if j % 3 == 0 {
            let host = 10 + j / networks;
            let _ = writeln!(s, "    ip 10.{}.{}.{host}", first / 256, first % 256);
        }
        if j % 4 == 0 {
            let _ = writeln!(s, "    alias svc{}", j % 100);
        }
        if j % 5 == 0 && j >= networks {
            let _ = writeln!(s, "    link c{} as peer", j - networks);
        }
        if j % 7 == 0 {
            let _ = writeln!(
                s,
                "    mac 02:42:0a:{:02x}:{:02x}:{:02x}",
                j >> 16,
                (j >> 8) & 0xff,
                j & 0xff
            );
        }
        s.push_str("  }\n");
        if j % 2 == 1 {
            let _ = writeln!(s, "  network n{}", (first * 7 + 1) % networks);
        }
        s.push_str("}\n\n");
    }
    s
}

fn main() {
    let checked = netplan_lang::check::check_text(&TEXT, "bench");
    let errors: Vec<&str> = checked
        .diags
        .iter()
        .filter(|d| d.is_error())
        .map(|d| d.message.as_str())
        .take(5)
        .collect();
    assert!(errors.is_empty(), "the generated topology has errors: {errors:?}");
    eprintln!(
        "topology: {} bytes, {} networks, {} containers, checked: {}",
        TEXT.len(),
        NETWORKS,
        CONTAINERS,
        checked.topology.is_some()
    );
    divan::main();
}

/// Text → syntax tree.
#[divan::bench]
fn parse() -> usize {
    netplan_lang::parse(divan::black_box(&TEXT)).map_or(0, |f| f.items.len())
}

/// Text → syntax tree → checked topology.
#[divan::bench]
fn check() -> usize {
    let checked = netplan_lang::check::check_text(divan::black_box(&TEXT), "bench");
    checked.topology.map_or(0, |t| t.containers.len())
}

/// Text → canonical text.
#[divan::bench]
fn format() -> usize {
    netplan_lang::fmt::format(divan::black_box(&TEXT)).map_or(0, |s| s.len())
}
