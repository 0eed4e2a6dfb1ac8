//! [`crate::ParticipantStore`] on [`SqlStore`]: each method one job on a store thread, its arguments
//! moved into it.

use async_trait::async_trait;

use super::SqlStore;
use crate::db::{accounts, handoff, issuer_settings, participants, risk};
use crate::{
    Decisioning, IdempotencyRecord, IssuerRecord, KbaSourceRecord, ListKind, ListName,
    ParticipantStore, Principal, SpTsmRecord, StoreError, TokenRequestorRecord,
};

#[async_trait]
impl ParticipantStore for SqlStore {
    async fn principal(&self, key_hash: &[u8; 32]) -> Result<Option<Principal>, StoreError> {
        let hash = *key_hash;
        self.read(move |c| participants::principal(c, &hash)).await
    }

    async fn create_issuer(
        &self,
        issuer: &IssuerRecord,
        api_key_hash: &[u8; 32],
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<(), StoreError> {
        let (issuer, hash, idem) = (issuer.clone(), *api_key_hash, idempotency.cloned());
        self.write(move |c| participants::create_issuer(c, &issuer, &hash, idem.as_ref()))
            .await
    }

    async fn issuer(&self, issuer_id: &str) -> Result<Option<IssuerRecord>, StoreError> {
        let id = str::to_owned(issuer_id);
        self.read(move |c| participants::issuer(c, &id)).await
    }

    async fn issuer_of_pan(&self, pan: &str) -> Result<Option<IssuerRecord>, StoreError> {
        let prefixes = issuer_settings::range_prefixes(pan);
        self.read(move |c| issuer_settings::issuer_of_prefixes(c, &prefixes))
            .await
    }

    async fn set_bin_ranges(
        &self,
        issuer_id: &str,
        prefixes: &[String],
    ) -> Result<bool, StoreError> {
        let (id, prefixes) = (str::to_owned(issuer_id), prefixes.to_vec());
        self.write(move |c| issuer_settings::replace_bin_ranges(c, &id, &prefixes))
            .await
    }

    async fn set_push_step_up(
        &self,
        issuer_id: &str,
        push_step_up: bool,
    ) -> Result<bool, StoreError> {
        let id = str::to_owned(issuer_id);
        self.write(move |c| issuer_settings::set_push_step_up(c, &id, push_step_up))
            .await
    }

    async fn set_decisioning(
        &self,
        issuer_id: &str,
        decisioning: &Decisioning,
    ) -> Result<bool, StoreError> {
        let (id, d) = (str::to_owned(issuer_id), decisioning.clone());
        self.write(move |c| issuer_settings::set_decisioning(c, &id, &d))
            .await
    }

    async fn create_token_requestor(
        &self,
        requestor: &TokenRequestorRecord,
        api_key_hash: &[u8; 32],
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<(), StoreError> {
        let (requestor, hash, idem) = (requestor.clone(), *api_key_hash, idempotency.cloned());
        self.write(move |c| {
            participants::create_token_requestor(c, &requestor, &hash, idem.as_ref())
        })
        .await
    }

    async fn idempotency(
        &self,
        principal: &str,
        key: &str,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        let (principal, key) = (str::to_owned(principal), str::to_owned(key));
        self.read(move |c| participants::idempotency(c, &principal, &key))
            .await
    }

    async fn add_list_entry(
        &self,
        list: ListName,
        kind: ListKind,
        value: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let value = str::to_owned(value);
        self.write(move |c| risk::add_list_entry(c, list, kind, &value, now))
            .await
    }

    async fn set_sp_tsm(&self, tsm: &SpTsmRecord, now: i64) -> Result<(), StoreError> {
        let tsm = tsm.clone();
        self.write(move |c| handoff::set_sp_tsm(c, &tsm, now)).await
    }

    async fn sp_tsm(&self, issuer_id: &str) -> Result<Option<SpTsmRecord>, StoreError> {
        let id = str::to_owned(issuer_id);
        self.read(move |c| handoff::sp_tsm(c, &id)).await
    }

    async fn set_kba_source(
        &self,
        issuer_id: &str,
        source: &KbaSourceRecord,
        now: i64,
    ) -> Result<(), StoreError> {
        let (id, source) = (str::to_owned(issuer_id), source.clone());
        self.write(move |c| accounts::set_kba_source(c, &id, &source, now))
            .await
    }

    async fn kba_source(&self, issuer_id: &str) -> Result<Option<KbaSourceRecord>, StoreError> {
        let id = str::to_owned(issuer_id);
        self.read(move |c| accounts::kba_source(c, &id)).await
    }
}
