//! The prefix of a stored value: `k8s:enc:<provider>:<version>:<key name>:` for keyed
//! providers (version `v1`; kms v2 writes `v2`), none for identity. Reading matches
//! configured prefixes byte for byte, as upstream does; [`parse`] only names what wrote
//! a value, for messages and counts.

/// What every encrypted value starts with (identity refuses such data on read).
pub const ENCRYPTED: &[u8] = b"k8s:enc:";

/// The prefix of key `key` of `provider` (`aescbc`, `aesgcm`, `secretbox`, `kms`) at
/// `version`.
pub fn format(provider: &str, version: &str, key: &str) -> Vec<u8> {
    format!("k8s:enc:{provider}:{version}:{key}:").into_bytes()
}

/// A parsed prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prefix<'a> {
    /// The provider (`aescbc`).
    pub provider: &'a str,
    /// The format version (`v1`).
    pub version: &'a str,
    /// The key (or kms provider) name: up to the next `:`. A key name that itself holds
    /// a `:` cannot be told apart from its payload here; reading never relies on this.
    pub key: &'a str,
    /// The bytes after the prefix.
    pub rest: &'a [u8],
}

/// The prefix of `data`, when it starts with `k8s:enc:` followed by three `:`-terminated
/// UTF-8 fields, the first two non-empty; `None` otherwise (plaintext, or no prefix).
pub fn parse(data: &[u8]) -> Option<Prefix<'_>> {
    let mut rest = data.strip_prefix(ENCRYPTED)?;
    let mut fields = [""; 3];
    for f in &mut fields {
        let end = rest.iter().position(|&b| b == b':')?;
        *f = std::str::from_utf8(&rest[..end]).ok()?;
        rest = &rest[end + 1..];
    }
    let [provider, version, key] = fields;
    if provider.is_empty() || version.is_empty() {
        return None;
    }
    Some(Prefix { provider, version, key, rest })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prefix_names_provider_version_and_key() {
        let p = parse(b"k8s:enc:aescbc:v1:key1:\x00\x01").expect("parses");
        assert_eq!((p.provider, p.version, p.key, p.rest), ("aescbc", "v1", "key1", &b"\x00\x01"[..]));
        assert_eq!(parse(b"plain text"), None);
        assert_eq!(parse(b"k8s:enc:aescbc:v1"), None);
        assert_eq!(parse(b"k8s:enc::v1:k:"), None);
    }
}
