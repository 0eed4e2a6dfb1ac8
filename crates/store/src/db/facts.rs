//! The reads that come before a core runs, each request's in one job on one connection
//! (docs/architecture.md §4: one load, one core call, one commit).

use crate::db::conn::Conn;
use crate::db::{accounts, handoff, participants, risk, tokens};
use crate::{PushFacts, PushFactsQuery, StoreError};

/// Everything a push provisioning's core needs.
pub(crate) fn push(c: &mut dyn Conn, q: &PushFactsQuery) -> Result<PushFacts, StoreError> {
    Ok(PushFacts {
        idempotency: match &q.idempotency {
            Some((principal, key)) => participants::idempotency(c, principal, key)?,
            None => None,
        },
        issuer: match &q.issuer_id {
            Some(id) => participants::issuer(c, id)?,
            None => None,
        },
        account: match &q.hosted_account {
            Some((trid, uid)) => accounts::live_account(c, trid, uid)?,
            None => None,
        },
        signals: match &q.signals {
            Some(s) => Some(risk::signals(c, s)?),
            None => None,
        },
        sp_tsm: match &q.sp_tsm_of {
            Some(issuer_id) => handoff::sp_tsm(c, issuer_id)?,
            None => None,
        },
        card: match &q.card {
            Some(card) => Some(tokens::card(c, card)?),
            None => None,
        },
    })
}
