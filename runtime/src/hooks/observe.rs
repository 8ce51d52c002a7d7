//! Hooks at the step boundaries of apply, destroy, stop and start: an [`ApplyObserver`] that
//! runs the matching hooks after passing each event on to another observer (the progress
//! display).
//!
//! | apply event        | apply            | destroy          | stop / start   |
//! |--------------------|------------------|------------------|----------------|
//! | before any change  | `before-apply`   | `before-destroy` | –              |
//! | network created    | `network-created`| –                | –              |
//! | network removed    | `network-removed`| `network-removed`| –              |
//! | container up       | `container-up`   | –                | `container-up` |
//! | container down     | `container-down` | `container-down` | `container-down` |
//! | after the run      | `after-apply`    | `after-destroy`  | –              |
//!
//! A failing hook stops the run like a failed step: apply records what exists, so the next
//! apply does not redo finished work. The failure itself (with the script position) is kept
//! for the caller to report: [`HookObserver::take_failure`].

use netplan_lang::model::HookEvent;
use rhai::{Dynamic, Map};

use super::output::HookLog;
use super::run::{HookFailure, Runner};
use crate::apply::{ApplyObserver, ObserverError, Outcome, Step};
use crate::desired::{ContainerState, Desired, NetState};

/// Which command the events come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Apply,
    Destroy,
    /// `netplan stop` / `netplan start`: only the container events.
    StopStart,
}

/// Runs hooks at apply's step boundaries; see the module documentation.
pub struct HookObserver<'a> {
    inner: &'a mut dyn ApplyObserver,
    runner: Runner<'a>,
    phase: Phase,
    /// What was applied before the run: removed networks and containers are described from it.
    before: Option<Desired>,
    log: Option<HookLog>,
    failure: Option<HookFailure>,
}

impl<'a> HookObserver<'a> {
    /// Hooks of `runner` for `phase`, passing every event on to `inner` first. `before` is the
    /// recorded state (if any); `log` receives a line for every hook failure.
    pub fn new(
        runner: Runner<'a>,
        phase: Phase,
        before: Option<&Desired>,
        log: Option<HookLog>,
        inner: &'a mut dyn ApplyObserver,
    ) -> Self {
        HookObserver {
            inner,
            runner,
            phase,
            before: before.cloned(),
            log,
            failure: None,
        }
    }

    /// The hook failure that stopped the run, if one did.
    pub fn take_failure(&mut self) -> Option<HookFailure> {
        self.failure.take()
    }

    fn guard(&mut self, r: Result<usize, HookFailure>) -> Result<(), ObserverError> {
        match r {
            Ok(_) => Ok(()),
            Err(f) => {
                let message = f.to_string();
                if let Some(log) = &self.log {
                    log.write(&format!(
                        "[{} {}] stopped the run: {message}",
                        f.event.as_str(),
                        f.hook
                    ));
                }
                self.failure = Some(f);
                Err(ObserverError(message))
            }
        }
    }

    /// The hooks of a whole-run event (`None`: none in this phase).
    fn run_event(&mut self, event: Option<HookEvent>) -> Result<(), ObserverError> {
        match event {
            Some(e) => {
                let r = self.runner.run(e);
                self.guard(r)
            }
            None => Ok(()),
        }
    }

    /// A removed object known only by name: `#{ name }`.
    fn named(name: &str) -> Dynamic {
        let mut m = Map::new();
        m.insert("name".into(), Dynamic::from(name.to_string()));
        Dynamic::from_map(m)
    }

    fn removed_network(&self, name: &str) -> Option<NetState> {
        self.before.as_ref().and_then(|d| d.network(name)).cloned()
    }

    fn removed_container(&self, name: &str) -> Option<ContainerState> {
        self.before.as_ref().and_then(|d| d.container(name)).cloned()
    }
}

impl ApplyObserver for HookObserver<'_> {
    fn before_changes(&mut self, topology: &str, steps: usize) -> Result<(), ObserverError> {
        self.inner.before_changes(topology, steps)?;
        let event = match self.phase {
            Phase::Apply => Some(HookEvent::BeforeApply),
            Phase::Destroy => Some(HookEvent::BeforeDestroy),
            Phase::StopStart => None,
        };
        self.run_event(event)
    }

    fn step(&mut self, step: &Step) {
        self.inner.step(step);
    }

    fn network_created(&mut self, topology: &str, network: &NetState) -> Result<(), ObserverError> {
        self.inner.network_created(topology, network)?;
        let r = self.runner.run_network(HookEvent::NetworkCreated, network);
        self.guard(r)
    }

    fn network_removed(&mut self, topology: &str, network: &str) -> Result<(), ObserverError> {
        self.inner.network_removed(topology, network)?;
        let r = match self.removed_network(network) {
            Some(n) => self.runner.run_network(HookEvent::NetworkRemoved, &n),
            None => self
                .runner
                .run_for(HookEvent::NetworkRemoved, Some(network), Self::named(network)),
        };
        self.guard(r)
    }

    fn container_up(&mut self, topology: &str, container: &ContainerState) -> Result<(), ObserverError> {
        self.inner.container_up(topology, container)?;
        let r = self.runner.run_container(HookEvent::ContainerUp, container);
        self.guard(r)
    }

    fn container_down(&mut self, topology: &str, container: &str) -> Result<(), ObserverError> {
        self.inner.container_down(topology, container)?;
        let r = match self.removed_container(container) {
            Some(c) => self.runner.run_container(HookEvent::ContainerDown, &c),
            None => self
                .runner
                .run_for(HookEvent::ContainerDown, Some(container), Self::named(container)),
        };
        self.guard(r)
    }

    fn after_changes(&mut self, topology: &str, outcome: &Outcome) -> Result<(), ObserverError> {
        self.inner.after_changes(topology, outcome)?;
        let event = match self.phase {
            Phase::Apply => Some(HookEvent::AfterApply),
            Phase::Destroy => Some(HookEvent::AfterDestroy),
            Phase::StopStart => None,
        };
        self.run_event(event)
    }
}
