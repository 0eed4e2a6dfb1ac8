//! Minting a token and the access data only the device can open.

use provisio_crypto::{CryptoProvider, EcPublicKey};
use provisio_jose::{EncryptOptions, Jwk, KeyManagement, b64_encode};
use provisio_risk::{Outcome, Reason, RiskDecision};
use provisio_types::{Expiry, TokenPan, UnixSeconds, luhn_check_digit};

use crate::VaultKeys;
use crate::handoff::{TokenSecrets, hand_off};
use crate::lifecycle::{Actor, Reason as ChangeReason, Standing};
use crate::records::{NewProvisioning, NewToken, Origin, TokenStatus};
use crate::tokens::{ChangeContext, Parties, account_ref, events};
use crate::wire::{
    AccessData, Decision, PushProvisioningResponse, ReasonInfo, RiskInfo, StepUp, StepUpMethod,
    TokenInfo,
};
use crate::{
    Accepted, CardFacts, MethodRecord, MethodType, PushError, Script, SeTarget, Sealed,
    SpTsmTarget, TokenBin, TsmHandoff, TspConfig, TspKeys, issuer_method, offer_methods,
    ordered_id,
};

/// The algorithm the device-bound key is for: AES-CMAC over the transaction data.
pub const CRYPTOGRAM_ALG: &str = "AES-128-CMAC";

/// A provisioning ready to commit, and the answer to send once it is committed.
#[derive(Debug)]
pub struct Minted {
    /// What to commit.
    pub record: NewProvisioning,
    /// The 200 answer.
    pub response: PushProvisioningResponse,
}

/// What [`mint`] mints from.
#[derive(Debug, Clone, Copy)]
pub struct MintInput<'a> {
    /// The accepted request.
    pub accepted: &'a Accepted,
    /// The device's binding key.
    pub device_key: &'a EcPublicKey,
    /// The device's secure element and its issuer's TSM, when the credential goes there (the
    /// script is then run by the TSMs).
    pub secure_element: Option<SeTarget<'a>>,
    /// The risk decision.
    pub risk: &'a RiskDecision,
    /// The funding PAN's keyed hash, as computed for the risk signals.
    pub pan_hash: [u8; 32],
    /// What the store knows of the card (its account reference, who is notified).
    pub card: &'a CardFacts,
    /// The step-up methods the issuer allows (its decisioning answer); `None`: every method
    /// the contact allows.
    pub methods: Option<&'a [MethodType]>,
    /// When.
    pub now: UnixSeconds,
}

/// A stored `INACTIVE` token whose access data a passed step-up releases, its secrets still
/// sealed.
#[derive(Debug, Clone)]
pub struct StoredToken {
    /// Reference id.
    pub token_ref_id: String,
    /// Sealed token PAN.
    pub token_pan: Sealed,
    /// Sealed cryptogram key.
    pub cryptogram_key: Sealed,
    /// The device binding key, public JWK JSON.
    pub binding_jwk: String,
    /// Last four of the token PAN.
    pub token_last4: String,
    /// Token expiry month.
    pub exp_month: u8,
    /// Token expiry year.
    pub exp_year: u16,
    /// The device's secure element, if the credential goes there.
    pub secure_element_id: Option<String>,
    /// Its status (a passed step-up activates only an `INACTIVE` token).
    pub status: TokenStatus,
    /// Its changes so far.
    pub event_seq: u64,
    /// The funding account's reference.
    pub account_ref: String,
    /// The card's issuer.
    pub issuer_id: String,
    /// The token's requestor.
    pub token_requestor_id: String,
    /// Whether the issuer has a notification URL.
    pub issuer_notified: bool,
    /// Whether the token requestor has a notification URL.
    pub token_requestor_notified: bool,
}

impl StoredToken {
    /// Who hears of this token's changes.
    pub fn parties(&self) -> Parties<'_> {
        Parties {
            token_ref_id: &self.token_ref_id,
            issuer: self.issuer_notified.then_some(self.issuer_id.as_str()),
            token_requestor: self
                .token_requestor_notified
                .then_some(self.token_requestor_id.as_str()),
        }
    }
}

/// Mints the token the risk decision allows and builds the answer.
///
/// Approve: an `ACTIVE` token, its `access_data` and the installation script. Step-up: an
/// `INACTIVE` token and the offered methods; with no method to offer (the issuer signed no
/// contact) the request is declined, since the credential may not be provisioned without
/// further authentication. Decline: no token. Every outcome is recorded, so the request is
/// consumed.
pub fn mint(
    crypto: &dyn CryptoProvider,
    keys: &TspKeys,
    config: &TspConfig,
    input: &MintInput<'_>,
) -> Result<Minted, PushError> {
    let internal = |_| PushError::Internal;
    let MintInput {
        accepted,
        device_key,
        secure_element,
        risk,
        pan_hash,
        card,
        methods: allowed,
        now,
    } = *input;
    let vault = keys.vault();
    let provisioning_id = ordered_id(crypto, "pv_", now).map_err(internal)?;
    let mut risk = risk.clone();
    let methods = match risk.outcome {
        Outcome::StepUp => {
            let mut methods: Vec<MethodRecord> = offer_methods(crypto, vault, &accepted.contact)
                .map_err(|_| PushError::Internal)?
                .into_iter()
                .filter(|m| allowed.is_none_or(|a| a.contains(&m.method_type)))
                .collect();
            // The issuer's app and call centre need no contact; each is offered when the
            // issuer allows it.
            for m in [MethodType::IssuerApp, MethodType::CallCenter] {
                if allowed.is_some_and(|a| a.contains(&m)) {
                    methods.push(
                        issuer_method(crypto, m, &accepted.issuer_id)
                            .map_err(|_| PushError::Internal)?,
                    );
                }
            }
            methods
        }
        _ => Vec::new(),
    };
    let decision = match risk.outcome {
        Outcome::Approve => Decision::Approved,
        Outcome::StepUp if !methods.is_empty() => Decision::StepUpRequired,
        Outcome::StepUp => {
            risk.reasons.push(Reason {
                code: "no_step_up_method".into(),
                text: "Step-up is required but the issuer gave no contact to send a code to, so the request is declined.".into(),
            });
            Decision::Declined
        }
        Outcome::Decline => Decision::Declined,
    };
    let risk_info = risk_info(&risk);
    let risk_json = serde_json::to_string(&risk).map_err(|_| PushError::Internal)?;

    let (token, token_info, access_data, script, handoff) = if decision == Decision::Declined {
        (None, None, None, None, None)
    } else {
        let status = if decision == Decision::Approved {
            TokenStatus::Active
        } else {
            TokenStatus::Inactive
        };
        let token_pan = token_pan(crypto, &config.token_bin, accepted.pan.expose())?;
        let token_ref_id = ordered_id(crypto, "tr_", now).map_err(internal)?;
        let expiry = Expiry::months_after(now, config.token_validity_months)
            .map_err(|_| PushError::Config("token validity"))?;
        let mut cryptogram_key = zeroize::Zeroizing::new([0u8; 16]);
        crypto
            .fill_random(cryptogram_key.as_mut())
            .map_err(internal)?;

        let aad = |field: &str| format!("token:{token_ref_id}:{field}").into_bytes();
        let seal =
            |value: &[u8], field: &str| vault.seal(crypto, value, &aad(field)).map_err(internal);
        let account_ref = card
            .account_ref
            .clone()
            .unwrap_or_else(|| account_ref(crypto, vault, &accepted.issuer_id, &accepted.pan));
        // Event number 1 (docs/protocol.md §15.5), for the parties with a notification URL.
        let parties = Parties {
            token_ref_id: &token_ref_id,
            issuer: card.issuer_notified.then_some(accepted.issuer_id.as_str()),
            token_requestor: card
                .token_requestor_notified
                .then_some(accepted.token_requestor_id.as_str()),
        };
        let created = Standing::of(status).created(Actor::System, ChangeReason::Other);
        let events = events(&ChangeContext { crypto, vault, now }, &parties, &created, 1)
            .map_err(|_| PushError::Internal)?;
        let token = NewToken {
            token_ref_id: token_ref_id.clone(),
            token_pan_hash: vault.lookup_hash(crypto, "token_pan", token_pan.expose()),
            token_pan: seal(token_pan.expose().as_bytes(), "token_pan")?,
            pan_hash,
            pan: seal(accepted.pan.expose().as_bytes(), "pan")?,
            token_last4: token_pan.last4().to_owned(),
            exp_month: expiry.month(),
            exp_year: expiry.year(),
            status,
            device_id: accepted.device_id.clone(),
            binding_jwk: serde_json::to_string(&Jwk::from_public_key(device_key))
                .map_err(|_| PushError::Internal)?,
            cryptogram_key: seal(cryptogram_key.as_ref(), "cryptogram_key")?,
            secure_element_id: secure_element.map(|t| t.se_id.to_owned()),
            account_ref: account_ref.clone(),
            card_exp_month: accepted.expiry.month(),
            card_exp_year: accepted.expiry.year(),
            events,
        };
        let info = TokenInfo {
            token_ref_id: token_ref_id.clone(),
            last4: token.token_last4.clone(),
            exp_month: expiry.month(),
            exp_year: expiry.year(),
            status: status.as_str().into(),
            account_ref,
        };
        let released = if status == TokenStatus::Active {
            Some(release(
                crypto,
                vault,
                device_key,
                secure_element,
                &TokenSecrets {
                    provisioning_id: &provisioning_id,
                    token_ref_id: &token_ref_id,
                    token_pan: &token_pan,
                    expiry,
                    cryptogram_key: &cryptogram_key,
                },
            )?)
        } else {
            None
        };
        let (access, script, handoff) = match released {
            Some(r) => (Some(r.access_data), Some(r.script), r.handoff),
            None => (None, None, None),
        };
        (Some(token), Some(info), access, script, handoff)
    };

    let step_up = (decision == Decision::StepUpRequired).then(|| StepUp {
        methods: methods
            .iter()
            .map(|m| StepUpMethod {
                method_id: m.method_id.clone(),
                method_type: m.method_type.as_str().into(),
                destination: m.masked.clone(),
            })
            .collect(),
    });
    let record = NewProvisioning {
        provisioning_id: provisioning_id.clone(),
        origin: accepted.origin,
        session_id: match accepted.origin {
            Origin::Push => accepted.session_id.clone(),
            Origin::Wallet => provisioning_id.clone(),
        },
        issuer_id: accepted.issuer_id.clone(),
        jti: accepted.jti.clone(),
        token_requestor_id: accepted.token_requestor_id.clone(),
        wallet_user_id: accepted.wallet_user_id.clone(),
        device_id: accepted.device_id.clone(),
        decision,
        risk_json,
        pan_hash,
        created_at: now,
        token,
        step_up: (decision == Decision::StepUpRequired).then_some(methods),
        script: script.clone(),
        handoff,
    };
    let response = PushProvisioningResponse {
        provisioning_id,
        decision,
        risk: risk_info,
        token: token_info,
        access_data,
        step_up,
        script,
    };
    Ok(Minted { record, response })
}

/// What a passed step-up releases: the access data, the installation script, and the job for
/// the issuer's TSM when the credential goes to a secure element.
#[derive(Debug)]
pub struct Released {
    /// The access data, a JWE to the device.
    pub access_data: String,
    /// The script.
    pub script: Script,
    /// The SP-TSM's job.
    pub handoff: Option<TsmHandoff>,
}

/// The access data and the installation script of a token whose step-up passed, made for
/// provisioning `provisioning_id`. A secure-element token goes through its issuer's TSM,
/// `sp_tsm` (docs/protocol.md §6.3, §10.1): registered at the push, it must still be.
pub fn release_access_data(
    crypto: &dyn CryptoProvider,
    keys: &TspKeys,
    token: &StoredToken,
    provisioning_id: &str,
    sp_tsm: Option<&SpTsmTarget>,
) -> Result<Released, PushError> {
    let secure_element = match (token.secure_element_id.as_deref(), sp_tsm) {
        (None, _) => None,
        (Some(se_id), Some(sp_tsm)) => Some(SeTarget { se_id, sp_tsm }),
        (Some(_), None) => {
            return Err(PushError::Config(
                "the issuer's TSM is no longer registered",
            ));
        }
    };
    let internal = |_| PushError::Internal;
    let vault = keys.vault();
    let aad = |field: &str| format!("token:{}:{field}", token.token_ref_id).into_bytes();
    let pan = vault
        .open(crypto, &token.token_pan, &aad("token_pan"))
        .map_err(internal)?;
    let pan = std::str::from_utf8(pan.expose()).map_err(|_| PushError::Internal)?;
    let token_pan = TokenPan::parse(pan).map_err(|_| PushError::Internal)?;
    let key = vault
        .open(crypto, &token.cryptogram_key, &aad("cryptogram_key"))
        .map_err(internal)?;
    let key: [u8; 16] = key.expose().try_into().map_err(|_| PushError::Internal)?;
    let key = zeroize::Zeroizing::new(key);
    let jwk: Jwk = serde_json::from_str(&token.binding_jwk).map_err(|_| PushError::Internal)?;
    let device_key = jwk.public_key().map_err(|_| PushError::Internal)?;
    let expiry = Expiry::new(u32::from(token.exp_month), u32::from(token.exp_year))
        .map_err(|_| PushError::Internal)?;
    release(
        crypto,
        vault,
        &device_key,
        secure_element,
        &TokenSecrets {
            provisioning_id,
            token_ref_id: &token.token_ref_id,
            token_pan: &token_pan,
            expiry,
            cryptogram_key: &key,
        },
    )
}

/// What an `ACTIVE` token releases: its access data, its script and, for a secure element,
/// the job for the issuer's TSM.
fn release(
    crypto: &dyn CryptoProvider,
    vault: &VaultKeys,
    device_key: &EcPublicKey,
    secure_element: Option<SeTarget<'_>>,
    t: &TokenSecrets<'_>,
) -> Result<Released, PushError> {
    let access_data = access_data(
        crypto,
        device_key,
        t.token_pan,
        t.expiry,
        t.token_ref_id,
        t.cryptogram_key,
    )?;
    let script = Script::for_token(crypto, t.token_ref_id, secure_element.is_some())
        .map_err(|_| PushError::Internal)?;
    let handoff = secure_element
        .map(|target| hand_off(crypto, vault, &target, t))
        .transpose()?;
    Ok(Released {
        access_data,
        script,
        handoff,
    })
}

fn risk_info(risk: &RiskDecision) -> RiskInfo {
    RiskInfo {
        wallet_level: risk.wallet_level,
        tsp_level: risk.service_level,
        final_level: risk.final_level,
        non_override: risk.non_override,
        merge_rule: risk.merge_rule.as_str().into(),
        policy_version: risk.policy_version.clone(),
        reasons: reason_infos(&risk.reasons),
        issuer: risk.issuer.clone(),
    }
}

/// The reasons as the wire carries them.
pub(crate) fn reason_infos(reasons: &[Reason]) -> Vec<ReasonInfo> {
    reasons
        .iter()
        .map(|r| ReasonInfo {
            code: r.code.clone(),
            text: r.text.clone(),
        })
        .collect()
}

/// A random Luhn-valid number in the token BIN range, never equal to the funding PAN.
/// Uniqueness across tokens is the store's unique index on the token PAN hash.
fn token_pan(
    crypto: &dyn CryptoProvider,
    bin: &TokenBin,
    funding_pan: &str,
) -> Result<TokenPan, PushError> {
    let free = bin.length() - bin.prefix().len() - 1;
    loop {
        let mut digits = String::with_capacity(bin.length());
        digits.push_str(bin.prefix());
        while digits.len() < bin.prefix().len() + free {
            let mut b = [0u8; 16];
            crypto
                .fill_random(&mut b)
                .map_err(|_| PushError::Internal)?;
            // Rejection sampling: bytes of 250 and above would bias the digits.
            for byte in b.iter().filter(|&&x| x < 250) {
                if digits.len() < bin.prefix().len() + free {
                    digits.push(char::from(b'0' + byte % 10));
                }
            }
        }
        let check = luhn_check_digit(&digits).ok_or(PushError::Internal)?;
        digits.push(char::from(b'0' + check));
        if digits != funding_pan {
            return TokenPan::parse(&digits).map_err(|_| PushError::Internal);
        }
    }
}

fn access_data(
    crypto: &dyn CryptoProvider,
    device_key: &EcPublicKey,
    token_pan: &TokenPan,
    expiry: Expiry,
    token_ref_id: &str,
    cryptogram_key: &[u8; 16],
) -> Result<String, PushError> {
    let data = AccessData {
        token_pan: token_pan.expose().to_owned(),
        exp_month: expiry.month(),
        exp_year: expiry.year(),
        token_ref_id: token_ref_id.to_owned(),
        cryptogram_key: b64_encode(cryptogram_key),
        cryptogram_alg: CRYPTOGRAM_ALG.into(),
    };
    let plaintext =
        zeroize::Zeroizing::new(serde_json::to_vec(&data).map_err(|_| PushError::Internal)?);
    let options = EncryptOptions {
        alg: KeyManagement::EcdhEs,
        kid: None,
        cty: None,
    };
    provisio_jose::encrypt(crypto, device_key, &options, &plaintext)
        .map_err(|_| PushError::Internal)
}

#[cfg(test)]
mod tests {
    use provisio_crypto::AwsLcProvider;
    use provisio_types::luhn_valid;

    use super::*;

    #[test]
    fn token_pans_are_in_range_valid_and_not_the_pan() {
        let p = AwsLcProvider::new();
        let bin = TokenBin::new("489537", 16).unwrap();
        for _ in 0..200 {
            let t = token_pan(&p, &bin, "4895370000000000").unwrap();
            assert!(t.expose().starts_with("489537"));
            assert_eq!(t.expose().len(), 16);
            assert!(luhn_valid(t.expose()));
        }
        // With only two free digits (100 numbers, 10 of them Luhn-distinct per check digit),
        // the funding PAN itself is never chosen.
        let tiny = TokenBin::new("48953700000", 14).unwrap();
        let funding = "48953700000000";
        let funding = format!(
            "{}{}",
            &funding[..13],
            luhn_check_digit(&funding[..13]).unwrap()
        );
        for _ in 0..500 {
            assert_ne!(token_pan(&p, &tiny, &funding).unwrap().expose(), funding);
        }
    }
}
