//! What a hook's functions do to the world, behind one trait: [`HookHost`].
//!
//! * [`OfflineHost`]: answers from the desired state alone (names as the embedded DNS will
//!   answer them); `exec` and `reachable` are refused. Used for `plan` hooks and in tests.
//! * [`super::LiveHost`]: the real machine: commands and probes inside container namespaces,
//!   names asked of the running DNS service.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

use hickory_proto::rr::RecordType;

use crate::desired::{ContainerState, Desired, Resolver};
use crate::dns::lookup::{Answer, Rdata, answer};
use crate::dns::names::Snapshot;

/// The result of `exec`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExecOutput {
    /// Exit status; `128 + N` when the command was ended by signal N (as a shell reports it).
    pub status: i64,
    pub stdout: String,
    pub stderr: String,
}

/// The functions of a hook that reach beyond the script. Errors are messages for the user
/// (they become the hook's error, with the script position added by the caller).
pub trait HookHost: Send + Sync {
    /// Runs `argv` inside `container` and waits at most `timeout`.
    fn exec(&self, container: &str, argv: &[String], timeout: Duration) -> Result<ExecOutput, String>;

    /// The addresses `name` has as `container` sees it (IPv4 first); empty when it has none.
    fn resolve(&self, container: &str, name: &str, timeout: Duration) -> Result<Vec<IpAddr>, String>;

    /// Whether `from` gets an answer from `to`: a TCP connection to `port` opens, or without a
    /// port an ICMP echo is answered, within `timeout`.
    fn reachable(&self, from: &str, to: IpAddr, port: Option<u16>, timeout: Duration)
    -> Result<bool, String>;

    /// An environment variable of the netplan process (`None`: unset or not UTF-8).
    fn env(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

/// The addresses `/etc/hosts` text gives `name` (case-insensitive), in file order.
pub fn hosts_lookup(hosts: &str, name: &str) -> Vec<IpAddr> {
    let mut out = Vec::new();
    for line in hosts.lines() {
        let line = line.split('#').next().unwrap_or("");
        let mut words = line.split_whitespace();
        let Some(ip) = words.next().and_then(|w| w.parse::<IpAddr>().ok()) else {
            continue;
        };
        if words.any(|w| w.eq_ignore_ascii_case(name)) && !out.contains(&ip) {
            out.push(ip);
        }
    }
    out
}

/// IPv4 addresses first, then IPv6, each in answer order.
pub(crate) fn v4_first(mut ips: Vec<IpAddr>) -> Vec<IpAddr> {
    ips.sort_by_key(|ip| ip.is_ipv6());
    ips
}

/// Finds container `name` in `desired`, or says which topology lacks it.
pub(crate) fn find<'a>(desired: &'a Desired, name: &str) -> Result<&'a ContainerState, String> {
    desired
        .container(name)
        .ok_or_else(|| format!("topology `{}` has no container `{name}`", desired.topology))
}

/// Hooks that run before anything exists (`plan`): names come from the desired state, nothing
/// touches the machine.
#[derive(Debug)]
pub struct OfflineHost {
    desired: Desired,
    snapshot: Snapshot,
    env: Option<HashMap<String, String>>,
}

impl OfflineHost {
    /// Answers for `desired` as if it were applied; `env` reads the process environment.
    pub fn new(desired: &Desired) -> Self {
        OfflineHost {
            desired: desired.clone(),
            snapshot: Snapshot::build(std::slice::from_ref(desired), Vec::new()),
            env: None,
        }
    }

    /// The same host with a fixed environment instead of the process's (for tests).
    pub fn with_env(mut self, env: HashMap<String, String>) -> Self {
        self.env = Some(env);
        self
    }

    /// Phase-specific refusal for functions that need the applied machine.
    fn refused(what: &str) -> String {
        format!("{what} needs containers that exist; it is not available before apply (in `plan` hooks)")
    }
}

impl HookHost for OfflineHost {
    fn exec(&self, container: &str, _argv: &[String], _timeout: Duration) -> Result<ExecOutput, String> {
        find(&self.desired, container)?;
        Err(Self::refused("exec"))
    }

    fn resolve(&self, container: &str, name: &str, _timeout: Duration) -> Result<Vec<IpAddr>, String> {
        let c = find(&self.desired, container)?;
        let qname = name.trim_end_matches('.').to_ascii_lowercase();
        let view = match (c.netns(), c.resolver) {
            (Some(ns), Resolver::Embedded) => self.snapshot.view(ns),
            _ => None,
        };
        let Some(view) = view else {
            return Ok(hosts_lookup(&c.hosts(), &qname));
        };
        let mut ips = Vec::new();
        for rtype in [RecordType::A, RecordType::AAAA] {
            if let Answer::Records(records) = answer(&self.snapshot, view, &qname, rtype) {
                ips.extend(records.into_iter().filter_map(|r| match r {
                    Rdata::A(a) => Some(IpAddr::V4(a)),
                    Rdata::Aaaa(a) => Some(IpAddr::V6(a)),
                    Rdata::Ptr(_) => None,
                }));
            }
        }
        Ok(v4_first(ips))
    }

    fn reachable(
        &self,
        from: &str,
        _to: IpAddr,
        _port: Option<u16>,
        _timeout: Duration,
    ) -> Result<bool, String> {
        find(&self.desired, from)?;
        Err(Self::refused("reachable"))
    }

    fn env(&self, name: &str) -> Option<String> {
        match &self.env {
            Some(env) => env.get(name).cloned(),
            None => std::env::var(name).ok(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_file_lookup() {
        let hosts = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost\n172.17.0.2\tc1 # me\n\
                     172.17.0.3 other C1\n# 10.0.0.1 c1\n";
        let got = hosts_lookup(hosts, "c1");
        assert_eq!(
            got,
            vec![
                "172.17.0.2".parse::<IpAddr>().unwrap(),
                "172.17.0.3".parse().unwrap()
            ]
        );
        assert!(hosts_lookup(hosts, "me").is_empty());
        assert_eq!(hosts_lookup(hosts, "LOCALHOST").len(), 2);
    }
}
