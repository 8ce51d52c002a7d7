//! `netplan exec`: run a command inside a container, as `ip netns exec` does.

use std::fs::File;
use std::io;
use std::os::fd::AsFd;

use nix::sched::{CloneFlags, setns};

use super::ApplyError;
use crate::desired::{ContainerState, Desired};
use crate::kernel::netns;
use crate::kernel::process::{etc_overlays, prepare_child};

/// Finds container `name` among the applied topologies (`topology` narrows the search).
pub fn find_container<'a>(
    applied: &'a [Desired],
    name: &str,
    topology: Option<&str>,
) -> Result<(&'a Desired, &'a ContainerState), ApplyError> {
    let found: Vec<(&Desired, &ContainerState)> = applied
        .iter()
        .filter(|d| topology.is_none_or(|t| d.topology == t))
        .filter_map(|d| d.container(name).map(|c| (d, c)))
        .collect();
    match found.as_slice() {
        [] => Err(ApplyError::NoContainer {
            container: name.to_string(),
        }),
        [one] => Ok(*one),
        many => Err(ApplyError::Ambiguous {
            container: name.to_string(),
            topologies: many
                .iter()
                .map(|(d, _)| d.topology.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

/// Moves the calling process into named namespace `ns` with its own view of `/etc`, exactly as
/// netplan starts `run` processes and hooks ([`prepare_child`]): a private mount namespace in
/// which every file of `/etc/netns/NS/` is bind-mounted over the same name in `/etc` (so
/// `/etc/resolv.conf` and `/etc/hosts` are the container's) and `/sys` shows the namespace's
/// interfaces.
///
/// Call it only from a single-threaded process that `exec`s the command right after: namespace
/// switches apply to the calling thread only.
pub fn enter(ns: &str) -> io::Result<()> {
    netns::validate_name(ns).map_err(|m| io::Error::new(io::ErrorKind::InvalidInput, m))?;
    let overlays = etc_overlays(ns)?;
    let target = File::open(netns::netns_path(ns))?;
    setns(target.as_fd(), CloneFlags::CLONE_NEWNET)?;
    prepare_child(&overlays)
}
