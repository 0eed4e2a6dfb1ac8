//! `provisio bench push` (docs/benchmarking.md): push provisioning under load.
//!
//! By default the server runs as its own process (`provisio serve` on loopback, on a fresh
//! store), so its CPU time and memory can be read from `/proc` apart from the load
//! generator's; `--url` loads a running server instead. Before the clock starts the bench
//! registers an issuer and a wallet and makes every request (issuer signature and encryption,
//! wallet keys): the load generator only sends. In the same run it measures the crypto floor
//! (`floor.rs`) and reports the server against it.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use provisio_apps::{IssuerApp, WalletApp};
use provisio_client::ProvisioClient;
use provisio_crypto::{AwsLcProvider, CryptoProvider};
use provisio_jose::Jwk;
use provisio_server::{Clock, SystemClock};
use provisio_store::{ProvisioningStore, SqlStore};
use provisio_tsp::jwk_thumbprint;
use provisio_tsp::wire::PushProvisioningRequest;
use serde::Serialize;

use super::figures::Figures;
use super::floor::crypto_floor;
use super::load::{self, Load};
use super::process::{Clocks, Target};
use super::{emit, master_key_hex, progress, store_kind, test_card};

/// `provisio bench push` options.
#[derive(Debug, Args)]
pub(crate) struct PushArgs {
    /// Print one JSON object (the keys of docs/benchmarking.md).
    #[arg(long)]
    json: bool,
    /// Seconds of load.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// The server's database; default: SQLite in a temporary directory. The server's master
    /// key is `PROVISIO_MASTER_KEY` if set (to run again on a preloaded store), else random.
    #[arg(long, conflicts_with = "url")]
    store: Option<String>,
    /// Requests made before the clock starts; default: 3,000 per second of load. The run ends
    /// early if they are all sent.
    #[arg(long)]
    requests: Option<usize>,
    /// Load a running server at this base URL instead of starting one. Needs its admin key
    /// (`--admin-key` or `PROVISIO_ADMIN_KEY`) to register the bench's issuer and wallet.
    #[arg(long)]
    url: Option<String>,
    /// The running server's admin API key (used with `--url`; the variable may be set for
    /// other reasons, so it is not an error without `--url`).
    #[arg(long, env = "PROVISIO_ADMIN_KEY", hide_env_values = true)]
    admin_key: Option<String>,
    /// The running server's process id (with `--url`), for its CPU time and memory; without
    /// it those are reported as null.
    #[arg(long, requires = "url")]
    server_pid: Option<u32>,
    /// Tokens loaded into the vault before the server starts (real minted records, written in
    /// bulk transactions); not with `--url`.
    #[arg(long, default_value_t = 0, conflicts_with = "url")]
    preload: u64,
    /// Load the reference server instead (`reference.rs`): HTTP, JSON and the crypto floor
    /// only, no store. What it reaches is the most this machine gives any server.
    #[arg(long, conflicts_with_all = ["url", "store", "preload"])]
    reference: bool,
    /// The database server's process id (PostgreSQL's postmaster, from `postmaster.pid`), to
    /// report its CPU time per request too: its connections are processes of their own.
    #[arg(long, conflicts_with = "reference")]
    database_pid: Option<u32>,
    /// Load the reference server before and after the real one, in this run, and report the
    /// real server's throughput against the reference's (`reference_ratio`).
    #[arg(long, conflicts_with_all = ["url", "reference"])]
    compare_reference: bool,
}

/// The report; docs/benchmarking.md explains every key. Server readings are null when
/// the server's process is unknown (`--url` without `--server-pid`).
#[derive(Debug, Serialize)]
struct Report {
    #[serde(flatten)]
    figures: Figures,
    crypto_floor_us: f64,
    concurrency: usize,
    store: String,
    preloaded_tokens: u64,
    /// The tokens in the vault when the load started, preloaded or left by earlier runs on the
    /// same store (`null` with `--url` and `--reference`).
    vault_tokens: Option<u64>,
    server_rss_mib: Option<f64>,
    /// With `--compare-reference`: the reference server's throughput in the same run (the
    /// mean of its loads before and after the real server's).
    reference_throughput_per_s: Option<f64>,
    /// With `--compare-reference`: `throughput_per_s / reference_throughput_per_s`.
    reference_ratio: Option<f64>,
    /// With `--compare-reference`: the reference server's CPU per request over the floor.
    reference_cpu_ratio: Option<f64>,
}

/// One request per phone (its own user, device and card, so no velocity rule fires). `run`
/// (random) keeps phones and cards apart from earlier runs' on the same store.
fn make_requests(
    issuer: &IssuerApp,
    trid: &str,
    jwks: &provisio_jose::JwkSet,
    run: u32,
    n: usize,
    quiet: bool,
) -> anyhow::Result<Vec<PushProvisioningRequest>> {
    let crypto = AwsLcProvider::new();
    // Test card numbers have 11 free digits: a run's block of a million starts at a random one.
    let card_offset = (run as usize % 100_000) * 1_000_000;
    let bar = progress(n as u64, "making requests", quiet);
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let wallet = WalletApp::new(
            &crypto,
            trid,
            &format!("bench-user-{run}-{i}"),
            &format!("bench-device-{run}-{i}"),
        )?;
        let start = issuer.start_session(&crypto)?;
        let answer = wallet.answer(&start);
        let claims = issuer.claims(
            &crypto,
            &answer,
            &test_card(card_offset + i)?,
            SystemClock.now(),
        )?;
        let jwe = issuer.request_data(&crypto, &claims, jwks)?;
        out.push(wallet.push_request(&answer, jwe, None));
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(out)
}

pub(super) async fn run(args: PushArgs) -> anyhow::Result<ExitCode> {
    crate::logging::init("warn", false);
    if args.concurrency == 0 || args.duration == 0 {
        bail!("--concurrency and --duration must be at least 1");
    }
    let report = if args.compare_reference {
        let before = measure(&args, true).await?;
        let mut report = measure(&args, false).await?;
        let after = measure(&args, true).await?;
        let reference = (before.figures.throughput_per_s + after.figures.throughput_per_s) / 2.0;
        report.reference_throughput_per_s = Some(reference);
        report.reference_ratio = Some(report.figures.throughput_per_s / reference);
        report.reference_cpu_ratio = before
            .figures
            .cpu_ratio
            .zip(after.figures.cpu_ratio)
            .map(|(a, b)| (a + b) / 2.0);
        report
    } else {
        measure(&args, args.reference).await?
    };
    emit(args.json, &report, print_report)
}

/// One load of the real server (or, with `reference`, the reference server).
async fn measure(args: &PushArgs, reference: bool) -> anyhow::Result<Report> {
    let crypto = AwsLcProvider::new();
    let dir = tempfile::tempdir()?;
    let (server, admin_key, store, vault_tokens) = match &args.url {
        None if reference => (
            Target::spawn_reference().await?,
            "reference".to_owned(),
            "reference".to_owned(),
            None,
        ),
        Some(url) => {
            let key = args.admin_key.clone().context(
                "--url needs the server's admin key (--admin-key or PROVISIO_ADMIN_KEY)",
            )?;
            (
                Target::running(url, args.server_pid),
                key,
                "remote".to_owned(),
                None,
            )
        }
        None => {
            let store = args
                .store
                .clone()
                .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("bench.db").display()));
            let master = master_key_hex(&crypto)?;
            let admin_key =
                provisio_server::new_api_key(&crypto).map_err(|e| anyhow::anyhow!("{e}"))?;
            if args.preload > 0 {
                super::preload::preload(&store, &master, &admin_key, args.preload, args.json)
                    .await?;
            }
            let tokens = SqlStore::open(&store).await?.count_tokens().await?;
            let server = Target::spawn(&store, dir.path(), &master, &admin_key).await?;
            (
                server,
                admin_key,
                store_kind(&store).to_owned(),
                Some(tokens),
            )
        }
    };

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

    // The floor is measured on each side of the load and averaged: this machine's speed drifts
    // within seconds, and one measurement taken in a slow or fast spell skews every ratio.
    let floor_before = crypto_floor()?;
    let n = args.requests.unwrap_or(args.duration as usize * 3000);
    let run = u32::from_be_bytes(suffix);
    let requests = Arc::new(make_requests(&issuer, &trid, &jwks, run, n, args.json)?);

    let clocks = || Clocks::read(server.pid(), args.database_pid);
    let before = clocks()?;
    let load = drive(&admin.with_key(&wallet_key), requests, args).await?;
    let spent = clocks()?.since(before);
    let rss = server.rss_mib()?;
    drop(server);
    let floor = (floor_before + crypto_floor()?) / 2.0;

    let report = Report {
        figures: Figures::of(load, spent, floor),
        crypto_floor_us: floor,
        concurrency: args.concurrency,
        store,
        preloaded_tokens: args.preload,
        vault_tokens,
        server_rss_mib: rss,
        reference_throughput_per_s: None,
        reference_ratio: None,
        reference_cpu_ratio: None,
    };
    Ok(report)
}

/// Sends the prepared requests with `--concurrency` in flight until `--duration` is up or
/// they are all sent; an approval counts as a success, anything else by its code.
async fn drive(
    api: &ProvisioClient,
    requests: Arc<Vec<PushProvisioningRequest>>,
    args: &PushArgs,
) -> anyhow::Result<Load> {
    let bar = progress(args.duration, "load (seconds)", args.json);
    let deadline = Instant::now() + Duration::from_secs(args.duration);
    let ticker = {
        let bar = bar.clone();
        tokio::spawn(async move {
            while Instant::now() < deadline {
                tokio::time::sleep(Duration::from_secs(1)).await;
                bar.inc(1);
            }
        })
    };
    let api = api.clone();
    let load = load::drive(
        requests,
        args.concurrency,
        Some(deadline),
        || {},
        move |requests, i| {
            let api = api.clone();
            async move {
                let Some(req) = requests.get(i) else {
                    return Ok(Err("no_request".into()));
                };
                Ok(match api.push_provisioning(req, None).await {
                    Ok(r) if r.decision == provisio_tsp::wire::Decision::Approved => Ok(()),
                    Ok(r) => Err(format!("decision_{:?}", r.decision).to_lowercase()),
                    Err(e) => Err(e.code().unwrap_or("transport").to_owned()),
                })
            }
        },
    )
    .await;
    ticker.abort();
    bar.finish_and_clear();
    load
}

fn print_report(r: &Report) {
    let f = &r.figures;
    println!(
        "push provisioning on {} ({} cores, concurrency {}, {:.1} s, {} tokens preloaded)",
        r.store, f.cores, r.concurrency, f.seconds, r.preloaded_tokens
    );
    if let Some(n) = r.vault_tokens {
        println!("  vault          {n} tokens when the load started");
    }
    f.print("completed", "errors");
    if let Some(rss) = r.server_rss_mib {
        println!("  server memory  {rss:.0} MiB resident at the end");
    }
    println!(
        "  crypto floor   {:.0} µs per request on one core (measured in this run)",
        r.crypto_floor_us
    );
    println!("  throughput     {:.2} × cores / floor", f.throughput_ratio);
    if let (Some(reference), Some(ratio)) = (r.reference_throughput_per_s, r.reference_ratio) {
        println!(
            "  reference      {reference:.0}/s in this run; this server {ratio:.2} × the reference"
        );
    }
}
