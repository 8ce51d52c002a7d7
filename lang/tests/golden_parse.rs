//! Golden corpus of accepted files (`golden/parse/*.net` and `examples/*.net`): each one checks
//! without errors, and its topology and warnings are snapshotted in `golden/parse/snapshots`.
//!
//! A glob test of its own binary: insta's glob collector is process-global.

use std::path::Path;

use netplan_lang::check::check_text;
use netplan_lang::diag::{Source, render_plain};
use netplan_lang::model::Topology;
use serde::Serialize;

/// What a snapshot holds: the warnings as the CLI prints them (one list item per line, so
/// that the YAML stays readable), then the topology.
#[derive(Serialize)]
struct Golden {
    warnings: Vec<String>,
    topology: Option<Topology>,
}

fn golden(path: &Path) -> Golden {
    let text = std::fs::read_to_string(path).expect("read corpus file");
    let file = path.file_name().and_then(|n| n.to_str()).expect("file name");
    let stem = path.file_stem().and_then(|n| n.to_str()).expect("file stem");
    let checked = check_text(&text, stem);
    let errors: Vec<_> = checked.diags.iter().filter(|d| d.is_error()).cloned().collect();
    assert!(
        errors.is_empty(),
        "{file} has errors:\n{}",
        render_plain(&errors, &Source::new(file, text.as_str()), 80)
    );
    Golden {
        warnings: render_plain(&checked.diags, &Source::new(file, text.as_str()), 80)
            .lines()
            .map(str::to_string)
            .collect(),
        topology: checked.topology,
    }
}

#[test]
fn golden_parse() {
    insta::with_settings!({
        snapshot_path => "../../golden/parse/snapshots",
        prepend_module_to_snapshot => false,
    }, {
        insta::glob!("../../golden/parse", "*.net", |path| {
            insta::assert_yaml_snapshot!("parse", golden(path));
        });
        insta::glob!("../../examples", "*.net", |path| {
            insta::assert_yaml_snapshot!("example", golden(path));
        });
    });
}
