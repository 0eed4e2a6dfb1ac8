//! The SCP03 key derivation function: NIST SP 800-108 in counter mode with AES-CMAC as the
//! PRF, laid out as GPC Amendment D section 4.1.5 specifies.
//!
//! ```text
//!  input to each PRF call (Amendment D table 4-1):
//!    label                 11 bytes 00 ‖ 1-byte derivation constant
//!    separation indicator  00
//!    L                     2 bytes, length of the derived data in bits
//!    i                     1-byte counter, from 01
//!    context               host challenge ‖ card challenge (or counter ‖ AID)
//! ```

use provisio_crypto::AesKey;

/// Derivation constants, Amendment D table 4-1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Constant {
    /// Card cryptogram.
    CardCryptogram = 0x00,
    /// Host cryptogram.
    HostCryptogram = 0x01,
    /// Pseudo-random card challenge.
    CardChallenge = 0x02,
    /// S-ENC.
    SEnc = 0x04,
    /// S-MAC.
    SMac = 0x06,
    /// S-RMAC.
    SRMac = 0x07,
}

/// Derives `bits` bits (a multiple of 8, at most 255 blocks) from `key`.
pub fn derive(key: &AesKey, constant: Constant, context: &[u8], bits: u16) -> Vec<u8> {
    let mut fixed = [0u8; 16];
    // label (12 bytes: 11 zeros and the constant), separation indicator, L, i.
    fixed[11] = constant as u8;
    fixed[13..15].copy_from_slice(&bits.to_be_bytes());
    let bytes = usize::from(bits / 8);
    let mut out = Vec::with_capacity(bytes + 16);
    let mut i: u8 = 1;
    while out.len() < bytes {
        fixed[15] = i;
        out.extend_from_slice(&key.cmac(&[&fixed, context]));
        i = i.wrapping_add(1);
    }
    out.truncate(bytes);
    out
}

/// Derives a 64-bit value (a cryptogram or a card challenge in S8 mode).
pub fn derive8(key: &AesKey, constant: Constant, context: &[u8]) -> [u8; 8] {
    let mut out = [0u8; 8];
    out.copy_from_slice(&derive(key, constant, context, 64));
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// The SP 800-108 shape: each PRF block is CMAC(key, fixed input ‖ context), with the
    /// counter in the byte Amendment D puts it, and L counted in bits.
    #[test]
    fn counter_mode_shape() {
        let key = AesKey::from_bytes(&[0x40; 16]).unwrap();
        let ctx = [1u8, 2, 3];
        let out = derive(&key, Constant::SEnc, &ctx, 256);
        let block = |i: u8| {
            let mut input = vec![0u8; 11];
            input.extend_from_slice(&[0x04, 0x00, 0x01, 0x00, i]);
            input.extend_from_slice(&ctx);
            key.cmac(&[&input]).to_vec()
        };
        assert_eq!(out, [block(1), block(2)].concat());
        // 192 bits: the first block and half of the second, and L changes the input.
        let out192 = derive(&key, Constant::SEnc, &ctx, 192);
        assert_eq!(out192.len(), 24);
        assert_ne!(out192[..16], out[..16]);
        assert_eq!(derive8(&key, Constant::CardCryptogram, &ctx).len(), 8);
    }
}
