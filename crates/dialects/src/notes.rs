//! What the compiler notices and does not model, as findings with stable IDs.
use podwall_ir::{Finding, ObjectRef, Severity, Source};
use podwall_load::Object;

/// An object given more than once: the one read last is used.
pub const DUPLICATE: &str = "NM001";
/// A policy kind podwall recognises but does not evaluate.
pub const UNEVALUATED: &str = "NM002";
/// A staged policy: recognised, not enforced.
pub const STAGED: &str = "NM003";
/// A policy feature podwall does not model (the rest of the policy is).
pub const UNMODELLED: &str = "NM004";
/// A policy podwall ignores whole (it applies to what podwall does not model).
pub const IGNORED: &str = "NM005";
/// Admin policies of one tier sharing a priority: their order is undefined upstream.
pub const SHARED_PRIORITY: &str = "NM006";
/// A file passed over whole because it is not Kubernetes manifests (`--skip-invalid`).
pub const FILE_SKIPPED: &str = "IN001";
/// An object passed over because it is invalid (`--skip-invalid`).
pub const OBJECT_SKIPPED: &str = "IN002";
/// A kind a live cluster refused to list (HTTP 403): the answer is partial.
pub const KIND_FORBIDDEN: &str = "IN003";
/// A kind a live cluster does not serve (its CRD is not installed).
pub const KIND_NOT_SERVED: &str = "IN004";

/// Every finding ID the network compiler emits, with its severity and meaning.
pub const CATALOGUE: &[(&str, Severity, &str)] = &[
    (DUPLICATE, Severity::Medium, "an object given more than once; the one read last is used"),
    (UNEVALUATED, Severity::High, "a policy podwall cannot evaluate; answers about pods it could select leave it out"),
    (STAGED, Severity::Info, "a staged policy, which is not enforced"),
    (UNMODELLED, Severity::Medium, "a policy feature podwall does not model"),
    (IGNORED, Severity::Medium, "a policy podwall ignores whole"),
    (FILE_SKIPPED, Severity::Medium, "a file that is not Kubernetes manifests, passed over"),
    (OBJECT_SKIPPED, Severity::High, "an invalid object, passed over; answers leave it out"),
    (KIND_FORBIDDEN, Severity::High, "a kind the cluster did not let podwall list; the answer is partial"),
    (KIND_NOT_SERVED, Severity::Info, "a kind the cluster does not serve (its CRD is not installed); none read"),
    (
        SHARED_PRIORITY,
        Severity::Low,
        "admin policies sharing a priority run in name order; upstream leaves it undefined",
    ),
];

fn severity(id: &str) -> Severity {
    CATALOGUE.iter().find(|(i, _, _)| *i == id).map_or(Severity::Medium, |c| c.1)
}

/// The reference of an object of the input.
pub fn object_ref(obj: &Object) -> ObjectRef {
    let group = obj.api_version.rsplit_once('/').map_or("", |(g, _)| g);
    ObjectRef { group: group.into(), kind: obj.kind.clone(), namespace: obj.namespace.clone(), name: obj.name.clone() }
}

/// A finding about an object of the input.
pub fn about(id: &'static str, obj: &Object, message: impl Into<String>) -> Finding {
    Finding::new(id, severity(id), message).object(object_ref(obj)).origin(obj.source.origin())
}

/// A finding about something named in words (`Kind ns/name` of a compiled policy).
pub fn named(id: &'static str, subject: &str, source: Option<&Source>, message: impl Into<String>) -> Finding {
    let f = Finding::new(id, severity(id), message).subject(subject);
    match source {
        Some(s) => f.origin(s.origin()),
        None => f,
    }
}

/// What the reader or the compiler passed over, and why.
pub fn invalid(skip: &podwall_load::Invalid) -> Finding {
    let e = &skip.error;
    let why = match &e.field {
        Some(field) => format!("{field}: {}", e.message),
        None => e.message.clone(),
    };
    let (id, message) = match skip.whole_file {
        true => (FILE_SKIPPED, format!("{why}; the file was skipped (--skip-invalid)")),
        false => (OBJECT_SKIPPED, format!("{why}; the object was skipped (--skip-invalid): answers leave it out")),
    };
    let f = Finding::new(id, severity(id), message);
    let f = match &e.object {
        Some(o) => f.subject(o.clone()),
        None => f,
    };
    match e.location.line {
        // About a whole file that could not be read: no line to name.
        0 => f.subject(e.location.file.clone()),
        _ => f.origin(e.location.origin()),
    }
}

/// What a live cluster did not hand over: a finding per kind it refused to list, and
/// one naming every kind it does not serve.
pub fn gaps(gaps: &[podwall_load::Gap]) -> Vec<Finding> {
    use podwall_load::GapReason;
    let origin = |g: &podwall_load::Gap| {
        let context = g.source.file.strip_prefix(podwall_load::CLUSTER_SOURCE).unwrap_or(&g.source.file);
        podwall_ir::Origin::Cluster { context: context.to_string() }
    };
    let mut out = Vec::new();
    for g in gaps {
        if let GapReason::Forbidden(why) = &g.reason {
            let message =
                format!("not allowed to list {} ({why}): answers leave its objects out; the result is partial", g.kind);
            out.push(
                Finding::new(KIND_FORBIDDEN, severity(KIND_FORBIDDEN), message)
                    .subject(g.kind.clone())
                    .origin(origin(g)),
            );
        }
    }
    let absent: Vec<&podwall_load::Gap> = gaps.iter().filter(|g| g.reason == GapReason::NotServed).collect();
    if let Some(first) = absent.first() {
        let kinds: Vec<&str> = absent.iter().map(|g| g.kind.as_str()).collect();
        let message = format!(
            "the cluster does not serve {} kind(s) podwall reads (their CRDs are not installed), so it holds none: {}",
            kinds.len(),
            kinds.join(", ")
        );
        out.push(Finding::new(KIND_NOT_SERVED, severity(KIND_NOT_SERVED), message).origin(origin(first)));
    }
    out
}
