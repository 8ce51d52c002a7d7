//! Where the service keeps its files, and how other netplan commands talk to it.
//!
//! Files, in `<state dir>/dns/` (mode 0700):
//! * `lock`: held (`flock`, exclusive) by the running service for its whole life, so a second
//!   one refuses to start and anyone can tell whether one runs;
//! * `pid`: its process id, written after the control socket is bound;
//! * `control.sock`: the control socket (mode 0600);
//! * `dns.log`: its log (stdout and stderr), rotated to `dns.log.1` past 1 MiB when it starts.
//!
//! Protocol on the control socket: the client sends one command line (`reload`, `status` or
//! `stop`) and reads one JSON line back: `{"ok":true,"status":{…}}` or
//! `{"ok":false,"error":"…"}`. `reload` answers only after the service has read every applied
//! state again, swapped its name data and opened or closed the sockets of the namespaces that
//! changed, so when it returns the new names are served. `kill -HUP <pid>` triggers the same
//! reload without waiting for it.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, ErrorKind, Write};
use std::net::IpAddr;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::state::StateDir;

/// The service's files for one state directory.
#[derive(Debug, Clone)]
pub struct Paths {
    pub dir: PathBuf,
    pub lock: PathBuf,
    pub pid: PathBuf,
    pub socket: PathBuf,
    pub log: PathBuf,
}

impl Paths {
    /// The files of the service serving `state`.
    pub fn new(state: &StateDir) -> Paths {
        let dir = state.root().join("dns");
        Paths {
            lock: dir.join("lock"),
            pid: dir.join("pid"),
            socket: dir.join("control.sock"),
            log: dir.join("dns.log"),
            dir,
        }
    }

    /// The pid recorded in the pid file, if any.
    pub fn recorded_pid(&self) -> Option<u32> {
        std::fs::read_to_string(&self.pid).ok()?.trim().parse().ok()
    }
}

/// A control command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Read every applied state again; reply when the new data is served.
    Reload,
    /// Reply with what is served now.
    Status,
    /// Close everything and exit (replies first).
    Stop,
}

impl Command {
    /// The command's line on the wire.
    pub fn word(self) -> &'static str {
        match self {
            Command::Reload => "reload",
            Command::Status => "status",
            Command::Stop => "stop",
        }
    }

    /// Parses a command line.
    pub fn parse(line: &str) -> Option<Command> {
        match line.trim() {
            "reload" => Some(Command::Reload),
            "status" => Some(Command::Status),
            "stop" => Some(Command::Stop),
            _ => None,
        }
    }
}

/// What the service serves, as it reports it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Status {
    pub pid: u32,
    /// Number of reloads done, the start-up load included.
    pub generation: u64,
    /// Topologies whose applied state is loaded.
    pub topologies: Vec<String>,
    /// Namespaces with bound sockets, sorted.
    pub namespaces: Vec<String>,
    /// Namespaces that should be served but could not be bound yet, with the reason (retried).
    pub failed: BTreeMap<String, String>,
    /// The host's upstream resolvers in use.
    pub upstreams: Vec<IpAddr>,
    /// How long the last reload took, in milliseconds.
    pub reload_ms: f64,
    /// Sockets opened and closed by the last reload (namespaces).
    pub opened: usize,
    pub closed: usize,
    /// Problems in the applied states (a namespace claimed twice).
    pub warnings: Vec<String>,
    /// Why the last reload failed, if it did; the previous name data is still served.
    pub error: Option<String>,
}

/// One reply line.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Reply {
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Why a control request got no status back.
#[derive(Debug)]
pub enum RequestError {
    /// Nobody listens: the socket file is missing or refuses connections.
    NotRunning,
    /// Connected, but no reply came within the time allowed.
    Timeout(Duration),
    /// Another I/O error.
    Io(std::io::Error),
    /// A reply that is not what the protocol says, or an error reply.
    Protocol(String),
}

/// Sends `command` to the service listening on `socket` and waits up to `timeout` for its reply.
pub fn request(socket: &Path, command: Command, timeout: Duration) -> Result<Status, RequestError> {
    let start = Instant::now();
    let mut stream = match UnixStream::connect(socket) {
        Ok(s) => s,
        Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::ConnectionRefused) => {
            return Err(RequestError::NotRunning);
        }
        Err(e) => return Err(RequestError::Io(e)),
    };
    let timed_out = |e: &std::io::Error| matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut);
    stream
        .set_write_timeout(Some(timeout))
        .map_err(RequestError::Io)?;
    stream
        .write_all(format!("{}\n", command.word()).as_bytes())
        .map_err(|e| {
            if timed_out(&e) {
                RequestError::Timeout(timeout)
            } else {
                RequestError::Io(e)
            }
        })?;
    let left = timeout
        .saturating_sub(start.elapsed())
        .max(Duration::from_millis(1));
    stream.set_read_timeout(Some(left)).map_err(RequestError::Io)?;
    let mut line = String::new();
    // A reply is one short line; cap what is read so a confused peer cannot make us hoard memory.
    let read = BufReader::new(std::io::Read::take(&mut stream, 16 << 20)).read_line(&mut line);
    match read {
        Ok(0) => Err(RequestError::Protocol(
            "the connection closed without a reply".into(),
        )),
        Ok(_) => {
            let reply: Reply = serde_json::from_str(&line)
                .map_err(|e| RequestError::Protocol(format!("{e} in {:?}", line.trim_end())))?;
            match (reply.ok, reply.status, reply.error) {
                (true, Some(s), _) => Ok(s),
                (_, _, Some(e)) => Err(RequestError::Protocol(e)),
                _ => Err(RequestError::Protocol(format!(
                    "incomplete reply {:?}",
                    line.trim_end()
                ))),
            }
        }
        Err(e) if timed_out(&e) => Err(RequestError::Timeout(timeout)),
        Err(e) => Err(RequestError::Io(e)),
    }
}
