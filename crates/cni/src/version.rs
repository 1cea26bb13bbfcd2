//! Which versions of the specification podwall speaks, and what each allows.
use crate::error::{Error, DECODING_FAILURE, INCOMPATIBLE_VERSION};

/// The versions podwall accepts in `cniVersion`, oldest first.
pub const SUPPORTED: [&str; 3] = ["0.4.0", "1.0.0", "1.1.0"];
/// The newest.
pub const LATEST: &str = "1.1.0";

/// A parsed `major.minor.patch`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version(pub u32, pub u32, pub u32);

impl Version {
    /// Parses `v`; an empty version is 0.1.0, as the specification's libraries read a
    /// configuration without one.
    pub fn parse(v: &str) -> Result<Version, Error> {
        if v.is_empty() {
            return Ok(Version(0, 1, 0));
        }
        let parts: Vec<&str> = v.split('.').collect();
        let n = |s: &str| s.parse::<u32>().ok().filter(|_| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()));
        match parts.as_slice() {
            [a, b, c] => match (n(a), n(b), n(c)) {
                (Some(a), Some(b), Some(c)) => Ok(Version(a, b, c)),
                _ => Err(bad(v)),
            },
            _ => Err(bad(v)),
        }
    }
}

fn bad(v: &str) -> Error {
    Error::new(DECODING_FAILURE, format!("cniVersion {v:?}: not a version of the form MAJOR.MINOR.PATCH"))
}

/// Checks that `v` (a configuration's `cniVersion`) is one podwall speaks, and, for
/// commands the specification added later (CHECK in 0.4.0, STATUS and GC in 1.1.0),
/// that the version has them.
pub fn negotiate(v: &str, command: &str) -> Result<Version, Error> {
    let parsed = Version::parse(v)?;
    if !SUPPORTED.contains(&v) {
        return Err(Error::new(INCOMPATIBLE_VERSION, "incompatible CNI versions").details(format!(
            "config is {v:?}, podwall supports [{}]",
            SUPPORTED.map(|s| format!("{s:?}")).join(", ")
        )));
    }
    let needs = match command {
        "CHECK" => Some(Version(0, 4, 0)),
        "STATUS" | "GC" => Some(Version(1, 1, 0)),
        _ => None,
    };
    if let Some(min) = needs.filter(|min| parsed < *min) {
        return Err(Error::new(INCOMPATIBLE_VERSION, format!("config version {v} does not allow {command}"))
            .details(format!("{command} needs cniVersion {}.{}.{} or later", min.0, min.1, min.2)));
    }
    Ok(parsed)
}
