//! Network declarations: names, settings, options and bridge names.

use std::collections::HashMap;
use std::fmt;

use crate::ast::{AliasMode, Driver, File, Item, Name, NetworkDecl, NetworkStmt, Span, Spanned};
use crate::diag::{Diag, did_you_mean};
use crate::model::{self, Network, NetworkKind};

use super::options::{self, Settings, Source};
use super::subnet::{self, Shorthand};
use super::{NetInfo, Networks, codes, hooks};

/// Linux refuses interface names of 16 bytes or more (IFNAMSIZ includes the NUL).
const MAX_IFNAME: usize = 15;

/// Lowers every network declaration, then adds the predefined networks not declared.
pub(super) fn lower_all<'a>(file: &'a File, diags: &mut Vec<Diag>) -> Networks<'a> {
    let mut nets = Networks::new();
    for item in &file.items {
        let Item::Network(decl) = item else { continue };
        let name = decl.name.value.as_str();
        if matches!(name, "host" | "none" | "default") {
            diags.push(predefined(&decl.name));
            continue;
        }
        let info = lower(decl, diags);
        match nets.get(name).and_then(|i| nets.list[i].decl) {
            Some(first) => diags.push(
                Diag::error(
                    codes::NETWORK_DUPLICATE,
                    format!("network with name {name} already exists"),
                )
                .primary(decl.name.span, "declared again here")
                .secondary(first.name.span, "first declared here")
                .help("give each network its own name, or merge the two blocks"),
            ),
            None => nets.push(info),
        }
    }
    nets.add_predefined();
    nets
}

fn predefined(name: &Name) -> Diag {
    let n = name.value.as_str();
    let d = Diag::error(
        codes::NETWORK_PREDEFINED,
        format!("{n} is a pre-defined network and cannot be created"),
    )
    .primary(name.span, "predefined network");
    if n == "default" {
        d.help("`default` is Docker's other name for the default `bridge` network: declare `network bridge { … }` to configure it")
    } else {
        d.help(format!(
            "`{n}` exists without being declared and takes no settings: attach containers with `network {n}`"
        ))
    }
}

/// Single-valued statements already seen in one block. A block has a handful of them, so
/// the first few are kept in place (blocks are checked by the ten thousand) and any others in
/// a list.
#[derive(Debug, Default)]
pub(super) struct Seen {
    first: [Option<(&'static str, Span)>; 4],
    more: Vec<(&'static str, Span)>,
}

impl Seen {
    /// True the first time `what` is seen; an error (with `code`) every other time.
    pub(super) fn first(
        &mut self,
        code: &'static str,
        what: &'static str,
        owner: &dyn fmt::Display,
        span: Span,
        diags: &mut Vec<Diag>,
    ) -> bool {
        let mut seen = self.first.iter().flatten().chain(&self.more);
        match seen.find(|(w, _)| *w == what) {
            None => {
                match self.first.iter_mut().find(|slot| slot.is_none()) {
                    Some(slot) => *slot = Some((what, span)),
                    None => self.more.push((what, span)),
                }
                true
            }
            Some((_, first)) => {
                diags.push(
                    Diag::error(code, format!("`{what}` is given twice for {owner}"))
                        .primary(span, "given again here")
                        .secondary(*first, "first given here")
                        .help(format!("keep a single `{what}` statement")),
                );
                false
            }
        }
    }
}

fn lower<'a>(decl: &'a NetworkDecl, diags: &mut Vec<Diag>) -> NetInfo<'a> {
    let name = decl.name.value.as_str();
    let kind = if name == "bridge" {
        NetworkKind::DefaultBridge
    } else {
        NetworkKind::User
    };
    let owner = format!("network `{name}`");
    let mut net = Network::new(name, kind);
    net.span = decl.span;
    let mut seen = Seen::default();
    let mut settings = Settings::default();
    let mut subnets = Vec::new();
    let mut short = Shorthand::default();
    let mut labels: HashMap<&str, Span> = HashMap::new();
    let mut option_keys: HashMap<&str, Span> = HashMap::new();
    let mut internal_span = None;
    let mut overlay_span = None;
    let twice = codes::NETWORK_SETTING_TWICE;

    for stmt in decl.stmts() {
        match stmt {
            NetworkStmt::Driver { name: d, span } => {
                if seen.first(twice, "driver", &owner, *span, diags) {
                    match d.value.as_str() {
                        "bridge" => net.driver = Driver::Bridge,
                        "overlay" => {
                            net.driver = Driver::Overlay;
                            overlay_span = Some(d.span);
                        }
                        other => diags.push(unknown_choice(
                            codes::NETWORK_DRIVER,
                            "driver",
                            other,
                            d.span,
                            &["bridge", "overlay"],
                        )),
                    }
                }
            }
            NetworkStmt::Subnet(s) => subnets.push(s),
            NetworkStmt::Ipv6 { span } => {
                if seen.first(twice, "ipv6", &owner, *span, diags) {
                    net.ipv6 = true;
                }
            }
            NetworkStmt::Gateway(a) => short.gateways.push(a),
            NetworkStmt::IpRange(c) => short.ranges.push(c),
            NetworkStmt::Aux(a) => short.aux.push(a),
            NetworkStmt::Bridge { name: b, span } => {
                if seen.first(twice, "bridge", &owner, *span, diags)
                    && valid_bridge_name(&b.value, b.span, diags)
                {
                    let src = native(b.value.clone(), b.span, "bridge");
                    options::set(&mut settings.bridge, src, "the bridge name", diags);
                }
            }
            NetworkStmt::Mtu { value, span } => {
                if seen.first(twice, "mtu", &owner, *span, diags) && valid_mtu(value.value, value.span, diags)
                {
                    options::set(
                        &mut settings.mtu,
                        native(value.value, value.span, "mtu"),
                        "the MTU",
                        diags,
                    );
                }
            }
            NetworkStmt::Icc { on, span } => {
                if seen.first(twice, "icc", &owner, *span, diags) {
                    let src = native(on.value, on.span, "icc");
                    options::set(
                        &mut settings.icc,
                        src,
                        "inter-container connectivity (icc)",
                        diags,
                    );
                }
            }
            NetworkStmt::Masquerade { on, span } => {
                if seen.first(twice, "masquerade", &owner, *span, diags) {
                    let src = native(on.value, on.span, "masquerade");
                    options::set(&mut settings.masquerade, src, "IP masquerading", diags);
                }
            }
            NetworkStmt::HostIp(a) => {
                if seen.first(twice, "host-ip", &owner, a.span, diags) {
                    let src = native(a.addr.value, a.addr.span, "host-ip");
                    options::set(&mut settings.host_ip, src, "the default host IP", diags);
                }
            }
            NetworkStmt::Label { key, value, span } => {
                if let Some(first) = labels.get(key.value.as_str()) {
                    diags.push(twice_keyed("label", &key.value, &owner, *span, *first));
                } else {
                    labels.insert(&key.value, *span);
                    net.labels.insert(key.value.clone(), value.value.clone());
                }
            }
            NetworkStmt::Internal { span } => {
                if seen.first(twice, "internal", &owner, *span, diags) {
                    net.internal = true;
                    internal_span = Some(*span);
                }
            }
            NetworkStmt::Option { key, value, span } => {
                if let Some(first) = option_keys.get(key.value.as_str()) {
                    diags.push(twice_keyed("option", &key.value, &owner, *span, *first));
                } else {
                    option_keys.insert(&key.value, *span);
                    net.options.insert(key.value.clone(), value.value.clone());
                    options::apply(key, value, &mut settings, diags);
                }
            }
            NetworkStmt::AliasMode { name: m, span } => {
                if seen.first(twice, "alias-mode", &owner, *span, diags) {
                    match m.value.as_str() {
                        "first" => net.alias_mode = AliasMode::First,
                        "all" => net.alias_mode = AliasMode::All,
                        other => diags.push(unknown_choice(
                            codes::NETWORK_ALIAS_MODE,
                            "alias mode",
                            other,
                            m.span,
                            &["first", "all"],
                        )),
                    }
                }
            }
            NetworkStmt::Hook(h) => net.hooks.extend(hooks::lower(h, diags)),
            NetworkStmt::Unknown(_) => {}
        }
    }

    if kind == NetworkKind::DefaultBridge {
        let refuse = |span: Span, what: &str| {
            Diag::error(
                codes::NETWORK_DEFAULT_BRIDGE,
                format!("the default `bridge` network cannot be {what}"),
            )
            .primary(span, "not possible on the default bridge")
            .help("declare a network of your own for this and attach the containers to it")
        };
        if let Some(s) = internal_span {
            diags.push(refuse(s, "internal"));
        }
        if let Some(s) = overlay_span {
            diags.push(refuse(s, "an overlay network"));
        }
    }

    let bridge = settings.bridge.map(|s| Spanned::new(s.value, s.span));
    net.bridge = bridge.as_ref().map(|b| model::Name::from(b.value.as_str()));
    net.mtu = settings.mtu.map(|s| s.value);
    if let Some(s) = settings.icc {
        net.icc = s.value;
    }
    if let Some(s) = settings.masquerade {
        net.masquerade = s.value;
    }
    net.host_ip = settings.host_ip.map(|s| s.value);

    let subnets = subnet::assemble(&net, &decl.name, &subnets, short, diags);
    if subnets.is_empty() && kind == NetworkKind::User {
        diags.push(
            Diag::warning(
                codes::SUBNET_AUTOMATIC,
                format!("network `{name}` has no explicit subnet"),
            )
            .primary(decl.name.span, "its subnet will be chosen automatically")
            .help(
                "it is highly recommended to declare a subnet (`subnet CIDR`): an automatic one \
                 could overlap with another subnet in your infrastructure that netplan does not manage",
            ),
        );
    }
    NetInfo {
        model: net,
        decl: Some(decl),
        subnets,
        bridge,
        used: false,
    }
}

fn native<T>(value: T, span: Span, keyword: &str) -> Source<T> {
    Source {
        value,
        span,
        spelling: format!("`{keyword}`"),
    }
}

fn twice_keyed(what: &str, key: &str, owner: &str, span: Span, first: Span) -> Diag {
    Diag::error(
        codes::NETWORK_SETTING_TWICE,
        format!("{what} `{key}` is given twice for {owner}"),
    )
    .primary(span, "given again here")
    .secondary(first, "first given here")
    .help(format!("keep a single {what} `{key}`"))
}

fn unknown_choice(code: &'static str, what: &str, word: &str, span: Span, choices: &[&str]) -> Diag {
    let d = Diag::error(code, format!("unknown {what} `{word}`"))
        .primary(span, format!("expected {}", super::text::quoted(choices, "or")));
    match did_you_mean(word, choices.iter().copied()) {
        Some(s) => d.help(format!("did you mean `{s}`?")),
        None => d.help(format!("the choices are {}", super::text::quoted(choices, "and"))),
    }
}

/// Checks an MTU; false (with a diagnostic) when the kernel would refuse it.
pub(super) fn valid_mtu(mtu: u32, span: Span, diags: &mut Vec<Diag>) -> bool {
    if (68..=65535).contains(&mtu) {
        return true;
    }
    diags.push(
        Diag::error(codes::NETWORK_MTU, format!("invalid MTU number: {mtu}"))
            .primary(span, "must be between 68 and 65535")
            .help("Ethernet uses 1500; IPv4 needs at least 68"),
    );
    false
}

/// Checks a Linux bridge name; false (with a diagnostic) when the kernel would refuse it.
pub(super) fn valid_bridge_name(name: &str, span: Span, diags: &mut Vec<Diag>) -> bool {
    let problem = if name.is_empty() {
        "the name is empty".to_string()
    } else if name.len() > MAX_IFNAME {
        format!(
            "{} bytes long; Linux interface names have at most {MAX_IFNAME}",
            name.len()
        )
    } else if name == "." || name == ".." {
        "`.` and `..` are not interface names".to_string()
    } else if let Some(c) = name.chars().find(|c| *c == '/' || *c == ':' || c.is_whitespace()) {
        if c.is_whitespace() {
            "whitespace is not allowed in an interface name".to_string()
        } else {
            format!("`{c}` is not allowed in an interface name")
        }
    } else {
        return true;
    };
    let message = if name.is_empty() {
        "empty bridge name".to_string()
    } else {
        format!("invalid bridge name `{name}`")
    };
    diags.push(
        Diag::error(codes::BRIDGE_NAME, message)
            .primary(span, problem)
            .help("use at most 15 bytes without `/`, `:` or whitespace, e.g. `br-web`"),
    );
    false
}

/// Two networks that ask for one Linux bridge name.
pub(super) fn check_bridge_names(nets: &[NetInfo<'_>], diags: &mut Vec<Diag>) {
    let mut seen: HashMap<&str, (&str, Span)> = HashMap::new();
    for n in nets {
        let Some(b) = &n.bridge else { continue };
        match seen.get(b.value.as_str()) {
            None => {
                seen.insert(&b.value, (&n.model.name, b.span));
            }
            Some((other, first)) => diags.push(
                Diag::error(
                    codes::BRIDGE_DUPLICATE,
                    format!(
                        "network {} conflicts with network {other} ({}): networks have same bridge name",
                        n.model.name, b.value
                    ),
                )
                .primary(b.span, format!("`{}` asks for this bridge", n.model.name))
                .secondary(*first, format!("`{other}` asks for it first"))
                .help("give each network a bridge name of its own, or leave it out to get a generated one"),
            ),
        }
    }
}
