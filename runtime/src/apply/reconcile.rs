//! Wanted objects + observed kernel → the ordered operations that make them match.
//!
//! Only objects tagged with the topology's tag (or the shared tag, for the default bridge) are
//! ever deleted or changed. Everything is decided from what the kernel shows now, so the result
//! converges whatever an earlier run left behind.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::PathBuf;

use ipnet::IpNet;

use super::files;
use super::host::Host;
use super::records::Records;
use super::wanted::{SHARED_TOPOLOGY, WantBridge, WantNetns, WantProcess, WantVeth, Wanted};
use crate::desired::Desired;
use crate::kernel::{FirewallSpec, Link, LinkKind, NsObjects, Observed, tag_for};

/// One change to the machine.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Op {
    /// Stop a process (a `run` process, or anything left in a namespace that goes away).
    KillProcess {
        container: String,
        netns: Option<String>,
        pid: u32,
    },
    /// Delete a veth pair by one of its ends.
    DeleteLink {
        netns: Option<String>,
        name: String,
        what: String,
    },
    /// Delete a named namespace.
    DeleteNetns { name: String, container: String },
    /// Remove the `/etc/netns` files of a namespace.
    RemoveFiles { netns: String, container: String },
    /// Delete a bridge.
    DeleteBridge { name: String, network: Option<String> },
    /// Replace the nftables table (`None`: remove it).
    Firewall(Option<FirewallSpec>),
    /// Turn forwarding on.
    Forwarding { v4: bool, v6: bool },
    /// Create a bridge.
    CreateBridge(WantBridge),
    /// Change the MTU of a link.
    SetMtu {
        netns: Option<String>,
        name: String,
        mtu: u32,
        what: String,
        address: String,
    },
    /// Make the addresses of a link exactly these.
    SetAddresses {
        netns: Option<String>,
        name: String,
        addresses: Vec<IpNet>,
        what: String,
        address: String,
    },
    /// Change the isolation flag of a bridge port.
    SetIsolation {
        name: String,
        isolated: bool,
        what: String,
        address: String,
    },
    /// Create a named namespace.
    CreateNetns(WantNetns),
    /// Bring `lo` up in a namespace that has it down.
    LoopbackUp { netns: String, container: String },
    /// Write a file.
    WriteFile {
        path: PathBuf,
        content: String,
        container: String,
    },
    /// Remove a file netplan wrote.
    RemoveResolv { netns: String, container: String },
    /// Create a veth pair.
    CreateVeth(WantVeth),
    /// Start a `run` process.
    SpawnProcess(WantProcess),
}

impl Op {
    /// What the step does, for progress output and errors.
    pub fn describe(&self) -> String {
        match self {
            Op::KillProcess { container, pid, .. } => {
                format!("stopping process {pid} of container {container}")
            }
            Op::DeleteLink { what, .. } => format!("deleting {what}"),
            Op::DeleteNetns { name, .. } => format!("deleting namespace {name}"),
            Op::RemoveFiles { netns, .. } => format!("removing /etc/netns/{netns}"),
            Op::DeleteBridge { name, network } => match network {
                Some(n) => format!("deleting bridge {name} of network {n}"),
                None => format!("deleting bridge {name}"),
            },
            Op::Firewall(Some(_)) => "replacing the nftables table".into(),
            Op::Firewall(None) => "removing the nftables table".into(),
            Op::Forwarding { v4, v6 } => match (v4, v6) {
                (true, true) => "enabling IPv4 and IPv6 forwarding".into(),
                (true, false) => "enabling IPv4 forwarding".into(),
                _ => "enabling IPv6 forwarding".into(),
            },
            Op::CreateBridge(b) => format!("creating bridge {} of network {}", b.spec.name, b.network),
            Op::SetMtu { what, mtu, .. } => format!("setting MTU {mtu} on {what}"),
            Op::SetAddresses { what, .. } => format!("setting the addresses of {what}"),
            Op::SetIsolation { what, isolated, .. } => {
                format!("{} {what}", if *isolated { "isolating" } else { "un-isolating" })
            }
            Op::CreateNetns(n) => format!("creating namespace {} of container {}", n.name, n.container),
            Op::LoopbackUp { netns, .. } => format!("bringing up lo in namespace {netns}"),
            Op::WriteFile { path, .. } => format!("writing {}", path.display()),
            Op::RemoveResolv { netns, .. } => format!("removing /etc/netns/{netns}/resolv.conf"),
            Op::CreateVeth(v) => format!(
                "creating veth {} ({} of container {} on {})",
                v.spec.host_name, v.spec.peer_name, v.container, v.network
            ),
            Op::SpawnProcess(p) => format!("starting the run process of container {}", p.container),
        }
    }
}

/// Everything reconciliation needs besides the kernel observation.
pub(crate) struct Inputs<'a> {
    pub wanted: &'a Wanted,
    pub observed: &'a Observed,
    /// Desired states of the other applied topologies (shared bridge users).
    pub others: &'a [Desired],
    /// The firewall wanted after this run (`None`: no netplan network left).
    pub firewall: Option<FirewallSpec>,
    /// The firewall recorded as applied.
    pub recorded_firewall: Option<FirewallSpec>,
    /// Whether netplan's nftables table exists now.
    pub firewall_present: bool,
    /// Forwarding now (v4, v6).
    pub forwarding_now: (bool, bool),
    /// Forwarding wanted (v4, v6).
    pub forwarding: (bool, bool),
    /// Recorded `run` processes of this topology.
    pub records: &'a Records,
    /// Containers recorded for this topology (their files go when they do).
    pub recorded_netns: Vec<String>,
    /// Host ends of recorded veth pairs and their namespaces: a pair whose namespace is deleted
    /// goes with it (the kernel removes all its links at once, far faster than one by one).
    pub recorded_veths: HashMap<String, String>,
    /// The `/etc/netns` files as they are now.
    pub files: &'a files::Cache,
    pub host: &'a dyn Host,
}

fn link_what(netns: Option<&str>, name: &str, container: &str, network: &str) -> String {
    match netns {
        None => format!("veth {name} of container {container} on {network}"),
        Some(ns) => format!("interface {name} in namespace {ns} (container {container} on {network})"),
    }
}

/// Whether an existing veth pair can stay as it is (up to MTU, isolation and addresses).
fn compatible(
    v: &WantVeth,
    host_end: &Link,
    inside: Option<&NsObjects>,
    recreated_bridges: &HashSet<&str>,
) -> bool {
    if host_end.kind != LinkKind::Veth
        || host_end.unfinished
        || host_end.master.as_deref() != Some(v.spec.bridge.as_str())
        || !host_end.up
        || recreated_bridges.contains(v.spec.bridge.as_str())
    {
        return false;
    }
    let Some(inside) = inside else { return false };
    let Some(peer) = inside.link(&v.spec.peer_name) else {
        return false;
    };
    if peer.kind != LinkKind::Veth || peer.unfinished || peer.alias != Some(v.spec.tag.clone()) || !peer.up {
        return false;
    }
    if v.spec.mac.is_some() && peer.mac != v.spec.mac {
        return false;
    }
    // Addresses may be fixed in place only within the same subnets (routes stay valid).
    let have: BTreeSet<IpNet> = inside
        .addresses_of(&v.spec.peer_name)
        .iter()
        .map(|a| a.trunc())
        .collect();
    let want: BTreeSet<IpNet> = v.spec.addresses.iter().map(|a| a.trunc()).collect();
    if have != want {
        return false;
    }
    let routes = inside.routes_via(&v.spec.peer_name);
    v.spec
        .routes
        .iter()
        .all(|r| routes.iter().any(|o| o.dst == r.dst && o.gateway == r.gateway))
}

/// Links by name (lookups for a thousand containers stay linear).
pub(crate) fn by_name(links: &[Link]) -> HashMap<&str, &Link> {
    links.iter().map(|l| (l.name.as_str(), l)).collect()
}

fn sorted(mut v: Vec<IpNet>) -> Vec<IpNet> {
    v.sort();
    v
}

/// The operations, in execution order.
pub(crate) fn reconcile(i: &Inputs) -> Vec<Op> {
    let w = i.wanted;
    let obs = i.observed;
    let shared_tag = tag_for(SHARED_TOPOLOGY);
    let ours = |l: &Link| l.alias.as_deref() == Some(w.tag.as_str());
    let host_links = by_name(&obs.host.links);

    let mut kills = Vec::new();
    let mut del_links = Vec::new();
    let mut del_ns = Vec::new();
    let mut del_bridges = Vec::new();
    let mut creates = Vec::new();
    let mut ns_creates = Vec::new();
    let mut file_ops = Vec::new();
    let mut veth_ops = Vec::new();
    let mut spawns = Vec::new();

    // ---------------------------------------------------------------- bridges
    let mut recreated_bridges: HashSet<&str> = HashSet::new();
    let wanted_bridges: HashSet<&str> = w.bridges.iter().map(|b| b.spec.name.as_str()).collect();
    let used_by_others: HashSet<&str> = i
        .others
        .iter()
        .flat_map(|d| d.networks.iter().filter_map(|n| n.bridge.as_deref()))
        .collect();
    for l in obs.host.links.iter().filter(|l| l.kind == LinkKind::Bridge) {
        let shared = l.alias.as_deref() == Some(shared_tag.as_str());
        if !(ours(l) || shared) || wanted_bridges.contains(l.name.as_str()) {
            continue;
        }
        if shared && used_by_others.contains(l.name.as_str()) {
            continue;
        }
        del_bridges.push(Op::DeleteBridge {
            name: l.name.clone(),
            network: None,
        });
    }
    for b in &w.bridges {
        match host_links.get(b.spec.name.as_str()).copied() {
            None => creates.push(Op::CreateBridge(b.clone())),
            Some(l) if l.kind != LinkKind::Bridge || !l.up || l.unfinished => {
                recreated_bridges.insert(b.spec.name.as_str());
                del_bridges.push(Op::DeleteBridge {
                    name: b.spec.name.clone(),
                    network: Some(b.network.clone()),
                });
                creates.push(Op::CreateBridge(b.clone()));
            }
            Some(l) => {
                let what = format!("bridge {} of network {}", b.spec.name, b.network);
                if let Some(mtu) = b.spec.mtu
                    && l.mtu != mtu
                {
                    creates.push(Op::SetMtu {
                        netns: None,
                        name: b.spec.name.clone(),
                        mtu,
                        what: what.clone(),
                        address: format!("network.{}", b.network),
                    });
                }
                if sorted(obs.host.addresses_of(&b.spec.name)) != b.spec.addresses {
                    creates.push(Op::SetAddresses {
                        netns: None,
                        name: b.spec.name.clone(),
                        addresses: b.spec.addresses.clone(),
                        what,
                        address: format!("network.{}", b.network),
                    });
                }
            }
        }
    }

    // ---------------------------------------------------------------- namespaces
    let wanted_ns: HashMap<&str, &WantNetns> = w.netns.iter().map(|n| (n.name.as_str(), n)).collect();
    let mut new_ns: HashSet<&str> = HashSet::new();
    for n in &w.netns {
        // Listed but not observed inside: a mount point without its namespace (a crash while
        // it was made); creating the namespace replaces it.
        match obs
            .objects(Some(&n.name))
            .filter(|_| obs.netns(&n.name).is_some())
        {
            None => {
                new_ns.insert(n.name.as_str());
                ns_creates.push(Op::CreateNetns(n.clone()));
            }
            Some(inside) if inside.link("lo").is_some_and(|lo| !lo.up) => {
                ns_creates.push(Op::LoopbackUp {
                    netns: n.name.clone(),
                    container: n.container.clone(),
                });
            }
            Some(_) => {}
        }
    }
    let mut gone_ns: Vec<(String, String)> = obs
        .netns
        .iter()
        .filter(|n| n.tag.as_deref() == Some(w.tag.as_str()) && !wanted_ns.contains_key(n.name.as_str()))
        .map(|n| (n.name.clone(), n.name.clone()))
        .collect();
    gone_ns.sort();

    // ---------------------------------------------------------------- processes
    let wanted_procs: HashMap<&str, &WantProcess> =
        w.processes.iter().map(|p| (p.container.as_str(), p)).collect();
    let netns_of: HashMap<&str, &str> = w
        .netns
        .iter()
        .map(|n| (n.container.as_str(), n.name.as_str()))
        .collect();
    let mut killed: HashSet<u32> = HashSet::new();
    let mut running: HashSet<&str> = HashSet::new();
    for (container, rec) in &i.records.processes {
        if i.host.process_start(rec.pid) != Some(rec.start) {
            continue;
        }
        let keep = wanted_procs
            .get(container.as_str())
            .is_some_and(|p| p.argv == rec.argv && p.netns.as_deref().is_none_or(|ns| !new_ns.contains(ns)));
        if keep {
            running.insert(container.as_str());
        } else {
            killed.insert(rec.pid);
            kills.push(Op::KillProcess {
                container: container.clone(),
                netns: netns_of
                    .get(container.as_str())
                    .map(|n| n.to_string())
                    .or_else(|| {
                        let at = gone_ns.binary_search_by(|(n, _)| n.as_str().cmp(container));
                        at.ok().map(|i| gone_ns[i].0.clone())
                    }),
                pid: rec.pid,
            });
        }
    }
    let gone_names: Vec<&str> = gone_ns.iter().map(|(n, _)| n.as_str()).collect();
    let mut inside_gone = i.host.processes_in(&gone_names);
    for (ns, container) in &gone_ns {
        for pid in inside_gone.remove(ns).unwrap_or_default() {
            if killed.insert(pid) {
                kills.push(Op::KillProcess {
                    container: container.clone(),
                    netns: Some(ns.clone()),
                    pid,
                });
            }
        }
    }
    for p in &w.processes {
        if !running.contains(p.container.as_str()) {
            spawns.push(Op::SpawnProcess(p.clone()));
        }
    }

    // ---------------------------------------------------------------- veth pairs
    let wanted_veths: HashMap<&str, &WantVeth> =
        w.veths.iter().map(|v| (v.spec.host_name.as_str(), v)).collect();
    let mut kept_peers: HashSet<(&str, &str)> = HashSet::new();
    let gone: HashSet<&str> = gone_ns.iter().map(|(n, _)| n.as_str()).collect();
    for l in obs
        .host
        .links
        .iter()
        .filter(|l| l.kind == LinkKind::Veth && ours(l))
    {
        let with_netns = i
            .recorded_veths
            .get(&l.name)
            .is_some_and(|ns| gone.contains(ns.as_str()));
        // An unfinished pair is deleted by name even so: that also ends its creation record.
        if !wanted_veths.contains_key(l.name.as_str()) && (!with_netns || l.unfinished) {
            del_links.push(Op::DeleteLink {
                netns: None,
                name: l.name.clone(),
                what: format!("veth {}", l.name),
            });
        }
    }
    for v in &w.veths {
        let ns = v.spec.netns.as_str();
        let inside = if new_ns.contains(ns) {
            None
        } else {
            obs.objects(Some(ns))
        };
        let what = link_what(None, &v.spec.host_name, &v.container, &v.network);
        match host_links.get(v.spec.host_name.as_str()).copied() {
            None => veth_ops.push(Op::CreateVeth(v.clone())),
            Some(host_end) if !compatible(v, host_end, inside, &recreated_bridges) => {
                del_links.push(Op::DeleteLink {
                    netns: None,
                    name: v.spec.host_name.clone(),
                    what,
                });
                veth_ops.push(Op::CreateVeth(v.clone()));
            }
            Some(host_end) => {
                kept_peers.insert((ns, v.spec.peer_name.as_str()));
                let Some(inside) = inside else { continue };
                let Some(peer) = inside.link(&v.spec.peer_name) else {
                    continue;
                };
                let peer_what = link_what(Some(ns), &v.spec.peer_name, &v.container, &v.network);
                let address = format!("endpoint.{}.{}", v.container, v.network);
                if let Some(mtu) = v.spec.mtu {
                    if host_end.mtu != mtu {
                        veth_ops.push(Op::SetMtu {
                            netns: None,
                            name: v.spec.host_name.clone(),
                            mtu,
                            what: what.clone(),
                            address: address.clone(),
                        });
                    }
                    if peer.mtu != mtu {
                        veth_ops.push(Op::SetMtu {
                            netns: Some(ns.to_string()),
                            name: v.spec.peer_name.clone(),
                            mtu,
                            what: peer_what.clone(),
                            address: address.clone(),
                        });
                    }
                }
                if host_end.isolated != v.spec.isolated {
                    veth_ops.push(Op::SetIsolation {
                        name: v.spec.host_name.clone(),
                        isolated: v.spec.isolated,
                        what: what.clone(),
                        address: address.clone(),
                    });
                }
                if sorted(inside.addresses_of(&v.spec.peer_name)) != v.spec.addresses {
                    veth_ops.push(Op::SetAddresses {
                        netns: Some(ns.to_string()),
                        name: v.spec.peer_name.clone(),
                        addresses: v.spec.addresses.clone(),
                        what: peer_what,
                        address,
                    });
                }
            }
        }
    }
    // Container-side ends nobody wants any more (their pair goes with them).
    for n in &w.netns {
        if new_ns.contains(n.name.as_str()) {
            continue;
        }
        let Some(inside) = obs.objects(Some(&n.name)) else {
            continue;
        };
        for l in inside
            .links
            .iter()
            .filter(|l| l.kind == LinkKind::Veth && ours(l))
        {
            if !kept_peers.contains(&(n.name.as_str(), l.name.as_str())) {
                del_links.push(Op::DeleteLink {
                    netns: Some(n.name.clone()),
                    name: l.name.clone(),
                    what: format!("interface {} in namespace {}", l.name, n.name),
                });
            }
        }
    }
    for (ns, container) in &gone_ns {
        del_ns.push(Op::DeleteNetns {
            name: ns.clone(),
            container: container.clone(),
        });
    }

    // ---------------------------------------------------------------- /etc/netns files
    let etc = i.host.etc_netns();
    let mut files_gone: BTreeSet<String> = gone_ns.iter().map(|(n, _)| n.clone()).collect();
    files_gone.extend(
        i.recorded_netns
            .iter()
            .filter(|n| !wanted_ns.contains_key(n.as_str()))
            .cloned(),
    );
    files_gone.extend(
        i.files
            .dirs_of(&etc, &w.topology, |ns| wanted_ns.contains_key(ns)),
    );
    for ns in files_gone {
        if i.files.read(&files::hosts_path(&etc, &ns)).is_some()
            || i.files.read(&files::resolv_path(&etc, &ns)).is_some()
        {
            del_ns.push(Op::RemoveFiles {
                container: ns.clone(),
                netns: ns,
            });
        }
    }
    for f in &w.files {
        let hosts = files::hosts_content(&w.topology, &f.hosts);
        let hosts_path = files::hosts_path(&etc, &f.netns);
        if i.files.read(&hosts_path).as_deref() != Some(hosts.as_str()) {
            file_ops.push(Op::WriteFile {
                path: hosts_path,
                content: hosts,
                container: f.container.clone(),
            });
        }
        let resolv_path = files::resolv_path(&etc, &f.netns);
        let current = i.files.read(&resolv_path);
        match &f.resolv {
            Some(text) if current.as_deref() != Some(text.as_str()) => file_ops.push(Op::WriteFile {
                path: resolv_path,
                content: text.clone(),
                container: f.container.clone(),
            }),
            None if current.is_some_and(|t| t.starts_with("# Generated by netplan")) => {
                file_ops.push(Op::RemoveResolv {
                    netns: f.netns.clone(),
                    container: f.container.clone(),
                })
            }
            _ => {}
        }
    }

    // ---------------------------------------------------------------- firewall, forwarding
    let mut global = Vec::new();
    match &i.firewall {
        Some(spec) if i.recorded_firewall.as_ref() != Some(spec) || !i.firewall_present => {
            global.push(Op::Firewall(Some(spec.clone())));
        }
        None if i.recorded_firewall.is_some() || i.firewall_present => global.push(Op::Firewall(None)),
        _ => {}
    }
    let (v4_now, v6_now) = i.forwarding_now;
    let (v4, v6) = (i.forwarding.0 && !v4_now, i.forwarding.1 && !v6_now);
    if v4 || v6 {
        global.push(Op::Forwarding { v4, v6 });
    }

    let mut ops = kills;
    ops.extend(del_links);
    ops.extend(del_ns);
    ops.extend(del_bridges);
    ops.extend(global);
    ops.extend(creates);
    ops.extend(ns_creates);
    ops.extend(file_ops);
    ops.extend(veth_ops);
    ops.extend(spawns);
    ops
}
