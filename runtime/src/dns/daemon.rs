//! The `netplan dns` process: an [`Engine`] behind the control socket and signals.
//!
//! Start-up order (what makes reloads race-free): take the service lock (a second service
//! exits), install the signal handlers, bind the control socket and start accepting on it, write
//! the pid file, and only then read the applied states for the first time. A reload requested
//! at any moment after the pid file or socket exists is either covered by that first read (it
//! starts later) or queued and carried out after it; none is lost. Requests are carried out one
//! at a time, each reading the state afresh.
//!
//! Signals: SIGHUP reloads, SIGTERM and SIGINT stop (like the `stop` command). Stopping closes
//! every namespace's sockets after in-flight queries are answered, then removes the socket and
//! pid file.

use std::fs::OpenOptions;
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{mpsc, oneshot};

use super::control::{Command, Paths, Reply, Status};
use super::engine::{Config, Engine};
use super::error::{DnsError, io, pid_note};
use crate::state::StateDir;

/// How often upkeep runs (retry failed namespaces, notice new host resolvers).
const TICK: Duration = Duration::from_secs(5);
/// How long a control client may take to send its command line.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(5);

/// Writes one log line to stderr (the service's log file) with a UTC timestamp.
pub fn log(message: &str) {
    eprintln!("{} netplan-dns[{}]: {message}", timestamp(), std::process::id());
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` for now.
fn timestamp() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        now.subsec_millis()
    )
}

fn summary(s: &Status) -> String {
    let mut line = format!(
        "generation {}: {} namespace(s) served (+{} -{}), {} failed, {} topolog(ies), reload {:.1} ms",
        s.generation,
        s.namespaces.len(),
        s.opened,
        s.closed,
        s.failed.len(),
        s.topologies.len(),
        s.reload_ms
    );
    if let Some(e) = &s.error {
        line.push_str(&format!("; ERROR {e}; previous names still served"));
    }
    line
}

fn log_status(s: &Status) {
    log(&summary(s));
    for (ns, why) in &s.failed {
        log(&format!("not serving {ns} yet: {why}"));
    }
    for w in &s.warnings {
        log(&format!("warning: {w}"));
    }
}

/// Runs the service for `state` until it is stopped. Fails when another service already runs
/// for that state directory or the control socket cannot be created.
pub fn run(state: &StateDir, config: Config) -> Result<(), DnsError> {
    let paths = Paths::new(state);
    std::fs::create_dir_all(&paths.dir).map_err(io("create", &paths.dir))?;
    std::fs::set_permissions(&paths.dir, std::fs::Permissions::from_mode(0o700))
        .map_err(io("set permissions of", &paths.dir))?;
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&paths.lock)
        .map_err(io("open", &paths.lock))?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            return Err(DnsError::AlreadyRunning {
                dir: state.root().to_path_buf(),
                pid: pid_note(paths.recorded_pid()),
            });
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(io("lock", &paths.lock)(e)),
    }
    // One thread serves every namespace: a local answer is decided and sent inline by the socket's
    // receive loop, and on one thread that costs about half the CPU time per query of a
    // multi-threaded runtime, whose workers keep waking each other (see docs/benchmarks.md).
    // Reading the state and binding namespaces run on tokio's blocking pool.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .thread_name("netplan-dns")
        .build()
        .map_err(DnsError::Runtime)?;
    let result = runtime.block_on(serve(state.clone(), config, &paths));
    runtime.shutdown_timeout(Duration::from_secs(2));
    drop(lock);
    result
}

async fn serve(state: StateDir, config: Config, paths: &Paths) -> Result<(), DnsError> {
    let sig = |kind: SignalKind, name: &'static str| {
        signal(kind).map_err(|source| DnsError::Io {
            op: "install a handler for",
            path: name.into(),
            source,
        })
    };
    let mut hup = sig(SignalKind::hangup(), "SIGHUP")?;
    let mut term = sig(SignalKind::terminate(), "SIGTERM")?;
    let mut int = sig(SignalKind::interrupt(), "SIGINT")?;

    // We hold the lock: a socket file left here belongs to a service that died.
    match std::fs::remove_file(&paths.socket) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(io("remove the stale", &paths.socket)(e));
        }
        _ => {}
    }
    let listener = UnixListener::bind(&paths.socket).map_err(io("bind", &paths.socket))?;
    std::fs::set_permissions(&paths.socket, std::fs::Permissions::from_mode(0o600))
        .map_err(io("set permissions of", &paths.socket))?;
    let (tx, mut rx) = mpsc::channel::<(Command, oneshot::Sender<Reply>)>(64);
    let accepting = tokio::spawn(accept(listener, tx));
    write_pid(paths)?;
    log(&format!("started for {}", state.root().display()));

    let mut engine = Engine::new(state, config);
    log_status(&engine.reload().await);
    let mut tick = tokio::time::interval(TICK);
    tick.tick().await;
    loop {
        tokio::select! {
            _ = hup.recv() => {
                log("SIGHUP: reloading");
                log_status(&engine.reload().await);
            }
            _ = term.recv() => { log("SIGTERM: stopping"); break; }
            _ = int.recv() => { log("SIGINT: stopping"); break; }
            Some((command, reply)) = rx.recv() => {
                let status = match command {
                    Command::Reload => {
                        let s = engine.reload().await;
                        log_status(&s);
                        s
                    }
                    Command::Status | Command::Stop => engine.status(),
                };
                let _ = reply.send(Reply { ok: true, status: Some(status), error: None });
                if command == Command::Stop {
                    log("stop requested: stopping");
                    break;
                }
            }
            _ = tick.tick() => {
                if engine.tick().await {
                    log_status(&engine.status());
                }
            }
        }
    }
    accepting.abort();
    engine.shutdown().await;
    let _ = std::fs::remove_file(&paths.socket);
    let _ = std::fs::remove_file(&paths.pid);
    log("stopped");
    Ok(())
}

fn write_pid(paths: &Paths) -> Result<(), DnsError> {
    crate::atomic_file::write(&paths.pid, format!("{}\n", std::process::id()))
        .map_err(io("write", &paths.pid))
}

async fn accept(listener: UnixListener, tx: mpsc::Sender<(Command, oneshot::Sender<Reply>)>) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(converse(stream, tx.clone()));
            }
            Err(e) => {
                log(&format!("control socket: {e}"));
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// One client: one command line in, one JSON line out.
async fn converse(stream: UnixStream, tx: mpsc::Sender<(Command, oneshot::Sender<Reply>)>) {
    let (read, mut write) = stream.into_split();
    let mut line = String::new();
    let mut reader = BufReader::new(tokio::io::AsyncReadExt::take(read, 256));
    let got = tokio::time::timeout(COMMAND_TIMEOUT, reader.read_line(&mut line)).await;
    let reply = match got {
        Ok(Ok(n)) if n > 0 => match Command::parse(&line) {
            Some(command) => {
                let (reply_tx, reply_rx) = oneshot::channel();
                if tx.send((command, reply_tx)).await.is_err() {
                    return;
                }
                match reply_rx.await {
                    Ok(r) => r,
                    Err(_) => return,
                }
            }
            None => Reply {
                ok: false,
                status: None,
                error: Some(format!("unknown command {:?}", line.trim())),
            },
        },
        _ => return,
    };
    if let Ok(mut text) = serde_json::to_string(&reply) {
        text.push('\n');
        let _ = write.write_all(text.as_bytes()).await;
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn timestamps_are_civil_dates() {
        let t = super::timestamp();
        assert_eq!(t.len(), 24, "{t}");
        assert!(
            t.starts_with("20") && t.ends_with('Z') && t.as_bytes()[10] == b'T',
            "{t}"
        );
    }
}
