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
use provisio_risk::{evaluate, Signals, WalletInput};
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
    let now = state.clock.now();
    register(store.as_ref(), &crypto, now).await?;

    let bar = progress(n, "preloading", quiet);
    let (tx, mut rx) = tokio::sync::mpsc::channel::<anyhow::Result<Vec<NewProvisioning>>>(4);
    let next = Arc::new(AtomicU64::new(0));
    let taken = Arc::new(Mutex::new(HashSet::new()));
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let minters: Vec<_> = (0..threads)
        .map(|_| {
            let (tx, next, taken, keys, config) = (
                tx.clone(),
                next.clone(),
                taken.clone(),
                state.keys.clone(),
                state.config.clone(),
            );
            std::thread::spawn(move || loop {
                let start = next.fetch_add(BATCH, Ordering::Relaxed);
                if start >= n {
                    return;
                }
                let batch = (start..n.min(start + BATCH))
                    .map(|i| unique(&taken, || record(&keys, &config, i, n, now)))
                    .collect();
                if tx.blocking_send(batch).is_err() {
                    return;
                }
            })
        })
        .collect();
    drop(tx);
    while let Some(batch) = rx.recv().await {
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

/// The issuer and wallet the preloaded records belong to (API keys nobody holds).
async fn register(store: &dyn Store, crypto: &AwsLcProvider, now: i64) -> anyhow::Result<()> {
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
    };
    store.create_issuer(&issuer, &unheld(crypto)?, None).await?;
    let requestor = TokenRequestorRecord {
        token_requestor_id: REQUESTOR.into(),
        name: "Preloaded Wallet".into(),
        wallet_accounts: "external".into(),
        created_at: now,
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

/// Preloaded record `i` of `n`: its own card, user and device, `i / n` of the way back
/// through the last 30 days.
fn record(
    keys: &TspKeys,
    config: &TspConfig,
    i: u64,
    n: u64,
    now: i64,
) -> anyhow::Result<NewProvisioning> {
    let crypto = AwsLcProvider::new();
    let body = format!("4999{i:011}");
    let check = provisio_types::luhn_check_digit(&body).context("luhn")?;
    let pan = Pan::parse(&format!("{body}{check}"))?;
    let pan_hash = keys.vault().lookup_hash(&crypto, "pan", pan.expose());
    let accepted = Accepted {
        issuer_id: ISSUER.into(),
        jti: format!("preload-jti-{i}"),
        session_id: format!("preload-sid-{i}"),
        wallet_user_id: format!("preload-user-{i}"),
        device_id: format!("preload-device-{i}"),
        token_requestor_id: REQUESTOR.into(),
        pan,
        expiry: Expiry::new(12, 2031)?,
        contact: Contact {
            phone: Some("+15550000000".into()),
            email: None,
        },
    };
    let signals = Signals {
        trusted_push: true,
        device_blocked: i % 20 == 19,
        ..Signals::default()
    };
    let risk = evaluate(&config.risk_policy, ISSUER, &WalletInput::Missing, &signals);
    let device: EcKeyPair = crypto.generate_ec_key()?;
    let age = i64::try_from(i).unwrap_or(0) * SPREAD_S / i64::try_from(n).unwrap_or(1).max(1);
    let input = MintInput {
        accepted: &accepted,
        device_key: device.public_key(),
        secure_element: None,
        risk: &risk,
        pan_hash,
        now: now - age,
    };
    Ok(provisio_tsp::mint(&crypto, keys, config, &input)?.record)
}
