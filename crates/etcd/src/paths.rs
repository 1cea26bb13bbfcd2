//! Where kube-apiserver stores a resource in etcd: `<--etcd-prefix>/<resource prefix>/`
//! and then `<namespace>/<name>` or `<name>`. The resource prefix is upstream's
//! (`pkg/kubeapiserver/default_storage_factory_builder.go`, `SpecialDefaultResourcePrefixes`;
//! `DefaultStorageFactory.ResourcePrefix`): the lower-cased resource name for the
//! built-in groups, with a few historical names; the group and resource for the
//! apiextensions and aggregator servers' own objects and for custom resources
//! (`path.Join(group, plural)`).

/// The built-in resources stored under another name.
const SPECIAL: &[(&str, &str, &str)] = &[
    ("", "replicationcontrollers", "controllers"),
    ("", "endpoints", "services/endpoints"),
    ("", "nodes", "minions"),
    ("", "services", "services/specs"),
    ("extensions", "ingresses", "ingress"),
    ("networking.k8s.io", "ingresses", "ingress"),
    ("extensions", "podsecuritypolicies", "podsecuritypolicy"),
    ("policy", "podsecuritypolicies", "podsecuritypolicy"),
];

/// Groups served by kube-apiserver itself, whose resources are stored without the group.
const BUILT_IN: &[&str] = &[
    "",
    "admissionregistration.k8s.io",
    "apps",
    "authentication.k8s.io",
    "authorization.k8s.io",
    "autoscaling",
    "batch",
    "certificates.k8s.io",
    "coordination.k8s.io",
    "discovery.k8s.io",
    "events.k8s.io",
    "extensions",
    "flowcontrol.apiserver.k8s.io",
    "internal.apiserver.k8s.io",
    "networking.k8s.io",
    "node.k8s.io",
    "policy",
    "rbac.authorization.k8s.io",
    "resource.k8s.io",
    "scheduling.k8s.io",
    "storage.k8s.io",
    "storagemigration.k8s.io",
];

/// The etcd key prefix, ending in `/`, of `resource` as the encryption configuration
/// names it (`secrets`, `deployments.apps`, `widgets.example.com`), under the API
/// server's `--etcd-prefix` (`/registry` by default). A wildcard (`*.`, `*.apps`,
/// `*.*`) names no single prefix: an error saying so.
pub fn resource_prefix(etcd_prefix: &str, resource: &str) -> Result<String, String> {
    let (name, group) = resource.split_once('.').unwrap_or((resource, ""));
    if name == "*" || group == "*" {
        return Err(format!("{resource:?} is a wildcard: name the resources to rewrap with --resource"));
    }
    if name.is_empty() {
        return Err(format!("{resource:?} names no resource"));
    }
    let name = name.to_ascii_lowercase();
    let stored = match SPECIAL.iter().find(|(g, r, _)| *g == group && *r == name) {
        Some((_, _, p)) => p.to_string(),
        None if BUILT_IN.contains(&group) => name,
        None => format!("{group}/{name}"),
    };
    Ok(format!("{}/{stored}/", etcd_prefix.trim_end_matches('/')))
}

#[cfg(test)]
mod tests {
    use super::resource_prefix;

    #[test]
    fn built_in_resources_are_stored_under_their_name_without_the_group() {
        assert_eq!(resource_prefix("/registry", "secrets").unwrap(), "/registry/secrets/");
        assert_eq!(resource_prefix("/registry/", "configmaps").unwrap(), "/registry/configmaps/");
        assert_eq!(resource_prefix("/registry", "deployments.apps").unwrap(), "/registry/deployments/");
        assert_eq!(resource_prefix("/k8s", "leases.coordination.k8s.io").unwrap(), "/k8s/leases/");
    }

    #[test]
    fn special_default_resource_prefixes_are_upstreams() {
        assert_eq!(resource_prefix("/registry", "services").unwrap(), "/registry/services/specs/");
        assert_eq!(resource_prefix("/registry", "endpoints").unwrap(), "/registry/services/endpoints/");
        assert_eq!(resource_prefix("/registry", "nodes").unwrap(), "/registry/minions/");
        assert_eq!(resource_prefix("/registry", "replicationcontrollers").unwrap(), "/registry/controllers/");
        assert_eq!(resource_prefix("/registry", "ingresses.networking.k8s.io").unwrap(), "/registry/ingress/");
    }

    #[test]
    fn custom_and_aggregator_resources_are_stored_under_group_and_resource() {
        assert_eq!(resource_prefix("/registry", "widgets.example.com").unwrap(), "/registry/example.com/widgets/");
        assert_eq!(
            resource_prefix("/registry", "apiservices.apiregistration.k8s.io").unwrap(),
            "/registry/apiregistration.k8s.io/apiservices/"
        );
    }

    #[test]
    fn a_wildcard_names_no_prefix() {
        for w in ["*.", "*.apps", "*.*"] {
            assert!(resource_prefix("/registry", w).unwrap_err().contains("--resource"), "{w}");
        }
    }
}
