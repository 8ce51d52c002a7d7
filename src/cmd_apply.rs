//! `netplan apply FILE`: print the plan, carry it out, print the summary.
//!
//! Also home of what every command that changes the machine shares: the root check, the state
//! lock, the kernel environment and the progress display.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use netplan_lang::Diag;
use netplan_runtime::apply::{self, ApplyObserver, Env, LinuxHost, ObserverError, Outcome, Step};
use netplan_runtime::desired::{ContainerState, Desired, NetState};
use netplan_runtime::hooks::Phase;
use netplan_runtime::kernel::LinuxKernel;
use netplan_runtime::render;
use netplan_runtime::state::{StateDir, StateLock};

use crate::cmd_plan;
use crate::hooks::{self, HookArgs, RunOf};
use crate::ui::{self, ColorChoice};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The topology file.
    file: PathBuf,
    /// Only show the plan (the same as `netplan plan FILE`).
    #[arg(long)]
    dry_run: bool,
    /// Fail instead of updating the lock file when it would change.
    #[arg(long)]
    locked: bool,
    #[command(flatten)]
    lock: LockArgs,
    #[command(flatten)]
    hooks: HookArgs,
}

/// How long to wait for another netplan process that holds the state lock.
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct LockArgs {
    /// Seconds to wait for another netplan command that is changing the machine.
    #[arg(long, value_name = "SECONDS", default_value_t = 300)]
    pub lock_timeout: u64,
}

/// Fails unless running as root.
pub fn require_root(command: &str) -> miette::Result<()> {
    if apply::is_root() {
        return Ok(());
    }
    Err(miette::miette!(
        code = "netplan::root",
        help = format!("run it as root, e.g. `sudo netplan {command} …`; `netplan plan` works without root"),
        "netplan {command} changes network namespaces, interfaces and the firewall, which needs root"
    ))
}

/// Takes the state lock, saying so when another command holds it.
pub fn take_lock(state: &StateDir, args: LockArgs) -> miette::Result<StateLock> {
    let lock = state.lock(Duration::from_secs(args.lock_timeout), || {
        eprintln!(
            "Waiting for another netplan command to finish (state lock {}; at most {}s)…",
            state.root().join("lock").display(),
            args.lock_timeout
        );
    })?;
    Ok(lock)
}

/// The real kernel and machine.
pub struct Machine {
    pub kernel: LinuxKernel,
    pub host: LinuxHost,
}

impl Machine {
    pub fn open() -> miette::Result<Machine> {
        let exe = std::env::current_exe()
            .map_err(|e| miette::miette!("cannot find the netplan executable: {e}"))?;
        Ok(Machine {
            kernel: LinuxKernel::new()?,
            host: LinuxHost { dns_exe: Some(exe) },
        })
    }

    pub fn env<'a>(&'a self, state: &'a StateDir) -> Env<'a> {
        Env {
            kernel: &self.kernel,
            host: &self.host,
            state,
        }
    }
}

/// The plan's line about forwarding, when apply would switch it on.
pub fn forwarding_line(desired: &Desired) -> Option<String> {
    let on = |p: &str| std::fs::read_to_string(p).is_ok_and(|s| s.trim() == "1");
    let v4 = desired.forwarding.ipv4 && !on("/proc/sys/net/ipv4/ip_forward");
    let v6 = desired.forwarding.ipv6 && !on("/proc/sys/net/ipv6/conf/all/forwarding");
    let which = match (v4, v6) {
        (true, true) => "net.ipv4.ip_forward and net.ipv6.conf.all.forwarding",
        (true, false) => "net.ipv4.ip_forward",
        (false, true) => "net.ipv6.conf.all.forwarding",
        (false, false) => return None,
    };
    Some(format!(
        "Forwarding: {which} will be set to 1 (networks that route to the outside need it; netplan never turns it off)."
    ))
}

/// Adds what changed outside netplan to a plan against this machine (only as root: reading
/// other namespaces needs it; otherwise the plan compares with the recorded state alone).
pub fn add_machine_drift(planned: &mut netplan_runtime::planning::Planned, state: &StateDir) {
    if !apply::is_root() {
        return;
    }
    let topology = planned.allocated.desired.topology.clone();
    let Ok(Some(recorded)) = state.applied(&topology) else {
        return;
    };
    let Ok(machine) = Machine::open() else { return };
    match apply::drift(machine.env(state), &recorded) {
        Ok(drift) => apply::add_drift(&mut planned.plan, &drift),
        Err(e) => eprintln!("warning: cannot compare with the kernel: {e}"),
    }
}

/// Progress for a run: a bar on a terminal, plain lines otherwise.
pub struct CliObserver {
    bar: Option<ProgressBar>,
    /// The bar, for [`CliObserver::printer`].
    shared: Arc<Mutex<Option<ProgressBar>>>,
    verb: &'static str,
}

impl CliObserver {
    pub fn new(verb: &'static str) -> CliObserver {
        CliObserver {
            bar: None,
            shared: Arc::default(),
            verb,
        }
    }

    fn say(&self, line: String) {
        match &self.bar {
            Some(b) => b.println(line),
            None => outln!("{line}"),
        }
    }

    pub fn finish(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
        if let Ok(mut shared) = self.shared.lock() {
            *shared = None;
        }
    }

    /// Prints a line from another thread (hook output) above the bar, or plainly without one.
    pub fn printer(&self) -> impl Fn(&str) + Send + Sync + 'static {
        let shared = self.shared.clone();
        move |line: &str| match shared.lock().ok().and_then(|b| b.clone()) {
            Some(b) => b.println(line),
            None => outln!("{line}"),
        }
    }
}

impl Drop for CliObserver {
    fn drop(&mut self) {
        self.finish();
    }
}

impl ApplyObserver for CliObserver {
    fn before_changes(&mut self, _topology: &str, steps: usize) -> Result<(), ObserverError> {
        if steps > 0 && std::io::stderr().is_terminal() {
            let bar = ProgressBar::new(steps as u64);
            if let Ok(style) = ProgressStyle::with_template("{spinner} {bar:30} {pos}/{len} {wide_msg}") {
                bar.set_style(style);
            }
            bar.set_message(self.verb);
            if let Ok(mut shared) = self.shared.lock() {
                *shared = Some(bar.clone());
            }
            self.bar = Some(bar);
        }
        Ok(())
    }

    fn step(&mut self, step: &Step) {
        if let Some(b) = &self.bar {
            b.set_position(step.index.saturating_sub(1) as u64);
            b.set_message(step.what.clone());
        }
    }

    fn network_created(&mut self, _topology: &str, network: &NetState) -> Result<(), ObserverError> {
        self.say(format!("network.{}: created", network.name));
        Ok(())
    }

    fn network_removed(&mut self, _topology: &str, network: &str) -> Result<(), ObserverError> {
        self.say(format!("network.{network}: removed"));
        Ok(())
    }

    fn container_up(&mut self, _topology: &str, container: &ContainerState) -> Result<(), ObserverError> {
        self.say(format!("container.{}: up", container.name));
        Ok(())
    }

    fn container_down(&mut self, _topology: &str, container: &str) -> Result<(), ObserverError> {
        self.say(format!("container.{container}: down"));
        Ok(())
    }

    fn after_changes(&mut self, _topology: &str, _outcome: &Outcome) -> Result<(), ObserverError> {
        self.finish();
        Ok(())
    }
}

/// Refuses overlay networks before anything happens, pointing at them in the file.
fn refuse_overlay(file: &Path, desired: &Desired) -> miette::Result<bool> {
    let overlay: Vec<&NetState> = desired
        .networks
        .iter()
        .filter(|n| n.driver == netplan_lang::model::Driver::Overlay)
        .collect();
    if overlay.is_empty() {
        return Ok(false);
    }
    let loaded = ui::load(file)?;
    let diags: Vec<Diag> = overlay
        .iter()
        .map(|n| {
            let span = loaded
                .topology
                .as_ref()
                .and_then(|t| t.network(&n.name))
                .map(|tn| tn.span)
                .unwrap_or_default();
            Diag::error(
                "netplan::apply::overlay",
                format!(
                    "network {} uses driver overlay, which spans hosts; netplan cannot apply it yet",
                    n.name
                ),
            )
            .primary(span, "an overlay network")
            .help("`netplan plan` shows it; to apply this file on one host use `driver bridge`, or remove the network. Nothing was changed")
        })
        .collect();
    ui::print_diags(&diags, &loaded.source);
    Ok(true)
}

pub fn run(args: Args, color: ColorChoice, state: &StateDir) -> miette::Result<u8> {
    if args.dry_run {
        let Some((mut planned, source, topo)) = cmd_plan::make(&args.file, None, args.locked, state)? else {
            return Ok(1);
        };
        let Some(hook_set) = hooks::load(&args.file, &source, &topo, args.hooks) else {
            return Ok(1);
        };
        add_machine_drift(&mut planned, state);
        out!("{}", render::text(&planned.plan, color.enabled(false)));
        if let Some(line) = forwarding_line(&planned.allocated.desired) {
            outln!("{line}");
        }
        if let Err(f) = hooks::run_plan(&hook_set, &planned.allocated.desired, &planned.plan) {
            hooks::report(f);
            return Ok(1);
        }
        return Ok(0);
    }
    require_root("apply")?;
    let _lock = take_lock(state, args.lock)?;
    let Some((mut planned, source, topo)) = cmd_plan::make(&args.file, None, args.locked, state)? else {
        return Ok(1);
    };
    let Some(hook_set) = hooks::load(&args.file, &source, &topo, args.hooks) else {
        return Ok(1);
    };
    let desired = planned.allocated.desired.clone();
    if refuse_overlay(&args.file, &desired)? {
        return Ok(1);
    }
    let machine = Machine::open()?;
    let env = machine.env(state);
    // One read of the kernel serves the drift shown in the plan and the apply itself.
    let ready = apply::prepare(env, &desired)?;
    apply::add_drift(&mut planned.plan, ready.drift());
    out!("{}", render::text(&planned.plan, color.enabled(false)));
    if let Some(line) = forwarding_line(&desired) {
        outln!("{line}");
    }
    if let Err(f) = hooks::run_plan(&hook_set, &desired, &planned.plan) {
        hooks::report(f);
        eprintln!("Nothing was changed.");
        return Ok(1);
    }
    hooks::record_origin(state, &desired.topology, &args.file)?;
    let recorded = ready.recorded().cloned();
    let mut observer = CliObserver::new("applying");
    let print = observer.printer();
    let mut hooked = hooks::observer(
        &hook_set,
        state,
        RunOf {
            phase: Phase::Apply,
            desired: &desired,
            before: recorded.as_ref(),
            plan: &planned.plan,
        },
        print,
        &mut observer,
    );
    let outcome = apply::apply_ready(env, ready, &mut hooked);
    let failure = hooked.take_failure();
    drop(hooked);
    observer.finish();
    let outcome = match (outcome, failure) {
        (Ok(o), _) => o,
        (Err(_), Some(f)) => {
            hooks::report(f);
            eprintln!(
                "What was done is recorded; `netplan apply` goes on from there once the hook is fixed."
            );
            return Ok(1);
        }
        (Err(e), None) => return Err(e.into()),
    };
    let s = planned.plan.summary();
    if outcome.is_noop() {
        outln!("\nApply complete! Nothing to do.");
    } else {
        outln!(
            "\nApply complete! Resources: {} added, {} changed, {} destroyed ({} kernel steps).",
            s.add,
            s.change,
            s.destroy,
            outcome.steps
        );
    }
    Ok(0)
}
