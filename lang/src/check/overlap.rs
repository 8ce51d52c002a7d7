//! Overlapping subnets, across networks and within one, in O(n log n).
//!
//! Two CIDR blocks either nest or are disjoint. Sorted by (family, network address, prefix
//! length), every block that overlaps an earlier one is contained in it, and the blocks that
//! contain the current one form a chain: a stack of "open" blocks, popped while the top does
//! not contain the next block, finds each block's innermost container in amortised O(1).

use ipnet::IpNet;

use crate::ast::{Driver, Span};
use crate::diag::Diag;

use super::{NetInfo, codes};

#[derive(Debug, Clone, Copy)]
struct Entry {
    net: usize,
    cidr: IpNet,
    span: Span,
}

fn key(e: &Entry) -> (bool, u128, u8, usize) {
    let addr = match e.cidr.network() {
        std::net::IpAddr::V4(a) => u128::from(u32::from(a)),
        std::net::IpAddr::V6(a) => u128::from(a),
    };
    (e.cidr.addr().is_ipv6(), addr, e.cidr.prefix_len(), e.span.start)
}

/// Reports each subnet contained in (or equal to) another one.
pub(super) fn check(nets: &[NetInfo<'_>], diags: &mut Vec<Diag>) {
    let mut all: Vec<Entry> = nets
        .iter()
        .enumerate()
        .flat_map(|(net, n)| {
            n.subnets.iter().map(move |s| Entry {
                net,
                cidr: s.cidr,
                span: s.cidr_span,
            })
        })
        .collect();
    all.sort_by_key(key);

    let mut open: Vec<Entry> = Vec::new();
    for e in all {
        while let Some(top) = open.last() {
            if top.cidr.contains(&e.cidr) {
                break;
            }
            open.pop();
        }
        if let Some(top) = open.last() {
            report(nets, *top, e, diags);
            if top.cidr == e.cidr {
                // Keep the first declaration open: later overlaps are reported against it.
                continue;
            }
        }
        open.push(e);
    }
}

fn report(nets: &[NetInfo<'_>], a: Entry, b: Entry, diags: &mut Vec<Diag>) {
    // The one written later is the offender.
    let (first, second) = if a.span.start <= b.span.start {
        (a, b)
    } else {
        (b, a)
    };
    let (Some(n1), Some(n2)) = (nets.get(first.net), nets.get(second.net)) else {
        return;
    };
    let relation = if first.cidr == second.cidr {
        "is declared again".to_string()
    } else if first.cidr.contains(&second.cidr) {
        format!("lies inside {}", first.cidr)
    } else {
        format!("contains {}", first.cidr)
    };
    if first.net == second.net {
        // A bridge network with two subnets of one family is reported once, as such.
        if n1.model.driver == Driver::Bridge {
            return;
        }
        diags.push(
            Diag::error(
                codes::SUBNET_OVERLAP,
                "multiple overlapping subnet configuration is not supported",
            )
            .primary(second.span, format!("{} {relation}", second.cidr))
            .secondary(
                first.span,
                format!("{}, a subnet of the same network", first.cidr),
            )
            .help(format!(
                "the subnets of network `{}` must be disjoint",
                n1.model.name
            )),
        );
    } else {
        diags.push(
            Diag::error(
                codes::SUBNET_OVERLAP,
                "Pool overlaps with other one on this address space",
            )
            .primary(
                second.span,
                format!("{} of `{}` {relation}", second.cidr, n2.model.name),
            )
            .secondary(first.span, format!("{} of `{}`", first.cidr, n1.model.name))
            .help("give every network an address range of its own"),
        );
    }
}
