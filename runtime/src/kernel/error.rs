//! Errors of the kernel layer: each names the operation and the object.

use std::io;

/// Result of a kernel operation.
pub type KernelResult<T> = Result<T, KernelError>;

/// A failed kernel operation.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum KernelError {
    /// The kernel (or a system call) refused, e.g. `creating bridge br-1: File exists (os error 17)`.
    #[error("{op} {object}: {source}")]
    #[diagnostic(code(netplan::kernel::os))]
    Os {
        /// What was being done, e.g. `creating`.
        op: String,
        /// The object, e.g. `bridge br-1234` or `link eth0 in netns c1`.
        object: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },

    /// The object exists but was not created by netplan, so netplan will not touch it.
    #[error("refusing {op} {object}: it exists but was not created by netplan")]
    #[diagnostic(
        code(netplan::kernel::foreign),
        help(
            "netplan only changes objects it created; rename or remove the existing one yourself, or pick another name"
        )
    )]
    Foreign {
        /// What was attempted.
        op: String,
        /// The foreign object.
        object: String,
    },

    /// A required object does not exist.
    #[error("{op} {object}: it does not exist")]
    #[diagnostic(code(netplan::kernel::missing))]
    Missing {
        /// What was attempted.
        op: String,
        /// The missing object.
        object: String,
    },

    /// The nftables transaction failed (nothing was changed: it is atomic).
    #[error("applying firewall ruleset: {detail}")]
    #[diagnostic(
        code(netplan::kernel::firewall),
        help("netplan needs the `nft` program (package nftables) and CAP_NET_ADMIN")
    )]
    Firewall {
        /// What nft reported.
        detail: String,
    },

    /// A spec cannot be turned into kernel objects.
    #[error("invalid {object}: {reason}")]
    #[diagnostic(code(netplan::kernel::invalid))]
    Invalid {
        /// The offending object.
        object: String,
        /// Why.
        reason: String,
    },
}

impl KernelError {
    /// An OS-level failure of `op` on `object`.
    pub fn os(op: impl Into<String>, object: impl Into<String>, source: io::Error) -> Self {
        KernelError::Os {
            op: op.into(),
            object: object.into(),
            source,
        }
    }

    /// A refusal to touch a foreign `object`.
    pub fn foreign(op: impl Into<String>, object: impl Into<String>) -> Self {
        KernelError::Foreign {
            op: op.into(),
            object: object.into(),
        }
    }

    /// `object` does not exist.
    pub fn missing(op: impl Into<String>, object: impl Into<String>) -> Self {
        KernelError::Missing {
            op: op.into(),
            object: object.into(),
        }
    }

    /// The errno of an OS-level failure, if this is one.
    pub fn errno(&self) -> Option<i32> {
        match self {
            KernelError::Os { source, .. } => source.raw_os_error(),
            _ => None,
        }
    }

    /// Whether the failure means "already exists" (`EEXIST`).
    pub fn is_exists(&self) -> bool {
        self.errno() == Some(libc_errno::EEXIST)
    }

    /// Whether the failure means "no such object".
    pub fn is_missing(&self) -> bool {
        matches!(self, KernelError::Missing { .. })
            || matches!(self.errno(), Some(libc_errno::ENODEV | libc_errno::ENOENT))
    }
}

/// The few errno values the kernel layer inspects (Linux numbering).
pub(crate) mod libc_errno {
    pub const ENOENT: i32 = nix::errno::Errno::ENOENT as i32;
    pub const ESRCH: i32 = nix::errno::Errno::ESRCH as i32;
    pub const EEXIST: i32 = nix::errno::Errno::EEXIST as i32;
    pub const ENODEV: i32 = nix::errno::Errno::ENODEV as i32;
    pub const EADDRNOTAVAIL: i32 = nix::errno::Errno::EADDRNOTAVAIL as i32;
}
