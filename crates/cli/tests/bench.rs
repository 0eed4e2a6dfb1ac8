//! `provisio bench push --json` (PROTOCOL.md section 5): a short run against its own server
//! process reports every key, with every request approved. No timing is asserted.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::process::Command;

#[test]
fn bench_push_reports_the_protocol_keys_and_every_request_approved() {
    let out = Command::new(env!("CARGO_BIN_EXE_provisio"))
        .args([
            "bench",
            "push",
            "--json",
            "--duration",
            "30",
            "--concurrency",
            "3",
        ])
        .args(["--requests", "60"])
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
    // The run ends when the 60 prepared requests are sent, each approved once.
    assert_eq!(r["completed"], 60, "{r}");
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
}
