//! `exec`: a command inside a container's namespace, its output captured, bounded in time.
//!
//! The child is started the way container processes are (see the kernel layer's process
//! module): forked from a thread that joined the named namespace, with a private mount
//! namespace in which `/etc/netns/NS/*` is bind-mounted over `/etc` (so the container's
//! `resolv.conf` and `hosts` apply) and `/sys` shows the namespace's own devices. It leads its
//! own process group; when the command times out, the whole group is killed.

use std::io::{self, Read};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use super::host::ExecOutput;
use crate::kernel::netns::in_netns;
use crate::kernel::process::{etc_overlays, prepare_child};

/// How often a running command is polled for its end.
const POLL: Duration = Duration::from_millis(5);

/// How long output readers get after the command ended or was killed.
const DRAIN: Duration = Duration::from_millis(200);

/// Why a command produced no result.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error("cannot start {program:?}: {source}")]
    Start { program: String, source: io::Error },
    #[error("{program:?} did not finish within {timeout:?} and was killed")]
    Timeout { program: String, timeout: Duration },
    #[error("waiting for {program:?}: {source}")]
    Wait { program: String, source: io::Error },
}

/// Reads `r` to its end on a thread, keeping at most `max` bytes; the result arrives on the
/// returned channel.
fn reader(mut r: impl Read + Send + 'static, max: usize) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut kept = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
            match r.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let room = max.saturating_sub(kept.len());
                    kept.extend_from_slice(&buf[..n.min(room)]);
                }
            }
        }
        let _ = tx.send(kept);
    });
    rx
}

fn kill_group(child: &Child) {
    if let Ok(pid) = i32::try_from(child.id()) {
        let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
    }
}

/// Runs `argv` in named namespace `netns` (which the caller checked is netplan's) and waits at
/// most `timeout`. Keeps at most `max_output` bytes of stdout and of stderr.
pub fn run(
    netns: &str,
    argv: &[String],
    timeout: Duration,
    max_output: usize,
) -> Result<ExecOutput, ExecError> {
    let program = argv.first().cloned().unwrap_or_default();
    let start_err = |source| ExecError::Start {
        program: program.clone(),
        source,
    };
    let Some((prog, args)) = argv.split_first() else {
        return Err(start_err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "empty command",
        )));
    };
    let overlays = etc_overlays(netns).map_err(start_err)?;
    let mut cmd = Command::new(prog);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    // SAFETY: the closure only issues system calls (unshare, mount) on data prepared before
    // the fork; it neither allocates nor takes locks.
    unsafe {
        cmd.pre_exec(move || prepare_child(&overlays));
    }
    let mut child = in_netns(netns, move || cmd.spawn())
        .and_then(|r| r)
        .map_err(start_err)?;
    let out = child.stdout.take().map(|s| reader(s, max_output));
    let err = child.stderr.take().map(|s| reader(s, max_output));
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() >= timeout => {
                kill_group(&child);
                let _ = child.wait();
                return Err(ExecError::Timeout { program, timeout });
            }
            Ok(None) => std::thread::sleep(POLL),
            Err(source) => {
                kill_group(&child);
                let _ = child.wait();
                return Err(ExecError::Wait { program, source });
            }
        }
    };
    // Something the command left running in the background may hold the pipes open: the
    // readers are given a moment, then what they have is used.
    let collect = |rx: Option<mpsc::Receiver<Vec<u8>>>| {
        rx.and_then(|rx| rx.recv_timeout(DRAIN).ok())
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    };
    let code = match (status.code(), status.signal()) {
        (Some(c), _) => i64::from(c),
        (None, Some(sig)) => 128 + i64::from(sig),
        (None, None) => -1,
    };
    Ok(ExecOutput {
        status: code,
        stdout: collect(out),
        stderr: collect(err),
    })
}
