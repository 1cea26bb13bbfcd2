//! Levels and policy versions, parsed as the admission plugin parses its labels.
use std::fmt;

/// A Pod Security Standards level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Level {
    /// No checks.
    Privileged,
    /// The baseline checks.
    Baseline,
    /// The restricted checks and the baseline checks they do not replace.
    Restricted,
}

impl Level {
    /// The three level names, in the order upstream lists them.
    pub const NAMES: [&'static str; 3] = ["privileged", "baseline", "restricted"];

    /// Parses a level name; the names are exact and case-sensitive.
    pub fn parse(s: &str) -> Result<Level, String> {
        match s {
            "privileged" => Ok(Level::Privileged),
            "baseline" => Ok(Level::Baseline),
            "restricted" => Ok(Level::Restricted),
            _ => Err(format!("must be one of {}", Level::NAMES.join(", "))),
        }
    }

    /// The level's name.
    pub fn as_str(self) -> &'static str {
        Level::NAMES[self as usize]
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A policy version: `v1.N` or `latest`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Version {
    /// `v1.N`.
    V1(u32),
    /// `latest`: the newest revision of every check.
    Latest,
}

/// The newest policy version any check has a revision for; `latest`, and every
/// version above it, is judged as this one.
pub const NEWEST_MINOR: u32 = 37;

impl Version {
    /// Parses `latest` or `v1.N` (N without leading zeros, as upstream's
    /// `^v1\.([0-9]|[1-9][0-9]*)$`).
    pub fn parse(s: &str) -> Result<Version, String> {
        const WRONG: &str = "must be \"latest\" or \"v1.x\"";
        if s == "latest" {
            return Ok(Version::Latest);
        }
        let digits = s.strip_prefix("v1.").ok_or(WRONG)?;
        let well_formed = !digits.is_empty()
            && digits.bytes().all(|b| b.is_ascii_digit())
            && (digits.len() == 1 || !digits.starts_with('0'));
        if !well_formed {
            return Err(WRONG.into());
        }
        // A number too large for the plugin's integer is refused by it too.
        digits.parse::<u32>().map(Version::V1).map_err(|_| WRONG.into())
    }

    /// The minor version whose revisions judge a pod at this version.
    pub fn effective_minor(self) -> u32 {
        match self {
            Version::V1(n) => n.min(NEWEST_MINOR),
            Version::Latest => NEWEST_MINOR,
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Version::V1(n) => write!(f, "v1.{n}"),
            Version::Latest => f.write_str("latest"),
        }
    }
}

/// A level at a version, as in `restricted:v1.30`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LevelVersion {
    /// The level.
    pub level: Level,
    /// The version.
    pub version: Version,
}

impl LevelVersion {
    /// A level at a version.
    pub fn new(level: Level, version: Version) -> Self {
        LevelVersion { level, version }
    }

    /// Upstream's `Equivalent`: both privileged, or the same level at the same version
    /// (as written: `v1.30` and `latest` differ even when they judge alike).
    pub fn equivalent(&self, other: &LevelVersion) -> bool {
        (self.level == Level::Privileged && other.level == Level::Privileged) || self == other
    }

    /// Whether two judge every pod alike: both privileged, or the same level at
    /// versions whose revisions are the same.
    pub fn judges_like(&self, other: &LevelVersion) -> bool {
        (self.level == Level::Privileged && other.level == Level::Privileged)
            || (self.level == other.level && self.version.effective_minor() == other.version.effective_minor())
    }
}

impl fmt::Display for LevelVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.level, self.version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_minor_is_written_without_leading_zeros() {
        assert_eq!(Version::parse("v1.0"), Ok(Version::V1(0)));
        assert_eq!(Version::parse("v1.30"), Ok(Version::V1(30)));
        for bad in ["v1.05", "v1.", "1.30", "v2.0", "V1.30", "v1.30.1", "v1.-1", "Latest", "", "v1.99999999999"] {
            assert!(Version::parse(bad).is_err(), "{bad} must be refused");
        }
    }

    #[test]
    fn versions_past_the_newest_are_judged_as_latest() {
        assert_eq!(Version::V1(99).effective_minor(), NEWEST_MINOR);
        assert_eq!(Version::Latest.effective_minor(), NEWEST_MINOR);
        assert_eq!(Version::V1(12).effective_minor(), 12);
    }

    #[test]
    fn levels_are_case_sensitive() {
        assert_eq!(Level::parse("baseline"), Ok(Level::Baseline));
        assert!(Level::parse("Baseline").is_err());
        assert_eq!(Level::parse("x").unwrap_err(), "must be one of privileged, baseline, restricted");
    }
}
