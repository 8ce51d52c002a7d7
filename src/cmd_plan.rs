//! `netplan plan FILE [--against OLD.net]`

use std::path::{Path, PathBuf};

use netplan_lang::{Source, Topology};
use netplan_runtime::lock::Lock;
use netplan_runtime::planning::{self, Planned};
use netplan_runtime::render;
use netplan_runtime::state::StateDir;

use crate::hooks::{self, HookArgs};
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
    #[command(flatten)]
    hooks: HookArgs,
}

/// Makes the plan for `file` (against `against` or the machine), updating or checking the
/// lock file; also returns the source text and the checked topology (its hooks). `Ok(None)`:
/// the files had errors (already printed).
pub fn make(
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
            // One read of the state directory serves both this topology's record and the
            // bridges every applied topology owns.
            let all = state.all_applied()?;
            let applied = all.iter().find(|d| d.topology == topo.name);
            let own_bridges: Vec<String> = all
                .iter()
                .flat_map(|d| {
                    d.networks
                        .iter()
                        .filter_map(|n| n.bridge.as_deref().map(str::to_string))
                })
                .collect();
            let mut host = netplan_runtime::host::reserved(&own_bridges);
            host.default_bridge = netplan_runtime::host::default_bridge_holders(&all, &topo.name);
            planning::against_applied(&topo, &lock, applied, &host)
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

pub fn run(args: Args, color: ColorChoice, state: &StateDir) -> miette::Result<u8> {
    let Some((mut planned, source, topo)) = make(&args.file, args.against.as_deref(), args.locked, state)?
    else {
        return Ok(1);
    };
    if args.against.is_none() {
        // Against this machine: what changed outside netplan, and kernel switches to flip.
        crate::cmd_apply::add_machine_drift(&mut planned, state);
        if let Some(line) = crate::cmd_apply::forwarding_line(&planned.allocated.desired) {
            planned.plan.notes.push(netplan_runtime::ipam::Note {
                address: "forwarding".into(),
                message: line.trim_start_matches("Forwarding: ").to_string(),
            });
        }
    }
    let Some(hook_set) = hooks::load(&args.file, &source, &topo, args.hooks) else {
        return Ok(1);
    };
    let refused = hooks::run_plan(&hook_set, &planned.allocated.desired, &planned.plan).err();
    let format = if args.json { Format::Json } else { args.format };
    let plan = &planned.plan;
    match format {
        Format::Text => out!("{}", render::text(plan, color.enabled(false))),
        Format::Json => {
            // Written as it is made: a first plan of 10,000 containers is tens of megabytes.
            // Like `out!`, a closed stdout is not an error of the plan.
            use std::io::Write as _;
            let mut w = std::io::BufWriter::new(std::io::stdout().lock());
            let _ = render::write_json(plan, &mut w).and_then(|()| w.flush());
        }
        Format::Markdown => {
            let title = args.file.display().to_string();
            out!("{}", render::markdown(plan, &title, render::MARKDOWN_LIMIT));
        }
    }
    if let Some(f) = refused {
        hooks::report(f);
        return Ok(1);
    }
    Ok(if args.detailed_exitcode && !plan.is_empty() {
        2
    } else {
        0
    })
}
