//! Findings added and fixed between two reports (`podwall diff`).
//!
//! A finding is matched across the two by its identity, the one its SARIF fingerprint
//! is made from ([`Identity::fingerprint`]): its ID, the object it is about and its
//! message. Between two states, every place a file of the input is named (`file:line`,
//! or the file alone) is first reduced to the file's name inside the folder it was found
//! in. Line numbers
//! never count, so moving an object inside its file, or the file to another folder
//! given to podwall, keeps its findings; a finding that is reported twice on one side
//! and once on the other counts once as added (or fixed).
use std::collections::BTreeMap;

use podwall_findings::{Finding, Severity};

/// What identifies a finding across two states of the input.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Identity {
    /// The check's ID.
    pub id: &'static str,
    /// The object, in words (files named as in `message`).
    pub about: String,
    /// The message without line numbers and with files named from their folders.
    pub message: String,
}

impl Identity {
    /// A finding's identity as SARIF fingerprints it: every file of the input (`files`,
    /// as read) keeps its name, and the line number after it is dropped, so that a
    /// message naming another place (`also at a.yaml:12`) keeps its fingerprint when
    /// lines move.
    pub fn of(f: &Finding, files: &Files) -> Self {
        files.identity(f)
    }

    /// `podwall/v2` of SARIF's `partialFingerprints`: 64-bit FNV-1a of `ID|object|message`,
    /// the same on every machine and run. (`podwall/v1` kept the line numbers of the
    /// files a message named.)
    pub fn fingerprint(&self) -> String {
        let mut h: u64 = 0xcbf29ce484222325;
        for b in [self.id, "|", &self.about, "|", &self.message].iter().flat_map(|s| s.bytes()) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x100000001b3);
        }
        format!("{h:016x}")
    }
}

/// How one side names its files: each file as written in findings → the name it has
/// in an identity.
#[derive(Clone, Debug, Default)]
pub struct Files {
    /// Longest first, so that no name is replaced inside a longer one.
    names: Vec<(String, String)>,
}

impl Files {
    /// The files of one side (as read: `Input::files`) and the roots they were found
    /// under (the paths given to podwall). A file below a root folder is named from that
    /// folder; other files keep the name they were read under.
    pub fn new(files: &[String], roots: &[String]) -> Self {
        let mut names: Vec<(String, String)> = files
            .iter()
            .map(|f| {
                let inner = roots
                    .iter()
                    .filter_map(|r| {
                        let r = r.trim_end_matches('/');
                        f.strip_prefix(r).and_then(|rest| rest.strip_prefix('/')).filter(|_| !r.is_empty())
                    })
                    .min_by_key(|rest| rest.len());
                (f.clone(), inner.unwrap_or(f).to_string())
            })
            .collect();
        names.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
        names.dedup();
        Files { names }
    }

    /// The files of one side named as they were read: only the line numbers after them
    /// are dropped (SARIF's fingerprints).
    pub fn as_read(files: &[String]) -> Self {
        Files::new(files, &[])
    }

    /// `text` with every `FILE:LINE` and `FILE` of these files as its identity's name.
    fn key(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        'scan: while !rest.is_empty() {
            // A file's name starts a word: `xa.yaml` does not hold `a.yaml`.
            let boundary = out.chars().next_back().is_none_or(|c| !(c.is_alphanumeric() || "/._-".contains(c)));
            for (file, name) in self.names.iter().filter(|_| boundary) {
                if let Some(after) = rest.strip_prefix(file.as_str()) {
                    out.push_str(name);
                    let digits =
                        after.strip_prefix(':').map_or(0, |a| a.bytes().take_while(u8::is_ascii_digit).count());
                    rest = if digits > 0 { &after[1 + digits..] } else { after };
                    continue 'scan;
                }
            }
            let c = rest.chars().next().unwrap_or_default();
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
        out
    }

    /// A finding's identity on this side.
    pub fn identity(&self, f: &Finding) -> Identity {
        Identity { id: f.id, about: self.key(&f.about().unwrap_or_default()), message: self.key(&f.message) }
    }
}

/// What changed between the findings of two states.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FindingChanges {
    /// Only in the new state (as the new state reports them), worst first.
    pub added: Vec<Finding>,
    /// Only in the old state (as the old state reported them), worst first.
    pub fixed: Vec<Finding>,
}

impl FindingChanges {
    /// How many added findings are at or above `severity`.
    pub fn added_at_least(&self, severity: Severity) -> usize {
        self.added.iter().filter(|f| f.severity >= severity).count()
    }
}

/// The findings of `new` that `old` does not have, and the reverse, each side's files
/// named by its own [`Files`]. Both lists keep their report's order.
pub fn compare(old: &[Finding], old_files: &Files, new: &[Finding], new_files: &Files) -> FindingChanges {
    let count = |list: &[Finding], files: &Files| {
        let mut m: BTreeMap<Identity, usize> = BTreeMap::new();
        for f in list {
            *m.entry(files.identity(f)).or_default() += 1;
        }
        m
    };
    let (mut in_old, mut in_new) = (count(old, old_files), count(new, new_files));
    // Each finding of one side consumes one of the same identity on the other.
    let only = |list: &[Finding], files: &Files, other: &mut BTreeMap<Identity, usize>| -> Vec<Finding> {
        list.iter()
            .filter(|f| match other.get_mut(&files.identity(f)) {
                Some(n) if *n > 0 => {
                    *n -= 1;
                    false
                }
                _ => true,
            })
            .cloned()
            .collect()
    };
    let added = only(new, new_files, &mut in_old);
    let fixed = only(old, old_files, &mut in_new);
    FindingChanges { added, fixed }
}

#[cfg(test)]
mod tests {
    use super::*;
    use podwall_findings::Origin;

    fn dup(file: &str, line: usize, also: &str) -> Finding {
        Finding::new("NM001", Severity::Medium, format!("given 2 times; also at {also}"))
            .subject("NetworkPolicy shop/web")
            .origin(Origin::file(file, line))
    }

    #[test]
    fn moving_a_findings_lines_keeps_it_the_same_finding() {
        let files = Files::new(&["m/a.yaml".into(), "m/b.yaml".into()], &["m".into()]);
        let old = [dup("m/b.yaml", 3, "m/a.yaml:12"), Finding::new("NP004", Severity::Low, "selects nothing")];
        let new = [dup("m/b.yaml", 40, "m/a.yaml:1"), Finding::new("NP004", Severity::Low, "selects nothing")];
        let c = compare(&old, &files, &new, &files);
        assert_eq!(c, FindingChanges::default());
    }

    #[test]
    fn the_same_files_under_other_folders_match() {
        // `diff -f main/ --to pr/`: a file's findings are matched by its name inside its folder.
        let old_files = Files::new(&["main/a.yaml".into()], &["main/".into()]);
        let new_files = Files::new(&["pr/a.yaml".into()], &["pr".into()]);
        let c = compare(
            &[dup("main/a.yaml", 3, "main/a.yaml:9")],
            &old_files,
            &[dup("pr/a.yaml", 5, "pr/a.yaml:1")],
            &new_files,
        );
        assert_eq!(c, FindingChanges::default());
    }

    #[test]
    fn a_finding_on_another_object_or_with_another_message_is_new() {
        let files = Files::default();
        let old = [Finding::new("NP004", Severity::Low, "selects nothing").subject("NetworkPolicy a/x")];
        let new = [
            Finding::new("NP004", Severity::Low, "selects nothing").subject("NetworkPolicy a/y"),
            Finding::new("NP003", Severity::High, "cannot reach DNS (a/p)"),
        ];
        let c = compare(&old, &files, &new, &files);
        assert_eq!(c.added.len(), 2);
        assert_eq!(c.fixed, old);
        assert_eq!(c.added_at_least(Severity::High), 1);
        assert_eq!(c.added_at_least(Severity::Low), 2);
    }

    #[test]
    fn a_finding_reported_once_more_is_one_added() {
        let f = Finding::new("PL005", Severity::Low, "no livenessProbe").subject("Pod a/p");
        let c = compare(std::slice::from_ref(&f), &Files::default(), &[f.clone(), f.clone()], &Files::default());
        assert_eq!((c.added.len(), c.fixed.len()), (1, 0));
    }

    #[test]
    fn the_identity_without_renames_is_what_sarif_fingerprints() {
        let files = Files::as_read(&["m/a.yaml".into(), "m/b.yaml".into()]);
        let f = dup("m/b.yaml", 3, "m/a.yaml:12");
        let i = Identity::of(&f, &files);
        // The file keeps its name as read; the line after it is no part of the identity.
        assert_eq!(i.message, "given 2 times; also at m/a.yaml");
        assert_eq!(i.about, "NetworkPolicy shop/web");
        assert_eq!(i.fingerprint(), fnv_of("NM001|NetworkPolicy shop/web|given 2 times; also at m/a.yaml"));
        // Moving either copy (the finding's own line, or the other place it names) keeps it.
        assert_eq!(Identity::of(&dup("m/b.yaml", 90, "m/a.yaml:40"), &files).fingerprint(), i.fingerprint());
        // Another file is another finding.
        assert_ne!(Identity::of(&dup("m/b.yaml", 3, "m/b.yaml:12"), &files).fingerprint(), i.fingerprint());
        // A file not of the input is text like any other.
        assert_eq!(Identity::of(&dup("m/b.yaml", 3, "z.yaml:12"), &files).message, "given 2 times; also at z.yaml:12");
        let none = Finding::new("NP003", Severity::High, "x");
        assert_eq!(Identity::of(&none, &files).fingerprint(), fnv_of("NP003||x"));
    }

    /// FNV-1a written out again, from its definition.
    fn fnv_of(text: &str) -> String {
        let mut h = 14695981039346656037u64;
        for b in text.bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(1099511628211);
        }
        format!("{h:016x}")
    }

    #[test]
    fn only_line_numbers_after_a_file_are_dropped() {
        let files = Files::new(&["a.yaml".into()], &[]);
        assert_eq!(files.key("at a.yaml:12, port 8080: fd00::1"), "at a.yaml, port 8080: fd00::1");
        let moved = Files::new(&["m/a.yaml".into()], &["m".into()]);
        assert_eq!(moved.key("(m/a.yaml:3) xm/a.yaml:4"), "(a.yaml) xm/a.yaml:4");
    }
}
