//! Docker's bridge options (`option "com.docker.network.…" = "…"`) and the native statements
//! they stand for: both spellings feed one setting, and disagreeing spellings are an error.

use std::fmt::Display;
use std::net::IpAddr;

use crate::ast::{Span, Spanned};
use crate::diag::{Diag, did_you_mean};

use super::codes;
use super::network::{valid_bridge_name, valid_mtu};

/// `bridge NAME`.
pub(super) const BRIDGE_NAME: &str = "com.docker.network.bridge.name";
/// `masquerade on|off`.
pub(super) const ENABLE_IP_MASQUERADE: &str = "com.docker.network.bridge.enable_ip_masquerade";
/// `icc on|off`.
pub(super) const ENABLE_ICC: &str = "com.docker.network.bridge.enable_icc";
/// `host-ip ADDR`.
pub(super) const HOST_BINDING_IPV4: &str = "com.docker.network.bridge.host_binding_ipv4";
/// `mtu N` (the name in Docker's guide).
pub(super) const MTU: &str = "com.docker.network.mtu";
/// `mtu N` (the name the bridge driver reads).
pub(super) const DRIVER_MTU: &str = "com.docker.network.driver.mtu";

/// Every option key netplan understands.
pub(super) const KNOWN: [&str; 6] = [
    BRIDGE_NAME,
    ENABLE_IP_MASQUERADE,
    ENABLE_ICC,
    HOST_BINDING_IPV4,
    MTU,
    DRIVER_MTU,
];

/// One value of a setting and the statement that gave it.
#[derive(Debug, Clone)]
pub(super) struct Source<T> {
    pub value: T,
    pub span: Span,
    /// How the statement is named in messages: "`mtu`" or "option \"com.docker.network.mtu\"".
    pub spelling: String,
}

/// The settings that have both a native and an option spelling.
#[derive(Debug, Default)]
pub(super) struct Settings {
    pub bridge: Option<Source<String>>,
    pub mtu: Option<Source<u32>>,
    pub icc: Option<Source<bool>>,
    pub masquerade: Option<Source<bool>>,
    pub host_ip: Option<Source<IpAddr>>,
}

/// Records a value for a setting; a second, different value is a conflict.
pub(super) fn set<T: PartialEq + Display>(
    slot: &mut Option<Source<T>>,
    new: Source<T>,
    what: &str,
    diags: &mut Vec<Diag>,
) {
    let Some(old) = slot else {
        *slot = Some(new);
        return;
    };
    if old.value == new.value {
        return;
    }
    let (first, second) = if old.span.start <= new.span.start {
        (&*old, &new)
    } else {
        (&new, &*old)
    };
    diags.push(
        Diag::error(
            codes::OPTION_CONFLICT,
            format!(
                "conflicting values for {what}: `{}` and `{}`",
                first.value, second.value
            ),
        )
        .primary(
            second.span,
            format!("{} sets it to `{}`", second.spelling, second.value),
        )
        .secondary(
            first.span,
            format!("{} sets it to `{}`", first.spelling, first.value),
        )
        .help(format!(
            "{} and {} set the same thing: keep one of them",
            first.spelling, second.spelling
        )),
    );
}

/// Applies one `option "key" = "value"` to the settings.
pub(super) fn apply(
    key: &Spanned<String>,
    value: &Spanned<String>,
    settings: &mut Settings,
    diags: &mut Vec<Diag>,
) {
    let k = key.value.as_str();
    let v = value.value.as_str();
    let span = value.span;
    match k {
        BRIDGE_NAME => {
            if valid_bridge_name(v, value.span, diags) {
                set(
                    &mut settings.bridge,
                    option_source(v.to_string(), span, k),
                    "the bridge name",
                    diags,
                );
            }
        }
        ENABLE_IP_MASQUERADE | ENABLE_ICC => match v {
            "true" | "false" => {
                let slot = if k == ENABLE_ICC {
                    &mut settings.icc
                } else {
                    &mut settings.masquerade
                };
                let what = if k == ENABLE_ICC {
                    "inter-container connectivity (icc)"
                } else {
                    "IP masquerading"
                };
                set(slot, option_source(v == "true", span, k), what, diags);
            }
            _ => diags.push(
                Diag::error(codes::OPTION_VALUE, format!("failed to parse {k} value: {v}"))
                    .primary(value.span, "expected \"true\" or \"false\"")
                    .help(format!(
                        "write \"true\" or \"false\", or use `{} on|off`",
                        if k == ENABLE_ICC { "icc" } else { "masquerade" }
                    )),
            ),
        },
        HOST_BINDING_IPV4 => match v.parse::<IpAddr>() {
            Ok(ip) => set(
                &mut settings.host_ip,
                option_source(ip, span, k),
                "the default host IP",
                diags,
            ),
            Err(_) => diags.push(
                Diag::error(
                    codes::OPTION_VALUE,
                    format!("failed to parse {k} value: {v} (nil ip)"),
                )
                .primary(value.span, "not an IP address")
                .help("write the host address published ports bind to, e.g. \"172.23.0.1\""),
            ),
        },
        MTU | DRIVER_MTU => match v.parse::<u32>() {
            Ok(n) => {
                if valid_mtu(n, value.span, diags) {
                    set(&mut settings.mtu, option_source(n, span, k), "the MTU", diags);
                }
            }
            Err(_) => diags.push(
                Diag::error(codes::OPTION_VALUE, format!("failed to parse {k} value: {v}"))
                    .primary(value.span, "not a number")
                    .help("write the MTU as a number between 68 and 65535, e.g. \"1400\""),
            ),
        },
        _ => {
            let d = Diag::error(codes::OPTION_UNKNOWN, format!("unknown option `{k}`"))
                .primary(key.span, "not an option netplan knows");
            let suggestion = did_you_mean(k, KNOWN).or_else(|| {
                KNOWN
                    .into_iter()
                    .find(|known| !k.is_empty() && known.ends_with(&format!(".{k}")))
            });
            diags.push(match suggestion {
                Some(s) => d.help(format!("did you mean \"{s}\"?")),
                None => d.help(format!("the options are \"{}\"", KNOWN.join("\", \""))),
            });
        }
    }
}

fn option_source<T>(value: T, span: Span, key: &str) -> Source<T> {
    Source {
        value,
        span,
        spelling: format!("option \"{key}\""),
    }
}
