//! BER-TLV data objects (ISO/IEC 7816-4 section 5.2.2, ISO/IEC 8825-1), as GlobalPlatform uses
//! them: tags of one to three bytes, definite lengths of up to three bytes.
//!
//! Parsing is strict: lengths and tags must use their shortest form, so that every value
//! has exactly one encoding and what parses re-encodes byte for byte. Padding bytes between
//! objects (`00`, `FF`) are refused; GlobalPlatform responses do not use them.

use crate::GpError;

/// A tag of one to three bytes, stored as its big-endian value (`0x9F7F`, `0xBF3E`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tag(pub u32);

/// One data object: a tag and its value. A constructed object's value holds further objects,
/// read with [`Tlv::children`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tlv {
    /// The tag.
    pub tag: Tag,
    /// The value field.
    pub value: Vec<u8>,
}

impl Tag {
    /// Whether the tag marks a constructed object (bit 6 of its first byte).
    pub fn is_constructed(self) -> bool {
        self.bytes().first().is_some_and(|b| b & 0x20 != 0)
    }

    /// The tag's bytes.
    pub fn bytes(self) -> Vec<u8> {
        let all = self.0.to_be_bytes();
        let skip = all.iter().take(3).take_while(|b| **b == 0).count();
        all.get(skip..).unwrap_or_default().to_vec()
    }

    /// Reads one tag from the front of `input`; returns it and the rest.
    fn read(input: &[u8]) -> Result<(Self, &[u8]), GpError> {
        let Some((&first, mut rest)) = input.split_first() else {
            return Err(GpError::Malformed("TLV: missing tag"));
        };
        if first == 0x00 || first == 0xFF {
            return Err(GpError::Malformed(
                "TLV: padding byte where a tag is expected",
            ));
        }
        let mut tag = u32::from(first);
        if first & 0x1F == 0x1F {
            for i in 0.. {
                let Some((&b, r)) = rest.split_first() else {
                    return Err(GpError::Malformed("TLV: truncated tag"));
                };
                if i == 0 && b == 0x80 {
                    return Err(GpError::Malformed("TLV: non-minimal tag"));
                }
                if i == 2 {
                    return Err(GpError::Malformed("TLV: tag longer than 3 bytes"));
                }
                tag = tag << 8 | u32::from(b);
                rest = r;
                if b & 0x80 == 0 {
                    break;
                }
            }
        }
        Ok((Self(tag), rest))
    }
}

impl Tlv {
    /// A data object.
    pub fn new(tag: u32, value: Vec<u8>) -> Self {
        Self {
            tag: Tag(tag),
            value,
        }
    }

    /// Parses a sequence of data objects that fills `input` exactly.
    pub fn parse_all(mut input: &[u8]) -> Result<Vec<Self>, GpError> {
        let mut out = Vec::new();
        while !input.is_empty() {
            let (tlv, rest) = Self::read(input)?;
            out.push(tlv);
            input = rest;
        }
        Ok(out)
    }

    /// Parses exactly one data object filling `input`.
    pub fn parse_one(input: &[u8]) -> Result<Self, GpError> {
        match Self::read(input)? {
            (tlv, []) => Ok(tlv),
            _ => Err(GpError::Malformed("TLV: trailing bytes")),
        }
    }

    /// The objects inside a constructed object.
    pub fn children(&self) -> Result<Vec<Self>, GpError> {
        if !self.tag.is_constructed() {
            return Err(GpError::Malformed("TLV: primitive object has no children"));
        }
        Self::parse_all(&self.value)
    }

    /// The first object with `tag` in `list`.
    pub fn find(list: &[Self], tag: u32) -> Option<&Self> {
        list.iter().find(|t| t.tag == Tag(tag))
    }

    /// Appends the encoding to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.tag.bytes());
        out.extend_from_slice(&encode_length(self.value.len()));
        out.extend_from_slice(&self.value);
    }

    /// The encoding.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.value.len() + 6);
        self.encode_into(&mut out);
        out
    }

    fn read(input: &[u8]) -> Result<(Self, &[u8]), GpError> {
        let (tag, rest) = Tag::read(input)?;
        let (len, rest) = read_length(rest)?;
        if rest.len() < len {
            return Err(GpError::Malformed("TLV: value shorter than its length"));
        }
        let (value, rest) = rest.split_at(len);
        Ok((
            Self {
                tag,
                value: value.to_vec(),
            },
            rest,
        ))
    }
}

/// The BER length field for `len` (at most 3 length bytes after `83`).
pub fn encode_length(len: usize) -> Vec<u8> {
    match len {
        0..=0x7F => vec![len as u8],
        0x80..=0xFF => vec![0x81, len as u8],
        0x100..=0xFFFF => vec![0x82, (len >> 8) as u8, len as u8],
        _ => vec![0x83, (len >> 16) as u8, (len >> 8) as u8, len as u8],
    }
}

fn read_length(input: &[u8]) -> Result<(usize, &[u8]), GpError> {
    let Some((&first, rest)) = input.split_first() else {
        return Err(GpError::Malformed("TLV: missing length"));
    };
    if first < 0x80 {
        return Ok((usize::from(first), rest));
    }
    let n = usize::from(first & 0x7F);
    if !(1..=3).contains(&n) {
        return Err(GpError::Malformed("TLV: unsupported length form"));
    }
    let Some(bytes) = rest.get(..n) else {
        return Err(GpError::Malformed("TLV: truncated length"));
    };
    let len = bytes
        .iter()
        .fold(0usize, |acc, b| acc << 8 | usize::from(*b));
    let min = if n == 1 { 0x80 } else { 1 << (8 * (n - 1)) };
    if len < min {
        return Err(GpError::Malformed("TLV: non-minimal length"));
    }
    Ok((len, rest.get(n..).unwrap_or_default()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use proptest::prelude::*;

    use super::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s).unwrap()
    }

    #[test]
    fn multi_byte_tags_and_lengths() {
        // GET STATUS response entry (GPC 11.4.3.2): E3 { 4F AID, 9F70 state, C5 privileges }.
        let entry = h("E3134F08A0000001510000009F700107C5039EFE80");
        let e3 = Tlv::parse_one(&entry).unwrap();
        assert_eq!(e3.tag, Tag(0xE3));
        let kids = e3.children().unwrap();
        assert_eq!(Tlv::find(&kids, 0x9F70).unwrap().value, vec![0x07]);
        assert_eq!(Tlv::find(&kids, 0xC5).unwrap().value, h("9EFE80"));
        assert_eq!(e3.encode(), entry);
        let long = Tlv::new(0xBF3E, vec![0x55; 300]);
        let wire = long.encode();
        assert_eq!(&wire[..5], &h("BF3E82012C"));
        assert_eq!(Tlv::parse_one(&wire).unwrap(), long);
        assert_eq!(Tag(0x5F_A0_01).bytes(), h("5FA001"));
    }

    #[test]
    fn refuses_malformed() {
        for bad in [
            "4F05A000",   // value shorter than length
            "4F8105AA",   // non-minimal length
            "4F800101",   // indefinite length
            "9F",         // truncated tag
            "9F8001AA",   // non-minimal tag
            "5FFFFF0100", // 4-byte tag
            "004F00",     // padding
            "4F",         // missing length
        ] {
            assert!(Tlv::parse_all(&h(bad)).is_err(), "{bad}");
        }
        assert!(Tlv::parse_one(&h("4F00AA")).is_err(), "trailing");
        assert!(Tlv::new(0x4F, vec![]).children().is_err(), "primitive");
    }

    proptest! {
        #[test]
        fn never_panics_and_reencodes_exactly(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            if let Ok(list) = Tlv::parse_all(&bytes) {
                let mut out = Vec::new();
                for t in &list {
                    t.encode_into(&mut out);
                }
                prop_assert_eq!(out, bytes);
            }
        }

        #[test]
        fn round_trips(tag in prop_oneof![0x40u32..0x5F, 0x9F01u32..0x9F7F, 0x5F8101u32..0x5F8170],
                       value in proptest::collection::vec(any::<u8>(), 0..400)) {
            let tlv = Tlv::new(tag, value);
            prop_assert_eq!(Tlv::parse_one(&tlv.encode()).unwrap(), tlv);
        }
    }
}
