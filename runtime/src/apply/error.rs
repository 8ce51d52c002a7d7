//! Errors of apply, destroy, stop and start.

use std::path::PathBuf;

use crate::dns::DnsError;
use crate::kernel::KernelError;
use crate::state::StateError;

/// Why an apply (or destroy, stop, start) stopped.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum ApplyError {
    /// A kernel step failed. Steps before it were carried out and recorded.
    #[error("{step} failed after {done} of {total} steps")]
    #[diagnostic(
        code(netplan::apply::step),
        help(
            "what was done is recorded; fix the cause and run `netplan apply` again: it continues from here"
        )
    )]
    Step {
        /// The step, e.g. `creating veth vnp1234 of container3 on isolated_nw`.
        step: String,
        /// Steps completed before it.
        done: usize,
        /// Steps planned.
        total: usize,
        /// The kernel's error, naming the object.
        #[source]
        #[diagnostic_source]
        source: KernelError,
    },

    /// An object netplan would create already exists and is not netplan's.
    #[error("{object} already exists and was not created by netplan")]
    #[diagnostic(
        code(netplan::apply::foreign),
        help(
            "netplan never changes objects it did not create; nothing was changed. Remove or rename {object} yourself, or rename the {what} in the topology"
        )
    )]
    Foreign {
        /// The clashing object, e.g. `bridge br-x` or `namespace container1`.
        object: String,
        /// What in the topology wants that name, e.g. `container container1`.
        what: String,
    },

    /// An object netplan would create belongs to another applied topology.
    #[error("{object} belongs to topology {owner}, but {what} of topology {topology} needs it too")]
    #[diagnostic(
        code(netplan::apply::clash),
        help(
            "names of namespaces (container names) and bridges are machine-wide; rename one of them. Nothing was changed"
        )
    )]
    Clash {
        /// The object.
        object: String,
        /// The topology that owns it.
        owner: String,
        /// This topology.
        topology: String,
        /// What in this topology wants it.
        what: String,
    },

    /// The default bridge is shared by all topologies; they disagree about it.
    #[error("{what}")]
    #[diagnostic(
        code(netplan::apply::shared_bridge),
        help(
            "every topology on a machine shares the default `bridge` network: give it the same settings everywhere, and give containers on it different addresses. Nothing was changed"
        )
    )]
    SharedBridge {
        /// The disagreement.
        what: String,
    },

    /// Overlay networks span hosts and cannot be applied yet.
    #[error(
        "network {network} uses driver overlay, which needs the multi-host support netplan does not have yet"
    )]
    #[diagnostic(
        code(netplan::apply::overlay),
        help(
            "`netplan plan` shows overlay networks; to apply this file, use `driver bridge` or remove the network. Nothing was changed"
        )
    )]
    Overlay {
        /// The overlay network.
        network: String,
    },

    /// No such container in the applied topologies.
    #[error("no applied topology has a container named {container}")]
    #[diagnostic(
        code(netplan::apply::no_container),
        help("`netplan status` lists the applied topologies and their containers")
    )]
    NoContainer {
        /// The name asked for.
        container: String,
    },

    /// The container name is used in several applied topologies.
    #[error("container {container} exists in several applied topologies: {topologies}")]
    #[diagnostic(code(netplan::apply::ambiguous), help("say which one with --topology NAME"))]
    Ambiguous {
        /// The name asked for.
        container: String,
        /// Comma-separated topologies.
        topologies: String,
    },

    /// The state directory could not be read or written.
    #[error(transparent)]
    #[diagnostic(transparent)]
    State(#[from] StateError),

    /// The DNS service could not be started, reloaded or stopped.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Dns(#[from] DnsError),

    /// Reading the kernel failed (before any change).
    #[error("observing the kernel: {0}")]
    #[diagnostic(code(netplan::apply::observe))]
    Observe(#[source] KernelError),

    /// A file under `/etc/netns` or the state directory could not be written.
    #[error("cannot {op} {path}: {source}")]
    #[diagnostic(code(netplan::apply::io))]
    Io {
        /// What was done.
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// Why it failed.
        #[source]
        source: std::io::Error,
    },

    /// An observer (a hook) stopped the run.
    #[error("stopped by a hook: {0}")]
    #[diagnostic(code(netplan::apply::hook))]
    Observer(#[from] super::ObserverError),
}
