//! Issuers' TSMs, as the token service hands secure-element jobs to them: where each issuer's
//! SP-TSM is reached, with the token service's sealed caller key there.

use crate::db::codec::params;
use crate::db::conn::Conn;
use crate::{SpTsmRecord, StoreError};

/// Registers an issuer's TSM, or replaces the one it had. An unknown issuer is
/// [`StoreError::MissingReference`].
///
/// One statement (an upsert).
pub(crate) fn set_sp_tsm(c: &mut dyn Conn, t: &SpTsmRecord, now: i64) -> Result<(), StoreError> {
    let api_key = t.api_key.to_bytes();
    c.execute(
        "INSERT INTO issuer_sp_tsms (issuer_id, url, api_key, encryption_jwk, aid_prefix, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (issuer_id) DO UPDATE SET url = excluded.url, api_key = excluded.api_key,
               encryption_jwk = excluded.encryption_jwk, aid_prefix = excluded.aid_prefix,
               updated_at = excluded.updated_at",
        params![
            &t.issuer_id,
            &t.url,
            &api_key,
            &t.encryption_jwk,
            &t.aid_prefix,
            now,
        ],
    )?;
    Ok(())
}

/// An issuer's TSM, if it has one. A damaged sealed key is [`StoreError::Corrupt`].
pub(crate) fn sp_tsm(c: &mut dyn Conn, issuer_id: &str) -> Result<Option<SpTsmRecord>, StoreError> {
    let row = c.query_opt(
        "SELECT issuer_id, url, api_key, encryption_jwk, aid_prefix FROM issuer_sp_tsms WHERE issuer_id = $1",
        params![issuer_id],
    )?;
    row.map(|r| {
        Ok(SpTsmRecord {
            issuer_id: r.get("issuer_id")?,
            url: r.get("url")?,
            api_key: r.sealed("api_key")?,
            encryption_jwk: r.get("encryption_jwk")?,
            aid_prefix: r.get("aid_prefix")?,
        })
    })
    .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::test_conn;
    use provisio_tsp::Sealed;

    /// A sealed value in the stored form (version 1, kek id, no wrapped key, nonce, tag,
    /// ciphertext): the store only carries it.
    fn sealed(ciphertext: &[u8]) -> Sealed {
        let mut bytes = vec![1, 3];
        bytes.extend_from_slice(b"kek");
        bytes.push(0);
        bytes.extend_from_slice(&[0; 12]);
        bytes.extend_from_slice(&[0; 16]);
        bytes.extend_from_slice(ciphertext);
        Sealed::from_bytes(&bytes).unwrap()
    }

    fn tsm(issuer_id: &str, url: &str, key: &[u8]) -> SpTsmRecord {
        SpTsmRecord {
            issuer_id: issuer_id.to_owned(),
            url: url.to_owned(),
            api_key: sealed(key),
            encryption_jwk: "{\"kty\":\"EC\"}".to_owned(),
            aid_prefix: "A000000004".to_owned(),
        }
    }

    fn assert_same(found: Option<SpTsmRecord>, want: &SpTsmRecord) {
        let found = found.unwrap();
        assert_eq!(found.issuer_id, want.issuer_id);
        assert_eq!(found.url, want.url);
        assert_eq!(found.api_key, want.api_key);
        assert_eq!(found.encryption_jwk, want.encryption_jwk);
        assert_eq!(found.aid_prefix, want.aid_prefix);
    }

    #[test]
    fn an_issuers_tsm_is_set_read_and_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = test_conn(dir.path());
        let c: &mut dyn Conn = &mut conn;
        c.execute(
            "INSERT INTO issuers (issuer_id, name, signing_kid, signing_jwk, created_at) VALUES ($1, 'Bank', 'k1', '{}', 0)",
            params!["iss1"],
        )
        .unwrap();
        assert!(sp_tsm(c, "iss1").unwrap().is_none());
        let first = tsm("iss1", "https://tsm.bank.example", b"key-one");
        set_sp_tsm(c, &first, 10).unwrap();
        assert_same(sp_tsm(c, "iss1").unwrap(), &first);
        let second = SpTsmRecord {
            encryption_jwk: "{\"kty\":\"EC\",\"crv\":\"P-256\"}".to_owned(),
            aid_prefix: "A000000005".to_owned(),
            ..tsm("iss1", "https://tsm2.bank.example", b"key-two")
        };
        set_sp_tsm(c, &second, 20).unwrap();
        assert_same(sp_tsm(c, "iss1").unwrap(), &second);
        let n = c
            .query_one(
                "SELECT COUNT(*) AS n, MAX(updated_at) AS at FROM issuer_sp_tsms",
                params![],
            )
            .unwrap();
        assert_eq!(
            (n.count("n").unwrap(), n.get::<i64>("at").unwrap()),
            (1, 20)
        );
        assert!(sp_tsm(c, "iss2").unwrap().is_none());
    }

    #[test]
    fn an_unknown_issuer_is_a_missing_reference() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = test_conn(dir.path());
        let c: &mut dyn Conn = &mut conn;
        let refused = set_sp_tsm(c, &tsm("nobody", "https://x.example", b"k"), 10);
        assert!(
            matches!(refused, Err(StoreError::MissingReference)),
            "{refused:?}"
        );
        assert!(sp_tsm(c, "nobody").unwrap().is_none());
    }

    #[test]
    fn a_damaged_sealed_key_is_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = test_conn(dir.path());
        let c: &mut dyn Conn = &mut conn;
        c.execute(
            "INSERT INTO issuers (issuer_id, name, signing_kid, signing_jwk, created_at) VALUES ($1, 'Bank', 'k1', '{}', 0)",
            params!["iss1"],
        )
        .unwrap();
        c.execute(
            "INSERT INTO issuer_sp_tsms (issuer_id, url, api_key, encryption_jwk, aid_prefix, updated_at) VALUES ($1, 'u', $2, '{}', 'A0', 0)",
            params!["iss1", &[9_u8, 9, 9]],
        )
        .unwrap();
        assert!(matches!(sp_tsm(c, "iss1"), Err(StoreError::Corrupt(_))));
    }
}
