//! Forwarding names netplan does not own to upstream resolvers.
//!
//! The client's query bytes go unchanged (same id, same flags, same EDNS) to each upstream in
//! turn, over the client's protocol, until one gives a usable answer; at most
//! [`MAX_UPSTREAMS`](super::MAX_UPSTREAMS) servers and one total deadline shared among them, so
//! a silent upstream costs a bounded wait and then SERVFAIL, never a hang. An upstream SERVFAIL
//! or REFUSED moves on to the next one (Docker does the same); NXDOMAIN and every other answer
//! are relayed. Sockets are fresh per query (random source port) and live in the service's own
//! namespace, so upstreams are reached the way the host reaches them.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, ResponseCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::{Instant, timeout};

/// How forwarded queries are sent.
#[derive(Debug, Clone, Copy)]
pub struct Forwarder {
    /// The upstream port (53; tests point it at a local server).
    pub port: u16,
    /// Total time for one forwarded query, shared by all upstreams tried.
    pub deadline: Duration,
}

impl Default for Forwarder {
    fn default() -> Self {
        Forwarder {
            port: super::DNS_PORT,
            deadline: Duration::from_secs(4),
        }
    }
}

impl Forwarder {
    /// Asks `upstreams` in order; `None` when none gave a usable answer in time.
    pub async fn forward(&self, query: &[u8], upstreams: &[IpAddr], tcp: bool) -> Option<Message> {
        if query.len() < 12 || upstreams.is_empty() {
            return None;
        }
        let id = u16::from_be_bytes([query[0], query[1]]);
        let end = Instant::now() + self.deadline;
        let n = upstreams.len().min(super::MAX_UPSTREAMS);
        for (i, ip) in upstreams.iter().take(n).enumerate() {
            let now = Instant::now();
            if now >= end {
                break;
            }
            // Split what is left evenly among the servers not yet tried.
            let share = (end - now) / (n - i) as u32;
            let addr = SocketAddr::new(*ip, self.port);
            let reply = if tcp {
                timeout(share, ask_tcp(addr, query)).await
            } else {
                timeout(share, ask_udp(addr, query, id)).await
            };
            let Ok(Ok(bytes)) = reply else { continue };
            let Ok(msg) = Message::from_vec(&bytes) else {
                continue;
            };
            if msg.metadata.id != id || msg.metadata.message_type != MessageType::Response {
                continue;
            }
            if matches!(
                msg.metadata.response_code,
                ResponseCode::ServFail | ResponseCode::Refused
            ) {
                continue;
            }
            return Some(msg);
        }
        None
    }
}

async fn ask_udp(addr: SocketAddr, query: &[u8], id: u16) -> io::Result<Vec<u8>> {
    let local: SocketAddr = if addr.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        ([0u16; 8], 0).into()
    };
    let socket = UdpSocket::bind(local).await?;
    socket.connect(addr).await?;
    socket.send(query).await?;
    let mut buf = vec![0u8; 65_535];
    loop {
        let n = socket.recv(&mut buf).await?;
        // A connected socket only gets datagrams from `addr`; still skip strays with another id.
        if n >= 12 && u16::from_be_bytes([buf[0], buf[1]]) == id {
            buf.truncate(n);
            return Ok(buf);
        }
    }
}

async fn ask_tcp(addr: SocketAddr, query: &[u8]) -> io::Result<Vec<u8>> {
    let len = u16::try_from(query.len()).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let mut stream = TcpStream::connect(addr).await?;
    let mut framed = Vec::with_capacity(query.len() + 2);
    framed.extend_from_slice(&len.to_be_bytes());
    framed.extend_from_slice(query);
    stream.write_all(&framed).await?;
    let mut len = [0u8; 2];
    stream.read_exact(&mut len).await?;
    let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
    stream.read_exact(&mut buf).await?;
    Ok(buf)
}
