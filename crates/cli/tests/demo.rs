//! The demo as a user runs it: every flow as expected, and no PAN, OTP message, KBA answer or
//! hosted user's name in its output, its logs (at debug level) or its SQLite files.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::process::Command;

const DEMO_PAN: &str = "4000123456789017";

/// Every PAN the demo's phones use (`400012345678`, three digits, the Luhn digit).
fn demo_pans() -> Vec<String> {
    (901..=908)
        .chain([
            911, 912, 913, 920, 921, 922, 923, 924, 930, 931, 932, 933, 934, 935, 999,
        ])
        .map(|n| {
            let body = format!("400012345678{n:03}");
            let check = provisio_types::luhn_check_digit(&body).unwrap();
            format!("{body}{check}")
        })
        .collect()
}

fn demo(args: &[&str], data_dir: &std::path::Path) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_provisio"))
        .arg("demo")
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .env("RUST_LOG", "debug")
        .output()
        .expect("the provisio binary runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn demo_passes_and_never_reveals_the_pan() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, stdout, logs) = demo(&["--json"], dir.path());
    assert!(ok, "demo failed:\n{stdout}\n{logs}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["ok"], true);
    let names: Vec<&str> = report["flows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert!(demo_pans().contains(&DEMO_PAN.to_owned()));
    for expected in [
        "hosted wallet: fresh phone, module, account, KBA (one failed attempt), then push",
        "hosted wallet: three failed attempts lock the account; push refused",
        "push provisioning",
        "trusted push: wallet level below the service's, approved as authenticated by the issuer's app",
        "non-override: wallet level below the service's, an issuer that keeps step-up on pushes, step-up by OTP",
        "non-override: wallet level above the service's, provisioned by script",
        "decline: device on the block list",
        "step-up: OTP lockout",
        "card entered in the wallet: the bank's decisioning approves",
        "card entered in the wallet: the bank requires authentication, its app activates the token",
        "card entered in the wallet: the bank's call centre activates the token",
        "card entered in the wallet: the bank declines",
        "card entered in the wallet: non-override below the service's, step-up by code to the bank's contact; above it, final",
        "lost phone: the wallet suspends its token, the bank hears it, the found phone resumes; the wallet may not lift the bank's suspension",
        "stolen card: the bank suspends the card's tokens, reissues the card, resumes; the tokens are kept",
        "already in wallet: the same card pushed to the same phone again",
        "pay: the wallet core's cryptogram at a terminal, de-tokenised by the network; a replay, a changed amount and a suspended token declined; paid again after resume and a restart",
        "attack: replayed request",
        "attack: stale timestamp",
        "attack: tampered JWE",
        "attack: request data bound to another device",
        "attack: unknown issuer",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }
    assert!(
        logs.contains("provisioning committed"),
        "debug logs were captured"
    );
    for pan in demo_pans() {
        assert!(
            !stdout.contains(&pan) && !logs.contains(&pan),
            "a PAN reached the output or the logs"
        );
    }
    assert!(
        logs.contains("step-up code queued") && logs.contains("outbox message delivered"),
        "the step-up flows ran through the outbox"
    );
    assert!(
        logs.contains("token changed") && logs.contains("token event delivered"),
        "the token-life flows changed tokens and their events reached the receivers"
    );
    assert!(
        logs.contains("TSM reported the secure-element job"),
        "the bank's TSM reported the secure-element job to the token service"
    );
    assert!(
        !logs.contains("your code to add your card") && !stdout.contains("your code to add"),
        "an OTP message reached the output or the logs"
    );

    // The hosted users' enrolment facts (the KBA answers) and identity.
    let kba_secrets = ["Harbor Books", "Riverton", "Demo Gold", "Ada Lovelace"];
    for secret in kba_secrets {
        assert!(
            !stdout.contains(secret) && !logs.contains(secret),
            "{secret} reached the output or the logs"
        );
    }

    let mut files = 0;
    // The databases, and the demo's TLS material in tls/.
    let mut paths: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    while let Some(path) = paths.pop() {
        if path.is_dir() {
            paths.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        files += 1;
        for pan in demo_pans() {
            assert!(
                !bytes.windows(pan.len()).any(|w| w == pan.as_bytes()),
                "PAN in plaintext in {}",
                path.display()
            );
        }
        assert!(
            !bytes.windows(b"your code".len()).any(|w| w == b"your code"),
            "an OTP message in plaintext in {}",
            path.display()
        );
        for secret in kba_secrets {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{secret} in plaintext in {}",
                path.display()
            );
        }
    }
    assert!(files >= 1, "the SQLite database was written");

    let dir = tempfile::tempdir().unwrap();
    let (ok, transcript, _) = demo(&[], dir.path());
    assert!(ok);
    assert!(
        transcript.contains("400012******9017"),
        "the transcript shows the masked PAN:\n{transcript}"
    );
    assert!(transcript.contains("replayed_request") && transcript.contains("binding_mismatch"));
    assert!(
        transcript.contains("409 already_in_wallet")
            && transcript.contains("403 forbidden")
            && transcript.contains("TOKEN_UPDATED"),
        "the token-life flows' refusals and events are in the transcript"
    );
    assert!(transcript.contains("23 of 23 flows as expected"));
    assert!(
        !transcript.contains("cvc2") && !logs.contains("\"123\""),
        "the CVC2 reached the output or the logs"
    );
}
