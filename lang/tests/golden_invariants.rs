//! Properties of the golden corpora as a whole, and the JSON form of diagnostics.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use netplan_lang::check::{check_text, codes};
use netplan_lang::diag::{JsonDiag, Source};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The `.net` files of a corpus directory, sorted, with their text.
fn corpus(dir: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = std::fs::read_dir(workspace().join(dir))
        .expect("corpus directory")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "net"))
        .map(|p| {
            let name = p
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_string();
            (name, std::fs::read_to_string(&p).expect("read corpus file"))
        })
        .collect();
    out.sort();
    out
}

fn stem(name: &str) -> &str {
    name.strip_suffix(".net").unwrap_or(name)
}

#[test]
fn every_diagnostics_input_has_an_error() {
    let files = corpus("golden/diagnostics");
    assert!(files.len() >= 40, "only {} diagnostics inputs", files.len());
    for (name, text) in &files {
        let checked = check_text(text, stem(name));
        assert!(checked.has_errors(), "{name} yields no error");
        assert!(
            checked.topology.is_none(),
            "{name} yields a topology despite errors"
        );
    }
}

#[test]
fn every_accepted_input_has_no_error() {
    let mut files = corpus("golden/parse");
    files.extend(corpus("examples"));
    for (name, text) in &files {
        let checked = check_text(text, stem(name));
        let errors: Vec<_> = checked
            .diags
            .iter()
            .filter(|d| d.is_error())
            .map(|d| d.code)
            .collect();
        assert!(errors.is_empty(), "{name} has errors: {errors:?}");
        assert!(checked.topology.is_some(), "{name} yields no topology");
    }
}

#[test]
fn every_code_is_exercised_by_a_corpus() {
    let mut seen = BTreeSet::new();
    for dir in ["golden/diagnostics", "golden/parse", "examples"] {
        for (name, text) in corpus(dir) {
            seen.extend(check_text(&text, stem(&name)).diags.iter().map(|d| d.code));
        }
    }
    let missing: Vec<&str> = codes::ALL.iter().copied().filter(|c| !seen.contains(c)).collect();
    assert!(missing.is_empty(), "codes without a golden case: {missing:?}");
}

#[test]
fn codes_are_unique_and_namespaced() {
    let unique: BTreeSet<&str> = codes::ALL.iter().copied().collect();
    assert_eq!(unique.len(), codes::ALL.len());
    assert!(codes::ALL.iter().all(|c| c.starts_with("netplan::")));
}

/// Every prefix of every corpus file (cut at a character boundary) checks without a panic,
/// and every label stays inside the text.
#[test]
fn no_panic_on_truncated_inputs() {
    for dir in ["golden/diagnostics", "golden/parse", "examples"] {
        for (name, text) in corpus(dir) {
            for (cut, _) in text.char_indices().step_by(7) {
                let part = &text[..cut];
                let checked = check_text(part, "cut");
                for d in &checked.diags {
                    for l in &d.labels {
                        assert!(
                            l.span.end <= part.len(),
                            "{name} cut at {cut}: label out of range"
                        );
                    }
                }
            }
        }
    }
}

/// The sweep finds every nested subnet among many networks.
#[test]
fn overlap_sweep_finds_every_pair() {
    let mut text = String::new();
    for i in 0..200u32 {
        let (a, b) = (i / 256, i % 256);
        text.push_str(&format!("network outer{i} {{ subnet 10.{a}.{b}.0/24 }}\n"));
        text.push_str(&format!("network inner{i} {{ subnet 10.{a}.{b}.128/25 }}\n"));
        text.push_str(&format!("network v6-{i} {{ ipv6; subnet fd00:{i:x}::/64 }}\n"));
    }
    text.push_str("network v6-twin { ipv6; subnet fd00:7::/64 }\n");
    let checked = check_text(&text, "many");
    let overlaps = checked
        .diags
        .iter()
        .filter(|d| d.code == codes::SUBNET_OVERLAP)
        .count();
    assert_eq!(overlaps, 201);
}

#[test]
fn json_form() {
    let name = "ip-in-use.net";
    let text = std::fs::read_to_string(workspace().join("golden/diagnostics").join(name)).expect("read");
    let checked = check_text(&text, stem(name));
    let source = Source::new(name, text.as_str());
    let json: Vec<JsonDiag> = checked.diags.iter().map(|d| JsonDiag::new(d, &source)).collect();
    insta::with_settings!({
        snapshot_path => "../../golden/diagnostics/snapshots",
        prepend_module_to_snapshot => false,
    }, {
        insta::assert_json_snapshot!("json_form", json);
    });
}
