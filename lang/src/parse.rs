//! Text → [`crate::ast::File`]: the pest grammar, then a typed tree with checked literals.

use std::net::IpAddr;

use ipnet::IpNet;
use pest::Parser as _;
use pest::Token;
use pest::iterators::Tokens;

use crate::ast::*;
use crate::diag::Diag;

#[derive(pest_derive::Parser)]
#[grammar = "grammar.pest"]
struct Grammar;

/// Parses a whole file. On failure returns every error found: one syntax error (the
/// grammar stops at the first) or all malformed literals.
pub fn parse(text: &str) -> Result<File, Vec<Diag>> {
    let comments = prescan(text)?;
    let pairs = Grammar::parse(Rule::file, text).map_err(|e| vec![syntax_error(e)])?;
    let mut b = Builder {
        text,
        tokens: pairs.tokens(),
        errors: Vec::new(),
    };
    let items = b
        .file()
        .ok_or_else(|| vec![Diag::error("netplan::syntax", "empty parse")])?;
    if b.errors.is_empty() {
        Ok(File { items, comments })
    } else {
        Err(b.errors)
    }
}

/// The language nests at most three blocks deep (network → subnet, container → network).
/// Anything far deeper is refused before the grammar runs, so that no input can exhaust
/// the parser's stack (pest runs without its per-rule stack probe, see Cargo.toml).
pub const MAX_NESTING: usize = 16;

/// The pre-scan: refuses blocks nested too deep and collects the comments, in one pass over
/// the text (it runs over every byte of the file).
fn prescan(text: &str) -> Result<Vec<Comment>, Vec<Diag>> {
    let mut depth = 0usize;
    let mut comments = Vec::new();
    scan(text, |found| match found {
        Found::Open(i) => {
            depth += 1;
            if depth > MAX_NESTING {
                return Err(vec![
                    Diag::error("netplan::syntax", format!("blocks nested more than {MAX_NESTING} deep"))
                        .primary(Span::new(i, i + 1), "this block is too deep")
                        .help("blocks nest at most three deep: network → subnet, container → network; close the blocks left open above"),
                ]);
            }
            Ok(())
        }
        Found::Close => {
            depth = depth.saturating_sub(1);
            Ok(())
        }
        Found::Comment(c) => {
            comments.push(c);
            Ok(())
        }
    })?;
    Ok(comments)
}

/// Every `# …` comment, found by a scan that skips string literals.
pub fn comments(text: &str) -> Vec<Comment> {
    let mut out = Vec::new();
    let Ok(()) = scan(text, |found| -> Result<(), std::convert::Infallible> {
        if let Found::Comment(c) = found {
            out.push(c);
        }
        Ok(())
    });
    out
}

/// What [`scan`] finds outside string literals.
enum Found {
    /// A `{`, at this offset.
    Open(usize),
    /// A `}`.
    Close,
    Comment(Comment),
}

/// Walks the text, skipping string literals, and hands every brace and comment to `f`;
/// stops at the first error `f` returns.
fn scan<E>(text: &str, mut f: impl FnMut(Found) -> Result<(), E>) -> Result<(), E> {
    /// The bytes the scan stops at.
    const SPECIAL: [bool; 256] = {
        let mut t = [false; 256];
        t[b'"' as usize] = true;
        t[b'#' as usize] = true;
        t[b'{' as usize] = true;
        t[b'}' as usize] = true;
        t
    };
    let bytes = text.as_bytes();
    let mut i = 0;
    loop {
        while i < bytes.len() && !SPECIAL[usize::from(bytes[i])] {
            i += 1;
        }
        let Some(&b) = bytes.get(i) else { break };
        match b {
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
                f(Found::Comment(Comment {
                    text: text.get(start..end).unwrap_or("").to_string(),
                    span: Span::new(start, end),
                }))?;
            }
            b'{' => {
                f(Found::Open(i))?;
                i += 1;
            }
            b'}' => {
                f(Found::Close)?;
                i += 1;
            }
            _ => i += 1,
        }
    }
    Ok(())
}

/// Lowers pest's output into the syntax tree, reading it as the flat stream of tokens that
/// it is (each node is a start token, its children, an end token) in one pass. Walking it
/// through `Pair`s counts the children of every node before reading them, jumping about a
/// token buffer of tens of megabytes for a large file, and took twice as long.
struct Builder<'i> {
    text: &'i str,
    tokens: Tokens<'i, Rule>,
    errors: Vec<Diag>,
}

/// A node of the parse tree whose start token was just read: its children and its end
/// token come next.
#[derive(Debug, Clone, Copy)]
struct Node {
    rule: Rule,
    start: usize,
}

/// A token without children (the atomic rules), read whole.
#[derive(Debug, Clone, Copy)]
struct Leaf<'i> {
    text: &'i str,
    span: Span,
}

/// The reading of one node's children; `end` is the node's end once its end token is read.
#[derive(Debug, Default)]
struct Args {
    end: Option<usize>,
}

impl<'i> Builder<'i> {
    /// The next child of the node being read, or its end offset when it has no more.
    fn child(&mut self) -> Result<Node, usize> {
        match self.tokens.next() {
            Some(Token::Start { rule, pos }) => Ok(Node {
                rule,
                start: pos.pos(),
            }),
            Some(Token::End { pos, .. }) => Err(pos.pos()),
            None => Err(self.text.len()),
        }
    }

    /// Reads the rest of the node being read, whatever is in it; its end offset.
    fn finish(&mut self) -> usize {
        let mut depth = 0usize;
        loop {
            match self.tokens.next() {
                Some(Token::Start { .. }) => depth += 1,
                Some(Token::End { pos, .. }) => match depth.checked_sub(1) {
                    Some(d) => depth = d,
                    None => return pos.pos(),
                },
                None => return self.text.len(),
            }
        }
    }

    /// The next child of a statement, skipping its keyword tokens; `None` at its end. The
    /// child must be read whole before the next one.
    fn arg(&mut self, args: &mut Args) -> Option<Node> {
        if args.end.is_some() {
            return None;
        }
        loop {
            match self.child() {
                Ok(n) if is_keyword(n.rule) => {
                    self.finish();
                }
                Ok(n) => return Some(n),
                Err(end) => {
                    args.end = Some(end);
                    return None;
                }
            }
        }
    }

    /// The next child of a statement, read whole as a leaf.
    fn leaf_arg(&mut self, args: &mut Args) -> Option<Leaf<'i>> {
        let n = self.arg(args)?;
        Some(self.leaf(n))
    }

    /// Reads what is left of a statement; its span.
    fn end(&mut self, n: Node, args: Args) -> Span {
        let end = match args.end {
            Some(end) => end,
            None => self.finish(),
        };
        Span::new(n.start, end)
    }

    fn leaf(&mut self, n: Node) -> Leaf<'i> {
        let end = self.finish();
        Leaf {
            text: self.text.get(n.start..end).unwrap_or(""),
            span: Span::new(n.start, end),
        }
    }

    fn file(&mut self) -> Option<Vec<Item>> {
        self.child().ok()?;
        let mut items = Vec::new();
        while let Ok(n) = self.child() {
            match n.rule {
                Rule::network_decl => items.push(Item::Network(self.network(n))),
                Rule::container_decl => items.push(Item::Container(self.container(n))),
                Rule::hook_stmt => items.push(Item::Hook(self.hook(n))),
                Rule::unknown_stmt | Rule::misplaced_stmt => items.push(Item::Unknown(self.unknown(n))),
                _ => {
                    self.finish();
                }
            }
        }
        Some(items)
    }

    fn network(&mut self, n: Node) -> NetworkDecl {
        let mut a = Args::default();
        let name = self.leaf_arg(&mut a).map(name);
        let block = self.arg(&mut a).map(|b| self.block(b, Self::network_stmt));
        let span = self.end(n, a);
        let name = name.unwrap_or_default_name(span);
        let span = decl_span(span, name.span, block.is_some());
        NetworkDecl { name, block, span }
    }

    fn block<T>(&mut self, n: Node, f: fn(&mut Self, Node) -> Option<T>) -> Block<T> {
        let mut stmts = Vec::new();
        let end = loop {
            match self.child() {
                Ok(c) if matches!(c.rule, Rule::lbrace | Rule::rbrace) => {
                    self.finish();
                }
                Ok(c) => stmts.extend(f(self, c)),
                Err(end) => break end,
            }
        };
        Block {
            stmts,
            span: Span::new(n.start, end),
        }
    }

    /// A `subnet` statement: its block is read only when its CIDR is valid.
    fn subnet(&mut self, n: Node) -> Option<SubnetDecl> {
        let mut a = Args::default();
        let cidr = self.leaf_arg(&mut a).and_then(|t| self.cidr(t));
        let block = match self.arg(&mut a) {
            Some(b) if cidr.is_some() => Some(self.block(b, Self::subnet_stmt)),
            Some(_) => {
                self.finish();
                None
            }
            None => None,
        };
        let span = self.end(n, a);
        let cidr = cidr?;
        let span = decl_span(span, cidr.span, block.is_some());
        Some(SubnetDecl { cidr, block, span })
    }

    fn network_stmt(&mut self, n: Node) -> Option<NetworkStmt> {
        match n.rule {
            Rule::unknown_stmt | Rule::misplaced_stmt => {
                return Some(NetworkStmt::Unknown(self.unknown(n)));
            }
            Rule::hook_stmt => return Some(NetworkStmt::Hook(self.hook(n))),
            Rule::subnet_stmt => return self.subnet(n).map(NetworkStmt::Subnet),
            _ => {}
        }
        let mut a = Args::default();
        let first = self.leaf_arg(&mut a);
        let second = self.leaf_arg(&mut a);
        let span = self.end(n, a);
        Some(match n.rule {
            Rule::driver_stmt => NetworkStmt::Driver {
                name: name(first?),
                span,
            },
            Rule::ipv6_stmt => NetworkStmt::Ipv6 { span },
            Rule::gateway_stmt => NetworkStmt::Gateway(AddrStmt {
                addr: self.addr(first?)?,
                span,
            }),
            Rule::ip_range_stmt => NetworkStmt::IpRange(CidrStmt {
                cidr: self.cidr(first?)?,
                span,
            }),
            Rule::aux_stmt => NetworkStmt::Aux(self.aux(first?, second?, span)?),
            Rule::bridge_stmt => NetworkStmt::Bridge {
                name: name(first?),
                span,
            },
            Rule::mtu_stmt => NetworkStmt::Mtu {
                value: self.number(first?)?,
                span,
            },
            Rule::icc_stmt => NetworkStmt::Icc {
                on: on_off(first?),
                span,
            },
            Rule::masquerade_stmt => NetworkStmt::Masquerade {
                on: on_off(first?),
                span,
            },
            Rule::host_ip_stmt => NetworkStmt::HostIp(AddrStmt {
                addr: self.addr(first?)?,
                span,
            }),
            Rule::label_stmt => {
                let key = name(first?);
                let value = self.string(second?);
                NetworkStmt::Label { key, value, span }
            }
            Rule::internal_stmt => NetworkStmt::Internal { span },
            Rule::option_stmt => {
                let key = self.string(first?);
                let value = self.string(second?);
                NetworkStmt::Option { key, value, span }
            }
            Rule::alias_mode_stmt => NetworkStmt::AliasMode {
                name: name(first?),
                span,
            },
            _ => return None,
        })
    }

    fn subnet_stmt(&mut self, n: Node) -> Option<SubnetStmt> {
        if matches!(n.rule, Rule::unknown_stmt | Rule::misplaced_stmt) {
            return Some(SubnetStmt::Unknown(self.unknown(n)));
        }
        let mut a = Args::default();
        let first = self.leaf_arg(&mut a);
        let second = self.leaf_arg(&mut a);
        let span = self.end(n, a);
        Some(match n.rule {
            Rule::gateway_stmt => SubnetStmt::Gateway(AddrStmt {
                addr: self.addr(first?)?,
                span,
            }),
            Rule::ip_range_stmt => SubnetStmt::IpRange(CidrStmt {
                cidr: self.cidr(first?)?,
                span,
            }),
            Rule::aux_stmt => SubnetStmt::Aux(self.aux(first?, second?, span)?),
            _ => return None,
        })
    }

    fn container(&mut self, n: Node) -> ContainerDecl {
        let mut a = Args::default();
        let name = self.leaf_arg(&mut a).map(name);
        let block = self.arg(&mut a).map(|b| self.block(b, Self::container_stmt));
        let span = self.end(n, a);
        let name = name.unwrap_or_default_name(span);
        let span = decl_span(span, name.span, block.is_some());
        ContainerDecl { name, block, span }
    }

    /// A container's `network NAME [{ … }]`.
    fn attach(&mut self, n: Node) -> Option<AttachDecl> {
        let mut a = Args::default();
        let network = self.leaf_arg(&mut a).map(name);
        let block = match self.arg(&mut a) {
            Some(b) if network.is_some() => Some(self.block(b, Self::attach_stmt)),
            Some(_) => {
                self.finish();
                None
            }
            None => None,
        };
        let span = self.end(n, a);
        let network = network?;
        let span = decl_span(span, network.span, block.is_some());
        Some(AttachDecl { network, block, span })
    }

    fn container_stmt(&mut self, n: Node) -> Option<ContainerStmt> {
        match n.rule {
            Rule::unknown_stmt | Rule::misplaced_stmt => {
                return Some(ContainerStmt::Unknown(self.unknown(n)));
            }
            Rule::hook_stmt => return Some(ContainerStmt::Hook(self.hook(n))),
            Rule::attach_stmt => return self.attach(n).map(ContainerStmt::Network),
            _ => {}
        }
        let mut a = Args::default();
        let first = self.leaf_arg(&mut a);
        let span = self.end(n, a);
        Some(match n.rule {
            Rule::publish_stmt => {
                let t = first?;
                match parse_port_spec(t.text) {
                    Ok(spec) => ContainerStmt::Publish(PublishStmt {
                        spec: Spanned::new(spec, t.span),
                        span,
                    }),
                    Err(msg) => {
                        self.errors.push(
                            Diag::error("netplan::literal::port", format!("invalid port mapping `{}`", t.text))
                                .primary(t.span, msg)
                                .help("write [HOST_IP:][HOST_PORT:]PORT[/tcp|udp], e.g. `8080:80/tcp` or `127.0.0.1:8080:80`"),
                        );
                        return None;
                    }
                }
            }
            Rule::run_stmt => ContainerStmt::Run {
                command: self.string(first?),
                span,
            },
            Rule::dns_stmt => ContainerStmt::Dns(AddrStmt {
                addr: self.addr(first?)?,
                span,
            }),
            _ => return None,
        })
    }

    fn attach_stmt(&mut self, n: Node) -> Option<AttachStmt> {
        if matches!(n.rule, Rule::unknown_stmt | Rule::misplaced_stmt) {
            return Some(AttachStmt::Unknown(self.unknown(n)));
        }
        let mut a = Args::default();
        let first = self.leaf_arg(&mut a);
        let second = self.leaf_arg(&mut a);
        let span = self.end(n, a);
        Some(match n.rule {
            Rule::ip_stmt => {
                let addr = self.addr(first?)?;
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
                let addr = self.addr(first?)?;
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
                name: name(first?),
                span,
            },
            Rule::link_stmt => {
                let target = name(first?);
                let alias = name(second?);
                AttachStmt::Link { target, alias, span }
            }
            Rule::mac_stmt => {
                let t = first?;
                match t.text.parse::<Mac>() {
                    Ok(m) => AttachStmt::Mac {
                        mac: Spanned::new(m, t.span),
                        span,
                    },
                    Err(msg) => {
                        self.errors.push(
                            Diag::error(
                                "netplan::literal::mac",
                                format!("invalid MAC address `{}`", t.text),
                            )
                            .primary(t.span, msg)
                            .help("write six hex octets, e.g. `02:42:ac:19:03:03`"),
                        );
                        return None;
                    }
                }
            }
            _ => return None,
        })
    }

    fn hook(&mut self, n: Node) -> HookDecl {
        let mut a = Args::default();
        let event = self.leaf_arg(&mut a);
        let path = self.leaf_arg(&mut a);
        let span = self.end(n, a);
        let event = event.map(name).unwrap_or_default_name(span);
        let path = path
            .map(|s| self.string(s))
            .unwrap_or_else(|| Spanned::new(String::new(), span));
        HookDecl { event, path, span }
    }

    /// An unknown or misplaced statement: only its text counts.
    fn unknown(&mut self, n: Node) -> Unknown {
        let end = self.finish();
        let span = Span::new(n.start, end);
        let text = self.text.get(n.start..end).unwrap_or("");
        let word_len = text
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.'))
            .unwrap_or(text.len());
        let keyword = Spanned::new(
            text.get(..word_len).unwrap_or("").to_string(),
            Span::new(span.start, span.start + word_len),
        );
        Unknown { keyword, span }
    }

    fn aux(&mut self, n: Leaf<'_>, a: Leaf<'_>, span: Span) -> Option<AuxStmt> {
        let name = name(n);
        let addr = self.addr(a)?;
        Some(AuxStmt { name, addr, span })
    }

    fn addr(&mut self, t: Leaf<'_>) -> Option<Spanned<IpAddr>> {
        let span = t.span;
        match t.text.parse::<IpAddr>() {
            Ok(a) => Some(Spanned::new(a, span)),
            Err(_) => {
                self.errors.push(
                    Diag::error(
                        "netplan::literal::address",
                        format!("invalid IP address `{}`", t.text),
                    )
                    .primary(span, address_problem(t.text))
                    .help("write an IPv4 address like `172.25.0.1` or an IPv6 address like `fd00::1`"),
                );
                None
            }
        }
    }

    fn cidr(&mut self, t: Leaf<'_>) -> Option<Spanned<IpNet>> {
        let span = t.span;
        let text = t.text;
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

    fn number(&mut self, t: Leaf<'_>) -> Option<Spanned<u32>> {
        let span = t.span;
        match t.text.parse::<u32>() {
            Ok(n) => Some(Spanned::new(n, span)),
            Err(_) => {
                self.errors.push(
                    Diag::error(
                        "netplan::literal::number",
                        format!("number `{}` is too large", t.text),
                    )
                    .primary(span, "out of range")
                    .help("an MTU lies between 68 and 65535"),
                );
                None
            }
        }
    }

    fn string(&mut self, t: Leaf<'_>) -> Spanned<String> {
        let span = t.span;
        Spanned::new(unescape(t.text), span)
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

fn name(t: Leaf<'_>) -> Name {
    Spanned::new(t.text.to_string(), t.span)
}

fn on_off(t: Leaf<'_>) -> Spanned<bool> {
    Spanned::new(t.text == "on", t.span)
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
