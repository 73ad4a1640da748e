//! The keys that recur in nearly every manifest, kept as constants so that reading them costs no
//! allocation.
//!
//! A Kubernetes manifest of 2 KB holds about sixty keys, and a handful of names (`name`, `image`,
//! `securityContext`, `resources`, `cpu`, `memory`, …) make up most of them. A map key is a
//! `Cow<'static, str>`: a key found here is borrowed from this table, any other is copied from the
//! text. The table only saves allocations; which keys it holds changes no result.

use std::borrow::Cow;

/// `word` as a map key: borrowed from the table when it is one of the common keys, copied otherwise.
pub(super) fn key(word: &str) -> Cow<'static, str> {
    match common(word) {
        Some(known) => Cow::Borrowed(known),
        None => Cow::Owned(word.to_string()),
    }
}

/// Defines [`common`] as one `match` over the key literals: the compiler turns it into a dispatch on
/// length and a few comparisons, and warns if a key is listed twice.
macro_rules! common_keys {
    ($($key:literal),* $(,)?) => {
        /// The table's copy of `word`, when it holds one.
        fn common(word: &str) -> Option<&'static str> {
            match word {
                $($key => Some($key),)*
                _ => None,
            }
        }
    };
}

// The fields of Kubernetes workloads (objects, pod templates, containers, probes, volumes, security
// contexts) and of CI workflows.
common_keys![
    // Every object.
    "apiVersion",
    "kind",
    "metadata",
    "name",
    "namespace",
    "labels",
    "annotations",
    "app",
    "spec",
    "data",
    "type",
    // Workloads and their pod templates.
    "replicas",
    "selector",
    "matchLabels",
    "template",
    "strategy",
    "schedule",
    "jobTemplate",
    "concurrencyPolicy",
    "restartPolicy",
    "serviceName",
    "serviceAccountName",
    "automountServiceAccountToken",
    "terminationGracePeriodSeconds",
    "nodeSelector",
    "tolerations",
    "affinity",
    "hostNetwork",
    "hostPID",
    "hostIPC",
    // Containers.
    "containers",
    "initContainers",
    "ephemeralContainers",
    "image",
    "imagePullPolicy",
    "command",
    "args",
    "env",
    "value",
    "valueFrom",
    "secretKeyRef",
    "configMapKeyRef",
    "key",
    "ports",
    "port",
    "containerPort",
    "targetPort",
    "protocol",
    "resources",
    "limits",
    "requests",
    "cpu",
    "memory",
    "volumeMounts",
    "mountPath",
    "readOnly",
    // Probes.
    "livenessProbe",
    "readinessProbe",
    "startupProbe",
    "httpGet",
    "path",
    "initialDelaySeconds",
    "periodSeconds",
    // Volumes.
    "volumes",
    "emptyDir",
    "medium",
    "configMap",
    "secret",
    "secretName",
    "hostPath",
    "persistentVolumeClaim",
    "claimName",
    // Security contexts.
    "securityContext",
    "privileged",
    "allowPrivilegeEscalation",
    "readOnlyRootFilesystem",
    "runAsNonRoot",
    "runAsUser",
    "runAsGroup",
    "fsGroup",
    "capabilities",
    "add",
    "drop",
    "seccompProfile",
    // CI workflows.
    "on",
    "jobs",
    "steps",
    "uses",
    "with",
    "run",
    "runs-on",
    "permissions",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_keys_are_borrowed_and_others_copied_with_the_same_text() {
        for word in ["name", "securityContext", "runs-on", "cpu"] {
            let k = key(word);
            assert!(
                matches!(k, Cow::Borrowed(_)),
                "{word} should be in the table"
            );
            assert_eq!(k, word);
        }
        for word in ["Name", "names", "nam", "securitycontext", "x-custom", ""] {
            let k = key(word);
            assert!(matches!(k, Cow::Owned(_)), "{word} should be copied");
            assert_eq!(k, word);
        }
    }
}
