//! `provisio bench` (docs/benchmarking.md): push provisioning and authorisation under load, and the other hot
//! paths each beside its raw primitive, measured in the same run.

mod authorize;
mod figures;
mod floor;
mod load;
mod micro;
mod preload;
mod process;
mod push;
mod reference;
mod store;

use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};
use provisio_apps::CardDetails;
use provisio_crypto::CryptoProvider;
use provisio_tsp::Contact;
use provisio_types::Pan;

/// `provisio bench` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum BenchCommand {
    /// Push provisioning over HTTP against a server process.
    Push(push::PushArgs),
    /// Authorisations (de-tokenisation with cryptogram validation) over HTTP against a
    /// server process, with pre-provisioned tokens and pre-computed cryptograms.
    Authorize(authorize::AuthorizeArgs),
    /// The store's share of a push provisioning: risk-signal reads and group commits of
    /// minted records, no HTTP and no request cryptography, beside the crypto floor.
    Store(store::StoreArgs),
    /// One risk evaluation with the built-in policy, beside cloning its inputs.
    Risk(micro::MicroArgs),
    /// An SCP03 level-33 exchange (wrap and unwrap, command and response), beside the same
    /// AES work done by hand and one AES-CMAC.
    Scp03(micro::MicroArgs),
    /// Minting one approved token, beside the access data encryption it cannot avoid.
    Mint(micro::MicroArgs),
    /// The reference server `bench push --reference` loads (internal).
    #[command(hide = true)]
    ReferenceServer(reference::ReferenceArgs),
}

pub(crate) async fn run(command: BenchCommand) -> anyhow::Result<ExitCode> {
    match command {
        BenchCommand::Push(args) => push::run(args).await,
        BenchCommand::Authorize(args) => authorize::run(args).await,
        BenchCommand::Store(args) => store::run(args).await,
        BenchCommand::Risk(args) => micro::risk(&args),
        BenchCommand::Scp03(args) => micro::scp03(&args),
        BenchCommand::Mint(args) => micro::mint(&args),
        BenchCommand::ReferenceServer(args) => reference::serve(args).await,
    }
}

/// Microseconds per call of `f` on this thread: the median of 7 rounds of `iters` calls.
fn per_call_us(iters: usize, mut f: impl FnMut() -> anyhow::Result<()>) -> anyhow::Result<f64> {
    let mut rounds = Vec::with_capacity(7);
    for _ in 0..7 {
        let t = Instant::now();
        for _ in 0..iters {
            f()?;
        }
        rounds.push(t.elapsed().as_secs_f64() * 1e6 / iters.max(1) as f64);
    }
    rounds.sort_by(f64::total_cmp);
    Ok(rounds.get(3).copied().unwrap_or_default())
}

/// The server's master key in hex: `PROVISIO_MASTER_KEY` if set (so that a preloaded store can
/// be loaded again by later runs), else a random one.
fn master_key_hex(crypto: &dyn CryptoProvider) -> anyhow::Result<String> {
    if let Ok(key) = std::env::var("PROVISIO_MASTER_KEY") {
        return Ok(key);
    }
    let mut master = [0u8; 32];
    crypto.fill_random(&mut master)?;
    Ok(hex::encode(master))
}

/// The database a store URL names, as the reports call it.
fn store_kind(url: &str) -> &'static str {
    if url.starts_with("postgres") {
        "postgres"
    } else {
        "sqlite"
    }
}

/// Prints `report`: one JSON object with `json`, else as `print` lays it out.
fn emit<R: serde::Serialize>(json: bool, report: &R, print: fn(&R)) -> anyhow::Result<ExitCode> {
    if json {
        println!("{}", serde_json::to_string_pretty(report)?);
    } else {
        print(report);
    }
    Ok(ExitCode::SUCCESS)
}

/// The `p` quantile of sorted microseconds, in milliseconds.
fn percentile(sorted_us: &[u64], p: f64) -> f64 {
    if sorted_us.is_empty() {
        return 0.0;
    }
    let i = ((sorted_us.len() as f64 - 1.0) * p).round() as usize;
    sorted_us.get(i).copied().unwrap_or_default() as f64 / 1000.0
}

/// A progress bar on standard error, or a hidden one when the output is JSON.
fn progress(n: u64, what: &str, quiet: bool) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(n);
    if let Ok(style) = ProgressStyle::with_template("{msg:>16} [{bar:40}] {pos}/{len} {elapsed}") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(what.to_owned());
    bar
}

/// A test card number for request `i`: a fixed prefix, `i`, and the Luhn digit.
fn test_card(i: usize) -> anyhow::Result<CardDetails> {
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
