//! Hooks through the CLI. `check` and `plan` run anywhere; apply, destroy, stop and start run
//! the built binary inside a throwaway namespace sandbox (root only; skipped otherwise), where
//! hooks exec, resolve and probe inside real container namespaces.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use netplan_runtime::kernel::sandbox;

const EXE: &str = env!("CARGO_BIN_EXE_netplan");

type R = Result<(), String>;

fn np(state: &Path, args: &[&str]) -> Result<Output, String> {
    Command::new(EXE)
        .arg("--state-dir")
        .arg(state)
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("NETPLAN_HOOK_TIMEOUT")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("running netplan {args:?}: {e}"))
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

/// Runs netplan and requires exit code `code`; returns stdout and stderr.
fn expect(state: &Path, code: i32, args: &[&str]) -> Result<(String, String), String> {
    let out = np(state, args)?;
    let (stdout, stderr) = text(&out);
    if out.status.code() != Some(code) {
        return Err(format!(
            "netplan {args:?}: exit {:?}, want {code}\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
            out.status.code()
        ));
    }
    Ok((stdout, stderr))
}

fn check(cond: bool, msg: impl Into<String>) -> R {
    if cond { Ok(()) } else { Err(msg.into()) }
}

/// `needles` appear in `hay` in this order (diagnostic lines wrapped by miette are joined).
fn in_order(hay: &str, needles: &[&str]) -> R {
    let joined = hay.replace("\n  | ", " ").replace("\n  │ ", " ");
    let hay = joined.as_str();
    let mut from = 0;
    for n in needles {
        match hay[from..].find(n) {
            Some(i) => from += i + n.len(),
            None => return Err(format!("{n:?} missing (or out of order) in:\n{hay}")),
        }
    }
    Ok(())
}

/// A private directory with a topology and its scripts, removed at the end.
struct Dir(PathBuf);

impl Dir {
    fn new(tag: &str) -> Result<Dir, String> {
        let d = std::env::temp_dir().join(format!(
            "netplan-hooks-cli-{tag}-{}-{}",
            std::process::id(),
            unique()
        ));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(d.join("hooks")).map_err(|e| e.to_string())?;
        Ok(Dir(d))
    }

    fn write(&self, name: &str, text: &str) -> Result<String, String> {
        let p = self.0.join(name);
        std::fs::write(&p, text).map_err(|e| format!("{}: {e}", p.display()))?;
        Ok(p.display().to_string())
    }

    fn state(&self) -> PathBuf {
        self.0.join("state")
    }

    fn example(&self, name: &str) -> Result<String, String> {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples").join(name);
        let text = std::fs::read_to_string(&src).map_err(|e| format!("{}: {e}", src.display()))?;
        self.write(name, &text)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn golden(path: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("golden/hooks")
        .join(path)
        .display()
        .to_string()
}

#[test]
fn check_reports_every_hook_problem_with_both_files() -> R {
    let dir = Dir::new("check")?;
    let (_, err) = expect(&dir.state(), 1, &["check", &golden("check/several.net")])?;
    in_order(
        &err,
        &[
            "cannot read hook script",
            "scripts/nowhere.rhai",
            "scripts/typo.rhai does not compile: Undefined variable: topolgy",
            "several.net:6:24",
            "scripts/typo.rhai:1:35",
            "scripts/syntax.rhai does not compile",
            "scripts/syntax.rhai:2:33",
        ],
    )?;
    let (json, _) = expect(&dir.state(), 1, &["check", "--json", &golden("check/syntax.net")])?;
    let v: serde_json::Value = serde_json::from_str(&json).map_err(|e| format!("{e}: {json}"))?;
    let files: Vec<(String, u64, u64)> = v
        .as_array()
        .map(|a| {
            a.iter()
                .map(|d| {
                    (
                        d["file"].as_str().unwrap_or("").to_string(),
                        d["line"].as_u64().unwrap_or(0),
                        d["column"].as_u64().unwrap_or(0),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    check(files.len() == 2, format!("two parts: {json}"))?;
    check(
        files[0].0.ends_with("syntax.net") && (files[0].1, files[0].2) == (6, 18),
        format!("the hook statement first: {files:?}"),
    )?;
    check(
        files[1].0.ends_with("scripts/syntax.rhai") && (files[1].1, files[1].2) == (2, 33),
        format!("then the script position: {files:?}"),
    )?;
    let (_, err) = expect(&dir.state(), 0, &["check", &golden("check/valid.net")])?;
    check(err.contains("1 file checked: no errors"), err)
}

#[test]
fn plan_hooks_refuse_a_plan() -> R {
    let dir = Dir::new("plan")?;
    dir.example("hooks/policy.rhai")?;
    let protected = "network payments {\n  subnet 10.40.0.0/24\n  label protected = \"true\"\n}\n";
    let rest = "network web {\n  subnet 10.41.0.0/24\n}\n\nhook plan \"hooks/policy.rhai\"\n";
    let old = dir.write("old.net", &format!("{protected}\n{rest}"))?;
    let new = dir.write("new.net", rest)?;
    let (out, err) = expect(&dir.state(), 1, &["plan", &new, "--against", &old])?;
    check(
        out.contains("network.payments"),
        format!("the plan is still shown:\n{out}"),
    )?;
    in_order(
        &err,
        &[
            "netplan::hook::failed",
            "plan hook",
            "policy.rhai failed: the plan would",
            "network.payments (delete)",
            "fail() called here",
            "new.net:5:11",
        ],
    )?;
    // Kept: accepted, with the hook's line on stderr.
    let kept = dir.write("kept.net", &format!("{protected}\n{rest}"))?;
    let (_, err) = expect(&dir.state(), 0, &["plan", &kept, "--against", &old])?;
    check(
        err.contains("] policy: no protected network is removed"),
        format!("accepted:\n{err}"),
    )
}

const LAB: &str = r#"network front {
  subnet 10.31.0.0/24
}

network back {
  subnet 10.32.0.0/24
  hook network-created "hooks/every.rhai"
}

container web {
  network front
  network back {
    alias api
  }
}

container db {
  network back
}

container lone {
  network front
  hook container-down "hooks/every.rhai"
}

hook before-apply "hooks/every.rhai"
hook after-apply "hooks/check.rhai"
hook before-destroy "hooks/every.rhai"
hook after-destroy "hooks/every.rhai"
hook container-up "hooks/every.rhai"
"#;

const EVERY: &str = r#"
let about = if network != () { network.name } else if container != () { container.name } else { topology.name };
log(`${event} ${about}`);
"#;

/// After apply, from inside the containers: exec, resolve, reachable (ICMP and TCP).
const CHECK: &str = r#"
let r = exec("web", ["cat", "/etc/resolv.conf"]);
if r.status != 0 || !r.stdout.contains("nameserver 127.0.0.11") { fail(`web's resolv.conf: ${r}`); }
let s = exec("db", ["sh", "-c", "echo out; echo err >&2; exit 3"]);
log(`exec: ${s.status} ${s.stdout.len()}:${s.stderr.len()} ${s.stdout == "out\n"} ${s.stderr == "err\n"}`);
log(`resolve: web db ${resolve("web", "db")}, db api ${resolve("db", "api")}, lone db ${resolve("lone", "db")}`);
log(`reachable: web db ${reachable("web", "db")}, lone db ${reachable("lone", "10.32.0.3")}`);
log(`tcp: dns ${reachable("web", "127.0.0.11", 53)}, closed ${reachable("web", "127.0.0.11", 54)}`);
"#;

fn lab(dir: &Dir) -> Result<String, String> {
    dir.write("hooks/every.rhai", EVERY)?;
    dir.write("hooks/check.rhai", CHECK)?;
    dir.write("lab.net", LAB)
}

fn steps() -> R {
    let dir = Dir::new("steps")?;
    let state = dir.state();
    let file = lab(&dir)?;
    let (out, _) = expect(&state, 0, &["apply", &file])?;
    in_order(
        &out,
        &[
            "  [before-apply ",
            "every.rhai] before-apply lab",
            "network.back: created",
            "  [network-created ",
            "every.rhai back] network-created back",
            "container.web: up",
            "every.rhai web] container-up web",
            "every.rhai db] container-up db",
            "every.rhai lone] container-up lone",
            "check.rhai] exec: 3 4:4 true true",
            "check.rhai] resolve: web db [\"10.32.0.3\"], db api [\"10.32.0.2\"], lone db []",
            "check.rhai] reachable: web db true, lone db false",
            "check.rhai] tcp: dns true, closed false",
            "Apply complete!",
        ],
    )?;
    check(
        !out.contains("container-down"),
        format!("nothing went down:\n{out}"),
    )?;
    let log_path = state.join("topologies/lab/logs/hooks.log");
    let log = std::fs::read_to_string(&log_path).map_err(|e| format!("{}: {e}", log_path.display()))?;
    in_order(
        &log,
        &[
            "] before-apply lab",
            "] network-created back",
            "check.rhai] tcp: dns true",
        ],
    )?;

    // Nothing to do: the whole-run hooks still run.
    let (out, _) = expect(&state, 0, &["apply", &file])?;
    in_order(&out, &["] before-apply lab", "check.rhai] tcp: dns true"])?;
    check(!out.contains("container-up"), format!("nothing came up:\n{out}"))?;

    // stop and start find the file the topology was applied from.
    let (out, _) = expect(&state, 0, &["stop", "lone"])?;
    check(
        out.contains("every.rhai lone] container-down lone"),
        format!("stop:\n{out}"),
    )?;
    let (out, _) = expect(&state, 0, &["stop", "db"])?;
    check(
        !out.contains("container-down"),
        format!("db has no down hook:\n{out}"),
    )?;
    let (out, _) = expect(&state, 0, &["start", "lone"])?;
    check(
        out.contains("every.rhai lone] container-up lone"),
        format!("start:\n{out}"),
    )?;

    let (out, _) = expect(&state, 0, &["destroy", &file])?;
    in_order(
        &out,
        &[
            "] before-destroy lab",
            "every.rhai lone] container-down lone",
            "] after-destroy lab",
            "Destroy complete!",
        ],
    )?;
    check(
        !std::path::Path::new("/run/netns/web").exists(),
        "web's namespace is gone",
    )
}

/// Whether any process runs `argv0 arg` (e.g. `sleep 30`).
fn running(cmdline: &str) -> bool {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .any(|c| String::from_utf8_lossy(&c).replace('\0', " ").trim() == cmdline)
}

fn failures() -> R {
    let dir = Dir::new("failures")?;
    let state = dir.state();
    lab(&dir)?;
    dir.write("hooks/no.rhai", "log(\"refusing\");\nfail(`${event} says no`);\n")?;

    // A refusing before-apply: nothing is created.
    let file = dir.write("lab.net", &format!("{LAB}hook before-apply \"hooks/no.rhai\"\n"))?;
    let (out, err) = expect(&state, 1, &["apply", &file])?;
    check(out.contains("] refusing"), format!("the hook ran:\n{out}"))?;
    in_order(
        &err,
        &[
            "before-apply hook",
            "no.rhai failed: before-apply says no",
            "no.rhai:2:1",
        ],
    )?;
    check(
        !Path::new("/run/netns/web").exists(),
        "before-apply refused, yet web exists",
    )?;
    check(
        !state.join("topologies/lab/applied.json").exists(),
        "before-apply refused, yet the state is recorded",
    )?;

    // A failing after-apply: exit 1, but everything is applied and recorded.
    let file = dir.write("lab.net", &format!("{LAB}hook after-apply \"hooks/no.rhai\"\n"))?;
    let (_, err) = expect(&state, 1, &["apply", &file])?;
    in_order(
        &err,
        &[
            "after-apply hook",
            "after-apply says no",
            "What was done is recorded",
        ],
    )?;
    check(Path::new("/run/netns/lone").exists(), "lone was not created")?;
    let (out, _) = expect(&state, 0, &["plan", &file])?;
    check(
        out.contains("No changes."),
        format!("plan after the failed hook:\n{out}"),
    )?;
    let file = dir.write("lab.net", LAB)?;
    let (out, _) = expect(&state, 0, &["apply", &file])?;
    check(
        out.contains("Apply complete! Nothing to do."),
        format!("the next apply redid work:\n{out}"),
    )?;

    // A command that hangs: killed at the hook's deadline.
    dir.write("hooks/hang.rhai", "exec(\"web\", [\"sleep\", \"30\"]);\n")?;
    let file = dir.write("lab.net", &format!("{LAB}hook after-apply \"hooks/hang.rhai\"\n"))?;
    let started = Instant::now();
    let (_, err) = expect(&state, 1, &["apply", &file, "--hook-timeout", "2"])?;
    let took = started.elapsed();
    check(
        took < Duration::from_secs(15),
        format!("the hung hook took {took:?}"),
    )?;
    in_order(
        &err,
        &[
            "hang.rhai failed",
            "\"sleep\" did not finish within",
            "and was killed",
            "hang.rhai:1:1",
        ],
    )?;
    check(!running("sleep 30"), "the hung command still runs")?;

    // A protected network: apply and destroy both refuse before changing anything.
    dir.example("hooks/policy.rhai")?;
    let guarded = LAB.replace(
        "  subnet 10.32.0.0/24\n",
        "  subnet 10.32.0.0/24\n  label protected = \"true\"\n",
    ) + "hook plan \"hooks/policy.rhai\"\n";
    let file = dir.write("lab.net", &guarded)?;
    expect(&state, 0, &["apply", &file])?;
    let dropped = guarded
        .replace("  network back {\n    alias api\n  }\n", "")
        .replace("container db {\n  network back\n}\n", "")
        .replace(
            "network back {\n  subnet 10.32.0.0/24\n  label protected = \"true\"\n  hook network-created \"hooks/every.rhai\"\n}\n",
            "",
        );
    check(!dropped.contains("network back"), format!("edit: {dropped}"))?;
    let file = dir.write("lab.net", &dropped)?;
    let (_, err) = expect(&state, 1, &["apply", &file])?;
    in_order(&err, &["network.back (delete)", "Nothing was changed."])?;
    check(
        Path::new("/run/netns/db").exists(),
        "db was removed despite the policy",
    )?;
    let file = dir.write("lab.net", &guarded)?;
    let (_, err) = expect(&state, 1, &["destroy", &file])?;
    in_order(&err, &["network.back (delete)", "Nothing was changed."])?;
    check(
        Path::new("/run/netns/db").exists(),
        "destroy went ahead despite the policy",
    )?;
    // Without the plan hook, destroy goes ahead.
    let file = dir.write("lab.net", LAB)?;
    expect(&state, 0, &["destroy", &file])?;
    check(!Path::new("/run/netns/db").exists(), "db survived destroy")
}

/// The walkthrough's smoke hook passes, and fails loudly once isolation is broken behind
/// netplan's back (a veth pair straight from container1 into container3).
fn smoke() -> R {
    let dir = Dir::new("smoke")?;
    let state = dir.state();
    dir.example("hooks/smoke.rhai")?;
    let file = dir.example("walkthrough.net")?;
    let (out, _) = expect(&state, 0, &["apply", &file])?;
    let line = out
        .lines()
        .find(|l| l.contains("smoke.rhai] ok: "))
        .ok_or(format!("no smoke result:\n{out}"))?;
    check(
        line.ends_with("ok: 38 pings, 65 names, 6 isolation probes across 8 containers"),
        format!("smoke: {line}"),
    )?;
    let ip = |args: &[&str]| -> R {
        let s = Command::new("ip")
            .args(args)
            .status()
            .map_err(|e| e.to_string())?;
        check(s.success(), format!("ip {args:?}"))
    };
    ip(&[
        "link",
        "add",
        "rogue0",
        "netns",
        "container1",
        "type",
        "veth",
        "peer",
        "name",
        "rogue1",
        "netns",
        "container3",
    ])?;
    ip(&["-n", "container1", "link", "set", "rogue0", "up"])?;
    ip(&["-n", "container3", "link", "set", "rogue1", "up"])?;
    ip(&[
        "-n",
        "container1",
        "addr",
        "add",
        "172.25.200.1/32",
        "dev",
        "rogue0",
    ])?;
    ip(&[
        "-n",
        "container1",
        "route",
        "add",
        "172.25.3.3/32",
        "dev",
        "rogue0",
    ])?;
    ip(&[
        "-n",
        "container3",
        "route",
        "add",
        "172.25.200.1/32",
        "dev",
        "rogue1",
    ])?;
    let (_, err) = expect(&state, 1, &["apply", &file])?;
    in_order(
        &err,
        &[
            "smoke.rhai failed: isolation broken: container1",
            "reaches container3",
            "at 172.25.3.3",
            "walkthrough.net:95:18",
        ],
    )?;
    ip(&["-n", "container1", "link", "del", "rogue0"])?;
    expect(&state, 0, &["destroy", &file]).map(|_| ())
}

fn run(name: &str, body: fn() -> R) {
    sandbox::run_test(name, || {
        if let Err(e) = body() {
            panic!("{e}");
        }
    });
}

#[test]
fn hooks_run_at_every_step() {
    run("hooks_run_at_every_step", steps);
}

#[test]
fn refusing_failing_and_hanging_hooks() {
    run("refusing_failing_and_hanging_hooks", failures);
}

#[test]
fn walkthrough_smoke_catches_broken_isolation() {
    run("walkthrough_smoke_catches_broken_isolation", smoke);
}

/// Tells apart runs that share `/tmp`: inside the kernel sandbox every test process is pid 1.
fn unique() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default()
}
