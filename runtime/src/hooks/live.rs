//! The real [`HookHost`]: commands, name lookups and probes inside the applied containers'
//! namespaces.
//!
//! Every function works only on containers of the topology being applied or destroyed, and only
//! in a namespace that carries netplan's marker for that topology; a container that shares the
//! host's namespace (`network host`) is refused.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use super::exec;
use super::host::{ExecOutput, HookHost, hosts_lookup, v4_first};
use super::reach;
use crate::desired::{ContainerState, Desired, Resolver};
use crate::dns::probe::{self, Question};
use crate::dns::{DNS_PORT, LISTEN_IP};
use crate::kernel::{netns, tag_for};

/// Hooks on the machine: see the module documentation.
#[derive(Debug, Clone)]
pub struct LiveHost {
    /// Where containers are looked up, first match wins (the new state, then the old one).
    states: Vec<Desired>,
    max_output: usize,
}

impl LiveHost {
    /// A host for the containers of `states`: what is being applied, then what was applied
    /// before (containers being removed are found there). `max_output` bounds each captured
    /// `exec` stream.
    pub fn new(states: &[&Desired], max_output: usize) -> Self {
        LiveHost {
            states: states.iter().map(|d| (*d).clone()).collect(),
            max_output,
        }
    }

    /// The namespace of container `name`, checked to be netplan's for this topology.
    fn netns(&self, name: &str) -> Result<(&ContainerState, String), String> {
        let (d, c) = self
            .states
            .iter()
            .find_map(|d| d.container(name).map(|c| (d, c)))
            .ok_or_else(|| {
                let topology = self.states.first().map_or("", |d| d.topology.as_str());
                format!("topology `{topology}` has no container `{name}`")
            })?;
        let Some(ns) = c.netns() else {
            return Err(format!(
                "container `{name}` shares the host's network namespace; hooks only act inside container namespaces"
            ));
        };
        let want = tag_for(&d.topology);
        match netns::read_marker(ns) {
            Ok(Some(tag)) if tag == want && netns::exists(ns) => Ok((c, ns.to_string())),
            Ok(_) => Err(format!(
                "the namespace {ns} of container `{name}` does not exist (not applied yet?)"
            )),
            Err(e) => Err(format!("cannot read the marker of namespace {ns}: {e}")),
        }
    }
}

impl HookHost for LiveHost {
    fn exec(&self, container: &str, argv: &[String], timeout: Duration) -> Result<ExecOutput, String> {
        let (_, ns) = self.netns(container)?;
        exec::run(&ns, argv, timeout, self.max_output).map_err(|e| e.to_string())
    }

    fn resolve(&self, container: &str, name: &str, timeout: Duration) -> Result<Vec<IpAddr>, String> {
        let (c, ns) = self.netns(container)?;
        if c.resolver != Resolver::Embedded {
            // Only /etc/hosts names are netplan's on the default bridge; nothing is sent upstream.
            return Ok(hosts_lookup(&c.hosts(), name.trim_end_matches('.')));
        }
        let server = SocketAddr::new(IpAddr::V4(LISTEN_IP), DNS_PORT);
        let mut ips = Vec::new();
        for rtype in [RecordType::A, RecordType::AAAA] {
            let reply = probe::ask(Some(&ns), server, &Question::udp(name, rtype), timeout)
                .map_err(|e| format!("the DNS service in {ns} did not answer: {e}"))?;
            match reply.code() {
                ResponseCode::NoError | ResponseCode::NXDomain => ips.extend(reply.ips()),
                // An unknown name the container may not forward (internal networks only).
                ResponseCode::ServFail => {}
                other => return Err(format!("the DNS service answered {other}")),
            }
        }
        Ok(v4_first(ips))
    }

    fn reachable(
        &self,
        from: &str,
        to: IpAddr,
        port: Option<u16>,
        timeout: Duration,
    ) -> Result<bool, String> {
        let (_, ns) = self.netns(from)?;
        let r = match port {
            Some(p) => reach::tcp(&ns, to, p, timeout),
            None => reach::icmp(&ns, to, timeout),
        };
        r.map_err(|e| e.to_string())
    }
}
