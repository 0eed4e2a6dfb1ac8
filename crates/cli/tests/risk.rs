//! `provisio risk check` and `provisio risk eval` as an operator runs them, and a server that
//! refuses to start on an invalid policy.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn provisio(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_provisio"))
        .args(args)
        .output()
        .expect("the provisio binary runs")
}

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/risk")
}

#[test]
fn check_accepts_the_example_and_names_the_line_of_an_error() {
    let policy = examples().join("policy.toml");
    let out = provisio(&["risk", "check", "--policy", policy.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("valid"));

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "version = \"x\"\n\n[[rule]]\ncode = \"velocity\"\ntext = \"t\"\nsignal = \"card_attempts_1h\"\nat_least = 3\nweight = -10\n",
    )
    .unwrap();
    let out = provisio(&["risk", "check", "--policy", bad.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("line 3") && err.contains("negative weight"),
        "{err}"
    );

    // The server refuses to start with it.
    let config = dir.path().join("provisio.toml");
    std::fs::write(&config, "risk_policy = \"bad.toml\"\n").unwrap();
    let data = dir.path().join("data");
    let out = provisio(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--config",
        config.to_str().unwrap(),
        "--data-dir",
        data.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("risk policy") && err.contains("line 3"),
        "{err}"
    );
}

#[test]
fn eval_prints_the_decision_with_every_reason() {
    let policy = examples().join("policy.toml");
    let input = examples().join("input.json");
    let out = provisio(&[
        "risk",
        "eval",
        "--policy",
        policy.to_str().unwrap(),
        "--input",
        input.to_str().unwrap(),
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["outcome"], "STEP_UP");
    assert_eq!(v["merge_rule"], "non_override_service_higher");
    assert_eq!(
        (
            v["wallet_level"].as_u64(),
            v["service_level"].as_u64(),
            v["final_level"].as_u64()
        ),
        (Some(10), Some(35), Some(35))
    );
    let fired: Vec<&str> = v["fired"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    assert_eq!(fired, ["card_velocity_1h", "new_wallet_account"]);
    assert_eq!(v["policy_version"], "provisio-default-2026-11");

    let out = provisio(&[
        "risk",
        "eval",
        "--policy",
        policy.to_str().unwrap(),
        "--input",
        input.to_str().unwrap(),
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("decision:      StepUp") && text.contains("card_velocity_1h (+25)"),
        "{text}"
    );
}
