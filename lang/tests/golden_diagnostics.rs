//! Golden corpus of rejected files (`golden/diagnostics/*.net`): every finding, rendered as the
//! CLI prints it, snapshotted in `golden/diagnostics/snapshots`.
//!
//! A glob test of its own binary: insta's glob collector is process-global.

use netplan_lang::check::check_text;
use netplan_lang::diag::{Source, render_plain};

#[test]
fn golden_diagnostics() {
    insta::with_settings!({
        snapshot_path => "../../golden/diagnostics/snapshots",
        prepend_module_to_snapshot => false,
    }, {
        insta::glob!("../../golden/diagnostics", "*.net", |path| {
            let text = std::fs::read_to_string(path).expect("read corpus file");
            let file = path.file_name().and_then(|n| n.to_str()).expect("file name");
            let stem = path.file_stem().and_then(|n| n.to_str()).expect("file stem");
            let checked = check_text(&text, stem);
            let rendered = render_plain(&checked.diags, &Source::new(file, text.as_str()), 80);
            insta::assert_snapshot!("diagnostics", rendered);
        });
    });
}
