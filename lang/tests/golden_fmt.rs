//! Golden tests of the formatter: every `golden/fmt/*.net` input formatted, as a snapshot in
//! `golden/fmt/snapshots/`; and properties that hold for every input the repository holds:
//! formatting is idempotent, keeps the meaning and keeps every comment.

use std::path::{Path, PathBuf};

use netplan_lang::fmt::format;
use serde_json::Value;

#[test]
fn golden_fmt() {
    insta::glob!("../../golden/fmt", "*.net", |path| {
        let text = read(path);
        let out = match format(&text) {
            Ok(out) => out,
            Err(d) => panic!("{} was refused: {d:?}", path.display()),
        };
        insta::with_settings!({
            snapshot_path => "../../golden/fmt/snapshots",
            prepend_module_to_snapshot => false,
            omit_expression => true,
        }, {
            insta::assert_snapshot!("fmt", out);
        });
    });
}

/// Every `.net` file under `golden` (fmt, parse, diagnostics, ...) and `examples`.
fn inputs() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut out = Vec::new();
    for dir in ["golden", "examples"] {
        collect(&root.join(dir), &mut out);
    }
    out.sort();
    assert!(!out.is_empty(), "no inputs found");
    out
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            collect(&p, out);
        } else if p.extension().is_some_and(|x| x == "net") {
            out.push(p);
        }
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The inputs the formatter accepts (inputs with deliberate errors are skipped), with
/// their formatted text. Every `golden/fmt` input must be accepted.
fn formatted() -> Vec<(PathBuf, String, String)> {
    let mut out = Vec::new();
    let all = inputs();
    let total = all.len();
    for path in all {
        let text = read(&path);
        match format(&text) {
            Ok(f) => out.push((path, text, f)),
            Err(d) => assert!(
                !path.to_string_lossy().contains("golden/fmt"),
                "{} was refused: {d:?}",
                path.display()
            ),
        }
    }
    assert!(!out.is_empty());
    eprintln!("the formatter accepts {} of {total} inputs", out.len());
    out
}

#[test]
fn idempotent() {
    for (path, _, once) in formatted() {
        let twice = format(&once).unwrap_or_else(|d| panic!("{}: output refused: {d:?}", path.display()));
        assert_eq!(
            once,
            twice,
            "{}: formatting twice changed the text",
            path.display()
        );
    }
}

/// The tree as JSON with every span removed.
fn without_spans(text: &str) -> Value {
    let file = netplan_lang::parse(text).unwrap_or_else(|d| panic!("does not parse: {d:?}"));
    let mut v = serde_json::to_value(&file.items).unwrap_or_else(|e| panic!("{e}"));
    strip_spans(&mut v);
    v
}

fn strip_spans(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.remove("span");
            m.values_mut().for_each(strip_spans);
        }
        Value::Array(a) => a.iter_mut().for_each(strip_spans),
        _ => {}
    }
}

#[test]
fn meaning_preserved() {
    for (path, text, out) in formatted() {
        assert_eq!(
            without_spans(&text),
            without_spans(&out),
            "{}: formatting changed the tree",
            path.display()
        );
        let before = netplan_lang::check::check_text(&text, "t");
        let after = netplan_lang::check::check_text(&out, "t");
        assert_eq!(
            serde_json::to_value(&before.topology).ok(),
            serde_json::to_value(&after.topology).ok(),
            "{}: formatting changed the topology",
            path.display()
        );
        let codes = |c: &netplan_lang::check::Checked| c.diags.iter().map(|d| d.code).collect::<Vec<_>>();
        assert_eq!(
            codes(&before),
            codes(&after),
            "{}: formatting changed the findings",
            path.display()
        );
    }
}

#[test]
fn comments_preserved() {
    for (path, text, out) in formatted() {
        let texts = |s: &str| {
            netplan_lang::parse::comments(s)
                .into_iter()
                .map(|c| c.text.trim_end().to_string())
                .collect::<Vec<_>>()
        };
        let before = texts(&text);
        let after = texts(&out);
        assert_eq!(
            before.len(),
            after.len(),
            "{}: comment count changed",
            path.display()
        );
        assert_eq!(before, after, "{}: comments changed", path.display());
    }
}

#[test]
fn refuses_syntax_errors() {
    for bad in [
        "network a {",
        "network a { subnet 10.0.0.0/33 }",
        "container c { network n { ip fd00::1 } }",
        "network a { mtu }",
        "network a }",
        "container c { network n { mac 02:42 } }",
    ] {
        let Err(diags) = format(bad) else {
            panic!("formatted a file that does not parse: {bad:?}");
        };
        assert_eq!(
            Err(diags),
            netplan_lang::parse(bad).map(|_| ()),
            "{bad:?}: not the parse diagnostics"
        );
    }
}

#[test]
fn refuses_unknown_statements_everywhere() {
    let text = "nework a {}\nnetwork b { subnett 10.0.0.0/24; subnet 10.1.0.0/24 { gw 10.1.0.1 } }\n\
                container c { netwrk b; network b { alais x } }\n";
    let Err(diags) = format(text) else {
        panic!("formatted unknown statements");
    };
    let words: Vec<&str> = diags
        .iter()
        .filter(|d| d.code == "netplan::fmt::unknown")
        .filter_map(|d| d.span())
        .map(|s| &text[s.start..s.end])
        .collect();
    assert_eq!(words, ["nework", "subnett", "gw", "netwrk", "alais"]);
}
