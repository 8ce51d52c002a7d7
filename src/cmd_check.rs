//! `netplan check FILE...`

use std::path::PathBuf;

use netplan_runtime::hooks;

use crate::ui;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Topology files to check.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Print diagnostics as JSON on stdout (code, severity, message, file, line, column, labels).
    #[arg(long)]
    json: bool,
}

/// Exit 0 when every file is valid (warnings allowed), 1 when any has an error.
pub fn run(args: Args) -> miette::Result<u8> {
    let mut failed = false;
    let mut all = Vec::new();
    for f in &args.files {
        let l = ui::load(f)?;
        failed |= l.diags.iter().any(|d| d.is_error());
        // Every hook script is read and compiled, relative to the file's directory.
        let hook_diags = match &l.topology {
            Some(topo) => hooks::check(topo, &l.source, &hooks::base_dir(f)),
            None => Vec::new(),
        };
        failed |= hook_diags.iter().any(|d| d.is_error());
        if args.json {
            all.extend(ui::json_diags(&l.diags, &l.source));
            all.extend(hook_diags.iter().flat_map(|d| d.json()));
        } else {
            ui::print_diags(&l.diags, &l.source);
            for d in &hook_diags {
                eprintln!("{:?}", miette::Report::new(d.clone()));
            }
        }
    }
    if args.json {
        let text = serde_json::to_string_pretty(&all).map_err(|e| miette::miette!("{e}"))?;
        outln!("{text}");
    } else if !failed {
        let n = args.files.len();
        eprintln!("{n} file{} checked: no errors", if n == 1 { "" } else { "s" });
    }
    Ok(u8::from(failed))
}
