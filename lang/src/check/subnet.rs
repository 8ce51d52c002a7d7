//! Subnets of one network: shorthand statements, gateways, ip-ranges and aux addresses.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

use crate::ast::{AddrStmt, AuxStmt, CidrStmt, Driver, Name, Span, Spanned, SubnetDecl, SubnetStmt};
use crate::diag::Diag;
use crate::model::{Network, Subnet};

use super::codes;
use super::text::family;

/// A subnet while it is being checked; only valid parts are kept.
#[derive(Debug, Clone)]
pub(super) struct SubnetInfo {
    /// Normalised (host bits cleared).
    pub cidr: IpNet,
    pub cidr_span: Span,
    pub span: Span,
    pub gateway: Option<Spanned<IpAddr>>,
    pub ip_range: Option<Spanned<IpNet>>,
    pub aux: Vec<(Name, Spanned<IpAddr>)>,
}

impl SubnetInfo {
    pub(super) fn to_model(&self) -> Subnet {
        Subnet {
            cidr: self.cidr,
            gateway: self.gateway.as_ref().map(|g| g.value),
            ip_range: self.ip_range.as_ref().map(|r| r.value),
            aux: self.aux.iter().map(|(n, a)| (n.value.clone(), a.value)).collect(),
            span: self.span,
        }
    }

    /// The gateway address: the explicit one (with its span), or else the subnet's first
    /// address, which is what the gateway gets when none is given (Docker asks for the
    /// gateway before any container, so it gets the lowest free address; netplan's IPAM
    /// takes the first address even when an ip-range is set).
    pub(super) fn known_gateway(&self) -> Option<(IpAddr, Option<Span>)> {
        if let Some(g) = &self.gateway {
            return Some((g.value, Some(g.span)));
        }
        first_host(&self.cidr).map(|a| (a, None))
    }
}

/// Network-level `gateway`, `ip-range` and `aux`: they belong to the network's only subnet of
/// their family.
#[derive(Debug, Default)]
pub(super) struct Shorthand<'a> {
    pub gateways: Vec<&'a AddrStmt>,
    pub ranges: Vec<&'a CidrStmt>,
    pub aux: Vec<&'a AuxStmt>,
}

/// What one subnet's block (and the shorthand) gave it, before validation.
#[derive(Debug, Default)]
struct Pieces<'a> {
    gateways: Vec<&'a AddrStmt>,
    ranges: Vec<&'a CidrStmt>,
    aux: Vec<&'a AuxStmt>,
}

/// The address reserved at `ip` in `cidr`, if any: IPv4 keeps its network and broadcast
/// addresses (for prefixes up to /30), IPv6 only its first address.
pub(super) fn reserved(cidr: &IpNet, ip: IpAddr) -> Option<&'static str> {
    match cidr {
        IpNet::V4(n) if n.prefix_len() <= 30 => {
            if ip == IpAddr::V4(n.network()) {
                Some("network address")
            } else if ip == IpAddr::V4(n.broadcast()) {
                Some("broadcast address")
            } else {
                None
            }
        }
        IpNet::V6(n) if ip == IpAddr::V6(n.network()) => Some("reserved first address (ordinal 0)"),
        _ => None,
    }
}

/// The address after the network address, if the subnet has one to spare.
fn first_host(cidr: &IpNet) -> Option<IpAddr> {
    match cidr {
        IpNet::V4(n) if n.prefix_len() <= 30 => {
            Some(IpAddr::V4(Ipv4Addr::from(u32::from(n.network()).checked_add(1)?)))
        }
        IpNet::V6(n) if n.prefix_len() <= 127 => Some(IpAddr::V6(Ipv6Addr::from(
            u128::from(n.network()).checked_add(1)?,
        ))),
        _ => None,
    }
}

/// Warns about host bits in a CIDR and returns it normalised.
fn normalise(cidr: &Spanned<IpNet>, what: &str, diags: &mut Vec<Diag>) -> IpNet {
    let t = cidr.value.trunc();
    if t != cidr.value {
        diags.push(
            Diag::warning(
                codes::SUBNET_HOST_BITS,
                format!("{what} {} has host bits set", cidr.value),
            )
            .primary(cidr.span, format!("this is {what} {t}"))
            .help(format!("write {t}")),
        );
    }
    t
}

/// Builds and checks the subnets of `net` from its subnet statements and shorthands.
pub(super) fn assemble<'a>(
    net: &Network,
    net_name: &Name,
    decls: &[&'a SubnetDecl],
    short: Shorthand<'a>,
    diags: &mut Vec<Diag>,
) -> Vec<SubnetInfo> {
    let mut infos: Vec<SubnetInfo> = Vec::new();
    let mut pieces: Vec<Pieces<'a>> = Vec::new();
    for d in decls {
        let cidr = normalise(&d.cidr, "subnet", diags);
        let mut p = Pieces::default();
        for s in d.stmts() {
            match s {
                SubnetStmt::Gateway(g) => p.gateways.push(g),
                SubnetStmt::IpRange(r) => p.ranges.push(r),
                SubnetStmt::Aux(a) => p.aux.push(a),
                SubnetStmt::Unknown(_) => {}
            }
        }
        infos.push(SubnetInfo {
            cidr,
            cidr_span: d.cidr.span,
            span: d.span,
            gateway: None,
            ip_range: None,
            aux: Vec::new(),
        });
        pieces.push(p);
    }

    if net.driver == Driver::Bridge {
        for v6 in [false, true] {
            let mut of_family = infos.iter().filter(|s| s.cidr.addr().is_ipv6() == v6);
            let Some(first) = of_family.next() else { continue };
            for extra in of_family {
                diags.push(
                    Diag::error(
                        codes::SUBNET_MULTIPLE,
                        "bridge driver doesn't support multiple subnets",
                    )
                    .primary(extra.cidr_span, format!("a second {} subnet", family(v6)))
                    .secondary(first.cidr_span, format!("the first {} subnet", family(v6)))
                    .help(
                        "a bridge network takes one IPv4 and one IPv6 subnet: \
                             use another network for the second one, or `driver overlay`",
                    ),
                );
            }
        }
    }

    if !net.ipv6
        && let Some(v6) = infos.iter().find(|s| s.cidr.addr().is_ipv6())
    {
        diags.push(
            Diag::warning(
                codes::SUBNET_IPV6_IGNORED,
                format!(
                    "IPv6 subnet {} is ignored: network `{}` does not enable IPv6",
                    v6.cidr, net.name
                ),
            )
            .primary(v6.cidr_span, "no container gets an address from it")
            .secondary(net_name.span, "no `ipv6` in this network")
            .help("add `ipv6` to the network block, or remove the subnet"),
        );
    }

    distribute(net, &infos, &mut pieces, short, diags);

    let mut aux_addrs: HashMap<IpAddr, Span> = HashMap::new();
    for (info, p) in infos.iter_mut().zip(pieces) {
        validate(info, p, &mut aux_addrs, diags);
    }
    infos
}

/// Gives each shorthand statement to the only subnet of its family.
fn distribute<'a>(
    net: &Network,
    infos: &[SubnetInfo],
    pieces: &mut [Pieces<'a>],
    short: Shorthand<'a>,
    diags: &mut Vec<Diag>,
) {
    let target = |ip: IpAddr, keyword: &str, span: Span, diags: &mut Vec<Diag>| -> Option<usize> {
        let v6 = ip.is_ipv6();
        let cands: Vec<usize> = (0..infos.len())
            .filter(|i| infos[*i].cidr.addr().is_ipv6() == v6)
            .collect();
        match cands.as_slice() {
            [one] => Some(*one),
            [] => {
                let message = if keyword == "aux" {
                    format!("no matching subnet for aux-address {ip}")
                } else {
                    "every ip-range or gateway must have a corresponding subnet".to_string()
                };
                diags.push(
                    Diag::error(codes::SUBNET_SHORTHAND, message)
                        .primary(
                            span,
                            format!("network `{}` has no {} subnet", net.name, family(v6)),
                        )
                        .help(format!(
                            "declare the subnet it belongs to, e.g. `subnet CIDR {{ {keyword} … }}`"
                        )),
                );
                None
            }
            many => {
                let mut d = Diag::error(
                    codes::SUBNET_SHORTHAND,
                    format!(
                        "network-level `{keyword}` is ambiguous: network `{}` has {} {} subnets",
                        net.name,
                        many.len(),
                        family(v6)
                    ),
                )
                .primary(span, "which subnet does this belong to?");
                for i in many {
                    d = d.secondary(infos[*i].cidr_span, format!("{} subnet", family(v6)));
                }
                let home = many.iter().find(|i| infos[**i].cidr.contains(&ip));
                diags.push(match home {
                    Some(i) => d.help(format!(
                        "move it into the block of its subnet: `subnet {} {{ {keyword} … }}`",
                        infos[*i].cidr
                    )),
                    None => d.help(format!(
                        "move it into the block of its subnet: `subnet CIDR {{ {keyword} … }}`"
                    )),
                });
                None
            }
        }
    };
    for g in short.gateways {
        if let Some(i) = target(g.addr.value, "gateway", g.span, diags) {
            pieces[i].gateways.push(g);
        }
    }
    for r in short.ranges {
        if let Some(i) = target(r.cidr.value.addr(), "ip-range", r.span, diags) {
            pieces[i].ranges.push(r);
        }
    }
    for a in short.aux {
        if let Some(i) = target(a.addr.value, "aux", a.span, diags) {
            pieces[i].aux.push(a);
        }
    }
}

fn family_mismatch(what: &str, value: impl std::fmt::Display, v6: bool, span: Span, s: &SubnetInfo) -> Diag {
    Diag::error(
        codes::ADDRESS_FAMILY,
        format!(
            "{what} {value} is {} but subnet {} is {}",
            family(v6),
            s.cidr,
            family(!v6)
        ),
    )
    .primary(span, format!("{} {what}", family(v6)))
    .secondary(s.cidr_span, format!("{} subnet", family(!v6)))
    .help(format!(
        "give the {} subnet an {} {what}",
        family(!v6),
        family(!v6)
    ))
}

fn validate<'a>(
    info: &mut SubnetInfo,
    mut p: Pieces<'a>,
    aux_addrs: &mut HashMap<IpAddr, Span>,
    diags: &mut Vec<Diag>,
) {
    let v6 = info.cidr.addr().is_ipv6();
    let cidr = info.cidr;
    // Shorthand statements were appended: put everything back in file order.
    p.gateways.sort_by_key(|g| g.span.start);
    p.ranges.sort_by_key(|r| r.span.start);
    p.aux.sort_by_key(|a| a.span.start);

    // gateway
    let mut gateways = Vec::new();
    for g in p.gateways {
        if g.addr.value.is_ipv6() != v6 {
            diags.push(family_mismatch("gateway", g.addr.value, !v6, g.addr.span, info));
        } else {
            gateways.push(g);
        }
    }
    if let Some((first, rest)) = gateways.split_first() {
        for g in rest {
            diags.push(
                Diag::error(
                    codes::GATEWAY_MULTIPLE,
                    format!(
                        "cannot configure multiple gateways ({}, {}) for the same subnet ({cidr})",
                        g.addr.value, first.addr.value
                    ),
                )
                .primary(g.addr.span, "second gateway")
                .secondary(first.addr.span, "first gateway")
                .help("a subnet has one gateway: keep one of them"),
            );
        }
        let ip = first.addr.value;
        if !cidr.contains(&ip) {
            diags.push(
                Diag::error(
                    codes::GATEWAY_OUTSIDE,
                    format!("invalid gateway {ip}: parent subnet {cidr} doesn't contain this address"),
                )
                .primary(first.addr.span, format!("outside {cidr}"))
                .secondary(info.cidr_span, "the subnet")
                .help(format!("choose a gateway inside {cidr}")),
            );
        } else if let Some(what) = reserved(&cidr, ip) {
            diags.push(
                Diag::error(
                    codes::GATEWAY_RESERVED,
                    format!("gateway {ip} is the {what} of subnet {cidr}"),
                )
                .primary(first.addr.span, format!("the {what}"))
                .secondary(info.cidr_span, "the subnet")
                .help(reserved_help(v6)),
            );
        } else {
            info.gateway = Some(first.addr.clone());
        }
    }

    // ip-range
    let mut ranges = Vec::new();
    for r in p.ranges {
        if r.cidr.value.addr().is_ipv6() != v6 {
            diags.push(family_mismatch("ip-range", r.cidr.value, !v6, r.cidr.span, info));
        } else {
            ranges.push(r);
        }
    }
    if let Some((first, rest)) = ranges.split_first() {
        for r in rest {
            diags.push(
                Diag::error(
                    codes::IP_RANGE_MULTIPLE,
                    format!(
                        "cannot configure multiple ranges ({}, {}) on the same subnet ({cidr})",
                        r.cidr.value, first.cidr.value
                    ),
                )
                .primary(r.cidr.span, "second ip-range")
                .secondary(first.cidr.span, "first ip-range")
                .help("a subnet has one ip-range: keep one of them"),
            );
        }
        let range = normalise(&first.cidr, "ip-range", diags);
        if !cidr.contains(&range) {
            diags.push(
                Diag::error(
                    codes::IP_RANGE_OUTSIDE,
                    format!("invalid ip-range {range}: parent subnet {cidr} doesn't contain ip-range"),
                )
                .primary(first.cidr.span, format!("not inside {cidr}"))
                .secondary(info.cidr_span, "the subnet")
                .help(format!("choose an ip-range inside {cidr}")),
            );
        } else {
            info.ip_range = Some(Spanned::new(range, first.cidr.span));
        }
    }

    // aux
    let gateway = info.known_gateway();
    let mut names: HashMap<&str, Span> = HashMap::new();
    for a in p.aux {
        let ip = a.addr.value;
        let name = a.name.value.as_str();
        if ip.is_ipv6() != v6 {
            diags.push(family_mismatch("aux address", ip, !v6, a.addr.span, info));
            continue;
        }
        if let Some(first) = names.get(name) {
            diags.push(
                Diag::error(
                    codes::AUX_DUPLICATE_NAME,
                    format!("aux address name `{name}` is used twice in subnet {cidr}"),
                )
                .primary(a.name.span, "used again here")
                .secondary(*first, "first used here")
                .help("give each aux address of a subnet its own name"),
            );
            continue;
        }
        names.insert(name, a.name.span);
        if !cidr.contains(&ip) {
            diags.push(
                Diag::error(
                    codes::AUX_OUTSIDE,
                    format!(
                        "invalid auxiliary address {name}: parent subnet {cidr} doesn't contain this address"
                    ),
                )
                .primary(a.addr.span, format!("outside {cidr}"))
                .secondary(info.cidr_span, "the subnet")
                .help(format!("choose an address inside {cidr}")),
            );
            continue;
        }
        if let Some(what) = reserved(&cidr, ip) {
            diags.push(
                Diag::error(
                    codes::AUX_RESERVED,
                    format!("aux address {name} ({ip}) is the {what} of subnet {cidr}"),
                )
                .primary(a.addr.span, format!("the {what}"))
                .secondary(info.cidr_span, "the subnet")
                .help(reserved_help(v6)),
            );
            continue;
        }
        if let Some((gw, gw_span)) = gateway
            && gw == ip
        {
            let d = Diag::error(
                codes::AUX_GATEWAY,
                format!("aux address {name} ({ip}) is the gateway of subnet {cidr}"),
            )
            .primary(a.addr.span, "the gateway's address");
            diags.push(match gw_span {
                Some(s) => d
                    .secondary(s, "the gateway")
                    .help("choose another address for the aux address or for the gateway"),
                None => d
                    .secondary(info.cidr_span, format!("its gateway defaults to {gw}"))
                    .help(
                        "the gateway takes the subnet's first address unless `gateway` says otherwise: \
                     choose another address, or declare the gateway elsewhere",
                    ),
            });
            continue;
        }
        if let Some(first) = aux_addrs.get(&ip) {
            diags.push(
                Diag::error(
                    codes::AUX_DUPLICATE_ADDRESS,
                    format!("aux address {ip} is reserved twice"),
                )
                .primary(a.addr.span, "reserved again here")
                .secondary(*first, "first reserved here")
                .help("reserve each address once"),
            );
            continue;
        }
        aux_addrs.insert(ip, a.addr.span);
        info.aux.push((a.name.clone(), a.addr.clone()));
    }
}

/// Why an address is reserved, for the help line.
pub(super) fn reserved_help(v6: bool) -> &'static str {
    if v6 {
        "an IPv6 subnet reserves its first address (ordinal 0): choose another one"
    } else {
        "an IPv4 subnet reserves its first (network) and last (broadcast) address: choose one in between"
    }
}
