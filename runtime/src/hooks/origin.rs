//! Which topology file an applied topology came from, so that `netplan stop` and `netplan
//! start` (which name only a container) can run the hooks that file declares.
//!
//! Kept as `<state>/topologies/<name>/source`: the file's absolute path. `destroy` removes it
//! with the rest of the topology's directory.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use crate::state::{StateDir, StateError};

fn origin_path(state: &StateDir, topology: &str) -> PathBuf {
    state.topology_dir(topology).join("source")
}

/// Records that `topology` is applied from `file`.
pub fn record_origin(state: &StateDir, topology: &str, file: &Path) -> Result<(), StateError> {
    let io = |op: &'static str, path: PathBuf| move |source| StateError::Io { op, path, source };
    let absolute = std::path::absolute(file).map_err(io("resolve", file.to_path_buf()))?;
    let dir = state.topology_dir(topology);
    std::fs::create_dir_all(&dir).map_err(io("create", dir.clone()))?;
    let path = origin_path(state, topology);
    let text = absolute.to_string_lossy().into_owned();
    crate::atomic_file::write(&path, text + "\n").map_err(io("write", path.clone()))
}

/// The file `topology` was last applied from, if recorded.
pub fn recorded_origin(state: &StateDir, topology: &str) -> Result<Option<PathBuf>, StateError> {
    let path = origin_path(state, topology);
    match std::fs::read_to_string(&path) {
        Ok(t) if !t.trim().is_empty() => Ok(Some(PathBuf::from(t.trim_end_matches('\n')))),
        Ok(_) => Ok(None),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(source) => Err(StateError::Io {
            op: "read",
            path,
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let root = std::env::temp_dir().join(format!("netplan-origin-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let state = StateDir::new(&root);
        assert!(matches!(recorded_origin(&state, "t"), Ok(None)));
        let r = record_origin(&state, "t", Path::new("some dir/t.net"));
        let got = recorded_origin(&state, "t");
        let _ = std::fs::remove_dir_all(&root);
        assert!(r.is_ok());
        let got = got.ok().flatten().unwrap_or_default();
        assert!(got.is_absolute() && got.ends_with("some dir/t.net"), "{got:?}");
    }
}
