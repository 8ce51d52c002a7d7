//! The real `netplan dns` process, managed the way apply manages it: start, reload, SIGHUP,
//! kill, restart, stop. Runs inside a throwaway namespace sandbox (root only; skipped otherwise).

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use netplan_runtime::desired::Desired;
use netplan_runtime::dns::probe::{self, Question, RecordType};
use netplan_runtime::dns::{self, control::Paths, service};
use netplan_runtime::ipam::HostReserved;
use netplan_runtime::kernel::sandbox;
use netplan_runtime::kernel::{Kernel, LinuxKernel, tag_for};
use netplan_runtime::lock::Lock;
use netplan_runtime::planning::against_applied;
use netplan_runtime::state::StateDir;

const DNS: SocketAddr = SocketAddr::new(IpAddr::V4(dns::LISTEN_IP), 53);
const EXE: &str = env!("CARGO_BIN_EXE_netplan");

fn walkthrough() -> Result<Desired, String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/walkthrough.net");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let topo = netplan_lang::check::check_text(&text, "walkthrough")
        .topology
        .ok_or("the walkthrough has errors")?;
    against_applied(&topo, &Lock::default(), None, &HostReserved::default())
        .map(|p| p.allocated.desired)
        .map_err(|d| format!("{d:?}"))
}

fn ip(d: &Desired, c: &str, net: &str) -> Result<IpAddr, String> {
    d.container(c)
        .and_then(|c| c.endpoints.iter().find(|e| e.network == net))
        .and_then(|e| e.ipv4)
        .map(|n| IpAddr::V4(n.addr()))
        .ok_or_else(|| format!("{c} has no address on {net}"))
}

fn answer(from: &str, name: &str) -> Result<Vec<IpAddr>, String> {
    probe::ask(
        Some(from),
        DNS,
        &Question::udp(name, RecordType::A),
        Duration::from_secs(2),
    )
    .map(|r| r.ips())
    .map_err(|e| format!("{from} asking {name}: {e}"))
}

fn expect(from: &str, name: &str, want: IpAddr) -> Result<(), String> {
    let got = answer(from, name)?;
    if got == [want] {
        Ok(())
    } else {
        Err(format!("{from} asks {name}: {got:?}, want {want}"))
    }
}

fn set_stopped(d: &mut Desired, name: &str, stopped: bool) {
    for c in &mut d.containers {
        if c.name == name {
            c.stopped = stopped;
        }
    }
}

/// Namespaces made for the test; deleted when dropped, also on failure.
struct Namespaces {
    kernel: LinuxKernel,
    names: Vec<String>,
}

impl Drop for Namespaces {
    fn drop(&mut self) {
        for n in &self.names {
            let _ = self.kernel.delete_netns(n);
        }
    }
}

fn signal(pid: u32, sig: &str) -> Result<(), String> {
    let ok = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .map_err(|e| format!("running kill: {e}"))?
        .success();
    if ok {
        Ok(())
    } else {
        Err(format!("kill {sig} {pid} failed"))
    }
}

fn wait_for(what: &str, mut cond: impl FnMut() -> bool) -> Result<(), String> {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        if cond() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Err(format!("timed out waiting until {what}"))
}

fn body() -> Result<(), String> {
    let state = StateDir::new("/var/lib/netplan");
    let exe = Path::new(EXE);
    let mut desired = walkthrough()?;
    let kernel = LinuxKernel::new().map_err(|e| e.to_string())?;
    let mut spaces = Namespaces {
        kernel,
        names: Vec::new(),
    };
    for ns in desired.containers.iter().filter_map(|c| c.netns()) {
        spaces
            .kernel
            .create_netns(ns, &tag_for("dnsproc"))
            .map_err(|e| e.to_string())?;
        spaces.names.push(ns.to_string());
    }
    state.save_applied(&desired).map_err(|e| e.to_string())?;

    // apply: the first sync starts the service, which serves at once. Apply holds the state
    // lock meanwhile; the service must not inherit it.
    let apply_lock = state
        .lock(Duration::from_secs(1), || {})
        .map_err(|e| e.to_string())?;
    let first = service::sync(&state, exe)
        .map_err(|e| format!("{e:?}"))?
        .ok_or("the service must run")?;
    drop(apply_lock);
    state
        .lock(Duration::from_millis(200), || {})
        .map_err(|e| format!("the service kept apply's state lock: {e}"))?;
    if !first.started || !first.status.failed.is_empty() {
        return Err(format!("first sync: {first:?}"));
    }
    expect("container4", "c5", ip(&desired, "container5", "isolated_nw")?)?;
    expect("container4", "app", ip(&desired, "container6", "isolated_nw")?)?;

    // A change plus reload: answered as soon as reload returns.
    set_stopped(&mut desired, "container6", true);
    state.save_applied(&desired).map_err(|e| e.to_string())?;
    let again = service::sync(&state, exe).map_err(|e| format!("{e:?}"))?;
    if again.as_ref().map(|r| (r.started, r.pid)) != Some((false, first.pid)) {
        return Err(format!("second sync must reload the same service: {again:?}"));
    }
    expect("container4", "app", ip(&desired, "container7", "isolated_nw")?)?;

    // netplan status sees it.
    let out = Command::new(EXE)
        .args(["--state-dir", "/var/lib/netplan", "status", "--json"])
        .output()
        .map_err(|e| e.to_string())?;
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())?;
    let served = json["dns"]["status"]["namespaces"].as_array().map_or(0, Vec::len);
    if json["dns"]["pid"] != first.pid || served != again.map_or(0, |r| r.status.namespaces.len()) {
        return Err(format!("status --json: {json}"));
    }

    // SIGHUP reloads too.
    set_stopped(&mut desired, "container6", false);
    state.save_applied(&desired).map_err(|e| e.to_string())?;
    signal(first.pid, "-HUP")?;
    let c6 = ip(&desired, "container6", "isolated_nw")?;
    wait_for("SIGHUP made app answer container6", || {
        answer("container4", "app").is_ok_and(|a| a == [c6])
    })?;

    // Killed: nothing answers until apply starts it again, then the same answers.
    signal(first.pid, "-KILL")?;
    wait_for("the killed service is gone", || {
        service::status(&state).is_ok_and(|s| s.is_none())
    })?;
    if answer("container4", "app").is_ok() {
        return Err("a killed service still answers".into());
    }
    let restarted = service::ensure_running(&state, exe).map_err(|e| format!("{e:?}"))?;
    if !restarted.started || restarted.pid == first.pid {
        return Err(format!("ensure_running after the kill: {restarted:?}"));
    }
    expect("container4", "app", c6)?;
    expect("container4", "c5", ip(&desired, "container5", "isolated_nw")?)?;
    expect("container5", "bar", ip(&desired, "container4", "local_alias")?)?;

    // destroy of the last topology: sync stops it.
    state.remove(&desired.topology).map_err(|e| e.to_string())?;
    if service::sync(&state, exe)
        .map_err(|e| format!("{e:?}"))?
        .is_some()
    {
        return Err("sync without topologies must stop the service".into());
    }
    if service::status(&state).map_err(|e| format!("{e:?}"))?.is_some() {
        return Err("the service still answers after stop".into());
    }
    let log = std::fs::read_to_string(Paths::new(&state).log).unwrap_or_default();
    if log.matches("started for").count() != 2 || !log.contains("stop requested") {
        return Err(format!("log:\n{log}"));
    }
    Ok(())
}

#[test]
fn service_process_start_reload_kill_restart() {
    sandbox::run_test("service_process_start_reload_kill_restart", || {
        if let Err(e) = body() {
            panic!("{e}");
        }
    });
}
