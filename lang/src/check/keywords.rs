//! Unknown and misplaced statements: the words no block knows, with a suggestion.

use crate::ast::{AttachStmt, ContainerStmt, File, Item, NetworkStmt, SubnetStmt, Unknown};
use crate::diag::{Diag, did_you_mean};

use super::codes;
use super::text::{join, quoted};

/// The kinds of block a statement can stand in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Block {
    Top,
    Network,
    Subnet,
    Container,
    Attach,
}

impl Block {
    const ALL: [Block; 5] = [
        Block::Top,
        Block::Network,
        Block::Subnet,
        Block::Container,
        Block::Attach,
    ];

    /// The keywords that start a statement in this block.
    fn keywords(self) -> &'static [&'static str] {
        match self {
            Block::Top => &["network", "container", "hook"],
            Block::Network => &[
                "driver",
                "subnet",
                "ipv6",
                "gateway",
                "ip-range",
                "aux",
                "bridge",
                "mtu",
                "icc",
                "masquerade",
                "host-ip",
                "label",
                "internal",
                "option",
                "alias-mode",
                "hook",
            ],
            Block::Subnet => &["gateway", "ip-range", "aux"],
            Block::Container => &["network", "publish", "run", "dns", "hook"],
            Block::Attach => &["ip", "ip6", "alias", "link", "mac"],
        }
    }

    /// Where a statement of this block stands, as a message says it.
    fn place(self) -> &'static str {
        match self {
            Block::Top => "at the top level",
            Block::Network => "in a `network` block",
            Block::Subnet => "in a `subnet` block",
            Block::Container => "in a `container` block",
            Block::Attach => "in a container's `network NAME { … }` block",
        }
    }
}

/// Reports every unknown or misplaced statement of the file.
pub(super) fn check(file: &File, diags: &mut Vec<Diag>) {
    for item in &file.items {
        match item {
            Item::Unknown(u) => diags.push(report(u, Block::Top)),
            Item::Network(n) => {
                for s in n.stmts() {
                    match s {
                        NetworkStmt::Unknown(u) => diags.push(report(u, Block::Network)),
                        NetworkStmt::Subnet(sub) => {
                            for ss in sub.stmts() {
                                if let SubnetStmt::Unknown(u) = ss {
                                    diags.push(report(u, Block::Subnet));
                                }
                            }
                        }
                        _ => {}
                    }
                }
            }
            Item::Container(c) => {
                for s in c.stmts() {
                    match s {
                        ContainerStmt::Unknown(u) => diags.push(report(u, Block::Container)),
                        ContainerStmt::Network(a) => {
                            for st in a.stmts() {
                                if let AttachStmt::Unknown(u) = st {
                                    diags.push(report(u, Block::Attach));
                                }
                            }
                        }
                        _ => {}
                    }
                }
            }
            Item::Hook(_) => {}
        }
    }
}

fn report(u: &Unknown, here: Block) -> Diag {
    let word = u.keyword.value.as_str();
    let elsewhere: Vec<Block> = Block::ALL
        .into_iter()
        .filter(|b| *b != here && b.keywords().contains(&word))
        .collect();
    if !elsewhere.is_empty() {
        let places: Vec<&str> = elsewhere.iter().map(|b| b.place()).collect();
        let places = join(&places, "or");
        return Diag::error(
            codes::KEYWORD_MISPLACED,
            format!("`{word}` cannot be used {}", here.place()),
        )
        .primary(u.keyword.span, format!("`{word}` belongs {places}"))
        .help(format!("move this statement: it stands {places}"));
    }
    let d = Diag::error(codes::KEYWORD_UNKNOWN, format!("unknown keyword `{word}`"))
        .primary(u.keyword.span, format!("not a statement {}", here.place()));
    match did_you_mean(word, here.keywords().iter().copied()) {
        Some(s) => d.help(format!("did you mean `{s}`?")),
        None => d.help(format!(
            "the statements {} are {}",
            here.place(),
            quoted(here.keywords(), "and")
        )),
    }
}
