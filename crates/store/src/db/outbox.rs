//! The outbox: messages committed with the record that caused them (a code's notification, a
//! secure-element job for the issuer's TSM) and delivered by a background task. A claim is a
//! lease (`claimed_until`), so a crashed deliverer's messages are picked up again.

use provisio_tsp::{OutboxMessage, SP_TSM_CHANNEL, TsmHandoff};

use crate::StoreError;
use crate::db::codec::params;
use crate::db::conn::{Backend, Conn};

/// The job for the issuer's TSM, into the outbox, due at once.
pub(crate) fn insert_handoff(c: &mut dyn Conn, h: &TsmHandoff, now: i64) -> Result<(), StoreError> {
    let payload = h.payload.to_bytes();
    c.execute(
        "INSERT INTO outbox (message_id, channel, payload, created_at, next_attempt_at) VALUES ($1, $2, $3, $4, $5)",
        params![&h.message_id, SP_TSM_CHANNEL, &payload, now, now],
    )?;
    Ok(())
}

/// Claims up to `limit` undelivered messages due at `now` for `lease_s` seconds, oldest first.
///
/// One statement, and a write: the caller runs it in a transaction and hands the messages out
/// only once that transaction has committed (a claim rolled back with its transaction claimed
/// nothing, and its messages are due again at once). Inside the caller's transaction it stays
/// correct on both databases:
/// - SQLite: the old code ran the statement on its own, in the implicit transaction SQLite
///   gives a lone statement, under the write lock. In the caller's transaction it runs under
///   the same lock (`BEGIN IMMEDIATE` takes it before the first statement), and what it reads
///   is what it writes: no other connection can claim in between, and a claim earlier in the
///   same transaction (another savepoint of a batch) has already moved `claimed_until`, so
///   its messages are not chosen twice. Were the transaction deferred and had it read before,
///   SQLite would refuse the write of a stale snapshot (`SQLITE_BUSY_SNAPSHOT`) rather than
///   claim twice.
/// - PostgreSQL: the rows are locked as they are chosen and rows another instance is claiming
///   are skipped (`FOR UPDATE SKIP LOCKED`), so two deliverers never claim the same message;
///   the locks are now held until the caller's commit instead of the statement's end, which
///   only makes other claimers skip those rows a little longer.
pub(crate) fn claim(
    c: &mut dyn Conn,
    now: i64,
    lease_s: i64,
    limit: u32,
) -> Result<Vec<OutboxMessage>, StoreError> {
    // One statement. SQLite runs it under the write lock; on PostgreSQL the rows are locked
    // as they are chosen and rows another instance is claiming are skipped, so two
    // deliverers never claim the same message.
    let lock = if c.backend() == Backend::Postgres {
        "FOR UPDATE SKIP LOCKED"
    } else {
        ""
    };
    // A token event waits for the earlier events of its key (recipient and token) that are
    // not yet delivered and not dead-lettered: one party hears of one token's changes in
    // order, one at a time (docs/protocol.md §15.5).
    let sql = format!(
        "UPDATE outbox SET claimed_until = $1 + $2
             WHERE message_id IN (SELECT o.message_id FROM outbox o
                                  WHERE o.delivered_at IS NULL AND o.dead_at IS NULL AND o.next_attempt_at <= $1 AND o.claimed_until <= $1
                                    AND (o.ordering_key IS NULL OR NOT EXISTS (
                                         SELECT 1 FROM outbox e WHERE e.ordering_key = o.ordering_key AND e.sequence < o.sequence
                                           AND e.delivered_at IS NULL AND e.dead_at IS NULL))
                                  ORDER BY o.created_at LIMIT $3 {lock})
             RETURNING message_id, channel, payload, created_at, attempts"
    );
    let rows = c.query(&sql, params![now, lease_s, limit])?;
    rows.iter()
        .map(|r| {
            Ok(OutboxMessage {
                message_id: r.get("message_id")?,
                channel: r.get("channel")?,
                payload: r.sealed("payload")?,
                created_at: r.get("created_at")?,
                attempts: r.get("attempts")?,
            })
        })
        .collect()
}

/// Records a delivery. One statement; an unknown message changes nothing.
pub(crate) fn delivered(c: &mut dyn Conn, message_id: &str, now: i64) -> Result<(), StoreError> {
    c.execute(
        "UPDATE outbox SET delivered_at = $1, attempts = attempts + 1 WHERE message_id = $2",
        params![now, message_id],
    )?;
    Ok(())
}

/// Records a failed delivery and releases the claim; the message is tried again from
/// `retry_at`. One statement; an unknown message changes nothing.
pub(crate) fn failed(
    c: &mut dyn Conn,
    message_id: &str,
    retry_at: i64,
    error: &str,
) -> Result<(), StoreError> {
    c.execute(
        "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = $1, claimed_until = 0, last_error = $2 WHERE message_id = $3",
        params![retry_at, error, message_id],
    )?;
    Ok(())
}

/// Dead-letters a message after its last failed attempt: it is not tried again until an
/// operator re-drives it ([`redrive`]). One statement.
pub(crate) fn dead(
    c: &mut dyn Conn,
    limit: u32,
) -> Result<Vec<provisio_tsp::token_records::DeadEvent>, StoreError> {
    c.query(
        "SELECT message_id, ordering_key, sequence, attempts, last_error, dead_at FROM outbox WHERE dead_at IS NOT NULL ORDER BY dead_at, message_id LIMIT $1",
        params![limit],
    )?
    .iter()
    .map(|r| {
        Ok(provisio_tsp::token_records::DeadEvent {
            message_id: r.get("message_id")?,
            ordering_key: r.get::<Option<String>>("ordering_key")?.unwrap_or_default(),
            sequence: r.get::<Option<u64>>("sequence")?.unwrap_or_default(),
            attempts: r.get("attempts")?,
            last_error: r.get("last_error")?,
            dead_at: r.get("dead_at")?,
        })
    })
    .collect()
}

/// Records a failed last attempt: the message is dead-lettered at `now`. One statement.
pub(crate) fn dead_letter(
    c: &mut dyn Conn,
    message_id: &str,
    now: i64,
    error: &str,
) -> Result<(), StoreError> {
    c.execute(
        "UPDATE outbox SET attempts = attempts + 1, dead_at = $1, claimed_until = 0, last_error = $2 WHERE message_id = $3 AND delivered_at IS NULL",
        params![now, error, message_id],
    )?;
    Ok(())
}

/// How many messages are dead-lettered.
pub(crate) fn count_dead(c: &mut dyn Conn) -> Result<u64, StoreError> {
    c.query_one(
        "SELECT COUNT(*) AS n FROM outbox WHERE dead_at IS NOT NULL",
        params![],
    )?
    .get("n")
}

/// Gives a dead-lettered message a fresh set of attempts, due at `now`; `false` if none has
/// this id.
pub(crate) fn redrive(c: &mut dyn Conn, message_id: &str, now: i64) -> Result<bool, StoreError> {
    Ok(c.execute(
        "UPDATE outbox SET dead_at = NULL, attempts = 0, next_attempt_at = $1, claimed_until = 0 WHERE message_id = $2 AND dead_at IS NOT NULL",
        params![now, message_id],
    )? == 1)
}

#[cfg(test)]
mod tests {
    use provisio_tsp::{Sealed, TsmHandoff};

    use crate::db::codec::params;
    use crate::db::conn::{Conn, savepoint, transaction};
    use crate::db::test_conn;
    use crate::{Conflict, StoreError};

    const NOW: i64 = 1_700_000_000;

    /// A sealed value that parses (its bytes are `tag`, it seals nothing).
    fn sealed(tag: u8) -> Sealed {
        let mut b = vec![1, 1, b'k', 2, tag, tag];
        b.extend_from_slice(&[tag; 12 + 16]);
        b.push(tag);
        Sealed::from_bytes(&b).unwrap()
    }

    fn job(n: u8) -> TsmHandoff {
        TsmHandoff {
            message_id: format!("job{n}"),
            payload: sealed(n),
            report_token_hash: [n; 32],
        }
    }

    /// Jobs 1, 2, 3, made at `NOW`, `NOW + 1`, `NOW + 2`.
    fn three_jobs(c: &mut dyn Conn) {
        transaction(c, |c| {
            for n in 1..=3_u8 {
                super::insert_handoff(c, &job(n), NOW + i64::from(n) - 1)?;
            }
            Ok(())
        })
        .unwrap();
    }

    fn claim(c: &mut dyn Conn, now: i64, limit: u32) -> Vec<String> {
        transaction(c, |c| super::claim(c, now, 60, limit))
            .unwrap()
            .into_iter()
            .map(|m| m.message_id)
            .collect()
    }

    #[test]
    fn a_job_is_claimed_oldest_first_with_its_payload() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = test_conn(dir.path());
        three_jobs(&mut c);
        let got = transaction(&mut c, |c| super::claim(c, NOW + 2, 60, 2)).unwrap();
        let ids: Vec<&str> = got.iter().map(|m| m.message_id.as_str()).collect();
        assert_eq!(ids, ["job1", "job2"]);
        assert_eq!(got[0].channel, provisio_tsp::SP_TSM_CHANNEL);
        assert!(got[0].payload == sealed(1));
        assert_eq!(got[1].created_at, NOW + 1);
        // Not due yet: made (and due) after `now`.
        assert_eq!(claim(&mut c, NOW + 1, 10), Vec::<String>::new());
        assert_eq!(claim(&mut c, NOW + 2, 10), ["job3"]);
    }

    #[test]
    fn a_message_is_claimed_once_until_its_lease_ends() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = test_conn(dir.path());
        three_jobs(&mut c);
        // Two claims in one transaction (two savepoints of a batch) do not share a message.
        let (a, b) = transaction(&mut c, |c| {
            let a = savepoint(c, |c| super::claim(c, NOW + 2, 60, 2))?;
            let b = savepoint(c, |c| super::claim(c, NOW + 2, 60, 10))?;
            Ok((a, b))
        })
        .unwrap();
        assert_eq!((a.len(), b.len()), (2, 1));
        assert!(a.iter().all(|m| m.message_id != b[0].message_id));
        assert_eq!(claim(&mut c, NOW + 2 + 59, 10), Vec::<String>::new());
        assert_eq!(claim(&mut c, NOW + 2 + 60, 10).len(), 3);
    }

    #[test]
    fn a_claim_rolled_back_with_its_transaction_claims_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = test_conn(dir.path());
        three_jobs(&mut c);
        let e = transaction(&mut c, |c| {
            assert_eq!(super::claim(c, NOW + 2, 60, 10)?.len(), 3);
            Err::<(), _>(StoreError::Conflict(Conflict::Other))
        });
        assert!(e.is_err());
        assert_eq!(claim(&mut c, NOW + 2, 10).len(), 3);
    }

    #[test]
    fn a_delivered_message_is_not_claimed_again_and_a_failed_one_is_retried() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = test_conn(dir.path());
        three_jobs(&mut c);
        assert_eq!(claim(&mut c, NOW + 2, 2), ["job1", "job2"]);
        transaction(&mut c, |c| {
            super::delivered(c, "job1", NOW + 3)?;
            super::failed(c, "job2", NOW + 30, "connection refused")?;
            // Unknown ids change nothing.
            super::delivered(c, "nobody", NOW + 3)?;
            super::failed(c, "nobody", NOW + 3, "x")
        })
        .unwrap();
        let row = |c: &mut dyn Conn, id: &str| {
            c.query_one(
                "SELECT attempts, delivered_at, next_attempt_at, claimed_until, last_error FROM outbox WHERE message_id = $1",
                params![id],
            )
            .unwrap()
        };
        let r = row(&mut c, "job1");
        assert_eq!(r.get::<i64>("attempts").unwrap(), 1);
        assert_eq!(r.get::<Option<i64>>("delivered_at").unwrap(), Some(NOW + 3));
        let r = row(&mut c, "job2");
        assert_eq!(r.get::<i64>("attempts").unwrap(), 1);
        assert_eq!(r.get::<i64>("next_attempt_at").unwrap(), NOW + 30);
        assert_eq!(r.get::<i64>("claimed_until").unwrap(), 0);
        assert_eq!(
            r.get::<Option<String>>("last_error").unwrap().as_deref(),
            Some("connection refused")
        );
        // job3 was never claimed; job2 is due again from its retry time, its lease released.
        assert_eq!(claim(&mut c, NOW + 29, 10), ["job3"]);
        assert_eq!(claim(&mut c, NOW + 30, 10), ["job2"]);
        assert_eq!(claim(&mut c, NOW + 1000, 10), ["job2", "job3"]);
    }

    #[test]
    fn a_message_id_is_taken_once() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = test_conn(dir.path());
        three_jobs(&mut c);
        let e = transaction(&mut c, |c| super::insert_handoff(c, &job(1), NOW)).unwrap_err();
        assert!(matches!(e, StoreError::Conflict(Conflict::Other)), "{e:?}");
    }

    /// Token events `e{n}` for one key, sequences 1 to 3, all due at `NOW`.
    fn three_events(c: &mut dyn Conn) {
        transaction(c, |c| {
            for n in 1..=3_u8 {
                c.execute(
                    "INSERT INTO outbox (message_id, channel, payload, created_at, next_attempt_at, ordering_key, sequence) VALUES ($1, 'token_event', $2, $3, $3, 'issuer:iss:t1', $4)",
                    params![&format!("e{n}"), &sealed(n).to_bytes(), NOW, i64::from(n)],
                )?;
            }
            Ok(())
        })
        .unwrap();
    }

    #[test]
    fn events_of_one_key_go_one_at_a_time_in_sequence_and_a_dead_one_does_not_block() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = test_conn(dir.path());
        three_events(&mut c);
        assert_eq!(claim(&mut c, NOW, 10), ["e1"], "only the first of the key");
        // Claimed, not delivered: the others still wait, even after e1's lease ends.
        assert_eq!(claim(&mut c, NOW + 1, 10), Vec::<String>::new());
        transaction(&mut c, |c| super::delivered(c, "e1", NOW + 1)).unwrap();
        assert_eq!(claim(&mut c, NOW + 1, 10), ["e2"]);
        transaction(&mut c, |c| {
            super::dead_letter(c, "e2", NOW + 2, "answered 500")
        })
        .unwrap();
        assert_eq!(
            claim(&mut c, NOW + 2, 10),
            ["e3"],
            "a dead letter does not block"
        );
        let dead = super::dead(&mut c, 10).unwrap();
        assert_eq!(dead.len(), 1);
        assert_eq!(
            (
                dead[0].message_id.as_str(),
                dead[0].sequence,
                dead[0].attempts
            ),
            ("e2", 2, 1)
        );
        assert_eq!(dead[0].last_error.as_deref(), Some("answered 500"));
        assert_eq!(super::count_dead(&mut c).unwrap(), 1);
        // A re-drive gives it fresh attempts; it is due again at once, after e3.
        transaction(&mut c, |c| super::delivered(c, "e3", NOW + 3)).unwrap();
        assert!(transaction(&mut c, |c| super::redrive(c, "e2", NOW + 3)).unwrap());
        assert!(!transaction(&mut c, |c| super::redrive(c, "e2", NOW + 3)).unwrap());
        assert!(!transaction(&mut c, |c| super::redrive(c, "nobody", NOW + 3)).unwrap());
        assert_eq!(super::count_dead(&mut c).unwrap(), 0);
        let again = transaction(&mut c, |c| super::claim(c, NOW + 3, 60, 10)).unwrap();
        assert_eq!(again.len(), 1);
        assert_eq!((again[0].message_id.as_str(), again[0].attempts), ("e2", 0));
    }
}
