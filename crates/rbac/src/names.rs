//! The name rules the API server applies to the names RBAC reads.

/// A role or binding name (and a roleRef name): a valid path segment.
pub(crate) fn is_path_segment(name: &str) -> Result<(), &'static str> {
    match name {
        "." => Err("may not be '.'"),
        ".." => Err("may not be '..'"),
        _ if name.contains('/') => Err("may not contain '/'"),
        _ if name.contains('%') => Err("may not contain '%'"),
        _ => Ok(()),
    }
}

fn label_chars(l: &str) -> bool {
    let b = l.as_bytes();
    let inner = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-';
    !b.is_empty() && b.iter().all(inner) && b[0] != b'-' && b[b.len() - 1] != b'-'
}

const LABEL: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character";
const SUBDOMAIN: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";

/// A namespace name: an RFC 1123 label.
pub(crate) fn is_dns_label(name: &str) -> Result<(), &'static str> {
    if name.len() > 63 {
        return Err("must be no more than 63 characters");
    }
    if label_chars(name) {
        Ok(())
    } else {
        Err(LABEL)
    }
}

/// A service account name: an RFC 1123 subdomain.
pub(crate) fn is_dns_subdomain(name: &str) -> Result<(), &'static str> {
    if name.len() > 253 {
        return Err("must be no more than 253 characters");
    }
    if name.split('.').all(label_chars) {
        Ok(())
    } else {
        Err(SUBDOMAIN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subdomains_take_dots_and_labels_do_not() {
        assert!(is_dns_subdomain("a.b-c").is_ok() && is_dns_label("a.b").is_err());
        assert!(is_dns_subdomain("-a").is_err() && is_dns_subdomain("a..b").is_err() && is_dns_subdomain("A").is_err());
        assert!(
            is_path_segment("..").is_err() && is_path_segment("a/b").is_err() && is_path_segment("Any:Thing").is_ok()
        );
    }
}
