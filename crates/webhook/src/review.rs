//! `admission.k8s.io/v1` `AdmissionReview`: the request the API server sends and the
//! response it expects.
use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Status;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// The only API version spoken.
pub const API_VERSION: &str = "admission.k8s.io/v1";

/// A group, version and kind, as the request names the object's type.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct GroupVersionKind {
    /// API group (empty for core).
    #[serde(default)]
    pub group: String,
    /// API version.
    #[serde(default)]
    pub version: String,
    /// Kind.
    pub kind: String,
}

/// A group, version and resource, as the request names what was called.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct GroupVersionResource {
    /// API group (empty for core).
    #[serde(default)]
    pub group: String,
    /// API version.
    #[serde(default)]
    pub version: String,
    /// Resource (`pods`, `deployments`, ...).
    pub resource: String,
}

/// Who made the request.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct UserInfo {
    /// The user's name.
    #[serde(default)]
    pub username: String,
}

/// One admission request: the fields the plugin reads. Unknown fields are ignored, as
/// the API server may send fields newer than this reader.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Request {
    /// Echoed in the response.
    pub uid: String,
    /// The object's type.
    pub kind: GroupVersionKind,
    /// What was called.
    pub resource: GroupVersionResource,
    /// The subresource (`status`, `ephemeralcontainers`, ...), or empty.
    #[serde(default)]
    pub sub_resource: String,
    /// The object's name (empty on a create with `generateName`).
    #[serde(default)]
    pub name: String,
    /// The object's namespace.
    #[serde(default)]
    pub namespace: String,
    /// `CREATE`, `UPDATE`, `DELETE` or `CONNECT`.
    pub operation: String,
    /// Who asks.
    #[serde(default)]
    pub user_info: UserInfo,
    /// The object as it would be stored (absent on DELETE).
    #[serde(default)]
    pub object: Option<Box<RawValue>>,
    /// The object before an UPDATE.
    #[serde(default)]
    pub old_object: Option<Box<RawValue>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReviewIn {
    #[serde(default)]
    api_version: String,
    #[serde(default)]
    kind: String,
    request: Option<Request>,
}

/// Why a body is not an `AdmissionReview` this webhook can answer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("malformed AdmissionReview: {0}")]
pub struct DecodeError(pub String);

/// Reads a request body. Never panics: anything that is not an `admission.k8s.io/v1`
/// `AdmissionReview` with a `request` carrying a `uid` is an error naming what is wrong
/// (with the field path and position of a type error).
pub fn decode(body: &[u8]) -> Result<Request, DecodeError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let review: ReviewIn = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        match path.as_str() {
            "." | "" => DecodeError(inner.to_string()),
            _ => DecodeError(format!("{path}: {inner}")),
        }
    })?;
    de.end().map_err(|e| DecodeError(format!("trailing data after the review: {e}")))?;
    if review.kind != "AdmissionReview" {
        return Err(DecodeError(format!("kind must be \"AdmissionReview\", not {:?}", review.kind)));
    }
    if review.api_version != API_VERSION {
        return Err(DecodeError(format!(
            "apiVersion must be \"{API_VERSION}\" (list only v1 in admissionReviewVersions), not {:?}",
            review.api_version
        )));
    }
    let request = review.request.ok_or_else(|| DecodeError("no `request` in the review".into()))?;
    if request.uid.is_empty() {
        return Err(DecodeError("request.uid is empty".into()));
    }
    Ok(request)
}

/// The answer to one request.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Response {
    /// The request's uid.
    pub uid: String,
    /// Whether the request is admitted.
    pub allowed: bool,
    /// Why not (or what went wrong), as an API status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
    /// Written to the audit event, under the webhook's name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub audit_annotations: BTreeMap<String, String>,
    /// Returned to the client.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// The review sent back.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReviewOut {
    /// `admission.k8s.io/v1`.
    pub api_version: String,
    /// `AdmissionReview`.
    pub kind: String,
    /// The answer.
    pub response: Response,
}

/// The body of the answer to a request.
pub fn encode(response: Response) -> Vec<u8> {
    let out = ReviewOut { api_version: API_VERSION.into(), kind: "AdmissionReview".into(), response };
    serde_json::to_vec(&out).unwrap_or_else(|e| format!("{{\"error\": {:?}}}", e.to_string()).into_bytes())
}
