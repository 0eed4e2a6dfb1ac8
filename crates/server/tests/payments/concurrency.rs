//! Each (token, ATC) approved at most once: 16 concurrent authorisations, on one instance and
//! on two sharing the database.

use std::sync::Arc;

use provisio_crypto::SecretBytes;
use provisio_server::bootstrap;
use provisio_store::{SqlStore, Store};
use serde_json::Value;

use super::support::*;

async fn race(apps: &[axum::Router], key: &str, body: &Value) -> Vec<(String, Option<String>)> {
    let mut tasks = Vec::new();
    for i in 0..16 {
        let app = apps[i % apps.len()].clone();
        let (key, body) = (key.to_owned(), body.to_string().into_bytes());
        tasks.push(tokio::spawn(async move {
            let (s, v) = call(
                &app,
                "POST",
                "/v1/network/authorizations",
                Some(&key),
                body,
                None,
            )
            .await;
            assert_eq!(s, 200, "{v}");
            outcome(&v)
        }));
    }
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

fn approvals(outcomes: &[(String, Option<String>)]) -> usize {
    assert!(
        outcomes
            .iter()
            .all(|o| *o == approved() || *o == declined("atc_replayed")),
        "{outcomes:?}"
    );
    outcomes.iter().filter(|o| **o == approved()).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_concurrent_authorisations_of_one_atc_approve_exactly_one() {
    let h = harness().await;
    let net = network(&h, "net-a").await;
    let t = active_token(&h).await;
    let outcomes = race(
        std::slice::from_ref(&h.app),
        &net,
        &t.request(1, 1250, "CONTACTLESS"),
    )
    .await;
    assert_eq!(approvals(&outcomes), 1);

    // A second instance on the same database (same master key), as a second server is.
    let store: Arc<dyn Store> = Arc::new(SqlStore::open(&h.db_url).await.unwrap());
    let other = bootstrap(
        store,
        &SecretBytes::new(vec![7; 32]),
        ADMIN,
        provisio_tsp::TspConfig::default(),
        h.clock.clone(),
    )
    .await
    .unwrap();
    let apps = [h.app.clone(), provisio_server::router(other)];
    let outcomes = race(&apps, &net, &t.request(2, 1250, "CONTACTLESS")).await;
    assert_eq!(approvals(&outcomes), 1, "across instances");
    let (_, v) = call(
        &h.app,
        "GET",
        &format!("/v1/tokens/{}", t.token_ref_id),
        Some(&h.wallet_key),
        vec![],
        None,
    )
    .await;
    assert_eq!(v["authorizations"]["approved"], 2);
    assert_eq!(v["authorizations"]["declined"], 30);
}
