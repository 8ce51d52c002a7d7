//! `netplan stop CONTAINER` / `netplan start CONTAINER`.

use netplan_runtime::apply;
use netplan_runtime::state::StateDir;

use crate::cmd_apply::{CliObserver, LockArgs, Machine, require_root, take_lock};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The container.
    container: String,
    /// Its topology, when several applied topologies have a container of that name.
    #[arg(long)]
    topology: Option<String>,
    #[command(flatten)]
    lock: LockArgs,
}

/// Stops (`stop = true`) or starts a container.
pub fn run(args: Args, stop: bool, state: &StateDir) -> miette::Result<u8> {
    let verb = if stop { "stop" } else { "start" };
    require_root(verb)?;
    let _lock = take_lock(state, args.lock)?;
    let machine = Machine::open()?;
    let mut observer = CliObserver::new(if stop { "stopping" } else { "starting" });
    let result = apply::set_stopped(
        machine.env(state),
        args.topology.as_deref(),
        &args.container,
        stop,
        &mut observer,
    );
    observer.finish();
    let (topology, outcome) = result?;
    if outcome.is_noop() {
        println!(
            "container {} of topology {topology} is already {}",
            args.container,
            if stop { "stopped" } else { "running" }
        );
    } else {
        println!(
            "container {} of topology {topology} {}",
            args.container,
            if stop { "stopped" } else { "started" }
        );
    }
    Ok(0)
}
