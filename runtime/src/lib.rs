//! netplan runtime.
pub mod kernel;
