//! netplan's nftables ruleset, built from a [`FirewallSpec`] and applied in one transaction.
//!
//! Layout: one table, `inet netplan`, owned by netplan; it is deleted and re-created in the
//! same batch, so an apply is atomic and idempotent.
//!
//!   * `forward` (filter, prio 0, policy accept):
//!     `ct status dnat accept` first (published ports stay reachable, from other netplan
//!     networks too, and their replies pass); then per network: `iifname B oifname B drop` when
//!     icc is off (only matters for routed traffic or when `br_netfilter` is loaded), for
//!     internal networks `iifname B oifname != B drop` and `oifname B iifname != B drop`, and
//!     isolation `iifname B oifname { other netplan bridges } drop` (both directions follow,
//!     since every network gets its own rule).
//!   * `prerouting` (nat, prio -100) and `output` (nat, prio -100): per published port
//!     `[ip daddr HOST | fib daddr type local] [meta nfproto ipvX] tcp dport P dnat ip to C:P'`.
//!     `fib daddr type local` means "any local address", so forwarded traffic to port P
//!     elsewhere is not hijacked. Publishing on 127.0.0.1 also needs `route_localnet`,
//!     which netplan does not set.
//!   * `postrouting` (nat, prio 100): per masquerading, non-internal network and subnet
//!     `ip saddr SUBNET oifname != B masquerade`, plus the hairpin case
//!     `ip saddr SUBNET oifname B ct status dnat masquerade`.
//!
//! icc off is enforced in two places. Frames between two ports of one bridge are switched at
//! layer 2 and reach the `inet` forward hook only when `br_netfilter` is active, so the
//! `iifname B oifname B drop` rule alone is not enough. The kernel layer also marks every
//! container port of such a network as an isolated bridge port ([`VethSpec::isolated`],
//! `IFLA_BRPORT_ISOLATED`), and isolated ports never exchange frames with each other. A `bridge`
//! family table matching `meta ibrname`/`obrname` would need `nft_meta_bridge`, which some
//! kernels lack, so netplan does not use one.
//!
//! [`VethSpec::isolated`]: super::VethSpec::isolated
//!
//! netplan's accepts cannot override drops in other tables: a host whose own forward chain
//! drops by default (e.g. Docker's iptables policy) still drops container traffic.

use std::borrow::Cow;
use std::collections::HashSet;
use std::io::Write;
use std::net::IpAddr;
use std::process::{Command, Stdio};

use ipnet::IpNet;
use nftables::batch::Batch;
use nftables::expr::{
    CT, Expression, Fib, FibFlag, FibResult, Meta, MetaKey, NamedExpression, Payload, PayloadField, Prefix,
};
use nftables::schema::{Chain, NfListObject, Rule, Table};
use nftables::stmt::{Match, NAT, NATFamily, Operator, Statement};
use nftables::types::{NfChainPolicy, NfChainType, NfFamily, NfHook};
use serde_json::Value;

use super::types::{FirewallSpec, PublishedPort};
use super::{KernelError, KernelResult};

/// Name of netplan's `inet` table.
pub const INET_TABLE: &str = "netplan";

fn string(s: impl Into<String>) -> Expression<'static> {
    Expression::String(Cow::Owned(s.into()))
}

fn meta(key: MetaKey) -> Expression<'static> {
    Expression::Named(NamedExpression::Meta(Meta { key }))
}

fn matches(left: Expression<'static>, op: Operator, right: Expression<'static>) -> Statement<'static> {
    Statement::Match(Match { left, right, op })
}

fn iifname(op: Operator, name: &str) -> Statement<'static> {
    matches(meta(MetaKey::Iifname), op, string(name))
}

fn oifname(op: Operator, name: &str) -> Statement<'static> {
    matches(meta(MetaKey::Oifname), op, string(name))
}

fn ct_status_dnat() -> Statement<'static> {
    let ct = CT {
        key: "status".into(),
        family: None,
        dir: None,
    };
    matches(
        Expression::Named(NamedExpression::CT(ct)),
        Operator::IN,
        string("dnat"),
    )
}

fn payload(protocol: &str, field: &str) -> Expression<'static> {
    Expression::Named(NamedExpression::Payload(Payload::PayloadField(PayloadField {
        protocol: Cow::Owned(protocol.to_string()),
        field: Cow::Owned(field.to_string()),
    })))
}

fn ip_proto(addr: IpAddr) -> &'static str {
    if addr.is_ipv4() { "ip" } else { "ip6" }
}

fn saddr_in(net: &IpNet) -> Statement<'static> {
    let prefix = Prefix {
        addr: Box::new(string(net.network().to_string())),
        len: u32::from(net.prefix_len()),
    };
    matches(
        payload(ip_proto(net.addr()), "saddr"),
        Operator::EQ,
        Expression::Named(NamedExpression::Prefix(prefix)),
    )
}

fn drop_() -> Statement<'static> {
    Statement::Drop(None)
}

fn rule(family: NfFamily, chain: &str, expr: Vec<Statement<'static>>) -> NfListObject<'static> {
    NfListObject::Rule(Rule {
        family,
        table: Cow::Borrowed(INET_TABLE),
        chain: Cow::Owned(chain.to_string()),
        expr: Cow::Owned(expr),
        handle: None,
        index: None,
        comment: None,
    })
}

fn base_chain(
    family: NfFamily,
    name: &str,
    kind: NfChainType,
    hook: NfHook,
    prio: i32,
) -> NfListObject<'static> {
    NfListObject::Chain(Chain {
        family,
        table: Cow::Borrowed(INET_TABLE),
        name: Cow::Owned(name.to_string()),
        _type: Some(kind),
        hook: Some(hook),
        prio: Some(prio),
        policy: Some(NfChainPolicy::Accept),
        ..Chain::default()
    })
}

fn table(family: NfFamily) -> NfListObject<'static> {
    NfListObject::Table(Table {
        family,
        name: Cow::Borrowed(INET_TABLE),
        handle: None,
    })
}

/// `add table; delete table`: removes the table whether or not it exists.
fn clear(batch: &mut Batch<'static>) {
    batch.add(table(NfFamily::INet));
    batch.delete(table(NfFamily::INet));
}

fn dnat_rule(p: &PublishedPort) -> KernelResult<Vec<Statement<'static>>> {
    let family = ip_proto(p.container_ip);
    let mut expr = Vec::new();
    match p.host_ip {
        Some(host) if host.is_ipv4() != p.container_ip.is_ipv4() => {
            return Err(KernelError::Invalid {
                object: format!("published port {host}:{}", p.host_port),
                reason: format!(
                    "host address {host} and container address {} differ in IP version",
                    p.container_ip
                ),
            });
        }
        Some(host) => expr.push(matches(
            payload(family, "daddr"),
            Operator::EQ,
            string(host.to_string()),
        )),
        None => {
            let fib = Fib {
                result: FibResult::Type,
                flags: HashSet::from([FibFlag::Daddr]),
            };
            expr.push(matches(
                Expression::Named(NamedExpression::Fib(fib)),
                Operator::EQ,
                string("local"),
            ));
            let nfproto = if p.container_ip.is_ipv4() { "ipv4" } else { "ipv6" };
            expr.push(matches(meta(MetaKey::Nfproto), Operator::EQ, string(nfproto)));
        }
    }
    expr.push(matches(
        payload(p.proto.as_str(), "dport"),
        Operator::EQ,
        Expression::Number(u32::from(p.host_port)),
    ));
    expr.push(Statement::DNAT(Some(NAT {
        addr: Some(string(p.container_ip.to_string())),
        family: Some(if p.container_ip.is_ipv4() {
            NATFamily::IP
        } else {
            NATFamily::IP6
        }),
        port: Some(Expression::Number(u32::from(p.container_port))),
        flags: None,
    })));
    Ok(expr)
}

fn inet_rules(spec: &FirewallSpec, batch: &mut Batch<'static>) -> KernelResult<()> {
    let inet = NfFamily::INet;
    batch.add(rule(
        inet,
        "forward",
        vec![ct_status_dnat(), Statement::Accept(None)],
    ));
    for net in &spec.networks {
        let b = net.bridge.as_str();
        if !net.icc {
            batch.add(rule(
                inet,
                "forward",
                vec![iifname(Operator::EQ, b), oifname(Operator::EQ, b), drop_()],
            ));
        }
        if net.internal {
            batch.add(rule(
                inet,
                "forward",
                vec![iifname(Operator::EQ, b), oifname(Operator::NEQ, b), drop_()],
            ));
            batch.add(rule(
                inet,
                "forward",
                vec![oifname(Operator::EQ, b), iifname(Operator::NEQ, b), drop_()],
            ));
        }
        let others: Vec<Expression<'static>> = spec
            .networks
            .iter()
            .filter(|o| o.bridge != net.bridge)
            .map(|o| string(o.bridge.clone()))
            .collect();
        if !others.is_empty() {
            let set = Expression::Named(NamedExpression::Set(
                others.into_iter().map(nftables::expr::SetItem::Element).collect(),
            ));
            batch.add(rule(
                inet,
                "forward",
                vec![
                    iifname(Operator::EQ, b),
                    matches(meta(MetaKey::Oifname), Operator::EQ, set),
                    drop_(),
                ],
            ));
        }
        if net.masquerade && !net.internal {
            for subnet in &net.subnets {
                let masq = Statement::Masquerade(None);
                batch.add(rule(
                    inet,
                    "postrouting",
                    vec![saddr_in(subnet), oifname(Operator::NEQ, b), masq.clone()],
                ));
                batch.add(rule(
                    inet,
                    "postrouting",
                    vec![saddr_in(subnet), oifname(Operator::EQ, b), ct_status_dnat(), masq],
                ));
            }
        }
    }
    for p in &spec.published {
        let expr = dnat_rule(p)?;
        batch.add(rule(inet, "prerouting", expr.clone()));
        batch.add(rule(inet, "output", expr));
    }
    Ok(())
}

/// Builds the complete nftables JSON document (`{"nftables": [...]}`) for `spec`.
pub fn build_ruleset(spec: &FirewallSpec) -> KernelResult<Value> {
    let mut batch = Batch::new();
    clear(&mut batch);
    let inet = NfFamily::INet;
    batch.add(table(inet));
    batch.add(base_chain(
        inet,
        "forward",
        NfChainType::Filter,
        NfHook::Forward,
        0,
    ));
    batch.add(base_chain(
        inet,
        "prerouting",
        NfChainType::NAT,
        NfHook::Prerouting,
        -100,
    ));
    batch.add(base_chain(inet, "output", NfChainType::NAT, NfHook::Output, -100));
    batch.add(base_chain(
        inet,
        "postrouting",
        NfChainType::NAT,
        NfHook::Postrouting,
        100,
    ));
    inet_rules(spec, &mut batch)?;
    serde_json::to_value(batch.to_nftables()).map_err(|e| KernelError::Firewall {
        detail: format!("cannot serialise ruleset: {e}"),
    })
}

/// Feeds `doc` to `nft -j -f -` (one transaction) and reports nft's own error text.
fn run_nft(doc: &Value) -> KernelResult<()> {
    let fail = |detail: String| KernelError::Firewall { detail };
    let mut child = Command::new("nft")
        .args(["-j", "-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| fail(format!("cannot run nft: {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(doc.to_string().as_bytes())
            .map_err(|e| fail(format!("writing to nft: {e}")))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| fail(format!("waiting for nft: {e}")))?;
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let msg: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    Err(fail(if msg.is_empty() {
        format!("nft exited with {}", out.status)
    } else {
        msg.join("; ")
    }))
}

/// Applies the ruleset for `spec` in one `nft -j -f -` transaction.
pub(crate) fn apply(spec: &FirewallSpec) -> KernelResult<()> {
    run_nft(&build_ruleset(spec)?)
}

/// Removes netplan's table in one transaction.
pub(crate) fn remove() -> KernelResult<()> {
    let mut batch = Batch::new();
    clear(&mut batch);
    let doc = serde_json::to_value(batch.to_nftables()).map_err(|e| KernelError::Firewall {
        detail: format!("cannot serialise ruleset: {e}"),
    })?;
    run_nft(&doc)
}
