//! De-tokenisation at authorisation time (docs/protocol.md §16): is this token, with this
//! cryptogram, allowed to pay now, and which card is behind it?
//!
//! ```text
//!  AuthorizationRequest ──parse()──► Authorization ──authorize(token facts)──► Authorized
//!                                                    (the record + the 200 answer)
//! ```
//!
//! The checks, in order: a token has this token PAN and expiry; it is `ACTIVE`; it has not
//! expired; the channel is one its domain allows; the cryptogram is the one its key makes for
//! this transaction and ATC (compared in constant time); the ATC is not too far behind the
//! highest used. An attempt whose cryptogram verifies uses up its (token, ATC), whatever the
//! decision, so a cryptogram made while the token could not pay is not approved later. That
//! each (token, ATC) is used once is not checked here but by the store's unique index when the
//! record is committed, so it holds across concurrent requests and instances; an attempt the
//! index refuses becomes [`Authorized::replayed`].

use provisio_crypto::{AesKey, CryptoProvider};
use provisio_emv::{Atc, Transaction, TransactionError};
use provisio_types::{Code, Expiry, Fault, Refusal, UnixSeconds};
use zeroize::Zeroizing;

use crate::lifecycle::TokenStatus;
use crate::payment_wire::{
    AuthorizationAnswer, AuthorizationDecision, AuthorizationRequest, Channel, DeclineReason,
};
use crate::{Sealed, VaultKeys};

/// How authorisations are decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PaymentConfig {
    /// How far behind the highest approved ATC of a token an ATC may be and still be approved
    /// (payments made offline arrive late and out of order; default 100).
    pub atc_window: u16,
    /// Whether phone tokens may also pay `ECOMMERCE` (default: `CONTACTLESS` and `IN_APP`
    /// only).
    pub ecommerce: bool,
}

impl Default for PaymentConfig {
    fn default() -> Self {
        Self {
            atc_window: 100,
            ecommerce: false,
        }
    }
}

/// Why an authorisation request was refused before it was decided.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PaymentError {
    /// A field is not what the contract says (the text names it, never its value).
    #[error("malformed request: {0}")]
    Malformed(&'static str),
    /// A stored secret of the token did not open (our side).
    #[error("the token's stored data cannot be opened")]
    Internal,
}

impl Refusal for PaymentError {
    fn code(&self) -> Code {
        match self {
            Self::Malformed(_) => Code::MalformedRequest,
            Self::Internal => Code::InternalError,
        }
    }

    fn fault(&self) -> Fault {
        match self {
            Self::Malformed(_) => Fault::Peer,
            Self::Internal => Fault::Internal,
        }
    }
}

/// A request whose fields parsed: what [`authorize`] decides on.
pub struct Authorization {
    token_pan: Zeroizing<String>,
    exp_month: u8,
    exp_year: u16,
    amount_minor: u64,
    currency: String,
    country: String,
    transaction: Transaction,
    atc: Atc,
    cryptogram: [u8; 8],
    channel: Channel,
}

impl std::fmt::Debug for Authorization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authorization")
            .field("transaction", &self.transaction)
            .field("atc", &self.atc)
            .field("channel", &self.channel)
            .finish_non_exhaustive()
    }
}

impl Authorization {
    /// Checks every field's form.
    pub fn parse(req: &AuthorizationRequest) -> Result<Self, PaymentError> {
        let digits = req.token_pan.as_bytes();
        if !(12..=19).contains(&digits.len()) || !digits.iter().all(u8::is_ascii_digit) {
            return Err(PaymentError::Malformed("token_pan must be 12 to 19 digits"));
        }
        Expiry::new(u32::from(req.exp_month), u32::from(req.exp_year)).map_err(|_| {
            PaymentError::Malformed("exp_month must be 1 to 12 and exp_year 2000 to 2099")
        })?;
        let transaction = Transaction::parse(
            req.amount_minor,
            &req.currency,
            &req.country,
            &req.transaction_date,
            &req.unpredictable_number,
        )
        .map_err(|e| {
            PaymentError::Malformed(match e {
                TransactionError::Amount => "amount_minor must be 0 to 999999999999",
                TransactionError::Currency => "currency must be 3 digits (ISO 4217 numeric)",
                TransactionError::Country => "country must be 3 digits (ISO 3166 numeric)",
                TransactionError::Date => "transaction_date must be a date as YYMMDD",
                TransactionError::UnpredictableNumber => {
                    "unpredictable_number must be 8 hexadecimal characters"
                }
                _ => "a transaction field is malformed",
            })
        })?;
        let atc = u16::try_from(req.atc)
            .ok()
            .and_then(Atc::new)
            .ok_or(PaymentError::Malformed("atc must be 1 to 65535"))?;
        let hex = req.cryptogram.as_bytes();
        let mut cryptogram = [0u8; 8];
        if hex.len() != 16
            || !hex.iter().all(u8::is_ascii_hexdigit)
            || hex_into(hex, &mut cryptogram).is_none()
        {
            return Err(PaymentError::Malformed(
                "cryptogram must be 16 hexadecimal characters",
            ));
        }
        Ok(Self {
            token_pan: Zeroizing::new(req.token_pan.clone()),
            exp_month: req.exp_month,
            exp_year: req.exp_year,
            amount_minor: req.amount_minor,
            currency: req.currency.clone(),
            country: req.country.clone(),
            transaction,
            atc,
            cryptogram,
            channel: req.channel,
        })
    }

    /// The token PAN's keyed lookup hash, to find the token by.
    pub fn token_pan_hash(&self, crypto: &dyn CryptoProvider, vault: &VaultKeys) -> [u8; 32] {
        vault.lookup_hash(crypto, "token_pan", &self.token_pan)
    }

    /// The ATC.
    pub fn atc(&self) -> Atc {
        self.atc
    }
}

fn hex_into(hex: &[u8], out: &mut [u8]) -> Option<()> {
    for (o, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
        let s = std::str::from_utf8(pair).ok()?;
        *o = u8::from_str_radix(s, 16).ok()?;
    }
    Some(())
}

/// What the store knows of the token a token PAN names, for paying.
#[derive(Debug, Clone)]
pub struct PayingToken {
    /// Its reference id.
    pub token_ref_id: String,
    /// Its status.
    pub status: TokenStatus,
    /// Token expiry month.
    pub exp_month: u8,
    /// Token expiry year.
    pub exp_year: u16,
    /// Its sealed cryptogram key.
    pub cryptogram_key: Sealed,
    /// Its sealed funding PAN.
    pub pan: Sealed,
    /// The funding card's expiry, when known.
    pub card_expiry: Option<(u8, u16)>,
    /// The funding account's reference.
    pub account_ref: String,
    /// The highest ATC used up so far (by attempts whose cryptogram verified).
    pub highest_atc: Option<u16>,
}

/// An authorisation as stored: never the PAN or the cryptogram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAuthorization {
    /// Its id.
    pub authorization_id: String,
    /// The network that asked.
    pub network_id: String,
    /// The token, when one has the token PAN.
    pub token_ref_id: Option<String>,
    /// The ATC presented.
    pub atc: u16,
    /// The decision.
    pub decision: AuthorizationDecision,
    /// Why declined.
    pub reason: Option<DeclineReason>,
    /// Whether the cryptogram verified: then this attempt uses up its (token, ATC), approved
    /// or not, and a later one with the same ATC is a replay.
    pub claims_atc: bool,
    /// Amount in minor units.
    pub amount_minor: u64,
    /// ISO 4217 numeric.
    pub currency: String,
    /// ISO 3166 numeric.
    pub country: String,
    /// The channel.
    pub channel: Channel,
    /// When.
    pub created_at: UnixSeconds,
}

impl NewAuthorization {
    /// The same attempt declined as a replay: what is recorded when the store already holds an
    /// attempt that used up this (token, ATC).
    pub fn replayed(&self) -> Self {
        Self {
            decision: AuthorizationDecision::Declined,
            reason: Some(DeclineReason::AtcReplayed),
            claims_atc: false,
            ..self.clone()
        }
    }
}

/// How the store recorded an authorisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// As decided.
    AsDecided,
    /// As a replay: its (token, ATC) was used up before ([`Authorized::replayed`]).
    Replayed,
}

/// A decided authorisation: what to record and, once recorded, what to answer.
#[derive(Debug, Clone)]
pub struct Authorized {
    /// What to commit.
    pub record: NewAuthorization,
    /// The 200 answer.
    pub answer: AuthorizationAnswer,
}

impl Authorized {
    /// The attempt the store refused because this (token, ATC) was used up before: declined
    /// as `atc_replayed`, without the PAN.
    pub fn replayed(self) -> Self {
        Self {
            record: self.record.replayed(),
            answer: AuthorizationAnswer {
                decision: AuthorizationDecision::Declined,
                reason: Some(DeclineReason::AtcReplayed),
                pan: None,
                exp_month: None,
                exp_year: None,
                ..self.answer
            },
        }
    }
}

/// What [`authorize`] decides on.
#[derive(Debug, Clone, Copy)]
pub struct AuthorizeInput<'a> {
    /// The parsed request.
    pub request: &'a Authorization,
    /// The token its token PAN names, if any.
    pub token: Option<&'a PayingToken>,
    /// The network asking.
    pub network_id: &'a str,
    /// This authorisation's id.
    pub authorization_id: &'a str,
    /// When.
    pub now: UnixSeconds,
}

/// Decides one authorisation (the checks of the module documentation).
pub fn authorize(
    crypto: &dyn CryptoProvider,
    vault: &VaultKeys,
    config: &PaymentConfig,
    input: &AuthorizeInput<'_>,
) -> Result<Authorized, PaymentError> {
    let AuthorizeInput {
        request,
        token,
        network_id,
        authorization_id,
        now,
    } = *input;
    // A token PAN with another expiry is not this token (the pair is what a card presents).
    let token =
        token.filter(|t| (t.exp_month, t.exp_year) == (request.exp_month, request.exp_year));
    let (verdict, claims_atc) = match token {
        None => (Err(DeclineReason::UnknownToken), false),
        Some(t) => check(crypto, vault, config, request, t, now)?,
    };
    let record = NewAuthorization {
        authorization_id: authorization_id.to_owned(),
        network_id: network_id.to_owned(),
        token_ref_id: token.map(|t| t.token_ref_id.clone()),
        atc: request.atc.get(),
        decision: match verdict {
            Ok(_) => AuthorizationDecision::Approved,
            Err(_) => AuthorizationDecision::Declined,
        },
        reason: verdict.as_ref().err().copied(),
        claims_atc,
        amount_minor: request.amount_minor,
        currency: request.currency.clone(),
        country: request.country.clone(),
        channel: request.channel,
        created_at: now,
    };
    let (pan, card_expiry) = match verdict {
        Ok(funding) => (Some(funding.pan), funding.expiry),
        Err(_) => (None, None),
    };
    let answer = AuthorizationAnswer {
        authorization_id: authorization_id.to_owned(),
        decision: record.decision,
        reason: record.reason,
        token_ref_id: record.token_ref_id.clone(),
        pan,
        exp_month: card_expiry.map(|(m, _)| m),
        exp_year: card_expiry.map(|(_, y)| y),
        account_ref: token.map(|t| t.account_ref.clone()),
    };
    Ok(Authorized { record, answer })
}

/// The verdict on a found token, and whether its cryptogram verified (then the attempt uses
/// up its ATC, whatever the verdict).
type Checked = (Result<Funding, DeclineReason>, bool);

/// The funding card behind an approved token.
struct Funding {
    pan: String,
    expiry: Option<(u8, u16)>,
}

fn check(
    crypto: &dyn CryptoProvider,
    vault: &VaultKeys,
    config: &PaymentConfig,
    request: &Authorization,
    token: &PayingToken,
    now: UnixSeconds,
) -> Result<Checked, PaymentError> {
    // The cryptogram is checked for every token found, so that an attempt made while the
    // token could not pay (suspended, say) still uses up its ATC: its cryptogram is not
    // approved later, after a resume.
    let aad = |field: &str| format!("token:{}:{field}", token.token_ref_id).into_bytes();
    let key = vault
        .open(crypto, &token.cryptogram_key, &aad("cryptogram_key"))
        .map_err(|_| PaymentError::Internal)?;
    let key = AesKey::from_bytes(key.expose()).map_err(|_| PaymentError::Internal)?;
    let verified =
        provisio_emv::verify(&key, request.atc, &request.transaction, &request.cryptogram)
            .map_err(|_| PaymentError::Internal)?;
    let expiry = Expiry::new(u32::from(token.exp_month), u32::from(token.exp_year))
        .map_err(|_| PaymentError::Internal)?;
    let allowed = match request.channel {
        Channel::Contactless | Channel::InApp => true,
        Channel::Ecommerce => config.ecommerce,
    };
    let behind = token
        .highest_atc
        .is_some_and(|h| h.saturating_sub(request.atc.get()) > config.atc_window);
    let refusal = if token.status != TokenStatus::Active {
        Some(DeclineReason::TokenNotActive)
    } else if expiry.is_past(now) {
        Some(DeclineReason::TokenExpired)
    } else if !allowed {
        Some(DeclineReason::ChannelNotAllowed)
    } else if !verified {
        Some(DeclineReason::CryptogramInvalid)
    } else if behind {
        Some(DeclineReason::AtcReplayed)
    } else {
        None
    };
    if let Some(reason) = refusal {
        return Ok((Err(reason), verified));
    }
    let pan = vault
        .open(crypto, &token.pan, &aad("pan"))
        .map_err(|_| PaymentError::Internal)?;
    let pan = String::from_utf8(pan.expose().to_vec()).map_err(|_| PaymentError::Internal)?;
    let funding = Funding {
        pan,
        expiry: token.card_expiry,
    };
    Ok((Ok(funding), true))
}

#[cfg(test)]
mod tests {
    use provisio_crypto::{AwsLcProvider, SecretBytes};

    use super::*;

    const KEY: [u8; 16] = [7; 16];
    const NOW: UnixSeconds = 1_796_256_000; // 2026-12-01

    fn vault() -> VaultKeys {
        VaultKeys::new(
            "kek".into(),
            SecretBytes::new(vec![1; 32]),
            SecretBytes::new(vec![2; 32]),
        )
        .unwrap()
    }

    fn token(p: &AwsLcProvider, v: &VaultKeys) -> PayingToken {
        let aad = |f: &str| format!("token:tr_1:{f}").into_bytes();
        PayingToken {
            token_ref_id: "tr_1".into(),
            status: TokenStatus::Active,
            exp_month: 11,
            exp_year: 2029,
            cryptogram_key: v.seal(p, &KEY, &aad("cryptogram_key")).unwrap(),
            pan: v.seal(p, b"4111111111111111", &aad("pan")).unwrap(),
            card_expiry: Some((3, 2028)),
            account_ref: "ar_x".into(),
            highest_atc: None,
        }
    }

    fn request(atc: u16, amount: u64, channel: Channel) -> AuthorizationRequest {
        let t = Transaction::parse(amount, "978", "250", "261201", "0a0b0c0d").unwrap();
        let key = AesKey::from_bytes(&KEY).unwrap();
        let ac = provisio_emv::arqc(&key, Atc::new(atc).unwrap(), &t).unwrap();
        AuthorizationRequest {
            token_pan: "4895370000000001".into(),
            exp_month: 11,
            exp_year: 2029,
            amount_minor: amount,
            currency: "978".into(),
            country: "250".into(),
            transaction_date: "261201".into(),
            unpredictable_number: "0a0b0c0d".into(),
            atc: u32::from(atc),
            cryptogram: ac.iter().map(|b| format!("{b:02X}")).collect(),
            channel,
        }
    }

    fn decide(req: &AuthorizationRequest, token: Option<&PayingToken>) -> Authorized {
        let p = AwsLcProvider::new();
        let parsed = Authorization::parse(req).unwrap();
        authorize(
            &p,
            &vault(),
            &PaymentConfig::default(),
            &AuthorizeInput {
                request: &parsed,
                token,
                network_id: "net",
                authorization_id: "au_1",
                now: NOW,
            },
        )
        .unwrap()
    }

    #[test]
    fn a_good_cryptogram_approves_with_the_funding_card() {
        let p = AwsLcProvider::new();
        let t = token(&p, &vault());
        let a = decide(&request(1, 1250, Channel::Contactless), Some(&t));
        assert_eq!(a.answer.decision, AuthorizationDecision::Approved);
        assert_eq!(a.answer.pan.as_deref(), Some("4111111111111111"));
        assert_eq!(
            (a.answer.exp_month, a.answer.exp_year),
            (Some(3), Some(2028))
        );
        assert_eq!(a.record.decision, AuthorizationDecision::Approved);
        assert!(!format!("{a:?}").contains("4111111111111111"));
        let r = a.replayed();
        assert_eq!(r.answer.reason, Some(DeclineReason::AtcReplayed));
        assert_eq!(
            (r.answer.pan, r.record.reason),
            (None, Some(DeclineReason::AtcReplayed))
        );
    }

    #[test]
    fn each_rule_declines_with_its_reason_and_no_pan() {
        let p = AwsLcProvider::new();
        let v = vault();
        let good = request(5, 1250, Channel::Contactless);
        let mut changed_amount = good.clone();
        changed_amount.amount_minor = 1251;
        let mut old_card = good.clone();
        old_card.exp_year = 2026;
        let mut other_expiry = good.clone();
        other_expiry.exp_year = 2030;
        let suspended = PayingToken {
            status: TokenStatus::Suspended,
            ..token(&p, &v)
        };
        let expired = PayingToken {
            exp_year: 2026,
            exp_month: 11,
            ..token(&p, &v)
        };
        let far_ahead = PayingToken {
            highest_atc: Some(106),
            ..token(&p, &v)
        };
        let near = PayingToken {
            highest_atc: Some(105),
            ..token(&p, &v)
        };
        let t = token(&p, &v);
        let cases = [
            (decide(&good, None), Some(DeclineReason::UnknownToken)),
            (
                decide(&other_expiry, Some(&t)),
                Some(DeclineReason::UnknownToken),
            ),
            (
                decide(&good, Some(&suspended)),
                Some(DeclineReason::TokenNotActive),
            ),
            (
                decide(&old_card, Some(&expired)),
                Some(DeclineReason::TokenExpired),
            ),
            (
                decide(&request(5, 1250, Channel::Ecommerce), Some(&t)),
                Some(DeclineReason::ChannelNotAllowed),
            ),
            (
                decide(&changed_amount, Some(&t)),
                Some(DeclineReason::CryptogramInvalid),
            ),
            (
                decide(&good, Some(&far_ahead)),
                Some(DeclineReason::AtcReplayed),
            ),
            (decide(&good, Some(&near)), None),
            (decide(&request(5, 1250, Channel::InApp), Some(&t)), None),
        ];
        // Only a cryptogram that verifies uses up its ATC (an unknown token's has none).
        let claims = [false, false, true, true, true, false, true, true, true];
        for (i, ((a, reason), claims)) in cases.into_iter().zip(claims).enumerate() {
            assert_eq!(a.record.claims_atc, claims, "case {i}");
            assert_eq!(a.answer.reason, reason, "case {i}");
            assert_eq!(a.record.reason, reason, "case {i}");
            assert_eq!(a.answer.pan.is_some(), reason.is_none(), "case {i}");
        }
    }

    #[test]
    fn malformed_fields_are_refused_without_their_values() {
        let good = request(1, 1250, Channel::Contactless);
        type Change = Box<dyn Fn(&mut AuthorizationRequest)>;
        let cases: [(&str, Change); 8] = [
            ("token_pan", Box::new(|r| r.token_pan = "4895-3700".into())),
            ("exp_month", Box::new(|r| r.exp_month = 13)),
            ("amount_minor", Box::new(|r| r.amount_minor = 10u64.pow(12))),
            ("currency", Box::new(|r| r.currency = "EUR".into())),
            (
                "transaction_date",
                Box::new(|r| r.transaction_date = "261341".into()),
            ),
            (
                "unpredictable_number",
                Box::new(|r| r.unpredictable_number = "xyz".into()),
            ),
            ("atc", Box::new(|r| r.atc = 65_536)),
            ("cryptogram", Box::new(|r| r.cryptogram = "00".into())),
        ];
        for (field, change) in cases {
            let mut r = good.clone();
            change(&mut r);
            let e = Authorization::parse(&r).unwrap_err();
            assert!(e.to_string().contains(field), "{field}: {e}");
            assert_eq!(e.code(), Code::MalformedRequest);
        }
        let mut zero = good;
        zero.atc = 0;
        assert!(Authorization::parse(&zero).is_err());
    }
}
