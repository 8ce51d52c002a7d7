//! `netplan plan FILE [--against OLD.net]`

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use netplan_lang::model::HookEvent;
use netplan_lang::{Source, Topology};
use netplan_runtime::hooks::{self, HookFailure, HookSet, Limits, OfflineHost, OutputLine, Runner, Sink};
use netplan_runtime::lock::Lock;
use netplan_runtime::planning::{self, Planned};
use netplan_runtime::render;
use netplan_runtime::state::StateDir;

use crate::ui::{self, ColorChoice};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Terraform-style text.
    Text,
    /// Versioned JSON (same as --json).
    Json,
    /// Markdown for a pull-request comment.
    Markdown,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The topology file.
    file: PathBuf,
    /// Compare with another revision of the file instead of this machine (CI: no root, no
    /// kernel). Example: `git show origin/main:topology.net > old.net`.
    #[arg(long, value_name = "OLD.net")]
    against: Option<PathBuf>,
    /// Fail instead of updating the lock file when it would change (like `cargo --locked`).
    #[arg(long)]
    locked: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Shorthand for `--format json`.
    #[arg(long, conflicts_with = "format")]
    json: bool,
    /// Exit 0 when there are no changes, 2 when there are, 1 on error.
    #[arg(long)]
    detailed_exitcode: bool,
    /// Longest time each hook may run, in seconds.
    #[arg(long, value_name = "SECONDS", env = "NETPLAN_HOOK_TIMEOUT", default_value_t = Limits::default().deadline.as_secs())]
    hook_timeout: u64,
}

/// Makes the plan for `file` (against `against` or the machine), updating or checking the
/// lock file. `Ok(None)`: the files had errors (already printed).
pub fn make(
    file: &Path,
    against: Option<&Path>,
    locked: bool,
    state: &StateDir,
) -> miette::Result<Option<(Planned, netplan_lang::Source)>> {
    Ok(make_full(file, against, locked, state)?.map(|(p, s, _)| (p, s)))
}

/// [`make`], also returning the checked topology (its hooks).
pub fn make_full(
    file: &Path,
    against: Option<&Path>,
    locked: bool,
    state: &StateDir,
) -> miette::Result<Option<(Planned, Source, Topology)>> {
    let Some((source, topo)) = ui::load_valid(file)? else {
        return Ok(None);
    };
    let lock_path = Lock::path_for(file);
    let lock = Lock::load(&lock_path)?;
    let planned = match against {
        Some(old_path) => {
            let Some((_, mut old)) = ui::load_valid(old_path)? else {
                return Ok(None);
            };
            // The two revisions are one topology, whatever the old file is called.
            old.name = topo.name.clone();
            planning::against_file(&topo, &old, &lock)
        }
        None => {
            let applied = state.applied(&topo.name)?;
            let own_bridges: Vec<String> = state
                .all_applied()?
                .iter()
                .flat_map(|d| d.networks.iter().filter_map(|n| n.bridge.clone()))
                .collect();
            let host = netplan_runtime::host::reserved(&own_bridges);
            planning::against_applied(&topo, &lock, applied.as_ref(), &host)
        }
    };
    let planned = match planned {
        Ok(p) => p,
        Err(diags) => {
            ui::print_diags(&diags, &source);
            return Ok(None);
        }
    };
    if planned.allocated.lock != lock {
        if locked {
            return Err(miette::miette!(
                code = "netplan::lock::outdated",
                help = "run `netplan plan` without --locked and commit the updated lock file",
                "{} needs to change, but --locked was given",
                lock_path.display()
            ));
        }
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        if planned.allocated.lock.save(&lock_path, &name)? {
            eprintln!("updated {}", lock_path.display());
        }
    }
    Ok(Some((planned, source, topo)))
}

/// Reads and compiles the hooks of `topo` (declared in `file`); `None` when one does not load
/// (the diagnostics are printed).
pub fn load_hooks(file: &Path, source: &Source, topo: &Topology, limits: Limits) -> Option<HookSet> {
    match HookSet::load(topo, source, &hooks::base_dir(file), limits) {
        Ok(set) => Some(set),
        Err(diags) => {
            for d in diags {
                eprintln!("{:?}", miette::Report::new(d));
            }
            None
        }
    }
}

/// Runs the `plan` hooks: read-only, before any change, answering names from the desired
/// state. Their output goes to stderr. `Err`: a hook refused the plan.
pub fn run_plan_hooks(set: &HookSet, planned: &Planned) -> Result<(), HookFailure> {
    if !set.has(HookEvent::Plan) {
        return Ok(());
    }
    let desired = &planned.allocated.desired;
    let host = Arc::new(OfflineHost::new(desired));
    let sink: Sink = Arc::new(|l: &OutputLine| eprintln!("{l}"));
    Runner::new(set, host, sink, desired, &planned.plan)
        .run(HookEvent::Plan)
        .map(|_| ())
}

pub fn run(args: Args, color: ColorChoice, state: &StateDir) -> miette::Result<u8> {
    let Some((planned, source, topo)) = make_full(&args.file, args.against.as_deref(), args.locked, state)?
    else {
        return Ok(1);
    };
    let limits = Limits::with_deadline(Duration::from_secs(args.hook_timeout));
    let Some(hook_set) = load_hooks(&args.file, &source, &topo, limits) else {
        return Ok(1);
    };
    let refused = run_plan_hooks(&hook_set, &planned).err();
    let format = if args.json { Format::Json } else { args.format };
    let plan = &planned.plan;
    match format {
        Format::Text => print!("{}", render::text(plan, color.enabled(false))),
        Format::Json => println!("{}", render::json(plan)),
        Format::Markdown => {
            let title = args.file.display().to_string();
            print!("{}", render::markdown(plan, &title, render::MARKDOWN_LIMIT));
        }
    }
    if let Some(f) = refused {
        eprintln!("{:?}", miette::Report::new(f));
        return Ok(1);
    }
    Ok(if args.detailed_exitcode && !plan.is_empty() {
        2
    } else {
        0
    })
}
