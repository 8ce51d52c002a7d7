//! Hooks at apply's step boundaries, against the in-memory kernel (no root): every event fires
//! once, in order, with the right data; a failing `before-apply` changes nothing; a failing
//! `after-apply` leaves a converged state that the next apply does not redo.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use netplan_lang::Source;
use netplan_lang::check::check_text;
use netplan_runtime::apply::{self, ApplyError, Env, FakeHost, NoObserver};
use netplan_runtime::desired::Desired;
use netplan_runtime::diff::{Plan, diff};
use netplan_runtime::hooks::{
    self, HookLog, HookObserver, HookSet, Limits, OfflineHost, OutputLine, Phase, Runner,
};
use netplan_runtime::ipam::HostReserved;
use netplan_runtime::kernel::FakeKernel;
use netplan_runtime::lock::Lock;
use netplan_runtime::planning::against_applied;
use netplan_runtime::state::StateDir;

/// One script for every event: says which event, about what, with the data that matters.
const EVERY: &str = r#"
switch event {
    "network-created" | "network-removed" => log(`${event} ${network.name} ${network.subnets.map(|s| s.cidr)}`),
    "container-up" | "container-down" => log(`${event} ${container.name} ${container.endpoints.map(|e| e.ipv4)}`),
    _ => log(`${event} ${topology.containers.map(|c| c.name)} ${plan.changes.filter(|c| c.kind != "endpoint").map(|c| `${c.action} ${c.address}`)}`),
}
"#;

const NET: &str = "\
hook before-apply \"net.rhai\"
hook after-apply \"any.rhai\"
hook before-destroy \"any.rhai\"
hook after-destroy \"any.rhai\"
network a {
  subnet 10.1.0.0/24
  hook network-created \"net.rhai\"
}
network b { subnet 10.2.0.0/24 }
container c1 { network a }
container c2 {
  network a
  network b
  hook container-up \"ctr.rhai\"
}
hook network-created \"any.rhai\"
hook network-removed \"any.rhai\"
hook container-up \"any.rhai\"
hook container-down \"any.rhai\"
";

struct Fixture {
    dir: PathBuf,
    kernel: FakeKernel,
}

impl Fixture {
    fn new(tag: &str) -> Fixture {
        let dir = std::env::temp_dir().join(format!(
            "netplan-hooks-apply-{tag}-{}-{}",
            std::process::id(),
            unique()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for (name, text) in [
            ("any.rhai", EVERY),
            ("net.rhai", "log(`first ${event}`);"),
            ("ctr.rhai", "log(`scoped ${event} ${container.name}`);"),
            ("fail.rhai", "log(\"refusing\");\nfail(`${event} says no`);\n"),
        ] {
            std::fs::write(dir.join(name), text).unwrap();
        }
        Fixture {
            dir,
            kernel: FakeKernel::new(),
        }
    }

    fn state(&self) -> StateDir {
        StateDir::new(self.dir.join("state"))
    }

    fn host(&self) -> FakeHost<'_> {
        FakeHost::new(&self.kernel, self.dir.join("etc-netns"))
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The topology `text`, its hooks, and its plan against what `state` recorded.
fn load(f: &Fixture, text: &str, state: &StateDir) -> (HookSet, Desired, Plan) {
    let checked = check_text(text, "t");
    let topo = checked.topology.unwrap_or_else(|| panic!("{:?}", checked.diags));
    let applied = state.applied("t").unwrap_or_else(|e| panic!("{e}"));
    let planned = against_applied(
        &topo,
        &Lock::default(),
        applied.as_ref(),
        &HostReserved::default(),
    )
    .unwrap_or_else(|d| panic!("{d:?}"));
    let set = HookSet::load(&topo, &Source::new("t.net", text), &f.dir, Limits::default())
        .unwrap_or_else(|d| panic!("{}", d.iter().map(|d| d.render_plain(100)).collect::<String>()));
    (set, planned.allocated.desired, planned.plan)
}

type Lines = Arc<Mutex<Vec<OutputLine>>>;

fn texts(lines: &Lines) -> Vec<String> {
    let mut l = lines.lock().unwrap();
    let out = l.iter().map(|l| l.text.clone()).collect();
    l.clear();
    out
}

fn ipv4(d: &Desired, c: &str) -> String {
    let ips: Vec<String> = d
        .container(c)
        .unwrap()
        .endpoints
        .iter()
        .map(|e| format!("\"{}\"", e.ipv4.unwrap().addr()))
        .collect();
    format!("[{}]", ips.join(", "))
}

/// Applies `desired` with hooks; the observer's failure, if any.
fn apply_with(
    env: Env,
    set: &HookSet,
    desired: &Desired,
    plan: &Plan,
    sink: hooks::Sink,
) -> Result<(), Box<(ApplyError, Option<String>)>> {
    let before = env
        .state
        .applied(&desired.topology)
        .unwrap_or_else(|e| panic!("{e}"));
    let runner = Runner::new(set, Arc::new(OfflineHost::new(desired)), sink, desired, plan);
    let log = HookLog::open(env.state, &desired.topology).ok();
    let mut inner = NoObserver;
    let mut obs = HookObserver::new(runner, Phase::Apply, before.as_ref(), log, &mut inner);
    match apply::apply(env, desired, &mut obs) {
        Ok(_) => Ok(()),
        Err(e) => Err(Box::new((
            e,
            obs.take_failure().map(|f| f.diag.render_plain(100)),
        ))),
    }
}

#[test]
fn every_event_fires_once_in_order_with_its_data() {
    let f = Fixture::new("events");
    let (state, host) = (f.state(), f.host());
    let env = Env {
        kernel: &f.kernel,
        host: &host,
        state: &state,
    };
    let (sink, lines) = hooks::collect();

    // First apply: everything is created.
    let (set, d, plan) = load(&f, NET, &state);
    assert!(apply_with(env, &set, &d, &plan, sink.clone()).is_ok());
    let all = r#"["create network.a", "create network.b", "create container.c1", "create container.c2"]"#;
    assert_eq!(
        texts(&lines),
        [
            "first before-apply".to_string(),
            "first network-created".into(),
            "network-created a [\"10.1.0.0/24\"]".into(),
            "network-created b [\"10.2.0.0/24\"]".into(),
            format!("container-up c1 {}", ipv4(&d, "c1")),
            "scoped container-up c2".into(),
            format!("container-up c2 {}", ipv4(&d, "c2")),
            format!("after-apply [\"c1\", \"c2\"] {all}"),
        ]
    );

    // Nothing to do: only the whole-run hooks.
    let (set, d, plan) = load(&f, NET, &state);
    assert!(plan.is_empty());
    assert!(apply_with(env, &set, &d, &plan, sink.clone()).is_ok());
    assert_eq!(
        texts(&lines),
        ["first before-apply", "after-apply [\"c1\", \"c2\"] []"]
    );

    // c2 and b go, c3 comes.
    let old = d.clone();
    let changed = NET
        .replace("network b { subnet 10.2.0.0/24 }\n", "")
        .replace("  network b\n", "")
        .replace("container c2 {", "container c3 {");
    let (set, d, plan) = load(&f, &changed, &state);
    assert!(apply_with(env, &set, &d, &plan, sink.clone()).is_ok());
    let got = texts(&lines);
    assert_eq!(got[0], "first before-apply");
    assert_eq!(got[1], format!("container-down c2 {}", ipv4(&old, "c2")));
    assert_eq!(got[2], "network-removed b [\"10.2.0.0/24\"]");
    assert_eq!(got[3], "scoped container-up c3");
    assert_eq!(got[4], format!("container-up c3 {}", ipv4(&d, "c3")));
    assert_eq!(
        got[5],
        r#"after-apply ["c1", "c3"] ["delete container.c2", "delete network.b", "create container.c3"]"#
    );
    assert_eq!(got.len(), 6, "{got:?}");

    // Stop and start c1: only its own events.
    let stop_start = |stop: bool| {
        let runner = Runner::new(
            &set,
            Arc::new(OfflineHost::new(&d)),
            sink.clone(),
            &d,
            &Plan::default(),
        );
        let before = state.applied("t").unwrap_or_else(|e| panic!("{e}"));
        let mut inner = NoObserver;
        let mut obs = HookObserver::new(runner, Phase::StopStart, before.as_ref(), None, &mut inner);
        apply::set_stopped(env, Some("t"), "c1", stop, &mut obs).unwrap_or_else(|e| panic!("{e}"));
    };
    stop_start(true);
    assert_eq!(texts(&lines), [format!("container-down c1 {}", ipv4(&d, "c1"))]);
    stop_start(false);
    assert_eq!(texts(&lines), [format!("container-up c1 {}", ipv4(&d, "c1"))]);

    // Destroy: the recorded state is what the hooks see.
    let recorded = state.applied("t").unwrap_or_else(|e| panic!("{e}")).unwrap();
    let gone = diff(
        &recorded,
        &Desired {
            topology: "t".into(),
            ..Desired::default()
        },
    );
    let runner = Runner::new(
        &set,
        Arc::new(OfflineHost::new(&recorded)),
        sink.clone(),
        &recorded,
        &gone,
    );
    let mut inner = NoObserver;
    let mut obs = HookObserver::new(runner, Phase::Destroy, Some(&recorded), None, &mut inner);
    apply::destroy(env, "t", &mut obs).unwrap_or_else(|e| panic!("{e}"));
    let got = texts(&lines);
    assert_eq!(
        got[0],
        r#"before-destroy ["c1", "c3"] ["delete container.c1", "delete container.c3", "delete network.a"]"#
    );
    assert_eq!(got[1], format!("container-down c1 {}", ipv4(&d, "c1")));
    assert_eq!(got[2], format!("container-down c3 {}", ipv4(&d, "c3")));
    assert_eq!(got[3], "network-removed a [\"10.1.0.0/24\"]");
    assert_eq!(got[4], got[0].replace("before-destroy", "after-destroy"));
    assert_eq!(got.len(), 5, "{got:?}");
    assert!(state.applied("t").unwrap_or_else(|e| panic!("{e}")).is_none());
}

#[test]
fn failing_before_apply_changes_nothing() {
    let f = Fixture::new("before");
    let (state, host) = (f.state(), f.host());
    let env = Env {
        kernel: &f.kernel,
        host: &host,
        state: &state,
    };
    let text = NET.replace(
        "hook before-apply \"net.rhai\"",
        "hook before-apply \"fail.rhai\"",
    );
    let (set, d, plan) = load(&f, &text, &state);
    let (sink, lines) = hooks::collect();
    let Err(failed) = apply_with(env, &set, &d, &plan, sink) else {
        panic!("the apply must fail with the hook's diagnostic");
    };
    let (e, Some(diag)) = *failed else {
        panic!("the hook's failure is kept");
    };
    assert!(matches!(e, ApplyError::Observer(_)), "{e}");
    assert!(
        diag.contains("before-apply hook fail.rhai failed: before-apply says no"),
        "{diag}"
    );
    assert!(diag.contains("[fail.rhai:2:1]"), "{diag}");
    assert_eq!(texts(&lines), ["refusing"]);
    // Only observation happened.
    let calls = f.kernel.calls();
    assert!(calls.iter().all(|c| c.starts_with("observe")), "{calls:?}");
    assert!(state.applied("t").unwrap_or_else(|e| panic!("{e}")).is_none());
    // The failure is in the hook log.
    let log = std::fs::read_to_string(state.logs_dir("t").join("hooks.log")).unwrap_or_default();
    assert!(
        log.contains("[before-apply fail.rhai] stopped the run: before-apply hook fail.rhai failed"),
        "{log}"
    );
}

#[test]
fn failing_after_apply_leaves_a_converged_state() {
    for event in ["after-apply", "container-up"] {
        let f = Fixture::new(event);
        let (state, host) = (f.state(), f.host());
        let env = Env {
            kernel: &f.kernel,
            host: &host,
            state: &state,
        };
        let text = format!("{NET}hook {event} \"fail.rhai\"\n");
        let (set, d, plan) = load(&f, &text, &state);
        let Err(failed) = apply_with(env, &set, &d, &plan, hooks::discard()) else {
            panic!("{event}: the apply must fail with the hook's diagnostic");
        };
        let (e, Some(diag)) = *failed else {
            panic!("{event}: the hook's failure is kept");
        };
        assert!(matches!(e, ApplyError::Observer(_)), "{e}");
        assert!(diag.contains(&format!("{event} says no")), "{diag}");
        // Recorded as applied: the plan is empty and the next apply changes nothing.
        assert_eq!(
            state.applied("t").unwrap_or_else(|e| panic!("{e}")).as_ref(),
            Some(&d),
            "{event}"
        );
        let (_, d2, plan2) = load(&f, NET, &state);
        assert!(plan2.is_empty(), "{event}: {plan2:?}");
        let out = apply::apply(env, &d2, &mut NoObserver).unwrap_or_else(|e| panic!("{e}"));
        assert!(out.is_noop(), "{event}: the next apply redid {} steps", out.steps);
    }
}

/// Tells apart runs that share `/tmp`: inside the kernel sandbox every test process is pid 1.
fn unique() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default()
}
