//! The issuer app: starts the session and makes the signed, encrypted request data.

use provisio_crypto::{CryptoProvider, EcKeyPair};
use provisio_jose::{EncryptOptions, JwkSet, KeyManagement, KeyUse};
use provisio_tsp::wire::{AccountData, RequestClaims};
use provisio_tsp::{Contact, random_id};
use provisio_types::{Pan, UnixSeconds};

use crate::{AppError, WalletAnswer};

/// The card the cardholder chose in the issuer app.
#[derive(Debug, Clone)]
pub struct CardDetails {
    /// The funding PAN.
    pub pan: Pan,
    /// Expiry month.
    pub exp_month: u32,
    /// Expiry year.
    pub exp_year: u32,
    /// Cardholder name.
    pub name: String,
    /// Where step-up codes may go; signed into the request data.
    pub contact: Option<Contact>,
}

/// What the issuer app sends the wallet app when it invokes it (step 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionStart {
    /// At least 128 random bits, base64url.
    pub session_id: String,
    /// The issuer.
    pub issuer_id: String,
}

/// The issuer app core, holding the issuer's registered signing key.
#[derive(Debug)]
pub struct IssuerApp {
    issuer_id: String,
    signing_kid: String,
    signing_key: EcKeyPair,
    tsp_id: String,
}

impl IssuerApp {
    /// An issuer app signing with `signing_key` (registered under `signing_kid`) for the
    /// token service `tsp_id`.
    pub fn new(issuer_id: &str, signing_kid: &str, signing_key: EcKeyPair, tsp_id: &str) -> Self {
        Self {
            issuer_id: issuer_id.to_owned(),
            signing_kid: signing_kid.to_owned(),
            signing_key,
            tsp_id: tsp_id.to_owned(),
        }
    }

    /// The issuer's id.
    pub fn issuer_id(&self) -> &str {
        &self.issuer_id
    }

    /// Step 1: a fresh session id (128 random bits).
    pub fn start_session(&self, crypto: &dyn CryptoProvider) -> Result<SessionStart, AppError> {
        let session_id = random_id(crypto, "")
            .map_err(|e| AppError::Crypto(provisio_jose::JoseError::from(e)))?;
        Ok(SessionStart {
            session_id,
            issuer_id: self.issuer_id.clone(),
        })
    }

    /// Step 3: the claims for the wallet's answer, made at `now`.
    pub fn claims(
        &self,
        crypto: &dyn CryptoProvider,
        answer: &WalletAnswer,
        card: &CardDetails,
        now: UnixSeconds,
    ) -> Result<RequestClaims, AppError> {
        Ok(RequestClaims {
            iss: self.issuer_id.clone(),
            aud: self.tsp_id.clone(),
            iat: now,
            jti: random_id(crypto, "").map_err(|e| AppError::Crypto(e.into()))?,
            sid: answer.session_id.clone(),
            uid: answer.wallet_user_id.clone(),
            did: answer.device_id.clone(),
            trid: answer.token_requestor_id.clone(),
            acct: AccountData {
                pan: card.pan.expose().to_owned(),
                exp_month: card.exp_month,
                exp_year: card.exp_year,
                name: card.name.clone(),
            },
            contact: card.contact.clone(),
        })
    }

    /// Activation by the issuer's app (docs/protocol.md §17.4): once the app has
    /// authenticated the cardholder, the activation data the wallet submits for `token_ref_id`
    /// on `device_id`: a JWS (ES256) over the token, the device, a fresh 128-bit nonce and
    /// `now`.
    pub fn activation_data(
        &self,
        crypto: &dyn CryptoProvider,
        token_ref_id: &str,
        device_id: &str,
        now: i64,
    ) -> Result<String, AppError> {
        let mut nonce = [0u8; 16];
        crypto
            .fill_random(&mut nonce)
            .map_err(|e| AppError::Crypto(e.into()))?;
        self.sign_activation(
            crypto,
            &provisio_tsp::wire::ActivationClaims {
                token_ref_id: token_ref_id.to_owned(),
                device_id: device_id.to_owned(),
                nonce: provisio_jose::b64_encode(&nonce),
                iat: now,
            },
        )
    }

    /// Signs activation data with these `claims` as they are (a test's replayed nonce).
    pub fn sign_activation(
        &self,
        crypto: &dyn CryptoProvider,
        claims: &provisio_tsp::wire::ActivationClaims,
    ) -> Result<String, AppError> {
        let payload = serde_json::to_vec(claims)
            .map_err(|_| AppError::Crypto(provisio_jose::JoseError::Internal))?;
        Ok(provisio_jose::sign(
            crypto,
            &self.signing_key,
            &self.signing_kid,
            Some("provisio-activation+jws"),
            &payload,
        )?)
    }

    /// Step 3: signs `claims` (ES256) and encrypts the JWS to the token service.
    /// (`claims` is any JSON object: the documented [`RequestClaims`], or, in tests, claims
    /// the contract refuses.)
    pub fn request_data(
        &self,
        crypto: &dyn CryptoProvider,
        claims: &impl serde::Serialize,
        tsp_jwks: &JwkSet,
    ) -> Result<String, AppError> {
        seal_request_data(
            crypto,
            &self.signing_key,
            &self.signing_kid,
            claims,
            tsp_jwks,
        )
    }
}

/// The token service's encryption key (`ECDH-ES+A256KW`) in its JWKS, and its public key.
pub(crate) fn tsp_encryption_key(
    tsp_jwks: &JwkSet,
) -> Result<(&provisio_jose::Jwk, provisio_crypto::EcPublicKey), AppError> {
    let enc = tsp_jwks
        .keys
        .iter()
        .find(|k| k.key_use == Some(KeyUse::Enc) && k.alg.as_deref() == Some("ECDH-ES+A256KW"))
        .ok_or(AppError::NoTspEncryptionKey)?;
    Ok((enc, enc.public_key()?))
}

/// Signs `claims` as a JWS (ES256, `kid`) and encrypts it as a nested JWT to the token
/// service's current encryption key (`ECDH-ES+A256KW`, `A256GCM`, `cty: JWT`).
pub fn seal_request_data(
    crypto: &dyn CryptoProvider,
    signing_key: &EcKeyPair,
    signing_kid: &str,
    claims: &impl serde::Serialize,
    tsp_jwks: &JwkSet,
) -> Result<String, AppError> {
    let (enc, tsp_key) = tsp_encryption_key(tsp_jwks)?;
    let payload = zeroize::Zeroizing::new(
        serde_json::to_vec(claims)
            .map_err(|_| AppError::Crypto(provisio_jose::JoseError::Internal))?,
    );
    let jws = zeroize::Zeroizing::new(provisio_jose::sign(
        crypto,
        signing_key,
        signing_kid,
        Some("JWT"),
        &payload,
    )?);
    let options = EncryptOptions {
        alg: KeyManagement::EcdhEsA256Kw,
        kid: enc.kid.as_deref(),
        cty: Some("JWT"),
    };
    Ok(provisio_jose::encrypt(
        crypto,
        &tsp_key,
        &options,
        jws.as_bytes(),
    )?)
}
