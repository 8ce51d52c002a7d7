//! Checks made before any change: nothing of them touches the kernel.

use netplan_lang::model::{Driver, NetworkKind};

use super::ApplyError;
use super::reconcile::by_name;
use super::wanted::{Wanted, bridge_addresses};
use crate::desired::Desired;
use crate::kernel::{Observed, tag_topology};

/// The topology that owns an object by its tag; `None` for a foreign (untagged) object.
fn owner_of(tag: Option<&str>) -> Option<String> {
    tag_topology(tag).map(str::to_string)
}

/// Refuses overlay networks.
pub(crate) fn overlay(new: &Desired) -> Result<(), ApplyError> {
    match new.networks.iter().find(|n| n.driver == Driver::Overlay) {
        Some(n) => Err(ApplyError::Overlay {
            network: n.name.to_string(),
        }),
        None => Ok(()),
    }
}

fn clash(object: String, owner: Option<String>, topology: &str, what: String) -> ApplyError {
    match owner {
        None => ApplyError::Foreign { object, what },
        Some(owner) => ApplyError::Clash {
            object,
            owner: if owner.is_empty() {
                "(shared by all topologies)".into()
            } else {
                owner
            },
            topology: topology.to_string(),
            what,
        },
    }
}

/// Refuses names taken by foreign objects or by other topologies, and disagreements about the
/// shared default bridge.
pub(crate) fn names(
    w: &Wanted,
    new: &Desired,
    others: &[Desired],
    observed: &Observed,
) -> Result<(), ApplyError> {
    let topo = w.topology.as_str();
    let host_links = by_name(&observed.host.links);
    for n in &w.netns {
        let what = format!("container {}", n.container);
        let object = format!("namespace {}", n.name);
        if let Some(info) = observed.netns(&n.name) {
            let owner = owner_of(info.tag.as_deref());
            if owner.as_deref() != Some(topo) {
                return Err(clash(object, owner, topo, what));
            }
        }
        for o in others {
            if o.containers.iter().any(|c| c.netns() == Some(n.name.as_str())) {
                return Err(clash(object, Some(o.topology.clone()), topo, what));
            }
        }
    }
    for b in &w.bridges {
        let what = format!("network {}", b.network);
        let object = format!("bridge {}", b.spec.name);
        let expected = tag_topology(Some(&b.spec.tag)).map(str::to_string);
        if let Some(link) = host_links.get(b.spec.name.as_str()) {
            let owner = owner_of(link.alias.as_deref());
            if owner != expected {
                return Err(clash(object, owner, topo, what));
            }
        }
        for o in others {
            for on in &o.networks {
                if on.bridge.as_deref() != Some(b.spec.name.as_str()) {
                    continue;
                }
                if !b.shared || on.kind != NetworkKind::DefaultBridge {
                    return Err(clash(object, Some(o.topology.clone()), topo, what));
                }
                let mine = new.network(&b.network);
                if bridge_addresses(on) != b.spec.addresses || Some(on.mtu) != b.spec.mtu {
                    let theirs: Vec<String> = bridge_addresses(on).iter().map(|a| a.to_string()).collect();
                    let ours: Vec<String> = b.spec.addresses.iter().map(|a| a.to_string()).collect();
                    return Err(ApplyError::SharedBridge {
                        what: format!(
                            "the default bridge {} has addresses [{}] and MTU {} in topology {}, but [{}] and MTU {} in topology {topo}",
                            b.spec.name,
                            theirs.join(", "),
                            on.mtu,
                            o.topology,
                            ours.join(", "),
                            b.spec.mtu.unwrap_or_default()
                        ),
                    });
                }
                let Some(mine) = mine else { continue };
                for (c, e) in new.endpoints().filter(|(_, e)| e.network == mine.name) {
                    let Some(ip) = e.ipv4 else { continue };
                    let taken = o.endpoints().find(|(_, oe)| {
                        oe.network == on.name && oe.ipv4.map(|a| a.addr()) == Some(ip.addr())
                    });
                    if let Some((oc, _)) = taken {
                        return Err(ApplyError::SharedBridge {
                            what: format!(
                                "container {} would get {} on the default bridge {}, which container {} of topology {} has",
                                c.name,
                                ip.addr(),
                                b.spec.name,
                                oc.name,
                                o.topology
                            ),
                        });
                    }
                }
            }
        }
    }
    for v in &w.veths {
        let what = format!("endpoint of container {} on {}", v.container, v.network);
        if let Some(link) = host_links.get(v.spec.host_name.as_str()) {
            let owner = owner_of(link.alias.as_deref());
            if owner.as_deref() != Some(topo) {
                return Err(clash(
                    format!("interface {}", v.spec.host_name),
                    owner,
                    topo,
                    what,
                ));
            }
        }
        if let Some(link) = observed
            .objects(Some(&v.spec.netns))
            .and_then(|o| o.link(&v.spec.peer_name))
            && !link.is_netplan()
        {
            return Err(clash(
                format!("interface {} in namespace {}", v.spec.peer_name, v.spec.netns),
                None,
                topo,
                what,
            ));
        }
    }
    Ok(())
}
