//! The token's life after provisioning (docs/protocol.md §15): a lost phone suspended and
//! resumed by its wallet, a stolen card suspended and reissued by its bank, and a card pushed
//! twice to the same phone. The bank and the wallet hear of every change at their
//! notification URLs: a small receiver on loopback that verifies each event's ES256
//! signature under the token service's published keys.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use provisio_apps::WalletApp;
use provisio_client::ProvisioClient;
use provisio_jose::{JoseError, JwkSet, KeyUse};
use provisio_tsp::TokenEvent;
use provisio_tsp::token_wire::TokenAnswer;
use provisio_tsp::wire::{Decision, WalletRiskInfo};
use serde_json::json;

use super::{DEMO_ISSUER, DEMO_TRID, Demo, Phone, demo_pan};
use crate::tokens::{Api, Failure};

/// The token service's API as each party's key reaches it.
pub(super) struct TokenApis {
    /// The operator.
    pub(super) admin: Api,
    /// The demo bank.
    pub(super) issuer: Api,
    /// The demo wallet's backend.
    pub(super) wallet: Api,
}

/// One verified event as a receiver got it.
#[derive(Debug, Clone)]
pub(super) struct Received {
    /// `issuer` or `wallet`: whose URL it was posted to.
    party: String,
    /// The signing key's id.
    kid: String,
    event: TokenEvent,
}

#[derive(Default)]
struct Inbox {
    got: Vec<Received>,
    /// Posts that did not verify, with why.
    refused: Vec<String>,
}

#[derive(Clone)]
struct ReceiverState {
    inbox: Arc<Mutex<Inbox>>,
    jwks: Arc<Mutex<JwkSet>>,
    /// Where fresh keys are read when a `kid` is unknown.
    service: ProvisioClient,
}

/// The bank's and the wallet's event receivers: one HTTP server on loopback, `POST
/// /events/issuer` and `POST /events/wallet`.
pub(super) struct Receiver {
    base: String,
    inbox: Arc<Mutex<Inbox>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Receiver {
    /// Starts the receiver on `127.0.0.1:0`; it trusts the keys of `jwks` and, for an unknown
    /// `kid`, the service's current ones.
    pub(super) async fn start(jwks: JwkSet, service: ProvisioClient) -> anyhow::Result<Self> {
        let inbox = Arc::new(Mutex::new(Inbox::default()));
        let state = ReceiverState {
            inbox: inbox.clone(),
            jwks: Arc::new(Mutex::new(jwks)),
            service,
        };
        let app = Router::new()
            .route("/events/{party}", post(receive))
            .with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}", listener.local_addr()?);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { base, inbox, task })
    }

    /// The notification URL of `party` (`issuer` or `wallet`).
    pub(super) fn url(&self, party: &str) -> String {
        format!("{}/events/{party}", self.base)
    }

    /// Waits (up to 5 s) for a verified event at `party`'s URL that `pick` accepts.
    async fn wait(
        &self,
        party: &str,
        what: &str,
        pick: impl Fn(&TokenEvent) -> bool,
    ) -> anyhow::Result<Received> {
        for _ in 0..1000 {
            {
                let inbox = self
                    .inbox
                    .lock()
                    .map_err(|_| anyhow::anyhow!("receiver poisoned"))?;
                if let Some(r) = inbox.refused.first() {
                    anyhow::bail!("the {party}'s receiver refused an event: {r}");
                }
                if let Some(r) = inbox
                    .got
                    .iter()
                    .find(|r| r.party == party && pick(&r.event))
                {
                    return Ok(r.clone());
                }
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        anyhow::bail!("the {party}'s receiver never got {what}")
    }

    /// Waits for `event_type` of `token_ref_id` by `actor` at `party`'s URL.
    async fn expect(
        &self,
        party: &str,
        token_ref_id: &str,
        event_type: &str,
        actor: &str,
    ) -> anyhow::Result<Received> {
        self.wait(
            party,
            &format!("{event_type} of {token_ref_id} by {actor}"),
            |e| e.token_ref_id == token_ref_id && e.event_type == event_type && e.actor == actor,
        )
        .await
    }
}

/// `POST /events/{party}`: 200 for an event that verifies, 400 otherwise.
async fn receive(
    State(state): State<ReceiverState>,
    Path(party): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let verified = verify(&state, &headers, &body).await;
    let Ok(mut inbox) = state.inbox.lock() else {
        return StatusCode::INTERNAL_SERVER_ERROR;
    };
    match verified {
        Ok((kid, event)) => {
            inbox.got.push(Received { party, kid, event });
            StatusCode::OK
        }
        Err(e) => {
            inbox.refused.push(format!("{e:#}"));
            StatusCode::BAD_REQUEST
        }
    }
}

/// What a receiver checks: `application/jose`, a compact JWS of type
/// `provisio-token-event+jws` whose ES256 signature verifies under a published signing key,
/// and a token event inside.
async fn verify(
    state: &ReceiverState,
    headers: &HeaderMap,
    body: &[u8],
) -> anyhow::Result<(String, TokenEvent)> {
    let content_type = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    anyhow::ensure!(
        content_type == "application/jose",
        "Content-Type {content_type:?}"
    );
    let compact = std::str::from_utf8(body).context("not text")?;
    let crypto = provisio_crypto::AwsLcProvider::new();
    for refreshed in [false, true] {
        if refreshed {
            let fresh = state.service.jwks().await?;
            *state.jwks.lock().map_err(|_| anyhow::anyhow!("poisoned"))? = fresh;
        }
        let keys = state
            .jwks
            .lock()
            .map_err(|_| anyhow::anyhow!("poisoned"))?
            .clone();
        let verified = provisio_jose::verify(&crypto, compact, |h| {
            keys.keys
                .iter()
                .find(|k| k.kid == h.kid && k.key_use != Some(KeyUse::Enc))
                .ok_or(JoseError::UnknownKey)?
                .public_key()
        });
        match verified {
            Ok(v) => {
                anyhow::ensure!(
                    v.header.typ.as_deref() == Some("provisio-token-event+jws"),
                    "typ {:?}",
                    v.header.typ
                );
                let event: TokenEvent =
                    serde_json::from_slice(&v.payload).context("not a token event")?;
                return Ok((v.header.kid.unwrap_or_default(), event));
            }
            Err(JoseError::UnknownKey) if !refreshed => {}
            Err(e) => anyhow::bail!("the signature does not verify: {e}"),
        }
    }
    anyhow::bail!("signed under an unknown key")
}

/// Points the bank's and the wallet's events at their receivers (the operator's call).
pub(super) async fn subscribe(
    admin: &Api,
    receiver: &Receiver,
) -> Result<(), crate::tokens::Failure> {
    admin
        .set_notifications("issuers", DEMO_ISSUER, Some(&receiver.url("issuer")))
        .await?;
    admin
        .set_notifications("token-requestors", DEMO_TRID, Some(&receiver.url("wallet")))
        .await
}

/// The refusal `code`, described; anything else is a mismatch.
fn expect_refusal<T: std::fmt::Debug>(
    result: Result<T, Failure>,
    code: &str,
    steps: &mut Vec<String>,
) -> anyhow::Result<crate::tokens::Problem> {
    match result {
        Err(Failure::Refused(_, p)) if p.code == code => {
            steps.push(format!(
                "token service refuses: {} {} ({})",
                p.status, p.code, p.detail
            ));
            Ok(p)
        }
        Err(e) => anyhow::bail!("expected {code}, got {e}"),
        Ok(r) => anyhow::bail!("expected {code}, got {r:?}"),
    }
}

fn ensure_status(t: &TokenAnswer, status: &str) -> anyhow::Result<()> {
    anyhow::ensure!(
        t.status == status,
        "token {} is {}, expected {status}",
        t.token_ref_id,
        t.status
    );
    Ok(())
}

fn heard(r: &Received) -> String {
    let e = &r.event;
    format!(
        "the {}'s receiver verifies {} #{} of {}: {}, {} by {} (ES256, kid {})",
        if r.party == "issuer" {
            "bank"
        } else {
            "wallet"
        },
        e.event_type,
        e.sequence,
        e.token_ref_id,
        e.status,
        e.reason,
        e.actor,
        short(&r.kid)
    )
}

/// The first characters of a long id.
fn short(s: &str) -> &str {
    s.get(..12).unwrap_or(s)
}

/// A provisioned, installed (`ACTIVE`) token on `phone`.
async fn active_token(
    d: &Demo,
    phone: &mut Phone,
    steps: &mut Vec<String>,
) -> anyhow::Result<provisio_tsp::wire::TokenInfo> {
    let r = d
        .push(
            phone,
            Some(WalletRiskInfo::level(10, false)),
            Decision::Approved,
            steps,
        )
        .await?;
    d.install_approved(phone, &r, steps).await?;
    r.token.context("approved answer without a token")
}

/// The phone's user with another device of theirs.
fn second_device(d: &Demo, phone: &Phone, device: &str) -> anyhow::Result<Phone> {
    Ok(Phone {
        wallet: WalletApp::new(&d.crypto, DEMO_TRID, &phone.user, device)?,
        api: phone.api.clone(),
        card: phone.card.clone(),
        user: phone.user.clone(),
        device: device.to_owned(),
    })
}

pub(super) async fn lost_phone(d: &Demo) -> anyhow::Result<Vec<String>> {
    let mut steps = Vec::new();
    let mut phone = d.phone(921)?;
    let token = active_token(d, &mut phone, &mut steps).await?;
    let id = token.token_ref_id.as_str();
    steps.push(format!(
        "the bank's events go to {} and the wallet's to {} (set by the operator)",
        d.events.url("issuer"),
        d.events.url("wallet")
    ));

    let t = d.tokens.wallet.change(id, "suspend", "LOST").await?;
    ensure_status(&t, "SUSPENDED")?;
    steps.push(format!(
        "the phone is lost: its user asks the wallet, which suspends token {id} (LOST): {}",
        t.status
    ));
    let e = d
        .events
        .expect("issuer", id, "TOKEN_SUSPENDED", "TOKEN_REQUESTOR")
        .await?;
    anyhow::ensure!(
        e.event.reason == "LOST" && e.event.status == "SUSPENDED",
        "the event says {} {}",
        e.event.status,
        e.event.reason
    );
    steps.push(heard(&e));

    let t = d.tokens.wallet.change(id, "resume", "FOUND").await?;
    ensure_status(&t, "ACTIVE")?;
    steps.push(format!(
        "the phone is found: the wallet resumes the token (FOUND): {}",
        t.status
    ));
    let e = d
        .events
        .expect("issuer", id, "TOKEN_RESUMED", "TOKEN_REQUESTOR")
        .await?;
    anyhow::ensure!(
        e.event.reason == "FOUND",
        "the event says {}",
        e.event.reason
    );
    steps.push(heard(&e));

    let t = d.tokens.issuer.change(id, "suspend", "FRAUD").await?;
    ensure_status(&t, "SUSPENDED")?;
    steps.push("the bank suspends the token itself (FRAUD)".into());
    let e = d
        .events
        .expect("wallet", id, "TOKEN_SUSPENDED", "ISSUER")
        .await?;
    steps.push(heard(&e));
    steps.push("the wallet tries to resume it".into());
    expect_refusal(
        d.tokens.wallet.change(id, "resume", "FOUND").await,
        "forbidden",
        &mut steps,
    )?;
    let t = d.tokens.issuer.change(id, "resume", "OTHER").await?;
    ensure_status(&t, "ACTIVE")?;
    steps.push("the bank lifts its own suspension: ACTIVE".into());

    let t = d.tokens.wallet.token(id).await?;
    let trail: Vec<String> = t
        .history
        .iter()
        .map(|h| format!("{} {} {}", h.status, h.reason, h.actor))
        .collect();
    let statuses: Vec<&str> = t.history.iter().map(|h| h.status.as_str()).collect();
    anyhow::ensure!(
        statuses.ends_with(&["SUSPENDED", "ACTIVE", "SUSPENDED", "ACTIVE"]),
        "history {statuses:?}"
    );
    steps.push(format!("the token's history: {}", trail.join(" → ")));
    Ok(steps)
}

pub(super) async fn stolen_card(d: &Demo) -> anyhow::Result<Vec<String>> {
    let mut steps = Vec::new();
    let mut phone = d.phone(922)?;
    let mut watch = second_device(d, &phone, "device-922-watch")?;
    let on_phone = active_token(d, &mut phone, &mut steps).await?;
    let on_watch = active_token(d, &mut watch, &mut steps).await?;
    anyhow::ensure!(
        on_phone.account_ref == on_watch.account_ref,
        "the card's two tokens carry different account_refs"
    );
    let ids = [on_phone.token_ref_id.clone(), on_watch.token_ref_id.clone()];
    steps.push(format!(
        "the card is on the phone ({}) and the watch ({}), account_ref {}",
        ids[0], ids[1], on_phone.account_ref
    ));
    let same_tokens = |list: &[TokenAnswer], status: &str| -> anyhow::Result<()> {
        let mut got: Vec<&str> = list.iter().map(|t| t.token_ref_id.as_str()).collect();
        got.sort_unstable();
        let mut want: Vec<&str> = ids.iter().map(String::as_str).collect();
        want.sort_unstable();
        anyhow::ensure!(got == want, "tokens {got:?}, expected {want:?}");
        for t in list {
            ensure_status(t, status)?;
        }
        Ok(())
    };

    let old_pan = phone.card.pan.clone();
    let list = d.tokens.issuer.card("suspend", &old_pan, "STOLEN").await?;
    same_tokens(&list.tokens, "SUSPENDED")?;
    steps.push(format!(
        "the card {old_pan:?} is stolen: the bank suspends all its tokens (POST /v1/cards/suspend, STOLEN): {} SUSPENDED",
        list.tokens.len()
    ));
    for id in &ids {
        let e = d
            .events
            .expect("wallet", id, "TOKEN_SUSPENDED", "ISSUER")
            .await?;
        steps.push(heard(&e));
    }

    let new_pan = demo_pan(924)?;
    let list = d
        .tokens
        .issuer
        .reissue(&old_pan, Some(&new_pan), 9, 2034)
        .await?;
    same_tokens(&list.tokens, "SUSPENDED")?;
    steps.push(format!(
        "the bank reissues the card as {new_pan:?}, expiry 09/2034 (POST /v1/cards/reissue): both tokens relinked, same token_ref_ids"
    ));
    for id in &ids {
        for party in ["issuer", "wallet"] {
            let e = d
                .events
                .expect(party, id, "TOKEN_UPDATED", "ISSUER")
                .await?;
            steps.push(heard(&e));
        }
    }
    let by_old = d
        .tokens
        .admin
        .search(&json!({ "pan": old_pan.expose() }))
        .await?;
    let by_new = d
        .tokens
        .admin
        .search(&json!({ "pan": new_pan.expose() }))
        .await?;
    anyhow::ensure!(
        by_old.tokens.is_empty(),
        "the old number still finds {} tokens",
        by_old.tokens.len()
    );
    same_tokens(&by_new.tokens, "SUSPENDED")?;
    steps.push(format!(
        "the operator's search by card number: the old one finds {}, the new one {}",
        by_old.tokens.len(),
        by_new.tokens.len()
    ));

    let list = d.tokens.issuer.card("resume", &new_pan, "OTHER").await?;
    same_tokens(&list.tokens, "ACTIVE")?;
    anyhow::ensure!(
        list.tokens
            .iter()
            .all(|t| t.account_ref == on_phone.account_ref),
        "the reissue changed the account_ref"
    );
    steps.push(format!(
        "the new card is delivered: the bank resumes it (POST /v1/cards/resume): {} ACTIVE, token_ref_ids and account_ref kept; the phone and the watch pay on",
        list.tokens.len()
    ));
    for id in &ids {
        let e = d
            .events
            .expect("wallet", id, "TOKEN_RESUMED", "ISSUER")
            .await?;
        steps.push(heard(&e));
    }
    Ok(steps)
}

pub(super) async fn already_in_wallet(d: &Demo) -> anyhow::Result<Vec<String>> {
    let mut steps = Vec::new();
    let mut phone = d.phone(923)?;
    let first = active_token(d, &mut phone, &mut steps).await?;
    steps.push("the cardholder taps \"add to wallet\" in the bank's app again".into());
    let req = d.request(
        &d.issuer_app,
        &phone,
        &mut steps,
        |_| {},
        Some(WalletRiskInfo::level(10, false)),
    )?;
    let again = d
        .tokens
        .wallet
        .raw(
            reqwest::Method::POST,
            "/v1/push-provisioning",
            Some(&serde_json::to_value(&req)?),
        )
        .await;
    let p = expect_refusal(again, "already_in_wallet", &mut steps)?;
    anyhow::ensure!(p.status == 409, "status {}", p.status);
    anyhow::ensure!(
        p.token_ref_id.as_deref() == Some(first.token_ref_id.as_str()),
        "the refusal names {:?}, not the existing {}",
        p.token_ref_id,
        first.token_ref_id
    );
    let existing = d.tokens.wallet.token(&first.token_ref_id).await?;
    ensure_status(&existing, "ACTIVE")?;
    anyhow::ensure!(
        existing.account_ref == first.account_ref,
        "account_ref {} of the named token, {} in the push answer",
        existing.account_ref,
        first.account_ref
    );
    steps.push(format!(
        "the refusal names the existing token {}: ACTIVE, account_ref {} as in the first push answer; no second token",
        first.token_ref_id, existing.account_ref
    ));

    let mut tablet = second_device(d, &phone, "device-923-tablet")?;
    let other = active_token(d, &mut tablet, &mut steps).await?;
    anyhow::ensure!(
        other.token_ref_id != first.token_ref_id && other.account_ref == first.account_ref,
        "the tablet's token: {} with account_ref {}",
        other.token_ref_id,
        other.account_ref
    );
    let mine = d
        .tokens
        .wallet
        .search(&json!({ "wallet_user_id": phone.user }))
        .await?;
    anyhow::ensure!(
        mine.tokens.len() == 2
            && mine
                .tokens
                .iter()
                .all(|t| t.account_ref == first.account_ref),
        "the wallet's search finds {} tokens",
        mine.tokens.len()
    );
    steps.push(format!(
        "the same card on the user's tablet is a new token {} with the same account_ref; the wallet's search for {} finds both",
        other.token_ref_id, phone.user
    ));
    Ok(steps)
}
