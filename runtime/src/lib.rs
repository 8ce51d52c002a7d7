//! netplan runtime: from a checked topology to the kernel.
//!
//! `ipam` (concrete addresses, stable via the lock file) → `diff` (ordered changes against
//! what was applied) → apply through the `kernel` trait; DNS and hooks alongside.

pub mod apply;
pub mod atomic_file;
pub mod desired;
pub mod diff;
pub mod dns;
pub mod hooks;
pub mod host;
pub mod ids;
pub mod ipam;
pub mod kernel;
pub mod lock;
pub mod planning;
mod positions;
pub mod render;
pub mod state;
