//! Address allocation inside one subnet: lowest free first, never a reserved address.

use std::net::IpAddr;

use ipnet::IpNet;
use rustc_hash::FxHashSet;

/// Free addresses of one subnet, handed out lowest first.
///
/// Within one planning run nothing is released, so the lowest free address only ever moves
/// up: a cursor makes a whole run linear instead of quadratic.
#[derive(Debug, Clone)]
pub struct SubnetAlloc {
    subnet: IpNet,
    /// First and last candidate (the ip-range, or the subnet).
    cursor: u128,
    last: u128,
    /// Network and broadcast (IPv4), ordinal 0 (IPv6); never handed out.
    never: [Option<u128>; 2],
    taken: FxHashSet<u128>,
}

fn num(a: IpAddr) -> u128 {
    match a {
        IpAddr::V4(v) => u32::from(v).into(),
        IpAddr::V6(v) => v.into(),
    }
}

impl SubnetAlloc {
    /// `range` restricts dynamic addresses (it must lie inside `subnet`).
    pub fn new(subnet: IpNet, range: Option<IpNet>) -> Self {
        let subnet = subnet.trunc();
        let span = range.map(|r| r.trunc()).unwrap_or(subnet);
        let never = match subnet {
            IpNet::V4(n) if n.prefix_len() < 31 => {
                [Some(num(n.network().into())), Some(num(n.broadcast().into()))]
            }
            IpNet::V4(_) => [None, None],
            IpNet::V6(n) => [Some(num(n.network().into())), None],
        };
        SubnetAlloc {
            subnet,
            cursor: num(span.network()),
            last: num(span.broadcast()),
            never,
            taken: FxHashSet::default(),
        }
    }

    pub fn subnet(&self) -> IpNet {
        self.subnet
    }

    /// Whether an address may be given to an endpoint at all (inside, not reserved by rule).
    pub fn assignable(&self, a: IpAddr) -> bool {
        self.subnet.contains(&a) && !self.never.contains(&Some(num(a)))
    }

    pub fn is_taken(&self, a: IpAddr) -> bool {
        self.taken.contains(&num(a))
    }

    /// Makes room for `more` addresses to be taken, so that the set grows once.
    pub fn make_room(&mut self, more: usize) {
        self.taken.reserve(more);
    }

    /// Marks an address used (gateway, aux, static, locked). Returns false if it already was.
    pub fn reserve(&mut self, a: IpAddr) -> bool {
        self.taken.insert(num(a))
    }

    /// The lowest free address, now taken.
    pub fn take_lowest(&mut self) -> Option<IpAddr> {
        while self.cursor <= self.last {
            let n = self.cursor;
            match self.cursor.checked_add(1) {
                Some(c) => self.cursor = c,
                // the very top of the address space: nothing comes after it
                None => self.last = 0,
            }
            if self.never.contains(&Some(n)) || self.taken.contains(&n) {
                continue;
            }
            self.taken.insert(n);
            return Some(match self.subnet {
                IpNet::V4(_) => IpAddr::V4((n as u32).into()),
                IpNet::V6(_) => IpAddr::V6(n.into()),
            });
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> IpAddr {
        s.parse().unwrap_or(IpAddr::V4([0, 0, 0, 0].into()))
    }
    fn n(s: &str) -> IpNet {
        s.parse().unwrap_or_default()
    }

    #[test]
    fn lowest_free_skips_reserved() {
        let mut s = SubnetAlloc::new(n("10.1.0.0/24"), None);
        s.reserve(a("10.1.0.1"));
        s.reserve(a("10.1.0.2"));
        assert_eq!(s.take_lowest(), Some(a("10.1.0.3")));
        assert_eq!(s.take_lowest(), Some(a("10.1.0.4")));
    }

    #[test]
    fn ip_range_includes_its_zero_address() {
        // Docker hands out the range's .0 when it is not the subnet's network address.
        let mut s = SubnetAlloc::new(n("10.2.0.0/16"), Some(n("10.2.2.0/24")));
        assert_eq!(s.take_lowest(), Some(a("10.2.2.0")));
    }

    #[test]
    fn exhausts_without_broadcast() {
        let mut s = SubnetAlloc::new(n("10.0.0.0/30"), None);
        assert_eq!(s.take_lowest(), Some(a("10.0.0.1")));
        assert_eq!(s.take_lowest(), Some(a("10.0.0.2")));
        assert_eq!(s.take_lowest(), None);
        assert!(!s.assignable(a("10.0.0.3")));
    }

    #[test]
    fn ipv6_skips_only_ordinal_zero() {
        let mut s = SubnetAlloc::new(n("fd00::/126"), None);
        assert_eq!(s.take_lowest(), Some(a("fd00::1")));
        assert_eq!(s.take_lowest(), Some(a("fd00::2")));
        assert_eq!(s.take_lowest(), Some(a("fd00::3")));
        assert_eq!(s.take_lowest(), None);
    }

    #[test]
    fn top_of_address_space_does_not_wrap() {
        let mut s = SubnetAlloc::new(n("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffc/126"), None);
        assert_eq!(
            s.take_lowest(),
            Some(a("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffd"))
        );
        assert_eq!(
            s.take_lowest(),
            Some(a("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe"))
        );
        assert_eq!(
            s.take_lowest(),
            Some(a("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"))
        );
        assert_eq!(s.take_lowest(), None);
        assert_eq!(s.take_lowest(), None);
    }
}
