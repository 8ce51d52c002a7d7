//! The netplan topology language: grammar, syntax tree, validation and formatter.
//!
//! `text → parse → check → Topology`. Nothing here touches a machine.

// The grammar derive names `::alloc` when pest runs without its `std` feature.
extern crate alloc;

pub mod ast;
pub mod check;
pub mod diag;
pub mod fmt;
pub mod model;
pub mod parse;

pub use diag::{Diag, Severity, Source};
pub use model::Topology;
pub use parse::parse;
