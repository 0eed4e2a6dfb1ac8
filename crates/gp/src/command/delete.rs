//! DELETE of an application, security domain or load file (GPC 2.3 section 11.2).

use crate::tlv::Tlv;
use crate::{Aid, Command, GpError};

/// INS of DELETE.
pub const INS_DELETE: u8 = 0xE4;

/// DELETE `aid`; with `related`, also what depends on it (P2 `80`: a load file and its
/// instances, a security domain and its applications).
pub fn delete(aid: &Aid, related: bool) -> Command {
    Command::new(0x80, INS_DELETE, 0x00, if related { 0x80 } else { 0x00 })
        .with_data(Tlv::new(0x4F, aid.as_bytes().to_vec()).encode())
        .with_ne(256)
}

/// The AID and the "related objects" flag of a DELETE.
pub fn parse_delete(cmd: &Command) -> Result<(Aid, bool), GpError> {
    if cmd.ins != INS_DELETE || cmd.p1 != 0 || cmd.p2 & 0x7F != 0 {
        return Err(GpError::Malformed("DELETE header"));
    }
    let tlv = Tlv::parse_one(&cmd.data)?;
    if tlv.tag.0 != 0x4F {
        return Err(GpError::Malformed("DELETE: only by AID (tag 4F)"));
    }
    Ok((Aid::try_from(tlv.value.as_slice())?, cmd.p2 == 0x80))
}
