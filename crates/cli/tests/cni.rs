//! `podwall cni` run as a container runtime runs it: a separate process per call, `CNI_*`
//! variables, the configuration on standard input, real network namespaces, and chained
//! with Debian's reference plugins (containernetworking-plugins, in /usr/lib/cni). The
//! plugins run inside a test "node" namespace, so nothing on the host changes; names carry
//! the process id so that tests run side by side.
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use podwall_cni::runtime::{Attachment, Runtime};
use serde_json::{json, Value};

const REFERENCE_PLUGINS: &str = "/usr/lib/cni";
static NEXT: AtomicUsize = AtomicUsize::new(0);

/// A node namespace, pod namespaces, a CNI_PATH with podwall in it, and state folders;
/// all removed on drop.
struct Node {
    tag: String,
    ns: String,
    pods: Vec<String>,
    dir: PathBuf,
    runtime: Runtime,
}

fn ip(args: &[&str]) -> String {
    let out = Command::new("ip").args(args).output().expect("ip");
    assert!(out.status.success(), "ip {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn in_ns(ns: &str, cmd: &[&str]) -> std::process::Output {
    Command::new("ip").args(["netns", "exec", ns]).args(cmd).output().expect("ip netns exec")
}

impl Node {
    fn new(test: &str) -> Option<Node> {
        if !podwall_lab::privileged_test(test) {
            return None;
        }
        let tag = format!("pwc{}x{}", std::process::id(), NEXT.fetch_add(1, Ordering::SeqCst));
        let ns = format!("{tag}n");
        ip(&["netns", "add", &ns]);
        ip(&["-n", &ns, "link", "set", "lo", "up"]);
        let dir = std::env::temp_dir().join(&tag);
        let bin = dir.join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_podwall"), bin.join("podwall")).unwrap();
        let netns = Some(std::fs::File::open(format!("/run/netns/{ns}")).unwrap());
        let runtime = Runtime { path: vec![bin, PathBuf::from(REFERENCE_PLUGINS)], netns };
        Some(Node { tag, ns, pods: Vec::new(), dir, runtime })
    }

    fn pod(&mut self) -> Attachment {
        let name = format!("{}p{}", self.tag, self.pods.len());
        ip(&["netns", "add", &name]);
        self.pods.push(name.clone());
        Attachment {
            container_id: format!("{name}-sandbox"),
            netns: format!("/run/netns/{name}"),
            ifname: "eth0".into(),
            args: format!("IgnoreUnknown=1;K8S_POD_NAMESPACE=test;K8S_POD_NAME={name}"),
            capabilities: Default::default(),
        }
    }

    fn state(&self) -> PathBuf {
        self.dir.join("state")
    }

    fn ipam_dir(&self) -> PathBuf {
        self.dir.join("ipam")
    }

    /// A conflist of podwall alone, with its own IPAM over `subnet`.
    fn conflist(&self, version: &str, subnet: &str) -> Value {
        json!({
            "cniVersion": version,
            "name": "podnet",
            "plugins": [{
                "type": "podwall",
                "stateDir": self.state(),
                "ipam": {"type": "podwall", "dataDir": self.ipam_dir(), "ranges": [[{"subnet": subnet}]]}
            }]
        })
    }

    /// Links in the node besides the loopback.
    fn node_links(&self) -> Vec<String> {
        ip(&["-n", &self.ns, "-o", "link", "show"])
            .lines()
            .filter(|l| !l.contains(": lo:"))
            .map(str::to_string)
            .collect()
    }

    fn node_routes(&self) -> String {
        ip(&["-n", &self.ns, "route", "show"])
    }

    /// The table's interface and source elements.
    fn nft_elements(&self) -> String {
        let out = in_ns(&self.ns, &["nft", "list", "table", "inet", "podwall"]);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.lines().filter(|l| l.contains("\"pw")).map(str::to_string).collect::<Vec<_>>().join("\n")
    }

    /// Address files in an IPAM folder (host-local's layout: files named by address).
    fn ipam_entries(dir: &Path) -> Vec<String> {
        let Ok(d) = std::fs::read_dir(dir.join("podnet")) else { return Vec::new() };
        d.flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| n.parse::<std::net::IpAddr>().is_ok())
            .collect()
    }

    fn records(&self) -> usize {
        std::fs::read_dir(self.state().join("podnet")).map(|d| d.count()).unwrap_or(0)
    }

    fn assert_nothing_left(&self, ipam: &Path) {
        assert!(self.node_links().is_empty(), "links left in the node: {:?}", self.node_links());
        assert!(self.node_routes().trim().is_empty(), "routes left in the node: {}", self.node_routes());
        assert!(self.nft_elements().is_empty(), "table elements left: {}", self.nft_elements());
        assert!(Node::ipam_entries(ipam).is_empty(), "IPAM entries left: {:?}", Node::ipam_entries(ipam));
        assert_eq!(self.records(), 0, "attachment records left");
        for p in &self.pods {
            let links = ip(&["-n", p, "-o", "link", "show"]);
            assert!(!links.contains("eth0"), "{p} still has eth0: {links}");
        }
    }

    /// Runs podwall directly (not through a conflist) with `env` and `stdin`; exit code
    /// and parsed standard output.
    fn podwall(&self, env: &[(&str, &str)], stdin: &str) -> (i32, Value) {
        let ns = std::fs::File::open(format!("/run/netns/{}", self.ns)).unwrap();
        let (env, stdin): (Vec<(String, String)>, String) =
            (env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(), stdin.to_string());
        let out = std::thread::spawn(move || {
            podwall_lab::netns::enter(&ns).unwrap();
            let mut c = Command::new(env!("CARGO_BIN_EXE_podwall"))
                .arg("cni")
                .env_clear()
                .envs(env)
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            use std::io::Write;
            c.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
            c.wait_with_output().unwrap()
        })
        .join()
        .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        (out.status.code().unwrap_or(-1), serde_json::from_str(&text).unwrap_or(Value::Null))
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        for p in &self.pods {
            let _ = Command::new("ip").args(["netns", "del", p]).status();
        }
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The pod's address from a result (the first address).
fn address(result: &Value) -> String {
    result["ips"][0]["address"].as_str().unwrap().split('/').next().unwrap().to_string()
}

/// A TCP connection from pod `from` to `to`:8080, where a one-shot responder listens.
fn tcp_reaches(from: &str, to: &str, to_ip: &str) -> bool {
    let server = Command::new("ip")
        .args(["netns", "exec", to, "timeout", "5", "python3", "-c"])
        .arg("import socket\ns=socket.socket();s.bind(('0.0.0.0',8080));s.listen();c,_=s.accept();c.send(b'ok')")
        .spawn()
        .unwrap();
    // The responder may take a while to listen on a loaded machine: a refused connection
    // is tried again for up to 4 s; a dropped one (no route) times out.
    let script = format!(
        "import socket,time\nend=time.time()+4\nwhile True:\n try:\n  s=socket.create_connection(('{to_ip}',8080),timeout=2);break\n except ConnectionRefusedError:\n  if time.time()>end: raise\n  time.sleep(0.1)\nprint(s.recv(2).decode())"
    );
    let out = in_ns(from, &["python3", "-c", &script]);
    let mut server = server;
    let _ = server.wait();
    String::from_utf8_lossy(&out.stdout).trim() == "ok"
}

#[test]
fn two_pods_added_reach_each_other_and_del_leaves_nothing_of_theirs() {
    let Some(mut node) = Node::new("two_pods_added_reach_each_other_and_del_leaves_nothing_of_theirs") else { return };
    let list = node.conflist("1.1.0", "10.201.0.0/24");
    let (a, b) = (node.pod(), node.pod());
    let ra = node.runtime.add(&list, &a).unwrap();
    let rb = node.runtime.add(&list, &b).unwrap();
    assert_eq!(ra["cniVersion"], "1.1.0");
    assert_eq!(ra["interfaces"][1]["sandbox"], a.netns.as_str());
    assert_eq!(ra["ips"][0]["interface"], 1, "the address is on the pod side");
    assert_ne!(address(&ra), address(&rb));
    let pod_name = format!("test/{}", node.pods[0]);
    assert_eq!(
        ra["interfaces"][0]["name"],
        podwall_nftables::interface_name(&pod_name),
        "the node side is named as the ruleset names the pod"
    );
    assert!(tcp_reaches(&node.pods[0], &node.pods[1], &address(&rb)), "pod 0 cannot reach pod 1");
    assert!(tcp_reaches(&node.pods[1], &node.pods[0], &address(&ra)), "pod 1 cannot reach pod 0");
    assert_eq!(node.nft_elements().matches(&address(&ra)).count(), 1, "{}", node.nft_elements());
    node.runtime.check(&list, &a, &ra).unwrap();
    node.runtime.del(&list, &a, Some(&ra)).unwrap();
    assert!(!tcp_reaches(&node.pods[1], &node.pods[0], &address(&ra)), "a deleted pod is still reachable");
    node.runtime.del(&list, &b, Some(&rb)).unwrap();
    node.assert_nothing_left(&node.ipam_dir());
}

#[test]
fn chained_after_podwall_the_reference_portmap_bandwidth_and_tuning_work_with_host_local_as_ipam() {
    let Some(mut node) =
        Node::new("chained_after_podwall_the_reference_portmap_bandwidth_and_tuning_work_with_host_local_as_ipam")
    else {
        return;
    };
    for p in ["portmap", "bandwidth", "tuning", "host-local"] {
        assert!(
            Path::new(REFERENCE_PLUGINS).join(p).is_file(),
            "{p} missing: apt-get install containernetworking-plugins"
        );
    }
    let hl = node.dir.join("host-local");
    // Debian's plugins speak up to 1.0.0, so the chain does.
    let list = json!({
        "cniVersion": "1.0.0",
        "name": "podnet",
        "plugins": [
            {"type": "podwall", "stateDir": node.state(),
             "ipam": {"type": "host-local", "dataDir": hl, "ranges": [[{"subnet": "10.202.0.0/24", "rangeStart": "10.202.0.10"}]]}},
            {"type": "tuning", "sysctl": {"net.ipv4.conf.eth0.accept_redirects": "1"}},
            {"type": "portmap", "capabilities": {"portMappings": true}, "snat": false},
            {"type": "bandwidth", "capabilities": {"bandwidth": true}}
        ]
    });
    let mut a = node.pod();
    a.capabilities
        .insert("portMappings".into(), json!([{"hostPort": 18080, "containerPort": 8080, "protocol": "tcp"}]));
    a.capabilities.insert(
        "bandwidth".into(),
        json!({"ingressRate": 8_000_000, "ingressBurst": 80_000, "egressRate": 8_000_000, "egressBurst": 80_000}),
    );
    let b = node.pod();
    let ra = node.runtime.add(&list, &a).unwrap_or_else(|f| panic!("{f}"));
    let rb = node.runtime.add(&list, &b).unwrap_or_else(|f| panic!("{f}"));
    assert_eq!(address(&ra), "10.202.0.10", "host-local's rangeStart");
    assert_eq!(ra["cniVersion"], "1.0.0");
    // tuning set its sysctl inside the pod.
    let s = in_ns(&node.pods[0], &["cat", "/proc/sys/net/ipv4/conf/eth0/accept_redirects"]);
    assert_eq!(String::from_utf8_lossy(&s.stdout).trim(), "1", "tuning did not apply");
    // portmap made its DNAT to the pod address in the node.
    let nat = String::from_utf8_lossy(&in_ns(&node.ns, &["iptables-save", "-t", "nat"]).stdout).into_owned();
    assert!(nat.contains("10.202.0.10:8080"), "portmap made no DNAT to the pod: {nat}");
    // bandwidth shaped the node side of the veth, which it found through podwall's result.
    let host = ra["interfaces"][0]["name"].as_str().unwrap().to_string();
    let tc = String::from_utf8_lossy(
        &Command::new("tc").args(["-n", &node.ns, "qdisc", "show", "dev", &host]).output().unwrap().stdout,
    )
    .into_owned();
    assert!(tc.contains("tbf"), "bandwidth put no token bucket on {host}: {tc}");
    assert!(tcp_reaches(&node.pods[1], &node.pods[0], &address(&ra)), "pods cannot reach each other through the chain");
    // CHECK of podwall (and through it host-local) with the chain's final result. The
    // whole chain's CHECK is not run: Debian's portmap 1.1.1 checks ip6tables for an
    // IPv4-only pod and fails (fixed in later releases).
    let conf = Runtime::derive(&list, 0, Some(&a), Some(&ra));
    node.runtime.exec("podwall", "CHECK", &a, &conf).unwrap_or_else(|f| panic!("{f}"));
    node.runtime.del(&list, &a, Some(&ra)).unwrap_or_else(|f| panic!("{f}"));
    node.runtime.del(&list, &b, Some(&rb)).unwrap_or_else(|f| panic!("{f}"));
    node.assert_nothing_left(&hl);
    let nat = String::from_utf8_lossy(&in_ns(&node.ns, &["iptables-save", "-t", "nat"]).stdout).into_owned();
    assert!(!nat.contains("10.202.0.10"), "portmap's rules outlived DEL: {nat}");
}

#[test]
fn fifty_concurrent_adds_get_fifty_distinct_addresses_and_fifty_dels_leave_nothing() {
    let Some(mut node) = Node::new("fifty_concurrent_adds_get_fifty_distinct_addresses_and_fifty_dels_leave_nothing")
    else {
        return;
    };
    let list = node.conflist("1.1.0", "10.203.0.0/24");
    let pods: Vec<Attachment> = (0..50).map(|_| node.pod()).collect();
    let node = std::sync::Arc::new(node);
    let adds: Vec<_> = pods
        .iter()
        .cloned()
        .map(|p| {
            let (node, list) = (node.clone(), list.clone());
            std::thread::spawn(move || node.runtime.add(&list, &p).map_err(|f| f.to_string()))
        })
        .collect();
    let results: Vec<Value> = adds.into_iter().map(|h| h.join().unwrap().unwrap()).collect();
    let addrs: HashSet<String> = results.iter().map(address).collect();
    assert_eq!(addrs.len(), 50, "duplicate addresses under 50 concurrent ADDs");
    assert_eq!(Node::ipam_entries(&node.ipam_dir()).len(), 50);
    let dels: Vec<_> = pods
        .into_iter()
        .zip(results)
        .map(|(p, r)| {
            let (node, list) = (node.clone(), list.clone());
            std::thread::spawn(move || node.runtime.del(&list, &p, Some(&r)).map_err(|f| f.to_string()))
        })
        .collect();
    for d in dels {
        d.join().unwrap().unwrap();
    }
    node.assert_nothing_left(&node.ipam_dir());
}

fn conf_of(list: &Value) -> String {
    Runtime::derive(list, 0, None, None).to_string()
}

fn env<'a>(cmd: &'a str, a: &'a Attachment) -> Vec<(&'a str, &'a str)> {
    vec![("CNI_COMMAND", cmd), ("CNI_CONTAINERID", &a.container_id), ("CNI_NETNS", &a.netns), ("CNI_IFNAME", &a.ifname)]
}

#[test]
fn del_of_an_unknown_container_succeeds_and_a_second_del_too() {
    let Some(mut node) = Node::new("del_of_an_unknown_container_succeeds_and_a_second_del_too") else { return };
    let list = node.conflist("1.1.0", "10.204.0.0/24");
    let a = node.pod();
    let (code, out) = node.podwall(&env("DEL", &a), &conf_of(&list));
    assert_eq!((code, out), (0, Value::Null), "DEL of a container never added");
    let r = node.runtime.add(&list, &a).unwrap();
    node.runtime.del(&list, &a, Some(&r)).unwrap();
    node.runtime.del(&list, &a, Some(&r)).unwrap();
    // Without CNI_NETNS and prevResult, as a runtime may call it after the sandbox is gone.
    let (code, _) = node.podwall(
        &[("CNI_COMMAND", "DEL"), ("CNI_CONTAINERID", &a.container_id), ("CNI_IFNAME", "eth0")],
        &conf_of(&list),
    );
    assert_eq!(code, 0);
    node.assert_nothing_left(&node.ipam_dir());
}

#[test]
fn check_verifies_the_attachment_and_fails_when_its_address_is_gone() {
    let Some(mut node) = Node::new("check_verifies_the_attachment_and_fails_when_its_address_is_gone") else { return };
    let list = node.conflist("1.1.0", "10.205.0.0/24");
    let a = node.pod();
    let r = node.runtime.add(&list, &a).unwrap();
    node.runtime.check(&list, &a, &r).unwrap();
    ip(&["-n", &node.pods[0], "addr", "del", &format!("{}/32", address(&r)), "dev", "eth0"]);
    let f = node.runtime.check(&list, &a, &r).unwrap_err();
    let e = f.error.expect("an error result");
    assert_eq!(e.code, podwall_cni::error::CHECK_FAILED);
    assert!(e.msg.contains(&address(&r)), "{}", e.msg);
    node.runtime.del(&list, &a, Some(&r)).unwrap();
    node.assert_nothing_left(&node.ipam_dir());
}

#[test]
fn gc_removes_every_attachment_not_in_valid_attachments_and_keeps_the_others() {
    let Some(mut node) = Node::new("gc_removes_every_attachment_not_in_valid_attachments_and_keeps_the_others") else {
        return;
    };
    let list = node.conflist("1.1.0", "10.206.0.0/24");
    let (a, b) = (node.pod(), node.pod());
    let ra = node.runtime.add(&list, &a).unwrap();
    let rb = node.runtime.add(&list, &b).unwrap();
    let keep = [podwall_cni::types::Attachment { container_id: b.container_id.clone(), ifname: "eth0".into() }];
    let failed = node.runtime.gc(&list, &keep);
    assert!(failed.is_empty(), "{:?}", failed.iter().map(|f| f.to_string()).collect::<Vec<_>>());
    assert_eq!(node.node_links().len(), 1, "{:?}", node.node_links());
    assert!(!node.nft_elements().contains(&address(&ra)) && node.nft_elements().contains(&address(&rb)));
    assert_eq!(Node::ipam_entries(&node.ipam_dir()), [address(&rb)]);
    node.runtime.check(&list, &b, &rb).unwrap();
    node.runtime.del(&list, &b, Some(&rb)).unwrap();
    node.assert_nothing_left(&node.ipam_dir());
}

#[test]
fn status_is_ready_until_the_range_is_full_then_error_50() {
    let Some(mut node) = Node::new("status_is_ready_until_the_range_is_full_then_error_50") else { return };
    let list = node.conflist("1.1.0", "10.207.0.0/30");
    let (code, _) = node.podwall(&[("CNI_COMMAND", "STATUS")], &conf_of(&list));
    assert_eq!(code, 0);
    let a = node.pod();
    let r = node.runtime.add(&list, &a).unwrap();
    let (code, out) = node.podwall(&[("CNI_COMMAND", "STATUS")], &conf_of(&list));
    assert_ne!(code, 0);
    assert_eq!(out["code"], podwall_cni::error::NOT_AVAILABLE);
    node.runtime.del(&list, &a, Some(&r)).unwrap();
}

/// A bad ADD: the error JSON with `code`, a non-zero exit, and nothing made.
fn refused(node: &Node, env: &[(&str, &str)], stdin: &str, code: u32) -> Value {
    let (links, records) = (node.node_links(), node.records());
    let (exit, out) = node.podwall(env, stdin);
    assert_ne!(exit, 0, "{out}");
    assert_eq!(out["code"], code, "{out}");
    assert!(!out["msg"].as_str().unwrap_or("").is_empty());
    assert_eq!(node.node_links(), links, "a refused ADD left links");
    assert_eq!(node.records(), records, "a refused ADD left a record");
    out
}

#[test]
fn bad_input_gets_the_spec_error_json_a_non_zero_exit_and_nothing_half_made() {
    let Some(mut node) = Node::new("bad_input_gets_the_spec_error_json_a_non_zero_exit_and_nothing_half_made") else {
        return;
    };
    let list = node.conflist("1.1.0", "10.208.0.0/30");
    let a = node.pod();
    // A malformed configuration.
    refused(&node, &env("ADD", &a), "{\"cniVersion\": \"1.1.0\", \"name\": ", podwall_cni::error::DECODING_FAILURE);
    // An unknown cniVersion.
    let v9 = conf_of(&node.conflist("9.9.9", "10.208.0.0/30"));
    refused(&node, &env("ADD", &a), &v9, podwall_cni::error::INCOMPATIBLE_VERSION);
    // A missing CNI_NETNS.
    let no_netns: Vec<_> = env("ADD", &a).into_iter().filter(|(k, _)| *k != "CNI_NETNS").collect();
    let out = refused(&node, &no_netns, &conf_of(&list), podwall_cni::error::INVALID_ENVIRONMENT);
    assert!(out["msg"].as_str().unwrap().contains("CNI_NETNS"));
    // A CNI_NETNS that is no namespace.
    let mut gone = a.clone();
    gone.netns = "/run/netns/no-such-namespace".into();
    refused(&node, &env("ADD", &gone), &conf_of(&list), podwall_cni::error::INVALID_ENVIRONMENT);
    assert!(Node::ipam_entries(&node.ipam_dir()).is_empty(), "refused ADDs allocated addresses");
    // An interface name taken in the container.
    ip(&["-n", &node.pods[0], "link", "add", "eth0", "type", "veth", "peer", "name", "eth9"]);
    refused(&node, &env("ADD", &a), &conf_of(&list), podwall_cni::error::INTERFACE_EXISTS);
    assert!(Node::ipam_entries(&node.ipam_dir()).is_empty(), "the refused ADD kept its address");
    ip(&["-n", &node.pods[0], "link", "del", "eth0"]);
    // An exhausted range: a /30 with its gateway has one address.
    let first = node.runtime.add(&list, &a).unwrap();
    let b = node.pod();
    let out = refused(&node, &env("ADD", &b), &conf_of(&list), podwall_cni::error::ADDRESSES_EXHAUSTED);
    assert!(out["msg"].as_str().unwrap().contains("no IP addresses available"), "{out}");
    let links = ip(&["-n", &node.pods[1], "-o", "link", "show"]);
    assert!(!links.contains("eth0"), "the refused pod got an interface: {links}");
    assert_eq!(Node::ipam_entries(&node.ipam_dir()), [address(&first)]);
    node.runtime.del(&list, &a, Some(&first)).unwrap();
    node.assert_nothing_left(&node.ipam_dir());
}

#[test]
fn a_0_4_0_configuration_gets_a_0_4_0_result() {
    let Some(mut node) = Node::new("a_0_4_0_configuration_gets_a_0_4_0_result") else { return };
    let list = node.conflist("0.4.0", "10.209.0.0/24");
    let a = node.pod();
    let r = node.runtime.add(&list, &a).unwrap();
    assert_eq!(r["cniVersion"], "0.4.0");
    assert_eq!(r["ips"][0]["version"], "4");
    node.runtime.del(&list, &a, Some(&r)).unwrap();
    node.assert_nothing_left(&node.ipam_dir());
}

#[test]
fn a_prev_result_is_passed_on_with_podwalls_interfaces_and_addresses_appended() {
    let Some(mut node) = Node::new("a_prev_result_is_passed_on_with_podwalls_interfaces_and_addresses_appended") else {
        return;
    };
    let mut list = node.conflist("1.0.0", "10.210.0.0/24");
    // Debian's loopback plugin runs first: it brings up `lo` and reports it.
    list["plugins"].as_array_mut().unwrap().insert(0, json!({"type": "loopback"}));
    let a = node.pod();
    let r = node.runtime.add(&list, &a).unwrap_or_else(|f| panic!("{f}"));
    let names: Vec<&str> = r["interfaces"].as_array().unwrap().iter().map(|i| i["name"].as_str().unwrap()).collect();
    assert_eq!(names[0], "lo", "the previous result comes first: {r}");
    assert_eq!(names[2], "eth0");
    assert!(r["ips"].as_array().unwrap().iter().any(|i| i["address"] == "127.0.0.1/8"), "{r}");
    let mine =
        r["ips"].as_array().unwrap().iter().find(|i| i["address"].as_str().unwrap().starts_with("10.210.")).unwrap();
    assert_eq!(mine["interface"], 2, "podwall's address points at its interface after the previous ones");
    let conf = Runtime::derive(&list, 1, Some(&a), Some(&r));
    node.runtime.exec("podwall", "CHECK", &a, &conf).unwrap_or_else(|f| panic!("{f}"));
    node.runtime.del(&list, &a, Some(&r)).unwrap_or_else(|f| panic!("{f}"));
    node.assert_nothing_left(&node.ipam_dir());
}
