//! `provisio bench` (docs/benchmarking.md): short runs report every key, with every request
//! approved; the preload writes real records; the one-core benches report consistent ratios.
//! No timing is asserted.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::process::{Command, Stdio};
use std::time::Duration;

fn bench(args: &[&str]) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_provisio"))
        .arg("bench")
        .args(args)
        .output()
        .expect("the provisio binary runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// One `SELECT COUNT(...)` on the SQLite store at `url`.
fn count_rows(url: &str, sql: &str) -> i64 {
    provisio_testkit::raw::scalar(url, sql)
}

#[test]
fn bench_push_reports_the_protocol_keys_and_every_request_approved() {
    // An admin key in the environment (a server's, say) does not get in the way of a bench
    // that starts its own server.
    let out = Command::new(env!("CARGO_BIN_EXE_provisio"))
        .env("PROVISIO_ADMIN_KEY", "pvk_set_for_some_other_server_000000")
        .args([
            "bench",
            "push",
            "--json",
            "--duration",
            "30",
            "--concurrency",
            "3",
        ])
        .args(["--requests", "200"])
        .output()
        .expect("the provisio binary runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for key in [
        "throughput_per_s",
        "p50_ms",
        "p99_ms",
        "errors",
        "server_cpu_us_per_request",
        "crypto_floor_us",
        "cores",
        "cpu_ratio",
        "throughput_ratio",
    ] {
        assert!(!r[key].is_null(), "{key} missing: {r}");
    }
    // The run ends when the 200 prepared requests are sent, each approved once (enough CPU
    // time for /proc's 10 ms clock ticks to count).
    assert_eq!(r["completed"], 200, "{r}");
    assert_eq!(r["errors"], serde_json::json!({}), "{r}");
    let floor = r["crypto_floor_us"].as_f64().unwrap();
    let cpu = r["server_cpu_us_per_request"].as_f64().unwrap();
    assert!(floor > 0.0 && cpu > 0.0, "{r}");
    let ratio = r["cpu_ratio"].as_f64().unwrap();
    assert!((ratio - cpu / floor).abs() < 1e-6, "{r}");
    let cores = r["cores"].as_f64().unwrap();
    let expected = r["throughput_per_s"].as_f64().unwrap() / (cores * 1e6 / floor);
    assert!(
        (r["throughput_ratio"].as_f64().unwrap() - expected).abs() < 1e-9,
        "{r}"
    );
    // The cores' time is accounted for: the server, the load generator and the idle time
    // together cannot exceed it (with a clock tick of slack for each of the six readings,
    // taken a moment apart), and the load generator (this bench process) is not the server.
    let load_generator = r["load_generator_cpu_us_per_request"].as_f64().unwrap();
    let idle = r["idle_cores"].as_f64().unwrap();
    let seconds = r["seconds"].as_f64().unwrap();
    assert!(
        load_generator >= 0.0 && (0.0..=cores).contains(&idle),
        "{r}"
    );
    let busy = (cpu + load_generator) * 200.0 / 1e6;
    assert!(
        busy + idle * seconds <= cores * (seconds + 0.02) + 0.06,
        "{r}"
    );
}

#[test]
fn a_preloaded_vault_holds_real_minted_records_and_the_load_still_passes() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("preload.db");
    let url = format!("sqlite://{}", db.display());
    let r = bench(&[
        "push",
        "--json",
        "--duration",
        "30",
        "--concurrency",
        "2",
        "--requests",
        "20",
        "--preload",
        "3000",
        "--store",
        &url,
    ]);
    // The bench's requests come from new phones: the preloaded records trip no rule.
    assert_eq!(r["completed"], 20, "{r}");
    assert_eq!(r["errors"], serde_json::json!({}), "{r}");
    assert_eq!(r["preloaded_tokens"], 3000, "{r}");
    // The vault's size when the load started: the 2,850 approved preloaded records' tokens.
    assert_eq!(r["vault_tokens"], 2850, "{r}");
    assert!(r["server_rss_mib"].as_f64().unwrap() > 0.0, "{r}");

    let count = |sql: &str| count_rows(&url, sql);
    let preload = "FROM provisionings WHERE issuer_id = 'preload-bank'";
    assert_eq!(count(&format!("SELECT COUNT(*) {preload}")), 3000);
    // One in 20 is declined (no token); every approved one has a token and a script.
    assert_eq!(
        count(&format!(
            "SELECT COUNT(*) {preload} AND decision = 'DECLINED'"
        )),
        150
    );
    assert_eq!(
        count(
            "SELECT COUNT(*) FROM tokens t JOIN provisionings p ON p.provisioning_id = t.provisioning_id JOIN scripts s ON s.provisioning_id = p.provisioning_id WHERE p.issuer_id = 'preload-bank'"
        ),
        2850
    );
    // Distinct token PANs, sealed (no PAN in the clear), spread over 30 days.
    assert_eq!(
        count("SELECT COUNT(DISTINCT token_pan_hash) FROM tokens"),
        2850 + 20
    );
    let span = count(&format!(
        "SELECT MAX(created_at) - MIN(created_at) {preload}"
    ));
    assert!(span > 29 * 86_400, "{span}");
    let raw = std::fs::read(&db).unwrap();
    assert!(
        !raw.windows(8).any(|w| w == b"49990000"),
        "a preloaded PAN is in the clear"
    );
}

#[test]
fn bench_store_commits_every_minted_record_and_weighs_its_cpu_against_the_floor() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("store.db").display());
    // Two runs on one store (the master key opens it again): each run's ids are its own.
    let run = || {
        let out = Command::new(env!("CARGO_BIN_EXE_provisio"))
            .env("PROVISIO_MASTER_KEY", "0123456789abcdef".repeat(4))
            .args(["bench", "store", "--json", "--requests", "300"])
            .args(["--concurrency", "4", "--store", &url])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let (first, second) = (run(), run());
    // The vault's size before each run: empty, then the first run's 285 tokens (15 declines).
    assert_eq!(first["vault_tokens"], 0, "{first}");
    assert_eq!(second["vault_tokens"], 285, "{second}");
    for r in [first, second] {
        assert_eq!(r["completed"], 300, "{r}");
        assert_eq!(r["errors"], serde_json::json!({}), "{r}");
        let cpu = r["store_cpu_us_per_push"].as_f64().unwrap();
        let floor = r["crypto_floor_us"].as_f64().unwrap();
        assert!(cpu > 0.0 && floor > 0.0, "{r}");
        assert!(
            (r["store_floor_ratio"].as_f64().unwrap() - cpu / floor).abs() < 1e-9,
            "{r}"
        );
        assert!(r["p99_ms"].as_f64().unwrap() >= r["p50_ms"].as_f64().unwrap());
        assert_eq!(r["store"], "sqlite", "{r}");
        // This process's time and the idle time fit in the cores' time.
        let (idle, seconds) = (
            r["idle_cores"].as_f64().unwrap(),
            r["seconds"].as_f64().unwrap(),
        );
        let cores = r["cores"].as_f64().unwrap();
        assert!((0.0..=cores).contains(&idle), "{r}");
        assert!(
            cpu * 300.0 / 1e6 + idle * seconds <= cores * (seconds + 0.02) + 0.04,
            "{r}"
        );
    }

    let count = |sql: &str| count_rows(&url, sql);
    // Every record was committed, in two runs of their own; one in 20 is a decline, and every
    // other one has its token and its script.
    let mine = "FROM provisionings p WHERE p.session_id LIKE 'store-%'";
    assert_eq!(count(&format!("SELECT COUNT(*) {mine}")), 600);
    assert_eq!(
        count(&format!(
            "SELECT COUNT(DISTINCT substr(p.session_id, 1, 14)) {mine}"
        )),
        2
    );
    assert_eq!(
        count(&format!("SELECT COUNT(*) {mine} AND decision = 'DECLINED'")),
        30
    );
    assert_eq!(
        count(
            "SELECT COUNT(*) FROM tokens t JOIN scripts s ON s.token_ref_id = t.token_ref_id JOIN provisionings p ON p.provisioning_id = t.provisioning_id WHERE p.session_id LIKE 'store-%'"
        ),
        570
    );
}

#[test]
fn bench_push_loads_a_running_server_by_url() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let admin = "pvk_bench_url_test_admin_key_0123456789";
    let mut server = Command::new(env!("CARGO_BIN_EXE_provisio"))
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(dir.path())
        .env("PROVISIO_ADMIN_KEY", admin)
        .env("PROVISIO_MASTER_KEY", "fedcba9876543210".repeat(4))
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}");
    for _ in 0..400 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    let pid = server.id().to_string();
    let load = |requests: &str, pid: Option<&str>| {
        let mut bench = Command::new(env!("CARGO_BIN_EXE_provisio"));
        bench
            .args(["bench", "push", "--json", "--concurrency", "2"])
            .args(["--requests", requests, "--url", &url])
            .env("PROVISIO_ADMIN_KEY", admin);
        if let Some(pid) = pid {
            bench.args(["--server-pid", pid]);
        }
        bench.output().unwrap()
    };
    let with_pid = load("300", Some(&pid));
    let without_pid = load("10", None);
    let wrong_key = Command::new(env!("CARGO_BIN_EXE_provisio"))
        .args(["bench", "push", "--json", "--requests", "1", "--url", &url])
        .args(["--admin-key", "pvk_not_the_admin_key_0000000000000"])
        .output()
        .unwrap();
    let _ = server.kill();
    let _ = server.wait();

    for out in [&with_pid, &without_pid] {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // /proc counts CPU time in clock ticks (10 ms), so this run is long enough to read some.
    let r: serde_json::Value = serde_json::from_slice(&with_pid.stdout).unwrap();
    assert_eq!(r["completed"], 300, "{r}");
    assert_eq!(r["store"], "remote", "{r}");
    assert!(
        r["server_cpu_us_per_request"].as_f64().unwrap() > 0.0,
        "{r}"
    );
    // Without the process id the server's readings are unknown, not made up.
    let r: serde_json::Value = serde_json::from_slice(&without_pid.stdout).unwrap();
    assert_eq!(r["completed"], 10, "{r}");
    assert!(r["server_cpu_us_per_request"].is_null(), "{r}");
    assert!(r["cpu_ratio"].is_null(), "{r}");
    assert!(r["server_rss_mib"].is_null(), "{r}");
    // A wrong admin key fails the bench with the server's reason.
    assert!(!wrong_key.status.success());
    assert!(
        String::from_utf8_lossy(&wrong_key.stderr).contains("unauthorized"),
        "{}",
        String::from_utf8_lossy(&wrong_key.stderr)
    );
}

#[test]
fn the_one_core_benches_report_each_baseline_and_its_ratio() {
    for (which, baselines) in [("risk", 1), ("scp03", 2), ("mint", 1)] {
        let r = bench(&[which, "--json", "--iterations", "20"]);
        let op = r["operation_us"].as_f64().unwrap();
        assert!(op > 0.0, "{which}: {r}");
        let list = r["baselines"].as_array().unwrap();
        assert_eq!(list.len(), baselines, "{which}: {r}");
        for b in list {
            let us = b["us"].as_f64().unwrap();
            assert!(us > 0.0, "{which}: {r}");
            assert!(
                (b["ratio"].as_f64().unwrap() - op / us).abs() < 1e-9,
                "{which}: {r}"
            );
        }
    }
}

#[test]
fn bench_push_loads_the_reference_server_with_every_request_approved() {
    let r = bench(&[
        "push",
        "--reference",
        "--json",
        "--concurrency",
        "3",
        "--requests",
        "300",
    ]);
    assert_eq!(r["store"], "reference", "{r}");
    // No vault behind the reference server.
    assert_eq!(r["vault_tokens"], serde_json::Value::Null, "{r}");
    assert_eq!(r["completed"], 300, "{r}");
    assert_eq!(r["errors"], serde_json::json!({}), "{r}");
    assert!(
        r["server_cpu_us_per_request"].as_f64().unwrap() > 0.0,
        "{r}"
    );
}

/// The reference server does the floor's work for real: it opens the request, verifies the
/// issuer's signature and encrypts to the device's key; a flipped bit or another signer is
/// refused.
#[test]
fn the_reference_server_opens_verifies_and_encrypts_for_real() {
    use provisio_apps::{IssuerApp, WalletApp};
    use provisio_client::ProvisioClient;
    use provisio_crypto::{AwsLcProvider, CryptoProvider};
    use provisio_jose::{Jwk, KeyManagement};
    use provisio_server::{Clock, SystemClock};

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = Command::new(env!("CARGO_BIN_EXE_provisio"))
        .args(["bench", "reference-server", "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let outcome = runtime.block_on(async {
        let crypto = AwsLcProvider::new();
        let api = ProvisioClient::new(&format!("http://127.0.0.1:{port}"), "any");
        for _ in 0..400 {
            if api.jwks().await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        let signer = crypto.generate_ec_key().unwrap();
        let mut jwk = Jwk::from_public_key(signer.public_key());
        jwk.kid = Some("k".into());
        api.register_issuer("bank", "Bank", &jwk).await.unwrap();
        let jwks = api.jwks().await.unwrap();
        let request = |issuer: &IssuerApp| {
            let wallet = WalletApp::new(&crypto, "40010030273", "u", "d").unwrap();
            let start = issuer.start_session(&crypto).unwrap();
            let answer = wallet.answer(&start);
            let card = provisio_apps::CardDetails {
                pan: provisio_types::Pan::parse("4000000000000002").unwrap(),
                exp_month: 12,
                exp_year: 2031,
                name: "Holder".into(),
                contact: None,
            };
            let claims = issuer
                .claims(&crypto, &answer, &card, SystemClock.now())
                .unwrap();
            let jwe = issuer.request_data(&crypto, &claims, &jwks).unwrap();
            wallet.push_request(&answer, jwe, None)
        };
        let issuer = IssuerApp::new("bank", "k", signer, "provisio");
        let device = crypto.generate_ec_key().unwrap();
        let mut good = request(&issuer);
        good.device.binding_jwk = Jwk::from_public_key(device.public_key());
        let approved = api.push_provisioning(&good, None).await.unwrap();
        let access = approved.access_data.unwrap();
        let opened = provisio_jose::decrypt(&crypto, &access, &[KeyManagement::EcdhEs], |_| {
            Some(&device)
        })
        .unwrap();

        let mut flipped = request(&issuer);
        let mut bytes = flipped.encrypted_payload.into_bytes();
        let last = bytes.len() - 3;
        bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
        flipped.encrypted_payload = String::from_utf8(bytes).unwrap();
        let other = IssuerApp::new("bank", "k", crypto.generate_ec_key().unwrap(), "provisio");
        (
            opened.plaintext.expose().len(),
            api.push_provisioning(&flipped, None).await.is_err(),
            api.push_provisioning(&request(&other), None).await.is_err(),
        )
    });
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!(outcome, (180, true, true));
}

#[test]
fn bench_push_compares_with_the_reference_server_in_the_same_run() {
    let r = bench(&[
        "push",
        "--json",
        "--compare-reference",
        "--duration",
        "30",
        "--concurrency",
        "2",
        "--requests",
        "100",
    ]);
    assert_eq!(r["completed"], 100, "{r}");
    assert_eq!(r["store"], "sqlite", "the report is the real server's: {r}");
    let reference = r["reference_throughput_per_s"].as_f64().unwrap();
    let throughput = r["throughput_per_s"].as_f64().unwrap();
    assert!(reference > 0.0, "{r}");
    let ratio = r["reference_ratio"].as_f64().unwrap();
    assert!((ratio - throughput / reference).abs() < 1e-9, "{r}");
    assert!(r["reference_cpu_ratio"].as_f64().unwrap() > 0.0, "{r}");
    // Without the flag the keys are there and null.
    let plain = bench(&[
        "push",
        "--json",
        "--duration",
        "30",
        "--concurrency",
        "2",
        "--requests",
        "50",
    ]);
    assert!(plain["reference_ratio"].is_null(), "{plain}");
}

#[test]
fn bench_authorize_reports_the_keys_and_every_authorisation_is_approved_and_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("auth.db").display());
    let r = bench(&[
        "authorize",
        "--json",
        "--duration",
        "30",
        "--concurrency",
        "4",
        "--tokens",
        "8",
        "--requests",
        "400",
        "--store",
        &url,
    ]);
    for key in [
        "throughput_per_s",
        "p50_ms",
        "p99_ms",
        "errors",
        "server_cpu_us_per_request",
        "floor_us",
        "cores",
        "cpu_ratio",
        "throughput_ratio",
    ] {
        assert!(!r[key].is_null(), "{key} missing: {r}");
    }
    assert_eq!(r["completed"], 400, "{r}");
    assert_eq!(r["errors"], serde_json::json!({}), "{r}");
    let floor = r["floor_us"].as_f64().unwrap();
    let cpu = r["server_cpu_us_per_request"].as_f64().unwrap();
    assert!(floor > 0.0 && cpu > 0.0, "{r}");
    assert!(
        (r["cpu_ratio"].as_f64().unwrap() - cpu / floor).abs() < 1e-6,
        "{r}"
    );
    let cores = r["cores"].as_f64().unwrap();
    let expected = r["throughput_per_s"].as_f64().unwrap() / (cores * 1e6 / floor);
    assert!(
        (r["throughput_ratio"].as_f64().unwrap() - expected).abs() < 1e-9,
        "{r}"
    );
    // Every approval was committed before it was answered: the store holds all 400, 50 ATCs
    // on each of the 8 tokens, and no PAN.
    assert_eq!(
        count_rows(
            &url,
            "SELECT COUNT(*) FROM authorizations WHERE decision = 'APPROVED'"
        ),
        400
    );
    assert_eq!(
        count_rows(
            &url,
            "SELECT COUNT(DISTINCT token_ref_id) FROM authorizations"
        ),
        8
    );
    assert_eq!(count_rows(&url, "SELECT MAX(atc) FROM authorizations"), 50);
}
