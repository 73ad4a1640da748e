//! A collector of a new kind of target, added in one module (`toy`) and one registration line, is
//! judged by the engine and reported in every format without any other change: JSON (schema-valid,
//! with a digest that verifies), SARIF (schema-valid), JUnit, Markdown and HTML.

mod common;
mod toy;

use common::Shared;
use serde_json::Value;
use vigil::collect::{Endpoint, Registry};
use vigil::engine::{self, ScanOptions};
use vigil::policy::PolicySet;
use vigil::report::{self, Format, Style};
use vigil::results::Sink;

const POLICY: &str = r#"policy: memory-tls
title: In-memory endpoints
version: 1.0.0
controls:
  - id: MEM-001
    title: No legacy protocol is offered
    severity: high
    references: {NIST-800-53r5: [SC-8]}
    rationale: SSLv3 and TLS 1.0 are broken.
    remediation: Offer TLS 1.2 and 1.3 only.
    target: {kind: memory_endpoint}
    check:
      each: "protocols[*]"
      check: {key: name, in: [TLSv1.2, TLSv1.3]}
  - id: MEM-002
    title: Production endpoints staple OCSP responses
    severity: medium
    references: {NIST-800-53r5: [SC-17]}
    rationale: Stapling spares clients a lookup that leaks who they talk to.
    remediation: Turn stapling on.
    target: {kind: memory_endpoint, tags: [prod]}
    check: {key: ocsp_stapling, equals: true}
"#;

fn endpoint(name: &str, tags: &[&str]) -> Endpoint {
    let (host, port) = name.rsplit_once(':').unwrap();
    Endpoint {
        name: name.into(),
        host: host.into(),
        port: port.parse().unwrap(),
        tags: tags.iter().map(|t| t.to_string()).collect(),
        ..Endpoint::default()
    }
}

#[test]
fn a_new_collector_reaches_every_format_unchanged() {
    let registry = Registry::builtin().with(toy::MemoryEndpoints);
    let policies =
        PolicySet::from_texts_with(&registry, [("memory.yaml".to_string(), POLICY.to_string())])
            .expect("the policy names the new kind and loads");
    let opts = ScanOptions {
        endpoints: vec![
            endpoint("alpha.example:443", &["prod"]),
            endpoint("beta.example:443", &["prod"]),
            endpoint("gamma.example:443", &[]),
        ],
        at: Some(vigil::cli::parse_at(common::AT).unwrap()),
        ..ScanOptions::default()
    };
    let formats = [
        Format::Json,
        Format::Sarif,
        Format::Junit,
        Format::Markdown,
        Format::Html,
    ];
    let outputs: Vec<Shared> = formats.iter().map(|_| Shared::default()).collect();
    let style = Style::plain(false);
    let sinks: Vec<Box<dyn Sink>> = formats
        .iter()
        .zip(&outputs)
        .map(|(f, o)| report::sink(*f, Box::new(o.clone()), &style))
        .collect();
    let outcome = engine::scan_with(&registry, &policies, &opts, sinks).expect("the scan runs");
    assert_eq!(outcome.trailer.inventory.endpoints, 3);

    // JSON: one verdict per failing element, an error for the endpoint that did not answer, and
    // the tag selector keeps MEM-002 off the untagged endpoint.
    let json_text = outputs[0].text();
    let json: Value = serde_json::from_str(&json_text).unwrap();
    let lines = common::lines(&json);
    common::assert_lines(
        &lines,
        &[
            "MEM-001 pass alpha.example:443",
            "MEM-001 fail beta.example:443 protocol TLSv1.0",
            "MEM-001 fail beta.example:443 protocol SSLv3",
            "MEM-001 error gamma.example:443",
            "MEM-002 pass alpha.example:443",
            "MEM-002 fail beta.example:443",
        ],
    );
    let findings = json["findings"].as_array().unwrap();
    assert!(
        findings
            .iter()
            .all(|f| f["target"]["kind"] == "memory_endpoint" && f["target"]["file"].is_null())
    );
    let error = findings.iter().find(|f| f["state"] == "error").unwrap();
    assert_eq!(error["message"], "gamma.example:443 did not answer");
    let schema: Value = serde_json::from_str(include_str!("../docs/results.schema.json")).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&json)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    let dir = tempfile::tempdir().unwrap();
    let saved = dir.path().join("results.json");
    std::fs::write(&saved, &json_text).unwrap();
    assert_eq!(
        vigil::integrity::verify_file(&saved).unwrap(),
        outcome.trailer.integrity.digest
    );

    // SARIF: endpoints are logical locations; the document is valid SARIF 2.1.0.
    let sarif: Value = serde_json::from_str(&outputs[1].text()).unwrap();
    let sarif_schema: Value =
        serde_json::from_str(include_str!("../testdata/sarif-schema-2.1.0.json")).unwrap();
    let sarif_errors: Vec<String> = jsonschema::validator_for(&sarif_schema)
        .unwrap()
        .iter_errors(&sarif)
        .map(|e| e.to_string())
        .collect();
    assert!(sarif_errors.is_empty(), "{sarif_errors:#?}");
    // The two passes are counted, not results: code scanning would raise an alert for each.
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), 4);
    assert!(results.iter().all(|r| r["kind"] != "pass"));
    assert_eq!(
        sarif["runs"][0]["properties"]["verdictsLeftOut"],
        serde_json::json!({"notApplicable": 0, "pass": 2})
    );
    let beta_sslv3 = results
        .iter()
        .find(|r| {
            r["locations"][0]["logicalLocations"][1]["fullyQualifiedName"]
                == "beta.example:443/protocol SSLv3"
        })
        .expect("the failing element is a logical location");
    assert_eq!(
        beta_sslv3["locations"][0]["logicalLocations"][0]["fullyQualifiedName"],
        "beta.example:443"
    );
    assert_eq!(beta_sslv3["kind"], "fail");

    // JUnit: a suite for the policy, a failure per failing element, an error for the silent one.
    let junit = outputs[2].text();
    assert!(junit.contains(
        "<testsuite name=\"memory-tls 1.0.0\" tests=\"6\" skipped=\"0\" errors=\"1\" failures=\"3\">"
    ));
    assert!(junit.contains("<testcase name=\"MEM-001 beta.example:443 protocol SSLv3\""));

    // Markdown and HTML: the endpoint and its element are shown, escaped like any scanned value.
    let md = outputs[3].text();
    assert!(md.contains("| high | fail | `MEM-001` No legacy protocol is offered | beta.example:443 protocol SSLv3 |"), "{md}");
    let html = outputs[4].text();
    assert!(html.contains("beta.example:443 protocol SSLv3"));
    assert!(
        html.contains("<td>endpoints</td><td>3</td>") || html.contains(">endpoints<"),
        "the inventory counts endpoints"
    );
}

#[test]
fn a_policy_for_an_unregistered_kind_is_rejected_with_its_position() {
    let err = PolicySet::from_texts([("memory.yaml".to_string(), POLICY.to_string())])
        .expect_err("the built-in registry has no memory_endpoint collector");
    let text = err.to_string();
    assert!(
        text.contains("memory.yaml:11:20: error: unknown target kind `memory_endpoint`"),
        "{text}"
    );
}
