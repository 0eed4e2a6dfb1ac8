//! The token service's keys and its participants: stored keys, API keys (hashed), issuers,
//! token requestors, and the idempotent answers of their creating requests.

use provisio_tsp::{KeyKind, StoredKey};

use crate::db::codec::{Row, params};
use crate::db::conn::Conn;
use crate::{
    Decisioning, IdempotencyRecord, IssuerRecord, Principal, Role, StoreError, TokenRequestorRecord,
};

/// Every stored key of the token service.
pub(crate) fn load_keys(c: &mut dyn Conn) -> Result<Vec<StoredKey>, StoreError> {
    c.query("SELECT kid, kind, sealed, created_at FROM keys", params![])?
        .iter()
        .map(|r| {
            let kind: String = r.get("kind")?;
            Ok(StoredKey {
                kid: r.get("kid")?,
                kind: KeyKind::parse(&kind)
                    .ok_or_else(|| StoreError::Corrupt(format!("key kind {kind}")))?,
                sealed: r.get("sealed")?,
                created_at: r.get("created_at")?,
            })
        })
        .collect()
}

/// Stores `keys` as the initial key set unless one exists (another instance may have made it
/// first). Runs in a transaction: the claim and the keys commit together.
pub(crate) fn init_keys(c: &mut dyn Conn, keys: &[StoredKey]) -> Result<(), StoreError> {
    let claimed = c.execute(
        "INSERT INTO meta (name, value) VALUES ('keyset', 'initialized') ON CONFLICT (name) DO NOTHING",
        params![],
    )? == 1;
    if claimed {
        for k in keys {
            c.execute(
                "INSERT INTO keys (kid, kind, sealed, created_at) VALUES ($1, $2, $3, $4)",
                params![&k.kid, k.kind.as_str(), &k.sealed, k.created_at],
            )?;
        }
    }
    Ok(())
}

/// Registers an admin API key (its hash) unless it is registered already.
pub(crate) fn ensure_admin_key(
    c: &mut dyn Conn,
    key_hash: &[u8; 32],
    now: i64,
) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO api_keys (key_hash, role, principal_id, created_at) VALUES ($1, 'admin', 'admin', $2) ON CONFLICT (key_hash) DO NOTHING",
        params![key_hash, now],
    )?;
    Ok(())
}

/// Who holds the API key with this hash.
pub(crate) fn principal(
    c: &mut dyn Conn,
    key_hash: &[u8; 32],
) -> Result<Option<Principal>, StoreError> {
    c.query_opt(
        "SELECT k.role, k.principal_id, t.wallet_accounts FROM api_keys k
         LEFT JOIN token_requestors t ON k.role = 'token_requestor' AND t.token_requestor_id = k.principal_id
         WHERE k.key_hash = $1",
        params![key_hash],
    )?
    .map(|r| {
        let role: String = r.get("role")?;
        Ok(Principal {
            role: Role::parse(&role).ok_or_else(|| StoreError::Corrupt(format!("role {role}")))?,
            id: r.get("principal_id")?,
            hosted_accounts: r
                .get::<Option<String>>("wallet_accounts")?
                .is_some_and(|w| w == "hosted"),
        })
    })
    .transpose()
}

/// An API key's hash for a principal.
pub(crate) fn insert_api_key(
    c: &mut dyn Conn,
    hash: &[u8; 32],
    role: Role,
    id: &str,
    now: i64,
) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO api_keys (key_hash, role, principal_id, created_at) VALUES ($1, $2, $3, $4)",
        params![hash, role.as_str(), id, now],
    )?;
    Ok(())
}

/// The first answer to a request with an `Idempotency-Key`.
pub(crate) fn insert_idempotency(
    c: &mut dyn Conn,
    r: &IdempotencyRecord,
) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO idempotency (principal, idem_key, request_hash, status, body, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        params![&r.principal, &r.key, &r.request_hash, r.status, &r.body, r.created_at],
    )?;
    Ok(())
}

/// The stored answer for an idempotency key of a principal.
pub(crate) fn idempotency(
    c: &mut dyn Conn,
    principal: &str,
    key: &str,
) -> Result<Option<IdempotencyRecord>, StoreError> {
    c.query_opt(
        "SELECT request_hash, status, body, created_at FROM idempotency WHERE principal = $1 AND idem_key = $2",
        params![principal, key],
    )?
    .map(|r| {
        Ok(IdempotencyRecord {
            principal: principal.to_owned(),
            key: key.to_owned(),
            request_hash: r.get("request_hash")?,
            status: r.get("status")?,
            body: r.get("body")?,
            created_at: r.get("created_at")?,
        })
    })
    .transpose()
}

/// Registers an issuer with its API key hash and the idempotent answer. Runs in a
/// transaction.
pub(crate) fn create_issuer(
    c: &mut dyn Conn,
    issuer: &IssuerRecord,
    api_key_hash: &[u8; 32],
    idempotency: Option<&IdempotencyRecord>,
) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO issuers (issuer_id, name, signing_kid, signing_jwk, created_at, notification_url, push_step_up, decision_url, decision_jwk) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        params![
            &issuer.issuer_id,
            &issuer.name,
            &issuer.signing_kid,
            &issuer.signing_jwk,
            issuer.created_at,
            issuer.notification_url.as_ref(),
            issuer.push_step_up,
            issuer.decisioning.as_ref().map(|d| &d.url),
            issuer.decisioning.as_ref().map(|d| &d.encryption_jwk)
        ],
    )?;
    insert_bin_ranges(c, &issuer.issuer_id, &issuer.bin_ranges)?;
    insert_api_key(
        c,
        api_key_hash,
        Role::Issuer,
        &issuer.issuer_id,
        issuer.created_at,
    )?;
    if let Some(r) = idempotency {
        insert_idempotency(c, r)?;
    }
    Ok(())
}

/// An issuer by id.
pub(crate) fn issuer(
    c: &mut dyn Conn,
    issuer_id: &str,
) -> Result<Option<IssuerRecord>, StoreError> {
    let Some(row) = c.query_opt(
        "SELECT issuer_id, name, signing_kid, signing_jwk, created_at, notification_url, push_step_up, decision_url, decision_jwk FROM issuers WHERE issuer_id = $1",
        params![issuer_id],
    )?
    else {
        return Ok(None);
    };
    let mut issuer = issuer_row(&row)?;
    issuer.bin_ranges = bin_ranges(c, issuer_id)?;
    Ok(Some(issuer))
}

/// Adds an issuer's card ranges; a prefix another issuer holds is
/// [`crate::Conflict::BinRange`].
pub(crate) fn insert_bin_ranges(
    c: &mut dyn Conn,
    issuer_id: &str,
    prefixes: &[String],
) -> Result<(), StoreError> {
    for prefix in prefixes {
        c.execute(
            "INSERT INTO issuer_bin_ranges (prefix, issuer_id) VALUES ($1, $2)",
            params![prefix, issuer_id],
        )?;
    }
    Ok(())
}

/// An issuer's card ranges, in order.
pub(crate) fn bin_ranges(c: &mut dyn Conn, issuer_id: &str) -> Result<Vec<String>, StoreError> {
    c.query(
        "SELECT prefix FROM issuer_bin_ranges WHERE issuer_id = $1 ORDER BY prefix",
        params![issuer_id],
    )?
    .iter()
    .map(|r| r.get("prefix"))
    .collect()
}

/// An issuer's row, without its card ranges.
fn issuer_row(r: &Row) -> Result<IssuerRecord, StoreError> {
    let url: Option<String> = r.get("decision_url")?;
    let jwk: Option<String> = r.get("decision_jwk")?;
    Ok(IssuerRecord {
        issuer_id: r.get("issuer_id")?,
        name: r.get("name")?,
        signing_kid: r.get("signing_kid")?,
        signing_jwk: r.get("signing_jwk")?,
        notification_url: r.get("notification_url")?,
        created_at: r.get("created_at")?,
        push_step_up: r.get("push_step_up")?,
        bin_ranges: Vec::new(),
        decisioning: url.zip(jwk).map(|(url, encryption_jwk)| Decisioning {
            url,
            encryption_jwk,
        }),
    })
}

/// Registers a token requestor with its API key hash and the idempotent answer. Runs in a
/// transaction.
pub(crate) fn create_token_requestor(
    c: &mut dyn Conn,
    requestor: &TokenRequestorRecord,
    api_key_hash: &[u8; 32],
    idempotency: Option<&IdempotencyRecord>,
) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO token_requestors (token_requestor_id, name, wallet_accounts, created_at, notification_url) VALUES ($1, $2, $3, $4, $5)",
        params![
            &requestor.token_requestor_id,
            &requestor.name,
            &requestor.wallet_accounts,
            requestor.created_at,
            requestor.notification_url.as_ref()
        ],
    )?;
    insert_api_key(
        c,
        api_key_hash,
        Role::TokenRequestor,
        &requestor.token_requestor_id,
        requestor.created_at,
    )?;
    if let Some(r) = idempotency {
        insert_idempotency(c, r)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Conflict;

    #[test]
    fn participants_round_trip_and_ids_are_unique() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = crate::db::test_conn(dir.path());
        let issuer = IssuerRecord {
            issuer_id: "bank-a".into(),
            name: "Bank A".into(),
            signing_kid: "k1".into(),
            signing_jwk: "{}".into(),
            created_at: 5,
            notification_url: Some("https://bank-a.example/events".into()),
            push_step_up: true,
            bin_ranges: vec!["489537".into(), "4895371".into()],
            decisioning: Some(Decisioning {
                url: "https://bank-a.example/decide".into(),
                encryption_jwk: "{}".into(),
            }),
        };
        create_issuer(&mut c, &issuer, &[1; 32], None).unwrap();
        assert_eq!(issuer_row_of(&mut c), issuer);
        let p = principal(&mut c, &[1; 32]).unwrap().unwrap();
        assert_eq!((p.role, p.id.as_str()), (Role::Issuer, "bank-a"));
        assert!(matches!(
            create_issuer(&mut c, &issuer, &[2; 32], None),
            Err(StoreError::Conflict(Conflict::IssuerId))
        ));
        let idem = IdempotencyRecord {
            principal: "admin".into(),
            key: "k".into(),
            request_hash: [3; 32],
            status: 201,
            body: "{}".into(),
            created_at: 9,
        };
        insert_idempotency(&mut c, &idem).unwrap();
        assert_eq!(
            idempotency(&mut c, "admin", "k").unwrap().unwrap().status,
            201
        );
        assert!(matches!(
            insert_idempotency(&mut c, &idem),
            Err(StoreError::Conflict(Conflict::IdempotencyKey))
        ));
        ensure_admin_key(&mut c, &[9; 32], 1).unwrap();
        ensure_admin_key(&mut c, &[9; 32], 2).unwrap();
        assert_eq!(
            principal(&mut c, &[9; 32]).unwrap().unwrap().role,
            Role::Admin
        );
    }

    fn issuer_row_of(c: &mut dyn Conn) -> IssuerRecord {
        issuer(c, "bank-a").unwrap().unwrap()
    }
}
