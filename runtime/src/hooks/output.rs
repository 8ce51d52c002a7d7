//! What hooks print (`log`, `warn`, `print`, `debug`), where it goes, and the state
//! directory's hook log.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use netplan_lang::model::HookEvent;
use serde::Serialize;

use crate::state::{StateDir, StateError};

/// How a line was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// `log(msg)` or `print(msg)`.
    Info,
    /// `warn(msg)`.
    Warn,
    /// `debug(value)`.
    Debug,
}

/// One line of hook output, with the hook it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OutputLine {
    pub event: HookEvent,
    /// The script's path as shown to the user (relative to where netplan was started).
    pub hook: String,
    /// The network or container a scoped event is about.
    pub object: Option<String>,
    pub level: Level,
    pub text: String,
}

impl fmt::Display for OutputLine {
    /// `[after-apply hooks/smoke.rhai] text`, `[container-up hooks/c.rhai web] warning: text`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{} {}", self.event.as_str(), self.hook)?;
        if let Some(o) = &self.object {
            write!(f, " {o}")?;
        }
        f.write_str("] ")?;
        match self.level {
            Level::Info => {}
            Level::Warn => f.write_str("warning: ")?,
            Level::Debug => f.write_str("debug: ")?,
        }
        f.write_str(&self.text)
    }
}

/// Where hook output goes as it is written. Called from the hook's thread.
pub type Sink = Arc<dyn Fn(&OutputLine) + Send + Sync>;

/// A sink that drops everything.
pub fn discard() -> Sink {
    Arc::new(|_| {})
}

/// A sink that collects lines in memory, and the lines it collected.
pub fn collect() -> (Sink, Arc<Mutex<Vec<OutputLine>>>) {
    let lines: Arc<Mutex<Vec<OutputLine>>> = Arc::default();
    let keep = lines.clone();
    let sink: Sink = Arc::new(move |l: &OutputLine| {
        keep.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(l.clone());
    });
    (sink, lines)
}

/// The hook log of a topology: `<state>/topologies/<name>/logs/hooks.log`, appended to with a
/// UTC timestamp per line.
#[derive(Debug, Clone)]
pub struct HookLog {
    path: PathBuf,
    file: Arc<Mutex<File>>,
}

impl HookLog {
    /// Opens (creating if needed) the hook log of `topology`.
    pub fn open(state: &StateDir, topology: &str) -> Result<HookLog, StateError> {
        let dir = state.logs_dir(topology);
        let io = |op: &'static str, path: &Path| {
            let path = path.to_path_buf();
            move |source| StateError::Io { op, path, source }
        };
        std::fs::create_dir_all(&dir).map_err(io("create", &dir))?;
        let path = dir.join("hooks.log");
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io("open", &path))?;
        Ok(HookLog {
            path,
            file: Arc::new(Mutex::new(file)),
        })
    }

    /// The log file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one line. Failing to write the log never fails a hook; the first failure is
    /// reported on stderr.
    pub fn write(&self, text: &str) {
        let mut f = self.file.lock().unwrap_or_else(PoisonError::into_inner);
        if let Err(e) = writeln!(f, "{} {text}", utc_now()) {
            static ONCE: std::sync::Once = std::sync::Once::new();
            ONCE.call_once(|| eprintln!("warning: cannot write {}: {e}", self.path.display()));
        }
    }

    /// A sink that writes every line here and hands it to `echo` too.
    pub fn sink(&self, echo: impl Fn(&OutputLine) + Send + Sync + 'static) -> Sink {
        let log = self.clone();
        Arc::new(move |l: &OutputLine| {
            log.write(&l.to_string());
            echo(l);
        })
    }
}

/// The current time as `YYYY-MM-DDTHH:MM:SSZ`.
fn utc_now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    utc(secs)
}

/// Seconds since the epoch as `YYYY-MM-DDTHH:MM:SSZ` (proleptic Gregorian calendar).
fn utc(secs: u64) -> String {
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        assert_eq!(utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(utc(1_767_225_599), "2025-12-31T23:59:59Z");
    }

    #[test]
    fn line_forms() {
        let mut l = OutputLine {
            event: HookEvent::AfterApply,
            hook: "hooks/smoke.rhai".into(),
            object: None,
            level: Level::Info,
            text: "ok".into(),
        };
        assert_eq!(l.to_string(), "[after-apply hooks/smoke.rhai] ok");
        l.object = Some("web".into());
        l.level = Level::Warn;
        assert_eq!(l.to_string(), "[after-apply hooks/smoke.rhai web] warning: ok");
    }

    #[test]
    fn log_appends() {
        let root = std::env::temp_dir().join(format!("netplan-hooklog-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let state = StateDir::new(&root);
        let log = HookLog::open(&state, "t").unwrap_or_else(|e| panic!("{e}"));
        let (inner, lines) = collect();
        let sink = log.sink(move |l| inner(l));
        let line = OutputLine {
            event: HookEvent::Plan,
            hook: "p.rhai".into(),
            object: None,
            level: Level::Info,
            text: "hello".into(),
        };
        sink(&line);
        log.write("second");
        let text = std::fs::read_to_string(log.path()).unwrap_or_default();
        let _ = std::fs::remove_dir_all(&root);
        assert!(
            text.lines()
                .next()
                .is_some_and(|l| l.ends_with(" [plan p.rhai] hello")),
            "{text}"
        );
        assert!(
            text.lines().nth(1).is_some_and(|l| l.ends_with(" second")),
            "{text}"
        );
        assert_eq!(lines.lock().map(|l| l.len()).unwrap_or(0), 1);
    }
}
