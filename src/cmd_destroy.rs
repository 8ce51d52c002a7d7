//! `netplan destroy FILE`: remove every object the topology created, nothing else.

use std::path::PathBuf;

use netplan_runtime::apply;
use netplan_runtime::desired::Desired;
use netplan_runtime::diff;
use netplan_runtime::hooks::Phase;
use netplan_runtime::state::StateDir;

use crate::cmd_apply::{CliObserver, LockArgs, Machine, require_root, take_lock};
use crate::hooks::{self, HookArgs, Lenient, RunOf};
use crate::ui;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The topology file (only its name matters: the topology is named after it).
    file: PathBuf,
    #[command(flatten)]
    lock: LockArgs,
    #[command(flatten)]
    hooks: HookArgs,
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
        Some(d) => outln!(
            "Destroying topology {topology}: {} network(s), {} container(s).",
            d.networks.iter().filter(|n| n.bridge.is_some()).count(),
            d.containers.len()
        ),
        None => outln!(
            "Topology {topology} is not recorded as applied; removing whatever of it the kernel still shows."
        ),
    }
    // Its hooks, when the file still checks: the plan hooks see the removal first.
    let empty = Desired {
        topology: topology.clone(),
        ..Desired::default()
    };
    let before = recorded.clone().unwrap_or_else(|| empty.clone());
    let plan = diff::diff(&before, &empty);
    let hook_set = match hooks::load_lenient(&args.file, args.hooks) {
        Lenient::Loaded(set) => Some(set),
        Lenient::Unavailable => None,
        Lenient::Broken => return Ok(1),
    };
    if let Some(set) = &hook_set
        && let Err(f) = hooks::run_plan(set, &before, &plan)
    {
        hooks::report(f);
        eprintln!("Nothing was changed.");
        return Ok(1);
    }
    let mut observer = CliObserver::new("destroying");
    let print = observer.printer();
    let outcome = match &hook_set {
        Some(set) => {
            let mut hooked = hooks::observer(
                set,
                state,
                RunOf {
                    phase: Phase::Destroy,
                    desired: &before,
                    before: recorded.as_ref(),
                    plan: &plan,
                },
                print,
                &mut observer,
            );
            let outcome = apply::destroy(env, &topology, &mut hooked);
            let failure = hooked.take_failure();
            drop(hooked);
            match (outcome, failure) {
                (Err(_), Some(f)) => {
                    observer.finish();
                    hooks::report(f);
                    eprintln!("What was removed is recorded; `netplan destroy` goes on from there.");
                    return Ok(1);
                }
                (outcome, _) => outcome,
            }
        }
        None => apply::destroy(env, &topology, &mut observer),
    };
    observer.finish();
    let outcome = outcome?;
    if outcome.is_noop() {
        outln!("Destroy complete! Nothing was left.");
    } else {
        outln!(
            "Destroy complete! {} object(s) removed ({} kernel steps).",
            outcome.removed,
            outcome.steps
        );
    }
    Ok(0)
}
