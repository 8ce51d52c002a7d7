//! Observation dumps on plain blocking `NETLINK_ROUTE` sockets: one link, one address and one
//! route dump per namespace, without an async runtime and without a thread per namespace.
//!
//! A netlink socket belongs to the namespace its creating thread was in. [`dump_namespaces`]
//! therefore runs a few short-lived worker threads that each join namespace after namespace
//! (`setns`), open one socket there and issue the three dumps; the workers share the list, so
//! the namespaces are read concurrently, and they end afterwards, so no thread that ever left
//! the host namespace is reused for other work.

use std::fs::File;
use std::io;
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicUsize, Ordering};

use nix::sched::{CloneFlags, setns};
use nix::sys::statfs::{NSFS_MAGIC, fstatfs};
use rtnetlink::packet_core::{
    NLM_F_DUMP, NLM_F_DUMP_INTR, NLM_F_REQUEST, NLMSG_DONE, NLMSG_ERROR, NetlinkBuffer, NetlinkMessage,
};
use rtnetlink::packet_route::RouteNetlinkMessage;
use rtnetlink::packet_route::address::AddressMessage;
use rtnetlink::packet_route::link::{LinkAttribute, LinkExtentMask, LinkMessage};
use rtnetlink::packet_route::route::{RouteHeader, RouteMessage};
use rtnetlink::sys::Socket;
use rtnetlink::sys::protocols::NETLINK_ROUTE;

use super::netns;
use super::observe::Collector;
use super::types::NsObjects;

/// Receive buffer: larger than any single dump datagram (the kernel caps those at 32 KiB).
const RECV_BUF: usize = 64 * 1024;

/// At most this many worker threads read namespaces at once.
const MAX_WORKERS: usize = 4;

/// Each worker should have at least this many namespaces to read, or fewer workers start.
const PER_WORKER: usize = 32;

/// A dump that changed while it was read is read again, at most this many times.
const DUMP_ATTEMPTS: usize = 3;

const RTM_NEWLINK: u16 = 16;
const RTM_NEWADDR: u16 = 20;
const RTM_NEWROUTE: u16 = 24;

/// A blocking `NETLINK_ROUTE` socket that issues dumps, in the namespace it was created in.
pub(crate) struct Dumper {
    sock: Socket,
    buf: Vec<u8>,
    seq: u32,
    requests: [Vec<u8>; 3],
}

fn invalid(what: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("netlink dump: {what}"))
}

/// The bytes of a dump request for `msg`.
fn request(msg: RouteNetlinkMessage) -> Vec<u8> {
    let mut req = NetlinkMessage::from(msg);
    req.header.flags = NLM_F_REQUEST | NLM_F_DUMP;
    req.finalize();
    let mut bytes = vec![0u8; req.buffer_len()];
    req.serialize(&mut bytes);
    bytes
}

/// The three dump requests: links (without counters, which netplan never reads and which make
/// up much of a link message), addresses, and routes of the main table.
fn requests() -> [Vec<u8>; 3] {
    let mut links = LinkMessage::default();
    links
        .attributes
        .push(LinkAttribute::ExtMask(vec![LinkExtentMask::SkipStats]));
    let mut routes = RouteMessage::default();
    // With strict checking the kernel leaves the other tables out; without, they are
    // filtered when read.
    routes.header.table = RouteHeader::RT_TABLE_MAIN;
    [
        request(RouteNetlinkMessage::GetLink(links)),
        request(RouteNetlinkMessage::GetAddress(AddressMessage::default())),
        request(RouteNetlinkMessage::GetRoute(routes)),
    ]
}

/// A `NETLINK_ROUTE` socket in the calling thread's current namespace. It needs no `bind`
/// (the kernel assigns an address on the first send) and no `connect` (unaddressed messages go
/// to the kernel).
fn socket() -> io::Result<Socket> {
    let sock = Socket::new(NETLINK_ROUTE)?;
    // Lets the kernel filter dumps (the route table); older kernels refuse, which is fine.
    let _ = sock.set_netlink_get_strict_chk(true);
    Ok(sock)
}

/// Whether a message ends the dump it belongs to.
enum Next {
    More,
    Done,
}

impl Dumper {
    /// Opens a socket in the calling thread's current network namespace.
    pub(crate) fn new() -> io::Result<Dumper> {
        Ok(Dumper {
            sock: socket()?,
            buf: Vec::with_capacity(RECV_BUF),
            seq: 0,
            requests: requests(),
        })
    }

    /// Replaces the socket with one in the calling thread's current network namespace (after
    /// a `setns`), keeping the buffers.
    fn reopen(&mut self) -> io::Result<()> {
        self.sock = socket()?;
        Ok(())
    }

    /// Sends dump request `which` and hands the payload of every answer message of type
    /// `kind` to `each`; a dump interrupted by concurrent changes is repeated.
    fn dump(&mut self, which: usize, kind: u16, each: &mut dyn FnMut(&[u8])) -> io::Result<()> {
        for _ in 0..DUMP_ATTEMPTS {
            let mut taken = Vec::new();
            if self.dump_once(which, kind, &mut |p| taken.push(p.to_vec()))? {
                taken.iter().for_each(|p| each(p));
                return Ok(());
            }
        }
        // Still changing: take the last answer, as `ip` does.
        self.dump_once(which, kind, each).map(|_| ())
    }

    /// One dump; `Ok(false)` when the kernel flagged it as interrupted.
    fn dump_once(&mut self, which: usize, kind: u16, each: &mut dyn FnMut(&[u8])) -> io::Result<bool> {
        self.seq = self.seq.wrapping_add(1);
        let seq = self.seq;
        let req = &mut self.requests[which];
        // Bytes 8..12 of a netlink header are the sequence number.
        req[8..12].copy_from_slice(&seq.to_ne_bytes());
        self.sock.send(req, 0)?;
        let mut consistent = true;
        loop {
            self.buf.clear();
            let n = match self.sock.recv(&mut self.buf, 0) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if n > self.buf.len() {
                return Err(invalid("answer larger than the receive buffer"));
            }
            let mut at = 0;
            while at < n {
                let msg = NetlinkBuffer::new_checked(&self.buf[at..n]).map_err(invalid)?;
                let len = msg.length() as usize;
                at += (len + 3) & !3;
                if msg.sequence_number() != seq {
                    continue;
                }
                if msg.flags() & NLM_F_DUMP_INTR != 0 {
                    consistent = false;
                }
                match classify(msg.message_type(), msg.payload())? {
                    Next::Done => return Ok(consistent),
                    Next::More if msg.message_type() == kind => each(msg.payload()),
                    Next::More => {}
                }
            }
        }
    }

    /// Dumps links, addresses and routes once each and assembles them.
    pub(crate) fn objects(&mut self) -> io::Result<NsObjects> {
        let mut c = Collector::default();
        self.dump(0, RTM_NEWLINK, &mut |p| c.link(p))?;
        self.dump(1, RTM_NEWADDR, &mut |p| c.address(p))?;
        self.dump(2, RTM_NEWROUTE, &mut |p| c.route(p))?;
        Ok(c.finish())
    }
}

/// What a message of type `kind` with `payload` means for the dump it belongs to.
fn classify(kind: u16, payload: &[u8]) -> io::Result<Next> {
    // NLMSG_ERROR and NLMSG_DONE start with an errno (negative) or 0.
    let code = || {
        payload
            .get(..4)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map(i32::from_ne_bytes)
    };
    match kind {
        NLMSG_ERROR => match code() {
            Some(0) => Ok(Next::More),
            Some(e) => Err(io::Error::from_raw_os_error(e.saturating_abs())),
            None => Err(invalid("malformed error message")),
        },
        NLMSG_DONE => match code() {
            Some(e) if e < 0 => Err(io::Error::from_raw_os_error(e.saturating_abs())),
            _ => Ok(Next::Done),
        },
        _ => Ok(Next::More),
    }
}

/// Joins named namespace `name` on the calling thread and dumps it.
/// `dumper` is the worker's: its buffers serve every namespace, its socket is replaced.
/// `None` when `/run/netns/NAME` is a plain file, not a namespace.
fn dump_one(name: &str, dumper: &mut Option<Dumper>) -> io::Result<Option<NsObjects>> {
    netns::validate_name(name).map_err(|m| io::Error::new(io::ErrorKind::InvalidInput, m))?;
    let target = File::open(netns::netns_path(name))?;
    if fstatfs(&target).map_err(io::Error::from)?.filesystem_type() != NSFS_MAGIC {
        return Ok(None);
    }
    setns(target.as_fd(), CloneFlags::CLONE_NEWNET).map_err(io::Error::from)?;
    if let Some(d) = dumper {
        d.reopen()?;
        return d.objects().map(Some);
    }
    dumper.insert(Dumper::new()?).objects().map(Some)
}

/// Dumps every namespace of `names` from a few worker threads that end afterwards. The results
/// come in the order of `names`; `None` for a name that is not a namespace.
pub(crate) fn dump_namespaces(names: &[String]) -> Vec<io::Result<Option<NsObjects>>> {
    if names.is_empty() {
        return Vec::new();
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let workers = cores
        .min(MAX_WORKERS)
        .min(names.len().div_ceil(PER_WORKER))
        .max(1);
    let next = AtomicUsize::new(0);
    let mut results: Vec<Option<io::Result<Option<NsObjects>>>> =
        std::iter::repeat_with(|| None).take(names.len()).collect();
    std::thread::scope(|s| {
        let work = || {
            let mut mine = Vec::new();
            let mut dumper = None;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(name) = names.get(i) else { break };
                mine.push((i, dump_one(name, &mut dumper)));
            }
            mine
        };
        // Every worker is a fresh thread: it switches namespaces and ends with the scope.
        let handles: Vec<_> = (0..workers).map(|_| s.spawn(work)).collect();
        for handle in handles {
            // A worker that panicked leaves its namespaces without a result (an error below).
            for (i, r) in handle.join().unwrap_or_default() {
                results[i] = Some(r);
            }
        }
    });
    results
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(io::Error::other("the namespace worker failed"))))
        .collect()
}
