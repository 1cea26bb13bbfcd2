//! etcd's key-value API through its v3 JSON gateway (`/v3/kv/range`, `/v3/kv/txn`,
//! `/v3/kv/put`): keys and values base64 in JSON, 64-bit numbers as strings, fields at
//! their default value left out of answers (no `kvs`, no `more`, no `succeeded` when
//! false).
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::http;

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No answer.
    #[error(transparent)]
    Http(#[from] http::Error),
    /// An answer other than 200, with etcd's message.
    #[error("{endpoint}{path}: HTTP {status}: {message}")]
    Status {
        /// The server.
        endpoint: String,
        /// The call.
        path: String,
        /// The HTTP status.
        status: u16,
        /// etcd's `error` (or the body).
        message: String,
    },
    /// A 200 whose body is not what the call answers.
    #[error("{endpoint}{path}: unexpected answer: {message}")]
    Decode {
        /// The server.
        endpoint: String,
        /// The call.
        path: String,
        /// What is wrong.
        message: String,
    },
}

/// One stored key. The value is wiped when dropped (it may be plaintext).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Kv {
    /// The key.
    pub key: Vec<u8>,
    /// The stored bytes.
    pub value: Zeroizing<Vec<u8>>,
    /// The revision of its last change: what a compare-and-swap checks.
    pub mod_revision: i64,
}

/// One page of a range.
pub struct Page {
    /// The keys, in key order.
    pub kvs: Vec<Kv>,
    /// Whether keys remain after the last one.
    pub more: bool,
}

/// What a compare-and-swap did.
pub enum Swap {
    /// The key was still at the revision read; the new value is stored.
    Done,
    /// Someone wrote or deleted the key since: its value now (`None`: gone). Nothing was
    /// written.
    Changed(Option<Kv>),
}

/// A client of one etcd member.
pub struct Etcd {
    http: http::Client,
}

#[derive(Deserialize)]
struct KvWire {
    #[serde(default)]
    key: String,
    #[serde(default)]
    value: String,
    #[serde(default)]
    mod_revision: Option<String>,
}

#[derive(Deserialize)]
struct RangeWire {
    #[serde(default)]
    kvs: Vec<KvWire>,
    #[serde(default)]
    more: bool,
    #[serde(default)]
    count: Option<String>,
}

#[derive(Deserialize)]
struct TxnWire {
    #[serde(default)]
    succeeded: bool,
    #[serde(default)]
    responses: Vec<ResponseOpWire>,
}

#[derive(Deserialize)]
struct ResponseOpWire {
    #[serde(default)]
    response_range: Option<RangeWire>,
}

#[derive(Deserialize)]
struct ErrorWire {
    #[serde(default)]
    error: String,
    #[serde(default)]
    message: String,
}

#[derive(Serialize)]
struct RangeRequest {
    key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    range_end: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    limit: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    count_only: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    revision: Option<String>,
}

#[derive(Serialize)]
struct Compare {
    target: &'static str,
    key: String,
    mod_revision: String,
    result: &'static str,
}

#[derive(Serialize)]
struct PutRequest {
    key: String,
    value: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    ignore_lease: bool,
}

#[derive(Serialize)]
enum RequestOp {
    #[serde(rename = "request_put")]
    Put(PutRequest),
    #[serde(rename = "request_range")]
    Range(RangeRequest),
}

#[derive(Serialize)]
struct TxnRequest {
    compare: Vec<Compare>,
    success: Vec<RequestOp>,
    failure: Vec<RequestOp>,
}

fn b64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// The end of the range of every key starting with `prefix`: the prefix with its last
/// byte below 0xff incremented and what follows dropped (etcd's `GetPrefixRangeEnd`);
/// `\0` (every key) for an empty or all-0xff prefix.
pub fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0]
}

impl Etcd {
    /// A client over `http`.
    pub fn new(http: http::Client) -> Self {
        Etcd { http }
    }

    /// The endpoint.
    pub fn endpoint(&self) -> &str {
        self.http.endpoint()
    }

    fn call<T: for<'de> Deserialize<'de>>(&mut self, path: &str, request: &impl Serialize) -> Result<T, Error> {
        let body = serde_json::to_vec(request).expect("request types serialise");
        let response = self.http.post(path, &body)?;
        let endpoint = self.http.endpoint().to_string();
        if response.status != 200 {
            let message = match serde_json::from_slice::<ErrorWire>(&response.body) {
                Ok(e) if !e.error.is_empty() => e.error,
                Ok(e) if !e.message.is_empty() => e.message,
                _ => String::from_utf8_lossy(&response.body).trim().to_string(),
            };
            return Err(Error::Status { endpoint, path: path.to_string(), status: response.status, message });
        }
        serde_json::from_slice(&response.body).map_err(|e| Error::Decode {
            endpoint,
            path: path.to_string(),
            message: e.to_string(),
        })
    }

    fn decode(&self, path: &str, w: KvWire) -> Result<Kv, Error> {
        let bad =
            |m: String| Error::Decode { endpoint: self.endpoint().to_string(), path: path.to_string(), message: m };
        let key = STANDARD.decode(&w.key).map_err(|e| bad(format!("key: {e}")))?;
        let value = Zeroizing::new(STANDARD.decode(&w.value).map_err(|e| bad(format!("value: {e}")))?);
        let mod_revision = match &w.mod_revision {
            Some(r) => r.parse().map_err(|_| bad(format!("mod_revision {r:?}")))?,
            None => 0,
        };
        Ok(Kv { key, value, mod_revision })
    }

    /// Up to `limit` keys in `[from, end)`, in key order.
    pub fn range(&mut self, from: &[u8], end: &[u8], limit: usize) -> Result<Page, Error> {
        let request = RangeRequest {
            key: b64(from),
            range_end: Some(b64(end)),
            limit: Some(limit.to_string()),
            count_only: false,
            revision: None,
        };
        let wire: RangeWire = self.call("/v3/kv/range", &request)?;
        let kvs = wire.kvs.into_iter().map(|w| self.decode("/v3/kv/range", w)).collect::<Result<_, _>>()?;
        Ok(Page { kvs, more: wire.more })
    }

    /// How many keys `[from, end)` holds.
    pub fn count(&mut self, from: &[u8], end: &[u8]) -> Result<u64, Error> {
        let request =
            RangeRequest { key: b64(from), range_end: Some(b64(end)), limit: None, count_only: true, revision: None };
        let wire: RangeWire = self.call("/v3/kv/range", &request)?;
        Ok(wire.count.and_then(|c| c.parse().ok()).unwrap_or(0))
    }

    /// The key's value, if it exists.
    pub fn get(&mut self, key: &[u8]) -> Result<Option<Kv>, Error> {
        let request = RangeRequest { key: b64(key), range_end: None, limit: None, count_only: false, revision: None };
        let wire: RangeWire = self.call("/v3/kv/range", &request)?;
        wire.kvs.into_iter().next().map(|w| self.decode("/v3/kv/range", w)).transpose()
    }

    /// The key's value as it was at `revision` (its history, while not compacted).
    pub fn get_at(&mut self, key: &[u8], revision: i64) -> Result<Option<Kv>, Error> {
        let request = RangeRequest {
            key: b64(key),
            range_end: None,
            limit: None,
            count_only: false,
            revision: Some(revision.to_string()),
        };
        let wire: RangeWire = self.call("/v3/kv/range", &request)?;
        wire.kvs.into_iter().next().map(|w| self.decode("/v3/kv/range", w)).transpose()
    }

    /// Stores `value` at `key` unconditionally (tests and set-up; rewrap never does).
    pub fn put(&mut self, key: &[u8], value: &[u8]) -> Result<(), Error> {
        let request = PutRequest { key: b64(key), value: b64(value), ignore_lease: false };
        let _: serde_json::Value = self.call("/v3/kv/put", &request)?;
        Ok(())
    }

    /// Deletes `key` (tests).
    pub fn delete(&mut self, key: &[u8]) -> Result<(), Error> {
        let request = RangeRequest { key: b64(key), range_end: None, limit: None, count_only: false, revision: None };
        let _: serde_json::Value = self.call("/v3/kv/deleterange", &request)?;
        Ok(())
    }

    /// Stores `value` at `key` only if the key's mod revision is still `mod_revision`, in
    /// one transaction that otherwise reads the key as it now is. The key keeps its lease.
    pub fn swap(&mut self, key: &[u8], mod_revision: i64, value: &[u8]) -> Result<Swap, Error> {
        let request = TxnRequest {
            compare: vec![Compare {
                target: "MOD",
                key: b64(key),
                mod_revision: mod_revision.to_string(),
                result: "EQUAL",
            }],
            success: vec![RequestOp::Put(PutRequest { key: b64(key), value: b64(value), ignore_lease: true })],
            failure: vec![RequestOp::Range(RangeRequest {
                key: b64(key),
                range_end: None,
                limit: None,
                count_only: false,
                revision: None,
            })],
        };
        let wire: TxnWire = self.call("/v3/kv/txn", &request)?;
        if wire.succeeded {
            return Ok(Swap::Done);
        }
        let now = wire.responses.into_iter().find_map(|r| r.response_range).map(|r| r.kvs).unwrap_or_default();
        Ok(Swap::Changed(now.into_iter().next().map(|w| self.decode("/v3/kv/txn", w)).transpose()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_end_increments_the_last_byte_below_0xff() {
        assert_eq!(prefix_end(b"/registry/secrets/"), b"/registry/secrets0");
        assert_eq!(prefix_end(b"a\xff"), b"b");
        assert_eq!(prefix_end(b"\xff\xff"), b"\0");
        assert_eq!(prefix_end(b""), b"\0");
    }

    #[test]
    fn a_swap_is_one_transaction_comparing_the_mod_revision() {
        let request = TxnRequest {
            compare: vec![Compare { target: "MOD", key: b64(b"k"), mod_revision: "7".into(), result: "EQUAL" }],
            success: vec![RequestOp::Put(PutRequest { key: b64(b"k"), value: b64(b"v"), ignore_lease: true })],
            failure: vec![],
        };
        let json = serde_json::to_value(&request).unwrap();
        assert_eq!(json["compare"][0]["mod_revision"], "7");
        assert_eq!(json["success"][0]["request_put"]["key"], "aw==");
        assert_eq!(json["success"][0]["request_put"]["ignore_lease"], true);
    }
}
