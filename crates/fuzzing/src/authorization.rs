//! Target `authorization_request`: what a payment network sends at authorisation time
//! (docs/protocol.md §16.3), parsed as the server does (serde, then
//! `Authorization::parse`), and the EMV transaction data a cryptogram covers (docs/protocol.md
//! §16.1), from its wire fields and from the 17 bytes a terminal sends in GENERATE AC.

use provisio_crypto::AesKey;
use provisio_emv::{Atc, Transaction};
use provisio_tsp::payment_wire::AuthorizationRequest;
use provisio_tsp::wire::json_error_detail;
use provisio_tsp::{Authorization, PaymentError};
use provisio_types::Code;

use crate::secrets::{assert_hidden, assert_peer_refusal, card_numbers};

/// Parses `data` as an authorisation request, and its first 17 bytes as GENERATE AC terminal
/// data. A refusal is `malformed_request` and shows neither the token PAN nor the
/// cryptogram, and neither does `Debug`; transaction data re-encodes exactly; the ARQC
/// verifies for its own transaction and ATC only.
pub fn authorization_request(data: &[u8]) {
    if let Some(terminal) = data.first_chunk::<17>()
        && let Ok(tx) = Transaction::from_bytes(terminal)
    {
        assert_eq!(
            &tx.terminal_bytes(),
            terminal,
            "terminal bytes re-encode exactly"
        );
    }
    let req: AuthorizationRequest = match serde_json::from_slice(data) {
        Ok(req) => req,
        Err(e) => return assert_hidden("the body", &json_error_detail(&e), &card_numbers(data)),
    };
    let secrets = vec![req.token_pan.clone(), req.cryptogram.clone()];
    assert_hidden("a parsed request", &format!("{req:?}"), &secrets);
    let auth = match Authorization::parse(&req) {
        Ok(auth) => auth,
        Err(e @ PaymentError::Malformed(_)) => {
            return assert_peer_refusal("parse", &e, &[Code::MalformedRequest], &secrets);
        }
        Err(e) => panic!("a request's form is refused as {e:?}"),
    };
    assert_hidden("an authorisation", &format!("{auth:?}"), &secrets);
    // Authorization::parse read the transaction with Transaction::parse; so must this.
    let tx = Transaction::parse(
        req.amount_minor,
        &req.currency,
        &req.country,
        &req.transaction_date,
        &req.unpredictable_number,
    )
    .unwrap_or_else(|e| panic!("a parsed request's transaction does not parse: {e}"));
    assert_eq!(
        Transaction::from_bytes(&tx.terminal_bytes()),
        Ok(tx),
        "parse(encode(x)) == x"
    );
    let key = AesKey::from_bytes(&[0xC7; 16]).unwrap_or_else(|e| panic!("a 16-byte key: {e}"));
    let atc = auth.atc();
    let arqc = provisio_emv::arqc(&key, atc, &tx).unwrap_or_else(|e| panic!("an AES-128 key: {e}"));
    assert_eq!(provisio_emv::verify(&key, atc, &tx, &arqc), Ok(true));
    if let Some(other) = Atc::new(atc.get().wrapping_add(1)) {
        assert_eq!(
            provisio_emv::verify(&key, other, &tx, &arqc),
            Ok(false),
            "an ARQC is bound to its ATC"
        );
    }
}
