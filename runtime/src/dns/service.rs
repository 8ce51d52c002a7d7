//! Managing the DNS service from other netplan commands (apply, destroy, stop, start, status).
//!
//! Apply calls [`sync`] after it recorded a new applied state (and after creating namespaces):
//! it starts the service when some container needs it and none runs (also after a crash),
//! reloads it otherwise, and stops it when no applied topology needs it any more. Each call
//! returns when the service serves what the state directory holds. Callers hold the state lock,
//! so these calls never race each other.

use std::fs::OpenOptions;
use std::path::Path;
use std::process::{Child, Command as Process, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::control::{Command, Paths, RequestError, Status, request};
use super::error::{DnsError, io, pid_note};
use crate::state::StateDir;

/// How long a start or reload may take (binding 1,000 namespaces takes well under a second).
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a status request may take.
const STATUS_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a stopping service may take to exit.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// The log is rotated when a service starts and finds it larger than this.
const LOG_ROTATE_BYTES: u64 = 1 << 20;

/// A service that runs and serves the current state.
#[derive(Debug, Clone, PartialEq)]
pub struct Running {
    pub pid: u32,
    /// True when this call started it.
    pub started: bool,
    pub status: Status,
}

fn request_error(paths: &Paths, e: RequestError, pid: Option<u32>) -> DnsError {
    match e {
        RequestError::Timeout(waited) => DnsError::NotAnswering {
            pid: pid_note(pid),
            socket: paths.socket.clone(),
            waited,
        },
        RequestError::Io(source) => io("talk to the DNS service through", &paths.socket)(source),
        RequestError::Protocol(message) => DnsError::Protocol {
            socket: paths.socket.clone(),
            message,
        },
        RequestError::NotRunning => DnsError::NotAnswering {
            pid: pid_note(pid),
            socket: paths.socket.clone(),
            waited: Duration::ZERO,
        },
    }
}

/// What the service serves, or `None` when it does not run.
pub fn status(state: &StateDir) -> Result<Option<Status>, DnsError> {
    let paths = Paths::new(state);
    match request(&paths.socket, Command::Status, STATUS_TIMEOUT) {
        Ok(s) => Ok(Some(s)),
        Err(RequestError::NotRunning) => Ok(None),
        Err(e) => Err(request_error(&paths, e, paths.recorded_pid())),
    }
}

/// Makes a running service read the state directory again; returns when the new names are
/// served. `None` when no service runs (nothing to tell).
pub fn reload(state: &StateDir) -> Result<Option<Status>, DnsError> {
    let paths = Paths::new(state);
    match request(&paths.socket, Command::Reload, START_TIMEOUT) {
        Ok(s) => Ok(Some(s)),
        Err(RequestError::NotRunning) => Ok(None),
        Err(e) => Err(request_error(&paths, e, paths.recorded_pid())),
    }
}

/// Reloads the running service, or starts it (`exe --state-dir DIR dns`, detached, logging to
/// the state directory) when none runs, e.g. after it died. Returns once it serves the state.
pub fn ensure_running(state: &StateDir, exe: &Path) -> Result<Running, DnsError> {
    if let Some(status) = reload(state)? {
        return Ok(Running {
            pid: status.pid,
            started: false,
            status,
        });
    }
    start(state, exe)
}

/// Stops the service when no applied topology needs it. Returns whether one was stopped.
pub fn stop_if_unused(state: &StateDir) -> Result<bool, DnsError> {
    if super::needs_service(&state.all_applied()?) {
        return Ok(false);
    }
    stop(state)
}

/// What apply calls after every change: [`ensure_running`] when some applied container uses the
/// embedded DNS, else [`stop_if_unused`]. `None` when the service is (now) not running.
pub fn sync(state: &StateDir, exe: &Path) -> Result<Option<Running>, DnsError> {
    if super::needs_service(&state.all_applied()?) {
        ensure_running(state, exe).map(Some)
    } else {
        stop(state)?;
        Ok(None)
    }
}

/// Whether some process holds the service lock (a service runs or is starting).
fn lock_held(paths: &Paths) -> Result<bool, DnsError> {
    let file = match OpenOptions::new().write(true).open(&paths.lock) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(io("open", &paths.lock)(e)),
    };
    match file.try_lock() {
        Ok(()) => Ok(false),
        Err(std::fs::TryLockError::WouldBlock) => Ok(true),
        Err(std::fs::TryLockError::Error(e)) => Err(io("lock", &paths.lock)(e)),
    }
}

/// The last `n` lines of the log.
fn log_tail(paths: &Paths, n: usize) -> String {
    let text = std::fs::read_to_string(&paths.log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

fn open_log(paths: &Paths) -> Result<std::fs::File, DnsError> {
    if std::fs::metadata(&paths.log).is_ok_and(|m| m.len() > LOG_ROTATE_BYTES) {
        let old = paths.log.with_extension("log.1");
        std::fs::rename(&paths.log, &old).map_err(io("rotate", &paths.log))?;
    }
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(&paths.log)
        .map_err(io("open", &paths.log))
}

fn start(state: &StateDir, exe: &Path) -> Result<Running, DnsError> {
    let paths = Paths::new(state);
    std::fs::create_dir_all(&paths.dir).map_err(io("create", &paths.dir))?;
    let log = open_log(&paths)?;
    let log2 = log.try_clone().map_err(io("open", &paths.log))?;
    let mut child = std::os::unix::process::CommandExt::process_group(
        Process::new(exe)
            .arg("--state-dir")
            .arg(state.root())
            .arg("dns")
            .current_dir("/")
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2),
        0,
    )
    .spawn()
    .map_err(|source| DnsError::Spawn {
        exe: exe.to_path_buf(),
        source,
    })?;
    let pid = child.id();
    let deadline = Instant::now() + START_TIMEOUT;
    let outcome = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break Err(DnsError::NotAnswering {
                pid: pid_note(Some(pid)),
                socket: paths.socket.clone(),
                waited: START_TIMEOUT,
            });
        }
        match request(&paths.socket, Command::Status, left) {
            // Another service that was starting at the same time won: it serves the state too,
            // but only a reload guarantees it read the latest.
            Ok(s) if s.pid != pid => break reload(state).map(|st| st.unwrap_or(s)),
            Ok(s) => break Ok(s),
            Err(RequestError::NotRunning) => {}
            Err(e) => break Err(request_error(&paths, e, Some(pid))),
        }
        match child.try_wait() {
            Ok(Some(exit)) if !lock_held(&paths)? => {
                break Err(DnsError::StartFailed {
                    status: exit.to_string(),
                    log: paths.log.clone(),
                    tail: log_tail(&paths, 10),
                });
            }
            _ => std::thread::sleep(Duration::from_millis(10)),
        }
    };
    reap(child);
    outcome.map(|status| Running {
        pid: status.pid,
        started: status.pid == pid,
        status,
    })
}

/// Waits for `child` on a background thread so that it leaves no zombie while this process
/// lives on (the service normally outlives it and is adopted by init).
fn reap(mut child: Child) {
    std::thread::spawn(move || {
        let _ = child.wait();
    });
}

/// Whether `pid` is a `netplan dns` process serving `state` (guards signals against pid reuse).
fn is_service(pid: u32, state: &StateDir) -> bool {
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
    let root = state.root().as_os_str().as_encoded_bytes();
    args.contains(&&b"dns"[..]) && args.contains(&root)
}

/// Stops the service if it runs; returns whether it ran. Asks it over the control socket first;
/// when it does not answer, sends SIGTERM to the pid in the pid file (only if that pid still is
/// the service).
pub fn stop(state: &StateDir) -> Result<bool, DnsError> {
    let paths = Paths::new(state);
    let asked = request(&paths.socket, Command::Stop, STATUS_TIMEOUT);
    if matches!(asked, Err(RequestError::NotRunning)) && !lock_held(&paths)? {
        return Ok(false);
    }
    let pid = asked
        .as_ref()
        .ok()
        .map(|s| s.pid)
        .or_else(|| paths.recorded_pid());
    let deadline = Instant::now() + STOP_TIMEOUT;
    let mut signalled = asked.is_ok();
    while lock_held(&paths)? {
        if Instant::now() >= deadline {
            return Err(DnsError::Stop {
                pid: pid.unwrap_or(0),
                waited: STOP_TIMEOUT,
            });
        }
        if !signalled {
            if let Some(p) = pid.filter(|p| is_service(*p, state))
                && let Ok(raw) = i32::try_from(p)
            {
                let _ = kill(Pid::from_raw(raw), Signal::SIGTERM);
            }
            signalled = true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(true)
}
