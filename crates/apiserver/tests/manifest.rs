//! The checks on kube-apiserver static pod manifests, as kubeadm writes them.
use podwall_apiserver::{checks, flags};

fn load(text: &str) -> Result<flags::Flags, podwall_load::InputError> {
    let input = podwall_load::load_str_keeping("kube-apiserver.yaml", text, &podwall_load::podspec::carries_pod_spec)?;
    flags::from_manifest(&input.objects, "kube-apiserver.yaml")
}

const HARDENED: &str = r#"
apiVersion: v1
kind: Pod
metadata: {name: kube-apiserver, namespace: kube-system}
spec:
  containers:
  - name: kube-apiserver
    image: registry.k8s.io/kube-apiserver:v1.33.0
    command:
    - kube-apiserver
    - --anonymous-auth=false
    - --authorization-mode=Node,RBAC
    - --enable-admission-plugins=NodeRestriction,AlwaysPullImages,EventRateLimit,DenyServiceExternalIPs
    - --admission-control-config-file=/etc/kubernetes/admission-control.yaml
    - --tls-cipher-suites=TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384
    - --profiling=false
    - --audit-log-path=/var/log/kubernetes/audit.log
    - --audit-policy-file=/etc/kubernetes/audit-policy.yaml
    - --audit-log-maxage=30
    - --audit-log-maxbackup=10
    - --audit-log-maxsize=100
    - --kubelet-client-certificate=/etc/kubernetes/pki/apiserver-kubelet-client.crt
    - --kubelet-client-key=/etc/kubernetes/pki/apiserver-kubelet-client.key
    - --kubelet-certificate-authority=/etc/kubernetes/pki/ca.crt
    - --service-account-key-file=/etc/kubernetes/pki/sa.pub
    - --etcd-certfile=/etc/kubernetes/pki/apiserver-etcd-client.crt
    - --etcd-keyfile=/etc/kubernetes/pki/apiserver-etcd-client.key
    - --etcd-cafile=/etc/kubernetes/pki/etcd/ca.crt
    - --tls-cert-file=/etc/kubernetes/pki/apiserver.crt
    - --tls-private-key-file=/etc/kubernetes/pki/apiserver.key
    - --client-ca-file=/etc/kubernetes/pki/ca.crt
    - --encryption-provider-config=/etc/kubernetes/encryption-config.yaml
    - --service-account-extend-token-expiration=false
"#;

#[test]
fn a_hardened_manifest_passes_every_check() {
    let report = checks::run(&load(HARDENED).expect("reads")).expect("judges");
    assert_eq!(report.findings(), vec![], "no finding on a hardened server");
}

#[test]
fn a_flag_left_out_counts_as_the_servers_default() {
    let text =
        HARDENED.replace("    - --anonymous-auth=false\n", "").replace("    - --authorization-mode=Node,RBAC\n", "");
    let report = checks::run(&load(&text).expect("reads")).expect("judges");
    let anon = report.failed("AP001").expect("anonymous auth defaults to true");
    assert!(anon.message.starts_with("CIS 1.2.1:"), "{}", anon.message);
    assert!(report.failed("AP005").is_some(), "authorization mode defaults to AlwaysAllow");
    assert!(report.failed("AP006").is_some() && report.failed("AP007").is_some());
    assert_eq!(anon.to_string(), format!("kube-apiserver.yaml:2: Pod kube-system/kube-apiserver: {}", anon.message));
}

#[test]
fn always_allow_among_the_modes_fails_even_with_rbac_and_node() {
    let text = HARDENED.replace("Node,RBAC", "Node,RBAC,AlwaysAllow");
    let report = checks::run(&load(&text).expect("reads")).expect("judges");
    assert!(report.failed("AP005").is_some());
    assert!(report.failed("AP006").is_none() && report.failed("AP007").is_none());
}

#[test]
fn audit_retention_below_the_benchmark_fails_and_a_malformed_count_is_bad_input() {
    let text = HARDENED.replace("--audit-log-maxage=30", "--audit-log-maxage=7");
    let report = checks::run(&load(&text).expect("reads")).expect("judges");
    assert!(report.failed("AP013").expect("maxage 7").message.contains("is 7"));
    let text = HARDENED.replace("--audit-log-maxage=30", "--audit-log-maxage=month");
    let e = checks::run(&load(&text).expect("reads")).unwrap_err().to_string();
    assert!(e.contains("--audit-log-maxage=\"month\" is not a whole number"), "{e}");
}

#[test]
fn a_nonzero_insecure_port_is_critical() {
    let text = HARDENED.replace("    - --profiling=false\n", "    - --profiling=false\n    - --insecure-port=8080\n");
    let report = checks::run(&load(&text).expect("reads")).expect("judges");
    assert_eq!(report.failed("AP025").map(|f| f.severity), Some(podwall_findings::Severity::Critical));
}

#[test]
fn a_manifest_without_a_kube_apiserver_container_is_refused_with_what_it_holds() {
    let text = "apiVersion: v1\nkind: Pod\nmetadata: {name: etcd, namespace: kube-system}\nspec:\n  containers:\n  - name: etcd\n    image: etcd\n    command: [etcd]\n";
    let e = load(text).unwrap_err().to_string();
    assert!(e.contains("no kube-apiserver container") && e.contains("Pod kube-system/etcd (containers: etcd)"), "{e}");
    let e = load("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n").unwrap_err().to_string();
    assert!(e.contains("no Pod in the file"), "{e}");
}
