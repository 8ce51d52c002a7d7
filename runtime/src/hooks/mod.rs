//! Hooks: small Rhai scripts run at named points of `plan`, `apply` and `destroy`.
//!
//! A topology declares `hook EVENT "path.rhai"` at the top level, or inside a `network` or
//! `container` block to scope it to that object. [`HookSet::load`] reads and compiles every
//! script (so `netplan check` finds a missing file or a syntax error, with the position in the
//! script and a label on the `hook` statement); a [`Runner`] runs the scripts of one event in
//! declaration order.
//!
//! A script sees read-only values built from the desired state and the plan ([`values`]:
//! `topology`, `plan`, and `network` or `container` for scoped events) and may call exactly
//! `exec`, `resolve`, `reachable`, `log`, `warn`, `fail` and `env`. What those functions do
//! to the world goes through the [`HookHost`] trait: [`OfflineHost`] answers from the desired
//! state (for `plan`), [`LiveHost`] acts inside the container namespaces. [`Limits`] bound
//! operations, call depth, data sizes and wall-clock time per hook; the engine has no `eval`,
//! no modules, no file or process access ([`engine`](self) documents the sandbox).
//!
//! Event order and semantics (which event runs where) are the caller's: `before-*` and `plan`
//! before any change, per-object events after the change they follow, `after-*` at the end.

mod diag;
mod engine;
pub mod exec;
mod host;
mod limits;
mod live;
mod load;
mod observe;
mod origin;
mod output;
pub mod reach;
mod run;
pub mod values;

pub use diag::HookDiag;
pub use host::{ExecOutput, HookHost, OfflineHost, hosts_lookup};
pub use limits::Limits;
pub use live::LiveHost;
pub use load::{HookScope, HookSet, Script, base_dir, check, codes};
pub use observe::{HookObserver, Phase};
pub use origin::{record_origin, recorded_origin};
pub use output::{HookLog, Level, OutputLine, Sink, collect, discard};
pub use run::{HookFailure, Runner};
