//! The second way in (docs/protocol.md §17): cards typed in the wallet. The demo bank runs a
//! decisioning endpoint of its own: it checks the token service's signature, opens the card
//! with its key and answers what the flow scripted for that card. The flows: approved by the
//! bank; activated by the bank's app; activated by its call centre; declined by the bank; and
//! the non-override branches of US 10,140,615 on this path.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use anyhow::{Context, ensure};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use provisio_crypto::{CryptoProvider, EcKeyPair};
use provisio_jose::{Jwk, JwkSet, KeyManagement, KeyUse};
use provisio_server::{Clock, SystemClock};
use provisio_tsp::jwk_thumbprint;
use provisio_tsp::wire::{
    CallCenterCollectRequest, Decision, IssuerAppActivationRequest, PushProvisioningResponse,
    StepUpMethod, WalletRiskInfo,
};
use serde_json::{Value, json};

use super::{DEMO_ISSUER, Demo, Phone};

/// The demo bank's decisioning endpoint.
pub(super) struct BankDecisioning {
    /// Where it listens.
    pub(super) url: String,
    /// The key card data is encrypted to, public, with its kid.
    pub(super) jwk: Jwk,
    answers: Arc<Mutex<HashMap<String, Value>>>,
}

#[derive(Clone)]
struct Bank {
    key: Arc<EcKeyPair>,
    tsp_jwks: JwkSet,
    answers: Arc<Mutex<HashMap<String, Value>>>,
}

/// Verifies the service's signature, opens the card, answers what was scripted for it (or
/// requires authentication).
async fn decide(State(bank): State<Bank>, body: Bytes) -> (StatusCode, String) {
    let crypto = provisio_crypto::AwsLcProvider::new();
    let Ok(jws) = std::str::from_utf8(&body) else {
        return (StatusCode::BAD_REQUEST, String::new());
    };
    let verified = provisio_jose::verify(&crypto, jws, |h| {
        bank.tsp_jwks
            .keys
            .iter()
            .find(|k| k.key_use == Some(KeyUse::Sig) && k.kid == h.kid)
            .ok_or(provisio_jose::JoseError::UnknownKey)?
            .public_key()
    });
    let Ok(verified) = verified else {
        return (StatusCode::UNAUTHORIZED, String::new());
    };
    let Some(card) = serde_json::from_slice::<Value>(&verified.payload)
        .ok()
        .and_then(|claims| claims.get("card")?.as_str().map(str::to_owned))
    else {
        return (StatusCode::BAD_REQUEST, String::new());
    };
    let Ok(opened) = provisio_jose::decrypt(&crypto, &card, &[KeyManagement::EcdhEsA256Kw], |_| {
        Some(bank.key.as_ref())
    }) else {
        return (StatusCode::BAD_REQUEST, String::new());
    };
    let pan = serde_json::from_slice::<Value>(opened.plaintext.expose())
        .ok()
        .and_then(|c| c.get("pan")?.as_str().map(str::to_owned))
        .unwrap_or_default();
    let answer = bank
        .answers
        .lock()
        .ok()
        .and_then(|a| a.get(&pan).cloned())
        .unwrap_or_else(|| json!({"decision": "REQUIRE_AUTHENTICATION"}));
    (StatusCode::OK, answer.to_string())
}

impl BankDecisioning {
    /// Starts the endpoint on a loopback port.
    pub(super) async fn start(
        crypto: &dyn CryptoProvider,
        tsp_jwks: JwkSet,
    ) -> anyhow::Result<Self> {
        let key = crypto.generate_ec_key()?;
        let mut jwk = Jwk::from_public_key(key.public_key());
        jwk.kid = Some(jwk_thumbprint(crypto, key.public_key()));
        let answers = Arc::new(Mutex::new(HashMap::new()));
        let app = Router::new()
            .route("/decide", axum::routing::post(decide))
            .with_state(Bank {
                key: Arc::new(key),
                tsp_jwks,
                answers: answers.clone(),
            });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}/decide", listener.local_addr()?);
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(Self { url, jwk, answers })
    }

    /// What the bank answers for the phone's card.
    fn will_answer(&self, phone: &Phone, answer: Value) -> anyhow::Result<()> {
        self.answers
            .lock()
            .map_err(|_| anyhow::anyhow!("bank state poisoned"))?
            .insert(phone.card.pan.expose().to_owned(), answer);
        Ok(())
    }
}

impl Demo {
    /// The user types the phone's card into the wallet (with its CVC2, which only the bank's
    /// decisioning sees), the wallet core encrypts it to the service, and the service decides.
    async fn enter_card(
        &self,
        phone: &Phone,
        wallet_risk: Option<WalletRiskInfo>,
        expected: Decision,
        steps: &mut Vec<String>,
    ) -> anyhow::Result<PushProvisioningResponse> {
        let req = phone.wallet.card_request(
            &self.crypto,
            &self.jwks,
            &phone.card,
            Some("123"),
            SystemClock.now(),
            wallet_risk,
        )?;
        steps.push(format!(
            "the user types card {:?} into the wallet; the wallet core encrypts it to the token service (ECDH-ES+A256KW/A256GCM): {} bytes",
            phone.card.pan,
            req.encrypted_card.len()
        ));
        let r = phone.api.wallet_provisioning(&req).await?;
        let issuer = r.risk.issuer.as_ref();
        let reasons: Vec<&str> = r.risk.reasons.iter().map(|x| x.code.as_str()).collect();
        steps.push(format!(
            "the service finds {DEMO_ISSUER} by the card's range and asks its decisioning: {} in {} ms; decides {:?}: wallet level {}, service level {}, final {}, merge rule {}, reasons [{}]",
            issuer.map_or("not asked", |i| i.decision.as_str()),
            issuer.map_or(0, |i| i.latency_ms),
            r.decision,
            r.risk.wallet_level.map_or_else(|| "none".into(), |l| l.to_string()),
            r.risk.tsp_level,
            r.risk.final_level,
            r.risk.merge_rule,
            reasons.join(", ")
        ));
        ensure!(
            r.decision == expected,
            "expected {expected:?}, got {:?}",
            r.decision
        );
        Ok(r)
    }
}

/// The step-up method of `kind` the answer offers.
pub(super) fn offered<'a>(
    r: &'a PushProvisioningResponse,
    kind: &str,
) -> anyhow::Result<&'a StepUpMethod> {
    r.step_up
        .iter()
        .flat_map(|s| &s.methods)
        .find(|m| m.method_type == kind)
        .with_context(|| format!("no {kind} method offered"))
}

/// The bank's decisioning approves; the wallet installs the token.
pub(super) async fn approved_by_the_bank(d: &Demo) -> anyhow::Result<Vec<String>> {
    let mut steps = Vec::new();
    let mut phone = d.phone(930)?;
    d.bank.will_answer(&phone, json!({"decision": "APPROVE"}))?;
    let r = d
        .enter_card(
            &phone,
            Some(WalletRiskInfo::level(10, false)),
            Decision::Approved,
            &mut steps,
        )
        .await?;
    d.install_approved(&mut phone, &r, &mut steps).await?;
    Ok(steps)
}

/// The bank requires authentication by its app: the app signs activation data, the wallet
/// submits it, once.
pub(super) async fn activated_by_the_bank_app(d: &Demo) -> anyhow::Result<Vec<String>> {
    let mut steps = Vec::new();
    let mut phone = d.phone(931)?;
    d.bank.will_answer(
        &phone,
        json!({"decision": "REQUIRE_AUTHENTICATION", "methods": ["ISSUER_APP"]}),
    )?;
    let r = d
        .enter_card(
            &phone,
            Some(WalletRiskInfo::level(10, false)),
            Decision::StepUpRequired,
            &mut steps,
        )
        .await?;
    let method = offered(&r, "ISSUER_APP")?;
    let token = r.token.as_ref().context("no token")?;
    steps.push(format!(
        "token {} stays INACTIVE; the wallet opens {}'s app with it; the app authenticates the cardholder and signs activation data over the token, the device and a nonce",
        token.token_ref_id, method.destination
    ));
    let data = d.issuer_app.activation_data(
        &d.crypto,
        &token.token_ref_id,
        &phone.device,
        SystemClock.now(),
    )?;
    let request = IssuerAppActivationRequest {
        method_id: method.method_id.clone(),
        wallet_user_id: phone.user.clone(),
        device_id: phone.device.clone(),
        activation_data: data,
    };
    let passed = phone
        .api
        .issuer_app_activation(&r.provisioning_id, &request)
        .await?;
    steps.push(format!(
        "the wallet submits it: token {} {}, access data and script released",
        passed.token.token_ref_id, passed.token.status
    ));
    steps.push("the same activation data is submitted again".into());
    d.expect_refusal(
        phone
            .api
            .issuer_app_activation(&r.provisioning_id, &request)
            .await,
        "step_up_not_pending",
        &mut steps,
    )?;
    d.install(
        &mut phone,
        &r.provisioning_id,
        &passed.script,
        &passed.access_data,
        &mut steps,
    )
    .await?;
    Ok(steps)
}

/// The bank's call centre activates the token; the wallet collects it.
pub(super) async fn activated_by_the_call_centre(d: &Demo) -> anyhow::Result<Vec<String>> {
    let mut steps = Vec::new();
    let mut phone = d.phone(932)?;
    d.bank.will_answer(
        &phone,
        json!({"decision": "REQUIRE_AUTHENTICATION", "methods": ["CALL_CENTER"]}),
    )?;
    let r = d
        .enter_card(
            &phone,
            Some(WalletRiskInfo::level(10, false)),
            Decision::StepUpRequired,
            &mut steps,
        )
        .await?;
    let method = offered(&r, "CALL_CENTER")?;
    let token = r.token.as_ref().context("no token")?;
    let collect = CallCenterCollectRequest {
        method_id: method.method_id.clone(),
        wallet_user_id: phone.user.clone(),
        device_id: phone.device.clone(),
    };
    steps
        .push("the wallet asks the cardholder to call the bank, and checks before the call".into());
    d.expect_refusal(
        phone
            .api
            .call_center_collect(&r.provisioning_id, &collect)
            .await,
        "activation_pending",
        &mut steps,
    )?;
    let activated = d
        .issuer_api
        .call_center_activate(&token.token_ref_id, "agent-4711")
        .await?;
    steps.push(format!(
        "the bank's agent {} authenticates the cardholder on the phone and activates token {}: {}",
        activated.agent_id, activated.token_ref_id, activated.status
    ));
    let view = d.tokens.issuer.token(&token.token_ref_id).await?;
    let last = view.history.last().context("no history")?;
    ensure!(
        last.agent_id.as_deref() == Some("agent-4711") && last.actor == "ISSUER",
        "the history does not name the agent: {last:?}"
    );
    steps.push(format!(
        "the token's history names the agent: {} by {} ({})",
        last.status,
        last.actor,
        last.agent_id.as_deref().unwrap_or("")
    ));
    let passed = phone
        .api
        .call_center_collect(&r.provisioning_id, &collect)
        .await?;
    steps.push(format!(
        "the wallet collects token {} {} with its access data and script",
        passed.token.token_ref_id, passed.token.status
    ));
    d.install(
        &mut phone,
        &r.provisioning_id,
        &passed.script,
        &passed.access_data,
        &mut steps,
    )
    .await?;
    Ok(steps)
}

/// The bank declines the card for this wallet, whatever the levels.
pub(super) async fn declined_by_the_bank(d: &Demo) -> anyhow::Result<Vec<String>> {
    let mut steps = Vec::new();
    let phone = d.phone(933)?;
    d.bank.will_answer(&phone, json!({"decision": "DECLINE"}))?;
    let r = d
        .enter_card(
            &phone,
            Some(WalletRiskInfo::level(0, false)),
            Decision::Declined,
            &mut steps,
        )
        .await?;
    ensure!(r.token.is_none(), "a declined answer carries a token");
    steps.push("no token is created; the request is consumed".into());
    Ok(steps)
}

/// US 10,140,615 on the wallet path: a non-override level below the service's is not
/// provisioned without further authentication (a code to the contact the bank gave); one
/// above it is final.
pub(super) async fn non_override_on_the_wallet_path(d: &Demo) -> anyhow::Result<Vec<String>> {
    let mut steps = Vec::new();
    let mut phone = d.phone(934)?;
    let contact = phone.card.contact.clone().context("no contact")?;
    d.bank.will_answer(
        &phone,
        json!({"decision": "APPROVE", "methods": ["OTP_SMS"], "contact": {"phone": contact.phone}}),
    )?;
    let r = d
        .enter_card(
            &phone,
            Some(WalletRiskInfo::level(5, true)),
            Decision::StepUpRequired,
            &mut steps,
        )
        .await?;
    ensure!(
        r.risk.merge_rule == "non_override_service_higher",
        "merge rule {}",
        r.risk.merge_rule
    );
    steps.push(format!(
        "the wallet's non-override 5 is below the service's {}: the bank approves, but the credential needs further authentication; a code goes to the phone the bank gave",
        r.risk.tsp_level
    ));
    let (otp_id, code) = d.code_by_sms(&phone, &r, &mut steps).await?;
    let passed = d.verify(&phone, &r.provisioning_id, &otp_id, &code).await?;
    steps.push(format!(
        "the cardholder enters the code: token {} {}",
        passed.token.token_ref_id, passed.token.status
    ));
    d.install(
        &mut phone,
        &r.provisioning_id,
        &passed.script,
        &passed.access_data,
        &mut steps,
    )
    .await?;
    let mut floor = d.phone(935)?;
    d.bank.will_answer(&floor, json!({"decision": "APPROVE"}))?;
    let r = d
        .enter_card(
            &floor,
            Some(WalletRiskInfo::level(30, true)),
            Decision::Approved,
            &mut steps,
        )
        .await?;
    ensure!(
        r.risk.merge_rule == "non_override_wallet_floor" && r.risk.final_level == 30,
        "expected the wallet's 30 to be final, got {} ({})",
        r.risk.final_level,
        r.risk.merge_rule
    );
    steps.push("another card, a non-override 30 above the service's level: the wallet's level is final and in the approve band".into());
    d.install_approved(&mut floor, &r, &mut steps).await?;
    Ok(steps)
}
