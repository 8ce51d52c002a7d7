//! `netplan fmt FILE... [--check]`

use std::path::PathBuf;

use netplan_lang::Source;

use crate::ui;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Topology files to format in place.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Change nothing; show what would change and exit 1 if any file is not formatted.
    #[arg(long)]
    check: bool,
}

pub fn run(args: Args) -> miette::Result<u8> {
    let mut status = 0;
    for path in &args.files {
        let text = std::fs::read_to_string(path)
            .map_err(|e| miette::miette!(code = "netplan::io", "cannot read {}: {e}", path.display()))?;
        let formatted = match netplan_lang::fmt::format(&text) {
            Ok(f) => f,
            Err(diags) => {
                ui::print_diags(&diags, &Source::new(path.display().to_string(), text.as_str()));
                eprintln!("{}: not formatted: fix the errors above first", path.display());
                status = 1;
                continue;
            }
        };
        if formatted == text {
            continue;
        }
        if args.check {
            let name = path.display().to_string();
            let diff = similar::TextDiff::from_lines(&text, &formatted);
            out!(
                "{}",
                diff.unified_diff()
                    .context_radius(2)
                    .header(&name, &format!("{name} (formatted)"))
            );
            status = 1;
        } else {
            std::fs::write(path, &formatted)
                .map_err(|e| miette::miette!(code = "netplan::io", "cannot write {}: {e}", path.display()))?;
            eprintln!("formatted {}", path.display());
        }
    }
    Ok(status)
}
