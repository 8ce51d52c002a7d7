//! Links netplan is creating in the host namespace: a record per name, written before the link
//! is made and removed once it carries its tag.
//!
//! The kernel takes no interface alias when it creates a link, so netplan tags a new bridge or
//! veth pair with a second request. A crash in between leaves a link without a tag, which would
//! look foreign from then on and stop every later apply. The record says it is netplan's: it is
//! observed as netplan's but unfinished ([`Link::unfinished`](super::Link::unfinished)), which
//! apply deletes and creates again. The records live in `/run/netplan/links/NAME` (like the
//! namespace markers: `/run` is a tmpfs, gone with the links on reboot) and hold the tag.
//!
//! A record outlives its purpose only when netplan dies after writing it and before making the
//! link, and the link is then no longer wanted; a foreign link that later took exactly that
//! netplan-generated name would pass for netplan's.

use std::collections::HashMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// Where the records live.
pub const PENDING_DIR: &str = "/run/netplan/links";

fn path(name: &str) -> PathBuf {
    Path::new(PENDING_DIR).join(name)
}

/// Records that netplan is about to create host link `name` with `tag`.
pub(crate) fn mark(name: &str, tag: &str) -> io::Result<()> {
    fs::create_dir_all(PENDING_DIR)?;
    fs::write(path(name), format!("{tag}\n"))
}

/// Removes the record of `name` (absent is fine).
pub(crate) fn clear(name: &str) -> io::Result<()> {
    match fs::remove_file(path(name)) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// The tag recorded for `name`, if netplan was creating it.
pub(crate) fn read(name: &str) -> io::Result<Option<String>> {
    match fs::read_to_string(path(name)) {
        Ok(s) => Ok(Some(s.trim().to_string())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Every record: link name → tag (usually none at all).
pub(crate) fn all() -> io::Result<HashMap<String, String>> {
    let entries = match fs::read_dir(PENDING_DIR) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(HashMap::new()),
        Err(e) => return Err(e),
    };
    let mut out = HashMap::new();
    for entry in entries {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if let Some(tag) = read(&name)? {
            out.insert(name, tag);
        }
    }
    Ok(out)
}
