//! The diff: previous desired state + new desired state → an ordered list of changes.
//!
//! Order respects dependencies: endpoints are removed before their container and network,
//! networks exist before the endpoints that join them. Connecting or disconnecting one
//! endpoint leaves the container's other endpoints alone.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::net::IpAddr;

use ipnet::IpNet;
use netplan_lang::model::Mac;
use rustc_hash::FxHashMap as HashMap;

use serde::Serialize;

use crate::desired::{ContainerState, Desired, Endpoint, Interface, NetState};
use crate::ipam::Note;
use crate::positions::Positions;

/// What kind of object a change is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Network,
    Container,
    Endpoint,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Create,
    Update,
    /// Destroy, then create anew.
    Replace,
    Delete,
}

/// One changed attribute; `None` on a side where it does not exist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AttrChange {
    /// Most names are fixed words (`mtu`); a few are made (`labels.KEY`).
    pub name: Cow<'static, str>,
    pub old: Option<String>,
    pub new: Option<String>,
    /// This attribute alone would force a replacement.
    pub forces_replacement: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    /// `network.NAME`, `container.NAME` or `endpoint.CONTAINER.NETWORK`.
    pub address: String,
    pub kind: Kind,
    pub action: Action,
    /// The object's name (network or container), or `container.network` for endpoints.
    pub name: String,
    /// Attributes that differ (all of them for create and delete).
    pub attrs: Vec<AttrChange>,
    /// Why: the cause of a replacement, of a start, of a drift repair.
    pub reason: Option<String>,
    /// How many attributes stay as they are (shown as a count, not listed).
    pub unchanged: usize,
    #[serde(skip)]
    pub before: Option<Object>,
    #[serde(skip)]
    pub after: Option<Object>,
}

/// A network, container or endpoint as a whole: one side of a change. Kept as the typed
/// value (a copy, boxed) rather than as JSON: a plan is mostly shown as text, and building
/// a JSON tree of every changed object took dozens of small allocations each, which with
/// 10,000 containers cost more than the comparison itself. It serializes as the object.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Object {
    Network(Box<NetState>),
    Container(Box<ContainerState>),
    Endpoint(Box<Endpoint>),
}

impl Object {
    fn network(n: &NetState) -> Option<Object> {
        Some(Object::Network(Box::new(n.clone())))
    }

    fn container(c: &ContainerState) -> Option<Object> {
        Some(Object::Container(Box::new(c.clone())))
    }

    fn endpoint(e: &Endpoint) -> Option<Object> {
        Some(Object::Endpoint(Box::new(e.clone())))
    }
}

/// A reviewable plan.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Plan {
    pub changes: Vec<Change>,
    pub notes: Vec<Note>,
}

/// Counts in Terraform's sense: a replacement is one add and one destroy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub add: usize,
    pub change: usize,
    pub destroy: usize,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    pub fn summary(&self) -> Summary {
        let mut s = Summary::default();
        for c in &self.changes {
            match c.action {
                Action::Create => s.add += 1,
                Action::Update => s.change += 1,
                Action::Replace => {
                    s.add += 1;
                    s.destroy += 1;
                }
                Action::Delete => s.destroy += 1,
            }
        }
        s
    }
}

/// Attributes of an object as ordered (name, value) pairs. The values are kept as they are
/// in the object and made into text only when shown: an update compares them first, and
/// only the ones that changed are written out.
struct Attrs<'a> {
    list: Vec<(Cow<'static, str>, Value<'a>)>,
}

/// An attribute's value before it is text. Each attribute is always listed as the same
/// kind of value, so two are equal exactly when their texts are.
#[derive(Debug, PartialEq)]
enum Value<'a> {
    /// A string, quoted with escapes.
    Quoted(&'a str),
    /// A value whose text never needs escaping (addresses, subnets, MACs), quoted.
    Plain(Plain),
    Bool(bool),
    Number(u32),
    /// Text made already (lists, enum names).
    Text(String),
}

#[derive(Debug, PartialEq)]
enum Plain {
    Net(IpNet),
    Ip(IpAddr),
    Mac(Mac),
    Interface(Interface),
}

impl Value<'_> {
    fn text(&self) -> String {
        match self {
            Value::Quoted(s) => quote(s),
            Value::Plain(p) => match p {
                Plain::Net(n) => quote_plain(n),
                Plain::Ip(ip) => quote_plain(ip),
                Plain::Mac(m) => quote_plain(m),
                Plain::Interface(i) => quote_plain(i),
            },
            Value::Bool(b) => b.to_string(),
            Value::Number(n) => n.to_string(),
            Value::Text(t) => t.clone(),
        }
    }

    /// The text, taking it when it was made already.
    fn into_text(self) -> String {
        match self {
            Value::Text(t) => t,
            v => v.text(),
        }
    }
}

impl<'a> Attrs<'a> {
    fn new() -> Self {
        Attrs {
            list: Vec::with_capacity(16),
        }
    }
    fn put(&mut self, name: impl Into<Cow<'static, str>>, value: Value<'a>) {
        self.list.push((name.into(), value));
    }
    fn opt(&mut self, name: &'static str, value: Option<Value<'a>>) {
        if let Some(v) = value {
            self.put(name, v);
        }
    }
    /// `["a", "b"]`: each value's text quoted, written into one string.
    fn list<T: ToString>(&mut self, name: &'static str, values: &[T]) {
        use std::fmt::Write as _;
        if values.is_empty() {
            return;
        }
        let mut text = String::from("[");
        for (i, v) in values.iter().enumerate() {
            if i > 0 {
                text.push_str(", ");
            }
            let _ = write!(text, "{:?}", v.to_string());
        }
        text.push(']');
        self.put(name, Value::Text(text));
    }
}

fn quote(s: &str) -> String {
    format!("{s:?}")
}

/// An enum's variant name in lower case, quoted (`"bridge"`), in one allocation.
fn quote_lower(v: impl std::fmt::Debug) -> Value<'static> {
    let mut text = format!("\"{v:?}\"");
    text.make_ascii_lowercase();
    Value::Text(text)
}

/// A quoted value whose text never needs escaping (addresses, subnets, MACs): the same as
/// [`quote`] of its text, in one allocation rather than two.
fn quote_plain(v: impl std::fmt::Display) -> String {
    format!("\"{v}\"")
}

fn net(n: impl Into<IpNet>) -> Value<'static> {
    Value::Plain(Plain::Net(n.into()))
}

fn ip(a: impl Into<IpAddr>) -> Value<'static> {
    Value::Plain(Plain::Ip(a.into()))
}

fn network_attrs(n: &NetState) -> Attrs<'_> {
    let mut a = Attrs::new();
    // The short form is what is shown, so it is what is compared.
    a.put("id", Value::Text(quote_plain(n.id.short())));
    a.put("driver", quote_lower(n.driver));
    a.opt("bridge", n.bridge.as_deref().map(Value::Quoted));
    for s in &n.subnets {
        let v4 = s.cidr.addr().is_ipv4();
        let fam = if v4 { "ipv4" } else { "ipv6" };
        let [subnet, gateway, ip_range] = if v4 {
            ["ipv4.subnet", "ipv4.gateway", "ipv4.ip_range"]
        } else {
            ["ipv6.subnet", "ipv6.gateway", "ipv6.ip_range"]
        };
        a.put(subnet, net(s.cidr));
        a.put(gateway, ip(s.gateway));
        a.opt(ip_range, s.ip_range.map(net));
        for (k, v) in &s.aux {
            a.put(format!("{fam}.aux.{k}"), ip(*v));
        }
    }
    a.put("ipv6", Value::Bool(n.ipv6));
    a.put("mtu", Value::Number(n.mtu));
    a.put("icc", Value::Bool(n.icc));
    a.put("masquerade", Value::Bool(n.masquerade));
    a.put("internal", Value::Bool(n.internal));
    a.opt("host_ip", n.host_ip.map(ip));
    a.put("alias_mode", quote_lower(n.alias_mode));
    for (k, v) in &n.labels {
        a.put(format!("labels.{k}"), Value::Quoted(v));
    }
    for (k, v) in &n.options {
        a.put(format!("options.{k}"), Value::Quoted(v));
    }
    a
}

fn network_forces(name: &str) -> bool {
    name == "driver"
        || name == "bridge"
        || name == "ipv6"
        || name.ends_with(".subnet")
        || name.ends_with(".gateway")
        || name.ends_with(".ip_range")
}

fn container_attrs(c: &ContainerState) -> Attrs<'_> {
    let mut a = Attrs::new();
    a.put(
        "state",
        Value::Quoted(if c.stopped { "stopped" } else { "running" }),
    );
    a.put("netns", Value::Quoted(c.netns().unwrap_or("(host)")));
    a.opt("run", c.run.as_deref().map(Value::Quoted));
    a.put("resolver", quote_lower(c.resolver));
    a.list("dns", &c.dns);
    let ports: Vec<String> = c
        .ports
        .iter()
        .map(|p| {
            let host = match p.host_ip {
                Some(std::net::IpAddr::V6(ip)) => format!("[{ip}]:"),
                Some(ip) => format!("{ip}:"),
                None => String::new(),
            };
            format!("{host}{}->{}:{}/{}", p.host_port, p.container_ip, p.port, p.proto)
        })
        .collect();
    a.list("ports", &ports);
    // /etc/hosts beyond the two localhost lines: the container's own name, legacy links.
    let hosts: Vec<String> = c.hosts().lines().skip(2).map(|l| l.replace('\t', " ")).collect();
    a.list("hosts", &hosts);
    a
}

fn container_forces(name: &str) -> bool {
    name == "netns"
}

fn endpoint_attrs(e: &Endpoint) -> Attrs<'_> {
    let mut a = Attrs::new();
    a.put("interface", Value::Plain(Plain::Interface(e.interface)));
    a.put("host_veth", Value::Quoted(&e.host_veth));
    a.opt("ipv4", e.ipv4.map(net));
    a.opt("ipv6", e.ipv6.map(net));
    a.opt("gateway4", e.gateway4.map(ip));
    a.opt("gateway6", e.gateway6.map(ip));
    a.put("mac", Value::Plain(Plain::Mac(e.mac)));
    a.put("mtu", Value::Number(e.mtu));
    a.list("aliases", &e.aliases);
    let links: Vec<String> = e
        .links
        .iter()
        .map(|l| format!("{} as {}", l.target, l.alias))
        .collect();
    a.list("links", &links);
    a.put("default_route", Value::Bool(e.default_route));
    a
}

fn endpoint_forces(name: &str) -> bool {
    name == "interface" || name == "host_veth"
}

/// All attributes of one side, for create and delete.
fn one_side(attrs: Attrs<'_>, created: bool) -> Vec<AttrChange> {
    attrs
        .list
        .into_iter()
        .map(|(name, v)| {
            let v = v.into_text();
            AttrChange {
                name,
                old: (!created).then(|| v.clone()),
                new: created.then_some(v),
                forces_replacement: false,
            }
        })
        .collect()
}

/// The attributes that differ, in the order of the new side (then removed ones), and how
/// many are the same. Only the ones that differ are made into text.
fn compare(old: Attrs<'_>, new: Attrs<'_>, forces: fn(&str) -> bool) -> (Vec<AttrChange>, usize) {
    let mut out = Vec::new();
    // Both sides are listed by one function, so they usually name the same attributes in
    // the same order: then they compare pairwise, without looking names up.
    if old.list.len() == new.list.len() && old.list.iter().zip(&new.list).all(|(o, n)| o.0 == n.0) {
        let listed = new.list.len();
        for ((name, o), (_, v)) in old.list.into_iter().zip(new.list) {
            if o != v {
                let forces_replacement = forces(&name);
                out.push(AttrChange {
                    name,
                    old: Some(o.into_text()),
                    new: Some(v.into_text()),
                    forces_replacement,
                });
            }
        }
        let unchanged = listed - out.len();
        return (out, unchanged);
    }
    let old_map: BTreeMap<&str, &Value<'_>> = old.list.iter().map(|(k, v)| (k.as_ref(), v)).collect();
    let new_map: BTreeMap<&str, &Value<'_>> = new.list.iter().map(|(k, v)| (k.as_ref(), v)).collect();
    for (k, v) in &new.list {
        match old_map.get(k.as_ref()) {
            Some(o) if *o == v => {}
            o => out.push(AttrChange {
                name: k.clone(),
                old: o.map(|o| o.text()),
                new: Some(v.text()),
                forces_replacement: forces(k),
            }),
        }
    }
    for (k, v) in &old.list {
        if !new_map.contains_key(k.as_ref()) {
            out.push(AttrChange {
                name: k.clone(),
                old: Some(v.text()),
                new: None,
                forces_replacement: forces(k),
            });
        }
    }
    let unchanged = new
        .list
        .len()
        .saturating_sub(out.iter().filter(|a| a.new.is_some()).count());
    (out, unchanged)
}

/// Describes the forced attributes as a reason, e.g. "ipv4.subnet changed".
fn forced_reason(attrs: &[AttrChange]) -> Option<String> {
    let forced: Vec<&str> = attrs
        .iter()
        .filter(|a| a.forces_replacement)
        .map(|a| a.name.as_ref())
        .collect();
    (!forced.is_empty()).then(|| format!("{} changed", forced.join(", ")))
}

/// A container's endpoints that exist in the kernel: none while it is stopped.
fn live(c: &ContainerState) -> &[Endpoint] {
    if c.stopped { &[] } else { &c.endpoints }
}

/// Whether two networks are equal in everything but their DNS records, which are many (a
/// name per member) and make no change of the network's own: then its attributes are equal.
fn same_but_records(a: &NetState, b: &NetState) -> bool {
    // Every field is named, so that a new one cannot be left out here.
    let NetState {
        name,
        id,
        kind,
        driver,
        bridge,
        subnets,
        ipv6,
        mtu,
        icc,
        masquerade,
        internal,
        host_ip,
        alias_mode,
        labels,
        options,
        records: _,
    } = a;
    *name == b.name
        && *id == b.id
        && *kind == b.kind
        && *driver == b.driver
        && *bridge == b.bridge
        && *subnets == b.subnets
        && *ipv6 == b.ipv6
        && *mtu == b.mtu
        && *icc == b.icc
        && *masquerade == b.masquerade
        && *internal == b.internal
        && *host_ip == b.host_ip
        && *alias_mode == b.alias_mode
        && *labels == b.labels
        && *options == b.options
}

/// The objects of both sides paired by name, by position, and whether each pair is the same.
#[derive(Debug, PartialEq, Eq)]
struct Pairs {
    /// For each new object, the old one of its name (of several, the last).
    old_of_new: Vec<Option<usize>>,
    /// For each old object, the new one of its name (of several, the last).
    new_of_old: Vec<Option<usize>>,
    /// For each new object, whether it is the same as its old one (see [`pair_up`]).
    same: Vec<bool>,
    /// No name is given twice on either side.
    unique: bool,
}

impl Pairs {
    /// Whether old object `k` has a new one equal to it.
    fn kept_as_is(&self, k: usize) -> bool {
        self.new_of_old[k].is_some_and(|j| self.same[j] && self.old_of_new[j] == Some(k))
    }
}

/// Pairs the objects of both sides by name, in one pass over the old side that compares
/// each pair right away. With 10,000 containers the old state no longer fits the caches:
/// every further pass over it, or lookup by a name stored in it, reads it from memory anew.
/// `eq` says whether two objects of one name are the same, needing no further comparison.
fn pair_up<T>(old: &[T], new: &[T], name: fn(&T) -> &str, eq: fn(&T, &T) -> bool) -> Pairs {
    pair_in_place(old, new, name, eq).unwrap_or_else(|| pair_by_name(old, new, name, eq))
}

/// [`pair_up`] for sides in any order, through a table of the new side's names.
fn pair_by_name<T>(old: &[T], new: &[T], name: fn(&T) -> &str, eq: fn(&T, &T) -> bool) -> Pairs {
    let (new_index, mut unique) = Positions::new(new, name);
    let mut old_of_new = vec![None; new.len()];
    let mut same = vec![false; new.len()];
    let mut new_of_old = Vec::with_capacity(old.len());
    for (k, o) in old.iter().enumerate() {
        let j = new_index.find(name(o));
        new_of_old.push(j);
        if let Some(j) = j {
            // A second old object of this name.
            unique &= old_of_new[j].is_none();
            old_of_new[j] = Some(k);
            same[j] = unique && eq(o, &new[j]);
        }
    }
    if !unique {
        // A name given twice on one side (never from a checked topology): pair as maps
        // filled in order would, the last object of a name standing for it.
        let old_index: HashMap<&str, usize> = old.iter().enumerate().map(|(k, o)| (name(o), k)).collect();
        old_of_new = new.iter().map(|n| old_index.get(name(n)).copied()).collect();
        same = new
            .iter()
            .zip(&old_of_new)
            .map(|(n, k)| k.and_then(|k| old.get(k)).is_some_and(|o| eq(o, n)))
            .collect();
    }
    Pairs {
        old_of_new,
        new_of_old,
        same,
        unique,
    }
}

/// [`pair_up`] when both sides name the same objects in the same order, as after an edit
/// that added, removed and reordered nothing: each object pairs with the one at its
/// position, and the two are named, indexed (to tell a name given twice) and compared
/// while both are in the caches, in one pass. None when the sides differ in that.
fn pair_in_place<T>(old: &[T], new: &[T], name: fn(&T) -> &str, eq: fn(&T, &T) -> bool) -> Option<Pairs> {
    if old.len() != new.len() {
        return None;
    }
    let mut seen = Positions::empty(new, name);
    let mut same = Vec::with_capacity(new.len());
    for (j, (o, n)) in old.iter().zip(new).enumerate() {
        if name(o) != name(n) || !seen.insert(j) {
            return None;
        }
        same.push(eq(o, n));
    }
    let at_own_place: Vec<Option<usize>> = (0..new.len()).map(Some).collect();
    Some(Pairs {
        old_of_new: at_own_place.clone(),
        new_of_old: at_own_place,
        same,
        unique: true,
    })
}

/// The outcome of [`diff_named`]: creates, updates and replacements in the new side's
/// order (with the positions of the old and new object of each), deletions sorted by name,
/// the names replaced (with the reason), and the pairing of both sides.
struct Named<'a> {
    upserts: Vec<Change>,
    upsert_pairs: Vec<(Option<usize>, usize)>,
    deletes: Vec<Change>,
    replaced: HashMap<&'a str, String>,
    pairs: Pairs,
}

/// How [`diff_named`] treats one kind of object: its name; whether two objects of one name
/// are the same, needing no further comparison; its attributes, and which of them force a
/// replacement; and the copy of it a change keeps.
struct Rules<T> {
    name: fn(&T) -> &str,
    same: fn(&T, &T) -> bool,
    attrs: fn(&T) -> Attrs<'_>,
    forces: fn(&str) -> bool,
    object: fn(&T) -> Option<Object>,
}

/// Diffs one kind of named object (networks or containers). `same` tells objects that
/// have no change of their own without listing their attributes.
fn diff_named<'a, T>(kind: Kind, old: &'a [T], new: &'a [T], rules: Rules<T>) -> Named<'a> {
    let Rules {
        name,
        same,
        attrs,
        forces,
        object,
    } = rules;
    let prefix = format!("{kind:?}").to_lowercase();
    let pairs = pair_up(old, new, name, same);
    let mut upserts = Vec::new();
    let mut upsert_pairs = Vec::new();
    let mut replaced = HashMap::default();
    for (j, n) in new.iter().enumerate() {
        let k = pairs.old_of_new[j];
        let change = |action, attrs, reason, unchanged, before| Change {
            address: format!("{prefix}.{}", name(n)),
            kind,
            action,
            name: name(n).to_string(),
            attrs,
            reason,
            unchanged,
            before,
            after: object(n),
        };
        match k.and_then(|k| old.get(k)) {
            None => {
                upserts.push(change(Action::Create, one_side(attrs(n), true), None, 0, None));
                upsert_pairs.push((None, j));
            }
            // Nothing of its own changed: nothing to compare attribute by attribute.
            Some(_) if pairs.same[j] => {}
            Some(o) => {
                let (changed, unchanged) = compare(attrs(o), attrs(n), forces);
                // Differences outside the attributes (a network's records, a container's
                // endpoints) show in the changes of the objects they belong to.
                if changed.is_empty() {
                    continue;
                }
                let reason = forced_reason(&changed);
                let action = if reason.is_some() {
                    Action::Replace
                } else {
                    Action::Update
                };
                if let Some(r) = &reason {
                    replaced.insert(name(n), r.clone());
                }
                upserts.push(change(action, changed, reason, unchanged, object(o)));
                upsert_pairs.push((k, j));
            }
        }
    }
    let mut removed: Vec<&T> = old
        .iter()
        .zip(&pairs.new_of_old)
        .filter(|(_, j)| j.is_none())
        .map(|(o, _)| o)
        .collect();
    removed.sort_by(|a, b| name(a).cmp(name(b)));
    let deletes = removed
        .into_iter()
        .map(|o| Change {
            address: format!("{prefix}.{}", name(o)),
            kind,
            action: Action::Delete,
            name: name(o).to_string(),
            attrs: one_side(attrs(o), false),
            reason: None,
            unchanged: 0,
            before: object(o),
            after: None,
        })
        .collect();
    Named {
        upserts,
        upsert_pairs,
        deletes,
        replaced,
        pairs,
    }
}

/// Computes the ordered changes from `old` (what was applied; empty for none) to `new`.
pub fn diff(old: &Desired, new: &Desired) -> Plan {
    let Named {
        upserts: creates_net,
        deletes: deletes_net,
        replaced: replaced_nets,
        ..
    } = diff_named(
        Kind::Network,
        &old.networks,
        &new.networks,
        Rules {
            name: |n| &n.name,
            same: same_but_records,
            attrs: network_attrs,
            forces: network_forces,
            object: Object::network,
        },
    );
    let Named {
        upserts: mut creates_c,
        upsert_pairs: pairs_c,
        deletes: deletes_c,
        replaced: replaced_cs,
        pairs: cs,
    } = diff_named(
        Kind::Container,
        &old.containers,
        &new.containers,
        Rules {
            name: |c| &c.name,
            // As a whole: equal containers also have equal endpoints, which are then skipped.
            same: |a, b| a == b,
            attrs: container_attrs,
            forces: container_forces,
            object: Object::container,
        },
    );
    for (ch, (k, j)) in creates_c
        .iter_mut()
        .zip(pairs_c)
        .filter(|(c, _)| c.reason.is_none())
    {
        // The last container of the name, should a name be given twice.
        let now = if cs.unique {
            new.containers.get(j)
        } else {
            new.containers.iter().rev().find(|c| c.name == ch.name)
        };
        let started = k.and_then(|k| old.containers.get(k)).is_some_and(|o| o.stopped)
            && now.is_some_and(|c| !c.stopped);
        if started {
            ch.reason = Some("stopped; will be started".into());
        }
    }

    // Endpoints. A stopped container's endpoints are down: starting it creates them again.
    let mut creates_e = Vec::new();
    let mut deletes_e = Vec::new();
    for (j, (c, k)) in new.containers.iter().zip(&cs.old_of_new).enumerate() {
        // Unchanged, it has the same endpoints (one per network): they change only with the
        // replacement of their network or container. With nothing replaced, as is usual, the
        // container itself need not be read again.
        if cs.same[j]
            && (replaced_cs.is_empty() || !replaced_cs.contains_key(c.name.as_str()))
            && (replaced_nets.is_empty()
                || live(c)
                    .iter()
                    .all(|e| !replaced_nets.contains_key(e.network.as_str())))
        {
            continue;
        }
        // A container has a handful of endpoints: a scan beats building a map per container.
        let old_eps: &[Endpoint] = k.and_then(|k| old.containers.get(k)).map_or(&[], live);
        for e in live(c) {
            // Formatted only for the endpoints that change.
            let address = || format!("endpoint.{}.{}", c.name, e.network);
            let name = || format!("{}.{}", c.name, e.network);
            match old_eps.iter().find(|o| o.network == e.network) {
                None => creates_e.push(Change {
                    address: address(),
                    kind: Kind::Endpoint,
                    action: Action::Create,
                    name: name(),
                    attrs: one_side(endpoint_attrs(e), true),
                    reason: None,
                    unchanged: 0,
                    before: None,
                    after: Object::endpoint(e),
                }),
                Some(o)
                    if o == e
                        && !replaced_nets.contains_key(e.network.as_str())
                        && !replaced_cs.contains_key(c.name.as_str()) => {}
                Some(o) => {
                    let (attrs, unchanged) = compare(endpoint_attrs(o), endpoint_attrs(e), endpoint_forces);
                    let cause = replaced_nets
                        .get(e.network.as_str())
                        .map(|_| format!("network {} is replaced", e.network))
                        .or_else(|| {
                            replaced_cs
                                .get(c.name.as_str())
                                .map(|_| format!("container {} is replaced", c.name))
                        });
                    if attrs.is_empty() && cause.is_none() {
                        continue;
                    }
                    let reason = forced_reason(&attrs).or(cause);
                    let action = if reason.is_some() {
                        Action::Replace
                    } else {
                        Action::Update
                    };
                    creates_e.push(Change {
                        address: address(),
                        kind: Kind::Endpoint,
                        action,
                        name: name(),
                        attrs,
                        reason,
                        unchanged,
                        before: Object::endpoint(o),
                        after: Object::endpoint(e),
                    });
                }
            }
        }
    }
    for (k, (o, j)) in old.containers.iter().zip(&cs.new_of_old).enumerate() {
        if cs.kept_as_is(k) {
            continue;
        }
        let new_c = j.and_then(|j| new.containers.get(j));
        let new_eps: &[Endpoint] = new_c.map_or(&[], live);
        for e in live(o) {
            if new_eps.iter().any(|n| n.network == e.network) {
                continue;
            }
            let reason = new_c
                .filter(|c| c.stopped)
                .map(|_| format!("container {} is stopped", o.name));
            deletes_e.push(Change {
                address: format!("endpoint.{}.{}", o.name, e.network),
                kind: Kind::Endpoint,
                action: Action::Delete,
                name: format!("{}.{}", o.name, e.network),
                attrs: one_side(endpoint_attrs(e), false),
                reason,
                unchanged: 0,
                before: Object::endpoint(e),
                after: None,
            });
        }
    }
    deletes_e.sort_by(|a, b| a.address.cmp(&b.address));

    let mut changes = Vec::new();
    changes.extend(deletes_e);
    changes.extend(deletes_c);
    changes.extend(deletes_net);
    changes.extend(creates_net);
    changes.extend(creates_c);
    changes.extend(creates_e);
    Plan {
        changes,
        notes: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &(String, u8)) -> &str {
        &s.0
    }

    fn same(a: &(String, u8), b: &(String, u8)) -> bool {
        a == b
    }

    proptest::proptest! {
        /// Pairing in place, when it applies, pairs exactly as pairing by name does.
        #[test]
        fn in_place_pairs_as_by_name(
            old in proptest::collection::vec(("[a-d]{1,2}", 0..3u8), 0..12),
            edits in proptest::collection::vec((0..12usize, 0..3u8), 0..4),
            rename in proptest::option::of((0..12usize, "[a-d]{1,2}")),
        ) {
            // Mostly the same names in the same order, with some values changed.
            let mut new = old.clone();
            for (i, v) in edits {
                if let Some(e) = new.get_mut(i) {
                    e.1 = v;
                }
            }
            if let Some((i, n)) = rename
                && let Some(e) = new.get_mut(i)
            {
                e.0 = n;
            }
            let by_name = pair_by_name(&old, &new, name, same);
            if let Some(in_place) = pair_in_place(&old, &new, name, same) {
                proptest::prop_assert_eq!(in_place, by_name);
            } else {
                // It declines only when the names are not the same ones, each once.
                let names: Vec<&str> = new.iter().map(name).collect();
                let distinct: std::collections::BTreeSet<&str> = names.iter().copied().collect();
                proptest::prop_assert!(
                    old.iter().map(name).ne(names.iter().copied()) || distinct.len() < names.len()
                );
            }
        }
    }
}
