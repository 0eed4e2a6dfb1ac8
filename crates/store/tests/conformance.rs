//! The store's rules, run unchanged against every backend: SQLite always, PostgreSQL when
//! `PROVISIO_TEST_POSTGRES_URL` is set (see `provisio_testkit::postgres`). Each rule is checked
//! the way production breaks it: by concurrent writers, where the loser must get the
//! documented error and leave nothing half-written.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::collections::HashSet;
use std::sync::Arc;

use provisio_crypto::{AwsLcProvider, CryptoProvider, SecretBytes};
use provisio_risk::COUNT_CAP;
use provisio_store::{
    ApduLogRow, Conflict, Decide, IdempotencyRecord, IssuerRecord, NetworkRecord, OutboxStore,
    ParticipantStore, PaymentStore, ProvisioningStore, Role, ScriptStore, SignalQuery, SqlStore,
    StoreError, TokenRequestorRecord, TokenStore, TsmStore,
};
use provisio_tsp::payment_wire::{
    AuthorizationAnswer, AuthorizationDecision, Channel, DeclineReason,
};
use provisio_tsp::records::{NewProvisioning, NewToken, TokenStatus};
use provisio_tsp::wire::Decision;
use provisio_tsp::{Authorized, NewAuthorization, PayingToken, Recorded};
use provisio_tsp::{Script, Sealed, TsmHandoff, VaultKeys};

const NOW: i64 = 1_800_000_000;

/// A fresh store on each backend (its name and URL), with an issuer and a token requestor
/// registered. The directory holds the SQLite file.
async fn stores() -> Vec<(&'static str, Arc<SqlStore>, String, tempfile::TempDir)> {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("c.db").display());
    let mut out = vec![("sqlite", open(&url).await, url, dir)];
    if let Some(url) = provisio_testkit::postgres::fresh_postgres_url().await {
        out.push((
            "postgres",
            open(&url).await,
            url,
            tempfile::tempdir().unwrap(),
        ));
    }
    out
}

async fn open(url: &str) -> Arc<SqlStore> {
    let s = Arc::new(SqlStore::open(url).await.unwrap());
    s.create_issuer(
        &IssuerRecord {
            issuer_id: "bank".into(),
            name: "Bank".into(),
            signing_kid: "k".into(),
            signing_jwk: "{}".into(),
            created_at: NOW,
            notification_url: None,
            push_step_up: false,
            bin_ranges: vec!["400000".into(), "48953712".into()],
            decisioning: None,
        },
        &[1; 32],
        None,
    )
    .await
    .unwrap();
    s.create_token_requestor(
        &TokenRequestorRecord {
            token_requestor_id: "40010030273".into(),
            name: "Wallet".into(),
            wallet_accounts: "external".into(),
            created_at: NOW,
            notification_url: None,
        },
        &[2; 32],
        None,
    )
    .await
    .unwrap();
    s
}

fn vault() -> VaultKeys {
    VaultKeys::new(
        "kek-1".into(),
        SecretBytes::new(vec![3; 32]),
        SecretBytes::new(vec![4; 32]),
    )
    .unwrap()
}

fn sealed(v: &VaultKeys, what: &str) -> Sealed {
    v.seal(&AwsLcProvider::new(), what.as_bytes(), b"conformance")
        .unwrap()
}

fn hash(tag: &str) -> [u8; 32] {
    AwsLcProvider::new().sha256(&[tag.as_bytes()])
}

/// An approved provisioning with its token and script; `handoff` adds an outbox message.
fn provisioning(
    n: usize,
    session: &str,
    jti: &str,
    token_pan: &str,
    handoff: bool,
) -> NewProvisioning {
    let v = vault();
    let crypto = AwsLcProvider::new();
    let token_ref_id = format!("tr_{n}");
    let script = Script::for_token(&crypto, &token_ref_id, handoff).unwrap();
    NewProvisioning {
        provisioning_id: format!("pv_{n}"),
        origin: provisio_tsp::records::Origin::Push,
        session_id: session.into(),
        issuer_id: "bank".into(),
        jti: jti.into(),
        token_requestor_id: "40010030273".into(),
        wallet_user_id: "user".into(),
        device_id: "device".into(),
        decision: Decision::Approved,
        risk_json: "{}".into(),
        pan_hash: hash("pan"),
        created_at: NOW,
        token: Some(NewToken {
            token_ref_id,
            token_pan_hash: hash(token_pan),
            token_pan: sealed(&v, token_pan),
            // Each token its own card: a device holds one live token per card.
            pan_hash: hash(&format!("pan-{n}")),
            pan: sealed(&v, "pan"),
            token_last4: "1234".into(),
            exp_month: 12,
            exp_year: 2030,
            status: TokenStatus::Active,
            device_id: "device".into(),
            binding_jwk: "{}".into(),
            cryptogram_key: sealed(&v, "key"),
            secure_element_id: handoff.then(|| "se-1".into()),
            account_ref: format!("ar_{n}"),
            card_exp_month: 11,
            card_exp_year: 2029,
            events: Vec::new(),
        }),
        step_up: None,
        script: Some(script),
        handoff: handoff.then(|| TsmHandoff {
            message_id: format!("msg_{n}"),
            payload: sealed(&v, "job"),
            report_token_hash: hash(&format!("report-{n}")),
        }),
    }
}

/// Provisioning `n` with a session id, `jti` and token PAN of its own.
fn unique(n: usize, handoff: bool) -> NewProvisioning {
    provisioning(
        n,
        &format!("sid-{n}"),
        &format!("jti-{n}"),
        &format!("tp-{n}"),
        handoff,
    )
}

/// Commits `records` concurrently; returns each outcome in order.
async fn race(store: &Arc<SqlStore>, records: Vec<NewProvisioning>) -> Vec<Result<(), StoreError>> {
    let tasks: Vec<_> = records
        .into_iter()
        .map(|p| {
            let s = store.clone();
            tokio::spawn(async move { s.commit_provisioning(&p, None).await })
        })
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

/// Exactly one winner; every loser names `conflict`; only the winner's rows exist.
async fn one_winner(
    store: &SqlStore,
    name: &str,
    outcomes: &[Result<(), StoreError>],
    conflict: Conflict,
) {
    let winners: Vec<usize> = (0..outcomes.len())
        .filter(|&i| outcomes[i].is_ok())
        .collect();
    assert_eq!(winners.len(), 1, "{name}: {outcomes:?}");
    for (i, o) in outcomes.iter().enumerate() {
        if let Err(e) = o {
            assert!(
                matches!(e, StoreError::Conflict(c) if *c == conflict),
                "{name}: loser {i} got {e:?}"
            );
            // Nothing of the loser was written: no token, no script.
            assert!(
                store.token(&format!("tr_{i}")).await.unwrap().is_none(),
                "{name}: token {i}"
            );
            assert!(
                store.script(&format!("pv_{i}")).await.unwrap().is_none(),
                "{name}: script {i}"
            );
        }
    }
    assert_eq!(
        store.count_tokens_by_pan_hash(&hash("pan")).await.unwrap(),
        1,
        "{name}"
    );
}

#[tokio::test]
async fn a_session_id_is_accepted_once_under_concurrency() {
    for (name, store, _url, _dir) in stores().await {
        let records = (0..8)
            .map(|i| {
                provisioning(
                    i,
                    "sid-same",
                    &format!("jti-{i}"),
                    &format!("tp-{i}"),
                    false,
                )
            })
            .collect();
        let outcomes = race(&store, records).await;
        one_winner(&store, name, &outcomes, Conflict::SessionId).await;
    }
}

#[tokio::test]
async fn risk_signals_count_every_acknowledged_provisioning_under_concurrency() {
    for (name, store, _url, _dir) in stores().await {
        let query = |now| SignalQuery {
            pan_hash: hash("pan"),
            bin8: "40000000".into(),
            device_id: "device".into(),
            token_requestor_id: "40010030273".into(),
            wallet_user_id: "user".into(),
            now,
        };
        // Clients commit and then read at once, interleaved with each other: a read made
        // after a commit was acknowledged sees it (on SQLite the reads go to a long-lived
        // connection of their own, which must not serve a snapshot older than the commit).
        let tasks: Vec<_> = (0..24)
            .map(|i| {
                let s = store.clone();
                let q = query(NOW);
                tokio::spawn(async move {
                    let p = unique(i, false);
                    s.commit_provisioning(&p, None).await.unwrap();
                    s.risk_signals(&q).await.unwrap().card_attempts_1h
                })
            })
            .collect();
        for t in tasks {
            let seen = t.await.unwrap();
            assert!((1..=24).contains(&seen), "{name}: {seen}");
        }
        let all = store.risk_signals(&query(NOW)).await.unwrap();
        assert_eq!(all.card_attempts_1h, 24, "{name}");
        assert_eq!(all.device_attempts_24h, 24, "{name}");
        assert_eq!(all.user_attempts_24h, 24, "{name}");
        assert_eq!(all.device_tokens, 24, "{name}");
        // An hour and a day later the windows have moved on; the tokens are still there.
        let later = store.risk_signals(&query(NOW + 3601)).await.unwrap();
        assert_eq!(later.card_attempts_1h, 0, "{name}");
        assert_eq!(later.card_attempts_24h, 24, "{name}");
        let next_day = store.risk_signals(&query(NOW + 86_401)).await.unwrap();
        assert_eq!(next_day.device_attempts_24h, 0, "{name}");
        assert_eq!(next_day.device_tokens, 24, "{name}");
    }
}

#[tokio::test]
async fn a_flooded_card_device_and_user_read_as_the_cap() {
    let cap = COUNT_CAP as usize;
    for (name, store, _url, _dir) in stores().await {
        let query = SignalQuery {
            pan_hash: hash("pan"),
            bin8: "40000000".into(),
            device_id: "device".into(),
            token_requestor_id: "40010030273".into(),
            wallet_user_id: "user".into(),
            now: NOW,
        };
        // Provisioning `i` a second later than `i - 1`; the last five of the flood are
        // declines of other cards from the same device and user.
        let at = |i: usize, last: usize| {
            let mut p = unique(i, false);
            p.created_at = NOW - 1000 + i64::try_from(i).unwrap();
            if i + 5 > last {
                p.pan_hash = hash(&format!("other-{i}"));
                p.decision = Decision::Declined;
                p.token = None;
                p.script = None;
            }
            p
        };
        // One short of the cap: the exact statement, every count as it is.
        let below: Vec<_> = (0..cap - 1).map(|i| at(i, usize::MAX)).collect();
        store.import_provisionings(&below).await.unwrap();
        let s = store.risk_signals(&query).await.unwrap();
        let short = COUNT_CAP - 1;
        assert_eq!(
            (
                s.card_attempts_1h,
                s.device_attempts_24h,
                s.user_attempts_24h
            ),
            (short, short, short),
            "{name}"
        );
        assert_eq!((s.device_tokens, s.recent_declines), (short, 0), "{name}");
        // Fifty more: each count stops at the cap, and what comes from the latest
        // provisionings (the five declines, their five other cards) is still seen.
        let last = cap + 49;
        let flood: Vec<_> = (cap - 1..=last).map(|i| at(i, last)).collect();
        store.import_provisionings(&flood).await.unwrap();
        let s = store.risk_signals(&query).await.unwrap();
        assert_eq!(
            (
                s.card_attempts_1h,
                s.card_attempts_24h,
                s.device_attempts_1h,
                s.device_attempts_24h,
                s.user_attempts_24h,
            ),
            (COUNT_CAP, COUNT_CAP, COUNT_CAP, COUNT_CAP, COUNT_CAP),
            "{name}"
        );
        assert_eq!(
            s.device_tokens,
            COUNT_CAP - 5,
            "{name}: of the latest {cap}"
        );
        assert_eq!(s.device_distinct_cards_24h, 6, "{name}");
        assert_eq!(s.recent_declines, 5, "{name}");
        assert_eq!(s.account_age_days, 0, "{name}");
    }
}

#[tokio::test]
async fn a_pool_of_one_still_serves_reads_beside_the_writer() {
    // The writer's connection (and on SQLite the risk signals' reader) is its own, on top of
    // the pool: with `pool_size=1` the one pooled connection stays free for everything else
    // (a writer holding it would starve every other query until the pool's acquire timeout).
    let dir = tempfile::tempdir().unwrap();
    let mut urls = vec![format!(
        "sqlite://{}?pool_size=1",
        dir.path().join("one.db").display()
    )];
    if let Some(url) = provisio_testkit::postgres::fresh_postgres_url().await {
        urls.push(format!("{url}?pool_size=1"));
    }
    for url in urls {
        let store = open(&url).await;
        let p = unique(0, false);
        store.commit_provisioning(&p, None).await.unwrap();
        let read = tokio::time::timeout(std::time::Duration::from_secs(5), async {
            (
                store.token("tr_0").await.unwrap().is_some(),
                store.script("pv_0").await.unwrap().is_some(),
            )
        })
        .await;
        assert_eq!(read.ok(), Some((true, true)), "{url}");
    }
}

#[tokio::test]
async fn an_import_is_all_or_nothing() {
    for (name, store, _url, _dir) in stores().await {
        let batch = |ids: std::ops::Range<usize>| -> Vec<NewProvisioning> {
            ids.map(|i| unique(i, false)).collect()
        };
        let first = batch(0..3);
        store.import_provisionings(&first).await.unwrap();
        for i in 0..3 {
            let token = store.token(&format!("tr_{i}")).await.unwrap();
            assert!(token.is_some(), "{name}: imported token {i}");
            assert!(
                store.script(&format!("pv_{i}")).await.unwrap().is_some(),
                "{name}: script {i}"
            );
        }
        // The second batch's last record reuses a session id: none of the batch is written.
        let mut second = batch(3..6);
        second[2].session_id = "sid-0".into();
        let refused = store.import_provisionings(&second).await;
        assert!(
            matches!(refused, Err(StoreError::Conflict(Conflict::SessionId))),
            "{name}: {refused:?}"
        );
        for i in 3..6 {
            assert!(
                store.token(&format!("tr_{i}")).await.unwrap().is_none(),
                "{name}: token {i}"
            );
        }
        assert_eq!(
            store.count_tokens_by_pan_hash(&hash("pan")).await.unwrap(),
            3,
            "{name}"
        );
        assert_eq!(store.count_tokens().await.unwrap(), 3, "{name}");
    }
}

#[tokio::test]
async fn an_issuers_jti_is_accepted_once_under_concurrency() {
    for (name, store, _url, _dir) in stores().await {
        let records = (0..8)
            .map(|i| {
                provisioning(
                    i,
                    &format!("sid-{i}"),
                    "jti-same",
                    &format!("tp-{i}"),
                    false,
                )
            })
            .collect();
        let outcomes = race(&store, records).await;
        one_winner(&store, name, &outcomes, Conflict::Jti).await;
    }
}

#[tokio::test]
async fn a_token_pan_exists_once_under_concurrency() {
    for (name, store, _url, _dir) in stores().await {
        let records = (0..8)
            .map(|i| {
                provisioning(
                    i,
                    &format!("sid-{i}"),
                    &format!("jti-{i}"),
                    "tp-same",
                    false,
                )
            })
            .collect();
        let outcomes = race(&store, records).await;
        one_winner(&store, name, &outcomes, Conflict::TokenPan).await;
    }
}

#[tokio::test]
async fn an_idempotency_key_is_taken_once_under_concurrency() {
    for (name, store, _url, _dir) in stores().await {
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let s = store.clone();
                let p = unique(i, false);
                let idem = IdempotencyRecord {
                    principal: "40010030273".into(),
                    key: "same-key".into(),
                    request_hash: hash("body"),
                    status: 200,
                    body: format!("answer {i}"),
                    created_at: NOW,
                };
                tokio::spawn(async move { s.commit_provisioning(&p, Some(&idem)).await })
            })
            .collect();
        let mut outcomes = Vec::new();
        for t in tasks {
            outcomes.push(t.await.unwrap());
        }
        one_winner(&store, name, &outcomes, Conflict::IdempotencyKey).await;
        let winner = outcomes.iter().position(Result::is_ok).unwrap();
        let stored = store
            .idempotency("40010030273", "same-key")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            stored.body,
            format!("answer {winner}"),
            "{name}: the winner's answer"
        );
    }
}

#[tokio::test]
async fn the_apdu_log_is_append_only() {
    for (name, store, url, _dir) in stores().await {
        let row = ApduLogRow {
            session_id: "ses".into(),
            sp_id: "bank".into(),
            request_id: "req".into(),
            direction: 'C',
            apdu: vec![0x80, 0xCA, 0x00, 0xE0, 0x00],
        };
        store.tsm_log_apdus(&[row.clone(), row], NOW).await.unwrap();
        assert_eq!(
            store.tsm_apdus("bank", "req").await.unwrap().len(),
            2,
            "{name}"
        );
        for sql in [
            "UPDATE tsm_apdu_log SET apdu = NULL",
            "DELETE FROM tsm_apdu_log",
        ] {
            let e = provisio_testkit::raw::execute(&url, sql).unwrap_err();
            assert!(e.contains("append-only"), "{name}: {sql}: {e}");
        }
        assert_eq!(
            store.tsm_apdus("bank", "req").await.unwrap().len(),
            2,
            "{name}"
        );
    }
}

#[tokio::test]
async fn refused_requests_committed_together_with_others_do_not_affect_them() {
    for (name, store, _url, _dir) in stores().await {
        // 24 concurrent requests; every third replays request 0's session id.
        let records = (0..24)
            .map(|i| {
                let sid = if i % 3 == 0 {
                    "sid-0".to_owned()
                } else {
                    format!("sid-{i}")
                };
                provisioning(i, &sid, &format!("jti-{i}"), &format!("tp-{i}"), i % 2 == 0)
            })
            .collect();
        let outcomes = race(&store, records).await;
        let replays: Vec<usize> = (0..24).filter(|i| i % 3 == 0).collect();
        let won: Vec<usize> = replays
            .iter()
            .copied()
            .filter(|&i| outcomes[i].is_ok())
            .collect();
        assert_eq!(won.len(), 1, "{name}: {outcomes:?}");
        for (i, o) in outcomes.iter().enumerate() {
            if i % 3 != 0 {
                assert!(o.is_ok(), "{name}: request {i}: {o:?}");
                assert!(
                    store.token(&format!("tr_{i}")).await.unwrap().is_some(),
                    "{name}"
                );
            } else if !won.contains(&i) {
                assert!(
                    matches!(o, Err(StoreError::Conflict(Conflict::SessionId))),
                    "{name}: request {i}: {o:?}"
                );
                assert!(
                    store.script(&format!("pv_{i}")).await.unwrap().is_none(),
                    "{name}"
                );
            }
        }
        // Exactly the winners' outbox messages exist (even requests carry a TSM job).
        let jobs = store.claim_outbox(NOW, 60, 100).await.unwrap();
        let expected = (0..24)
            .filter(|&i| i % 2 == 0 && outcomes[i].is_ok())
            .count();
        assert_eq!(jobs.len(), expected, "{name}");
    }
}

#[tokio::test]
async fn a_script_completes_once_under_concurrency() {
    for (name, store, _url, _dir) in stores().await {
        store
            .commit_provisioning(&provisioning(0, "sid", "jti", "tp", false), None)
            .await
            .unwrap();
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let s = store.clone();
                tokio::spawn(async move { s.complete_script("pv_0", NOW + 1).await })
            })
            .collect();
        let mut ok = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(()) => ok += 1,
                Err(StoreError::Conflict(Conflict::ScriptCompleted)) => {}
                Err(e) => panic!("{name}: {e:?}"),
            }
        }
        assert_eq!(ok, 1, "{name}");
        let token = store.token("tr_0").await.unwrap().unwrap();
        assert_eq!(token.installed_at, Some(NOW + 1), "{name}");
        // A completed script cannot fail afterwards.
        assert!(
            matches!(
                store.fail_script("pv_0", "late", NOW + 2).await,
                Err(StoreError::Conflict(Conflict::ScriptCompleted))
            ),
            "{name}"
        );
    }
}

#[tokio::test]
async fn concurrent_deliverers_never_claim_the_same_message() {
    for (name, store, _url, _dir) in stores().await {
        for i in 0..40 {
            let p = unique(i, true);
            store.commit_provisioning(&p, None).await.unwrap();
        }
        let tasks: Vec<_> = (0..6)
            .map(|_| {
                let s = store.clone();
                tokio::spawn(async move {
                    let mut mine = Vec::new();
                    loop {
                        let got = s.claim_outbox(NOW, 60, 3).await.unwrap();
                        if got.is_empty() {
                            return mine;
                        }
                        mine.extend(got.into_iter().map(|m| m.message_id));
                    }
                })
            })
            .collect();
        let mut seen = HashSet::new();
        for t in tasks {
            for id in t.await.unwrap() {
                assert!(seen.insert(id.clone()), "{name}: {id} claimed twice");
            }
        }
        assert_eq!(seen.len(), 40, "{name}: every message claimed");
        // Claimed messages are leased: nothing is due again until the lease ends.
        assert!(
            store
                .claim_outbox(NOW + 59, 60, 100)
                .await
                .unwrap()
                .is_empty(),
            "{name}"
        );
        assert_eq!(
            store.claim_outbox(NOW + 61, 60, 100).await.unwrap().len(),
            40,
            "{name}"
        );
    }
}

#[tokio::test]
async fn a_database_with_a_newer_schema_is_refused() {
    for (name, store, url, _dir) in stores().await {
        drop(store);
        provisio_testkit::raw::execute(
            &url,
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'from the future', 0)",
        )
        .unwrap();
        match SqlStore::open(&url).await {
            Err(e @ StoreError::SchemaTooNew { found: 999, .. }) => {
                assert!(
                    e.to_string().contains("newer than this binary"),
                    "{name}: {e}"
                );
            }
            other => panic!("{name}: {other:?}"),
        }
    }
}

fn authorization(
    n: usize,
    atc: u16,
    reason: Option<DeclineReason>,
    claims: bool,
) -> NewAuthorization {
    NewAuthorization {
        authorization_id: format!("au_{n}"),
        network_id: "net".into(),
        token_ref_id: Some("tr_1".into()),
        atc,
        decision: if reason.is_none() {
            AuthorizationDecision::Approved
        } else {
            AuthorizationDecision::Declined
        },
        reason,
        claims_atc: claims,
        amount_minor: 1250,
        currency: "978".into(),
        country: "250".into(),
        channel: Channel::Contactless,
        created_at: NOW + n as i64,
    }
}

/// Records `a` through the store's one-transaction call (the decision made beforehand): how
/// it was recorded, and the token the store read for it.
async fn record(store: &Arc<SqlStore>, a: NewAuthorization) -> (Option<PayingToken>, Recorded) {
    let seen = Arc::new(std::sync::Mutex::new(None));
    let into = seen.clone();
    let decide: Decide = Box::new(move |token| {
        *into.lock().unwrap() = token;
        Ok(Authorized {
            answer: AuthorizationAnswer {
                authorization_id: a.authorization_id.clone(),
                decision: a.decision,
                reason: a.reason,
                token_ref_id: a.token_ref_id.clone(),
                pan: None,
                exp_month: None,
                exp_year: None,
                account_ref: None,
            },
            record: a,
        })
    });
    let (_, how) = store
        .authorize(&hash("tp-1"), decide)
        .await
        .unwrap()
        .unwrap();
    let token = seen.lock().unwrap().take();
    (token, how)
}

#[tokio::test]
async fn an_atc_is_used_once_under_concurrency_across_instances() {
    for (name, store, url, _dir) in stores().await {
        store
            .commit_provisioning(&unique(1, false), None)
            .await
            .unwrap();
        let network = NetworkRecord {
            network_id: "net".into(),
            name: "Network".into(),
            created_at: NOW,
        };
        store
            .create_network(&network, &[5; 32], None)
            .await
            .unwrap();
        assert!(matches!(
            store.create_network(&network, &[6; 32], None).await,
            Err(StoreError::Conflict(Conflict::NetworkId))
        ));
        let principal = store.principal(&[5; 32]).await.unwrap().unwrap();
        assert_eq!(
            (principal.role, principal.id.as_str()),
            (Role::Network, "net")
        );

        // A second instance on the same database, as another server would be.
        let other = Arc::new(SqlStore::open(&url).await.unwrap());
        let mut tasks = Vec::new();
        for i in 0..16 {
            let s = if i % 2 == 0 {
                store.clone()
            } else {
                other.clone()
            };
            let a = authorization(i, 7, None, true);
            tasks.push(tokio::spawn(async move { record(&s, a).await }));
        }
        let mut approved = 0;
        for t in tasks {
            let (token, how) = t.await.unwrap();
            assert_eq!(
                token.unwrap().token_ref_id,
                "tr_1",
                "{name}: the store read the token"
            );
            if how == Recorded::AsDecided {
                approved += 1;
            }
        }
        assert_eq!(approved, 1, "{name}: one approval of ATC 7");
        // A bad cryptogram uses up nothing: its ATC is approved after it.
        let bad = Some(DeclineReason::CryptogramInvalid);
        assert_eq!(
            record(&store, authorization(20, 9, bad, false)).await.1,
            Recorded::AsDecided
        );
        let (token, how) = record(&store, authorization(21, 9, None, true)).await;
        assert_eq!(how, Recorded::AsDecided, "{name}");
        assert_eq!(
            token.unwrap().highest_atc,
            Some(7),
            "{name}: read before this record"
        );
        // A good cryptogram declined (the token was suspended) uses up its ATC: the same
        // cryptogram after a resume is a replay.
        let suspended = Some(DeclineReason::TokenNotActive);
        let declined = record(&store, authorization(22, 11, suspended, true)).await;
        assert_eq!(declined.1, Recorded::AsDecided);
        let (token, how) = record(&store, authorization(23, 11, None, true)).await;
        assert_eq!(how, Recorded::Replayed, "{name}");
        assert_eq!(token.unwrap().highest_atc, Some(11), "{name}");
        let view = store.token_facts("tr_1").await.unwrap().unwrap().view;
        assert_eq!(
            (view.usage.approved, view.usage.declined, view.usage.last_at),
            (2, 18, Some(NOW + 23)),
            "{name}: every attempt is recorded, the replays declined"
        );
    }
}

#[tokio::test]
async fn the_longest_card_range_names_the_issuer_and_a_range_is_one_issuers() {
    for (name, store, _, _dir) in stores().await {
        let of = |pan: &'static str| {
            let store = store.clone();
            async move {
                store
                    .issuer_of_pan(pan)
                    .await
                    .unwrap()
                    .map(|i| (i.issuer_id, i.bin_ranges))
            }
        };
        let bank = Some((
            "bank".to_owned(),
            vec!["400000".to_owned(), "48953712".to_owned()],
        ));
        assert_eq!(of("4895371234567890").await, bank, "{name}");
        assert_eq!(of("4000001234567899").await, bank, "{name}");
        assert_eq!(of("5100001234567890").await, None, "{name}");
        let other = IssuerRecord {
            issuer_id: "other".into(),
            name: "Other".into(),
            signing_kid: "k".into(),
            signing_jwk: "{}".into(),
            created_at: NOW,
            notification_url: None,
            push_step_up: false,
            bin_ranges: vec!["400000".into()],
            decisioning: None,
        };
        let taken = store.create_issuer(&other, &[9; 32], None).await;
        assert!(
            matches!(taken, Err(StoreError::Conflict(Conflict::BinRange))),
            "{name}: {taken:?}"
        );
        // Nothing of the refused registration stays.
        assert!(store.issuer("other").await.unwrap().is_none(), "{name}");
        let other = IssuerRecord {
            bin_ranges: vec!["4895371".into()],
            ..other
        };
        store.create_issuer(&other, &[9; 32], None).await.unwrap();
        // The longer range still wins over the shorter one.
        assert_eq!(of("4895371234567890").await, bank, "{name}");
        assert_eq!(
            of("4895371999999999").await.map(|(id, _)| id).as_deref(),
            Some("other"),
            "{name}"
        );
        let refused = store.set_bin_ranges("other", &["48953712".into()]).await;
        assert!(
            matches!(refused, Err(StoreError::Conflict(Conflict::BinRange))),
            "{name}"
        );
        assert_eq!(
            store.issuer("other").await.unwrap().unwrap().bin_ranges,
            ["4895371"],
            "{name}: a refused replacement changes nothing"
        );
    }
}
