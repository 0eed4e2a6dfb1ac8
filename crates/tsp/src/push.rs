//! The checks of docs/protocol.md §3.4, one state per stage.

use provisio_crypto::{CryptoProvider, EcPublicKey, SecretBytes};
use provisio_jose::{KeyManagement, b64_decode};
use provisio_types::{Expiry, Pan, PanError, UnixSeconds};
use serde::Deserialize;

use crate::Contact;
use crate::records::Origin;
use crate::wire::RequestClaims;
use crate::{PushError, TspKeys};

/// The request data decrypted: a JWS whose claims are not yet trusted.
pub struct Opened {
    jws: SecretBytes,
    iss: String,
    /// The card the claims name, read before the signature is checked (to know which risk
    /// signals to load); `None` when it is not a valid PAN.
    pan: Option<Pan>,
}

/// The request data with a verified signature from the issuer it names.
#[derive(Debug)]
pub struct Verified {
    claims: RequestClaims,
}

/// What [`Verified::accept`] compares the claims with: the outer request, the caller, the
/// time, and our configuration.
#[derive(Debug, Clone, Copy)]
pub struct AcceptContext<'a> {
    /// Our id, the only acceptable `aud`.
    pub tsp_id: &'a str,
    /// The authenticated caller's token requestor id.
    pub caller_trid: &'a str,
    /// Outer `session_id`.
    pub session_id: &'a str,
    /// Outer `wallet_user_id`.
    pub wallet_user_id: &'a str,
    /// Outer `device_id`.
    pub device_id: &'a str,
    /// When the request was received.
    pub now: UnixSeconds,
    /// Allowed `|now - iat|`.
    pub window_s: i64,
}

/// A request that passed every check but one-time use, which the store enforces on commit.
#[derive(Debug)]
pub struct Accepted {
    /// How it came in.
    pub origin: Origin,
    /// The issuer.
    pub issuer_id: String,
    /// `jti`.
    pub jti: String,
    /// `sid` (wallet-initiated: empty; the store keeps the provisioning id).
    pub session_id: String,
    /// `uid`.
    pub wallet_user_id: String,
    /// `did`.
    pub device_id: String,
    /// `trid`.
    pub token_requestor_id: String,
    /// The funding PAN.
    pub pan: Pan,
    /// The funding card's expiry.
    pub expiry: Expiry,
    /// Where step-up codes may go, as the issuer signed it.
    pub contact: Contact,
}

/// Decrypts the request data under one of our encryption keys, chosen by `kid`.
///
/// Only `ECDH-ES+A256KW` with `A256GCM` and `cty: JWT` is accepted (docs/protocol.md §13.1).
pub fn open(
    crypto: &dyn CryptoProvider,
    keys: &TspKeys,
    encrypted_payload: &str,
) -> Result<Opened, PushError> {
    let decrypted = provisio_jose::decrypt(
        crypto,
        encrypted_payload,
        &[KeyManagement::EcdhEsA256Kw],
        |kid| kid.and_then(|kid| keys.enc_key(kid)),
    )
    .map_err(|_| PushError::PayloadUndecryptable)?;
    // RFC 7519 section 5.2: a nested JWT says so with cty "JWT" (compared case-insensitively).
    if !decrypted
        .header
        .cty
        .as_deref()
        .is_some_and(|c| c.eq_ignore_ascii_case("JWT"))
    {
        return Err(PushError::PayloadUndecryptable);
    }
    let (iss, pan) = peek(decrypted.plaintext.expose()).ok_or(PushError::SignatureInvalid)?;
    Ok(Opened {
        jws: decrypted.plaintext,
        iss,
        pan,
    })
}

/// Reads `iss` and the PAN from an unverified JWS payload, only to know whose key to verify
/// with and which signals to read.
fn peek(jws: &[u8]) -> Option<(String, Option<Pan>)> {
    #[derive(Deserialize)]
    struct Account {
        pan: String,
    }
    #[derive(Deserialize)]
    struct Peek {
        iss: String,
        acct: Option<Account>,
    }
    let jws = std::str::from_utf8(jws).ok()?;
    let payload = jws.split('.').nth(1)?;
    let peek: Peek = serde_json::from_slice(&b64_decode(payload).ok()?).ok()?;
    let pan = peek.acct.and_then(|a| Pan::parse(&a.pan).ok());
    Some((peek.iss, pan))
}

impl Opened {
    /// The issuer the request data claims to come from. Not yet verified.
    pub fn claimed_issuer(&self) -> &str {
        &self.iss
    }

    /// The card the request data claims. Not yet verified.
    pub fn claimed_pan(&self) -> Option<&Pan> {
        self.pan.as_ref()
    }

    /// Verifies the signature under the issuer's registered key; the header's `kid` must be
    /// that key's id.
    pub fn verify(
        &self,
        crypto: &dyn CryptoProvider,
        issuer_kid: &str,
        issuer_key: &EcPublicKey,
    ) -> Result<Verified, PushError> {
        let jws =
            std::str::from_utf8(self.jws.expose()).map_err(|_| PushError::SignatureInvalid)?;
        let verified = provisio_jose::verify(crypto, jws, |h| {
            if h.kid.as_deref() == Some(issuer_kid) {
                Ok(issuer_key.clone())
            } else {
                Err(provisio_jose::JoseError::UnknownKey)
            }
        })
        .map_err(|_| PushError::SignatureInvalid)?;
        // The serde message may quote a value (the PAN among them), so it is not passed on.
        let claims: RequestClaims = serde_json::from_slice(&verified.payload).map_err(|_| {
            PushError::Malformed(
                "the signed request data lacks a documented claim, has one of the wrong type, or acct has a member the contract does not name"
                    .into(),
            )
        })?;
        if claims.iss != self.iss {
            return Err(PushError::SignatureInvalid);
        }
        Ok(Verified { claims })
    }
}

impl Verified {
    /// Checks audience, the four bindings, freshness and the account, in the order of
    /// docs/protocol.md §3.4.
    pub fn accept(self, ctx: &AcceptContext<'_>) -> Result<Accepted, PushError> {
        let c = self.claims;
        if c.aud != ctx.tsp_id {
            return Err(PushError::AudienceMismatch);
        }
        if c.sid != ctx.session_id {
            return Err(PushError::BindingMismatch("session"));
        }
        if c.uid != ctx.wallet_user_id {
            return Err(PushError::BindingMismatch("wallet user"));
        }
        if c.did != ctx.device_id {
            return Err(PushError::BindingMismatch("device"));
        }
        if c.trid != ctx.caller_trid {
            return Err(PushError::BindingMismatch("token requestor"));
        }
        if c.jti.is_empty() || c.jti.len() > 128 || !c.jti.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(PushError::Malformed(
                "the request data's jti must be 1 to 128 printable ASCII characters".into(),
            ));
        }
        if !provisio_types::is_plain_text(&c.acct.name, 100) {
            return Err(PushError::Malformed(
                "acct.name must be 1 to 100 characters of plain text (no control or bidirectional formatting characters)".into(),
            ));
        }
        if ctx.now.abs_diff(c.iat) > ctx.window_s.unsigned_abs() {
            return Err(PushError::StaleTimestamp);
        }
        let pan = Pan::parse(&c.acct.pan).map_err(|e| {
            PushError::InvalidAccount(match e {
                PanError::Luhn => "the PAN fails the Luhn check",
                _ => "the PAN must be 12 to 19 digits",
            })
        })?;
        let expiry = Expiry::new(c.acct.exp_month, c.acct.exp_year).map_err(|_| {
            PushError::InvalidAccount("the expiry date is not a valid month and year")
        })?;
        if expiry.is_past(ctx.now) {
            return Err(PushError::InvalidAccount("the card has expired"));
        }
        let contact = c.contact.unwrap_or_default();
        contact
            .check()
            .map_err(|m| PushError::Malformed(format!("signed request data: {m}")))?;
        Ok(Accepted {
            origin: Origin::Push,
            issuer_id: c.iss,
            jti: c.jti,
            session_id: c.sid,
            wallet_user_id: c.uid,
            device_id: c.did,
            token_requestor_id: c.trid,
            pan,
            expiry,
            contact,
        })
    }
}
