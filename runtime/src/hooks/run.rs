//! Running hooks: one event at a time, each matching script in declaration order on a thread
//! of its own, under the limits of its [`HookSet`]. The first failure stops the event.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use miette::Diagnostic;
use netplan_lang::Diag;
use netplan_lang::model::HookEvent;
use rhai::{Dynamic, Engine, EvalAltResult, Position, Scope};

use super::diag::{HookDiag, span_at};
use super::engine::{self, Ctx, Current, Stop};
use super::host::HookHost;
use super::load::{BASE_VARIABLES, HookSet, Script, base_scope, codes, push_event};
use super::output::Sink;
use super::values;
use crate::desired::{ContainerState, Desired, NetState};
use crate::diff::Plan;

/// Stack of the thread a script runs on: deep enough for `max_call_levels` in debug builds.
const SCRIPT_STACK: usize = 64 << 20;

/// A hook that stopped the event it ran for.
#[derive(Debug, Clone)]
pub struct HookFailure {
    pub event: HookEvent,
    /// The script as shown to the user.
    pub hook: String,
    /// The network or container of a scoped event.
    pub object: Option<String>,
    /// What went wrong, in the script and on its `hook` statement.
    pub diag: Box<HookDiag>,
}

impl fmt::Display for HookFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.diag, f)
    }
}

impl std::error::Error for HookFailure {}

impl Diagnostic for HookFailure {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Diagnostic::code(&*self.diag)
    }
    fn severity(&self) -> Option<miette::Severity> {
        self.diag.severity()
    }
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.diag.help()
    }
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.diag.source_code()
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        self.diag.labels()
    }
    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn Diagnostic> + 'a>> {
        self.diag.related()
    }
}

/// Runs the hooks of one [`HookSet`] for the events of one command.
pub struct Runner<'a> {
    set: &'a HookSet,
    engine: Engine,
    ctx: Arc<Ctx>,
    /// `topology` and `plan`, built once; each script adds its own variables after them.
    scope: Mutex<Scope<'static>>,
}

impl<'a> Runner<'a> {
    /// A runner whose scripts see `desired` as `topology` and `plan` as `plan`, call `host` for
    /// `exec`, `resolve`, `reachable` and `env`, and write their output to `sink`.
    pub fn new(
        set: &'a HookSet,
        host: Arc<dyn HookHost>,
        sink: Sink,
        desired: &Desired,
        plan: &Plan,
    ) -> Runner<'a> {
        let limits = *set.limits();
        let ctx = Arc::new(Ctx {
            host,
            limits,
            sink,
            current: Mutex::new(Current {
                deadline: Instant::now(),
                event: HookEvent::Plan,
                hook: String::new(),
                object: None,
            }),
        });
        let engine = engine::with_functions(&limits, &ctx);
        // Plain constants, never shared values: methods like `clear` work through shared ones.
        let scope = if set.is_empty() {
            base_scope(Dynamic::UNIT, Dynamic::UNIT)
        } else {
            base_scope(values::topology(desired), values::plan(plan))
        };
        Runner {
            set,
            engine,
            ctx,
            scope: Mutex::new(scope),
        }
    }

    /// Whether any hook listens to `event`.
    pub fn has(&self, event: HookEvent) -> bool {
        self.set.has(event)
    }

    /// Runs the top-level hooks of an event that is about no single object (`plan`,
    /// `before-apply`, `after-apply`, `before-destroy`, `after-destroy`). Returns how many ran.
    /// (For the per-object events use [`Runner::run_network`] and [`Runner::run_container`];
    /// here they would run only top-level hooks, with `network` and `container` unset.)
    pub fn run(&self, event: HookEvent) -> Result<usize, HookFailure> {
        self.run_for(event, None, Dynamic::UNIT)
    }

    /// Runs the hooks of `network-created` / `network-removed` for `network`: top-level ones
    /// and those declared in its block.
    pub fn run_network(&self, event: HookEvent, network: &NetState) -> Result<usize, HookFailure> {
        if !self.set.has(event) {
            return Ok(0);
        }
        self.run_for(event, Some(&network.name), values::network(network))
    }

    /// Runs the hooks of `container-up` / `container-down` for `container`.
    pub fn run_container(&self, event: HookEvent, container: &ContainerState) -> Result<usize, HookFailure> {
        if !self.set.has(event) {
            return Ok(0);
        }
        self.run_for(event, Some(&container.name), values::container(container))
    }

    /// Runs the hooks of `event` for `object` (if any) with `value` as its variable.
    pub(crate) fn run_for(
        &self,
        event: HookEvent,
        object: Option<&str>,
        value: Dynamic,
    ) -> Result<usize, HookFailure> {
        let mut ran = 0;
        for script in self.set.matching(event, object) {
            self.run_one(script, object, value.clone())?;
            ran += 1;
        }
        Ok(ran)
    }

    fn run_one(&self, script: &Script, object: Option<&str>, value: Dynamic) -> Result<(), HookFailure> {
        let limits = self.set.limits();
        *self.ctx.current.lock().unwrap_or_else(PoisonError::into_inner) = Current {
            deadline: Instant::now() + limits.deadline,
            event: script.event,
            hook: script.name().to_string(),
            object: object.map(str::to_string),
        };
        let mut guard = self.scope.lock().unwrap_or_else(PoisonError::into_inner);
        let scope: &mut Scope<'static> = &mut guard;
        scope.rewind(BASE_VARIABLES);
        push_event(scope, script.event, value);
        let engine = &self.engine;
        let ast = &script.ast;
        let outcome = std::thread::scope(|s| {
            std::thread::Builder::new()
                .name("netplan-hook".into())
                .stack_size(SCRIPT_STACK)
                .spawn_scoped(s, move || engine.run_ast_with_scope(scope, ast))
                .map(|h| h.join())
        });
        guard.rewind(BASE_VARIABLES);
        drop(guard);
        let err = match outcome {
            Ok(Ok(Ok(()))) => return Ok(()),
            Ok(Ok(Err(e))) => Explained::from_rhai(*e, limits),
            Ok(Err(_)) => Explained::plain(codes::ERROR, "the script interpreter crashed", None),
            Err(e) => Explained::plain(
                codes::ERROR,
                format!("cannot start a thread for the hook: {e}"),
                None,
            ),
        };
        match err {
            None => Ok(()),
            Some(x) => Err(self.failure(script, object, x)),
        }
    }

    fn failure(&self, script: &Script, object: Option<&str>, x: Explained) -> HookFailure {
        let net = self.set.topology_source();
        let what = match object {
            Some(o) => format!("{} hook {} for {o}", script.event.as_str(), script.name()),
            None => format!("{} hook {}", script.event.as_str(), script.name()),
        };
        let message = format!("{what} {}", x.message);
        let declared = format!("{} hook declared here", script.event.as_str());
        let diag = match x.position {
            Some(pos) => {
                let span = span_at(&script.source.text, pos);
                let mut main = Diag::error(x.code, message).primary(span, x.label);
                if let Some(h) = x.help {
                    main = main.help(h);
                }
                let related = Diag::error(x.code, declared).primary(script.path_span, "this hook");
                HookDiag::new(main, &script.source).with_related(related, net)
            }
            None => {
                let mut main = Diag::error(x.code, message).primary(script.path_span, declared);
                if let Some(h) = x.help {
                    main = main.help(h);
                }
                HookDiag::new(main, net)
            }
        };
        HookFailure {
            event: script.event,
            hook: script.name().to_string(),
            object: object.map(str::to_string),
            diag: Box::new(diag),
        }
    }
}

/// A script error turned into words.
struct Explained {
    code: &'static str,
    /// Follows "<event> hook <path>".
    message: String,
    label: String,
    help: Option<String>,
    position: Option<Position>,
}

impl Explained {
    fn plain(code: &'static str, message: impl Into<String>, help: Option<String>) -> Option<Explained> {
        Some(Explained {
            code,
            message: message.into(),
            label: String::new(),
            help,
            position: None,
        })
    }

    /// `None` when the error is a normal end (`exit`).
    fn from_rhai(err: EvalAltResult, limits: &super::Limits) -> Option<Explained> {
        // The innermost error is where it happened; calls of script functions wrap it.
        let mut err = err;
        let mut outer = err.position();
        let mut calls = Vec::new();
        while let EvalAltResult::ErrorInFunctionCall(name, _, inner, pos) = err {
            if !pos.is_none() {
                outer = pos;
            }
            calls.push(name);
            err = *inner;
        }
        let mut pos = err.take_position();
        if pos.is_none() {
            pos = outer;
        }
        let position = (!pos.is_none()).then_some(pos);
        let via = if calls.is_empty() {
            String::new()
        } else {
            format!(" (in {})", calls.join(" → "))
        };
        let (code, message, label, help) = match &err {
            EvalAltResult::Exit(..) => return None,
            EvalAltResult::ErrorTerminated(token, _) => match token.clone().try_cast::<Stop>() {
                Some(Stop::Fail(msg)) => (
                    codes::FAILED,
                    format!("failed: {msg}"),
                    "fail() called here",
                    None,
                ),
                Some(Stop::Deadline) | None => (
                    codes::DEADLINE,
                    format!("ran past its deadline of {:?} and was stopped", limits.deadline),
                    "running here when stopped",
                    Some("make the hook finish sooner, or give it more time with --hook-timeout".to_string()),
                ),
            },
            EvalAltResult::ErrorRuntime(value, _) => {
                (codes::FAILED, format!("failed: {value}"), "raised here", None)
            }
            EvalAltResult::ErrorTooManyOperations(_) => (
                codes::LIMIT,
                format!("was stopped after {} operations", limits.max_operations),
                "running here when stopped",
                Some("a loop that never ends? Hooks may run a limited number of operations".to_string()),
            ),
            EvalAltResult::ErrorStackOverflow(_) => (
                codes::LIMIT,
                format!("nested calls more than {} levels deep", limits.max_call_levels),
                "this call went too deep",
                Some("a recursion that never ends? Hooks may nest calls only so deep".to_string()),
            ),
            EvalAltResult::ErrorDataTooLarge(what, _) => (
                codes::LIMIT,
                format!("exceeded a size limit: {what}"),
                "grew too large here",
                Some(format!(
                    "hooks may hold strings up to {} bytes, arrays of {} elements and maps of {} entries",
                    limits.max_string_size, limits.max_array_size, limits.max_map_size
                )),
            ),
            EvalAltResult::ErrorTooManyModules(_) | EvalAltResult::ErrorModuleNotFound(..) => (
                codes::ERROR,
                "tried to load a module".to_string(),
                "here",
                Some("hooks cannot load modules".to_string()),
            ),
            EvalAltResult::ErrorFunctionNotFound(sig, _) => (
                codes::ERROR,
                format!("called a function that does not exist: {sig}"),
                "unknown function",
                Some(
                    "hooks have no file or process access; besides Rhai's own functions they may call \
                     exec, resolve, reachable, log, warn, fail and env"
                        .to_string(),
                ),
            ),
            other => (
                codes::ERROR,
                format!("stopped with an error: {other}"),
                "here",
                None,
            ),
        };
        Some(Explained {
            code,
            message: format!("{message}{via}"),
            label: label.to_string(),
            help,
            position,
        })
    }
}
