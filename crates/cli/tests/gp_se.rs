//! `provisio gp scp03 derive|wrap` against a recorded card session, and `provisio se` driving
//! a virtual element in a file across invocations.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::process::{Command, Output};

fn provisio(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_provisio"))
        .args(args)
        .output()
        .expect("the provisio binary runs")
}

fn json(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The AES-128 level-33 session of crates/gp/tests/vectors/scp03_pysim.json (a recorded
/// sysmocom eUICC session published by Osmocom pySim).
const SESSION: [&str; 12] = [
    "--enc",
    "000102030405060708090a0b0c0d0e0f",
    "--mac",
    "101112131415161718191a1b1c1d1e1f",
    "--dek",
    "202122232425262728292a2b2c2d2e2f",
    "--host-challenge",
    "fdf38259a1e0de44",
    "--init-update-response",
    "000000000000000000003003703b1aca81e821f219081cdc01c26b372d000003",
    "--level",
    "33",
];

#[test]
fn derive_and_wrap_reproduce_the_recorded_session() {
    let mut args = vec!["gp", "scp03", "derive", "--json"];
    args.extend(SESSION);
    let v = json(&provisio(&args));
    assert_eq!(v["card_cryptogram_ok"], true);
    assert_eq!(v["sequence_counter"], "000003");
    assert_eq!(
        v["external_authenticate"],
        "84823300108C36F96BCC00724A4E13AD591D7DA3F0"
    );
    assert_eq!(v["host_cryptogram"], "8C36F96BCC00724A");

    let mut args = vec!["gp", "scp03", "wrap", "--json"];
    args.extend(SESSION);
    args.extend([
        "--apdu",
        "80E2910006BF3E035C015A00",
        "--apdu",
        "80F22002",
        "--apdu",
        "80ca006600",
    ]);
    let v = json(&provisio(&args));
    assert_eq!(
        v["wrapped"],
        serde_json::json!([
            "84E2910018267A85DFE4A98FCA6FB0527E0DFECCE4914E40401433C87F00",
            "84F2200208AC6A59024BED84CC",
            "84CA006608409912AD8FB7AED000"
        ])
    );

    // The readable form says the same.
    let mut args = vec!["gp", "scp03", "derive"];
    args.extend(SESSION);
    let out = provisio(&args);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("081CDC01C26B372D verified"), "{text}");
}

#[test]
fn a_wrong_key_is_reported_and_bad_input_refused() {
    let mut session = SESSION.to_vec();
    session[3] = "101112131415161718191a1b1c1d1e1e";
    let mut args = vec!["gp", "scp03", "derive", "--json"];
    args.extend(&session);
    let v = json(&provisio(&args));
    assert_eq!(v["card_cryptogram_ok"], false);

    let mut args = vec!["gp", "scp03", "wrap"];
    args.extend(&session);
    args.extend(["--apdu", "80F22002"]);
    let out = provisio(&args);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not verify"));

    for (i, bad) in [(9, "zz"), (11, "44"), (7, "fdf38259")] {
        let mut s = SESSION.to_vec();
        s[i] = bad;
        let mut args = vec!["gp", "scp03", "derive"];
        args.extend(&s);
        let out = provisio(&args);
        assert!(!out.status.success(), "{bad}");
        assert!(String::from_utf8_lossy(&out.stderr).starts_with("error:"));
    }
}

#[test]
fn se_create_exec_inspect_across_invocations() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("phone-se.json");
    let f = file.to_str().unwrap();
    assert!(provisio(&["se", "create", "--file", f]).status.success());
    assert!(
        !provisio(&["se", "create", "--file", f]).status.success(),
        "no silent overwrite"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    // Create a supplementary security domain at level 33 through the CLI.
    // INSTALL [for install and make selectable] of the ROM security domain package.
    let install =
        "80E60C002407A000000151535008A0000001515350410AA000000151535041AB010380000002C9000000";
    let out = provisio(&[
        "se", "exec", "--file", f, "--level", "33", "--apdu", install,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("9000"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = provisio(&["se", "exec", "--file", f, "--level", "01"]);
    assert!(out.status.success());

    let v = json(&provisio(&["se", "inspect", "--file", f, "--json"]));
    let apps = v["applications"].as_array().unwrap();
    assert!(
        apps.iter()
            .any(|a| a["aid"] == "A000000151535041AB01" && a["kind"] == "security_domain")
    );
    let isd = apps
        .iter()
        .find(|a| a["aid"] == "A000000151000000")
        .unwrap();
    assert_eq!(
        isd["counter"], 2,
        "one INITIALIZE UPDATE per exec, persisted"
    );
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        !serde_json::to_string(&v).unwrap().contains("404142434445"),
        "inspect shows no key"
    );
    assert!(text.contains("\"counter\": 2"));

    // A wrong MAC key: the host refuses the card's cryptogram; the counter has moved anyway.
    let out = provisio(&[
        "se",
        "exec",
        "--file",
        f,
        "--mac",
        "00000000000000000000000000000000",
    ]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("card cryptogram"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = provisio(&["se", "send", "--file", f, "--apdu", "80CA00C100"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("C103000003 9000"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        !provisio(&[
            "se",
            "inspect",
            "--file",
            dir.path().join("none").to_str().unwrap()
        ])
        .status
        .success()
    );
}
