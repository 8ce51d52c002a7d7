//! `netplan destroy FILE`: remove every object the topology created, nothing else.

use std::path::PathBuf;

use netplan_runtime::apply;
use netplan_runtime::state::StateDir;

use crate::cmd_apply::{CliObserver, LockArgs, Machine, require_root, take_lock};
use crate::ui;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The topology file (only its name matters: the topology is named after it).
    file: PathBuf,
    #[command(flatten)]
    lock: LockArgs,
}

pub fn run(args: Args, state: &StateDir) -> miette::Result<u8> {
    require_root("destroy")?;
    // The topology is the file's name; the file need not be valid any more (or exist).
    let topology = ui::topology_name(&args.file);
    let _lock = take_lock(state, args.lock)?;
    let machine = Machine::open()?;
    let env = machine.env(state);
    let recorded = state.applied(&topology)?;
    match &recorded {
        Some(d) => println!(
            "Destroying topology {topology}: {} network(s), {} container(s).",
            d.networks.iter().filter(|n| n.bridge.is_some()).count(),
            d.containers.len()
        ),
        None => println!(
            "Topology {topology} is not recorded as applied; removing whatever of it the kernel still shows."
        ),
    }
    let mut observer = CliObserver::new("destroying");
    let outcome = apply::destroy(env, &topology, &mut observer);
    observer.finish();
    let outcome = outcome?;
    if outcome.is_noop() {
        println!("Destroy complete! Nothing was left.");
    } else {
        println!(
            "Destroy complete! {} object(s) removed ({} kernel steps).",
            outcome.removed, outcome.steps
        );
    }
    Ok(0)
}
