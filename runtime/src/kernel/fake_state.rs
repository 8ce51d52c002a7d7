//! The in-memory model behind [`FakeKernel`](super::fake::FakeKernel): namespaces with their
//! links, addresses and routes, and the kernel rules netplan relies on (subnet routes follow
//! addresses, veth pairs die together, ports lose a deleted bridge).

use std::collections::BTreeMap;
use std::io;

use ipnet::IpNet;

use super::error::libc_errno::EEXIST;
use super::types::{
    Address, FirewallSpec, Link, LinkKind, MacAddr, NsObjects, ProcessSpec, Route, RouteOrigin,
};
use super::{KernelError, KernelResult, is_netplan_tag};

#[derive(Default)]
pub(super) struct Ns {
    pub(super) links: Vec<Link>,
    pub(super) addresses: Vec<Address>,
    pub(super) routes: Vec<Route>,
    pub(super) next_index: u32,
}

impl Ns {
    pub(super) fn with_loopback() -> Ns {
        let mut ns = Ns {
            next_index: 1,
            ..Ns::default()
        };
        let index = ns.alloc_index();
        ns.links.push(Link {
            index,
            name: "lo".into(),
            kind: LinkKind::Device,
            mtu: 65536,
            mac: Some(MacAddr([0; 6])),
            master: None,
            alias: None,
            up: true,
            isolated: false,
            unfinished: false,
        });
        for a in ["127.0.0.1/8", "::1/128"] {
            if let Ok(addr) = a.parse() {
                ns.add_address("lo", addr);
            }
        }
        ns
    }

    pub(super) fn alloc_index(&mut self) -> u32 {
        let i = self.next_index;
        self.next_index += 1;
        i
    }

    pub(super) fn link(&self, name: &str) -> Option<&Link> {
        self.links.iter().find(|l| l.name == name)
    }

    pub(super) fn link_mut(&mut self, name: &str) -> Option<&mut Link> {
        self.links.iter_mut().find(|l| l.name == name)
    }

    /// Adds an address and, like the kernel, the route to its subnet (none for IPv4 /32, and
    /// none for `lo`, whose routes live in the local table, which is not observed).
    pub(super) fn add_address(&mut self, link: &str, addr: IpNet) {
        self.addresses.push(Address {
            link: link.into(),
            addr,
        });
        let v4_host = addr.addr().is_ipv4() && addr.prefix_len() == 32;
        if !v4_host && link != "lo" {
            self.routes.push(Route {
                dst: addr.trunc(),
                gateway: None,
                dev: Some(link.into()),
                origin: RouteOrigin::Kernel,
            });
        }
    }

    pub(super) fn remove_address(&mut self, link: &str, addr: IpNet) {
        self.addresses.retain(|a| !(a.link == link && a.addr == addr));
        let still_used = self
            .addresses
            .iter()
            .any(|a| a.link == link && a.addr.trunc() == addr.trunc());
        if !still_used {
            self.routes.retain(|r| {
                !(r.dev.as_deref() == Some(link) && r.origin == RouteOrigin::Kernel && r.dst == addr.trunc())
            });
        }
    }

    /// Removes a link with its addresses and routes; ports of a removed bridge lose their master.
    pub(super) fn remove_link(&mut self, name: &str) {
        self.links.retain(|l| l.name != name);
        self.addresses.retain(|a| a.link != name);
        self.routes.retain(|r| r.dev.as_deref() != Some(name));
        for l in &mut self.links {
            if l.master.as_deref() == Some(name) {
                l.master = None;
            }
        }
    }

    pub(super) fn snapshot(&self) -> NsObjects {
        let mut out = NsObjects {
            links: self.links.clone(),
            addresses: self.addresses.clone(),
            routes: self.routes.clone(),
        };
        out.links.sort_by_key(|l| l.index);
        out.addresses.sort();
        out.routes.sort();
        out.routes.dedup();
        out
    }
}

pub(super) struct NamedNs {
    pub(super) tag: Option<String>,
    pub(super) ns: Ns,
}

#[derive(Default)]
pub(super) struct State {
    pub(super) host: Ns,
    pub(super) netns: BTreeMap<String, NamedNs>,
    /// host veth name -> (netns, peer name)
    pub(super) pairs: BTreeMap<String, (String, String)>,
    pub(super) firewall: Option<FirewallSpec>,
    pub(super) forwarding: (bool, bool),
    pub(super) processes: BTreeMap<u32, ProcessSpec>,
    pub(super) next_pid: u32,
    pub(super) next_mac: u16,
    pub(super) calls: Vec<String>,
    pub(super) failures: Vec<(String, i32)>,
}

impl State {
    pub(super) fn ns(&self, netns: Option<&str>) -> Option<&Ns> {
        match netns {
            None => Some(&self.host),
            Some(n) => self.netns.get(n).map(|n| &n.ns),
        }
    }

    pub(super) fn ns_mut(&mut self, netns: Option<&str>) -> Option<&mut Ns> {
        match netns {
            None => Some(&mut self.host),
            Some(n) => self.netns.get_mut(n).map(|n| &mut n.ns),
        }
    }

    pub(super) fn mac(&mut self) -> MacAddr {
        self.next_mac = self.next_mac.wrapping_add(1);
        let [hi, lo] = self.next_mac.to_be_bytes();
        MacAddr([0x02, 0, 0, 0, hi, lo])
    }

    pub(super) fn owned_netns(&self, name: &str, op: &str) -> KernelResult<()> {
        match self.netns.get(name) {
            None => Err(KernelError::missing(op, format!("netns {name}"))),
            Some(n) if !is_netplan_tag(n.tag.as_deref()) => {
                Err(KernelError::foreign(op, format!("netns {name}")))
            }
            Some(_) => Ok(()),
        }
    }

    pub(super) fn owned_link(&self, netns: Option<&str>, name: &str, op: &str) -> KernelResult<&Link> {
        let object = link_object(netns, name);
        let ns = self
            .ns(netns)
            .ok_or_else(|| KernelError::missing(op, format!("netns {}", netns.unwrap_or(""))))?;
        match ns.link(name) {
            None => Err(KernelError::missing(op, object)),
            Some(l) if !l.is_netplan() => Err(KernelError::foreign(op, object)),
            Some(l) => Ok(l),
        }
    }

    /// The error for creating `name` where a link of that name already exists.
    pub(super) fn clash(&self, netns: Option<&str>, name: &str, object: &str) -> Option<KernelError> {
        let existing = self.ns(netns)?.link(name)?;
        Some(if existing.is_netplan() {
            KernelError::os("creating", object, io::Error::from_raw_os_error(EEXIST))
        } else {
            KernelError::foreign("creating", link_object(netns, name))
        })
    }

    pub(super) fn delete_link(&mut self, netns: Option<&str>, name: &str) {
        let peer = match netns {
            None => self.pairs.remove(name).map(|(ns, peer)| (Some(ns), peer)),
            Some(ns) => {
                let host = self
                    .pairs
                    .iter()
                    .find(|(_, (n, p))| n == ns && p == name)
                    .map(|(h, _)| h.clone());
                host.inspect(|h| {
                    self.pairs.remove(h);
                })
                .map(|h| (None, h))
            }
        };
        if let Some(ns) = self.ns_mut(netns) {
            ns.remove_link(name);
        }
        if let Some((peer_ns, peer_name)) = peer
            && let Some(ns) = self.ns_mut(peer_ns.as_deref())
        {
            ns.remove_link(&peer_name);
        }
    }
}

pub(super) fn link_object(netns: Option<&str>, name: &str) -> String {
    match netns {
        None => format!("link {name}"),
        Some(ns) => format!("link {name} in netns {ns}"),
    }
}
