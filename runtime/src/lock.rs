//! The lock file (`topology.net.lock`): every address netplan chose, so that plans are
//! stable over edits and the same on any machine.
//!
//! TOML, sorted by name (BTreeMap), one value per line: friendly to review and diff.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use ipnet::{Ipv4Net, Ipv6Net};
use serde::{Deserialize, Serialize};

/// The format version this build reads and writes.
pub const LOCK_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lock {
    pub version: u32,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub networks: BTreeMap<String, NetworkLock>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub containers: BTreeMap<String, ContainerLock>,
}

impl Default for Lock {
    fn default() -> Self {
        Lock {
            version: LOCK_VERSION,
            networks: BTreeMap::new(),
            containers: BTreeMap::new(),
        }
    }
}

/// Subnets chosen automatically for a network.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct NetworkLock {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet4: Option<Ipv4Net>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet6: Option<Ipv6Net>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ContainerLock {
    /// Addresses per network name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub endpoints: BTreeMap<String, EndpointLock>,
    /// Host ports chosen for `publish` without one, keyed by the publish spec
    /// (e.g. `"80/tcp"`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub ports: BTreeMap<String, u16>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct EndpointLock {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv4: Option<Ipv4Addr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv6: Option<Ipv6Addr>,
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum LockError {
    #[error("cannot read lock file {path}: {source}")]
    #[diagnostic(code(netplan::lock::read))]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("lock file {path} is not valid: {message}")]
    #[diagnostic(
        code(netplan::lock::parse),
        help(
            "the lock file is written by netplan; restore it from version control, or delete it to let netplan choose addresses anew"
        )
    )]
    Parse { path: PathBuf, message: String },
    #[error("lock file {path} has format version {found}; this netplan reads version {LOCK_VERSION}")]
    #[diagnostic(
        code(netplan::lock::version),
        help("use the netplan release that wrote it, or delete the lock file")
    )]
    Version { path: PathBuf, found: u32 },
    #[error("cannot write lock file {path}: {source}")]
    #[diagnostic(code(netplan::lock::write))]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl Lock {
    /// The lock file that belongs to a topology file: the same path plus `.lock`.
    pub fn path_for(topology: &Path) -> PathBuf {
        let mut p = topology.as_os_str().to_owned();
        p.push(".lock");
        PathBuf::from(p)
    }

    /// Reads a lock file; a missing file is an empty lock.
    pub fn load(path: &Path) -> Result<Lock, LockError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Lock::default()),
            Err(source) => {
                return Err(LockError::Read {
                    path: path.into(),
                    source,
                });
            }
        };
        Lock::parse(&text).map_err(|e| match e {
            LockError::Parse { message, .. } => LockError::Parse {
                path: path.into(),
                message,
            },
            LockError::Version { found, .. } => LockError::Version {
                path: path.into(),
                found,
            },
            other => other,
        })
    }

    /// Parses lock file text.
    pub fn parse(text: &str) -> Result<Lock, LockError> {
        #[derive(Deserialize)]
        struct Head {
            version: u32,
        }
        let head: Head = toml::from_str(text).map_err(|e| LockError::Parse {
            path: PathBuf::new(),
            message: e.message().to_string(),
        })?;
        if head.version != LOCK_VERSION {
            return Err(LockError::Version {
                path: PathBuf::new(),
                found: head.version,
            });
        }
        toml::from_str(text).map_err(|e| LockError::Parse {
            path: PathBuf::new(),
            message: e.message().to_string(),
        })
    }

    /// The file's text: a header comment, then sorted TOML.
    pub fn render(&self, topology_file: &str) -> String {
        let body = toml::to_string(self).unwrap_or_else(|_| format!("version = {LOCK_VERSION}\n"));
        format!(
            "# netplan lock file for {topology_file}: the addresses netplan chose.\n\
             # Commit it with the topology so plans stay the same on every machine.\n\
             # Written by netplan; do not edit by hand.\n\n{body}"
        )
    }

    /// Writes the lock file only when its content changes. Returns whether it wrote.
    pub fn save(&self, path: &Path, topology_file: &str) -> Result<bool, LockError> {
        let text = self.render(topology_file);
        if std::fs::read_to_string(path).is_ok_and(|old| old == text) {
            return Ok(false);
        }
        crate::atomic_file::write(path, text).map_err(|source| LockError::Write {
            path: path.into(),
            source,
        })?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_sorted() {
        let mut l = Lock::default();
        l.networks.insert(
            "zeta".into(),
            NetworkLock {
                subnet4: "172.18.0.0/16".parse().ok(),
                subnet6: None,
            },
        );
        l.networks.insert("alpha".into(), NetworkLock::default());
        let mut c = ContainerLock::default();
        c.endpoints.insert(
            "zeta".into(),
            EndpointLock {
                ipv4: "172.18.0.2".parse().ok(),
                ipv6: None,
            },
        );
        c.ports.insert("80/tcp".into(), 49153);
        l.containers.insert("web".into(), c);
        let text = l.render("t.net");
        assert!(text.find("[networks.alpha]") < text.find("[networks.zeta]"));
        assert_eq!(Lock::parse(&text).ok(), Some(l));
    }

    #[test]
    fn refuses_other_versions_and_garbage() {
        assert!(matches!(
            Lock::parse("version = 9\n"),
            Err(LockError::Version { found: 9, .. })
        ));
        assert!(matches!(
            Lock::parse("networks = 3"),
            Err(LockError::Parse { .. })
        ));
    }
}
