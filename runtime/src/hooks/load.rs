//! Loading hooks: every `hook` statement of a topology, its script read and compiled once.
//! `netplan check`, `plan` and `apply` all go through [`HookSet::load`], so a script that does
//! not compile is found before anything runs.

use std::path::{Path, PathBuf};

use netplan_lang::model::{Hook, HookEvent, Span};
use netplan_lang::{Diag, Source, Topology};
use rhai::{AST, Dynamic, Engine, ParseError, Scope};

use super::diag::{HookDiag, span_at};
use super::engine;
use super::limits::Limits;

/// Diagnostic codes of hook problems.
pub mod codes {
    /// The script cannot be read.
    pub const MISSING: &str = "netplan::hook::missing";
    /// The script does not compile.
    pub const SYNTAX: &str = "netplan::hook::syntax";
    /// A scoped hook whose event is not about its block's object.
    pub const SCOPE: &str = "netplan::hook::scope";
    /// `fail(msg)` or `throw`: the script refused.
    pub const FAILED: &str = "netplan::hook::failed";
    /// The script stopped on an error of its own (type mismatch, unknown function, ...).
    pub const ERROR: &str = "netplan::hook::error";
    /// The script exceeded a limit (operations, call depth, data size).
    pub const LIMIT: &str = "netplan::hook::limit";
    /// The script ran past its wall-clock deadline.
    pub const DEADLINE: &str = "netplan::hook::deadline";
}

/// What object a hook is declared on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HookScope {
    /// At the top level: runs for every object its event is about.
    Topology,
    /// Inside `network NAME { }`: only for that network.
    Network(String),
    /// Inside `container NAME { }`: only for that container.
    Container(String),
}

impl HookScope {
    /// The object name of a scoped hook.
    pub fn object(&self) -> Option<&str> {
        match self {
            HookScope::Topology => None,
            HookScope::Network(n) | HookScope::Container(n) => Some(n),
        }
    }
}

/// The variables a script of `event` finds in scope (besides `topology` and `plan`).
pub(crate) fn object_variable(event: HookEvent) -> Option<&'static str> {
    match event {
        HookEvent::NetworkCreated | HookEvent::NetworkRemoved => Some("network"),
        HookEvent::ContainerUp | HookEvent::ContainerDown => Some("container"),
        _ => None,
    }
}

/// The scope a script is compiled against: the names it may use, without values.
pub(crate) fn scope_for(event: HookEvent) -> Scope<'static> {
    let mut scope = base_scope(Dynamic::UNIT, Dynamic::UNIT);
    push_event(&mut scope, event, Dynamic::UNIT);
    scope
}

/// How many variables [`base_scope`] holds.
pub(crate) const BASE_VARIABLES: usize = 2;

/// The part of a script's scope that is the same for every hook of a run: read-only
/// `topology` and `plan`. Built once, and rewound to this length after each script (constants
/// cannot change, so no script sees what another did).
pub(crate) fn base_scope(topology: Dynamic, plan: Dynamic) -> Scope<'static> {
    let mut scope = Scope::new();
    scope.push_constant_dynamic("topology", topology);
    scope.push_constant_dynamic("plan", plan);
    scope
}

/// The rest: read-only `event` (its name, e.g. `"after-apply"`), `network` and `container`
/// (the object of a scoped event, else `()`). Both always exist, so that one script can serve
/// several events and branch on `event`.
pub(crate) fn push_event(scope: &mut Scope<'static>, event: HookEvent, object: Dynamic) {
    let (network, container) = match object_variable(event) {
        Some("network") => (object, Dynamic::UNIT),
        Some(_) => (Dynamic::UNIT, object),
        None => (Dynamic::UNIT, Dynamic::UNIT),
    };
    scope.push_constant("event", event.as_str().to_string());
    scope.push_constant_dynamic("network", network);
    scope.push_constant_dynamic("container", container);
}

/// One loaded hook.
#[derive(Debug, Clone)]
pub struct Script {
    pub event: HookEvent,
    pub scope: HookScope,
    /// The path as written in the topology.
    pub path: String,
    /// The `hook` statement and its path in the topology file.
    pub span: Span,
    pub path_span: Span,
    /// The script text, named as the user sees the path.
    pub source: Source,
    pub(crate) ast: AST,
}

impl Script {
    /// The script's path as shown in output and diagnostics.
    pub fn name(&self) -> &str {
        &self.source.name
    }
}

/// Every hook of a topology, compiled, in declaration order.
#[derive(Debug, Clone)]
pub struct HookSet {
    scripts: Vec<Script>,
    topology: Source,
    limits: Limits,
}

/// Hooks in declaration order with the object they are declared on.
fn declared(topo: &Topology) -> Vec<(&Hook, HookScope)> {
    let mut all: Vec<(&Hook, HookScope)> = topo.hooks.iter().map(|h| (h, HookScope::Topology)).collect();
    for n in &topo.networks {
        all.extend(
            n.hooks
                .iter()
                .map(|h| (h, HookScope::Network(n.name.to_string()))),
        );
    }
    for c in &topo.containers {
        all.extend(
            c.hooks
                .iter()
                .map(|h| (h, HookScope::Container(c.name.to_string()))),
        );
    }
    all.sort_by_key(|(h, _)| h.span.start);
    all
}

/// The events that make sense inside a block, or `None` when every event does.
fn allowed(scope: &HookScope) -> Option<[HookEvent; 2]> {
    match scope {
        HookScope::Topology => None,
        HookScope::Network(_) => Some([HookEvent::NetworkCreated, HookEvent::NetworkRemoved]),
        HookScope::Container(_) => Some([HookEvent::ContainerUp, HookEvent::ContainerDown]),
    }
}

/// How the script's path is shown: relative to where the topology file was named.
fn display_name(net: &Source, path: &str) -> String {
    match Path::new(&net.name).parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.join(path).display().to_string(),
        _ => path.to_string(),
    }
}

impl HookSet {
    /// A set without hooks.
    pub fn empty(topology: &Source) -> Self {
        HookSet {
            scripts: Vec::new(),
            topology: topology.clone(),
            limits: Limits::default(),
        }
    }

    /// Reads and compiles every hook of `topo`. `net` is the topology file's text (for
    /// diagnostics), `dir` the directory hook paths are relative to. Every problem is reported,
    /// not only the first.
    pub fn load(topo: &Topology, net: &Source, dir: &Path, limits: Limits) -> Result<HookSet, Vec<HookDiag>> {
        let engine = engine::sandboxed(&limits);
        let mut scripts = Vec::new();
        let mut diags = Vec::new();
        for (hook, scope) in declared(topo) {
            match load_one(&engine, hook, scope, net, dir) {
                Ok(s) => scripts.push(s),
                Err(d) => diags.push(*d),
            }
        }
        if diags.is_empty() {
            Ok(HookSet {
                scripts,
                topology: net.clone(),
                limits,
            })
        } else {
            Err(diags)
        }
    }

    /// Every loaded hook in declaration order.
    pub fn scripts(&self) -> &[Script] {
        &self.scripts
    }

    pub fn is_empty(&self) -> bool {
        self.scripts.is_empty()
    }

    /// Whether any hook listens to `event`.
    pub fn has(&self, event: HookEvent) -> bool {
        self.scripts.iter().any(|s| s.event == event)
    }

    /// The hooks that run for `event` on `object` (top-level ones and those declared on it),
    /// in declaration order.
    pub fn matching<'a>(
        &'a self,
        event: HookEvent,
        object: Option<&'a str>,
    ) -> impl Iterator<Item = &'a Script> {
        self.scripts
            .iter()
            .filter(move |s| s.event == event && s.scope.object().is_none_or(|o| Some(o) == object))
    }

    /// The topology file the hooks were declared in.
    pub fn topology_source(&self) -> &Source {
        &self.topology
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }
}

/// The directory hook paths of topology file `file` are relative to.
pub fn base_dir(file: &Path) -> PathBuf {
    match file.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// `netplan check`: every problem with the hooks of `topo` (empty when all load).
pub fn check(topo: &Topology, net: &Source, dir: &Path) -> Vec<HookDiag> {
    HookSet::load(topo, net, dir, Limits::default())
        .err()
        .unwrap_or_default()
}

fn load_one(
    engine: &Engine,
    hook: &Hook,
    scope: HookScope,
    net: &Source,
    dir: &Path,
) -> Result<Script, Box<HookDiag>> {
    let name = display_name(net, &hook.path);
    if let Some(ok) = allowed(&scope)
        && !ok.contains(&hook.event)
    {
        let (kind, object) = match &scope {
            HookScope::Network(n) => ("network", n.as_str()),
            HookScope::Container(c) => ("container", c.as_str()),
            HookScope::Topology => ("topology", ""),
        };
        let d = Diag::error(
            codes::SCOPE,
            format!(
                "hook `{}` inside {kind} `{object}` would never run",
                hook.event.as_str()
            ),
        )
        .primary(
            hook.span,
            format!("only {} and {} hooks belong here", ok[0].as_str(), ok[1].as_str()),
        )
        .help("move the hook to the top level of the file, where every event is allowed");
        return Err(Box::new(HookDiag::new(d, net)));
    }
    let path: PathBuf = dir.join(&hook.path);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => {
            let why = match e.kind() {
                std::io::ErrorKind::NotFound => "no such file".to_string(),
                _ => e.to_string(),
            };
            let d = Diag::error(codes::MISSING, format!("cannot read hook script {name}: {why}"))
                .primary(hook.path_span, why)
                .help(format!(
                    "create the script, or fix the path: it is relative to the directory of {}",
                    net.name
                ));
            return Err(Box::new(HookDiag::new(d, net)));
        }
    };
    let source = Source::new(name.clone(), text);
    let compiled = engine.compile_with_scope(&scope_for(hook.event), &*source.text);
    match compiled {
        Ok(ast) => Ok(Script {
            event: hook.event,
            scope,
            path: hook.path.clone(),
            span: hook.span,
            path_span: hook.path_span,
            source,
            ast,
        }),
        Err(e) => Err(Box::new(syntax_diag(&e, hook, &name, net, &source))),
    }
}

/// The main part on the `hook` statement, the related one at the error in the script.
fn syntax_diag(e: &ParseError, hook: &Hook, name: &str, net: &Source, script: &Source) -> HookDiag {
    let reason = e.err_type().to_string();
    let help = if reason.contains("'eval' is disabled") {
        "hooks cannot evaluate code built at run time; write the code in the script".to_string()
    } else if reason.contains("'import'") || reason.contains("'export'") {
        "hooks cannot load modules; put everything the hook needs in its script".to_string()
    } else if reason.contains("Undefined variable") {
        "hooks see `event`, `topology`, `plan`, `network` and `container`, and the variables they declare"
            .to_string()
    } else {
        "fix the script; `netplan check` compiles every hook".to_string()
    };
    let main = Diag::error(
        codes::SYNTAX,
        format!("hook script {name} does not compile: {reason}"),
    )
    .primary(hook.path_span, "this script")
    .secondary(hook.span, format!("{} hook", hook.event.as_str()))
    .help(help);
    let at = span_at(&script.text, e.position());
    let related = Diag::error(codes::SYNTAX, reason.clone()).primary(at, "here");
    HookDiag::new(main, net).with_related(related, script)
}
