//! INSTALL (GPC 2.3 section 11.5) in each of its roles, and LOAD (section 11.6).
//!
//! ```text
//!  P1  02 for load   04 for install   08 for make selectable   0C install and make selectable
//!      10 for extradition   20 for personalization
//!  data (for install): LV ELF AID ‖ LV module AID ‖ LV application AID ‖ LV privileges
//!                      ‖ LV install parameters (C9 …) ‖ LV token
//! ```

use super::lv::{LvReader, push_lv};
use crate::tlv::Tlv;
use crate::{Aid, Command, GpError};

/// INS of INSTALL.
pub const INS_INSTALL: u8 = 0xE6;
/// INS of LOAD.
pub const INS_LOAD: u8 = 0xE8;

/// Application privileges (GPC 2.3 table 6-1), three bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Privileges(pub [u8; 3]);

impl Privileges {
    /// Security domain.
    pub const SECURITY_DOMAIN: Self = Self([0x80, 0, 0]);
    /// Delegated management (with security domain: `A0`).
    pub const DELEGATED_MANAGEMENT: Self = Self([0x20, 0, 0]);
    /// Card lock.
    pub const CARD_LOCK: Self = Self([0x10, 0, 0]);
    /// Card terminate.
    pub const CARD_TERMINATE: Self = Self([0x08, 0, 0]);
    /// Card reset (default selected).
    pub const CARD_RESET: Self = Self([0x04, 0, 0]);
    /// Authorized management.
    pub const AUTHORIZED_MANAGEMENT: Self = Self([0, 0x40, 0]);
    /// Token verification.
    pub const TOKEN_VERIFICATION: Self = Self([0, 0x20, 0]);
    /// Global delete.
    pub const GLOBAL_DELETE: Self = Self([0, 0x10, 0]);
    /// Global lock.
    pub const GLOBAL_LOCK: Self = Self([0, 0x08, 0]);
    /// Global registry.
    pub const GLOBAL_REGISTRY: Self = Self([0, 0x04, 0]);

    /// No privileges.
    pub const NONE: Self = Self([0; 3]);

    /// Both sets of privileges.
    pub const fn with(self, other: Self) -> Self {
        Self([
            self.0[0] | other.0[0],
            self.0[1] | other.0[1],
            self.0[2] | other.0[2],
        ])
    }

    /// Whether every privilege of `other` is in `self`.
    pub fn has(self, other: Self) -> bool {
        self.0.iter().zip(other.0.iter()).all(|(a, b)| a & b == *b)
    }

    /// From the one- or three-byte field of INSTALL.
    pub fn parse(bytes: &[u8]) -> Result<Self, GpError> {
        match bytes {
            [a] => Ok(Self([*a, 0, 0])),
            [a, b, c] => Ok(Self([*a, *b, *c])),
            _ => Err(GpError::Malformed("privileges must be 1 or 3 bytes")),
        }
    }
}

/// An INSTALL command, by role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Install {
    /// [for load]: announces a LOAD of an executable load file into a security domain.
    ForLoad {
        /// The load file's AID.
        elf: Aid,
        /// The security domain it will belong to (empty: the one processing the command).
        sd: Option<Aid>,
    },
    /// [for install], optionally [and make selectable].
    ForInstall {
        /// The executable load file.
        elf: Aid,
        /// The executable module in it.
        module: Aid,
        /// The new instance's AID.
        app: Aid,
        /// Its privileges.
        privileges: Privileges,
        /// Application-specific parameters (the value of tag C9).
        params: Vec<u8>,
        /// Also make it selectable.
        make_selectable: bool,
        /// A delegated management token, if the domain needs one.
        token: Vec<u8>,
    },
    /// [for make selectable].
    MakeSelectable {
        /// The instance.
        app: Aid,
        /// Its privileges.
        privileges: Privileges,
    },
    /// [for extradition]: moves an application to another security domain.
    ForExtradition {
        /// The receiving security domain.
        sd: Aid,
        /// The application.
        app: Aid,
        /// A delegated management token, if needed.
        token: Vec<u8>,
    },
    /// [for personalization]: the following STORE DATA commands go to `app`.
    ForPersonalization {
        /// The application.
        app: Aid,
    },
}

impl Install {
    /// The command.
    pub fn command(&self) -> Command {
        let mut d = Vec::new();
        let p1 = match self {
            Self::ForLoad { elf, sd } => {
                push_lv(&mut d, elf.as_bytes());
                push_lv(&mut d, sd.as_ref().map(Aid::as_bytes).unwrap_or_default());
                d.extend_from_slice(&[0, 0, 0]); // no hash, no parameters, no token
                0x02
            }
            Self::ForInstall {
                elf,
                module,
                app,
                privileges,
                params,
                make_selectable,
                token,
            } => {
                push_lv(&mut d, elf.as_bytes());
                push_lv(&mut d, module.as_bytes());
                push_lv(&mut d, app.as_bytes());
                push_lv(&mut d, &privileges.0);
                push_lv(&mut d, &Tlv::new(0xC9, params.clone()).encode());
                push_lv(&mut d, token);
                if *make_selectable { 0x0C } else { 0x04 }
            }
            Self::MakeSelectable { app, privileges } => {
                d.extend_from_slice(&[0, 0]);
                push_lv(&mut d, app.as_bytes());
                push_lv(&mut d, &privileges.0);
                d.extend_from_slice(&[0, 0]);
                0x08
            }
            Self::ForExtradition { sd, app, token } => {
                push_lv(&mut d, sd.as_bytes());
                d.push(0);
                push_lv(&mut d, app.as_bytes());
                d.extend_from_slice(&[0, 0]);
                push_lv(&mut d, token);
                0x10
            }
            Self::ForPersonalization { app } => {
                d.extend_from_slice(&[0, 0]);
                push_lv(&mut d, app.as_bytes());
                d.extend_from_slice(&[0, 0, 0]);
                0x20
            }
        };
        Command::new(0x80, INS_INSTALL, p1, 0x00)
            .with_data(d)
            .with_ne(256)
    }

    /// Parses an INSTALL command, as a security domain reads it.
    pub fn parse(cmd: &Command) -> Result<Self, GpError> {
        const WHAT: &str = "INSTALL data";
        if cmd.ins != INS_INSTALL || cmd.p2 != 0 {
            return Err(GpError::Malformed("INSTALL header"));
        }
        let mut r = LvReader::new(&cmd.data, WHAT);
        let aid = |b: &[u8]| Aid::try_from(b);
        let install = match cmd.p1 {
            0x02 => {
                let elf = aid(r.field()?)?;
                let sd = r.field()?;
                let sd = if sd.is_empty() { None } else { Some(aid(sd)?) };
                let (_hash, _params, _token) = (r.field()?, r.field()?, r.field()?);
                Self::ForLoad { elf, sd }
            }
            0x04 | 0x0C => {
                let elf = aid(r.field()?)?;
                let module = aid(r.field()?)?;
                let app = aid(r.field()?)?;
                let privileges = Privileges::parse(r.field()?)?;
                let params = Tlv::parse_all(r.field()?)?;
                let params = Tlv::find(&params, 0xC9)
                    .map(|t| t.value.clone())
                    .unwrap_or_default();
                let token = r.field()?.to_vec();
                Self::ForInstall {
                    elf,
                    module,
                    app,
                    privileges,
                    params,
                    make_selectable: cmd.p1 == 0x0C,
                    token,
                }
            }
            0x08 => {
                let (_, _) = (r.field()?, r.field()?);
                let app = aid(r.field()?)?;
                let privileges = Privileges::parse(r.field()?)?;
                let (_, _) = (r.field()?, r.field()?);
                Self::MakeSelectable { app, privileges }
            }
            0x10 => {
                let sd = aid(r.field()?)?;
                r.field()?;
                let app = aid(r.field()?)?;
                let (_, _) = (r.field()?, r.field()?);
                let token = r.field()?.to_vec();
                Self::ForExtradition { sd, app, token }
            }
            0x20 => {
                let (_, _) = (r.field()?, r.field()?);
                let app = aid(r.field()?)?;
                let (_, _, _) = (r.field()?, r.field()?, r.field()?);
                Self::ForPersonalization { app }
            }
            _ => return Err(GpError::Malformed("INSTALL P1")),
        };
        r.finish()?;
        Ok(install)
    }
}

/// The LOAD commands for a load file: the file wrapped in tag C4 (GPC 11.6.2.3) and cut into
/// blocks of `block_size` bytes, P1 `80` on the last, P2 the block number.
pub fn load_blocks(load_file: &[u8], block_size: usize) -> Vec<Command> {
    let image = Tlv::new(0xC4, load_file.to_vec()).encode();
    let chunks: Vec<&[u8]> = image.chunks(block_size.clamp(1, 255)).collect();
    let last = chunks.len().saturating_sub(1);
    chunks
        .into_iter()
        .enumerate()
        .map(|(i, c)| {
            let p1 = if i == last { 0x80 } else { 0x00 };
            Command::new(0x80, INS_LOAD, p1, i as u8)
                .with_data(c.to_vec())
                .with_ne(256)
        })
        .collect()
}

/// One LOAD block as a card reads it: (last block, block number, data).
pub fn parse_load(cmd: &Command) -> Result<(bool, u8, &[u8]), GpError> {
    if cmd.ins != INS_LOAD || cmd.p1 & 0x7F != 0 || cmd.data.is_empty() {
        return Err(GpError::Malformed("LOAD header"));
    }
    Ok((cmd.p1 == 0x80, cmd.p2, &cmd.data))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn aid(s: &str) -> Aid {
        s.parse().unwrap()
    }

    #[test]
    fn every_role_round_trips() {
        let all = [
            Install::ForLoad {
                elf: aid("A0000000031010"),
                sd: Some(Aid::isd()),
            },
            Install::ForLoad {
                elf: aid("A0000000031010"),
                sd: None,
            },
            Install::ForInstall {
                elf: aid("A0000001515350"),
                module: aid("A000000151535041"),
                app: aid("A000000151535041AB01"),
                privileges: Privileges::SECURITY_DOMAIN.with(Privileges::AUTHORIZED_MANAGEMENT),
                params: vec![0x81, 0x02, 0x00, 0x01],
                make_selectable: true,
                token: vec![],
            },
            Install::MakeSelectable {
                app: aid("A0000000041010AA"),
                privileges: Privileges::NONE,
            },
            Install::ForExtradition {
                sd: aid("A000000151535041AB01"),
                app: aid("A0000000041010AA"),
                token: vec![1, 2],
            },
            Install::ForPersonalization {
                app: aid("A0000000041010AA"),
            },
        ];
        for install in all {
            let wire = install.command().encode().unwrap();
            assert_eq!(
                Install::parse(&Command::parse(&wire).unwrap()).unwrap(),
                install
            );
        }
    }

    #[test]
    fn published_install_for_personalization_layout() {
        // GPC 11.5.2.3.5: 80 E6 20 00 Lc 00 00 LV(AID) 00 00 00
        let cmd = Install::ForPersonalization {
            app: aid("A000000003101001"),
        }
        .command();
        assert_eq!(
            hex::encode_upper(cmd.encode().unwrap()),
            "80E620000E000008A00000000310100100000000"
        );
    }

    #[test]
    fn refuses_truncated_and_trailing() {
        let mut cmd = Install::ForPersonalization {
            app: aid("A0000000041010AA"),
        }
        .command();
        cmd.data.push(0);
        assert!(Install::parse(&cmd).is_err());
        cmd.data.truncate(5);
        assert!(Install::parse(&cmd).is_err());
        let mut bad_p1 = Install::ForPersonalization {
            app: aid("A0000000041010AA"),
        }
        .command();
        bad_p1.p1 = 0x40;
        assert!(Install::parse(&bad_p1).is_err());
    }

    #[test]
    fn load_blocks_number_and_mark_the_last() {
        let blocks = load_blocks(&[0xAB; 500], 200);
        assert_eq!(blocks.len(), 3);
        assert_eq!((blocks[0].p1, blocks[0].p2), (0x00, 0));
        assert_eq!((blocks[2].p1, blocks[2].p2), (0x80, 2));
        assert_eq!(&blocks[0].data[..3], &[0xC4, 0x82, 0x01]);
        let (last, n, _) = parse_load(&blocks[2]).unwrap();
        assert!(last && n == 2);
    }
}
