//! The canonical formatter: `netplan fmt`.
//!
//! [`format()`] rewrites a file that parses completely into one canonical text. It refuses a
//! file with a syntax or literal error (it returns the parse diagnostics) and a file with an
//! unknown or misplaced statement (`netplan::fmt::unknown`), because it could not print those
//! without guessing. Formatting never changes the meaning: the output parses to the same
//! tree (spans aside) with the same comments, and formatting it again changes nothing.
//!
//! # Rules
//!
//! * **Layout.** One statement per line, indented by two spaces per block level. A block
//!   written on one line stays on one line, its statements separated by `; `
//!   (`network a { link b as c; alias d }`), when it holds no comment and no nested block
//!   and the line fits in 100 columns; any other block is written out over several lines.
//!   An empty block with no comment inside is written `network a {}`; an omitted block stays
//!   omitted (`network tuned`).
//! * **Spacing.** Tokens are separated by one space; `label key = "value"` and
//!   `option "key" = "value"` have a space on each side of `=`; `;` separators disappear
//!   except inside one-line blocks.
//! * **Blank lines.** Runs of blank lines shrink to one. Top-level items are always separated
//!   by at least one blank line (consecutive top-level `hook` lines may stay together): where the author left none, one is added right after the
//!   earlier item (so a comment directly above an item stays attached to it). Inside a block,
//!   a blank line is kept where the author had one or more, but never right after `{` nor
//!   right before `}`. The file starts with no blank line and ends with exactly one newline
//!   (an empty file stays empty). Line endings are `\n` (CRLF input is converted).
//! * **Comments** are all kept, with their text unchanged except for trailing whitespace.
//!   A comment that follows code on the same line is a *trailing* comment of the line that
//!   code ends up on, written after it; in a run of consecutive lines with trailing comments
//!   (ended by a blank line or a line without one) the comments are aligned two columns
//!   after the run's longest code; a comment after `{`
//!   stays on the opening line, one after `}` on the closing line. A comment on a line of its
//!   own (or after nothing but `;`) is a *leading* comment of the next statement (or closing
//!   brace) and takes that statement's indentation (inside a block, before `}`: the block's
//!   inner indentation).
//!   Comments after the last item stay at the end of the file. A block with nothing but
//!   comments inside is written out over several lines, so the comments stay inside it.
//! * **Literals** are written canonically: addresses and CIDRs as the standard library prints
//!   them (IPv6 compressed, lower-case; a CIDR keeps its host bits), MAC addresses as six
//!   lower-case octets separated by `:`, port mappings as `[HOST_IP:][HOST_PORT:]PORT/PROTO`
//!   with the protocol always written (`publish 80` becomes `publish 80/tcp`), numbers
//!   without leading zeros, strings re-quoted with `\\`, `\"`, `\n` and `\t` escaped and
//!   everything else written as is. Names are written as they are.

use crate::ast::*;
use crate::diag::Diag;

/// Formats source text canonically (see the [module documentation](self) for the rules).
///
/// Returns the parse diagnostics when the file does not parse, and one
/// `netplan::fmt::unknown` error per unknown statement.
pub fn format(text: &str) -> Result<String, Vec<Diag>> {
    let file = crate::parse(text)?;
    let unknown = unknown_diags(&file);
    if !unknown.is_empty() {
        return Err(unknown);
    }
    Ok(format_file(&file, text))
}

/// Formats a parsed file without unknown statements; `text` is the source it was parsed from.
/// Unknown statements are left out, so call it only after [`format()`]'s check (or use
/// [`format()`]).
fn format_file(file: &File, text: &str) -> String {
    let mut b = Lines {
        comments: &file.comments,
        src: text,
        lines: Vec::new(),
        blocks: 0,
    };
    let mut prev_hook = false;
    for item in &file.items {
        let first = b.lines.len();
        b.item(item);
        // Consecutive top-level hooks read as one group; other items stand apart.
        let hook = matches!(item, Item::Hook(_));
        if let Some(l) = b.lines.get_mut(first) {
            l.item_start = !(hook && prev_hook);
        }
        prev_hook = hook;
    }
    render(&b.lines, &file.comments, text)
}

// ------------------------------------------------------------------ refusing unknowns

fn unknown_diags(file: &File) -> Vec<Diag> {
    let mut found: Vec<&Unknown> = Vec::new();
    for item in &file.items {
        match item {
            Item::Unknown(u) => found.push(u),
            Item::Network(n) => {
                for s in n.stmts() {
                    match s {
                        NetworkStmt::Unknown(u) => found.push(u),
                        NetworkStmt::Subnet(sub) => {
                            found.extend(sub.stmts().iter().filter_map(|s| match s {
                                SubnetStmt::Unknown(u) => Some(u),
                                _ => None,
                            }))
                        }
                        _ => {}
                    }
                }
            }
            Item::Container(c) => {
                for s in c.stmts() {
                    match s {
                        ContainerStmt::Unknown(u) => found.push(u),
                        ContainerStmt::Network(a) => found.extend(a.stmts().iter().filter_map(|s| match s {
                            AttachStmt::Unknown(u) => Some(u),
                            _ => None,
                        })),
                        _ => {}
                    }
                }
            }
            Item::Hook(_) => {}
        }
    }
    found
        .into_iter()
        .map(|u| {
            Diag::error(
                "netplan::fmt::unknown",
                format!(
                    "cannot format a file with an unknown or misplaced statement `{}`",
                    u.keyword.value
                ),
            )
            .primary(u.keyword.span, "not a statement of this block")
            .help("the formatter rewrites only files it understands completely; fix or remove this statement first (`netplan check` suggests what was meant)")
        })
        .collect()
}

// ------------------------------------------------------------------ lines of code

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A line ending with `{`.
    Open,
    /// A `}` line.
    Close,
    /// A statement (or a statement with an empty `{}` block).
    Plain,
}

/// One output line of code, with where it came from.
#[derive(Debug)]
struct Line {
    depth: usize,
    text: String,
    kind: Kind,
    /// Where the line's code starts in the source.
    start: usize,
    /// Where the line's last token ends in the source: comments after it on the same
    /// source line are trailing comments of this line.
    anchor: usize,
    /// The first line of a top-level item.
    item_start: bool,
}

struct Lines<'a> {
    comments: &'a [Comment],
    /// The source text, to see how the author laid a block out.
    src: &'a str,
    lines: Vec<Line>,
    /// How many blocks (`{…}`, `{}` included) were written.
    blocks: usize,
}

/// The longest line a one-line block may make.
const ONE_LINE_WIDTH: usize = 100;

impl Lines<'_> {
    fn push(&mut self, depth: usize, text: String, kind: Kind, start: usize, anchor: usize) {
        self.lines.push(Line {
            depth,
            text,
            kind,
            start,
            anchor,
            item_start: false,
        });
    }

    /// True when a comment starts inside `span`.
    fn has_comment_in(&self, span: Span) -> bool {
        let i = self.comments.partition_point(|c| c.span.start < span.start);
        self.comments.get(i).is_some_and(|c| c.span.start < span.end)
    }

    /// A statement with an optional block: `head`, `head {}` or `head {` … `}`.
    /// `head_end` is where the head's last token ends in the source.
    fn with_block<T>(
        &mut self,
        depth: usize,
        head: String,
        start: usize,
        head_end: usize,
        block: Option<&Block<T>>,
        mut stmt: impl FnMut(&mut Self, usize, &T),
    ) {
        if block.is_some() {
            self.blocks += 1;
        }
        match block {
            None => self.push(depth, head, Kind::Plain, start, head_end),
            Some(b) if b.stmts.is_empty() && !self.has_comment_in(b.span) => {
                self.push(depth, format!("{head} {{}}"), Kind::Plain, start, b.span.end)
            }
            Some(b) => {
                if let Some(line) = self.one_line(depth, &head, b, &mut stmt) {
                    return self.push(depth, line, Kind::Plain, start, b.span.end);
                }
                self.push(depth, format!("{head} {{"), Kind::Open, start, b.span.start + 1);
                for s in &b.stmts {
                    stmt(self, depth + 1, s);
                }
                let close = b.span.end.saturating_sub(1);
                self.push(depth, "}".into(), Kind::Close, close, b.span.end);
            }
        }
    }

    /// `head { a; b }` when the author wrote the block on one line, it holds no comment and
    /// no nested block, and the line fits in [`ONE_LINE_WIDTH`].
    fn one_line<T>(
        &self,
        depth: usize,
        head: &str,
        b: &Block<T>,
        stmt: &mut impl FnMut(&mut Self, usize, &T),
    ) -> Option<String> {
        let written = self.src.get(b.span.start..b.span.end)?;
        if written.contains('\n') || self.has_comment_in(b.span) {
            return None;
        }
        let mut inner = Lines {
            comments: self.comments,
            src: self.src,
            lines: Vec::new(),
            blocks: 0,
        };
        for s in &b.stmts {
            stmt(&mut inner, depth + 1, s);
        }
        if inner.blocks > 0 {
            return None;
        }
        let texts: Vec<&str> = inner.lines.iter().map(|l| l.text.as_str()).collect();
        let line = format!("{head} {{ {} }}", texts.join("; "));
        (depth * 2 + line.len() <= ONE_LINE_WIDTH).then_some(line)
    }

    fn plain(&mut self, depth: usize, text: String, span: Span) {
        self.push(depth, text, Kind::Plain, span.start, span.end);
    }

    fn item(&mut self, item: &Item) {
        match item {
            Item::Network(n) => self.with_block(
                0,
                format!("network {}", n.name.value),
                n.span.start,
                n.name.span.end,
                n.block.as_ref(),
                Self::network_stmt,
            ),
            Item::Container(c) => self.with_block(
                0,
                format!("container {}", c.name.value),
                c.span.start,
                c.name.span.end,
                c.block.as_ref(),
                Self::container_stmt,
            ),
            Item::Hook(h) => self.plain(0, hook(h), h.span),
            Item::Unknown(_) => {}
        }
    }

    fn network_stmt(&mut self, depth: usize, s: &NetworkStmt) {
        let text = match s {
            NetworkStmt::Subnet(sub) => {
                return self.with_block(
                    depth,
                    format!("subnet {}", sub.cidr.value),
                    sub.span.start,
                    sub.cidr.span.end,
                    sub.block.as_ref(),
                    Self::subnet_stmt,
                );
            }
            NetworkStmt::Driver { name, .. } => format!("driver {}", name.value),
            NetworkStmt::Ipv6 { .. } => "ipv6".into(),
            NetworkStmt::Gateway(a) => format!("gateway {}", a.addr.value),
            NetworkStmt::IpRange(c) => format!("ip-range {}", c.cidr.value),
            NetworkStmt::Aux(a) => aux(a),
            NetworkStmt::Bridge { name, .. } => format!("bridge {}", name.value),
            NetworkStmt::Mtu { value, .. } => format!("mtu {}", value.value),
            NetworkStmt::Icc { on, .. } => format!("icc {}", on_off(on.value)),
            NetworkStmt::Masquerade { on, .. } => format!("masquerade {}", on_off(on.value)),
            NetworkStmt::HostIp(a) => format!("host-ip {}", a.addr.value),
            NetworkStmt::Label { key, value, .. } => format!("label {} = {}", key.value, quote(&value.value)),
            NetworkStmt::Internal { .. } => "internal".into(),
            NetworkStmt::Option { key, value, .. } => {
                format!("option {} = {}", quote(&key.value), quote(&value.value))
            }
            NetworkStmt::AliasMode { name, .. } => format!("alias-mode {}", name.value),
            NetworkStmt::Hook(h) => hook(h),
            NetworkStmt::Unknown(_) => return,
        };
        self.plain(depth, text, s.span());
    }

    fn subnet_stmt(&mut self, depth: usize, s: &SubnetStmt) {
        let text = match s {
            SubnetStmt::Gateway(a) => format!("gateway {}", a.addr.value),
            SubnetStmt::IpRange(c) => format!("ip-range {}", c.cidr.value),
            SubnetStmt::Aux(a) => aux(a),
            SubnetStmt::Unknown(_) => return,
        };
        self.plain(depth, text, s.span());
    }

    fn container_stmt(&mut self, depth: usize, s: &ContainerStmt) {
        let text = match s {
            ContainerStmt::Network(a) => {
                return self.with_block(
                    depth,
                    format!("network {}", a.network.value),
                    a.span.start,
                    a.network.span.end,
                    a.block.as_ref(),
                    Self::attach_stmt,
                );
            }
            ContainerStmt::Publish(p) => format!("publish {}", p.spec.value),
            ContainerStmt::Run { command, .. } => format!("run {}", quote(&command.value)),
            ContainerStmt::Dns(a) => format!("dns {}", a.addr.value),
            ContainerStmt::Hook(h) => hook(h),
            ContainerStmt::Unknown(_) => return,
        };
        self.plain(depth, text, s.span());
    }

    fn attach_stmt(&mut self, depth: usize, s: &AttachStmt) {
        let text = match s {
            AttachStmt::Ip { addr, .. } => format!("ip {}", addr.value),
            AttachStmt::Ip6 { addr, .. } => format!("ip6 {}", addr.value),
            AttachStmt::Alias { name, .. } => format!("alias {}", name.value),
            AttachStmt::Link { target, alias, .. } => format!("link {} as {}", target.value, alias.value),
            AttachStmt::Mac { mac, .. } => format!("mac {}", mac.value),
            AttachStmt::Unknown(_) => return,
        };
        self.plain(depth, text, s.span());
    }
}

fn hook(h: &HookDecl) -> String {
    format!("hook {} {}", h.event.value, quote(&h.path.value))
}

fn aux(a: &AuxStmt) -> String {
    format!("aux {} {}", a.name.value, a.addr.value)
}

fn on_off(on: bool) -> &'static str {
    if on { "on" } else { "off" }
}

/// A string literal whose value is `s`.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

// ------------------------------------------------------------------ comments and blank lines

/// Where each comment goes.
struct Placed<'a> {
    leading: Vec<Vec<&'a Comment>>,
    trailing: Vec<Option<&'a Comment>>,
    /// Comments after the last line of code.
    tail: Vec<&'a Comment>,
}

fn place<'a>(lines: &[Line], comments: &'a [Comment], text: &str) -> Placed<'a> {
    let mut p = Placed {
        leading: vec![Vec::new(); lines.len()],
        trailing: vec![None; lines.len()],
        tail: Vec::new(),
    };
    for c in comments {
        // The last line whose code ends before the comment.
        let k = lines.partition_point(|l| l.anchor <= c.span.start);
        if let Some(prev) = k.checked_sub(1)
            && newlines(text, lines[prev].anchor, c.span.start) == 0
            && p.trailing[prev].is_none()
        {
            p.trailing[prev] = Some(c);
        } else if let Some(lead) = p.leading.get_mut(k) {
            lead.push(c);
        } else {
            p.tail.push(c);
        }
    }
    p
}

/// The number of line breaks in `text[from..to]`.
fn newlines(text: &str, from: usize, to: usize) -> usize {
    text.as_bytes()
        .get(from..to)
        .map_or(0, |s| s.iter().filter(|&&b| b == b'\n').count())
}

/// The output under construction.
struct Out<'t> {
    text: &'t str,
    out: String,
    /// Lines written so far; turned into `out` by [`Out::finish`].
    rows: Vec<Row>,
    /// Where the previous element ended in the source, and whether it opened a block.
    prev: Option<(usize, Kind)>,
}

/// One output line before trailing comments are aligned.
struct Row {
    blank_before: bool,
    /// Indentation and code.
    code: String,
    comment: Option<String>,
}

impl Out<'_> {
    /// Whether the source had a blank line between the previous element and one at `start`.
    fn blank_before(&self, start: usize) -> bool {
        match self.prev {
            None | Some((_, Kind::Open)) => false,
            Some((end, _)) => newlines(self.text, end, start) >= 2,
        }
    }

    fn line(&mut self, blank: bool, depth: usize, code: &str, trailing: Option<&Comment>) {
        let mut line = "  ".repeat(depth);
        line.push_str(code);
        self.rows.push(Row {
            blank_before: blank,
            code: if code.is_empty() {
                String::new()
            } else {
                line.clone()
            },
            comment: trailing.map(|c| {
                if code.is_empty() {
                    format!("{line}{}", c.text.trim_end())
                } else {
                    c.text.trim_end().to_string()
                }
            }),
        });
    }

    /// Writes the rows, aligning trailing comments: in each run of consecutive lines that
    /// have code and a trailing comment (a blank line or any other line ends the run), the
    /// comments start two columns after the run's longest code.
    fn finish(mut self) -> String {
        let trailing = |r: &Row| !r.code.is_empty() && r.comment.is_some();
        let mut i = 0;
        while i < self.rows.len() {
            if !trailing(&self.rows[i]) {
                i += 1;
                continue;
            }
            let mut j = i + 1;
            while j < self.rows.len() && trailing(&self.rows[j]) && !self.rows[j].blank_before {
                j += 1;
            }
            let width = self.rows[i..j]
                .iter()
                .map(|r| r.code.chars().count())
                .max()
                .unwrap_or(0);
            for r in &mut self.rows[i..j] {
                let pad = width - r.code.chars().count() + 2;
                r.code.push_str(&" ".repeat(pad));
            }
            i = j;
        }
        for r in &self.rows {
            if r.blank_before {
                self.out.push('\n');
            }
            self.out.push_str(&r.code);
            if let Some(c) = &r.comment {
                self.out.push_str(c);
            }
            self.out.push('\n');
        }
        self.out
    }
}

fn render(lines: &[Line], comments: &[Comment], text: &str) -> String {
    let placed = place(lines, comments, text);
    let mut o = Out {
        text,
        out: String::with_capacity(text.len() + text.len() / 8),
        rows: Vec::new(),
        prev: None,
    };
    for (i, line) in lines.iter().enumerate() {
        let leading = placed.leading.get(i).map_or(&[][..], |v| &v[..]);
        let comment_depth = if line.kind == Kind::Close {
            line.depth + 1
        } else {
            line.depth
        };
        // Blank lines before each leading comment and before the line itself.
        let mut blanks: Vec<bool> = leading.iter().map(|c| o.blank_before(c.span.start)).collect();
        let first_blank = blanks
            .first()
            .copied()
            .unwrap_or_else(|| o.blank_before(line.start));
        if let Some(b) = blanks.first_mut() {
            *b = first_blank;
        }
        for (j, c) in leading.iter().enumerate().skip(1) {
            let end = leading[j - 1].span.end;
            blanks[j] = newlines(text, end, c.span.start) >= 2;
        }
        let mut line_blank = match (line.kind, leading.last()) {
            (Kind::Close, _) => false,
            (_, Some(c)) => newlines(text, c.span.end, line.start) >= 2,
            (_, None) => first_blank,
        };
        // Top-level items are always separated by a blank line.
        if line.item_start && i > 0 && !blanks.contains(&true) && !line_blank {
            match blanks.first_mut() {
                Some(b) => *b = true,
                None => line_blank = true,
            }
        }
        for (c, blank) in leading.iter().zip(&blanks) {
            o.line(*blank, comment_depth, "", Some(c));
            o.prev = Some((c.span.end, Kind::Plain));
        }
        o.line(
            line_blank,
            line.depth,
            &line.text,
            placed.trailing.get(i).copied().flatten(),
        );
        let end = placed
            .trailing
            .get(i)
            .copied()
            .flatten()
            .map_or(line.anchor, |c| c.span.end);
        o.prev = Some((end, line.kind));
    }
    for c in &placed.tail {
        let blank = o.blank_before(c.span.start);
        o.line(blank, 0, "", Some(c));
        o.prev = Some((c.span.end, Kind::Plain));
    }
    o.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(s: &str) -> String {
        match format(s) {
            Ok(out) => out,
            Err(d) => panic!("refused: {d:?}"),
        }
    }

    #[test]
    fn one_line_blocks_stay_when_simple() {
        assert_eq!(
            fmt("container c { network n { link a as b; alias web }   # x\n}"),
            "container c {\n  network n { link a as b; alias web }  # x\n}\n"
        );
        // Written over several lines: stays over several lines.
        assert_eq!(
            fmt("container c {\n network n {\n alias web }\n}"),
            "container c {\n  network n {\n    alias web\n  }\n}\n"
        );
        // A nested block, a comment inside, or a line too long: written out.
        assert_eq!(
            fmt("container c { network n { alias web } }"),
            "container c {\n  network n { alias web }\n}\n"
        );
        let long = format!("network n {{ label a = \"{}\" }}", "x".repeat(100));
        assert!(fmt(&long).lines().count() == 3, "{}", fmt(&long));
    }

    #[test]
    fn empty_and_omitted_blocks() {
        assert_eq!(
            fmt("network a {\n\n}\nnetwork b\n"),
            "network a {}\n\nnetwork b\n"
        );
        assert_eq!(fmt("network a { # inside\n}"), "network a {  # inside\n}\n");
        assert_eq!(fmt("network a {\n # inside\n}"), "network a {\n  # inside\n}\n");
    }

    #[test]
    fn omitted_block_keeps_trailing_comment() {
        assert_eq!(
            fmt("container c {\n network tuned   # t\n  network b\n}"),
            "container c {\n  network tuned  # t\n  network b\n}\n"
        );
    }

    #[test]
    fn blank_lines() {
        let src =
            "\n\n# head\n\n\nnetwork a {\n\n  mtu 1400\n\n\n  icc off\n\n}\n# about b\nnetwork b {}\n\n\n";
        assert_eq!(
            fmt(src),
            "# head\n\nnetwork a {\n  mtu 1400\n\n  icc off\n}\n\n# about b\nnetwork b {}\n"
        );
    }

    #[test]
    fn literals() {
        assert_eq!(
            fmt(
                "network n { subnet FD00:0:0:0::/64; mtu 01400 }\ncontainer c { network n { mac 02-42-AC-19-03-03; ip6 FD00::0003 }; publish 80 }"
            ),
            "network n { subnet fd00::/64; mtu 1400 }\n\ncontainer c {\n  network n { mac 02:42:ac:19:03:03; ip6 fd00::3 }\n  publish 80/tcp\n}\n"
        );
        assert_eq!(
            fmt("network n {\n  label a = \"q\\\"\\\\\\n\\t\\x\"\n}"),
            "network n {\n  label a = \"q\\\"\\\\\\n\\tx\"\n}\n"
        );
    }

    #[test]
    fn crlf_and_empty() {
        assert_eq!(
            fmt("network a {\r\n  mtu 1 # c\r\n}\r\n"),
            "network a {\n  mtu 1  # c\n}\n"
        );
        assert_eq!(fmt(""), "");
        assert_eq!(fmt("\n\n"), "");
        assert_eq!(fmt("# only\n\n\n# two  \n"), "# only\n\n# two\n");
    }

    #[test]
    fn refuses_unknown_statements() {
        let Err(d) = format("network a {\n  subnett 10.0.0.0/24\n}\n") else {
            panic!("accepted an unknown statement");
        };
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].code, "netplan::fmt::unknown");
        assert!(d[0].message.contains("`subnett`"));
    }
}
