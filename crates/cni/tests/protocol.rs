//! The protocol rules that need no kernel: environment, configuration, versions, result
//! forms, and the host-local allocator on files.
use std::collections::HashSet;

use podwall_cni::config::{self, HostLocal};
use podwall_cni::error;
use podwall_cni::ipam::Pool;
use podwall_cni::types::Attachment;
use podwall_cni::{run, version};

fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let v: Vec<(String, String)> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    move |k: &str| v.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone())
}

fn err(out: &podwall_cni::Outcome) -> serde_json::Value {
    assert_ne!(out.code, 0, "expected a failure: {}", out.stdout);
    serde_json::from_str(&out.stdout).unwrap()
}

fn temp(tag: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("podwall-cni-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

const ADD: &[(&str, &str)] =
    &[("CNI_COMMAND", "ADD"), ("CNI_CONTAINERID", "c1"), ("CNI_NETNS", "/run/netns/none"), ("CNI_IFNAME", "eth0")];

#[test]
fn version_reports_the_input_version_and_the_three_supported() {
    let out = run(&env(&[("CNI_COMMAND", "VERSION")]), br#"{"cniVersion":"0.4.0"}"#);
    assert_eq!(out.code, 0);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["cniVersion"], "0.4.0");
    assert_eq!(v["supportedVersions"], serde_json::json!(["0.4.0", "1.0.0", "1.1.0"]));
    let out = run(&env(&[("CNI_COMMAND", "VERSION")]), b"");
    assert_eq!(serde_json::from_str::<serde_json::Value>(&out.stdout).unwrap()["cniVersion"], "1.1.0");
}

#[test]
fn unknown_cni_version_is_error_1_naming_the_supported_ones() {
    for v in ["0.3.1", "2.0.0", "1.2.0", ""] {
        let conf = format!(
            r#"{{"cniVersion":"{v}","name":"n","type":"podwall","ipam":{{"type":"podwall","subnet":"10.9.0.0/24"}}}}"#
        );
        let e = err(&run(&env(ADD), conf.as_bytes()));
        assert_eq!(e["code"], error::INCOMPATIBLE_VERSION, "{v}: {e}");
        assert!(e["details"].as_str().unwrap().contains("1.1.0"), "{e}");
        assert_eq!(e["cniVersion"], "1.1.0", "an error in an unknown version is written in the newest");
    }
}

#[test]
fn status_and_gc_need_1_1_0_and_check_needs_0_4_0() {
    assert_eq!(version::negotiate("1.0.0", "GC").unwrap_err().code, error::INCOMPATIBLE_VERSION);
    assert_eq!(version::negotiate("1.0.0", "STATUS").unwrap_err().code, error::INCOMPATIBLE_VERSION);
    assert!(version::negotiate("1.1.0", "GC").is_ok());
    assert!(version::negotiate("0.4.0", "CHECK").is_ok());
    assert!(version::negotiate("0.4.0", "DEL").is_ok());
}

#[test]
fn a_version_that_is_no_version_is_error_6() {
    assert_eq!(version::negotiate("1.x", "ADD").unwrap_err().code, error::DECODING_FAILURE);
}

#[test]
fn missing_environment_variables_are_error_4_naming_each() {
    let e = err(&run(&env(&[("CNI_COMMAND", "ADD"), ("CNI_CONTAINERID", "c1")]), b"{}"));
    assert_eq!(e["code"], error::INVALID_ENVIRONMENT);
    assert!(e["msg"].as_str().unwrap().contains("CNI_NETNS,CNI_IFNAME"), "{e}");
    // DEL does not need CNI_NETNS.
    let e = err(&run(&env(&[("CNI_COMMAND", "DEL"), ("CNI_CONTAINERID", "c1")]), b"{}"));
    assert_eq!(e["msg"], "required env variables [CNI_IFNAME] missing");
    let e = err(&run(&env(&[]), b"{}"));
    assert!(e["msg"].as_str().unwrap().contains("CNI_COMMAND"));
    let e = err(&run(&env(&[("CNI_COMMAND", "SPIN")]), b"{}"));
    assert_eq!(e["code"], error::INVALID_ENVIRONMENT);
}

#[test]
fn container_ids_and_interface_names_are_checked_as_the_spec_defines_them() {
    for bad in ["-x", "a/b", "a b", ""] {
        assert!(!podwall_cni::valid_container_id(bad), "{bad}");
    }
    assert!(podwall_cni::valid_container_id("0a_b.c-d"));
    for bad in [".", "..", "a/b", "a:b", "a b", "sixteen-chars-xx", ""] {
        assert!(!podwall_cni::valid_ifname(bad), "{bad}");
    }
    assert!(podwall_cni::valid_ifname("eth0"));
    let mut bad_id: Vec<(&str, &str)> = ADD.to_vec();
    bad_id[1] = ("CNI_CONTAINERID", "-bad");
    assert_eq!(err(&run(&env(&bad_id), b"{}"))["code"], error::INVALID_ENVIRONMENT);
}

#[test]
fn malformed_configuration_is_error_6_with_its_line() {
    let e = err(&run(&env(ADD), b"{\n\"cniVersion\": \"1.1.0\",\n\"name\": \n}"));
    assert_eq!(e["code"], error::DECODING_FAILURE);
    assert!(e["msg"].as_str().unwrap().contains("line 4"), "{e}");
}

#[test]
fn unknown_field_is_error_2_naming_key_and_value() {
    let conf = br#"{"cniVersion":"1.1.0","name":"n","type":"podwall","tabel":"x","ipam":{"type":"podwall","subnet":"10.9.0.0/24"}}"#;
    let e = err(&run(&env(ADD), conf));
    assert_eq!(e["code"], error::UNSUPPORTED_FIELD);
    assert!(e["msg"].as_str().unwrap().contains("tabel") && e["msg"].as_str().unwrap().contains("\"x\""), "{e}");
}

#[test]
fn a_missing_or_invalid_network_name_is_error_7() {
    let e = err(&run(&env(ADD), br#"{"cniVersion":"1.1.0","type":"podwall"}"#));
    assert_eq!(e["code"], error::INVALID_CONFIG);
    let e = err(&run(&env(ADD), br#"{"cniVersion":"1.1.0","name":"-n","type":"podwall"}"#));
    assert_eq!(e["code"], error::INVALID_CONFIG);
}

#[test]
fn reserved_cni_dev_keys_and_runtime_fields_are_accepted() {
    let conf = br#"{"cniVersion":"1.1.0","name":"n","type":"podwall","runtimeConfig":{},"args":{},"cni.dev/valid-attachments":[{"containerID":"a","ifname":"eth0"}],"ipam":{"type":"host-local"}}"#;
    let c = config::parse(conf).unwrap();
    assert_eq!(c.valid_attachments.unwrap(), vec![Attachment { container_id: "a".into(), ifname: "eth0".into() }]);
    assert_eq!(c.ipam_type.as_deref(), Some("host-local"));
}

#[test]
fn a_0_4_0_result_gives_each_address_its_version_and_1_0_0_does_not() {
    let r = podwall_cni::types::Success {
        ips: vec![podwall_cni::types::IpConfig { address: "10.0.0.2/32".into(), ..Default::default() }],
        ..Default::default()
    };
    let old = serde_json::to_value(r.clone().for_version("0.4.0", version::Version(0, 4, 0))).unwrap();
    assert_eq!(old["ips"][0]["version"], "4");
    let new = serde_json::to_value(r.for_version("1.0.0", version::Version(1, 0, 0))).unwrap();
    assert!(new["ips"][0].get("version").is_none());
}

fn pool(dir: &std::path::Path, ipam: &str) -> Pool {
    let mut v: serde_json::Value = serde_json::from_str(ipam).unwrap();
    v["type"] = "podwall".into();
    v["dataDir"] = dir.display().to_string().into();
    let conf = serde_json::json!({"cniVersion": "1.1.0", "name": "net", "type": "podwall", "ipam": v});
    let c = config::parse(&serde_json::to_vec(&conf).unwrap()).unwrap();
    Pool::new("net", &HostLocal::of(&c).unwrap()).unwrap()
}

fn pool_err(ipam: &str) -> String {
    let mut v: serde_json::Value = serde_json::from_str(ipam).unwrap();
    v["type"] = "podwall".into();
    let conf = serde_json::json!({"cniVersion": "1.1.0", "name": "net", "type": "podwall", "ipam": v});
    let c = config::parse(&serde_json::to_vec(&conf).unwrap()).unwrap();
    match HostLocal::of(&c).and_then(|h| Pool::new("net", &h)) {
        Ok(_) => panic!("{ipam} was accepted"),
        Err(e) => e.msg,
    }
}

#[test]
fn range_defaults_are_host_locals_first_host_as_gateway_and_start_and_the_last_host_before_broadcast_as_end() {
    let p = pool(&temp("defaults"), r#"{"subnet": "10.9.0.0/24"}"#);
    let r = &p.sets[0][0];
    assert_eq!(
        (r.start.to_string(), r.end.to_string(), r.gateway.to_string()),
        ("10.9.0.1".into(), "10.9.0.254".into(), "10.9.0.1".into())
    );
    let p = pool(&temp("defaults6"), r#"{"subnet": "fd00::/120"}"#);
    assert_eq!(p.sets[0][0].end.to_string(), "fd00::ff", "IPv6 has no broadcast to spare");
}

#[test]
fn invalid_ranges_are_refused_as_host_local_refuses_them() {
    assert!(pool_err(r#"{"subnet": "10.9.0.0/31"}"#).contains("too small"));
    assert!(pool_err(r#"{"subnet": "10.9.0.5/24"}"#).contains("host bits"));
    assert!(pool_err(r#"{"subnet": "10.9.0.0/24", "rangeStart": "10.9.1.1"}"#).contains("not in network"));
    assert!(pool_err(r#"{"ranges": [[{"subnet": "10.9.0.0/24"}, {"subnet": "fd00::/64"}]]}"#).contains("mixed"));
    assert!(pool_err(r#"{"ranges": [[{"subnet": "10.9.0.0/24"}], [{"subnet": "10.9.0.0/25"}]]}"#).contains("overlaps"));
    assert!(pool_err(r#"{"routes": []}"#).contains("no IP ranges"));
    assert!(pool_err(r#"{"subnet": "10.9.0.0/24", "rangeBegin": "x"}"#).contains("rangeBegin"));
}

#[test]
fn allocation_skips_the_gateway_goes_round_robin_and_takes_one_address_per_range_set() {
    let dir = temp("rr");
    let p = pool(
        &dir,
        r#"{"ranges": [[{"subnet": "10.9.0.0/29", "gateway": "10.9.0.2"}], [{"subnet": "fd00::/120", "rangeStart": "fd00::10"}]]}"#,
    );
    let a = p.allocate("a", "eth0").unwrap();
    assert_eq!(a.ips.iter().map(|i| i.address.as_str()).collect::<Vec<_>>(), ["10.9.0.1/29", "fd00::10/120"]);
    assert_eq!(a.ips[0].gateway.as_deref(), Some("10.9.0.2"));
    let b = p.allocate("b", "eth0").unwrap();
    assert_eq!(b.ips[0].address, "10.9.0.3/29", "the gateway 10.9.0.2 is skipped");
    p.release("a", "eth0").unwrap();
    let c = p.allocate("c", "eth0").unwrap();
    assert_eq!(c.ips[0].address, "10.9.0.4/29", "round-robin: a released address is not handed out at once");
    let on_disk = std::fs::read_to_string(dir.join("net").join("10.9.0.3")).unwrap();
    assert_eq!(on_disk, "b\r\neth0", "host-local's file layout");
}

#[test]
fn the_same_attachment_cannot_allocate_twice() {
    let p = pool(&temp("twice"), r#"{"subnet": "10.9.0.0/24"}"#);
    p.allocate("a", "eth0").unwrap();
    assert!(p.allocate("a", "eth0").unwrap_err().msg.contains("duplicate allocation"));
    assert!(p.allocate("a", "eth1").is_ok(), "another interface of the container is another attachment");
}

#[test]
fn an_exhausted_range_is_error_100_and_gives_back_what_other_range_sets_took() {
    let dir = temp("full");
    let p = pool(&dir, r#"{"ranges": [[{"subnet": "10.9.0.0/24"}], [{"subnet": "10.8.0.0/30"}]]}"#);
    p.allocate("a", "eth0").unwrap();
    let e = p.allocate("b", "eth0").unwrap_err();
    assert_eq!(e.code, error::ADDRESSES_EXHAUSTED);
    assert_eq!(p.allocations().len(), 2, "b's address from the first set was released: {:?}", p.allocations());
    assert_eq!(p.exhausted(), Some(1));
}

#[test]
fn release_of_what_is_not_held_succeeds() {
    let p = pool(&temp("rel"), r#"{"subnet": "10.9.0.0/24"}"#);
    assert!(p.release("nobody", "eth0").unwrap().is_empty());
}

#[test]
fn gc_releases_exactly_the_allocations_not_in_the_valid_attachments() {
    let p = pool(&temp("gc"), r#"{"subnet": "10.9.0.0/24"}"#);
    for id in ["a", "b", "c"] {
        p.allocate(id, "eth0").unwrap();
    }
    let valid: HashSet<Attachment> = [Attachment { container_id: "b".into(), ifname: "eth0".into() }].into();
    let gone = p.collect(&valid).unwrap();
    assert_eq!(gone.iter().map(|g| g.1.as_str()).collect::<Vec<_>>(), ["a", "c"]);
    assert_eq!(p.allocations().iter().map(|a| a.1.as_str()).collect::<Vec<_>>(), ["b"]);
}

#[test]
fn fifty_threads_allocating_at_once_get_fifty_distinct_addresses() {
    let dir = temp("race");
    let p = std::sync::Arc::new(pool(&dir, r#"{"subnet": "10.9.0.0/24"}"#));
    let handles: Vec<_> = (0..50)
        .map(|i| {
            let p = p.clone();
            std::thread::spawn(move || p.allocate(&format!("c{i}"), "eth0").unwrap().ips[0].address.clone())
        })
        .collect();
    let got: HashSet<String> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(got.len(), 50);
}

#[test]
fn resolv_conf_gives_name_servers_domain_search_and_options() {
    let d = temp("dns");
    std::fs::create_dir_all(&d).unwrap();
    let f = d.join("resolv.conf");
    std::fs::write(&f, "# c\nnameserver 10.0.0.10\nnameserver 10.0.0.11\ndomain example.org\nsearch a.example b.example\noptions ndots:5\n").unwrap();
    let dns = podwall_cni::ipam::resolv_conf(&f).unwrap();
    assert_eq!(dns.nameservers, ["10.0.0.10", "10.0.0.11"]);
    assert_eq!(dns.domain, "example.org");
    assert_eq!(dns.search, ["a.example", "b.example"]);
    assert_eq!(dns.options, ["ndots:5"]);
}
