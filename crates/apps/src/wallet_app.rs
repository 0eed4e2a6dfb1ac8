//! The wallet app: answers the issuer app, holds the device binding key, forwards the request
//! data, opens the access data, installs the card and pays with it.

use std::fmt;

use provisio_accounts::wire::{AccountDevice, AccountUser, CreateWalletAccount, InstalledModule};
use provisio_accounts::{Manifest, verify_manifest};
use provisio_crypto::{AesKey, CryptoProvider, EcKeyPair};
use provisio_emv::Transaction;
use provisio_jose::{EncryptOptions, Jwk, JwkSet, KeyManagement};
use provisio_tsp::wallet_wire::{CardEntry, WalletProvisioningRequest};
use provisio_tsp::wire::{AccessData, DeviceInfo, PushProvisioningRequest, WalletRiskInfo};
use provisio_tsp::{SCRIPT_VERSION, Script, ScriptTarget, StepOp, StepReport, StepResult};
use provisio_types::{Expiry, TokenPan};
use zeroize::Zeroizing;

use crate::issuer_app::tsp_encryption_key;
use crate::{AppError, CardDetails, InstalledCard, Payment, PaymentState, SessionStart};

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
    /// The installed module and the manifest it came in, as transmitted.
    module: Option<(Manifest, String)>,
    payment: PaymentState,
}

/// This SDK core's version, checked against a manifest's `min_sdk_version`.
pub const SDK_VERSION: &str = env!("CARGO_PKG_VERSION");

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
            module: None,
            payment: PaymentState::default(),
        })
    }

    /// Pre-install (US 10,699,267): verifies the wallet module manifest under the token
    /// service signing keys this SDK trusts (pinned when the app is built, never taken from
    /// the manifest itself) and installs it, refusing a tampered or untrusted manifest, a
    /// downgrade below the installed module, and a module that needs a newer SDK.
    pub fn install_module(
        &mut self,
        crypto: &dyn CryptoProvider,
        manifest: &str,
        trusted: &JwkSet,
    ) -> Result<&Manifest, AppError> {
        let installed = self.module.as_ref().map(|(m, _)| m.module_version.as_str());
        let verified = verify_manifest(crypto, manifest, trusted, installed, SDK_VERSION)?;
        Ok(&self.module.insert((verified, manifest.to_owned())).0)
    }

    /// The installed wallet module.
    pub fn module(&self) -> Option<&Manifest> {
        self.module.as_ref().map(|(m, _)| m)
    }

    /// The body of `POST /v1/wallet-accounts` for this user on this device, once the module
    /// is installed.
    pub fn account_request(
        &self,
        issuer_id: &str,
        user: AccountUser,
        model: &str,
        os: &str,
        risk_score: Option<u8>,
    ) -> Result<CreateWalletAccount, AppError> {
        let Some((module, manifest)) = &self.module else {
            return Err(AppError::ModuleNotInstalled);
        };
        Ok(CreateWalletAccount {
            module: InstalledModule {
                module_version: module.module_version.clone(),
                manifest: manifest.clone(),
            },
            wallet_user_id: self.wallet_user_id.clone(),
            issuer_id: issuer_id.to_owned(),
            device: AccountDevice {
                device_id: self.device_id.clone(),
                model: model.to_owned(),
                os: os.to_owned(),
                secure_element_id: None,
                binding_jwk: Jwk::from_public_key(self.binding_key.public_key()),
                risk_score,
            },
            user,
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

    /// The body of `POST /v1/provisionings` (docs/protocol.md §17.2) for a card the user typed
    /// or scanned: the card, the optional `cvc2` (for the issuer's decisioning only), `now` as
    /// `iat` and a fresh random `jti`, encrypted to the token service's current encryption key
    /// (`ECDH-ES+A256KW`, `A256GCM`).
    pub fn card_request(
        &self,
        crypto: &dyn CryptoProvider,
        tsp_jwks: &JwkSet,
        card: &CardDetails,
        cvc2: Option<&str>,
        now: i64,
        wallet_risk: Option<WalletRiskInfo>,
    ) -> Result<WalletProvisioningRequest, AppError> {
        let (enc, tsp_key) = tsp_encryption_key(tsp_jwks)?;
        let mut jti = [0u8; 16];
        crypto
            .fill_random(&mut jti)
            .map_err(|e| AppError::Crypto(e.into()))?;
        let entry = Zeroizing::new(CardEntry {
            pan: card.pan.expose().to_owned(),
            exp_month: card.exp_month,
            exp_year: card.exp_year,
            name: card.name.clone(),
            cvc2: cvc2.map(str::to_owned),
            iat: now,
            jti: provisio_jose::b64_encode(&jti),
        });
        let plaintext = Zeroizing::new(
            serde_json::to_vec(&*entry)
                .map_err(|_| AppError::Crypto(provisio_jose::JoseError::Internal))?,
        );
        let options = EncryptOptions {
            alg: KeyManagement::EcdhEsA256Kw,
            kid: enc.kid.as_deref(),
            cty: None,
        };
        Ok(WalletProvisioningRequest {
            encrypted_card: provisio_jose::encrypt(crypto, &tsp_key, &options, &plaintext)?,
            wallet_user_id: self.wallet_user_id.clone(),
            device_id: self.device_id.clone(),
            device: DeviceInfo {
                binding_jwk: Jwk::from_public_key(self.binding_key.public_key()),
                device_type: "PHONE".into(),
                secure_element_id: None,
            },
            wallet_risk,
        })
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

    /// Runs an installation script (PROTOCOL: `script` of an approved answer) step by step and
    /// returns the completion report. A step that fails is reported `FAILED` and the rest are
    /// not run, so the token service does not make the token payment-ready.
    pub fn install(
        &mut self,
        crypto: &dyn CryptoProvider,
        script: &Script,
        access_data: &str,
    ) -> Result<Vec<StepReport>, AppError> {
        if script.version != SCRIPT_VERSION {
            return Err(AppError::Script("unsupported script version"));
        }
        if script.target != ScriptTarget::Hce {
            return Err(AppError::Script(
                "secure-element steps are delivered over the air by the TSMs",
            ));
        }
        let access = self.open_access_data(crypto, access_data)?;
        let mut reports = Vec::with_capacity(script.steps.len());
        for step in &script.steps {
            let ok = step.token_ref_id == access.token_ref_id && self.run(step.op, &access);
            reports.push(StepReport {
                seq: step.seq,
                result: if ok {
                    StepResult::Ok
                } else {
                    StepResult::Failed
                },
            });
            if !ok {
                break;
            }
        }
        Ok(reports)
    }

    fn run(&mut self, op: StepOp, access: &AccessData) -> bool {
        match op {
            StepOp::StoreToken => {
                let (Ok(token_pan), Ok(expiry)) = (
                    TokenPan::parse(&access.token_pan),
                    Expiry::new(u32::from(access.exp_month), u32::from(access.exp_year)),
                ) else {
                    return false;
                };
                self.payment.put(InstalledCard {
                    token_ref_id: access.token_ref_id.clone(),
                    token_pan,
                    expiry,
                    cryptogram_key: None,
                    last_atc: None,
                    default: false,
                });
                true
            }
            StepOp::StoreKeys => {
                let Some(card) = self.payment.card_mut(&access.token_ref_id) else {
                    return false;
                };
                let Ok(key) = provisio_jose::b64_decode(&access.cryptogram_key) else {
                    return false;
                };
                let key = Zeroizing::new(key);
                // AES-128 only: the contract's session key derivation (docs/protocol.md §16.1).
                match AesKey::from_bytes(&key) {
                    Ok(key) if key.len() == 16 => {
                        card.cryptogram_key = Some(key);
                        true
                    }
                    _ => false,
                }
            }
            StepOp::SetDefault => self.payment.set_default(&access.token_ref_id),
            // Secure-element steps are delivered over the air by the TSMs.
            _ => false,
        }
    }

    /// The cards installed so far.
    pub fn cards(&self) -> &[InstalledCard] {
        self.payment.cards()
    }

    /// What must be stored durably for the cards to pay after a restart. [`WalletApp::pay`]
    /// hands it to its `persist` port itself; store it also after [`WalletApp::install`].
    pub fn payment_state(&self) -> &PaymentState {
        &self.payment
    }

    /// After a restart: the cards of a stored [`PaymentState`], each replacing an installed
    /// card with its token reference id. The last ATC of a card never goes back (the higher
    /// of the stored and the held one is kept), so the next payment continues after it.
    pub fn restore_payment_state(&mut self, state: PaymentState) {
        for card in state.into_cards() {
            self.payment.put(card);
        }
    }

    /// Pays with a card (docs/protocol.md §16.1): takes the card's next ATC (1 for its first
    /// payment), records it, hands the whole [`PaymentState`] to `persist`, which must store it
    /// durably before returning `Ok`, and only then returns the cryptogram for `transaction`.
    ///
    /// If `persist` fails, no cryptogram is returned ([`AppError::PaymentStateNotStored`]) and
    /// the ATC stays spent: the next payment uses a fresh one. An unknown token reference id
    /// is [`AppError::UnknownCard`], a card whose key was never installed
    /// [`AppError::NoCryptogramKey`], a card that used ATC `FFFF`
    /// [`AppError::AtcExhausted`].
    pub fn pay<E: fmt::Display>(
        &mut self,
        token_ref_id: &str,
        transaction: &Transaction,
        persist: impl FnOnce(&PaymentState) -> Result<(), E>,
    ) -> Result<Payment, AppError> {
        self.payment.pay(token_ref_id, transaction, persist)
    }
}
