//! Calls to a carrier's TSM (SEI-TSM): the operator's registrations, an SP-TSM's service
//! requests, and a phone's OTA client (messages and admin sessions).

use provisio_tsm::ServiceRequest;
use provisio_tsm::wire::{
    AddElement, AddProvider, ElementAdded, Messages, OpenSession, ProviderAdded, Relayed,
    RequestStatus, SessionStep,
};

use crate::{ClientError, ProvisioClient, answer, answer_empty};

impl ProvisioClient {
    /// `POST /v1/sei/admin/elements` (operator).
    pub async fn sei_add_element(&self, req: &AddElement) -> Result<ElementAdded, ClientError> {
        self.post("/v1/sei/admin/elements", req, None).await
    }

    /// `POST /v1/sei/admin/service-providers` (operator).
    pub async fn sei_add_provider(&self, req: &AddProvider) -> Result<ProviderAdded, ClientError> {
        self.post("/v1/sei/admin/service-providers", req, None)
            .await
    }

    /// `POST /v1/sei/service-requests` (SP-TSM).
    pub async fn sei_request(&self, req: &ServiceRequest) -> Result<RequestStatus, ClientError> {
        self.post("/v1/sei/service-requests", req, None).await
    }

    /// `GET /v1/sei/service-requests/{id}` (SP-TSM).
    pub async fn sei_request_status(&self, request_id: &str) -> Result<RequestStatus, ClientError> {
        self.get(&format!("/v1/sei/service-requests/{request_id}"))
            .await
    }

    /// `GET /v1/sei/ota/messages?wait=S` (OTA client): waits up to `wait_s` for a message.
    pub async fn ota_messages(&self, wait_s: u64) -> Result<Messages, ClientError> {
        self.get(&format!("/v1/sei/ota/messages?wait={wait_s}"))
            .await
    }

    /// `POST /v1/sei/ota/messages/{id}/ack` (OTA client).
    pub async fn ota_ack(&self, message_id: &str) -> Result<(), ClientError> {
        let r = self
            .http
            .post(format!(
                "{}/v1/sei/ota/messages/{message_id}/ack",
                self.base
            ))
            .bearer_auth(&self.api_key)
            .send()
            .await;
        answer_empty(r).await
    }

    /// `POST /v1/sei/ota/sessions` (OTA client): the session's first command.
    pub async fn ota_open_session(&self, req: &OpenSession) -> Result<SessionStep, ClientError> {
        self.post("/v1/sei/ota/sessions", req, None).await
    }

    /// `POST /v1/sei/ota/sessions/{id}` (OTA client): the element's response, the next command.
    pub async fn ota_relay(
        &self,
        session_id: &str,
        response_hex: String,
    ) -> Result<SessionStep, ClientError> {
        self.post(
            &format!("/v1/sei/ota/sessions/{session_id}"),
            &Relayed { apdu: response_hex },
            None,
        )
        .await
    }

    pub(crate) async fn get<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
    ) -> Result<T, ClientError> {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.api_key)
            .send()
            .await;
        answer(r).await
    }
}
