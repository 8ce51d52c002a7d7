//! Static addresses (`ip`, `ip6`) of an attachment.

use std::net::IpAddr;

use crate::ast::Span;
use crate::diag::Diag;

use super::codes;
use super::container::Ctx;
use super::subnet::{reserved, reserved_help};
use super::text::{family, join};

impl<'a> Ctx<'_, 'a> {
    /// Checks a static address on network `idx`; true when it is usable, then it is taken.
    pub(super) fn static_ip(&mut self, cname: &'a str, idx: usize, ip: IpAddr, span: Span) -> bool {
        let net = &self.nets.list[idx];
        let name = net.model.name.as_str();
        let v6 = ip.is_ipv6();
        let decl_span = net.decl.map(|d| d.name.span);
        if !net.model.is_user_defined() {
            self.diags.push(
                Diag::error(
                    codes::IP_PREDEFINED,
                    "user specified IP address is supported on user defined networks only",
                )
                .primary(span, format!("`{name}` is a predefined network"))
                .help("declare a network with a subnet and attach the container to it to choose its address"),
            );
            return false;
        }
        if v6 && !net.model.ipv6 {
            let mut d = Diag::error(
                codes::IP_NO_IPV6,
                format!("static IPv6 address on network `{name}`, which does not enable IPv6"),
            )
            .primary(span, "IPv6 address");
            if let Some(s) = decl_span {
                d = d.secondary(s, "no `ipv6` in this network");
            }
            self.diags
                .push(d.help(format!("add `ipv6` and an IPv6 subnet to network `{name}`")));
            return false;
        }
        let subnets: Vec<_> = net.subnets_of(v6).collect();
        if subnets.is_empty() {
            let mut d = Diag::error(
                codes::IP_NO_SUBNET,
                "user specified IP address is supported only when connecting to networks with user configured subnets",
            )
            .primary(span, format!("network `{name}` has no declared {} subnet", family(v6)));
            if let Some(s) = decl_span {
                d = d.secondary(s, format!("declared without an {} subnet", family(v6)));
            }
            self.diags.push(d.help(format!(
                "declare the {} subnet of network `{name}` (`subnet CIDR`), or let the address be chosen",
                family(v6)
            )));
            return false;
        }
        let Some(sub) = subnets.iter().find(|s| s.cidr.contains(&ip)) else {
            let list: Vec<String> = subnets.iter().map(|s| s.cidr.to_string()).collect();
            let refs: Vec<&str> = list.iter().map(String::as_str).collect();
            let mut d = Diag::error(
                codes::IP_OUTSIDE,
                format!("no configured subnet contains IP address {ip}"),
            )
            .primary(span, format!("outside every {} subnet of `{name}`", family(v6)));
            for s in &subnets {
                d = d.secondary(s.cidr_span, format!("subnet of `{name}`"));
            }
            self.diags
                .push(d.help(format!("choose an address inside {}", join(&refs, "or"))));
            return false;
        };
        if let Some(what) = reserved(&sub.cidr, ip) {
            self.diags.push(
                Diag::error(
                    codes::IP_RESERVED,
                    format!("IP address {ip} is the {what} of subnet {}", sub.cidr),
                )
                .primary(span, format!("the {what}"))
                .secondary(sub.cidr_span, "the subnet")
                .help(reserved_help(v6)),
            );
            return false;
        }
        if let Some((gw, gw_span)) = sub.known_gateway()
            && gw == ip
        {
            let d = Diag::error(
                codes::IP_TAKEN,
                format!(
                    "IP address {ip} is already in use: it is the gateway of subnet {}",
                    sub.cidr
                ),
            )
            .primary(span, "the gateway's address");
            self.diags.push(match gw_span {
                Some(s) => d.secondary(s, "the gateway").help("choose another address"),
                None => d
                    .secondary(sub.cidr_span, format!("its gateway defaults to {gw}"))
                    .help("the gateway takes the subnet's first address unless `gateway` says otherwise: choose another address"),
            });
            return false;
        }
        if let Some((aux_name, aux_addr)) = sub.aux.iter().find(|(_, a)| a.value == ip) {
            self.diags.push(
                Diag::error(
                    codes::IP_TAKEN,
                    format!(
                        "IP address {ip} is already in use: it is reserved as aux address `{}`",
                        aux_name.value
                    ),
                )
                .primary(span, "a reserved address")
                .secondary(aux_addr.span, "reserved here")
                .help("choose another address"),
            );
            return false;
        }
        if let Some((holder, first)) = self.ips.get(&(idx, ip)) {
            self.diags.push(
                Diag::error(
                    codes::IP_IN_USE,
                    format!("IP address {ip} is already in use on network `{name}`"),
                )
                .primary(span, "taken again here")
                .secondary(*first, format!("`{holder}` has it"))
                .help("give each container its own address: Docker refuses this with \"Address already in use\""),
            );
            return false;
        }
        self.ips.insert((idx, ip), (cname, span));
        true
    }
}
