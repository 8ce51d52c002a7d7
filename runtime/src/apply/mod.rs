//! Apply: makes the kernel match a desired state, safely and again and again.
//!
//! # Design: reconciliation
//! Apply does not replay the plan. It derives the kernel objects a topology needs
//! (`wanted`: bridges, named namespaces, veth pairs, per-namespace files, `run` processes),
//! observes what exists ([`Kernel::observe`](crate::kernel::Kernel::observe): one link, address
//! and route dump in the host and in each relevant namespace), and computes the operations that
//! turn one into the other (`reconcile`). `netplan apply` reads the kernel and the machine
//! once ([`prepare`]): the same read gives the drift shown in the plan and the operations
//! [`apply_ready`] then carries out, so a no-op apply costs one observation. Only objects carrying this topology's ownership tag
//! (see [`crate::kernel`]) are ever changed or deleted; a foreign object with a clashing name
//! stops the apply before any change (`preflight`). Whatever an earlier run left behind (a
//! crash, `kill -9`, a failed step, hand edits), the next run sees it in the kernel and
//! converges: there is no journal to replay and nothing the kernel does not show.
//!
//! # Order
//! 1. pre-flight checks (overlay networks, foreign and cross-topology name clashes);
//! 2. removals: `run` processes, then veth pairs, then namespaces (and their `/etc/netns`
//!    files), then bridges;
//! 3. the nftables table, rebuilt from every applied topology and replaced in one transaction
//!    (after removals, so a removed network never runs without its rules; before creations,
//!    so a new network never runs without them), and forwarding;
//! 4. creations and in-place updates: bridges, namespaces, `/etc/netns` files, veth pairs;
//! 5. the applied state is recorded in the state directory, the DNS service is told;
//! 6. `run` processes are started (after DNS, so that they resolve names from the start).
//!
//! A failing step stops the apply; what exists then is recorded ([`record_partial`]) and the
//! error names the object and the kernel's reason. The caller holds the state lock.
//!
//! # Hook points
//! [`ApplyObserver`] hears of every step: before any change, after each network created or
//! removed, after each container up or down, and after the apply.

mod drift;
mod error;
pub mod exec;
mod execute;
mod files;
pub mod firewall_spec;
pub mod host;
pub mod inspect;
mod observer;
mod preflight;
mod reconcile;
mod records;
#[cfg(test)]
mod tests;
mod wanted;

pub use drift::{Drift, add_drift, drift};
pub use error::ApplyError;
pub use execute::{Env, Outcome, Ready, apply, apply_ready, destroy, prepare, record_partial, set_stopped};
pub use host::{FakeHost, Host, HostProcess, LinuxHost, is_root};
pub use observer::{ApplyObserver, NoObserver, ObserverError, Step};
pub use records::Records;
