//! The service's own risk signals (velocity, history, lists), counted over the provisionings,
//! tokens, codes and accounts, and the allow and block lists they test: two statements, the
//! second's cost bounded by [`COUNT_CAP`].

use provisio_risk::{COUNT_CAP, Signals};

use crate::db::codec::params;
use crate::db::conn::Conn;
use crate::{ListKind, ListName, SignalQuery, StoreError};

const DAY: i64 = 24 * 3600;

/// A computed count as the signal reads it: at most [`COUNT_CAP`] (negative is impossible).
fn count(v: i64) -> u32 {
    saturating(v.min(i64::from(COUNT_CAP)))
}

/// A computed number as `u32`: negative is impossible, huge saturates.
fn saturating(v: i64) -> u32 {
    u32::try_from(v.max(0)).unwrap_or(u32::MAX)
}

/// The risk signals of one request: every count is an index lookup, so its cost grows with
/// the rows it counts. A card, device or user with [`COUNT_CAP`] or more provisionings (a
/// participant flooding one device id, say) would make every later request naming it count
/// them all (92 ms at 20,000 attempts a day, against 23 µs for a fresh card:
/// docs/perf-journal.md, 2026-12-07), so one statement first counts each key's provisionings
/// up to the cap; below it the exact statement runs, at it the capped one, which stops every
/// count at the cap and reads the device's tokens, distinct cards and failed codes from each
/// key's latest [`COUNT_CAP`] provisionings. Either way a count reads at most [`COUNT_CAP`]
/// ("that many or more"), which policies cannot test beyond (`provisio_risk::policy`).
///
/// A read: no transaction needed (which connection it runs on is the caller's choice).
pub(crate) fn signals(c: &mut dyn Conn, q: &SignalQuery) -> Result<Signals, StoreError> {
    let pan = &q.pan_hash;
    let cap = i64::from(COUNT_CAP);
    let busiest = c.query_one(
        "SELECT
          (SELECT COUNT(*) FROM (SELECT 1 FROM provisionings WHERE pan_hash = $1 LIMIT $5) a) AS card,
          (SELECT COUNT(*) FROM (SELECT 1 FROM provisionings WHERE device_id = $2 LIMIT $5) b) AS device,
          (SELECT COUNT(*) FROM (SELECT 1 FROM provisionings WHERE token_requestor_id = $3 AND wallet_user_id = $4 LIMIT $5) c) AS wallet_user",
        params![pan, &q.device_id, &q.token_requestor_id, &q.wallet_user_id, cap],
    )?;
    let mut hot = false;
    for key in ["card", "device", "wallet_user"] {
        hot |= busiest.get::<i64>(key)? >= cap;
    }
    let pan_hex = hex::encode(q.pan_hash);
    let bound = params![
        pan,
        &q.device_id,
        &q.token_requestor_id,
        &q.wallet_user_id,
        &pan_hex,
        q.now,
        &q.bin8,
        cap,
    ];
    // The exact statement takes no `$8`: it gets the first seven.
    let row = if hot {
        c.query_one(CAPPED, bound)?
    } else {
        c.query_one(EXACT, bound.get(..7).unwrap_or(bound))?
    };
    let get = |name: &str| -> Result<i64, StoreError> { row.get(name) };
    let first_seen: Option<i64> = row.get("first_seen")?;
    Ok(Signals {
        card_attempts_1h: count(get("card_1h")?),
        card_attempts_24h: count(get("card_24h")?),
        device_attempts_1h: count(get("device_1h")?),
        device_attempts_24h: count(get("device_24h")?),
        user_attempts_24h: count(get("user_24h")?),
        device_tokens: count(get("device_tokens")?),
        device_distinct_cards_24h: count(get("other_cards")? + 1),
        account_age_days: saturating(first_seen.map_or(0, |t| (q.now - t) / DAY)),
        recent_declines: count(get("declines")?),
        failed_step_ups: count(get("failed_step_ups")?),
        device_blocked: get("device_blocked")? != 0,
        pan_blocked: get("pan_blocked")? != 0,
        bin_blocked: get("bin_blocked")? != 0,
        device_allowed: get("device_allowed")? != 0,
        pan_allowed: get("pan_allowed")? != 0,
    })
}

/// The columns both statements share, as they are: since when the user is known, and the
/// list flags (each one index lookup, whatever the load). The account's `state <> 'EXPIRED'
/// AND state = 'ACTIVE'` is for the planner: the first is the condition of the partial index
/// `wallet_accounts_live`, which SQLite uses only for a query that states it (its
/// `partialindex.html`, section 3).
macro_rules! age_and_lists {
    () => {
        "COALESCE((SELECT created_at FROM wallet_accounts WHERE token_requestor_id = $3 AND wallet_user_id = $4 AND state <> 'EXPIRED' AND state = 'ACTIVE'),
                   (SELECT MIN(created_at) FROM provisionings WHERE token_requestor_id = $3 AND wallet_user_id = $4)) AS first_seen,
          CASE WHEN EXISTS (SELECT 1 FROM risk_lists WHERE list = 'block' AND kind = 'device' AND value = $2) THEN 1 ELSE 0 END AS device_blocked,
          CASE WHEN EXISTS (SELECT 1 FROM risk_lists WHERE list = 'block' AND kind = 'pan' AND value = $5) THEN 1 ELSE 0 END AS pan_blocked,
          CASE WHEN EXISTS (SELECT 1 FROM risk_lists WHERE list = 'block' AND kind = 'bin' AND substr($7, 1, length(value)) = value) THEN 1 ELSE 0 END AS bin_blocked,
          CASE WHEN EXISTS (SELECT 1 FROM risk_lists WHERE list = 'allow' AND kind = 'device' AND value = $2) THEN 1 ELSE 0 END AS device_allowed,
          CASE WHEN EXISTS (SELECT 1 FROM risk_lists WHERE list = 'allow' AND kind = 'pan' AND value = $5) THEN 1 ELSE 0 END AS pan_allowed"
    };
}

/// Every signal counted exactly, in one statement. Lookups by card, device or user are
/// `UNION`s of index lookups, not `OR`s (PostgreSQL planned the `OR`s as a scan of the
/// table); the declines' `UNION` counts a provisioning found by two keys once, and under `IN`
/// a `UNION ALL` does the same for less (on SQLite, 3 to 4 µs of about 40 per statement with
/// 1M tokens).
const EXACT: &str = concat!(
    "SELECT
          (SELECT COUNT(*) FROM provisionings WHERE pan_hash = $1 AND created_at >= CAST($6 AS BIGINT) - 3600) AS card_1h,
          (SELECT COUNT(*) FROM provisionings WHERE pan_hash = $1 AND created_at >= CAST($6 AS BIGINT) - 86400) AS card_24h,
          (SELECT COUNT(*) FROM provisionings WHERE device_id = $2 AND created_at >= CAST($6 AS BIGINT) - 3600) AS device_1h,
          (SELECT COUNT(*) FROM provisionings WHERE device_id = $2 AND created_at >= CAST($6 AS BIGINT) - 86400) AS device_24h,
          (SELECT COUNT(*) FROM provisionings WHERE token_requestor_id = $3 AND wallet_user_id = $4 AND created_at >= CAST($6 AS BIGINT) - 86400) AS user_24h,
          (SELECT COUNT(*) FROM provisionings p JOIN tokens t ON t.provisioning_id = p.provisioning_id WHERE p.device_id = $2) AS device_tokens,
          (SELECT COUNT(DISTINCT pan_hash) FROM provisionings WHERE device_id = $2 AND created_at >= CAST($6 AS BIGINT) - 86400 AND pan_hash <> $1) AS other_cards,
          (SELECT COUNT(*) FROM (
             SELECT provisioning_id FROM provisionings WHERE pan_hash = $1 AND created_at >= CAST($6 AS BIGINT) - 2592000 AND decision = 'DECLINED'
             UNION SELECT provisioning_id FROM provisionings WHERE device_id = $2 AND created_at >= CAST($6 AS BIGINT) - 2592000 AND decision = 'DECLINED'
             UNION SELECT provisioning_id FROM provisionings WHERE token_requestor_id = $3 AND wallet_user_id = $4 AND created_at >= CAST($6 AS BIGINT) - 2592000 AND decision = 'DECLINED'
           ) d) AS declines,
          (SELECT CAST(COALESCE(SUM(o.wrong_tries), 0) AS BIGINT) FROM otps o
             WHERE o.created_at >= CAST($6 AS BIGINT) - 2592000 AND o.provisioning_id IN (
               SELECT provisioning_id FROM provisionings WHERE pan_hash = $1
               UNION ALL SELECT provisioning_id FROM provisionings WHERE device_id = $2
               UNION ALL SELECT provisioning_id FROM provisionings WHERE token_requestor_id = $3 AND wallet_user_id = $4)) AS failed_step_ups,
",
    age_and_lists!()
);

/// [`EXACT`] with every count stopped at `$8` ([`COUNT_CAP`]), for a key with that many
/// provisionings: the windows and the declines count at most `$8` rows per key, and the
/// device's tokens, its distinct cards and the failed codes come from each key's latest `$8`
/// provisionings (the indexes end in `created_at`, so "latest" is a walk back from the end).
const CAPPED: &str = concat!(
    "SELECT
          (SELECT COUNT(*) FROM (SELECT 1 FROM provisionings WHERE pan_hash = $1 AND created_at >= CAST($6 AS BIGINT) - 3600 LIMIT $8) w) AS card_1h,
          (SELECT COUNT(*) FROM (SELECT 1 FROM provisionings WHERE pan_hash = $1 AND created_at >= CAST($6 AS BIGINT) - 86400 LIMIT $8) w) AS card_24h,
          (SELECT COUNT(*) FROM (SELECT 1 FROM provisionings WHERE device_id = $2 AND created_at >= CAST($6 AS BIGINT) - 3600 LIMIT $8) w) AS device_1h,
          (SELECT COUNT(*) FROM (SELECT 1 FROM provisionings WHERE device_id = $2 AND created_at >= CAST($6 AS BIGINT) - 86400 LIMIT $8) w) AS device_24h,
          (SELECT COUNT(*) FROM (SELECT 1 FROM provisionings WHERE token_requestor_id = $3 AND wallet_user_id = $4 AND created_at >= CAST($6 AS BIGINT) - 86400 LIMIT $8) w) AS user_24h,
          (SELECT COUNT(*) FROM tokens WHERE provisioning_id IN (
             SELECT provisioning_id FROM provisionings WHERE device_id = $2 ORDER BY created_at DESC LIMIT $8)) AS device_tokens,
          (SELECT COUNT(DISTINCT pan_hash) FROM (
             SELECT pan_hash FROM provisionings WHERE device_id = $2 AND created_at >= CAST($6 AS BIGINT) - 86400 ORDER BY created_at DESC LIMIT $8) w
             WHERE pan_hash <> $1) AS other_cards,
          (SELECT COUNT(*) FROM (
             SELECT provisioning_id FROM (SELECT provisioning_id FROM provisionings WHERE pan_hash = $1 AND created_at >= CAST($6 AS BIGINT) - 2592000 AND decision = 'DECLINED' LIMIT $8) a
             UNION SELECT provisioning_id FROM (SELECT provisioning_id FROM provisionings WHERE device_id = $2 AND created_at >= CAST($6 AS BIGINT) - 2592000 AND decision = 'DECLINED' LIMIT $8) b
             UNION SELECT provisioning_id FROM (SELECT provisioning_id FROM provisionings WHERE token_requestor_id = $3 AND wallet_user_id = $4 AND created_at >= CAST($6 AS BIGINT) - 2592000 AND decision = 'DECLINED' LIMIT $8) c
           ) d) AS declines,
          (SELECT CAST(COALESCE(SUM(o.wrong_tries), 0) AS BIGINT) FROM otps o
             WHERE o.created_at >= CAST($6 AS BIGINT) - 2592000 AND o.provisioning_id IN (
               SELECT provisioning_id FROM (SELECT provisioning_id FROM provisionings WHERE pan_hash = $1 ORDER BY created_at DESC LIMIT $8) a
               UNION ALL SELECT provisioning_id FROM (SELECT provisioning_id FROM provisionings WHERE device_id = $2 ORDER BY created_at DESC LIMIT $8) b
               UNION ALL SELECT provisioning_id FROM (SELECT provisioning_id FROM provisionings WHERE token_requestor_id = $3 AND wallet_user_id = $4 ORDER BY created_at DESC LIMIT $8) c)) AS failed_step_ups,
",
    age_and_lists!()
);

/// Adds an allow or block list entry; one that is listed already changes nothing
/// (idempotent). One statement.
pub(crate) fn add_list_entry(
    c: &mut dyn Conn,
    list: ListName,
    kind: ListKind,
    value: &str,
    now: i64,
) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO risk_lists (list, kind, value, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        params![list.as_str(), kind.as_str(), value, now],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use provisio_risk::Signals;

    use crate::db::codec::params;
    use crate::db::conn::{Conn, transaction};
    use crate::db::test_conn;
    use crate::{ListKind, ListName, SignalQuery};

    const NOW: i64 = 1_700_000_000;
    const DAY: i64 = 86_400;
    const TR: &str = "40000000001";
    const PAN: [u8; 32] = [0xa1; 32];

    fn query() -> SignalQuery {
        SignalQuery {
            pan_hash: PAN,
            bin8: "41111111".into(),
            device_id: "d".into(),
            token_requestor_id: TR.into(),
            wallet_user_id: "u".into(),
            now: NOW,
        }
    }

    fn participants(c: &mut dyn Conn) {
        c.batch(
            "INSERT INTO issuers (issuer_id, name, signing_kid, signing_jwk, created_at) VALUES ('iss', 'Issuer', 'kid', '{}', 0);
             INSERT INTO token_requestors (token_requestor_id, name, wallet_accounts, created_at) VALUES ('40000000001', 'Wallet', 'hosted', 0);",
        )
        .unwrap();
    }

    /// A provisioning `id`, with a token `t-<id>` unless declined.
    fn provisioning(
        c: &mut dyn Conn,
        id: &str,
        (pan, device, user): ([u8; 32], &str, &str),
        created_at: i64,
        declined: bool,
    ) {
        let decision = if declined { "DECLINED" } else { "APPROVED" };
        c.execute(
            "INSERT INTO provisionings (provisioning_id, session_id, issuer_id, jti, token_requestor_id, wallet_user_id, device_id, decision, risk, created_at, pan_hash) VALUES ($1, $1, 'iss', $1, $2, $3, $4, $5, '{}', $6, $7)",
            params![id, TR, user, device, decision, created_at, &pan],
        )
        .unwrap();
        if !declined {
            let token = format!("t-{id}");
            let mut token_pan_hash = [0_u8; 32];
            token_pan_hash[..id.len()].copy_from_slice(id.as_bytes());
            c.execute(
                "INSERT INTO tokens (token_ref_id, provisioning_id, token_pan_hash, token_pan, pan_hash, pan, token_last4, exp_month, exp_year, status, token_requestor_id, wallet_user_id, device_id, binding_jwk, cryptogram_key, created_at) VALUES ($1, $2, $3, x'00', $4, x'00', '1234', 12, 2030, 'ACTIVE', $5, $6, $7, '{}', x'00', $8)",
                params![&token, id, &token_pan_hash, &pan, TR, user, device, created_at],
            )
            .unwrap();
        }
    }

    /// A code for provisioning `id` (approved, so with a token) with `wrong_tries`.
    fn otp(c: &mut dyn Conn, id: &str, created_at: i64, wrong_tries: i64) {
        let token = format!("t-{id}");
        let method = format!("m-{id}-{created_at}");
        c.execute(
            "INSERT INTO step_ups (provisioning_id, token_ref_id, status, consecutive_failures, sends, version, updated_at) VALUES ($1, $2, 'PENDING', 0, 0, 0, 0) ON CONFLICT DO NOTHING",
            params![id, &token],
        )
        .unwrap();
        c.execute(
            "INSERT INTO step_up_methods (method_id, provisioning_id, type, masked, destination, position) VALUES ($1, $2, 'OTP_SMS', '***', x'00', 0)",
            params![&method, id],
        )
        .unwrap();
        c.execute(
            "INSERT INTO otps (otp_id, provisioning_id, method_id, code_hash, created_at, expires_at, wrong_tries) VALUES ($1, $2, $1, x'00', $3, $3, $4)",
            params![&method, id, created_at, wrong_tries],
        )
        .unwrap();
    }

    fn account(c: &mut dyn Conn, id: &str, state: &str, created_at: i64) {
        c.execute(
            "INSERT INTO wallet_accounts (account_id, token_requestor_id, wallet_user_id, issuer_id, customer_ref, device_id, device_model, device_os, binding_jwk, user_sealed, security_level, level_score, level_reasons, kba_source, state, kba_status, created_at, expires_at) VALUES ($1, $2, 'u', 'iss', 'c', 'd', 'm', 'os', '{}', x'00', 'LOW', 0, '[]', 'BANK', $3, 'NOT_STARTED', $4, $4)",
            params![id, TR, state, created_at],
        )
        .unwrap();
    }

    #[test]
    fn an_empty_store_has_no_signals_but_the_card_itself() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = test_conn(dir.path());
        let s = super::signals(&mut c, &query()).unwrap();
        assert_eq!(
            s,
            Signals {
                device_distinct_cards_24h: 1,
                ..Signals::default()
            }
        );
    }

    #[test]
    fn signals_count_the_windows_and_the_history() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = test_conn(dir.path());
        participants(&mut c);
        let other_pan = [0xb2; 32];
        provisioning(&mut c, "p1", (PAN, "d", "u"), NOW - 100, false);
        provisioning(&mut c, "p2", (PAN, "d2", "u2"), NOW - 7200, true);
        provisioning(&mut c, "p3", (other_pan, "d", "u3"), NOW - 5000, false);
        provisioning(&mut c, "p4", ([0xc3; 32], "d", "u"), NOW - 2 * DAY, true);
        provisioning(&mut c, "p5", (PAN, "d", "u"), NOW - 40 * DAY, true);
        // Someone else's, with a failed code.
        provisioning(&mut c, "p6", ([0xd4; 32], "d6", "u6"), NOW - 100, false);
        otp(&mut c, "p1", NOW - 50, 2);
        otp(&mut c, "p1", NOW - 31 * DAY, 5);
        otp(&mut c, "p3", NOW - 40, 1);
        otp(&mut c, "p6", NOW - 50, 7);
        let s = super::signals(&mut c, &query()).unwrap();
        assert_eq!(
            s,
            Signals {
                card_attempts_1h: 1,
                card_attempts_24h: 2,
                device_attempts_1h: 1,
                device_attempts_24h: 2,
                user_attempts_24h: 1,
                device_tokens: 2,
                device_distinct_cards_24h: 2,
                // No account: since the user was first seen (p5).
                account_age_days: 40,
                // p2 by card, p4 by device and by user (once); p5 is too old.
                recent_declines: 2,
                // p1's recent code (by card, device and user: once) and p3's (by device).
                failed_step_ups: 3,
                ..Signals::default()
            }
        );
        // Only an active account dates the user.
        account(&mut c, "a-old", "EXPIRED", NOW - 100 * DAY);
        account(&mut c, "a", "PENDING_ACTIVATION", NOW - 3 * DAY);
        assert_eq!(
            super::signals(&mut c, &query()).unwrap().account_age_days,
            40
        );
        c.execute(
            "UPDATE wallet_accounts SET state = 'ACTIVE' WHERE account_id = 'a'",
            params![],
        )
        .unwrap();
        assert_eq!(
            super::signals(&mut c, &query()).unwrap().account_age_days,
            3
        );
    }

    #[test]
    fn list_entries_are_idempotent_and_match_device_pan_and_bin_prefix() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = test_conn(dir.path());
        let pan_hex = hex::encode(PAN);
        transaction(&mut c, |c| {
            super::add_list_entry(c, ListName::Block, ListKind::Bin, "422222", NOW)?;
            super::add_list_entry(c, ListName::Allow, ListKind::Device, "other", NOW)?;
            super::add_list_entry(c, ListName::Block, ListKind::Pan, "00", NOW)
        })
        .unwrap();
        let s = super::signals(&mut c, &query()).unwrap();
        assert!(!(s.device_blocked || s.pan_blocked || s.bin_blocked));
        assert!(!(s.device_allowed || s.pan_allowed));
        transaction(&mut c, |c| {
            super::add_list_entry(c, ListName::Block, ListKind::Device, "d", NOW)?;
            super::add_list_entry(c, ListName::Block, ListKind::Pan, &pan_hex, NOW)?;
            super::add_list_entry(c, ListName::Block, ListKind::Bin, "411111", NOW)?;
            super::add_list_entry(c, ListName::Allow, ListKind::Pan, &pan_hex, NOW)?;
            // Again: nothing changes, nothing fails.
            super::add_list_entry(c, ListName::Block, ListKind::Bin, "411111", NOW + 1)
        })
        .unwrap();
        let s = super::signals(&mut c, &query()).unwrap();
        assert!(s.device_blocked && s.pan_blocked && s.bin_blocked && s.pan_allowed);
        assert!(!s.device_allowed);
        let r = c
            .query_one(
                "SELECT COUNT(*) AS n, MIN(created_at) AS t FROM risk_lists WHERE list = 'block' AND kind = 'bin' AND value = '411111'",
                params![],
            )
            .unwrap();
        assert_eq!(
            (r.get::<i64>("n").unwrap(), r.get::<i64>("t").unwrap()),
            (1, NOW)
        );
    }
}
