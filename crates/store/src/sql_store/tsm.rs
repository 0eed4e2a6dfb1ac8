//! The two TSM roles' stores on [`SqlStore`] (each role runs on a database of its own).

use async_trait::async_trait;

use super::SqlStore;
use crate::db::{sei, sp};
use crate::tsm_records::{TsmIntakeFacts, TsmSessionFacts};
use crate::{
    ApduLogRow, OtaMessageRow, ProviderRecord, SpJobChange, SpJobRow, SpStore, StoreError,
    TsmPrincipal, TsmRequestRow, TsmStore,
};

#[async_trait]
impl TsmStore for SqlStore {
    async fn tsm_principal(&self, key_hash: &[u8; 32]) -> Result<Option<TsmPrincipal>, StoreError> {
        let key_hash = *key_hash;
        self.read(move |c| sei::tsm_principal(c, &key_hash)).await
    }

    async fn tsm_add_element(
        &self,
        se_id: &str,
        isd_keys: &[u8],
        ota_key_hash: &[u8; 32],
        now: i64,
    ) -> Result<(), StoreError> {
        let se_id = se_id.to_owned();
        let isd_keys = isd_keys.to_vec();
        let ota_key_hash = *ota_key_hash;
        self.write(move |c| sei::tsm_add_element(c, &se_id, &isd_keys, &ota_key_hash, now))
            .await
    }

    async fn tsm_add_provider(
        &self,
        provider: &ProviderRecord,
        api_key_hash: &[u8; 32],
        now: i64,
    ) -> Result<(), StoreError> {
        let provider = provider.clone();
        let api_key_hash = *api_key_hash;
        self.write(move |c| sei::tsm_add_provider(c, &provider, &api_key_hash, now))
            .await
    }

    async fn tsm_intake_facts(
        &self,
        sp_id: &str,
        request_id: &str,
        se_id: &str,
        on_element: bool,
    ) -> Result<TsmIntakeFacts, StoreError> {
        let (sp_id, request_id, se_id) =
            (sp_id.to_owned(), request_id.to_owned(), se_id.to_owned());
        self.read(move |c| sei::intake_facts(c, &sp_id, &request_id, &se_id, on_element))
            .await
    }

    async fn tsm_request(
        &self,
        sp_id: &str,
        request_id: &str,
    ) -> Result<Option<TsmRequestRow>, StoreError> {
        let sp_id = sp_id.to_owned();
        let request_id = request_id.to_owned();
        self.read(move |c| sei::tsm_request(c, &sp_id, &request_id))
            .await
    }

    async fn tsm_insert_request(
        &self,
        row: &TsmRequestRow,
        message: &OtaMessageRow,
        now: i64,
    ) -> Result<Option<TsmRequestRow>, StoreError> {
        let row = row.clone();
        let message = message.clone();
        self.write(move |c| sei::insert_request_or_twin(c, &row, &message, now))
            .await
    }

    async fn tsm_session_facts(
        &self,
        sp_id: &str,
        request_id: &str,
        se_id: &str,
    ) -> Result<TsmSessionFacts, StoreError> {
        let (sp_id, request_id, se_id) =
            (sp_id.to_owned(), request_id.to_owned(), se_id.to_owned());
        self.read(move |c| sei::session_facts(c, &sp_id, &request_id, &se_id))
            .await
    }

    async fn tsm_commit_session(
        &self,
        update: Option<&TsmRequestRow>,
        log: &[ApduLogRow],
        now: i64,
    ) -> Result<(), StoreError> {
        let update = update.cloned();
        let log = log.to_vec();
        self.write(move |c| sei::commit_session(c, update.as_ref(), &log, now))
            .await
    }

    async fn ota_pending(&self, se_id: &str) -> Result<Vec<OtaMessageRow>, StoreError> {
        let se_id = se_id.to_owned();
        self.read(move |c| sei::ota_pending(c, &se_id)).await
    }

    async fn ota_ack(&self, se_id: &str, message_id: &str, now: i64) -> Result<bool, StoreError> {
        let se_id = se_id.to_owned();
        let message_id = message_id.to_owned();
        self.write(move |c| sei::ota_ack(c, &se_id, &message_id, now))
            .await
    }

    async fn tsm_log_apdus(&self, rows: &[ApduLogRow], now: i64) -> Result<(), StoreError> {
        let rows = rows.to_vec();
        self.write(move |c| sei::tsm_log_apdus(c, &rows, now)).await
    }

    async fn tsm_apdus(
        &self,
        sp_id: &str,
        request_id: &str,
    ) -> Result<Vec<ApduLogRow>, StoreError> {
        let sp_id = sp_id.to_owned();
        let request_id = request_id.to_owned();
        self.read(move |c| sei::tsm_apdus(c, &sp_id, &request_id))
            .await
    }
}

#[async_trait]
impl SpStore for SqlStore {
    async fn sp_secret(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let name = name.to_owned();
        self.read(move |c| sp::sp_secret(c, &name)).await
    }

    async fn sp_init_secret(
        &self,
        name: &str,
        sealed: &[u8],
        now: i64,
    ) -> Result<Vec<u8>, StoreError> {
        let name = name.to_owned();
        let sealed = sealed.to_vec();
        self.write(move |c| sp::sp_init_secret(c, &name, &sealed, now))
            .await
    }

    async fn sp_add_caller(
        &self,
        name: &str,
        key_hash: &[u8; 32],
        now: i64,
    ) -> Result<(), StoreError> {
        let name = name.to_owned();
        let key_hash = *key_hash;
        self.write(move |c| sp::sp_add_caller(c, &name, &key_hash, now))
            .await
    }

    async fn sp_caller(&self, key_hash: &[u8; 32]) -> Result<Option<String>, StoreError> {
        let key_hash = *key_hash;
        self.read(move |c| sp::sp_caller(c, &key_hash)).await
    }

    async fn sp_insert_job(&self, job: &SpJobRow, now: i64) -> Result<(), StoreError> {
        let job = job.clone();
        self.write(move |c| sp::sp_insert_job(c, &job, now)).await
    }

    async fn sp_job(&self, job_id: &str) -> Result<Option<SpJobRow>, StoreError> {
        let job_id = job_id.to_owned();
        self.read(move |c| sp::sp_job(c, &job_id)).await
    }

    async fn sp_job_by_ticket(
        &self,
        ticket_hash: &[u8; 32],
    ) -> Result<Option<SpJobRow>, StoreError> {
        let ticket_hash = *ticket_hash;
        self.read(move |c| sp::sp_job_by_ticket(c, &ticket_hash))
            .await
    }

    async fn sp_open_jobs(&self) -> Result<Vec<SpJobRow>, StoreError> {
        self.read(move |c| sp::sp_open_jobs(c)).await
    }

    async fn sp_job_reported(&self, job_id: &str, now: i64) -> Result<(), StoreError> {
        let job_id = job_id.to_owned();
        self.write(move |c| sp::sp_job_reported(c, &job_id, now))
            .await
    }

    async fn sp_commit_session(
        &self,
        job_id: &str,
        version: i64,
        change: Option<&SpJobChange>,
        log: &[ApduLogRow],
        now: i64,
    ) -> Result<(), StoreError> {
        let job_id = job_id.to_owned();
        let change = change.cloned();
        let log = log.to_vec();
        self.write(move |c| sp::commit_session(c, &job_id, version, change.as_ref(), &log, now))
            .await
    }

    async fn sp_update_job(
        &self,
        job_id: &str,
        version: i64,
        change: &SpJobChange,
        now: i64,
    ) -> Result<(), StoreError> {
        let job_id = job_id.to_owned();
        let change = change.clone();
        self.write(move |c| sp::sp_update_job(c, &job_id, version, &change, now))
            .await
    }
}
