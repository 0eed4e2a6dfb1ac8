//! Static key sets and the session keys derived from them (GPC Amendment D sections 4.1.1
//! and 6.2.1).

use provisio_crypto::AesKey;

use super::kdf::{Constant, derive, derive8};
use crate::GpError;

/// A security domain's static SCP03 key set: K-ENC, K-MAC and K-DEK under one key version
/// number, all AES of the same length (Amendment D 4.1.1).
#[derive(Debug, Clone)]
pub struct StaticKeys {
    /// The key version number (KVN), `01` to `7F`.
    pub kvn: u8,
    /// K-ENC: derives S-ENC and the pseudo-random card challenge.
    pub enc: AesKey,
    /// K-MAC: derives S-MAC and S-RMAC.
    pub mac: AesKey,
    /// K-DEK: encrypts keys and sensitive data (PUT KEY, STORE DATA).
    pub dek: AesKey,
}

/// The keys of one session.
#[derive(Debug, Clone)]
pub struct SessionKeys {
    /// S-ENC: C-DECRYPTION and R-ENCRYPTION.
    pub enc: AesKey,
    /// S-MAC: C-MAC and the cryptograms.
    pub mac: AesKey,
    /// S-RMAC: R-MAC.
    pub rmac: AesKey,
}

impl StaticKeys {
    /// A key set from raw key bytes; the three keys must have one length of 16, 24 or 32.
    pub fn from_bytes(kvn: u8, enc: &[u8], mac: &[u8], dek: &[u8]) -> Result<Self, GpError> {
        if enc.len() != mac.len() || enc.len() != dek.len() {
            return Err(GpError::InvalidKey(
                "K-ENC, K-MAC and K-DEK differ in length",
            ));
        }
        let key = |b: &[u8]| {
            AesKey::from_bytes(b).map_err(|_| GpError::InvalidKey("not 16, 24 or 32 bytes"))
        };
        Ok(Self {
            kvn,
            enc: key(enc)?,
            mac: key(mac)?,
            dek: key(dek)?,
        })
    }

    /// A key set from three keys, checking that their lengths agree.
    pub fn new(kvn: u8, enc: AesKey, mac: AesKey, dek: AesKey) -> Result<Self, GpError> {
        if enc.len() != mac.len() || enc.len() != dek.len() {
            return Err(GpError::InvalidKey(
                "K-ENC, K-MAC and K-DEK differ in length",
            ));
        }
        Ok(Self { kvn, enc, mac, dek })
    }

    /// The pseudo-random card challenge for `counter` and the security domain's AID
    /// (Amendment D 6.2.2.1): what lets a host prepare a session offline.
    pub fn card_challenge(&self, counter: u32, aid: &[u8]) -> [u8; 8] {
        let mut context = counter.to_be_bytes()[1..].to_vec();
        context.extend_from_slice(aid);
        derive8(&self.enc, Constant::CardChallenge, &context)
    }

    /// The session keys for a host and card challenge (Amendment D 6.2.1).
    pub fn session_keys(&self, host_challenge: &[u8; 8], card_challenge: &[u8; 8]) -> SessionKeys {
        let context = [host_challenge.as_slice(), card_challenge.as_slice()].concat();
        let bits = (self.enc.len() * 8) as u16;
        // The derived lengths equal the static key length, which AesKey accepts by
        // construction; a failure here would be a bug in derive().
        let key = |k: &AesKey, c| {
            AesKey::from_bytes(&derive(k, c, &context, bits)).unwrap_or_else(|_| unreachable!())
        };
        SessionKeys {
            enc: key(&self.enc, Constant::SEnc),
            mac: key(&self.mac, Constant::SMac),
            rmac: key(&self.mac, Constant::SRMac),
        }
    }
}

impl SessionKeys {
    /// The card cryptogram (Amendment D 6.2.2.2).
    pub fn card_cryptogram(&self, host_challenge: &[u8; 8], card_challenge: &[u8; 8]) -> [u8; 8] {
        let context = [host_challenge.as_slice(), card_challenge.as_slice()].concat();
        derive8(&self.mac, Constant::CardCryptogram, &context)
    }

    /// The host cryptogram (Amendment D 6.2.2.3).
    pub fn host_cryptogram(&self, host_challenge: &[u8; 8], card_challenge: &[u8; 8]) -> [u8; 8] {
        let context = [host_challenge.as_slice(), card_challenge.as_slice()].concat();
        derive8(&self.mac, Constant::HostCryptogram, &context)
    }
}
