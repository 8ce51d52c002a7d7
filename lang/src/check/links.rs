//! Links (`link TARGET as ALIAS`), checked once every container is known.

use crate::diag::{Diag, did_you_mean};
use crate::model::NetworkKind;

use super::container::Lowered;
use super::{Map, Networks, codes};

/// Link targets: they exist, are reachable and are not on `host`. `first` gives the index
/// in `lowered` of the container kept under each name.
pub(super) fn check(
    lowered: &[Lowered<'_>],
    first: &Map<&str, usize>,
    nets: &Networks<'_>,
    diags: &mut Vec<Diag>,
) {
    for l in lowered {
        for link in &l.links {
            let t = link.target.value.as_str();
            let net = &nets.list[link.net].model;
            let Some(target) = first.get(t).and_then(|i| lowered.get(*i)) else {
                let d = Diag::error(
                    codes::LINK_UNKNOWN_TARGET,
                    format!("could not get container for {t}"),
                )
                .primary(link.target.span, "no container of this name");
                // Candidates in file order, so that the suggestion among equally close
                // names does not depend on the order of a hash map.
                let kept = lowered.iter().filter(|l| l.keep);
                let help = match did_you_mean(t, kept.map(|l| l.model.name.as_str())) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!("declare `container {t}`, or link to a declared container"),
                };
                diags.push(d.help(help));
                continue;
            };
            let host = target
                .nets
                .iter()
                .find(|(i, _)| nets.list[*i].model.kind == NetworkKind::Host);
            if let Some((_, host)) = host {
                diags.push(
                    Diag::error(
                        codes::LINK_HOST_OR_NONE,
                        "conflicting options: host type networking can't be used with links. This would result in undefined behavior",
                    )
                    .primary(link.target.span, format!("`{t}` is on the host network"))
                    .secondary(*host, format!("`{t}` joins `host` here"))
                    .help(format!("`{t}` has no address of its own: reach it through the host's addresses")),
                );
                continue;
            }
            if target.nets.iter().any(|(i, _)| *i == link.net) {
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
