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
//! A veth pair's record also names its peer inside the container's namespace: the kernel
//! makes both ends at once, but they are tagged one after the other, so a crash in between
//! leaves one end untagged. The observation takes such a peer as netplan's, unfinished, and
//! apply makes the pair again.
//!
//! A record outlives its purpose only when netplan dies after writing it and before making the
//! link. Each apply, destroy, stop and start forgets such records before its first change
//! ([`Kernel::forget_interrupted_creations`](super::Kernel::forget_interrupted_creations)):
//! it holds the state lock, so no creation is under way, and a foreign link that later took
//! exactly that generated name does not pass for netplan's.

use std::collections::HashMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// Where the records live.
pub const PENDING_DIR: &str = "/run/netplan/links";

fn path(name: &str) -> PathBuf {
    Path::new(PENDING_DIR).join(name)
}

/// What a record holds: the tag the link is to carry and, for a veth pair, where its peer is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Record {
    /// The ownership tag the link is to carry.
    pub tag: String,
    /// The peer of a veth pair: (namespace, interface name).
    pub peer: Option<(String, String)>,
}

/// Records that netplan is about to create host link `name` with `tag` (and, for a veth
/// pair, its peer `(netns, name)`).
pub(crate) fn mark(name: &str, tag: &str, peer: Option<(&str, &str)>) -> io::Result<()> {
    let mut text = format!("{tag}\n");
    if let Some((ns, peer)) = peer {
        text.push_str(&format!("{ns} {peer}\n"));
    }
    crate::atomic_file::write(&path(name), text)
}

/// Removes the record of `name` (absent is fine).
pub(crate) fn clear(name: &str) -> io::Result<()> {
    match fs::remove_file(path(name)) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

fn parse(text: &str) -> Record {
    let mut lines = text.lines();
    let tag = lines.next().unwrap_or_default().trim().to_string();
    let peer = lines.next().and_then(|l| {
        let (ns, name) = l.trim().split_once(' ')?;
        Some((ns.to_string(), name.to_string()))
    });
    Record { tag, peer }
}

/// The record of `name`, if netplan was creating it.
pub(crate) fn read(name: &str) -> io::Result<Option<Record>> {
    match fs::read_to_string(path(name)) {
        Ok(s) => Ok(Some(parse(&s))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Every record: link name → record (usually none at all).
pub(crate) fn all() -> io::Result<HashMap<String, Record>> {
    let entries = match fs::read_dir(PENDING_DIR) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(HashMap::new()),
        Err(e) => return Err(e),
    };
    let mut out = HashMap::new();
    for entry in entries {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue; // a record being written (link names never start with a dot)
        }
        if let Some(record) = read(&name)? {
            out.insert(name, record);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_read_back_with_and_without_peer() {
        assert_eq!(
            parse("netplan:t\nk1 eth0\n"),
            Record {
                tag: "netplan:t".into(),
                peer: Some(("k1".into(), "eth0".into()))
            }
        );
        assert_eq!(
            parse("netplan:t\n"),
            Record {
                tag: "netplan:t".into(),
                peer: None
            }
        );
        assert_eq!(parse("").tag, "");
    }
}
