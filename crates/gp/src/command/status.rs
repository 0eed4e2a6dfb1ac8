//! GET STATUS (GPC 2.3 section 11.4) with its "more data" continuation, and SET STATUS
//! (section 11.10).
//!
//! ```text
//!  GET STATUS  80 F2 P1=subset P2=02 (first, TLV) | 03 (next) 4F 00 [00]
//!  response    E3 { 4F AID, 9F70 life cycle, C5 privileges, C4 load file, CC domain, 84 module }…
//!              SW 6310 while more entries remain
//!  SET STATUS  80 F0 P1=kind P2=state [AID]
//! ```

use crate::tlv::Tlv;
use crate::{Aid, Command, GpError};

/// INS of GET STATUS.
pub const INS_GET_STATUS: u8 = 0xF2;
/// INS of SET STATUS.
pub const INS_SET_STATUS: u8 = 0xF0;

/// What GET STATUS lists (its P1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subset {
    /// The issuer security domain only.
    IssuerSecurityDomain,
    /// Applications, including security domains.
    Applications,
    /// Executable load files.
    LoadFiles,
    /// Executable load files and their modules.
    LoadFilesAndModules,
}

impl Subset {
    fn p1(self) -> u8 {
        match self {
            Self::IssuerSecurityDomain => 0x80,
            Self::Applications => 0x40,
            Self::LoadFiles => 0x20,
            Self::LoadFilesAndModules => 0x10,
        }
    }
}

/// GET STATUS for `subset`, every entry (search criterion `4F 00`); `next` asks for the
/// entries after those already returned with `6310`.
pub fn get_status(subset: Subset, next: bool) -> Command {
    Command::new(
        0x80,
        INS_GET_STATUS,
        subset.p1(),
        if next { 0x03 } else { 0x02 },
    )
    .with_data(vec![0x4F, 0x00])
    .with_ne(256)
}

/// The subset, the "next occurrence" flag and the AID prefix to match of a GET STATUS.
pub fn parse_get_status(cmd: &Command) -> Result<(Subset, bool, Vec<u8>), GpError> {
    if cmd.ins != INS_GET_STATUS {
        return Err(GpError::Malformed("GET STATUS header"));
    }
    let subset = match cmd.p1 {
        0x80 => Subset::IssuerSecurityDomain,
        0x40 => Subset::Applications,
        0x20 => Subset::LoadFiles,
        0x10 => Subset::LoadFilesAndModules,
        _ => return Err(GpError::Malformed("GET STATUS P1")),
    };
    let next = match cmd.p2 {
        0x02 => false,
        0x03 => true,
        _ => {
            return Err(GpError::Malformed(
                "GET STATUS P2: only the TLV format (02, 03)",
            ));
        }
    };
    let criteria = Tlv::parse_all(&cmd.data)?;
    let prefix = Tlv::find(&criteria, 0x4F)
        .ok_or(GpError::Malformed("GET STATUS: search criterion 4F"))?
        .value
        .clone();
    Ok((subset, next, prefix))
}

/// One GET STATUS entry (GPC table 11-36).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusEntry {
    /// The AID.
    pub aid: Aid,
    /// The life cycle state byte.
    pub life_cycle: u8,
    /// Privileges (applications and security domains).
    pub privileges: Option<[u8; 3]>,
    /// The load file it was installed from.
    pub load_file: Option<Aid>,
    /// Its associated security domain.
    pub domain: Option<Aid>,
    /// For load files: the modules.
    pub modules: Vec<Aid>,
}

impl StatusEntry {
    /// The `E3` encoding.
    pub fn encode(&self) -> Vec<u8> {
        let mut inner = Tlv::new(0x4F, self.aid.as_bytes().to_vec()).encode();
        inner.extend(Tlv::new(0x9F70, vec![self.life_cycle]).encode());
        if let Some(p) = self.privileges {
            inner.extend(Tlv::new(0xC5, p.to_vec()).encode());
        }
        if let Some(f) = &self.load_file {
            inner.extend(Tlv::new(0xC4, f.as_bytes().to_vec()).encode());
        }
        if let Some(d) = &self.domain {
            inner.extend(Tlv::new(0xCC, d.as_bytes().to_vec()).encode());
        }
        for m in &self.modules {
            inner.extend(Tlv::new(0x84, m.as_bytes().to_vec()).encode());
        }
        Tlv::new(0xE3, inner).encode()
    }

    /// Parses the entries of one GET STATUS response.
    pub fn parse_all(data: &[u8]) -> Result<Vec<Self>, GpError> {
        Tlv::parse_all(data)?
            .into_iter()
            .map(|e3| {
                if e3.tag.0 != 0xE3 {
                    return Err(GpError::Malformed("GET STATUS entry tag"));
                }
                let kids = e3.children()?;
                let aid_of = |tag| -> Result<Option<Aid>, GpError> {
                    Tlv::find(&kids, tag)
                        .map(|t| Aid::try_from(t.value.as_slice()))
                        .transpose()
                };
                Ok(Self {
                    aid: aid_of(0x4F)?.ok_or(GpError::Malformed("GET STATUS entry without AID"))?,
                    life_cycle: match Tlv::find(&kids, 0x9F70).map(|t| t.value.as_slice()) {
                        Some([lc]) | Some([lc, _]) => *lc,
                        _ => return Err(GpError::Malformed("GET STATUS life cycle")),
                    },
                    privileges: Tlv::find(&kids, 0xC5)
                        .map(|t| <[u8; 3]>::try_from(t.value.as_slice()))
                        .transpose()
                        .map_err(|_| GpError::Malformed("GET STATUS privileges"))?,
                    load_file: aid_of(0xC4)?,
                    domain: aid_of(0xCC)?,
                    modules: kids
                        .iter()
                        .filter(|t| t.tag.0 == 0x84)
                        .map(|t| Aid::try_from(t.value.as_slice()))
                        .collect::<Result<_, _>>()?,
                })
            })
            .collect()
    }
}

/// What SET STATUS changes (its P1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusTarget {
    /// The card (through the issuer security domain).
    Card,
    /// An application or security domain.
    Application,
    /// A security domain and its associated applications.
    DomainAndApplications,
}

/// SET STATUS of `target` to `state`; `aid` for applications.
pub fn set_status(target: StatusTarget, state: u8, aid: Option<&Aid>) -> Command {
    let p1 = match target {
        StatusTarget::Card => 0x80,
        StatusTarget::Application => 0x40,
        StatusTarget::DomainAndApplications => 0x60,
    };
    Command::new(0x80, INS_SET_STATUS, p1, state)
        .with_data(aid.map(|a| a.as_bytes().to_vec()).unwrap_or_default())
}

/// The target, new state and AID of a SET STATUS.
pub fn parse_set_status(cmd: &Command) -> Result<(StatusTarget, u8, Option<Aid>), GpError> {
    if cmd.ins != INS_SET_STATUS {
        return Err(GpError::Malformed("SET STATUS header"));
    }
    let target = match cmd.p1 {
        0x80 => StatusTarget::Card,
        0x40 => StatusTarget::Application,
        0x60 => StatusTarget::DomainAndApplications,
        _ => return Err(GpError::Malformed("SET STATUS P1")),
    };
    let aid = if cmd.data.is_empty() {
        None
    } else {
        Some(Aid::try_from(cmd.data.as_slice())?)
    };
    if target != StatusTarget::Card && aid.is_none() {
        return Err(GpError::Malformed(
            "SET STATUS of an application needs its AID",
        ));
    }
    Ok((target, cmd.p2, aid))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn entries_round_trip_and_commands_parse() {
        let e = StatusEntry {
            aid: Aid::isd(),
            life_cycle: 0x0F,
            privileges: Some([0x9E, 0xFE, 0x80]),
            load_file: None,
            domain: Some(Aid::isd()),
            modules: vec![],
        };
        let f = StatusEntry {
            aid: "A0000000031010".parse().unwrap(),
            life_cycle: 0x01,
            privileges: None,
            load_file: None,
            domain: Some(Aid::isd()),
            modules: vec!["A000000003101001".parse().unwrap()],
        };
        let wire = [e.encode(), f.encode()].concat();
        assert_eq!(StatusEntry::parse_all(&wire).unwrap(), vec![e, f]);
        let (subset, next, prefix) =
            parse_get_status(&get_status(Subset::Applications, true)).unwrap();
        assert_eq!((subset, next, prefix), (Subset::Applications, true, vec![]));
        let aid: Aid = "A0000000041010AA".parse().unwrap();
        let cmd = set_status(StatusTarget::Application, 0x83, Some(&aid));
        assert_eq!(
            parse_set_status(&cmd).unwrap(),
            (StatusTarget::Application, 0x83, Some(aid))
        );
        assert!(parse_set_status(&set_status(StatusTarget::Application, 0x83, None)).is_err());
    }
}
