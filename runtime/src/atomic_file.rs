//! Replacing a file so that a reader, or a netplan killed half-way, sees the old content or the
//! new one, never a truncated mix: write a temporary file beside it, then rename it over.
//!
//! Every file netplan keeps (lock files, applied state, namespace markers, link records, the
//! DNS service's pid) goes through [`write`]. A kill between creating and filling a file would
//! otherwise leave it empty, and an empty record reads as a different owner or no addresses.

use std::io;
use std::path::{Path, PathBuf};

/// The temporary file for `path`: hidden, in the same directory (so the rename stays on one
/// filesystem), and named for this process so two writers never share one.
fn temporary(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.{}.tmp", std::process::id()))
}

/// Whether `name` is a temporary file [`write`] made for a file called `target` (left behind
/// only when a netplan was killed between writing and renaming it).
pub fn is_temporary_of(name: &str, target: &str) -> bool {
    name.strip_prefix('.')
        .and_then(|n| n.strip_prefix(target))
        .and_then(|n| n.strip_prefix('.'))
        .and_then(|n| n.strip_suffix(".tmp"))
        .is_some_and(|pid| !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()))
}

/// Writes `contents` to `path` atomically, creating the parent directory when missing.
pub fn write(path: &Path, contents: impl AsRef<[u8]>) -> io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = temporary(path);
    if let Err(e) = std::fs::write(&tmp, contents) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

/// The names of the files in `dir` (none when it cannot be read), for tests.
#[cfg(test)]
pub(crate) fn file_names(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_whole_and_leaves_no_temporary() {
        let dir = std::env::temp_dir().join(format!("netplan-atomic-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("sub").join("file.lock");
        write(&path, "one\n").unwrap_or_else(|e| panic!("{e}"));
        write(&path, "two\n").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(std::fs::read_to_string(&path).ok().as_deref(), Some("two\n"));
        assert_eq!(file_names(&dir.join("sub")), ["file.lock"]);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn temporaries_are_recognised() {
        assert!(is_temporary_of(".hosts.123.tmp", "hosts"));
        assert!(is_temporary_of(".resolv.conf.9.tmp", "resolv.conf"));
        assert!(!is_temporary_of(".hosts..tmp", "hosts"));
        assert!(!is_temporary_of(".hosts.x1.tmp", "hosts"));
        assert!(!is_temporary_of("hosts", "hosts"));
        assert!(!is_temporary_of(".resolv.conf.9.tmp", "hosts"));
    }

    #[test]
    fn a_failed_write_keeps_the_old_file() {
        let dir = std::env::temp_dir().join(format!("netplan-atomic-fail-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("target");
        write(&path, "old").unwrap_or_else(|e| panic!("{e}"));
        // A directory in the way of the temporary file makes the write fail.
        std::fs::create_dir_all(temporary(&path)).unwrap_or_else(|e| panic!("{e}"));
        assert!(write(&path, "new").is_err());
        assert_eq!(std::fs::read_to_string(&path).ok().as_deref(), Some("old"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
