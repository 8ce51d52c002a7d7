//! `netplan inspect NETWORK...` and `netplan inspect --container NAME`: Docker-shaped JSON.

use netplan_runtime::apply::{self, exec, inspect};
use netplan_runtime::kernel::{Kernel, LinuxKernel, Observed};
use netplan_runtime::state::StateDir;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Networks (names or id prefixes); with --container, container names.
    #[arg(required = true)]
    names: Vec<String>,
    /// Inspect containers instead of networks.
    #[arg(long)]
    container: bool,
    /// The topology of the containers, when a name is used by several.
    #[arg(long)]
    topology: Option<String>,
}

/// The kernel's state, when this process may read it (root); inspect then lists only
/// endpoints that exist.
fn live() -> Option<Observed> {
    if !apply::is_root() {
        return None;
    }
    LinuxKernel::new().ok()?.observe(&[]).ok()
}

pub fn run(args: Args, state: &StateDir) -> miette::Result<u8> {
    let applied = state.all_applied()?;
    let live = live();
    let mut out = Vec::new();
    let mut missing = Vec::new();
    for name in &args.names {
        if args.container {
            match exec::find_container(&applied, name, args.topology.as_deref()) {
                Ok((d, c)) => out.push(inspect::container(d, c, live.as_ref())),
                Err(e) => {
                    eprintln!("{:?}", miette::Report::new(e));
                    missing.push(name);
                }
            }
        } else {
            let found = inspect::networks(&applied, name, live.as_ref());
            if found.is_empty() {
                eprintln!("Error: no such network: {name}");
                missing.push(name);
            }
            out.extend(found);
        }
    }
    let text = serde_json::to_string_pretty(&out).map_err(|e| miette::miette!("{e}"))?;
    outln!("{text}");
    Ok(if missing.is_empty() { 0 } else { 1 })
}
