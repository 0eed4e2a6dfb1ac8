//! `provisio bench push` (PROTOCOL.md section 5): push provisioning under load.
//!
//! The server runs as its own process (`provisio serve` on loopback, on a fresh store), so its
//! CPU time can be read from `/proc` apart from the load generator's. Before the clock starts
//! the bench registers an issuer and a wallet and makes every request (issuer signature and
//! encryption, wallet keys): the load generator only sends. In the same run it measures the
//! crypto floor, the unavoidable cryptography of one request on one core (JWE decrypt, JWS
//! verify, access data JWE encrypt), and reports the server against it.

use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use provisio_apps::{CardDetails, IssuerApp, WalletApp};
use provisio_client::ProvisioClient;
use provisio_crypto::{AwsLcProvider, CryptoProvider, EcKeyPair};
use provisio_jose::{EncryptOptions, Jwk, KeyManagement};
use provisio_server::{Clock, SystemClock};
use provisio_tsp::wire::PushProvisioningRequest;
use provisio_tsp::{jwk_thumbprint, Contact};
use provisio_types::Pan;
use serde::Serialize;

/// `provisio bench` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum BenchCommand {
    /// Push provisioning over HTTP against a server process on loopback.
    Push(PushArgs),
}

/// `provisio bench push` options.
#[derive(Debug, Args)]
pub(crate) struct PushArgs {
    /// Print one JSON object (PROTOCOL.md section 5 keys).
    #[arg(long)]
    json: bool,
    /// Seconds of load.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// The server's database; default: SQLite in a temporary directory.
    #[arg(long)]
    store: Option<String>,
    /// Requests made before the clock starts; default: 3,000 per second of load. The run ends
    /// early if they are all sent.
    #[arg(long)]
    requests: Option<usize>,
}

/// The report; the first keys are PROTOCOL.md section 5's.
#[derive(Debug, Serialize)]
struct Report {
    throughput_per_s: f64,
    p50_ms: f64,
    p90_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    errors: std::collections::BTreeMap<String, u64>,
    server_cpu_us_per_request: f64,
    crypto_floor_us: f64,
    cores: usize,
    cpu_ratio: f64,
    throughput_ratio: f64,
    completed: u64,
    seconds: f64,
    concurrency: usize,
    store: String,
}

pub(crate) async fn run(command: BenchCommand) -> anyhow::Result<ExitCode> {
    match command {
        BenchCommand::Push(args) => push(args).await,
    }
}

/// `provisio serve` as a child process, killed when dropped.
struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// The process's CPU time so far (user + system, all threads), from `/proc`.
    fn cpu_seconds(&self) -> anyhow::Result<f64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id()))
            .context("reading the server's CPU time from /proc (Linux only)")?;
        // Fields after the parenthesised command name; utime and stime are the 14th and 15th
        // fields of the line, in clock ticks of USER_HZ (100 on Linux, fixed by its ABI).
        let rest = stat
            .rsplit_once(')')
            .map(|(_, r)| r)
            .context("malformed /proc stat")?;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let tick = |i: usize| -> anyhow::Result<f64> {
            Ok(fields.get(i).context("short /proc stat")?.parse::<f64>()?)
        };
        Ok((tick(11)? + tick(12)?) / 100.0)
    }
}

async fn start_server(
    store: &str,
    dir: &std::path::Path,
    master: &str,
    admin: &str,
) -> anyhow::Result<Server> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let child = Command::new(std::env::current_exe()?)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .arg("--database-url")
        .arg(store)
        .arg("--data-dir")
        .arg(dir)
        .env("PROVISIO_MASTER_KEY", master)
        .env("PROVISIO_ADMIN_KEY", admin)
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .context("starting provisio serve")?;
    let server = Server {
        child,
        base: format!("http://127.0.0.1:{port}"),
    };
    let probe = ProvisioClient::new(&server.base, admin);
    for _ in 0..400 {
        if probe.jwks().await.is_ok() {
            return Ok(server);
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    bail!("the server did not come up")
}

/// A test card number for request `i`: a fixed prefix, `i`, and the Luhn digit.
fn card(i: usize) -> anyhow::Result<CardDetails> {
    let body = format!("4000{:011}", i);
    let check = provisio_types::luhn_check_digit(&body).context("luhn")?;
    Ok(CardDetails {
        pan: Pan::parse(&format!("{body}{check}"))?,
        exp_month: 12,
        exp_year: 2031,
        name: "Bench Holder".into(),
        contact: Some(Contact {
            phone: Some("+15550000000".into()),
            email: None,
        }),
    })
}

/// One request per phone (its own user, device and card, so no velocity rule fires).
fn make_requests(
    issuer: &IssuerApp,
    trid: &str,
    jwks: &provisio_jose::JwkSet,
    n: usize,
    quiet: bool,
) -> anyhow::Result<Vec<PushProvisioningRequest>> {
    let crypto = AwsLcProvider::new();
    let bar = progress(n, "making requests", quiet);
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let wallet = WalletApp::new(
            &crypto,
            trid,
            &format!("bench-user-{i}"),
            &format!("bench-device-{i}"),
        )?;
        let start = issuer.start_session(&crypto)?;
        let answer = wallet.answer(&start);
        let claims = issuer.claims(&crypto, &answer, &card(i)?, SystemClock.now())?;
        let jwe = issuer.request_data(&crypto, &claims, jwks)?;
        out.push(wallet.push_request(&answer, jwe, None));
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(out)
}

fn progress(n: usize, what: &str, quiet: bool) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(n as u64);
    if let Ok(style) = ProgressStyle::with_template("{msg:>16} [{bar:40}] {pos}/{len} {elapsed}") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(what.to_owned());
    bar
}

/// The unavoidable cryptography of one push provisioning on one core, in microseconds: open
/// the request JWE (ECDH-ES+A256KW, A256GCM), verify the issuer's ES256 JWS, encrypt the access
/// data to the device key (ECDH-ES, A256GCM). The median of 7 rounds of 200.
fn crypto_floor() -> anyhow::Result<f64> {
    let crypto = AwsLcProvider::new();
    let tsp = crypto.generate_ec_key()?;
    let mut enc = Jwk::from_public_key(tsp.public_key());
    enc.kid = Some("enc".into());
    enc.key_use = Some(provisio_jose::KeyUse::Enc);
    enc.alg = Some("ECDH-ES+A256KW".into());
    let jwks = provisio_jose::JwkSet { keys: vec![enc] };
    let issuer_key = crypto.generate_ec_key()?;
    let issuer_pub = issuer_key.public_key().clone();
    let kid = jwk_thumbprint(&crypto, issuer_key.public_key());
    let issuer = IssuerApp::new("bench-bank", &kid, issuer_key, "provisio");
    let wallet = WalletApp::new(&crypto, "40010030273", "u", "d")?;
    let start = issuer.start_session(&crypto)?;
    let answer = wallet.answer(&start);
    let claims = issuer.claims(&crypto, &answer, &card(0)?, SystemClock.now())?;
    let jwe = issuer.request_data(&crypto, &claims, &jwks)?;
    let device: EcKeyPair = crypto.generate_ec_key()?;
    // Access data is about this size: token PAN, expiry, reference, key, algorithm.
    let access = [b'a'; 180];
    let once = || -> anyhow::Result<()> {
        let opened = provisio_jose::decrypt(&crypto, &jwe, &[KeyManagement::EcdhEsA256Kw], |_| {
            Some(&tsp)
        })?;
        let jws = std::str::from_utf8(opened.plaintext.expose())?;
        provisio_jose::verify_with_key(&crypto, jws, &issuer_pub)?;
        let options = EncryptOptions {
            alg: KeyManagement::EcdhEs,
            kid: None,
            cty: None,
        };
        provisio_jose::encrypt(&crypto, device.public_key(), &options, &access)?;
        Ok(())
    };
    let mut rounds = Vec::new();
    for _ in 0..7 {
        let t = Instant::now();
        for _ in 0..200 {
            once()?;
        }
        rounds.push(t.elapsed().as_secs_f64() * 1e6 / 200.0);
    }
    rounds.sort_by(f64::total_cmp);
    Ok(rounds.get(3).copied().unwrap_or_default())
}

fn percentile(sorted_us: &[u64], p: f64) -> f64 {
    if sorted_us.is_empty() {
        return 0.0;
    }
    let i = ((sorted_us.len() as f64 - 1.0) * p).round() as usize;
    sorted_us.get(i).copied().unwrap_or_default() as f64 / 1000.0
}

async fn push(args: PushArgs) -> anyhow::Result<ExitCode> {
    crate::logging::init("warn", false);
    if args.concurrency == 0 || args.duration == 0 {
        bail!("--concurrency and --duration must be at least 1");
    }
    let crypto = AwsLcProvider::new();
    let dir = tempfile::tempdir()?;
    let store = args
        .store
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("bench.db").display()));
    let mut master = [0u8; 32];
    crypto.fill_random(&mut master)?;
    let admin_key = provisio_server::new_api_key(&crypto).map_err(|e| anyhow::anyhow!("{e}"))?;
    let server = start_server(&store, dir.path(), &hex::encode(master), &admin_key).await?;

    // Participants.
    let admin = ProvisioClient::new(&server.base, &admin_key);
    let issuer_key = crypto.generate_ec_key()?;
    let kid = jwk_thumbprint(&crypto, issuer_key.public_key());
    let mut jwk = Jwk::from_public_key(issuer_key.public_key());
    jwk.kid = Some(kid.clone());
    let mut suffix = [0u8; 4];
    crypto.fill_random(&mut suffix)?;
    let issuer_id = format!("bench-bank-{}", hex::encode(suffix));
    admin
        .register_issuer(&issuer_id, "Bench Bank", &jwk)
        .await?;
    let trid = format!("4{:010}", u32::from_be_bytes(suffix) % 1_000_000_000);
    let wallet_key = admin
        .register_token_requestor(&trid, "Bench Wallet", "external")
        .await?;
    let jwks = admin.jwks().await?;
    let issuer = IssuerApp::new(&issuer_id, &kid, issuer_key, "provisio");

    let floor = crypto_floor()?;
    let n = args.requests.unwrap_or(args.duration as usize * 3000);
    let requests = Arc::new(make_requests(&issuer, &trid, &jwks, n, args.json)?);

    // The load.
    let api = admin.with_key(&wallet_key);
    let next = Arc::new(AtomicUsize::new(0));
    let latencies = Arc::new(Mutex::new(Vec::with_capacity(n)));
    let errors = Arc::new(Mutex::new(std::collections::BTreeMap::<String, u64>::new()));
    let bar = progress(args.duration as usize, "load (seconds)", args.json);
    let cpu_before = server.cpu_seconds()?;
    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.duration);
    let workers: Vec<_> = (0..args.concurrency)
        .map(|_| {
            let (api, requests, next, latencies, errors) = (
                api.clone(),
                requests.clone(),
                next.clone(),
                latencies.clone(),
                errors.clone(),
            );
            tokio::spawn(async move {
                let mut mine = Vec::new();
                while Instant::now() < deadline {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(req) = requests.get(i) else { break };
                    let t = Instant::now();
                    let result = api.push_provisioning(req, None).await;
                    let us = u64::try_from(t.elapsed().as_micros()).unwrap_or(u64::MAX);
                    match result {
                        Ok(r) if r.decision == provisio_tsp::wire::Decision::Approved => {
                            mine.push(us);
                        }
                        Ok(r) => {
                            let code = format!("decision_{:?}", r.decision).to_lowercase();
                            *errors.lock().map_err(|_| ())?.entry(code).or_default() += 1;
                        }
                        Err(e) => {
                            let code = e.code().unwrap_or("transport").to_owned();
                            *errors.lock().map_err(|_| ())?.entry(code).or_default() += 1;
                        }
                    }
                }
                latencies.lock().map_err(|_| ())?.extend(mine);
                Ok::<(), ()>(())
            })
        })
        .collect();
    let ticker = {
        let bar = bar.clone();
        tokio::spawn(async move {
            while Instant::now() < deadline {
                tokio::time::sleep(Duration::from_secs(1)).await;
                bar.inc(1);
            }
        })
    };
    for w in workers {
        let _ = w.await;
    }
    let seconds = started.elapsed().as_secs_f64();
    let cpu = server.cpu_seconds()? - cpu_before;
    ticker.abort();
    bar.finish_and_clear();
    drop(server);

    let mut lat = std::mem::take(&mut *latencies.lock().map_err(|_| anyhow::anyhow!("lock"))?);
    lat.sort_unstable();
    let errors = std::mem::take(&mut *errors.lock().map_err(|_| anyhow::anyhow!("lock"))?);
    let completed = lat.len() as u64;
    let handled = completed + errors.values().sum::<u64>();
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let throughput = completed as f64 / seconds;
    let cpu_us = if handled == 0 {
        0.0
    } else {
        cpu * 1e6 / handled as f64
    };
    let report = Report {
        throughput_per_s: throughput,
        p50_ms: percentile(&lat, 0.50),
        p90_ms: percentile(&lat, 0.90),
        p99_ms: percentile(&lat, 0.99),
        max_ms: lat.last().copied().unwrap_or_default() as f64 / 1000.0,
        errors,
        server_cpu_us_per_request: cpu_us,
        crypto_floor_us: floor,
        cores,
        cpu_ratio: cpu_us / floor,
        throughput_ratio: throughput / (cores as f64 * 1e6 / floor),
        completed,
        seconds,
        concurrency: args.concurrency,
        store: if store.starts_with("postgres") {
            "postgres".into()
        } else {
            "sqlite".into()
        },
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_report(&report);
    }
    Ok(ExitCode::SUCCESS)
}

fn print_report(r: &Report) {
    println!(
        "push provisioning on {} ({} cores, concurrency {}, {:.1} s)",
        r.store, r.cores, r.concurrency, r.seconds
    );
    println!(
        "  completed      {} ({:.0}/s)",
        r.completed, r.throughput_per_s
    );
    println!(
        "  latency        p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        r.p50_ms, r.p90_ms, r.p99_ms, r.max_ms
    );
    if r.errors.is_empty() {
        println!("  errors         none");
    } else {
        for (code, n) in &r.errors {
            println!("  errors         {code}: {n}");
        }
    }
    println!(
        "  server CPU     {:.0} µs per request",
        r.server_cpu_us_per_request
    );
    println!(
        "  crypto floor   {:.0} µs per request on one core (measured in this run)",
        r.crypto_floor_us
    );
    println!(
        "  CPU ratio      {:.2} × the floor; throughput {:.2} × cores / floor",
        r.cpu_ratio, r.throughput_ratio
    );
}
