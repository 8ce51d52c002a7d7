//! Terminal conventions shared by every command: colour, diagnostics, loading files.

use std::io::IsTerminal;
use std::path::Path;

use netplan_lang::check::check_text;
use netplan_lang::diag::{JsonDiag, Report};
use netplan_lang::{Diag, Source, Topology};

/// When to colour output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    /// Colour on a terminal, never with NO_COLOR set.
    Auto,
    Always,
    Never,
}

impl ColorChoice {
    /// Whether to colour what goes to stdout (`stderr = false`) or stderr.
    pub fn enabled(self, stderr: bool) -> bool {
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
                let tty = if stderr {
                    std::io::stderr().is_terminal()
                } else {
                    std::io::stdout().is_terminal()
                };
                tty && !no_color
            }
        }
    }
}

/// Installs miette's report handler with the colour decision made once.
pub fn install_miette(color: ColorChoice) {
    let on = color.enabled(true);
    let _ = miette::set_hook(Box::new(move |_| {
        Box::new(
            miette::MietteHandlerOpts::new()
                .color(on)
                .unicode(on)
                .terminal_links(false)
                .build(),
        )
    }));
}

/// Prints diagnostics to stderr in the human form.
pub fn print_diags(diags: &[Diag], source: &Source) {
    for d in diags {
        eprintln!("{:?}", miette::Report::new(Report::new(d.clone(), source)));
    }
}

/// The machine form of diagnostics, for `--json`.
pub fn json_diags(diags: &[Diag], source: &Source) -> Vec<JsonDiag> {
    diags.iter().map(|d| JsonDiag::new(d, source)).collect()
}

/// A topology's name: the file name without `.net`.
pub fn topology_name(path: &Path) -> String {
    path.file_name()
        .and_then(|n| n.to_str())
        .map(|n| n.strip_suffix(".net").unwrap_or(n).to_string())
        .unwrap_or_else(|| "topology".to_string())
}

/// A read and checked file.
pub struct Loaded {
    pub source: Source,
    pub topology: Option<Topology>,
    pub diags: Vec<Diag>,
}

/// Reads and checks one topology file.
pub fn load(path: &Path) -> miette::Result<Loaded> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| miette::miette!(code = "netplan::io", "cannot read {}: {e}", path.display()))?;
    let checked = check_text(&text, &topology_name(path));
    Ok(Loaded {
        source: Source::new(path.display().to_string(), text),
        topology: checked.topology,
        diags: checked.diags,
    })
}

/// Reads and checks a file, printing its diagnostics; `None` when it has errors.
pub fn load_valid(path: &Path) -> miette::Result<Option<(Source, Topology)>> {
    let l = load(path)?;
    print_diags(&l.diags, &l.source);
    Ok(l.topology.map(|t| (l.source, t)))
}
