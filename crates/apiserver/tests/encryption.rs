//! CIS 1.2.28 joined to the encryption configuration: with the file
//! `--encryption-provider-config` names, AP028 says whether Secrets are written
//! encrypted, and the file's own findings (`secrets validate`'s rules) come along.
use podwall_apiserver::checks::{run, run_with};
use podwall_apiserver::flags::from_text;
use podwall_encryption::Config;

const FLAGS: &str = "--encryption-provider-config=/etc/kubernetes/enc.yaml";

fn config(yaml: &str) -> Config {
    let dir = std::env::temp_dir().join(format!("podwall-ap028-{}-{}", std::process::id(), yaml.len()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("enc.yaml");
    std::fs::write(&file, yaml).unwrap();
    let path = file.to_str().unwrap();
    let input = podwall_load::load_paths(&[path]).unwrap();
    let config = Config::read(&input.objects, path).unwrap();
    std::fs::remove_dir_all(&dir).ok();
    config
}

const HEAD: &str = "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n";
const GCM: &str = "      - aesgcm:\n          keys:\n            - {name: k1, secret: MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=}\n";
const CBC: &str = "      - aescbc:\n          keys:\n            - {name: k1, secret: MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=}\n";

#[test]
fn ap028_is_judged_only_when_the_file_is_given() {
    let flags = from_text("flags", FLAGS).unwrap();
    let report = run(&flags).unwrap();
    assert!(report.outcomes.iter().all(|(c, _)| c.id != "AP028"));
    assert!(report.encryption.is_empty());
}

#[test]
fn ap028_fails_when_identity_writes_secrets() {
    let flags = from_text("flags", FLAGS).unwrap();
    let c = config(&format!("{HEAD}  - resources: [secrets]\n    providers:\n      - identity: {{}}\n{GCM}"));
    let report = run_with(&flags, Some(&c)).unwrap();
    let f = report.failed("AP028").expect("AP028 fails");
    assert!(f.message.starts_with("CIS 1.2.28: ") && f.message.contains("identity"), "{}", f.message);
    let ids: Vec<&str> = report.findings().iter().map(|f| f.id).collect::<Vec<_>>();
    assert!(ids.contains(&"EN020"), "the file's own findings are joined: {ids:?}");
}

#[test]
fn ap028_fails_when_the_file_does_not_cover_secrets() {
    let flags = from_text("flags", FLAGS).unwrap();
    let c = config(&format!("{HEAD}  - resources: [configmaps]\n    providers:\n{GCM}"));
    let f = run_with(&flags, Some(&c)).unwrap().failed("AP028").cloned().expect("AP028 fails");
    assert!(f.message.contains("does not list secrets"), "{}", f.message);
    // A wildcard covering every resource covers them.
    let c = config(&format!("{HEAD}  - resources: ['*.*']\n    providers:\n{GCM}"));
    assert!(run_with(&flags, Some(&c)).unwrap().failed("AP028").is_none());
}

#[test]
fn ap028_passes_when_an_encrypting_provider_writes_secrets() {
    let flags = from_text("flags", FLAGS).unwrap();
    for (provider, weak) in [(GCM, false), (CBC, true)] {
        let c = config(&format!("{HEAD}  - resources: [secrets]\n    providers:\n{provider}      - identity: {{}}\n"));
        let report = run_with(&flags, Some(&c)).unwrap();
        assert!(report.failed("AP028").is_none(), "{provider}");
        let weak_found = report.findings().iter().any(|f| f.id == "EN021");
        assert_eq!(weak_found, weak, "aescbc's weaker standing is EN021's, not AP028's");
    }
}

#[test]
fn a_file_the_api_server_refuses_is_reported_not_an_error() {
    let flags = from_text("flags", FLAGS).unwrap();
    let short = "      - aesgcm:\n          keys:\n            - {name: k1, secret: MDEyMzQ1Njc4OWFiY2RlZmc=}\n";
    let c = config(&format!("{HEAD}  - resources: [secrets]\n    providers:\n{short}"));
    let report = run_with(&flags, Some(&c)).unwrap();
    assert!(report.findings().iter().any(|f| f.id == "EN008"), "a 17-byte key");
}
