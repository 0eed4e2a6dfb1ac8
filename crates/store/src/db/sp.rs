//! The issuer's TSM (SP-TSM): its own sealed secrets, its callers, and its provisioning jobs.
//! One function per [`crate::SpStore`] method, each on the caller's connection and in the
//! caller's transaction ([`commit_session`] is a job's change and its APDUs together).

use crate::db::codec::{Row, params};
use crate::db::conn::Conn;
use crate::tsm_records::{ApduLogRow, SpJobChange, SpJobRow};
use crate::{Conflict, StoreError};

/// The columns [`job_row`] reads.
const JOB_COLUMNS: &str = "job_id, caller, se_id, ssd, applet, credential, fingerprint, state, initial_keys, own_keys, report_url, report_token, reported_at, version";

/// A stored job, from a row of [`JOB_COLUMNS`].
fn job_row(r: &Row) -> Result<SpJobRow, StoreError> {
    Ok(SpJobRow {
        job_id: r.get("job_id")?,
        caller: r.get("caller")?,
        se_id: r.get("se_id")?,
        ssd: r.get("ssd")?,
        applet: r.get("applet")?,
        credential: r.get("credential")?,
        fingerprint: r.get("fingerprint")?,
        state: r.get("state")?,
        initial_keys: r.get("initial_keys")?,
        own_keys: r.get("own_keys")?,
        report_url: r.get("report_url")?,
        report_token: r.get("report_token")?,
        reported_at: r.get("reported_at")?,
        version: r.get("version")?,
    })
}

/// A sealed secret by name.
pub(crate) fn sp_secret(c: &mut dyn Conn, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
    c.query_opt(
        "SELECT sealed FROM sp_secrets WHERE name = $1",
        params![name],
    )?
    .map(|r| r.get("sealed"))
    .transpose()
}

/// Stores a secret if none has the name, and returns the one stored: the first writer wins
/// (another instance may have made it first).
///
/// Writes then reads back on the same connection; the caller runs it in its transaction, as
/// every write.
pub(crate) fn sp_init_secret(
    c: &mut dyn Conn,
    name: &str,
    sealed: &[u8],
    now: i64,
) -> Result<Vec<u8>, StoreError> {
    c.execute(
        "INSERT INTO sp_secrets (name, sealed, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING",
        params![name, sealed, now],
    )?;
    sp_secret(c, name)?.ok_or_else(|| StoreError::Corrupt("secret vanished".into()))
}

/// Registers a caller's API key (hash). A known key is [`Conflict::Other`].
pub(crate) fn sp_add_caller(
    c: &mut dyn Conn,
    name: &str,
    key_hash: &[u8; 32],
    now: i64,
) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO sp_callers (key_hash, name, created_at) VALUES ($1, $2, $3)",
        params![key_hash, name, now],
    )?;
    Ok(())
}

/// The caller holding an API key (by its hash).
pub(crate) fn sp_caller(
    c: &mut dyn Conn,
    key_hash: &[u8; 32],
) -> Result<Option<String>, StoreError> {
    c.query_opt(
        "SELECT name FROM sp_callers WHERE key_hash = $1",
        params![key_hash],
    )?
    .map(|r| r.get("name"))
    .transpose()
}

/// Stores a new job at version 0 (its keys, ticket and report time unset); a used id is
/// [`Conflict::Other`].
pub(crate) fn sp_insert_job(c: &mut dyn Conn, job: &SpJobRow, now: i64) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO sp_jobs (job_id, caller, se_id, ssd, applet, credential, fingerprint, state, report_url, report_token, version, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 0, $11, $12)",
        params![
            &job.job_id,
            &job.caller,
            &job.se_id,
            &job.ssd,
            &job.applet,
            &job.credential,
            &job.fingerprint,
            &job.state,
            job.report_url.as_deref(),
            job.report_token.as_deref(),
            now,
            now,
        ],
    )?;
    Ok(())
}

/// A job.
pub(crate) fn sp_job(c: &mut dyn Conn, job_id: &str) -> Result<Option<SpJobRow>, StoreError> {
    let sql = format!("SELECT {JOB_COLUMNS} FROM sp_jobs WHERE job_id = $1");
    c.query_opt(&sql, params![job_id])?
        .as_ref()
        .map(job_row)
        .transpose()
}

/// The job an OTA ticket (by its hash) belongs to.
pub(crate) fn sp_job_by_ticket(
    c: &mut dyn Conn,
    ticket_hash: &[u8; 32],
) -> Result<Option<SpJobRow>, StoreError> {
    let sql = format!("SELECT {JOB_COLUMNS} FROM sp_jobs WHERE ticket_hash = $1");
    c.query_opt(&sql, params![ticket_hash])?
        .as_ref()
        .map(job_row)
        .transpose()
}

/// Jobs not DONE or FAILED, and finished jobs whose report is not acknowledged yet, oldest
/// first.
pub(crate) fn sp_open_jobs(c: &mut dyn Conn) -> Result<Vec<SpJobRow>, StoreError> {
    let sql = format!(
        "SELECT {JOB_COLUMNS} FROM sp_jobs
             WHERE (state NOT LIKE '%\"DONE\"%' AND state NOT LIKE '%\"FAILED\"%')
                OR (report_url IS NOT NULL AND reported_at IS NULL)
             ORDER BY created_at"
    );
    c.query(&sql, params![])?.iter().map(job_row).collect()
}

/// Records that a finished job's report was acknowledged (the first time only; an unknown
/// job changes nothing).
pub(crate) fn sp_job_reported(c: &mut dyn Conn, job_id: &str, now: i64) -> Result<(), StoreError> {
    c.execute(
        "UPDATE sp_jobs SET reported_at = $1 WHERE job_id = $2 AND reported_at IS NULL",
        params![now, job_id],
    )?;
    Ok(())
}

/// Appends APDUs of the SP-TSM's sessions to its audit log: the same append-only table as the
/// carrier's, so this is [`crate::db::sei::tsm_log_apdus`].
///
/// Writes a row per APDU: must run in a transaction.
pub(crate) fn sp_log_apdus(
    c: &mut dyn Conn,
    rows: &[ApduLogRow],
    now: i64,
) -> Result<(), StoreError> {
    crate::db::sei::tsm_log_apdus(c, rows, now)
}

/// A session's call: `change` to the job (if any, at `version`) and the APDUs for the audit
/// log.
///
/// Writes several rows: must run in a transaction, so a refused change leaves no log behind.
pub(crate) fn commit_session(
    c: &mut dyn Conn,
    job_id: &str,
    version: i64,
    change: Option<&SpJobChange>,
    log: &[ApduLogRow],
    now: i64,
) -> Result<(), StoreError> {
    if let Some(change) = change {
        sp_update_job(c, job_id, version, change, now)?;
    }
    sp_log_apdus(c, log, now)
}

/// Applies `change` (its state always; its keys and ticket hash when given) if the job's
/// version is still `version`, bumping the version; otherwise [`Conflict::Other`] and nothing
/// is written. A ticket hash another job holds is [`Conflict::Other`] as well.
///
/// One statement; the version conflict is decided by the rows it changed.
pub(crate) fn sp_update_job(
    c: &mut dyn Conn,
    job_id: &str,
    version: i64,
    change: &SpJobChange,
    now: i64,
) -> Result<(), StoreError> {
    let done = c.execute(
        "UPDATE sp_jobs SET state = $1, initial_keys = COALESCE($2, initial_keys), own_keys = COALESCE($3, own_keys), \
         ticket_hash = COALESCE($4, ticket_hash), version = version + 1, updated_at = $5 WHERE job_id = $6 AND version = $7",
        params![
            &change.state,
            change.initial_keys.as_deref(),
            change.own_keys.as_deref(),
            change.ticket_hash.as_deref(),
            now,
            job_id,
            version,
        ],
    )?;
    if done == 1 {
        Ok(())
    } else {
        Err(StoreError::Conflict(Conflict::Other))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::conn::transaction;
    use crate::db::test_conn;

    fn job(job_id: &str, report_url: Option<&str>) -> SpJobRow {
        SpJobRow {
            job_id: job_id.to_owned(),
            caller: "tsp".to_owned(),
            se_id: "se1".to_owned(),
            ssd: "A000000004".to_owned(),
            applet: "A0000000041010".to_owned(),
            credential: vec![7; 40],
            fingerprint: vec![8; 32],
            state: "{\"state\":\"CREATED\"}".to_owned(),
            initial_keys: None,
            own_keys: None,
            report_url: report_url.map(str::to_owned),
            report_token: report_url.map(|_| vec![6; 20]),
            reported_at: None,
            version: 0,
        }
    }

    fn open_ids(c: &mut dyn Conn) -> Vec<String> {
        sp_open_jobs(c)
            .unwrap()
            .into_iter()
            .map(|j| j.job_id)
            .collect()
    }

    #[test]
    fn the_first_secret_stored_wins() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = test_conn(dir.path());
        let c: &mut dyn Conn = &mut conn;
        assert_eq!(sp_secret(c, "handover").unwrap(), None);
        let first = transaction(c, |c| sp_init_secret(c, "handover", b"one", 1)).unwrap();
        assert_eq!(first, b"one");
        let second = transaction(c, |c| sp_init_secret(c, "handover", b"two", 2)).unwrap();
        assert_eq!(second, b"one");
        assert_eq!(sp_secret(c, "handover").unwrap(), Some(b"one".to_vec()));
        assert_eq!(sp_secret(c, "other").unwrap(), None);
    }

    #[test]
    fn callers_round_trip_and_a_known_key_is_a_conflict() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = test_conn(dir.path());
        let c: &mut dyn Conn = &mut conn;
        sp_add_caller(c, "tsp", &[1; 32], 1).unwrap();
        assert_eq!(sp_caller(c, &[1; 32]).unwrap().as_deref(), Some("tsp"));
        assert_eq!(sp_caller(c, &[2; 32]).unwrap(), None);
        let again = sp_add_caller(c, "other", &[1; 32], 2);
        assert!(
            matches!(again, Err(StoreError::Conflict(Conflict::Other))),
            "{again:?}"
        );
        assert_eq!(sp_caller(c, &[1; 32]).unwrap().as_deref(), Some("tsp"));
    }

    #[test]
    fn jobs_round_trip_and_a_used_id_is_a_conflict() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = test_conn(dir.path());
        let c: &mut dyn Conn = &mut conn;
        sp_insert_job(c, &job("j1", Some("https://tsp.example/report")), 10).unwrap();
        sp_insert_job(c, &job("j2", None), 11).unwrap();
        assert_eq!(
            sp_job(c, "j1").unwrap(),
            Some(job("j1", Some("https://tsp.example/report")))
        );
        assert_eq!(sp_job(c, "j2").unwrap(), Some(job("j2", None)));
        assert_eq!(sp_job(c, "j3").unwrap(), None);
        let again = sp_insert_job(c, &job("j1", None), 12);
        assert!(
            matches!(again, Err(StoreError::Conflict(Conflict::Other))),
            "{again:?}"
        );
        assert_eq!(
            sp_job(c, "j1").unwrap().and_then(|j| j.report_url),
            Some("https://tsp.example/report".to_owned())
        );
    }

    #[test]
    fn a_job_changes_only_at_its_version_and_is_found_by_its_ticket() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = test_conn(dir.path());
        let c: &mut dyn Conn = &mut conn;
        sp_insert_job(c, &job("j1", None), 10).unwrap();
        sp_insert_job(c, &job("j2", None), 11).unwrap();
        let keys = SpJobChange {
            state: "{\"state\":\"KEYS\"}".to_owned(),
            initial_keys: Some(vec![1; 16]),
            own_keys: Some(vec![2; 16]),
            ticket_hash: Some(vec![3; 32]),
        };
        sp_update_job(c, "j1", 0, &keys, 20).unwrap();
        let found = sp_job_by_ticket(c, &[3; 32]).unwrap().unwrap();
        assert_eq!(found.job_id, "j1");
        assert_eq!(found.version, 1);
        assert_eq!(found.state, keys.state);
        assert_eq!(found.initial_keys, keys.initial_keys);
        assert_eq!(found.own_keys, keys.own_keys);
        assert_eq!(sp_job_by_ticket(c, &[4; 32]).unwrap(), None);
        // Only the state given: the keys and the ticket stay.
        let state_only = SpJobChange {
            state: "{\"state\":\"INSTALLING\"}".to_owned(),
            ..SpJobChange::default()
        };
        sp_update_job(c, "j1", 1, &state_only, 21).unwrap();
        let j = sp_job_by_ticket(c, &[3; 32]).unwrap().unwrap();
        assert_eq!(
            (j.version, j.state.as_str()),
            (2, "{\"state\":\"INSTALLING\"}")
        );
        assert_eq!(j.own_keys, keys.own_keys);
        let stale = sp_update_job(c, "j1", 1, &keys, 22);
        assert!(
            matches!(stale, Err(StoreError::Conflict(Conflict::Other))),
            "{stale:?}"
        );
        let unknown = sp_update_job(c, "j9", 0, &keys, 22);
        assert!(
            matches!(unknown, Err(StoreError::Conflict(Conflict::Other))),
            "{unknown:?}"
        );
        // Another job's ticket is refused by its unique constraint.
        let ticket_used = sp_update_job(c, "j2", 0, &keys, 23);
        assert!(
            matches!(ticket_used, Err(StoreError::Conflict(Conflict::Other))),
            "{ticket_used:?}"
        );
        assert_eq!(sp_job(c, "j2").unwrap().map(|j| j.version), Some(0));
        assert_eq!(sp_job(c, "j1").unwrap().map(|j| j.version), Some(2));
    }

    #[test]
    fn open_jobs_are_unfinished_or_unreported() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = test_conn(dir.path());
        let c: &mut dyn Conn = &mut conn;
        sp_insert_job(c, &job("reported", Some("https://tsp.example/r")), 10).unwrap();
        sp_insert_job(c, &job("running", None), 11).unwrap();
        sp_insert_job(c, &job("done", None), 12).unwrap();
        sp_insert_job(c, &job("failed", Some("https://tsp.example/r")), 13).unwrap();
        let done = |s: &str| SpJobChange {
            state: format!("{{\"state\":\"{s}\"}}"),
            ..SpJobChange::default()
        };
        sp_update_job(c, "reported", 0, &done("DONE"), 20).unwrap();
        sp_update_job(c, "done", 0, &done("DONE"), 20).unwrap();
        sp_update_job(c, "failed", 0, &done("FAILED"), 20).unwrap();
        assert_eq!(open_ids(c), ["reported", "running", "failed"]);
        sp_job_reported(c, "reported", 30).unwrap();
        sp_job_reported(c, "failed", 31).unwrap();
        assert_eq!(open_ids(c), ["running"]);
        // Acknowledged once: a second report does not move the time.
        sp_job_reported(c, "reported", 40).unwrap();
        assert_eq!(
            sp_job(c, "reported").unwrap().and_then(|j| j.reported_at),
            Some(30)
        );
        sp_job_reported(c, "unknown", 40).unwrap();
    }

    #[test]
    fn the_sp_tsm_apdus_go_to_the_shared_audit_log() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = test_conn(dir.path());
        let c: &mut dyn Conn = &mut conn;
        let rows = [
            ApduLogRow {
                session_id: "s1".to_owned(),
                sp_id: "sp1".to_owned(),
                request_id: "j1".to_owned(),
                direction: 'C',
                apdu: vec![0x80, 0xCA],
            },
            ApduLogRow {
                session_id: "s1".to_owned(),
                sp_id: "sp1".to_owned(),
                request_id: "j1".to_owned(),
                direction: 'R',
                apdu: vec![0x90, 0x00],
            },
        ];
        transaction(c, |c| sp_log_apdus(c, &rows, 5)).unwrap();
        assert_eq!(crate::db::sei::tsm_apdus(c, "sp1", "j1").unwrap(), rows);
    }

    #[test]
    fn a_session_commit_writes_the_change_and_the_log_together_or_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = test_conn(dir.path());
        let c: &mut dyn Conn = &mut conn;
        sp_insert_job(c, &job("j1", None), 10).unwrap();
        let row = |d: char| ApduLogRow {
            session_id: "s1".to_owned(),
            sp_id: "self".to_owned(),
            request_id: "j1".to_owned(),
            direction: d,
            apdu: vec![0x90, 0x00],
        };
        transaction(c, |c| commit_session(c, "j1", 0, None, &[row('C')], 20)).unwrap();
        let done = SpJobChange {
            state: "{\"state\":\"DONE\"}".to_owned(),
            ..SpJobChange::default()
        };
        transaction(c, |c| {
            commit_session(c, "j1", 0, Some(&done), &[row('R')], 21)
        })
        .unwrap();
        let stale = transaction(c, |c| {
            commit_session(c, "j1", 0, Some(&done), &[row('R')], 22)
        });
        assert!(
            matches!(stale, Err(StoreError::Conflict(Conflict::Other))),
            "{stale:?}"
        );
        let j = sp_job(c, "j1").unwrap().unwrap();
        assert_eq!((j.version, j.state), (1, done.state));
        let log = crate::db::sei::tsm_apdus(c, "self", "j1").unwrap();
        assert_eq!(log, [row('C'), row('R')], "the stale commit logged nothing");
    }
}
