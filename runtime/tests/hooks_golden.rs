//! Golden hook cases, snapshotted in `golden/hooks/snapshots/`:
//! * `golden/hooks/check/*.net`: what `netplan check` reports about their hooks (rendered as
//!   the CLI prints it, two files per diagnostic);
//! * `golden/hooks/run/<case>/new.net` (against `old.net`, if any): the `plan` hooks' output
//!   and, when one stops, its diagnostic.
//!
//! No `insta::glob!`: its collector is process-global, and this binary has two tests.

use std::path::{Path, PathBuf};
use std::time::Duration;

use netplan_lang::Source;
use netplan_lang::check::check_text;
use netplan_lang::model::HookEvent;
use netplan_runtime::hooks::{self, HookSet, Limits, OfflineHost, Runner};
use netplan_runtime::ipam::HostReserved;
use netplan_runtime::lock::Lock;
use netplan_runtime::planning::{against_applied, against_file};

fn golden() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../golden/hooks")
}

fn entries(dir: &Path, keep: impl Fn(&Path) -> bool) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| keep(p))
        .collect();
    v.sort();
    v
}

fn name(p: &Path) -> String {
    p.file_stem()
        .and_then(|n| n.to_str())
        .unwrap_or("case")
        .to_string()
}

fn snapshot(name: &str, description: String, text: String) {
    insta::with_settings!({
        snapshot_path => golden().join("snapshots"),
        prepend_module_to_snapshot => false,
        omit_expression => true,
        description => description,
    }, {
        insta::assert_snapshot!(name, text);
    });
}

#[test]
fn golden_check() {
    let dir = golden().join("check");
    let cases = entries(&dir, |p| p.extension().is_some_and(|e| e == "net"));
    assert!(
        cases.len() >= 8,
        "expected the golden hook check corpus, found {}",
        cases.len()
    );
    for path in cases {
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let file = format!("{}.net", name(&path));
        let checked = check_text(&text, &name(&path));
        let topo = checked
            .topology
            .unwrap_or_else(|| panic!("{file} must check: {:?}", checked.diags));
        let diags = hooks::check(&topo, &Source::new(file.as_str(), text.as_str()), &dir);
        let rendered: String = diags.iter().map(|d| d.render_plain(80)).collect();
        snapshot(
            &format!("check-{}", name(&path)),
            format!("golden/hooks/check/{file}"),
            rendered,
        );
    }
}

#[test]
fn golden_run() {
    let cases = entries(&golden().join("run"), |p| p.join("new.net").exists());
    assert!(
        cases.len() >= 8,
        "expected the golden hook run corpus, found {}",
        cases.len()
    );
    for dir in cases {
        let case = dir
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("case")
            .to_string();
        let read = |f: &str| std::fs::read_to_string(dir.join(f)).ok();
        let new_text = read("new.net").unwrap_or_default();
        let new = check_text(&new_text, "topology")
            .topology
            .unwrap_or_else(|| panic!("{case}: new.net does not check"));
        let planned = match read("old.net") {
            Some(old) => {
                let old = check_text(&old, "topology")
                    .topology
                    .unwrap_or_else(|| panic!("{case}: old.net does not check"));
                against_file(&new, &old, &Lock::default())
            }
            None => against_applied(&new, &Lock::default(), None, &HostReserved::default()),
        }
        .unwrap_or_else(|d| panic!("{case}: {d:?}"));
        // Few operations, so that a loop stops on them (not on the clock) in every build. Only
        // the `deadline` case is about the clock; every other case gets so much time that a
        // loaded machine cannot make it stop on the deadline instead of its own limit.
        let deadline = if case == "deadline" { 1 } else { 60 };
        let limits = Limits {
            max_operations: 100_000,
            ..Limits::with_deadline(Duration::from_secs(deadline))
        };
        let set = HookSet::load(&new, &Source::new("new.net", new_text.as_str()), &dir, limits)
            .unwrap_or_else(|d| {
                panic!(
                    "{case}: {}",
                    d.iter().map(|d| d.render_plain(80)).collect::<String>()
                )
            });
        let desired = &planned.allocated.desired;
        let (sink, lines) = hooks::collect();
        let runner = Runner::new(
            &set,
            std::sync::Arc::new(OfflineHost::new(desired)),
            sink,
            desired,
            &planned.plan,
        );
        let result = runner.run(HookEvent::Plan);
        let mut out: String = lines
            .lock()
            .map(|l| l.iter().map(|l| format!("{l}\n")).collect())
            .unwrap_or_default();
        match result {
            Ok(n) => out.push_str(&format!("\n(the plan is accepted; {n} hook ran)\n")),
            Err(f) => {
                out.push('\n');
                out.push_str(&f.diag.render_plain(80));
            }
        }
        snapshot(&format!("run-{case}"), format!("golden/hooks/run/{case}"), out);
    }
}
