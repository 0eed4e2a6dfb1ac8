//! The card half of SCP03: what a security domain on the secure element runs.
//!
//! ```text
//!  INITIALIZE UPDATE ──► CardHandshake::initialize_update(counter+1)
//!                        ◄── response (pseudo-random challenge, card cryptogram, counter)
//!  EXTERNAL AUTHENTICATE ──► CardHandshake::external_authenticate: C-MAC, host cryptogram
//!                        ◄── 9000, CardChannel open
//!  wrapped command ──► CardChannel::unwrap ──► plain command ──► the domain
//!                        ◄── CardChannel::wrap(response)
//! ```
//!
//! The caller owns the sequence counter and must persist its new value before answering
//! INITIALIZE UPDATE, so a counter is never used twice.

use subtle::ConstantTimeEq;

use super::channel::Channel;
use super::host::INS_EXTERNAL_AUTHENTICATE;
use super::init_update::{InitUpdateResponse, i_param};
use super::{SecurityLevel, SessionKeys, StaticKeys};
use crate::{Command, GpError, Response};

/// The "i" parameter this card half announces: S8 mode, pseudo-random challenge, R-MAC and
/// R-ENCRYPTION supported.
pub const CARD_I: u8 = i_param::PSEUDO_RANDOM | i_param::R_MAC | i_param::R_ENC;

/// The largest sequence counter: at this value the key set can open no more sessions.
pub const MAX_COUNTER: u32 = 0x00FF_FFFF;

/// A session the card has answered INITIALIZE UPDATE for.
#[derive(Debug)]
pub struct CardHandshake {
    session: SessionKeys,
    host_challenge: [u8; 8],
    card_challenge: [u8; 8],
}

/// An authenticated session, card side.
#[derive(Debug)]
pub struct CardChannel {
    channel: Channel,
}

impl CardHandshake {
    /// Answers INITIALIZE UPDATE with `keys` and the already incremented sequence `counter`
    /// (Amendment D 6.2.2.1 and 7.1.2). Returns the response data and the pending session.
    pub fn initialize_update(
        keys: &StaticKeys,
        diversification: [u8; 10],
        counter: u32,
        aid: &[u8],
        host_challenge: [u8; 8],
    ) -> (Vec<u8>, Self) {
        let card_challenge = keys.card_challenge(counter, aid);
        let session = keys.session_keys(&host_challenge, &card_challenge);
        let response = InitUpdateResponse {
            diversification,
            kvn: keys.kvn,
            i: CARD_I,
            card_challenge,
            card_cryptogram: session.card_cryptogram(&host_challenge, &card_challenge),
            sequence_counter: Some(counter),
        };
        (
            response.encode(),
            Self {
                session,
                host_challenge,
                card_challenge,
            },
        )
    }

    /// Checks EXTERNAL AUTHENTICATE: its C-MAC, then the host cryptogram (Amendment D
    /// 6.2.2.3 and 7.2). Any failure ends the attempt; the host must start again.
    pub fn external_authenticate(self, cmd: Command) -> Result<CardChannel, GpError> {
        if cmd.ins != INS_EXTERNAL_AUTHENTICATE || cmd.p2 != 0 {
            return Err(GpError::Malformed("EXTERNAL AUTHENTICATE header"));
        }
        let level = SecurityLevel::from_byte(cmd.p1)?;
        // The command is MACed whatever the level, so unwrap it as at level 01.
        let mut channel = Channel::new(self.session, SecurityLevel::CMAC);
        let plain = channel.unwrap_command(cmd)?;
        let expected = channel
            .keys()
            .host_cryptogram(&self.host_challenge, &self.card_challenge);
        if plain.data.len() != 8 || !bool::from(expected.ct_eq(plain.data.as_slice())) {
            return Err(GpError::HostCryptogram);
        }
        Ok(CardChannel {
            channel: channel.with_level(level),
        })
    }
}

impl CardChannel {
    /// The session's security level.
    pub fn level(&self) -> SecurityLevel {
        self.channel.level()
    }

    /// Checks and removes the protection of a received command. On error the caller must
    /// close the session (Amendment D 6.2.4).
    pub fn unwrap(&mut self, cmd: Command) -> Result<Command, GpError> {
        self.channel.unwrap_command(cmd)
    }

    /// Protects the response to the last command.
    pub fn wrap(&self, resp: Response) -> Response {
        self.channel.wrap_response(resp)
    }
}
