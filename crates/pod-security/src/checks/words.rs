//! How details are worded: quoted lists, singular or plural.

/// `"a", "b"`: each item in double quotes, comma-separated.
pub(crate) fn quoted<S: AsRef<str>>(items: &[S]) -> String {
    items.iter().map(|s| format!("\"{}\"", s.as_ref())).collect::<Vec<_>>().join(", ")
}

/// `singular` for one, `plural` otherwise.
pub(crate) fn plural<'a>(singular: &'a str, plural: &'a str, count: usize) -> &'a str {
    if count == 1 {
        singular
    } else {
        plural
    }
}

/// `container "a"` or `containers "a", "b"`.
pub(crate) fn containers<S: AsRef<str>>(names: &[S]) -> String {
    format!("{} {}", plural("container", "containers", names.len()), quoted(names))
}

/// `key="value"`, the value quoted with escapes as Go's `%q` writes them.
pub(crate) fn key_value(key: &str, value: &str) -> String {
    format!("{key}={}", go_quote(value))
}

/// A string in double quotes with Go's escapes: `\"`, `\\`, the C escapes, `\xNN` for
/// other control bytes, `\uNNNN` for other unprintable characters.
pub(crate) fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_quoted_and_counted() {
        assert_eq!(containers(&["a"]), "container \"a\"");
        assert_eq!(containers(&["a", "b"]), "containers \"a\", \"b\"");
        assert_eq!(go_quote("x\"y\n\u{1}"), "\"x\\\"y\\n\\x01\"");
    }
}
