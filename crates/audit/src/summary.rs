//! `audit summarize`: who did what, from an audit log. Each request is counted once, by
//! its final event (`ResponseComplete` or `Panic`); a log whose policy omits those stages
//! is counted by its `RequestReceived` events instead, and the summary says which.
use std::collections::HashMap;

use serde::Serialize;

use crate::check::Target;
use crate::log::Event;

/// Counts over one stage's events.
#[derive(Default)]
struct Tally {
    requests: u64,
    denied: u64,
    users: HashMap<String, u64>,
    verbs: HashMap<String, u64>,
    resources: HashMap<String, u64>,
    namespaces: HashMap<String, u64>,
    codes: HashMap<u16, u64>,
    refusals: HashMap<(String, String, String, String), u64>,
}

impl Tally {
    fn add(&mut self, e: &Event) {
        self.requests += 1;
        bump(&mut self.users, &e.effective_user().username);
        bump(&mut self.verbs, &e.verb);
        let (resource, namespace) = describe(e);
        bump(&mut self.resources, &resource);
        if !namespace.is_empty() {
            bump(&mut self.namespaces, &namespace);
        }
        if let Some(code) = e.response_status.as_ref().and_then(|s| s.code) {
            *self.codes.entry(code).or_default() += 1;
        }
        if e.denied() {
            self.denied += 1;
            let key = (e.effective_user().username.clone(), e.verb.clone(), resource, namespace);
            *self.refusals.entry(key).or_default() += 1;
        }
    }
}

fn bump(map: &mut HashMap<String, u64>, key: &str) {
    match map.get_mut(key) {
        Some(n) => *n += 1,
        None => {
            map.insert(key.to_string(), 1);
        }
    }
}

/// `RESOURCE[.GROUP][/SUBRESOURCE]` or the URL path, and the namespace.
fn describe(e: &Event) -> (String, String) {
    match e.target() {
        Target::Resource { group, resource, subresource, namespace, .. } => {
            let mut s = resource;
            if !group.is_empty() {
                s = format!("{s}.{group}");
            }
            if !subresource.is_empty() {
                s = format!("{s}/{subresource}");
            }
            (s, namespace)
        }
        Target::NonResource { path } => (path, String::new()),
    }
}

/// Builds a [`Summary`] from events fed one at a time.
#[derive(Default)]
pub struct Summarizer {
    events: u64,
    last: Tally,
    received: Tally,
}

impl Summarizer {
    /// Counts one event.
    pub fn add(&mut self, e: &Event) {
        self.events += 1;
        if e.is_final() {
            self.last.add(e);
        } else if e.stage == "RequestReceived" {
            self.received.add(e);
        }
    }

    /// The summary, with the `top` largest entries of each list.
    pub fn finish(self, top: usize) -> Summary {
        let (t, counted_by) = if self.last.requests == 0 && self.received.requests > 0 {
            (self.received, "RequestReceived")
        } else {
            (self.last, "ResponseComplete")
        };
        let mut refusals: Vec<Refusal> = t
            .refusals
            .into_iter()
            .map(|((user, verb, resource, namespace), count)| Refusal { user, verb, resource, namespace, count })
            .collect();
        refusals.sort_by(|a, b| {
            b.count.cmp(&a.count).then_with(|| {
                (&a.user, &a.verb, &a.resource, &a.namespace).cmp(&(&b.user, &b.verb, &b.resource, &b.namespace))
            })
        });
        refusals.truncate(top);
        let mut codes: Vec<Count> =
            t.codes.into_iter().map(|(c, count)| Count { name: c.to_string(), count }).collect();
        sort(&mut codes, usize::MAX);
        Summary {
            events: self.events,
            requests: t.requests,
            counted_by,
            denied: t.denied,
            users: ranked(t.users, top),
            verbs: ranked(t.verbs, top),
            resources: ranked(t.resources, top),
            namespaces: ranked(t.namespaces, top),
            codes,
            refusals,
        }
    }
}

fn ranked(map: HashMap<String, u64>, top: usize) -> Vec<Count> {
    let mut v: Vec<Count> = map.into_iter().map(|(name, count)| Count { name, count }).collect();
    sort(&mut v, top);
    v
}

fn sort(v: &mut Vec<Count>, top: usize) {
    v.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.name.cmp(&b.name)));
    v.truncate(top);
}

/// What an audit log shows.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// Events read.
    pub events: u64,
    /// Requests counted (one per request).
    pub requests: u64,
    /// The stage whose events counted the requests.
    pub counted_by: &'static str,
    /// Requests the authorizer refused.
    pub denied: u64,
    /// Requests per user (as authorized: the impersonated user when there is one).
    pub users: Vec<Count>,
    /// Requests per verb.
    pub verbs: Vec<Count>,
    /// Requests per resource (`RESOURCE[.GROUP][/SUBRESOURCE]`, or a URL path).
    pub resources: Vec<Count>,
    /// Requests per namespace.
    pub namespaces: Vec<Count>,
    /// Responses per HTTP code.
    pub codes: Vec<Count>,
    /// Refused requests, grouped by who asked what where.
    pub refusals: Vec<Refusal>,
}

/// A name and how often it was seen.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Count {
    /// The user, verb, resource, namespace or code.
    pub name: String,
    /// How many requests.
    pub count: u64,
}

/// Refused requests of one kind.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Refusal {
    /// Who.
    pub user: String,
    /// The verb.
    pub verb: String,
    /// The resource or URL.
    pub resource: String,
    /// The namespace (empty when none).
    pub namespace: String,
    /// How many.
    pub count: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::parse;

    fn ev(stage: &str, id: &str, user: &str, verb: &str, resource: &str, ns: &str, code: u16) -> Event {
        parse(
            format!(
                r#"{{"kind":"Event","apiVersion":"audit.k8s.io/v1","auditID":"{id}","stage":"{stage}","verb":"{verb}",
                "requestURI":"/x","user":{{"username":"{user}"}},"objectRef":{{"resource":"{resource}","namespace":"{ns}"}},
                "responseStatus":{{"code":{code}}}}}"#
            )
            .as_bytes(),
        )
        .unwrap()
    }

    #[test]
    fn each_request_is_counted_once_by_its_final_event() {
        let mut s = Summarizer::default();
        for stage in ["RequestReceived", "ResponseComplete"] {
            s.add(&ev(stage, "1", "jane", "get", "pods", "prod", 200));
            s.add(&ev(stage, "2", "jane", "list", "secrets", "prod", 403));
            s.add(&ev(stage, "3", "bob", "get", "pods", "dev", 200));
        }
        let sum = s.finish(10);
        assert_eq!((sum.events, sum.requests, sum.denied, sum.counted_by), (6, 3, 1, "ResponseComplete"));
        assert_eq!(sum.users[0], Count { name: "jane".into(), count: 2 });
        assert_eq!(sum.resources[0], Count { name: "pods".into(), count: 2 });
        assert_eq!(
            sum.refusals,
            [Refusal {
                user: "jane".into(),
                verb: "list".into(),
                resource: "secrets".into(),
                namespace: "prod".into(),
                count: 1
            }]
        );
    }

    #[test]
    fn a_log_without_final_stages_is_counted_by_its_received_events_and_says_so() {
        let mut s = Summarizer::default();
        s.add(&ev("RequestReceived", "1", "jane", "get", "pods", "prod", 200));
        let sum = s.finish(10);
        assert_eq!((sum.requests, sum.counted_by), (1, "RequestReceived"));
    }

    #[test]
    fn ties_are_ranked_by_name_and_the_list_is_cut_at_top() {
        let mut s = Summarizer::default();
        for user in ["c", "a", "b", "a"] {
            s.add(&ev("ResponseComplete", user, user, "get", "pods", "", 200));
        }
        let names: Vec<String> = s.finish(2).users.into_iter().map(|c| c.name).collect();
        assert_eq!(names, ["a", "b"]);
    }
}
