//! What a hook may consume: operations, nesting, data sizes and wall-clock time.

use std::time::Duration;

/// Limits applied to every hook run. A script that exceeds one is stopped with an error naming
/// the hook and the limit; netplan itself never waits longer than [`Limits::deadline`] per hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Wall-clock time one hook may take, including the commands it runs.
    pub deadline: Duration,
    /// Longest time one `exec` may take (less when the hook's deadline comes sooner).
    pub exec_timeout: Duration,
    /// Longest time one `resolve` or `reachable` probe waits for an answer.
    pub probe_timeout: Duration,
    /// Rhai operations per hook (an endless loop stops here first).
    pub max_operations: u64,
    /// Nested function calls (runaway recursion stops here).
    pub max_call_levels: usize,
    /// Nesting depth of expressions (also at compile time).
    pub max_expr_depth: usize,
    /// Bytes in one string, also the most of an `exec` output stream that is kept.
    pub max_string_size: usize,
    /// Elements in one array.
    pub max_array_size: usize,
    /// Entries in one object map.
    pub max_map_size: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            deadline: Duration::from_secs(60),
            exec_timeout: Duration::from_secs(10),
            probe_timeout: Duration::from_millis(500),
            max_operations: 5_000_000,
            max_call_levels: 32,
            max_expr_depth: 64,
            max_string_size: 1 << 20,
            max_array_size: 1_000_000,
            max_map_size: 10_000,
        }
    }
}

impl Limits {
    /// The default limits with another per-hook deadline (`--hook-timeout`).
    pub fn with_deadline(deadline: Duration) -> Self {
        Limits {
            deadline,
            ..Limits::default()
        }
    }
}
