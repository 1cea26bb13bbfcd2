//! Which admission plugins a kube-apiserver runs, decided from its flags the way the
//! server decides (`pkg/kubeapiserver/options/admission.go` and `plugins.go`, and
//! `k8s.io/apiserver/pkg/server/options/admission.go`):
//!
//! - `--enable-admission-plugins` adds plugins to those on by default
//!   (those marked so in [`PLUGINS`]); `--disable-admission-plugins` takes plugins away from them.
//! - The deprecated `--admission-control` runs exactly the plugins it lists (every other
//!   one is disabled, the default ones too); it cannot be given with either of the two.
//! - A name the server does not register ([`PLUGINS`]), a plugin both enabled and
//!   disabled, or both styles together, and the server refuses to start: an input error.
use std::collections::BTreeSet;

use podwall_load::InputError;

use crate::flags::Flags;

/// Every admission plugin kube-apiserver registers (its `AllOrderedPlugins`), each with
/// whether it is on when neither flag names it (the server's
/// `DefaultOffAdmissionPlugins` are the others). A name added by a release newer than
/// the server's is accepted here too, since the flags do not say which version reads
/// them.
pub const PLUGINS: &[(&str, bool)] = &[
    ("AlwaysAdmit", false),
    ("NamespaceAutoProvision", false),
    ("NamespaceLifecycle", true),
    ("NamespaceExists", false),
    ("LimitPodHardAntiAffinityTopology", false),
    ("LimitRanger", true),
    ("ServiceAccount", true),
    ("NodeRestriction", false),
    ("TaintNodesByCondition", true),
    ("AlwaysPullImages", false),
    ("ImagePolicyWebhook", false),
    ("PodSecurity", true),
    ("PodNodeSelector", false),
    ("Priority", true),
    ("DefaultTolerationSeconds", true),
    ("PodTolerationRestriction", false),
    ("EventRateLimit", false),
    ("ExtendedResourceToleration", false),
    ("DefaultStorageClass", true),
    ("StorageObjectInUseProtection", true),
    ("PodGroupProtection", true),
    ("OwnerReferencesPermissionEnforcement", false),
    ("PersistentVolumeClaimResize", true),
    ("RuntimeClass", true),
    ("CertificateApproval", true),
    ("CertificateSigning", true),
    ("ClusterTrustBundleAttest", true),
    ("CertificateSubjectRestriction", true),
    ("DefaultIngressClass", true),
    ("DenyServiceExternalIPs", false),
    ("PodTopologyLabels", true),
    ("PodGroupWorkloadExists", true),
    ("NodeDeclaredFeatureValidator", true),
    ("JobValidation", true),
    ("PodResizeValidator", true),
    ("MutatingAdmissionPolicy", true),
    ("MutatingAdmissionWebhook", true),
    ("ValidatingAdmissionPolicy", true),
    ("ValidatingAdmissionWebhook", true),
    ("ResourceQuota", true),
    ("AlwaysDeny", false),
];

/// Plugins the server no longer has, with the release that removed them.
const REMOVED: &[(&str, &str)] =
    &[("PodSecurityPolicy", "v1.25"), ("SecurityContextDeny", "v1.30"), ("PersistentVolumeLabel", "v1.31")];

/// Which flag decides a plugin's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Why {
    /// Neither flag names it: its default.
    Default,
    /// Named by `--enable-admission-plugins`.
    Enabled,
    /// Named by `--disable-admission-plugins`.
    Disabled,
    /// `--admission-control` is given: it runs exactly the plugins it lists.
    Legacy,
}

/// The admission plugins a server runs.
#[derive(Clone, Debug)]
pub struct Admission {
    on: BTreeSet<String>,
    enabled: BTreeSet<String>,
    disabled: BTreeSet<String>,
    legacy: bool,
}

impl Admission {
    /// Whether `plugin` runs.
    pub fn on(&self, plugin: &str) -> bool {
        self.on.contains(plugin)
    }

    /// Which flag decided `plugin`'s state.
    pub fn why(&self, plugin: &str) -> Why {
        if self.legacy {
            Why::Legacy
        } else if self.enabled.contains(plugin) {
            Why::Enabled
        } else if self.disabled.contains(plugin) {
            Why::Disabled
        } else {
            Why::Default
        }
    }

    /// `plugin`'s state in words, for a finding: "is disabled by
    /// --disable-admission-plugins", "is off by default and not enabled", ...
    pub fn state(&self, plugin: &str) -> String {
        let on = self.on(plugin);
        match (self.why(plugin), on) {
            (Why::Legacy, true) => "is enabled by --admission-control".into(),
            (Why::Legacy, false) => "is not listed in --admission-control, which runs only the plugins it lists".into(),
            (Why::Enabled, _) => "is enabled by --enable-admission-plugins".into(),
            (Why::Disabled, _) => "is disabled by --disable-admission-plugins".into(),
            (Why::Default, true) => "is on by default".into(),
            (Why::Default, false) => "is off by default and not in --enable-admission-plugins".into(),
        }
    }
}

/// The admission plugins `flags` run, or the error the server stops with.
pub fn read(flags: &Flags) -> Result<Admission, InputError> {
    let legacy = flags.items("admission-control")?;
    let enable = flags.items("enable-admission-plugins")?;
    let disable = flags.items("disable-admission-plugins")?;
    if legacy.is_some() && (enable.is_some() || disable.is_some()) {
        return Err(flags.refused(
            "--admission-control and --enable-admission-plugins/--disable-admission-plugins are mutually exclusive; kube-apiserver would not start".into(),
        ));
    }
    for (flag, names) in
        [("admission-control", &legacy), ("enable-admission-plugins", &enable), ("disable-admission-plugins", &disable)]
    {
        for name in names.iter().flatten() {
            if !PLUGINS.iter().any(|(p, _)| p == name) {
                let removed = REMOVED
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, v)| format!(" (it was removed in {v})"))
                    .unwrap_or_default();
                return Err(flags.refused(format!(
                    "--{flag}: admission plugin {name:?} is unknown{removed}; kube-apiserver would not start"
                )));
            }
        }
    }
    let set = |names: Option<Vec<String>>| names.unwrap_or_default().into_iter().collect::<BTreeSet<_>>();
    let (enabled, disabled) = (set(enable), set(disable));
    let both: Vec<&str> = enabled.intersection(&disabled).map(String::as_str).collect();
    if !both.is_empty() {
        return Err(flags.refused(format!(
            "{} in both --enable-admission-plugins and --disable-admission-plugins; kube-apiserver would not start",
            both.join(", ")
        )));
    }
    let is_legacy = legacy.is_some();
    let on = match legacy {
        Some(listed) => listed.into_iter().collect(),
        None => PLUGINS
            .iter()
            .filter(|(p, on)| *on && !disabled.contains(*p))
            .map(|(p, _)| p.to_string())
            .chain(enabled.iter().cloned())
            .collect(),
    };
    Ok(Admission { on, enabled, disabled, legacy: is_legacy })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_removed_plugin_is_registered() {
        for (p, _) in REMOVED {
            assert!(!PLUGINS.iter().any(|(q, _)| q == p), "{p}");
        }
        assert_eq!(PLUGINS.iter().filter(|(_, on)| *on).count(), 27, "on by default");
    }
}
