//! The wallet app: answers the issuer app, holds the device binding key, forwards the request
//! data and opens the access data.

use provisio_crypto::{CryptoProvider, EcKeyPair};
use provisio_jose::{Jwk, KeyManagement};
use provisio_tsp::wire::{AccessData, DeviceInfo, PushProvisioningRequest, WalletRiskInfo};

use crate::{AppError, SessionStart};

/// What the wallet app answers the issuer app with (step 2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalletAnswer {
    /// Echoed from step 1.
    pub session_id: String,
    /// The wallet's user id.
    pub wallet_user_id: String,
    /// The wallet's device id.
    pub device_id: String,
    /// The wallet provider's token requestor id.
    pub token_requestor_id: String,
}

/// The wallet app core on one device, for one user.
#[derive(Debug)]
pub struct WalletApp {
    token_requestor_id: String,
    wallet_user_id: String,
    device_id: String,
    binding_key: EcKeyPair,
}

impl WalletApp {
    /// A wallet on a device with a fresh binding key (in a real phone, generated in the
    /// keystore and never exported).
    pub fn new(
        crypto: &dyn CryptoProvider,
        token_requestor_id: &str,
        wallet_user_id: &str,
        device_id: &str,
    ) -> Result<Self, AppError> {
        Ok(Self {
            token_requestor_id: token_requestor_id.to_owned(),
            wallet_user_id: wallet_user_id.to_owned(),
            device_id: device_id.to_owned(),
            binding_key: crypto
                .generate_ec_key()
                .map_err(|e| AppError::Crypto(e.into()))?,
        })
    }

    /// Step 2.
    pub fn answer(&self, start: &SessionStart) -> WalletAnswer {
        WalletAnswer {
            session_id: start.session_id.clone(),
            wallet_user_id: self.wallet_user_id.clone(),
            device_id: self.device_id.clone(),
            token_requestor_id: self.token_requestor_id.clone(),
        }
    }

    /// Step 5: the body of `POST /v1/push-provisioning`.
    pub fn push_request(
        &self,
        answer: &WalletAnswer,
        encrypted_payload: String,
        wallet_risk: Option<WalletRiskInfo>,
    ) -> PushProvisioningRequest {
        PushProvisioningRequest {
            encrypted_payload,
            session_id: answer.session_id.clone(),
            wallet_user_id: answer.wallet_user_id.clone(),
            device_id: answer.device_id.clone(),
            device: DeviceInfo {
                binding_jwk: Jwk::from_public_key(self.binding_key.public_key()),
                device_type: "PHONE".into(),
                secure_element_id: None,
            },
            wallet_risk,
        }
    }

    /// Opens the access data with the device's binding key (`ECDH-ES`, `A256GCM` only).
    pub fn open_access_data(
        &self,
        crypto: &dyn CryptoProvider,
        access_data: &str,
    ) -> Result<AccessData, AppError> {
        let d = provisio_jose::decrypt(crypto, access_data, &[KeyManagement::EcdhEs], |_| {
            Some(&self.binding_key)
        })
        .map_err(|_| AppError::AccessData)?;
        serde_json::from_slice(d.plaintext.expose()).map_err(|_| AppError::AccessData)
    }
}
