//! What an issuer set beside its keys (docs/protocol.md §17): its card ranges, its decisioning
//! endpoint, and which issuer a card belongs to (the longest matching range).

use crate::db::codec::{Param, params};
use crate::db::conn::Conn;
use crate::db::participants;
use crate::{Decisioning, IssuerRecord, StoreError};

/// The shortest and longest card range prefix.
const PREFIX_DIGITS: std::ops::RangeInclusive<usize> = 6..=11;

/// Replaces an issuer's card ranges. Runs in a transaction; `false` when the issuer does not
/// exist.
pub(crate) fn replace_bin_ranges(
    c: &mut dyn Conn,
    issuer_id: &str,
    prefixes: &[String],
) -> Result<bool, StoreError> {
    if participants::issuer(c, issuer_id)?.is_none() {
        return Ok(false);
    }
    c.execute(
        "DELETE FROM issuer_bin_ranges WHERE issuer_id = $1",
        params![issuer_id],
    )?;
    participants::insert_bin_ranges(c, issuer_id, prefixes)?;
    Ok(true)
}

/// Sets (or replaces) an issuer's decisioning endpoint; `false` when the issuer does not exist.
pub(crate) fn set_decisioning(
    c: &mut dyn Conn,
    issuer_id: &str,
    decisioning: &Decisioning,
) -> Result<bool, StoreError> {
    let n = c.execute(
        "UPDATE issuers SET decision_url = $1, decision_jwk = $2 WHERE issuer_id = $3",
        params![&decisioning.url, &decisioning.encryption_jwk, issuer_id],
    )?;
    Ok(n == 1)
}

/// Sets whether an issuer's pushes still step up; `false` when the issuer does not exist.
pub(crate) fn set_push_step_up(
    c: &mut dyn Conn,
    issuer_id: &str,
    push_step_up: bool,
) -> Result<bool, StoreError> {
    let n = c.execute(
        "UPDATE issuers SET push_step_up = $1 WHERE issuer_id = $2",
        params![push_step_up, issuer_id],
    )?;
    Ok(n == 1)
}

/// The prefixes of `pan` a card range may be (never the whole number: only these cross to the
/// store's thread).
pub(crate) fn range_prefixes(pan: &str) -> Vec<String> {
    PREFIX_DIGITS
        .filter(|&n| n < pan.len())
        .filter_map(|n| pan.get(..n))
        .map(str::to_owned)
        .collect()
}

/// The issuer of the card range that is the longest of `prefixes` (from [`range_prefixes`]).
pub(crate) fn issuer_of_prefixes(
    c: &mut dyn Conn,
    prefixes: &[String],
) -> Result<Option<IssuerRecord>, StoreError> {
    if prefixes.is_empty() {
        return Ok(None);
    }
    let placeholders: Vec<String> = (1..=prefixes.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "SELECT issuer_id FROM issuer_bin_ranges WHERE prefix IN ({}) ORDER BY length(prefix) DESC LIMIT 1",
        placeholders.join(", ")
    );
    let values: Vec<Param<'_>> = prefixes.iter().map(Param::from).collect();
    let Some(row) = c.query_opt(&sql, &values)? else {
        return Ok(None);
    };
    let issuer_id: String = row.get("issuer_id")?;
    participants::issuer(c, &issuer_id)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::Conflict;

    fn issuer(id: &str, ranges: &[&str]) -> IssuerRecord {
        IssuerRecord {
            issuer_id: id.into(),
            name: id.into(),
            signing_kid: "k".into(),
            signing_jwk: "{}".into(),
            created_at: 0,
            notification_url: None,
            push_step_up: false,
            bin_ranges: ranges.iter().map(|r| (*r).to_owned()).collect(),
            decisioning: None,
        }
    }

    #[test]
    fn the_longest_matching_range_names_the_issuer() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = crate::db::test_conn(dir.path());
        participants::create_issuer(&mut c, &issuer("wide", &["489537"]), &[1; 32], None).unwrap();
        participants::create_issuer(&mut c, &issuer("narrow", &["48953712"]), &[2; 32], None)
            .unwrap();
        let of = |c: &mut dyn Conn, pan: &str| {
            issuer_of_prefixes(c, &range_prefixes(pan))
                .unwrap()
                .map(|i| i.issuer_id)
        };
        assert_eq!(of(&mut c, "4895371234567890").as_deref(), Some("narrow"));
        assert_eq!(of(&mut c, "4895379999999999").as_deref(), Some("wide"));
        assert_eq!(of(&mut c, "5100000000000000"), None);
        // A prefix is one issuer's.
        let taken =
            participants::create_issuer(&mut c, &issuer("other", &["489537"]), &[3; 32], None);
        assert!(matches!(
            taken,
            Err(StoreError::Conflict(Conflict::BinRange))
        ));
        assert!(replace_bin_ranges(&mut c, "wide", &["510000".into()]).unwrap());
        assert_eq!(of(&mut c, "4895379999999999"), None);
        assert_eq!(of(&mut c, "5100001234567890").as_deref(), Some("wide"));
        assert!(!replace_bin_ranges(&mut c, "nobody", &[]).unwrap());
        let d = Decisioning {
            url: "https://bank.example/decide".into(),
            encryption_jwk: "{\"kty\":\"EC\"}".into(),
        };
        assert!(set_decisioning(&mut c, "narrow", &d).unwrap());
        assert_eq!(
            participants::issuer(&mut c, "narrow")
                .unwrap()
                .unwrap()
                .decisioning,
            Some(d)
        );
    }
}
