//! Containers and their attachments: networks, static addresses, aliases, links, MACs.

use std::fmt;
use std::net::IpAddr;

use crate::ast::{
    AttachDecl, AttachStmt, ContainerDecl, ContainerStmt, File, Item, Mac, Name, PublishStmt, Span,
};
use crate::diag::{Diag, did_you_mean};
use crate::model::{self, Attachment, Attachments, Container, Link, NetworkKind};
use thin_vec::ThinVec;

use super::network::Seen;
use super::{Map, Networks, codes, hooks, links, publish};

/// A container after its own checks, waiting for the checks that need every container.
#[derive(Debug)]
pub(super) struct Lowered<'a> {
    pub model: Container,
    /// The network of each attachment of `model`, by index, and where the attachment names it.
    pub nets: Vec<(usize, Span)>,
    pub links: Vec<PendingLink<'a>>,
    pub publishes: Vec<&'a PublishStmt>,
    /// False for a second container of the same name: checked, but left out of the topology.
    pub keep: bool,
}

/// A link, checked once every container is known.
#[derive(Debug)]
pub(super) struct PendingLink<'a> {
    pub net: usize,
    pub target: &'a Name,
    pub alias: &'a Name,
}

/// What the container checks share while they walk the file.
pub(super) struct Ctx<'n, 'a> {
    pub nets: &'n mut Networks<'a>,
    /// Static addresses per (network, address): which container holds it and where.
    pub ips: Map<(usize, IpAddr), (&'a str, Span)>,
    pub macs: Map<(usize, Mac), (&'a str, Span)>,
    pub diags: &'n mut Vec<Diag>,
    /// Per-container and per-attachment sets, emptied and reused for each one rather than
    /// allocated anew.
    attached: Map<usize, Span>,
    aliases: Map<&'a str, Span>,
    link_aliases: Map<&'a str, Span>,
}

/// Whose settings a message is about; written out only when a message needs it.
#[derive(Debug, Clone, Copy)]
pub(super) enum Owner<'x> {
    Container(&'x str),
    /// A container's attachment to a network.
    Attachment(&'x str, &'x str),
}

impl fmt::Display for Owner<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Owner::Container(c) => write!(f, "container `{c}`"),
            Owner::Attachment(c, n) => write!(f, "the attachment of `{c}` to `{n}`"),
        }
    }
}

/// Lowers every container and runs the checks between containers.
pub(super) fn lower_all<'a>(
    file: &'a File,
    nets: &mut Networks<'a>,
    diags: &mut Vec<Diag>,
) -> Vec<Container> {
    let decls: Vec<&ContainerDecl> = file
        .items
        .iter()
        .filter_map(|i| match i {
            Item::Container(c) => Some(c),
            _ => None,
        })
        .collect();
    // Each name's first declaration, by its index in `decls`: the one kept in the topology.
    let mut first: Map<&str, usize> = Map::default();
    first.reserve(decls.len());
    let mut keep = Vec::with_capacity(decls.len());
    for (i, c) in decls.iter().enumerate() {
        let name = c.name.value.as_str();
        match first.get(name) {
            Some(j) => {
                diags.push(
                    Diag::error(
                        codes::CONTAINER_DUPLICATE,
                        format!("the container name \"{name}\" is already in use"),
                    )
                    .primary(c.name.span, "declared again here")
                    .secondary(decls[*j].name.span, "first declared here")
                    .help("give each container its own name, or merge the two blocks"),
                );
                keep.push(false);
            }
            None => {
                first.insert(name, i);
                keep.push(true);
            }
        }
    }

    let mut cx = Ctx {
        nets,
        ips: Map::default(),
        macs: Map::default(),
        diags,
        attached: Map::default(),
        aliases: Map::default(),
        link_aliases: Map::default(),
    };
    let lowered: Vec<Lowered<'_>> = decls
        .iter()
        .zip(keep)
        .map(|(c, keep)| {
            let mut l = cx.container(c);
            l.keep = keep;
            l
        })
        .collect();
    let Ctx { nets, diags, .. } = cx;
    links::check(&lowered, &first, nets, diags);
    publish::check(&lowered, nets, diags);
    lowered.into_iter().filter(|l| l.keep).map(|l| l.model).collect()
}

impl<'a> Ctx<'_, 'a> {
    fn container(&mut self, c: &'a ContainerDecl) -> Lowered<'a> {
        let name: &'a str = &c.name.value;
        let owner = Owner::Container(name);
        let mut l = Lowered {
            model: Container {
                name: model::Name::from(name),
                attachments: Attachments::new(),
                publish: ThinVec::new(),
                run: None,
                dns: ThinVec::new(),
                hooks: ThinVec::new(),
                span: c.span,
            },
            nets: Vec::new(),
            links: Vec::new(),
            publishes: Vec::new(),
            keep: true,
        };
        let mut seen = Seen::default();
        let mut attached = std::mem::take(&mut self.attached);
        attached.clear();
        let mut any_network = false;
        for stmt in c.stmts() {
            match stmt {
                ContainerStmt::Network(a) => {
                    any_network = true;
                    let Some(idx) = self.resolve(&a.network) else {
                        continue;
                    };
                    if let Some(first) = attached.get(&idx) {
                        self.diags.push(
                            Diag::error(
                                codes::ATTACH_TWICE,
                                format!(
                                    "endpoint with name {name} already exists in network {}",
                                    a.network.value
                                ),
                            )
                            .primary(a.network.span, "attached again here")
                            .secondary(*first, "first attached here")
                            .help(format!(
                                "merge the two blocks into one `network {} {{ … }}`",
                                a.network.value
                            )),
                        );
                        continue;
                    }
                    attached.insert(idx, a.network.span);
                    self.nets.list[idx].used = true;
                    let att = self.attachment(name, a, idx, &mut l.links);
                    l.model.attachments.push(att);
                    l.nets.push((idx, a.network.span));
                }
                ContainerStmt::Publish(p) => {
                    l.model.publish.push(p.spec.value);
                    l.publishes.push(p);
                }
                ContainerStmt::Run { command, span } => {
                    if seen.first(codes::CONTAINER_SETTING_TWICE, "run", &owner, *span, self.diags) {
                        l.model.run = Some(command.value.clone());
                    }
                }
                ContainerStmt::Dns(a) => l.model.dns.push(a.addr.value),
                ContainerStmt::Hook(h) => l.model.hooks.extend(hooks::lower(h, self.diags)),
                ContainerStmt::Unknown(_) => {}
            }
        }
        if !any_network && let Some(idx) = self.nets.get("bridge") {
            self.nets.list[idx].used = true;
            l.model.attachments.push(Attachment {
                network: model::Name::const_new("bridge"),
                ip: None,
                ip6: None,
                aliases: ThinVec::new(),
                links: ThinVec::new(),
                mac: None,
                span: c.name.span,
            });
            l.nets.push((idx, c.name.span));
        }
        self.attached = attached;
        self.exclusive(&l);
        l
    }

    /// The network an attachment names, or an error.
    fn resolve(&mut self, network: &Name) -> Option<usize> {
        if let Some(i) = self.nets.get(&network.value) {
            return Some(i);
        }
        let n = network.value.as_str();
        let d = Diag::error(codes::ATTACH_UNKNOWN_NETWORK, format!("network {n} not found"))
            .primary(network.span, "no network of this name");
        let help = if n == "default" {
            "Docker's `default` is the default bridge network: write `network bridge`".to_string()
        } else if let Some(s) = did_you_mean(n, self.nets.names()) {
            format!("did you mean `{s}`?")
        } else {
            format!(
                "declare it with `network {n} {{ … }}`, or use a predefined network: `bridge`, `host` or `none`"
            )
        };
        self.diags.push(d.help(help));
        None
    }

    /// `host` and `none` exclude every other network.
    fn exclusive(&mut self, l: &Lowered<'_>) {
        if l.nets.len() < 2 {
            return;
        }
        let Some(pos) = l.nets.iter().position(|(i, _)| {
            matches!(
                self.nets.list[*i].model.kind,
                NetworkKind::Host | NetworkKind::None
            )
        }) else {
            return;
        };
        let (message, which) = if self.nets.list[l.nets[pos].0].model.kind == NetworkKind::None {
            (
                "container cannot be connected to multiple networks with one of the networks in private (none) mode",
                "none",
            )
        } else {
            (
                "container sharing network namespace with another container or host cannot be connected to any other network",
                "host",
            )
        };
        let mut d = Diag::error(codes::ATTACH_EXCLUSIVE, message).primary(
            l.nets[pos].1,
            format!("`{which}` must be the container's only network"),
        );
        for (i, (_, span)) in l.nets.iter().enumerate() {
            if i != pos {
                d = d.secondary(*span, "another network");
            }
        }
        self.diags.push(d.help(format!(
            "remove `network {which}`, or the other `network` statements of container `{}`",
            l.model.name
        )));
    }

    fn attachment(
        &mut self,
        cname: &'a str,
        a: &'a AttachDecl,
        idx: usize,
        links: &mut Vec<PendingLink<'a>>,
    ) -> Attachment {
        let kind = self.nets.list[idx].model.kind;
        // The network's name, as the attachment gives it (that is how it was found).
        let net_name: &'a str = &a.network.value;
        let owner = Owner::Attachment(cname, net_name);
        let mut att = Attachment {
            network: model::Name::from(net_name),
            ip: None,
            ip6: None,
            aliases: ThinVec::new(),
            links: ThinVec::new(),
            mac: None,
            span: a.span,
        };
        let mut seen = Seen::default();
        let mut aliases = std::mem::take(&mut self.aliases);
        let mut link_aliases = std::mem::take(&mut self.link_aliases);
        aliases.clear();
        link_aliases.clear();
        let twice = codes::ATTACH_SETTING_TWICE;
        for stmt in a.stmts() {
            match stmt {
                AttachStmt::Ip { addr, span } => {
                    if seen.first(twice, "ip", &owner, *span, self.diags)
                        && self.static_ip(cname, idx, IpAddr::V4(addr.value), addr.span)
                    {
                        att.ip = Some(addr.value);
                    }
                }
                AttachStmt::Ip6 { addr, span } => {
                    if seen.first(twice, "ip6", &owner, *span, self.diags)
                        && self.static_ip(cname, idx, IpAddr::V6(addr.value), addr.span)
                    {
                        att.ip6 = Some(addr.value);
                    }
                }
                AttachStmt::Alias { name, .. } => {
                    if kind != NetworkKind::User {
                        self.diags.push(
                            Diag::error(
                                codes::ALIAS_PREDEFINED,
                                "network-scoped alias is supported only for containers in user defined networks",
                            )
                            .primary(name.span, format!("`{net_name}` is a predefined network"))
                            .help("declare a network of your own and put the alias on the attachment to it"),
                        );
                    } else if let Some(first) = aliases.get(name.value.as_str()) {
                        self.diags.push(
                            Diag::error(
                                codes::ALIAS_DUPLICATE,
                                format!("alias `{}` is given twice for {owner}", name.value),
                            )
                            .primary(name.span, "given again here")
                            .secondary(*first, "first given here")
                            .help("keep a single `alias` statement for it"),
                        );
                    } else {
                        aliases.insert(&name.value, name.span);
                        att.aliases.push(model::Name::from(name.value.as_str()));
                    }
                }
                AttachStmt::Link { target, alias, span } => {
                    if matches!(kind, NetworkKind::Host | NetworkKind::None) {
                        let message = if kind == NetworkKind::Host {
                            "conflicting options: host type networking can't be used with links. This would result in undefined behavior"
                        } else {
                            "links cannot be used on network `none`: it has no interface to reach anyone"
                        };
                        self.diags.push(
                            Diag::error(codes::LINK_HOST_OR_NONE, message)
                                .primary(*span, format!("a link on `{net_name}`"))
                                .help("put the link on a network the container shares with its target"),
                        );
                        continue;
                    }
                    if let Some(first) = link_aliases.get(alias.value.as_str()) {
                        self.diags.push(
                            Diag::warning(
                                codes::LINK_DUPLICATE_ALIAS,
                                format!("link alias `{}` is given twice for {owner}", alias.value),
                            )
                            .primary(alias.span, "given again here")
                            .secondary(*first, "first given here")
                            .help(
                                "the name resolves to one of the targets only: give each link its own alias",
                            ),
                        );
                    } else {
                        link_aliases.insert(&alias.value, alias.span);
                    }
                    att.links.push(Link {
                        target: model::Name::from(target.value.as_str()),
                        alias: model::Name::from(alias.value.as_str()),
                    });
                    links.push(PendingLink {
                        net: idx,
                        target,
                        alias,
                    });
                }
                AttachStmt::Mac { mac, span } => {
                    if !seen.first(twice, "mac", &owner, *span, self.diags) {
                        continue;
                    }
                    let m = mac.value;
                    let problem = if matches!(kind, NetworkKind::Host | NetworkKind::None) {
                        Some(format!(
                            "network `{net_name}` gives the container no interface of its own to set a MAC address on"
                        ))
                    } else if m.0[0] & 1 == 1 {
                        Some(format!("MAC address {m} is a multicast address"))
                    } else if m.0 == [0; 6] {
                        Some(format!("MAC address {m} is all zeros"))
                    } else {
                        None
                    };
                    if let Some(p) = problem {
                        self.diags.push(
                            Diag::error(codes::MAC_INVALID, p)
                                .primary(mac.span, "not usable here")
                                .help(
                                    "use a unicast address, e.g. `02:42:ac:19:00:02` (locally administered)",
                                ),
                        );
                        continue;
                    }
                    if let Some((holder, first)) = self.macs.get(&(idx, m)) {
                        self.diags.push(
                            Diag::error(
                                codes::MAC_DUPLICATE,
                                format!("MAC address {m} is used twice on network `{net_name}`"),
                            )
                            .primary(mac.span, "used again here")
                            .secondary(*first, format!("`{holder}` has it"))
                            .help("give every interface on a network its own MAC address"),
                        );
                        continue;
                    }
                    self.macs.insert((idx, m), (cname, mac.span));
                    att.mac = Some(m);
                }
                AttachStmt::Unknown(_) => {}
            }
        }
        self.aliases = aliases;
        self.link_aliases = link_aliases;
        att
    }
}
