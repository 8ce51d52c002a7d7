//! The sockets of every served namespace: a UDP socket and a TCP listener on `127.0.0.11:53`,
//! created by a thread that joined the namespace. TCP is served by one hickory [`Server`] per
//! namespace, UDP by a receive loop ([`super::udp`]); both ask the namespace's handler.
//!
//! [`Listeners::sync`] only touches namespaces that changed: it closes the servers of
//! namespaces no longer served (or deleted and created anew under the same name, detected by the
//! namespace's inode) and opens servers for new ones. Everything else keeps its sockets, so a
//! reload never makes a running container miss a query. A namespace that cannot be bound yet
//! (not created, `lo` down) is remembered with its error and retried on the next sync.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io;
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::os::unix::fs::MetadataExt;
use std::sync::Arc;
use std::time::Duration;

use hickory_server::Server;

use super::LISTEN_IP;
use super::handler::{NsHandler, Shared};
use crate::kernel::netns::{in_netns, netns_path};

/// A TCP connection that sends nothing for this long is closed.
const TCP_IDLE: Duration = Duration::from_secs(5);
/// Responses buffered per TCP connection.
const TCP_RESPONSE_BUFFER: usize = 32;
/// How long closing a namespace's TCP server may take.
const CLOSE_GRACE: Duration = Duration::from_secs(5);

/// Identity of a namespace: (device, inode) of its nsfs file.
type NsId = (u64, u64);

struct Bound {
    tcp: Server<NsHandler>,
    udp: tokio::task::JoinHandle<()>,
    ns_id: NsId,
}

/// What one [`Listeners::sync`] changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct SyncReport {
    pub opened: usize,
    pub closed: usize,
}

/// The servers of all served namespaces.
#[derive(Default)]
pub(crate) struct Listeners {
    bound: HashMap<String, Bound>,
    /// Namespace → why it could not be bound.
    failed: BTreeMap<String, String>,
}

/// The identity of named namespace `netns`, if it exists.
fn ns_id_of(netns: &str) -> Option<NsId> {
    std::fs::metadata(netns_path(netns))
        .ok()
        .map(|m| (m.dev(), m.ino()))
}

/// Binds UDP and TCP on `127.0.0.11:port` inside `netns`.
fn bind_in(netns: &str, port: u16) -> Result<(UdpSocket, TcpListener, NsId), String> {
    let addr = SocketAddr::from((LISTEN_IP, port));
    let made = in_netns(netns, move || -> io::Result<(UdpSocket, TcpListener, NsId)> {
        let udp = UdpSocket::bind(addr)?;
        udp.set_nonblocking(true)?;
        let tcp = TcpListener::bind(addr)?;
        tcp.set_nonblocking(true)?;
        let me = std::fs::metadata("/proc/thread-self/ns/net")?;
        Ok((udp, tcp, (me.dev(), me.ino())))
    });
    match made {
        Ok(Ok(sockets)) => Ok(sockets),
        Ok(Err(e)) => Err(format!(
            "binding {addr} (UDP and TCP) inside namespace {netns}: {e}"
        )),
        Err(e) => Err(format!("entering namespace {netns}: {e}")),
    }
}

impl Listeners {
    /// Served namespaces, sorted.
    pub fn served(&self) -> Vec<String> {
        let mut v: Vec<String> = self.bound.keys().cloned().collect();
        v.sort();
        v
    }

    /// Namespaces that could not be bound, with the reason.
    pub fn failed(&self) -> &BTreeMap<String, String> {
        &self.failed
    }

    /// Makes the served namespaces exactly `wanted`, touching only those that changed.
    pub async fn sync(&mut self, wanted: &HashSet<String>, shared: &Arc<Shared>, port: u16) -> SyncReport {
        let mut report = SyncReport::default();
        // One stat per served namespace (1,000 every tick): on the blocking pool, so that the
        // thread answering queries does not stall meanwhile.
        let kept: Vec<(String, NsId)> = self
            .bound
            .iter()
            .filter(|(ns, _)| wanted.contains(*ns))
            .map(|(ns, b)| (ns.clone(), b.ns_id))
            .collect();
        let recreated: HashSet<String> = tokio::task::spawn_blocking(move || {
            kept.into_iter()
                .filter(|(ns, id)| ns_id_of(ns) != Some(*id))
                .map(|(ns, _)| ns)
                .collect()
        })
        .await
        .unwrap_or_default();
        let stale: Vec<String> = self
            .bound
            .keys()
            .filter(|ns| !wanted.contains(*ns) || recreated.contains(*ns))
            .cloned()
            .collect();
        // Closed before anything is opened: a namespace closed and opened again in one go (a
        // container stopped and started) must find its address free.
        let closing: Vec<Bound> = stale.iter().filter_map(|ns| self.bound.remove(ns)).collect();
        report.closed = closing.len();
        futures::future::join_all(closing.into_iter().map(close)).await;
        self.failed.retain(|ns, _| wanted.contains(ns));
        let mut to_open: Vec<String> = wanted
            .iter()
            .filter(|ns| !self.bound.contains_key(*ns))
            .cloned()
            .collect();
        if to_open.is_empty() {
            return report;
        }
        to_open.sort();
        let results = tokio::task::spawn_blocking(move || {
            to_open
                .into_iter()
                .map(|ns| {
                    let r = bind_in(&ns, port);
                    (ns, r)
                })
                .collect::<Vec<_>>()
        })
        .await
        .unwrap_or_default();
        for (ns, r) in results {
            let opened = r.and_then(|(udp, tcp, ns_id)| {
                let udp = tokio::net::UdpSocket::from_std(udp).map_err(|e| format!("{ns}: {e}"))?;
                let tcp = tokio::net::TcpListener::from_std(tcp).map_err(|e| format!("{ns}: {e}"))?;
                let handler = || NsHandler {
                    netns: ns.clone(),
                    shared: shared.clone(),
                };
                let mut server = Server::new(handler());
                server.register_listener(tcp, TCP_IDLE, TCP_RESPONSE_BUFFER);
                let udp = tokio::spawn(super::udp::serve(Arc::new(udp), Arc::new(handler())));
                Ok(Bound {
                    tcp: server,
                    udp,
                    ns_id,
                })
            });
            match opened {
                Ok(b) => {
                    self.failed.remove(&ns);
                    self.bound.insert(ns, b);
                    report.opened += 1;
                }
                Err(e) => {
                    self.failed.insert(ns, e);
                }
            }
        }
        report
    }

    /// Closes every server.
    pub async fn close_all(&mut self) {
        let closing: Vec<Bound> = self.bound.drain().map(|(_, b)| b).collect();
        futures::future::join_all(closing.into_iter().map(close)).await;
        self.failed.clear();
    }
}

/// Closes `b`'s sockets: the UDP loop stops at once (a reply still waiting for an upstream is
/// dropped: the container is gone), TCP stops accepting and ends its connections (bounded).
/// Returns when both addresses are free again.
async fn close(mut b: Bound) {
    b.udp.abort();
    let _ = b.udp.await;
    let _ = tokio::time::timeout(CLOSE_GRACE, b.tcp.shutdown_gracefully()).await;
}
