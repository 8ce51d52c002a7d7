//! Helpers for the kernel tests: cleanup guards, TCP probes, and the shared sequence that runs
//! against both the real and the fake kernel.

pub mod net;
pub mod sequence;

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
