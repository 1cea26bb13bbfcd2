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
    assert!(!Path::new(&format!("/run/podwall/labs/{name}.lock")).exists(), "lab {name} left its lock file");
    assert_eq!(responders(name), 0, "lab {name} left its responder");
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

/// Runs every command line of `runs` as its own process, all started before any is
/// waited for, and fails naming each that did not succeed.
fn all_at_once(runs: &[Vec<String>]) {
    let children: Vec<_> = runs
        .iter()
        .map(|args| {
            let c = Command::new(BIN)
                .args(args)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("spawn");
            (args, c)
        })
        .collect();
    let failed: Vec<String> = children
        .into_iter()
        .filter_map(|(args, c)| {
            let o = c.wait_with_output().expect("wait");
            (!o.status.success()).then(|| format!("podwall {}: {:?}: {}", args.join(" "), o.status, text(&o)))
        })
        .collect();
    assert!(failed.is_empty(), "commands run side by side failed:\n{}", failed.join("\n"));
}

fn args(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| w.to_string()).collect()
}

/// Takes the labs named down when dropped, also when a test fails midway.
struct DownOnDrop(Vec<&'static str>);

impl Drop for DownOnDrop {
    fn drop(&mut self) {
        for n in &self.0 {
            let _ = Command::new(BIN).args(["lab", "down", "--name", n]).output();
        }
    }
}

/// Lab `name` is whole: its namespaces and state, its node's table, its responder.
fn assert_running(name: &str) {
    assert_eq!(responders(name), 1, "lab {name}: its one responder runs");
    let state = podwall_lab::load(name).unwrap_or_else(|e| panic!("lab {name}: {e}"));
    let mut want: Vec<String> = state.pods.iter().map(|p| p.netns.clone()).collect();
    want.push(state.node.clone());
    want.sort();
    assert_eq!(podwall_lab::netns::list(&podwall_lab::netns_prefix(name)), want, "lab {name}: its namespaces");
    let show = podwall(&["dataplane", "show", "--name", name]);
    assert!(show.status.success() && text(&show).contains("table inet podwall"), "lab {name}: {}", text(&show));
    let probe = podwall(&["lab", "probe", "--name", name, "--port", "8080", "--format", "json"]);
    assert!(probe.status.success(), "lab {name}: {}", text(&probe));
    let (_, reached) = grid(&probe);
    assert!(reached.iter().flatten().any(|r| *r), "lab {name}: some pod answers on 8080");
}

#[test]
fn labs_of_different_names_go_down_at_once_and_one_is_replaced_while_another_goes() {
    if !privileged("labs_of_different_names_go_down_at_once_and_one_is_replaced_while_another_goes") {
        return;
    }
    let ex = examples();
    // Each name starts the next: only the dot after a name tells their namespaces apart.
    let names = ["c-side", "c-side-b", "c-side-b-c"];
    let before = host_state();
    let _cleanup = DownOnDrop(vec!["c-side", "c-side-b", "c-side-b-c", "c-side-b-c-d"]);
    // A lab that stands by, with a name each of the others starts: nothing may touch it.
    let bystander = "c-side-b-c-d";
    let up = podwall(&["lab", "up", "-f", &ex, "--name", bystander, "--force"]);
    assert!(up.status.success(), "{}", text(&up));
    for round in 0..2 {
        let ups: Vec<Vec<String>> =
            names.iter().map(|n| args(&["lab", "up", "-f", &ex, "--name", n, "--force"])).collect();
        all_at_once(&ups);
        for n in names {
            assert_running(n);
        }
        if round == 0 {
            all_at_once(&names.iter().map(|n| args(&["lab", "down", "--name", n])).collect::<Vec<_>>());
            for n in names {
                assert_gone(n);
            }
        } else {
            // The middle one is replaced while the other two go down.
            all_at_once(&[
                args(&["lab", "down", "--name", names[0]]),
                args(&["lab", "up", "-f", &ex, "--name", names[1], "--force"]),
                args(&["lab", "down", "--name", names[2]]),
            ]);
            assert_gone(names[0]);
            assert_gone(names[2]);
            assert_running(names[1]);
            let down = podwall(&["lab", "down", "--name", names[1]]);
            assert!(down.status.success(), "{}", text(&down));
            assert_gone(names[1]);
        }
        assert_running(bystander);
    }
    let down = podwall(&["lab", "down", "--name", bystander]);
    assert!(down.status.success(), "{}", text(&down));
    assert_gone(bystander);
    assert_eq!(before.1, host_state().1, "the host's links are unchanged");
}

/// The responder processes of lab `name` that run.
fn responders(name: &str) -> usize {
    let ps = Command::new("ps").args(["-eo", "args"]).output().expect("ps");
    let tail = format!(" --name {name}");
    String::from_utf8_lossy(&ps.stdout)
        .lines()
        .filter(|l| l.contains(" lab serve ") && l.trim_end().ends_with(&tail))
        .count()
}

#[test]
fn up_force_and_down_of_one_name_at_once_leave_the_lab_whole_or_gone_never_a_stray_responder() {
    if !privileged("up_force_and_down_of_one_name_at_once_leave_the_lab_whole_or_gone_never_a_stray_responder") {
        return;
    }
    let ex = examples();
    let name = "c-one-name";
    let _cleanup = DownOnDrop(vec![name]);
    for round in 0..6 {
        let up = podwall(&["lab", "up", "-f", &ex, "--name", name, "--force"]);
        assert!(up.status.success(), "{}", text(&up));
        // Both orders are fine; interleaving is not.
        let (first, second) =
            (args(&["lab", "up", "-f", &ex, "--name", name, "--force"]), args(&["lab", "down", "--name", name]));
        all_at_once(&if round % 2 == 0 { [first, second] } else { [second, first] });
        let n = responders(name);
        if Path::new(&format!("/run/podwall/labs/{name}")).exists() {
            assert_eq!(n, 1, "round {round}: the lab that is up has one responder");
            assert_running(name);
        } else {
            assert_eq!(n, 0, "round {round}: no lab, yet {n} responder(s) run for it");
            assert_gone(name);
        }
    }
    let down = podwall(&["lab", "down", "--name", name]);
    assert!(down.status.success(), "{}", text(&down));
    assert_gone(name);
}

#[test]
fn a_responder_holds_the_lab_lock_until_ready_so_down_finds_it_after_its_starter_died() {
    if !privileged("a_responder_holds_the_lab_lock_until_ready_so_down_finds_it_after_its_starter_died") {
        return;
    }
    let name = "c-starter";
    let _cleanup = DownOnDrop(vec![name]);
    for round in 0..8 {
        let up = podwall(&["lab", "up", "-f", &examples(), "--name", name, "--force"]);
        assert!(up.status.success(), "{}", text(&up));
        podwall_lab::serve::stop_process(name);
        // A `lab up` that dies right after starting its responder: the starter lets go
        // of the lock at once, and `lab down` runs while the responder is still starting.
        let held = podwall_lab::lock(name).expect("lock");
        let mut child = podwall_lab::serve::start_process(Path::new(BIN), &held).expect("responder");
        drop(held);
        let down = podwall(&["lab", "down", "--name", name]);
        assert!(down.status.success(), "round {round}: {}", text(&down));
        let _ = child.wait();
        assert_gone(name);
    }
}

#[test]
fn down_does_not_wait_for_its_killed_responder_to_be_reaped() {
    if !privileged("down_does_not_wait_for_its_killed_responder_to_be_reaped") {
        return;
    }
    let name = "c-reap";
    let _cleanup = DownOnDrop(vec![name]);
    let up = podwall(&["lab", "up", "-f", &examples(), "--name", name, "--force"]);
    assert!(up.status.success(), "{}", text(&up));
    podwall_lab::serve::stop_process(name);
    // A responder whose parent (this test) reaps it only after `down`: killed, it stays a
    // zombie, with its sockets closed.
    let held = podwall_lab::lock(name).expect("lock");
    let mut child = podwall_lab::serve::start_process(Path::new(BIN), &held).expect("responder");
    drop(held);
    let ready = Path::new("/run/podwall/labs").join(name).join("serve.ready");
    let t = std::time::Instant::now();
    while !ready.exists() && t.elapsed().as_secs() < 20 {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let t = std::time::Instant::now();
    let down = podwall(&["lab", "down", "--name", name]);
    let took = t.elapsed();
    let _ = child.wait();
    assert!(down.status.success(), "{}", text(&down));
    assert_gone(name);
    assert!(took.as_secs_f64() < 1.0, "lab down took {took:?} waiting for a zombie");
}
