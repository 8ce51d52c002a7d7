//! Validation: AST → Topology, every error at once.
//!
//! The checker never stops at the first problem: each rule reports what it finds and the
//! lowering goes on with what is usable, so that one run lists everything to fix. The
//! topology is returned only when no error was found (warnings are allowed).

pub mod codes;
mod container;
mod hooks;
mod keywords;
mod links;
mod network;
mod options;
mod overlap;
mod publish;
mod static_ip;
mod subnet;
mod text;

use crate::ast::{File, Item, NetworkDecl, Spanned};
use crate::diag::Diag;
use crate::model::{Name, Network, PREDEFINED, Topology};

use subnet::SubnetInfo;

/// The checker's hash maps. Their keys are names, indices and addresses from the file being
/// checked, hashed by the hundred thousand in a large file: a fast non-cryptographic hasher
/// costs a fraction of SipHash there. (SipHash guards against keys chosen to collide; the
/// file is the user's own.)
type Map<K, V> = rustc_hash::FxHashMap<K, V>;

/// The result of checking a file: the topology when there is no error, and every finding.
#[derive(Debug, Clone)]
pub struct Checked {
    /// The validated topology; `None` as soon as one finding is an error.
    pub topology: Option<Topology>,
    /// Every finding (errors and warnings) in file order.
    pub diags: Vec<Diag>,
}

impl Checked {
    /// True when some finding is an error.
    pub fn has_errors(&self) -> bool {
        self.diags.iter().any(Diag::is_error)
    }
}

/// Checks a parsed file. `name` is the topology's name (the file stem).
pub fn check(file: &File, name: &str) -> Checked {
    let mut diags = Vec::new();
    keywords::check(file, &mut diags);
    let mut nets = network::lower_all(file, &mut diags);
    overlap::check(&nets.list, &mut diags);
    network::check_bridge_names(&nets.list, &mut diags);
    let containers = container::lower_all(file, &mut nets, &mut diags);
    let hooks = file
        .items
        .iter()
        .filter_map(|i| match i {
            Item::Hook(h) => hooks::lower(h, &mut diags),
            _ => None,
        })
        .collect();

    // Findings in file order; the sort is stable, so one span's findings keep their order.
    diags.sort_by_key(|d| d.span().map_or(0, |s| s.start));
    let topology = (!diags.iter().any(Diag::is_error)).then(|| Topology {
        name: name.to_string(),
        networks: nets.into_models(),
        containers,
        hooks,
    });
    Checked { topology, diags }
}

/// Parses and checks source text.
pub fn check_text(text: &str, name: &str) -> Checked {
    match crate::parse(text) {
        Ok(file) => check(&file, name),
        Err(diags) => Checked {
            topology: None,
            diags,
        },
    }
}

/// A network while it is being checked: the model plus what the checks need to point at.
#[derive(Debug)]
struct NetInfo<'a> {
    model: Network,
    /// `None` for a predefined network that the file does not declare.
    decl: Option<&'a NetworkDecl>,
    subnets: Vec<SubnetInfo>,
    /// The explicit Linux bridge name and where it was given.
    bridge: Option<Spanned<String>>,
    /// Some container attaches to it.
    used: bool,
}

impl NetInfo<'_> {
    /// The declared subnets of one family.
    fn subnets_of(&self, v6: bool) -> impl Iterator<Item = &SubnetInfo> {
        self.subnets.iter().filter(move |s| s.cidr.addr().is_ipv6() == v6)
    }
}

/// Every network a container can attach to: the declared ones in file order, then the
/// predefined ones the file does not declare.
#[derive(Debug)]
struct Networks<'a> {
    list: Vec<NetInfo<'a>>,
    index: Map<Name, usize>,
}

impl<'a> Networks<'a> {
    fn new() -> Self {
        Networks {
            list: Vec::new(),
            index: Map::default(),
        }
    }

    fn push(&mut self, info: NetInfo<'a>) {
        self.index.insert(info.model.name.clone(), self.list.len());
        self.list.push(info);
    }

    /// Adds the predefined networks that were not declared.
    fn add_predefined(&mut self) {
        for name in PREDEFINED {
            if self.index.contains_key(name) {
                continue;
            }
            if let Some(model) = Network::predefined(name) {
                self.push(NetInfo {
                    model,
                    decl: None,
                    subnets: Vec::new(),
                    bridge: None,
                    used: false,
                });
            }
        }
    }

    fn get(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }

    /// Names a container may attach to, for suggestions.
    fn names(&self) -> impl Iterator<Item = &str> {
        self.list.iter().map(|n| n.model.name.as_str())
    }

    /// The networks of the topology: every declared one, then the predefined ones in use.
    fn into_models(self) -> Vec<Network> {
        self.list
            .into_iter()
            .filter(|n| n.decl.is_some() || n.used)
            .map(|n| {
                let mut model = n.model;
                model.subnets = n.subnets.iter().map(SubnetInfo::to_model).collect();
                model
            })
            .collect()
    }
}
