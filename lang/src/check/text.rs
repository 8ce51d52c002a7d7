//! Small helpers for the wording of messages.

/// `a`, `a or b`, `a, b or c` (with `and` or `or` as `last`).
pub(super) fn join(words: &[&str], last: &str) -> String {
    match words {
        [] => String::new(),
        [one] => (*one).to_string(),
        [init @ .., tail] => format!("{} {last} {tail}", init.join(", ")),
    }
}

/// Like [`join`], with every word in backticks.
pub(super) fn quoted(words: &[&str], last: &str) -> String {
    let q: Vec<String> = words.iter().map(|w| format!("`{w}`")).collect();
    let refs: Vec<&str> = q.iter().map(String::as_str).collect();
    join(&refs, last)
}

/// "IPv4" or "IPv6".
pub(super) fn family(v6: bool) -> &'static str {
    if v6 { "IPv6" } else { "IPv4" }
}
