//! What apply keeps in the state directory besides the applied desired state: the `run`
//! processes it started (per topology) and the firewall it last installed (machine-wide).
//!
//! `<dir>/topologies/<name>/processes.json`:
//! `{ "processes": { "container": { "pid": 123, "start": 456, "argv": [...] } } }`,
//! where `start` is the process start time, so that a reused pid is never taken for ours.
//! `<dir>/firewall.json`: the [`FirewallSpec`] last applied.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::ApplyError;
use crate::kernel::FirewallSpec;
use crate::state::StateDir;

/// A `run` process netplan started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcRecord {
    /// Its pid.
    pub pid: u32,
    /// Its start time (clock ticks since boot), as `/proc/PID/stat` says.
    pub start: u64,
    /// The command it runs (a changed `run` restarts it).
    #[serde(default)]
    pub argv: Vec<String>,
}

/// The `run` processes of one topology, by container.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Records {
    /// Container name → process.
    pub processes: BTreeMap<String, ProcRecord>,
}

fn processes_path(state: &StateDir, topology: &str) -> PathBuf {
    state.topology_dir(topology).join("processes.json")
}

fn firewall_path(state: &StateDir) -> PathBuf {
    state.root().join("firewall.json")
}

fn read_json<T: for<'de> Deserialize<'de> + Default>(path: &Path) -> Result<T, ApplyError> {
    match std::fs::read_to_string(path) {
        // A damaged record is no reason to stop: the kernel is the truth, the record a hint.
        Ok(text) => Ok(serde_json::from_str(&text).unwrap_or_default()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(T::default()),
        Err(source) => Err(ApplyError::Io {
            op: "read",
            path: path.to_path_buf(),
            source,
        }),
    }
}

fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), ApplyError> {
    let io = |op, source| ApplyError::Io {
        op,
        path: path.to_path_buf(),
        source,
    };
    let text = serde_json::to_string_pretty(value).map_err(|e| io("serialise", std::io::Error::other(e)))?;
    crate::atomic_file::write(path, text).map_err(|e| io("write", e))
}

impl Records {
    /// The records of `topology` (empty when there are none).
    pub fn load(state: &StateDir, topology: &str) -> Result<Records, ApplyError> {
        read_json(&processes_path(state, topology))
    }

    /// Writes the records of `topology`.
    pub fn save(&self, state: &StateDir, topology: &str) -> Result<(), ApplyError> {
        write_json(&processes_path(state, topology), self)
    }
}

/// The firewall last applied (`None`: never, or removed).
pub(crate) fn load_firewall(state: &StateDir) -> Result<Option<FirewallSpec>, ApplyError> {
    read_json(&firewall_path(state))
}

/// Records the firewall now applied (`None`: removed).
pub(crate) fn save_firewall(state: &StateDir, spec: Option<&FirewallSpec>) -> Result<(), ApplyError> {
    match spec {
        Some(s) => write_json(&firewall_path(state), s),
        None => match std::fs::remove_file(firewall_path(state)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(ApplyError::Io {
                op: "remove",
                path: firewall_path(state),
                source: e,
            }),
            _ => Ok(()),
        },
    }
}
