//! The sandboxed Rhai engine: limits, disabled keywords, and netplan's functions.
//!
//! A script can compute, read the values it was given, and call exactly these functions:
//! `exec`, `resolve`, `reachable`, `log`, `warn`, `fail`, `env` (plus Rhai's pure standard
//! library; `print` and `debug` go to the hook output, `sleep` is cut at the deadline).
//! `eval` and `import` do not even parse; Rhai itself has no file or process access.

use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use netplan_lang::model::HookEvent;
use rhai::module_resolvers::DummyModuleResolver;
use rhai::{
    Array, Dynamic, Engine, EvalAltResult, FLOAT, INT, ImmutableString, Map, OptimizationLevel, Position,
};

use super::host::HookHost;
use super::limits::Limits;
use super::output::{Level, OutputLine, Sink};

/// Why a script was stopped from outside the script's own error handling (not catchable).
#[derive(Debug, Clone)]
pub(crate) enum Stop {
    /// `fail(msg)`.
    Fail(String),
    /// The hook's wall-clock deadline passed.
    Deadline,
}

/// The hook currently running (one at a time per engine).
#[derive(Debug, Clone)]
pub(crate) struct Current {
    pub deadline: Instant,
    pub event: HookEvent,
    pub hook: String,
    pub object: Option<String>,
}

/// What the registered functions share.
pub(crate) struct Ctx {
    pub host: Arc<dyn HookHost>,
    pub limits: Limits,
    pub sink: Sink,
    pub current: Mutex<Current>,
}

type Fallible<T> = Result<T, Box<EvalAltResult>>;

fn runtime_error(msg: impl Into<String>) -> Box<EvalAltResult> {
    EvalAltResult::ErrorRuntime(Dynamic::from(msg.into()), Position::NONE).into()
}

fn stop(s: Stop) -> Box<EvalAltResult> {
    EvalAltResult::ErrorTerminated(Dynamic::from(s), Position::NONE).into()
}

impl Ctx {
    fn current(&self) -> Current {
        self.current
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn expired(&self) -> bool {
        Instant::now()
            >= self
                .current
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .deadline
    }

    /// Time left before the deadline, capped at `cap`; the deadline stop when none is left.
    fn time_left(&self, cap: Duration) -> Fallible<Duration> {
        let left = self.current().deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(stop(Stop::Deadline));
        }
        Ok(left.min(cap))
    }

    fn emit(&self, level: Level, text: &str) {
        let c = self.current();
        (self.sink)(&OutputLine {
            event: c.event,
            hook: c.hook,
            object: c.object,
            level,
            text: text.to_string(),
        });
    }

    fn cap(&self, s: String) -> String {
        let max = self.limits.max_string_size;
        if s.len() <= max {
            return s;
        }
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s[..end].to_string()
    }

    fn exec(&self, container: &str, argv: Array) -> Fallible<Map> {
        let mut args = Vec::with_capacity(argv.len());
        for (i, a) in argv.into_iter().enumerate() {
            if a.is_map() || a.is_array() || a.is_unit() || a.is_fnptr() {
                return Err(runtime_error(format!(
                    "exec: argument {} is {}; give strings (or numbers)",
                    i + 1,
                    a.type_name()
                )));
            }
            args.push(a.to_string());
        }
        if args.is_empty() {
            return Err(runtime_error(
                "exec: the command is empty; give [program, args...]",
            ));
        }
        let timeout = self.time_left(self.limits.exec_timeout)?;
        let out = self
            .host
            .exec(container, &args, timeout)
            .map_err(|e| runtime_error(format!("exec in {container}: {e}")))?;
        let mut m = Map::new();
        m.insert("status".into(), Dynamic::from_int(out.status));
        m.insert("stdout".into(), Dynamic::from(self.cap(out.stdout)));
        m.insert("stderr".into(), Dynamic::from(self.cap(out.stderr)));
        Ok(m)
    }

    fn resolve_ips(&self, container: &str, name: &str) -> Fallible<Vec<IpAddr>> {
        let timeout = self.time_left(self.limits.probe_timeout)?;
        self.host
            .resolve(container, name, timeout)
            .map_err(|e| runtime_error(format!("resolve {name:?} from {container}: {e}")))
    }

    fn reachable(&self, from: &str, to: &str, port: Option<INT>) -> Fallible<bool> {
        let port = match port {
            None => None,
            Some(p) => Some(
                u16::try_from(p)
                    .ok()
                    .filter(|p| *p > 0)
                    .ok_or_else(|| runtime_error(format!("reachable: port {p} is not in 1-65535")))?,
            ),
        };
        let ip = match to.parse::<IpAddr>() {
            Ok(ip) => ip,
            Err(_) => match self.resolve_ips(from, to)?.first() {
                Some(ip) => *ip,
                // A name that does not resolve cannot be reached by that name.
                None => return Ok(false),
            },
        };
        let timeout = self.time_left(self.limits.probe_timeout)?;
        self.host
            .reachable(from, ip, port, timeout)
            .map_err(|e| runtime_error(format!("reachable from {from} to {to}: {e}")))
    }

    /// `sleep` that never outlasts the deadline.
    fn sleep(&self, seconds: f64) -> Fallible<()> {
        if !seconds.is_finite() || seconds <= 0.0 {
            return Ok(());
        }
        let want = Duration::from_secs_f64(seconds.min(1e9));
        let left = self.current().deadline.saturating_duration_since(Instant::now());
        std::thread::sleep(want.min(left));
        if want >= left {
            return Err(stop(Stop::Deadline));
        }
        Ok(())
    }
}

/// An engine with every limit and restriction but no netplan function: enough to compile.
pub(crate) fn sandboxed(limits: &Limits) -> Engine {
    let mut e = Engine::new();
    e.set_max_operations(limits.max_operations)
        .set_max_call_levels(limits.max_call_levels)
        .set_max_expr_depths(limits.max_expr_depth, limits.max_expr_depth)
        .set_max_string_size(limits.max_string_size)
        .set_max_array_size(limits.max_array_size)
        .set_max_map_size(limits.max_map_size)
        .set_max_modules(0)
        .set_module_resolver(DummyModuleResolver::new())
        .set_strict_variables(true)
        // No constant folding of the values in scope: what runs is what was written.
        .set_optimization_level(OptimizationLevel::None);
    for keyword in ["eval", "import", "export"] {
        e.disable_symbol(keyword);
    }
    e.on_print(|_| {});
    e.on_debug(|_, _, _| {});
    e
}

/// The engine hooks run in: [`sandboxed`] plus netplan's functions bound to `ctx`.
pub(crate) fn with_functions(limits: &Limits, ctx: &Arc<Ctx>) -> Engine {
    let mut e = sandboxed(limits);

    let c = ctx.clone();
    e.on_progress(move |ops| {
        if ops % 64 == 0 && c.expired() {
            Some(Dynamic::from(Stop::Deadline))
        } else {
            None
        }
    });
    let c = ctx.clone();
    e.on_print(move |s| c.emit(Level::Info, s));
    let c = ctx.clone();
    e.on_debug(move |s, _, _| c.emit(Level::Debug, s));

    let c = ctx.clone();
    e.register_fn("log", move |m: ImmutableString| c.emit(Level::Info, &m));
    let c = ctx.clone();
    e.register_fn("log", move |m: Dynamic| c.emit(Level::Info, &m.to_string()));
    let c = ctx.clone();
    e.register_fn("warn", move |m: ImmutableString| c.emit(Level::Warn, &m));
    let c = ctx.clone();
    e.register_fn("warn", move |m: Dynamic| c.emit(Level::Warn, &m.to_string()));
    e.register_fn("fail", |m: ImmutableString| -> Fallible<()> {
        Err(stop(Stop::Fail(m.to_string())))
    });
    e.register_fn("fail", |m: Dynamic| -> Fallible<()> {
        Err(stop(Stop::Fail(m.to_string())))
    });

    let c = ctx.clone();
    e.register_fn("env", move |name: &str| -> Dynamic {
        c.host.env(name).map_or(Dynamic::UNIT, Dynamic::from)
    });

    let c = ctx.clone();
    e.register_fn("exec", move |container: &str, argv: Array| {
        c.exec(container, argv)
    });

    let c = ctx.clone();
    e.register_fn("resolve", move |container: &str, name: &str| -> Fallible<Array> {
        let ips = c.resolve_ips(container, name)?;
        Ok(ips.into_iter().map(|ip| Dynamic::from(ip.to_string())).collect())
    });

    let c = ctx.clone();
    e.register_fn("reachable", move |from: &str, to: &str| {
        c.reachable(from, to, None)
    });
    let c = ctx.clone();
    e.register_fn("reachable", move |from: &str, to: &str, port: INT| {
        c.reachable(from, to, Some(port))
    });

    let c = ctx.clone();
    e.register_fn("sleep", move |s: INT| c.sleep(s as f64));
    let c = ctx.clone();
    e.register_fn("sleep", move |s: FLOAT| c.sleep(s));
    e
}
