//! The UDP path of a namespace's server: one receive loop per socket, taking datagrams in
//! batches and sending the batch's replies back in one go.
//!
//! Why not `Server::register_socket`: hickory's UDP server spawns a task per datagram and
//! passes every reply through a channel to the socket's task, two cross-task hand-offs per
//! query; on a small machine that doubled the CPU time per query (see docs/benchmarks.md).
//!
//! Here, once the socket is readable, the loop takes up to [`BATCH`] datagrams with one
//! `recvmmsg`, answers each, and sends all the replies with one `sendmmsg`, until the socket is
//! empty (or a few batches were handled: then other namespaces get their turn). A plain query
//! with a local answer (the common case) is read and answered straight from and to bytes
//! ([`super::wire`]); anything else goes through the namespace's hickory handler, and only a
//! query that waits for an upstream gets a task of its own, so a slow upstream never holds up
//! the loop. The receive buffers are shared by every socket the thread serves. TCP keeps
//! hickory's server.

use std::cell::RefCell;
use std::io::{self, IoSlice, IoSliceMut};
use std::net::{SocketAddr, SocketAddrV4};
use std::os::fd::AsRawFd;
use std::sync::{Arc, Mutex, Weak};

use futures::FutureExt;
use hickory_proto::op::{Header, HeaderCounts, MessageType, Metadata, OpCode, ResponseCode};
use hickory_proto::rr::{Record, RecordType};
use hickory_proto::serialize::binary::{BinEncodable, BinEncoder};
use hickory_server::net::NetError;
use hickory_server::net::xfer::Protocol;
use hickory_server::server::{Request, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponse;
use nix::sys::socket::{ControlMessage, MsgFlags, MultiHeaders, SockaddrIn, recvmmsg, sendmmsg};
use tokio::io::Interest;
use tokio::net::UdpSocket;

use super::handler::{Decision, NsHandler};
use super::lookup::{self, Outcome, Rdata};
use super::names::{Snapshot, View};
use super::wire::{self, MAX_NAME, Rcode};

/// Largest datagram read (queries are far smaller; anything longer is cut and fails to parse).
const RECV_BUFFER: usize = 4096;
/// Datagrams taken (and replies sent) per system call.
const BATCH: usize = 32;
/// Full batches one socket may handle before the loop lets the other sockets run.
const ROUNDS: usize = 8;

/// Where a reply waits to be sent: a byte range of the batch's output, and the client.
type Out = (usize, usize, SockaddrIn);

/// What the loop needs per batch, allocated once per thread and shared by all its sockets (a
/// socket's batch is handled without yielding, so no two use it at once).
struct Scratch {
    rx: Vec<u8>,
    rx_headers: MultiHeaders<SockaddrIn>,
    tx: Vec<u8>,
    tx_headers: MultiHeaders<SockaddrIn>,
    out: Vec<Out>,
    records: Vec<Rdata>,
    name: [u8; MAX_NAME],
}

impl Scratch {
    fn new() -> Scratch {
        Scratch {
            rx: vec![0; BATCH * RECV_BUFFER],
            rx_headers: MultiHeaders::preallocate(BATCH, None),
            tx: Vec::with_capacity(BATCH * 512),
            tx_headers: MultiHeaders::preallocate(BATCH, None),
            out: Vec::with_capacity(BATCH),
            records: Vec::new(),
            name: [0; MAX_NAME],
        }
    }
}

thread_local! {
    static SCRATCH: RefCell<Option<Scratch>> = const { RefCell::new(None) };
}

/// Sends one reply to one client on the socket the query came in on. It does not keep the socket
/// open: once the namespace is closed, a late reply is dropped and the address is free at once.
#[derive(Clone)]
pub(crate) struct UdpResponder {
    socket: Weak<UdpSocket>,
    dst: SocketAddr,
    /// The client's EDNS payload size, or 512: longer answers are cut and flagged TC.
    max: u16,
}

/// Keeps the reply instead of sending it (local answers: the batch sends them all at once).
#[derive(Clone)]
struct Capture {
    max: u16,
    bytes: Arc<Mutex<Vec<u8>>>,
}

/// A header-only reply with `code` to query `id`.
fn bare_reply(id: u16, op_code: OpCode, code: ResponseCode) -> (ResponseInfo, Vec<u8>) {
    let mut metadata = Metadata::new(id, MessageType::Response, op_code);
    metadata.response_code = code;
    let header = Header {
        metadata,
        counts: HeaderCounts::default(),
    };
    let mut bytes = Vec::with_capacity(12);
    let mut enc = BinEncoder::new(&mut bytes);
    // A 12-byte header always fits a fresh buffer.
    let _ = header.emit(&mut enc);
    (ResponseInfo::from(header), bytes)
}

/// The bytes of `response`, cut to `max` (TC set), or a bare SERVFAIL when it cannot be encoded.
fn encode<'a>(
    response: MessageResponse<
        '_,
        'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
    >,
    max: u16,
) -> (ResponseInfo, Vec<u8>) {
    let id = response.metadata().id;
    let op_code = response.metadata().op_code;
    let mut bytes = Vec::with_capacity(512);
    let emitted = {
        let mut enc = BinEncoder::new(&mut bytes);
        enc.set_max_size(max);
        response.destructive_emit(&mut enc)
    };
    match emitted {
        Ok(info) => (info, bytes),
        Err(_) => bare_reply(id, op_code, ResponseCode::ServFail),
    }
}

#[async_trait::async_trait]
impl ResponseHandler for UdpResponder {
    async fn send_response<'a>(
        &mut self,
        response: MessageResponse<
            '_,
            'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
        >,
    ) -> Result<ResponseInfo, NetError> {
        let (info, bytes) = encode(response, self.max);
        let socket = self
            .socket
            .upgrade()
            .ok_or_else(|| NetError::from("the namespace's socket was closed"))?;
        socket.send_to(&bytes, self.dst).await?;
        Ok(info)
    }
}

#[async_trait::async_trait]
impl ResponseHandler for Capture {
    async fn send_response<'a>(
        &mut self,
        response: MessageResponse<
            '_,
            'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
        >,
    ) -> Result<ResponseInfo, NetError> {
        let (info, bytes) = encode(response, self.max);
        match self.bytes.lock() {
            Ok(mut b) => *b = bytes,
            Err(poisoned) => *poisoned.into_inner() = bytes,
        }
        Ok(info)
    }
}

/// Serves `socket` until the task is aborted. Malformed datagrams get FORMERR when their header
/// is readable and nothing otherwise; responses are never answered.
pub(crate) async fn serve(socket: Arc<UdpSocket>, handler: Arc<NsHandler>) {
    // Replies the socket could not take at once (its send buffer was full).
    let mut pending: Vec<(Vec<u8>, SocketAddr)> = Vec::new();
    loop {
        for (bytes, dst) in pending.drain(..) {
            let _ = socket.send_to(&bytes, dst).await;
        }
        if socket.readable().await.is_err() {
            // Only when the runtime is going away.
            return;
        }
        let drained = SCRATCH.with(|cell| match cell.try_borrow_mut() {
            Ok(mut slot) => {
                let scratch = slot.get_or_insert_with(Scratch::new);
                socket.try_io(Interest::READABLE, || {
                    drain(&socket, &handler, scratch, &mut pending)
                })
            }
            // Never expected (batches do not nest); a private scratch keeps it correct.
            Err(_) => {
                let mut scratch = Scratch::new();
                socket.try_io(Interest::READABLE, || {
                    drain(&socket, &handler, &mut scratch, &mut pending)
                })
            }
        });
        match drained {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            // More may be waiting (or the socket reported an error, ICMP and the like): let the
            // other namespaces' sockets have their turn first.
            _ => tokio::task::yield_now().await,
        }
    }
}

/// Handles batches of datagrams waiting on `socket` until it is empty (`WouldBlock`, which tells
/// tokio to wait for the next datagram) or [`ROUNDS`] full batches were handled (`Ok`).
fn drain(
    socket: &Arc<UdpSocket>,
    handler: &Arc<NsHandler>,
    s: &mut Scratch,
    pending: &mut Vec<(Vec<u8>, SocketAddr)>,
) -> io::Result<()> {
    let fd = socket.as_raw_fd();
    for _ in 0..ROUNDS {
        let mut got = [(0usize, None::<SockaddrIn>); BATCH];
        let n = {
            let mut chunks = s.rx.chunks_exact_mut(RECV_BUFFER);
            let mut iovs: [[IoSliceMut<'_>; 1]; BATCH] =
                std::array::from_fn(|_| [IoSliceMut::new(chunks.next().unwrap_or_default())]);
            let received = recvmmsg(
                fd,
                &mut s.rx_headers,
                iovs.iter_mut(),
                MsgFlags::MSG_DONTWAIT,
                None,
            )
            .map_err(io::Error::from)?;
            let mut n = 0;
            for (slot, msg) in got.iter_mut().zip(received) {
                *slot = (msg.bytes.min(RECV_BUFFER), msg.address);
                n += 1;
            }
            n
        };
        // Loaded after the datagrams were taken: a query that arrives after a reload returned
        // is answered with the new data.
        let snap = handler.shared.current();
        let view = snap.view(&handler.netns);
        s.tx.clear();
        s.out.clear();
        for (i, &(len, addr)) in got[..n].iter().enumerate() {
            let Some(addr) = addr else { continue };
            if addr.port() == 0 {
                continue;
            }
            let at = i * RECV_BUFFER;
            let Some(datagram) = s.rx.get(at..at + len) else {
                continue;
            };
            let start = s.tx.len();
            let answered = match view {
                Some(view) => fast(datagram, &snap, view, &mut s.name, &mut s.records, &mut s.tx),
                None => false,
            };
            let src = SocketAddr::V4(SocketAddrV4::from(addr));
            if answered {
                s.out.push((start, s.tx.len(), addr));
                continue;
            }
            match slow(datagram, src, handler, &mut s.tx) {
                Slow::Replied => s.out.push((start, s.tx.len(), addr)),
                Slow::Forward(waiting) => {
                    let (request, decision) = *waiting;
                    let responder = UdpResponder {
                        socket: Arc::downgrade(socket),
                        dst: src,
                        max: request.max_payload(),
                    };
                    let handler = handler.clone();
                    tokio::spawn(async move {
                        handler.respond(&request, decision, responder).await;
                    });
                }
                Slow::Nothing => {}
            }
        }
        send_all(fd, s, pending);
        if !pending.is_empty() {
            // The socket takes no more replies now: the loop sends the rest once it can, then
            // reads on (readiness stays, whatever is queued is not forgotten).
            return Ok(());
        }
        if n < BATCH {
            // Every datagram queued when it was read was taken; one that arrives later raises
            // readiness again.
            return Err(io::ErrorKind::WouldBlock.into());
        }
    }
    Ok(())
}

/// Answers a plain query with a local answer straight into `tx`; false when it is not one.
fn fast(
    datagram: &[u8],
    snap: &Snapshot,
    view: &View,
    name: &mut [u8; MAX_NAME],
    records: &mut Vec<Rdata>,
    tx: &mut Vec<u8>,
) -> bool {
    let Some((query, len)) = wire::parse(datagram, name) else {
        return false;
    };
    let Some(Ok(qname)) = name.get(..len).map(std::str::from_utf8) else {
        return false;
    };
    let qtype = if query.is_aaaa() {
        RecordType::AAAA
    } else {
        RecordType::A
    };
    let rcode = match lookup::answer_into(snap, view, qname, qtype, records) {
        Outcome::Records | Outcome::NoData => Rcode::NoError,
        Outcome::NxDomain => Rcode::NxDomain,
        Outcome::Forward | Outcome::NoForward => return false,
    };
    wire::reply(&query, rcode, records, tx)
}

/// What the hickory path did with a datagram.
enum Slow {
    /// The reply was appended to the batch's output.
    Replied,
    /// It waits for an upstream: the caller gives it a task.
    Forward(Box<(Request, Decision)>),
    /// Nothing to answer (a response, or unreadable).
    Nothing,
}

/// Answers through hickory: a local reply goes to `tx`.
fn slow(datagram: &[u8], src: SocketAddr, handler: &NsHandler, tx: &mut Vec<u8>) -> Slow {
    let request = match Request::from_bytes(datagram.to_vec(), src, Protocol::Udp) {
        Ok(r) => r,
        Err(_) => {
            // Byte 2 bit 7 is QR: never answer a response.
            if datagram.len() >= 12 && datagram[2] & 0x80 == 0 {
                let id = u16::from_be_bytes([datagram[0], datagram[1]]);
                let op = OpCode::from_u8((datagram[2] >> 3) & 0x0f);
                let (_, bytes) = bare_reply(id, op, ResponseCode::FormErr);
                tx.extend_from_slice(&bytes);
                return Slow::Replied;
            }
            return Slow::Nothing;
        }
    };
    if request.metadata.message_type == MessageType::Response {
        return Slow::Nothing;
    }
    let decision = handler.decide(&request);
    if decision.forwards() {
        return Slow::Forward(Box::new((request, decision)));
    }
    let capture = Capture {
        max: request.max_payload(),
        bytes: Arc::new(Mutex::new(Vec::new())),
    };
    // A local answer never waits: the future is ready at its first poll.
    if handler
        .respond(&request, decision, capture.clone())
        .now_or_never()
        .is_none()
    {
        return Slow::Nothing;
    }
    match capture.bytes.lock() {
        Ok(bytes) if !bytes.is_empty() => {
            tx.extend_from_slice(&bytes);
            Slow::Replied
        }
        _ => Slow::Nothing,
    }
}

/// Sends the batch's replies, as many per system call as the socket takes; what it cannot take
/// now goes to `pending`.
fn send_all(fd: std::os::fd::RawFd, s: &mut Scratch, pending: &mut Vec<(Vec<u8>, SocketAddr)>) {
    let Scratch {
        tx, tx_headers, out, ..
    } = s;
    let mut from = 0;
    while from < out.len() {
        let batch = &out[from..];
        let slices: [[IoSlice<'_>; 1]; BATCH] = std::array::from_fn(|j| {
            [IoSlice::new(
                batch
                    .get(j)
                    .and_then(|&(a, b, _)| tx.get(a..b))
                    .unwrap_or_default(),
            )]
        });
        let addrs: [Option<SockaddrIn>; BATCH] = std::array::from_fn(|j| batch.get(j).map(|o| o.2));
        let k = batch.len().min(BATCH);
        let sent = sendmmsg(
            fd,
            tx_headers,
            slices.iter().take(k),
            &addrs[..k],
            [] as [ControlMessage<'_>; 0],
            MsgFlags::MSG_DONTWAIT,
        )
        .map(Iterator::count);
        match sent {
            Ok(n) if n > 0 => from += n,
            Err(nix::errno::Errno::EAGAIN) => {
                for &(a, b, dst) in batch {
                    if let Some(bytes) = tx.get(a..b) {
                        pending.push((bytes.to_vec(), SocketAddr::V4(SocketAddrV4::from(dst))));
                    }
                }
                return;
            }
            // This client cannot be answered (or nothing was sent): go on with the next one.
            _ => from += 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use hickory_proto::op::{Edns, Message, Query};
    use hickory_proto::rr::Name;

    use super::super::forward::Forwarder;
    use super::super::handler::Shared;
    use super::super::lookup::tests::desired;
    use super::*;

    const TEXT: &str = "
        network n { ipv6; subnet 10.1.0.0/24; subnet fd01::/64 }
        network v4 { subnet 10.2.0.0/24 }
        network inner { subnet 10.3.0.0/24; internal }
        container Asker { network n { link Target as Db }; network v4 }
        container Target { network n { alias Web }; network v4 }
        container other { network v4 { alias web } }
        container lonely { network inner }
    ";

    fn handler(netns: &str) -> NsHandler {
        let d = desired(TEXT);
        let shared = Arc::new(Shared::new(Forwarder::default()));
        shared.swap(Arc::new(Snapshot::build(std::slice::from_ref(&d), vec![])));
        NsHandler {
            netns: netns.to_string(),
            shared,
        }
    }

    fn query(name: &str, rtype: RecordType, edns: Option<(u16, bool)>, rd: bool, cd: bool) -> Vec<u8> {
        let name = Name::from_ascii(name).unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut m = Message::query();
        m.metadata.id = 0x1234;
        m.metadata.recursion_desired = rd;
        m.metadata.checking_disabled = cd;
        m.add_query(Query::query(name, rtype));
        if let Some((size, dnssec_ok)) = edns {
            let mut e = Edns::new();
            e.set_max_payload(size);
            e.set_dnssec_ok(dnssec_ok);
            m.set_edns(e);
        }
        m.to_vec().unwrap_or_else(|e| panic!("encoding: {e}"))
    }

    fn src() -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], 40000))
    }

    /// What the fast path writes, if it takes the query.
    fn via_fast(h: &NsHandler, datagram: &[u8]) -> Option<Vec<u8>> {
        let snap = h.shared.current();
        let view = snap.view(&h.netns)?;
        let (mut name, mut records, mut tx) = ([0; MAX_NAME], Vec::new(), Vec::new());
        fast(datagram, &snap, view, &mut name, &mut records, &mut tx).then_some(tx)
    }

    fn via_hickory(h: &NsHandler, datagram: &[u8]) -> Option<Vec<u8>> {
        let mut tx = Vec::new();
        matches!(slow(datagram, src(), h, &mut tx), Slow::Replied).then_some(tx)
    }

    #[test]
    fn fast_path_writes_what_hickory_writes() {
        let h = handler("Asker");
        let mut taken = 0;
        let names = [
            "target",
            "TARGET",
            "tArGeT.",
            "Target.N",
            "target.v4",
            "db",
            "DB.n",
            "web",
            "Web.v4",
            "other",
            "other.n",
            "lonely",
            "asker",
            "nosuch.example",
            "x",
            "a.b.c.d.e.f.g",
        ];
        for name in names {
            for rtype in [RecordType::A, RecordType::AAAA, RecordType::MX, RecordType::PTR] {
                for edns in [None, Some((1232, false)), Some((4096, true)), Some((100, false))] {
                    for (rd, cd) in [(true, false), (false, true)] {
                        let q = query(name, rtype, edns, rd, cd);
                        let fast = via_fast(&h, &q);
                        if let Some(fast) = &fast {
                            taken += 1;
                            let slow = via_hickory(&h, &q);
                            assert_eq!(
                                Some(fast),
                                slow.as_ref(),
                                "{name} {rtype:?} edns {edns:?} rd {rd} cd {cd}"
                            );
                            let m = Message::from_vec(fast).unwrap_or_else(|e| panic!("{name}: {e}"));
                            assert!(m.metadata.authoritative && !m.metadata.truncation);
                        }
                    }
                }
            }
        }
        // A and AAAA of every name that is answered locally took the fast path.
        assert!(taken >= 12 * 2 * 4 * 2, "only {taken} queries took the fast path");
    }

    #[test]
    fn fast_path_leaves_the_unusual_to_hickory() {
        let h = handler("Asker");
        let plain = query("target", RecordType::A, None, true, false);
        assert!(via_fast(&h, &plain).is_some());
        let mut cases: Vec<(&str, Vec<u8>)> = Vec::new();
        // Forwarded and reverse names, other types.
        cases.push((
            "forwarded",
            query("nosuch.example", RecordType::A, None, true, false),
        ));
        cases.push((
            "ptr",
            query("3.0.1.10.in-addr.arpa", RecordType::PTR, None, true, false),
        ));
        cases.push(("mx", query("target", RecordType::MX, None, true, false)));
        // A response, another opcode, two questions, trailing bytes, a compressed name.
        let mut r = plain.clone();
        r[2] |= 0x80;
        cases.push(("response", r));
        let mut r = plain.clone();
        r[2] |= 2 << 3;
        cases.push(("opcode", r));
        let mut r = plain.clone();
        r[5] = 2;
        cases.push(("two questions", r));
        let mut r = plain.clone();
        r.push(0);
        cases.push(("trailing", r));
        let mut r = plain[..12].to_vec();
        r.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1]);
        cases.push(("pointer", r));
        // Class CH, a cut name, a non-ASCII label, EDNS with an option or version 1.
        let mut r = plain.clone();
        let l = r.len();
        r[l - 1] = 3;
        cases.push(("class", r));
        cases.push(("cut", plain[..15].to_vec()));
        let mut r = plain.clone();
        r[13] = 0xe9;
        cases.push(("non-ascii", r));
        let with_edns = query("target", RecordType::A, Some((1232, false)), true, false);
        assert!(via_fast(&h, &with_edns).is_some());
        let mut r = with_edns.clone();
        let l = r.len();
        r[l - 5] = 1;
        cases.push(("edns version", r));
        let mut r = with_edns.clone();
        let l = r.len();
        r[l - 1] = 4;
        r.extend_from_slice(&[0, 10, 0, 0]);
        cases.push(("edns option", r));
        for (what, q) in &cases {
            assert!(via_fast(&h, q).is_none(), "{what} must go through hickory");
        }
        // Nothing the fast path reads may panic, whatever the bytes.
        let mut name = [0; MAX_NAME];
        for len in 0..plain.len() {
            let _ = wire::parse(&plain[..len], &mut name);
        }
        let mut x: u32 = 7;
        for _ in 0..20_000 {
            let mut q = plain.clone();
            for _ in 0..3 {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                let i = x as usize % q.len();
                q[i] = (x >> 8) as u8;
            }
            let _ = via_fast(&h, &q);
        }
    }

    #[test]
    fn long_answers_go_to_hickory_to_be_cut() {
        let mut text = String::from(
            "network wide { subnet 10.9.0.0/24; alias-mode all }\ncontainer asker { network wide }\n",
        );
        for i in 0..40 {
            text.push_str(&format!("container m{i} {{ network wide {{ alias many }} }}\n"));
        }
        let d = desired(&text);
        let shared = Arc::new(Shared::new(Forwarder::default()));
        shared.swap(Arc::new(Snapshot::build(std::slice::from_ref(&d), vec![])));
        let h = NsHandler {
            netns: "asker".into(),
            shared,
        };
        let q = query("many", RecordType::A, None, true, false);
        assert!(via_fast(&h, &q).is_none());
        let cut = via_hickory(&h, &q).and_then(|b| Message::from_vec(&b).ok());
        assert!(cut.is_some_and(|m| m.metadata.truncation));
        let q = query("many", RecordType::A, Some((4096, false)), true, false);
        let all = via_fast(&h, &q).and_then(|b| Message::from_vec(&b).ok());
        assert_eq!(all.map(|m| m.answers.len()), Some(40));
    }
}
