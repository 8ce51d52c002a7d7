//! Published ports: where they can go, and host ports taken twice.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};

use crate::ast::{Proto, Span};
use crate::diag::Diag;
use crate::model::{Network, NetworkKind};

use super::container::Lowered;
use super::{Networks, codes};

/// One published host port, as bound on the host.
struct Bound<'a> {
    /// `None`: every host address.
    ip: Option<IpAddr>,
    container: &'a str,
    span: Span,
}

/// Two bindings of one port and protocol clash unless they name different host addresses.
fn clash(a: Option<IpAddr>, b: Option<IpAddr>) -> bool {
    match (a, b) {
        (None, _) | (_, None) => true,
        (Some(x), Some(y)) => {
            x == y || (x.is_ipv6() == y.is_ipv6() && (x.is_unspecified() || y.is_unspecified()))
        }
    }
}

/// Checks the `publish` statements of every container.
pub(super) fn check(lowered: &[Lowered<'_>], nets: &Networks<'_>, diags: &mut Vec<Diag>) {
    let mut bound: BTreeMap<(Proto, u16), Vec<Bound<'_>>> = BTreeMap::new();
    for l in lowered {
        let Some(first) = l.publishes.first() else {
            continue;
        };
        let kinds: Vec<&Network> = l.nets.iter().map(|(i, _)| &nets.list[*i].model).collect();
        let name = l.model.name.as_str();
        if let Some(p) = kinds.iter().position(|n| n.kind == NetworkKind::None) {
            diags.push(
                Diag::error(
                    codes::PUBLISH_NONE,
                    format!("container `{name}` is on network `none`: there is nothing to publish ports to"),
                )
                .primary(first.span, "published here")
                .secondary(l.nets[p].1, "no network interface")
                .help("attach the container to a network, or remove `publish`"),
            );
            continue;
        }
        if let Some(p) = kinds.iter().position(|n| n.kind == NetworkKind::Host) {
            diags.push(
                Diag::warning(
                    codes::PUBLISH_HOST,
                    "Published ports are discarded when using host network mode",
                )
                .primary(first.span, "discarded")
                .secondary(l.nets[p].1, "the container shares the host's network")
                .help("its ports are the host's ports already: remove `publish`"),
            );
            continue;
        }
        if !kinds.is_empty() && kinds.iter().all(|n| n.internal) {
            let mut d = Diag::error(
                codes::PUBLISH_INTERNAL,
                format!("container `{name}` publishes ports but every network it is on is internal"),
            )
            .primary(first.span, "nothing would be published");
            for (_, s) in &l.nets {
                d = d.secondary(*s, "internal network");
            }
            diags.push(d.help(
                "an internal network has no traffic to or from outside: attach the container to a non-internal network too",
            ));
            continue;
        }
        if !l.keep {
            continue;
        }
        // Ports follow the container's gateway network: non-internal first, then by name.
        let default_ip = kinds
            .iter()
            .filter(|n| n.is_bridged())
            .min_by(|a, b| (a.internal, &a.name).cmp(&(b.internal, &b.name)))
            .and_then(|n| n.host_ip);
        for p in &l.publishes {
            let spec = p.spec.value;
            let Some(port) = spec.host_port else { continue };
            let ip = spec.host_ip.or(default_ip);
            let entry = bound.entry((spec.proto, port)).or_default();
            if let Some(other) = entry.iter().find(|b| clash(b.ip, ip)) {
                let shown = ip.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
                diags.push(
                    Diag::error(
                        codes::PUBLISH_CONFLICT,
                        format!("Bind for {shown}:{port} failed: port is already allocated"),
                    )
                    .primary(p.spec.span, format!("host port {port}/{} again", spec.proto))
                    .secondary(other.span, format!("published by `{}`", other.container))
                    .help(
                        "choose another host port, or bind each to its own host address (`IP:HOST_PORT:PORT`)",
                    ),
                );
                continue;
            }
            entry.push(Bound {
                ip,
                container: name,
                span: p.spec.span,
            });
        }
    }
}
