//! The stable codes of every diagnostic the checker emits.
//!
//! A code names one rule; it never changes once released, so that scripts and editors can
//! rely on it (`netplan check --json`).

/// A statement word that is no keyword at all (`subnett`).
pub const KEYWORD_UNKNOWN: &str = "netplan::keyword::unknown";
/// A keyword of another block (`ip` inside a network block).
pub const KEYWORD_MISPLACED: &str = "netplan::keyword::misplaced";

/// Two networks with one name.
pub const NETWORK_DUPLICATE: &str = "netplan::network::duplicate";
/// `network host`, `network none` or `network default`: predefined, cannot be declared.
pub const NETWORK_PREDEFINED: &str = "netplan::network::predefined";
/// `driver` other than `bridge` or `overlay`.
pub const NETWORK_DRIVER: &str = "netplan::network::driver";
/// `alias-mode` other than `first` or `all`.
pub const NETWORK_ALIAS_MODE: &str = "netplan::network::alias-mode";
/// A single-valued setting given twice (`mtu` twice, one label key twice, ...).
pub const NETWORK_SETTING_TWICE: &str = "netplan::network::setting-twice";
/// A setting the default `bridge` network cannot take (`internal`, `driver overlay`).
pub const NETWORK_DEFAULT_BRIDGE: &str = "netplan::network::default-bridge";
/// An MTU outside 68–65535.
pub const NETWORK_MTU: &str = "netplan::network::mtu";

/// A Linux bridge name that the kernel would refuse.
pub const BRIDGE_NAME: &str = "netplan::bridge::name";
/// Two networks asking for one Linux bridge name.
pub const BRIDGE_DUPLICATE: &str = "netplan::bridge::duplicate";

/// An `option` key that is not one of Docker's bridge option keys.
pub const OPTION_UNKNOWN: &str = "netplan::option::unknown";
/// An `option` value that does not parse (bool, address, number).
pub const OPTION_VALUE: &str = "netplan::option::value";
/// A setting given both natively and as an option, with different values.
pub const OPTION_CONFLICT: &str = "netplan::option::conflict";

/// Warning: a network without an explicit subnet.
pub const SUBNET_AUTOMATIC: &str = "netplan::subnet::automatic";
/// Warning: a CIDR with host bits set (`10.0.0.5/24`).
pub const SUBNET_HOST_BITS: &str = "netplan::subnet::host-bits";
/// Subnets that overlap, across networks or within one.
pub const SUBNET_OVERLAP: &str = "netplan::subnet::overlap";
/// A bridge network with two subnets of one address family.
pub const SUBNET_MULTIPLE: &str = "netplan::subnet::multiple";
/// Warning: an IPv6 subnet on a network without `ipv6` (Docker ignores it).
pub const SUBNET_IPV6_IGNORED: &str = "netplan::subnet::ipv6-ignored";
/// A network-level `gateway`/`ip-range`/`aux` with no subnet, or several, of its family.
pub const SUBNET_SHORTHAND: &str = "netplan::subnet::shorthand";

/// An address of the wrong family (an IPv6 gateway for an IPv4 subnet).
pub const ADDRESS_FAMILY: &str = "netplan::address::family";

/// A gateway outside its subnet.
pub const GATEWAY_OUTSIDE: &str = "netplan::gateway::outside";
/// A gateway on the network or broadcast address.
pub const GATEWAY_RESERVED: &str = "netplan::gateway::reserved";
/// Two gateways for one subnet.
pub const GATEWAY_MULTIPLE: &str = "netplan::gateway::multiple";

/// An ip-range outside its subnet.
pub const IP_RANGE_OUTSIDE: &str = "netplan::ip-range::outside";
/// Two ip-ranges for one subnet.
pub const IP_RANGE_MULTIPLE: &str = "netplan::ip-range::multiple";

/// An aux address outside its subnet.
pub const AUX_OUTSIDE: &str = "netplan::aux::outside";
/// An aux address on the network or broadcast address.
pub const AUX_RESERVED: &str = "netplan::aux::reserved";
/// An aux address equal to the gateway.
pub const AUX_GATEWAY: &str = "netplan::aux::gateway";
/// Two aux addresses with one name in one subnet.
pub const AUX_DUPLICATE_NAME: &str = "netplan::aux::duplicate-name";
/// Two aux addresses with one address.
pub const AUX_DUPLICATE_ADDRESS: &str = "netplan::aux::duplicate-address";

/// Two containers with one name.
pub const CONTAINER_DUPLICATE: &str = "netplan::container::duplicate";
/// A single-valued container setting given twice (`run`).
pub const CONTAINER_SETTING_TWICE: &str = "netplan::container::setting-twice";

/// An attachment to a network that does not exist.
pub const ATTACH_UNKNOWN_NETWORK: &str = "netplan::attach::unknown-network";
/// A container attached to one network twice.
pub const ATTACH_TWICE: &str = "netplan::attach::twice";
/// `host` or `none` together with another network.
pub const ATTACH_EXCLUSIVE: &str = "netplan::attach::exclusive";
/// A single-valued attachment setting given twice (`ip`, `ip6`, `mac`).
pub const ATTACH_SETTING_TWICE: &str = "netplan::attach::setting-twice";

/// A static IP on a predefined network.
pub const IP_PREDEFINED: &str = "netplan::ip::predefined";
/// A static IP on a network without a declared subnet of its family.
pub const IP_NO_SUBNET: &str = "netplan::ip::no-subnet";
/// A static IPv6 address on a network without `ipv6`.
pub const IP_NO_IPV6: &str = "netplan::ip::no-ipv6";
/// A static IP outside every subnet of the network.
pub const IP_OUTSIDE: &str = "netplan::ip::outside";
/// A static IP on the network or broadcast address.
pub const IP_RESERVED: &str = "netplan::ip::reserved";
/// A static IP equal to the gateway or an aux address.
pub const IP_TAKEN: &str = "netplan::ip::taken";
/// Two containers with one static IP on one network.
pub const IP_IN_USE: &str = "netplan::ip::in-use";

/// A network-scoped alias on a predefined network.
pub const ALIAS_PREDEFINED: &str = "netplan::alias::predefined";
/// One alias twice in one attachment.
pub const ALIAS_DUPLICATE: &str = "netplan::alias::duplicate";

/// A link to a container that does not exist.
pub const LINK_UNKNOWN_TARGET: &str = "netplan::link::unknown-target";
/// A link on `host` or `none`, or to a container on `host`.
pub const LINK_HOST_OR_NONE: &str = "netplan::link::host-or-none";
/// A legacy link on `bridge` to a container that is not on `bridge`.
pub const LINK_NOT_DEFAULT: &str = "netplan::link::not-default";
/// Warning: a link on a user network to a container that is not on that network.
pub const LINK_UNREACHABLE: &str = "netplan::link::unreachable";
/// Warning: one link alias twice in one attachment.
pub const LINK_DUPLICATE_ALIAS: &str = "netplan::link::duplicate-alias";

/// A MAC address on `host`/`none`, or a multicast or all-zero MAC.
pub const MAC_INVALID: &str = "netplan::mac::invalid";
/// Two containers with one MAC on one network.
pub const MAC_DUPLICATE: &str = "netplan::mac::duplicate";

/// `publish` on a container whose networks are all internal.
pub const PUBLISH_INTERNAL: &str = "netplan::publish::internal";
/// `publish` on a container on `none`.
pub const PUBLISH_NONE: &str = "netplan::publish::none";
/// Warning: `publish` on a container on `host` (Docker discards it).
pub const PUBLISH_HOST: &str = "netplan::publish::host";
/// Two published ports on one host address, port and protocol.
pub const PUBLISH_CONFLICT: &str = "netplan::publish::conflict";

/// A hook event that does not exist.
pub const HOOK_EVENT: &str = "netplan::hook::event";
/// A hook with an empty path.
pub const HOOK_PATH: &str = "netplan::hook::path";

/// Every code above, for documentation and tests.
pub const ALL: &[&str] = &[
    KEYWORD_UNKNOWN,
    KEYWORD_MISPLACED,
    NETWORK_DUPLICATE,
    NETWORK_PREDEFINED,
    NETWORK_DRIVER,
    NETWORK_ALIAS_MODE,
    NETWORK_SETTING_TWICE,
    NETWORK_DEFAULT_BRIDGE,
    NETWORK_MTU,
    BRIDGE_NAME,
    BRIDGE_DUPLICATE,
    OPTION_UNKNOWN,
    OPTION_VALUE,
    OPTION_CONFLICT,
    SUBNET_AUTOMATIC,
    SUBNET_HOST_BITS,
    SUBNET_OVERLAP,
    SUBNET_MULTIPLE,
    SUBNET_IPV6_IGNORED,
    SUBNET_SHORTHAND,
    ADDRESS_FAMILY,
    GATEWAY_OUTSIDE,
    GATEWAY_RESERVED,
    GATEWAY_MULTIPLE,
    IP_RANGE_OUTSIDE,
    IP_RANGE_MULTIPLE,
    AUX_OUTSIDE,
    AUX_RESERVED,
    AUX_GATEWAY,
    AUX_DUPLICATE_NAME,
    AUX_DUPLICATE_ADDRESS,
    CONTAINER_DUPLICATE,
    CONTAINER_SETTING_TWICE,
    ATTACH_UNKNOWN_NETWORK,
    ATTACH_TWICE,
    ATTACH_EXCLUSIVE,
    ATTACH_SETTING_TWICE,
    IP_PREDEFINED,
    IP_NO_SUBNET,
    IP_NO_IPV6,
    IP_OUTSIDE,
    IP_RESERVED,
    IP_TAKEN,
    IP_IN_USE,
    ALIAS_PREDEFINED,
    ALIAS_DUPLICATE,
    LINK_UNKNOWN_TARGET,
    LINK_HOST_OR_NONE,
    LINK_NOT_DEFAULT,
    LINK_UNREACHABLE,
    LINK_DUPLICATE_ALIAS,
    MAC_INVALID,
    MAC_DUPLICATE,
    PUBLISH_INTERNAL,
    PUBLISH_NONE,
    PUBLISH_HOST,
    PUBLISH_CONFLICT,
    HOOK_EVENT,
    HOOK_PATH,
];
