//! The certificate collector and the `certificates` pack against the generated fixtures in
//! testdata/certs (see make.sh there): the exact failures of every fixture, a failing and a passing
//! fixture for every control, bad input, a real chain against the system trust store, and key
//! material that never reaches an output. Every scan fixes the clock with `--at`.

mod common;

use std::collections::BTreeMap;

use common::{AT, assert_lines, scan_json, target_name, vigil};
use serde_json::Value;

const PACK: &str = "policies/certificates.yaml";
const ROOT: &str = "testdata/certs/ca/root.pem";

fn scan(paths: &[&str]) -> (i32, Value) {
    let mut args = paths.to_vec();
    args.extend(["--policy", PACK, "--trust-store", ROOT]);
    scan_json(&args)
}

/// The fact documents of one kind that `vigil facts` printed for its first file.
fn facts_of<'v>(v: &'v Value, kind: &str) -> Vec<&'v Value> {
    v[0]["documents"]
        .as_array()
        .expect("documents")
        .iter()
        .filter(|d| d["kind"] == kind)
        .collect()
}

fn findings(r: &Value) -> &Vec<Value> {
    r["findings"].as_array().expect("findings")
}

/// `CONTROL path:line` for every finding in `state`, by control (the pack's ids sort in control
/// order), then in result order.
fn in_state(r: &Value, state: &str) -> Vec<String> {
    let mut of_state: Vec<&Value> = findings(r).iter().filter(|f| f["state"] == state).collect();
    of_state.sort_by_key(|f| f["control"].as_str().unwrap().to_string());
    of_state
        .into_iter()
        .map(|f| {
            format!(
                "{} {}:{}",
                f["control"].as_str().unwrap(),
                target_name(f),
                f["location"]["line"]
                    .as_u64()
                    .map_or(String::new(), |l| l.to_string())
            )
        })
        .collect()
}

#[test]
fn each_fixture_fails_exactly_its_controls() {
    let (code, r) = scan(&["testdata/certs"]);
    assert_eq!(code, 1);
    assert_lines(
        &in_state(&r, "fail"),
        &[
            "CERT-001 testdata/certs/bad/negative-path-length-rsa-512.pem:1",
            "CERT-001 testdata/certs/chain/expired-intermediate.pem:20",
            "CERT-001 testdata/certs/defects/expired.pem:1",
            "CERT-001 testdata/certs/embedded/values.yaml:4",
            "CERT-001 testdata/certs/real/www.google.com-2023.pem:1",
            "CERT-001 testdata/certs/real/www.google.com-2023.pem:32",
            "CERT-001 testdata/certs/time/expired-utc-no-seconds.pem:1",
            "CERT-002 testdata/certs/defects/expires-in-17-days.pem:1",
            "CERT-003 testdata/certs/defects/expires-in-59-days.pem:1",
            "CERT-004 testdata/certs/defects/not-yet-valid.pem:1",
            "CERT-005 testdata/certs/bad/negative-path-length-rsa-512.pem:1",
            "CERT-005 testdata/certs/defects/rsa-1024.pem:1",
            "CERT-005 testdata/certs/self-signed/rsa-1024-sha256.pem:1",
            "CERT-006 testdata/certs/defects/ec-p224.pem:1",
            "CERT-007 testdata/certs/defects/md5-signature.pem:1",
            "CERT-007 testdata/certs/defects/sha1-signature.pem:1",
            "CERT-008 testdata/certs/defects/no-san.pem:1",
            "CERT-008 testdata/certs/defects/version-1.pem:1",
            "CERT-009 testdata/certs/defects/validity-730-days.pem:1",
            "CERT-010 testdata/certs/defects/leaf-ca-true.pem:1",
            "CERT-011 testdata/certs/bad/negative-path-length-rsa-512.pem:1",
            "CERT-011 testdata/certs/defects/self-signed.pem:1",
            "CERT-011 testdata/certs/self-signed/dsa-2048-sha256.pem:1",
            "CERT-011 testdata/certs/self-signed/ec-p256-sha512.pem:1",
            "CERT-011 testdata/certs/self-signed/ec-p521-sha512.pem:1",
            "CERT-011 testdata/certs/self-signed/ec-secp256k1-sha256.pem:1",
            "CERT-011 testdata/certs/self-signed/rsa-1024-sha256.pem:1",
            "CERT-011 testdata/certs/self-signed/rsa-2048-exponent-3.pem:1",
            "CERT-011 testdata/certs/time/expired-utc-no-seconds.pem:1",
            "CERT-011 testdata/certs/time/generalized-before-2050.pem:1",
            "CERT-011 testdata/certs/time/generalized-fraction.pem:1",
            "CERT-011 testdata/certs/time/utc-no-seconds.pem:1",
            "CERT-011 testdata/certs/time/utc-offset.pem:1",
            "CERT-012 testdata/certs/defects/version-1.pem:1",
            "CERT-012 testdata/certs/defects/wrong-key-usage.pem:1",
            "CERT-013 testdata/certs/defects/serial-21-octets.pem:1",
            "CERT-013 testdata/certs/defects/serial-negative.pem:1",
            "CERT-014 testdata/certs/defects/version-1.pem:1",
            "CERT-015 testdata/certs/embedded/kubeconfig:12",
            "CERT-015 testdata/certs/keys/ec-sec1.key:1",
            "CERT-015 testdata/certs/keys/ed25519-pkcs8.pem:1",
            "CERT-015 testdata/certs/keys/id_ed25519:1",
            "CERT-015 testdata/certs/keys/rsa-1024.key:1",
            "CERT-015 testdata/certs/keys/rsa-pkcs1.key:1",
            "CERT-015 testdata/certs/keys/rsa-pkcs8.der.key:",
            "CERT-015 testdata/certs/keys/rsa-pkcs8.pem:1",
            "CERT-016 testdata/certs/chain/expired-intermediate.pem:1",
            "CERT-016 testdata/certs/chain/unknown-issuer.pem:1",
            "CERT-016 testdata/certs/defects/expired.pem:1",
            "CERT-016 testdata/certs/defects/md5-signature.pem:1",
            "CERT-016 testdata/certs/defects/not-yet-valid.pem:1",
            "CERT-016 testdata/certs/defects/self-signed.pem:1",
            "CERT-016 testdata/certs/defects/sha1-signature.pem:1",
            "CERT-016 testdata/certs/defects/version-1.pem:1",
            "CERT-016 testdata/certs/embedded/values.yaml:4",
            "CERT-016 testdata/certs/real/www.google.com-2023.pem:1",
            "CERT-016 testdata/certs/time/expired-utc-no-seconds.pem:1",
            "CERT-016 testdata/certs/time/generalized-before-2050.pem:1",
            "CERT-016 testdata/certs/time/generalized-fraction.pem:1",
            "CERT-016 testdata/certs/time/utc-no-seconds.pem:1",
            "CERT-016 testdata/certs/time/utc-offset.pem:1",
            "CERT-017 testdata/certs/keys/rsa-1024.key:1",
            "CERT-018 testdata/certs/bad/bad-extension.pem:1",
            "CERT-018 testdata/certs/bad/negative-path-length-rsa-512.pem:1",
            "CERT-019 testdata/certs/time/expired-utc-no-seconds.pem:1",
            "CERT-019 testdata/certs/time/generalized-before-2050.pem:1",
            "CERT-019 testdata/certs/time/generalized-fraction.pem:1",
            "CERT-019 testdata/certs/time/utc-no-seconds.pem:1",
            "CERT-019 testdata/certs/time/utc-offset.pem:1",
        ],
    );
    let docs = &r["inventory"]["documents"];
    assert_eq!(docs["certificate"], 98, "every certificate of every file");
    assert_eq!(docs["private_key"], 11);
    // Every verdict about a certificate names it by subject and SHA-256 fingerprint.
    let object = findings(&r)
        .iter()
        .find(|f| {
            f["control"] == "CERT-005"
                && f["state"] == "fail"
                && f["target"]["file"] == "testdata/certs/defects/rsa-1024.pem"
        })
        .and_then(|f| f["target"]["object"].as_str())
        .unwrap();
    let sha = object.split("sha256:").nth(1).unwrap();
    assert!(
        object.starts_with("CN=small-rsa.example.org sha256:"),
        "{object}"
    );
    assert_eq!(sha.len(), 64);
}

/// (control, a fixture that fails it, a fixture that passes it).
const PAIRS: &[(&str, &str, &str)] = &[
    ("CERT-001", "defects/expired.pem", "good/server-rsa.pem"),
    (
        "CERT-002",
        "defects/expires-in-17-days.pem",
        "defects/expires-in-59-days.pem",
    ),
    (
        "CERT-003",
        "defects/expires-in-59-days.pem",
        "good/server-rsa.pem",
    ),
    (
        "CERT-004",
        "defects/not-yet-valid.pem",
        "good/server-rsa.pem",
    ),
    ("CERT-005", "defects/rsa-1024.pem", "good/server-rsa.pem"),
    ("CERT-006", "defects/ec-p224.pem", "good/server-ec-p256.pem"),
    (
        "CERT-007",
        "defects/sha1-signature.pem",
        "good/server-ec-p384.pem",
    ),
    ("CERT-008", "defects/no-san.pem", "good/wildcard.pem"),
    (
        "CERT-009",
        "defects/validity-730-days.pem",
        "good/server-rsa.pem",
    ),
    (
        "CERT-010",
        "defects/leaf-ca-true.pem",
        "ca/intermediate.pem",
    ),
    ("CERT-011", "defects/self-signed.pem", "ca/root.pem"),
    (
        "CERT-012",
        "defects/wrong-key-usage.pem",
        "good/server-ec-p256.pem",
    ),
    (
        "CERT-013",
        "defects/serial-negative.pem",
        "good/server-rsa.pem",
    ),
    ("CERT-014", "defects/version-1.pem", "good/server-rsa.pem"),
    (
        "CERT-015",
        "keys/rsa-pkcs1.key",
        "keys/rsa-pkcs8-encrypted.pem",
    ),
    (
        "CERT-016",
        "chain/unknown-issuer.pem",
        "chain/fullchain.pem",
    ),
    ("CERT-017", "keys/rsa-1024.key", "keys/rsa-pkcs1.key"),
    (
        "CERT-018",
        "bad/negative-path-length-rsa-512.pem",
        "good/server-rsa.pem",
    ),
    ("CERT-019", "time/utc-offset.pem", "good/server-rsa.pem"),
];

#[test]
fn every_control_has_a_failing_and_a_passing_fixture() {
    let (_, r) = scan(&["testdata/certs"]);
    let mut states: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for f in findings(&r) {
        states
            .entry((
                f["control"].as_str().unwrap().to_string(),
                target_name(f).to_string(),
            ))
            .or_default()
            .push(f["state"].as_str().unwrap().to_string());
    }
    let controls: Vec<&Value> = r["controls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["policy"] == "certificates")
        .collect();
    assert_eq!(
        controls.len(),
        PAIRS.len(),
        "every control of the pack is listed"
    );
    for (control, failing, passing) in PAIRS {
        let get = |file: &str| {
            states
                .get(&(control.to_string(), format!("testdata/certs/{file}")))
                .cloned()
                .unwrap_or_default()
        };
        assert!(
            get(failing).contains(&"fail".to_string()),
            "{control} fails on {failing}: {:?}",
            get(failing)
        );
        assert_eq!(get(passing), ["pass"], "{control} passes on {passing}");
    }
}

#[test]
fn chain_failures_give_their_reason() {
    let (_, r) = scan(&[
        "testdata/certs/chain",
        "testdata/certs/defects/self-signed.pem",
    ]);
    let observed: Vec<&str> = findings(&r)
        .iter()
        .filter(|f| f["control"] == "CERT-016" && f["state"] == "fail")
        .map(|f| f["observed"].as_str().unwrap())
        .collect();
    assert_eq!(
        observed,
        [
            "expired: issuer CN=Vigil Test Expired Intermediate CA expired at 2029-12-31T00:00:00Z, false",
            "unknown issuer: no certificate in the file or the trust store issued CN=Unknown Root CA, O=Vigil Test, false",
            "unknown issuer: no certificate in the file or the trust store issued CN=self.example.org, O=Vigil Test, false",
        ]
    );
    let out = vigil(&[
        "facts",
        "testdata/certs/chain/fullchain.pem",
        "--at",
        AT,
        "--trust-store",
        ROOT,
    ]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        facts_of(&v, "certificate")[0]["facts"]["chain"],
        serde_json::json!([
            "CN=shop.example.org",
            "CN=Vigil Test Intermediate CA",
            "CN=Vigil Test Root CA"
        ])
    );
}

#[test]
fn a_real_chain_validates_against_the_system_trust_store_offline() {
    // www.google.com as served in January 2023, with its intermediate; the root (GTS Root R1) comes
    // from the system store, read from disk. Evaluated while the leaf was valid, then after.
    let run = |at: &str| {
        let out = vigil(&[
            "scan",
            "testdata/certs/real",
            "--policy",
            PACK,
            "--format",
            "json",
            "--pass-evidence",
            "full",
            "--at",
            at,
        ]);
        let r: Value = serde_json::from_slice(&out.stdout).unwrap();
        let f = findings(&r)
            .iter()
            .find(|f| f["control"] == "CERT-016")
            .cloned()
            .unwrap();
        (
            f["state"].as_str().unwrap().to_string(),
            f["observed"].as_str().unwrap().to_string(),
        )
    };
    assert_eq!(
        run("2023-02-01"),
        ("pass".to_string(), "(absent), true".to_string())
    );
    assert_eq!(
        run("2024-02-01").1,
        "expired: the certificate expired at 2023-03-27T08:19:18Z, false"
    );
    let out = vigil(&["facts", "testdata/certs/real", "--at", "2023-02-01"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        facts_of(&v, "certificate")[0]["facts"]["chain"],
        serde_json::json!(["CN=www.google.com", "CN=GTS CA 1C3", "CN=GTS Root R1"])
    );
}

#[test]
fn bad_input_is_an_error_with_a_precise_reason_and_the_scan_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    // 100 MB named .pem, sparse: above the default --max-file-size without writing 100 MB.
    let big = dir.path().join("huge.pem");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(100 << 20)
        .unwrap();
    let big = big.to_str().unwrap().to_string();
    let (code, r) = scan(&[
        "--pass-evidence",
        "full",
        "testdata/certs/bad",
        "testdata/certs/good/server-rsa.pem",
        &big,
    ]);
    assert_eq!(code, 1, "errors fail the run");
    let message = |path: &str| -> String {
        findings(&r)
            .iter()
            .find(|f| f["control"] == "CERT-001" && f["target"]["file"] == path)
            .map(|f| {
                format!(
                    "{} {}",
                    f["state"].as_str().unwrap(),
                    f["message"].as_str().unwrap()
                )
            })
            .unwrap_or_else(|| panic!("no CERT-001 verdict for {path}"))
    };
    for (file, expected) in [
        (
            "bad/truncated.pem",
            "error PEM block `CERTIFICATE` at line 1: no `-----END CERTIFICATE-----` line before the end of the file (truncated?)",
        ),
        (
            "bad/no-end.pem",
            "error PEM block `CERTIFICATE` at line 1: no `-----END CERTIFICATE-----` line before the end of the file (truncated?)",
        ),
        (
            "bad/invalid-base64.pem",
            "error PEM block `CERTIFICATE` at line 1: invalid base64 character '*' at line 3, column 11",
        ),
        (
            "bad/garbage.der",
            "error no PEM block and not DER: no certificate or private key could be read",
        ),
        (
            // One malformed extension does not hide the rest: expiry is judged (CERT-018 names
            // the extension, below).
            "bad/bad-extension.pem",
            "pass Satisfied: The certificate has not expired.",
        ),
        (
            "good/server-rsa.pem",
            "pass Satisfied: The certificate has not expired.",
        ),
    ] {
        let m = message(&format!("testdata/certs/{file}"));
        assert!(m.starts_with(expected), "{file}: {m}");
        // Words, not a parser's debug output.
        assert!(
            !m.contains("Tag(") && !m.contains("Parsing Error"),
            "{file}: {m}"
        );
    }
    assert!(
        message(&big).starts_with(
            "error file is 104857600 bytes, above the --max-file-size limit of 67108864 bytes"
        ),
        "{}",
        message(&big)
    );
    // Garbage DER could have been a certificate or a key: one error names the key controls too.
    let garbage: Vec<&Value> = findings(&r)
        .iter()
        .filter(|f| f["target"]["file"] == "testdata/certs/bad/garbage.der")
        .collect();
    assert_eq!(garbage.len(), 1, "one error for the file: {garbage:?}");
    let blocked = garbage[0]["blocked_controls"].as_array().unwrap();
    for id in ["CERT-001", "CERT-015", "CERT-017"] {
        assert!(blocked.iter().any(|b| b == id), "{id} is blocked");
    }
}

#[test]
fn dates_are_computed_at_the_evaluation_clock() {
    let days = |at: &str| {
        let out = vigil(&[
            "facts",
            "testdata/certs/defects/expires-in-17-days.pem",
            "--at",
            at,
            "--trust-store",
            ROOT,
        ]);
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        facts_of(&v, "certificate")[0]["facts"]["days_until_expiry"]
            .as_i64()
            .unwrap()
    };
    assert_eq!(days(AT), 17);
    assert_eq!(days("2030-01-01"), 31);
    assert_eq!(days("2030-02-02"), -1, "a day after expiry");
}

#[test]
fn private_key_material_never_appears_in_any_output() {
    let key_files = [
        "rsa-pkcs1.key",
        "rsa-pkcs8.pem",
        "ec-sec1.key",
        "ed25519-pkcs8.pem",
        "id_ed25519",
        "rsa-1024.key",
    ];
    let mut secrets = Vec::new();
    for f in key_files {
        let text =
            std::fs::read_to_string(common::root(&format!("testdata/certs/keys/{f}"))).unwrap();
        secrets.extend(
            text.lines()
                .filter(|l| !l.starts_with("-----") && l.len() >= 24)
                .map(|l| l[..24].to_string()),
        );
    }
    assert!(secrets.len() > 20);
    let mut outputs = Vec::new();
    for format in ["json", "console"] {
        let out = vigil(&[
            "scan",
            "testdata/certs/keys",
            "--policy",
            PACK,
            "--format",
            format,
            "--verbose",
            "--at",
            AT,
        ]);
        outputs.push(String::from_utf8_lossy(&out.stdout).into_owned());
    }
    outputs.push(
        String::from_utf8_lossy(&vigil(&["facts", "testdata/certs/keys"]).stdout).into_owned(),
    );
    for text in &outputs {
        assert!(
            text.contains("rsa 2048-bit private key (pkcs1)"),
            "keys are reported"
        );
        for s in &secrets {
            assert!(!text.contains(s.as_str()), "output leaks key material {s}");
        }
    }
}

#[test]
fn an_unusable_trust_store_stops_the_scan() {
    let out = vigil(&[
        "scan",
        "testdata/certs/good",
        "--policy",
        PACK,
        "--trust-store",
        "testdata/certs/no-such-store",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("cannot read trust store testdata/certs/no-such-store")
    );
    let out = vigil(&[
        "scan",
        "testdata/certs/good",
        "--policy",
        PACK,
        "--trust-store",
        "testdata/certs/keys",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("trust store testdata/certs/keys holds no usable certificate"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_bundle_yields_one_document_per_certificate() {
    let (code, r) = scan(&["testdata/certs/bundle"]);
    assert_eq!(code, 0);
    assert_eq!(r["inventory"]["documents"]["certificate"], 50);
    let passes = in_state(&r, "pass");
    assert_eq!(
        passes.iter().filter(|l| l.starts_with("CERT-016 ")).count(),
        50
    );
    let lines: Vec<&String> = passes
        .iter()
        .filter(|l| l.starts_with("CERT-001 "))
        .collect();
    assert_eq!(lines.len(), 50);
    assert!(
        lines.iter().any(|l| l.ends_with("bundle-50.pem:1"))
            && lines.iter().any(|l| l.ends_with("bundle-50.pem:1079"))
    );
}

/// A PKCS#7 bundle (`.p7b`, PEM or DER), the form Windows and Java hand chains out in, is judged as
/// the same certificates in a PEM file are, chain included; a damaged one is an error.
#[test]
fn pkcs7_bundles_are_judged_as_their_certificates() {
    let dir = tempfile::tempdir().unwrap();
    let chain = common::root("testdata/certs/chain/fullchain.pem");
    std::fs::copy(&chain, dir.path().join("chain.pem")).unwrap();
    for (out, form) in [("chain.p7b", "PEM"), ("chain-der.p7b", "DER")] {
        common::openssl(
            &[
                "crl2pkcs7",
                "-nocrl",
                "-certfile",
                chain.to_str().unwrap(),
                "-outform",
                form,
                "-out",
                out,
            ],
            dir.path(),
        );
    }
    let der = std::fs::read(dir.path().join("chain-der.p7b")).unwrap();
    std::fs::write(dir.path().join("cut.p7b"), &der[..der.len() - 40]).unwrap();
    let (_, r) = scan(&[dir.path().to_str().unwrap()]);
    let verdicts = |file: &str| -> Vec<String> {
        let mut v: Vec<String> = findings(&r)
            .iter()
            .filter(|f| target_name(f).ends_with(&format!("/{file}")))
            .map(|f| {
                format!(
                    "{} {} {}",
                    f["control"].as_str().unwrap(),
                    f["state"].as_str().unwrap(),
                    f["target"]["object"].as_str().unwrap_or("")
                )
            })
            .collect();
        v.sort();
        v
    };
    let pem = verdicts("chain.pem");
    assert!(
        pem.iter()
            .any(|v| v.starts_with("CERT-016 pass CN=shop.example.org")),
        "{pem:?}"
    );
    assert_eq!(verdicts("chain.p7b"), pem);
    assert_eq!(verdicts("chain-der.p7b"), pem);
    let cut = verdicts("cut.p7b");
    assert!(
        !cut.is_empty() && cut.iter().all(|v| v.contains(" error")),
        "{cut:?}"
    );
    let out = vigil(&[
        "facts",
        dir.path().join("chain.p7b").to_str().unwrap(),
        "--at",
        AT,
        "--trust-store",
        ROOT,
    ]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let certificates = facts_of(&v, "certificate");
    assert_eq!(certificates.len(), 2);
    assert_eq!(certificates[0]["facts"]["encoding"], "pkcs7");
    assert_eq!(certificates[0]["facts"]["line"], 1);
    assert_eq!(
        certificates[0]["facts"]["chain"],
        serde_json::json!([
            "CN=shop.example.org",
            "CN=Vigil Test Intermediate CA",
            "CN=Vigil Test Root CA"
        ])
    );
}

/// A document shortens a certificate with an ellipsis or writes `XXXX` for a key's body: an
/// example, not a damaged block, so no error; the same text in a file named as a certificate is one.
#[test]
fn examples_in_documents_are_not_errors_but_in_certificate_files_are() {
    let dir = tempfile::tempdir().unwrap();
    let example = "Output::\n\n    -----BEGIN CERTIFICATE-----\n    \
                   MIIEDzCCAvegAwIBAgIRAJuJ8f6ZVYL7gG/rS3qvrZMwDQYJKoZIhvcNAQELBQAw\n        \
                   ....certificate body truncated for brevity....\n    \
                   KQNy73D6LtmdOEbAyq10XiDxqY41lvKHJ1eZrPaBmYNABxU=\n    \
                   -----END CERTIFICATE-----\n\n\
                   key=\"-----BEGIN PRIVATE KEY-----\\nXXXX\\nXXXX\\n-----END PRIVATE KEY-----\"\n";
    std::fs::write(dir.path().join("get-certificate.rst"), example).unwrap();
    std::fs::write(dir.path().join("example.pem"), example).unwrap();
    let (_, r) = scan(&[
        dir.path().to_str().unwrap(),
        "--policy",
        "policies/secrets.yaml",
    ]);
    let mut errors: Vec<String> = findings(&r)
        .iter()
        .filter(|f| f["state"] != "pass" && f["state"] != "not_applicable")
        .map(|f| {
            format!(
                "{} {} {}:{}",
                f["control"].as_str().unwrap(),
                f["state"].as_str().unwrap(),
                target_name(f).rsplit('/').next().unwrap(),
                f["location"]["line"]
            )
        })
        .collect();
    errors.sort();
    assert_eq!(
        errors,
        [
            "CERT-001 error example.pem:3",
            "SEC-010 error example.pem:9"
        ]
    );
}

/// A value that is itself a sentence is quoted in the message, so that "`chain_error` is expired:
/// ..." does not read as vigil's own words.
#[test]
fn messages_quote_observed_values() {
    let (_, r) = scan(&["testdata/certs/chain", "--control", "CERT-016"]);
    let messages: Vec<&str> = findings(&r)
        .iter()
        .filter(|f| f["state"] == "fail")
        .map(|f| f["message"].as_str().unwrap())
        .collect();
    assert!(
        messages.contains(
            &"Not satisfied: `chain_error` is `expired: issuer CN=Vigil Test Expired Intermediate CA expired at 2029-12-31T00:00:00Z` at line 1 (and 1 more)."
        ),
        "{messages:?}"
    );
}

/// A certificate with malformed extensions (a negative path length, inhibitAnyPolicy encoded as a
/// BOOLEAN) is still judged on everything else, as openssl still shows it: its expiry and its
/// 512-bit key fail, and the broken extensions are a finding of their own, not an `error` that
/// would hide the rest. Facts of the broken basicConstraints are left out, so leaf-only controls
/// do not pass on a CA flag that could not be read.
#[test]
fn a_malformed_extension_is_its_own_finding_and_hides_nothing_else() {
    let (_, r) = scan(&["testdata/certs/bad/negative-path-length-rsa-512.pem"]);
    let verdict = |control: &str| -> (String, String) {
        let f = findings(&r)
            .iter()
            .find(|f| f["control"] == control)
            .unwrap_or_else(|| panic!("no {control} verdict"));
        (
            f["state"].as_str().unwrap().to_string(),
            f["observed"].as_str().unwrap_or_default().to_string(),
        )
    };
    assert_eq!(
        verdict("CERT-001"),
        ("fail".into(), "true".into()),
        "expired"
    );
    assert_eq!(
        verdict("CERT-005"),
        ("fail".into(), "512".into()),
        "RSA-512"
    );
    let (state, observed) = verdict("CERT-018");
    assert_eq!(state, "fail");
    assert!(
        observed.contains("extension basicConstraints (2.5.29.19) cannot be parsed: invalid length")
            && observed.contains(
                "extension inhibitAnyPolicy (2.5.29.54) cannot be parsed: expected an INTEGER, found a BOOLEAN"
            ),
        "{observed}"
    );
    assert!(
        findings(&r).iter().all(|f| f["state"] != "error"),
        "no error hides the certificate"
    );
    let out = vigil(&[
        "facts",
        "testdata/certs/bad/negative-path-length-rsa-512.pem",
    ]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let facts = &facts_of(&v, "certificate")[0]["facts"];
    assert!(facts.get("is_ca").is_none(), "{facts}");
    assert_eq!(facts["key_bits"], 512);
    assert_eq!(
        facts["san_dns"],
        serde_json::json!(["legacy-ca.example.org"])
    );
}

/// Validity dates encoded against RFC 5280 (no seconds, a time-zone offset, fractional seconds, a
/// GeneralizedTime before 2050) are read as openssl reads them, so expiry is judged on the real
/// dates, and the encoding is named by CERT-019.
#[test]
fn an_odd_time_encoding_is_its_own_finding_and_the_dates_are_still_judged() {
    let out = vigil(&["facts", "testdata/certs/time/utc-offset.pem"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let facts = &facts_of(&v, "certificate")[0]["facts"];
    // 291201000000+0100 and 301201000000-0500, in UTC.
    assert_eq!(facts["not_before"], "2029-11-30T23:00:00Z");
    assert_eq!(facts["not_after"], "2030-12-01T05:00:00Z");
    assert_eq!(
        facts["time_encoding_errors"],
        serde_json::json!([
            "notBefore 291201000000+0100 has a time-zone offset (RFC 5280 requires Z, UTC)",
            "notAfter 301201000000-0500 has a time-zone offset (RFC 5280 requires Z, UTC)"
        ])
    );
    let (_, r) = scan(&["testdata/certs/time"]);
    let observed = |control: &str, file: &str| -> (String, String) {
        let f = findings(&r)
            .iter()
            .find(|f| f["control"] == control && target_name(f).ends_with(file))
            .unwrap_or_else(|| panic!("no {control} verdict on {file}"));
        (
            f["state"].as_str().unwrap().to_string(),
            f["observed"].as_str().unwrap_or_default().to_string(),
        )
    };
    let (state, text) = observed("CERT-019", "/utc-no-seconds.pem");
    assert_eq!(state, "fail");
    assert!(
        text.contains("notAfter 3012010000Z is a UTCTime without seconds"),
        "{text}"
    );
    let (_, text) = observed("CERT-019", "generalized-before-2050.pem");
    assert!(
        text.contains("GeneralizedTime for a year before 2050 (2029;"),
        "{text}"
    );
    let (_, text) = observed("CERT-019", "generalized-fraction.pem");
    assert!(text.contains("fractional seconds"), "{text}");
    // The expired one is judged expired; the others are not.
    assert_eq!(observed("CERT-001", "expired-utc-no-seconds.pem").0, "fail");
    assert_eq!(observed("CERT-001", "/utc-no-seconds.pem").0, "pass");
    assert_eq!(observed("CERT-002", "utc-offset.pem").0, "pass");
    assert!(findings(&r).iter().all(|f| f["state"] != "error"));
}

/// Self-signed means self-issued and verified with the certificate's own key, for every algorithm
/// a certificate may use, not only those the chain validator accepts (ring rejects DSA, RSA below
/// 2048 bits or with exponent 3, P-521, secp256k1 and P-256 with SHA-512).
#[test]
fn self_signed_is_verified_for_every_signature_algorithm() {
    let out = vigil(&["facts", "testdata/certs/self-signed"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let got: Vec<String> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|file| {
            let name = file["path"].as_str().unwrap().rsplit('/').next().unwrap();
            let cert = file["documents"]
                .as_array()
                .unwrap()
                .iter()
                .find(|d| d["kind"] == "certificate")
                .unwrap();
            format!("{name} {}", cert["facts"]["self_signed"])
        })
        .collect();
    assert_eq!(
        got,
        [
            "dsa-2048-sha256.pem true",
            "ec-p256-sha512.pem true",
            "ec-p521-sha512.pem true",
            "ec-secp256k1-sha256.pem true",
            "rsa-1024-sha256.pem true",
            "rsa-2048-exponent-3.pem true",
            "self-issued-other-key.pem false",
        ]
    );
}

/// A public key or a certificate request in DER, under an extension that announces certificates
/// and keys, holds neither a secret nor a certificate: nothing to judge, as a PEM file holding
/// such a block is, rather than an `error` that fails the run. Bytes that are none of these still
/// give one.
#[test]
fn der_public_keys_and_requests_are_not_errors() {
    let dir = tempfile::tempdir().unwrap();
    let (keys, public) = (dir.path().join("keys"), dir.path().join("public"));
    std::fs::create_dir_all(&keys).unwrap();
    std::fs::create_dir_all(&public).unwrap();
    let pub_dir = public.to_str().unwrap();
    common::openssl(
        &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:1024",
            "-out",
            "rsa.pem",
        ],
        &keys,
    );
    common::openssl(
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            "ec.pem",
        ],
        &keys,
    );
    for (args, out) in [
        (
            &["pkey", "-in", "ec.pem", "-pubout", "-outform", "DER"][..],
            "ec-spki.der",
        ),
        (
            &["pkey", "-in", "rsa.pem", "-pubout", "-outform", "DER"][..],
            "rsa-spki.der",
        ),
        (
            &[
                "rsa",
                "-in",
                "rsa.pem",
                "-RSAPublicKey_out",
                "-outform",
                "DER",
            ][..],
            "rsa-pkcs1.der",
        ),
        (
            &[
                "req",
                "-new",
                "-key",
                "rsa.pem",
                "-subj",
                "/CN=vigil",
                "-outform",
                "DER",
            ][..],
            "request.der",
        ),
    ] {
        let path = format!("{pub_dir}/{out}");
        common::openssl(&[args, &["-out", &path]].concat(), &keys);
    }
    // What libraries keep to compare with a peer's: a key's and an algorithm's content without
    // its SEQUENCE (webpki's `*.spki.der`, `alg-*.der`).
    let spki = std::fs::read(public.join("ec-spki.der")).unwrap();
    let content = &spki[2..];
    assert_eq!(usize::from(spki[1]), content.len(), "a short length");
    std::fs::write(public.join("ec.spki.der"), content).unwrap();
    let algorithm = &content[2..2 + usize::from(content[1])];
    std::fs::write(public.join("alg-ecdsa-p256.der"), algorithm).unwrap();
    std::fs::copy(
        common::root("testdata/certs/bad/garbage.der"),
        public.join("garbage.der"),
    )
    .unwrap();
    let (_, r) = scan(&[pub_dir, "--policy", "policies/secrets.yaml"]);
    let errors: Vec<String> = findings(&r)
        .iter()
        .filter(|f| f["state"] == "error")
        .map(|f| target_name(f).rsplit('/').next().unwrap().to_string())
        .collect();
    assert_eq!(errors, ["garbage.der"]);
    assert_eq!(r["inventory"]["files_read"], 7);
}
