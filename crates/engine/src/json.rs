//! The JSON form of one reachability matrix, shared by everything that prints one (the
//! model's `matrix` and the lab's probes), so both are the same shape:
//! `{"version": 2, "port": 8080, "protocol": "TCP", "pods": [...], "allowed": [[...], ...]}`
//! with `allowed[i][j]` meaning pods[i] → pods[j]. The port is a number, as in every
//! other JSON podwall prints; version 1 (no `version` key) gave it as a string.
use std::io::{self, Write};

use podwall_ir::Protocol;

/// The version of the matrix JSON form, its `version` key: 2 since the port became a
/// number.
pub const MATRIX_VERSION: u32 = 2;

/// Writes the matrix of `protocol`/`port` over `pods`; `row(i)` gives pod i's row. Rows
/// are streamed: the whole document is never built in memory.
pub fn write_matrix<W: Write, R: IntoIterator<Item = bool>>(
    out: &mut W,
    protocol: Protocol,
    port: u16,
    pods: &[&str],
    mut row: impl FnMut(usize) -> R,
) -> io::Result<()> {
    write!(out, "{{\"version\": {MATRIX_VERSION}, \"port\": {port}, \"protocol\": \"{protocol}\", \"pods\": ")?;
    let mut names = Vec::new();
    names.push(b'[');
    for (i, p) in pods.iter().enumerate() {
        if i > 0 {
            names.push(b',');
        }
        string(&mut names, p);
    }
    names.push(b']');
    out.write_all(&names)?;
    write!(out, ", \"allowed\": [")?;
    let mut line: Vec<u8> = Vec::with_capacity(pods.len() * 6 + 8);
    for i in 0..pods.len() {
        line.clear();
        line.extend_from_slice(if i > 0 { b",\n  [" } else { b"\n  [" });
        for (j, a) in row(i).into_iter().enumerate() {
            if j > 0 {
                line.push(b',');
            }
            line.extend_from_slice(if a { b"true" } else { b"false" });
        }
        line.push(b']');
        out.write_all(&line)?;
    }
    write!(out, "]}}")
}

/// A JSON string literal.
fn string(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    for c in s.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            c if (c as u32) < 0x20 => out.extend_from_slice(format!("\\u{:04x}", c as u32).as_bytes()),
            c => {
                let mut b = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
            }
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matrix_json_parses_back_with_escaped_names() {
        let mut out = Vec::new();
        let rows = [[true, false], [false, true]];
        write_matrix(&mut out, Protocol::UDP, 53, &["a/\"x\"", "b\\\n"], |i| rows[i]).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["version"], MATRIX_VERSION);
        assert_eq!(v["port"], 53);
        assert_eq!(v["protocol"], "UDP");
        assert_eq!(v["pods"][0], "a/\"x\"");
        assert_eq!(v["pods"][1], "b\\\n");
        assert_eq!(v["allowed"], serde_json::json!([[true, false], [false, true]]));
    }
}
