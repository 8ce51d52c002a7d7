//! `hook EVENT "path"` at any level.

use crate::ast::HookDecl;
use crate::diag::{Diag, did_you_mean};
use crate::model::{Hook, HookEvent};

use super::codes;
use super::text::quoted;

/// Lowers a hook; `None` (with a diagnostic) when its event or path is unusable.
pub(super) fn lower(h: &HookDecl, diags: &mut Vec<Diag>) -> Option<Hook> {
    let word = h.event.value.as_str();
    let Some(event) = HookEvent::parse(word) else {
        let names: Vec<&str> = HookEvent::ALL.iter().map(|e| e.as_str()).collect();
        let d = Diag::error(codes::HOOK_EVENT, format!("unknown hook event `{word}`"))
            .primary(h.event.span, "no such event");
        diags.push(match did_you_mean(word, names.iter().copied()) {
            Some(s) => d.help(format!("did you mean `{s}`?")),
            None => d.help(format!("the events are {}", quoted(&names, "and"))),
        });
        return None;
    };
    if h.path.value.trim().is_empty() {
        diags.push(
            Diag::error(codes::HOOK_PATH, "a hook needs the path of its script")
                .primary(h.path.span, "empty path")
                .help("write the path of the Rhai script, relative to the topology file"),
        );
        return None;
    }
    Some(Hook {
        event,
        path: h.path.value.clone(),
        span: h.span,
        path_span: h.path.span,
    })
}
