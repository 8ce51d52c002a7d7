//! Text → [`crate::ast::File`]: the pest grammar, then a typed tree with checked literals.

use std::net::IpAddr;

use ipnet::IpNet;
use pest::Parser as _;
use pest::iterators::Pair;

use crate::ast::*;
use crate::diag::Diag;

#[derive(pest_derive::Parser)]
#[grammar = "grammar.pest"]
struct Grammar;

/// Parses a whole file. On failure returns every error found: one syntax error (the
/// grammar stops at the first) or all malformed literals.
pub fn parse(text: &str) -> Result<File, Vec<Diag>> {
    check_nesting(text)?;
    let mut pairs = Grammar::parse(Rule::file, text).map_err(|e| vec![syntax_error(e)])?;
    let file = pairs
        .next()
        .ok_or_else(|| vec![Diag::error("netplan::syntax", "empty parse")])?;
    let mut b = Builder { errors: Vec::new() };
    let mut items = Vec::new();
    for p in file.into_inner() {
        match p.as_rule() {
            Rule::network_decl => items.push(Item::Network(b.network(p))),
            Rule::container_decl => items.push(Item::Container(b.container(p))),
            Rule::hook_stmt => items.push(Item::Hook(b.hook(p))),
            Rule::unknown_stmt | Rule::misplaced_stmt => items.push(Item::Unknown(unknown_stmt(p))),
            _ => {}
        }
    }
    if b.errors.is_empty() {
        Ok(File {
            items,
            comments: comments(text),
        })
    } else {
        Err(b.errors)
    }
}

/// The language nests at most three blocks deep (network → subnet, container → network).
/// Anything far deeper is refused before the grammar runs, so that no input can exhaust
/// the parser's stack (pest runs without its per-rule stack probe, see Cargo.toml).
pub const MAX_NESTING: usize = 16;

fn check_nesting(text: &str) -> Result<(), Vec<Diag>> {
    let bytes = text.as_bytes();
    let (mut depth, mut i) = (0usize, 0usize);
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\n' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'{' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Err(vec![
                        Diag::error("netplan::syntax", format!("blocks nested more than {MAX_NESTING} deep"))
                            .primary(Span::new(i, i + 1), "this block is too deep")
                            .help("blocks nest at most three deep: network → subnet, container → network; close the blocks left open above"),
                    ]);
                }
            }
            b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    Ok(())
}

/// Every `# …` comment, found by a scan that skips string literals.
pub fn comments(text: &str) -> Vec<Comment> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\n' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            }
            b'#' => {
                let start = i;
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
                let end = if i > start && bytes[i - 1] == b'\r' {
                    i - 1
                } else {
                    i
                };
                out.push(Comment {
                    text: text.get(start..end).unwrap_or("").to_string(),
                    span: Span::new(start, end),
                });
            }
            _ => i += 1,
        }
    }
    out
}

struct Builder {
    errors: Vec<Diag>,
}

fn name(p: Pair<'_, Rule>) -> Name {
    Spanned::new(p.as_str().to_string(), p.as_span().into())
}

/// The children of a statement, without its keyword token.
fn args(p: Pair<'_, Rule>) -> impl Iterator<Item = Pair<'_, Rule>> {
    p.into_inner().filter(|c| !is_keyword(c.as_rule()))
}

impl Builder {
    fn network(&mut self, p: Pair<'_, Rule>) -> NetworkDecl {
        let span = p.as_span().into();
        let mut it = args(p);
        let name = it.next().map(name).unwrap_or_default_name(span);
        let block = it.next().map(|b| self.block(b, Self::network_stmt));
        let span = decl_span(span, name.span, block.is_some());
        NetworkDecl { name, block, span }
    }

    fn block<T>(&mut self, p: Pair<'_, Rule>, f: fn(&mut Self, Pair<'_, Rule>) -> Option<T>) -> Block<T> {
        let span = p.as_span().into();
        let stmts = p
            .into_inner()
            .filter(|c| !matches!(c.as_rule(), Rule::lbrace | Rule::rbrace))
            .filter_map(|c| f(self, c))
            .collect();
        Block { stmts, span }
    }

    fn network_stmt(&mut self, p: Pair<'_, Rule>) -> Option<NetworkStmt> {
        let span: Span = p.as_span().into();
        let rule = p.as_rule();
        if matches!(rule, Rule::unknown_stmt | Rule::misplaced_stmt) {
            return Some(NetworkStmt::Unknown(unknown_stmt(p)));
        }
        if rule == Rule::hook_stmt {
            return Some(NetworkStmt::Hook(self.hook(p)));
        }
        let mut a = args(p);
        let mut next = || a.next();
        Some(match rule {
            Rule::driver_stmt => NetworkStmt::Driver {
                name: name(next()?),
                span,
            },
            Rule::subnet_stmt => {
                let cidr = self.cidr(next()?)?;
                let block = next().map(|b| self.block(b, Self::subnet_stmt));
                let span = decl_span(span, cidr.span, block.is_some());
                NetworkStmt::Subnet(SubnetDecl { cidr, block, span })
            }
            Rule::ipv6_stmt => NetworkStmt::Ipv6 { span },
            Rule::gateway_stmt => NetworkStmt::Gateway(AddrStmt {
                addr: self.addr(next()?)?,
                span,
            }),
            Rule::ip_range_stmt => NetworkStmt::IpRange(CidrStmt {
                cidr: self.cidr(next()?)?,
                span,
            }),
            Rule::aux_stmt => NetworkStmt::Aux(self.aux(next()?, next()?, span)?),
            Rule::bridge_stmt => NetworkStmt::Bridge {
                name: name(next()?),
                span,
            },
            Rule::mtu_stmt => NetworkStmt::Mtu {
                value: self.number(next()?)?,
                span,
            },
            Rule::icc_stmt => NetworkStmt::Icc {
                on: on_off(next()?),
                span,
            },
            Rule::masquerade_stmt => NetworkStmt::Masquerade {
                on: on_off(next()?),
                span,
            },
            Rule::host_ip_stmt => NetworkStmt::HostIp(AddrStmt {
                addr: self.addr(next()?)?,
                span,
            }),
            Rule::label_stmt => {
                let key = name(next()?);
                let value = self.string(next()?);
                NetworkStmt::Label { key, value, span }
            }
            Rule::internal_stmt => NetworkStmt::Internal { span },
            Rule::option_stmt => {
                let key = self.string(next()?);
                let value = self.string(next()?);
                NetworkStmt::Option { key, value, span }
            }
            Rule::alias_mode_stmt => NetworkStmt::AliasMode {
                name: name(next()?),
                span,
            },
            _ => return None,
        })
    }

    fn subnet_stmt(&mut self, p: Pair<'_, Rule>) -> Option<SubnetStmt> {
        let span: Span = p.as_span().into();
        let rule = p.as_rule();
        if matches!(rule, Rule::unknown_stmt | Rule::misplaced_stmt) {
            return Some(SubnetStmt::Unknown(unknown_stmt(p)));
        }
        let mut a = args(p);
        let mut next = || a.next();
        Some(match rule {
            Rule::gateway_stmt => SubnetStmt::Gateway(AddrStmt {
                addr: self.addr(next()?)?,
                span,
            }),
            Rule::ip_range_stmt => SubnetStmt::IpRange(CidrStmt {
                cidr: self.cidr(next()?)?,
                span,
            }),
            Rule::aux_stmt => SubnetStmt::Aux(self.aux(next()?, next()?, span)?),
            _ => return None,
        })
    }

    fn container(&mut self, p: Pair<'_, Rule>) -> ContainerDecl {
        let span = p.as_span().into();
        let mut it = args(p);
        let name = it.next().map(name).unwrap_or_default_name(span);
        let block = it.next().map(|b| self.block(b, Self::container_stmt));
        let span = decl_span(span, name.span, block.is_some());
        ContainerDecl { name, block, span }
    }

    fn container_stmt(&mut self, p: Pair<'_, Rule>) -> Option<ContainerStmt> {
        let span: Span = p.as_span().into();
        let rule = p.as_rule();
        match rule {
            Rule::unknown_stmt | Rule::misplaced_stmt => {
                return Some(ContainerStmt::Unknown(unknown_stmt(p)));
            }
            Rule::hook_stmt => return Some(ContainerStmt::Hook(self.hook(p))),
            _ => {}
        }
        let mut a = args(p);
        let mut next = || a.next();
        Some(match rule {
            Rule::attach_stmt => {
                let network = name(next()?);
                let block = next().map(|b| self.block(b, Self::attach_stmt));
                let span = decl_span(span, network.span, block.is_some());
                ContainerStmt::Network(AttachDecl { network, block, span })
            }
            Rule::publish_stmt => {
                let t = next()?;
                let tspan: Span = t.as_span().into();
                match parse_port_spec(t.as_str()) {
                    Ok(spec) => ContainerStmt::Publish(PublishStmt {
                        spec: Spanned::new(spec, tspan),
                        span,
                    }),
                    Err(msg) => {
                        self.errors.push(
                            Diag::error("netplan::literal::port", format!("invalid port mapping `{}`", t.as_str()))
                                .primary(tspan, msg)
                                .help("write [HOST_IP:][HOST_PORT:]PORT[/tcp|udp], e.g. `8080:80/tcp` or `127.0.0.1:8080:80`"),
                        );
                        return None;
                    }
                }
            }
            Rule::run_stmt => ContainerStmt::Run {
                command: self.string(next()?),
                span,
            },
            Rule::dns_stmt => ContainerStmt::Dns(AddrStmt {
                addr: self.addr(next()?)?,
                span,
            }),
            _ => return None,
        })
    }

    fn attach_stmt(&mut self, p: Pair<'_, Rule>) -> Option<AttachStmt> {
        let span: Span = p.as_span().into();
        let rule = p.as_rule();
        if matches!(rule, Rule::unknown_stmt | Rule::misplaced_stmt) {
            return Some(AttachStmt::Unknown(unknown_stmt(p)));
        }
        let mut a = args(p);
        let mut next = || a.next();
        Some(match rule {
            Rule::ip_stmt => {
                let t = next()?;
                let addr = self.addr(t)?;
                match addr.value {
                    IpAddr::V4(v4) => AttachStmt::Ip {
                        addr: Spanned::new(v4, addr.span),
                        span,
                    },
                    IpAddr::V6(_) => {
                        self.errors.push(
                            Diag::error("netplan::literal::family", "`ip` takes an IPv4 address")
                                .primary(addr.span, "this is an IPv6 address")
                                .help("use `ip6` for a static IPv6 address"),
                        );
                        return None;
                    }
                }
            }
            Rule::ip6_stmt => {
                let addr = self.addr(next()?)?;
                match addr.value {
                    // `::ffff:a.b.c.d` is an IPv4 address in disguise (Docker refuses it too).
                    IpAddr::V6(v6) if v6.to_ipv4_mapped().is_none() => AttachStmt::Ip6 {
                        addr: Spanned::new(v6, addr.span),
                        span,
                    },
                    _ => {
                        self.errors.push(
                            Diag::error(
                                "netplan::literal::family",
                                "invalid IPv6 address: `ip6` takes an IPv6 address",
                            )
                            .primary(addr.span, "this is an IPv4 address")
                            .help("use `ip` for a static IPv4 address"),
                        );
                        return None;
                    }
                }
            }
            Rule::alias_stmt => AttachStmt::Alias {
                name: name(next()?),
                span,
            },
            Rule::link_stmt => {
                let target = name(next()?);
                let alias = name(next()?);
                AttachStmt::Link { target, alias, span }
            }
            Rule::mac_stmt => {
                let t = next()?;
                let tspan: Span = t.as_span().into();
                match t.as_str().parse::<Mac>() {
                    Ok(m) => AttachStmt::Mac {
                        mac: Spanned::new(m, tspan),
                        span,
                    },
                    Err(msg) => {
                        self.errors.push(
                            Diag::error(
                                "netplan::literal::mac",
                                format!("invalid MAC address `{}`", t.as_str()),
                            )
                            .primary(tspan, msg)
                            .help("write six hex octets, e.g. `02:42:ac:19:03:03`"),
                        );
                        return None;
                    }
                }
            }
            _ => return None,
        })
    }

    fn hook(&mut self, p: Pair<'_, Rule>) -> HookDecl {
        let span: Span = p.as_span().into();
        let mut a = args(p);
        let event = a.next().map(name).unwrap_or_default_name(span);
        let path = a
            .next()
            .map(|s| self.string(s))
            .unwrap_or_else(|| Spanned::new(String::new(), span));
        HookDecl { event, path, span }
    }

    fn aux(&mut self, n: Pair<'_, Rule>, a: Pair<'_, Rule>, span: Span) -> Option<AuxStmt> {
        let name = name(n);
        let addr = self.addr(a)?;
        Some(AuxStmt { name, addr, span })
    }

    fn addr(&mut self, p: Pair<'_, Rule>) -> Option<Spanned<IpAddr>> {
        let span: Span = p.as_span().into();
        match p.as_str().parse::<IpAddr>() {
            Ok(a) => Some(Spanned::new(a, span)),
            Err(_) => {
                self.errors.push(
                    Diag::error(
                        "netplan::literal::address",
                        format!("invalid IP address `{}`", p.as_str()),
                    )
                    .primary(span, address_problem(p.as_str()))
                    .help("write an IPv4 address like `172.25.0.1` or an IPv6 address like `fd00::1`"),
                );
                None
            }
        }
    }

    fn cidr(&mut self, p: Pair<'_, Rule>) -> Option<Spanned<IpNet>> {
        let span: Span = p.as_span().into();
        let text = p.as_str();
        let (addr, len) = text.split_once('/').unwrap_or((text, ""));
        let addr_span = Span::new(span.start, span.start + addr.len());
        let len_span = Span::new(addr_span.end + 1, span.end);
        let ip = match addr.parse::<IpAddr>() {
            Ok(ip) => ip,
            Err(_) => {
                self.errors.push(
                    Diag::error("netplan::literal::cidr", format!("invalid CIDR `{text}`"))
                        .primary(addr_span, address_problem(addr))
                        .help("write an address and a prefix length, e.g. `172.25.0.0/16` or `fd00::/64`"),
                );
                return None;
            }
        };
        let max = if ip.is_ipv4() { 32 } else { 128 };
        match len.parse::<u8>() {
            Ok(l) if l <= max => IpNet::new(ip, l).ok().map(|n| Spanned::new(n, span)),
            _ => {
                self.errors.push(
                    Diag::error("netplan::literal::cidr", format!("invalid CIDR `{text}`"))
                        .primary(
                            if len.is_empty() {
                                Span::new(span.end, span.end)
                            } else {
                                len_span
                            },
                            format!("the prefix length must be a number from 0 to {max}"),
                        )
                        .help("write an address and a prefix length, e.g. `172.25.0.0/16` or `fd00::/64`"),
                );
                None
            }
        }
    }

    fn number(&mut self, p: Pair<'_, Rule>) -> Option<Spanned<u32>> {
        let span: Span = p.as_span().into();
        match p.as_str().parse::<u32>() {
            Ok(n) => Some(Spanned::new(n, span)),
            Err(_) => {
                self.errors.push(
                    Diag::error(
                        "netplan::literal::number",
                        format!("number `{}` is too large", p.as_str()),
                    )
                    .primary(span, "out of range")
                    .help("an MTU lies between 68 and 65535"),
                );
                None
            }
        }
    }

    fn string(&mut self, p: Pair<'_, Rule>) -> Spanned<String> {
        let span: Span = p.as_span().into();
        Spanned::new(unescape(p.as_str()), span)
    }
}

/// The span of a declaration whose block is optional. Without a block it ends at its last
/// token: pest's span would also cover the blanks and a trailing comment that it skipped
/// while looking for the `{`.
fn decl_span(span: Span, last_token: Span, has_block: bool) -> Span {
    if has_block || last_token.end < span.start || last_token.end > span.end {
        span
    } else {
        Span::new(span.start, last_token.end)
    }
}

trait OrDefaultName {
    fn unwrap_or_default_name(self, span: Span) -> Name;
}

impl OrDefaultName for Option<Name> {
    fn unwrap_or_default_name(self, span: Span) -> Name {
        self.unwrap_or_else(|| Spanned::new(String::new(), span))
    }
}

fn unknown_stmt(p: Pair<'_, Rule>) -> Unknown {
    let span: Span = p.as_span().into();
    let text = p.as_str();
    let word_len = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.'))
        .unwrap_or(text.len());
    let keyword = Spanned::new(
        text.get(..word_len).unwrap_or("").to_string(),
        Span::new(span.start, span.start + word_len),
    );
    Unknown { keyword, span }
}

fn on_off(p: Pair<'_, Rule>) -> Spanned<bool> {
    Spanned::new(p.as_str() == "on", p.as_span().into())
}

/// The text of a string literal without its quotes, escapes resolved.
fn unescape(lit: &str) -> String {
    let inner = lit
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(lit);
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some(other) => out.push(other),
                None => {}
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// A short reason why `text` is not an address, for the label under it.
fn address_problem(text: &str) -> String {
    if text.contains(':') {
        "not a valid IPv6 address".into()
    } else if text.split('.').count() != 4 {
        "an IPv4 address has four numbers separated by dots".into()
    } else if text.split('.').any(|o| o.parse::<u8>().is_err()) {
        "each part of an IPv4 address is a number from 0 to 255".into()
    } else {
        "not a valid IP address".into()
    }
}

/// `[HOST_IP:][HOST_PORT:]PORT[/tcp|udp]`; an IPv6 host IP is written in brackets.
pub fn parse_port_spec(text: &str) -> Result<PortSpec, String> {
    let (body, proto) = match text.rsplit_once('/') {
        Some((b, "tcp")) => (b, Proto::Tcp),
        Some((b, "udp")) => (b, Proto::Udp),
        Some((_, p)) => return Err(format!("unknown protocol `{p}`: use tcp or udp")),
        None => (text, Proto::Tcp),
    };
    let port = |s: &str, what: &str| -> Result<u16, String> {
        match s.parse::<u16>() {
            Ok(0) | Err(_) => Err(format!("{what} `{s}` must be a number from 1 to 65535")),
            Ok(p) => Ok(p),
        }
    };
    let (host_ip, rest) = if let Some(r) = body.strip_prefix('[') {
        let (ip, rest) = r
            .split_once("]:")
            .ok_or("a bracketed IPv6 host address is followed by `:`")?;
        let ip = ip
            .parse::<IpAddr>()
            .map_err(|_| format!("`{ip}` is not an IPv6 address"))?;
        (Some(ip), rest)
    } else {
        let parts: Vec<&str> = body.split(':').collect();
        match parts.len() {
            1 | 2 => (None, body),
            3 => {
                let ip = parts[0]
                    .parse::<IpAddr>()
                    .map_err(|_| format!("`{}` is not an IP address", parts[0]))?;
                let n = parts[0].len() + 1;
                (Some(ip), body.get(n..).unwrap_or(""))
            }
            _ => {
                return Err(
                    "too many `:`; write an IPv6 host address in brackets, e.g. `[::1]:8080:80`".into(),
                );
            }
        }
    };
    let (host_port, container) = match rest.split_once(':') {
        Some(("", c)) => (None, c),
        Some((h, c)) => (Some(port(h, "host port")?), c),
        None if host_ip.is_some() => return Err("a host address needs `HOST_IP:[HOST_PORT]:PORT`".into()),
        None => (None, rest),
    };
    Ok(PortSpec {
        host_ip,
        host_port,
        port: port(container, "port")?,
        proto,
    })
}

/// Words for grammar rules in "expected …" messages: never a pest rule name.
fn rule_words(r: &Rule) -> String {
    match r {
        Rule::EOI => "end of file".into(),
        Rule::name => "a name (letters, digits, `_`, `.`, `-`)".into(),
        Rule::word => "a statement".into(),
        Rule::string => "a quoted string".into(),
        Rule::number => "a number".into(),
        Rule::addr => "an IP address".into(),
        Rule::cidr => "a CIDR (e.g. 10.0.0.0/24)".into(),
        Rule::mac => "a MAC address".into(),
        Rule::port_spec => "a port mapping (e.g. 8080:80/tcp)".into(),
        Rule::on_off => "`on` or `off`".into(),
        Rule::event => "a hook event".into(),
        Rule::lbrace => "`{`".into(),
        Rule::rbrace => "`}`".into(),
        Rule::network_decl | Rule::kw_network => "`network`".into(),
        Rule::container_decl | Rule::kw_container => "`container`".into(),
        Rule::hook_stmt | Rule::kw_hook => "`hook`".into(),
        Rule::unknown_stmt | Rule::misplaced_stmt => "a statement".into(),
        Rule::kw_as => "`as`".into(),
        Rule::network_block | Rule::container_block | Rule::attach_block | Rule::subnet_block => {
            "a `{ … }` block".into()
        }
        Rule::unknown_block => "a block".into(),
        other => {
            let n = rule_name(*other);
            let n = n.trim_end_matches("_stmt").trim_start_matches("kw_");
            format!("`{}`", n.replace('_', "-"))
        }
    }
}

/// True for keyword tokens (the `kw_*` rules). The table is built once from the rule names:
/// formatting a rule name for every token was a measurable share of the parse time.
fn is_keyword(r: Rule) -> bool {
    static KEYWORDS: std::sync::LazyLock<Vec<bool>> = std::sync::LazyLock::new(|| {
        let rules = Rule::all_rules();
        let mut table = vec![false; rules.iter().map(|r| *r as usize + 1).max().unwrap_or(0)];
        for r in rules {
            if let Some(slot) = table.get_mut(*r as usize) {
                *slot = rule_name(*r).starts_with("kw_");
            }
        }
        table
    });
    KEYWORDS.get(r as usize).copied().unwrap_or(false)
}

fn rule_name(r: Rule) -> String {
    format!("{r:?}")
}

fn syntax_error(e: pest::error::Error<Rule>) -> Diag {
    use pest::error::{ErrorVariant, InputLocation};
    let span = match e.location {
        InputLocation::Pos(p) => Span::new(p, p),
        InputLocation::Span((s, end)) => Span::new(s, end),
    };
    let (message, label) = match &e.variant {
        ErrorVariant::ParsingError { positives, .. } => {
            let mut words: Vec<String> = positives.iter().map(rule_words).collect();
            // A long list of statement keywords reads better as one phrase.
            let keywords = words.iter().filter(|w| w.starts_with('`') && *w != "`}`").count();
            if keywords > 4 {
                words.retain(|w| !(w.starts_with('`') && w != "`}`"));
                words.insert(0, "a statement".into());
            }
            words.dedup();
            let list = match words.len() {
                0 => "something else".to_string(),
                1 => words[0].clone(),
                n => format!("{}, or {}", words[..n - 1].join(", "), words[n - 1]),
            };
            (
                format!("syntax error: expected {list}"),
                format!("expected {list}"),
            )
        }
        ErrorVariant::CustomError { message } => (format!("syntax error: {message}"), message.clone()),
    };
    Diag::error("netplan::syntax", message)
        .primary(span, label)
        .help("statements end at a newline or `;`; see the language reference in docs/language.md")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_specs() {
        let p = parse_port_spec("8080:80/tcp").ok();
        assert_eq!(
            p.map(|p| (p.host_port, p.port, p.proto)),
            Some((Some(8080), 80, Proto::Tcp))
        );
        let p = parse_port_spec("127.0.0.1::53/udp").ok();
        assert_eq!(
            p.map(|p| (p.host_ip.is_some(), p.host_port, p.port)),
            Some((true, None, 53))
        );
        let p = parse_port_spec("[::1]:8080:80").ok();
        assert_eq!(p.map(|p| p.host_ip), Some("::1".parse().ok()));
        assert!(parse_port_spec("80/sctp").is_err());
        assert!(parse_port_spec("0").is_err());
        assert!(parse_port_spec("70000").is_err());
        assert!(parse_port_spec("a:b:c:d").is_err());
        assert_eq!(
            parse_port_spec("80").map(|p| p.to_string()),
            Ok("80/tcp".to_string())
        );
    }

    #[test]
    fn blockless_declarations_end_at_their_last_token() {
        let text = "network a   # x\ncontainer c {\n  network a  # y\n}\nnetwork b { subnet 10.0.0.0/24  }\n";
        let file = parse(text).unwrap_or_else(|d| panic!("{d:?}"));
        let spans: Vec<&str> = file
            .items
            .iter()
            .map(|i| &text[i.span().start..i.span().end])
            .collect();
        assert_eq!(spans[0], "network a");
        assert_eq!(spans[1], "container c {\n  network a  # y\n}");
        let Item::Container(c) = &file.items[1] else {
            panic!()
        };
        let s = c.stmts()[0].span();
        assert_eq!(&text[s.start..s.end], "network a");
        let Item::Network(n) = &file.items[2] else {
            panic!()
        };
        let s = n.stmts()[0].span();
        assert_eq!(&text[s.start..s.end], "subnet 10.0.0.0/24");
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let deep = format!("network a {}", "{".repeat(200_000));
        let err = parse(&deep).err().unwrap_or_default();
        assert_eq!(err.len(), 1);
        assert!(err[0].message.contains("nested"), "{}", err[0].message);
        // Nesting inside strings and comments does not count.
        let fine = format!(
            "network a {{ label x = \"{}\" }} # {}\n",
            "{".repeat(100),
            "{".repeat(100)
        );
        assert!(parse(&fine).is_ok());
    }

    #[test]
    fn comments_skip_strings() {
        let c = comments("label a = \"x # y\" # real\n# two");
        let texts: Vec<_> = c.iter().map(|c| c.text.as_str()).collect();
        assert_eq!(texts, ["# real", "# two"]);
    }
}
