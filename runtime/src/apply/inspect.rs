//! `netplan ls` and `netplan inspect`: Docker-shaped views of what is applied, checked against
//! the kernel when it can be observed.
//!
//! Gateways appear as plain addresses, as current Docker shows them (docker-behaviours B37: the
//! actual gateway is filled in, without the mask). `IPAMConfig` is `null` unless the address
//! was declared (`ip` / `ip6`, B38).

use std::collections::BTreeMap;

use netplan_lang::model::{Driver, NetworkKind};
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::desired::{ContainerState, Desired, Endpoint, NetState, Resolver};
use crate::ids;
use crate::kernel::Observed;

/// One line of `netplan ls`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NetworkRow {
    /// The first 12 hex of the id.
    #[serde(rename = "ID")]
    pub id: String,
    /// The network's name.
    #[serde(rename = "Name")]
    pub name: String,
    /// `bridge`, `host` or `null`.
    #[serde(rename = "Driver")]
    pub driver: String,
    /// Always `local` (overlay networks are never applied).
    #[serde(rename = "Scope")]
    pub scope: String,
    /// The topology it belongs to (`None` for the predefined networks).
    #[serde(rename = "Topology")]
    pub topology: Option<String>,
}

const PREDEFINED: [(&str, &str); 3] = [("bridge", "bridge"), ("host", "host"), ("none", "null")];

/// The machine-wide id of a predefined network (one per machine, whatever the topology).
pub fn predefined_id(name: &str) -> ids::Id {
    ids::id("", "network", &[name])
}

fn driver_name(n: &NetState) -> &'static str {
    match (n.kind, n.driver) {
        (NetworkKind::Host, _) => "host",
        (NetworkKind::None, _) => "null",
        (_, Driver::Overlay) => "overlay",
        _ => "bridge",
    }
}

/// Every network on the machine: the predefined ones and each applied topology's own, sorted
/// by name (then topology).
pub fn ls(applied: &[Desired]) -> Vec<NetworkRow> {
    let mut rows: Vec<NetworkRow> = PREDEFINED
        .iter()
        .map(|(name, driver)| NetworkRow {
            id: predefined_id(name).short(),
            name: name.to_string(),
            driver: driver.to_string(),
            scope: "local".into(),
            topology: None,
        })
        .collect();
    for d in applied {
        for n in d.networks.iter().filter(|n| n.kind == NetworkKind::User) {
            rows.push(NetworkRow {
                id: n.id.short(),
                name: n.name.to_string(),
                driver: driver_name(n).into(),
                scope: "local".into(),
                topology: Some(d.topology.clone()),
            });
        }
    }
    rows.sort_by(|a, b| (&a.name, &a.topology).cmp(&(&b.name, &b.topology)));
    rows
}

/// Whether endpoint `e` exists in the kernel (always true when the kernel was not observed).
fn endpoint_live(e: &Endpoint, live: Option<&Observed>) -> bool {
    live.is_none_or(|o| o.host.link(&e.host_veth).is_some_and(|l| l.is_netplan()))
}

fn running(c: &ContainerState) -> bool {
    !c.stopped
}

fn cidr_text(ip: Option<impl ToString>) -> String {
    ip.map(|i| i.to_string()).unwrap_or_default()
}

fn ipam_config(n: &NetState) -> Vec<Value> {
    n.subnets
        .iter()
        .filter(|s| s.cidr.addr().is_ipv4() || n.ipv6)
        .map(|s| {
            let mut m = Map::new();
            m.insert("Subnet".into(), json!(s.cidr.to_string()));
            if let Some(r) = s.ip_range {
                m.insert("IPRange".into(), json!(r.to_string()));
            }
            m.insert("Gateway".into(), json!(s.gateway.to_string()));
            if !s.aux.is_empty() {
                let aux: BTreeMap<&String, String> = s.aux.iter().map(|(k, v)| (k, v.to_string())).collect();
                m.insert("AuxiliaryAddresses".into(), json!(aux));
            }
            Value::Object(m)
        })
        .collect()
}

fn network_json(
    name: &str,
    id: &ids::Id,
    driver: &str,
    n: Option<&NetState>,
    containers: Map<String, Value>,
) -> Value {
    json!({
        "Name": name,
        "Id": id,
        "Scope": "local",
        "Driver": driver,
        "EnableIPv6": n.is_some_and(|n| n.ipv6),
        "IPAM": {
            "Driver": "default",
            "Options": {},
            "Config": n.map(ipam_config).unwrap_or_default(),
        },
        "Internal": n.is_some_and(|n| n.internal),
        "Containers": containers,
        "Options": n.map(|n| json!(n.options)).unwrap_or_else(|| json!({})),
        "Labels": n.map(|n| json!(n.labels)).unwrap_or_else(|| json!({})),
    })
}

fn member(c: &ContainerState, e: Option<&Endpoint>) -> Value {
    json!({
        "Name": c.name,
        "EndpointID": e.map(|e| e.id.hex()).unwrap_or_default(),
        "MacAddress": e.map(|e| e.mac.to_string()).unwrap_or_default(),
        "IPv4Address": cidr_text(e.and_then(|e| e.ipv4)),
        "IPv6Address": cidr_text(e.and_then(|e| e.ipv6)),
    })
}

/// `netplan inspect NETWORK...`: one Docker-shaped object per match of `query` (a name, or a
/// prefix of an id) among the applied networks and the predefined ones. `Containers` lists the
/// running containers whose endpoint exists (in `live`, when the kernel was observed).
pub fn networks(applied: &[Desired], query: &str, live: Option<&Observed>) -> Vec<Value> {
    let mut out = Vec::new();
    for (name, driver) in PREDEFINED {
        let id = predefined_id(name);
        if query != name && !(query.len() >= 3 && id.starts_with(query)) {
            continue;
        }
        let mut containers = Map::new();
        let mut config: Option<&NetState> = None;
        for d in applied {
            let Some(n) = d.networks.iter().find(|n| n.name == name) else {
                continue;
            };
            config = config.or(Some(n));
            for c in d.containers.iter().filter(|c| running(c)) {
                let on = match n.kind {
                    NetworkKind::Host => c.on_host,
                    NetworkKind::None => {
                        !c.on_host && c.endpoints.is_empty() && c.resolver == Resolver::Unchanged
                    }
                    _ => false,
                };
                let e = c.endpoints.iter().find(|e| e.network == name);
                if on {
                    containers.insert(c.id.hex(), member(c, None));
                } else if let Some(e) = e.filter(|e| endpoint_live(e, live)) {
                    containers.insert(c.id.hex(), member(c, Some(e)));
                }
            }
        }
        out.push(network_json(name, &id, driver, config, containers));
    }
    for d in applied {
        for n in d.networks.iter().filter(|n| n.kind == NetworkKind::User) {
            if query != n.name && !(query.len() >= 3 && n.id.starts_with(query)) {
                continue;
            }
            let mut containers = Map::new();
            for c in d.containers.iter().filter(|c| running(c)) {
                if let Some(e) = c
                    .endpoints
                    .iter()
                    .find(|e| e.network == n.name && endpoint_live(e, live))
                {
                    containers.insert(c.id.hex(), member(c, Some(e)));
                }
            }
            out.push(network_json(&n.name, &n.id, driver_name(n), Some(n), containers));
        }
    }
    out
}

fn network_id(d: &Desired, name: &str) -> ids::Id {
    match d.network(name) {
        Some(n) if n.kind == NetworkKind::User => n.id,
        _ => predefined_id(name),
    }
}

/// `NetworkSettings.Networks` of a container, as `docker inspect` shows it.
fn settings(d: &Desired, c: &ContainerState, live: Option<&Observed>) -> Map<String, Value> {
    let mut nets = Map::new();
    if c.on_host || (c.endpoints.is_empty() && c.resolver == Resolver::Unchanged) {
        let name = if c.on_host { "host" } else { "none" };
        nets.insert(
            name.into(),
            json!({
                "IPAMConfig": null, "Links": null, "Aliases": null,
                "NetworkID": predefined_id(name), "EndpointID": "", "Gateway": "", "IPAddress": "",
                "IPPrefixLen": 0, "IPv6Gateway": "", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0,
                "MacAddress": "",
            }),
        );
        return nets;
    }
    for e in &c.endpoints {
        let up = running(c) && endpoint_live(e, live);
        let mut ipam = Map::new();
        if e.static_ipv4 {
            ipam.insert("IPv4Address".into(), json!(cidr_text(e.ipv4.map(|a| a.addr()))));
        }
        if e.static_ipv6 {
            ipam.insert("IPv6Address".into(), json!(cidr_text(e.ipv6.map(|a| a.addr()))));
        }
        let text = |s: String| if up { s } else { String::new() };
        nets.insert(
            e.network.to_string(),
            json!({
                "IPAMConfig": if ipam.is_empty() { Value::Null } else { Value::Object(ipam) },
                "Links": if e.links.is_empty() { Value::Null } else {
                    json!(e.links.iter().map(|l| format!("{}:{}", l.target, l.alias)).collect::<Vec<_>>())
                },
                "Aliases": aliases(d, c, e),
                "NetworkID": network_id(d, &e.network),
                "EndpointID": text(e.id.hex()),
                "Gateway": text(cidr_text(e.gateway4)),
                "IPAddress": text(cidr_text(e.ipv4.map(|a| a.addr()))),
                "IPPrefixLen": if up { e.ipv4.map_or(0, |a| a.prefix_len()) } else { 0 },
                "IPv6Gateway": text(cidr_text(e.gateway6)),
                "GlobalIPv6Address": text(cidr_text(e.ipv6.map(|a| a.addr()))),
                "GlobalIPv6PrefixLen": if up { e.ipv6.map_or(0, |a| a.prefix_len()) } else { 0 },
                "MacAddress": text(e.mac.to_string()),
            }),
        );
    }
    nets
}

/// An endpoint's `Aliases`: its own aliases, and on a user-defined network the container's
/// short id too, which the embedded DNS server answers there (Docker adds it the same way).
/// On the default bridge, null unless aliases were given.
fn aliases(d: &Desired, c: &ContainerState, e: &Endpoint) -> Value {
    let user = d.network(&e.network).is_some_and(|n| n.kind == NetworkKind::User);
    if !user && e.aliases.is_empty() {
        return Value::Null;
    }
    let mut all: Vec<String> = e.aliases.iter().map(|a| a.to_string()).collect();
    if user {
        all.push(c.id.short());
    }
    json!(all)
}

/// `netplan inspect --container NAME`: `docker inspect`'s shape, reduced to identity, state
/// and `NetworkSettings.Networks`.
pub fn container(d: &Desired, c: &ContainerState, live: Option<&Observed>) -> Value {
    json!({
        "Id": c.id,
        "Name": format!("/{}", c.name),
        "State": {
            "Status": if c.stopped { "exited" } else { "running" },
            "Running": !c.stopped,
        },
        "Config": { "Labels": { "netplan.topology": d.topology } },
        "NetworkSettings": {
            "SandboxKey": c.netns().map(|n| format!("/run/netns/{n}")).unwrap_or_default(),
            "Networks": settings(d, c, live),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipam::{HostReserved, allocate};
    use crate::lock::Lock;

    #[test]
    fn aliases_carry_the_short_id_on_user_networks_only() {
        let text = "network n {\n  subnet 10.9.0.0/24\n}\ncontainer web {\n  network n { alias www }\n  network bridge\n}\ncontainer db { network n }\n";
        let topo = netplan_lang::check::check_text(text, "t").topology;
        let Some(Ok(a)) = topo.map(|t| allocate(&t, &Lock::default(), &HostReserved::default())) else {
            panic!("the topology must plan")
        };
        let d = a.desired;
        let nets = |name: &str| {
            let c = d.container(name).map(|c| container(&d, c, None));
            c.map(|v| v["NetworkSettings"]["Networks"].clone())
                .unwrap_or_default()
        };
        let short = |name: &str| d.container(name).map(|c| c.id.short()).unwrap_or_default();
        let web = nets("web");
        assert_eq!(web["n"]["Aliases"], json!(["www", short("web")]));
        assert!(web["bridge"]["Aliases"].is_null(), "{web}");
        assert_eq!(nets("db")["n"]["Aliases"], json!([short("db")]));
    }
}
