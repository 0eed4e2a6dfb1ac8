//! Target `jwe`: a compact JWE as the token service receives it in `encrypted_payload`
//! (docs/protocol.md §3.3, §13.1): the JOSE decryption under the strict header policy
//! (RFC 7516 7.1, RFC 8725), then the push core's open, verify and accept steps
//! (docs/protocol.md §3.4) under the fixture's keys.

use provisio_jose::{EncryptOptions, JoseError, KeyManagement, b64_decode};
use provisio_tsp::{AcceptContext, open};
use provisio_types::Code;

use crate::fixture::{
    DEVICE_ID, ISSUER_ID, ISSUER_KID, NOW, SESSION_ID, TRID, TSP_ID, WALLET_USER_ID, WINDOW_S,
    crypto, issuer_key, tsp_enc_key, tsp_enc_kid, tsp_keys,
};
use crate::secrets::{assert_hidden, assert_peer_refusal, card_numbers};

const BOTH: &[KeyManagement] = &[KeyManagement::EcdhEsA256Kw, KeyManagement::EcdhEs];

/// Decrypts `data` (read as UTF-8, invalid sequences replaced) and runs the push core on it.
/// A refusal is never our side's failure; an empty policy admits nothing; what decrypts
/// re-encrypts to the same plaintext; what the core accepts shows no PAN in its `Debug`.
pub fn jwe(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let compact = text.as_ref();
    let c = crypto();
    let key_for = |kid: Option<&str>| (kid == Some(tsp_enc_kid())).then(tsp_enc_key);
    let mut secrets = Vec::new();
    match provisio_jose::decrypt(c, compact, BOTH, key_for) {
        Ok(d) => {
            let km = d
                .header
                .key_management
                .unwrap_or_else(|| panic!("a decrypted JWE names its key management"));
            assert!(BOTH.contains(&km) && d.header.epk.is_some(), "policy");
            assert!(
                provisio_jose::decrypt(c, compact, &[], key_for).is_err(),
                "an empty policy admits nothing"
            );
            let options = EncryptOptions {
                alg: km,
                kid: d.header.kid.as_deref(),
                cty: d.header.cty.as_deref(),
            };
            let again = provisio_jose::encrypt(
                c,
                tsp_enc_key().public_key(),
                &options,
                d.plaintext.expose(),
            )
            .unwrap_or_else(|e| panic!("a decrypted plaintext does not encrypt: {e}"));
            let back = provisio_jose::decrypt(c, &again, BOTH, key_for)
                .unwrap_or_else(|e| panic!("decrypt(encrypt(x)) fails: {e}"));
            assert_eq!(back.plaintext.expose(), d.plaintext.expose(), "round trip");
            // The PAN of the signed claims, if any, must stay out of every later message.
            secrets = std::str::from_utf8(d.plaintext.expose())
                .ok()
                .and_then(|jws| jws.split('.').nth(1))
                .and_then(|p| b64_decode(p).ok())
                .map(|claims| card_numbers(&claims))
                .unwrap_or_default();
        }
        Err(JoseError::Internal) => panic!("a peer's JWE is refused as our failure"),
        Err(_) => {}
    }
    let opened = match open(c, tsp_keys(), compact) {
        Ok(opened) => opened,
        Err(e) => {
            let expected = [Code::PayloadUndecryptable, Code::SignatureInvalid];
            return assert_peer_refusal("open", &e, &expected, &secrets);
        }
    };
    assert_hidden(
        "the claimed PAN",
        &format!("{:?}", opened.claimed_pan()),
        &secrets,
    );
    if opened.claimed_issuer() != ISSUER_ID {
        return;
    }
    let verified = match opened.verify(c, ISSUER_KID, issuer_key().public_key()) {
        Ok(verified) => verified,
        Err(e) => {
            let expected = [Code::SignatureInvalid, Code::MalformedRequest];
            return assert_peer_refusal("verify", &e, &expected, &secrets);
        }
    };
    assert_hidden("verified claims", &format!("{verified:?}"), &secrets);
    let ctx = AcceptContext {
        tsp_id: TSP_ID,
        caller_trid: TRID,
        session_id: SESSION_ID,
        wallet_user_id: WALLET_USER_ID,
        device_id: DEVICE_ID,
        now: NOW,
        window_s: WINDOW_S,
    };
    match verified.accept(&ctx) {
        Ok(accepted) => {
            let mut all = secrets;
            all.push(accepted.pan.expose().to_owned());
            assert_hidden("the accepted request", &format!("{accepted:?}"), &all);
        }
        Err(e) => {
            let expected = [
                Code::AudienceMismatch,
                Code::BindingMismatch,
                Code::StaleTimestamp,
                Code::InvalidAccount,
                Code::MalformedRequest,
            ];
            assert_peer_refusal("accept", &e, &expected, &secrets);
        }
    }
}
