//! Target `request_json`: the JSON bodies the token service parses from wallets, issuers and
//! devices (docs/protocol.md §3.3, §17), through the same functions the server's handlers call:
//! `PushRequest::parse`, `WalletRequest::parse`, and serde with `json_error_detail` (the
//! server's `parse_json`) for the others.

use provisio_tsp::token_wire::{CardChangeRequest, ChangeRequest, ReissueRequest, SearchRequest};
use provisio_tsp::wallet_wire::WalletProvisioningRequest;
use provisio_tsp::wire::{
    CallCenterActivationRequest, CallCenterCollectRequest, IssuerAppActivationRequest,
    OtpSendRequest, OtpVerifyRequest, PushProvisioningRequest, ScriptReportRequest,
    json_error_detail,
};
use provisio_tsp::{PushRequest, WalletRequest};
use provisio_types::Code;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::secrets::{assert_hidden, assert_peer_refusal, card_numbers};

/// Parses `data` as every request body. A refusal is `malformed_request` and quotes no
/// card-shaped number or one-time code of the body; whatever parses serializes to JSON that
/// parses back to the same JSON; `Debug` of a parsed push or code shows neither.
pub fn request_json(data: &[u8]) {
    let mut secrets = card_numbers(data);
    secrets.extend(codes(data));
    match PushRequest::parse(data) {
        Ok(req) => {
            round_trip(&req.body);
            assert_hidden("a parsed push", &format!("{req:?}"), &card_numbers(data));
        }
        Err(e) => assert_peer_refusal("push", &e, &[Code::MalformedRequest], &secrets),
    }
    match WalletRequest::parse(data) {
        Ok(req) => {
            round_trip(&req.body);
            assert_hidden(
                "a parsed wallet request",
                &format!("{req:?}"),
                &card_numbers(data),
            );
        }
        Err(e) => assert_peer_refusal("wallet", &e, &[Code::MalformedRequest], &secrets),
    }
    let _ = body::<PushProvisioningRequest>(data, &secrets);
    let _ = body::<WalletProvisioningRequest>(data, &secrets);
    if let Some(otp) = body::<OtpVerifyRequest>(data, &secrets) {
        assert_hidden(
            "a parsed code",
            &format!("{otp:?}"),
            std::slice::from_ref(&otp.code),
        );
    }
    let _ = body::<OtpSendRequest>(data, &secrets);
    let _ = body::<IssuerAppActivationRequest>(data, &secrets);
    let _ = body::<CallCenterActivationRequest>(data, &secrets);
    let _ = body::<CallCenterCollectRequest>(data, &secrets);
    let _ = body::<ScriptReportRequest>(data, &secrets);
    let _ = body::<ChangeRequest>(data, &secrets);
    let _ = body::<SearchRequest>(data, &secrets);
    let _ = body::<CardChangeRequest>(data, &secrets);
    let _ = body::<ReissueRequest>(data, &secrets);
}

/// One body through serde, as the server's `parse_json` reads it: the refusal's detail
/// quotes no secret of the body; what parses round-trips.
fn body<T: Serialize + DeserializeOwned>(data: &[u8], secrets: &[String]) -> Option<T> {
    match serde_json::from_slice::<T>(data) {
        Ok(value) => {
            round_trip(&value);
            Some(value)
        }
        Err(e) => {
            assert_hidden(std::any::type_name::<T>(), &json_error_detail(&e), secrets);
            None
        }
    }
}

/// `value` serializes, and what it serializes to parses back to the same JSON.
fn round_trip<T: Serialize + DeserializeOwned>(value: &T) {
    let json = serde_json::to_value(value)
        .unwrap_or_else(|e| panic!("a parsed body does not serialize: {e}"));
    let again: T = serde_json::from_value(json.clone())
        .unwrap_or_else(|e| panic!("a serialized body does not parse back: {e}"));
    let json_again = serde_json::to_value(&again)
        .unwrap_or_else(|e| panic!("a parsed body does not serialize: {e}"));
    assert_eq!(json_again, json, "parse(encode(x)) == x");
}

/// The one-time-code-shaped runs of the input: maximal runs of 6 to 8 ASCII digits
/// (docs/protocol.md §17: six-digit codes).
fn codes(input: &[u8]) -> Vec<String> {
    input
        .split(|b| !b.is_ascii_digit())
        .filter(|run| (6..=8).contains(&run.len()))
        .map(|run| String::from_utf8_lossy(run).into_owned())
        .collect()
}
