//! Kernel access: the one narrow, synchronous seam between netplan and Linux.
//!
//! Everything netplan does to the machine goes through the [`Kernel`] trait: named network
//! namespaces, bridges, veth pairs, addresses, routes, forwarding sysctls, the nftables
//! ruleset and the processes started inside containers. Two implementations exist:
//!
//! * [`LinuxKernel`]: the real one (rtnetlink, `nft -j -f -`, `setns` on private threads,
//!   never `fork` from a threaded process except to start `nft` and container commands).
//! * [`FakeKernel`]: an in-memory model for planner and apply tests that need no root.
//!
//! # Ownership
//! netplan only ever changes objects it created itself:
//! * links carry the interface alias (`IFLA_IFALIAS`) [`tag_for`]`(topology)`, i.e.
//!   `netplan:<topology>`;
//! * named namespaces carry a marker file `/run/netplan/netns/<name>` holding the same tag.
//!   `/run` is a tmpfs, so the marker vanishes on reboot together with the namespace itself.
//!
//! Creating an object whose name is taken by a foreign (untagged) object, or deleting an untagged
//! object, fails with [`KernelError::Foreign`] naming the object.
//!
//! # Threads and async
//! The trait is synchronous. [`LinuxKernel`] owns a private current-thread tokio runtime; when a
//! method is called from inside another tokio runtime it runs its work on a scoped helper thread,
//! so calling it from async code blocks that worker but does not panic. Prefer `spawn_blocking`.
//!
//! [`Kernel::observe`] needs neither: it reads with plain blocking netlink sockets, the host
//! namespace on the calling thread and the named namespaces on a few worker threads that join
//! one namespace after another and end afterwards.

mod dump;
mod error;
mod fake;
mod fake_state;
mod firewall;
mod netlink;
mod netlink_ops;
pub mod netns;
mod observe;
mod pending;
pub(crate) mod process;
pub mod sandbox;
mod types;

pub use error::{KernelError, KernelResult};
pub use fake::FakeKernel;
pub use firewall::{INET_TABLE, build_ruleset};
pub use netlink::LinuxKernel;
pub use netns::in_netns;
pub use types::{
    Address, BridgeSpec, FirewallNetwork, FirewallSpec, Link, LinkKind, MacAddr, NetnsInfo, NsObjects,
    Observed, ProcessSpec, Proto, PublishedPort, Route, RouteOrigin, RouteSpec, VethSpec,
};

/// Prefix of every ownership tag netplan writes.
pub const TAG_PREFIX: &str = "netplan:";

/// The ownership tag for objects of `topology`: `netplan:<topology>`.
pub fn tag_for(topology: &str) -> String {
    format!("{TAG_PREFIX}{topology}")
}

/// Whether `tag` (an interface alias or netns marker) marks a netplan-owned object.
pub fn is_netplan_tag(tag: Option<&str>) -> bool {
    tag.is_some_and(|t| t.starts_with(TAG_PREFIX))
}

/// The topology named by a netplan tag, if `tag` is one.
pub fn tag_topology(tag: Option<&str>) -> Option<&str> {
    tag.and_then(|t| t.strip_prefix(TAG_PREFIX))
}

/// Everything netplan needs from the kernel. Data in, data out; every method is synchronous.
///
/// `netns: Option<&str>` selects a named namespace; `None` means the namespace netplan itself
/// runs in (the "host"). Errors name the operation and the object
/// (`creating bridge br-1234: File exists (os error 17)`).
pub trait Kernel {
    /// Reads the current state: one link, one address and one route dump in the host namespace
    /// and in each existing namespace of `namespaces` (names that do not exist are skipped),
    /// plus the list of all named namespaces with their netplan markers.
    fn observe(&self, namespaces: &[String]) -> KernelResult<Observed>;

    /// Creates named namespace `name` (like `ip netns add`), brings its `lo` up and writes the
    /// ownership marker containing `tag` (first: a crash halfway leaves a namespace, or a mount
    /// point without one, that netplan knows as its own; the latter is replaced).
    fn create_netns(&self, name: &str, tag: &str) -> KernelResult<()>;

    /// Deletes named namespace `name`; refuses when it carries no netplan marker. The kernel
    /// destroys the namespace, with its links and the host ends of their veth pairs, once
    /// nothing uses it any more (asynchronously, a few milliseconds later). Processes and
    /// sockets inside keep it alive, so stop them first ([`Kernel::kill_process`]).
    fn delete_netns(&self, name: &str) -> KernelResult<()>;

    /// Forgets the records of link creations that were interrupted before the link existed
    /// (see `pending`), so that no foreign link taking such a name later passes for netplan's.
    /// Only while no other netplan changes the kernel, i.e. under the state lock. Returns how
    /// many were forgotten.
    fn forget_interrupted_creations(&self) -> KernelResult<usize>;

    /// Brings `lo` up in netplan-owned namespace `netns` (a crash right after the namespace
    /// was made, or someone else, may have left it down).
    fn set_loopback_up(&self, netns: &str) -> KernelResult<()>;

    /// Creates a bridge in the host namespace, tags it, pins its MAC, adds the addresses and
    /// brings it up. On failure nothing half-made is left behind.
    fn create_bridge(&self, spec: &BridgeSpec) -> KernelResult<()>;

    /// Creates a veth pair: the host end enslaved to `spec.bridge`, the peer created directly
    /// inside `spec.netns` with MAC, MTU, addresses and routes; both ends tagged and up.
    /// On failure the pair is removed again.
    fn create_veth(&self, spec: &VethSpec) -> KernelResult<()>;

    /// Deletes link `name` in `netns`; refuses when it is not tagged by netplan.
    /// Deleting either end of a veth pair removes both.
    fn delete_link(&self, netns: Option<&str>, name: &str) -> KernelResult<()>;

    /// Sets the MTU of netplan-owned link `name` in `netns`.
    fn set_link_mtu(&self, netns: Option<&str>, name: &str, mtu: u32) -> KernelResult<()>;

    /// Sets whether host link `name` (a netplan-owned bridge port) is an isolated port, i.e.
    /// the kernel's icc switch for one container (see [`VethSpec::isolated`]).
    fn set_port_isolation(&self, name: &str, isolated: bool) -> KernelResult<()>;

    /// Makes the addresses of netplan-owned link `name` exactly `addresses` (IPv6 link-local
    /// addresses are left alone), adding missing ones and removing others.
    fn replace_addresses(
        &self,
        netns: Option<&str>,
        name: &str,
        addresses: &[ipnet::IpNet],
    ) -> KernelResult<()>;

    /// Turns IPv4 and/or IPv6 forwarding on in the host namespace. `false` leaves the current
    /// value alone: netplan never switches forwarding off, other software may rely on it.
    fn enable_forwarding(&self, v4: bool, v6: bool) -> KernelResult<()>;

    /// Replaces netplan's nftables tables with the ruleset for `spec` in one atomic transaction.
    fn apply_firewall(&self, spec: &FirewallSpec) -> KernelResult<()>;

    /// Removes netplan's nftables tables (no error when they do not exist).
    fn remove_firewall(&self) -> KernelResult<()>;

    /// Starts a process inside a netplan-owned namespace; returns its pid.
    fn spawn_process(&self, spec: &ProcessSpec) -> KernelResult<u32>;

    /// Stops process `pid` (SIGTERM, then SIGKILL after a grace period) if it still runs inside
    /// namespace `netns`. A process that is already gone is not an error; a pid that now belongs
    /// to a process outside `netns` (pid reuse) is left alone and reported as an error.
    fn kill_process(&self, netns: &str, pid: u32) -> KernelResult<()>;
}
