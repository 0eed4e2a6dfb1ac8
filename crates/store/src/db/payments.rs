//! Payment networks and authorisations (docs/protocol.md §16).

use provisio_tsp::payment_wire::AuthorizationDecision;
use provisio_tsp::{NewAuthorization, PayingToken};

use crate::db::codec::params;
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

/// Records an authorisation. An approval of a (token, ATC) approved before is refused by the
/// unique index and recorded declined as `atc_replayed` instead; the decision recorded is
/// returned.
pub(crate) fn record_authorization(
    c: &mut dyn Conn,
    a: &NewAuthorization,
) -> Result<AuthorizationDecision, StoreError> {
    if a.decision == AuthorizationDecision::Approved {
        let inserted = insert(
            c,
            a,
            " ON CONFLICT (token_ref_id, atc) WHERE decision = 'APPROVED' DO NOTHING",
        )?;
        if inserted {
            return Ok(AuthorizationDecision::Approved);
        }
        insert(c, &a.replayed(), "")?;
        return Ok(AuthorizationDecision::Declined);
    }
    insert(c, a, "")?;
    Ok(AuthorizationDecision::Declined)
}

fn insert(c: &mut dyn Conn, a: &NewAuthorization, on_conflict: &str) -> Result<bool, StoreError> {
    let sql = format!(
        "INSERT INTO authorizations (authorization_id, network_id, token_ref_id, atc, decision, reason, amount_minor, currency, country, channel, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11){on_conflict}"
    );
    let n = c.execute(
        &sql,
        params![
            &a.authorization_id,
            &a.network_id,
            a.token_ref_id.as_ref(),
            a.atc,
            a.decision.as_str(),
            a.reason.map(|r| r.as_str()),
            a.amount_minor,
            &a.currency,
            &a.country,
            a.channel.as_str(),
            a.created_at
        ],
    )?;
    Ok(n == 1)
}
