//! An HTTP client for Rust callers of Provisio: the admin registrations, hosted wallet
//! accounts and their verification, and the wallet's push provisioning call. The SDK cores (`provisio-apps`) make the request data; this crate only
//! carries it.

pub mod capture;
mod ota;
mod sei;
mod sp;

pub use ota::{ImageSink, LastImage, OtaRun, ota_pass};

use provisio_accounts::wire::{
    CreateWalletAccount, Enrolment, EnrolmentLoaded, IssuerVerification, KbaAnswer,
    KbaSourceConfig, KbaStep, OptedOut, WalletAccountView, WalletModule,
};
use provisio_jose::{Jwk, JwkSet};
use provisio_tsp::payment_wire::{AuthorizationAnswer, AuthorizationRequest};
use provisio_tsp::wallet_wire::WalletProvisioningRequest;
use provisio_tsp::wire::{
    CallCenterActivated, CallCenterActivationRequest, CallCenterCollectRequest, Installation,
    IssuerAppActivationRequest, OtpSendRequest, OtpSent, OtpVerifyRequest, PushProvisioningRequest,
    PushProvisioningResponse, ScriptReportRequest, ScriptReportResponse, SpTsmConfig, StepUpPassed,
};
use serde::Deserialize;
use serde::de::DeserializeOwned;

/// An RFC 9457 problem document as Provisio sends it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Problem {
    /// HTTP status.
    pub status: u16,
    /// Stable code (docs/protocol.md §4).
    pub code: String,
    /// What happened.
    pub detail: String,
}

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The server refused with a problem document.
    #[error("{} {}: {}", .0.status, .0.code, .0.detail)]
    Problem(Problem),
    /// The server could not be reached, or answered something undocumented.
    #[error("transport: {0}")]
    Transport(String),
}

impl ClientError {
    /// The stable code, when the server answered with a problem.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Problem(p) => Some(&p.code),
            Self::Transport(_) => None,
        }
    }
}

/// A client bound to one server and one API key.
#[derive(Debug, Clone)]
pub struct ProvisioClient {
    base: String,
    api_key: String,
    http: reqwest::Client,
}

#[derive(Deserialize)]
struct Registered {
    api_key: String,
}

impl ProvisioClient {
    /// A client for `base` (e.g. `http://127.0.0.1:8080`) calling with `api_key`.
    pub fn new(base: &str, api_key: &str) -> Self {
        Self {
            base: base.trim_end_matches('/').to_owned(),
            api_key: api_key.to_owned(),
            http: reqwest::Client::new(),
        }
    }

    /// A client for `base` calling with `api_key` over `http` (e.g. one that trusts a private
    /// CA or presents a client certificate).
    pub fn with_http(base: &str, api_key: &str, http: reqwest::Client) -> Self {
        Self {
            http,
            ..Self::new(base, api_key)
        }
    }

    /// Another server, called with `api_key` over the same HTTP client.
    pub fn at(&self, base: &str, api_key: &str) -> Self {
        Self::with_http(base, api_key, self.http.clone())
    }

    /// The server's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The same server with another API key.
    pub fn with_key(&self, api_key: &str) -> Self {
        Self {
            base: self.base.clone(),
            api_key: api_key.to_owned(),
            http: self.http.clone(),
        }
    }

    /// `GET /v1/keys/jwks.json`.
    pub async fn jwks(&self) -> Result<JwkSet, ClientError> {
        let r = self
            .http
            .get(format!("{}/v1/keys/jwks.json", self.base))
            .send()
            .await;
        answer(r).await
    }

    /// `POST /v1/admin/issuers`; returns the issuer's API key.
    pub async fn register_issuer(
        &self,
        issuer_id: &str,
        name: &str,
        signing_jwk: &Jwk,
    ) -> Result<String, ClientError> {
        let body =
            serde_json::json!({"issuer_id": issuer_id, "name": name, "signing_jwk": signing_jwk});
        let r: Registered = self.post("/v1/admin/issuers", &body, None).await?;
        Ok(r.api_key)
    }

    /// `POST /v1/admin/issuers` with every member of `body` (card ranges, `push_step_up`,
    /// ...); returns the issuer's API key.
    pub async fn register_issuer_with(
        &self,
        body: &serde_json::Value,
    ) -> Result<String, ClientError> {
        let r: Registered = self.post("/v1/admin/issuers", body, None).await?;
        Ok(r.api_key)
    }

    /// `POST /v1/admin/token-requestors`; returns the wallet provider's API key.
    pub async fn register_token_requestor(
        &self,
        id: &str,
        name: &str,
        wallet_accounts: &str,
    ) -> Result<String, ClientError> {
        let body = serde_json::json!({"token_requestor_id": id, "name": name, "wallet_accounts": wallet_accounts});
        let r: Registered = self.post("/v1/admin/token-requestors", &body, None).await?;
        Ok(r.api_key)
    }

    /// `POST /v1/admin/networks`; returns the network's API key.
    pub async fn register_network(&self, id: &str, name: &str) -> Result<String, ClientError> {
        let body = serde_json::json!({"network_id": id, "name": name});
        let r: Registered = self.post("/v1/admin/networks", &body, None).await?;
        Ok(r.api_key)
    }

    /// `POST /v1/network/authorizations` (network key): the decision, with the funding card
    /// when approved.
    pub async fn authorize(
        &self,
        request: &AuthorizationRequest,
    ) -> Result<AuthorizationAnswer, ClientError> {
        self.post("/v1/network/authorizations", request, None).await
    }

    /// `POST /v1/push-provisioning`, optionally with an `Idempotency-Key`.
    pub async fn push_provisioning(
        &self,
        request: &PushProvisioningRequest,
        idempotency_key: Option<&str>,
    ) -> Result<PushProvisioningResponse, ClientError> {
        self.post("/v1/push-provisioning", request, idempotency_key)
            .await
    }

    /// Adds an allow or block list entry (admin key): `list` `allow`|`block`, `kind`
    /// `device`|`pan`|`bin`.
    pub async fn add_risk_list_entry(
        &self,
        list: &str,
        kind: &str,
        value: &str,
    ) -> Result<(), ClientError> {
        let body = serde_json::json!({"list": list, "kind": kind, "value": value});
        let _: serde_json::Value = self.post("/v1/admin/risk-lists", &body, None).await?;
        Ok(())
    }

    /// Asks for a step-up code by one of the offered methods.
    pub async fn send_otp(
        &self,
        provisioning_id: &str,
        request: &OtpSendRequest,
    ) -> Result<OtpSent, ClientError> {
        self.post(
            &format!("/v1/provisionings/{provisioning_id}/step-up/otp"),
            request,
            None,
        )
        .await
    }

    /// Verifies a step-up code; when right, the answer carries the access data and script.
    pub async fn verify_otp(
        &self,
        provisioning_id: &str,
        request: &OtpVerifyRequest,
    ) -> Result<StepUpPassed, ClientError> {
        self.post(
            &format!("/v1/provisionings/{provisioning_id}/step-up/verify"),
            request,
            None,
        )
        .await
    }

    /// Reports how the device ran the installation script.
    pub async fn script_report(
        &self,
        provisioning_id: &str,
        request: &ScriptReportRequest,
    ) -> Result<ScriptReportResponse, ClientError> {
        self.post(
            &format!("/v1/provisionings/{provisioning_id}/script-report"),
            request,
            None,
        )
        .await
    }

    /// `GET /v1/provisionings/{id}/installation`: whether the credential is installed (for a
    /// secure element, once the issuer's TSM reported it).
    pub async fn installation(&self, provisioning_id: &str) -> Result<Installation, ClientError> {
        self.get(&format!("/v1/provisionings/{provisioning_id}/installation"))
            .await
    }

    /// `PUT /v1/admin/issuers/{id}/sp-tsm` (an admin key): the issuer's TSM.
    pub async fn set_sp_tsm(
        &self,
        issuer_id: &str,
        tsm: &SpTsmConfig,
    ) -> Result<SpTsmConfig, ClientError> {
        let r = self
            .http
            .put(format!("{}/v1/admin/issuers/{issuer_id}/sp-tsm", self.base))
            .bearer_auth(&self.api_key)
            .json(tsm)
            .send()
            .await;
        answer(r).await
    }

    /// `PUT /v1/admin/issuers/{id}/{what}` (an admin key) with `body`: `bin-ranges`,
    /// `decisioning`, `sp-tsm`, `notifications`.
    pub async fn put_issuer_setting(
        &self,
        issuer_id: &str,
        what: &str,
        body: &serde_json::Value,
    ) -> Result<serde_json::Value, ClientError> {
        let r = self
            .http
            .put(format!("{}/v1/admin/issuers/{issuer_id}/{what}", self.base))
            .bearer_auth(&self.api_key)
            .json(body)
            .send()
            .await;
        answer(r).await
    }

    /// `POST /v1/provisionings`: a card entered in the wallet (docs/protocol.md §17.2).
    pub async fn wallet_provisioning(
        &self,
        request: &WalletProvisioningRequest,
    ) -> Result<PushProvisioningResponse, ClientError> {
        self.post("/v1/provisionings", request, None).await
    }

    /// Activates a step-up with the issuer app's signed activation data (§17.4).
    pub async fn issuer_app_activation(
        &self,
        provisioning_id: &str,
        request: &IssuerAppActivationRequest,
    ) -> Result<StepUpPassed, ClientError> {
        self.post(
            &format!("/v1/provisionings/{provisioning_id}/step-up/issuer-app"),
            request,
            None,
        )
        .await
    }

    /// The issuer's call centre activates a token (issuer key, §17.5).
    pub async fn call_center_activate(
        &self,
        token_ref_id: &str,
        agent_id: &str,
    ) -> Result<CallCenterActivated, ClientError> {
        let body = CallCenterActivationRequest {
            agent_id: agent_id.to_owned(),
        };
        self.post(&format!("/v1/tokens/{token_ref_id}/activate"), &body, None)
            .await
    }

    /// The wallet collects what the call centre's activation released (§17.5).
    pub async fn call_center_collect(
        &self,
        provisioning_id: &str,
        request: &CallCenterCollectRequest,
    ) -> Result<StepUpPassed, ClientError> {
        self.post(
            &format!("/v1/provisionings/{provisioning_id}/step-up/call-center"),
            request,
            None,
        )
        .await
    }

    /// `GET /v1/wallet-module`: the signed manifest (verify it with
    /// `WalletApp::install_module`).
    pub async fn wallet_module(&self) -> Result<String, ClientError> {
        let r = self
            .http
            .get(format!("{}/v1/wallet-module", self.base))
            .send()
            .await;
        answer::<WalletModule>(r).await.map(|m| m.manifest)
    }

    /// `POST /v1/wallet-accounts` (a hosted wallet's key).
    pub async fn create_wallet_account(
        &self,
        request: &CreateWalletAccount,
    ) -> Result<WalletAccountView, ClientError> {
        self.post("/v1/wallet-accounts", request, None).await
    }

    /// `GET /v1/wallet-accounts/{account_id}`.
    pub async fn wallet_account(&self, account_id: &str) -> Result<WalletAccountView, ClientError> {
        let r = self
            .http
            .get(format!("{}/v1/wallet-accounts/{account_id}", self.base))
            .bearer_auth(&self.api_key)
            .send()
            .await;
        answer(r).await
    }

    /// `POST /v1/wallet-accounts/{account_id}/kba/question`.
    pub async fn kba_question(&self, account_id: &str) -> Result<KbaStep, ClientError> {
        let path = format!("/v1/wallet-accounts/{account_id}/kba/question");
        self.post(&path, &serde_json::json!({}), None).await
    }

    /// `POST /v1/wallet-accounts/{account_id}/kba/answer`.
    pub async fn kba_answer(
        &self,
        account_id: &str,
        answer: &KbaAnswer,
    ) -> Result<KbaStep, ClientError> {
        let path = format!("/v1/wallet-accounts/{account_id}/kba/answer");
        self.post(&path, answer, None).await
    }

    /// `POST /v1/wallet-accounts/{account_id}/kba/opt-out`.
    pub async fn kba_opt_out(&self, account_id: &str) -> Result<OptedOut, ClientError> {
        let path = format!("/v1/wallet-accounts/{account_id}/kba/opt-out");
        self.post(&path, &serde_json::json!({}), None).await
    }

    /// `POST /v1/issuer/enrolments` (an issuer's key).
    pub async fn load_enrolment(
        &self,
        enrolment: &Enrolment,
    ) -> Result<EnrolmentLoaded, ClientError> {
        self.post("/v1/issuer/enrolments", enrolment, None).await
    }

    /// `POST /v1/issuer/wallet-accounts/{account_id}/verification` (an issuer's key).
    pub async fn issuer_verify_account(
        &self,
        account_id: &str,
        verification: &IssuerVerification,
    ) -> Result<WalletAccountView, ClientError> {
        let path = format!("/v1/issuer/wallet-accounts/{account_id}/verification");
        self.post(&path, verification, None).await
    }

    /// `PUT /v1/admin/issuers/{issuer_id}/kba-source` (the admin key).
    pub async fn set_kba_source(
        &self,
        issuer_id: &str,
        source: &KbaSourceConfig,
    ) -> Result<KbaSourceConfig, ClientError> {
        let r = self
            .http
            .put(format!(
                "{}/v1/admin/issuers/{issuer_id}/kba-source",
                self.base
            ))
            .bearer_auth(&self.api_key)
            .json(source)
            .send()
            .await;
        answer(r).await
    }

    async fn post<B: serde::Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
        idempotency_key: Option<&str>,
    ) -> Result<T, ClientError> {
        let mut req = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.api_key)
            .json(body);
        if let Some(k) = idempotency_key {
            req = req.header("Idempotency-Key", k);
        }
        if capture::is_enabled() {
            let url = format!("{}{path}", self.base);
            capture::request("POST", &url, &serde_json::to_vec(body).unwrap_or_default());
        }
        answer(req.send().await).await
    }
}

/// A success without a body (204), or the problem.
async fn answer_empty(r: Result<reqwest::Response, reqwest::Error>) -> Result<(), ClientError> {
    let r = r.map_err(|e| ClientError::Transport(e.to_string()))?;
    if r.status().is_success() {
        return Ok(());
    }
    let status = r.status();
    let url = capture::is_enabled().then(|| r.url().to_string());
    let bytes = r
        .bytes()
        .await
        .map_err(|e| ClientError::Transport(e.to_string()))?;
    if let Some(url) = url {
        capture::response(status.as_u16(), &url, &bytes);
    }
    let problem: Problem = serde_json::from_slice(&bytes)
        .map_err(|_| ClientError::Transport(format!("HTTP {status} without a problem document")))?;
    Err(ClientError::Problem(problem))
}

async fn answer<T: DeserializeOwned>(
    r: Result<reqwest::Response, reqwest::Error>,
) -> Result<T, ClientError> {
    let r = r.map_err(|e| ClientError::Transport(e.to_string()))?;
    let status = r.status();
    let url = capture::is_enabled().then(|| r.url().to_string());
    let bytes = r
        .bytes()
        .await
        .map_err(|e| ClientError::Transport(e.to_string()))?;
    if let Some(url) = url {
        capture::response(status.as_u16(), &url, &bytes);
    }
    if status.is_success() {
        serde_json::from_slice(&bytes)
            .map_err(|e| ClientError::Transport(format!("undocumented answer: {e}")))
    } else {
        let problem: Problem = serde_json::from_slice(&bytes).map_err(|_| {
            ClientError::Transport(format!("HTTP {status} without a problem document"))
        })?;
        Err(ClientError::Problem(problem))
    }
}
