//! `netplan exec CONTAINER -- CMD...`: run a command inside a container's namespace with its
//! own /etc/resolv.conf and /etc/hosts; the command's exit status is netplan's.

use std::os::unix::process::CommandExt;
use std::process::Command;

use netplan_runtime::apply::exec;
use netplan_runtime::state::StateDir;

use crate::cmd_apply::require_root;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The container.
    container: String,
    /// The topology of the container, when its name is used by several.
    #[arg(long)]
    topology: Option<String>,
    /// The command and its arguments.
    #[arg(last = true, required = true)]
    command: Vec<String>,
}

pub fn run(args: Args, state: &StateDir) -> miette::Result<u8> {
    require_root("exec")?;
    let applied = state.all_applied()?;
    let (_, c) = exec::find_container(&applied, &args.container, args.topology.as_deref())?;
    let Some((program, rest)) = args.command.split_first() else {
        return Err(miette::miette!("no command given"));
    };
    if let Some(ns) = c.netns() {
        exec::enter(ns).map_err(|e| {
            miette::miette!(
                code = "netplan::exec::enter",
                help = "`netplan status` shows whether the container is applied; `netplan apply` recreates a missing namespace",
                "cannot enter the namespace of container {}: {e}",
                c.name
            )
        })?;
    }
    // exec replaces this process: the command's exit status is ours.
    let err = Command::new(program).args(rest).exec();
    Err(miette::miette!(
        code = "netplan::exec::run",
        "cannot run {program} in container {}: {err}",
        c.name
    ))
}
