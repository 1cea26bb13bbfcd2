//! Reading manifests at git revisions: a temporary repository with two commits, read
//! through the `git` program (which the tests need, as CI provides it).
use std::path::{Path, PathBuf};
use std::process::Command;

use podwall_load::git::{load_at_revision, AtRevision, Repository};
use podwall_load::Options;

/// A repository in a fresh temporary folder, removed when dropped.
struct Repo(PathBuf);

impl Repo {
    fn new(name: &str) -> Repo {
        let dir = std::env::temp_dir().join(format!("podwall-git-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let r = Repo(dir);
        r.git(&["init", "-q"]);
        r
    }

    fn git(&self, args: &[&str]) -> String {
        let out = Command::new("git")
            .arg("-C")
            .arg(&self.0)
            .args(["-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false"])
            .args(args)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .output()
            .expect("git runs (the tests need git)");
        assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    fn write(&self, path: &str, text: &str) {
        let p = self.0.join(path);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("dirs");
        std::fs::write(p, text).expect("write");
    }

    /// Commits everything; the commit's name.
    fn commit(&self, message: &str) -> String {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "--allow-empty", "-m", message]);
        self.git(&["rev-parse", "HEAD"])
    }

    fn path(&self, p: &str) -> PathBuf {
        self.0.join(p)
    }
}

impl Drop for Repo {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn ns(name: &str) -> String {
    format!("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {name}\n")
}

fn names(input: &podwall_load::Input) -> Vec<String> {
    input.objects.iter().map(|o| format!("{}:{} {}", o.source.file, o.source.line, o.name)).collect()
}

#[test]
fn a_folder_is_read_as_it_was_at_each_revision_named_from_the_repository_top() {
    let r = Repo::new("two");
    r.write("deploy/a.yaml", &ns("a"));
    r.write("deploy/notes.txt", "not a manifest");
    let base = r.commit("one");
    r.write("deploy/a.yaml", &format!("# moved down\n\n{}", ns("a")));
    r.write("deploy/sub/b.yml", &ns("b"));
    r.commit("two");
    // The working tree changes after the commits: a revision does not see it.
    r.write("deploy/c.yaml", &ns("c"));
    std::fs::remove_file(r.path("deploy/a.yaml")).expect("rm");
    let at = |rev: &str| load_at_revision(&[r.path("deploy")], rev, Options::default()).expect("reads");
    let old = at(&base);
    assert_eq!(names(&old.input), ["deploy/a.yaml:1 a"]);
    let new = at("HEAD");
    assert_eq!(names(&new.input), ["deploy/a.yaml:3 a", "deploy/sub/b.yml:1 b"]);
    assert!(new.empty.is_empty());
    // A file named directly is read whatever its name ends with, from a sub-folder too.
    let one = load_at_revision(&[r.path("deploy/notes.txt")], "HEAD", Options::default());
    assert!(one.expect_err("not a manifest").to_string().starts_with("deploy/notes.txt:1: "));
}

#[test]
fn a_path_absent_at_a_revision_is_empty_there_and_said_so() {
    let r = Repo::new("absent");
    r.write("README.md", "x");
    r.write("docs/x.md", "x");
    let base = r.commit("one");
    r.write("new/a.yaml", &ns("a"));
    r.commit("two");
    let old = load_at_revision(&[r.path("new")], &base, Options::default()).expect("reads");
    assert!(old.input.objects.is_empty());
    assert_eq!(old.empty, [(r.path("new").display().to_string(), "does not exist")]);
    let (repo, inner) = Repository::containing(&r.path("docs")).expect("in the repository");
    assert_eq!(inner, "docs");
    let commit = repo.commit(&base).expect("known");
    assert_eq!(repo.at(&commit, &inner).expect("lists"), AtRevision::NoManifests);
    // A path that no longer exists in the working tree still names its place.
    let (_, inner) = Repository::containing(&r.path("gone/deeper/x.yaml")).expect("in the repository");
    assert_eq!(inner, "gone/deeper/x.yaml");
}

#[test]
fn reading_rules_apply_at_a_revision_as_on_disk() {
    let r = Repo::new("rules");
    // A byte-order mark, a key given twice, an invalid object in a walked folder.
    r.write("m/bom.yaml", &format!("\u{feff}{}", ns("bom")));
    r.write("m/dup.yaml", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n  name: b\n");
    r.commit("one");
    let err = load_at_revision(&[r.path("m")], "HEAD", Options::default()).expect_err("a duplicate key");
    assert_eq!((err.location.file.as_str(), err.location.line), ("m/dup.yaml", 5), "{err}");
    let lenient = Options { skip_invalid: true, ..Options::default() };
    let read = load_at_revision(&[r.path("m")], "HEAD", lenient).expect("skips the bad file");
    assert_eq!(names(&read.input), ["m/bom.yaml:1 bom"]);
    assert_eq!(read.input.invalid.len(), 1);
    assert!(read.input.invalid[0].whole_file);
    // Named directly, the same file stops the run even with --skip-invalid.
    assert!(load_at_revision(&[r.path("m/dup.yaml")], "HEAD", lenient).is_err());
}

#[test]
fn bad_revisions_and_folders_outside_a_repository_are_clear_errors() {
    let r = Repo::new("errors");
    r.write("a.yaml", &ns("a"));
    r.commit("one");
    let err = load_at_revision(&[r.path("a.yaml")], "no-such-branch", Options::default()).expect_err("unknown");
    assert!(err.to_string().contains("unknown revision \"no-such-branch\""), "{err}");
    let err = load_at_revision(&[r.path("a.yaml")], "--all", Options::default()).expect_err("an option");
    assert!(err.to_string().contains("not a revision"), "{err}");
    let outside = std::env::temp_dir().join(format!("podwall-git-outside-{}", std::process::id()));
    std::fs::create_dir_all(&outside).expect("dir");
    let res = load_at_revision(&[outside.as_path()], "HEAD", Options::default());
    std::fs::remove_dir_all(&outside).expect("clean");
    let err = res.expect_err("no repository");
    assert!(err.to_string().contains("not inside a git repository"), "{err}");
    let err = load_at_revision(&[Path::new("-")], "HEAD", Options::default()).expect_err("stdin");
    assert!(err.to_string().contains("standard input"), "{err}");
}
