//! The state directory: what was applied, per topology, and the lock that keeps two
//! netplan processes from changing the machine at once.
//!
//! Layout (default `/var/lib/netplan`, or `--state-dir` / `NETPLAN_STATE_DIR`):
//! `<dir>/lock` (exclusive `flock` held for the whole of apply, destroy, stop and start),
//! `<dir>/topologies/<name>/applied.json` (the desired state last carried out),
//! `<dir>/topologies/<name>/logs/` (container process output, hook output).

use std::fs::{File, OpenOptions};
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::desired::Desired;

pub const DEFAULT_STATE_DIR: &str = "/var/lib/netplan";

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum StateError {
    #[error("cannot {op} {path}: {source}")]
    #[diagnostic(
        code(netplan::state::io),
        help("check the permissions of the state directory (see --state-dir)")
    )]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("recorded state {path} is not valid: {message}")]
    #[diagnostic(
        code(netplan::state::corrupt),
        help(
            "move the file away and run `netplan apply` again; netplan will only remove objects it tagged as its own"
        )
    )]
    Corrupt { path: PathBuf, message: String },
    #[error("another netplan process holds {path}; gave up after {waited:?}")]
    #[diagnostic(
        code(netplan::state::busy),
        help("wait for the other apply to finish, or raise --lock-timeout")
    )]
    Busy { path: PathBuf, waited: Duration },
}

/// The state directory.
#[derive(Debug, Clone)]
pub struct StateDir {
    root: PathBuf,
}

/// Holds the exclusive lock until dropped.
#[derive(Debug)]
pub struct StateLock {
    _file: File,
}

fn io<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> StateError + 'a {
    move |source| StateError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

impl StateDir {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        StateDir { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn topology_dir(&self, topology: &str) -> PathBuf {
        self.root.join("topologies").join(topology)
    }

    pub fn logs_dir(&self, topology: &str) -> PathBuf {
        self.topology_dir(topology).join("logs")
    }

    fn applied_path(&self, topology: &str) -> PathBuf {
        self.topology_dir(topology).join("applied.json")
    }

    /// Takes the exclusive lock, waiting up to `timeout`; `on_wait` is called once when the
    /// lock is busy (to tell the user why nothing happens).
    pub fn lock(&self, timeout: Duration, on_wait: impl FnOnce()) -> Result<StateLock, StateError> {
        std::fs::create_dir_all(&self.root).map_err(io("create", &self.root))?;
        let path = self.root.join("lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io("open", &path))?;
        let start = Instant::now();
        let mut on_wait = Some(on_wait);
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(StateLock { _file: file }),
                Err(std::fs::TryLockError::WouldBlock) => {
                    if let Some(f) = on_wait.take() {
                        f();
                    }
                    if start.elapsed() >= timeout {
                        return Err(StateError::Busy {
                            path,
                            waited: timeout,
                        });
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(io("lock", &path)(e)),
            }
        }
    }

    /// The desired state last applied for `topology`, if any.
    pub fn applied(&self, topology: &str) -> Result<Option<Desired>, StateError> {
        let path = self.applied_path(topology);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io("read", &path)(e)),
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| StateError::Corrupt {
                path,
                message: e.to_string(),
            })
    }

    /// Records what is applied now (atomically: write a temporary file, then rename).
    pub fn save_applied(&self, desired: &Desired) -> Result<(), StateError> {
        let dir = self.topology_dir(&desired.topology);
        std::fs::create_dir_all(&dir).map_err(io("create", &dir))?;
        let path = self.applied_path(&desired.topology);
        let text = serde_json::to_string_pretty(desired).map_err(|e| StateError::Corrupt {
            path: path.clone(),
            message: e.to_string(),
        })?;
        crate::atomic_file::write(&path, text).map_err(io("write", &path))
    }

    /// Forgets a topology entirely (after destroy).
    pub fn remove(&self, topology: &str) -> Result<(), StateError> {
        let dir = self.topology_dir(topology);
        match std::fs::remove_dir_all(&dir) {
            Err(e) if e.kind() != ErrorKind::NotFound => Err(io("remove", &dir)(e)),
            _ => Ok(()),
        }
    }

    /// Names of every topology with recorded state, sorted.
    pub fn topologies(&self) -> Result<Vec<String>, StateError> {
        let dir = self.root.join("topologies");
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io("list", &dir)(e)),
        };
        let mut out: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter(|e| e.path().join("applied.json").exists())
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        out.sort();
        Ok(out)
    }

    /// Every applied desired state on this machine.
    pub fn all_applied(&self) -> Result<Vec<Desired>, StateError> {
        let mut out = Vec::new();
        for t in self.topologies()? {
            if let Some(d) = self.applied(&t)? {
                out.push(d);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmpdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("netplan-state-test-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn save_load_remove() {
        let dir = tmpdir("slr");
        let s = StateDir::new(&dir);
        assert_eq!(s.applied("t").ok().flatten(), None);
        let d = Desired {
            topology: "t".into(),
            ..Desired::default()
        };
        assert!(s.save_applied(&d).is_ok());
        assert_eq!(s.applied("t").ok().flatten(), Some(d));
        assert_eq!(s.topologies().ok(), Some(vec!["t".to_string()]));
        assert!(s.remove("t").is_ok());
        assert_eq!(s.topologies().ok(), Some(vec![]));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn second_lock_waits_then_fails() {
        let dir = tmpdir("lock");
        let s = StateDir::new(&dir);
        let first = s.lock(Duration::from_secs(1), || {});
        assert!(first.is_ok());
        let mut told = false;
        let second = s.lock(Duration::from_millis(120), || told = true);
        assert!(matches!(second, Err(StateError::Busy { .. })));
        assert!(told);
        drop(first);
        assert!(s.lock(Duration::from_millis(120), || {}).is_ok());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
