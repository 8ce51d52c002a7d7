//! Named network namespaces without `fork`, compatible with `ip netns`.
//!
//! A named namespace is a bind mount of a namespace file onto `/run/netns/NAME` (exactly what
//! `ip netns add` does). netplan's ownership marker for it is the file
//! `/run/netplan/netns/NAME`, whose content is the tag (`netplan:<topology>`). The marker does
//! not live in `/etc/netns/NAME/`, because `ip netns exec` bind-mounts every file found there
//! over `/etc`. That directory is left to the DNS layer (`resolv.conf`, `hosts`).
//!
//! Namespace switches happen only on fresh `std` threads that exit afterwards (see
//! [`in_netns`], and the observation workers of the kernel layer), never on the caller's thread
//! or a pooled thread.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use nix::mount::{MntFlags, MsFlags, mount, umount2};
use nix::sched::{CloneFlags, setns, unshare};

/// Where named namespaces are mounted.
pub const NETNS_DIR: &str = "/run/netns";
/// Where netplan's ownership markers for namespaces live.
pub const MARKER_DIR: &str = "/run/netplan/netns";

/// Path of named namespace `name`.
pub fn netns_path(name: &str) -> PathBuf {
    Path::new(NETNS_DIR).join(name)
}

/// Path of the ownership marker of namespace `name`.
pub fn marker_path(name: &str) -> PathBuf {
    Path::new(MARKER_DIR).join(name)
}

/// Checks that `name` can be a namespace file name.
pub fn validate_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name == "." || name == ".." || name.contains('/') || name.contains('\0') {
        return Err(format!("{name:?} is not a valid namespace name"));
    }
    Ok(())
}

/// Runs `f` on a fresh thread that has joined named namespace `netns`, and returns its result.
///
/// Sockets created inside `f` (TCP, UDP, netlink) stay in that namespace for their lifetime and
/// may be used from any thread afterwards. Child processes spawned inside `f` start in it too.
/// Fails when the namespace cannot be opened or joined, or when `f` panics.
pub fn in_netns<T, F>(netns: &str, f: F) -> io::Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    validate_name(netns).map_err(|m| io::Error::new(io::ErrorKind::InvalidInput, m))?;
    let target = File::open(netns_path(netns))?;
    let joined = std::thread::spawn(move || -> io::Result<T> {
        setns(target.as_fd(), CloneFlags::CLONE_NEWNET).map_err(io::Error::from)?;
        // The thread ends right after `f`, so its namespace never leaks to other work.
        Ok(f())
    })
    .join();
    match joined {
        Ok(result) => result,
        Err(_) => Err(io::Error::other(format!(
            "a task running inside netns {netns} panicked"
        ))),
    }
}

/// Reads the marker of namespace `name`: `Ok(None)` when it has none.
pub fn read_marker(name: &str) -> io::Result<Option<String>> {
    match fs::read_to_string(marker_path(name)) {
        Ok(s) => Ok(Some(s.trim().to_string())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Writes the marker of namespace `name`, atomically: a process killed while writing it
/// leaves either no marker or the whole one, never an empty file that would make netplan's
/// own namespace look foreign.
pub fn write_marker(name: &str, tag: &str) -> io::Result<()> {
    crate::atomic_file::write(&marker_path(name), format!("{tag}\n"))
}

/// Removes the marker of namespace `name` (absent is fine).
pub fn remove_marker(name: &str) -> io::Result<()> {
    match fs::remove_file(marker_path(name)) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Whether `/run/netns/NAME` exists.
pub fn exists(name: &str) -> bool {
    netns_path(name).exists()
}

/// Whether `/run/netns/NAME` is a namespace, not the plain file (the mount point) that a crash
/// between creating it and mounting the namespace on it leaves behind.
pub fn is_namespace(name: &str) -> bool {
    nix::sys::statfs::statfs(&netns_path(name))
        .is_ok_and(|s| s.filesystem_type() == nix::sys::statfs::NSFS_MAGIC)
}

/// Lists every named namespace (sorted by name).
pub fn names() -> io::Result<Vec<String>> {
    let entries = match fs::read_dir(NETNS_DIR) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    for entry in entries {
        out.push(entry?.file_name().to_string_lossy().into_owned());
    }
    out.sort();
    Ok(out)
}

/// Lists every named namespace with its marker (sorted by name).
pub fn list() -> io::Result<Vec<(String, Option<String>)>> {
    names()?
        .into_iter()
        .map(|name| {
            let marker = read_marker(&name)?;
            Ok((name, marker))
        })
        .collect()
}

/// Makes `/run/netns` a shared mount point, as `ip netns add` does, so that namespace mounts
/// made here are visible in other mount namespaces.
fn ensure_netns_dir() -> io::Result<()> {
    fs::create_dir_all(NETNS_DIR)?;
    let shared = MsFlags::MS_SHARED | MsFlags::MS_REC;
    if mount(None::<&str>, NETNS_DIR, None::<&str>, shared, None::<&str>).is_err() {
        // Not a mount point yet: bind it onto itself, then mark it shared.
        let bind = MsFlags::MS_BIND | MsFlags::MS_REC;
        mount(Some(NETNS_DIR), NETNS_DIR, None::<&str>, bind, None::<&str>)?;
        mount(None::<&str>, NETNS_DIR, None::<&str>, shared, None::<&str>)?;
    }
    Ok(())
}

/// Creates named namespace `name` (`ip netns add NAME`) without forking. Does not write the
/// marker and does not bring `lo` up; the caller does both.
pub fn add(name: &str) -> io::Result<()> {
    validate_name(name).map_err(|m| io::Error::new(io::ErrorKind::InvalidInput, m))?;
    ensure_netns_dir()?;
    let path = netns_path(name);
    OpenOptions::new().write(true).create_new(true).open(&path)?;
    let target = path.clone();
    let made = std::thread::spawn(move || -> io::Result<()> {
        // unshare(CLONE_NEWNET) only affects this thread, which ends right after.
        unshare(CloneFlags::CLONE_NEWNET)?;
        mount(
            Some("/proc/thread-self/ns/net"),
            &target,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )?;
        Ok(())
    })
    .join()
    .unwrap_or_else(|_| Err(io::Error::other("namespace creation thread panicked")));
    if let Err(e) = made {
        let _ = fs::remove_file(&path);
        return Err(e);
    }
    Ok(())
}

/// Deletes named namespace `name` (`ip netns delete NAME`); the namespace itself lives on
/// while processes or sockets still use it. Does not check or remove the marker.
pub fn remove(name: &str) -> io::Result<()> {
    validate_name(name).map_err(|m| io::Error::new(io::ErrorKind::InvalidInput, m))?;
    let path = netns_path(name);
    if !path.exists() {
        return Err(io::Error::from(io::ErrorKind::NotFound));
    }
    // EINVAL means "not a mount point" (a stale file): removing the file is all that is left.
    match umount2(&path, MntFlags::MNT_DETACH) {
        Ok(()) | Err(nix::errno::Errno::EINVAL) => {}
        Err(e) => return Err(e.into()),
    }
    fs::remove_file(&path)
}
