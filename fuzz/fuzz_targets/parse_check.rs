//! Parse, check and format arbitrary text: nothing may panic, and on every file the
//! formatter accepts, its output must format to itself, parse to the same tree (spans
//! aside) and keep every comment.

#![no_main]

use libfuzzer_sys::fuzz_target;
use netplan_lang::fmt::format;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = netplan_lang::check::check_text(text, "fuzz");
    let Ok(once) = format(text) else {
        return;
    };
    let twice = format(&once);
    assert_eq!(twice.as_ref(), Ok(&once), "formatting is not idempotent");
    assert_eq!(tree(text), tree(&once), "formatting changed the tree");
    assert_eq!(comments(text), comments(&once), "formatting changed the comments");
});

/// The parsed items as JSON without spans.
fn tree(text: &str) -> Option<Value> {
    let file = netplan_lang::parse(text).ok()?;
    let mut v = serde_json::to_value(&file.items).ok()?;
    strip_spans(&mut v);
    Some(v)
}

fn strip_spans(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.remove("span");
            m.values_mut().for_each(strip_spans);
        }
        Value::Array(a) => a.iter_mut().for_each(strip_spans),
        _ => {}
    }
}

fn comments(text: &str) -> Vec<String> {
    netplan_lang::parse::comments(text)
        .into_iter()
        .map(|c| c.text.trim_end().to_string())
        .collect()
}
