//! Minting a token and the access data only the device can open.

use provisio_crypto::{CryptoProvider, EcPublicKey};
use provisio_jose::{b64_encode, EncryptOptions, Jwk, KeyManagement};
use provisio_risk::{Outcome, RiskDecision};
use provisio_types::{luhn_check_digit, Expiry, TokenPan, UnixSeconds};

use crate::records::{NewProvisioning, NewToken, TokenStatus};
use crate::wire::{
    AccessData, Decision, PushProvisioningResponse, ReasonInfo, RiskInfo, StepUp, TokenInfo,
};
use crate::{random_id, Accepted, PushError, TokenBin, TspConfig, TspKeys};

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

/// Mints the token the risk decision allows and builds the answer.
///
/// Approve: an `ACTIVE` token and its `access_data`. Step-up: an `INACTIVE` token and no
/// access data. Decline: no token. Every outcome is recorded, so the request is consumed.
pub fn mint(
    crypto: &dyn CryptoProvider,
    keys: &TspKeys,
    config: &TspConfig,
    accepted: &Accepted,
    device_key: &EcPublicKey,
    risk: &RiskDecision,
    now: UnixSeconds,
) -> Result<Minted, PushError> {
    let internal = |_| PushError::Internal;
    let provisioning_id = random_id(crypto, "pv_").map_err(internal)?;
    let decision = match risk.outcome {
        Outcome::Approve => Decision::Approved,
        Outcome::StepUp => Decision::StepUpRequired,
        Outcome::Decline => Decision::Declined,
    };
    let risk_info = risk_info(risk);
    let risk_json = serde_json::to_string(&risk_info).map_err(|_| PushError::Internal)?;

    let (token, token_info, access_data) = if decision == Decision::Declined {
        (None, None, None)
    } else {
        let status = if decision == Decision::Approved {
            TokenStatus::Active
        } else {
            TokenStatus::Inactive
        };
        let token_pan = token_pan(crypto, &config.token_bin, accepted.pan.expose())?;
        let token_ref_id = random_id(crypto, "tr_").map_err(internal)?;
        let expiry = Expiry::months_after(now, config.token_validity_months)
            .map_err(|_| PushError::Config("token validity"))?;
        let mut cryptogram_key = [0u8; 16];
        crypto.fill_random(&mut cryptogram_key).map_err(internal)?;

        let vault = keys.vault();
        let aad = |field: &str| format!("token:{token_ref_id}:{field}").into_bytes();
        let seal =
            |value: &[u8], field: &str| vault.seal(crypto, value, &aad(field)).map_err(internal);
        let token = NewToken {
            token_ref_id: token_ref_id.clone(),
            token_pan_hash: vault.lookup_hash(crypto, "token_pan", token_pan.expose()),
            token_pan: seal(token_pan.expose().as_bytes(), "token_pan")?,
            pan_hash: vault.lookup_hash(crypto, "pan", accepted.pan.expose()),
            pan: seal(accepted.pan.expose().as_bytes(), "pan")?,
            token_last4: token_pan.last4().to_owned(),
            exp_month: expiry.month(),
            exp_year: expiry.year(),
            status,
            device_id: accepted.device_id.clone(),
            binding_jwk: serde_json::to_string(&Jwk::from_public_key(device_key))
                .map_err(|_| PushError::Internal)?,
            cryptogram_key: seal(&cryptogram_key, "cryptogram_key")?,
        };
        let info = TokenInfo {
            token_ref_id: token_ref_id.clone(),
            last4: token.token_last4.clone(),
            exp_month: expiry.month(),
            exp_year: expiry.year(),
            status: status.as_str().into(),
        };
        let access = (status == TokenStatus::Active)
            .then(|| {
                access_data(
                    crypto,
                    device_key,
                    &token_pan,
                    expiry,
                    &token_ref_id,
                    &cryptogram_key,
                )
            })
            .transpose()?;
        (Some(token), Some(info), access)
    };

    let record = NewProvisioning {
        provisioning_id: provisioning_id.clone(),
        session_id: accepted.session_id.clone(),
        issuer_id: accepted.issuer_id.clone(),
        jti: accepted.jti.clone(),
        token_requestor_id: accepted.token_requestor_id.clone(),
        wallet_user_id: accepted.wallet_user_id.clone(),
        device_id: accepted.device_id.clone(),
        decision,
        risk_json,
        created_at: now,
        token,
    };
    let response = PushProvisioningResponse {
        provisioning_id,
        decision,
        risk: risk_info,
        token: token_info,
        access_data,
        // Step-up methods (OTP and friends) come with the step-up service; until a method is
        // configured the list is empty and the token stays INACTIVE.
        step_up: (decision == Decision::StepUpRequired).then(|| StepUp {
            methods: Vec::new(),
        }),
    };
    Ok(Minted { record, response })
}

fn risk_info(risk: &RiskDecision) -> RiskInfo {
    RiskInfo {
        wallet_level: risk.wallet_level,
        tsp_level: risk.service_level,
        final_level: risk.final_level,
        non_override: risk.non_override,
        merge_rule: serde_json::to_value(risk.merge_rule)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
        reasons: risk
            .reasons
            .iter()
            .map(|r| ReasonInfo {
                code: r.code.clone(),
                text: r.text.clone(),
            })
            .collect(),
    }
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
