//! netplan: Docker-style user-defined container networks from a topology file.
//!
//! A thin CLI over `netplan-lang` (parse, check, format) and `netplan-runtime` (IPAM,
//! plan, apply, DNS, hooks).

/// Prints to stdout like `print!`, but a closed stdout (`netplan plan | head`) is not an error:
/// the output is dropped and the command carries on, so an apply is never cut short by it.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout(), $($arg)*);
    }};
}

/// `println!` with the same rule as [`out!`].
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

mod cmd_apply;
mod cmd_check;
mod cmd_destroy;
mod cmd_dns;
mod cmd_exec;
mod cmd_fmt;
mod cmd_inspect;
mod cmd_ls;
mod cmd_plan;
mod cmd_status;
mod cmd_stop;
mod hooks;
mod ui;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};
use netplan_runtime::state::{DEFAULT_STATE_DIR, StateDir};

use ui::ColorChoice;

/// Docker-style container networks on plain Linux, from a declarative topology file.
///
/// Exit codes: 0 success, 1 error, 2 changes present (plan --detailed-exitcode).
#[derive(Debug, Parser)]
#[command(name = "netplan", version, propagate_version = true)]
struct Cli {
    /// When to use colour (never with NO_COLOR set, unless `always`).
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, global = true)]
    color: ColorChoice,
    /// Where netplan records what it applied.
    #[arg(long, env = "NETPLAN_STATE_DIR", default_value = DEFAULT_STATE_DIR, global = true)]
    state_dir: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check topology files and report every problem (exit 1 on errors).
    Check(cmd_check::Args),
    /// Format topology files canonically, keeping every comment.
    Fmt(cmd_fmt::Args),
    /// Show what apply would change, against this machine or another revision of the file.
    Plan(cmd_plan::Args),
    /// Show the applied topologies, their containers, and the DNS service.
    Status(cmd_status::Args),
    /// Print the plan, then carry it out (root).
    Apply(cmd_apply::Args),
    /// Remove every object a topology created, nothing else (root).
    Destroy(cmd_destroy::Args),
    /// List the networks on this machine, like `docker network ls`.
    Ls(cmd_ls::Args),
    /// Show networks (or containers, with --container) as Docker-shaped JSON.
    Inspect(cmd_inspect::Args),
    /// Run a command inside a container's namespace (root).
    Exec(cmd_exec::Args),
    /// Stop a container: remove its endpoints, end its run process (root).
    Stop(cmd_stop::Args),
    /// Start a stopped container again (root).
    Start(cmd_stop::Args),
    /// Run the embedded DNS service (started by apply).
    #[command(hide = true)]
    Dns(cmd_dns::Args),
    /// Print a shell completion script.
    Completions {
        /// The shell to complete for.
        shell: clap_complete::Shell,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    ui::install_miette(cli.color);
    let state = StateDir::new(&cli.state_dir);
    let result = match cli.command {
        Command::Check(a) => cmd_check::run(a),
        Command::Fmt(a) => cmd_fmt::run(a),
        Command::Plan(a) => cmd_plan::run(a, cli.color, &state),
        Command::Status(a) => cmd_status::run(a, &state),
        Command::Apply(a) => cmd_apply::run(a, cli.color, &state),
        Command::Destroy(a) => cmd_destroy::run(a, &state),
        Command::Ls(a) => cmd_ls::run(a, &state),
        Command::Inspect(a) => cmd_inspect::run(a, &state),
        Command::Exec(a) => cmd_exec::run(a, &state),
        Command::Stop(a) => cmd_stop::run(a, true, &state),
        Command::Start(a) => cmd_stop::run(a, false, &state),
        Command::Dns(a) => cmd_dns::run(a, &state),
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "netplan", &mut std::io::stdout());
            Ok(0)
        }
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(report) => {
            eprintln!("{report:?}");
            ExitCode::from(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }
}
