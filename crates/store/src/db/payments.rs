//! Payment networks and authorisations (docs/protocol.md §16).

use provisio_tsp::payment_wire::AuthorizationDecision;
use provisio_tsp::{NewAuthorization, PayingToken};

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

/// The token a token PAN's keyed hash names, with the highest ATC approved for it (read from
/// the approvals' unique index).
pub(crate) fn paying_token(
    c: &mut dyn Conn,
    token_pan_hash: &[u8; 32],
) -> Result<Option<PayingToken>, StoreError> {
    c.query_opt(
        "SELECT t.token_ref_id, t.status, t.exp_month, t.exp_year, t.cryptogram_key, t.pan,
                t.card_exp_month, t.card_exp_year, t.account_ref,
                (SELECT max(a.atc) FROM authorizations a
                  WHERE a.token_ref_id = t.token_ref_id AND a.decision = 'APPROVED') AS highest_atc
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

/// Records a batch of authorisations in the writer's transaction, and returns each one's
/// decision as recorded: an approval of a (token, ATC) approved before, by an earlier batch,
/// another instance or an earlier member of this batch, is recorded `DECLINED` as
/// `atc_replayed` instead (the partial unique index decides).
///
/// The approvals go in one statement, sorted by token and ATC, so two writers that commit
/// overlapping approvals take their locks in the same order and never deadlock; then the
/// declines (the refused approvals among them) in another.
pub(crate) fn record_authorizations(
    c: &mut dyn Conn,
    batch: &[&NewAuthorization],
) -> Result<Vec<AuthorizationDecision>, StoreError> {
    let mut approvals: Vec<&NewAuthorization> = batch
        .iter()
        .copied()
        .filter(|a| a.decision == AuthorizationDecision::Approved)
        .collect();
    approvals.sort_by(|a, b| (&a.token_ref_id, a.atc).cmp(&(&b.token_ref_id, b.atc)));
    let approved: HashSet<String> = if approvals.is_empty() {
        HashSet::new()
    } else {
        let sql = format!(
            "{} ON CONFLICT (token_ref_id, atc) WHERE decision = 'APPROVED' DO NOTHING RETURNING authorization_id",
            insert_sql(approvals.len())
        );
        c.query(&sql, &params_of(&approvals))?
            .iter()
            .map(|r| r.get::<String>("authorization_id"))
            .collect::<Result<_, _>>()?
    };
    let replayed: Vec<NewAuthorization> = approvals
        .iter()
        .filter(|a| !approved.contains(&a.authorization_id))
        .map(|a| a.replayed())
        .collect();
    let declines: Vec<&NewAuthorization> = batch
        .iter()
        .copied()
        .filter(|a| a.decision == AuthorizationDecision::Declined)
        .chain(replayed.iter())
        .collect();
    if !declines.is_empty() {
        c.execute(&insert_sql(declines.len()), &params_of(&declines))?;
    }
    Ok(batch
        .iter()
        .map(|a| {
            if approved.contains(&a.authorization_id) {
                AuthorizationDecision::Approved
            } else {
                AuthorizationDecision::Declined
            }
        })
        .collect())
}

const COLUMNS: usize = 11;

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
        "INSERT INTO authorizations (authorization_id, network_id, token_ref_id, atc, decision, reason, amount_minor, currency, country, channel, created_at) VALUES {}",
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
            Param::from(a.amount_minor),
            Param::from(&a.currency),
            Param::from(&a.country),
            Param::from(a.channel.as_str()),
            Param::from(a.created_at),
        ]);
    }
    out
}
