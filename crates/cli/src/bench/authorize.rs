//! `provisio bench authorize` (docs/benchmarking.md): de-tokenisation with cryptogram
//! validation under load.
//!
//! The server runs as its own process on a fresh store (or `--store`), like `bench push`.
//! Before the clock starts the bench registers an issuer, a wallet and a network, provisions
//! `--tokens` tokens by push (each on a phone of its own, its access data opened there), and
//! makes every authorisation body with the device's cryptogram for consecutive ATCs: the load
//! generator only sends bytes. In the same run it measures one authorisation's floor
//! ([`authorization_floor`]) and reports the server against it.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use provisio_apps::{IssuerApp, WalletApp};
use provisio_client::ProvisioClient;
use provisio_crypto::{AesKey, AwsLcProvider, CryptoProvider, SecretBytes};
use provisio_emv::{Atc, Transaction};
use provisio_jose::Jwk;
use provisio_server::{Clock, SystemClock};
use provisio_tsp::payment_wire::{AuthorizationAnswer, AuthorizationRequest, Channel};
use provisio_tsp::wire::Decision;
use provisio_tsp::{VaultKeys, jwk_thumbprint};
use serde::Serialize;

use super::figures::Figures;
use super::load::{self, Load};
use super::process::{Clocks, Target};
use super::{emit, master_key_hex, per_call_us, progress, store_kind, test_card};

/// `provisio bench authorize` options.
#[derive(Debug, Args)]
pub(crate) struct AuthorizeArgs {
    /// Print one JSON object (the keys of docs/benchmarking.md).
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
    /// Tokens provisioned before the load; the authorisations go to them in turn.
    #[arg(long, default_value_t = 256)]
    tokens: usize,
    /// Authorisations made before the clock starts; default: 8,000 per second of load. The
    /// run ends early if they are all sent.
    #[arg(long)]
    requests: Option<usize>,
    /// The database server's process id (PostgreSQL's postmaster), to report its CPU time per
    /// request too.
    #[arg(long)]
    database_pid: Option<u32>,
    /// Load the reference server instead (`reference.rs`): HTTP, JSON and the floor's work
    /// only, no store, no authentication. What it reaches is the most this machine gives any
    /// server.
    #[arg(long, conflicts_with_all = ["store", "database_pid"])]
    reference: bool,
}

/// The report; docs/benchmarking.md explains every key.
#[derive(Debug, Serialize)]
struct Report {
    #[serde(flatten)]
    figures: Figures,
    /// One authorisation's unavoidable work on one core, measured in this run.
    floor_us: f64,
    concurrency: usize,
    store: String,
    tokens: usize,
}

/// A provisioned token as its phone holds it.
struct Held {
    token_pan: String,
    exp_month: u8,
    exp_year: u16,
    key: AesKey,
}

pub(super) async fn run(args: AuthorizeArgs) -> anyhow::Result<ExitCode> {
    crate::logging::init("warn", false);
    if args.concurrency == 0 || args.duration == 0 || args.tokens == 0 {
        bail!("--concurrency, --duration and --tokens must be at least 1");
    }
    let crypto = AwsLcProvider::new();
    let dir = tempfile::tempdir()?;
    let store = args
        .store
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("bench.db").display()));
    let (server, held, network_key, store) = if args.reference {
        let held = (0..args.tokens)
            .map(|i| {
                Ok(Held {
                    token_pan: test_card(i)?.pan.expose().to_owned(),
                    exp_month: 12,
                    exp_year: 2031,
                    key: AesKey::from_bytes(&super::reference::REFERENCE_CRYPTOGRAM_KEY)?,
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let server = Target::spawn_reference().await?;
        (server, held, "reference".to_owned(), "reference".to_owned())
    } else {
        let master = master_key_hex(&crypto)?;
        let admin_key =
            provisio_server::new_api_key(&crypto).map_err(|e| anyhow::anyhow!("{e}"))?;
        let server = Target::spawn(&store, dir.path(), &master, &admin_key).await?;
        let admin = ProvisioClient::new(&server.base, &admin_key);
        let mut suffix = [0u8; 4];
        crypto.fill_random(&mut suffix)?;
        let run = u32::from_be_bytes(suffix);
        let held = provision(&crypto, &admin, run, args.tokens, args.json).await?;
        let network_key = admin
            .register_network(
                &format!("bench-net-{}", hex::encode(suffix)),
                "Bench Network",
            )
            .await?;
        (server, held, network_key, store_kind(&store).to_owned())
    };
    let n = args.requests.unwrap_or(args.duration as usize * 8000);
    let bodies = Arc::new(bodies(&held, n, args.json)?);

    let floor_before = authorization_floor()?;
    let clocks = || Clocks::read(server.pid(), args.database_pid);
    let before = clocks()?;
    let load = drive(&server.base, &network_key, bodies, &args).await?;
    let spent = clocks()?.since(before);
    drop(server);
    let floor = (floor_before + authorization_floor()?) / 2.0;

    let report = Report {
        figures: Figures::of(load, spent, floor),
        floor_us: floor,
        concurrency: args.concurrency,
        store,
        tokens: args.tokens,
    };
    emit(args.json, &report, print_report)
}

/// Registers an issuer and a wallet and pushes `n` cards, each to a phone of its own, which
/// opens its access data.
async fn provision(
    crypto: &AwsLcProvider,
    admin: &ProvisioClient,
    run: u32,
    n: usize,
    quiet: bool,
) -> anyhow::Result<Vec<Held>> {
    let issuer_key = crypto.generate_ec_key()?;
    let kid = jwk_thumbprint(crypto, issuer_key.public_key());
    let mut jwk = Jwk::from_public_key(issuer_key.public_key());
    jwk.kid = Some(kid.clone());
    let issuer_id = format!("bench-bank-{run:08x}");
    admin
        .register_issuer(&issuer_id, "Bench Bank", &jwk)
        .await?;
    let trid = format!("4{:010}", run % 1_000_000_000);
    let wallet_api = admin.with_key(
        &admin
            .register_token_requestor(&trid, "Bench Wallet", "external")
            .await?,
    );
    let jwks = admin.jwks().await?;
    let issuer = IssuerApp::new(&issuer_id, &kid, issuer_key, "provisio");
    let card_offset = (run as usize % 100_000) * 1_000_000;
    let bar = progress(n as u64, "provisioning", quiet);
    let mut held = Vec::with_capacity(n);
    for i in 0..n {
        let wallet = WalletApp::new(
            crypto,
            &trid,
            &format!("pay-user-{run}-{i}"),
            &format!("pay-device-{run}-{i}"),
        )?;
        let start = issuer.start_session(crypto)?;
        let answer = wallet.answer(&start);
        let claims = issuer.claims(
            crypto,
            &answer,
            &test_card(card_offset + i)?,
            SystemClock.now(),
        )?;
        let jwe = issuer.request_data(crypto, &claims, &jwks)?;
        let r = wallet_api
            .push_provisioning(&wallet.push_request(&answer, jwe, None), None)
            .await?;
        if r.decision != Decision::Approved {
            bail!("a bench push was not approved: {:?}", r.decision);
        }
        let access = wallet.open_access_data(
            crypto,
            r.access_data
                .as_deref()
                .context("approved without access data")?,
        )?;
        let key = provisio_jose::b64_decode(&access.cryptogram_key)?;
        held.push(Held {
            token_pan: access.token_pan.clone(),
            exp_month: access.exp_month,
            exp_year: access.exp_year,
            key: AesKey::from_bytes(&key)?,
        });
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(held)
}

/// `n` authorisation bodies: request `i` pays with token `i mod tokens` at its next ATC, at a
/// terminal with its own unpredictable number.
fn bodies(held: &[Held], n: usize, quiet: bool) -> anyhow::Result<Vec<Vec<u8>>> {
    let bar = progress(n as u64, "cryptograms", quiet);
    let date = "261203";
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let t = held.get(i % held.len()).context("no token")?;
        let atc = u16::try_from(i / held.len() + 1)
            .ok()
            .and_then(Atc::new)
            .context("more requests than 65535 per token: add --tokens")?;
        let un = format!("{:08x}", i as u32);
        let amount = 100 + (i as u64 % 9_900);
        let tx = Transaction::parse(amount, "978", "250", date, &un)?;
        let ac = provisio_emv::arqc(&t.key, atc, &tx)?;
        out.push(serde_json::to_vec(&AuthorizationRequest {
            token_pan: t.token_pan.clone(),
            exp_month: t.exp_month,
            exp_year: t.exp_year,
            amount_minor: amount,
            currency: "978".into(),
            country: "250".into(),
            transaction_date: date.into(),
            unpredictable_number: un,
            atc: u32::from(atc.get()),
            cryptogram: hex::encode_upper(ac),
            channel: Channel::Contactless,
        })?);
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(out)
}

async fn drive(
    base: &str,
    key: &str,
    bodies: Arc<Vec<Vec<u8>>>,
    args: &AuthorizeArgs,
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
    let http = reqwest::Client::new();
    let url = format!("{base}/v1/network/authorizations");
    let auth = format!("Bearer {key}");
    let load = load::drive(
        bodies,
        args.concurrency,
        Some(deadline),
        || {},
        move |bodies, i| {
            let (http, url, auth) = (http.clone(), url.clone(), auth.clone());
            async move {
                let Some(body) = bodies.get(i) else {
                    return Ok(Err("no_request".into()));
                };
                let sent = http
                    .post(&url)
                    .header("authorization", auth)
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await;
                let Ok(r) = sent else {
                    return Ok(Err("transport".into()));
                };
                if !r.status().is_success() {
                    return Ok(Err(format!("http_{}", r.status().as_u16())));
                }
                Ok(match r.json::<AuthorizationAnswer>().await {
                    Ok(a) => match a.reason {
                        None => Ok(()),
                        Some(reason) => Err(reason.as_str().to_owned()),
                    },
                    Err(_) => Err("unreadable_answer".into()),
                })
            }
        },
    )
    .await;
    ticker.abort();
    bar.finish_and_clear();
    load
}

/// One authorisation's unavoidable work on one core, in microseconds: parse the HTTP request
/// and its JSON body, the keyed hash of the token PAN, the session key and the CMAC, unseal
/// the funding PAN (unwrap its data key, open it), and write the JSON answer.
pub(super) fn authorization_floor() -> anyhow::Result<f64> {
    let crypto = AwsLcProvider::new();
    let mut kek = vec![0u8; 32];
    crypto.fill_random(&mut kek)?;
    let vault = VaultKeys::new(
        "kek".into(),
        SecretBytes::new(kek),
        SecretBytes::new(vec![9; 32]),
    )?;
    let key = AesKey::from_bytes(&[7; 16])?;
    let tx = Transaction::parse(1250, "978", "250", "261203", "0a0b0c0d")?;
    let atc = Atc::FIRST;
    let body = serde_json::to_vec(&AuthorizationRequest {
        token_pan: "4895370123456789".into(),
        exp_month: 12,
        exp_year: 2029,
        amount_minor: 1250,
        currency: "978".into(),
        country: "250".into(),
        transaction_date: "261203".into(),
        unpredictable_number: "0a0b0c0d".into(),
        atc: 1,
        cryptogram: hex::encode_upper(provisio_emv::arqc(&key, atc, &tx)?),
        channel: Channel::Contactless,
    })?;
    let mut request = format!(
        "POST /v1/network/authorizations HTTP/1.1\r\nhost: 127.0.0.1:8080\r\nauthorization: Bearer pvk_0123456789abcdef0123456789abcdef0123456789a\r\ncontent-type: application/json\r\ncontent-length: {}\r\naccept: */*\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(&body);
    let sealed_pan = vault.seal(&crypto, b"4000123456789017", b"token:tr_1:pan")?;
    per_call_us(20_000, || {
        let mut headers = [httparse::EMPTY_HEADER; 16];
        let mut parsed = httparse::Request::new(&mut headers);
        let httparse::Status::Complete(at) = parsed.parse(&request)? else {
            bail!("partial request");
        };
        let req: AuthorizationRequest =
            serde_json::from_slice(request.get(at..).unwrap_or_default())?;
        let hash = vault.lookup_hash(&crypto, "token_pan", &req.token_pan);
        let tx = Transaction::parse(
            req.amount_minor,
            &req.currency,
            &req.country,
            &req.transaction_date,
            &req.unpredictable_number,
        )?;
        let presented = hex::decode(&req.cryptogram)?;
        if !provisio_emv::verify(&key, atc, &tx, &presented)? {
            bail!("the floor's cryptogram did not verify");
        }
        let pan = vault.open(&crypto, &sealed_pan, b"token:tr_1:pan")?;
        let answer = serde_json::to_vec(&AuthorizationAnswer {
            authorization_id: "au_6930000000000000000000000".into(),
            decision: provisio_tsp::payment_wire::AuthorizationDecision::Approved,
            reason: None,
            token_ref_id: Some("tr_693000000000000000000000".into()),
            pan: Some(String::from_utf8_lossy(pan.expose()).into_owned()),
            exp_month: Some(12),
            exp_year: Some(2030),
            account_ref: Some("ar_0123456789abcdef".into()),
        })?;
        std::hint::black_box((hash, answer));
        Ok(())
    })
}

fn print_report(r: &Report) {
    let f = &r.figures;
    println!(
        "authorisation on {} ({} cores, concurrency {}, {:.1} s, {} tokens)",
        r.store, f.cores, r.concurrency, f.seconds, r.tokens
    );
    f.print("approved", "declines");
    println!(
        "  floor          {:.1} µs per authorisation on one core (measured in this run)",
        r.floor_us
    );
    println!("  throughput     {:.2} × cores / floor", f.throughput_ratio);
}
