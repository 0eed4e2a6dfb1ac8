//! Secure messaging of an open session (GPC Amendment D section 6.2.3 to 6.2.7), the part the
//! host and the card share.
//!
//! ```text
//!  host                                            card
//!  [C-DEC] data ← AES-CBC(S-ENC, ICV=E(S-ENC, ctr), pad(data))
//!  C-MAC ← CMAC(S-MAC, chain ‖ CLA|04 INS P1 P2 Lc ‖ data)[..8]; chain ← full CMAC
//!          ───── CLA|04 INS P1 P2 Lc data C-MAC [Le] ─────►
//!                                                  verify C-MAC (constant time), decrypt
//!          ◄──── [R-ENC] data ‖ R-MAC ‖ SW ───────
//!  R-MAC = CMAC(S-RMAC, chain ‖ data ‖ SW)[..8]; R-ENC ICV = E(S-ENC, 80 ‖ 0…0 ‖ ctr)
//! ```
//!
//! The encryption counter starts at 1 for the first command after EXTERNAL AUTHENTICATE and
//! moves for every command, with or without data (Amendment D 6.2.6).

use provisio_crypto::AES_BLOCK;
use subtle::ConstantTimeEq;

use super::{SecurityLevel, SessionKeys};
use crate::{Command, GpError, Response};

/// The secure messaging bit of a GlobalPlatform class byte (GPC 11.1.4).
pub const CLA_SECURE_MESSAGING: u8 = 0x04;
/// The length of a C-MAC or R-MAC in S8 mode.
pub const MAC_LEN: usize = 8;

/// The state secure messaging keeps between commands.
#[derive(Debug)]
pub(crate) struct Channel {
    keys: SessionKeys,
    level: SecurityLevel,
    chain: [u8; AES_BLOCK],
    counter: u32,
}

impl Channel {
    /// A channel before EXTERNAL AUTHENTICATE: the chaining value is zero (Amendment D 6.2.4).
    pub(crate) fn new(keys: SessionKeys, level: SecurityLevel) -> Self {
        Self {
            keys,
            level,
            chain: [0; AES_BLOCK],
            counter: 0,
        }
    }

    /// The same channel (keys and chaining value kept) at `level`: EXTERNAL AUTHENTICATE is
    /// checked at C-MAC, and the level it asks for applies from the next command.
    pub(crate) fn with_level(mut self, level: SecurityLevel) -> Self {
        self.level = level;
        self
    }

    pub(crate) fn level(&self) -> SecurityLevel {
        self.level
    }

    /// The session's S-ENC key, for callers that encrypt sensitive data themselves.
    pub(crate) fn keys(&self) -> &SessionKeys {
        &self.keys
    }

    /// Adds the C-MAC to `cmd` (which must not carry one) and sets the chaining value.
    pub(crate) fn mac_command(&mut self, mut cmd: Command) -> Result<Command, GpError> {
        if cmd.cla & CLA_SECURE_MESSAGING != 0 {
            return Err(GpError::Unwrappable(
                "the class byte already says secure messaging",
            ));
        }
        cmd.cla |= CLA_SECURE_MESSAGING;
        let body = cmd.data.len();
        cmd.data.extend_from_slice(&[0; MAC_LEN]);
        if cmd.data.len() > crate::apdu::EXTENDED_MAX_DATA {
            return Err(GpError::Unwrappable("data too long for a MAC"));
        }
        let mac = self.keys.mac.cmac(&[
            &self.chain,
            &[cmd.cla, cmd.ins, cmd.p1, cmd.p2],
            &cmd.lc_field(),
            cmd.data.get(..body).unwrap_or_default(),
        ]);
        self.chain = mac;
        cmd.data.truncate(body);
        cmd.data
            .extend_from_slice(mac.get(..MAC_LEN).unwrap_or_default());
        Ok(cmd)
    }

    /// Host: protects a plain command at the session's level.
    pub(crate) fn wrap_command(&mut self, mut cmd: Command) -> Result<Command, GpError> {
        if !self.level.c_mac() {
            return Ok(cmd);
        }
        if self.level.c_dec() {
            self.counter = self.counter.wrapping_add(1);
            if !cmd.data.is_empty() {
                let mut data = pad(&cmd.data);
                self.keys
                    .enc
                    .cbc_encrypt(&self.command_icv(), &mut data)
                    .map_err(|_| GpError::Unwrappable("padding"))?;
                cmd.data = data;
            }
        }
        self.mac_command(cmd)
    }

    /// Card: checks the C-MAC of a received command and removes the protection. Any error
    /// means the session must end (Amendment D 6.2.4: "the card shall ... close the session").
    pub(crate) fn unwrap_command(&mut self, mut cmd: Command) -> Result<Command, GpError> {
        if !self.level.c_mac() {
            return Ok(cmd);
        }
        if cmd.cla & CLA_SECURE_MESSAGING == 0 || cmd.data.len() < MAC_LEN {
            return Err(GpError::CommandMac);
        }
        let body = cmd.data.len() - MAC_LEN;
        let mac = self.keys.mac.cmac(&[
            &self.chain,
            &[cmd.cla, cmd.ins, cmd.p1, cmd.p2],
            &cmd.lc_field(),
            cmd.data.get(..body).unwrap_or_default(),
        ]);
        let received = cmd.data.get(body..).unwrap_or_default();
        if !bool::from(mac.get(..MAC_LEN).unwrap_or_default().ct_eq(received)) {
            return Err(GpError::CommandMac);
        }
        self.chain = mac;
        cmd.data.truncate(body);
        cmd.cla &= !CLA_SECURE_MESSAGING;
        if self.level.c_dec() {
            self.counter = self.counter.wrapping_add(1);
            if !cmd.data.is_empty() {
                if !cmd.data.len().is_multiple_of(AES_BLOCK) {
                    return Err(GpError::Padding);
                }
                self.keys
                    .enc
                    .cbc_decrypt(&self.command_icv(), &mut cmd.data)
                    .map_err(|_| GpError::Padding)?;
                unpad(&mut cmd.data)?;
            }
        }
        Ok(cmd)
    }

    /// Card: protects a response. Error responses travel unprotected (Amendment D 6.2.5).
    pub(crate) fn wrap_response(&self, mut resp: Response) -> Response {
        if !resp.sw.is_success_or_warning() {
            return resp;
        }
        if self.level.r_enc() && !resp.data.is_empty() {
            let mut data = pad(&resp.data);
            // `pad` returns whole blocks, so this cannot fail.
            let _ = self.keys.enc.cbc_encrypt(&self.response_icv(), &mut data);
            resp.data = data;
        }
        if self.level.r_mac() {
            let mac = self
                .keys
                .rmac
                .cmac(&[&self.chain, &resp.data, &resp.sw.to_bytes()]);
            resp.data
                .extend_from_slice(mac.get(..MAC_LEN).unwrap_or_default());
        }
        resp
    }

    /// Host: checks and removes the protection of a response.
    pub(crate) fn unwrap_response(&self, mut resp: Response) -> Result<Response, GpError> {
        if !resp.sw.is_success_or_warning() {
            return Ok(resp);
        }
        if self.level.r_mac() {
            let Some(body) = resp.data.len().checked_sub(MAC_LEN) else {
                return Err(GpError::ResponseMac);
            };
            let mac = self.keys.rmac.cmac(&[
                &self.chain,
                resp.data.get(..body).unwrap_or_default(),
                &resp.sw.to_bytes(),
            ]);
            let received = resp.data.get(body..).unwrap_or_default();
            if !bool::from(mac.get(..MAC_LEN).unwrap_or_default().ct_eq(received)) {
                return Err(GpError::ResponseMac);
            }
            resp.data.truncate(body);
        }
        if self.level.r_enc() && !resp.data.is_empty() {
            if !resp.data.len().is_multiple_of(AES_BLOCK) {
                return Err(GpError::Padding);
            }
            self.keys
                .enc
                .cbc_decrypt(&self.response_icv(), &mut resp.data)
                .map_err(|_| GpError::Padding)?;
            unpad(&mut resp.data)?;
        }
        Ok(resp)
    }

    fn command_icv(&self) -> [u8; AES_BLOCK] {
        let mut icv = [0u8; AES_BLOCK];
        icv[12..].copy_from_slice(&self.counter.to_be_bytes());
        self.keys.enc.encrypt_block(&mut icv);
        icv
    }

    fn response_icv(&self) -> [u8; AES_BLOCK] {
        let mut icv = [0u8; AES_BLOCK];
        icv[0] = 0x80;
        icv[12..].copy_from_slice(&self.counter.to_be_bytes());
        self.keys.enc.encrypt_block(&mut icv);
        icv
    }
}

/// ISO/IEC 9797-1 padding method 2 to whole AES blocks (GPC B.2.3): `80`, then zeros.
pub fn pad(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + AES_BLOCK);
    out.extend_from_slice(data);
    out.push(0x80);
    while out.len() % AES_BLOCK != 0 {
        out.push(0);
    }
    out
}

/// Removes padding method 2; refuses data that does not end in it.
pub fn unpad(data: &mut Vec<u8>) -> Result<(), GpError> {
    let Some(end) = data.iter().rposition(|b| *b != 0) else {
        return Err(GpError::Padding);
    };
    if data.get(end) != Some(&0x80) || data.len() - end > AES_BLOCK {
        return Err(GpError::Padding);
    }
    data.truncate(end);
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn padding_round_trips_and_refuses_bad_endings() {
        for len in 0..40 {
            let data = vec![0xAA; len];
            let mut padded = pad(&data);
            assert_eq!(padded.len() % 16, 0);
            assert!(padded.len() > len);
            unpad(&mut padded).unwrap();
            assert_eq!(padded, data);
        }
        for bad in [
            vec![0u8; 16],
            vec![0xAA; 16],
            [vec![0x80], vec![0; 16]].concat(),
        ] {
            assert_eq!(unpad(&mut bad.clone()), Err(GpError::Padding));
        }
    }
}
