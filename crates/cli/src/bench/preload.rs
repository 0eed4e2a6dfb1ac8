//! `provisio bench push --preload N`: fills the vault with N tokens before the server starts,
//! so the load runs against a full store (issue 8: throughput and p99 with 1M tokens).
//!
//! The records are real: the bench opens the server's store with the server's master key,
//! loads the same key set the server will use, and mints each token with the token service's
//! own `mint` (a token PAN in the BIN range, the PAN and keys sealed under the vault key, an
//! installation script). Every card, user and device is different and the records are spread
//! over the last 30 days, so the velocity windows see them; one in 20 is a decline (a blocked
//! device), as real traffic has. Minting runs on every core; the rows go in through
//! [`Store::import_provisionings`], thousands per transaction, instead of one HTTP request
//! each.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::Context;
use provisio_crypto::{AwsLcProvider, CryptoProvider, EcKeyPair, SecretBytes};
use provisio_risk::{Signals, WalletInput, Way, evaluate};
use provisio_server::SystemClock;
use provisio_store::{IssuerRecord, SqlStore, Store, TokenRequestorRecord};
use provisio_tsp::records::NewProvisioning;
use provisio_tsp::{Accepted, Contact, MintInput, TspConfig, TspKeys};
use provisio_types::{Expiry, Pan};

use super::progress;

/// Records per import transaction.
const BATCH: u64 = 2_000;
/// The window the preloaded records are spread over, in seconds.
const SPREAD_S: i64 = 30 * 86_400;
const ISSUER: &str = "preload-bank";
const REQUESTOR: &str = "40000000000";

/// Mints and imports `n` provisionings into the store at `url`.
pub(super) async fn preload(
    url: &str,
    master_hex: &str,
    admin_key: &str,
    n: u64,
    quiet: bool,
) -> anyhow::Result<()> {
    let (store, state) = open_store(url, master_hex, admin_key).await?;
    let now = state.clock.now();
    let bar = progress(n, "preloading", quiet);
    let (mut batches, minters) =
        mint_on_every_core(&state.keys, &state.config, n, move |keys, config, i| {
            let age =
                i64::try_from(i).unwrap_or(0) * SPREAD_S / i64::try_from(n).unwrap_or(1).max(1);
            record(keys, config, "preload", i, now - age)
        });
    while let Some(batch) = batches.recv().await {
        let batch = batch?;
        store.import_provisionings(&batch).await?;
        bar.inc(batch.len() as u64);
    }
    for m in minters {
        m.join()
            .map_err(|_| anyhow::anyhow!("a minting thread panicked"))?;
    }
    bar.finish_and_clear();
    Ok(())
}

/// The store at `url` opened as the server opens it (its key set under the master key), with
/// the issuer and wallet the bench's records belong to registered.
pub(super) async fn open_store(
    url: &str,
    master_hex: &str,
    admin_key: &str,
) -> anyhow::Result<(Arc<dyn Store>, provisio_server::AppState)> {
    let crypto = AwsLcProvider::new();
    let store: Arc<dyn Store> = Arc::new(SqlStore::open(url).await?);
    let master = SecretBytes::new(hex::decode(master_hex).context("master key")?);
    let state = provisio_server::bootstrap(
        store.clone(),
        &master,
        admin_key,
        TspConfig::default(),
        Arc::new(SystemClock),
    )
    .await?;
    register(store.as_ref(), &crypto, state.clock.now()).await?;
    Ok((store, state))
}

/// Batches of minted records `0..n` (`make(keys, config, i)`, each with a token PAN no other
/// has), made on every core and sent as they are done, in no particular order. The threads
/// end when all are sent or the receiver is dropped.
pub(super) fn mint_on_every_core(
    keys: &Arc<TspKeys>,
    config: &Arc<TspConfig>,
    n: u64,
    make: impl Fn(&TspKeys, &TspConfig, u64) -> anyhow::Result<NewProvisioning> + Send + Sync + 'static,
) -> (
    tokio::sync::mpsc::Receiver<anyhow::Result<Vec<NewProvisioning>>>,
    Vec<std::thread::JoinHandle<()>>,
) {
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let next = Arc::new(AtomicU64::new(0));
    let taken = Arc::new(Mutex::new(HashSet::new()));
    let make = Arc::new(make);
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let minters = (0..threads)
        .map(|_| {
            let (tx, next, taken, keys, config, make) = (
                tx.clone(),
                next.clone(),
                taken.clone(),
                keys.clone(),
                config.clone(),
                make.clone(),
            );
            std::thread::spawn(move || {
                loop {
                    let start = next.fetch_add(BATCH, Ordering::Relaxed);
                    if start >= n {
                        return;
                    }
                    let batch = (start..n.min(start + BATCH))
                        .map(|i| unique(&taken, || make(&keys, &config, i)))
                        .collect();
                    if tx.blocking_send(batch).is_err() {
                        return;
                    }
                }
            })
        })
        .collect();
    (rx, minters)
}

/// The issuer and wallet the preloaded records belong to (API keys nobody holds), unless an
/// earlier preload or `bench store` run registered them.
async fn register(store: &dyn Store, crypto: &AwsLcProvider, now: i64) -> anyhow::Result<()> {
    if store.issuer(ISSUER).await?.is_some() {
        return Ok(());
    }
    let unheld = |crypto: &AwsLcProvider| -> anyhow::Result<[u8; 32]> {
        let mut k = [0u8; 32];
        crypto.fill_random(&mut k)?;
        Ok(k)
    };
    let key = crypto.generate_ec_key()?;
    let jwk = provisio_jose::Jwk::from_public_key(key.public_key());
    let issuer = IssuerRecord {
        issuer_id: ISSUER.into(),
        name: "Preloaded Bank".into(),
        signing_kid: provisio_tsp::jwk_thumbprint(crypto, key.public_key()),
        signing_jwk: serde_json::to_string(&jwk)?,
        created_at: now,
        notification_url: None,
        push_step_up: false,
        bin_ranges: Vec::new(),
        decisioning: None,
    };
    store.create_issuer(&issuer, &unheld(crypto)?, None).await?;
    let requestor = TokenRequestorRecord {
        token_requestor_id: REQUESTOR.into(),
        name: "Preloaded Wallet".into(),
        wallet_accounts: "external".into(),
        created_at: now,
        notification_url: None,
    };
    store
        .create_token_requestor(&requestor, &unheld(crypto)?, None)
        .await?;
    Ok(())
}

/// A record whose token PAN no earlier record has: the BIN range holds 10^8 token PANs, so
/// a million draws collide a few thousand times, and one collision would refuse a whole
/// import batch. The server retries such a collision too (`MINT_ATTEMPTS`).
fn unique(
    taken: &Mutex<HashSet<[u8; 32]>>,
    mut mint: impl FnMut() -> anyhow::Result<NewProvisioning>,
) -> anyhow::Result<NewProvisioning> {
    loop {
        let record = mint()?;
        let Some(hash) = record.token.as_ref().map(|t| t.token_pan_hash) else {
            return Ok(record);
        };
        if taken
            .lock()
            .map_err(|_| anyhow::anyhow!("a minting thread panicked"))?
            .insert(hash)
        {
            return Ok(record);
        }
    }
}

/// Record `i` of a run whose ids begin with `prefix`: its own card, user and device, created
/// at `created_at`. One in 20 is a decline (a blocked device), as real traffic has.
pub(super) fn record(
    keys: &TspKeys,
    config: &TspConfig,
    prefix: &str,
    i: u64,
    created_at: i64,
) -> anyhow::Result<NewProvisioning> {
    let crypto = AwsLcProvider::new();
    let pan = card(i)?;
    let pan_hash = keys.vault().lookup_hash(&crypto, "pan", pan.expose());
    let accepted = Accepted {
        origin: provisio_tsp::records::Origin::Push,
        issuer_id: ISSUER.into(),
        jti: format!("{prefix}-jti-{i}"),
        session_id: format!("{prefix}-sid-{i}"),
        wallet_user_id: format!("{prefix}-user-{i}"),
        device_id: format!("{prefix}-device-{i}"),
        token_requestor_id: REQUESTOR.into(),
        pan,
        expiry: Expiry::new(12, 2031)?,
        contact: Contact {
            phone: Some("+15550000000".into()),
            email: None,
        },
    };
    let signals = Signals {
        device_blocked: i % 20 == 19,
        ..Signals::default()
    };
    let risk = evaluate(
        &config.risk_policy,
        ISSUER,
        &WalletInput::Missing,
        &signals,
        &Way::default(),
    );
    let device: EcKeyPair = crypto.generate_ec_key()?;
    let input = MintInput {
        accepted: &accepted,
        device_key: device.public_key(),
        secure_element: None,
        risk: &risk,
        pan_hash,
        card: &provisio_tsp::CardFacts::default(),
        methods: None,
        now: created_at,
    };
    Ok(provisio_tsp::mint(&crypto, keys, config, &input)?.record)
}

/// Record `i`'s card number (not unique: the card is not what makes a record one).
pub(super) fn card(i: u64) -> anyhow::Result<Pan> {
    let body = format!("4999{:011}", i % 100_000_000_000);
    let check = provisio_types::luhn_check_digit(&body).context("luhn")?;
    Ok(Pan::parse(&format!("{body}{check}"))?)
}
