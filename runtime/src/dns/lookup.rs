//! Resolution: what the container behind a [`View`] gets for one question. Pure functions over a
//! [`Snapshot`], no I/O.
//!
//! Order for a name `Q` (Docker's, see its resolver): first `Q` itself on all of the asker's DNS
//! endpoints, then every split `NAME.NETWORK` from the right (`a.b.c` → `a.b` on network `c`,
//! then `a` on network `b.c`) on that one endpoint. Within a set of endpoints, walked in
//! attachment order: first the link aliases declared on them (`link X as A` answers `A` with X's
//! address on that network while X is live there), then the names of each network (container
//! names and aliases), skipping an endpoint whose own link alias is `Q`. The first hit wins.
//!
//! A name backed by several live members answers the first one in declaration order, or all of
//! them shuffled with the network's `alias-mode all`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::atomic::{AtomicU64, Ordering};

use hickory_proto::rr::RecordType;
use netplan_lang::model::AliasMode;

use super::names::{MemberId, NetId, Snapshot, View};

/// The outcome of one question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Local records (A, AAAA or PTR data), in answer order.
    Records(Vec<Rdata>),
    /// The name exists here but has no data of that type: NOERROR, no answers.
    NoData,
    /// A netplan name the asker may not see, or an address it shares no network with.
    NxDomain,
    /// Not a netplan name: ask the upstream resolvers.
    Forward,
    /// Not a netplan name, and the asker may not forward (only on internal networks): SERVFAIL.
    NoForward,
}

/// Local record data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rdata {
    A(Ipv4Addr),
    Aaaa(Ipv6Addr),
    /// A fully qualified target, `name.network.`.
    Ptr(String),
}

/// The lower-cased text of a query name without the trailing dot (`Name` labels joined).
pub fn name_text(labels: impl Iterator<Item = impl AsRef<[u8]>>) -> String {
    let mut out = String::new();
    for (i, label) in labels.enumerate() {
        if i > 0 {
            out.push('.');
        }
        out.push_str(&String::from_utf8_lossy(label.as_ref()).to_ascii_lowercase());
    }
    out
}

/// What [`answer_into`] found, its records left in the caller's buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The buffer holds the records, in answer order.
    Records,
    NoData,
    NxDomain,
    Forward,
    NoForward,
}

/// Answers question (`qname`, `qtype`) asked by `view`. `qname` is lower-cased without the
/// trailing dot (see [`name_text`]).
pub fn answer(snap: &Snapshot, view: &View, qname: &str, qtype: RecordType) -> Answer {
    let mut records = Vec::new();
    match answer_into(snap, view, qname, qtype, &mut records) {
        Outcome::Records => Answer::Records(records),
        Outcome::NoData => Answer::NoData,
        Outcome::NxDomain => Answer::NxDomain,
        Outcome::Forward => Answer::Forward,
        Outcome::NoForward => Answer::NoForward,
    }
}

/// [`answer`] without allocating on the common path: `records` is cleared and receives the
/// records when the outcome is [`Outcome::Records`] (the serving loop reuses one buffer).
pub fn answer_into(
    snap: &Snapshot,
    view: &View,
    qname: &str,
    qtype: RecordType,
    records: &mut Vec<Rdata>,
) -> Outcome {
    records.clear();
    if let Some(ip) = reverse_ip(qname) {
        return match reverse(snap, view, ip, qtype) {
            Answer::Records(r) => {
                *records = r;
                Outcome::Records
            }
            Answer::NoData => Outcome::NoData,
            Answer::NxDomain => Outcome::NxDomain,
            Answer::Forward => Outcome::Forward,
            Answer::NoForward => Outcome::NoForward,
        };
    }
    match find(snap, view, qname) {
        Some((net, members, shuffle)) => {
            let Some(net) = snap.net(net) else {
                return Outcome::NoData;
            };
            records.extend(
                members
                    .iter()
                    .filter_map(|&m| net.member(m))
                    .filter_map(|m| match qtype {
                        RecordType::A => m.v4.map(Rdata::A),
                        RecordType::AAAA => m.v6.map(Rdata::Aaaa),
                        _ => None,
                    }),
            );
            if shuffle {
                shuffle_in_place(records);
            }
            if records.is_empty() {
                Outcome::NoData
            } else {
                Outcome::Records
            }
        }
        None if !qname.is_empty() && snap.is_known(qname) => Outcome::NxDomain,
        None if view.forward => Outcome::Forward,
        None => Outcome::NoForward,
    }
}

/// PTR (or another type) for a reverse name.
fn reverse(snap: &Snapshot, view: &View, ip: IpAddr, qtype: RecordType) -> Answer {
    let owners = snap.owners(ip);
    if owners.is_empty() {
        if snap.is_stopped_addr(ip) {
            return Answer::NxDomain;
        }
        return if view.forward {
            Answer::Forward
        } else {
            Answer::NoForward
        };
    }
    let mut records = Vec::new();
    for ep in &view.endpoints {
        for &(net_id, mid) in owners.iter().filter(|(n, _)| *n == ep.net) {
            if let Some((net, m)) = snap.net(net_id).and_then(|n| Some((n, n.member(mid)?))) {
                let target = format!("{}.{}.", m.container, net.name);
                if !records.contains(&Rdata::Ptr(target.clone())) {
                    records.push(Rdata::Ptr(target));
                }
            }
        }
    }
    match (records.is_empty(), qtype) {
        (true, _) => Answer::NxDomain,
        (false, RecordType::PTR) => Answer::Records(records),
        (false, _) => Answer::NoData,
    }
}

/// The members answering `qname` for `view`, on the network where they were found (all of
/// them shuffled with `alias-mode all`).
pub fn resolve(snap: &Snapshot, view: &View, qname: &str) -> Option<(NetId, Vec<MemberId>)> {
    let (net, members, shuffle) = find(snap, view, qname)?;
    let mut members = members.to_vec();
    if shuffle {
        shuffle_in_place(&mut members);
    }
    Some((net, members))
}

/// The members answering `qname` for `view` without allocating: the network, the members in
/// declaration order, and whether they are to be shuffled (`alias-mode all`).
fn find<'s>(snap: &'s Snapshot, view: &'s View, qname: &str) -> Option<(NetId, &'s [MemberId], bool)> {
    if qname.is_empty() {
        return None;
    }
    if let Some(hit) = find_on(snap, view, qname, None) {
        return Some(hit);
    }
    for (i, _) in qname.rmatch_indices('.') {
        let (name, network) = (&qname[..i], &qname[i + 1..]);
        if name.is_empty() || network.is_empty() {
            continue;
        }
        if let Some(hit) = find_on(snap, view, name, Some(network)) {
            return Some(hit);
        }
    }
    None
}

fn find_on<'s>(
    snap: &'s Snapshot,
    view: &'s View,
    name: &str,
    network: Option<&str>,
) -> Option<(NetId, &'s [MemberId], bool)> {
    let endpoints = || {
        view.endpoints.iter().filter_map(move |ep| {
            let net = snap.net(ep.net)?;
            network.is_none_or(|n| n == net.lname).then_some((ep, net))
        })
    };
    for (ep, net) in endpoints() {
        if let Some(target) = ep.links.get(name)
            && let Some(m) = net.member_ref(target)
        {
            return Some((ep.net, std::slice::from_ref(m), false));
        }
    }
    for (ep, net) in endpoints() {
        if ep.links.contains_key(name) {
            continue;
        }
        let backers = net.backers(name);
        if backers.is_empty() {
            continue;
        }
        return Some(match net.mode {
            AliasMode::First => (ep.net, &backers[..1], false),
            AliasMode::All => (ep.net, backers, backers.len() > 1),
        });
    }
    None
}

/// Shuffles `items` (Fisher–Yates with a small xorshift generator: unpredictable enough to
/// spread load, not meant for security).
fn shuffle_in_place<T>(items: &mut [T]) {
    static STATE: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let mut x = STATE.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed) ^ nanos | 1;
    for i in (1..items.len()).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        items.swap(i, (x % (i as u64 + 1)) as usize);
    }
}

/// The address a reverse name (`4.3.2.1.in-addr.arpa`, `…ip6.arpa`) stands for.
pub fn reverse_ip(qname: &str) -> Option<IpAddr> {
    if let Some(rest) = qname.strip_suffix(".in-addr.arpa") {
        let parts: Vec<&str> = rest.split('.').collect();
        if parts.len() != 4 {
            return None;
        }
        let mut octets = [0u8; 4];
        for (i, p) in parts.iter().rev().enumerate() {
            if p.is_empty() || p.len() > 3 || !p.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            octets[i] = p.parse().ok()?;
        }
        return Some(IpAddr::V4(Ipv4Addr::from(octets)));
    }
    let rest = qname.strip_suffix(".ip6.arpa")?;
    let nibbles: Vec<&str> = rest.split('.').collect();
    if nibbles.len() != 32 {
        return None;
    }
    let mut value: u128 = 0;
    for n in nibbles.iter().rev() {
        if n.len() != 1 {
            return None;
        }
        value = (value << 4) | u128::from(u8::from_str_radix(n, 16).ok()?);
    }
    Some(IpAddr::V6(Ipv6Addr::from(value)))
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::desired::Desired;
    use crate::ipam::HostReserved;
    use crate::lock::Lock;
    use crate::planning::against_applied;

    /// The desired state of a test topology (also used by the UDP path's tests).
    pub(in crate::dns) fn desired(text: &str) -> Desired {
        let checked = netplan_lang::check::check_text(text, "t");
        let topo = checked
            .topology
            .unwrap_or_else(|| panic!("test topology: {:?}", checked.diags));
        match against_applied(&topo, &Lock::default(), None, &HostReserved::default()) {
            Ok(p) => p.allocated.desired,
            Err(d) => panic!("test topology: {d:?}"),
        }
    }

    fn ip_of(d: &Desired, c: &str, net: &str) -> IpAddr {
        let e = d
            .container(c)
            .and_then(|c| c.endpoints.iter().find(|e| e.network == net))
            .and_then(|e| e.ipv4)
            .unwrap_or_else(|| panic!("{c} has no address on {net}"));
        IpAddr::V4(e.addr())
    }

    fn ask(s: &Snapshot, from: &str, q: &str) -> Answer {
        let view = s.view(from).unwrap_or_else(|| panic!("{from} is not served"));
        answer(s, view, q, RecordType::A)
    }

    fn a(ips: &[IpAddr]) -> Answer {
        Answer::Records(
            ips.iter()
                .map(|ip| match ip {
                    IpAddr::V4(v4) => Rdata::A(*v4),
                    IpAddr::V6(v6) => Rdata::Aaaa(*v6),
                })
                .collect(),
        )
    }

    const TWO_NETS: &str = "
        network n1 { subnet 10.1.0.0/24 }
        network n2 { subnet 10.2.0.0/24 }
        network inner { subnet 10.3.0.0/24; internal }
        container a { network n1 { alias web; link b as bee }; network n2 }
        container b { network n1 { alias web } }
        container c { network n2 { link a as A-Link } }
        container d { network inner }
        container e {}
    ";

    #[test]
    fn names_links_and_scope() {
        let d = desired(TWO_NETS);
        let s = Snapshot::build(std::slice::from_ref(&d), vec!["192.0.2.53".parse().unwrap()]);
        assert_eq!(ask(&s, "a", "b"), a(&[ip_of(&d, "b", "n1")]));
        assert_eq!(ask(&s, "a", "bee"), a(&[ip_of(&d, "b", "n1")]));
        // The link alias is private to a.
        assert_eq!(ask(&s, "b", "bee"), Answer::NxDomain);
        // c shares only n2 with a.
        assert_eq!(ask(&s, "c", "a"), a(&[ip_of(&d, "a", "n2")]));
        assert_eq!(ask(&s, "c", "a-link"), a(&[ip_of(&d, "a", "n2")]));
        assert_eq!(ask(&s, "c", "b"), Answer::NxDomain);
        assert_eq!(ask(&s, "c", "web"), Answer::NxDomain);
        assert_eq!(ask(&s, "c", "b.n1"), Answer::NxDomain);
        // NAME.NETWORK, case-insensitive.
        assert_eq!(ask(&s, "b", "a.n1"), a(&[ip_of(&d, "a", "n1")]));
        assert_eq!(ask(&s, "c", "a.n2"), a(&[ip_of(&d, "a", "n2")]));
        assert_eq!(ask(&s, "b", "a.n2"), Answer::NxDomain);
        // The first backer of `web` in declaration order.
        assert_eq!(ask(&s, "b", "web"), a(&[ip_of(&d, "a", "n1")]));
        // Unknown names go upstream, except from internal-only containers.
        assert_eq!(ask(&s, "a", "example.org"), Answer::Forward);
        assert_eq!(ask(&s, "d", "example.org"), Answer::NoForward);
        assert_eq!(ask(&s, "d", "a"), Answer::NxDomain);
        // e is only on the default bridge: not served.
        assert!(s.view("e").is_none());
        let view = s.view("a").unwrap_or_else(|| panic!("a is served"));
        assert_eq!(view.upstreams, ["192.0.2.53".parse::<IpAddr>().unwrap()]);
        // AAAA for an IPv4-only name: NOERROR without data.
        assert_eq!(answer(&s, view, "b", RecordType::AAAA), Answer::NoData);
        assert_eq!(answer(&s, view, "b", RecordType::MX), Answer::NoData);
    }

    #[test]
    fn stopped_and_disconnected_members_vanish() {
        let mut d = desired(TWO_NETS);
        for c in &mut d.containers {
            if c.name == "a" {
                c.stopped = true;
            }
        }
        let s = Snapshot::build(std::slice::from_ref(&d), vec![]);
        assert_eq!(ask(&s, "b", "web"), a(&[ip_of(&d, "b", "n1")]));
        assert_eq!(ask(&s, "b", "a"), Answer::NxDomain);
        assert!(s.view("a").is_none());
        // Disconnect b from n1: its names vanish there.
        let mut d = desired(TWO_NETS);
        for c in &mut d.containers {
            if c.name == "b" {
                c.endpoints.clear();
            }
        }
        let s = Snapshot::build(std::slice::from_ref(&d), vec![]);
        assert_eq!(ask(&s, "a", "b"), Answer::NxDomain);
        assert_eq!(ask(&s, "a", "bee"), Answer::NxDomain);
    }

    #[test]
    fn every_netplan_name_out_of_sight_is_nxdomain() {
        let text = "
            network n { subnet 10.1.0.0/24 }
            network m { subnet 10.2.0.0/24 }
            container user { network n { link target as db }; network m }
            container target { network m }
        ";
        let d = desired(text);
        let s = Snapshot::build(std::slice::from_ref(&d), vec![]);
        // The link's target is not on n: the alias answers nothing, in every spelling and form.
        for q in ["db", "db.n", "db.m", "target.n"] {
            assert_eq!(ask(&s, "user", q), Answer::NxDomain, "{q}");
        }
        assert_eq!(ask(&s, "user", "target.m"), a(&[ip_of(&d, "target", "m")]));
        // Names the topology does not define still go upstream.
        for q in ["db.example", "target.n.example", "x.n", "n", "m.db"] {
            assert_eq!(ask(&s, "user", q), Answer::Forward, "{q}");
        }
        // A stopped container: its names and its address are netplan's, answering nothing.
        let mut stopped = d.clone();
        for c in &mut stopped.containers {
            c.stopped |= c.name == "target";
        }
        let s = Snapshot::build(std::slice::from_ref(&stopped), vec![]);
        for q in ["target", "target.m", "db.n"] {
            assert_eq!(ask(&s, "user", q), Answer::NxDomain, "{q}");
        }
        let view = s.view("user").unwrap_or_else(|| panic!("user is served"));
        let IpAddr::V4(v4) = ip_of(&d, "target", "m") else {
            panic!("IPv4 expected")
        };
        let o = v4.octets();
        let ptr = format!("{}.{}.{}.{}.in-addr.arpa", o[3], o[2], o[1], o[0]);
        assert_eq!(answer(&s, view, &ptr, RecordType::PTR), Answer::NxDomain);
    }

    #[test]
    fn alias_mode_all_answers_every_live_backer() {
        let text = "
            network n { subnet 10.9.0.0/24; alias-mode all }
            container x1 { network n { alias svc } }
            container x2 { network n { alias svc } }
            container x3 { network n { alias svc } }
            container q { network n }
        ";
        let d = desired(text);
        let s = Snapshot::build(std::slice::from_ref(&d), vec![]);
        let want: Vec<IpAddr> = ["x1", "x2", "x3"].iter().map(|c| ip_of(&d, c, "n")).collect();
        let mut orders = std::collections::HashSet::new();
        for _ in 0..64 {
            let Answer::Records(r) = ask(&s, "q", "svc") else {
                panic!("svc must answer")
            };
            let mut sorted = r.clone();
            sorted.sort_by_key(|r| format!("{r:?}"));
            let mut expected = match a(&want) {
                Answer::Records(r) => r,
                _ => unreachable!(),
            };
            expected.sort_by_key(|r| format!("{r:?}"));
            assert_eq!(sorted, expected);
            orders.insert(format!("{r:?}"));
        }
        assert!(orders.len() > 1, "all backers must come shuffled");
    }

    #[test]
    fn ptr_only_for_shared_networks() {
        let d = desired(TWO_NETS);
        let s = Snapshot::build(std::slice::from_ref(&d), vec![]);
        let view = s.view("b").unwrap_or_else(|| panic!("b is served"));
        let ptr = |ip: IpAddr| {
            let IpAddr::V4(v4) = ip else { panic!() };
            let o = v4.octets();
            format!("{}.{}.{}.{}.in-addr.arpa", o[3], o[2], o[1], o[0])
        };
        assert_eq!(
            answer(&s, view, &ptr(ip_of(&d, "a", "n1")), RecordType::PTR),
            Answer::Records(vec![Rdata::Ptr("a.n1.".into())])
        );
        assert_eq!(
            answer(&s, view, &ptr(ip_of(&d, "a", "n2")), RecordType::PTR),
            Answer::NxDomain
        );
        assert_eq!(
            answer(&s, view, "9.9.9.9.in-addr.arpa", RecordType::PTR),
            Answer::Forward
        );
    }

    #[test]
    fn reverse_names_parse() {
        assert_eq!(reverse_ip("4.3.2.1.in-addr.arpa"), "1.2.3.4".parse().ok());
        assert_eq!(reverse_ip("4.3.2.in-addr.arpa"), None);
        assert_eq!(reverse_ip("400.3.2.1.in-addr.arpa"), None);
        let v6: Ipv6Addr = "fd00::1".parse().unwrap_or(Ipv6Addr::UNSPECIFIED);
        let nibbles: Vec<String> = format!("{:032x}", u128::from(v6))
            .chars()
            .rev()
            .map(|c| c.to_string())
            .collect();
        assert_eq!(
            reverse_ip(&format!("{}.ip6.arpa", nibbles.join("."))),
            Some(IpAddr::V6(v6))
        );
    }
}
