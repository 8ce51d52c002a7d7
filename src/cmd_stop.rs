//! `netplan stop CONTAINER` / `netplan start CONTAINER`.

use netplan_runtime::apply;
use netplan_runtime::desired::Desired;
use netplan_runtime::diff;
use netplan_runtime::hooks::Phase;
use netplan_runtime::state::StateDir;

use crate::cmd_apply::{CliObserver, LockArgs, Machine, require_root, take_lock};
use crate::hooks::{self, HookArgs, Lenient, RunOf};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The container.
    container: String,
    /// Its topology, when several applied topologies have a container of that name.
    #[arg(long)]
    topology: Option<String>,
    #[command(flatten)]
    lock: LockArgs,
    #[command(flatten)]
    hooks: HookArgs,
}

/// Stops (`stop = true`) or starts a container.
pub fn run(args: Args, stop: bool, state: &StateDir) -> miette::Result<u8> {
    let verb = if stop { "stop" } else { "start" };
    require_root(verb)?;
    let _lock = take_lock(state, args.lock)?;
    let machine = Machine::open()?;
    let mut observer = CliObserver::new(if stop { "stopping" } else { "starting" });
    // The container's topology and the hooks of the file it was applied from, if one is known
    // (otherwise set_stopped reports the missing or ambiguous container).
    let recorded = state
        .all_applied()?
        .into_iter()
        .filter(|d| args.topology.as_ref().is_none_or(|t| &d.topology == t))
        .filter(|d| d.container(&args.container).is_some())
        .collect::<Vec<Desired>>();
    let hook_set = match recorded.as_slice() {
        [one] => match hooks::recorded_origin(state, &one.topology)? {
            Some(file) => match hooks::load_lenient(&file, args.hooks) {
                Lenient::Loaded(set) => Some((set, one.clone())),
                Lenient::Unavailable => None,
                Lenient::Broken => return Ok(1),
            },
            None => None,
        },
        _ => None,
    };
    let print = observer.printer();
    let (result, failure) = match &hook_set {
        Some((set, before)) => {
            let mut goal = before.clone();
            for c in goal.containers.iter_mut().filter(|c| c.name == args.container) {
                c.stopped = stop;
            }
            let plan = diff::diff(before, &goal);
            let mut hooked = hooks::observer(
                set,
                state,
                RunOf {
                    phase: Phase::StopStart,
                    desired: &goal,
                    before: Some(before),
                    plan: &plan,
                },
                print,
                &mut observer,
            );
            let result = apply::set_stopped(
                machine.env(state),
                args.topology.as_deref(),
                &args.container,
                stop,
                &mut hooked,
            );
            let failure = hooked.take_failure();
            (result, failure)
        }
        None => (
            apply::set_stopped(
                machine.env(state),
                args.topology.as_deref(),
                &args.container,
                stop,
                &mut observer,
            ),
            None,
        ),
    };
    observer.finish();
    if let (Err(_), Some(f)) = (&result, failure) {
        hooks::report(f);
        return Ok(1);
    }
    let (topology, outcome) = result?;
    if outcome.is_noop() {
        outln!(
            "container {} of topology {topology} is already {}",
            args.container,
            if stop { "stopped" } else { "running" }
        );
    } else {
        outln!(
            "container {} of topology {topology} {}",
            args.container,
            if stop { "stopped" } else { "started" }
        );
    }
    Ok(0)
}
