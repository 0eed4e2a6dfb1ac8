//! What the payment tests share: a network, an active token with its access data, and
//! cryptograms made the way a device makes them.

pub(crate) use crate::common::*;
use axum::http::StatusCode;
use provisio_crypto::AesKey;
use provisio_emv::{Atc, Transaction};
use provisio_tsp::wire::AccessData;
use serde_json::{Value, json};

/// The terminal's fixed data in these tests.
pub(crate) const DATE: &str = "261203";

/// Registers a network through the admin API; its API key.
pub(crate) async fn network(h: &Harness, id: &str) -> String {
    let body = json!({"network_id": id, "name": "Test network"});
    let (s, v) = call(
        &h.app,
        "POST",
        "/v1/admin/networks",
        Some(ADMIN),
        body.to_string().into_bytes(),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["network_id"], id);
    v["api_key"].as_str().unwrap().to_owned()
}

/// A token pushed and approved, and what its device got.
pub(crate) struct Paying {
    pub(crate) token_ref_id: String,
    pub(crate) access: AccessData,
    key: AesKey,
}

/// An approved push; the device's access data opened.
pub(crate) async fn active_token(h: &Harness) -> Paying {
    let (s, v) = h.push(&h.request_with(|_| {})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["decision"], "APPROVED", "{v}");
    let access = h
        .wallet
        .open_access_data(&h.crypto, v["access_data"].as_str().unwrap())
        .unwrap();
    let key = provisio_jose::b64_decode(&access.cryptogram_key).unwrap();
    Paying {
        token_ref_id: v["token"]["token_ref_id"].as_str().unwrap().to_owned(),
        key: AesKey::from_bytes(&key).unwrap(),
        access,
    }
}

impl Paying {
    /// The authorisation body for `amount` at `atc` with the device's cryptogram.
    pub(crate) fn request(&self, atc: u16, amount: u64, channel: &str) -> Value {
        self.request_signed(atc, amount, amount, channel)
    }

    /// As [`Self::request`], the cryptogram made over `signed_amount` (a changed amount when
    /// the two differ).
    pub(crate) fn request_signed(
        &self,
        atc: u16,
        amount: u64,
        signed_amount: u64,
        channel: &str,
    ) -> Value {
        let un = format!("{:08x}", 0x1000_0000u32 + u32::from(atc));
        let t = Transaction::parse(signed_amount, "978", "250", DATE, &un).unwrap();
        let ac = provisio_emv::arqc(&self.key, Atc::new(atc).unwrap(), &t).unwrap();
        json!({
            "token_pan": self.access.token_pan,
            "exp_month": self.access.exp_month,
            "exp_year": self.access.exp_year,
            "amount_minor": amount,
            "currency": "978",
            "country": "250",
            "transaction_date": DATE,
            "unpredictable_number": un,
            "atc": atc,
            "cryptogram": hex::encode_upper(ac),
            "channel": channel,
        })
    }
}

/// `POST /v1/network/authorizations`.
pub(crate) async fn authorize(h: &Harness, key: &str, body: &Value) -> (StatusCode, Value) {
    call(
        &h.app,
        "POST",
        "/v1/network/authorizations",
        Some(key),
        body.to_string().into_bytes(),
        None,
    )
    .await
}

/// The decision and reason of an answer.
pub(crate) fn outcome(v: &Value) -> (String, Option<String>) {
    (
        v["decision"].as_str().unwrap_or("<none>").to_owned(),
        v["reason"].as_str().map(str::to_owned),
    )
}

pub(crate) fn approved() -> (String, Option<String>) {
    ("APPROVED".into(), None)
}

pub(crate) fn declined(reason: &str) -> (String, Option<String>) {
    ("DECLINED".into(), Some(reason.into()))
}
