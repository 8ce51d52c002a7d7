//! The UDP fast path: reading the common query and writing its local answer straight from and to
//! bytes, without building hickory messages.
//!
//! Only the plainest query takes it: one question of class IN and type A or AAAA, a name of
//! uncompressed ASCII labels, no answer or authority records, at most an EDNS(0) OPT record
//! without options, and nothing after it. Its reply is a local answer (records, empty NOERROR or
//! NXDOMAIN) that fits the client's size. Everything else (other types, reverse names, forwarded
//! names, long answers that must be cut and flagged TC, anything unusual or malformed) goes
//! through hickory as before, so the fast path never decides anything differently: it writes
//! byte for byte what hickory writes for the same answer (a test compares both).

use std::net::{Ipv4Addr, Ipv6Addr};

use super::LOCAL_TTL;
use super::lookup::Rdata;

/// Longest name on the wire (RFC 1035), and so the longest lower-cased text of one.
pub(crate) const MAX_NAME: usize = 255;

/// Smallest UDP payload every client takes (RFC 1035); EDNS may allow more.
const MIN_UDP: usize = 512;

const TYPE_A: u16 = 1;
const TYPE_AAAA: u16 = 28;
const TYPE_OPT: u16 = 41;
const CLASS_IN: u16 = 1;
/// Bytes of an OPT record without options.
const OPT_LEN: usize = 11;

/// DNS response codes the fast path writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rcode {
    NoError = 0,
    NxDomain = 3,
}

/// A query simple enough for the fast path, borrowed from the datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Query<'a> {
    pub id: u16,
    /// Recursion desired (copied into the reply).
    pub rd: bool,
    /// Checking disabled (copied into the reply).
    pub cd: bool,
    /// The question as sent: name, type and class (echoed verbatim, so the reply repeats the
    /// question's spelling and answers point at it).
    pub question: &'a [u8],
    pub qtype: u16,
    /// EDNS: the client's payload size and DO bit.
    pub edns: Option<(u16, bool)>,
}

impl Query<'_> {
    /// Largest reply the client takes over UDP.
    pub fn max_reply(&self) -> usize {
        self.edns
            .map_or(MIN_UDP, |(size, _)| usize::from(size).max(MIN_UDP))
    }

    /// Whether the question asks for IPv6 addresses.
    pub fn is_aaaa(&self) -> bool {
        self.qtype == TYPE_AAAA
    }
}

fn u16_at(b: &[u8], i: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(i)?, *b.get(i + 1)?]))
}

/// Reads `msg` when it is a plain query; its name, lower-cased and without the trailing dot,
/// goes to `name` (its length is returned). `None`: not for the fast path.
pub(crate) fn parse<'a>(msg: &'a [u8], name: &mut [u8; MAX_NAME]) -> Option<(Query<'a>, usize)> {
    if msg.len() < 12 {
        return None;
    }
    let (b2, b3) = (msg[2], msg[3]);
    // QR clear (a query) and opcode QUERY.
    if b2 & 0x80 != 0 || (b2 >> 3) & 0x0f != 0 {
        return None;
    }
    let counts = [
        u16_at(msg, 4)?,
        u16_at(msg, 6)?,
        u16_at(msg, 8)?,
        u16_at(msg, 10)?,
    ];
    if counts[0] != 1 || counts[1] != 0 || counts[2] != 0 || counts[3] > 1 {
        return None;
    }
    // The name: uncompressed labels of ASCII bytes, at most 255 bytes on the wire.
    let mut i = 12;
    let mut len = 0;
    loop {
        let l = usize::from(*msg.get(i)?);
        if l == 0 {
            i += 1;
            break;
        }
        if l > 63 || i + 1 + l - 12 >= MAX_NAME {
            return None;
        }
        let label = msg.get(i + 1..i + 1 + l)?;
        if !label.is_ascii() || len + 1 + l > MAX_NAME {
            return None;
        }
        if len > 0 {
            name[len] = b'.';
            len += 1;
        }
        for &c in label {
            name[len] = c.to_ascii_lowercase();
            len += 1;
        }
        i += 1 + l;
    }
    if len == 0 {
        return None;
    }
    let qtype = u16_at(msg, i)?;
    let qclass = u16_at(msg, i + 2)?;
    if !matches!(qtype, TYPE_A | TYPE_AAAA) || qclass != CLASS_IN {
        return None;
    }
    let question = &msg[12..i + 4];
    let mut end = i + 4;
    let edns = if counts[3] == 1 {
        // Root name, OPT, payload size, extended rcode 0, version 0, flags, no options.
        let opt = msg.get(end..end + OPT_LEN)?;
        if opt[0] != 0 || u16_at(opt, 1)? != TYPE_OPT || opt[5] != 0 || opt[6] != 0 {
            return None;
        }
        if u16_at(opt, 9)? != 0 {
            return None;
        }
        end += OPT_LEN;
        Some((u16_at(opt, 3)?, opt[7] & 0x80 != 0))
    } else {
        None
    };
    if end != msg.len() {
        return None;
    }
    let query = Query {
        id: u16::from_be_bytes([msg[0], msg[1]]),
        rd: b2 & 0x01 != 0,
        cd: b3 & 0x10 != 0,
        question,
        qtype,
        edns,
    };
    Some((query, len))
}

/// Appends the reply to `q` to `out`: authoritative, recursion available, `rcode`, with
/// `records` (A or AAAA) answering the question's name. Returns false, leaving `out` as it was,
/// when the reply would not fit the client's size (hickory cuts it and sets TC) or a record is
/// not an address.
pub(crate) fn reply(q: &Query<'_>, rcode: Rcode, records: &[Rdata], out: &mut Vec<u8>) -> bool {
    // The owner of every answer is the question's name as asked, written out in full (as
    // hickory writes it).
    let owner = q.question.split_at(q.question.len().saturating_sub(4)).0;
    let mut size = 12 + q.question.len() + q.edns.map_or(0, |_| OPT_LEN);
    for r in records {
        size += owner.len()
            + match r {
                Rdata::A(_) => 10 + 4,
                Rdata::Aaaa(_) => 10 + 16,
                Rdata::Ptr(_) => return false,
            };
    }
    let Ok(answers) = u16::try_from(records.len()) else {
        return false;
    };
    if size > q.max_reply() {
        return false;
    }
    out.reserve(size);
    out.extend_from_slice(&q.id.to_be_bytes());
    // QR, opcode QUERY, AA, RD as asked; RA, CD as asked, the code.
    out.push(0x84 | u8::from(q.rd));
    out.push(0x80 | if q.cd { 0x10 } else { 0 } | rcode as u8);
    out.extend_from_slice(&1u16.to_be_bytes());
    out.extend_from_slice(&answers.to_be_bytes());
    out.extend_from_slice(&0u16.to_be_bytes());
    out.extend_from_slice(&u16::from(q.edns.is_some()).to_be_bytes());
    out.extend_from_slice(q.question);
    for r in records {
        out.extend_from_slice(owner);
        match r {
            Rdata::A(ip) => push_rr(out, TYPE_A, &Ipv4Addr::octets(ip)),
            Rdata::Aaaa(ip) => push_rr(out, TYPE_AAAA, &Ipv6Addr::octets(ip)),
            Rdata::Ptr(_) => {}
        }
    }
    if let Some((size, dnssec_ok)) = q.edns {
        let size = size.max(MIN_UDP as u16);
        out.push(0);
        out.extend_from_slice(&TYPE_OPT.to_be_bytes());
        out.extend_from_slice(&size.to_be_bytes());
        out.extend_from_slice(&[0, 0, if dnssec_ok { 0x80 } else { 0 }, 0, 0, 0]);
    }
    true
}

fn push_rr(out: &mut Vec<u8>, rtype: u16, data: &[u8]) {
    out.extend_from_slice(&rtype.to_be_bytes());
    out.extend_from_slice(&CLASS_IN.to_be_bytes());
    out.extend_from_slice(&LOCAL_TTL.to_be_bytes());
    out.extend_from_slice(&(data.len() as u16).to_be_bytes());
    out.extend_from_slice(data);
}
