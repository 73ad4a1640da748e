//! Kubernetes manifests: YAML documents that have `apiVersion` and `kind`, and JSON ones, which
//! are YAML too (`kubectl apply -f` takes both).
//!
//! Each object becomes one fact document: the manifest's own fields, plus two derived fields that
//! let one control cover every workload kind:
//! - `podSpec`: the pod template, wherever the kind keeps it (`spec` for a Pod,
//!   `spec.template.spec` for Deployments, StatefulSets, DaemonSets, ReplicaSets, Jobs and
//!   ReplicationControllers, `spec.jobTemplate.spec.template.spec` for CronJobs, `template.spec`
//!   for a PodTemplate), and for any other kind that keeps a pod template (a mapping with a
//!   `containers` list) at one of the first two places: Argo Rollouts, OpenShift
//!   DeploymentConfigs, Knative Services and the workloads of operators;
//! - `containers`: every container of that pod: `containers`, then `initContainers`, then
//!   `ephemeralContainers`, each keeping its own line numbers, with two derived fields of its own:
//!   `role` (`container`, `init` or `ephemeral`) and `effectiveSecurityContext`, the container's
//!   `securityContext` with the pod-level fields it does not override filled in from the pod's
//!   (`runAsUser`, `runAsGroup`, `runAsNonRoot`, `seccompProfile`, `seLinuxOptions`,
//!   `appArmorProfile`, `windowsOptions`), as the kubelet applies them; each value keeps the line it
//!   was written on, the container's or the pod's.
//!
//! Containers, volumes and sysctls are named as elements (`container "web"`), so a check over every
//! container gives a failing container a finding of its own.
//!
//! `kind: List` and typed lists (`DeploymentList`) are unpacked into their items (an item without
//! `kind` or `apiVersion` takes the list's). Documents that are not Kubernetes objects (no
//! `apiVersion` or `kind`) produce nothing, so a Kubernetes control is not applicable to them; so
//! does a file that cannot be parsed and does not name both keys, such as a CI configuration with a
//! duplicate key: no reading of it would give an object.

use super::ParseError;
use crate::collect::Fields;
use crate::doc::{Map, Node, Value};

/// One Kubernetes object: its fact document and a label such as `Deployment/web`.
pub struct Object {
    /// The manifest with the derived `podSpec` and `containers` fields.
    pub root: Node,
    /// `Kind/name` (with the namespace when set: `Kind/namespace/name`).
    pub label: String,
}

/// Parses a multi-document manifest file. `fields` are the fields the controls read: when none
/// reads `spec`, the pod template is moved to `podSpec` rather than copied, and `spec` is left
/// without it.
pub fn parse(text: &str, fields: &Fields) -> Result<Vec<Object>, ParseError> {
    // An object names both keys, so text without either word holds none: most YAML and JSON files
    // of a repository (CI configurations, package manifests, editor settings) are not parsed.
    if !(text.contains("apiVersion") && text.contains("kind")) {
        return Ok(Vec::new());
    }
    let docs = match crate::yaml::parse_documents(text) {
        Ok(docs) => docs,
        Err(_) if !could_be_manifest(text) => return Ok(Vec::new()),
        Err(e) => {
            let mut e = ParseError::from(e);
            if let Some(line) = template_action_line(text) {
                e.message = format!(
                    "{}; the file holds template actions (`{{{{ … }}}}` from line {line}): a Helm \
                     chart's template is judged once rendered (`helm template CHART --output-dir \
                     DIR`, then scan DIR), or left out with `--exclude`",
                    e.message
                );
            }
            return Err(e);
        }
    };
    let mut out = Vec::new();
    let keep_spec = fields.contains("spec");
    for doc in docs {
        collect(doc, keep_spec, &mut out);
    }
    Ok(out)
}

/// Whether text that could not be parsed may still hold a Kubernetes object: it names both
/// `apiVersion` and `kind` as keys, in block or flow style, quoted or not.
fn could_be_manifest(text: &str) -> bool {
    let names_key = |key: &str| {
        text.match_indices(key).any(|(i, _)| {
            text[i + key.len()..]
                .trim_start_matches(['"', '\''])
                .trim_start_matches([' ', '\t'])
                .starts_with(':')
        })
    };
    names_key("apiVersion") && names_key("kind")
}

/// The first line outside a comment that holds a Go or Jinja template action (`{{`): text that
/// failed to parse because it is a template (Helm's `templates/`), not a manifest.
fn template_action_line(text: &str) -> Option<usize> {
    text.lines()
        .position(|l| !l.trim_start().starts_with('#') && l.contains("{{"))
        .map(|i| i + 1)
}

/// The node at `path` under `root`.
fn node_at<'d>(root: &'d Node, path: &[&str]) -> Option<&'d Node> {
    path.iter().try_fold(root, |n, k| n.get(k))
}

/// The node at `path` under `root`, taken out of it (a null stands in its place).
fn take_at(root: &mut Node, path: &[&str]) -> Option<Node> {
    let mut node = root;
    for key in path {
        node = match &mut node.value {
            Value::Map(m) => m.get_mut(key)?,
            _ => return None,
        };
    }
    let pos = node.pos;
    Some(std::mem::replace(node, Node::new(pos, Value::Null)))
}

fn collect(doc: Node, keep_spec: bool, out: &mut Vec<Object>) {
    let (Some(kind), Some(_)) = (
        doc.get("kind").and_then(Node::as_str).map(str::to_string),
        doc.get("apiVersion"),
    ) else {
        return;
    };
    if let Some(item_kind) = kind.strip_suffix("List") {
        let api = doc.get("apiVersion").cloned();
        if let Some(items) = doc.get("items").and_then(Node::as_list) {
            for item in items {
                let mut item = item.clone();
                if let (Value::Map(m), false) = (&mut item.value, item_kind.is_empty()) {
                    if m.get("kind").is_none() {
                        m.insert("kind", Node::str(item.pos, item_kind));
                    }
                    if let (None, Some(api)) = (m.get("apiVersion"), &api) {
                        m.insert("apiVersion", api.clone());
                    }
                }
                collect(item, keep_spec, out);
            }
        }
        return;
    }
    let meta = doc.get("metadata");
    let name = meta
        .and_then(|m| m.get("name"))
        .and_then(Node::as_str)
        .unwrap_or("(unnamed)");
    let label = match meta.and_then(|m| m.get("namespace")).and_then(Node::as_str) {
        Some(ns) => format!("{kind}/{ns}/{name}"),
        None => format!("{kind}/{name}"),
    };
    let pod_path = pod_template_path(&kind, &doc);
    let mut root = doc;
    let pod = if pod_path.is_empty() {
        None
    } else if keep_spec {
        node_at(&root, pod_path).cloned()
    } else {
        take_at(&mut root, pod_path)
    };
    let pod = pod.map(|mut pod| {
        label_pod_elements(&mut pod);
        pod
    });
    if let (Some(pod), Value::Map(map)) = (pod, &mut root.value) {
        let mut containers = Vec::new();
        let pod_context = pod.get("securityContext").and_then(Node::as_map);
        for (field, role) in [
            ("containers", "container"),
            ("initContainers", "init"),
            ("ephemeralContainers", "ephemeral"),
        ] {
            if let Some(list) = pod.get(field).and_then(Node::as_list) {
                containers.extend(
                    list.iter()
                        .cloned()
                        .map(|c| with_derived_fields(c, role, pod_context)),
                );
            }
        }
        let pos = pod.pos;
        map.insert("podSpec", pod);
        map.insert("containers", Node::new(pos, Value::List(containers)));
    }
    out.push(Object { root, label });
}

/// Where the pod template of a workload is kept.
const POD_TEMPLATE: [&str; 3] = ["spec", "template", "spec"];
const JOB_POD_TEMPLATE: [&str; 5] = ["spec", "jobTemplate", "spec", "template", "spec"];

/// Where an object of `kind` keeps its pod: the built-in workload kinds by name, and any other
/// kind (Argo Rollouts, OpenShift DeploymentConfigs, Knative Services, operators' own workloads)
/// by shape: a pod template where Kubernetes' own workloads keep theirs, that is a mapping with a
/// `containers` list. A core `Service` keeps no `spec.template`, so the name alone never decides.
fn pod_template_path(kind: &str, doc: &Node) -> &'static [&'static str] {
    match kind {
        "Pod" => &["spec"],
        "Deployment"
        | "StatefulSet"
        | "DaemonSet"
        | "ReplicaSet"
        | "Job"
        | "ReplicationController" => &POD_TEMPLATE,
        "CronJob" => &JOB_POD_TEMPLATE,
        "PodTemplate" => &["template", "spec"],
        _ => {
            let holds_pod = |path: &[&str]| {
                node_at(doc, path)
                    .and_then(|pod| pod.get("containers"))
                    .and_then(Node::as_list)
                    .is_some()
            };
            if holds_pod(&POD_TEMPLATE) {
                &POD_TEMPLATE
            } else if holds_pod(&JOB_POD_TEMPLATE) {
                &JOB_POD_TEMPLATE
            } else {
                &[]
            }
        }
    }
}

/// Pod-level security settings a container inherits unless it sets its own.
const INHERITED_CONTEXT: [&str; 7] = [
    "runAsUser",
    "runAsGroup",
    "runAsNonRoot",
    "seccompProfile",
    "seLinuxOptions",
    "appArmorProfile",
    "windowsOptions",
];

/// A container with its `role` and `effectiveSecurityContext`.
fn with_derived_fields(mut container: Node, role: &str, pod_context: Option<&Map>) -> Node {
    let pos = container.pos;
    let Value::Map(map) = &mut container.value else {
        return container;
    };
    let own = map.get("securityContext");
    let mut effective = match own.and_then(Node::as_map) {
        Some(m) => m.clone(),
        None => Map::new(),
    };
    let at = own.map_or(pos, |n| n.pos);
    if let Some(pod) = pod_context {
        for key in INHERITED_CONTEXT {
            if effective.get(key).is_none()
                && let Some(v) = pod.get(key)
            {
                effective.insert(key, v.clone());
            }
        }
    }
    map.insert("role", Node::str(pos, role));
    map.insert(
        "effectiveSecurityContext",
        Node::new(at, Value::Map(effective)),
    );
    container
}

/// The element lists of a pod spec and what their items are called.
const POD_ELEMENTS: [(&str, &str); 4] = [
    ("containers", "container"),
    ("initContainers", "init container"),
    ("ephemeralContainers", "ephemeral container"),
    ("volumes", "volume"),
];

/// Names the containers, volumes and sysctls of a pod spec: `container "web"`, or
/// `container #2` when it has no name.
fn label_pod_elements(pod: &mut Node) {
    let Value::Map(map) = &mut pod.value else {
        return;
    };
    for (field, what) in POD_ELEMENTS {
        if let Some(list) = map.get_mut(field) {
            label_items(list, what);
        }
    }
    if let Some(Value::Map(ctx)) = map.get_mut("securityContext").map(|n| &mut n.value) {
        if let Some(sysctls) = ctx.get_mut("sysctls") {
            label_items(sysctls, "sysctl");
        }
    }
}

fn label_items(list: &mut Node, what: &str) {
    let Value::List(items) = &mut list.value else {
        return;
    };
    for (i, item) in items.iter_mut().enumerate() {
        if let Value::Map(m) = &mut item.value {
            let label = match m.get("name").and_then(Node::as_str) {
                Some(name) => format!("{what} \"{name}\""),
                None => format!("{what} #{}", i + 1),
            };
            m.set_label(label);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_text_that_names_both_keys_can_fail_as_a_manifest() {
        // A CI configuration with a duplicate key is not a manifest.
        let ci = "task:\n  name: test\ntask:\n  name: lint\n";
        assert!(parse(ci, &Fields::All).unwrap().is_empty());
        // A manifest that cannot be parsed is an error, in block or flow style.
        for broken in [
            "apiVersion: v1\nkind: Pod\nkind: Service\n",
            "{\"apiVersion\": \"v1\", \"kind\": \"Pod\", \"kind\": \"Pod\"}",
            "apiVersion : v1\nkind:\n  - [unclosed\n",
        ] {
            assert!(parse(broken, &Fields::All).is_err(), "{broken}");
        }
        // Naming one key only is not enough to be a manifest.
        let half = "kind: task\nkind: lint\n";
        assert!(parse(half, &Fields::All).unwrap().is_empty());
    }

    #[test]
    fn derives_pod_fields_for_every_workload_kind() {
        let text = "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: nightly, namespace: ops}\nspec:\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          initContainers: [{name: init, image: busybox}]\n          containers:\n            - name: main\n              image: app:latest\n---\napiVersion: v1\nkind: Service\nmetadata: {name: svc}\n---\nnot: kubernetes\n";
        let objs = parse(text, &Fields::All).unwrap();
        assert_eq!(objs.len(), 2);
        assert_eq!(objs[0].label, "CronJob/ops/nightly");
        let c = objs[0].root.get("containers").unwrap().as_list().unwrap();
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].get("name").unwrap().as_str(), Some("main"));
        assert_eq!(c[0].pos.line, 11);
        assert_eq!(c[0].as_map().unwrap().label(), Some("container \"main\""));
        assert_eq!(
            c[1].as_map().unwrap().label(),
            Some("init container \"init\"")
        );
        assert!(objs[1].root.get("podSpec").is_none());
    }

    #[test]
    fn a_template_that_cannot_be_parsed_says_it_is_one() {
        let helm = "# {{ a comment }}\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ include \"app.fullname\" . }}\n  labels:\n    {{- include \"app.labels\" . | nindent 4 }}\n";
        let e = parse(helm, &Fields::All).err().unwrap();
        assert_eq!(e.line, 5);
        assert!(
            e.message
                .contains("template actions (`{{ … }}` from line 5)")
                && e.message.contains("helm template CHART"),
            "{e:?}"
        );
        // A template that happens to parse is judged as what it says.
        let quoted = "apiVersion: v1\nkind: Pod\nmetadata: {name: \"{{ .Values.name }}\"}\nspec: {containers: []}\n";
        assert_eq!(parse(quoted, &Fields::All).unwrap().len(), 1);
        // Any other manifest that cannot be parsed keeps the reader's message alone.
        let e = parse("apiVersion: v1\nkind: Pod\nkind: Pod\n", &Fields::All)
            .err()
            .unwrap();
        assert!(!e.message.contains("template"), "{e:?}");
    }

    #[test]
    fn other_kinds_with_a_pod_template_are_workloads() {
        let text = "apiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata: {name: web}\nspec:\n  strategy: {canary: {}}\n  template:\n    spec:\n      containers: [{name: app, image: web:1}]\n---\napiVersion: v1\nkind: List\nitems:\n  - apiVersion: apps.openshift.io/v1\n    kind: DeploymentConfig\n    metadata: {name: dc}\n    spec:\n      template:\n        spec:\n          containers: [{name: a}, {name: b}]\n---\napiVersion: serving.knative.dev/v1\nkind: Service\nmetadata: {name: hello}\nspec:\n  template:\n    spec:\n      containers: [{image: hello}]\n---\napiVersion: example.com/v1\nkind: Nightly\nmetadata: {name: report}\nspec:\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          containers: [{name: report}]\n---\napiVersion: v1\nkind: PodTemplate\nmetadata: {name: tpl}\ntemplate:\n  spec:\n    containers: [{name: t}]\n---\napiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata: {name: by-reference}\nspec:\n  workloadRef: {kind: Deployment, name: web}\n---\napiVersion: example.com/v1\nkind: Template\nmetadata: {name: not-a-pod}\nspec:\n  template:\n    spec: {replicas: 2}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: svc}\nspec:\n  ports: [{port: 80}]\n";
        let objs = parse(text, &Fields::All).unwrap();
        let containers = |o: &Object| {
            o.root
                .get("containers")
                .and_then(Node::as_list)
                .map(|c| c.len())
        };
        let found: Vec<(&str, Option<usize>)> = objs
            .iter()
            .map(|o| (o.label.as_str(), containers(o)))
            .collect();
        assert_eq!(
            found,
            [
                ("Rollout/web", Some(1)),
                ("DeploymentConfig/dc", Some(2)),
                ("Service/hello", Some(1)),
                ("Nightly/report", Some(1)),
                ("PodTemplate/tpl", Some(1)),
                ("Rollout/by-reference", None),
                ("Template/not-a-pod", None),
                ("Service/svc", None),
            ]
        );
        assert_eq!(
            objs[0].root.get("podSpec").unwrap().pos.line,
            8,
            "the pod template keeps its position, its first key's"
        );
    }

    #[test]
    fn the_pod_template_is_moved_only_when_no_control_reads_spec() {
        let text = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  replicas: 2\n  template:\n    spec:\n      hostNetwork: true\n      containers: [{name: app, image: nginx}]\n";
        let full = parse(text, &Fields::All).unwrap();
        let mut read = Fields::none();
        read.add("podSpec");
        read.add("containers");
        let lean = parse(text, &read).unwrap();
        for key in ["podSpec", "containers", "metadata"] {
            assert_eq!(lean[0].root.get(key), full[0].root.get(key), "{key}");
        }
        let template = |o: &Object| {
            o.root
                .get("spec")
                .unwrap()
                .get("template")
                .unwrap()
                .get("spec")
                .cloned()
        };
        let host_network = |n: Option<Node>| n.and_then(|t| t.get("hostNetwork").cloned());
        assert_eq!(
            host_network(template(&full[0])).map(|n| n.value),
            Some(Value::Bool(true)),
            "copied when `spec` may be read"
        );
        assert_eq!(
            template(&lean[0]).map(|n| n.value),
            Some(Value::Null),
            "moved otherwise"
        );
        read.add("spec");
        let kept = parse(text, &read).unwrap();
        assert_eq!(kept[0].root.get("spec"), full[0].root.get("spec"));
    }

    #[test]
    fn containers_inherit_the_pod_security_context_they_do_not_override() {
        let text = "apiVersion: apps/v1\nkind: DeploymentList\nitems:\n  - metadata: {name: web}\n    spec:\n      template:\n        spec:\n          securityContext:\n            runAsNonRoot: true\n            runAsUser: 0\n            seccompProfile: {type: RuntimeDefault}\n          containers:\n            - name: app\n              securityContext: {runAsUser: 1000, allowPrivilegeEscalation: false}\n            - name: sidecar\n          ephemeralContainers:\n            - name: debug\n              securityContext: {seccompProfile: {type: Unconfined}}\n";
        let objs = parse(text, &Fields::All).unwrap();
        assert_eq!(objs.len(), 1, "a typed list is unpacked");
        assert_eq!(objs[0].label, "Deployment/web");
        let c = objs[0].root.get("containers").unwrap().as_list().unwrap();
        let ctx = |i: usize, key: &str| {
            let n = c[i]
                .get("effectiveSecurityContext")
                .unwrap()
                .get(key)
                .unwrap();
            (
                n.value.scalar_text().unwrap_or_default().to_string(),
                n.pos.line,
            )
        };
        assert_eq!(
            ctx(0, "runAsUser"),
            ("1000".into(), 14),
            "the container's own"
        );
        assert_eq!(
            ctx(0, "runAsNonRoot"),
            ("true".into(), 9),
            "the pod's, at its line"
        );
        assert_eq!(ctx(1, "runAsUser"), ("0".into(), 10));
        let seccomp = |i: usize| {
            c[i].get("effectiveSecurityContext")
                .unwrap()
                .get("seccompProfile")
                .unwrap()
                .get("type")
                .unwrap()
                .as_str()
                .unwrap()
                .to_string()
        };
        assert_eq!(seccomp(1), "RuntimeDefault");
        assert_eq!(seccomp(2), "Unconfined");
        let roles: Vec<&str> = c
            .iter()
            .map(|x| x.get("role").unwrap().as_str().unwrap())
            .collect();
        assert_eq!(roles, ["container", "container", "ephemeral"]);
    }
}
