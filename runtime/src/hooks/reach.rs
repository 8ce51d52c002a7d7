//! `reachable`: a TCP connect or an ICMP echo from inside a container's namespace.

use std::io::{self, Read};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use crate::kernel::netns::in_netns;

/// Whether a TCP connection from namespace `netns` to `ip:port` opens within `timeout`.
/// Refused, unreachable and timed-out connections are `false`; other failures are errors.
pub fn tcp(netns: &str, ip: IpAddr, port: u16, timeout: Duration) -> io::Result<bool> {
    let addr = SocketAddr::new(ip, port);
    in_netns(netns, move || match TcpStream::connect_timeout(&addr, timeout) {
        Ok(_) => Ok(true),
        Err(e) if unanswered(&e) => Ok(false),
        Err(e) => Err(e),
    })?
}

/// Failures that mean "no answer" rather than "could not try".
fn unanswered(e: &io::Error) -> bool {
    use io::ErrorKind as K;
    matches!(
        e.kind(),
        K::ConnectionRefused
            | K::TimedOut
            | K::WouldBlock
            | K::HostUnreachable
            | K::NetworkUnreachable
            | K::ConnectionReset
            | K::AddrNotAvailable
    )
}

/// The internet checksum of `data`.
fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for pair in data.chunks(2) {
        let word = u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)]);
        sum = sum.wrapping_add(u32::from(word));
    }
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An ICMP (v4: type 8, v6: type 128) echo request with `id` and `seq`.
fn echo_request(v6: bool, id: u16, seq: u16) -> Vec<u8> {
    let mut p = vec![if v6 { 128 } else { 8 }, 0, 0, 0];
    p.extend_from_slice(&id.to_be_bytes());
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(b"netplan-hook-probe");
    if !v6 {
        // The kernel fills in the ICMPv6 checksum of raw sockets itself.
        let c = checksum(&p);
        p[2..4].copy_from_slice(&c.to_be_bytes());
    }
    p
}

/// Whether `packet` (with the IPv4 header for v4 raw sockets) is the echo reply to `id`/`seq`.
fn is_reply(v6: bool, packet: &[u8], id: u16, seq: u16) -> bool {
    let icmp = if v6 {
        packet
    } else {
        let ihl = usize::from(packet.first().map_or(0, |b| b & 0x0f)) * 4;
        packet.get(ihl..).unwrap_or(&[])
    };
    let want_type = if v6 { 129 } else { 0 };
    icmp.len() >= 8
        && icmp[0] == want_type
        && icmp[1] == 0
        && icmp[4..6] == id.to_be_bytes()
        && icmp[6..8] == seq.to_be_bytes()
}

/// Whether an ICMP echo from namespace `netns` to `ip` is answered within `timeout` (one
/// request; a raw socket, so netplan must run as root).
pub fn icmp(netns: &str, ip: IpAddr, timeout: Duration) -> io::Result<bool> {
    in_netns(netns, move || -> io::Result<bool> {
        let v6 = ip.is_ipv6();
        let (domain, proto) = if v6 {
            (Domain::IPV6, Protocol::ICMPV6)
        } else {
            (Domain::IPV4, Protocol::ICMPV4)
        };
        let mut sock = Socket::new(domain, Type::RAW, Some(proto))?;
        // Connected: the kernel hands this socket only packets from `ip`.
        let target = SockAddr::from(SocketAddr::new(ip, 0));
        match sock.connect(&target) {
            Ok(()) => {}
            Err(e) if unanswered(&e) => return Ok(false),
            Err(e) => return Err(e),
        }
        let id = (std::process::id() & 0xffff) as u16;
        let seq = next_seq();
        match sock.send(&echo_request(v6, id, seq)) {
            Ok(_) => {}
            Err(e) if unanswered(&e) => return Ok(false),
            Err(e) => return Err(e),
        }
        let end = Instant::now() + timeout;
        let mut buf = [0u8; 1500];
        loop {
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(false);
            }
            sock.set_read_timeout(Some(left))?;
            match sock.read(&mut buf) {
                Ok(n) if is_reply(v6, &buf[..n], id, seq) => return Ok(true),
                Ok(_) => {}
                Err(e) if unanswered(&e) => return Ok(false),
                Err(e) => return Err(e),
            }
        }
    })?
}

fn next_seq() -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    static SEQ: AtomicU16 = AtomicU16::new(1);
    SEQ.fetch_add(1, Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echo_packets() {
        let p = echo_request(false, 0x1234, 7);
        assert_eq!(p[0], 8);
        // A correct checksum makes the sum over the packet zero.
        assert_eq!(checksum(&p), 0);
        let mut reply = vec![0x45u8; 1];
        reply.extend_from_slice(&[0u8; 19]);
        let mut icmp = p.clone();
        icmp[0] = 0;
        reply.extend_from_slice(&icmp);
        assert!(is_reply(false, &reply, 0x1234, 7));
        assert!(!is_reply(false, &reply, 0x1234, 8));
        let mut v6 = echo_request(true, 1, 2);
        assert!(!is_reply(true, &v6, 1, 2));
        v6[0] = 129;
        assert!(is_reply(true, &v6, 1, 2));
    }
}
