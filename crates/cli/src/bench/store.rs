//! `provisio bench store`: the store's share of a push provisioning, measured alone.
//!
//! On the push handler's path the store does two things: it reads the risk signals and it
//! commits the records through the group-commit writer (API key holders and issuer keys come
//! from memory, `read_cache.rs`; an `external` wallet has no account to read). This bench does
//! exactly that, from `--concurrency` tasks in this process, for records minted before the
//! clock starts by the token service's own `mint` (`preload::record`), and reports this
//! process's CPU time per push beside the crypto floor measured in the same run.
//!
//! A server does the floor's work, HTTP and JSON (which `bench push --reference` measures)
//! and this; so `store_floor_ratio` is what the store adds to any server's `cpu_ratio` on this
//! machine, whatever the rest of it does.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::bail;
use clap::Args;
use provisio_crypto::{AwsLcProvider, CryptoProvider};
use provisio_store::{Conflict, SignalQuery, Store, StoreError};
use provisio_tsp::records::NewProvisioning;
use serde::Serialize;

use super::floor::crypto_floor;
use super::load::{self, Load};
use super::preload::{card, mint_on_every_core, open_store, record};
use super::process::Clocks;
use super::{emit, master_key_hex, percentile, progress, store_kind};

/// `provisio bench store` options.
#[derive(Debug, Args)]
pub(crate) struct StoreArgs {
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
    /// The database; default: SQLite in a temporary directory. With `PROVISIO_MASTER_KEY` set
    /// (as for `bench push --preload`) a preloaded store can be loaded again.
    #[arg(long)]
    store: Option<String>,
    /// Records minted before the clock starts and then committed, one per push.
    #[arg(long, default_value_t = 20_000)]
    requests: usize,
    /// Pushes in flight at once.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// The database server's process id (PostgreSQL's postmaster, from `postmaster.pid`), to
    /// count its CPU time too: its connections are processes of their own, on the same cores.
    #[arg(long)]
    database_pid: Option<u32>,
}

#[derive(Debug, Serialize)]
struct Report {
    throughput_per_s: f64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    /// This process's CPU time (all threads: the tasks, the runtime, the database driver's
    /// threads) per committed push.
    store_cpu_us_per_push: f64,
    crypto_floor_us: f64,
    /// `store_cpu_us_per_push / crypto_floor_us`.
    store_floor_ratio: f64,
    /// The database server's CPU time (with `--database-pid`) per committed push.
    database_cpu_us_per_push: Option<f64>,
    /// The machine's idle time during the load, in cores (0 when every core was busy).
    idle_cores: f64,
    completed: u64,
    /// Refusals by code: a token PAN that an earlier run's record already has is the only
    /// expected one (the server mints another number then).
    errors: BTreeMap<String, u64>,
    seconds: f64,
    concurrency: usize,
    store: String,
    cores: usize,
    /// The tokens in the vault before this run's records were made: preloaded, or left by
    /// earlier runs on the same store.
    vault_tokens: u64,
}

pub(super) async fn run(args: StoreArgs) -> anyhow::Result<ExitCode> {
    crate::logging::init("warn", false);
    if args.concurrency == 0 || args.requests == 0 {
        bail!("--concurrency and --requests must be at least 1");
    }
    let crypto = AwsLcProvider::new();
    let dir = tempfile::tempdir()?;
    let url = args
        .store
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("bench.db").display()));
    let admin_key = provisio_server::new_api_key(&crypto).map_err(|e| anyhow::anyhow!("{e}"))?;
    let (store, state) = open_store(&url, &master_key_hex(&crypto)?, &admin_key).await?;
    let vault_tokens = store.count_tokens().await?;
    let now = state.clock.now();

    // Ids of this run's own, so that runs on one store do not collide.
    let mut run = [0u8; 4];
    crypto.fill_random(&mut run)?;
    let prefix = format!("store-{}", hex::encode(run));
    let records = mint(&state, &prefix, args.requests as u64, now, args.json).await?;

    let floor_before = crypto_floor()?;
    let before = Clocks::read(None, args.database_pid)?;
    let load = drive(store, records, &args).await?;
    let spent = Clocks::read(None, args.database_pid)?.since(before);
    let floor = (floor_before + crypto_floor()?) / 2.0;

    let Load {
        mut latencies,
        errors,
        seconds,
    } = load;
    latencies.sort_unstable();
    let completed = latencies.len() as u64;
    let per_push =
        |seconds: f64| seconds * 1e6 / (completed + errors.values().sum::<u64>()).max(1) as f64;
    let store_cpu = per_push(spent.own);
    let report = Report {
        throughput_per_s: completed as f64 / seconds,
        p50_ms: percentile(&latencies, 0.50),
        p99_ms: percentile(&latencies, 0.99),
        max_ms: latencies.last().copied().unwrap_or_default() as f64 / 1000.0,
        store_cpu_us_per_push: store_cpu,
        crypto_floor_us: floor,
        store_floor_ratio: store_cpu / floor,
        database_cpu_us_per_push: spent.database.map(per_push),
        idle_cores: spent.idle / seconds,
        completed,
        errors,
        seconds,
        concurrency: args.concurrency,
        store: store_kind(&url).into(),
        cores: std::thread::available_parallelism().map_or(1, usize::from),
        vault_tokens,
    };
    emit(args.json, &report, print_report)
}

/// `n` records of this run, created now, minted on every core.
async fn mint(
    state: &provisio_server::AppState,
    prefix: &str,
    n: u64,
    now: i64,
    quiet: bool,
) -> anyhow::Result<Vec<NewProvisioning>> {
    let bar = progress(n, "minting", quiet);
    let prefix = prefix.to_owned();
    let (mut batches, minters) =
        mint_on_every_core(&state.keys, &state.config, n, move |keys, config, i| {
            record(keys, config, &prefix, i, now)
        });
    let mut records = Vec::with_capacity(usize::try_from(n).unwrap_or_default());
    while let Some(batch) = batches.recv().await {
        let batch = batch?;
        bar.inc(batch.len() as u64);
        records.extend(batch);
    }
    for m in minters {
        m.join()
            .map_err(|_| anyhow::anyhow!("a minting thread panicked"))?;
    }
    bar.finish_and_clear();
    Ok(records)
}

/// What the push handler asks of the store for each record: its risk signals, then its
/// commit, with `--concurrency` records in flight. A store that is unavailable stops the load.
async fn drive(
    store: Arc<dyn Store>,
    records: Vec<NewProvisioning>,
    args: &StoreArgs,
) -> anyhow::Result<Load> {
    let bar = progress(records.len() as u64, "committing", args.json);
    let each = {
        let bar = bar.clone();
        move || bar.inc(1)
    };
    let load = load::drive(
        Arc::new(records),
        args.concurrency,
        None,
        each,
        move |records, i| {
            let store = store.clone();
            async move {
                let Some(record) = records.get(i) else {
                    return Ok(Err("no_record".into()));
                };
                match push(store.as_ref(), record, i as u64).await {
                    Ok(()) => Ok(Ok(())),
                    Err(StoreError::Unavailable(e)) => {
                        Err(anyhow::anyhow!("the store is unavailable: {e}"))
                    }
                    Err(e) => Ok(Err(refusal(&e).into())),
                }
            }
        },
    )
    .await;
    bar.finish_and_clear();
    load
}

/// The push handler's store calls for record `i`.
async fn push(store: &dyn Store, record: &NewProvisioning, i: u64) -> Result<(), StoreError> {
    let bin8 = card(i)
        .map(|pan| pan.expose().chars().take(8).collect())
        .unwrap_or_default();
    store
        .risk_signals(&SignalQuery {
            pan_hash: record.pan_hash,
            bin8,
            device_id: record.device_id.clone(),
            token_requestor_id: record.token_requestor_id.clone(),
            wallet_user_id: record.wallet_user_id.clone(),
            now: record.created_at,
        })
        .await?;
    store.commit_provisioning(record, None).await
}

/// A refusal's code in the report.
fn refusal(e: &StoreError) -> &'static str {
    match e {
        StoreError::Conflict(Conflict::TokenPan) => "token_pan_taken",
        StoreError::Conflict(_) => "conflict",
        StoreError::MissingReference => "missing_reference",
        _ => "corrupt",
    }
}

fn print_report(r: &Report) {
    println!(
        "store work of push provisioning on {} ({} cores, concurrency {}, {:.1} s, {} tokens in the vault)",
        r.store, r.cores, r.concurrency, r.seconds, r.vault_tokens
    );
    println!(
        "  committed      {} ({:.0}/s)",
        r.completed, r.throughput_per_s
    );
    println!(
        "  latency        p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms (signals read + commit)",
        r.p50_ms, r.p99_ms, r.max_ms
    );
    for (code, n) in &r.errors {
        println!("  refused        {code}: {n}");
    }
    println!(
        "  CPU            {:.0} µs per push, all threads ({:.2} × the floor)",
        r.store_cpu_us_per_push, r.store_floor_ratio
    );
    if let Some(db) = r.database_cpu_us_per_push {
        println!("  database       {db:.0} µs per push (its server's processes)");
    }
    println!("  idle           {:.2} of {} cores", r.idle_cores, r.cores);
    println!(
        "  crypto floor   {:.0} µs per request on one core (measured in this run)",
        r.crypto_floor_us
    );
}
