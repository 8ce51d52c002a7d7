//! What apply needs from the machine besides the [`Kernel`](crate::kernel::Kernel) trait:
//! sysctl and nftables read-outs, process liveness, the per-namespace files directory, host
//! processes (containers on the `host` network) and the DNS service.

use std::collections::{BTreeMap, HashMap};
use std::fs::OpenOptions;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill, killpg};
use nix::sys::wait::{WaitPidFlag, waitpid};
use nix::unistd::Pid;

use crate::dns::{self, DnsError};
use crate::kernel::{FakeKernel, INET_TABLE, netns};
use crate::state::StateDir;

/// A process to start in the host's own network namespace (a container on `host`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostProcess {
    /// Program and arguments.
    pub argv: Vec<String>,
    /// File receiving stdout and stderr (appended).
    pub log_path: PathBuf,
}

/// The machine around the kernel objects. [`LinuxHost`] is the real one, [`FakeHost`] goes with
/// [`FakeKernel`] in tests.
pub trait Host {
    /// Whether IPv4 and IPv6 forwarding are on.
    fn forwarding(&self) -> (bool, bool);
    /// Whether netplan's nftables table exists.
    fn firewall_present(&self) -> bool;
    /// The host's `/etc/resolv.conf` text (empty when unreadable).
    fn resolv_conf(&self) -> String;
    /// Where per-namespace files live (`/etc/netns`).
    fn etc_netns(&self) -> PathBuf;
    /// The start time (clock ticks since boot) of `pid` when it runs and is not a zombie; it
    /// tells a recorded process from a later one that reuses its pid.
    fn process_start(&self, pid: u32) -> Option<u64>;
    /// The processes whose network namespace is one of the named `namespaces`, by namespace
    /// (sorted pids; namespaces without processes are left out).
    fn processes_in(&self, namespaces: &[&str]) -> BTreeMap<String, Vec<u32>>;
    /// Starts a process in the host namespace; returns its pid.
    fn spawn_host_process(&self, spec: &HostProcess) -> io::Result<u32>;
    /// Stops host process `pid` (its process group: SIGTERM, then SIGKILL).
    fn kill_host_process(&self, pid: u32) -> io::Result<()>;
    /// Brings the DNS service in line with the state directory: reloads or starts it when
    /// `needed` (some applied container uses it), stops it otherwise.
    fn sync_dns(&self, state: &StateDir, needed: bool) -> Result<(), DnsError>;
    /// Makes sure the DNS service runs when `needed` (some applied container uses it), without
    /// reloading a running one (a no-op apply touches nothing).
    fn ensure_dns(&self, state: &StateDir, needed: bool) -> Result<(), DnsError>;
}

/// The real machine.
#[derive(Debug, Clone)]
pub struct LinuxHost {
    /// The `netplan` executable that runs the DNS service; `None` leaves DNS alone (library
    /// tests that have no `netplan` binary).
    pub dns_exe: Option<PathBuf>,
}

fn read_flag(path: &str) -> bool {
    std::fs::read_to_string(path).is_ok_and(|s| s.trim() == "1")
}

/// `(device, inode)` of a namespace file.
fn ns_id(path: &Path) -> Option<(u64, u64)> {
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

/// Field 22 of `/proc/PID/stat` (start time), if the process is alive and not a zombie.
pub(crate) fn proc_start(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // fields[0] is field 3 (state); start time is field 22.
    if matches!(fields.first(), Some(&"Z") | Some(&"X")) {
        return None;
    }
    fields.get(19)?.parse().ok()
}

impl Host for LinuxHost {
    fn forwarding(&self) -> (bool, bool) {
        (
            read_flag("/proc/sys/net/ipv4/ip_forward"),
            read_flag("/proc/sys/net/ipv6/conf/all/forwarding"),
        )
    }

    fn firewall_present(&self) -> bool {
        Command::new("nft")
            .args(["list", "table", "inet", INET_TABLE])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    fn resolv_conf(&self) -> String {
        std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default()
    }

    fn etc_netns(&self) -> PathBuf {
        PathBuf::from("/etc/netns")
    }

    fn process_start(&self, pid: u32) -> Option<u64> {
        proc_start(pid)
    }

    fn processes_in(&self, namespaces: &[&str]) -> BTreeMap<String, Vec<u32>> {
        let mut out: BTreeMap<String, Vec<u32>> = BTreeMap::new();
        let wanted: HashMap<(u64, u64), &str> = namespaces
            .iter()
            .filter_map(|name| Some((ns_id(&netns::netns_path(name))?, *name)))
            .collect();
        if wanted.is_empty() {
            return out;
        }
        // One pass over /proc, whatever the number of namespaces.
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return out;
        };
        for pid in entries.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok()) {
            let id = ns_id(Path::new(&format!("/proc/{pid}/ns/net")));
            if let Some(name) = id.and_then(|id| wanted.get(&id)) {
                out.entry((*name).to_string()).or_default().push(pid);
            }
        }
        for pids in out.values_mut() {
            pids.sort_unstable();
        }
        out
    }

    fn spawn_host_process(&self, spec: &HostProcess) -> io::Result<u32> {
        let (program, args) = spec
            .argv
            .split_first()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "empty command"))?;
        if let Some(dir) = spec.log_path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&spec.log_path)?;
        let log2 = log.try_clone()?;
        let child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .current_dir("/")
            .process_group(0)
            .spawn()?;
        let pid = child.id();
        // Reap it when it ends while this process still runs; afterwards init adopts it.
        std::thread::spawn(move || {
            let mut child = child;
            let _ = child.wait();
        });
        Ok(pid)
    }

    fn kill_host_process(&self, pid: u32) -> io::Result<()> {
        let raw = i32::try_from(pid).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "pid"))?;
        let p = Pid::from_raw(raw);
        for sig in [Signal::SIGTERM, Signal::SIGKILL] {
            let _ = killpg(p, sig);
            let _ = kill(p, sig);
            let deadline = Instant::now() + Duration::from_secs(3);
            while Instant::now() < deadline {
                let _ = waitpid(p, Some(WaitPidFlag::WNOHANG));
                if proc_start(pid).is_none() {
                    return Ok(());
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        Err(io::Error::from(io::ErrorKind::TimedOut))
    }

    fn sync_dns(&self, state: &StateDir, needed: bool) -> Result<(), DnsError> {
        let Some(exe) = &self.dns_exe else { return Ok(()) };
        if needed {
            dns::service::ensure_running(state, exe).map(|_| ())
        } else {
            dns::service::stop(state).map(|_| ())
        }
    }

    fn ensure_dns(&self, state: &StateDir, needed: bool) -> Result<(), DnsError> {
        let Some(exe) = &self.dns_exe else { return Ok(()) };
        if !needed {
            return Ok(());
        }
        if dns::service::status(state)?.is_some() {
            return Ok(());
        }
        dns::service::ensure_running(state, exe).map(|_| ())
    }
}

/// The machine around a [`FakeKernel`], for tests without root: files go to a directory of the
/// test's choosing, processes are the fake kernel's.
pub struct FakeHost<'k> {
    kernel: &'k FakeKernel,
    etc_netns: PathBuf,
    /// Number of `apply_firewall` calls when the ruleset was last flushed by hand.
    flushed_at: Mutex<Option<usize>>,
    host_procs: Mutex<BTreeMap<u32, HostProcess>>,
    dns_syncs: Mutex<usize>,
}

impl<'k> FakeHost<'k> {
    /// A fake host whose `/etc/netns` is `etc_netns`.
    pub fn new(kernel: &'k FakeKernel, etc_netns: impl Into<PathBuf>) -> Self {
        FakeHost {
            kernel,
            etc_netns: etc_netns.into(),
            flushed_at: Mutex::new(None),
            host_procs: Mutex::new(BTreeMap::new()),
            dns_syncs: Mutex::new(0),
        }
    }

    /// Pretends someone flushed the ruleset (until the next `apply_firewall`).
    pub fn flush_firewall(&self) {
        let applied = self.firewall_applies();
        if let Ok(mut g) = self.flushed_at.lock() {
            *g = Some(applied);
        }
    }

    fn firewall_applies(&self) -> usize {
        self.kernel
            .calls()
            .iter()
            .filter(|c| *c == "apply_firewall")
            .count()
    }

    /// How often the DNS service was synced.
    pub fn dns_syncs(&self) -> usize {
        self.dns_syncs.lock().map(|g| *g).unwrap_or(0)
    }

    /// Running host processes.
    pub fn host_processes(&self) -> BTreeMap<u32, HostProcess> {
        self.host_procs.lock().map(|g| g.clone()).unwrap_or_default()
    }
}

impl Host for FakeHost<'_> {
    fn forwarding(&self) -> (bool, bool) {
        self.kernel.forwarding()
    }

    fn firewall_present(&self) -> bool {
        let flushed = self.flushed_at.lock().map(|g| *g).unwrap_or(None);
        let reapplied = flushed.is_none_or(|n| self.firewall_applies() > n);
        reapplied && self.kernel.firewall().is_some()
    }

    fn resolv_conf(&self) -> String {
        "nameserver 192.0.2.53\nsearch example.test\n".into()
    }

    fn etc_netns(&self) -> PathBuf {
        self.etc_netns.clone()
    }

    fn process_start(&self, pid: u32) -> Option<u64> {
        let in_kernel = self.kernel.processes().contains_key(&pid);
        let on_host = self.host_procs.lock().is_ok_and(|g| g.contains_key(&pid));
        (in_kernel || on_host).then_some(u64::from(pid))
    }

    fn processes_in(&self, namespaces: &[&str]) -> BTreeMap<String, Vec<u32>> {
        let mut out: BTreeMap<String, Vec<u32>> = BTreeMap::new();
        for (pid, p) in self.kernel.processes() {
            if namespaces.contains(&p.netns.as_str()) {
                out.entry(p.netns.clone()).or_default().push(pid);
            }
        }
        out
    }

    fn spawn_host_process(&self, spec: &HostProcess) -> io::Result<u32> {
        let mut g = self
            .host_procs
            .lock()
            .map_err(|_| io::Error::other("fake host poisoned"))?;
        let pid = 50_000 + g.len() as u32 + 1;
        g.insert(pid, spec.clone());
        Ok(pid)
    }

    fn kill_host_process(&self, pid: u32) -> io::Result<()> {
        if let Ok(mut g) = self.host_procs.lock() {
            g.remove(&pid);
        }
        Ok(())
    }

    fn sync_dns(&self, _state: &StateDir, _needed: bool) -> Result<(), DnsError> {
        if let Ok(mut g) = self.dns_syncs.lock() {
            *g += 1;
        }
        Ok(())
    }

    fn ensure_dns(&self, _state: &StateDir, _needed: bool) -> Result<(), DnsError> {
        Ok(())
    }
}

/// Whether this process runs as root (changing the kernel needs it).
pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}
