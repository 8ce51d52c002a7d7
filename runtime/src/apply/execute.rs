//! Carrying out a reconciliation: apply, destroy, stop and start.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::PathBuf;

use serde::Serialize;

use super::drift::{self, Drift};
use super::host::{Host, HostProcess};
use super::observer::{ApplyObserver, Step};
pub(crate) use super::reconcile::Op;
use super::reconcile::{Inputs, reconcile};
use super::records::{self, ProcRecord, Records};
use super::wanted::{Wanted, wanted};
use super::{ApplyError, files, firewall_spec, preflight};
use crate::desired::{ContainerState, Desired, Name};
use crate::kernel::{FirewallSpec, Kernel, KernelError, Observed, ProcessSpec};
use crate::state::StateDir;

/// Where apply works: the kernel, the machine around it and the state directory. The caller
/// holds the state lock ([`StateDir::lock`]) for the whole run.
#[derive(Clone, Copy)]
pub struct Env<'a> {
    /// Kernel objects.
    pub kernel: &'a dyn Kernel,
    /// Sysctls, processes, files, DNS (read from a helper thread while the kernel is observed).
    pub host: &'a (dyn Host + Sync),
    /// Where applied states are recorded.
    pub state: &'a StateDir,
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Outcome {
    /// Kernel and file steps carried out.
    pub steps: usize,
    /// Objects created (bridges, namespaces, veth pairs, processes).
    pub created: usize,
    /// Objects changed in place (MTU, addresses, isolation, files, firewall, forwarding).
    pub changed: usize,
    /// Objects removed.
    pub removed: usize,
    /// Networks whose bridge was created.
    pub networks_created: Vec<String>,
    /// Networks whose bridge was removed.
    pub networks_removed: Vec<String>,
    /// Containers that came up (created, started, or their endpoints changed).
    pub containers_up: Vec<String>,
    /// Containers that went down (removed or stopped).
    pub containers_down: Vec<String>,
}

impl Outcome {
    /// Whether the run changed nothing at all.
    pub fn is_noop(&self) -> bool {
        self.steps == 0
    }
}

/// Makes the machine match `new` (a whole topology's desired state) and records it.
///
/// Containers marked stopped in `new` keep their namespace but have no endpoints and no
/// process. See the [module documentation](super) for the order of steps. [`prepare`] and
/// [`apply_ready`] do the same in two halves, with the drift for the plan in between.
pub fn apply(env: Env, new: &Desired, observer: &mut dyn ApplyObserver) -> Result<Outcome, ApplyError> {
    preflight::overlay(new)?;
    converge(env, &new.topology, Some(new), observer)
}

/// An apply worked out before any change, from one read of the kernel and of the machine: the
/// operations that take it to the desired state, and how it differs from the recorded state
/// (the drift `plan` shows). [`apply_ready`] carries it out; the caller holds the state lock
/// from [`prepare`] to the end, so nothing netplan does can change the machine in between.
pub struct Ready {
    target: Desired,
    facts: Facts,
    wanted: Wanted,
    observed: Observed,
    ops: Vec<Op>,
    drift: Vec<Drift>,
}

impl Ready {
    /// How the machine differs from the recorded state of the topology (empty when nothing is
    /// recorded or nothing changed outside netplan).
    pub fn drift(&self) -> &[Drift] {
        &self.drift
    }

    /// The state recorded as applied for this topology before this run.
    pub fn recorded(&self) -> Option<&Desired> {
        self.facts.recorded.as_ref()
    }
}

/// Observes the kernel once (the host, and the namespaces of both `new` and the recorded state)
/// and works out the apply of `new` and the drift of the recorded state.
pub fn prepare(env: Env, new: &Desired) -> Result<Ready, ApplyError> {
    preflight::overlay(new)?;
    let mut facts = Facts::load(env, &new.topology)?;
    let w = wanted(new, &facts.resolv_conf);
    let mut names = w.namespaces();
    if let Some(r) = &facts.recorded {
        names.extend(r.containers.iter().filter_map(|c| c.netns().map(str::to_string)));
    }
    names.sort();
    names.dedup();
    let observed = observe(env, &mut facts, &names)?;
    let ops = operations(env, &facts, &w, Some(new), &observed);
    let drift = match &facts.recorded {
        // The same state: its repairs are exactly the apply's operations.
        Some(r) if r == new => ops.iter().filter_map(drift::of_op).collect(),
        Some(r) => {
            let rw = wanted(r, &facts.resolv_conf);
            let repairs = operations(env, &facts, &rw, Some(r), &observed);
            repairs.iter().filter_map(drift::of_op).collect()
        }
        None => Vec::new(),
    };
    Ok(Ready {
        target: new.clone(),
        facts,
        wanted: w,
        observed,
        ops,
        drift,
    })
}

/// Carries out an apply worked out by [`prepare`]: the pre-flight name checks, then the
/// operations, then the record.
pub fn apply_ready(env: Env, ready: Ready, observer: &mut dyn ApplyObserver) -> Result<Outcome, ApplyError> {
    let Ready {
        target,
        facts,
        wanted: w,
        observed,
        ops,
        ..
    } = ready;
    preflight::names(&w, &target, &facts.others, &observed)?;
    drop(observed);
    let topology = target.topology.clone();
    run_ops(env, &topology, Some(&target), facts, ops, observer)
}

/// Removes every object of `topology` (whatever is recorded, and whatever the kernel shows
/// with its tag) and forgets it.
pub fn destroy(env: Env, topology: &str, observer: &mut dyn ApplyObserver) -> Result<Outcome, ApplyError> {
    converge(env, topology, None, observer)
}

/// Stops (`stopped = true`) or starts a container of an applied topology: stopping removes
/// its endpoints and ends its `run` process (its addresses stay reserved); starting restores
/// them. `topology` picks among applied topologies when the name is ambiguous. Returns the
/// topology and what was done (nothing when it already was in that state).
pub fn set_stopped(
    env: Env,
    topology: Option<&str>,
    container: &str,
    stopped: bool,
    observer: &mut dyn ApplyObserver,
) -> Result<(String, Outcome), ApplyError> {
    let applied = env.state.all_applied()?;
    let matches: Vec<&Desired> = applied
        .iter()
        .filter(|d| topology.is_none_or(|t| d.topology == t))
        .filter(|d| d.container(container).is_some())
        .collect();
    let mut desired = match matches.as_slice() {
        [] => {
            return Err(ApplyError::NoContainer {
                container: container.to_string(),
            });
        }
        [one] => (*one).clone(),
        many => {
            return Err(ApplyError::Ambiguous {
                container: container.to_string(),
                topologies: many
                    .iter()
                    .map(|d| d.topology.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
    };
    for c in desired.containers.iter_mut().filter(|c| c.name == container) {
        c.stopped = stopped;
    }
    let topology = desired.topology.clone();
    let outcome = converge(env, &topology, Some(&desired), observer)?;
    Ok((topology, outcome))
}

fn firewall_for(others: &[Desired], target: Option<&Desired>) -> Option<FirewallSpec> {
    let spec = firewall_spec::firewall_spec(others.iter().chain(target));
    (!spec.networks.is_empty() || !spec.published.is_empty()).then_some(spec)
}

fn forwarding_for(others: &[Desired], target: Option<&Desired>) -> (bool, bool) {
    others.iter().chain(target).fold((false, false), |(v4, v6), d| {
        (v4 || d.forwarding.ipv4, v6 || d.forwarding.ipv6)
    })
}

fn io_err(op: &'static str, path: std::path::PathBuf) -> impl FnOnce(std::io::Error) -> ApplyError {
    move |source| ApplyError::Io { op, path, source }
}

/// A failed kernel step becomes a [`ApplyError::Step`]; deletions of what is already gone
/// succeed.
fn tolerate_missing(r: Result<(), KernelError>) -> Result<(), KernelError> {
    match r {
        Err(e) if e.is_missing() => Ok(()),
        other => other,
    }
}

struct Run<'a, 'o> {
    env: Env<'a>,
    topology: &'a str,
    target: Option<&'a Desired>,
    recorded: Option<&'a Desired>,
    observer: &'o mut dyn ApplyObserver,
    records: Records,
    outcome: Outcome,
    total: usize,
}

impl Run<'_, '_> {
    fn logs(&self, container: &str) -> std::path::PathBuf {
        self.env
            .state
            .logs_dir(self.topology)
            .join(format!("{container}.log"))
    }

    /// Carries out one operation.
    fn exec(&mut self, op: &Op) -> Result<(), ApplyError> {
        let k = self.env.kernel;
        let etc = self.env.host.etc_netns();
        let step_err = |source: KernelError, done: usize, total: usize| ApplyError::Step {
            step: op.describe(),
            done,
            total,
            source,
        };
        let (done, total) = (self.outcome.steps, self.total);
        self.observer.step(&Step {
            what: op.describe(),
            index: done + 1,
            total,
        });
        let result: Result<(), KernelError> = match op {
            Op::KillProcess {
                netns,
                pid,
                container,
            } => {
                let r = match netns {
                    Some(ns) => k.kill_process(ns, *pid),
                    None => self
                        .env
                        .host
                        .kill_host_process(*pid)
                        .map_err(|e| KernelError::os("stopping", format!("process {pid}"), e)),
                };
                if r.is_ok()
                    && self
                        .records
                        .processes
                        .get(container)
                        .is_some_and(|r| r.pid == *pid)
                {
                    self.records.processes.remove(container);
                }
                r
            }
            Op::DeleteLink { netns, name, .. } => tolerate_missing(k.delete_link(netns.as_deref(), name)),
            Op::DeleteNetns { name, .. } => tolerate_missing(k.delete_netns(name)),
            Op::RemoveFiles { netns, .. } => {
                files::remove_all(&etc, netns).map_err(io_err("remove", etc.join(netns)))?;
                Ok(())
            }
            Op::DeleteBridge { name, .. } => tolerate_missing(k.delete_link(None, name)),
            Op::Firewall(spec) => {
                let r = match spec {
                    Some(s) => k.apply_firewall(s),
                    None => k.remove_firewall(),
                };
                if r.is_ok() {
                    records::save_firewall(self.env.state, spec.as_ref())?;
                }
                r
            }
            Op::Forwarding { v4, v6 } => k.enable_forwarding(*v4, *v6),
            Op::CreateBridge(b) => k.create_bridge(&b.spec),
            Op::SetMtu { netns, name, mtu, .. } => k.set_link_mtu(netns.as_deref(), name, *mtu),
            Op::SetAddresses {
                netns,
                name,
                addresses,
                ..
            } => k.replace_addresses(netns.as_deref(), name, addresses),
            Op::SetIsolation { name, isolated, .. } => k.set_port_isolation(name, *isolated),
            Op::CreateNetns(n) => match k.create_netns(&n.name, &crate::kernel::tag_for(self.topology)) {
                Err(e) if e.is_exists() => Ok(()),
                other => other,
            },
            Op::LoopbackUp { netns, .. } => k.set_loopback_up(netns),
            Op::WriteFile { path, content, .. } => {
                files::write(path, content).map_err(io_err("write", path.clone()))?;
                Ok(())
            }
            Op::RemoveResolv { netns, .. } => {
                files::remove_resolv(&etc, netns)
                    .map_err(io_err("remove", files::resolv_path(&etc, netns)))?;
                Ok(())
            }
            Op::CreateVeth(v) => k.create_veth(&v.spec),
            Op::SpawnProcess(p) => {
                let log_path = self.logs(&p.container);
                let pid = match &p.netns {
                    Some(ns) => k.spawn_process(&ProcessSpec {
                        netns: ns.clone(),
                        argv: p.argv.clone(),
                        log_path,
                        env: vec![],
                    }),
                    None => self
                        .env
                        .host
                        .spawn_host_process(&HostProcess {
                            argv: p.argv.clone(),
                            log_path,
                        })
                        .map_err(|e| {
                            KernelError::os(
                                "starting the run process of",
                                format!("container {}", p.container),
                                e,
                            )
                        }),
                };
                pid.map(|pid| {
                    let start = self.env.host.process_start(pid).unwrap_or(0);
                    self.records.processes.insert(
                        p.container.clone(),
                        ProcRecord {
                            pid,
                            start,
                            argv: p.argv.clone(),
                        },
                    );
                })
            }
        };
        result.map_err(|e| step_err(e, done, total))?;
        self.outcome.steps += 1;
        match op {
            Op::KillProcess { .. }
            | Op::DeleteLink { .. }
            | Op::DeleteNetns { .. }
            | Op::RemoveFiles { .. }
            | Op::DeleteBridge { .. }
            | Op::RemoveResolv { .. } => self.outcome.removed += 1,
            Op::CreateBridge(_) | Op::CreateNetns(_) | Op::CreateVeth(_) | Op::SpawnProcess(_) => {
                self.outcome.created += 1
            }
            _ => self.outcome.changed += 1,
        }
        self.events_after(op)
    }

    fn events_after(&mut self, op: &Op) -> Result<(), ApplyError> {
        match op {
            Op::CreateBridge(b) => {
                self.outcome.networks_created.push(b.network.clone());
                if let Some(n) = self.target.and_then(|t| t.network(&b.network)) {
                    self.observer.network_created(self.topology, n)?;
                }
            }
            Op::DeleteBridge { name, network } => {
                let network = network.clone().or_else(|| {
                    self.recorded
                        .and_then(|r| r.networks.iter().find(|n| n.bridge.as_deref() == Some(name)))
                        .map(|n| n.name.to_string())
                });
                // A bridge deleted only to be created again is not a removed network.
                let recreated = network
                    .as_ref()
                    .is_some_and(|n| self.target.is_some_and(|t| t.network(n).is_some()));
                if let (Some(n), false) = (network, recreated) {
                    self.outcome.networks_removed.push(n.clone());
                    self.observer.network_removed(self.topology, &n)?;
                }
            }
            _ => {}
        }
        Ok(())
    }
}

fn container_of(op: &Op) -> Option<&str> {
    match op {
        Op::KillProcess { container, .. }
        | Op::DeleteNetns { container, .. }
        | Op::WriteFile { container, .. }
        | Op::RemoveResolv { container, .. } => Some(container),
        Op::CreateNetns(n) => Some(&n.container),
        Op::CreateVeth(v) => Some(&v.container),
        Op::SpawnProcess(p) => Some(&p.container),
        Op::DeleteLink { what, .. } => what.split("container ").nth(1).and_then(|s| s.split(' ').next()),
        _ => None,
    }
}

fn is_removal(op: &Op) -> bool {
    matches!(
        op,
        Op::KillProcess { .. }
            | Op::DeleteLink { .. }
            | Op::DeleteNetns { .. }
            | Op::RemoveFiles { .. }
            | Op::DeleteBridge { .. }
    )
}

/// What a run reads besides the kernel, once: the state directory and the machine's switches.
/// Drift and apply both decide from it.
pub(crate) struct Facts {
    /// The applied states of the other topologies (shared bridge users, firewall, forwarding).
    pub others: Vec<Desired>,
    /// The state recorded for this topology.
    pub recorded: Option<Desired>,
    /// The `run` processes recorded for this topology.
    pub records: Records,
    /// The firewall recorded as applied.
    pub recorded_firewall: Option<FirewallSpec>,
    /// Whether netplan's nftables table exists.
    pub firewall_present: bool,
    /// Whether IPv4 and IPv6 forwarding are on.
    pub forwarding: (bool, bool),
    /// The host's `/etc/resolv.conf`.
    pub resolv_conf: String,
    /// The `/etc/netns` files, each read at most once.
    pub files: files::Cache,
}

impl Facts {
    /// Reads the state directory and the host's `resolv.conf`; the rest comes with the
    /// observation ([`observe`]).
    pub(crate) fn load(env: Env, topology: &str) -> Result<Facts, ApplyError> {
        let mut others = Vec::new();
        let mut recorded = None;
        for d in env.state.all_applied()? {
            if d.topology == topology {
                recorded = Some(d);
            } else {
                others.push(d);
            }
        }
        Ok(Facts {
            others,
            recorded,
            records: Records::load(env.state, topology)?,
            recorded_firewall: records::load_firewall(env.state)?,
            firewall_present: false,
            forwarding: (false, false),
            resolv_conf: env.host.resolv_conf(),
            files: files::Cache::default(),
        })
    }

    /// Whether the DNS service is needed once `target` is applied.
    fn dns_needed(&self, target: Option<&Desired>) -> bool {
        crate::dns::needs_service(&self.others)
            || target.is_some_and(|t| crate::dns::needs_service(std::slice::from_ref(t)))
    }
}

/// Observes the kernel (the host and `namespaces`) on this thread while another reads the rest
/// of `facts` meanwhile: whether the firewall is there, forwarding, and the `/etc/netns` files
/// of `namespaces`.
pub(crate) fn observe(env: Env, facts: &mut Facts, namespaces: &[String]) -> Result<Observed, ApplyError> {
    let host = env.host;
    let etc = host.etc_netns();
    let read_machine = || {
        let files: Vec<(PathBuf, Option<String>)> = namespaces
            .iter()
            .flat_map(|ns| [files::hosts_path(&etc, ns), files::resolv_path(&etc, ns)])
            .map(|path| {
                let text = files::read(&path);
                (path, text)
            })
            .collect();
        (host.firewall_present(), host.forwarding(), files)
    };
    let (observed, machine) = std::thread::scope(|s| {
        let side = s.spawn(read_machine);
        (env.kernel.observe(namespaces), side.join())
    });
    // Should the helper thread have died, the files are read when needed.
    let (present, forwarding, files) =
        machine.unwrap_or_else(|_| (host.firewall_present(), host.forwarding(), Vec::new()));
    facts.firewall_present = present;
    facts.forwarding = forwarding;
    facts.files.seed(files);
    observed.map_err(ApplyError::Observe)
}

/// The operations that take the machine from `observed` to `w` (the objects of `target`;
/// `None`: nothing of the topology). Reads nothing but files (through the cache) and processes.
pub(crate) fn operations(
    env: Env,
    facts: &Facts,
    w: &Wanted,
    target: Option<&Desired>,
    observed: &Observed,
) -> Vec<Op> {
    let recorded = facts.recorded.as_ref();
    let recorded_netns: Vec<String> = recorded
        .iter()
        .flat_map(|r| r.containers.iter().filter_map(|c| c.netns().map(str::to_string)))
        .collect();
    let recorded_veths = recorded
        .iter()
        .flat_map(|r| r.containers.iter())
        .filter_map(|c| Some((c.netns()?, c)))
        .flat_map(|(ns, c)| {
            c.endpoints
                .iter()
                .map(move |e| (e.host_veth.to_string(), ns.to_string()))
        })
        .collect();
    let inputs = Inputs {
        wanted: w,
        observed,
        others: &facts.others,
        firewall: firewall_for(&facts.others, target),
        recorded_firewall: facts.recorded_firewall.clone(),
        firewall_present: facts.firewall_present,
        forwarding_now: facts.forwarding,
        forwarding: forwarding_for(&facts.others, target),
        records: &facts.records,
        recorded_netns,
        recorded_veths,
        files: &facts.files,
        host: env.host,
    };
    reconcile(&inputs)
}

/// The empty state of `topology` (what destroy drives it to).
fn nothing_of(topology: &str) -> Desired {
    Desired {
        topology: topology.to_string(),
        ..Desired::default()
    }
}

/// Drives the machine to `target` (`None`: nothing of `topology`).
fn converge(
    env: Env,
    topology: &str,
    target: Option<&Desired>,
    observer: &mut dyn ApplyObserver,
) -> Result<Outcome, ApplyError> {
    let mut facts = Facts::load(env, topology)?;
    let empty = nothing_of(topology);
    let goal = target.unwrap_or(&empty);
    let w = wanted(goal, &facts.resolv_conf);
    let observed = observe(env, &mut facts, &w.namespaces())?;
    preflight::names(&w, goal, &facts.others, &observed)?;
    let ops = operations(env, &facts, &w, target, &observed);
    drop(observed);
    run_ops(env, topology, target, facts, ops, observer)
}

/// Carries out `ops` (worked out from `facts`), records the result and tells the observer.
fn run_ops(
    env: Env,
    topology: &str,
    target: Option<&Desired>,
    facts: Facts,
    ops: Vec<Op>,
    observer: &mut dyn ApplyObserver,
) -> Result<Outcome, ApplyError> {
    let empty = nothing_of(topology);
    let goal = target.unwrap_or(&empty);
    let dns_needed = facts.dns_needed(target);
    let Facts {
        recorded, records, ..
    } = facts;
    // The caller holds the state lock: no creation is under way, so a record of one whose link
    // does not exist was left by a netplan killed in between.
    env.kernel
        .forget_interrupted_creations()
        .map_err(ApplyError::Observe)?;
    observer.before_changes(topology, ops.len())?;
    let mut run = Run {
        env,
        topology,
        target,
        recorded: recorded.as_ref(),
        observer,
        records,
        outcome: Outcome::default(),
        total: ops.len(),
    };
    let result = carry_out(&mut run, &ops, goal, dns_needed);
    let outcome = match result {
        Ok(()) => run.outcome,
        Err(e) => {
            // Record what exists now, so that plan shows what is left; the next apply converges.
            let _ = run.records.save(env.state, topology);
            let _ = record_partial(env, topology, target, recorded.as_ref());
            // The DNS service follows what is recorded now (unknown: leave it alone).
            if let Ok(applied) = env.state.all_applied() {
                let _ = env.host.sync_dns(env.state, crate::dns::needs_service(&applied));
            }
            return Err(e);
        }
    };
    run.observer.after_changes(topology, &outcome)?;
    Ok(outcome)
}

fn carry_out(run: &mut Run, ops: &[Op], goal: &Desired, dns_needed: bool) -> Result<(), ApplyError> {
    let env = run.env;
    let topology = run.topology;
    let split = ops
        .iter()
        .position(|o| matches!(o, Op::SpawnProcess(_)))
        .unwrap_or(ops.len());
    let removals = ops.iter().take_while(|o| is_removal(o)).count();
    let records_before = run.records.clone();

    // Containers go down before the bridges they were on.
    let bridges_at = ops[..removals]
        .iter()
        .position(|o| matches!(o, Op::DeleteBridge { .. }))
        .unwrap_or(removals);
    for op in &ops[..bridges_at] {
        run.exec(op)?;
    }
    // Containers that went down: removed, or stopped now.
    let goal_containers: HashMap<&str, &ContainerState> =
        goal.containers.iter().map(|c| (c.name.as_str(), c)).collect();
    let mut down: BTreeSet<String> = BTreeSet::new();
    if let Some(r) = run.recorded {
        for c in &r.containers {
            let gone = goal_containers
                .get(c.name.as_str())
                .is_none_or(|g| g.stopped && !c.stopped);
            if gone {
                down.insert(c.name.to_string());
            }
        }
    }
    for op in &ops[..removals] {
        if let Some(c) = container_of(op)
            && goal_containers.get(c).is_none_or(|g| g.stopped)
        {
            down.insert(c.to_string());
        }
    }
    for c in down {
        run.observer.container_down(topology, &c)?;
        run.outcome.containers_down.push(c);
    }
    if run.records != records_before {
        run.records.save(env.state, topology)?;
    }
    for op in &ops[bridges_at..split] {
        run.exec(op)?;
    }
    // Record the new state before the DNS service reads it and processes start.
    let state_changed = run.recorded != run.target;
    match run.target {
        None => env.state.remove(topology)?,
        Some(t) if state_changed => env.state.save_applied(t)?,
        Some(_) => {}
    }
    let dns_relevant = ops[..split].iter().any(|o| {
        matches!(
            o,
            Op::CreateNetns(_)
                | Op::DeleteNetns { .. }
                | Op::CreateVeth(_)
                | Op::DeleteLink { .. }
                | Op::SetAddresses { .. }
        )
    });
    if state_changed || dns_relevant {
        env.host.sync_dns(env.state, dns_needed)?;
    } else {
        env.host.ensure_dns(env.state, dns_needed)?;
    }
    for op in &ops[split..] {
        run.exec(op)?;
    }
    if !ops[split..].is_empty() {
        run.records.save(env.state, topology)?;
    }
    wait_for_gone_links(run, ops);
    // Containers that came up: every running container some creation step touched.
    let mut up: Vec<String> = Vec::new();
    let touched: HashSet<&str> = ops[removals..].iter().filter_map(container_of).collect();
    let recorded_containers: HashMap<&str, &ContainerState> = run
        .recorded
        .iter()
        .flat_map(|r| r.containers.iter().map(|c| (c.name.as_str(), c)))
        .collect();
    for c in goal.containers.iter().filter(|c| !c.stopped) {
        let before = recorded_containers.get(c.name.as_str());
        let started = before.is_some_and(|b| b.stopped);
        let is_new = run.recorded.is_none() || before.is_none();
        if touched.contains(c.name.as_str()) || started || is_new {
            run.observer.container_up(topology, c)?;
            up.push(c.name.to_string());
        }
    }
    run.outcome.containers_up = up;
    Ok(())
}

/// The kernel removes the links of a deleted namespace once nothing holds it (the DNS service
/// lets go when it is told, above), all at once. Waits a moment for that; pairs still there
/// after it (a process or socket keeps the namespace alive) are deleted one by one, so that a
/// run leaves nothing behind when it returns.
fn wait_for_gone_links(run: &Run, ops: &[Op]) {
    if !ops.iter().any(|o| matches!(o, Op::DeleteNetns { .. })) {
        return;
    }
    let tag = crate::kernel::tag_for(run.topology);
    let keep: HashSet<&str> = run
        .target
        .iter()
        .flat_map(|t| t.containers.iter())
        .filter(|c| !c.stopped)
        .flat_map(|c| c.endpoints.iter().map(|e| e.host_veth.as_str()))
        .collect();
    let deadline = std::time::Instant::now() + std::time::Duration::from_millis(300);
    loop {
        let Ok(obs) = run.env.kernel.observe(&[]) else {
            return;
        };
        let left: Vec<String> = obs
            .host
            .links
            .iter()
            .filter(|l| {
                l.kind == crate::kernel::LinkKind::Veth
                    && l.alias.as_deref() == Some(tag.as_str())
                    && !keep.contains(l.name.as_str())
            })
            .map(|l| l.name.clone())
            .collect();
        if left.is_empty() {
            return;
        }
        if std::time::Instant::now() >= deadline {
            for name in left {
                let _ = run.env.kernel.delete_link(None, &name);
            }
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// Records what exists of `topology` after a failed run: the target's (or, for a failed
/// destroy, the recorded) networks, containers and endpoints whose kernel objects exist, plus
/// recorded ones that were to be removed but still exist. `plan` then shows what is left.
pub fn record_partial(
    env: Env,
    topology: &str,
    target: Option<&Desired>,
    recorded: Option<&Desired>,
) -> Result<(), ApplyError> {
    let base = match (target, recorded) {
        (Some(t), _) => t.clone(),
        (None, Some(r)) => r.clone(),
        (None, None) => return Ok(()),
    };
    let observed = env.kernel.observe(&[]).map_err(ApplyError::Observe)?;
    let host_links = super::reconcile::by_name(&observed.host.links);
    let host_link = |name: &str| host_links.get(name).is_some_and(|l| l.is_netplan());
    let netns = |name: &str| observed.netns(name).is_some_and(|n| n.is_netplan());
    let mut out = base.clone();
    out.networks.retain(|n| n.bridge.as_deref().is_none_or(host_link));
    out.containers.retain(|c| c.netns().is_none_or(netns));
    for c in &mut out.containers {
        if !c.stopped {
            c.endpoints.retain(|e| host_link(&e.host_veth));
        }
    }
    if let (Some(r), Some(_)) = (recorded, target) {
        for n in &r.networks {
            if out.network(&n.name).is_none() && n.bridge.as_deref().is_some_and(host_link) {
                out.networks.push(n.clone());
            }
        }
        let kept: HashSet<Name> = out.containers.iter().map(|c| c.name.clone()).collect();
        for c in &r.containers {
            if !kept.contains(&c.name) && c.netns().is_some_and(netns) {
                out.containers.push(c.clone());
            }
        }
    }
    if out.networks.is_empty() && out.containers.is_empty() {
        if target.is_none() {
            env.state.remove(topology)?;
        }
        return Ok(());
    }
    env.state.save_applied(&out)?;
    Ok(())
}
