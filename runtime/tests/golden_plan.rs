//! Golden plan cases: `golden/plan/<case>/{old.net,new.net[,netplan.lock]}` planned with
//! `--against` semantics; text, JSON and Markdown snapshots in `golden/plan/snapshots/`.

use std::path::{Path, PathBuf};

use netplan_lang::check::check_text;
use netplan_runtime::lock::Lock;
use netplan_runtime::planning::{Planned, against_file};
use netplan_runtime::render;

fn golden() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../golden/plan")
}

fn plan_case(dir: &Path) -> Planned {
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap_or_default();
    // One fixed topology name, so ids are the same for every case and machine.
    let old = check_text(&read("old.net"), "topology");
    let new = check_text(&read("new.net"), "topology");
    let (Some(old), Some(new)) = (old.topology, new.topology) else {
        panic!("{}: a side does not check: {:?}", dir.display(), new.diags);
    };
    let lock = Lock::parse(&read("netplan.lock")).unwrap_or_default();
    match against_file(&new, &old, &lock) {
        Ok(p) => p,
        Err(d) => panic!("{}: planning failed: {d:?}", dir.display()),
    }
}

fn cases() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(golden())
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("new.net").exists())
        .collect();
    v.sort();
    v
}

#[test]
fn golden_plans() {
    let cases = cases();
    assert!(
        cases.len() >= 12,
        "expected the golden plan corpus, found {}",
        cases.len()
    );
    for dir in cases {
        let name = dir
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("case")
            .to_string();
        let p = plan_case(&dir);
        insta::with_settings!({
            snapshot_path => golden().join("snapshots"),
            prepend_module_to_snapshot => false,
            omit_expression => true,
            description => format!("golden/plan/{name}"),
        }, {
            insta::assert_snapshot!(format!("{name}.text"), render::text(&p.plan, false));
            let json = render::json(&p.plan);
            let mut written = Vec::new();
            assert!(render::write_json(&p.plan, &mut written).is_ok());
            assert_eq!(String::from_utf8_lossy(&written), format!("{json}\n"), "{name}: streamed JSON");
            insta::assert_snapshot!(format!("{name}.json"), json);
            insta::assert_snapshot!(format!("{name}.md"), render::markdown(&p.plan, "topology.net", render::MARKDOWN_LIMIT));
        });
    }
}

#[test]
fn no_change_cases_are_empty() {
    for case in ["reorder", "comment-only"] {
        let p = plan_case(&golden().join(case));
        assert!(p.plan.is_empty(), "{case}: {}", render::text(&p.plan, false));
    }
}

#[test]
fn locked_addresses_do_not_move() {
    let p = plan_case(&golden().join("add-network-locked"));
    let d = &p.allocated.desired;
    let addr = |c: &str| {
        d.container(c)
            .and_then(|c| c.endpoints.first())
            .and_then(|e| e.ipv4)
            .map(|n| n.to_string())
    };
    assert_eq!(addr("a").as_deref(), Some("172.18.0.5/16"));
    assert_eq!(addr("b").as_deref(), Some("172.19.0.2/16"));
    assert_eq!(addr("z").as_deref(), Some("172.17.0.2/16"));
    // Only the new network and its container are added.
    let addrs: Vec<&str> = p.plan.changes.iter().map(|c| c.address.as_str()).collect();
    assert_eq!(addrs, ["network.zero", "container.z", "endpoint.z.zero"]);
}

#[test]
fn disconnect_leaves_other_endpoints_alone() {
    let p = plan_case(&golden().join("disconnect"));
    let addrs: Vec<&str> = p.plan.changes.iter().map(|c| c.address.as_str()).collect();
    // container2 keeps its bridge endpoint; only its resolver changes (no user network left).
    assert_eq!(addrs, ["endpoint.container2.isolated_nw", "container.container2"]);
}

#[test]
fn markdown_truncates_honestly() {
    let p = plan_case(&golden().join("remove-network-with-containers"));
    let md = render::markdown(&p.plan, "t.net", 1200);
    assert!(md.len() <= 1200, "{}", md.len());
    assert!(md.contains("Output truncated"), "{md}");
}
