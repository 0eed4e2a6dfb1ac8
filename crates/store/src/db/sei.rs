//! The carrier's TSM (SEI-TSM): its principals, secure elements, service providers, service
//! requests, the OTA clients' wake-up messages and the APDU audit log. Each function runs on
//! the caller's connection and in the caller's transaction; the facts loaders
//! ([`intake_facts`], [`session_facts`]) and the session commit ([`commit_session`]) are
//! each one [`crate::TsmStore`] call made of the single-table functions below them.

use crate::db::codec::{Row, params};
use crate::db::conn::{Conn, savepoint};
use crate::tsm_records::{
    ApduLogRow, OtaMessageRow, ProviderRecord, TsmIntakeFacts, TsmPrincipal, TsmRequestRow,
    TsmSessionFacts,
};
use crate::{Conflict, StoreError};

/// A stored request, from a row of [`REQUEST_COLUMNS`].
fn request_row(r: &Row) -> Result<TsmRequestRow, StoreError> {
    Ok(TsmRequestRow {
        sp_id: r.get("sp_id")?,
        request_id: r.get("request_id")?,
        se_id: r.get("se_id")?,
        body: r.get("body")?,
        fingerprint: r.get("fingerprint")?,
        state: r.get("state")?,
        secret: r.get("secret")?,
        handover: r.get("handover")?,
        version: r.get("version")?,
    })
}

/// The columns [`request_row`] reads.
const REQUEST_COLUMNS: &str =
    "sp_id, request_id, se_id, body, fingerprint, state, secret, handover, version";

/// The holder of an API key (by its hash), a service provider with its registration. A kind
/// this binary does not know, or a provider's key without its provider, is
/// [`StoreError::Corrupt`].
pub(crate) fn tsm_principal(
    c: &mut dyn Conn,
    key_hash: &[u8; 32],
) -> Result<Option<TsmPrincipal>, StoreError> {
    let row = c.query_opt(
        "SELECT kind, subject FROM tsm_principals WHERE key_hash = $1",
        params![key_hash],
    )?;
    let Some(row) = row else { return Ok(None) };
    let kind: String = row.get("kind")?;
    let subject: String = row.get("subject")?;
    match kind.as_str() {
        "SERVICE_PROVIDER" => tsm_provider(c, &subject)?
            .map(|p| Some(TsmPrincipal::ServiceProvider(p)))
            .ok_or_else(|| StoreError::Corrupt(format!("provider {subject} of a key is missing"))),
        "OTA_CLIENT" => Ok(Some(TsmPrincipal::OtaClient(subject))),
        other => Err(StoreError::Corrupt(format!("principal kind {other}"))),
    }
}

/// Registers an element with its sealed ISD keys and its OTA client's key (hash). A known
/// element or key is [`Conflict::Other`].
///
/// Writes two rows: must run in a transaction (the caller's savepoint takes the first back
/// when the second is refused).
pub(crate) fn tsm_add_element(
    c: &mut dyn Conn,
    se_id: &str,
    isd_keys: &[u8],
    ota_key_hash: &[u8; 32],
    now: i64,
) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO tsm_elements (se_id, isd_keys, created_at) VALUES ($1, $2, $3)",
        params![se_id, isd_keys, now],
    )?;
    c.execute(
        "INSERT INTO tsm_principals (key_hash, kind, subject, created_at) VALUES ($1, 'OTA_CLIENT', $2, $3)",
        params![ota_key_hash, se_id, now],
    )?;
    Ok(())
}

/// An element's sealed ISD keys.
pub(crate) fn tsm_element(c: &mut dyn Conn, se_id: &str) -> Result<Option<Vec<u8>>, StoreError> {
    c.query_opt(
        "SELECT isd_keys FROM tsm_elements WHERE se_id = $1",
        params![se_id],
    )?
    .map(|r| r.get("isd_keys"))
    .transpose()
}

/// Registers a service provider with its API key (hash). A known provider or key is
/// [`Conflict::Other`].
///
/// Writes two rows: must run in a transaction (the caller's savepoint takes the first back
/// when the second is refused).
pub(crate) fn tsm_add_provider(
    c: &mut dyn Conn,
    p: &ProviderRecord,
    api_key_hash: &[u8; 32],
    now: i64,
) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO tsm_providers (sp_id, aid_prefix, encryption_jwk, created_at) VALUES ($1, $2, $3, $4)",
        params![&p.sp_id, &p.aid_prefix, &p.encryption_jwk, now],
    )?;
    c.execute(
        "INSERT INTO tsm_principals (key_hash, kind, subject, created_at) VALUES ($1, 'SERVICE_PROVIDER', $2, $3)",
        params![api_key_hash, &p.sp_id, now],
    )?;
    Ok(())
}

/// A provider.
pub(crate) fn tsm_provider(
    c: &mut dyn Conn,
    sp_id: &str,
) -> Result<Option<ProviderRecord>, StoreError> {
    let row = c.query_opt(
        "SELECT sp_id, aid_prefix, encryption_jwk FROM tsm_providers WHERE sp_id = $1",
        params![sp_id],
    )?;
    row.map(|r| {
        Ok(ProviderRecord {
            sp_id: r.get("sp_id")?,
            aid_prefix: r.get("aid_prefix")?,
            encryption_jwk: r.get("encryption_jwk")?,
        })
    })
    .transpose()
}

/// A request.
pub(crate) fn tsm_request(
    c: &mut dyn Conn,
    sp_id: &str,
    request_id: &str,
) -> Result<Option<TsmRequestRow>, StoreError> {
    let sql =
        format!("SELECT {REQUEST_COLUMNS} FROM tsm_requests WHERE sp_id = $1 AND request_id = $2");
    c.query_opt(&sql, params![sp_id, request_id])?
        .as_ref()
        .map(request_row)
        .transpose()
}

/// A provider's requests for an element, oldest first.
pub(crate) fn tsm_requests_for(
    c: &mut dyn Conn,
    sp_id: &str,
    se_id: &str,
) -> Result<Vec<TsmRequestRow>, StoreError> {
    let sql = format!(
        "SELECT {REQUEST_COLUMNS} FROM tsm_requests WHERE sp_id = $1 AND se_id = $2 ORDER BY created_at"
    );
    c.query(&sql, params![sp_id, se_id])?
        .iter()
        .map(request_row)
        .collect()
}

/// What intake of a provider's request needs: whether the element is registered, the
/// provider's request with that id, and (when `on_element`) its requests for the element.
pub(crate) fn intake_facts(
    c: &mut dyn Conn,
    sp_id: &str,
    request_id: &str,
    se_id: &str,
    on_element: bool,
) -> Result<TsmIntakeFacts, StoreError> {
    Ok(TsmIntakeFacts {
        element_known: tsm_element(c, se_id)?.is_some(),
        existing: tsm_request(c, sp_id, request_id)?,
        on_element: if on_element {
            tsm_requests_for(c, sp_id, se_id)?
        } else {
            Vec::new()
        },
    })
}

/// What an admin session's call needs: the provider's request, the sealed ISD keys of the
/// caller's element, and the provider.
pub(crate) fn session_facts(
    c: &mut dyn Conn,
    sp_id: &str,
    request_id: &str,
    se_id: &str,
) -> Result<TsmSessionFacts, StoreError> {
    Ok(TsmSessionFacts {
        request: tsm_request(c, sp_id, request_id)?,
        isd_keys: tsm_element(c, se_id)?,
        provider: tsm_provider(c, sp_id)?,
    })
}

/// Stores a new request and its wake-up message ([`tsm_insert_request`]) in a savepoint; when
/// the provider already has a request with that id, nothing is written and that request is
/// returned.
pub(crate) fn insert_request_or_twin(
    c: &mut dyn Conn,
    row: &TsmRequestRow,
    message: &OtaMessageRow,
    now: i64,
) -> Result<Option<TsmRequestRow>, StoreError> {
    match savepoint(c, |c| tsm_insert_request(c, row, message, now)) {
        Ok(()) => Ok(None),
        Err(StoreError::Conflict(Conflict::Other)) => {
            match tsm_request(c, &row.sp_id, &row.request_id)? {
                Some(twin) => Ok(Some(twin)),
                None => Err(StoreError::Conflict(Conflict::Other)),
            }
        }
        Err(e) => Err(e),
    }
}

/// An admin session's call: the request's new state and handover (`update`, the request as
/// read and changed, at its version then) and the APDUs for the audit log.
///
/// Writes several rows: must run in a transaction, so a refused update leaves no log behind.
pub(crate) fn commit_session(
    c: &mut dyn Conn,
    update: Option<&TsmRequestRow>,
    log: &[ApduLogRow],
    now: i64,
) -> Result<(), StoreError> {
    if let Some(r) = update {
        tsm_update_request(
            c,
            &r.sp_id,
            &r.request_id,
            r.version,
            &r.state,
            r.handover.as_deref(),
            now,
        )?;
    }
    tsm_log_apdus(c, log, now)
}

/// Stores a new request (at version 0, without a handover) and its wake-up message together.
/// A request id used before is [`Conflict::Other`]; an unknown provider or element is
/// [`StoreError::MissingReference`].
///
/// Writes two rows: must run in a transaction (the caller's savepoint takes the request back
/// when the message is refused).
pub(crate) fn tsm_insert_request(
    c: &mut dyn Conn,
    row: &TsmRequestRow,
    message: &OtaMessageRow,
    now: i64,
) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO tsm_requests (sp_id, request_id, se_id, body, fingerprint, state, secret, handover, version, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, 0, $8, $9)",
        params![
            &row.sp_id,
            &row.request_id,
            &row.se_id,
            &row.body,
            &row.fingerprint,
            &row.state,
            row.secret.as_deref(),
            now,
            now,
        ],
    )?;
    c.execute(
        "INSERT INTO ota_messages (message_id, se_id, body, created_at) VALUES ($1, $2, $3, $4)",
        params![&message.message_id, &message.se_id, &message.body, now],
    )?;
    Ok(())
}

/// Changes a request's state (and its handover, when one is given) if its version is still
/// `version`, bumping the version; otherwise [`Conflict::Other`] and nothing is written.
///
/// One statement; the conflict is decided by the rows it changed.
pub(crate) fn tsm_update_request(
    c: &mut dyn Conn,
    sp_id: &str,
    request_id: &str,
    version: i64,
    state: &str,
    handover: Option<&str>,
    now: i64,
) -> Result<(), StoreError> {
    let done = c.execute(
        "UPDATE tsm_requests SET state = $1, handover = COALESCE($2, handover), version = version + 1, updated_at = $3 \
         WHERE sp_id = $4 AND request_id = $5 AND version = $6",
        params![state, handover, now, sp_id, request_id, version],
    )?;
    if done == 1 {
        Ok(())
    } else {
        Err(StoreError::Conflict(Conflict::Other))
    }
}

/// An element's unacknowledged messages, oldest first.
pub(crate) fn ota_pending(c: &mut dyn Conn, se_id: &str) -> Result<Vec<OtaMessageRow>, StoreError> {
    c.query(
        "SELECT message_id, se_id, body FROM ota_messages WHERE se_id = $1 AND acked_at IS NULL ORDER BY created_at, message_id",
        params![se_id],
    )?
    .iter()
    .map(|r| {
        Ok(OtaMessageRow {
            message_id: r.get("message_id")?,
            se_id: r.get("se_id")?,
            body: r.get("body")?,
        })
    })
    .collect()
}

/// Acknowledges a message of `se_id`; false if there is none such pending (unknown, another
/// element's, or acknowledged already).
pub(crate) fn ota_ack(
    c: &mut dyn Conn,
    se_id: &str,
    message_id: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let done = c.execute(
        "UPDATE ota_messages SET acked_at = $1 WHERE se_id = $2 AND message_id = $3 AND acked_at IS NULL",
        params![now, se_id, message_id],
    )?;
    Ok(done == 1)
}

/// Appends APDUs to the audit log, one row each, in order.
///
/// Writes a row per APDU: must run in a transaction, so a session's log is appended whole or
/// not at all.
pub(crate) fn tsm_log_apdus(
    c: &mut dyn Conn,
    rows: &[ApduLogRow],
    now: i64,
) -> Result<(), StoreError> {
    for r in rows {
        let direction = r.direction.to_string();
        c.execute(
            "INSERT INTO tsm_apdu_log (session_id, sp_id, request_id, direction, apdu, at) VALUES ($1, $2, $3, $4, $5, $6)",
            params![&r.session_id, &r.sp_id, &r.request_id, &direction, &r.apdu, now],
        )?;
    }
    Ok(())
}

/// The audit log of a request, in the order it was appended.
pub(crate) fn tsm_apdus(
    c: &mut dyn Conn,
    sp_id: &str,
    request_id: &str,
) -> Result<Vec<ApduLogRow>, StoreError> {
    c.query(
        "SELECT session_id, sp_id, request_id, direction, apdu FROM tsm_apdu_log WHERE sp_id = $1 AND request_id = $2 ORDER BY id",
        params![sp_id, request_id],
    )?
    .iter()
    .map(|r| {
        let d: String = r.get("direction")?;
        Ok(ApduLogRow {
            session_id: r.get("session_id")?,
            sp_id: r.get("sp_id")?,
            request_id: r.get("request_id")?,
            direction: d.chars().next().unwrap_or('?'),
            apdu: r.get("apdu")?,
        })
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::conn::{savepoint, transaction};
    use crate::db::test_conn;

    fn provider(sp_id: &str) -> ProviderRecord {
        ProviderRecord {
            sp_id: sp_id.to_owned(),
            aid_prefix: vec![0xA0, 0x00, 0x00, 0x00, 0x04],
            encryption_jwk: "{\"kty\":\"EC\"}".to_owned(),
        }
    }

    fn request(request_id: &str) -> TsmRequestRow {
        TsmRequestRow {
            sp_id: "sp1".to_owned(),
            request_id: request_id.to_owned(),
            se_id: "se1".to_owned(),
            body: "{\"op\":\"CREATE_DOMAIN\"}".to_owned(),
            fingerprint: vec![9; 32],
            state: "{\"state\":\"PENDING\"}".to_owned(),
            secret: Some(vec![1, 2, 3]),
            handover: None,
            version: 0,
        }
    }

    fn message(message_id: &str) -> OtaMessageRow {
        OtaMessageRow {
            message_id: message_id.to_owned(),
            se_id: "se1".to_owned(),
            body: "{\"wake\":true}".to_owned(),
        }
    }

    /// An element `se1` and a provider `sp1`, registered.
    fn registered(c: &mut dyn Conn) {
        transaction(c, |c| {
            tsm_add_element(c, "se1", b"isd", &[1; 32], 10)?;
            tsm_add_provider(c, &provider("sp1"), &[2; 32], 10)
        })
        .unwrap();
    }

    #[test]
    fn elements_providers_and_their_principals_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = test_conn(dir.path());
        let c: &mut dyn Conn = &mut conn;
        registered(c);
        assert_eq!(tsm_element(c, "se1").unwrap(), Some(b"isd".to_vec()));
        assert_eq!(tsm_element(c, "se2").unwrap(), None);
        assert_eq!(tsm_provider(c, "sp1").unwrap(), Some(provider("sp1")));
        assert_eq!(tsm_provider(c, "sp2").unwrap(), None);
        assert_eq!(
            tsm_principal(c, &[1; 32]).unwrap(),
            Some(TsmPrincipal::OtaClient("se1".to_owned()))
        );
        assert_eq!(
            tsm_principal(c, &[2; 32]).unwrap(),
            Some(TsmPrincipal::ServiceProvider(provider("sp1")))
        );
        assert_eq!(tsm_principal(c, &[3; 32]).unwrap(), None);
    }

    #[test]
    fn a_known_element_provider_or_key_is_a_conflict_and_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = test_conn(dir.path());
        let c: &mut dyn Conn = &mut conn;
        registered(c);
        let again = transaction(c, |c| {
            savepoint(c, |c| tsm_add_element(c, "se1", b"other", &[5; 32], 11))
        });
        assert!(
            matches!(again, Err(StoreError::Conflict(Conflict::Other))),
            "{again:?}"
        );
        // A new element with a key in use: its element row is taken back with the savepoint.
        let key_used = transaction(c, |c| {
            savepoint(c, |c| tsm_add_element(c, "se2", b"isd2", &[2; 32], 11))
        });
        assert!(
            matches!(key_used, Err(StoreError::Conflict(Conflict::Other))),
            "{key_used:?}"
        );
        assert_eq!(tsm_element(c, "se2").unwrap(), None);
        assert_eq!(tsm_element(c, "se1").unwrap(), Some(b"isd".to_vec()));
        let provider_again = transaction(c, |c| {
            savepoint(c, |c| tsm_add_provider(c, &provider("sp1"), &[6; 32], 11))
        });
        assert!(
            matches!(provider_again, Err(StoreError::Conflict(Conflict::Other))),
            "{provider_again:?}"
        );
        let provider_key_used = transaction(c, |c| {
            savepoint(c, |c| tsm_add_provider(c, &provider("sp2"), &[1; 32], 11))
        });
        assert!(
            matches!(
                provider_key_used,
                Err(StoreError::Conflict(Conflict::Other))
            ),
            "{provider_key_used:?}"
        );
        assert_eq!(tsm_provider(c, "sp2").unwrap(), None);
    }

    #[test]
    fn requests_and_their_messages_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = test_conn(dir.path());
        let c: &mut dyn Conn = &mut conn;
        registered(c);
        transaction(c, |c| {
            tsm_insert_request(c, &request("r2"), &message("m2"), 30)
        })
        .unwrap();
        transaction(c, |c| {
            tsm_insert_request(c, &request("r1"), &message("m1"), 20)
        })
        .unwrap();
        assert_eq!(tsm_request(c, "sp1", "r1").unwrap(), Some(request("r1")));
        assert_eq!(tsm_request(c, "sp1", "r3").unwrap(), None);
        assert_eq!(tsm_request(c, "sp2", "r1").unwrap(), None);
        let ids: Vec<String> = tsm_requests_for(c, "sp1", "se1")
            .unwrap()
            .into_iter()
            .map(|r| r.request_id)
            .collect();
        assert_eq!(ids, ["r1", "r2"], "oldest first");
        assert!(tsm_requests_for(c, "sp1", "se2").unwrap().is_empty());
        assert_eq!(
            ota_pending(c, "se1").unwrap(),
            [message("m1"), message("m2")]
        );
    }

    #[test]
    fn a_used_request_id_is_a_conflict_and_an_unknown_element_a_missing_reference() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = test_conn(dir.path());
        let c: &mut dyn Conn = &mut conn;
        registered(c);
        transaction(c, |c| {
            tsm_insert_request(c, &request("r1"), &message("m1"), 20)
        })
        .unwrap();
        let again = transaction(c, |c| {
            savepoint(c, |c| {
                tsm_insert_request(c, &request("r1"), &message("m9"), 21)
            })
        });
        assert!(
            matches!(again, Err(StoreError::Conflict(Conflict::Other))),
            "{again:?}"
        );
        // A used message id: the request written before it is taken back with the savepoint.
        let message_used = transaction(c, |c| {
            savepoint(c, |c| {
                tsm_insert_request(c, &request("r2"), &message("m1"), 21)
            })
        });
        assert!(
            matches!(message_used, Err(StoreError::Conflict(Conflict::Other))),
            "{message_used:?}"
        );
        assert_eq!(tsm_request(c, "sp1", "r2").unwrap(), None);
        let mut elsewhere = request("r3");
        elsewhere.se_id = "se9".to_owned();
        let missing = transaction(c, |c| {
            savepoint(c, |c| tsm_insert_request(c, &elsewhere, &message("m3"), 22))
        });
        assert!(
            matches!(missing, Err(StoreError::MissingReference)),
            "{missing:?}"
        );
        assert_eq!(ota_pending(c, "se1").unwrap(), [message("m1")]);
    }

    #[test]
    fn a_request_changes_only_at_its_version() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = test_conn(dir.path());
        let c: &mut dyn Conn = &mut conn;
        registered(c);
        transaction(c, |c| {
            tsm_insert_request(c, &request("r1"), &message("m1"), 20)
        })
        .unwrap();
        tsm_update_request(c, "sp1", "r1", 0, "{\"state\":\"DONE\"}", Some("pkg"), 30).unwrap();
        let r = tsm_request(c, "sp1", "r1").unwrap().unwrap();
        assert_eq!((r.version, r.state.as_str()), (1, "{\"state\":\"DONE\"}"));
        assert_eq!(r.handover.as_deref(), Some("pkg"));
        // No handover given: the stored one stays.
        tsm_update_request(c, "sp1", "r1", 1, "{\"state\":\"X\"}", None, 31).unwrap();
        let r = tsm_request(c, "sp1", "r1").unwrap().unwrap();
        assert_eq!((r.version, r.handover.as_deref()), (2, Some("pkg")));
        let stale = tsm_update_request(c, "sp1", "r1", 1, "{\"state\":\"Y\"}", Some("new"), 32);
        assert!(
            matches!(stale, Err(StoreError::Conflict(Conflict::Other))),
            "{stale:?}"
        );
        let unknown = tsm_update_request(c, "sp1", "r9", 0, "{}", None, 32);
        assert!(
            matches!(unknown, Err(StoreError::Conflict(Conflict::Other))),
            "{unknown:?}"
        );
        let r = tsm_request(c, "sp1", "r1").unwrap().unwrap();
        assert_eq!((r.version, r.state.as_str()), (2, "{\"state\":\"X\"}"));
    }

    #[test]
    fn a_message_is_acknowledged_once_by_its_element() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = test_conn(dir.path());
        let c: &mut dyn Conn = &mut conn;
        registered(c);
        transaction(c, |c| {
            tsm_insert_request(c, &request("r1"), &message("m1"), 20)
        })
        .unwrap();
        assert!(!ota_ack(c, "se2", "m1", 40).unwrap(), "another element's");
        assert!(!ota_ack(c, "se1", "m9", 40).unwrap(), "unknown");
        assert!(ota_ack(c, "se1", "m1", 40).unwrap());
        assert!(
            !ota_ack(c, "se1", "m1", 41).unwrap(),
            "acknowledged already"
        );
        assert!(ota_pending(c, "se1").unwrap().is_empty());
    }

    #[test]
    fn the_apdu_log_reads_back_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = test_conn(dir.path());
        let c: &mut dyn Conn = &mut conn;
        let apdu = |request_id: &str, direction: char, apdu: &[u8]| ApduLogRow {
            session_id: "s1".to_owned(),
            sp_id: "sp1".to_owned(),
            request_id: request_id.to_owned(),
            direction,
            apdu: apdu.to_vec(),
        };
        let rows = [
            apdu("r1", 'C', &[0x80, 0x50]),
            apdu("r1", 'R', &[0x90, 0x00]),
            apdu("r2", 'C', &[0x84, 0x82]),
            apdu("r1", 'C', &[0x84, 0xE6]),
        ];
        transaction(c, |c| tsm_log_apdus(c, &rows, 50)).unwrap();
        transaction(c, |c| tsm_log_apdus(c, &[], 51)).unwrap();
        let [a, b, other, d] = rows;
        assert_eq!(tsm_apdus(c, "sp1", "r1").unwrap(), [a, b, d]);
        assert_eq!(tsm_apdus(c, "sp1", "r2").unwrap(), [other]);
        assert!(tsm_apdus(c, "sp2", "r1").unwrap().is_empty());
    }

    #[test]
    fn the_intake_facts_are_the_element_the_request_and_on_demand_the_providers_others() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = test_conn(dir.path());
        let c: &mut dyn Conn = &mut conn;
        registered(c);
        let none = intake_facts(c, "sp1", "r1", "se2", true).unwrap();
        assert_eq!(
            none,
            TsmIntakeFacts {
                element_known: false,
                existing: None,
                on_element: Vec::new()
            }
        );
        transaction(c, |c| {
            tsm_insert_request(c, &request("r1"), &message("m1"), 20)
        })
        .unwrap();
        let facts = intake_facts(c, "sp1", "r1", "se1", false).unwrap();
        assert!(facts.element_known);
        assert_eq!(facts.existing, Some(request("r1")));
        assert!(facts.on_element.is_empty(), "not asked for");
        let facts = intake_facts(c, "sp1", "p1", "se1", true).unwrap();
        assert_eq!(
            (facts.existing, facts.on_element),
            (None, vec![request("r1")])
        );
    }

    #[test]
    fn a_twin_of_a_stored_request_is_returned_and_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = test_conn(dir.path());
        let c: &mut dyn Conn = &mut conn;
        registered(c);
        let first = transaction(c, |c| {
            insert_request_or_twin(c, &request("r1"), &message("m1"), 20)
        });
        assert_eq!(first.unwrap(), None);
        let mut twin = request("r1");
        twin.fingerprint = vec![1; 32];
        let second = transaction(c, |c| insert_request_or_twin(c, &twin, &message("m2"), 21));
        assert_eq!(second.unwrap(), Some(request("r1")));
        assert_eq!(ota_pending(c, "se1").unwrap(), [message("m1")]);
        // Refused for another reason: the refusal, not a twin.
        let mut elsewhere = request("r3");
        elsewhere.se_id = "se9".to_owned();
        let missing = transaction(c, |c| {
            insert_request_or_twin(c, &elsewhere, &message("m3"), 22)
        });
        assert!(
            matches!(missing, Err(StoreError::MissingReference)),
            "{missing:?}"
        );
    }

    #[test]
    fn a_session_commit_writes_the_state_and_the_log_together_or_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = test_conn(dir.path());
        let c: &mut dyn Conn = &mut conn;
        registered(c);
        transaction(c, |c| {
            tsm_insert_request(c, &request("r1"), &message("m1"), 20)
        })
        .unwrap();
        let facts = session_facts(c, "sp1", "r1", "se1").unwrap();
        assert_eq!(
            facts,
            TsmSessionFacts {
                request: Some(request("r1")),
                isd_keys: Some(b"isd".to_vec()),
                provider: Some(provider("sp1")),
            }
        );
        let log = |d: char| ApduLogRow {
            session_id: "s1".to_owned(),
            sp_id: "sp1".to_owned(),
            request_id: "r1".to_owned(),
            direction: d,
            apdu: vec![0x90, 0x00],
        };
        let mut changed = request("r1");
        changed.state = "{\"state\":\"DONE\"}".to_owned();
        changed.handover = Some("pkg".to_owned());
        transaction(c, |c| commit_session(c, Some(&changed), &[log('R')], 30)).unwrap();
        let r = tsm_request(c, "sp1", "r1").unwrap().unwrap();
        assert_eq!(
            (r.version, r.state, r.handover),
            (1, changed.state.clone(), Some("pkg".to_owned()))
        );
        // At a stale version: neither the state nor the log.
        let stale = transaction(c, |c| commit_session(c, Some(&changed), &[log('C')], 31));
        assert!(
            matches!(stale, Err(StoreError::Conflict(Conflict::Other))),
            "{stale:?}"
        );
        transaction(c, |c| commit_session(c, None, &[log('C')], 32)).unwrap();
        let directions: Vec<char> = tsm_apdus(c, "sp1", "r1")
            .unwrap()
            .into_iter()
            .map(|r| r.direction)
            .collect();
        assert_eq!(directions, ['R', 'C']);
        let gone = session_facts(c, "sp2", "r1", "se2").unwrap();
        assert_eq!(
            gone,
            TsmSessionFacts {
                request: None,
                isd_keys: None,
                provider: None
            }
        );
    }
}
