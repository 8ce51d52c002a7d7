//! Links (`link TARGET as ALIAS`), checked once every container is known.

use std::collections::HashMap;

use crate::ast::Span;
use crate::diag::{Diag, did_you_mean};
use crate::model::NetworkKind;

use super::container::Lowered;
use super::{Networks, codes};

/// Link targets: they exist, are reachable and are not on `host`.
pub(super) fn check(lowered: &[Lowered<'_>], nets: &Networks<'_>, diags: &mut Vec<Diag>) {
    struct Target<'x> {
        nets: &'x [usize],
        host: Option<Span>,
    }
    let targets: HashMap<&str, Target<'_>> = lowered
        .iter()
        .filter(|l| l.keep)
        .map(|l| {
            let host = l
                .nets
                .iter()
                .position(|i| nets.list[*i].model.kind == NetworkKind::Host)
                .map(|p| l.net_spans[p]);
            (l.model.name.as_str(), Target { nets: &l.nets, host })
        })
        .collect();
    for l in lowered {
        for link in &l.links {
            let t = link.target.value.as_str();
            let net = &nets.list[link.net].model;
            let Some(target) = targets.get(t) else {
                let d = Diag::error(
                    codes::LINK_UNKNOWN_TARGET,
                    format!("could not get container for {t}"),
                )
                .primary(link.target.span, "no container of this name");
                let help = match did_you_mean(t, targets.keys().copied()) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!("declare `container {t}`, or link to a declared container"),
                };
                diags.push(d.help(help));
                continue;
            };
            if let Some(host) = target.host {
                diags.push(
                    Diag::error(
                        codes::LINK_HOST_OR_NONE,
                        "conflicting options: host type networking can't be used with links. This would result in undefined behavior",
                    )
                    .primary(link.target.span, format!("`{t}` is on the host network"))
                    .secondary(host, format!("`{t}` joins `host` here"))
                    .help(format!("`{t}` has no address of its own: reach it through the host's addresses")),
                );
                continue;
            }
            if target.nets.contains(&link.net) {
                continue;
            }
            if net.kind == NetworkKind::DefaultBridge {
                diags.push(
                    Diag::error(
                        codes::LINK_NOT_DEFAULT,
                        format!("Cannot link to /{t}, as it does not belong to the default network"),
                    )
                    .primary(link.target.span, format!("`{t}` is not on `bridge`"))
                    .help(format!(
                        "a legacy link on `bridge` needs its target there too: attach `{t}` to `bridge`"
                    )),
                );
            } else {
                diags.push(
                    Diag::warning(
                        codes::LINK_UNREACHABLE,
                        format!(
                            "container `{t}` is not on network `{}`: link alias `{}` will not resolve",
                            net.name, link.alias.value
                        ),
                    )
                    .primary(link.target.span, format!("not attached to `{}`", net.name))
                    .help(format!(
                        "attach `{t}` to `{}`, or put the link on a network `{t}` is on",
                        net.name
                    )),
                );
            }
        }
    }
}
