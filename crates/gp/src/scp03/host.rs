//! The host half of SCP03: what an off-card entity (a TSM) runs.
//!
//! ```text
//!  HostHandshake::new ── initialize_update() ──► card
//!        │ ◄── response data ──
//!  handle_init_update(): card cryptogram checked, session keys derived
//!        ├──► EXTERNAL AUTHENTICATE (host cryptogram, C-MAC) ──► card
//!        ▼
//!  HostChannel: wrap(command) ──► card ──► unwrap(response)
//! ```
//!
//! A host that prepares a script offline (the card challenge is pseudo-random, so it can be
//! predicted from the sequence counter) uses [`HostHandshake::offline`] instead.

use subtle::ConstantTimeEq;

use super::channel::Channel;
use super::init_update::{self, InitUpdateResponse, i_param};
use super::{SecurityLevel, SessionKeys, StaticKeys};
use crate::{Command, GpError, Response};

/// INS of EXTERNAL AUTHENTICATE.
pub const INS_EXTERNAL_AUTHENTICATE: u8 = 0x82;

/// A session the host has asked for but the card has not answered yet.
#[derive(Debug)]
pub struct HostHandshake {
    keys: StaticKeys,
    host_challenge: [u8; 8],
    level: SecurityLevel,
    last_counter: Option<u32>,
}

/// What the host learned from the card's INITIALIZE UPDATE response: everything
/// `provisio gp scp03 derive` prints.
#[derive(Debug)]
pub struct Derivation {
    /// The parsed response.
    pub response: InitUpdateResponse,
    /// The session keys.
    pub session: SessionKeys,
    /// Whether the card's cryptogram matched the one computed from the static keys.
    pub card_cryptogram_ok: bool,
    /// The host cryptogram for EXTERNAL AUTHENTICATE.
    pub host_cryptogram: [u8; 8],
}

/// An authenticated session, host side.
#[derive(Debug)]
pub struct HostChannel {
    channel: Channel,
}

impl HostHandshake {
    /// Starts a session with the key set `keys` at `level`. The host challenge must be fresh
    /// random bytes (the caller's random source).
    pub fn new(keys: StaticKeys, host_challenge: [u8; 8], level: SecurityLevel) -> Self {
        Self {
            keys,
            host_challenge,
            level,
            last_counter: None,
        }
    }

    /// Remembers the highest sequence counter seen from this card: a response with a counter
    /// at or below it is a replay, and is refused.
    pub fn with_last_counter(mut self, counter: u32) -> Self {
        self.last_counter = Some(counter);
        self
    }

    /// The INITIALIZE UPDATE command to send.
    pub fn initialize_update(&self) -> Command {
        init_update::command(self.keys.kvn, &self.host_challenge)
    }

    /// Parses the response and derives the session, whether or not the card cryptogram
    /// matched. For diagnostics; [`HostHandshake::handle_init_update`] is what opens sessions.
    pub fn derive(&self, response_data: &[u8]) -> Result<Derivation, GpError> {
        let response = InitUpdateResponse::parse(response_data)?;
        let session = self
            .keys
            .session_keys(&self.host_challenge, &response.card_challenge);
        let expected = session.card_cryptogram(&self.host_challenge, &response.card_challenge);
        let card_cryptogram_ok = bool::from(expected.ct_eq(&response.card_cryptogram));
        let host_cryptogram =
            session.host_cryptogram(&self.host_challenge, &response.card_challenge);
        Ok(Derivation {
            response,
            session,
            card_cryptogram_ok,
            host_cryptogram,
        })
    }

    /// Checks the card's INITIALIZE UPDATE response (Amendment D 6.2.2.2) and returns the
    /// EXTERNAL AUTHENTICATE command to send with the session that follows it.
    ///
    /// Send the command; unless the card answers `9000`, drop the channel.
    pub fn handle_init_update(
        self,
        response_data: &[u8],
    ) -> Result<(Command, HostChannel), GpError> {
        let d = self.derive(response_data)?;
        if d.response.kvn != self.keys.kvn && self.keys.kvn != 0 {
            return Err(GpError::KeyVersion {
                expected: self.keys.kvn,
                got: d.response.kvn,
            });
        }
        if self.level.r_mac() && d.response.i & i_param::R_MAC == 0 {
            return Err(GpError::UnsupportedOption("card does not support R-MAC"));
        }
        if self.level.r_enc() && d.response.i & i_param::R_ENC == 0 {
            return Err(GpError::UnsupportedOption(
                "card does not support R-ENCRYPTION",
            ));
        }
        if let (Some(last), Some(got)) = (self.last_counter, d.response.sequence_counter)
            && got <= last
        {
            return Err(GpError::CounterNotIncreasing { got, last });
        }
        if !d.card_cryptogram_ok {
            return Err(GpError::CardCryptogram);
        }
        Ok(Self::open(d.session, self.level, d.host_cryptogram))
    }

    /// Like [`HostHandshake::handle_init_update`], but opens the session even when the card
    /// cryptogram does not verify, and returns the derivation beside it. For debugging tools
    /// that show what a host would send; it does not authenticate the card.
    pub fn diagnose(
        self,
        response_data: &[u8],
    ) -> Result<(Derivation, Command, HostChannel), GpError> {
        let d = self.derive(response_data)?;
        let (cmd, channel) = Self::open(d.session.clone(), self.level, d.host_cryptogram);
        Ok((d, cmd, channel))
    }

    /// Prepares a session without talking to the card: the card challenge and cryptogram are
    /// predicted from the sequence counter the card will use next and the security domain's AID
    /// (Amendment D 6.2.2.1). The card refuses the result if its counter has moved on.
    pub fn offline(self, counter: u32, aid: &[u8]) -> (Command, HostChannel) {
        let card_challenge = self.keys.card_challenge(counter, aid);
        let session = self
            .keys
            .session_keys(&self.host_challenge, &card_challenge);
        let host_cryptogram = session.host_cryptogram(&self.host_challenge, &card_challenge);
        Self::open(session, self.level, host_cryptogram)
    }

    fn open(
        session: SessionKeys,
        level: SecurityLevel,
        host_cryptogram: [u8; 8],
    ) -> (Command, HostChannel) {
        let mut channel = Channel::new(session, level);
        let cmd = Command::new(0x80, INS_EXTERNAL_AUTHENTICATE, level.byte(), 0x00)
            .with_data(host_cryptogram.to_vec());
        // EXTERNAL AUTHENTICATE always carries a C-MAC (Amendment D 7.2), whatever the level;
        // an 8-byte body with the SM bit clear cannot fail to wrap.
        let cmd = channel
            .mac_command(cmd)
            .unwrap_or_else(|_| unreachable!("8-byte body, class 80"));
        (cmd, HostChannel { channel })
    }
}

impl HostChannel {
    /// The session's security level.
    pub fn level(&self) -> SecurityLevel {
        self.channel.level()
    }

    /// Protects a plain command: C-DECRYPTION, then C-MAC, as the level says.
    pub fn wrap(&mut self, cmd: Command) -> Result<Command, GpError> {
        self.channel.wrap_command(cmd)
    }

    /// Checks the R-MAC and removes the R-ENCRYPTION of the response to the last command.
    pub fn unwrap(&self, resp: Response) -> Result<Response, GpError> {
        self.channel.unwrap_response(resp)
    }

    /// The session keys (for encrypting key material under the session's DEK the caller
    /// already holds, use the static key set instead).
    pub fn session_keys(&self) -> &SessionKeys {
        self.channel.keys()
    }
}
