//! Unknown fields are refused, as kubectl's default `--validate=strict` refuses them.
use podwall_load::load_str;

fn refused(text: &str) -> podwall_load::InputError {
    load_str("t.yaml", text).expect_err("an unknown field must be refused")
}

const NP: &str = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p, namespace: n}\n";

#[test]
fn network_policy_misspelt_match_labels_is_refused_not_select_all() {
    let err = refused(&format!("{NP}spec:\n  podSelector: {{matchLabel: {{app: web}}}}\n"));
    assert_eq!(err.field.as_deref(), Some("spec.podSelector.matchLabel"), "{err}");
    assert_eq!(err.object.as_deref(), Some("NetworkPolicy n/p"));
    assert_eq!(err.location.line, 1);
    assert!(err.message.contains("did you mean `matchLabels`?"), "{err}");
}

#[test]
fn network_policy_port_instead_of_ports_is_refused() {
    let err = refused(&format!("{NP}spec:\n  podSelector: {{}}\n  ingress:\n  - port:\n    - port: 80\n"));
    assert_eq!(err.field.as_deref(), Some("spec.ingress[0].port"), "{err}");
    assert!(err.message.contains("did you mean `ports`?"), "{err}");
}

#[test]
fn network_policy_misspelt_ingress_is_refused() {
    let err = refused(&format!("{NP}spec:\n  podSelector: {{}}\n  ingres: []\n"));
    assert_eq!(err.field.as_deref(), Some("spec.ingres"), "{err}");
    assert!(err.message.contains("did you mean `ingress`?"), "{err}");
}

#[test]
fn unknown_field_in_json_is_refused_too() {
    let text = r#"{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy","metadata":{"name":"p"},"spec":{"podSelector":{"matchLabel":{}}}}"#;
    let err = load_str("t.json", text).expect_err("refused");
    assert_eq!(err.field.as_deref(), Some("spec.podSelector.matchLabel"), "{err}");
}

#[test]
fn admin_network_policy_misspelt_namespace_selector_is_refused() {
    let text = "apiVersion: policy.networking.k8s.io/v1alpha1\nkind: AdminNetworkPolicy\nmetadata: {name: a}\nspec:\n  priority: 1\n  subject:\n    namespaces: {matchLabel: {team: x}}\n";
    let err = refused(text);
    assert_eq!(err.field.as_deref(), Some("spec.subject.namespaces.matchLabel"), "{err}");
    assert!(err.message.contains("did you mean `matchLabels`?"), "{err}");
}

#[test]
fn misspelt_metadata_field_is_refused_in_every_kind() {
    let text = "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: g, lables: {a: b}}\nspec: {selector: all()}\n";
    let err = refused(text);
    assert_eq!(err.field.as_deref(), Some("metadata.lables"), "{err}");
    assert!(err.message.contains("did you mean `labels`?"), "{err}");
}

#[test]
fn calico_top_level_unknown_field_is_refused() {
    let text = "apiVersion: projectcalico.org/v3\nkind: Tier\nmetadata: {name: t}\nspecs: {order: 1}\n";
    let err = refused(text);
    assert_eq!(err.field.as_deref(), Some("specs"), "{err}");
}

const POD: &str = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n  namespace: n\n  uid: 1\n  annotations: {x: y}\n  managedFields: [{manager: kubectl, whatever: 1}]\n";

#[test]
fn pod_fields_the_projection_skips_but_kubernetes_knows_are_fine() {
    let text = format!("{POD}spec:\n  nodeName: n1\n  volumes: [{{name: v, emptyDir: {{}}}}]\n  containers:\n  - name: c\n    image: nginx\n    ports: [{{containerPort: 80, name: http}}]\nstatus:\n  phase: Running\n  somethingNew: 1\n");
    let input = load_str("t.yaml", &text).expect("a well-formed pod loads");
    assert_eq!(input.objects.len(), 1);
}

#[test]
fn pod_spec_field_kubernetes_does_not_know_is_refused() {
    let err = refused(&format!("{POD}spec:\n  containers: [{{name: c}}]\n  hostNetwrok: true\n"));
    assert_eq!(err.field.as_deref(), Some("spec.hostNetwrok"), "{err}");
    assert!(err.message.contains("did you mean `hostNetwork`?"), "{err}");
}

#[test]
fn container_field_kubernetes_does_not_know_is_refused() {
    let err = refused(&format!("{POD}spec:\n  containers:\n  - name: c\n    port: [{{containerPort: 80}}]\n"));
    assert_eq!(err.field.as_deref(), Some("spec.containers[0].port"), "{err}");
    assert!(err.message.contains("did you mean `ports`?"), "{err}");
}

#[test]
fn container_port_unknown_field_is_refused() {
    let err = refused(&format!("{POD}spec:\n  containers:\n  - name: c\n    ports: [{{containerport: 80}}]\n"));
    assert_eq!(err.field.as_deref(), Some("spec.containers[0].ports[0].containerport"), "{err}");
    assert!(err.message.contains("did you mean `containerPort`?"), "{err}");
}

#[test]
fn workload_template_checked_against_the_full_workload_type() {
    let ok = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  replicas: 3\n  selector: {matchLabels: {app: d}}\n  strategy: {type: RollingUpdate}\n  template:\n    metadata: {labels: {app: d}}\n    spec:\n      containers: [{name: c, image: x, resources: {limits: {cpu: 1}}}]\n";
    load_str("d.yaml", ok).expect("a well-formed deployment loads");
    let bad = ok.replace("  replicas: 3", "  replicaz: 3");
    let err = refused(&bad);
    assert_eq!(err.field.as_deref(), Some("spec.replicaz"), "{err}");
    let bad = ok.replace("    spec:\n", "    spec:\n      serviceAcountName: x\n");
    let err = refused(&bad);
    assert_eq!(err.field.as_deref(), Some("spec.template.spec.serviceAcountName"), "{err}");
    assert!(err.message.contains("did you mean `serviceAccountName`?"), "{err}");
}

#[test]
fn cronjob_template_is_checked_at_its_own_place() {
    let text = "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: c}\nspec:\n  schedule: '* * * * *'\n  jobTemplate:\n    spec:\n      backoffLimit: 1\n      template:\n        spec:\n          restartPolicy: Never\n          containers: [{name: c, imag: x}]\n";
    let err = refused(text);
    assert_eq!(err.field.as_deref(), Some("spec.jobTemplate.spec.template.spec.containers[0].imag"), "{err}");
}
