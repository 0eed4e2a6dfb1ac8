//! Handing a secure-element token to the issuer's TSM (US 8,060,449, step 1).
//!
//! When a provisioning for a phone with a secure element is approved, the token service does
//! not give the phone a script to run: it commits a job for the issuer's SP-TSM to its outbox,
//! in the same transaction as the token. The job carries the credential as a JWE to the
//! SP-TSM's key, the AIDs of the domain and applet to create (inside the issuer's range, one
//! pair per token), and a report URL with a token good for this job only. The SP-TSM's report
//! that the credential is on the element is what makes the token payment-ready.

use provisio_crypto::{CryptoProvider, EcPublicKey};
use provisio_gp::Aid;
use provisio_jose::b64_encode;
use provisio_tsm::wire::SpJob;
use provisio_tsm::{Credential, seal_credential};
use provisio_types::{Expiry, TokenPan};
use serde::{Deserialize, Serialize};

use crate::{PushError, Sealed, VaultKeys, random_id};

/// The outbox channel of SP-TSM jobs.
pub const SP_TSM_CHANNEL: &str = "sp_tsm";

/// The longest AID prefix an issuer's TSM may have: the AIDs made from it keep two tag bytes
/// and at least three bytes per token within the 16 bytes of ISO/IEC 7816-4.
pub const MAX_AID_PREFIX: usize = 11;

/// An issuer's SP-TSM, as the token service needs it to make a job.
#[derive(Debug, Clone)]
pub struct SpTsmTarget {
    /// The issuer.
    pub issuer_id: String,
    /// The SP-TSM's public key (credentials are sealed to it).
    pub key: EcPublicKey,
    /// The issuer's AID range, 5 to [`MAX_AID_PREFIX`] bytes.
    pub aid_prefix: Vec<u8>,
    /// The token service's own base URL, where the SP-TSM reports.
    pub report_base: String,
}

/// A phone's secure element and the TSM that installs credentials on it.
#[derive(Debug, Clone, Copy)]
pub struct SeTarget<'a> {
    /// The element's id, as the carrier knows it.
    pub se_id: &'a str,
    /// The issuer's TSM.
    pub sp_tsm: &'a SpTsmTarget,
}

/// What the outbox carries to the SP-TSM (sealed, AAD `outbox:<message id>`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SpTsmDelivery {
    /// Whose TSM receives it.
    pub issuer_id: String,
    /// The job.
    pub job: SpJob,
}

/// A job ready to commit with its token.
#[derive(Debug, Clone)]
pub struct TsmHandoff {
    /// The outbox message id.
    pub message_id: String,
    /// The sealed [`SpTsmDelivery`].
    pub payload: Sealed,
    /// Keyed hash of the report token (the token itself is only in the sealed job).
    pub report_token_hash: [u8; 32],
}

/// The token's clear parts, as minted or opened from the vault.
pub(crate) struct TokenSecrets<'a> {
    pub(crate) provisioning_id: &'a str,
    pub(crate) token_ref_id: &'a str,
    pub(crate) token_pan: &'a TokenPan,
    pub(crate) expiry: Expiry,
    pub(crate) cryptogram_key: &'a [u8; 16],
}

/// The domain and applet AIDs for a token: the issuer's prefix, a tag (`53 44` "SD", `50 41`
/// "PA"), then bytes of a hash of the token reference, so every token has its own pair.
pub fn token_aids(
    crypto: &dyn CryptoProvider,
    aid_prefix: &[u8],
    token_ref_id: &str,
) -> Result<(Aid, Aid), PushError> {
    if !(5..=MAX_AID_PREFIX).contains(&aid_prefix.len()) {
        return Err(PushError::Config("SP-TSM AID prefix length"));
    }
    let h = crypto.sha256(&[b"provisio-aid:", token_ref_id.as_bytes()]);
    let n = (16 - aid_prefix.len() - 2).min(6);
    let aid = |tag: [u8; 2]| {
        let bytes: Vec<u8> = aid_prefix
            .iter()
            .chain(&tag)
            .chain(h.iter().take(n))
            .copied()
            .collect();
        Aid::try_from(bytes.as_slice()).map_err(|_| PushError::Internal)
    };
    Ok((aid([0x53, 0x44])?, aid([0x50, 0x41])?))
}

/// Makes the job for `target`, with the report token it accepts.
pub(crate) fn hand_off(
    crypto: &dyn CryptoProvider,
    vault: &VaultKeys,
    target: &SeTarget<'_>,
    token: &TokenSecrets<'_>,
) -> Result<TsmHandoff, PushError> {
    let internal = |_| PushError::Internal;
    let sp = target.sp_tsm;
    let (ssd, applet) = token_aids(crypto, &sp.aid_prefix, token.token_ref_id)?;
    let credential = Credential {
        token_pan: token.token_pan.expose().to_owned(),
        exp_year: token.expiry.year(),
        exp_month: token.expiry.month(),
        cryptogram_key: b64_encode(token.cryptogram_key),
    };
    let mut report_token = [0u8; 32];
    crypto.fill_random(&mut report_token).map_err(internal)?;
    let report_token = b64_encode(&report_token);
    let job = SpJob {
        job_id: token.provisioning_id.to_owned(),
        se_id: target.se_id.to_owned(),
        ssd,
        applet,
        credential: seal_credential(crypto, &sp.key, &credential)
            .map_err(|_| PushError::Internal)?,
        report_url: Some(format!(
            "{}/v1/tsm/jobs/{}/report",
            sp.report_base.trim_end_matches('/'),
            token.provisioning_id
        )),
        report_token: Some(report_token.clone()),
    };
    let delivery = SpTsmDelivery {
        issuer_id: sp.issuer_id.clone(),
        job,
    };
    let message_id = random_id(crypto, "msg_").map_err(internal)?;
    let plain =
        zeroize::Zeroizing::new(serde_json::to_vec(&delivery).map_err(|_| PushError::Internal)?);
    let payload = vault
        .seal(crypto, &plain, &crate::stepup::outbox_aad(&message_id))
        .map_err(internal)?;
    Ok(TsmHandoff {
        message_id,
        payload,
        report_token_hash: report_token_hash(crypto, vault, &report_token),
    })
}

/// The keyed hash a report token is stored and checked as.
pub fn report_token_hash(crypto: &dyn CryptoProvider, vault: &VaultKeys, token: &str) -> [u8; 32] {
    vault.lookup_hash(crypto, "tsm_report", token)
}

/// Opens an SP-TSM job from the outbox.
pub fn open_sp_tsm_delivery(
    crypto: &dyn CryptoProvider,
    vault: &VaultKeys,
    message_id: &str,
    payload: &Sealed,
) -> Result<SpTsmDelivery, PushError> {
    let plain = vault
        .open(crypto, payload, &crate::stepup::outbox_aad(message_id))
        .map_err(|_| PushError::Internal)?;
    serde_json::from_slice(plain.expose()).map_err(|_| PushError::Internal)
}

#[cfg(test)]
mod tests {
    use provisio_crypto::AwsLcProvider;

    use super::*;

    #[test]
    fn each_token_gets_its_own_domain_and_applet_inside_the_range() {
        let p = AwsLcProvider::new();
        let rid = [0xA0, 0, 0, 0, 0x03];
        let (ssd, applet) = token_aids(&p, &rid, "tr_one").unwrap();
        assert_eq!(ssd.as_bytes().len(), 13);
        assert!(ssd.starts_with(&[0xA0, 0, 0, 0, 0x03, 0x53, 0x44]));
        assert!(applet.starts_with(&[0xA0, 0, 0, 0, 0x03, 0x50, 0x41]));
        assert_eq!(ssd.as_bytes()[7..], applet.as_bytes()[7..]);
        let (other, _) = token_aids(&p, &rid, "tr_two").unwrap();
        assert_ne!(ssd, other);
        assert_eq!(token_aids(&p, &rid, "tr_one").unwrap().0, ssd);
        // The longest prefix still leaves three bytes per token, within 16.
        let long = [0xA0; MAX_AID_PREFIX];
        assert_eq!(token_aids(&p, &long, "t").unwrap().0.as_bytes().len(), 16);
        for bad in [&[0xA0; 4][..], &[0xA0; MAX_AID_PREFIX + 1][..]] {
            assert!(matches!(
                token_aids(&p, bad, "t"),
                Err(PushError::Config(_))
            ));
        }
    }
}
