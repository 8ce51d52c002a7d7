//! Helpers for the kernel tests: cleanup guards, TCP probes, and the shared sequence that runs
//! against both the real and the fake kernel.

pub mod cases_firewall;
pub mod cases_links;
pub mod net;
pub mod sequence;

use std::net::SocketAddr;
use std::process::Command;

use netplan_runtime::kernel::{BridgeSpec, LinuxKernel, RouteSpec, VethSpec, tag_for};

use netplan_runtime::kernel::Kernel;

/// Deletes what a test created when dropped, also when the test fails half-way.
/// Errors are ignored: the sandbox going away is the final backstop.
pub struct Cleanup<'k> {
    kernel: &'k dyn Kernel,
    links: Vec<String>,
    netns: Vec<String>,
    firewall: bool,
}

impl<'k> Cleanup<'k> {
    /// A guard for objects created through `kernel`.
    pub fn new(kernel: &'k dyn Kernel) -> Self {
        Cleanup {
            kernel,
            links: Vec::new(),
            netns: Vec::new(),
            firewall: false,
        }
    }

    /// Deletes host link `name` at the end.
    pub fn link(&mut self, name: &str) {
        self.links.push(name.to_string());
    }

    /// Deletes namespace `name` at the end.
    pub fn netns(&mut self, name: &str) {
        self.netns.push(name.to_string());
    }

    /// Removes the firewall at the end.
    pub fn firewall(&mut self) {
        self.firewall = true;
    }
}

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        if self.firewall {
            let _ = self.kernel.remove_firewall();
        }
        for ns in self.netns.iter().rev() {
            let _ = self.kernel.delete_netns(ns);
        }
        for link in self.links.iter().rev() {
            let _ = self.kernel.delete_link(None, link);
        }
    }
}

/// Test failure with a message (tests return `Result<(), String>`).
pub type TestResult = Result<(), String>;

/// Turns any displayable error into a test failure that says what was being done.
pub fn ctx<T, E: std::fmt::Display>(r: Result<T, E>, what: &str) -> Result<T, String> {
    r.map_err(|e| format!("{what}: {e}"))
}

/// Fails with `msg` unless `cond`.
pub fn check(cond: bool, msg: impl Into<String>) -> TestResult {
    if cond { Ok(()) } else { Err(msg.into()) }
}

/// Topology name used in the tags of objects the tests create.
pub const TOPO: &str = "ktest";

pub fn cidr(s: &str) -> ipnet::IpNet {
    s.parse().unwrap_or_else(|_| panic!("bad test CIDR {s}"))
}

pub fn sock(s: &str) -> SocketAddr {
    s.parse()
        .unwrap_or_else(|_| panic!("bad test socket address {s}"))
}

pub fn real() -> Result<LinuxKernel, String> {
    ctx(LinuxKernel::new(), "opening the kernel")
}

pub fn bridge(name: &str, gw: &str) -> BridgeSpec {
    BridgeSpec {
        name: name.into(),
        mtu: None,
        addresses: vec![cidr(gw)],
        tag: tag_for(TOPO),
    }
}

/// A container namespace `ns` attached to `br` with `addr` (e.g. `10.80.0.2/24`) and a
/// default route via `gw`. The host end is called `v-<ns>`.
pub fn container(k: &dyn Kernel, c: &mut Cleanup, ns: &str, br: &str, addr: &str, gw: &str) -> TestResult {
    container_with(k, c, ns, br, addr, gw, false)
}

pub fn container_with(
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
pub fn has_table(rules: &serde_json::Value, family: &str, name: &str) -> bool {
    rules["nftables"].as_array().is_some_and(|items| {
        items
            .iter()
            .any(|i| i["table"]["family"] == family && i["table"]["name"] == name)
    })
}

pub fn nft_ruleset() -> Result<serde_json::Value, String> {
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
