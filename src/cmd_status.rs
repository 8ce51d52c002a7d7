//! `netplan status [--json]`: what is applied on this machine and whether the DNS service runs.

use netplan_runtime::desired::Desired;
use netplan_runtime::dns::{self, control::Status};
use netplan_runtime::state::StateDir;
use serde::Serialize;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print JSON (versioned) instead of text.
    #[arg(long)]
    json: bool,
}

/// Namespaces listed by name in the text output before it says "and N more".
const LIST_LIMIT: usize = 30;

#[derive(Debug, Serialize)]
struct Report {
    version: u32,
    topologies: Vec<TopologyReport>,
    dns: DnsReport,
}

#[derive(Debug, Serialize)]
struct TopologyReport {
    name: String,
    networks: Vec<String>,
    running: Vec<String>,
    stopped: Vec<String>,
}

#[derive(Debug, Serialize)]
struct DnsReport {
    /// Some applied container uses the embedded DNS server.
    needed: bool,
    running: bool,
    pid: Option<u32>,
    /// What the service reports (when it runs and answers).
    status: Option<Status>,
    /// Why it could not be asked, when it runs but does not answer.
    error: Option<String>,
}

fn topology(d: &Desired) -> TopologyReport {
    let (stopped, running): (Vec<_>, Vec<_>) = d.containers.iter().partition(|c| c.stopped);
    TopologyReport {
        name: d.topology.clone(),
        networks: d.networks.iter().map(|n| n.name.to_string()).collect(),
        running: running.iter().map(|c| c.name.to_string()).collect(),
        stopped: stopped.iter().map(|c| c.name.to_string()).collect(),
    }
}

fn list(names: &[String]) -> String {
    let mut s = names
        .iter()
        .take(LIST_LIMIT)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > LIST_LIMIT {
        s.push_str(&format!(" and {} more", names.len() - LIST_LIMIT));
    }
    s
}

pub fn run(args: Args, state: &StateDir) -> miette::Result<u8> {
    let applied = state.all_applied()?;
    let paths = dns::control::Paths::new(state);
    let (status, error) = match dns::service::status(state) {
        Ok(s) => (s, None),
        Err(e) => (None, Some(e.to_string())),
    };
    let report = Report {
        version: 1,
        topologies: applied.iter().map(topology).collect(),
        dns: DnsReport {
            needed: dns::needs_service(&applied),
            running: status.is_some() || error.is_some(),
            pid: status
                .as_ref()
                .map(|s| s.pid)
                .or_else(|| paths.recorded_pid().filter(|_| error.is_some())),
            status,
            error,
        },
    };
    if args.json {
        let text = serde_json::to_string_pretty(&report).map_err(|e| miette::miette!("{e}"))?;
        outln!("{text}");
        return Ok(0);
    }
    if report.topologies.is_empty() {
        outln!(
            "No topology is applied (state directory {}).",
            state.root().display()
        );
    }
    for t in &report.topologies {
        outln!(
            "topology {}: {} network(s), {} container(s) running, {} stopped",
            t.name,
            t.networks.len(),
            t.running.len(),
            t.stopped.len()
        );
        if !t.stopped.is_empty() {
            outln!("  stopped: {}", list(&t.stopped));
        }
    }
    let d = &report.dns;
    match (&d.status, &d.error) {
        (Some(s), _) => {
            outln!(
                "dns service: running, pid {}, serving {} namespace(s) (reload #{}, {:.1} ms)",
                s.pid,
                s.namespaces.len(),
                s.generation,
                s.reload_ms
            );
            if !s.namespaces.is_empty() {
                outln!("  namespaces: {}", list(&s.namespaces));
            }
            let ups: Vec<String> = s.upstreams.iter().map(|u| u.to_string()).collect();
            outln!(
                "  upstream resolvers: {}",
                if ups.is_empty() {
                    "none".to_string()
                } else {
                    ups.join(", ")
                }
            );
            for (ns, why) in &s.failed {
                outln!("  not serving {ns} yet: {why}");
            }
            for w in &s.warnings {
                outln!("  warning: {w}");
            }
            if let Some(e) = &s.error {
                outln!("  last reload failed (previous names still served): {e}");
            }
        }
        (None, Some(e)) => outln!(
            "dns service: not answering{}: {e}",
            d.pid.map(|p| format!(" (pid {p})")).unwrap_or_default()
        ),
        (None, None) if d.needed => {
            outln!("dns service: not running, but applied containers need it; `netplan apply` starts it")
        }
        (None, None) => outln!("dns service: not running (no container needs it)"),
    }
    Ok(0)
}
