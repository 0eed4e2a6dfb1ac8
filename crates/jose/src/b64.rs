//! base64url without padding (RFC 7515 section 2, "Base64url Encoding").

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::JoseError;

/// Encodes `bytes` as base64url without padding.
pub fn b64_encode(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes base64url without padding. Padding, other alphabets, white space and non-zero
/// trailing bits are all refused, so every encoded form has exactly one decoding and a changed
/// character is always a changed value.
pub fn b64_decode(s: &str) -> Result<Vec<u8>, JoseError> {
    URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|_| JoseError::Malformed("invalid base64url"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict() {
        assert_eq!(b64_decode("QWxpY2U").unwrap(), b"Alice");
        assert!(b64_decode("QWxpY2U=").is_err());
        assert!(b64_decode("QWxpY2V").is_err(), "non-zero trailing bits");
        assert!(b64_decode("QW+pY2U").is_err());
        assert!(b64_decode("QWxp Y2U").is_err());
        assert_eq!(b64_encode(b"Bob"), "Qm9i");
    }
}
