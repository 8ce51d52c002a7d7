//! Errors of the DNS service and of the calls that manage it.

use std::path::PathBuf;
use std::time::Duration;

use crate::state::StateError;

/// What went wrong with the embedded DNS service.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum DnsError {
    #[error(transparent)]
    #[diagnostic(transparent)]
    State(#[from] StateError),

    #[error("cannot {op} {path}: {source}")]
    #[diagnostic(
        code(netplan::dns::io),
        help("check the permissions of the state directory (see --state-dir); netplan dns runs as root")
    )]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("cannot start the DNS service `{exe} dns`: {source}")]
    #[diagnostic(
        code(netplan::dns::spawn),
        help("the netplan executable must stay in place while topologies are applied")
    )]
    Spawn {
        exe: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("the DNS service exited while starting ({status}); last lines of {log}:\n{tail}")]
    #[diagnostic(
        code(netplan::dns::start_failed),
        help("fix the cause shown in the log, then run `netplan apply` again")
    )]
    StartFailed {
        status: String,
        log: PathBuf,
        tail: String,
    },

    #[error("the DNS service{pid} does not answer on {socket} (waited {waited:?})")]
    #[diagnostic(
        code(netplan::dns::not_answering),
        help("see its log in the state directory (dns/dns.log); `netplan status` shows its pid")
    )]
    NotAnswering {
        /// ` (pid N)` when known, else empty.
        pid: String,
        socket: PathBuf,
        waited: Duration,
    },

    #[error("the DNS service answered {socket} with something unexpected: {message}")]
    #[diagnostic(
        code(netplan::dns::protocol),
        help(
            "the running service may come from another netplan version: stop it (`kill` its pid) and apply again"
        )
    )]
    Protocol { socket: PathBuf, message: String },

    #[error("another DNS service already runs for {dir}{pid}")]
    #[diagnostic(
        code(netplan::dns::already_running),
        help("one service serves every topology of a state directory; `netplan status` shows it")
    )]
    AlreadyRunning {
        dir: PathBuf,
        /// ` (pid N)` when known, else empty.
        pid: String,
    },

    #[error("the DNS service could not stop (pid {pid}) within {waited:?}")]
    #[diagnostic(
        code(netplan::dns::stop),
        help("end it by hand with `kill {pid}`, then run the command again")
    )]
    Stop { pid: u32, waited: Duration },

    #[error("cannot create the DNS service's async runtime: {0}")]
    #[diagnostic(code(netplan::dns::runtime))]
    Runtime(#[source] std::io::Error),
}

/// A closure mapping an I/O error to [`DnsError::Io`] for `op` on `path`.
pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> DnsError {
    let path = path.into();
    move |source| DnsError::Io { op, path, source }
}

/// ` (pid N)` or the empty string.
pub(crate) fn pid_note(pid: Option<u32>) -> String {
    pid.map(|p| format!(" (pid {p})")).unwrap_or_default()
}
