//! The read-only values a hook sees (`topology`, `plan`, `network`, `container`), built from the
//! desired state and the plan as Rhai object maps. `docs/hooks.md` documents their shape; keep
//! the two in step.
//!
//! Absent optional values are `()`. Addresses are strings: `ipv4` is the bare address
//! (`"172.25.0.2"`), `ipv4_cidr` the address with its prefix (`"172.25.0.2/16"`).

use std::fmt::Display;

use rhai::{Array, Dynamic, Map};
use serde::Serialize;

use crate::desired::{ContainerState, Desired, Endpoint, NetState, SubnetState};
use crate::diff::{Change, Object, Plan};

fn text(s: impl Into<String>) -> Dynamic {
    Dynamic::from(s.into())
}

fn opt<T: Display>(v: Option<T>) -> Dynamic {
    v.map_or(Dynamic::UNIT, |v| text(v.to_string()))
}

fn int(v: impl Into<i64>) -> Dynamic {
    Dynamic::from_int(v.into())
}

fn list<T: Display>(items: &[T]) -> Dynamic {
    Dynamic::from_array(items.iter().map(|i| text(i.to_string())).collect())
}

/// The serde name of a unit enum value (`"user"`, `"bridge"`, `"create"`, ...).
fn word<T: Serialize>(v: &T) -> Dynamic {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => text(s),
        _ => Dynamic::UNIT,
    }
}

fn map<const N: usize>(entries: [(&str, Dynamic); N]) -> Dynamic {
    let mut m = Map::new();
    for (k, v) in entries {
        m.insert(k.into(), v);
    }
    Dynamic::from_map(m)
}

fn string_map<'a>(entries: impl Iterator<Item = (&'a String, String)>) -> Dynamic {
    let mut m = Map::new();
    for (k, v) in entries {
        m.insert(k.as_str().into(), text(v));
    }
    Dynamic::from_map(m)
}

fn subnet(s: &SubnetState) -> Dynamic {
    map([
        ("cidr", text(s.cidr.to_string())),
        ("gateway", text(s.gateway.to_string())),
        ("ip_range", opt(s.ip_range)),
        ("aux", string_map(s.aux.iter().map(|(k, v)| (k, v.to_string())))),
        ("automatic", Dynamic::from_bool(s.automatic)),
    ])
}

/// One network: `#{ name, id, kind, driver, bridge, subnets, ipv6, mtu, icc, masquerade,
/// internal, host_ip, alias_mode, labels, options, dns, names }`.
pub fn network(n: &NetState) -> Dynamic {
    let names: Array = n
        .records
        .iter()
        .map(|r| {
            map([
                ("name", text(r.name.clone())),
                ("container", text(r.container.clone())),
                ("alias", Dynamic::from_bool(r.alias)),
            ])
        })
        .collect();
    map([
        ("name", text(n.name.clone())),
        ("id", text(n.id.hex())),
        ("kind", word(&n.kind)),
        ("driver", word(&n.driver)),
        ("bridge", opt(n.bridge.as_deref())),
        (
            "subnets",
            Dynamic::from_array(n.subnets.iter().map(subnet).collect()),
        ),
        ("ipv6", Dynamic::from_bool(n.ipv6)),
        ("mtu", int(n.mtu)),
        ("icc", Dynamic::from_bool(n.icc)),
        ("masquerade", Dynamic::from_bool(n.masquerade)),
        ("internal", Dynamic::from_bool(n.internal)),
        ("host_ip", opt(n.host_ip)),
        ("alias_mode", word(&n.alias_mode)),
        ("labels", string_map(n.labels.iter().map(|(k, v)| (k, v.clone())))),
        (
            "options",
            string_map(n.options.iter().map(|(k, v)| (k, v.clone()))),
        ),
        ("dns", Dynamic::from_bool(n.has_dns())),
        ("names", Dynamic::from_array(names)),
    ])
}

/// One endpoint: `#{ network, interface, host_veth, ipv4, ipv4_cidr, ipv6, ipv6_cidr,
/// gateway4, gateway6, mac, mtu, aliases, links, default_route }`.
pub fn endpoint(e: &Endpoint) -> Dynamic {
    let links: Array = e
        .links
        .iter()
        .map(|l| {
            map([
                ("target", text(l.target.clone())),
                ("alias", text(l.alias.clone())),
            ])
        })
        .collect();
    map([
        ("network", text(e.network.clone())),
        ("interface", text(e.interface.to_string())),
        ("host_veth", text(e.host_veth.clone())),
        ("ipv4", opt(e.ipv4.map(|n| n.addr()))),
        ("ipv4_cidr", opt(e.ipv4)),
        ("ipv6", opt(e.ipv6.map(|n| n.addr()))),
        ("ipv6_cidr", opt(e.ipv6)),
        ("gateway4", opt(e.gateway4)),
        ("gateway6", opt(e.gateway6)),
        ("mac", text(e.mac.to_string())),
        ("mtu", int(e.mtu)),
        ("aliases", list(&e.aliases)),
        ("links", Dynamic::from_array(links)),
        ("default_route", Dynamic::from_bool(e.default_route)),
    ])
}

/// One container: `#{ name, id, netns, stopped, run, resolver, dns, hosts, networks,
/// endpoints, ports }`.
pub fn container(c: &ContainerState) -> Dynamic {
    let ports: Array = c
        .ports
        .iter()
        .map(|p| {
            map([
                ("host_ip", opt(p.host_ip)),
                ("host_port", int(p.host_port)),
                ("container_ip", text(p.container_ip.to_string())),
                ("port", int(p.port)),
                ("proto", text(p.proto.to_string())),
            ])
        })
        .collect();
    let networks: Vec<&str> = c.endpoints.iter().map(|e| e.network.as_str()).collect();
    map([
        ("name", text(c.name.clone())),
        ("id", text(c.id.hex())),
        ("netns", opt(c.netns())),
        ("stopped", Dynamic::from_bool(c.stopped)),
        ("run", opt(c.run.as_deref())),
        ("resolver", word(&c.resolver)),
        ("dns", list(&c.dns)),
        ("hosts", text(c.hosts())),
        ("networks", list(&networks)),
        (
            "endpoints",
            Dynamic::from_array(c.endpoints.iter().map(endpoint).collect()),
        ),
        ("ports", Dynamic::from_array(ports)),
    ])
}

/// The whole desired state: `#{ name, networks, containers }`, in declaration order.
pub fn topology(d: &Desired) -> Dynamic {
    map([
        ("name", text(d.topology.clone())),
        (
            "networks",
            Dynamic::from_array(d.networks.iter().map(network).collect()),
        ),
        (
            "containers",
            Dynamic::from_array(d.containers.iter().map(container).collect()),
        ),
    ])
}

/// A recorded side of a change, in the shape of [`network`], [`container`] or [`endpoint`].
fn side(o: Option<&Object>) -> Dynamic {
    match o {
        None => Dynamic::UNIT,
        Some(Object::Network(n)) => network(n),
        Some(Object::Container(c)) => container(c),
        Some(Object::Endpoint(e)) => endpoint(e),
    }
}

/// One change: `#{ address, kind, action, name, reason, attrs, before, after }`.
pub fn change(c: &Change) -> Dynamic {
    let attrs: Array = c
        .attrs
        .iter()
        .map(|a| {
            map([
                ("name", text(a.name.clone())),
                ("old", opt(a.old.as_deref())),
                ("new", opt(a.new.as_deref())),
                ("forces_replacement", Dynamic::from_bool(a.forces_replacement)),
            ])
        })
        .collect();
    map([
        ("address", text(c.address.clone())),
        ("kind", word(&c.kind)),
        ("action", word(&c.action)),
        ("name", text(c.name.clone())),
        ("reason", opt(c.reason.as_deref())),
        ("attrs", Dynamic::from_array(attrs)),
        ("before", side(c.before.as_ref())),
        ("after", side(c.after.as_ref())),
    ])
}

/// The plan: `#{ changes, summary: #{ add, change, destroy }, empty }`.
pub fn plan(p: &Plan) -> Dynamic {
    let s = p.summary();
    let count = |n: usize| int(i64::try_from(n).unwrap_or(i64::MAX));
    map([
        (
            "changes",
            Dynamic::from_array(p.changes.iter().map(change).collect()),
        ),
        (
            "summary",
            map([
                ("add", count(s.add)),
                ("change", count(s.change)),
                ("destroy", count(s.destroy)),
            ]),
        ),
        ("empty", Dynamic::from_bool(p.is_empty())),
    ])
}
