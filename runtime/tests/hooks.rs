//! Hooks without a machine: loading, the values scripts see, the functions, limits and the
//! sandbox, with an in-memory host. The real-kernel tests are in `hooks_kernel.rs`.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use netplan_lang::Source;
use netplan_lang::check::check_text;
use netplan_lang::model::HookEvent;
use netplan_runtime::desired::Desired;
use netplan_runtime::diff::Plan;
use netplan_runtime::hooks::{
    self, ExecOutput, HookDiag, HookFailure, HookHost, HookSet, Level, Limits, OfflineHost, OutputLine,
    Runner, codes,
};
use netplan_runtime::ipam::HostReserved;
use netplan_runtime::lock::Lock;
use netplan_runtime::planning::against_applied;

/// A directory of its own per test, with the topology and its scripts.
struct Case {
    dir: PathBuf,
    source: Source,
    topology: netplan_lang::Topology,
    desired: Desired,
    plan: Plan,
}

impl Drop for Case {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn case(tag: &str, net: &str, scripts: &[(&str, &str)]) -> Case {
    let dir = std::env::temp_dir().join(format!("netplan-hooks-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for (name, text) in scripts {
        let p = dir.join(name);
        std::fs::create_dir_all(p.parent().unwrap_or(&dir)).unwrap();
        std::fs::write(&p, text).unwrap();
    }
    let checked = check_text(net, "t");
    let topology = checked
        .topology
        .unwrap_or_else(|| panic!("test topology does not check: {:?}", checked.diags));
    let planned = against_applied(&topology, &Lock::default(), None, &HostReserved::default())
        .unwrap_or_else(|d| panic!("test topology does not plan: {d:?}"));
    Case {
        dir,
        source: Source::new("t.net", net),
        topology,
        desired: planned.allocated.desired,
        plan: planned.plan,
    }
}

impl Case {
    fn load(&self, limits: Limits) -> Result<HookSet, Vec<HookDiag>> {
        HookSet::load(&self.topology, &self.source, &self.dir, limits)
    }

    fn set(&self) -> HookSet {
        self.load(Limits::default())
            .unwrap_or_else(|d| panic!("hooks do not load: {}", render(&d)))
    }
}

fn render(diags: &[HookDiag]) -> String {
    diags.iter().map(|d| d.render_plain(100)).collect()
}

fn texts(lines: &Arc<Mutex<Vec<OutputLine>>>) -> Vec<String> {
    lines
        .lock()
        .map(|l| l.iter().map(|l| l.to_string()).collect())
        .unwrap_or_default()
}

/// Runs `event` (no object) with the offline host; the output lines and the result.
fn run_offline(c: &Case, set: &HookSet, event: HookEvent) -> (Vec<String>, Result<usize, HookFailure>) {
    let (sink, lines) = hooks::collect();
    let host = Arc::new(OfflineHost::new(&c.desired).with_env(HashMap::from([("CI".into(), "yes".into())])));
    let runner = Runner::new(set, host, sink, &c.desired, &c.plan);
    let r = runner.run(event);
    (texts(&lines), r)
}

fn failure(r: Result<usize, HookFailure>) -> HookFailure {
    match r {
        Ok(n) => panic!("expected the hook to fail, {n} ran"),
        Err(f) => f,
    }
}

const TWO: &str = "
network front { subnet 10.1.0.0/24; label tier = \"web\" }
network back { subnet 10.2.0.0/24; internal }
container web { network front { alias www }; network back }
container db { network back { alias database; link web as app } }
container legacy {}
";

/// A host that records calls and waits out every exec's timeout (a command that hangs).
#[derive(Default)]
struct Recorder {
    calls: Mutex<Vec<String>>,
    last_timeout: Mutex<Option<Duration>>,
}

impl HookHost for Recorder {
    fn exec(&self, container: &str, argv: &[String], timeout: Duration) -> Result<ExecOutput, String> {
        self.calls
            .lock()
            .unwrap()
            .push(format!("exec {container} {argv:?} within {timeout:?}"));
        *self.last_timeout.lock().unwrap() = Some(timeout);
        std::thread::sleep(timeout);
        Err(format!(
            "{:?} did not finish within {timeout:?} and was killed",
            argv[0]
        ))
    }

    fn resolve(&self, container: &str, name: &str, _timeout: Duration) -> Result<Vec<IpAddr>, String> {
        self.calls
            .lock()
            .unwrap()
            .push(format!("resolve {container} {name}"));
        Ok(vec!["10.9.9.9".parse().unwrap()])
    }

    fn reachable(
        &self,
        from: &str,
        to: IpAddr,
        port: Option<u16>,
        _timeout: Duration,
    ) -> Result<bool, String> {
        self.calls
            .lock()
            .unwrap()
            .push(format!("reachable {from} {to} {port:?}"));
        Ok(port != Some(81))
    }
}

#[test]
fn plan_hook_sees_topology_and_plan() {
    let script = r#"
        log(`topology ${topology.name}: ${topology.networks.len()} networks, ${topology.containers.len()} containers`);
        let front = topology.networks.find(|n| n.name == "front");
        log(`front ${front.subnets[0].cidr} gw ${front.subnets[0].gateway} tier=${front.labels.tier} dns=${front.dns}`);
        let web = topology.containers.find(|c| c.name == "web");
        for e in web.endpoints {
            log(`web ${e.interface} on ${e.network}: ${e.ipv4} (${e.ipv4_cidr}) mac ${e.mac} aliases ${e.aliases}`);
        }
        let db = topology.containers.find(|c| c.name == "db");
        log(`db links ${db.endpoints[0].links[0].target} as ${db.endpoints[0].links[0].alias}`);
        log(`plan: ${plan.changes.len()} changes, add ${plan.summary.add}, empty ${plan.empty}`);
        let first = plan.changes[0];
        log(`first: ${first.action} ${first.address} kind ${first.kind} after.name ${first.after.name}`);
        log(`env CI=${env("CI")} unset=${env("NETPLAN_NOT_SET") == ()}`);
    "#;
    let c = case(
        "values",
        &format!("{TWO}\nhook plan \"policy.rhai\"\n"),
        &[("policy.rhai", script)],
    );
    let set = c.set();
    let (lines, r) = run_offline(&c, &set, HookEvent::Plan);
    assert_eq!(r.map_err(|f| f.diag.render_plain(100)), Ok(1));
    let web_front = c.desired.container("web").unwrap().endpoints[0].clone();
    let want = [
        "[plan policy.rhai] topology t: 3 networks, 3 containers".to_string(),
        "[plan policy.rhai] front 10.1.0.0/24 gw 10.1.0.1 tier=web dns=true".to_string(),
        format!(
            "[plan policy.rhai] web eth0 on front: 10.1.0.2 (10.1.0.2/24) mac {} aliases [\"www\"]",
            web_front.mac
        ),
    ];
    assert_eq!(lines[..3], want);
    assert!(
        lines[3].starts_with("[plan policy.rhai] web eth1 on back: 10.2.0.2 (10.2.0.2/24)"),
        "{lines:?}"
    );
    assert_eq!(lines[4], "[plan policy.rhai] db links web as app");
    assert_eq!(
        lines[5],
        format!(
            "[plan policy.rhai] plan: {} changes, add {}, empty false",
            c.plan.changes.len(),
            c.plan.summary().add
        )
    );
    assert_eq!(
        lines[6],
        format!(
            "[plan policy.rhai] first: create {} kind network after.name front",
            c.plan.changes[0].address
        )
    );
    assert_eq!(lines[7], "[plan policy.rhai] env CI=yes unset=true");
}

#[test]
fn hooks_run_in_declaration_order_and_by_scope() {
    let net = "
hook network-created \"all.rhai\"
network a { subnet 10.1.0.0/24; hook network-created \"a.rhai\" }
network b { subnet 10.2.0.0/24 }
hook network-created \"all2.rhai\"
container x { network a; hook container-up \"x.rhai\" }
container y { network b }
hook container-up \"any.rhai\"
";
    let (n, k) = ("log(network.name);", "log(container.name);");
    let c = case(
        "order",
        net,
        &[
            ("all.rhai", n),
            ("a.rhai", n),
            ("all2.rhai", n),
            ("x.rhai", k),
            ("any.rhai", k),
        ],
    );
    let set = c.set();
    assert_eq!(set.scripts().len(), 5);
    let (sink, lines) = hooks::collect();
    let host = Arc::new(OfflineHost::new(&c.desired));
    let runner = Runner::new(&set, host, sink, &c.desired, &c.plan);
    let n = |name: &str| c.desired.network(name).unwrap().clone();
    let k = |name: &str| c.desired.container(name).unwrap().clone();
    assert_eq!(
        runner.run_network(HookEvent::NetworkCreated, &n("a")).ok(),
        Some(3)
    );
    assert_eq!(
        runner.run_network(HookEvent::NetworkCreated, &n("b")).ok(),
        Some(2)
    );
    assert_eq!(
        runner.run_network(HookEvent::NetworkRemoved, &n("b")).ok(),
        Some(0)
    );
    assert_eq!(
        runner.run_container(HookEvent::ContainerUp, &k("x")).ok(),
        Some(2)
    );
    assert_eq!(
        runner.run_container(HookEvent::ContainerUp, &k("y")).ok(),
        Some(1)
    );
    assert_eq!(runner.run(HookEvent::AfterApply).ok(), Some(0));
    assert_eq!(
        texts(&lines),
        [
            "[network-created all.rhai a] a",
            "[network-created a.rhai a] a",
            "[network-created all2.rhai a] a",
            "[network-created all.rhai b] b",
            "[network-created all2.rhai b] b",
            "[container-up x.rhai x] x",
            "[container-up any.rhai x] x",
            "[container-up any.rhai y] y",
        ]
    );
}

#[test]
fn fail_stops_with_the_script_position_and_cannot_be_caught() {
    let script = "log(\"checking\");\ntry {\n  fail(\"rule 7 broken\");\n} catch (e) {\n  log(\"caught\");\n}\nlog(\"after\");\n";
    let c = case(
        "fail",
        &format!("{TWO}\nhook before-apply \"stop.rhai\"\nhook before-apply \"never.rhai\"\n"),
        &[("stop.rhai", script), ("never.rhai", "log(\"must not run\");")],
    );
    let set = c.set();
    let (lines, r) = run_offline(&c, &set, HookEvent::BeforeApply);
    let f = failure(r);
    assert_eq!(lines, ["[before-apply stop.rhai] checking"]);
    assert_eq!(f.diag.code(), codes::FAILED);
    assert_eq!(f.event, HookEvent::BeforeApply);
    assert_eq!(f.hook, "stop.rhai");
    let text = f.diag.render_plain(100);
    assert!(
        text.contains("before-apply hook stop.rhai failed: rule 7 broken"),
        "{text}"
    );
    assert!(text.contains("[stop.rhai:3:3]"), "{text}");
    assert!(text.contains("[t.net:"), "the hook statement is shown: {text}");
}

#[test]
fn throw_and_host_errors_fail_the_hook() {
    let c = case(
        "throw",
        &format!("{TWO}\nhook plan \"t.rhai\"\nhook after-apply \"x.rhai\"\n"),
        &[
            ("t.rhai", "let x = 1;\nif x == 1 { throw \"no\" }\n"),
            ("x.rhai", "exec(\"web\", [\"true\"]);\n"),
        ],
    );
    let set = c.set();
    let f = failure(run_offline(&c, &set, HookEvent::Plan).1);
    assert_eq!(f.diag.code(), codes::FAILED);
    assert!(f.diag.render_plain(100).contains("plan hook t.rhai failed: no"));
    let f = failure(run_offline(&c, &set, HookEvent::AfterApply).1);
    let text = f.diag.render_plain(100);
    assert!(
        text.contains("exec in web: exec needs containers that exist"),
        "{text}"
    );
    assert!(text.contains("[x.rhai:1:1]"), "{text}");
}

#[test]
fn endless_loop_is_stopped_by_the_operation_limit() {
    let c = case(
        "loop",
        &format!("{TWO}\nhook plan \"loop.rhai\"\n"),
        &[("loop.rhai", "let i = 0;\nloop { i += 1; }\n")],
    );
    let set = c.set();
    let started = Instant::now();
    let f = failure(run_offline(&c, &set, HookEvent::Plan).1);
    assert!(started.elapsed() < Limits::default().deadline);
    assert_eq!(f.diag.code(), codes::LIMIT);
    assert!(
        f.diag
            .render_plain(100)
            .contains("was stopped after 5000000 operations")
    );
}

#[test]
fn endless_loop_is_stopped_by_the_deadline() {
    let c = case(
        "deadline",
        &format!("{TWO}\nhook plan \"loop.rhai\"\n"),
        &[("loop.rhai", "let i = 0;\nwhile true { i += 1; }\n")],
    );
    let limits = Limits {
        max_operations: 0,
        ..Limits::with_deadline(Duration::from_millis(300))
    };
    let set = c.load(limits).unwrap_or_else(|d| panic!("{}", render(&d)));
    let started = Instant::now();
    let f = failure(run_offline(&c, &set, HookEvent::Plan).1);
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_secs(20),
        "{took:?}"
    );
    assert_eq!(f.diag.code(), codes::DEADLINE);
    let text = f.diag.render_plain(100);
    assert!(
        text.contains("plan hook loop.rhai ran past its deadline of 300ms"),
        "{text}"
    );
    assert!(text.contains("[loop.rhai:2:"), "{text}");
}

#[test]
fn deep_recursion_is_stopped() {
    let c = case(
        "recursion",
        &format!("{TWO}\nhook plan \"rec.rhai\"\n"),
        &[("rec.rhai", "fn down(n) { down(n + 1) }\ndown(0);\n")],
    );
    let set = c.set();
    let started = Instant::now();
    let f = failure(run_offline(&c, &set, HookEvent::Plan).1);
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(f.diag.code(), codes::LIMIT);
    let text = f.diag.render_plain(100);
    assert!(text.contains("nested calls more than 32 levels deep"), "{text}");
}

#[test]
fn sleep_and_slow_functions_end_at_the_deadline() {
    let c = case(
        "sleep",
        &format!("{TWO}\nhook plan \"sleep.rhai\"\nhook after-apply \"slow.rhai\"\n"),
        &[
            ("sleep.rhai", "log(\"zz\");\nsleep(3600);\nlog(\"never\");\n"),
            ("slow.rhai", "exec(\"web\", [\"sleep\", 3600]);\n"),
        ],
    );
    let set = c
        .load(Limits::with_deadline(Duration::from_millis(300)))
        .unwrap_or_else(|d| panic!("{}", render(&d)));
    let started = Instant::now();
    let (lines, r) = run_offline(&c, &set, HookEvent::Plan);
    assert!(started.elapsed() < Duration::from_secs(20)); // not the hour it asked for
    assert_eq!(lines, ["[plan sleep.rhai] zz"]);
    assert_eq!(failure(r).diag.code(), codes::DEADLINE);

    // A host call gets at most the time left, and the deadline stops the hook after it.
    let host = Arc::new(Recorder::default());
    let runner = Runner::new(&set, host.clone(), hooks::discard(), &c.desired, &c.plan);
    let started = Instant::now();
    let f = failure(runner.run(HookEvent::AfterApply));
    assert!(started.elapsed() < Duration::from_secs(20)); // not the hour it asked for
    let calls = host.calls.lock().unwrap().clone();
    assert_eq!(calls.len(), 1);
    assert!(
        calls[0].starts_with("exec web [\"sleep\", \"3600\"] within "),
        "{calls:?}"
    );
    assert!(
        host.last_timeout
            .lock()
            .unwrap()
            .is_some_and(|t| t <= Duration::from_millis(300))
    );
    assert_eq!(f.diag.code(), codes::FAILED, "{}", f.diag.render_plain(100));
}

#[test]
fn eval_import_and_files_are_refused() {
    let c = case(
        "sandbox",
        &format!(
            "{TWO}\nhook plan \"eval.rhai\"\nhook plan \"import.rhai\"\nhook plan \"fnptr.rhai\"\nhook plan \"file.rhai\"\n"
        ),
        &[
            ("eval.rhai", "let x = eval(\"40 + 2\");\n"),
            ("import.rhai", "import \"os\" as os;\n"),
            ("fnptr.rhai", "let f = Fn(\"eval\");\nf.call(\"1\");\n"),
            ("file.rhai", "let text = read_file(\"/etc/passwd\");\n"),
        ],
    );
    let diags = c.load(Limits::default()).err().unwrap_or_default();
    assert_eq!(diags.len(), 2, "{}", render(&diags));
    let eval = diags[0].render_plain(100);
    assert!(
        eval.contains("hook script eval.rhai does not compile: reserved keyword 'eval' is disabled"),
        "{eval}"
    );
    assert!(eval.contains("[eval.rhai:1:9]"), "{eval}");
    let import = diags[1].render_plain(100);
    assert!(import.contains("'import' is a reserved keyword"), "{import}");
    assert!(import.contains("hooks cannot load modules"), "{import}");

    // Without the two, the others load but are refused when they run.
    let c = case(
        "sandbox2",
        &format!("{TWO}\nhook plan \"fnptr.rhai\"\nhook after-apply \"file.rhai\"\n"),
        &[
            ("fnptr.rhai", "let f = Fn(\"eval\");\nf.call(\"1\");\n"),
            ("file.rhai", "let text = read_file(\"/etc/passwd\");\n"),
        ],
    );
    let set = c.set();
    let f = failure(run_offline(&c, &set, HookEvent::Plan).1);
    let text = f.diag.render_plain(100);
    assert!(text.contains("eval"), "{text}");
    eprintln!("{text}");
    let f = failure(run_offline(&c, &set, HookEvent::AfterApply).1);
    assert_eq!(f.diag.code(), codes::ERROR);
    let text = f.diag.render_plain(100);
    assert!(
        text.contains("called a function that does not exist: read_file"),
        "{text}"
    );
    assert!(text.contains("hooks have no file or process access"), "{text}");
}

#[test]
fn values_are_read_only_and_not_shared_between_hooks() {
    let c = case(
        "readonly",
        &format!("{TWO}\nhook plan \"a.rhai\"\nhook plan \"b.rhai\"\nhook after-apply \"c.rhai\"\n"),
        &[
            (
                "a.rhai",
                "try { topology.networks.clear(); } catch (e) { log(\"refused\"); }\n\
                 let t = topology;\nt.name = \"changed\";\nlog(t.name);\n\
                 fn rename() { this.name = \"renamed\"; }\n\
                 try { topology.rename(); } catch (e) { log(\"method refused\"); }\n\
                 try { plan.changes[0].action = \"x\"; } catch (e) { log(\"index refused\"); }\n\
                 for n in topology.networks { n.name = \"x\"; }\n\
                 let topology = 5;\nlog(`shadowed ${topology}`);\n",
            ),
            (
                "b.rhai",
                "log(`${topology.name} ${topology.networks.len()} ${topology.networks[0].name} ${plan.changes[0].action}`);\n",
            ),
            ("c.rhai", "log(\"before\");\nplan = 1;\n"),
        ],
    );
    let set = c.set();
    let (lines, r) = run_offline(&c, &set, HookEvent::Plan);
    assert_eq!(r.ok(), Some(2));
    assert_eq!(
        lines,
        [
            "[plan a.rhai] refused",
            "[plan a.rhai] changed",
            "[plan a.rhai] method refused",
            "[plan a.rhai] index refused",
            "[plan a.rhai] shadowed 5",
            "[plan b.rhai] t 3 front create",
        ]
    );
    let (lines, r) = run_offline(&c, &set, HookEvent::AfterApply);
    assert_eq!(lines, ["[after-apply c.rhai] before"]);
    let text = failure(r).diag.render_plain(100);
    assert!(text.contains("[c.rhai:2:1]"), "{text}");
}

#[test]
fn variables_follow_the_event() {
    let net =
        "network n { subnet 10.0.0.0/24; hook network-created \"n.rhai\" }\nhook after-apply \"n.rhai\"\n";
    let script = "log(`${event}: network ${if network == () { \"-\" } else { network.name }}, container ${container}`);\n";
    let c = case("vars", net, &[("n.rhai", script)]);
    let set = c.set();
    let (sink, lines) = hooks::collect();
    let runner = Runner::new(
        &set,
        Arc::new(OfflineHost::new(&c.desired)),
        sink,
        &c.desired,
        &c.plan,
    );
    let n = c.desired.network("n").unwrap();
    assert_eq!(runner.run_network(HookEvent::NetworkCreated, n).ok(), Some(1));
    assert_eq!(runner.run(HookEvent::AfterApply).ok(), Some(1));
    assert_eq!(
        texts(&lines),
        [
            "[network-created n.rhai n] network-created: network n, container ",
            "[after-apply n.rhai] after-apply: network -, container ",
        ]
    );
    // A name that is none of them does not compile.
    let c = case("typo", net, &[("n.rhai", "log(topolgy.name);\n")]);
    let diags = c.load(Limits::default()).err().unwrap_or_default();
    assert_eq!(diags.len(), 2, "{}", render(&diags));
    let text = diags[0].render_plain(100);
    assert!(
        text.contains("n.rhai does not compile: Undefined variable: topolgy"),
        "{text}"
    );
    assert!(
        text.contains("hooks see `event`, `topology`, `plan`, `network` and `container`"),
        "{text}"
    );
}

#[test]
fn scoped_hooks_must_fit_their_block_and_files_must_exist() {
    let c = case(
        "scope",
        "network n {\n  subnet 10.0.0.0/24\n  hook after-apply \"n.rhai\"\n}\ncontainer c {\n  network n\n  hook network-created \"c.rhai\"\n}\nhook plan \"missing.rhai\"\n",
        &[("n.rhai", "1"), ("c.rhai", "1")],
    );
    let diags = c.load(Limits::default()).err().unwrap_or_default();
    let codes: Vec<&str> = diags.iter().map(|d| d.code()).collect();
    assert_eq!(
        codes,
        [codes::SCOPE, codes::SCOPE, codes::MISSING],
        "{}",
        render(&diags)
    );
    assert!(render(&diags).contains("hook `after-apply` inside network `n` would never run"));
    assert!(render(&diags).contains("cannot read hook script missing.rhai: no such file"));
    assert_eq!(hooks::check(&c.topology, &c.source, &c.dir).len(), 3);
}

#[test]
fn offline_resolve_answers_as_each_container_will_see_names() {
    let script = r#"
        log(`web www: ${resolve("web", "www")}`);
        log(`db app: ${resolve("db", "app")}`);
        log(`db WEB.back: ${resolve("db", "WEB.back")}`);
        log(`web db: ${resolve("web", "db")}`);
        log(`db www: ${resolve("db", "www")}`);
        log(`legacy legacy: ${resolve("legacy", "legacy")}`);
        log(`legacy web: ${resolve("legacy", "web")}`);
        log(`web example.org: ${resolve("web", "example.org")}`);
    "#;
    let c = case(
        "resolve",
        &format!("{TWO}\nhook plan \"r.rhai\"\n"),
        &[("r.rhai", script)],
    );
    let set = c.set();
    let (lines, r) = run_offline(&c, &set, HookEvent::Plan);
    assert!(r.is_ok(), "{lines:?}");
    let d = &c.desired;
    let addr = |k: &str, n: &str| {
        d.container(k)
            .and_then(|c| c.endpoints.iter().find(|e| e.network == n))
            .and_then(|e| e.ipv4)
            .map(|a| a.addr().to_string())
            .unwrap_or_default()
    };
    let legacy = addr("legacy", "bridge");
    assert_eq!(
        lines,
        [
            format!("[plan r.rhai] web www: [\"{}\"]", addr("web", "front")),
            format!("[plan r.rhai] db app: [\"{}\"]", addr("web", "back")),
            format!("[plan r.rhai] db WEB.back: [\"{}\"]", addr("web", "back")),
            format!("[plan r.rhai] web db: [\"{}\"]", addr("db", "back")),
            "[plan r.rhai] db www: []".to_string(),
            format!("[plan r.rhai] legacy legacy: [\"{legacy}\"]"),
            "[plan r.rhai] legacy web: []".to_string(),
            "[plan r.rhai] web example.org: []".to_string(),
        ]
    );
}

/// A host whose exec answers at once.
struct Echo;

impl HookHost for Echo {
    fn exec(&self, container: &str, argv: &[String], _timeout: Duration) -> Result<ExecOutput, String> {
        Ok(ExecOutput {
            status: i64::from(argv.len() as u8),
            stdout: format!("{container}: {}", argv.join(" ")),
            stderr: "err".into(),
        })
    }

    fn resolve(&self, _container: &str, name: &str, _timeout: Duration) -> Result<Vec<IpAddr>, String> {
        Ok(if name == "known" {
            vec!["10.9.9.9".parse().unwrap(), "fd00::9".parse().unwrap()]
        } else {
            vec![]
        })
    }

    fn reachable(
        &self,
        from: &str,
        to: IpAddr,
        port: Option<u16>,
        _timeout: Duration,
    ) -> Result<bool, String> {
        Ok(from == "web" && to.to_string() == "10.9.9.9" && port != Some(81))
    }
}

#[test]
fn functions_reach_the_host() {
    let script = r#"
        let r = exec("web", ["ping", "-c", 1, "10.0.0.1"]);
        log(`${r.status} ${r.stdout} ${r.stderr}`);
        log(`${reachable("web", "known")} ${reachable("web", "known", 80)} ${reachable("web", "known", 81)}`);
        log(`${reachable("web", "unknown")} ${reachable("db", "10.9.9.9")}`);
        warn(42);
        debug("dbg");
        print("printed");
        try { reachable("web", "known", 70000); } catch (e) { log(`caught: ${e}`); }
        try { exec("web", []); } catch (e) { log(`caught: ${e}`); }
        try { exec("web", ["a", #{}]); } catch (e) { log(`caught: ${e}`); }
    "#;
    let c = case(
        "functions",
        &format!("{TWO}\nhook after-apply \"f.rhai\"\n"),
        &[("f.rhai", script)],
    );
    let set = c.set();
    let (sink, lines) = hooks::collect();
    let runner = Runner::new(&set, Arc::new(Echo), sink, &c.desired, &c.plan);
    assert_eq!(
        runner
            .run(HookEvent::AfterApply)
            .map_err(|f| f.diag.render_plain(100)),
        Ok(1)
    );
    let lines = lines.lock().unwrap().clone();
    let levels: Vec<Level> = lines.iter().map(|l| l.level).collect();
    let text: Vec<&str> = lines.iter().map(|l| l.text.as_str()).collect();
    assert_eq!(
        text,
        [
            "4 web: ping -c 1 10.0.0.1 err",
            "true true false",
            "false false",
            "42",
            "\"dbg\"",
            "printed",
            "caught: reachable: port 70000 is not in 1-65535",
            "caught: exec: the command is empty; give [program, args...]",
            "caught: exec: argument 2 is map; give strings (or numbers)",
        ]
    );
    assert_eq!(levels[3], Level::Warn);
    assert_eq!(levels[4], Level::Debug);
    assert!(
        lines
            .iter()
            .all(|l| l.event == HookEvent::AfterApply && l.hook == "f.rhai" && l.object.is_none())
    );
}
