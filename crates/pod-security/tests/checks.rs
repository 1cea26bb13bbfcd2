//! Every check of the Pod Security Standards on each side of each version boundary,
//! written from upstream's check definitions (k8s.io/pod-security-admission, policy/).
use k8s_openapi::api::core::v1::PodSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use podwall_pod_security::checks::running;
use podwall_pod_security::{evaluate, Level, LevelVersion, Version};
use serde_json::{json, Value};

fn lv(level: Level, v: &str) -> LevelVersion {
    LevelVersion::new(level, Version::parse(v).expect("a version"))
}

/// (check, detail) of every violation of `pod` (`{"metadata", "spec"}`).
fn judge(level: Level, version: &str, pod: Value) -> Vec<(&'static str, String)> {
    let meta: ObjectMeta = serde_json::from_value(pod.get("metadata").cloned().unwrap_or(json!({}))).expect("meta");
    let spec: PodSpec = serde_json::from_value(pod.get("spec").cloned().unwrap_or(json!({}))).expect("spec");
    evaluate(lv(level, version), &meta, &spec).into_iter().map(|v| (v.check, v.fail.detail)).collect()
}

fn ids(level: Level, version: &str, pod: Value) -> Vec<&'static str> {
    judge(level, version, pod).into_iter().map(|(c, _)| c).collect()
}

fn detail(level: Level, version: &str, pod: Value, check: &str) -> Option<String> {
    judge(level, version, pod).into_iter().find(|(c, _)| *c == check).map(|(_, d)| d)
}

/// A pod every restricted check accepts at every version.
fn restricted_pod() -> Value {
    json!({"spec": {
        "securityContext": {"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [{"name": "app", "image": "i", "securityContext": {
            "allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}}}]
    }})
}

/// `restricted_pod` with `patch` merged into its spec.
fn restricted_with(patch: Value) -> Value {
    let mut pod = restricted_pod();
    merge(&mut pod["spec"], patch);
    pod
}

fn merge(into: &mut Value, patch: Value) {
    match (into, patch) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                merge(a.entry(k).or_insert(Value::Null), v);
            }
        }
        (slot, v) => *slot = v,
    }
}

fn one_container(sc: Value) -> Value {
    json!({"spec": {"containers": [{"name": "app", "image": "i", "securityContext": sc}]}})
}

use Level::{Baseline, Restricted};

// ---------- what runs when ----------

fn running_ids(level: Level, v: &str) -> Vec<&'static str> {
    running(lv(level, v)).into_iter().map(|(c, _)| c.id).collect()
}

#[test]
fn baseline_runs_every_baseline_check_and_host_probes_only_from_v1_34() {
    let at_33 = running_ids(Baseline, "v1.33");
    assert_eq!(
        at_33,
        [
            "appArmorProfile",
            "capabilities_baseline",
            "hostNamespaces",
            "hostPathVolumes",
            "hostPorts",
            "privileged",
            "procMount",
            "seLinuxOptions",
            "seccompProfile_baseline",
            "sysctls",
            "windowsHostProcess"
        ]
    );
    assert_eq!(running_ids(Baseline, "v1.0"), at_33);
    assert!(running_ids(Baseline, "v1.34").contains(&"hostProbesAndHostLifecycle"));
    assert!(running_ids(Level::Privileged, "latest").is_empty());
}

#[test]
fn restricted_checks_start_at_their_versions_and_replace_their_baseline_counterparts() {
    let extra = |v: &str| {
        let base = running_ids(Baseline, v);
        running_ids(Restricted, v).into_iter().filter(|id| !base.contains(id)).collect::<Vec<_>>()
    };
    let dropped = |v: &str| {
        let r = running_ids(Restricted, v);
        running_ids(Baseline, v).into_iter().filter(|id| !r.contains(id)).collect::<Vec<_>>()
    };
    assert_eq!(extra("v1.7"), ["restrictedVolumes", "runAsNonRoot"]);
    assert_eq!(extra("v1.8"), ["allowPrivilegeEscalation", "restrictedVolumes", "runAsNonRoot"]);
    assert_eq!(extra("v1.18"), extra("v1.8"));
    assert_eq!(
        extra("v1.19"),
        ["allowPrivilegeEscalation", "restrictedVolumes", "runAsNonRoot", "seccompProfile_restricted"]
    );
    assert_eq!(extra("v1.22").len(), 5);
    assert!(
        extra("v1.22").contains(&"capabilities_restricted") && !extra("v1.21").contains(&"capabilities_restricted")
    );
    assert!(extra("v1.23").contains(&"runAsUser") && !extra("v1.22").contains(&"runAsUser"));
    assert!(extra("v1.35").contains(&"procMount_restricted") && !extra("v1.34").contains(&"procMount_restricted"));
    assert_eq!(dropped("v1.0"), ["hostPathVolumes"]);
    assert_eq!(dropped("v1.18"), ["hostPathVolumes"]);
    assert_eq!(dropped("v1.19"), ["hostPathVolumes", "seccompProfile_baseline"]);
    assert_eq!(dropped("v1.21"), ["hostPathVolumes", "seccompProfile_baseline"]);
    assert_eq!(dropped("v1.22"), ["capabilities_baseline", "hostPathVolumes", "seccompProfile_baseline"]);
    assert_eq!(dropped("v1.34"), dropped("v1.22"));
    assert_eq!(dropped("v1.35"), ["capabilities_baseline", "hostPathVolumes", "procMount", "seccompProfile_baseline"]);
}

#[test]
fn latest_and_versions_past_the_newest_judge_as_v1_37() {
    let pod = json!({"spec": {"securityContext": {"sysctls": [{"name": "net.ipv4.tcp_notsent_lowat", "value": "1"}]},
        "containers": [{"name": "a", "image": "i"}]}});
    assert!(ids(Baseline, "v1.36", pod.clone()).contains(&"sysctls"));
    for v in ["v1.37", "v1.38", "v1.99", "latest"] {
        assert!(ids(Baseline, v, pod.clone()).is_empty(), "{v}");
    }
}

#[test]
fn a_restricted_pod_is_allowed_at_every_version_and_results_list_baseline_checks_first() {
    for minor in 0..=40 {
        let v = format!("v1.{minor}");
        assert_eq!(judge(Restricted, &v, restricted_pod()), [], "{v}");
    }
    let bad = json!({"spec": {"hostIPC": true, "containers": [{"name": "a", "image": "i"}]}});
    let got = ids(Restricted, "latest", bad);
    assert_eq!(
        got,
        [
            "hostNamespaces",
            "allowPrivilegeEscalation",
            "capabilities_restricted",
            "runAsNonRoot",
            "seccompProfile_restricted"
        ]
    );
}

#[test]
fn each_failing_check_is_reported_once_however_many_containers_trip_it() {
    let pod = json!({"spec": {
        "initContainers": [{"name": "i", "image": "x", "securityContext": {"privileged": true}}],
        "containers": [{"name": "a", "image": "x", "securityContext": {"privileged": true}},
                       {"name": "b", "image": "x", "securityContext": {"privileged": false}}],
        "ephemeralContainers": [{"name": "e", "image": "x", "securityContext": {"privileged": true}}]
    }});
    let got = judge(Baseline, "latest", pod);
    assert_eq!(
        got,
        [("privileged", "containers \"i\", \"a\", \"e\" must not set securityContext.privileged=true".into())]
    );
}

// ---------- baseline ----------

#[test]
fn host_namespaces_refuse_host_network_pid_and_ipc_true_only() {
    let pod = json!({"spec": {"hostNetwork": true, "hostPID": true, "hostIPC": true, "containers": []}});
    assert_eq!(
        detail(Baseline, "v1.0", pod, "hostNamespaces").as_deref(),
        Some("hostNetwork=true, hostPID=true, hostIPC=true")
    );
    let off = json!({"spec": {"hostNetwork": false, "hostPID": false, "containers": []}});
    assert!(ids(Baseline, "latest", off).is_empty());
}

#[test]
fn capabilities_baseline_allows_the_default_set_exactly_and_ignores_drop() {
    let default = one_container(
        json!({"capabilities": {"add": ["CHOWN", "NET_BIND_SERVICE", "SYS_CHROOT"], "drop": ["SYS_ADMIN"]}}),
    );
    assert!(ids(Baseline, "latest", default).is_empty());
    let bad = one_container(json!({"capabilities": {"add": ["SYS_ADMIN", "NET_RAW", "chown", "CAP_CHOWN", "CHOWN"]}}));
    assert_eq!(
        detail(Baseline, "v1.0", bad, "capabilities_baseline").as_deref(),
        Some("container \"app\" must not include \"CAP_CHOWN\", \"NET_RAW\", \"SYS_ADMIN\", \"chown\" in securityContext.capabilities.add")
    );
}

#[test]
fn host_path_volumes_are_refused_at_baseline_and_judged_by_restricted_volumes_at_restricted() {
    let pod = json!({"spec": {"volumes": [{"name": "root", "hostPath": {"path": "/"}}, {"name": "tmp", "emptyDir": {}}],
        "containers": [{"name": "a", "image": "i"}]}});
    assert_eq!(detail(Baseline, "v1.0", pod.clone(), "hostPathVolumes").as_deref(), Some("volume \"root\""));
    let r = judge(Restricted, "v1.0", pod);
    assert!(r.iter().all(|(c, _)| *c != "hostPathVolumes"));
    let rv = r.iter().find(|(c, _)| *c == "restrictedVolumes").map(|(_, d)| d.as_str());
    assert_eq!(rv, Some("volume \"root\" uses restricted volume type \"hostPath\""));
}

#[test]
fn host_ports_other_than_zero_are_refused_and_listed_as_sorted_strings() {
    let pod = json!({"spec": {"containers": [
        {"name": "a", "image": "i", "ports": [{"containerPort": 80, "hostPort": 9}, {"containerPort": 81, "hostPort": 10}]},
        {"name": "b", "image": "i", "ports": [{"containerPort": 80, "hostPort": 0}, {"containerPort": 82}]}]}});
    assert_eq!(detail(Baseline, "v1.0", pod, "hostPorts").as_deref(), Some("container \"a\" uses hostPorts 10, 9"));
}

#[test]
fn host_probes_and_host_lifecycle_run_from_v1_34() {
    let pod = json!({"spec": {"containers": [
        {"name": "z", "image": "i", "livenessProbe": {"httpGet": {"port": 80, "host": "10.0.0.1"}},
         "lifecycle": {"preStop": {"tcpSocket": {"port": 1, "host": "evil"}}}},
        {"name": "a", "image": "i", "readinessProbe": {"tcpSocket": {"port": 80, "host": ""}},
         "startupProbe": {"exec": {"command": ["true"]}}}]}});
    assert!(ids(Baseline, "v1.33", pod.clone()).is_empty());
    assert_eq!(
        detail(Baseline, "v1.34", pod, "hostProbesAndHostLifecycle").as_deref(),
        Some("container \"z\" uses probe or lifecycle hosts \"10.0.0.1\", \"evil\"")
    );
}

#[test]
fn app_armor_fields_and_annotations_are_judged_at_every_version() {
    let field = json!({"spec": {"securityContext": {"appArmorProfile": {"type": "Unconfined"}},
        "containers": [{"name": "a", "image": "i", "securityContext": {"appArmorProfile": {"type": "Localhost", "localhostProfile": "p"}}}]}});
    assert_eq!(
        detail(Baseline, "v1.0", field, "appArmorProfile").as_deref(),
        Some("pod must not set AppArmor profile type to \"Unconfined\"")
    );
    let annotated = json!({"metadata": {"annotations": {
        "container.apparmor.security.beta.kubernetes.io/nosuch": "unconfined",
        "container.apparmor.security.beta.kubernetes.io/a": "localhost/x",
        "container.apparmor.security.beta.kubernetes.io/b": ""}},
        "spec": {"containers": [{"name": "a", "image": "i"}]}});
    assert_eq!(
        detail(Baseline, "latest", annotated, "appArmorProfile").as_deref(),
        // Upstream quotes list items without escaping what they hold.
        Some("annotation must not set AppArmor profile type to \"container.apparmor.security.beta.kubernetes.io/nosuch=\"unconfined\"\"")
    );
    let empty_type = one_container(json!({"appArmorProfile": {"type": ""}}));
    assert!(ids(Baseline, "latest", empty_type).contains(&"appArmorProfile"));
}

#[test]
fn se_linux_container_engine_t_is_allowed_from_v1_31_and_user_or_role_never() {
    let engine = one_container(json!({"seLinuxOptions": {"type": "container_engine_t", "level": "s0:c1"}}));
    assert_eq!(
        detail(Baseline, "v1.30", engine.clone(), "seLinuxOptions").as_deref(),
        Some("container \"app\" set forbidden securityContext.seLinuxOptions: type \"container_engine_t\"")
    );
    assert!(ids(Baseline, "v1.31", engine).is_empty());
    let user = json!({"spec": {"securityContext": {"seLinuxOptions": {"user": "root", "role": "r"}},
        "containers": [{"name": "a", "image": "i", "securityContext": {"seLinuxOptions": {"type": "spc_t"}}}]}});
    assert_eq!(
        detail(Baseline, "latest", user, "seLinuxOptions").as_deref(),
        Some("pod and container \"a\" set forbidden securityContext.seLinuxOptions: type \"spc_t\"; user may not be set; role may not be set")
    );
}

#[test]
fn seccomp_baseline_reads_annotations_until_v1_18_and_fields_from_v1_19() {
    let annotated = json!({"metadata": {"annotations": {
        "seccomp.security.alpha.kubernetes.io/pod": "unconfined",
        "container.seccomp.security.alpha.kubernetes.io/a": "",
        "container.seccomp.security.alpha.kubernetes.io/other": "unconfined"}},
        "spec": {"containers": [{"name": "a", "image": "i"}]}});
    assert_eq!(
        detail(Baseline, "v1.18", annotated.clone(), "seccompProfile_baseline").as_deref(),
        Some("forbidden annotations container.seccomp.security.alpha.kubernetes.io/a=\"\", seccomp.security.alpha.kubernetes.io/pod=\"unconfined\"")
    );
    assert!(ids(Baseline, "v1.19", annotated).is_empty());
    let field = one_container(json!({"seccompProfile": {"type": "Unconfined"}}));
    assert!(ids(Baseline, "v1.18", field.clone()).is_empty());
    assert_eq!(
        detail(Baseline, "v1.19", field, "seccompProfile_baseline").as_deref(),
        Some("container \"app\" must not set securityContext.seccompProfile.type to \"Unconfined\"")
    );
    let allowed = json!({"metadata": {"annotations": {"seccomp.security.alpha.kubernetes.io/pod": "docker/default",
        "container.seccomp.security.alpha.kubernetes.io/a": "localhost/p"}}, "spec": {"containers": [{"name": "a", "image": "i"}]}});
    assert!(ids(Baseline, "v1.0", allowed).is_empty());
}

#[test]
fn sysctl_allow_list_grows_at_v1_27_v1_29_v1_32_and_v1_37() {
    let with = |name: &str| {
        json!({"spec": {"securityContext": {"sysctls": [{"name": "kernel.shm_rmid_forced", "value": "0"}, {"name": name, "value": "1"}]},
            "containers": [{"name": "a", "image": "i"}]}})
    };
    for (name, from) in [
        ("net.ipv4.ip_local_reserved_ports", 27),
        ("net.ipv4.tcp_keepalive_time", 29),
        ("net.ipv4.tcp_fin_timeout", 29),
        ("net.ipv4.tcp_keepalive_intvl", 29),
        ("net.ipv4.tcp_keepalive_probes", 29),
        ("net.ipv4.tcp_rmem", 32),
        ("net.ipv4.tcp_wmem", 32),
        ("net.ipv4.tcp_slow_start_after_idle", 37),
        ("net.ipv4.tcp_notsent_lowat", 37),
    ] {
        let before = format!("v1.{}", from - 1);
        assert_eq!(detail(Baseline, &before, with(name), "sysctls"), Some(name.to_string()), "{name} at {before}");
        assert!(ids(Baseline, &format!("v1.{from}"), with(name)).is_empty(), "{name} at v1.{from}");
    }
    assert_eq!(detail(Baseline, "latest", with("net.ipv4/tcp_rmem"), "sysctls").as_deref(), Some("net.ipv4/tcp_rmem"));
}

#[test]
fn windows_host_process_is_refused_on_the_pod_and_on_containers() {
    let pod = json!({"spec": {"securityContext": {"windowsOptions": {"hostProcess": true}},
        "containers": [{"name": "a", "image": "i", "securityContext": {"windowsOptions": {"hostProcess": true}}}]}});
    assert_eq!(
        detail(Baseline, "v1.0", pod, "windowsHostProcess").as_deref(),
        Some("pod and container \"a\" must not set securityContext.windowsOptions.hostProcess=true")
    );
}

#[test]
fn proc_mount_is_relaxed_for_user_namespace_pods_from_v1_35_at_baseline_only() {
    let unmasked = |host_users: Value| json!({"spec": {"hostUsers": host_users, "containers": [{"name": "a", "image": "i", "securityContext": {"procMount": "Unmasked"}}]}});
    let want = Some("container \"a\" must not set securityContext.procMount to \"Unmasked\"".to_string());
    assert_eq!(detail(Baseline, "v1.34", unmasked(json!(false)), "procMount"), want);
    assert!(ids(Baseline, "v1.35", unmasked(json!(false))).is_empty());
    assert_eq!(detail(Baseline, "v1.35", unmasked(json!(true)), "procMount"), want);
    assert_eq!(detail(Baseline, "v1.35", unmasked(Value::Null), "procMount"), want);
    let r = restricted_with(json!({"hostUsers": false, "containers": [{"name": "a", "image": "i", "securityContext": {
        "procMount": "Unmasked", "allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}}}]}));
    assert_eq!(ids(Restricted, "v1.35", r.clone()), ["procMount_restricted"]);
    assert_eq!(ids(Restricted, "v1.34", r), ["procMount"]);
}

// ---------- restricted ----------

#[test]
fn restricted_volumes_allow_nine_sources_and_call_a_volume_without_one_unknown() {
    let pod = restricted_with(json!({"volumes": [
        {"name": "c", "configMap": {"name": "x"}}, {"name": "img", "image": {"reference": "r"}},
        {"name": "n", "nfs": {"server": "s", "path": "/"}}, {"name": "bare"}, {"name": "g", "gitRepo": {"repository": "r"}}]}));
    assert_eq!(
        judge(Restricted, "v1.0", pod),
        [(
            "restrictedVolumes",
            "volumes \"n\", \"bare\", \"g\" use restricted volume types \"gitRepo\", \"nfs\", \"unknown\"".to_string()
        )]
    );
}

#[test]
fn allow_privilege_escalation_runs_from_v1_8_and_exempts_windows_from_v1_25() {
    let pod = restricted_with(
        json!({"containers": [{"name": "a", "image": "i", "securityContext": {"capabilities": {"drop": ["ALL"]}}}]}),
    );
    assert!(ids(Restricted, "v1.7", pod.clone()).is_empty());
    assert_eq!(
        judge(Restricted, "v1.8", pod.clone()),
        [(
            "allowPrivilegeEscalation",
            "container \"a\" must set securityContext.allowPrivilegeEscalation=false".to_string()
        )]
    );
    let mut windows = pod;
    merge(&mut windows["spec"], json!({"os": {"name": "windows"}}));
    assert_eq!(ids(Restricted, "v1.24", windows.clone()), ["allowPrivilegeEscalation"]);
    assert!(ids(Restricted, "v1.25", windows).is_empty());
    let mut linux_by_selector = restricted_with(json!({"nodeSelector": {"kubernetes.io/os": "windows"}}));
    merge(
        &mut linux_by_selector["spec"]["containers"][0]["securityContext"],
        json!({"allowPrivilegeEscalation": true}),
    );
    assert_eq!(ids(Restricted, "latest", linux_by_selector), ["allowPrivilegeEscalation"]);
}

#[test]
fn run_as_non_root_needs_the_pod_or_every_container_true_and_false_nowhere() {
    let containers_true = restricted_with(
        json!({"securityContext": {"runAsNonRoot": null}, "containers": [{"name": "a", "image": "i",
        "securityContext": {"runAsNonRoot": true, "allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}}}]}),
    );
    assert!(ids(Restricted, "latest", containers_true).is_empty());
    let implicit = restricted_with(json!({"securityContext": {"runAsNonRoot": null, "runAsUser": 1000}}));
    assert_eq!(
        detail(Restricted, "v1.0", implicit, "runAsNonRoot").as_deref(),
        Some("pod or container \"app\" must set securityContext.runAsNonRoot=true")
    );
    let explicit = restricted_with(json!({"containers": [{"name": "a", "image": "i",
        "securityContext": {"runAsNonRoot": false, "allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}}}]}));
    assert_eq!(
        detail(Restricted, "v1.0", explicit, "runAsNonRoot").as_deref(),
        Some("container \"a\" must not set securityContext.runAsNonRoot=false")
    );
    let pod_false = restricted_with(json!({"securityContext": {"runAsNonRoot": false}}));
    assert_eq!(
        detail(Restricted, "v1.0", pod_false.clone(), "runAsNonRoot").as_deref(),
        Some("pod must not set securityContext.runAsNonRoot=false")
    );
    let mut userns = pod_false;
    merge(&mut userns["spec"], json!({"hostUsers": false}));
    assert_eq!(ids(Restricted, "v1.34", userns.clone()), ["runAsNonRoot"]);
    assert!(ids(Restricted, "v1.35", userns).is_empty());
}

#[test]
fn run_as_user_zero_is_refused_from_v1_23_even_when_containers_override_it() {
    let pod = restricted_with(json!({"securityContext": {"runAsUser": 0}, "containers": [{"name": "a", "image": "i",
        "securityContext": {"runAsUser": 1000, "allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}}}]}));
    assert!(ids(Restricted, "v1.22", pod.clone()).is_empty());
    assert_eq!(judge(Restricted, "v1.23", pod.clone()), [("runAsUser", "pod must not set runAsUser=0".to_string())]);
    let mut userns = pod;
    merge(&mut userns["spec"], json!({"hostUsers": false}));
    assert_eq!(ids(Restricted, "v1.34", userns.clone()), ["runAsUser"]);
    assert!(ids(Restricted, "v1.35", userns).is_empty());
    let group_zero =
        restricted_with(json!({"securityContext": {"runAsGroup": 0, "fsGroup": 0, "supplementalGroups": [0]}}));
    assert!(ids(Restricted, "latest", group_zero).is_empty());
}

#[test]
fn seccomp_restricted_runs_from_v1_19_replacing_the_baseline_check_and_exempts_windows_from_v1_25() {
    let none = restricted_with(json!({"securityContext": {"seccompProfile": null}}));
    assert!(ids(Restricted, "v1.18", none.clone()).is_empty());
    assert_eq!(
        judge(Restricted, "v1.19", none),
        [("seccompProfile_restricted", "pod or container \"app\" must set securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\"".to_string())]
    );
    let unconfined = restricted_with(json!({"securityContext": {"seccompProfile": {"type": "Unconfined"}}}));
    assert_eq!(
        judge(Restricted, "v1.19", unconfined.clone()),
        [(
            "seccompProfile_restricted",
            "pod must not set securityContext.seccompProfile.type to \"Unconfined\"".to_string()
        )]
    );
    let annotated = json!({"metadata": {"annotations": {"seccomp.security.alpha.kubernetes.io/pod": "unconfined"}},
        "spec": restricted_pod()["spec"].clone()});
    assert_eq!(ids(Restricted, "v1.18", annotated.clone()), ["seccompProfile_baseline"]);
    assert!(ids(Restricted, "v1.19", annotated).is_empty(), "annotations play no part from v1.19");
    let mut windows = unconfined;
    merge(&mut windows["spec"], json!({"os": {"name": "windows"}}));
    assert_eq!(ids(Restricted, "v1.24", windows.clone()), ["seccompProfile_restricted"]);
    assert!(ids(Restricted, "v1.25", windows.clone()).is_empty(), "and the baseline seccomp check is replaced too");
    assert_eq!(ids(Baseline, "v1.25", windows), ["seccompProfile_baseline"]);
}

#[test]
fn capabilities_restricted_runs_from_v1_22_requiring_drop_all_and_only_net_bind_service() {
    let pod = restricted_with(json!({"containers": [
        {"name": "a", "image": "i", "securityContext": {"allowPrivilegeEscalation": false, "capabilities": {"drop": ["all"], "add": ["NET_BIND_SERVICE"]}}},
        {"name": "b", "image": "i", "securityContext": {"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL", "NET_RAW"], "add": ["SYS_ADMIN", "CHOWN"]}}},
        {"name": "c", "image": "i", "securityContext": {"allowPrivilegeEscalation": false}}]}));
    assert_eq!(
        judge(Restricted, "v1.21", pod.clone()),
        [(
            "capabilities_baseline",
            "container \"b\" must not include \"SYS_ADMIN\" in securityContext.capabilities.add".to_string()
        )]
    );
    assert_eq!(
        judge(Restricted, "v1.22", pod.clone()),
        [("capabilities_restricted", "containers \"a\", \"c\" must set securityContext.capabilities.drop=[\"ALL\"]; container \"b\" must not include \"CHOWN\", \"SYS_ADMIN\" in securityContext.capabilities.add".to_string())]
    );
    let mut windows = pod;
    merge(&mut windows["spec"], json!({"os": {"name": "windows"}}));
    assert_eq!(ids(Restricted, "v1.24", windows.clone()), ["capabilities_restricted"]);
    assert!(ids(Restricted, "v1.25", windows.clone()).is_empty());
    assert_eq!(ids(Baseline, "v1.25", windows), ["capabilities_baseline"]);
}

#[test]
fn unset_and_null_are_the_same() {
    let nulls = json!({"spec": {"hostNetwork": null, "securityContext": null, "volumes": null,
        "containers": [{"name": "a", "image": "i", "securityContext": {"privileged": null, "capabilities": null}}]}});
    assert!(ids(Baseline, "latest", nulls).is_empty());
}
