//! `provisio tokens` against a running `provisio serve` (docs/cli.md#tokens): a token is
//! pushed through the API, then read, found, suspended, resumed and deleted with the command,
//! and its refusals come back as `code: detail` with a non-zero exit code.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use provisio_apps::{CardDetails, IssuerApp, WalletApp};
use provisio_client::ProvisioClient;
use provisio_crypto::{AwsLcProvider, CryptoProvider};
use provisio_jose::Jwk;
use provisio_server::{Clock, SystemClock};
use provisio_tsp::jwk_thumbprint;
use provisio_tsp::wire::{Decision, TokenInfo};
use provisio_types::Pan;
use serde_json::Value;

const ADMIN: &str = "pvk_tokens-cli-test-admin-key-0123456789";
const TRID: &str = "40010030273";
const PAN: &str = "4000123456789017";

/// A running `provisio serve`; killed when dropped.
struct Server {
    child: Child,
    base: String,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn serve() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let crypto = AwsLcProvider::new();
    let mut master = [0u8; 32];
    crypto.fill_random(&mut master).unwrap();
    let port = provisio_testkit::free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_provisio"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .arg("--data-dir")
        .arg(dir.path())
        .env("PROVISIO_MASTER_KEY", hex::encode(master))
        .env("PROVISIO_ADMIN_KEY", ADMIN)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the provisio binary runs");
    let server = Server {
        child,
        base: format!("http://127.0.0.1:{port}"),
        _dir: dir,
    };
    let api = ProvisioClient::new(&server.base, ADMIN);
    for _ in 0..200 {
        if api.jwks().await.is_ok() {
            return server;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("provisio serve on port {port} never came up");
}

/// Registers a bank and a wallet and pushes one card; returns the token and the wallet's key.
async fn one_token(base: &str) -> (TokenInfo, String) {
    let crypto = AwsLcProvider::new();
    let admin = ProvisioClient::new(base, ADMIN);
    let issuer_key = crypto.generate_ec_key().unwrap();
    let kid = jwk_thumbprint(&crypto, issuer_key.public_key());
    let mut jwk = Jwk::from_public_key(issuer_key.public_key());
    jwk.kid = Some(kid.clone());
    admin.register_issuer("bank", "Bank", &jwk).await.unwrap();
    let wallet_key = admin
        .register_token_requestor(TRID, "Wallet", "external")
        .await
        .unwrap();
    let jwks = admin.jwks().await.unwrap();
    let issuer = IssuerApp::new("bank", &kid, issuer_key, "provisio");
    let wallet = WalletApp::new(&crypto, TRID, "user-1", "device-1").unwrap();
    let start = issuer.start_session(&crypto).unwrap();
    let answer = wallet.answer(&start);
    let card = CardDetails {
        pan: Pan::parse(PAN).unwrap(),
        exp_month: 12,
        exp_year: 2030,
        name: "A Holder".into(),
        contact: None,
    };
    let claims = issuer
        .claims(&crypto, &answer, &card, SystemClock.now())
        .unwrap();
    let jwe = issuer.request_data(&crypto, &claims, &jwks).unwrap();
    let r = admin
        .with_key(&wallet_key)
        .push_provisioning(&wallet.push_request(&answer, jwe, None), None)
        .await
        .unwrap();
    assert_eq!(r.decision, Decision::Approved, "{:?}", r.risk);
    (r.token.unwrap(), wallet_key)
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// `provisio tokens ARGS` with `key` in `PROVISIO_ADMIN_KEY` (none: unset) and `stdin`.
fn tokens(base: &str, key: Option<&str>, args: &[&str], stdin: Option<&str>) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_provisio"));
    cmd.arg("tokens")
        .args(["--url", base])
        .args(args)
        .env_remove("PROVISIO_ADMIN_KEY")
        .env_remove("PROVISIO_URL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(key) = key {
        cmd.env("PROVISIO_ADMIN_KEY", key);
    }
    let mut child = cmd.spawn().expect("the provisio binary runs");
    {
        let mut input = child.stdin.take().unwrap();
        if let Some(text) = stdin {
            input.write_all(text.as_bytes()).unwrap();
        }
    }
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn line_of<'a>(out: &'a str, label: &str) -> &'a str {
    out.lines()
        .find(|l| l.starts_with(label))
        .unwrap_or_else(|| panic!("no {label} line in:\n{out}"))[label.len()..]
        .trim()
}

#[tokio::test]
async fn tokens_reads_finds_and_changes_a_token_on_a_running_server() {
    let server = serve().await;
    let base = server.base.as_str();
    let (token, wallet_key) = one_token(base).await;
    let id = token.token_ref_id.as_str();
    let admin = Some(ADMIN);

    // get: the summary, then the history.
    let got = tokens(base, admin, &["get", id], None);
    assert_eq!(got.code, 0, "{}", got.stderr);
    let out = &got.stdout;
    assert_eq!(line_of(out, "token "), id);
    assert_eq!(line_of(out, "status "), "ACTIVE");
    assert_eq!(line_of(out, "last4 "), token.last4);
    assert_eq!(
        line_of(out, "expiry "),
        format!("{:02}/{}", token.exp_month, token.exp_year)
    );
    assert_eq!(line_of(out, "issuer "), "bank");
    assert_eq!(line_of(out, "token requestor "), TRID);
    assert_eq!(line_of(out, "wallet user "), "user-1");
    assert_eq!(line_of(out, "device "), "device-1");
    assert_eq!(line_of(out, "account_ref "), token.account_ref);
    let history: Vec<&str> = out
        .lines()
        .skip_while(|l| *l != "history")
        .skip(1)
        .collect();
    assert_eq!(history.len(), 1, "{out}");
    assert!(
        history[0].contains(" UTC  ACTIVE "),
        "the creation: {}",
        history[0]
    );
    assert!(!out.contains(PAN));

    // --json: the server's answer as it came.
    let json = tokens(base, admin, &["--json", "get", id], None);
    assert_eq!(json.code, 0, "{}", json.stderr);
    let v: Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(v["token_ref_id"], id);
    assert_eq!(v["status"], "ACTIVE");
    assert_eq!(v["account_ref"], token.account_ref.as_str());
    assert_eq!(v["history"].as_array().unwrap().len(), 1);

    // search: the PAN from standard input only, never echoed.
    let found = tokens(
        base,
        admin,
        &["search", "--pan-stdin"],
        Some(&format!("{PAN}\n")),
    );
    assert_eq!(found.code, 0, "{}", found.stderr);
    assert!(found.stdout.starts_with("TOKEN_REF_ID"), "{}", found.stdout);
    assert!(found.stdout.contains(id) && found.stdout.ends_with("1 token\n"));
    assert!(!found.stdout.contains(PAN) && !found.stderr.contains(PAN));
    let spaced = tokens(
        base,
        admin,
        &["--json", "search", "--pan-stdin"],
        Some("4000 1234 5678 9017"),
    );
    let v: Value = serde_json::from_str(&spaced.stdout).unwrap();
    assert_eq!(v["tokens"][0]["token_ref_id"], id);
    let on_line = tokens(base, admin, &["search", "--pan", PAN], None);
    assert_eq!(on_line.code, 2);
    assert!(on_line.stderr.contains("--pan-stdin"), "{}", on_line.stderr);
    assert!(!on_line.stderr.contains(PAN) && !on_line.stdout.contains(PAN));
    let not_a_pan = tokens(
        base,
        admin,
        &["search", "--pan-stdin"],
        Some("4000123456789018\n"),
    );
    assert_eq!(not_a_pan.code, 2);
    assert!(!not_a_pan.stderr.contains("4000123456789018"));
    // A token requestor's key searches by user or device.
    let mine = tokens(
        base,
        Some(&wallet_key),
        &["search", "--wallet-user-id", "user-1"],
        None,
    );
    assert_eq!(mine.code, 0, "{}", mine.stderr);
    assert!(mine.stdout.contains(id), "{}", mine.stdout);

    // suspend, a refused second suspend, resume, delete.
    let suspended = tokens(base, admin, &["suspend", id, "--reason", "lost"], None);
    assert_eq!(suspended.code, 0, "{}", suspended.stderr);
    assert_eq!(line_of(&suspended.stdout, "status "), "SUSPENDED");
    let last = suspended.stdout.lines().last().unwrap();
    assert!(
        last.contains("SUSPENDED") && last.contains("LOST") && last.ends_with("ADMIN"),
        "{last}"
    );
    let again = tokens(base, admin, &["suspend", id, "--reason", "LOST"], None);
    assert_eq!(again.code, 1);
    assert!(
        again.stderr.starts_with("invalid_transition: "),
        "{}",
        again.stderr
    );
    assert!(again.stdout.is_empty());
    let resumed = tokens(base, admin, &["resume", id, "--reason", "FOUND"], None);
    assert_eq!(resumed.code, 0, "{}", resumed.stderr);
    assert_eq!(line_of(&resumed.stdout, "status "), "ACTIVE");
    let deleted = tokens(
        base,
        admin,
        &["--json", "delete", id, "--reason", "CUSTOMER_REQUEST"],
        None,
    );
    assert_eq!(deleted.code, 0, "{}", deleted.stderr);
    let v: Value = serde_json::from_str(&deleted.stdout).unwrap();
    assert_eq!(v["status"], "DELETED");
    let statuses: Vec<&str> = v["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["ACTIVE", "SUSPENDED", "ACTIVE", "DELETED"]);
    let live = tokens(base, admin, &["search", "--pan-stdin"], Some(PAN));
    assert_eq!(live.code, 0, "{}", live.stderr);
    assert_eq!(live.stdout, "no tokens\n");

    // Refusals: `code: detail` on standard error, exit 1; with --json the problem document.
    let unknown = tokens(base, admin, &["get", "tr_no-such-token"], None);
    assert_eq!(unknown.code, 1);
    assert!(
        unknown.stderr.starts_with("unknown_token: "),
        "{}",
        unknown.stderr
    );
    let unknown = tokens(base, admin, &["--json", "get", "tr_no/such?token"], None);
    assert_eq!(unknown.code, 1);
    let v: Value = serde_json::from_str(&unknown.stdout).unwrap();
    assert_eq!(v["code"], "unknown_token");
    let wrong_key = tokens(
        base,
        Some("pvk_not-the-admin-key-0123456789"),
        &["get", id],
        None,
    );
    assert_eq!(wrong_key.code, 1);
    assert!(
        wrong_key.stderr.starts_with("unauthorized: "),
        "{}",
        wrong_key.stderr
    );

    // Usage errors: exit 2, nothing sent.
    let no_key = tokens(base, None, &["get", id], None);
    assert_eq!(no_key.code, 2);
    assert!(
        no_key.stderr.contains("PROVISIO_ADMIN_KEY"),
        "{}",
        no_key.stderr
    );
    let nothing = tokens(base, admin, &["search"], None);
    assert_eq!(nothing.code, 2);
    assert!(nothing.stderr.contains("--pan-stdin"), "{}", nothing.stderr);
    let bad_reason = tokens(base, admin, &["suspend", id, "--reason", "BORED"], None);
    assert_eq!(bad_reason.code, 2, "{}", bad_reason.stderr);
    let key_flag = tokens(base, None, &["get", id, "--key", ADMIN], None);
    assert_eq!(key_flag.code, 0, "{}", key_flag.stderr);
}

#[test]
fn tokens_without_a_server_exits_3() {
    let base = format!("http://127.0.0.1:{}", provisio_testkit::free_port());
    let r = tokens(&base, Some(ADMIN), &["get", "tr_1"], None);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.starts_with("error: cannot reach"), "{}", r.stderr);
}

/// `provisio issuers ARGS` with the admin key.
fn issuers(base: &str, args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_provisio"))
        .arg("issuers")
        .args(["--url", base])
        .args(args)
        .env("PROVISIO_ADMIN_KEY", ADMIN)
        .env_remove("PROVISIO_URL")
        .output()
        .expect("the provisio binary runs");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[tokio::test]
async fn issuers_sets_card_ranges_and_decisioning_and_tokens_activate_refuses_what_it_must() {
    let server = serve().await;
    let base = server.base.as_str();
    let (token, _) = one_token(base).await;
    let set = issuers(base, &["bin-ranges", "bank", "48953712", "400012"]);
    assert_eq!(set.code, 0, "{}", set.stderr);
    assert_eq!(set.stdout.trim(), "bank: card ranges 400012, 48953712");
    let bad = issuers(base, &["bin-ranges", "bank", "4000"]);
    assert_eq!(bad.code, 1);
    assert!(
        bad.stderr.starts_with("malformed_request: "),
        "{}",
        bad.stderr
    );
    let on = issuers(base, &["push-step-up", "bank", "on"]);
    assert_eq!(on.code, 0, "{}", on.stderr);
    assert_eq!(on.stdout.trim(), "bank: pushes in the step-up band step up");
    let off = issuers(base, &["push-step-up", "bank", "off"]);
    assert_eq!(
        off.stdout.trim(),
        "bank: pushes in the step-up band are approved as authenticated by its app"
    );
    let nobody = issuers(base, &["bin-ranges", "nobody", "400012"]);
    assert_eq!(
        (nobody.code, nobody.stderr.split(':').next()),
        (1, Some("not_found"))
    );

    let dir = tempfile::tempdir().unwrap();
    let crypto = AwsLcProvider::new();
    let key = crypto.generate_ec_key().unwrap();
    let mut jwk = Jwk::from_public_key(key.public_key());
    jwk.kid = Some("bank-enc-1".into());
    let path = dir.path().join("bank.jwk");
    std::fs::write(&path, serde_json::to_string(&jwk).unwrap()).unwrap();
    let set = issuers(
        base,
        &[
            "decisioning",
            "bank",
            "--endpoint",
            "https://bank.example/decide",
            "--jwk",
            path.to_str().unwrap(),
        ],
    );
    assert_eq!(set.code, 0, "{}", set.stderr);
    assert_eq!(
        set.stdout.trim(),
        "bank: decisioning at https://bank.example/decide, card data encrypted to key bank-enc-1"
    );
    let plain = issuers(
        base,
        &[
            "decisioning",
            "bank",
            "--endpoint",
            "http://bank.example/decide",
            "--jwk",
            path.to_str().unwrap(),
        ],
    );
    assert_eq!(plain.code, 1, "{}", plain.stdout);

    // The call centre's activation is the issuer's: the admin key is refused.
    let refused = tokens(
        base,
        Some(ADMIN),
        &["activate", &token.token_ref_id, "--agent-id", "a-1"],
        None,
    );
    assert_eq!(
        (refused.code, refused.stderr.split(':').next()),
        (1, Some("forbidden")),
        "{}",
        refused.stderr
    );
}
