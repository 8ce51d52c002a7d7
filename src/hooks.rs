//! Hooks for the commands: loading a topology's scripts, `--hook-timeout`, the `plan` event,
//! and where hook output goes (under the step it belongs to, and the state directory's hook
//! log `<state>/topologies/<name>/logs/hooks.log`).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use netplan_lang::model::HookEvent;
use netplan_lang::{Source, Topology};
use netplan_runtime::apply::ApplyObserver;
use netplan_runtime::desired::Desired;
use netplan_runtime::diff::Plan;
use netplan_runtime::hooks::{
    self, HookFailure, HookLog, HookObserver, HookSet, Limits, LiveHost, OfflineHost, OutputLine, Phase,
    Runner, Sink,
};
use netplan_runtime::state::StateDir;

use crate::ui;

pub use netplan_runtime::hooks::{record_origin, recorded_origin};

/// `--hook-timeout`, shared by every command that runs hooks.
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct HookArgs {
    /// Longest time each hook may run, in seconds (commands it runs included).
    #[arg(
        long,
        value_name = "SECONDS",
        env = "NETPLAN_HOOK_TIMEOUT",
        default_value_t = Limits::default().deadline.as_secs(),
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub hook_timeout: u64,
}

impl HookArgs {
    pub fn limits(&self) -> Limits {
        Limits::with_deadline(Duration::from_secs(self.hook_timeout))
    }
}

/// Reads and compiles the hooks of `topo` (declared in `file`); `None` when one does not load
/// (the diagnostics are printed).
pub fn load(file: &Path, source: &Source, topo: &Topology, args: HookArgs) -> Option<HookSet> {
    match HookSet::load(topo, source, &hooks::base_dir(file), args.limits()) {
        Ok(set) => Some(set),
        Err(diags) => {
            for d in diags {
                eprintln!("{:?}", miette::Report::new(d));
            }
            None
        }
    }
}

/// The hooks of a command that must work even when its topology file is gone or broken
/// (destroy, stop, start).
pub enum Lenient {
    Loaded(HookSet),
    /// The file is missing or has errors: no hooks (a warning was printed).
    Unavailable,
    /// A hook script does not load (printed): refuse, as apply would.
    Broken,
}

/// Loads the hooks of `file` for destroy, stop or start; see [`Lenient`].
pub fn load_lenient(file: &Path, args: HookArgs) -> Lenient {
    let loaded = match ui::load(file) {
        Ok(l) => l,
        Err(_) => {
            eprintln!(
                "warning: hooks not run: cannot read {} (the file the topology was applied from)",
                file.display()
            );
            return Lenient::Unavailable;
        }
    };
    let Some(topo) = loaded.topology else {
        eprintln!(
            "warning: hooks not run: {} has errors (see `netplan check {}`)",
            file.display(),
            file.display()
        );
        return Lenient::Unavailable;
    };
    match load(file, &loaded.source, &topo, args) {
        Some(set) => Lenient::Loaded(set),
        None => Lenient::Broken,
    }
}

/// Runs the `plan` hooks on a plan about to be shown or carried out: read-only, before any
/// change, names answered from `desired`. Their output goes to stderr.
pub fn run_plan(set: &HookSet, desired: &Desired, plan: &Plan) -> Result<(), HookFailure> {
    if !set.has(HookEvent::Plan) {
        return Ok(());
    }
    let host = Arc::new(OfflineHost::new(desired));
    let sink: Sink = Arc::new(|l: &OutputLine| eprintln!("{l}"));
    Runner::new(set, host, sink, desired, plan)
        .run(HookEvent::Plan)
        .map(|_| ())
}

/// Prints a hook failure with its script position and `hook` statement.
pub fn report(f: HookFailure) {
    eprintln!("{:?}", miette::Report::new(f));
}

/// What one run of apply, destroy, stop or start is about.
pub struct RunOf<'d> {
    pub phase: Phase,
    /// What scripts see as `topology`: the state being reached (for destroy, the one removed).
    pub desired: &'d Desired,
    /// What was applied before the run.
    pub before: Option<&'d Desired>,
    /// What scripts see as `plan`.
    pub plan: &'d Plan,
}

/// Runs the hooks of `set` at the steps of one run, passing every event on to `inner`.
///
/// Hook functions work on the containers of `run.desired` and `run.before`. Output goes to
/// `print` (indented under the step) and to the topology's hook log.
pub fn observer<'a>(
    set: &'a HookSet,
    state: &StateDir,
    run: RunOf<'_>,
    print: impl Fn(&str) + Send + Sync + 'static,
    inner: &'a mut dyn ApplyObserver,
) -> HookObserver<'a> {
    let RunOf {
        phase,
        desired,
        before,
        plan,
    } = run;
    let log = if set.is_empty() {
        None
    } else {
        match HookLog::open(state, &desired.topology) {
            Ok(l) => Some(l),
            Err(e) => {
                eprintln!("warning: hook output is not logged: {e}");
                None
            }
        }
    };
    let echo = move |l: &OutputLine| print(&format!("  {l}"));
    let sink = match &log {
        Some(log) => log.sink(echo),
        None => Arc::new(echo) as Sink,
    };
    let states: Vec<&Desired> = std::iter::once(desired).chain(before).collect();
    let max_output = set.limits().max_string_size;
    let host = Arc::new(LiveHost::new(&states, max_output));
    let runner = Runner::new(set, host, sink, desired, plan);
    HookObserver::new(runner, phase, before, log, inner)
}
