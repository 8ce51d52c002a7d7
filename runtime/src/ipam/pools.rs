//! Where automatic subnets come from, and in which order.

use std::net::Ipv6Addr;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use sha2::{Digest, Sha256};

/// Docker's default local pools, in the order they are handed out:
/// 172.17/16, 172.18/16, 172.19/16, then 172.20/14, 172.24/14 and 172.28/14 split into
/// /16s, then 192.168/16 split into /20s (31 pools).
pub fn default_v4() -> impl Iterator<Item = Ipv4Net> {
    let fixed = [[172, 17], [172, 18], [172, 19]]
        .into_iter()
        .filter_map(|[a, b]| Ipv4Net::new([a, b, 0, 0].into(), 16).ok());
    let wide = [[172, 20], [172, 24], [172, 28]]
        .into_iter()
        .filter_map(|[a, b]| Ipv4Net::new([a, b, 0, 0].into(), 14).ok())
        .flat_map(|n| n.subnets(16).into_iter().flatten());
    let small = Ipv4Net::new([192, 168, 0, 0].into(), 16)
        .ok()
        .into_iter()
        .flat_map(|n| n.subnets(20).into_iter().flatten());
    fixed.chain(wide).chain(small)
}

/// A unique-local /48 for the topology (RFC 4193: `fd` + a 40-bit global id, here derived
/// from the topology name so that it is stable), split into /64s in order.
pub fn ula_v6(topology: &str) -> impl Iterator<Item = Ipv6Net> {
    ula_v6_from(topology, 0)
}

/// [`ula_v6`] from its `start`-th /64 on, without making the ones before.
pub fn ula_v6_from(topology: &str, start: u128) -> impl Iterator<Item = Ipv6Net> {
    let digest = Sha256::digest(format!("netplan-ula\0{topology}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes[0] = 0xfd;
    bytes[1..6].copy_from_slice(&digest[..5]);
    let base = u128::from_be_bytes(bytes);
    (start..=0xffff).filter_map(move |i| Ipv6Net::new(Ipv6Addr::from(base | (i << 64)), 64).ok())
}

/// CIDR blocks either nest or are disjoint, so containment both ways is exact overlap.
pub fn overlaps(a: &IpNet, b: &IpNet) -> bool {
    match (a, b) {
        (IpNet::V4(x), IpNet::V4(y)) => x.contains(&y.network()) || y.contains(&x.network()),
        (IpNet::V6(x), IpNet::V6(y)) => x.contains(&y.network()) || y.contains(&x.network()),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_pool_order() {
        let pools: Vec<String> = default_v4().map(|n| n.to_string()).collect();
        assert_eq!(pools.len(), 31);
        assert_eq!(pools[0], "172.17.0.0/16");
        assert_eq!(pools[2], "172.19.0.0/16");
        assert_eq!(pools[3], "172.20.0.0/16");
        assert_eq!(pools[14], "172.31.0.0/16");
        assert_eq!(pools[15], "192.168.0.0/20");
        assert_eq!(pools[30], "192.168.240.0/20");
    }

    #[test]
    fn ula_is_stable_unique_local() {
        let a: Vec<_> = ula_v6("t").take(2).collect();
        assert_eq!(a, ula_v6("t").take(2).collect::<Vec<_>>());
        assert!(a[0].to_string().starts_with("fd"));
        assert_eq!(a[0].prefix_len(), 64);
        assert_ne!(a[0], a[1]);
        assert_ne!(a[0], ula_v6("u").next().unwrap_or(a[1]));
        assert_eq!(ula_v6_from("t", 1).next(), Some(a[1]));
        assert_eq!(ula_v6_from("t", 0x1_0000).next(), None);
    }

    #[test]
    fn overlap_is_nesting() {
        let n = |s: &str| s.parse::<IpNet>().unwrap_or_else(|_| IpNet::default());
        assert!(overlaps(&n("10.0.0.0/8"), &n("10.1.0.0/16")));
        assert!(overlaps(&n("10.1.0.0/16"), &n("10.0.0.0/8")));
        assert!(!overlaps(&n("10.0.0.0/16"), &n("10.1.0.0/16")));
        assert!(!overlaps(&n("10.0.0.0/8"), &n("fd00::/8")));
    }
}
