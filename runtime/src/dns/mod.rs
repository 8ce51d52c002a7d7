//! The embedded DNS service: Docker-style name resolution inside every container.
//!
//! One process per machine (`netplan dns`, started by apply) serves `127.0.0.11:53` over UDP
//! and TCP **inside each container's network namespace**: the sockets are created on a thread
//! that joined the namespace, and each namespace gets its own hickory [`Server`] whose handler
//! knows which container it serves. So the asker is known from the socket it asked on, never
//! from a source address.
//!
//! The name data comes from every desired state recorded in the state directory
//! ([`crate::state::StateDir::all_applied`]); see [`names`] for what a container may see and
//! [`lookup`] for the resolution order. Unknown names are forwarded upstream ([`forward`]).
//!
//! Apply talks to the service through [`service`]: [`service::sync`] after every change (it
//! starts, reloads or stops the service as needed). A reload goes over the control socket in the
//! state directory and returns once the new data is served ([`control`] documents the protocol).
//! [`resolv_conf`] gives the text of a container's `/etc/resolv.conf`.
//!
//! [`Server`]: hickory_server::Server

pub mod control;
pub mod daemon;
pub mod engine;
mod error;
pub mod forward;
mod handler;
mod listeners;
pub mod lookup;
pub mod names;
pub mod probe;
mod resolv;
pub mod service;
mod udp;
mod wire;

use std::net::{IpAddr, Ipv4Addr};

pub use engine::{Config, Engine};
pub use error::DnsError;
pub use resolv::resolv_conf;

use crate::desired::{Desired, Resolver};

/// The address the embedded DNS server answers at inside each container (Docker's).
pub const LISTEN_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 11);

/// The standard DNS port, for both listening and forwarding.
pub const DNS_PORT: u16 = 53;

/// TTL of locally answered records (Docker's resolver uses 600 seconds).
pub const LOCAL_TTL: u32 = 600;

/// At most this many upstream resolvers are asked for a forwarded name.
pub const MAX_UPSTREAMS: usize = 3;

/// Whether any applied container uses the embedded DNS server (running or stopped), i.e.
/// whether the service should run.
pub fn needs_service(applied: &[Desired]) -> bool {
    applied
        .iter()
        .flat_map(|d| &d.containers)
        .any(|c| c.resolver == Resolver::Embedded && !c.on_host)
}

/// Whether `ip` is the embedded server itself (never used as an upstream: no loops).
pub(crate) fn is_self(ip: IpAddr) -> bool {
    ip == IpAddr::V4(LISTEN_IP)
}
