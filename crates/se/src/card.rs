//! The card: APDU dispatch, selection, and the SCP03 session of the selected security domain.
//!
//! ```text
//!  bytes ─► Command::parse ─► SELECT? ─► select
//!                          └► selected is a security domain:
//!                               INITIALIZE UPDATE / EXTERNAL AUTHENTICATE ─► session
//!                               other ─► CardChannel::unwrap ─► manage ─► CardChannel::wrap
//!                          └► selected is an applet ─► its own commands
//! ```
//!
//! Sessions are transient, as on a real card: a reset (or a restart from the memory image)
//! ends them. The sequence counters are part of the image and only move forward; the caller
//! must store the image before it passes a response on.

use provisio_gp::command::{
    INS_GET_DATA, INS_SELECT, KEY_TYPE_AES, KeyInfo, Privileges, TAG_CARD_DATA,
    TAG_KEY_INFORMATION, TAG_SEQUENCE_COUNTER, fci, key_information, parse_select,
};
use provisio_gp::scp03::{
    CardChannel, CardHandshake, INS_EXTERNAL_AUTHENTICATE, INS_INITIALIZE_UPDATE, MAX_COUNTER,
    SecurityLevel, StaticKeys, parse_initialize_update,
};
use provisio_gp::tlv::Tlv;
use provisio_gp::{Aid, Command, GpError, Response, StatusWord};
use serde::{Deserialize, Serialize};

use crate::registry::payment_module;
use crate::registry::{
    AppKind, Application, Domain, LoadFile, payment_load_file, sd_load_file, sd_module,
};
use crate::{CardLifeCycle, SeError, app_state};

/// The memory image format version.
pub const IMAGE_VERSION: u32 = 1;

/// The privileges of the issuer security domain: security domain, card lock, terminate and
/// reset, CVM management; authorized management, token verification, global delete, lock and
/// registry, final application; receipt generation.
pub const ISD_PRIVILEGES: Privileges = Privileges([0x9E, 0xFE, 0x80]);

/// A virtual GlobalPlatform secure element.
#[derive(Debug, Serialize, Deserialize)]
pub struct VirtualSe {
    pub(crate) version: u32,
    pub(crate) life_cycle: CardLifeCycle,
    #[serde(with = "hex_array")]
    pub(crate) diversification: [u8; 10],
    pub(crate) isd: Aid,
    pub(crate) load_files: Vec<LoadFile>,
    pub(crate) apps: Vec<Application>,
    #[serde(skip)]
    pub(crate) rt: Runtime,
}

/// What lasts only while the element has power.
#[derive(Debug, Default)]
pub(crate) struct Runtime {
    pub(crate) selected: Option<Aid>,
    pub(crate) session: Session,
    /// The application INSTALL [for personalization] named.
    pub(crate) perso: Option<Aid>,
    /// A load in progress: the file, its domain, the next block number and the bytes so far.
    pub(crate) loading: Option<(Aid, Aid, u8, Vec<u8>)>,
    /// GET STATUS entries not yet returned.
    pub(crate) status_rest: Option<Vec<Vec<u8>>>,
}

/// The secure channel state of the selected security domain.
#[derive(Debug, Default)]
pub(crate) enum Session {
    /// No session.
    #[default]
    None,
    /// INITIALIZE UPDATE answered.
    Pending {
        sd: Aid,
        kvn: u8,
        handshake: CardHandshake,
    },
    /// Authenticated.
    Open {
        sd: Aid,
        kvn: u8,
        channel: CardChannel,
    },
}

impl VirtualSe {
    /// A new element in the SECURED state, with an issuer security domain holding `isd_keys`
    /// and accepting management at `min_level` or above, and the ROM packages (security domain,
    /// payment applet).
    pub fn new(isd_keys: StaticKeys, diversification: [u8; 10], min_level: SecurityLevel) -> Self {
        let isd = Aid::isd();
        let mut domain = Domain::new(min_level);
        domain.keys.push(isd_keys);
        let rom = |aid, module| LoadFile {
            aid,
            modules: vec![module],
            domain: isd.clone(),
            rom: true,
        };
        Self {
            version: IMAGE_VERSION,
            life_cycle: CardLifeCycle::Secured,
            diversification,
            isd: isd.clone(),
            load_files: vec![
                rom(sd_load_file(), sd_module()),
                rom(payment_load_file(), payment_module()),
            ],
            apps: vec![Application {
                aid: isd.clone(),
                load_file: sd_load_file(),
                module: sd_module(),
                state: CardLifeCycle::Secured.byte(),
                privileges: ISD_PRIVILEGES,
                domain: isd.clone(),
                kind: AppKind::SecurityDomain(domain),
            }],
            rt: Runtime {
                selected: Some(isd),
                ..Runtime::default()
            },
        }
    }

    /// Restores an element from its memory image ([`VirtualSe::to_image`]), powered up with the
    /// issuer security domain selected.
    pub fn from_image(image: &str) -> Result<Self, SeError> {
        let mut se: Self =
            serde_json::from_str(image).map_err(|e| SeError::Image(e.to_string()))?;
        if se.version != IMAGE_VERSION {
            return Err(SeError::Image(format!(
                "image version {} is not {IMAGE_VERSION}",
                se.version
            )));
        }
        if se.app(&se.isd).and_then(Application::domain_data).is_none() {
            return Err(SeError::Image("no issuer security domain".into()));
        }
        se.reset();
        Ok(se)
    }

    /// The memory image: everything that survives a power cycle, keys included.
    pub fn to_image(&self) -> String {
        // Serializing plain data with string keys cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// A power cycle: the session ends and the issuer security domain is selected.
    pub fn reset(&mut self) {
        self.rt = Runtime {
            selected: Some(self.isd.clone()),
            ..Runtime::default()
        };
    }

    /// The card life cycle state.
    pub fn life_cycle(&self) -> CardLifeCycle {
        self.life_cycle
    }

    /// The issuer security domain's AID.
    pub fn isd(&self) -> &Aid {
        &self.isd
    }

    /// The last sequence counter a security domain used; its next INITIALIZE UPDATE uses the
    /// next value.
    pub fn counter(&self, sd: &Aid) -> Option<u32> {
        self.app(sd)
            .and_then(Application::domain_data)
            .map(|d| d.counter)
    }

    /// Processes one command APDU and returns the response APDU. Never panics, whatever the
    /// bytes.
    pub fn transmit(&mut self, apdu: &[u8]) -> Vec<u8> {
        let resp = match Command::parse(apdu) {
            Ok(cmd) => self.process(cmd),
            Err(_) => Response::status(StatusWord::WRONG_LENGTH),
        };
        resp.encode()
    }

    fn process(&mut self, cmd: Command) -> Response {
        if cmd.cla & 0x03 != 0 || cmd.cla & 0x40 != 0 {
            return Response::status(StatusWord::CHANNEL_NOT_SUPPORTED);
        }
        if !matches!(cmd.cla & !0x04, 0x00 | 0x80) {
            return Response::status(StatusWord::CLA_NOT_SUPPORTED);
        }
        if cmd.ins == INS_SELECT && cmd.cla == 0x00 {
            return self.select(&cmd);
        }
        if self.life_cycle == CardLifeCycle::Terminated {
            return Response::status(StatusWord::FUNCTION_NOT_SUPPORTED);
        }
        let Some(selected) = self.rt.selected.clone() else {
            return Response::status(StatusWord::CONDITIONS_NOT_SATISFIED);
        };
        let Some(app) = self.app_mut(&selected) else {
            return Response::status(StatusWord::CONDITIONS_NOT_SATISFIED);
        };
        match &mut app.kind {
            AppKind::Payment(applet) => applet.process(&cmd),
            AppKind::Inert => Response::status(StatusWord::INS_NOT_SUPPORTED),
            AppKind::SecurityDomain(_) => self.domain_command(selected, cmd),
        }
    }

    fn select(&mut self, cmd: &Command) -> Response {
        let Ok(wanted) = parse_select(cmd) else {
            return Response::status(StatusWord::INCORRECT_P1P2);
        };
        let found = self.apps.iter().find(|a| a.aid == wanted).or_else(|| {
            self.apps
                .iter()
                .find(|a| a.aid.starts_with(wanted.as_bytes()))
        });
        let Some(app) = found else {
            return Response::status(StatusWord::NOT_FOUND);
        };
        let is_isd = app.aid == self.isd;
        let locked_out = matches!(
            self.life_cycle,
            CardLifeCycle::CardLocked | CardLifeCycle::Terminated
        );
        if !is_isd && (locked_out || !app_state::is_selectable(app.state)) {
            return Response::status(StatusWord::NOT_FOUND);
        }
        let aid = app.aid.clone();
        let body = match &app.kind {
            AppKind::SecurityDomain(_) => fci(&aid, 255),
            _ => Tlv::new(
                0x6F,
                [
                    Tlv::new(0x84, aid.as_bytes().to_vec()).encode(),
                    Tlv::new(0xA5, Tlv::new(0x50, b"PROVISIO".to_vec()).encode()).encode(),
                ]
                .concat(),
            )
            .encode(),
        };
        // Selecting ends the previous domain's session (GPC 10.2.3).
        self.rt = Runtime {
            selected: Some(aid),
            ..Runtime::default()
        };
        let sw = if locked_out {
            StatusWord::SELECTED_FILE_INVALIDATED
        } else {
            StatusWord::OK
        };
        Response::new(body, sw)
    }

    fn domain_command(&mut self, sd: Aid, cmd: Command) -> Response {
        match (cmd.cla, cmd.ins) {
            (0x80, INS_INITIALIZE_UPDATE) => return self.initialize_update(sd, &cmd),
            (0x84, INS_EXTERNAL_AUTHENTICATE) => return self.external_authenticate(sd, cmd),
            _ => {}
        }
        match std::mem::take(&mut self.rt.session) {
            Session::Open {
                sd: open_sd,
                kvn,
                mut channel,
            } if open_sd == sd => {
                let plain = match channel.unwrap(cmd) {
                    Ok(plain) => plain,
                    // A wrong C-MAC (or padding) ends the session; everything after it is
                    // refused until a new one (Amendment D 6.2.4).
                    Err(_) => return Response::status(StatusWord::SECURITY_STATUS_NOT_SATISFIED),
                };
                let level = channel.level();
                let resp = self.manage(&sd, level, kvn, &plain);
                let resp = channel.wrap(resp);
                if matches!(self.rt.session, Session::None) && self.app(&sd).is_some() {
                    self.rt.session = Session::Open { sd, kvn, channel };
                }
                resp
            }
            _ => {
                // No session: only public data, and nothing that claims secure messaging.
                if cmd.cla == 0x80 && cmd.ins == INS_GET_DATA {
                    return self.get_data(&sd, &cmd);
                }
                Response::status(StatusWord::SECURITY_STATUS_NOT_SATISFIED)
            }
        }
    }

    fn initialize_update(&mut self, sd: Aid, cmd: &Command) -> Response {
        self.rt.session = Session::None;
        let Ok((kvn, host_challenge)) = parse_initialize_update(cmd) else {
            return Response::status(StatusWord::INCORRECT_DATA);
        };
        let div = self.diversification;
        let Some(domain) = self.app_mut(&sd).and_then(Application::domain_data_mut) else {
            return Response::status(StatusWord::CONDITIONS_NOT_SATISFIED);
        };
        let Some(keys) = domain.key_set(kvn).cloned() else {
            return Response::status(StatusWord::REFERENCED_DATA_NOT_FOUND);
        };
        if domain.counter >= MAX_COUNTER {
            return Response::status(StatusWord::CONDITIONS_NOT_SATISFIED);
        }
        domain.counter += 1;
        let (data, handshake) = CardHandshake::initialize_update(
            &keys,
            div,
            domain.counter,
            sd.as_bytes(),
            host_challenge,
        );
        self.rt.session = Session::Pending {
            sd,
            kvn: keys.kvn,
            handshake,
        };
        Response::new(data, StatusWord::OK)
    }

    fn external_authenticate(&mut self, sd: Aid, cmd: Command) -> Response {
        let Session::Pending {
            sd: pending_sd,
            kvn,
            handshake,
        } = std::mem::take(&mut self.rt.session)
        else {
            return Response::status(StatusWord::CONDITIONS_NOT_SATISFIED);
        };
        if pending_sd != sd {
            return Response::status(StatusWord::CONDITIONS_NOT_SATISFIED);
        }
        match handshake.external_authenticate(cmd) {
            Ok(channel) => {
                self.rt.session = Session::Open { sd, kvn, channel };
                Response::status(StatusWord::OK)
            }
            // GPC 11.5.3: 6300 when the host is not authenticated, whether the cryptogram or
            // the MAC over it is wrong.
            Err(GpError::HostCryptogram | GpError::CommandMac) => {
                Response::status(StatusWord::AUTHENTICATION_FAILED)
            }
            Err(GpError::SecurityLevel(_) | GpError::Malformed(_)) => {
                Response::status(StatusWord::INCORRECT_P1P2)
            }
            Err(_) => Response::status(StatusWord::SECURITY_STATUS_NOT_SATISFIED),
        }
    }

    pub(crate) fn get_data(&self, sd: &Aid, cmd: &Command) -> Response {
        let Some(domain) = self.app(sd).and_then(Application::domain_data) else {
            return Response::status(StatusWord::CONDITIONS_NOT_SATISFIED);
        };
        let tag = u16::from_be_bytes([cmd.p1, cmd.p2]);
        let data = match tag {
            TAG_KEY_INFORMATION => key_information(
                &domain
                    .keys
                    .iter()
                    .flat_map(|k| {
                        (1..=3).map(move |id| KeyInfo {
                            id,
                            version: k.kvn,
                            key_type: KEY_TYPE_AES,
                            length: k.enc.len() as u8,
                        })
                    })
                    .collect::<Vec<_>>(),
            ),
            TAG_SEQUENCE_COUNTER => {
                Tlv::new(0xC1, domain.counter.to_be_bytes()[1..].to_vec()).encode()
            }
            // Card recognition data (GPC H.2): the GlobalPlatform OID and SCP03 with i=70.
            TAG_CARD_DATA => Tlv::new(
                0x66,
                Tlv::new(
                    0x73,
                    [
                        Tlv::new(0x06, vec![0x2A, 0x86, 0x48, 0x86, 0xFC, 0x6B, 0x01]).encode(),
                        Tlv::new(
                            0x64,
                            Tlv::new(
                                0x06,
                                vec![0x2A, 0x86, 0x48, 0x86, 0xFC, 0x6B, 0x04, 0x03, 0x70],
                            )
                            .encode(),
                        )
                        .encode(),
                    ]
                    .concat(),
                )
                .encode(),
            )
            .encode(),
            _ => return Response::status(StatusWord::REFERENCED_DATA_NOT_FOUND),
        };
        Response::new(data, StatusWord::OK)
    }

    pub(crate) fn app(&self, aid: &Aid) -> Option<&Application> {
        self.apps.iter().find(|a| &a.aid == aid)
    }

    pub(crate) fn app_mut(&mut self, aid: &Aid) -> Option<&mut Application> {
        self.apps.iter_mut().find(|a| &a.aid == aid)
    }
}

mod hex_array {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(b: &[u8; 10], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode_upper(b))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 10], D::Error> {
        use serde::de::Error;
        let v = hex::decode(String::deserialize(d)?).map_err(D::Error::custom)?;
        v.try_into()
            .map_err(|_| D::Error::custom("diversification data must be 10 bytes"))
    }
}
