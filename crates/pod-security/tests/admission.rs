//! The admission plugin's handling of one request, written from upstream's
//! admission/admission.go and admission/api: exemptions, modes, workloads.
use k8s_openapi::api::core::v1::PodSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use podwall_pod_security::admission::{decide, decide_workload, Exempt, Request};
use podwall_pod_security::config::{from_objects, Config, Exemptions};
use podwall_pod_security::policy::Policy;
use podwall_pod_security::{Level, LevelVersion, Version};
use serde_json::json;

fn spec(v: serde_json::Value) -> PodSpec {
    serde_json::from_value(v).expect("a pod spec")
}

fn policy(enforce: Level, audit: Level, warn: Level) -> Policy {
    let at = |l| LevelVersion::new(l, Version::Latest);
    Policy { enforce: at(enforce), audit: at(audit), warn: at(warn) }
}

fn request<'a>(ns: &'a str, meta: &'a ObjectMeta, spec: &'a PodSpec) -> Request<'a> {
    Request { namespace: ns, user: None, meta, spec }
}

#[test]
fn a_rejected_pod_gets_no_warning_but_is_still_audited() {
    let (meta, s) = (ObjectMeta::default(), spec(json!({"hostPID": true, "containers": [{"name": "a"}]})));
    let d = decide(
        &Config::default(),
        &policy(Level::Baseline, Level::Baseline, Level::Baseline),
        &request("x", &meta, &s),
    );
    assert!(d.rejected() && d.audited());
    assert!(d.warn.is_none(), "upstream sends warnings only for admitted pods");
}

#[test]
fn a_workload_is_warned_even_when_enforce_would_reject_its_pods() {
    let (meta, s) = (ObjectMeta::default(), spec(json!({"hostPID": true, "containers": [{"name": "a"}]})));
    let d = decide_workload(
        &Config::default(),
        &policy(Level::Baseline, Level::Privileged, Level::Baseline),
        &request("x", &meta, &s),
    );
    assert!(d.rejected() && d.warned() && !d.audited());
}

#[test]
fn exemptions_by_namespace_user_and_runtime_class_skip_every_mode() {
    let config = Config {
        defaults: Policy::default(),
        exemptions: Exemptions {
            usernames: vec!["ci-bot".into()],
            namespaces: vec!["kube-system".into()],
            runtime_classes: vec!["kata".into()],
        },
    };
    let p = policy(Level::Restricted, Level::Restricted, Level::Restricted);
    let meta = ObjectMeta::default();
    let plain = spec(json!({"containers": [{"name": "a"}]}));
    assert_eq!(decide(&config, &p, &request("kube-system", &meta, &plain)).exempt, Some(Exempt::Namespace));
    let as_bot = Request { user: Some("ci-bot"), ..request("shop", &meta, &plain) };
    assert_eq!(decide(&config, &p, &as_bot).exempt, Some(Exempt::Username));
    let kata = spec(json!({"runtimeClassName": "kata", "containers": [{"name": "a"}]}));
    assert_eq!(decide(&config, &p, &request("shop", &meta, &kata)).exempt, Some(Exempt::RuntimeClass));
    let d = decide(&config, &p, &request("shop", &meta, &plain));
    assert_eq!((d.exempt, d.rejected()), (None, true));
}

fn config_from(text: &str) -> Result<Config, podwall_load::InputError> {
    let input = podwall_load::load_str("admission.yaml", text).expect("loads");
    from_objects(&input.objects, "admission.yaml")
}

#[test]
fn configuration_defaults_unset_or_empty_are_privileged_at_latest() {
    let c = config_from("apiVersion: pod-security.admission.config.k8s.io/v1\nkind: PodSecurityConfiguration\ndefaults: {enforce: baseline, warn: ''}\n")
        .expect("valid");
    assert_eq!(c.defaults.enforce, LevelVersion::new(Level::Baseline, Version::Latest));
    assert_eq!(c.defaults.warn.level, Level::Privileged);
    let none = config_from("apiVersion: apiserver.config.k8s.io/v1\nkind: AdmissionConfiguration\nplugins: [{name: Other, path: x.yaml}]\n")
        .expect("valid");
    assert_eq!(none, Config::default(), "no PodSecurity plugin: the plugin's defaults");
}

#[test]
fn configuration_errors_name_the_field() {
    let bad_version = "apiVersion: pod-security.admission.config.k8s.io/v1\nkind: PodSecurityConfiguration\ndefaults: {audit-version: '1.30'}\n";
    let e = config_from(bad_version).expect_err("refused");
    assert_eq!(e.field.as_deref(), Some("defaults.audit-version"), "{e}");
    let bad_ns = "apiVersion: pod-security.admission.config.k8s.io/v1\nkind: PodSecurityConfiguration\nexemptions: {namespaces: [Kube_System]}\n";
    assert_eq!(config_from(bad_ns).expect_err("refused").field.as_deref(), Some("exemptions.namespaces[0]"));
    let empty_user = "apiVersion: pod-security.admission.config.k8s.io/v1\nkind: PodSecurityConfiguration\nexemptions: {usernames: ['']}\n";
    assert!(config_from(empty_user).expect_err("refused").message.contains("username must not be empty"));
    let wrong_group = "apiVersion: apiserver.config.k8s.io/v1\nkind: AdmissionConfiguration\nplugins:\n- name: PodSecurity\n  configuration: {apiVersion: v1, kind: PodSecurityConfiguration}\n";
    let e = config_from(wrong_group).expect_err("refused");
    assert_eq!(e.field.as_deref(), Some("plugins[0].configuration.apiVersion"), "{e}");
}
