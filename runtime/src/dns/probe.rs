//! A small blocking DNS client whose socket lives inside a named namespace: asks a question the
//! way a process in that container would. Used by the tests and the benchmark.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::Duration;

use std::net::IpAddr;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
/// Record types of questions (hickory's), re-exported for callers without a hickory dependency.
pub use hickory_proto::rr::RecordType;
use hickory_proto::rr::{Name, RData};

use crate::kernel::netns::in_netns;

/// Transport of a probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Udp,
    Tcp,
}

/// One question.
#[derive(Debug, Clone)]
pub struct Question {
    pub name: String,
    pub rtype: RecordType,
    pub transport: Transport,
    /// EDNS payload size to advertise (`None`: no EDNS, answers over UDP are cut at 512 bytes).
    pub edns: Option<u16>,
}

impl Question {
    /// An A/AAAA/… question over UDP without EDNS.
    pub fn udp(name: &str, rtype: RecordType) -> Question {
        Question {
            name: name.to_string(),
            rtype,
            transport: Transport::Udp,
            edns: None,
        }
    }

    /// The same question over TCP.
    pub fn tcp(name: &str, rtype: RecordType) -> Question {
        Question {
            transport: Transport::Tcp,
            ..Question::udp(name, rtype)
        }
    }

    /// The query message bytes with `id`.
    pub fn encode(&self, id: u16) -> io::Result<Vec<u8>> {
        let name =
            Name::from_ascii(&self.name).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let mut m = Message::new(id, MessageType::Query, OpCode::Query);
        m.metadata.recursion_desired = true;
        m.add_query(Query::query(name, self.rtype));
        if let Some(size) = self.edns {
            let mut e = Edns::new();
            e.set_max_payload(size);
            m.set_edns(e);
        }
        m.to_vec().map_err(io::Error::other)
    }
}

/// A reply, with shortcuts for what tests look at.
#[derive(Debug, Clone)]
pub struct Reply {
    pub message: Message,
}

impl Reply {
    /// The response code.
    pub fn code(&self) -> ResponseCode {
        self.message.metadata.response_code
    }

    /// The A and AAAA addresses of the answer section, in order.
    pub fn ips(&self) -> Vec<IpAddr> {
        self.message
            .answers
            .iter()
            .filter_map(|r| match &r.data {
                RData::A(a) => Some(IpAddr::V4(a.0)),
                RData::AAAA(a) => Some(IpAddr::V6(a.0)),
                _ => None,
            })
            .collect()
    }

    /// The PTR targets of the answer section, in order.
    pub fn ptrs(&self) -> Vec<String> {
        self.message
            .answers
            .iter()
            .filter_map(|r| match &r.data {
                RData::PTR(p) => Some(p.0.to_string()),
                _ => None,
            })
            .collect()
    }

    /// Whether the TC (truncated) flag is set.
    pub fn truncated(&self) -> bool {
        self.message.metadata.truncation
    }

    /// `NOERROR [addresses]` / `NXDOMAIN` … for messages.
    pub fn describe(&self) -> String {
        let mut s = self.code().to_string();
        let ips = self.ips();
        if !ips.is_empty() {
            s.push_str(&format!(" {ips:?}"));
        }
        let ptrs = self.ptrs();
        if !ptrs.is_empty() {
            s.push_str(&format!(" {ptrs:?}"));
        }
        s
    }
}

/// Asks `q` of `server` from inside namespace `netns` (`None`: this process's namespace) and
/// waits up to `timeout` for the reply.
pub fn ask(netns: Option<&str>, server: SocketAddr, q: &Question, timeout: Duration) -> io::Result<Reply> {
    let q = q.clone();
    let run = move || exchange(server, &q, timeout);
    match netns {
        Some(ns) => in_netns(ns, run)?,
        None => run(),
    }
}

/// Sends raw bytes over UDP from inside `netns` and returns the reply, if one comes in time.
pub fn send_raw_udp(
    netns: &str,
    server: SocketAddr,
    bytes: Vec<u8>,
    timeout: Duration,
) -> io::Result<Option<Vec<u8>>> {
    in_netns(netns, move || -> io::Result<Option<Vec<u8>>> {
        let s = UdpSocket::bind(("127.0.0.1", 0))?;
        s.set_read_timeout(Some(timeout))?;
        s.send_to(&bytes, server)?;
        let mut buf = vec![0u8; 65_535];
        match s.recv(&mut buf) {
            Ok(n) => Ok(Some(buf[..n].to_vec())),
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => Ok(None),
            Err(e) => Err(e),
        }
    })?
}

fn next_id() -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    static ID: AtomicU16 = AtomicU16::new(0x1d00);
    ID.fetch_add(1, Ordering::Relaxed)
}

fn exchange(server: SocketAddr, q: &Question, timeout: Duration) -> io::Result<Reply> {
    let id = next_id();
    let query = q.encode(id)?;
    let bytes = match q.transport {
        Transport::Udp => {
            let local: SocketAddr = if server.is_ipv4() {
                ([0, 0, 0, 0], 0).into()
            } else {
                ([0u16; 8], 0).into()
            };
            let s = UdpSocket::bind(local)?;
            s.set_read_timeout(Some(timeout))?;
            s.connect(server)?;
            s.send(&query)?;
            let mut buf = vec![0u8; 65_535];
            loop {
                let n = s.recv(&mut buf)?;
                if n >= 2 && u16::from_be_bytes([buf[0], buf[1]]) == id {
                    buf.truncate(n);
                    break buf;
                }
            }
        }
        Transport::Tcp => {
            let mut s = TcpStream::connect_timeout(&server, timeout)?;
            s.set_read_timeout(Some(timeout))?;
            s.set_write_timeout(Some(timeout))?;
            let len = u16::try_from(query.len()).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
            let mut framed = len.to_be_bytes().to_vec();
            framed.extend_from_slice(&query);
            s.write_all(&framed)?;
            let mut len = [0u8; 2];
            s.read_exact(&mut len)?;
            let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
            s.read_exact(&mut buf)?;
            buf
        }
    };
    Message::from_vec(&bytes)
        .map(|message| Reply { message })
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}
