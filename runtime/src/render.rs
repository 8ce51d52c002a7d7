//! Plan output: human text in the style of Terraform, versioned JSON, and Markdown for a
//! pull-request comment.

use std::fmt::Write as _;

use serde::Serialize;

use crate::diff::{Action, AttrChange, Change, Object, Plan, Summary};
use crate::ipam::Note;

/// The JSON schema version of `netplan plan --json`.
pub const JSON_FORMAT_VERSION: &str = "1.0";

/// GitHub refuses comments over 65,536 characters; stay well below.
pub const MARKDOWN_LIMIT: usize = 60_000;

fn symbol(a: Action) -> &'static str {
    match a {
        Action::Create => "+",
        Action::Update => "~",
        Action::Replace => "-/+",
        Action::Delete => "-",
    }
}

fn verb(a: Action) -> &'static str {
    match a {
        Action::Create => "will be created",
        Action::Update => "will be updated in-place",
        Action::Replace => "must be replaced",
        Action::Delete => "will be destroyed",
    }
}

fn legend(a: Action) -> &'static str {
    match a {
        Action::Create => "create",
        Action::Update => "update in-place",
        Action::Replace => "destroy and then create replacement",
        Action::Delete => "destroy",
    }
}

/// ANSI colours, used only when asked (a TTY without NO_COLOR).
struct Paint {
    on: bool,
}

impl Paint {
    fn wrap(&self, code: &str, s: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
    fn action(&self, a: Action, s: &str) -> String {
        let code = match a {
            Action::Create => "32",
            Action::Update => "33",
            Action::Replace => "35",
            Action::Delete => "31",
        };
        self.wrap(code, s)
    }
    fn bold(&self, s: &str) -> String {
        self.wrap("1", s)
    }
}

fn summary_line(s: Summary) -> String {
    format!(
        "Plan: {} to add, {} to change, {} to destroy.",
        s.add, s.change, s.destroy
    )
}

/// The one-line verdict: `Plan: …` or `No changes.`
pub fn summary_text(plan: &Plan) -> String {
    if plan.is_empty() {
        "No changes.".into()
    } else {
        summary_line(plan.summary())
    }
}

/// Which symbol an attribute line takes inside a change.
fn attr_symbol(change: Action, a: &AttrChange) -> (Action, &'static str) {
    match (change, &a.old, &a.new) {
        (Action::Create, ..) => (Action::Create, "+"),
        (Action::Delete, ..) => (Action::Delete, "-"),
        (_, None, Some(_)) => (Action::Create, "+"),
        (_, Some(_), None) => (Action::Delete, "-"),
        _ => (Action::Update, "~"),
    }
}

fn attr_lines(c: &Change, paint: &Paint, indent: &str) -> String {
    let width = c.attrs.iter().map(|a| a.name.len()).max().unwrap_or(0);
    let mut out = String::new();
    for a in &c.attrs {
        let (act, sym) = attr_symbol(c.action, a);
        let value = match (&a.old, &a.new) {
            (Some(o), Some(n)) => format!("{o} -> {n}"),
            (Some(o), None) => format!("{o} -> null"),
            (None, Some(n)) => n.clone(),
            (None, None) => String::new(),
        };
        let forces = if a.forces_replacement && c.action == Action::Replace {
            paint.action(Action::Replace, " # forces replacement")
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "{indent}{} {:<width$} = {value}{forces}",
            paint.action(act, sym),
            a.name
        );
    }
    out
}

/// Terraform-style human text. `file` names the topology in the header.
pub fn text(plan: &Plan, color: bool) -> String {
    let paint = Paint { on: color };
    let mut out = String::new();
    if !plan.notes.is_empty() {
        out.push_str("Notes:\n");
        for n in &plan.notes {
            let _ = writeln!(out, "  - {}: {}", n.address, n.message);
        }
        out.push('\n');
    }
    if plan.is_empty() {
        out.push_str(&paint.bold(&summary_text(plan)));
        out.push('\n');
        return out;
    }
    out.push_str("netplan will perform the following actions; symbols:\n");
    let mut used: Vec<Action> = plan.changes.iter().map(|c| c.action).collect();
    used.sort();
    used.dedup();
    for a in used {
        let _ = writeln!(out, "{:>5} {}", paint.action(a, symbol(a)), legend(a));
    }
    out.push('\n');
    for c in &plan.changes {
        let _ = writeln!(
            out,
            "  {}",
            paint.bold(&format!("# {} {}", c.address, verb(c.action)))
        );
        if let Some(r) = &c.reason {
            let _ = writeln!(out, "  # ({r})");
        }
        let kind = format!("{:?}", c.kind).to_lowercase();
        let _ = writeln!(
            out,
            "{:>5} {kind} \"{}\" {{",
            paint.action(c.action, symbol(c.action)),
            c.name
        );
        out.push_str(&attr_lines(c, &paint, "      "));
        if c.unchanged > 0 && matches!(c.action, Action::Update | Action::Replace) {
            let s = if c.unchanged == 1 { "" } else { "s" };
            let _ = writeln!(out, "        # ({} unchanged attribute{s} hidden)", c.unchanged);
        }
        out.push_str("      }\n\n");
    }
    out.push_str(&paint.bold(&summary_line(plan.summary())));
    out.push('\n');
    out
}

/// One change in the JSON form.
#[derive(Serialize)]
struct JsonChange<'a> {
    address: &'a str,
    kind: crate::diff::Kind,
    name: &'a str,
    /// Terraform's convention: `["create"]`, `["update"]`, `["delete"]`, `["delete","create"]`.
    actions: Vec<&'static str>,
    before: Sorted<'a>,
    after: Sorted<'a>,
    attributes: &'a [AttrChange],
    reason: &'a Option<String>,
}

/// One side of a change, written with its keys sorted (as a JSON value's maps are). The
/// value is made when it is written, so that only one object's is held at a time: a first
/// plan of 10,000 containers has over 20,000 sides.
struct Sorted<'a>(&'a Option<Object>);

impl Serialize for Sorted<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            None => serializer.serialize_none(),
            Some(o) => serde_json::to_value(o)
                .map_err(serde::ser::Error::custom)?
                .serialize(serializer),
        }
    }
}

#[derive(Serialize)]
struct JsonPlan<'a> {
    format_version: &'static str,
    summary: Summary,
    changes: Vec<JsonChange<'a>>,
    notes: &'a [Note],
}

fn json_plan(plan: &Plan) -> JsonPlan<'_> {
    JsonPlan {
        format_version: JSON_FORMAT_VERSION,
        summary: plan.summary(),
        changes: plan
            .changes
            .iter()
            .map(|c| JsonChange {
                address: &c.address,
                kind: c.kind,
                name: &c.name,
                actions: match c.action {
                    Action::Create => vec!["create"],
                    Action::Update => vec!["update"],
                    Action::Replace => vec!["delete", "create"],
                    Action::Delete => vec!["delete"],
                },
                before: Sorted(&c.before),
                after: Sorted(&c.after),
                attributes: &c.attrs,
                reason: &c.reason,
            })
            .collect(),
        notes: &plan.notes,
    }
}

/// The versioned JSON form (`--json`); key order is fixed by the structs and by sorted maps.
pub fn json(plan: &Plan) -> String {
    serde_json::to_string_pretty(&json_plan(plan))
        .unwrap_or_else(|e| format!("{{\"error\": {:?}}}", e.to_string()))
}

/// [`json`] written to `out` as it is made, followed by a newline.
pub fn write_json(plan: &Plan, out: &mut impl std::io::Write) -> std::io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, &json_plan(plan))?;
    out.write_all(b"\n")
}

/// Markdown for a pull-request comment: summary first, a warning when anything is
/// destroyed, each object in a collapsible block; never longer than `limit` characters.
pub fn markdown(plan: &Plan, title: &str, limit: usize) -> String {
    let mut head = format!("### netplan plan: `{title}`\n\n");
    if plan.is_empty() {
        head.push_str("**No changes.**\n");
        return head;
    }
    let _ = writeln!(head, "**{}**\n", summary_line(plan.summary()));
    let destroyed: Vec<&str> = plan
        .changes
        .iter()
        .filter(|c| matches!(c.action, Action::Delete | Action::Replace))
        .map(|c| c.address.as_str())
        .collect();
    if !destroyed.is_empty() {
        let shown: Vec<String> = destroyed.iter().take(20).map(|a| format!("`{a}`")).collect();
        let more = destroyed.len().saturating_sub(20);
        let more = if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        };
        let _ = writeln!(
            head,
            "> [!WARNING]\n> This plan destroys or replaces {} object{}: {}{more}.\n",
            destroyed.len(),
            if destroyed.len() == 1 { "" } else { "s" },
            shown.join(", ")
        );
    }
    if !plan.notes.is_empty() {
        head.push_str("<details><summary>Notes</summary>\n\n");
        for n in &plan.notes {
            let _ = writeln!(head, "- `{}`: {}", n.address, n.message);
        }
        head.push_str("\n</details>\n\n");
    }
    let paint = Paint { on: false };
    let mut body = String::new();
    let mut shown = 0;
    for c in &plan.changes {
        let reason = c.reason.as_ref().map(|r| format!(" ({r})")).unwrap_or_default();
        let block = format!(
            "<details><summary><code>{} {}</code> {}{}</summary>\n\n```diff\n{}```\n\n</details>\n\n",
            symbol(c.action),
            c.address,
            verb(c.action),
            html_escape(&reason),
            attr_lines(c, &paint, "")
        );
        // Room for the truncation note.
        if head.len() + body.len() + block.len() + 300 > limit {
            break;
        }
        body.push_str(&block);
        shown += 1;
    }
    let mut out = head + body.as_str();
    if shown < plan.changes.len() {
        let _ = writeln!(
            out,
            "_Output truncated: {} of {} changes are not shown, to stay under {limit} characters. Run `netplan plan` for the full plan._",
            plan.changes.len() - shown,
            plan.changes.len()
        );
    }
    out
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}
