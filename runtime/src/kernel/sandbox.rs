//! A throwaway namespace sandbox for tests that touch the real kernel.
//!
//! The test process re-executes itself through
//! `unshare --net --mount --pid --fork --mount-proc` (util-linux) with the environment marker
//! [`SANDBOX_ENV`]. Inside, it is pid 1 of a new pid namespace, in a new network namespace
//! (only `lo`, which it brings up) and a new mount namespace where `/` is made recursively
//! private and `/run/netns`, `/etc/netns`, `/var/lib/netplan` and `/run/netplan` are fresh
//! tmpfs mounts. Nothing done inside reaches the machine's own interfaces, routes, firewall or
//! namespaces, and when the sandboxed process exits the kernel ends every process and drops
//! every namespace and interface created inside (the backstop for cleanup).
//!
//! Two ways to use it:
//!
//! * a `harness = false` test binary calls [`enter`] first thing in `main` and runs its tests
//!   when it returns [`Sandbox::Inside`] (this crate's `tests/kernel.rs` does so with
//!   libtest-mimic);
//! * a normal `#[test]` wraps its body in [`run_test`], which re-runs just that test inside a
//!   sandbox and fails when it fails there.
//!
//! Without root both report that the kernel tests need root and do nothing.

use std::ffi::OsString;
use std::io;
use std::process::Command;
use std::sync::OnceLock;

use nix::mount::{MsFlags, mount};
use nix::unistd::{Pid, geteuid, getpid};

use super::LinuxKernel;

/// Environment variable set (to `1`) in the sandboxed re-execution.
pub const SANDBOX_ENV: &str = "NETPLAN_KERNEL_SANDBOX";

/// Environment variable naming the file a sandboxed [`run_test`] writes when its body ran.
const DONE_ENV: &str = "NETPLAN_KERNEL_SANDBOX_DONE";

/// Directories that get a private tmpfs inside the sandbox.
pub const PRIVATE_DIRS: [&str; 4] = ["/run/netns", "/etc/netns", "/var/lib/netplan", "/run/netplan"];

/// Where the caller of [`enter`] stands.
#[derive(Debug, PartialEq, Eq)]
pub enum Sandbox {
    /// This process is the sandbox: run the kernel tests now.
    Inside,
    /// The sandboxed re-execution ran and exited with this code; exit with it.
    Finished(i32),
    /// Not root: kernel tests cannot run (report them as ignored).
    NotRoot,
}

/// The sandbox could not be set up.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("kernel test sandbox: {0}")]
#[diagnostic(code(netplan::sandbox))]
pub struct SandboxError(String);

fn err(what: &str, e: impl std::fmt::Display) -> SandboxError {
    SandboxError(format!("{what}: {e}"))
}

/// Whether this process runs inside the sandbox (marker set and pid 1 of its pid namespace).
pub fn is_inside() -> bool {
    std::env::var_os(SANDBOX_ENV).is_some_and(|v| v == "1") && getpid() == Pid::from_raw(1)
}

/// Sets up the sandbox from inside: private mounts, tmpfs dirs, `lo` up. Runs once.
fn prepare_inside() -> Result<(), SandboxError> {
    static DONE: OnceLock<Result<(), String>> = OnceLock::new();
    let r = DONE.get_or_init(|| {
        let private = MsFlags::MS_REC | MsFlags::MS_PRIVATE;
        mount(None::<&str>, "/", None::<&str>, private, None::<&str>)
            .map_err(|e| format!("making / private: {e}"))?;
        for dir in PRIVATE_DIRS {
            std::fs::create_dir_all(dir).map_err(|e| format!("creating {dir}: {e}"))?;
            mount(Some("none"), dir, Some("tmpfs"), MsFlags::empty(), None::<&str>)
                .map_err(|e| format!("mounting tmpfs on {dir}: {e}"))?;
        }
        let kernel = LinuxKernel::new().map_err(|e| e.to_string())?;
        kernel.loopback_up().map_err(|e| e.to_string())
    });
    r.clone().map_err(SandboxError)
}

/// Runs this executable again inside a fresh sandbox with `args`; returns its exit code.
fn reexec_with(args: &[OsString], done: Option<&std::path::Path>) -> Result<i32, SandboxError> {
    let exe = std::env::current_exe().map_err(|e| err("finding the test executable", e))?;
    let mut cmd = Command::new("unshare");
    cmd.args(["--net", "--mount", "--pid", "--fork", "--mount-proc", "--"])
        .arg(exe)
        .args(args)
        .env(SANDBOX_ENV, "1");
    if let Some(done) = done {
        cmd.env(DONE_ENV, done);
    }
    let status = cmd.status().map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => err("running unshare (package util-linux)", e),
        _ => err("running unshare", e),
    })?;
    Ok(status.code().unwrap_or(1))
}

/// Entry point for `harness = false` kernel test binaries; see [`Sandbox`].
///
/// Refuses to run when the marker is set but this process is not pid 1 of its own pid
/// namespace (the marker alone must never make tests run on the real machine).
pub fn enter() -> Result<Sandbox, SandboxError> {
    if std::env::var_os(SANDBOX_ENV).is_some() {
        if !is_inside() {
            return Err(SandboxError(format!(
                "{SANDBOX_ENV} is set but this process is not the sandbox's pid 1; refusing to run"
            )));
        }
        prepare_inside()?;
        return Ok(Sandbox::Inside);
    }
    if !geteuid().is_root() {
        return Ok(Sandbox::NotRoot);
    }
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    reexec_with(&args, None).map(Sandbox::Finished)
}

/// Runs `body` inside a sandbox from a normal `#[test]` function.
///
/// `test_name` is the test's full name as the harness knows it (e.g. `apply::creates_bridge`).
/// Outside the sandbox this re-runs exactly that test in a fresh sandbox and panics (failing the
/// test) when it fails there; without root it prints a notice and returns. Inside, it prepares
/// the sandbox and runs `body`.
///
/// # Panics
/// Deliberately, as the way to fail the calling test: when the sandbox cannot be set up, when
/// the test fails inside it, or when no test called exactly `test_name` ran there.
pub fn run_test(test_name: &str, body: impl FnOnce()) {
    if std::env::var_os(SANDBOX_ENV).is_some() {
        if !is_inside() {
            panic!("{SANDBOX_ENV} is set but this process is not the sandbox's pid 1; refusing");
        }
        if let Err(e) = prepare_inside() {
            panic!("{e}");
        }
        body();
        // Tell the parent that this very test ran (a name matching nothing would run nothing).
        if let Some(done) = std::env::var_os(DONE_ENV) {
            let _ = std::fs::write(done, test_name);
        }
        return;
    }
    if !geteuid().is_root() {
        eprintln!("{test_name}: skipped, kernel tests need root");
        return;
    }
    let args: Vec<OsString> = [test_name, "--exact", "--test-threads=1", "--nocapture"]
        .iter()
        .map(OsString::from)
        .collect();
    let done = std::env::temp_dir().join(format!(
        "netplan-sandbox-{}-{}",
        std::process::id(),
        test_name.replace(|c: char| !c.is_ascii_alphanumeric(), "_")
    ));
    let _ = std::fs::remove_file(&done);
    let result = reexec_with(&args, Some(&done));
    let ran = std::fs::read_to_string(&done).is_ok_and(|s| s == test_name);
    let _ = std::fs::remove_file(&done);
    match result {
        Ok(0) if ran => {}
        Ok(0) => panic!("{test_name}: no test of that exact name ran inside the kernel sandbox"),
        Ok(code) => panic!("{test_name} failed inside the kernel sandbox (exit code {code})"),
        Err(e) => panic!("{e}"),
    }
}
