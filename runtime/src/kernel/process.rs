//! Starting and stopping container processes inside named namespaces.
//!
//! A process is started like `ip netns exec NS sh -c CMD` would, but without running `ip`: the
//! child is forked from a thread that has joined the namespace, then (before `exec`) it gets a
//! private mount namespace in which every file of `/etc/netns/NS/` is bind-mounted over the
//! same name in `/etc` (so `resolv.conf` points at netplan's DNS) and `/sys` is remounted to show
//! the namespace's own interfaces. It leads its own process group, so stopping it also stops
//! what it started. stdout and stderr are appended to the log file; stdin is `/dev/null`.
//!
//! Stop processes before deleting their namespace: [`kill`] verifies the pid still runs inside
//! the named namespace, which needs `/run/netns/NS`.

use std::ffi::CString;
use std::fs::{self, OpenOptions};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use nix::mount::{MntFlags, MsFlags, mount, umount2};
use nix::sched::{CloneFlags, unshare};
use nix::sys::signal::{Signal, kill as send_signal, killpg};
use nix::sys::wait::{WaitPidFlag, waitpid};
use nix::unistd::Pid;

use super::error::libc_errno::ESRCH;
use super::types::ProcessSpec;
use super::{KernelError, KernelResult, netns};

/// How long a process gets between SIGTERM and SIGKILL.
const GRACE: Duration = Duration::from_secs(3);

/// How long a process that is exiting may take to finish.
const EXITING: Duration = Duration::from_millis(500);

/// `(source, target)` bind mounts for `/etc/netns/NS/*`.
pub(crate) fn etc_overlays(ns: &str) -> io::Result<Vec<(CString, CString)>> {
    let dir = Path::new("/etc/netns").join(ns);
    let entries = match fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry?;
        let target = Path::new("/etc").join(entry.file_name());
        if !target.exists() {
            continue;
        }
        let src = CString::new(entry.path().as_os_str().as_bytes())?;
        let dst = CString::new(target.as_os_str().as_bytes())?;
        out.push((src, dst));
    }
    Ok(out)
}

/// Runs in the child between fork and exec: only system calls, no allocation. Gives the
/// child the view `ip netns exec` gives: its own mount namespace with `/etc/netns/NS/*` over
/// `/etc` and a fresh `/sys`.
pub(crate) fn prepare_child(overlays: &[(CString, CString)]) -> io::Result<()> {
    unshare(CloneFlags::CLONE_NEWNS)?;
    let slave = MsFlags::MS_SLAVE | MsFlags::MS_REC;
    mount(None::<&str>, c"/", None::<&str>, slave, None::<&str>)?;
    for (src, dst) in overlays {
        mount(
            Some(src.as_c_str()),
            dst.as_c_str(),
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )?;
    }
    // Best effort, like `ip netns exec`: a fresh sysfs shows this namespace's devices.
    if umount2(c"/sys", MntFlags::MNT_DETACH).is_ok() {
        let _ = mount(
            Some(c"sysfs"),
            c"/sys",
            Some(c"sysfs"),
            MsFlags::empty(),
            None::<&str>,
        );
    }
    Ok(())
}

/// Starts `spec` and returns its pid. The caller has checked that the namespace is netplan's.
pub(crate) fn spawn(spec: &ProcessSpec) -> KernelResult<u32> {
    let op = "starting a process in";
    let object = format!("netns {}", spec.netns);
    let Some((program, args)) = spec.argv.split_first() else {
        return Err(KernelError::Invalid {
            object: format!("process for netns {}", spec.netns),
            reason: "empty command".into(),
        });
    };
    let log_err = |e| KernelError::os("opening log file for", &object, e);
    if let Some(dir) = spec.log_path.parent() {
        fs::create_dir_all(dir).map_err(log_err)?;
    }
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&spec.log_path)
        .map_err(log_err)?;
    let log2 = log.try_clone().map_err(log_err)?;
    let overlays = etc_overlays(&spec.netns).map_err(|e| KernelError::os(op, &object, e))?;
    let mut cmd = Command::new(program);
    cmd.args(args)
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log2)
        .process_group(0);
    // SAFETY: the closure only issues system calls (unshare, mount) on data prepared before
    // the fork; it neither allocates nor takes locks.
    unsafe {
        cmd.pre_exec(move || prepare_child(&overlays));
    }
    let started = netns::in_netns(&spec.netns, move || cmd.spawn().map(|child| child.id()));
    started
        .and_then(|r| r)
        .map_err(|e| KernelError::os(format!("starting {program:?} in"), object, e))
}

/// `(device, inode)` of a namespace file.
fn ns_id(path: &Path) -> io::Result<(u64, u64)> {
    let m = fs::metadata(path)?;
    Ok((m.dev(), m.ino()))
}

/// Whether `pid` still exists and is not a zombie.
fn alive(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.trim_start().chars().next())
            .is_some_and(|state| state != 'Z' && state != 'X'),
        Err(_) => false,
    }
}

/// Reaps `pid` if it is our exited child; other processes are untouched.
fn reap(pid: Pid) {
    let _ = waitpid(pid, Some(WaitPidFlag::WNOHANG));
}

fn signal(pid: Pid, sig: Signal) -> io::Result<()> {
    let _ = killpg(pid, sig);
    match send_signal(pid, sig) {
        Ok(()) => Ok(()),
        Err(e) if e as i32 == ESRCH => Ok(()),
        Err(e) => Err(e.into()),
    }
}

fn wait_gone(pid: u32, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    loop {
        reap(Pid::from_raw(pid as i32));
        if !alive(pid) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        sleep(Duration::from_millis(50));
    }
}

/// Stops `pid` if it runs inside named namespace `ns`.
pub(crate) fn kill(ns: &str, pid: u32) -> KernelResult<()> {
    let object = format!("process {pid} in netns {ns}");
    let op = "stopping";
    let Ok(raw) = i32::try_from(pid) else {
        return Err(KernelError::Invalid {
            object,
            reason: "pid out of range".into(),
        });
    };
    let pid_t = Pid::from_raw(raw);
    reap(pid_t);
    if !alive(pid) {
        return Ok(());
    }
    let want = ns_id(&netns::netns_path(ns)).map_err(|e| KernelError::os(op, &object, e))?;
    match ns_id(Path::new(&format!("/proc/{pid}/ns/net"))) {
        Ok(have) if have == want => {}
        Ok(_) => {
            return Err(KernelError::Invalid {
                object,
                reason: "that pid now belongs to a process outside the namespace; left alone".into(),
            });
        }
        // An exiting process has already left its namespaces before it turns into a zombie.
        Err(_) if wait_gone(pid, EXITING) => return Ok(()),
        Err(e) => return Err(KernelError::os(op, object, e)),
    }
    signal(pid_t, Signal::SIGTERM).map_err(|e| KernelError::os(op, &object, e))?;
    if wait_gone(pid, GRACE) {
        return Ok(());
    }
    signal(pid_t, Signal::SIGKILL).map_err(|e| KernelError::os(op, &object, e))?;
    if wait_gone(pid, GRACE) {
        return Ok(());
    }
    Err(KernelError::os(
        op,
        object,
        io::Error::from(io::ErrorKind::TimedOut),
    ))
}
