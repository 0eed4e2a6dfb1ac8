//! Payment networks and authorisations (docs/protocol.md §16).

use provisio_tsp::{NewAuthorization, PayingToken, Recorded};

use std::collections::HashSet;

use crate::db::codec::{Param, params};
use crate::db::conn::Conn;
use crate::db::participants::{insert_api_key, insert_idempotency};
use crate::db::tokens::status;
use crate::{IdempotencyRecord, NetworkRecord, Role, StoreError};

/// Registers a payment network with its API key hash and the idempotent answer. Runs in a
/// transaction.
pub(crate) fn create_network(
    c: &mut dyn Conn,
    network: &NetworkRecord,
    api_key_hash: &[u8; 32],
    idempotency: Option<&IdempotencyRecord>,
) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO networks (network_id, name, created_at) VALUES ($1, $2, $3)",
        params![&network.network_id, &network.name, network.created_at],
    )?;
    insert_api_key(
        c,
        api_key_hash,
        Role::Network,
        &network.network_id,
        network.created_at,
    )?;
    if let Some(r) = idempotency {
        insert_idempotency(c, r)?;
    }
    Ok(())
}

/// The token a token PAN's keyed hash names, with the highest ATC used for it (read from the
/// unique index of used ATCs).
pub(crate) fn paying_token(
    c: &mut dyn Conn,
    token_pan_hash: &[u8; 32],
) -> Result<Option<PayingToken>, StoreError> {
    c.query_opt(
        "SELECT t.token_ref_id, t.status, t.exp_month, t.exp_year, t.cryptogram_key, t.pan,
                t.card_exp_month, t.card_exp_year, t.account_ref,
                (SELECT max(a.atc) FROM authorizations a
                  WHERE a.token_ref_id = t.token_ref_id AND a.atc_claimed = 1) AS highest_atc
         FROM tokens t WHERE t.token_pan_hash = $1",
        params![token_pan_hash],
    )?
    .map(|r| {
        let month: Option<u8> = r.get("card_exp_month")?;
        let year: Option<u16> = r.get("card_exp_year")?;
        Ok(PayingToken {
            token_ref_id: r.get("token_ref_id")?,
            status: status(&r.get::<String>("status")?)?,
            exp_month: r.get("exp_month")?,
            exp_year: r.get("exp_year")?,
            cryptogram_key: r.sealed("cryptogram_key")?,
            pan: r.sealed("pan")?,
            card_expiry: month.zip(year),
            account_ref: r.get::<Option<String>>("account_ref")?.unwrap_or_default(),
            highest_atc: r.get("highest_atc")?,
        })
    })
    .transpose()
}

/// Records a batch of authorisations in the writer's transaction, and returns for each whether
/// it was recorded as decided or as a replay: an attempt that uses up a (token, ATC) used
/// before, by an earlier batch, another instance or an earlier member of this batch, is
/// recorded `DECLINED` as `atc_replayed` instead (the partial unique index decides).
///
/// The attempts that use up their ATC go in one statement, sorted by token and ATC, so two
/// writers that commit overlapping ones take their locks in the same order and never deadlock;
/// then the others (the refused ones among them) in another.
pub(crate) fn record_authorizations(
    c: &mut dyn Conn,
    batch: &[&NewAuthorization],
) -> Result<Vec<Recorded>, StoreError> {
    let mut claims: Vec<&NewAuthorization> =
        batch.iter().copied().filter(|a| a.claims_atc).collect();
    claims.sort_by(|a, b| (&a.token_ref_id, a.atc).cmp(&(&b.token_ref_id, b.atc)));
    let used: HashSet<String> = if claims.is_empty() {
        HashSet::new()
    } else {
        let sql = format!(
            "{} ON CONFLICT (token_ref_id, atc) WHERE atc_claimed = 1 DO NOTHING RETURNING authorization_id",
            insert_sql(claims.len())
        );
        c.query(&sql, &params_of(&claims))?
            .iter()
            .map(|r| r.get::<String>("authorization_id"))
            .collect::<Result<_, _>>()?
    };
    let replayed: Vec<NewAuthorization> = claims
        .iter()
        .filter(|a| !used.contains(&a.authorization_id))
        .map(|a| a.replayed())
        .collect();
    let rest: Vec<&NewAuthorization> = batch
        .iter()
        .copied()
        .filter(|a| !a.claims_atc)
        .chain(replayed.iter())
        .collect();
    if !rest.is_empty() {
        c.execute(&insert_sql(rest.len()), &params_of(&rest))?;
    }
    Ok(batch
        .iter()
        .map(|a| {
            if a.claims_atc && !used.contains(&a.authorization_id) {
                Recorded::Replayed
            } else {
                Recorded::AsDecided
            }
        })
        .collect())
}

const COLUMNS: usize = 12;

/// `INSERT INTO authorizations (...) VALUES ($1, ..), ..` for `rows` rows.
fn insert_sql(rows: usize) -> String {
    let values: Vec<String> = (0..rows)
        .map(|r| {
            let row: Vec<String> = (1..=COLUMNS)
                .map(|i| format!("${}", r * COLUMNS + i))
                .collect();
            format!("({})", row.join(", "))
        })
        .collect();
    format!(
        "INSERT INTO authorizations (authorization_id, network_id, token_ref_id, atc, decision, reason, atc_claimed, amount_minor, currency, country, channel, created_at) VALUES {}",
        values.join(", ")
    )
}

fn params_of<'a>(rows: &[&'a NewAuthorization]) -> Vec<Param<'a>> {
    let mut out = Vec::with_capacity(rows.len() * COLUMNS);
    for a in rows {
        out.extend([
            Param::from(&a.authorization_id),
            Param::from(&a.network_id),
            Param::from(a.token_ref_id.as_ref()),
            Param::from(a.atc),
            Param::from(a.decision.as_str()),
            Param::from(a.reason.map(|r| r.as_str())),
            Param::from(a.claims_atc),
            Param::from(a.amount_minor),
            Param::from(&a.currency),
            Param::from(&a.country),
            Param::from(a.channel.as_str()),
            Param::from(a.created_at),
        ]);
    }
    out
}
