//! The admission plugin checks (CIS 1.2.3, 1.2.9–1.2.14), judged on the plugins the
//! server would run: those on by default, plus `--enable-admission-plugins`, minus
//! `--disable-admission-plugins`, or exactly the deprecated `--admission-control` list;
//! the command lines the server refuses to start with are input errors.
use podwall_apiserver::checks::{run, Report};
use podwall_apiserver::flags::from_text;

fn judge(line: &str) -> Result<Report, String> {
    let flags = from_text("flags", line).map_err(|e| e.to_string())?;
    run(&flags).map_err(|e| e.to_string())
}

fn report(line: &str) -> Report {
    judge(line).expect("judges")
}

fn refusal(line: &str) -> String {
    judge(line).expect_err("the server refuses it")
}

#[test]
fn a_plugin_both_enabled_and_disabled_is_refused_as_the_server_refuses_it() {
    let e = refusal(
        "--enable-admission-plugins=NodeRestriction,AlwaysPullImages --disable-admission-plugins=AlwaysPullImages",
    );
    assert!(e.contains("AlwaysPullImages in both --enable-admission-plugins and --disable-admission-plugins"), "{e}");
    assert!(e.starts_with("flags:1: "), "names the file: {e}");
}

#[test]
fn service_account_is_on_by_default_and_fails_only_when_disabled() {
    assert!(report("--anonymous-auth=false").failed("AP032").is_none(), "on by default");
    assert!(report("--enable-admission-plugins=NodeRestriction").failed("AP032").is_none());
    let r = report("--disable-admission-plugins=ServiceAccount");
    let f = r.failed("AP032").expect("disabled");
    assert!(
        f.message
            .starts_with("CIS 1.2.12: the ServiceAccount admission plugin is disabled by --disable-admission-plugins"),
        "{}",
        f.message
    );
}

#[test]
fn namespace_lifecycle_is_on_by_default_and_fails_only_when_disabled() {
    assert!(report("--anonymous-auth=false").failed("AP033").is_none(), "on by default");
    let r = report("--disable-admission-plugins=LimitRanger,NamespaceLifecycle");
    assert!(r.failed("AP033").expect("disabled").message.starts_with("CIS 1.2.13: "));
    assert!(r.failed("AP032").is_none(), "only the plugins named are disabled");
}

#[test]
fn an_unknown_plugin_name_is_refused_and_a_removed_one_says_when_it_went() {
    let e = refusal("--enable-admission-plugins=NodeRestriction,NodeRestrictions");
    assert!(e.contains("--enable-admission-plugins: admission plugin \"NodeRestrictions\" is unknown"), "{e}");
    let e = refusal("--enable-admission-plugins=SecurityContextDeny");
    assert!(e.contains("\"SecurityContextDeny\" is unknown (it was removed in v1.30)"), "{e}");
    let e = refusal("--disable-admission-plugins=PodSecurityPolicy");
    assert!(e.contains("--disable-admission-plugins") && e.contains("removed in v1.25"), "{e}");
}

#[test]
fn a_space_after_a_comma_is_part_of_the_plugin_name_as_the_server_reads_the_list() {
    // One argument of a manifest's command may hold spaces; the server's list parser
    // (CSV) keeps them.
    let text = "apiVersion: v1\nkind: Pod\nmetadata: {name: kube-apiserver, namespace: kube-system}\nspec:\n  containers:\n  - name: kube-apiserver\n    image: registry.k8s.io/kube-apiserver:v1.33.0\n    command: [kube-apiserver, '--enable-admission-plugins=NodeRestriction, AlwaysPullImages']\n";
    let input = podwall_load::load_str_keeping("kube-apiserver.yaml", text, &podwall_load::podspec::carries_pod_spec)
        .expect("loads");
    let flags = podwall_apiserver::flags::from_manifest(&input.objects, "kube-apiserver.yaml").expect("reads");
    let e = run(&flags).expect_err("refused").to_string();
    assert!(e.contains("admission plugin \" AlwaysPullImages\" is unknown"), "{e}");
    assert!(e.contains("Pod kube-system/kube-apiserver container kube-apiserver"), "names the container: {e}");
}

#[test]
fn occurrences_of_the_plugin_flags_add_up() {
    let r = report("--enable-admission-plugins=NodeRestriction --enable-admission-plugins=AlwaysPullImages");
    assert!(r.failed("AP010").is_none() && r.failed("AP031").is_none());
}

#[test]
fn always_pull_images_and_deny_service_external_ips_are_off_by_default() {
    let r = report("--enable-admission-plugins=NodeRestriction");
    let pull = r.failed("AP031").expect("off by default");
    assert!(
        pull.message.starts_with("CIS 1.2.11: the AlwaysPullImages admission plugin is off by default"),
        "{}",
        pull.message
    );
    assert!(r.failed("AP029").expect("off by default").message.starts_with("CIS 1.2.3: "));
    let r = report("--enable-admission-plugins=AlwaysPullImages,DenyServiceExternalIPs");
    assert!(r.failed("AP031").is_none() && r.failed("AP029").is_none());
}

#[test]
fn event_rate_limit_is_off_by_default_and_without_its_configuration_file_the_server_does_not_start() {
    assert!(report("--anonymous-auth=false").failed("AP030").is_some(), "off by default");
    let e = refusal("--enable-admission-plugins=EventRateLimit");
    assert!(e.contains("EventRateLimit admission plugin is enabled without --admission-control-config-file"), "{e}");
    let r = report(
        "--enable-admission-plugins=EventRateLimit --admission-control-config-file=/etc/kubernetes/admission.yaml",
    );
    assert!(r.failed("AP030").is_none());
}

#[test]
fn the_legacy_admission_control_flag_runs_only_the_plugins_it_lists() {
    let r = report("--admission-control=NodeRestriction,AlwaysAdmit");
    assert!(r.failed("AP010").is_none(), "listed");
    assert!(r.failed("AP009").expect("AlwaysAdmit runs").message.contains("is enabled by --admission-control"));
    let sa = r.failed("AP032").expect("not listed, so not run, though on by default");
    assert!(sa.message.contains("is not listed in --admission-control"), "{}", sa.message);
    assert!(r.failed("AP033").is_some());
}

#[test]
fn the_legacy_flag_with_the_new_ones_is_refused() {
    for line in [
        "--admission-control=NodeRestriction --enable-admission-plugins=NodeRestriction",
        "--admission-control=NodeRestriction --disable-admission-plugins=",
    ] {
        let e = refusal(line);
        assert!(e.contains("mutually exclusive"), "{line}: {e}");
    }
}

#[test]
fn node_restriction_named_only_in_the_disable_list_fails_1_2_14() {
    let f = report("--disable-admission-plugins=NodeRestriction").failed("AP010").cloned().expect("fails");
    assert!(f.message.starts_with("CIS 1.2.14: the NodeRestriction admission plugin is disabled"), "{}", f.message);
}
