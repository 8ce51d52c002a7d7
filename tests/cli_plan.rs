//! The CLI's front half, run as a user would: check, fmt, plan, completions.
//! Nothing here needs root or touches the kernel.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn netplan(args: &[&str], dir: &Path) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_netplan"))
        .args(args)
        .current_dir(dir)
        .env("NETPLAN_STATE_DIR", dir.join("state"))
        .env_remove("NO_COLOR")
        .output();
    match out {
        Ok(o) => o,
        Err(e) => panic!("cannot run netplan: {e}"),
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A fresh directory for one test.
fn tempdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("netplan-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    if let Err(e) = std::fs::create_dir_all(&d) {
        panic!("cannot create {}: {e}", d.display());
    }
    d
}

fn write(dir: &Path, name: &str, content: &str) {
    if let Err(e) = std::fs::write(dir.join(name), content) {
        panic!("cannot write {name}: {e}");
    }
}

const OLD: &str = "network red { subnet 10.1.0.0/24 }\ncontainer a { network red }\n";
const NEW: &str =
    "network red { subnet 10.1.0.0/24 }\ncontainer a { network red }\ncontainer b { network red }\n";

#[test]
fn check_exit_codes_and_json() {
    let d = tempdir("check");
    write(&d, "good.net", OLD);
    write(
        &d,
        "bad.net",
        "network red { subnett 10.1.0.0/24 }\ncontainer a { network blue }\n",
    );
    let ok = netplan(&["check", "good.net"], &d);
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok.stderr));

    let bad = netplan(&["check", "bad.net"], &d);
    assert_eq!(bad.status.code(), Some(1));
    let err = text(&bad.stderr);
    assert!(err.contains("subnett") && err.contains("subnet"), "{err}");
    assert!(!err.contains('\u{1b}'), "colour on a pipe: {err}");

    let json = netplan(&["check", "--json", "bad.net"], &d);
    assert_eq!(json.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap_or_default();
    let items = v.as_array().cloned().unwrap_or_default();
    assert!(items.len() >= 2, "{v}");
    for field in ["code", "severity", "message", "file", "line", "column", "labels"] {
        assert!(items[0].get(field).is_some(), "missing {field}: {v}");
    }
    assert_eq!(items[0]["line"], 1);
    assert!(
        items.iter().any(|i| i["line"] == 2),
        "both errors reported at once: {v}"
    );
}

#[test]
fn plan_against_old_revision_with_exit_codes() {
    let d = tempdir("against");
    write(&d, "old.net", OLD);
    write(&d, "topology.net", NEW);
    let p = netplan(
        &[
            "plan",
            "topology.net",
            "--against",
            "old.net",
            "--detailed-exitcode",
        ],
        &d,
    );
    assert_eq!(p.status.code(), Some(2), "{}", text(&p.stderr));
    let out = text(&p.stdout);
    assert!(out.contains("# container.b will be created"), "{out}");
    assert!(
        out.contains("Plan: 2 to add, 0 to change, 0 to destroy."),
        "{out}"
    );
    // The lock file now pins b's address.
    let lock = std::fs::read_to_string(d.join("topology.net.lock")).unwrap_or_default();
    assert!(
        lock.contains("[containers.b.endpoints.red]") && lock.contains("10.1.0.3"),
        "{lock}"
    );

    let same = netplan(
        &[
            "plan",
            "topology.net",
            "--against",
            "topology.net",
            "--detailed-exitcode",
        ],
        &d,
    );
    assert_eq!(same.status.code(), Some(0));
    assert!(text(&same.stdout).contains("No changes."));
}

#[test]
fn locked_refuses_a_lock_change() {
    let d = tempdir("locked");
    write(&d, "old.net", OLD);
    write(&d, "topology.net", NEW);
    let p = netplan(&["plan", "topology.net", "--against", "old.net", "--locked"], &d);
    assert_eq!(p.status.code(), Some(1));
    assert!(text(&p.stderr).contains("--locked"), "{}", text(&p.stderr));
    assert!(!d.join("topology.net.lock").exists());
    // Once the lock is written, --locked passes.
    let _ = netplan(&["plan", "topology.net", "--against", "old.net"], &d);
    let again = netplan(&["plan", "topology.net", "--against", "old.net", "--locked"], &d);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again.stderr));
}

#[test]
fn plan_formats() {
    let d = tempdir("formats");
    write(&d, "old.net", OLD);
    write(&d, "topology.net", NEW);
    let j = netplan(&["plan", "topology.net", "--against", "old.net", "--json"], &d);
    let v: serde_json::Value = serde_json::from_slice(&j.stdout).unwrap_or_default();
    assert_eq!(v["format_version"], "1.0", "{}", text(&j.stdout));
    assert_eq!(v["changes"][0]["actions"][0], "create");
    let m = netplan(
        &[
            "plan",
            "topology.net",
            "--against",
            "old.net",
            "--format",
            "markdown",
        ],
        &d,
    );
    let md = text(&m.stdout);
    assert!(md.starts_with("### netplan plan"), "{md}");
    assert!(md.contains("<details>"), "{md}");
}

#[test]
fn plan_against_this_machine_creates_everything_at_first() {
    let d = tempdir("machine");
    write(&d, "topology.net", OLD);
    let p = netplan(&["plan", "topology.net", "--color", "never"], &d);
    assert_eq!(p.status.code(), Some(0), "{}", text(&p.stderr));
    let out = text(&p.stdout);
    assert!(out.contains("# network.red will be created"), "{out}");
    assert!(out.contains("Plan: 3 to add"), "{out}");
}

#[test]
fn errors_stop_plan_with_exit_1() {
    let d = tempdir("planerr");
    write(&d, "topology.net", "container a { network nowhere }\n");
    let p = netplan(&["plan", "topology.net"], &d);
    assert_eq!(p.status.code(), Some(1));
    assert!(text(&p.stderr).contains("nowhere"));
}

#[test]
fn fmt_check_and_rewrite() {
    let d = tempdir("fmt");
    write(
        &d,
        "messy.net",
        "network   red {subnet 10.1.0.0/24;   mtu 1400}\n\n\n\ncontainer a{network red}\n",
    );
    let c = netplan(&["fmt", "--check", "messy.net"], &d);
    assert_eq!(c.status.code(), Some(1));
    assert!(text(&c.stdout).contains("+"), "shows the difference");
    let w = netplan(&["fmt", "messy.net"], &d);
    assert_eq!(w.status.code(), Some(0), "{}", text(&w.stderr));
    let c2 = netplan(&["fmt", "--check", "messy.net"], &d);
    assert_eq!(c2.status.code(), Some(0), "{}", text(&c2.stdout));
    write(&d, "broken.net", "network red {\n");
    let b = netplan(&["fmt", "broken.net"], &d);
    assert_eq!(b.status.code(), Some(1));
}

#[test]
fn help_and_completions() {
    let d = tempdir("help");
    for cmd in ["check", "fmt", "plan", "completions"] {
        let h = netplan(&[cmd, "--help"], &d);
        assert_eq!(h.status.code(), Some(0), "{cmd} --help");
    }
    let c = netplan(&["completions", "bash"], &d);
    assert!(text(&c.stdout).contains("netplan"));
}

/// `netplan plan | head`: a reader that goes away is not a crash. The plan is larger than a
/// pipe's buffer, so netplan is still writing when the read end is closed.
#[test]
fn closed_stdout_is_not_a_panic() {
    let d = tempdir("pipe");
    let mut topo = String::from("network red { subnet 10.1.0.0/16 }\n");
    for i in 0..400 {
        topo.push_str(&format!("container c{i} {{ network red }}\n"));
    }
    write(&d, "big.net", &topo);
    let child = Command::new(env!("CARGO_BIN_EXE_netplan"))
        .args(["plan", "--against", "/dev/null", "big.net"])
        .current_dir(&d)
        .env("NETPLAN_STATE_DIR", d.join("state"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => panic!("cannot run netplan: {e}"),
    };
    drop(child.stdout.take());
    let out = match child.wait_with_output() {
        Ok(o) => o,
        Err(e) => panic!("waiting for netplan: {e}"),
    };
    let err = text(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(out.status.code(), Some(0), "{err}");
}
