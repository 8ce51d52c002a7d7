//! Deterministic names and ids, so that the same file plans the same way on any machine.

use sha2::{Digest, Sha256};

/// A 64-hex id from the topology name, the object kind and the object's name(s).
pub fn id(topology: &str, kind: &str, parts: &[&str]) -> String {
    let mut h = Sha256::new();
    h.update(topology.as_bytes());
    h.update([0]);
    h.update(kind.as_bytes());
    for p in parts {
        h.update([0]);
        h.update(p.as_bytes());
    }
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(64);
    for b in h.finalize() {
        out.push(HEX[usize::from(b >> 4)] as char);
        out.push(HEX[usize::from(b & 0xf)] as char);
    }
    out
}

/// Linux interface names are at most 15 bytes.
pub const IFNAMSIZ: usize = 15;

/// `br-` and the first 12 hex of the network id, as Docker names its bridges.
pub fn bridge_name(network_id: &str) -> String {
    prefixed("br-", network_id)
}

/// `prefix` and the first 12 characters of an id, allocated once at its final size.
fn prefixed(prefix: &str, id: &str) -> String {
    let hex = id.get(..12).unwrap_or(id);
    let mut s = String::with_capacity(prefix.len() + hex.len());
    s.push_str(prefix);
    s.push_str(hex);
    s
}

/// The name of the bridge behind the predefined `bridge` network.
pub const DEFAULT_BRIDGE: &str = "netplan0";

/// Host end of an endpoint's veth pair: `vnp` and 12 hex of the endpoint id (15 bytes).
/// `taken` says whether a name is already used; the name grows a suffix digit until free.
pub fn veth_name(endpoint_id: &str, taken: impl Fn(&str) -> bool) -> String {
    let base = prefixed("vnp", endpoint_id);
    if !taken(&base) {
        return base;
    }
    // Astronomically rare: a 48-bit prefix collision. Trade the last hex for a digit.
    for d in 0..10 {
        let cand = format!("{}{d}", &base[..IFNAMSIZ - 1]);
        if !taken(&cand) {
            return cand;
        }
    }
    base
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_and_distinct() {
        let a = id("t", "network", &["n"]);
        assert_eq!(a.len(), 64);
        assert_eq!(a, id("t", "network", &["n"]));
        assert_ne!(a, id("t", "container", &["n"]));
        assert_ne!(a, id("u", "network", &["n"]));
        // Parts are separated, so ("ab","c") and ("a","bc") differ.
        assert_ne!(id("t", "e", &["ab", "c"]), id("t", "e", &["a", "bc"]));
        assert_eq!(bridge_name(&a).len(), 15);
    }

    #[test]
    fn veth_names_fit_and_dodge_collisions() {
        let e = id("t", "endpoint", &["c", "n"]);
        let n = veth_name(&e, |_| false);
        assert!(n.len() <= IFNAMSIZ);
        let m = veth_name(&e, |x| x == n);
        assert_ne!(m, n);
        assert!(m.len() <= IFNAMSIZ);
    }
}
