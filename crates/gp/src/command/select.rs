//! SELECT by AID (ISO/IEC 7816-4 11.2.2, GPC 2.3 section 11.9).

use crate::tlv::Tlv;
use crate::{Aid, Command, GpError};

/// INS of SELECT.
pub const INS_SELECT: u8 = 0xA4;

/// SELECT [by name] of `aid`, first or only occurrence, FCI returned: `00 A4 04 00 Lc AID 00`.
pub fn select(aid: &Aid) -> Command {
    Command::new(0x00, INS_SELECT, 0x04, 0x00)
        .with_data(aid.as_bytes().to_vec())
        .with_ne(256)
}

/// The AID (or partial AID) a SELECT [by name] names.
pub fn parse_select(cmd: &Command) -> Result<Aid, GpError> {
    if cmd.ins != INS_SELECT || cmd.p1 != 0x04 || cmd.p2 & !0x02 != 0 {
        return Err(GpError::Malformed("SELECT by name header"));
    }
    Aid::try_from(cmd.data.as_slice())
}

/// The File Control Information a security domain returns (GPC 11.9.3.1): `6F { 84 AID,
/// A5 { 73 security domain management data, 9F65 maximum command length } }`.
pub fn fci(aid: &Aid, max_command_len: u8) -> Vec<u8> {
    let a5 = [
        Tlv::new(0x73, Vec::new()).encode(),
        Tlv::new(0x9F65, vec![max_command_len]).encode(),
    ]
    .concat();
    Tlv::new(
        0x6F,
        [
            Tlv::new(0x84, aid.as_bytes().to_vec()).encode(),
            Tlv::new(0xA5, a5).encode(),
        ]
        .concat(),
    )
    .encode()
}
