//! `netplan ls`: the networks on this machine, like `docker network ls`.

use netplan_runtime::apply::inspect;
use netplan_runtime::state::StateDir;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print JSON (an array of {ID, Name, Driver, Scope, Topology}).
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args, state: &StateDir) -> miette::Result<u8> {
    let rows = inspect::ls(&state.all_applied()?);
    if args.json {
        let text = serde_json::to_string_pretty(&rows).map_err(|e| miette::miette!("{e}"))?;
        outln!("{text}");
        return Ok(0);
    }
    let width = rows.iter().map(|r| r.name.len()).max().unwrap_or(4).max(4);
    outln!(
        "{:<12}   {:<width$}   {:<8}   SCOPE",
        "NETWORK ID",
        "NAME",
        "DRIVER"
    );
    for r in &rows {
        outln!(
            "{:<12}   {:<width$}   {:<8}   {}",
            r.id,
            r.name,
            r.driver,
            r.scope
        );
    }
    Ok(0)
}
