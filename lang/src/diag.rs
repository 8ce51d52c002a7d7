//! Diagnostics: what is wrong, where, and how to fix it.
//!
//! One type serves syntax errors, literal errors and every check, so that the CLI renders
//! them the same way (miette) and `--json` describes them the same way.

use std::fmt;
use std::sync::Arc;

use miette::{LabeledSpan, NamedSource, SourceCode};
use serde::Serialize;

use crate::ast::Span;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Error,
}

/// A label on a span of the file; the primary label marks the offending part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Label {
    pub span: Span,
    pub text: String,
    pub primary: bool,
}

/// One finding about a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diag {
    /// Stable code, e.g. `netplan::subnet::overlap`.
    pub code: &'static str,
    pub severity: Severity,
    pub message: String,
    pub labels: Vec<Label>,
    pub help: Option<String>,
}

impl Diag {
    pub fn error(code: &'static str, message: impl Into<String>) -> Self {
        Diag {
            code,
            severity: Severity::Error,
            message: message.into(),
            labels: Vec::new(),
            help: None,
        }
    }

    pub fn warning(code: &'static str, message: impl Into<String>) -> Self {
        Diag {
            severity: Severity::Warning,
            ..Diag::error(code, message)
        }
    }

    /// The primary label: the offending part.
    pub fn primary(mut self, span: Span, text: impl Into<String>) -> Self {
        self.labels.push(Label {
            span,
            text: text.into(),
            primary: true,
        });
        self
    }

    /// A secondary label: the other party (e.g. the subnet this one overlaps).
    pub fn secondary(mut self, span: Span, text: impl Into<String>) -> Self {
        self.labels.push(Label {
            span,
            text: text.into(),
            primary: false,
        });
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// The first primary span, or the first span at all.
    pub fn span(&self) -> Option<Span> {
        self.labels
            .iter()
            .find(|l| l.primary)
            .or(self.labels.first())
            .map(|l| l.span)
    }
}

/// Source text with its file name, shared by all diagnostics of one file.
#[derive(Debug, Clone)]
pub struct Source {
    pub name: String,
    pub text: Arc<str>,
}

impl Source {
    pub fn new(name: impl Into<String>, text: impl Into<Arc<str>>) -> Self {
        Source {
            name: name.into(),
            text: text.into(),
        }
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let before = self.text.get(..offset).unwrap_or("");
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let col = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
        (line, col)
    }
}

/// A diagnostic joined to its source, ready for miette to render.
#[derive(Debug, Clone)]
pub struct Report {
    pub diag: Diag,
    source: NamedSource<Arc<str>>,
}

impl Report {
    pub fn new(diag: Diag, source: &Source) -> Self {
        Report {
            diag,
            source: NamedSource::new(source.name.clone(), source.text.clone()),
        }
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.diag.message)
    }
}

impl std::error::Error for Report {}

impl miette::Diagnostic for Report {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.diag.code))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.diag.severity {
            Severity::Warning => miette::Severity::Warning,
            Severity::Error => miette::Severity::Error,
        })
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.diag
            .help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        Some(&self.source)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        if self.diag.labels.is_empty() {
            return None;
        }
        Some(Box::new(self.diag.labels.iter().map(|l| {
            let text = (!l.text.is_empty()).then(|| l.text.clone());
            if l.primary {
                LabeledSpan::new_primary_with_span(text, l.span)
            } else {
                LabeledSpan::new_with_span(text, l.span)
            }
        })))
    }
}

/// Renders diagnostics as plain text (no colour, unicode frames, fixed width):
/// what the golden snapshots hold.
pub fn render_plain(diags: &[Diag], source: &Source, width: usize) -> String {
    let handler = miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
        .with_width(width);
    let mut out = String::new();
    for d in diags {
        let report = Report::new(d.clone(), source);
        if handler.render_report(&mut out, &report).is_err() {
            out.push_str(&d.message);
            out.push('\n');
        }
    }
    out
}

/// Machine-readable form of a diagnostic (`netplan check --json`).
#[derive(Debug, Clone, Serialize)]
pub struct JsonDiag {
    pub code: &'static str,
    pub severity: Severity,
    pub message: String,
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub labels: Vec<JsonLabel>,
    pub help: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct JsonLabel {
    pub message: String,
    pub primary: bool,
    pub line: usize,
    pub column: usize,
    pub offset: usize,
    pub length: usize,
}

impl JsonDiag {
    pub fn new(d: &Diag, source: &Source) -> Self {
        let (line, column) = d.span().map_or((1, 1), |s| source.line_col(s.start));
        JsonDiag {
            code: d.code,
            severity: d.severity,
            message: d.message.clone(),
            file: source.name.clone(),
            line,
            column,
            labels: d
                .labels
                .iter()
                .map(|l| {
                    let (line, column) = source.line_col(l.span.start);
                    JsonLabel {
                        message: l.text.clone(),
                        primary: l.primary,
                        line,
                        column,
                        offset: l.span.start,
                        length: l.span.len(),
                    }
                })
                .collect(),
            help: d.help.clone(),
        }
    }
}

/// The closest candidate to `word` by edit distance, if it is close enough to be a likely typo.
///
/// A candidate that differs only in digits (`container2` for `container5`) is another
/// member of a numbered family, not a typo, and is never suggested.
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .filter(|c| !differs_in_digits_only(word, c))
        .map(|c| (edit_distance(word, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Same length, and every differing character is a digit on both sides.
fn differs_in_digits_only(a: &str, b: &str) -> bool {
    a != b
        && a.chars().count() == b.chars().count()
        && a.chars()
            .zip(b.chars())
            .all(|(x, y)| x == y || (x.is_ascii_digit() && y.is_ascii_digit()))
}

/// Edit distance over characters where a swap of two neighbours counts as one edit
/// (optimal string alignment), so that `alais` is one edit from `alias`.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // Three rows: two rows back (for swaps), the previous one and the current one.
    let mut before: Vec<usize> = vec![0; b.len() + 1];
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            let mut best = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
            if i > 0 && j > 0 && a[i] == b[j - 1] && a[i - 1] == b[j] {
                best = best.min(before[j - 1] + 1);
            }
            cur[j + 1] = best;
        }
        std::mem::swap(&mut before, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance() {
        assert_eq!(edit_distance("subnett", "subnet"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("abc", ""), 3);
        assert_eq!(edit_distance("alais", "alias"), 1);
        assert_eq!(edit_distance("frist", "first"), 1);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(did_you_mean("frist", ["first", "all"]), Some("first"));
        assert_eq!(did_you_mean("container5", ["container2"]), None);
        assert_eq!(
            did_you_mean("contaner5", ["container2", "container5"]),
            Some("container5")
        );
        assert_eq!(did_you_mean("subnett", ["subnet", "gateway"]), Some("subnet"));
        assert_eq!(did_you_mean("zzz", ["subnet", "gateway"]), None);
    }

    #[test]
    fn line_col_counts_chars() {
        let s = Source::new("t", "ab\ncé d");
        assert_eq!(s.line_col(0), (1, 1));
        assert_eq!(s.line_col(3), (2, 1));
        assert_eq!(s.line_col(7), (2, 4));
    }
}
