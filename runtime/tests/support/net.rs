//! TCP probes between namespaces, with sockets created inside them via `in_netns`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use netplan_runtime::kernel::in_netns;

/// A TCP server inside a namespace (or the sandbox's own one) that answers every connection
/// with its greeting. Stops when dropped.
pub struct Server {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    /// Listens on `addr` inside `netns` (`None` = the test's own namespace).
    pub fn start(netns: Option<&str>, addr: SocketAddr, greeting: &str) -> Result<Server, String> {
        let bind = move || -> std::io::Result<TcpListener> {
            let l = TcpListener::bind(addr)?;
            l.set_nonblocking(true)?;
            Ok(l)
        };
        let listener = match netns {
            Some(ns) => in_netns(ns, bind).and_then(|r| r),
            None => bind(),
        }
        .map_err(|e| format!("listening on {addr} in {netns:?}: {e}"))?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let greeting = greeting.to_string();
        let thread = std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((mut s, _)) => {
                        let _ = s.set_nonblocking(false);
                        let _ = s.write_all(greeting.as_bytes());
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        Ok(Server {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Connects from inside `netns` (`None` = the test's own namespace) and reads the greeting.
pub fn fetch(netns: Option<&str>, addr: SocketAddr, timeout: Duration) -> Result<String, String> {
    let go = move || -> std::io::Result<String> {
        let mut s = TcpStream::connect_timeout(&addr, timeout)?;
        s.set_read_timeout(Some(timeout))?;
        let mut out = String::new();
        s.read_to_string(&mut out)?;
        Ok(out)
    };
    match netns {
        Some(ns) => in_netns(ns, go).and_then(|r| r),
        None => go(),
    }
    .map_err(|e| format!("connecting from {netns:?} to {addr}: {e}"))
}

/// Whether a connection from `netns` to `addr` gets `greeting` back (short timeout).
pub fn reaches(netns: Option<&str>, addr: SocketAddr, greeting: &str) -> bool {
    fetch(netns, addr, Duration::from_secs(2)).is_ok_and(|g| g == greeting)
}

/// Whether a connection from `netns` to `addr` gets `greeting` back within a few seconds,
/// retrying (neighbour entries that failed while traffic was blocked need a moment).
pub fn eventually_reaches(netns: Option<&str>, addr: SocketAddr, greeting: &str) -> bool {
    let deadline = std::time::Instant::now() + Duration::from_secs(8);
    loop {
        if fetch(netns, addr, Duration::from_secs(2)).is_ok_and(|g| g == greeting) {
            return true;
        }
        if std::time::Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}
