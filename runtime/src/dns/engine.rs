//! The serving core: name data plus the per-namespace servers, driven by reloads.
//!
//! `netplan dns` wraps an [`Engine`] in a process with a control socket ([`super::daemon`]);
//! tests drive one in-process. It runs inside a tokio runtime of either flavour.

use std::collections::HashSet;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use super::control::Status;
use super::forward::Forwarder;
use super::handler::Shared;
use super::listeners::Listeners;
use super::names::{Snapshot, usable};
use crate::host::parse_nameservers;
use crate::state::StateDir;

/// How the service listens and forwards.
#[derive(Debug, Clone)]
pub struct Config {
    /// The port served at 127.0.0.11 inside each namespace (53).
    pub listen_port: u16,
    /// Upstream port and deadline.
    pub forwarder: Forwarder,
    /// The host's resolver configuration (the default upstreams).
    pub resolv_conf: PathBuf,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen_port: super::DNS_PORT,
            forwarder: Forwarder::default(),
            resolv_conf: PathBuf::from("/etc/resolv.conf"),
        }
    }
}

/// Name data and servers for every applied topology of one state directory.
pub struct Engine {
    state: StateDir,
    config: Config,
    shared: Arc<Shared>,
    listeners: Listeners,
    wanted: HashSet<String>,
    generation: u64,
    topologies: Vec<String>,
    upstreams: Vec<IpAddr>,
    warnings: Vec<String>,
    error: Option<String>,
    reload_ms: f64,
    opened: usize,
    closed: usize,
}

impl Engine {
    /// An engine that serves nothing until the first [`Engine::reload`].
    pub fn new(state: StateDir, config: Config) -> Engine {
        let shared = Arc::new(Shared::new(config.forwarder));
        Engine {
            state,
            config,
            shared,
            listeners: Listeners::default(),
            wanted: HashSet::new(),
            generation: 0,
            topologies: Vec::new(),
            upstreams: Vec::new(),
            warnings: Vec::new(),
            error: None,
            reload_ms: 0.0,
            opened: 0,
            closed: 0,
        }
    }

    fn read_upstreams(&self) -> Vec<IpAddr> {
        std::fs::read_to_string(&self.config.resolv_conf)
            .map(|t| parse_nameservers(&t))
            .unwrap_or_default()
    }

    /// Reads every applied state and the host's resolvers again, swaps the name data in one step
    /// (queries already being answered finish with the data they started with), then opens and
    /// closes the sockets of the namespaces that changed. When the state cannot be read, the
    /// previous data stays in force and the status says why.
    pub async fn reload(&mut self) -> Status {
        let start = Instant::now();
        let state = self.state.clone();
        let upstreams = self.read_upstreams();
        let generation = self.generation + 1;
        // Reading and building take milliseconds for 1,000 containers: off the serving thread.
        let loaded = tokio::task::spawn_blocking(move || {
            state.all_applied().map(|applied| {
                let mut snap = Snapshot::build(&applied, upstreams);
                snap.generation = generation;
                let topologies: Vec<String> = applied.iter().map(|d| d.topology.clone()).collect();
                (snap, topologies)
            })
        })
        .await;
        match loaded {
            Ok(Ok((snap, topologies))) => {
                self.generation = generation;
                self.wanted = snap.namespaces().map(str::to_string).collect();
                self.topologies = topologies;
                self.upstreams = snap.host_upstreams.clone();
                self.warnings = snap.warnings.clone();
                self.error = None;
                self.shared.swap(Arc::new(snap));
                let report = self
                    .listeners
                    .sync(&self.wanted, &self.shared, self.config.listen_port)
                    .await;
                self.opened = report.opened;
                self.closed = report.closed;
            }
            Ok(Err(e)) => self.error = Some(format!("reading the applied states: {e}")),
            Err(e) => self.error = Some(format!("reading the applied states: {e}")),
        }
        self.reload_ms = start.elapsed().as_secs_f64() * 1000.0;
        self.status()
    }

    /// Periodic upkeep: reloads when the host's resolvers changed, retries namespaces that could
    /// not be bound and rebinds namespaces that were deleted and created again. Returns whether
    /// anything changed.
    pub async fn tick(&mut self) -> bool {
        if usable(self.read_upstreams()) != self.upstreams {
            self.reload().await;
            return true;
        }
        let report = self
            .listeners
            .sync(&self.wanted, &self.shared, self.config.listen_port)
            .await;
        report.opened + report.closed > 0
    }

    /// What is served now.
    pub fn status(&self) -> Status {
        Status {
            pid: std::process::id(),
            generation: self.generation,
            topologies: self.topologies.clone(),
            namespaces: self.listeners.served(),
            failed: self.listeners.failed().clone(),
            upstreams: self.upstreams.clone(),
            reload_ms: self.reload_ms,
            opened: self.opened,
            closed: self.closed,
            warnings: self.warnings.clone(),
            error: self.error.clone(),
        }
    }

    /// Closes every namespace's sockets, letting in-flight queries finish (bounded).
    pub async fn shutdown(mut self) {
        self.listeners.close_all().await;
    }
}
