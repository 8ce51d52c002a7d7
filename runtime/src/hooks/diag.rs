//! Hook diagnostics: one finding that spans two files, the topology (`hook` statement) and the
//! Rhai script. The main part carries its own source; the other is a miette *related*
//! diagnostic with its own source, so each snippet shows the right file.

use std::fmt;

use miette::{Diagnostic, GraphicalReportHandler, GraphicalTheme, SourceCode};
use netplan_lang::diag::{JsonDiag, Report};
use netplan_lang::model::Span;
use netplan_lang::{Diag, Source};
use rhai::Position;

/// A diagnostic about a hook: where it is declared and where in its script it went wrong.
#[derive(Debug, Clone)]
pub struct HookDiag {
    main: Report,
    main_source: Source,
    related: Vec<(Report, Source)>,
}

impl HookDiag {
    /// A diagnostic whose main part is `diag` in `source`.
    pub fn new(diag: Diag, source: &Source) -> Self {
        HookDiag {
            main: Report::new(diag, source),
            main_source: source.clone(),
            related: Vec::new(),
        }
    }

    /// Adds a related part, rendered below the main one with its own source.
    pub fn with_related(mut self, diag: Diag, source: &Source) -> Self {
        self.related.push((Report::new(diag, source), source.clone()));
        self
    }

    /// The main finding.
    pub fn diag(&self) -> &Diag {
        &self.main.diag
    }

    /// Stable code, e.g. `netplan::hook::syntax`.
    pub fn code(&self) -> &'static str {
        self.main.diag.code
    }

    pub fn is_error(&self) -> bool {
        self.main.diag.is_error()
    }

    /// The machine form: the main part, then each related part (each names its own file).
    pub fn json(&self) -> Vec<JsonDiag> {
        let mut out = vec![JsonDiag::new(&self.main.diag, &self.main_source)];
        out.extend(self.related.iter().map(|(r, s)| JsonDiag::new(&r.diag, s)));
        out
    }

    /// Plain text (no colour, unicode frames, fixed width): what the golden snapshots hold.
    pub fn render_plain(&self, width: usize) -> String {
        let handler = GraphicalReportHandler::new_themed(GraphicalTheme::unicode_nocolor()).with_width(width);
        let mut out = String::new();
        if handler.render_report(&mut out, self).is_err() {
            out = format!("{}\n", self.main.diag.message);
        }
        out
    }
}

impl fmt::Display for HookDiag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.main, f)
    }
}

impl std::error::Error for HookDiag {}

impl Diagnostic for HookDiag {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.main.code()
    }

    fn severity(&self) -> Option<miette::Severity> {
        self.main.severity()
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.main.help()
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.main.source_code()
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        self.main.labels()
    }

    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn Diagnostic> + 'a>> {
        if self.related.is_empty() {
            return None;
        }
        Some(Box::new(self.related.iter().map(|(r, _)| r as &dyn Diagnostic)))
    }
}

/// The byte span of a Rhai position in `text`: the word that starts there, or one character
/// (empty at the end of the text). `Position::NONE` gives the first character.
pub(crate) fn span_at(text: &str, pos: Position) -> Span {
    let (Some(line), col) = (pos.line(), pos.position().unwrap_or(1)) else {
        return Span::new(0, text.chars().next().map_or(0, char::len_utf8));
    };
    let mut start = text.len();
    let mut offset = 0;
    for (i, l) in text.split_inclusive('\n').enumerate() {
        if i + 1 == line {
            let within: usize = l
                .char_indices()
                .nth(col.saturating_sub(1))
                .map_or(l.trim_end_matches('\n').len(), |(b, _)| b);
            start = offset + within;
            break;
        }
        offset += l.len();
    }
    let rest = text.get(start..).unwrap_or("");
    let word: usize = rest
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .map(char::len_utf8)
        .sum();
    let quoted = match rest.chars().next() {
        Some(q @ ('"' | '`')) => rest[1..].find(q).filter(|end| !rest[1..1 + end].contains('\n')),
        _ => None,
    };
    let len = if word > 0 {
        word
    } else if let Some(end) = quoted {
        end + 2
    } else {
        rest.chars()
            .next()
            .filter(|c| *c != '\n')
            .map_or(0, char::len_utf8)
    };
    Span::new(start, start + len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_map_to_bytes() {
        let text = "let x = 1;\nlet é = fail(\"no\");\n";
        // Line 2, column 9 is `fail` (the é counts as one column, two bytes).
        let s = span_at(text, Position::new(2, 9));
        assert_eq!(&text[s.start..s.end], "fail");
        let s = span_at(text, Position::new(2, 13));
        assert_eq!(&text[s.start..s.end], "(");
        // A string literal as a whole.
        let s = span_at(text, Position::new(2, 14));
        assert_eq!(&text[s.start..s.end], "\"no\"");
        // Past the end of a line: the line's end, empty.
        let s = span_at(text, Position::new(1, 40));
        assert_eq!((s.start, s.end), (10, 10));
        // A line after the last one: the end of the text.
        let s = span_at(text, Position::new(9, 1));
        assert_eq!((s.start, s.end), (text.len(), text.len()));
        assert_eq!(span_at(text, Position::NONE), Span::new(0, 1));
    }
}
