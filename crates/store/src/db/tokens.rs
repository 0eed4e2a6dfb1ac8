//! The token's life in the database: views with their history, searches, changes under the
//! token's sequence (so two concurrent changes cannot both apply), and the sweep of pending
//! tokens.

use provisio_tsp::payment_wire::TokenUsage;
use provisio_tsp::records::TokenStatus;
use provisio_tsp::token_records::{
    EventRow, HistoryEntry, TokenChange, TokenFacts, TokenSearch, TokenView,
};
use provisio_tsp::{Actor, CardFacts, EVENT_CHANNEL, Reason};

use crate::db::codec::{Row, params};
use crate::db::conn::Conn;
use crate::{CardQuery, Conflict, Role, StoreError, TokenRecord};

const VIEW_COLUMNS: &str = "t.token_ref_id, t.status, t.created_status, t.suspended_by, t.token_last4, t.exp_month, t.exp_year, t.issuer_id, t.token_requestor_id, t.wallet_user_id, t.device_id, t.account_ref, t.pan_hash, t.created_at, t.event_seq, (SELECT notification_url IS NOT NULL FROM issuers i WHERE i.issuer_id = t.issuer_id) AS issuer_notified, (SELECT notification_url IS NOT NULL FROM token_requestors r WHERE r.token_requestor_id = t.token_requestor_id) AS token_requestor_notified, (SELECT count(*) FROM authorizations a WHERE a.token_ref_id = t.token_ref_id AND a.atc_claimed = 1 AND a.decision = 'APPROVED') AS approved, (SELECT count(*) FROM authorizations a WHERE a.token_ref_id = t.token_ref_id AND a.decision = 'DECLINED') AS declined, (SELECT a.created_at FROM authorizations a WHERE a.token_ref_id = t.token_ref_id AND a.atc_claimed = 1 AND a.decision = 'APPROVED' ORDER BY a.atc DESC LIMIT 1) AS last_approved_at, (SELECT max(a.created_at) FROM authorizations a WHERE a.token_ref_id = t.token_ref_id AND a.decision = 'DECLINED') AS last_declined_at";

/// A token with its history and who hears of its changes, by reference id (deleted ones
/// too).
pub(crate) fn facts(
    c: &mut dyn Conn,
    token_ref_id: &str,
) -> Result<Option<TokenFacts>, StoreError> {
    let Some(row) = c.query_opt(
        &format!("SELECT {VIEW_COLUMNS} FROM tokens t WHERE t.token_ref_id = $1"),
        params![token_ref_id],
    )?
    else {
        return Ok(None);
    };
    let mut f = facts_row(&row)?;
    f.view.history.extend(history(c, token_ref_id)?);
    Ok(Some(f))
}

/// An issuer's live tokens of a card, with who hears of their changes (a card-level change).
pub(crate) fn card_facts_of(
    c: &mut dyn Conn,
    issuer_id: &str,
    pan_hash: &[u8; 32],
) -> Result<Vec<TokenFacts>, StoreError> {
    let rows = c.query(
        &format!("SELECT {VIEW_COLUMNS} FROM tokens t WHERE t.pan_hash = $1 AND t.status <> 'DELETED' AND t.issuer_id = $2 ORDER BY t.created_at, t.token_ref_id"),
        params![pan_hash, issuer_id],
    )?;
    rows.iter()
        .map(|r| {
            let mut f = facts_row(r)?;
            let changes = history(c, &f.view.token_ref_id)?;
            f.view.history.extend(changes);
            Ok(f)
        })
        .collect()
}

/// A token by reference id, with its sealed secrets (what a passed step-up releases).
pub(crate) fn token(
    c: &mut dyn Conn,
    token_ref_id: &str,
) -> Result<Option<TokenRecord>, StoreError> {
    c.query_opt(
        "SELECT t.token_ref_id, t.provisioning_id, p.issuer_id, t.token_pan, t.pan, t.token_last4, t.status, t.device_id, t.cryptogram_key, t.binding_jwk, t.exp_month, t.exp_year, t.secure_element_id, t.installed_at, t.token_requestor_id, t.account_ref, t.event_seq,
                COALESCE((SELECT notification_url IS NOT NULL FROM issuers i WHERE i.issuer_id = p.issuer_id), FALSE) AS issuer_notified,
                COALESCE((SELECT notification_url IS NOT NULL FROM token_requestors r WHERE r.token_requestor_id = t.token_requestor_id), FALSE) AS token_requestor_notified
         FROM tokens t JOIN provisionings p ON p.provisioning_id = t.provisioning_id WHERE t.token_ref_id = $1",
        params![token_ref_id],
    )?
    .map(|r| {
        let status: String = r.get("status")?;
        Ok(TokenRecord {
            token_ref_id: r.get("token_ref_id")?,
            provisioning_id: r.get("provisioning_id")?,
            issuer_id: r.get("issuer_id")?,
            token_pan: r.sealed("token_pan")?,
            pan: r.sealed("pan")?,
            token_last4: r.get("token_last4")?,
            status: TokenStatus::parse(&status)
                .ok_or_else(|| StoreError::Corrupt(format!("status {status}")))?,
            device_id: r.get("device_id")?,
            cryptogram_key: r.sealed("cryptogram_key")?,
            binding_jwk: r.get("binding_jwk")?,
            exp_month: r.get("exp_month")?,
            exp_year: r.get("exp_year")?,
            secure_element_id: r.get("secure_element_id")?,
            installed_at: r.get("installed_at")?,
            token_requestor_id: r.get("token_requestor_id")?,
            account_ref: r.get::<Option<String>>("account_ref")?.unwrap_or_default(),
            event_seq: r.get("event_seq")?,
            issuer_notified: r.get("issuer_notified")?,
            token_requestor_notified: r.get("token_requestor_notified")?,
        })
    })
    .transpose()
}

/// What a push needs to know of the card it names: its account reference at this issuer and
/// who hears of a new token; and, when asked, the device's live token of it.
pub(crate) fn card(c: &mut dyn Conn, q: &CardQuery) -> Result<CardFacts, StoreError> {
    let row = c.query_one(
        "SELECT (SELECT account_ref FROM tokens WHERE pan_hash = $1 AND issuer_id = $2 AND status <> 'DELETED' AND account_ref IS NOT NULL LIMIT 1) AS account_ref,
                COALESCE((SELECT notification_url IS NOT NULL FROM issuers WHERE issuer_id = $2), FALSE) AS issuer_notified,
                COALESCE((SELECT notification_url IS NOT NULL FROM token_requestors WHERE token_requestor_id = $3), FALSE) AS token_requestor_notified",
        params![&q.pan_hash, &q.issuer_id, &q.token_requestor_id],
    )?;
    let on_device = if q.on_device {
        c.query_opt(
            "SELECT token_ref_id FROM tokens WHERE pan_hash = $1 AND token_requestor_id = $2 AND device_id = $3 AND status <> 'DELETED'",
            params![&q.pan_hash, &q.token_requestor_id, &q.device_id],
        )?
        .map(|r| r.get("token_ref_id"))
        .transpose()?
    } else {
        None
    };
    Ok(CardFacts {
        account_ref: row.get("account_ref")?,
        on_device,
        issuer_notified: row.get("issuer_notified")?,
        token_requestor_notified: row.get("token_requestor_notified")?,
    })
}

/// The live tokens a search names, each with its history, oldest first.
pub(crate) fn search(c: &mut dyn Conn, q: &TokenSearch) -> Result<Vec<TokenView>, StoreError> {
    let order = "ORDER BY t.created_at, t.token_ref_id";
    let rows = match q {
        TokenSearch::Card {
            issuer_id: Some(issuer),
            pan_hash,
        } => c.query(
            &format!("SELECT {VIEW_COLUMNS} FROM tokens t WHERE t.pan_hash = $1 AND t.status <> 'DELETED' AND t.issuer_id = $2 {order}"),
            params![pan_hash, issuer],
        )?,
        TokenSearch::Card {
            issuer_id: None,
            pan_hash,
        } => c.query(
            &format!("SELECT {VIEW_COLUMNS} FROM tokens t WHERE t.pan_hash = $1 AND t.status <> 'DELETED' {order}"),
            params![pan_hash],
        )?,
        TokenSearch::Wallet {
            token_requestor_id,
            wallet_user_id,
            device_id,
        } => match (wallet_user_id, device_id) {
            // By user: through the provisionings' user index (tokens have none of their own).
            (Some(user), Some(device)) => c.query(
                &format!("SELECT {VIEW_COLUMNS} FROM provisionings p JOIN tokens t ON t.provisioning_id = p.provisioning_id WHERE p.token_requestor_id = $1 AND p.wallet_user_id = $2 AND t.device_id = $3 AND t.status <> 'DELETED' {order}"),
                params![token_requestor_id, user, device],
            )?,
            (Some(user), None) => c.query(
                &format!("SELECT {VIEW_COLUMNS} FROM provisionings p JOIN tokens t ON t.provisioning_id = p.provisioning_id WHERE p.token_requestor_id = $1 AND p.wallet_user_id = $2 AND t.status <> 'DELETED' {order}"),
                params![token_requestor_id, user],
            )?,
            // By device: through the provisionings' device index.
            (None, Some(device)) => c.query(
                &format!("SELECT {VIEW_COLUMNS} FROM provisionings p JOIN tokens t ON t.provisioning_id = p.provisioning_id WHERE p.device_id = $2 AND p.token_requestor_id = $1 AND t.status <> 'DELETED' {order}"),
                params![token_requestor_id, device],
            )?,
            (None, None) => Vec::new(),
        },
    };
    rows.iter()
        .map(|r| {
            let mut view = facts_row(r)?.view;
            let changes = history(c, &view.token_ref_id)?;
            view.history.extend(changes);
            Ok(view)
        })
        .collect()
}

/// Applies a change if the token is still at its status and sequence
/// ([`Conflict::TokenVersion`] otherwise), with its history entry and its events. Runs in a
/// transaction.
pub(crate) fn change(c: &mut dyn Conn, t: &TokenChange) -> Result<(), StoreError> {
    let seq = t.event_seq + 1;
    let to = t.change.to;
    let changed = match &t.relink {
        None => c.execute(
            "UPDATE tokens SET status = $1, suspended_by = $2, event_seq = $3, updated_at = $4 WHERE token_ref_id = $5 AND status = $6 AND event_seq = $7",
            params![
                to.status.as_str(),
                to.suspended_by.map(Actor::as_str),
                seq,
                t.at,
                &t.token_ref_id,
                t.change.from.status.as_str(),
                t.event_seq,
            ],
        )?,
        Some(r) => {
            let (pan_hash, pan) = match &r.pan {
                Some((hash, sealed)) => (Some(hash), Some(sealed.to_bytes())),
                None => (None, None),
            };
            c.execute(
                "UPDATE tokens SET pan_hash = COALESCE($1, pan_hash), pan = COALESCE($2, pan), card_exp_month = $3, card_exp_year = $4, event_seq = $5, updated_at = $6 WHERE token_ref_id = $7 AND status = $8 AND event_seq = $9",
                params![
                    pan_hash,
                    pan.as_ref(),
                    r.card_exp_month,
                    r.card_exp_year,
                    seq,
                    t.at,
                    &t.token_ref_id,
                    t.change.from.status.as_str(),
                    t.event_seq,
                ],
            )?
        }
    };
    if changed != 1 {
        return Err(StoreError::Conflict(Conflict::TokenVersion));
    }
    // A pending token deleted (expired, or by its issuer) closes its step-up: no code is sent
    // or accepted for it any more (docs/protocol.md §15.4).
    if to.status == TokenStatus::Deleted && t.change.from.status == TokenStatus::Inactive {
        c.execute(
            "UPDATE step_ups SET status = 'LOCKED', version = version + 1, updated_at = $1 WHERE token_ref_id = $2 AND status = 'PENDING'",
            params![t.at, &t.token_ref_id],
        )?;
    }
    insert_history(
        c,
        &t.token_ref_id,
        seq,
        to.status,
        t.change.reason.as_str(),
        t.change.actor.as_str(),
        t.agent_id.as_deref(),
        t.at,
    )?;
    insert_events(c, &t.events, t.at)
}

/// Sets (or removes) a participant's notification URL; `false` if there is no such
/// participant.
pub(crate) fn set_notification_url(
    c: &mut dyn Conn,
    role: Role,
    participant_id: &str,
    url: Option<&str>,
) -> Result<bool, StoreError> {
    let sql = match role {
        Role::Issuer => "UPDATE issuers SET notification_url = $1 WHERE issuer_id = $2",
        Role::TokenRequestor => {
            "UPDATE token_requestors SET notification_url = $1 WHERE token_requestor_id = $2"
        }
        Role::Admin | Role::Network => return Ok(false),
    };
    Ok(c.execute(sql, params![url, participant_id])? == 1)
}

/// A participant's notification URL.
pub(crate) fn notification_url(
    c: &mut dyn Conn,
    role: Role,
    participant_id: &str,
) -> Result<Option<String>, StoreError> {
    let sql = match role {
        Role::Issuer => "SELECT notification_url FROM issuers WHERE issuer_id = $1",
        Role::TokenRequestor => {
            "SELECT notification_url FROM token_requestors WHERE token_requestor_id = $1"
        }
        Role::Admin | Role::Network => return Ok(None),
    };
    Ok(c.query_opt(sql, params![participant_id])?
        .map(|r| r.get::<Option<String>>("notification_url"))
        .transpose()?
        .flatten())
}

/// A history entry.
#[allow(clippy::too_many_arguments)]
pub(crate) fn insert_history(
    c: &mut dyn Conn,
    token_ref_id: &str,
    seq: u64,
    status: TokenStatus,
    reason: &str,
    actor: &str,
    agent_id: Option<&str>,
    at: i64,
) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO token_history (token_ref_id, seq, status, reason, actor, agent_id, at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        params![token_ref_id, seq, status.as_str(), reason, actor, agent_id, at],
    )?;
    Ok(())
}

/// Token events into the outbox, due now.
pub(crate) fn insert_events(
    c: &mut dyn Conn,
    events: &[EventRow],
    now: i64,
) -> Result<(), StoreError> {
    for e in events {
        let payload = e.payload.to_bytes();
        c.execute(
            "INSERT INTO outbox (message_id, channel, payload, created_at, next_attempt_at, ordering_key, sequence) VALUES ($1, $2, $3, $4, $4, $5, $6)",
            params![&e.message_id, EVENT_CHANNEL, &payload, now, &e.ordering_key, e.sequence],
        )?;
    }
    Ok(())
}

/// Up to `limit` tokens still `INACTIVE` that were created before `before`, oldest first.
pub(crate) fn pending_before(
    c: &mut dyn Conn,
    before: i64,
    limit: u32,
) -> Result<Vec<String>, StoreError> {
    c.query(
        "SELECT token_ref_id FROM tokens WHERE status = 'INACTIVE' AND created_at < $1 ORDER BY created_at LIMIT $2",
        params![before, limit],
    )?
    .iter()
    .map(|r| r.get("token_ref_id"))
    .collect()
}

/// The changes after the creation (entries 2 and on).
fn history(c: &mut dyn Conn, token_ref_id: &str) -> Result<Vec<HistoryEntry>, StoreError> {
    c.query(
        "SELECT seq, status, reason, actor, agent_id, at FROM token_history WHERE token_ref_id = $1 ORDER BY seq",
        params![token_ref_id],
    )?
    .iter()
    .map(|r| {
        Ok(HistoryEntry {
            seq: r.get("seq")?,
            status: status(&r.get::<String>("status")?)?,
            reason: r.get("reason")?,
            actor: r.get("actor")?,
            agent_id: r.get("agent_id")?,
            at: r.get("at")?,
        })
    })
    .collect()
}

pub(crate) fn status(s: &str) -> Result<TokenStatus, StoreError> {
    TokenStatus::parse(s).ok_or_else(|| StoreError::Corrupt(format!("token status {s}")))
}

fn facts_row(r: &Row) -> Result<TokenFacts, StoreError> {
    Ok(TokenFacts {
        view: view_row(r)?,
        issuer_notified: r.get::<Option<bool>>("issuer_notified")?.unwrap_or(false),
        token_requestor_notified: r
            .get::<Option<bool>>("token_requestor_notified")?
            .unwrap_or(false),
    })
}

fn view_row(r: &Row) -> Result<TokenView, StoreError> {
    let suspended_by: Option<String> = r.get("suspended_by")?;
    Ok(TokenView {
        token_ref_id: r.get("token_ref_id")?,
        status: status(&r.get::<String>("status")?)?,
        suspended_by: suspended_by
            .map(|a| Actor::parse(&a).ok_or_else(|| StoreError::Corrupt(format!("actor {a}"))))
            .transpose()?,
        last4: r.get("token_last4")?,
        exp_month: r.get("exp_month")?,
        exp_year: r.get("exp_year")?,
        issuer_id: r.get::<Option<String>>("issuer_id")?.unwrap_or_default(),
        token_requestor_id: r.get("token_requestor_id")?,
        wallet_user_id: r.get("wallet_user_id")?,
        device_id: r.get("device_id")?,
        account_ref: r.get::<Option<String>>("account_ref")?.unwrap_or_default(),
        pan_hash: r.get("pan_hash")?,
        created_at: r.get("created_at")?,
        event_seq: r.get("event_seq")?,
        usage: TokenUsage {
            approved: r.get("approved")?,
            declined: r.get("declined")?,
            // The last approval is the one of the highest ATC (the device's latest payment).
            last_at: r
                .get::<Option<i64>>("last_approved_at")?
                .max(r.get::<Option<i64>>("last_declined_at")?),
        },
        // Entry 1: the creation, by the service, read from the token itself.
        history: vec![HistoryEntry {
            seq: 1,
            status: status(&r.get::<String>("created_status")?)?,
            reason: Reason::Other.as_str().into(),
            actor: Actor::System.as_str().into(),
            agent_id: None,
            at: r.get("created_at")?,
        }],
    })
}

#[cfg(test)]
mod tests {
    use provisio_tsp::records::TokenStatus;
    use provisio_tsp::token_records::{TokenChange, TokenSearch};
    use provisio_tsp::{Action, Actor, Reason, Standing};

    use crate::db::codec::params;
    use crate::db::conn::{Conn, transaction};
    use crate::db::test_conn;
    use crate::{CardQuery, Conflict, Role, StoreError};

    const NOW: i64 = 1_700_000_000;

    /// Tokens `t1` (device `d1`) and `t2` (device `d2`) of one card at issuer `iss`, both
    /// `ACTIVE`; their creation is history entry 1.
    fn two_tokens(c: &mut dyn Conn) {
        c.batch(
            "INSERT INTO issuers (issuer_id, name, signing_kid, signing_jwk, created_at) VALUES ('iss', 'Issuer', 'kid', '{}', 0);
             INSERT INTO token_requestors (token_requestor_id, name, wallet_accounts, created_at) VALUES ('40000000001', 'Wallet', 'external', 0);",
        )
        .unwrap();
        for n in 1..=2_u8 {
            let (p, t, d) = (format!("p{n}"), format!("t{n}"), format!("d{n}"));
            c.execute(
                "INSERT INTO provisionings (provisioning_id, session_id, issuer_id, jti, token_requestor_id, wallet_user_id, device_id, decision, risk, created_at, pan_hash) VALUES ($1, $1, 'iss', $1, '40000000001', 'u1', $2, 'APPROVED', '{}', $3, $4)",
                params![&p, &d, NOW + i64::from(n), &[1_u8; 32]],
            )
            .unwrap();
            c.execute(
                "INSERT INTO tokens (token_ref_id, provisioning_id, token_pan_hash, token_pan, pan_hash, pan, token_last4, exp_month, exp_year, status, token_requestor_id, wallet_user_id, device_id, binding_jwk, cryptogram_key, created_at, issuer_id, account_ref, event_seq, created_status) VALUES ($1, $2, $3, x'00', $4, x'00', '1234', 12, 2030, 'ACTIVE', '40000000001', 'u1', $5, '{}', x'00', $6, 'iss', 'ar_1', 1, 'ACTIVE')",
                params![&t, &p, &[n; 32], &[1_u8; 32], &d, NOW + i64::from(n)],
            )
            .unwrap();
        }
    }

    fn suspend(token: &str, seq: u64) -> TokenChange {
        TokenChange {
            token_ref_id: token.into(),
            event_seq: seq,
            change: Standing::of(TokenStatus::Active)
                .apply(Action::Suspend, Actor::Issuer, Reason::Stolen)
                .unwrap(),
            agent_id: None,
            at: NOW + 10,
            relink: None,
            events: Vec::new(),
        }
    }

    #[test]
    fn a_change_applies_once_at_its_sequence_and_the_history_grows() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = test_conn(dir.path());
        two_tokens(&mut c);
        transaction(&mut c, |c| super::change(c, &suspend("t1", 1))).unwrap();
        // The same change again: the token moved on, nothing is written.
        let e = transaction(&mut c, |c| super::change(c, &suspend("t1", 1))).unwrap_err();
        assert!(
            matches!(e, StoreError::Conflict(Conflict::TokenVersion)),
            "{e:?}"
        );
        let f = super::facts(&mut c, "t1").unwrap().unwrap();
        assert_eq!(f.view.status, TokenStatus::Suspended);
        assert_eq!(f.view.suspended_by, Some(Actor::Issuer));
        assert_eq!(f.view.event_seq, 2);
        let seqs: Vec<u64> = f.view.history.iter().map(|h| h.seq).collect();
        assert_eq!(seqs, [1, 2]);
        assert_eq!(f.view.history[1].reason, "STOLEN");
        assert!(!f.issuer_notified && !f.token_requestor_notified);
    }

    #[test]
    fn the_history_is_append_only() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = test_conn(dir.path());
        two_tokens(&mut c);
        transaction(&mut c, |c| super::change(c, &suspend("t1", 1))).unwrap();
        assert!(
            c.execute("UPDATE token_history SET reason = 'FRAUD'", params![])
                .is_err()
        );
        assert!(c.execute("DELETE FROM token_history", params![]).is_err());
    }

    #[test]
    fn search_and_card_facts_find_live_tokens_and_notification_urls() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = test_conn(dir.path());
        two_tokens(&mut c);
        assert!(
            super::set_notification_url(
                &mut c,
                Role::Issuer,
                "iss",
                Some("https://bank.example/ev")
            )
            .unwrap()
        );
        assert!(
            !super::set_notification_url(&mut c, Role::Issuer, "nobody", Some("https://x"))
                .unwrap()
        );
        let card = TokenSearch::Card {
            issuer_id: Some("iss".into()),
            pan_hash: [1; 32],
        };
        let ids = |v: Vec<provisio_tsp::token_records::TokenView>| {
            v.into_iter().map(|t| t.token_ref_id).collect::<Vec<_>>()
        };
        assert_eq!(ids(super::search(&mut c, &card).unwrap()), ["t1", "t2"]);
        let other_issuer = TokenSearch::Card {
            issuer_id: Some("other".into()),
            pan_hash: [1; 32],
        };
        assert!(super::search(&mut c, &other_issuer).unwrap().is_empty());
        let by_device = TokenSearch::Wallet {
            token_requestor_id: "40000000001".into(),
            wallet_user_id: Some("u1".into()),
            device_id: Some("d2".into()),
        };
        assert_eq!(ids(super::search(&mut c, &by_device).unwrap()), ["t2"]);
        let f = super::card_facts_of(&mut c, "iss", &[1; 32]).unwrap();
        assert_eq!(f.len(), 2);
        assert!(
            f.iter()
                .all(|f| f.issuer_notified && !f.token_requestor_notified)
        );
        let q = CardQuery {
            pan_hash: [1; 32],
            issuer_id: "iss".into(),
            token_requestor_id: "40000000001".into(),
            device_id: "d1".into(),
            on_device: true,
        };
        let card = super::card(&mut c, &q).unwrap();
        assert_eq!(card.account_ref.as_deref(), Some("ar_1"));
        assert_eq!(card.on_device.as_deref(), Some("t1"));
        assert!(card.issuer_notified);
        // A deleted token is no longer found, nor on its device.
        let delete = TokenChange {
            change: Standing::of(TokenStatus::Active)
                .apply(Action::Delete, Actor::Issuer, Reason::AccountClosed)
                .unwrap(),
            ..suspend("t1", 1)
        };
        transaction(&mut c, |c| super::change(c, &delete)).unwrap();
        assert_eq!(super::card(&mut c, &q).unwrap().on_device, None);
        let card = TokenSearch::Card {
            issuer_id: None,
            pan_hash: [1; 32],
        };
        assert_eq!(ids(super::search(&mut c, &card).unwrap()), ["t2"]);
        assert_eq!(
            super::facts(&mut c, "t1").unwrap().unwrap().view.status,
            TokenStatus::Deleted
        );
    }
}
