//! Claim elements of the four patents (docs/claims.md) that no other test shows on its own,
//! each over HTTP: the issuer app's session and request data and the wallet's installation
//! (US 10,243,958), the wallet's first risk level and a held-back credential that cannot pay
//! (US 10,140,615), and the carrier TSM closing its secure connection (US 8,060,449).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::sync::Arc;

use axum::http::StatusCode;
use common::*;
use provisio_apps::CardDetails;
use provisio_crypto::{AesKey, AwsLcProvider, CryptoProvider, SecretBytes};
use provisio_emv::{Atc, Transaction};
use provisio_gp::scp03::{SecurityLevel, StaticKeys};
use provisio_jose::{Jwk, KeyManagement};
use provisio_se::VirtualSe;
use provisio_server::{Clock, MemorySink, SeiState, SystemClock, sei_router, spawn_delivery};
use provisio_store::SqlStore;
use provisio_tsp::wire::{RequestClaims, WalletRiskInfo};
use provisio_tsp::{Script, Sealed};
use provisio_types::Pan;
use serde_json::{Value, json};

/// A second card of the cardholder's, Luhn-valid.
const OTHER_PAN: &str = "5500005555555559";

/// The funding PAN the vault holds for a token.
async fn funding_pan(h: &Harness, token_ref_id: &str) -> String {
    let token = h.state.store.token(token_ref_id).await.unwrap().unwrap();
    let aad = format!("token:{token_ref_id}:pan");
    let pan = h
        .state
        .keys
        .vault()
        .open(&h.crypto, &token.pan, aad.as_bytes())
        .unwrap();
    String::from_utf8(pan.expose().to_vec()).unwrap()
}

/// `POST` with the wallet's key.
async fn wallet_post(h: &Harness, path: &str, body: Value) -> (StatusCode, Value) {
    call(
        &h.app,
        "POST",
        path,
        Some(&h.wallet_key),
        body.to_string().into_bytes(),
        None,
    )
    .await
}

/// US 10,243,958 claim 1, "user input selecting an account to provision": the card the
/// cardholder chose in the issuer app is the one the token stands for, whichever it is.
#[tokio::test]
async fn claim_958_the_account_selected_in_the_issuer_app_is_the_account_provisioned() {
    let h = harness().await;
    let other = CardDetails {
        pan: Pan::parse(OTHER_PAN).unwrap(),
        exp_month: 6,
        exp_year: 2031,
        name: "A Holder".into(),
        contact: None,
    };
    for (device, chosen) in [("device-c1", card()), ("device-c2", other)] {
        let start = h.issuer.start_session(&h.crypto).unwrap();
        let mut answer = h.wallet.answer(&start);
        answer.device_id = device.into();
        let claims = h
            .issuer
            .claims(&h.crypto, &answer, &chosen, h.clock.now())
            .unwrap();
        let jwe = h.issuer.request_data(&h.crypto, &claims, &h.jwks).unwrap();
        let (s, v) = h.push(&h.wallet.push_request(&answer, jwe, None)).await;
        assert_eq!(
            (s, v["decision"].as_str()),
            (StatusCode::OK, Some("APPROVED")),
            "{v}"
        );
        let token_ref_id = v["token"]["token_ref_id"].as_str().unwrap();
        assert_eq!(funding_pan(&h, token_ref_id).await, chosen.pan.expose());
        let access = h
            .wallet
            .open_access_data(&h.crypto, v["access_data"].as_str().unwrap())
            .unwrap();
        assert_ne!(
            access.token_pan,
            chosen.pan.expose(),
            "a token, not the card"
        );
    }
}

/// US 10,243,958 claim 1, "invoking ... the second application and sending a session
/// identifier": each invocation carries a fresh 128-bit session id, the wallet answers with
/// it, and request data signed for one session is refused under another.
#[tokio::test]
async fn claim_958_the_issuer_app_invokes_the_wallet_with_a_fresh_session_id() {
    let h = harness().await;
    let first = h.issuer.start_session(&h.crypto).unwrap();
    let second = h.issuer.start_session(&h.crypto).unwrap();
    assert_ne!(first.session_id, second.session_id);
    assert_eq!(
        provisio_jose::b64_decode(&first.session_id).unwrap().len(),
        16,
        "128 random bits"
    );
    assert_eq!(first.issuer_id, "bank-a");
    let answer = h.wallet.answer(&first);
    assert_eq!(answer.session_id, first.session_id);

    let claims = h
        .issuer
        .claims(&h.crypto, &answer, &card(), h.clock.now())
        .unwrap();
    let jwe = h.issuer.request_data(&h.crypto, &claims, &h.jwks).unwrap();
    let elsewhere = h.wallet.answer(&second);
    let (s, v) = h
        .push(&h.wallet.push_request(&elsewhere, jwe.clone(), None))
        .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::BAD_REQUEST, "binding_mismatch"),
        "{v}"
    );
    let (s, v) = h.push(&h.wallet.push_request(&answer, jwe, None)).await;
    assert_eq!(
        (s, v["decision"].as_str()),
        (StatusCode::OK, Some("APPROVED")),
        "{v}"
    );
}

/// US 10,243,958 claim 1, "encrypted provisioning request data including an account ID ...,
/// the user ID, and the device ID": the issuer app's request data is a JWE only the token
/// service opens, around the issuer's JWS naming the card, the wallet user and the device.
#[tokio::test]
async fn claim_958_the_request_data_is_encrypted_and_names_the_account_user_and_device() {
    let h = harness().await;
    let start = h.issuer.start_session(&h.crypto).unwrap();
    let answer = h.wallet.answer(&start);
    let claims = h
        .issuer
        .claims(&h.crypto, &answer, &card(), h.clock.now())
        .unwrap();
    let jwe = h.issuer.request_data(&h.crypto, &claims, &h.jwks).unwrap();
    let parts: Vec<&str> = jwe.split('.').collect();
    assert_eq!(parts.len(), 5, "a compact JWE");
    for part in &parts {
        let bytes = provisio_jose::b64_decode(part).unwrap();
        assert!(
            !bytes.windows(PAN.len()).any(|w| w == PAN.as_bytes()),
            "the PAN is not readable on its way through the wallet"
        );
    }
    // The wallet's own key does not open it.
    let stranger = h.crypto.generate_ec_key().unwrap();
    assert!(
        provisio_jose::decrypt(&h.crypto, &jwe, &[KeyManagement::EcdhEsA256Kw], |_| {
            Some(&stranger)
        })
        .is_err()
    );
    // The token service's key does, to the issuer's JWS over the claims.
    let opened = provisio_jose::decrypt(&h.crypto, &jwe, &[KeyManagement::EcdhEsA256Kw], |kid| {
        kid.and_then(|kid| h.state.keys.enc_key(kid))
    })
    .unwrap();
    assert_eq!(opened.header.cty.as_deref(), Some("JWT"));
    let jws = std::str::from_utf8(opened.plaintext.expose()).unwrap();
    let jws_parts: Vec<&str> = jws.split('.').collect();
    assert_eq!(jws_parts.len(), 3, "a compact JWS");
    let header: Value =
        serde_json::from_slice(&provisio_jose::b64_decode(jws_parts[0]).unwrap()).unwrap();
    assert_eq!(
        (header["alg"].as_str(), header["kid"].as_str()),
        (Some("ES256"), Some(h.issuer_kid.as_str()))
    );
    let signed: RequestClaims =
        serde_json::from_slice(&provisio_jose::b64_decode(jws_parts[1]).unwrap()).unwrap();
    assert_eq!(signed.acct.pan, PAN);
    assert_eq!(
        (
            signed.uid.as_str(),
            signed.did.as_str(),
            signed.sid.as_str()
        ),
        (
            answer.wallet_user_id.as_str(),
            answer.device_id.as_str(),
            start.session_id.as_str()
        )
    );
}

/// US 10,243,958 claim 1, "provisioning, by the second application, the access data onto the
/// second application": the wallet core opens the access data with its device key, runs the
/// script, and its report makes the token payment-ready.
#[tokio::test]
async fn claim_958_the_wallet_provisions_the_access_data_onto_itself() {
    let mut h = harness().await;
    let req = h.request_with(|_| {});
    let (s, v) = h.push(&req).await;
    assert_eq!(
        (s, v["decision"].as_str()),
        (StatusCode::OK, Some("APPROVED")),
        "{v}"
    );
    let id = v["provisioning_id"].as_str().unwrap();
    let token_ref_id = v["token"]["token_ref_id"].as_str().unwrap();
    let installation = format!("/v1/provisionings/{id}/installation");
    let (_, before) = call(
        &h.app,
        "GET",
        &installation,
        Some(&h.wallet_key),
        vec![],
        None,
    )
    .await;
    assert_eq!(before["payment_ready"], false, "{before}");

    let script: Script = serde_json::from_value(v["script"].clone()).unwrap();
    let steps = h
        .wallet
        .install(&h.crypto, &script, v["access_data"].as_str().unwrap())
        .unwrap();
    assert_eq!(steps.len(), script.steps.len());
    let card = h
        .wallet
        .cards()
        .iter()
        .find(|c| c.token_ref_id == token_ref_id)
        .unwrap();
    assert!(card.cryptogram_key.is_some() && card.default);

    let report = json!({"script_id": script.script_id, "wallet_user_id": req.wallet_user_id,
                        "device_id": req.device_id, "steps": steps});
    let (s, r) = wallet_post(&h, &format!("/v1/provisionings/{id}/script-report"), report).await;
    assert_eq!(
        (s, r["payment_ready"].as_bool()),
        (StatusCode::OK, Some(true)),
        "{r}"
    );
    let (_, after) = call(
        &h.app,
        "GET",
        &installation,
        Some(&h.wallet_key),
        vec![],
        None,
    )
    .await;
    assert_eq!(after["payment_ready"], true, "{after}");
}

/// US 10,140,615 claim 1, "a provisioning request ... includes a first risk level": the
/// wallet's level, its non-override mark and its own inputs arrive with the push, within 0 to
/// 99, and the answer says what was received.
#[tokio::test]
async fn claim_615_the_provisioning_request_carries_the_first_risk_level() {
    let h = harness().await;
    let assessed = WalletRiskInfo {
        level: Some(30),
        non_override: false,
        reason_codes: vec!["new_device".into()],
        device_score: Some(10),
        account_score: Some(20),
    };
    let cases = [
        (assessed, json!(30), false),
        (WalletRiskInfo::level(60, true), json!(60), true),
        (WalletRiskInfo::default(), Value::Null, false),
    ];
    for (wallet_risk, level, non_override) in cases {
        let mut req = h.request_with(|_| {});
        req.wallet_risk = Some(wallet_risk);
        let (s, v) = h.push(&req).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert_eq!(v["risk"]["wallet_level"], level, "{v}");
        assert_eq!(v["risk"]["non_override"], non_override, "{v}");
        if non_override {
            assert_eq!(
                v["risk"]["final_level"], level,
                "the first level is final: {v}"
            );
        }
        if level.is_null() {
            // Present without a level: the wallet tried and could not assess.
            let reasons = v["risk"]["reasons"].as_array().unwrap();
            assert!(
                reasons
                    .iter()
                    .any(|r| r["code"] == "wallet_risk_unassessable"),
                "{v}"
            );
        }
    }
    let mut req = h.request_with(|_| {});
    req.wallet_risk = Some(WalletRiskInfo::level(100, false));
    let (s, v) = h.push(&req).await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::BAD_REQUEST, "malformed_request"),
        "{v}"
    );
}

/// US 10,140,615 claim 1, "the user device is not capable of initiating a transaction using
/// the account when the credential is prevented from being provisioned": a credential held
/// for further authentication reaches the device with nothing to pay with, and even a right
/// cryptogram for its token is declined until the authentication passes.
#[tokio::test]
async fn claim_615_a_credential_held_for_further_authentication_cannot_pay() {
    let h = harness_stepping_up().await;
    let sink = Arc::new(MemorySink::default());
    let _deliverer = spawn_delivery(h.state.clone(), sink.clone());
    let mut req = h.request_with(|_| {});
    req.wallet_risk = Some(WalletRiskInfo::level(5, true));
    let (s, pv) = h.push(&req).await;
    assert_eq!(
        (s, pv["decision"].as_str()),
        (StatusCode::OK, Some("STEP_UP_REQUIRED")),
        "{pv}"
    );
    assert_eq!(pv["token"]["status"], "INACTIVE");
    assert!(pv.get("access_data").is_none() && pv.get("script").is_none());

    // What the device would need, taken from the vault as only the service could.
    let token_ref_id = pv["token"]["token_ref_id"].as_str().unwrap();
    let token = h.state.store.token(token_ref_id).await.unwrap().unwrap();
    let open = |sealed: &Sealed, field: &str| -> SecretBytes {
        let aad = format!("token:{token_ref_id}:{field}");
        h.state
            .keys
            .vault()
            .open(&h.crypto, sealed, aad.as_bytes())
            .unwrap()
    };
    let token_pan =
        String::from_utf8(open(&token.token_pan, "token_pan").expose().to_vec()).unwrap();
    let key = AesKey::from_bytes(open(&token.cryptogram_key, "cryptogram_key").expose()).unwrap();
    let authorization = |atc: u16| {
        let un = format!("{:08x}", 0x2000_0000u32 + u32::from(atc));
        let t = Transaction::parse(1250, "978", "250", "261203", &un).unwrap();
        let ac = provisio_emv::arqc(&key, Atc::new(atc).unwrap(), &t).unwrap();
        json!({"token_pan": token_pan, "exp_month": token.exp_month, "exp_year": token.exp_year,
               "amount_minor": 1250, "currency": "978", "country": "250",
               "transaction_date": "261203", "unpredictable_number": un, "atc": atc,
               "cryptogram": hex::encode_upper(ac), "channel": "CONTACTLESS"})
    };
    let network = json!({"network_id": "net-a", "name": "Test network"});
    let (s, v) = call(
        &h.app,
        "POST",
        "/v1/admin/networks",
        Some(ADMIN),
        network.to_string().into_bytes(),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let network_key = v["api_key"].as_str().unwrap().to_owned();
    let authorize = |body: Value| {
        call(
            &h.app,
            "POST",
            "/v1/network/authorizations",
            Some(&network_key),
            body.to_string().into_bytes(),
            None,
        )
    };
    let (s, v) = authorize(authorization(1)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        (v["decision"].as_str(), v["reason"].as_str()),
        (Some("DECLINED"), Some("token_not_active")),
        "{v}"
    );
    assert!(v.get("pan").is_none(), "{v}");

    // The further authentication releases the credential; then the token pays.
    let id = pv["provisioning_id"].as_str().unwrap();
    let method = &pv["step_up"]["methods"][0]["method_id"];
    let send = json!({"method_id": method, "wallet_user_id": "user-1", "device_id": req.device_id});
    let (s, sent) = wallet_post(&h, &format!("/v1/provisionings/{id}/step-up/otp"), send).await;
    assert_eq!(s, StatusCode::CREATED, "{sent}");
    let otp = nth_code(&sink, 0).await;
    let verify = json!({"otp_id": sent["otp_id"], "code": otp, "wallet_user_id": "user-1",
                        "device_id": req.device_id});
    let (s, passed) = wallet_post(
        &h,
        &format!("/v1/provisionings/{id}/step-up/verify"),
        verify,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{passed}");
    assert!(passed["access_data"].is_string());
    let (_, v) = authorize(authorization(2)).await;
    assert_eq!(v["decision"], "APPROVED", "{v}");
}

/// US 8,060,449 claim 1, "closing the secure connection with the secure element": once the
/// carrier's plan is complete the session answers `done` without a command, the session is
/// gone for the OTA client, and the finished request opens no new one.
#[tokio::test]
async fn claim_449_the_secure_connection_is_closed_when_the_commands_are_done() {
    const SEI_ADMIN: &str = "sei-admin-key";
    let dir = tempfile::tempdir().unwrap();
    let url = provisio_testkit::postgres::store_url(dir.path(), "sei.db").await;
    let store = Arc::new(SqlStore::open(&url).await.unwrap());
    let state = SeiState::new(
        store,
        SecretBytes::new(vec![7; 32]),
        SEI_ADMIN,
        Arc::new(SystemClock),
    );
    let app = sei_router(state);
    let post = |path: String, key: String, body: Value| {
        let app = app.clone();
        async move {
            call(
                &app,
                "POST",
                &path,
                Some(&key),
                body.to_string().into_bytes(),
                None,
            )
            .await
        }
    };

    let isd = StaticKeys::from_bytes(0x30, &[0x40; 16], &[0x41; 16], &[0x42; 16]).unwrap();
    let hx = |key: &AesKey| hex::encode(key.export().expose());
    let element = json!({"se_id": "se-1", "isd_keys": {"kvn": "30", "enc": hx(&isd.enc),
                         "mac": hx(&isd.mac), "dek": hx(&isd.dek)}});
    let (s, v) = post("/v1/sei/admin/elements".into(), SEI_ADMIN.into(), element).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let ota = v["ota_key"].as_str().unwrap().to_owned();
    let sp_key = AwsLcProvider::new().generate_ec_key().unwrap();
    let provider = json!({"sp_id": "bank-tsm", "aid_prefix": "A000000003",
                          "encryption_jwk": Jwk::from_public_key(sp_key.public_key())});
    let (s, v) = post(
        "/v1/sei/admin/service-providers".into(),
        SEI_ADMIN.into(),
        provider,
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let sp = v["api_key"].as_str().unwrap().to_owned();
    let request = json!({"request_id": "r1", "se_id": "se-1", "kind": "CREATE_DOMAIN",
                         "ssd": "A000000003535041AB01", "applet": "A0000000031010AB01"});
    let (s, v) = post("/v1/sei/service-requests".into(), sp.clone(), request).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");

    let open = json!({"sp_id": "bank-tsm", "request_id": "r1"});
    let (s, v) = post("/v1/sei/ota/sessions".into(), ota.clone(), open.clone()).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let session = format!("/v1/sei/ota/sessions/{}", v["session_id"].as_str().unwrap());
    let mut se = VirtualSe::new(isd, [0; 10], SecurityLevel::CMAC);
    let mut apdu = hex::decode(v["apdu"].as_str().unwrap()).unwrap();
    let mut commands = 1;
    let last_response = loop {
        let response = se.transmit(&apdu);
        let (s, v) = post(
            session.clone(),
            ota.clone(),
            json!({"apdu": hex::encode(&response)}),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        if v["done"] == true {
            assert!(v.get("apdu").is_none(), "no command after done: {v}");
            break response;
        }
        apdu = hex::decode(v["apdu"].as_str().unwrap()).unwrap();
        commands += 1;
        assert!(commands < 100, "the session never ends");
    };
    assert!(commands > 5, "{commands}");

    let (s, v) = post(
        session.clone(),
        ota.clone(),
        json!({"apdu": hex::encode(&last_response)}),
    )
    .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::NOT_FOUND, "session_gone"),
        "{v}"
    );
    let (s, v) = post("/v1/sei/ota/sessions".into(), ota.clone(), open).await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::CONFLICT, "nothing_to_do"),
        "{v}"
    );
    let (s, v) = call(
        &app,
        "GET",
        "/v1/sei/service-requests/r1",
        Some(&sp),
        vec![],
        None,
    )
    .await;
    assert_eq!(
        (s, v["state"].as_str()),
        (StatusCode::OK, Some("DONE")),
        "{v}"
    );
}
