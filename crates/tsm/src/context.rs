//! What a TSM's cores take besides the facts: the crypto provider (its randomness) and the
//! TSM's master key, under which it seals every secret it stores.
//!
//! A sealed value is AES-256-GCM under the master key with the row it belongs to as associated
//! data ([`Sealed`]), so a value cannot be moved to another row (docs/architecture.md §6):
//! `nonce (12) ‖ ciphertext ‖ tag (16)`.

use provisio_crypto::{CryptoProvider, EcKeyPair, SecretBytes};
use provisio_gp::scp03::StaticKeys;
use zeroize::Zeroizing;

use crate::TsmError;

/// The crypto provider and the master key of one TSM.
#[derive(Clone, Copy)]
pub struct TsmContext<'a> {
    /// Cryptography and randomness.
    pub crypto: &'a dyn CryptoProvider,
    master: &'a SecretBytes,
}

/// What a sealed value belongs to: its associated data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sealed<'a> {
    /// An element's issuer security domain keys at the carrier: `isd:<se_id>`.
    IsdKeys {
        /// The element.
        se_id: &'a str,
    },
    /// A CREATE_DOMAIN's initial keys at the carrier: `initial:<sp_id>:<request_id>`.
    RequestInitialKeys {
        /// The provider.
        sp_id: &'a str,
        /// Its request.
        request_id: &'a str,
    },
    /// The initial keys a job's handover brought to the SP-TSM: `initial:<job_id>`.
    JobInitialKeys {
        /// The job.
        job_id: &'a str,
    },
    /// The SP-TSM's own keys for a job's domain: `own:<job_id>`.
    JobOwnKeys {
        /// The job.
        job_id: &'a str,
    },
    /// A job's report token at the SP-TSM: `report:<job_id>`.
    ReportToken {
        /// The job.
        job_id: &'a str,
    },
}

impl Sealed<'_> {
    /// The associated data.
    fn aad(&self) -> String {
        match self {
            Self::IsdKeys { se_id } => format!("isd:{se_id}"),
            Self::RequestInitialKeys { sp_id, request_id } => {
                format!("initial:{sp_id}:{request_id}")
            }
            Self::JobInitialKeys { job_id } => format!("initial:{job_id}"),
            Self::JobOwnKeys { job_id } => format!("own:{job_id}"),
            Self::ReportToken { job_id } => format!("report:{job_id}"),
        }
    }
}

impl<'a> TsmContext<'a> {
    /// A TSM with `master` (32 bytes) as its master key.
    pub fn new(crypto: &'a dyn CryptoProvider, master: &'a SecretBytes) -> Self {
        Self { crypto, master }
    }

    /// Seals `plain` for `what`.
    pub fn seal(&self, plain: &[u8], what: Sealed<'_>) -> Result<Vec<u8>, TsmError> {
        let nonce: [u8; 12] = self.random()?;
        let (ct, tag) = self
            .crypto
            .aes256_gcm_seal(self.master.expose(), &nonce, what.aad().as_bytes(), plain)
            .map_err(TsmError::internal)?;
        Ok([nonce.as_slice(), &ct, &tag].concat())
    }

    /// Opens what [`TsmContext::seal`] sealed for `what`.
    pub fn open(&self, sealed: &[u8], what: Sealed<'_>) -> Result<SecretBytes, TsmError> {
        let corrupt = || TsmError::internal("sealed value is malformed");
        let (nonce, rest) = sealed.split_at_checked(12).ok_or_else(corrupt)?;
        let (ct, tag) = rest
            .split_at_checked(rest.len().saturating_sub(16))
            .ok_or_else(corrupt)?;
        let nonce: [u8; 12] = nonce.try_into().map_err(|_| corrupt())?;
        self.crypto
            .aes256_gcm_open(self.master.expose(), &nonce, what.aad().as_bytes(), ct, tag)
            .map_err(TsmError::internal)
    }

    /// Seals a key set: `KVN ‖ K-ENC ‖ K-MAC ‖ K-DEK`.
    pub fn seal_keys(&self, keys: &StaticKeys, what: Sealed<'_>) -> Result<Vec<u8>, TsmError> {
        let mut plain = Zeroizing::new(vec![keys.kvn]);
        for k in [&keys.enc, &keys.mac, &keys.dek] {
            plain.extend_from_slice(k.export().expose());
        }
        self.seal(&plain, what)
    }

    /// Opens what [`TsmContext::seal_keys`] sealed.
    pub fn open_keys(&self, sealed: &[u8], what: Sealed<'_>) -> Result<StaticKeys, TsmError> {
        let plain = self.open(sealed, what)?;
        let corrupt = || TsmError::internal("sealed key set is malformed");
        let (kvn, keys) = plain.expose().split_first().ok_or_else(corrupt)?;
        let n = keys.len() / 3;
        let (enc, rest) = keys.split_at_checked(n).ok_or_else(corrupt)?;
        let (mac, dek) = rest.split_at_checked(n).ok_or_else(corrupt)?;
        StaticKeys::from_bytes(*kvn, enc, mac, dek).map_err(TsmError::internal)
    }

    /// HMAC-SHA-256 of `data` under the master key.
    pub fn mac(&self, data: &[u8]) -> [u8; 32] {
        self.crypto.hmac_sha256(self.master.expose(), data)
    }

    /// `prefix` and 128 random bits in hex: session and message ids.
    pub fn random_id(&self, prefix: &str) -> Result<String, TsmError> {
        let id: [u8; 16] = self.random()?;
        Ok(format!("{prefix}{}", hex::encode(id)))
    }

    /// `N` random bytes (challenges, nonces, ids: nothing kept secret).
    pub(crate) fn random<const N: usize>(&self) -> Result<[u8; N], TsmError> {
        let mut out = [0u8; N];
        self.crypto
            .fill_random(&mut out)
            .map_err(TsmError::internal)?;
        Ok(out)
    }

    /// A fresh AES key set at `kvn` with keys of `len` bytes each, for a domain's keys.
    pub(crate) fn fresh_keys(&self, kvn: u8, len: usize) -> Result<StaticKeys, TsmError> {
        let mut k = Zeroizing::new(vec![0u8; 3 * len]);
        self.crypto
            .fill_random(k.as_mut_slice())
            .map_err(TsmError::internal)?;
        let (enc, rest) = k.split_at(len);
        let (mac, dek) = rest.split_at(len);
        StaticKeys::from_bytes(kvn, enc, mac, dek).map_err(TsmError::internal)
    }
}

#[cfg(test)]
mod tests {
    use provisio_crypto::AwsLcProvider;

    use super::*;

    #[test]
    fn a_sealed_value_opens_only_for_the_row_it_was_sealed_for() {
        let crypto = AwsLcProvider::new();
        let master = SecretBytes::new(vec![7; 32]);
        let ctx = TsmContext::new(&crypto, &master);
        let keys = ctx.fresh_keys(0x30, 16).unwrap();
        let isd = Sealed::IsdKeys { se_id: "se-1" };
        let sealed = ctx.seal_keys(&keys, isd).unwrap();
        let opened = ctx.open_keys(&sealed, isd).unwrap();
        assert_eq!(opened.kvn, 0x30);
        assert_eq!(opened.dek.check_value(), keys.dek.check_value());
        assert!(
            ctx.open(&sealed, Sealed::IsdKeys { se_id: "se-2" })
                .is_err()
        );
        assert!(
            ctx.open(&sealed, Sealed::JobOwnKeys { job_id: "se-1" })
                .is_err()
        );
        let other = SecretBytes::new(vec![8; 32]);
        assert!(TsmContext::new(&crypto, &other).open(&sealed, isd).is_err());
        assert!(ctx.open(&sealed[..20], isd).is_err());
        assert!(ctx.open(&[], isd).is_err());
        let token = ctx
            .seal(b"tok", Sealed::ReportToken { job_id: "j" })
            .unwrap();
        assert_eq!(
            ctx.open(&token, Sealed::ReportToken { job_id: "j" })
                .unwrap()
                .expose(),
            b"tok"
        );
    }

    #[test]
    fn each_binding_has_the_associated_data_the_stored_rows_were_sealed_with() {
        assert_eq!(Sealed::IsdKeys { se_id: "s" }.aad(), "isd:s");
        assert_eq!(
            Sealed::RequestInitialKeys {
                sp_id: "b",
                request_id: "r"
            }
            .aad(),
            "initial:b:r"
        );
        assert_eq!(Sealed::JobInitialKeys { job_id: "j" }.aad(), "initial:j");
        assert_eq!(Sealed::JobOwnKeys { job_id: "j" }.aad(), "own:j");
        assert_eq!(Sealed::ReportToken { job_id: "j" }.aad(), "report:j");
    }

    #[test]
    fn random_ids_are_prefixed_and_differ() {
        let crypto = AwsLcProvider::new();
        let master = SecretBytes::new(vec![7; 32]);
        let ctx = TsmContext::new(&crypto, &master);
        let (a, b) = (
            ctx.random_id("ses_").unwrap(),
            ctx.random_id("ses_").unwrap(),
        );
        assert!(a.starts_with("ses_") && a.len() == 36 && a != b);
    }
}

/// What the SP-TSM's cores take besides the job.
#[derive(Clone, Copy)]
pub struct SpContext<'a> {
    /// Its crypto provider and master key.
    pub tsm: TsmContext<'a>,
    /// Its handover and credential key pair.
    pub key: &'a EcKeyPair,
    /// The AID prefix of its domains and applets.
    pub aid_prefix: &'a [u8],
    /// Its own base URL, where OTA clients reach it.
    pub public_base: &'a str,
}
