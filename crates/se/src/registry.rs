//! The GlobalPlatform registry (GPC 2.3 section 5.4 and chapter 9): executable load files and
//! the application instances made from them, each associated with a security domain.

use provisio_gp::Aid;
use provisio_gp::command::Privileges;
use provisio_gp::scp03::{SecurityLevel, StaticKeys};
use serde::{Deserialize, Serialize};

use crate::payment::PaymentApplet;

/// The security domain package in ROM (GPC annex H.1 AIDs).
pub fn sd_load_file() -> Aid {
    Aid::try_from(&[0xA0, 0x00, 0x00, 0x01, 0x51, 0x53, 0x50][..])
        .unwrap_or_else(|_| unreachable!())
}

/// The security domain module.
pub fn sd_module() -> Aid {
    Aid::try_from(&[0xA0, 0x00, 0x00, 0x01, 0x51, 0x53, 0x50, 0x41][..])
        .unwrap_or_else(|_| unreachable!())
}

/// The payment applet package in ROM: `F0` (proprietary, unregistered) ‖ "PROVISIO".
pub fn payment_load_file() -> Aid {
    Aid::try_from(&b"\xF0PROVISIO"[..]).unwrap_or_else(|_| unreachable!())
}

/// The payment applet module.
pub fn payment_module() -> Aid {
    Aid::try_from(&b"\xF0PROVISIO\x01"[..]).unwrap_or_else(|_| unreachable!())
}

/// An executable load file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoadFile {
    /// Its AID.
    pub aid: Aid,
    /// Its executable modules.
    pub modules: Vec<Aid>,
    /// The security domain it belongs to.
    pub domain: Aid,
    /// In ROM: cannot be deleted.
    pub rom: bool,
}

/// An application instance, security domains included.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Application {
    /// Its AID.
    pub aid: Aid,
    /// The load file it came from.
    pub load_file: Aid,
    /// The module it instantiates.
    pub module: Aid,
    /// Life cycle state byte (see [`crate::app_state`]).
    pub state: u8,
    /// Privileges.
    #[serde(with = "privileges_hex")]
    pub privileges: Privileges,
    /// The security domain it is associated with (the issuer security domain: itself).
    pub domain: Aid,
    /// What it is.
    pub kind: AppKind,
}

/// What an application is.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AppKind {
    /// A security domain.
    SecurityDomain(Domain),
    /// The payment applet.
    Payment(Box<PaymentApplet>),
    /// An applet from a loaded file: selectable, but without behaviour (the virtual element
    /// runs no bytecode).
    Inert,
}

/// A security domain's own data.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Domain {
    /// Its SCP03 key sets; empty until the first PUT KEY.
    #[serde(with = "crate::keys_serde")]
    pub keys: Vec<StaticKeys>,
    /// The sequence counter: moves before every INITIALIZE UPDATE, never back.
    pub counter: u32,
    /// The lowest security level at which it accepts management commands.
    pub min_level: u8,
}

impl Domain {
    /// A domain without keys.
    pub fn new(min_level: SecurityLevel) -> Self {
        Self {
            keys: Vec::new(),
            counter: 0,
            min_level: min_level.byte(),
        }
    }

    /// The key set with version `kvn`, or the first one for `00`.
    pub fn key_set(&self, kvn: u8) -> Option<&StaticKeys> {
        if kvn == 0 {
            self.keys.first()
        } else {
            self.keys.iter().find(|k| k.kvn == kvn)
        }
    }
}

impl Application {
    /// The domain data, if this is a security domain.
    pub fn domain_data(&self) -> Option<&Domain> {
        match &self.kind {
            AppKind::SecurityDomain(d) => Some(d),
            _ => None,
        }
    }

    /// Mutable domain data.
    pub fn domain_data_mut(&mut self) -> Option<&mut Domain> {
        match &mut self.kind {
            AppKind::SecurityDomain(d) => Some(d),
            _ => None,
        }
    }
}

mod privileges_hex {
    use provisio_gp::command::Privileges;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(p: &Privileges, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode_upper(p.0))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Privileges, D::Error> {
        use serde::de::Error;
        let b = hex::decode(String::deserialize(d)?).map_err(D::Error::custom)?;
        Privileges::parse(&b).map_err(D::Error::custom)
    }
}
