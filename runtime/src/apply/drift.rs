//! Drift: how the kernel differs from what is recorded as applied ("changed outside netplan"),
//! shown in the plan and repaired by the next apply.

use std::collections::BTreeMap;

use super::ApplyError;
use super::execute::{Env, Facts, Op, observe, operations};
use super::wanted::wanted;
use crate::desired::Desired;
use crate::diff::{Action, Change, Kind, Plan};

/// One difference between the recorded state and the kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drift {
    /// The plan address it belongs to (`endpoint.container3.isolated_nw`, `network.x`,
    /// `container.c1`, or `firewall` / `forwarding`).
    pub address: String,
    /// What kind of object the address names.
    pub kind: Kind,
    /// Repairing it creates (the object is missing), updates, or deletes (a leftover).
    pub action: Action,
    /// The object's name as the plan shows it.
    pub name: String,
    /// What differs, e.g. `veth of container3 on isolated_nw missing`.
    pub message: String,
}

fn d(address: String, kind: Kind, action: Action, name: String, message: String) -> Drift {
    Drift {
        address,
        kind,
        action,
        name,
        message,
    }
}

fn endpoint_name(address: &str) -> String {
    address
        .split_once('.')
        .map(|(_, n)| n.to_string())
        .unwrap_or_default()
}

fn kind_of(address: &str) -> Kind {
    if address.starts_with("endpoint.") {
        Kind::Endpoint
    } else if address.starts_with("container.") {
        Kind::Container
    } else {
        Kind::Network
    }
}

/// The repair an operation makes, read as drift.
pub(crate) fn of_op(op: &Op) -> Option<Drift> {
    Some(match op {
        Op::CreateBridge(b) => d(
            format!("network.{}", b.network),
            Kind::Network,
            Action::Create,
            b.network.clone(),
            format!("bridge {} of network {} missing", b.spec.name, b.network),
        ),
        Op::SetMtu {
            what, mtu, address, ..
        } => d(
            address.clone(),
            kind_of(address),
            Action::Update,
            endpoint_name(address),
            format!("MTU of {what} is not {mtu}"),
        ),
        Op::SetAddresses { what, address, .. } => d(
            address.clone(),
            kind_of(address),
            Action::Update,
            endpoint_name(address),
            format!("addresses of {what} differ"),
        ),
        Op::SetIsolation { what, address, .. } => d(
            address.clone(),
            kind_of(address),
            Action::Update,
            endpoint_name(address),
            format!("port isolation of {what} differs"),
        ),
        Op::CreateNetns(n) => d(
            format!("container.{}", n.container),
            Kind::Container,
            Action::Update,
            n.container.clone(),
            format!("namespace of {} missing", n.container),
        ),
        Op::LoopbackUp { netns, container } => d(
            format!("container.{container}"),
            Kind::Container,
            Action::Update,
            container.clone(),
            format!("lo in namespace {netns} is down"),
        ),
        Op::WriteFile { path, container, .. } => d(
            format!("container.{container}"),
            Kind::Container,
            Action::Update,
            container.clone(),
            format!("{} missing or different", path.display()),
        ),
        Op::RemoveResolv { netns, container } => d(
            format!("container.{container}"),
            Kind::Container,
            Action::Update,
            container.clone(),
            format!("/etc/netns/{netns}/resolv.conf should not exist"),
        ),
        Op::CreateVeth(v) => d(
            format!("endpoint.{}.{}", v.container, v.network),
            Kind::Endpoint,
            Action::Update,
            format!("{}.{}", v.container, v.network),
            format!("veth of {} on {} missing or changed", v.container, v.network),
        ),
        Op::SpawnProcess(p) => d(
            format!("container.{}", p.container),
            Kind::Container,
            Action::Update,
            p.container.clone(),
            format!("run process of {} not running", p.container),
        ),
        Op::Firewall(_) => d(
            "firewall".into(),
            Kind::Network,
            Action::Update,
            "nftables table inet netplan".into(),
            "nftables table missing or different".into(),
        ),
        Op::Forwarding { v4, v6 } => d(
            "forwarding".into(),
            Kind::Network,
            Action::Update,
            "forwarding".into(),
            match (v4, v6) {
                (true, true) => "IPv4 and IPv6 forwarding are off".into(),
                (true, false) => "IPv4 forwarding is off".into(),
                _ => "IPv6 forwarding is off".into(),
            },
        ),
        Op::DeleteLink { name, what, .. } => d(
            format!("leftover.{name}"),
            Kind::Endpoint,
            Action::Delete,
            name.clone(),
            format!("{what} left over"),
        ),
        Op::DeleteNetns { name, .. } => d(
            format!("leftover.{name}"),
            Kind::Container,
            Action::Delete,
            name.clone(),
            format!("namespace {name} left over"),
        ),
        Op::DeleteBridge { name, .. } => d(
            format!("leftover.{name}"),
            Kind::Network,
            Action::Delete,
            name.clone(),
            format!("bridge {name} left over"),
        ),
        Op::RemoveFiles { netns, .. } => d(
            format!("leftover.etc.{netns}"),
            Kind::Container,
            Action::Delete,
            netns.clone(),
            format!("/etc/netns/{netns} left over"),
        ),
        Op::KillProcess { container, pid, .. } => d(
            format!("container.{container}"),
            Kind::Container,
            Action::Update,
            container.clone(),
            format!("process {pid} left over"),
        ),
    })
}

/// How the kernel differs from `recorded` (what the state directory says is applied). Reads
/// only; needs the rights to observe the kernel. [`prepare`](super::prepare) gives the same
/// for the apply that follows, from the same read of the kernel.
pub fn drift(env: Env, recorded: &Desired) -> Result<Vec<Drift>, ApplyError> {
    let mut facts = Facts::load(env, &recorded.topology)?;
    let w = wanted(recorded, &facts.resolv_conf);
    let observed = observe(env, &mut facts, &w.namespaces())?;
    let ops = operations(env, &facts, &w, Some(recorded), &observed);
    Ok(ops.iter().filter_map(of_op).collect())
}

/// Adds drift to a plan: to a change of the same object as its reason, or as a change of its
/// own ("changed outside netplan: …"), so that `plan` shows it and the summary counts it.
pub fn add_drift(plan: &mut Plan, drift: &[Drift]) {
    let mut by_address: BTreeMap<&str, Vec<&Drift>> = BTreeMap::new();
    for x in drift {
        by_address.entry(x.address.as_str()).or_default().push(x);
    }
    for (address, items) in by_address {
        let mut messages: Vec<&str> = items.iter().map(|x| x.message.as_str()).collect();
        messages.dedup();
        let text = format!("changed outside netplan: {}", messages.join("; "));
        if let Some(c) = plan.changes.iter_mut().find(|c| c.address == address) {
            c.reason = Some(match &c.reason {
                Some(r) => format!("{r}; {text}"),
                None => text,
            });
            continue;
        }
        let first = items[0];
        plan.changes.push(Change {
            address: address.to_string(),
            kind: first.kind,
            action: first.action,
            name: first.name.clone(),
            attrs: Vec::new(),
            reason: Some(text),
            unchanged: 0,
            before: None,
            after: None,
        });
    }
}
