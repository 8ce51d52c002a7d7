//! The events of an apply, for progress display and hooks.

use crate::desired::{ContainerState, NetState};

/// An observer refused to go on (e.g. a hook failed); the apply stops like after a failed step.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ObserverError(pub String);

/// One kernel step, for progress output: `creating bridge br-1234 (network isolated_nw)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// What is done, in words.
    pub what: String,
    /// Its number, from 1.
    pub index: usize,
    /// How many steps this run has.
    pub total: usize,
}

/// Hears of every step of [`apply`](super::apply), [`destroy`](super::destroy) and
/// [`set_stopped`](super::set_stopped). Every method has a default that does nothing.
///
/// Events that return a `Result` may stop the run: the error is reported like a failed kernel
/// step, what was done so far is recorded, and the next apply converges.
pub trait ApplyObserver {
    /// Before any change, once the steps are known (`steps` may be 0: nothing to do).
    fn before_changes(&mut self, topology: &str, steps: usize) -> Result<(), ObserverError> {
        let _ = (topology, steps);
        Ok(())
    }

    /// Before each kernel step.
    fn step(&mut self, step: &Step) {
        let _ = step;
    }

    /// After a network's bridge was created.
    fn network_created(&mut self, topology: &str, network: &NetState) -> Result<(), ObserverError> {
        let _ = (topology, network);
        Ok(())
    }

    /// After a network's bridge was removed.
    fn network_removed(&mut self, topology: &str, network: &str) -> Result<(), ObserverError> {
        let _ = (topology, network);
        Ok(())
    }

    /// After a container came up: its namespace, endpoints and process exist (it was created,
    /// started, or its endpoints changed).
    fn container_up(&mut self, topology: &str, container: &ContainerState) -> Result<(), ObserverError> {
        let _ = (topology, container);
        Ok(())
    }

    /// After a container went down: removed, or stopped (endpoints gone, process ended).
    fn container_down(&mut self, topology: &str, container: &str) -> Result<(), ObserverError> {
        let _ = (topology, container);
        Ok(())
    }

    /// After the run, when it succeeded.
    fn after_changes(&mut self, topology: &str, outcome: &super::Outcome) -> Result<(), ObserverError> {
        let _ = (topology, outcome);
        Ok(())
    }
}

/// An observer that does nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoObserver;

impl ApplyObserver for NoObserver {}
