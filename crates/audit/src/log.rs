//! Audit logs as the API server's log backend writes them: one audit.k8s.io/v1 `Event`
//! per line (JSON), plain or gzip-compressed (told by the gzip magic bytes, not by the
//! file name). The reader streams: memory does not grow with the log.
//!
//! A request writes one event per stage it reaches (`RequestReceived`, `ResponseStarted`
//! for long-running requests, `ResponseComplete` or `Panic`); every event of a request
//! carries the same `auditID` and the same attributes. [`Event::is_final`] tells the one
//! event per request that counts it.
use std::io::{BufRead, BufReader, Read};

use serde::Deserialize;

use crate::check::{Target, User};

/// The group/version of the events read.
pub const API_VERSION: &str = "audit.k8s.io/v1";

/// One audit event, with the fields podwall reads.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    /// `audit.k8s.io/v1`.
    #[serde(default)]
    pub api_version: String,
    /// `Event`.
    #[serde(default)]
    pub kind: String,
    /// The request's unique ID, shared by its events.
    #[serde(rename = "auditID", default)]
    pub audit_id: String,
    /// The stage the event was written at.
    #[serde(default)]
    pub stage: String,
    /// The request URI as the client sent it.
    #[serde(rename = "requestURI", default)]
    pub request_uri: String,
    /// The verb the API server's request info gave the request (`get`, `list`, ...; the
    /// lower-case HTTP method for non-resource URLs).
    #[serde(default)]
    pub verb: String,
    /// Who authenticated.
    #[serde(default)]
    pub user: EventUser,
    /// Whom the request impersonated, when it did: the request is authorized as them.
    #[serde(default)]
    pub impersonated_user: Option<EventUser>,
    /// The object the request is about; absent for non-resource URLs.
    #[serde(default)]
    pub object_ref: Option<ObjectRef>,
    /// The response's status, when the event was written after it.
    #[serde(default)]
    pub response_status: Option<Status>,
    /// Annotations: `authorization.k8s.io/decision` is `allow` or `forbid`.
    #[serde(default)]
    pub annotations: std::collections::BTreeMap<String, String>,
}

/// A user of an event.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
pub struct EventUser {
    /// The user name.
    #[serde(default)]
    pub username: String,
    /// The groups.
    #[serde(default)]
    pub groups: Vec<String>,
}

/// The object of an event.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ObjectRef {
    /// The resource (plural).
    #[serde(default)]
    pub resource: String,
    /// The namespace; empty for cluster-scoped and all-namespace requests.
    #[serde(default)]
    pub namespace: String,
    /// The name; for a create, the name from the body (not known to the authorizer).
    #[serde(default)]
    pub name: String,
    /// The API group; empty for core.
    #[serde(default)]
    pub api_group: String,
    /// The subresource.
    #[serde(default)]
    pub subresource: String,
}

/// A response status.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
pub struct Status {
    /// The HTTP code.
    #[serde(default)]
    pub code: Option<u16>,
}

impl Event {
    /// Whether this event is the one that counts its request: the `ResponseComplete` or
    /// `Panic` event. A log whose policy omits those stages counts nothing here; the
    /// readers that need every request use all events (their attributes agree).
    pub fn is_final(&self) -> bool {
        matches!(self.stage.as_str(), "ResponseComplete" | "Panic")
    }

    /// The user the request was authorized as: the impersonated user when there is one.
    pub fn effective_user(&self) -> &EventUser {
        self.impersonated_user.as_ref().unwrap_or(&self.user)
    }

    /// Whether the authorizer refused the request: its decision annotation says
    /// `forbid`, or the response is a 403.
    pub fn denied(&self) -> bool {
        self.annotations.get("authorization.k8s.io/decision").is_some_and(|d| d == "forbid")
            || self.response_status.as_ref().and_then(|s| s.code) == Some(403)
    }

    /// What the authorizer was asked, as the API server's request info describes it.
    ///
    /// The name is the one in the URL: the authorizer never sees the name of an object
    /// being created, so a create without a subresource has none here even though the
    /// event's object reference carries the name from the body. A create of a
    /// subresource (`pods/NAME/eviction`) names its object in the URL and keeps it.
    pub fn target(&self) -> Target {
        match &self.object_ref {
            Some(o) => {
                let name = if self.verb == "create" && o.subresource.is_empty() { "" } else { &o.name };
                Target::Resource {
                    group: o.api_group.clone(),
                    resource: o.resource.clone(),
                    subresource: o.subresource.clone(),
                    name: name.to_string(),
                    namespace: o.namespace.clone(),
                }
            }
            None => Target::NonResource { path: self.path().to_string() },
        }
    }

    /// The request URI's path (without the query).
    pub fn path(&self) -> &str {
        self.request_uri.split(['?', '#']).next().unwrap_or("")
    }

    /// The authenticated user as the audit checker's type.
    pub fn audit_user(&self) -> User {
        User { name: self.user.username.clone(), groups: self.user.groups.clone() }
    }
}

/// A line the reader could not use.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct BadLine {
    /// The log file.
    pub file: String,
    /// The 1-based line number.
    pub line: u64,
    /// What is wrong.
    pub message: String,
}

/// Opens `reader`, decompressing it when it starts with the gzip magic bytes.
pub fn open(reader: impl Read + 'static) -> std::io::Result<Box<dyn BufRead>> {
    let mut buffered = BufReader::with_capacity(1 << 16, reader);
    let gzip = buffered.fill_buf()?.starts_with(&[0x1f, 0x8b]);
    Ok(if gzip {
        Box::new(BufReader::with_capacity(1 << 16, flate2::bufread::MultiGzDecoder::new(buffered)))
    } else {
        Box::new(buffered)
    })
}

/// Reads events from `reader` one line at a time, handing each to `each`. A line that is
/// not an audit.k8s.io/v1 Event goes to `bad` with its number, and reading goes on; an
/// I/O error (a truncated gzip stream) ends the read with that error. Empty lines are
/// skipped. Returns the number of lines read.
pub fn read(
    file: &str,
    mut reader: impl BufRead,
    mut each: impl FnMut(Event),
    mut bad: impl FnMut(BadLine),
) -> std::io::Result<u64> {
    let mut buf = Vec::with_capacity(4096);
    let mut line = 0u64;
    loop {
        buf.clear();
        let n = reader.read_until(b'\n', &mut buf)?;
        if n == 0 {
            break;
        }
        line += 1;
        let text = trim(&buf);
        if text.is_empty() {
            continue;
        }
        match parse(text) {
            Ok(e) => each(e),
            Err(message) => bad(BadLine { file: file.to_string(), line, message }),
        }
    }
    Ok(line)
}

fn trim(buf: &[u8]) -> &[u8] {
    let start = buf.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(buf.len());
    let end = buf.iter().rposition(|b| !b.is_ascii_whitespace()).map_or(start, |i| i + 1);
    &buf[start..end]
}

/// Parses one line as an event.
pub fn parse(text: &[u8]) -> Result<Event, String> {
    let e: Event = serde_json::from_slice(text).map_err(|e| format!("not a JSON audit event: {e}"))?;
    if e.kind != "Event" || e.api_version != API_VERSION {
        let shown = |s: &str| if s.is_empty() { "(none)".to_string() } else { format!("{s:?}") };
        return Err(format!(
            "apiVersion {} kind {}: expected an {API_VERSION} Event, one per line",
            shown(&e.api_version),
            shown(&e.kind)
        ));
    }
    if e.verb.is_empty() {
        return Err("event without a verb".into());
    }
    Ok(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(extra: &str) -> String {
        format!(
            r#"{{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"a","stage":"ResponseComplete",
                "requestURI":"/api/v1/namespaces/prod/pods","verb":"create","user":{{"username":"jane","groups":["dev"]}}{extra}}}"#
        )
        .replace('\n', "")
    }

    #[test]
    fn a_create_is_authorized_without_the_name_from_its_body() {
        let e = parse(
            event(r#","objectRef":{"resource":"pods","namespace":"prod","name":"web","apiVersion":"v1"}"#).as_bytes(),
        )
        .unwrap();
        assert_eq!(
            e.target(),
            Target::Resource {
                group: "".into(),
                resource: "pods".into(),
                subresource: "".into(),
                name: "".into(),
                namespace: "prod".into()
            }
        );
    }

    #[test]
    fn a_subresource_create_keeps_the_name_of_its_url() {
        let e = parse(
            event(r#","objectRef":{"resource":"pods","namespace":"prod","name":"web","subresource":"eviction"}"#)
                .as_bytes(),
        )
        .unwrap();
        let Target::Resource { name, .. } = e.target() else { panic!() };
        assert_eq!(name, "web");
    }

    #[test]
    fn a_request_without_an_object_is_a_non_resource_url_without_its_query() {
        let mut text = event("");
        text = text.replace("/api/v1/namespaces/prod/pods", "/healthz?verbose=1").replace("create", "get");
        assert_eq!(parse(text.as_bytes()).unwrap().target(), Target::NonResource { path: "/healthz".into() });
    }

    #[test]
    fn an_impersonated_request_is_authorized_as_the_impersonated_user() {
        let e = parse(event(r#","impersonatedUser":{"username":"bob"}"#).as_bytes()).unwrap();
        assert_eq!(e.effective_user().username, "bob");
        assert_eq!(e.user.username, "jane");
    }

    #[test]
    fn forbid_decisions_and_403s_are_denials() {
        let e = parse(event(r#","annotations":{"authorization.k8s.io/decision":"forbid"}"#).as_bytes()).unwrap();
        assert!(e.denied());
        let e = parse(event(r#","responseStatus":{"code":403}"#).as_bytes()).unwrap();
        assert!(e.denied());
        let e = parse(event(r#","responseStatus":{"code":201}"#).as_bytes()).unwrap();
        assert!(!e.denied());
    }

    #[test]
    fn a_line_that_is_not_an_event_is_reported_with_its_number_and_the_rest_is_read() {
        let log = format!("{}\n{{\"kind\":\"Pod\",\"apiVersion\":\"v1\"}}\n\nnot json\n{}\n", event(""), event(""));
        let (mut good, mut bad) = (0, vec![]);
        let lines = read("audit.log", log.as_bytes(), |_| good += 1, |b| bad.push(b)).unwrap();
        assert_eq!((lines, good), (5, 2));
        assert_eq!(bad.iter().map(|b| b.line).collect::<Vec<_>>(), [2, 4]);
        assert!(bad[0].message.contains("expected an audit.k8s.io/v1 Event"), "{}", bad[0].message);
        assert!(bad[1].to_string().starts_with("audit.log:4: not a JSON audit event"), "{}", bad[1]);
    }

    #[test]
    fn gzip_is_told_by_its_magic_bytes() {
        use std::io::Write;
        let plain = format!("{}\n{}\n", event(""), event(""));
        let mut z = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        z.write_all(plain.as_bytes()).unwrap();
        let gz = z.finish().unwrap();
        for bytes in [plain.into_bytes(), gz] {
            let mut n = 0;
            read("x", open(std::io::Cursor::new(bytes)).unwrap(), |_| n += 1, |b| panic!("{b}")).unwrap();
            assert_eq!(n, 2);
        }
    }
}
