//! `netplan dns` (hidden): the embedded DNS service process. `apply` starts it; users do not.

use std::path::PathBuf;
use std::time::Duration;

use netplan_runtime::dns::{self, Config};
use netplan_runtime::state::StateDir;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Port to serve at 127.0.0.11 inside each container namespace.
    #[arg(long, default_value_t = dns::DNS_PORT, hide = true)]
    listen_port: u16,
    /// Port of the upstream resolvers (tests point it at a local server).
    #[arg(long, default_value_t = dns::DNS_PORT, hide = true)]
    upstream_port: u16,
    /// Total time for one forwarded query, in milliseconds.
    #[arg(long, default_value_t = 4000, hide = true)]
    forward_timeout_ms: u64,
    /// The host's resolver configuration (the default upstream resolvers).
    #[arg(long, default_value = "/etc/resolv.conf", hide = true)]
    resolv_conf: PathBuf,
}

/// Runs the service until it is stopped (`kill`, or the last topology destroyed).
pub fn run(args: Args, state: &StateDir) -> miette::Result<u8> {
    let mut config = Config {
        listen_port: args.listen_port,
        resolv_conf: args.resolv_conf,
        ..Config::default()
    };
    config.forwarder.port = args.upstream_port;
    config.forwarder.deadline = Duration::from_millis(args.forward_timeout_ms.max(1));
    dns::daemon::run(state, config)?;
    Ok(0)
}
