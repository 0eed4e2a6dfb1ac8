//! INITIALIZE UPDATE (GPC 2.3 section 11.7, Amendment D section 7.1).
//!
//! ```text
//!  command   80 50 KVN 00 08 ‖ host challenge (8) ‖ 00
//!  response  key diversification data (10) ‖ key information (3: KVN, 03, i)
//!            ‖ card challenge (8) ‖ card cryptogram (8) ‖ [sequence counter (3)]
//! ```

use crate::{Command, GpError};

/// INS of INITIALIZE UPDATE.
pub const INS_INITIALIZE_UPDATE: u8 = 0x50;

/// The "i" parameter bits (Amendment D 5.1, table 5-1).
pub mod i_param {
    /// S16 mode (16-byte challenges and cryptograms) instead of S8.
    pub const S16: u8 = 0x01;
    /// Pseudo-random card challenge, from the sequence counter.
    pub const PSEUDO_RANDOM: u8 = 0x10;
    /// R-MAC supported.
    pub const R_MAC: u8 = 0x20;
    /// R-ENCRYPTION supported.
    pub const R_ENC: u8 = 0x40;
}

/// The INITIALIZE UPDATE command for key version `kvn` (`00`: the card's default key set).
pub(crate) fn command(kvn: u8, host_challenge: &[u8; 8]) -> Command {
    Command::new(0x80, INS_INITIALIZE_UPDATE, kvn, 0x00)
        .with_data(host_challenge.to_vec())
        .with_ne(256)
}

/// The host challenge and key version from an INITIALIZE UPDATE command, as the card reads it.
pub fn parse_command(cmd: &Command) -> Result<(u8, [u8; 8]), GpError> {
    if cmd.cla & 0xFC != 0x80 || cmd.ins != INS_INITIALIZE_UPDATE || cmd.p2 != 0 {
        return Err(GpError::Malformed("INITIALIZE UPDATE header"));
    }
    let challenge = <[u8; 8]>::try_from(cmd.data.as_slice())
        .map_err(|_| GpError::Malformed("INITIALIZE UPDATE host challenge is not 8 bytes"))?;
    Ok((cmd.p1, challenge))
}

/// The card's answer to INITIALIZE UPDATE, in S8 mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitUpdateResponse {
    /// Key diversification data (card-specific, opaque to SCP03).
    pub diversification: [u8; 10],
    /// The key version the card used.
    pub kvn: u8,
    /// The "i" parameter ([`i_param`]).
    pub i: u8,
    /// The card challenge.
    pub card_challenge: [u8; 8],
    /// The card cryptogram.
    pub card_cryptogram: [u8; 8],
    /// The sequence counter, present when the challenge is pseudo-random.
    pub sequence_counter: Option<u32>,
}

impl InitUpdateResponse {
    /// Parses the response data (without the status word).
    pub fn parse(data: &[u8]) -> Result<Self, GpError> {
        let scp = data.get(11).copied();
        let i = data.get(12).copied().unwrap_or(0);
        match scp {
            Some(0x03) => {}
            Some(other) => return Err(GpError::UnsupportedProtocol(other)),
            None => return Err(GpError::Malformed("INITIALIZE UPDATE response length")),
        }
        if i & i_param::S16 != 0 {
            return Err(GpError::UnsupportedOption("S16 mode"));
        }
        let (fixed, counter) = match data.len() {
            29 | 32 => data.split_at(29),
            _ => return Err(GpError::Malformed("INITIALIZE UPDATE response length")),
        };
        let sequence_counter = match counter {
            [a, b, c] => Some(u32::from_be_bytes([0, *a, *b, *c])),
            _ => None,
        };
        if (i & i_param::PSEUDO_RANDOM != 0) != sequence_counter.is_some() {
            return Err(GpError::Malformed(
                "sequence counter present iff the challenge is pseudo-random",
            ));
        }
        // `fixed` is exactly 29 bytes, so every range below is inside it.
        let take = |r: std::ops::Range<usize>| fixed.get(r).unwrap_or_default();
        let arr8 = |r| <[u8; 8]>::try_from(take(r)).unwrap_or_default();
        Ok(Self {
            diversification: <[u8; 10]>::try_from(take(0..10)).unwrap_or_default(),
            kvn: fixed.get(10).copied().unwrap_or(0),
            i,
            card_challenge: arr8(13..21),
            card_cryptogram: arr8(21..29),
            sequence_counter,
        })
    }

    /// The response data.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(32);
        out.extend_from_slice(&self.diversification);
        out.extend_from_slice(&[self.kvn, 0x03, self.i]);
        out.extend_from_slice(&self.card_challenge);
        out.extend_from_slice(&self.card_cryptogram);
        if let Some(c) = self.sequence_counter {
            out.extend_from_slice(&c.to_be_bytes()[1..]);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn parses_s8_with_counter_and_refuses_others() {
        let data = hex::decode("000000000000000000003003703eb51047495b249f66c484c1d2ef1948000002")
            .unwrap();
        let r = InitUpdateResponse::parse(&data).unwrap();
        assert_eq!((r.kvn, r.i, r.sequence_counter), (0x30, 0x70, Some(2)));
        assert_eq!(r.encode(), data);
        let mut scp02 = data.clone();
        scp02[11] = 0x02;
        assert_eq!(
            InitUpdateResponse::parse(&scp02),
            Err(GpError::UnsupportedProtocol(2))
        );
        let mut s16 = data.clone();
        s16[12] = 0x71;
        assert!(InitUpdateResponse::parse(&s16).is_err());
        assert!(InitUpdateResponse::parse(&data[..31]).is_err());
        assert!(
            InitUpdateResponse::parse(&data[..29]).is_err(),
            "i says counter, none sent"
        );
        assert!(InitUpdateResponse::parse(&[]).is_err());
    }
}
