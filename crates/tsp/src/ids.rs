//! Random identifiers.

use provisio_crypto::{CryptoError, CryptoProvider};

/// `prefix` followed by 128 random bits in base64url: unguessable, URL-safe ids.
pub fn random_id(crypto: &dyn CryptoProvider, prefix: &str) -> Result<String, CryptoError> {
    let mut bytes = [0u8; 16];
    crypto.fill_random(&mut bytes)?;
    Ok(format!("{prefix}{}", provisio_jose::b64_encode(&bytes)))
}

/// Like [`random_id`], with the creation second in front (8 hex digits, which sort as the
/// numbers do): as unguessable, but a new id lands at the end of a B-tree index instead of on
/// a random page. With a million rows, random keys cost every insert a page read and a page
/// write per index; these cost an append.
pub fn ordered_id(
    crypto: &dyn CryptoProvider,
    prefix: &str,
    now: i64,
) -> Result<String, CryptoError> {
    let second = u32::try_from(now.max(0)).unwrap_or(u32::MAX);
    random_id(crypto, &format!("{prefix}{second:08x}"))
}

#[cfg(test)]
mod tests {
    use super::ordered_id;
    use provisio_crypto::AwsLcProvider;

    #[test]
    fn ordered_ids_sort_by_creation_second_and_stay_unique() {
        let crypto = AwsLcProvider::new();
        let early = ordered_id(&crypto, "pv_", 0x0fff_ffff).unwrap();
        let late = ordered_id(&crypto, "pv_", 0x1000_0000).unwrap();
        assert!(early < late, "{early} {late}");
        assert_eq!(late.len(), "pv_".len() + 8 + 22);
        let again = ordered_id(&crypto, "pv_", 0x1000_0000).unwrap();
        assert_ne!(late, again);
    }
}
