//! The lab's command line: the contract scripts rely on (`lab up`, `lab probe --format
//! json`, `lab down`), cleanup after a crash, bad input, and the host left as it was.
//! Needs root and nft: skips without them unless PODWALL_REQUIRE_PRIVILEGED_TESTS=1.
use std::path::Path;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_podwall");

fn examples() -> String {
    concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples").to_string()
}

fn privileged(test: &str) -> bool {
    podwall_lab::privileged_test(test)
}

fn podwall(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().expect("runs")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// Nothing of lab `name` is left: no namespace, no state, no responder.
fn assert_gone(name: &str) {
    let left: Vec<String> = std::fs::read_dir("/run/netns")
        .map(|d| d.filter_map(|e| e.ok()?.file_name().into_string().ok()).collect())
        .unwrap_or_default();
    let prefix = format!("pw.{name}.");
    let ours: Vec<&String> = left.iter().filter(|n| n.starts_with(&prefix)).collect();
    assert!(ours.is_empty(), "lab {name} left namespaces {ours:?}");
    assert!(!Path::new(&format!("/run/podwall/labs/{name}")).exists(), "lab {name} left its state folder");
    let ps = Command::new("ps").args(["-eo", "args"]).output().expect("ps");
    let needle = format!("lab serve --name {name}");
    assert!(
        !String::from_utf8_lossy(&ps.stdout).lines().any(|l| l.trim_end().ends_with(&needle)),
        "lab {name} left its responder"
    );
}

fn host_state() -> (String, String) {
    let rules = Command::new("nft").args(["list", "ruleset"]).output().expect("nft");
    let links = Command::new("ip").args(["-o", "link", "show"]).output().expect("ip");
    (String::from_utf8_lossy(&rules.stdout).into_owned(), String::from_utf8_lossy(&links.stdout).into_owned())
}

#[test]
fn up_probe_down_prints_matrix_json_shape_and_leaves_the_host_as_it_was() {
    if !privileged("up_probe_down_prints_matrix_json_shape_and_leaves_the_host_as_it_was") {
        return;
    }
    let foreign = format!("pwforeign{}", std::process::id());
    let add = Command::new("nft").args(["add", "table", "inet", &foreign]).status().expect("nft");
    assert!(add.success());
    let before = host_state();
    let name = "c-contract";
    let up = podwall(&["lab", "up", "-f", &examples(), "--name", name, "--force"]);
    assert!(up.status.success(), "{}", text(&up));
    let probe = podwall(&["lab", "probe", "--name", name, "--port", "8080", "--protocol", "TCP", "--format", "json"]);
    assert!(probe.status.success(), "{}", text(&probe));
    let model = podwall(&["matrix", "-f", &examples(), "--port", "8080", "-o", "json"]);
    let got: serde_json::Value = serde_json::from_slice(&probe.stdout).expect("probe prints JSON");
    let want: serde_json::Value = serde_json::from_slice(&model.stdout).expect("matrix prints JSON");
    let keys = |v: &serde_json::Value| v.as_object().map(|o| o.keys().cloned().collect::<Vec<_>>());
    assert_eq!(keys(&got), keys(&want), "same fields as `matrix -o json`");
    assert_eq!(got["port"], want["port"]);
    assert_eq!(got["protocol"], want["protocol"]);
    assert_eq!(got["pods"], want["pods"], "the example cluster has no host-network pod: same pods");
    let show = podwall(&["dataplane", "show", "--name", name]);
    assert!(show.status.success() && text(&show).contains("table inet podwall"), "{}", text(&show));
    let again = podwall(&["lab", "up", "-f", &examples(), "--name", name]);
    assert_eq!(again.status.code(), Some(2), "a second lab of one name needs --force: {}", text(&again));
    let down = podwall(&["lab", "down", "--name", name]);
    assert!(down.status.success(), "{}", text(&down));
    assert_gone(name);
    let after = host_state();
    let _ = Command::new("nft").args(["delete", "table", "inet", &foreign]).status();
    assert!(after.0.contains(&foreign), "a foreign host table survives");
    assert_eq!(before, after, "the host's ruleset and links are unchanged");
}

#[test]
fn up_killed_midway_is_cleaned_by_force_and_by_down() {
    if !privileged("up_killed_midway_is_cleaned_by_force_and_by_down") {
        return;
    }
    for (k, delay) in [(0, 60u64), (1, 150)] {
        let name = format!("c-crash{k}");
        let mut child =
            Command::new(BIN).args(["lab", "up", "-f", &examples(), "--name", &name]).spawn().expect("spawn");
        std::thread::sleep(std::time::Duration::from_millis(delay));
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        if k == 0 {
            let up = podwall(&["lab", "up", "-f", &examples(), "--name", &name, "--force"]);
            assert!(up.status.success(), "--force replaces what a killed run left: {}", text(&up));
        }
        let down = podwall(&["lab", "down", "--name", &name]);
        assert!(down.status.success(), "{}", text(&down));
        assert_gone(&name);
    }
}

fn write(dir: &Path, file: &str, body: &str) -> String {
    std::fs::create_dir_all(dir).expect("dir");
    let p = dir.join(file);
    std::fs::write(&p, body).expect("write");
    p.display().to_string()
}

fn pod(name: &str, ip: &str, port: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: default}}\nspec:\n  containers:\n    - name: c\n      image: i\n      ports: [{port}]\nstatus: {{podIP: {ip}}}\n---\n"
    )
}

#[test]
fn bad_input_exits_2_naming_the_object_and_leaves_nothing() {
    if !privileged("bad_input_exits_2_naming_the_object_and_leaves_nothing") {
        return;
    }
    let dir = std::env::temp_dir().join(format!("podwall-lab-bad-{}", std::process::id()));
    let tcp = "{containerPort: 80, protocol: TCP}";
    let same = write(&dir, "same.yaml", &(pod("one", "10.9.0.1", tcp) + &pod("two", "10.9.0.1", tcp)));
    let sctp = write(&dir, "sctp.yaml", &pod("assoc", "10.9.0.2", "{containerPort: 3868, protocol: SCTP}"));
    let cases: [(&[&str], &[&str]); 3] = [
        (&["lab", "up", "-f", &same, "--name", "c-bad"], &["default/one", "default/two", "10.9.0.1"]),
        (&["lab", "up", "-f", &sctp, "--name", "c-bad"], &["default/assoc", "SCTP/3868"]),
        (&["lab", "up", "-f", &same, "--name", "a-name-much-too-long-for-a-lab"], &["a-name-much-too-long-for-a-lab"]),
    ];
    for (args, words) in cases {
        let o = podwall(args);
        let t = text(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {t}");
        for w in words {
            assert!(t.contains(w), "{args:?}: the message names {w}: {t}");
        }
    }
    assert_gone("c-bad");
    let o = podwall(&["lab", "probe", "--name", "c-none", "--port", "80"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("c-none"), "{}", text(&o));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn without_root_the_lab_refuses_with_exit_2() {
    if !privileged("without_root_the_lab_refuses_with_exit_2") {
        return;
    }
    let o = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", BIN, "lab", "down", "--name", "c-noroot"])
        .output()
        .expect("setpriv");
    let t = text(&o);
    if t.contains("Permission denied") && o.status.code() != Some(2) {
        eprintln!("SKIPPED without_root_the_lab_refuses_with_exit_2: the test binary is not executable by nobody");
        return;
    }
    assert_eq!(o.status.code(), Some(2), "{t}");
    assert!(t.contains("needs root"), "{t}");
}

/// The `allowed` grid of a `matrix -o json` or `lab probe --format json` output.
fn grid(o: &Output) -> (Vec<String>, Vec<Vec<bool>>) {
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
    let pods = v["pods"].as_array().expect("pods").iter().map(|p| p.as_str().expect("name").to_string()).collect();
    let allowed = serde_json::from_value(v["allowed"].clone()).expect("allowed grid");
    (pods, allowed)
}

#[test]
fn apply_replaces_objects_by_name_and_the_probes_follow_the_new_matrix() {
    if !privileged("apply_replaces_objects_by_name_and_the_probes_follow_the_new_matrix") {
        return;
    }
    let dir = std::env::temp_dir().join(format!("podwall-lab-apply-{}", std::process::id()));
    // The frontend's egress to the API on 8080 moves to 9999.
    let changed = write(
        &dir,
        "frontend.yaml",
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: frontend-egress, namespace: shop}\n\
         spec:\n  podSelector: {matchLabels: {app: frontend}}\n  policyTypes: [Egress]\n  \
         egress: [{to: [{podSelector: {matchLabels: {app: api}}}], ports: [{protocol: TCP, port: 9999}]}]\n",
    );
    let name = "c-apply";
    let up = podwall(&["lab", "up", "-f", &examples(), "--name", name, "--force"]);
    assert!(up.status.success(), "{}", text(&up));
    let probe = || podwall(&["lab", "probe", "--name", name, "--port", "8080", "--format", "json"]);
    let (pods, before) = grid(&probe());
    let apply = podwall(&["lab", "apply", "--name", name, "-f", &changed, "--established", "flush"]);
    let said = text(&apply);
    assert!(apply.status.success(), "{said}");
    assert!(said.contains("1 object(s) replaced") && said.contains("kept untouched"), "{said}");
    assert!(!said.contains("NM001"), "the replacement is the point, not a duplicate to warn about: {said}");
    let (_, after) = grid(&probe());
    let model = podwall(&["matrix", "-f", &examples(), "-f", &changed, "--port", "8080", "-o", "json"]);
    let (model_pods, want) = grid(&model);
    assert_eq!(pods, model_pods);
    let at = |name: &str| pods.iter().position(|p| p == name).expect("pod");
    let (frontend, api) = (at("shop/frontend"), at("shop/api"));
    assert!(before[frontend][api], "the frontend reached the API on 8080 before");
    assert!(!after[frontend][api], "and no longer does");
    // A template has no address in `matrix` (the lab gives it one): compare the pods.
    let template = |i: usize| pods[i].matches('/').count() == 2;
    for i in (0..pods.len()).filter(|&i| !template(i)) {
        for j in (0..pods.len()).filter(|&j| !template(j)) {
            assert_eq!(after[i][j], want[i][j], "{} -> {} after apply", pods[i], pods[j]);
        }
    }
    let down = podwall(&["lab", "down", "--name", name]);
    assert!(down.status.success(), "{}", text(&down));
    assert_gone(name);
    let _ = std::fs::remove_dir_all(&dir);
}
