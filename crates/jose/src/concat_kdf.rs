//! The Concat KDF of NIST SP 800-56A section 5.8.1, as profiled for ECDH-ES by RFC 7518
//! section 4.6.2.

use provisio_crypto::{CryptoProvider, SecretBytes};

/// Derives `key_len` bytes from the ECDH shared secret `z`.
///
/// `OtherInfo` is `AlgorithmID || PartyUInfo || PartyVInfo || SuppPubInfo`, each of the first
/// three a 32-bit big-endian length followed by the bytes, and `SuppPubInfo` the key length in
/// bits as a 32-bit big-endian integer (RFC 7518 section 4.6.2). `algorithm_id` is the `enc`
/// value for direct `ECDH-ES` and the `alg` value for the key-wrapping modes.
pub fn concat_kdf(
    crypto: &dyn CryptoProvider,
    z: &[u8],
    algorithm_id: &str,
    apu: &[u8],
    apv: &[u8],
    key_len: usize,
) -> SecretBytes {
    let mut other_info = Vec::with_capacity(16 + algorithm_id.len() + apu.len() + apv.len());
    for part in [algorithm_id.as_bytes(), apu, apv] {
        other_info.extend_from_slice(&len32(part.len()).to_be_bytes());
        other_info.extend_from_slice(part);
    }
    other_info.extend_from_slice(&len32(key_len * 8).to_be_bytes());

    let mut out = Vec::with_capacity(key_len + 32);
    let mut counter: u32 = 1;
    while out.len() < key_len {
        let round = crypto.sha256(&[&counter.to_be_bytes(), z, &other_info]);
        out.extend_from_slice(&round);
        counter += 1;
    }
    out.truncate(key_len);
    SecretBytes::new(out)
}

fn len32(n: usize) -> u32 {
    // Header members are bounded far below 4 GiB by the request size limit.
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use provisio_crypto::{AwsLcProvider, EcKeyPair, EcPublicKey};

    use super::*;
    use crate::b64_decode;

    /// RFC 7518 appendix C: Alice's ephemeral key, Bob's static key, `apu` "Alice", `apv`
    /// "Bob", `enc` A128GCM; the derived key is `VqqN6vgjbSBcIijNcacQGg`.
    #[test]
    fn rfc7518_appendix_c() {
        let p = AwsLcProvider::new();
        let bob = EcKeyPair::from_private_scalar(
            &b64_decode("VEmDZpDXXK8p8N0Cndsxs924q6nS1RXFASRl6BfUqdw").unwrap(),
        )
        .unwrap();
        let alice_pub = EcPublicKey::from_coordinates(
            &b64_decode("gI0GAILBdu7T53akrFmMyGcsF3n5dO7MmwNBHKW5SV0").unwrap(),
            &b64_decode("SLW_xSffzlPWrHEVI30DHM_4egVwt3NQqeUD7nMFpps").unwrap(),
        )
        .unwrap();
        let z = p.ecdh(&bob, &alice_pub).unwrap();
        let key = concat_kdf(&p, z.expose(), "A128GCM", b"Alice", b"Bob", 16);
        assert_eq!(crate::b64_encode(key.expose()), "VqqN6vgjbSBcIijNcacQGg");
        // Bob's published public key matches his private key.
        assert_eq!(
            crate::b64_encode(bob.public_key().x()),
            "weNJy2HscCSM6AEDTDg04biOvhFhyyWvOHQfeF_PxMQ"
        );
    }

    #[test]
    fn longer_keys_use_more_rounds() {
        let p = AwsLcProvider::new();
        let a = concat_kdf(&p, &[1; 32], "X", b"", b"", 48);
        let b = concat_kdf(&p, &[1; 32], "X", b"", b"", 32);
        assert_eq!(a.len(), 48);
        assert_ne!(
            &a.expose()[..32],
            b.expose(),
            "SuppPubInfo differs with the length"
        );
    }
}
