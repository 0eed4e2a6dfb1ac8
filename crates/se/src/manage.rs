//! Card content management inside an open session (GPC 2.3 chapter 9 and 11): what a
//! security domain accepts, from whom, at which level.
//!
//! The rules a real card enforces and this one does too:
//! - every command here needs an authenticated session at or above the domain's minimum level;
//! - INSTALL, LOAD and extradition need the issuer security domain, authorized management, or
//!   delegated management with a valid token;
//! - a domain reaches only the applications associated with it (global privileges aside), and
//!   answers "not found" for others rather than revealing them;
//! - keys change only by PUT KEY, encrypted under the session key set's K-DEK; a domain's
//!   first keys may come from the domain that created it, and never again after that.

use provisio_crypto::AesKey;
use provisio_gp::command::{
    INS_DELETE, INS_GET_DATA, INS_GET_STATUS, INS_INSTALL, INS_LOAD, INS_PUT_KEY, INS_SET_STATUS,
    INS_STORE_DATA, Install, Privileges, StatusEntry, StatusTarget, StoreData, Subset,
    parse_delete, parse_get_status, parse_load, parse_put_key, parse_set_status, put_key_response,
};
use provisio_gp::scp03::{SecurityLevel, StaticKeys};
use provisio_gp::tlv::Tlv;
use provisio_gp::{Aid, Command, Response, StatusWord};
use subtle::ConstantTimeEq;

use crate::card::VirtualSe;
use crate::registry::{AppKind, Application, Domain, LoadFile, payment_module, sd_module};
use crate::{CardLifeCycle, app_state};

/// GET STATUS entries per response before `6310`.
pub const STATUS_PAGE: usize = 4;

type Sw = StatusWord;

/// The delegated management token for an INSTALL (GPC 2.3 C.4.1), as this element checks it:
/// AES-CMAC under the issuer security domain's K-MAC over P1, P2 and the command data with an
/// empty token field, first 8 bytes.
///
/// GPC specifies an asymmetric token key (RSA or ECC) so that the token issuer need not hold
/// card keys; this element uses the ISD's MAC key instead. The token is checked all the same.
pub fn delegation_token(isd_keys: &StaticKeys, install: &Install) -> Vec<u8> {
    let cmd = strip_token(install).command();
    let tag = isd_keys.mac.cmac(&[&[cmd.p1, cmd.p2], &cmd.data]);
    tag.get(..8).unwrap_or_default().to_vec()
}

fn strip_token(install: &Install) -> Install {
    let mut i = install.clone();
    match &mut i {
        Install::ForInstall { token, .. } | Install::ForExtradition { token, .. } => token.clear(),
        _ => {}
    }
    i
}

fn token_of(install: &Install) -> &[u8] {
    match install {
        Install::ForInstall { token, .. } | Install::ForExtradition { token, .. } => token,
        _ => &[],
    }
}

impl VirtualSe {
    /// One unwrapped command for security domain `sd`, in a session at `level` opened with key
    /// set `kvn`.
    pub(crate) fn manage(
        &mut self,
        sd: &Aid,
        level: SecurityLevel,
        kvn: u8,
        cmd: &Command,
    ) -> Response {
        let Some(min) = self
            .app(sd)
            .and_then(Application::domain_data)
            .map(|d| d.min_level)
        else {
            return Response::status(Sw::CONDITIONS_NOT_SATISFIED);
        };
        if !level.covers(SecurityLevel::from_byte(min).unwrap_or(SecurityLevel::FULL)) {
            return Response::status(Sw::SECURITY_STATUS_NOT_SATISFIED);
        }
        let content = matches!(
            cmd.ins,
            INS_INSTALL | INS_LOAD | INS_DELETE | INS_PUT_KEY | INS_STORE_DATA
        );
        if content && self.life_cycle == CardLifeCycle::CardLocked {
            return Response::status(Sw::CONDITIONS_NOT_SATISFIED);
        }
        match cmd.ins {
            INS_GET_DATA => self.get_data(sd, cmd),
            INS_GET_STATUS => self.get_status(sd, cmd),
            INS_SET_STATUS => Response::status(self.set_status(sd, cmd)),
            INS_INSTALL => Response::status(self.install(sd, cmd)),
            INS_LOAD => self.load(cmd),
            INS_DELETE => self.delete(sd, cmd),
            INS_PUT_KEY => self.put_key(sd, kvn, cmd),
            INS_STORE_DATA => Response::status(self.store_data(sd, kvn, cmd)),
            _ => Response::status(Sw::INS_NOT_SUPPORTED),
        }
    }

    /// The K-DEK of the key set the session was opened with: what PUT KEY and encrypted STORE
    /// DATA are encrypted under.
    fn session_dek(&self, sd: &Aid, kvn: u8) -> Option<AesKey> {
        self.app(sd)
            .and_then(Application::domain_data)
            .and_then(|d| d.key_set(kvn))
            .map(|k| k.dek.clone())
    }

    fn privileges(&self, aid: &Aid) -> Privileges {
        self.app(aid).map(|a| a.privileges).unwrap_or_default()
    }

    /// Whether `sd` may install, load or extradite: the ISD, authorized management, or
    /// delegated management with a valid token.
    fn may_manage(&self, sd: &Aid, install: Option<&Install>) -> Result<(), Sw> {
        let p = self.privileges(sd);
        if *sd == self.isd || p.has(Privileges::AUTHORIZED_MANAGEMENT) {
            return Ok(());
        }
        if !p.has(Privileges::DELEGATED_MANAGEMENT) {
            return Err(Sw::CONDITIONS_NOT_SATISFIED);
        }
        let (Some(install), Some(isd_keys)) = (
            install,
            self.app(&self.isd)
                .and_then(Application::domain_data)
                .and_then(|d| d.keys.first()),
        ) else {
            return Err(Sw::CONDITIONS_NOT_SATISFIED);
        };
        if token_of(install).is_empty() {
            return Err(Sw::CONDITIONS_NOT_SATISFIED);
        }
        let expected = delegation_token(isd_keys, install);
        if bool::from(expected.ct_eq(token_of(install))) {
            Ok(())
        } else {
            Err(Sw::SECURITY_STATUS_NOT_SATISFIED)
        }
    }

    /// An application `sd` may act on: associated with it (or any, with `global`).
    fn own_app(&self, sd: &Aid, aid: &Aid, global: Privileges) -> Result<&Application, Sw> {
        let app = self.app(aid).ok_or(Sw::REFERENCED_DATA_NOT_FOUND)?;
        if app.domain == *sd || (self.privileges(sd).has(global) && global != Privileges::NONE) {
            Ok(app)
        } else {
            Err(Sw::REFERENCED_DATA_NOT_FOUND)
        }
    }

    fn install(&mut self, sd: &Aid, cmd: &Command) -> Sw {
        let Ok(install) = Install::parse(cmd) else {
            return Sw::INCORRECT_DATA;
        };
        match install {
            Install::ForPersonalization { app } => match self.own_app(sd, &app, Privileges::NONE) {
                Ok(_) => {
                    self.rt.perso = Some(app);
                    Sw::OK
                }
                Err(sw) => sw,
            },
            Install::MakeSelectable { app, .. } => {
                if let Err(sw) = self.own_app(sd, &app, Privileges::NONE) {
                    return sw;
                }
                match self.app_mut(&app) {
                    Some(a) if a.state == app_state::INSTALLED => {
                        a.state = app_state::SELECTABLE;
                        Sw::OK
                    }
                    _ => Sw::CONDITIONS_NOT_SATISFIED,
                }
            }
            Install::ForExtradition {
                sd: ref to,
                ref app,
                ..
            } => {
                if let Err(sw) = self.may_manage(sd, Some(&install)) {
                    return sw;
                }
                let (to, app) = (to.clone(), app.clone());
                if let Err(sw) = self.own_app(sd, &app, Privileges::NONE) {
                    return sw;
                }
                if app == self.isd
                    || app == to
                    || self.app(&to).and_then(Application::domain_data).is_none()
                {
                    return Sw::REFERENCED_DATA_NOT_FOUND;
                }
                if let Some(a) = self.app_mut(&app) {
                    a.domain = to;
                }
                Sw::OK
            }
            Install::ForLoad { elf, sd: target } => {
                if let Err(sw) = self.may_manage(sd, None) {
                    return sw;
                }
                if self.load_files.iter().any(|f| f.aid == elf) {
                    return Sw::CONDITIONS_NOT_SATISFIED;
                }
                let domain = target.unwrap_or_else(|| sd.clone());
                if self
                    .app(&domain)
                    .and_then(Application::domain_data)
                    .is_none()
                {
                    return Sw::REFERENCED_DATA_NOT_FOUND;
                }
                self.rt.loading = Some((elf, domain, 0, Vec::new()));
                Sw::OK
            }
            Install::ForInstall {
                ref elf,
                ref module,
                ref app,
                privileges,
                ref params,
                make_selectable,
                ..
            } => {
                if let Err(sw) = self.may_manage(sd, Some(&install)) {
                    return sw;
                }
                if !self
                    .load_files
                    .iter()
                    .any(|f| f.aid == *elf && f.modules.contains(module))
                {
                    return Sw::REFERENCED_DATA_NOT_FOUND;
                }
                if self.app(app).is_some() || self.load_files.iter().any(|f| f.aid == *app) {
                    return Sw::CONDITIONS_NOT_SATISFIED;
                }
                let is_sd = *module == sd_module();
                if is_sd != privileges.has(Privileges::SECURITY_DOMAIN) {
                    return Sw::INCORRECT_DATA;
                }
                // Only the issuer security domain hands out management and global privileges.
                let powerful = [
                    Privileges::AUTHORIZED_MANAGEMENT,
                    Privileges::DELEGATED_MANAGEMENT,
                    Privileges::GLOBAL_DELETE,
                    Privileges::GLOBAL_LOCK,
                    Privileges::GLOBAL_REGISTRY,
                    Privileges::CARD_LOCK,
                    Privileges::CARD_TERMINATE,
                    Privileges::TOKEN_VERIFICATION,
                ];
                if *sd != self.isd && powerful.iter().any(|p| privileges.has(*p)) {
                    return Sw::CONDITIONS_NOT_SATISFIED;
                }
                let kind = if is_sd {
                    // Install parameter 82: the domain's minimum security level (default C-MAC).
                    let min = Tlv::parse_all(params)
                        .ok()
                        .and_then(|t| Tlv::find(&t, 0x82).and_then(|v| v.value.first().copied()))
                        .map(SecurityLevel::from_byte);
                    match min {
                        Some(Ok(level)) => AppKind::SecurityDomain(Domain::new(level)),
                        Some(Err(_)) => return Sw::INCORRECT_DATA,
                        None => AppKind::SecurityDomain(Domain::new(SecurityLevel::CMAC)),
                    }
                } else if *module == payment_module() {
                    AppKind::Payment(Box::default())
                } else {
                    AppKind::Inert
                };
                self.apps.push(Application {
                    aid: app.clone(),
                    load_file: elf.clone(),
                    module: module.clone(),
                    state: if make_selectable {
                        app_state::SELECTABLE
                    } else {
                        app_state::INSTALLED
                    },
                    privileges,
                    domain: sd.clone(),
                    kind,
                });
                Sw::OK
            }
        }
    }

    fn load(&mut self, cmd: &Command) -> Response {
        let Ok((last, block, data)) = parse_load(cmd) else {
            return Response::status(Sw::INCORRECT_DATA);
        };
        let Some((elf, domain, next, mut buf)) = self.rt.loading.take() else {
            return Response::status(Sw::CONDITIONS_NOT_SATISFIED);
        };
        if block != next {
            return Response::status(Sw::INCORRECT_P1P2);
        }
        buf.extend_from_slice(data);
        if !last {
            self.rt.loading = Some((elf, domain, next.wrapping_add(1), buf));
            return Response::status(Sw::OK);
        }
        // The load file image: C4 { 4F module AID … }. The element runs no bytecode, so a
        // loaded module is an inert applet.
        let modules = Tlv::parse_one(&buf)
            .ok()
            .filter(|c4| c4.tag.0 == 0xC4)
            .and_then(|c4| Tlv::parse_all(&c4.value).ok())
            .and_then(|list| {
                list.into_iter()
                    .map(|t| {
                        if t.tag.0 == 0x4F {
                            Aid::try_from(t.value.as_slice()).ok()
                        } else {
                            None
                        }
                    })
                    .collect::<Option<Vec<_>>>()
            });
        let Some(modules) = modules else {
            return Response::status(Sw::INCORRECT_DATA);
        };
        self.load_files.push(LoadFile {
            aid: elf,
            modules,
            domain,
            rom: false,
        });
        Response::new(vec![0x00], Sw::OK)
    }

    fn delete(&mut self, sd: &Aid, cmd: &Command) -> Response {
        let Ok((aid, related)) = parse_delete(cmd) else {
            return Response::status(Sw::INCORRECT_DATA);
        };
        if aid == self.isd {
            return Response::status(Sw::CONDITIONS_NOT_SATISFIED);
        }
        if let Some(file) = self.load_files.iter().find(|f| f.aid == aid) {
            if file.rom
                || (file.domain != *sd && !self.privileges(sd).has(Privileges::GLOBAL_DELETE))
            {
                return Response::status(if file.rom {
                    Sw::CONDITIONS_NOT_SATISFIED
                } else {
                    Sw::REFERENCED_DATA_NOT_FOUND
                });
            }
            let has_instances = self.apps.iter().any(|a| a.load_file == aid);
            if has_instances && !related {
                return Response::status(Sw::CONDITIONS_NOT_SATISFIED);
            }
            self.apps.retain(|a| a.load_file != aid);
            self.load_files.retain(|f| f.aid != aid);
            return Response::new(vec![0x00], Sw::OK);
        }
        let app = match self.own_app(sd, &aid, Privileges::GLOBAL_DELETE) {
            Ok(app) => app,
            Err(sw) => return Response::status(sw),
        };
        let is_sd = app.domain_data().is_some();
        let dependants = self.apps.iter().any(|a| a.domain == aid && a.aid != aid);
        if is_sd && dependants && !related {
            return Response::status(Sw::CONDITIONS_NOT_SATISFIED);
        }
        self.apps
            .retain(|a| a.aid != aid && !(is_sd && a.domain == aid));
        Response::new(vec![0x00], Sw::OK)
    }

    fn put_key(&mut self, sd: &Aid, kvn: u8, cmd: &Command) -> Response {
        let Some(dek) = self.session_dek(sd, kvn) else {
            return Response::status(Sw::CONDITIONS_NOT_SATISFIED);
        };
        let Ok((replaces, new)) = parse_put_key(cmd, &dek) else {
            return Response::status(Sw::INCORRECT_DATA);
        };
        let answer = put_key_response(&new);
        // A domain this one created and is personalising: its initial keys, once.
        if let Some(target) = self.rt.perso.clone().filter(|t| t != sd) {
            let Ok(app) = self.own_app(sd, &target, Privileges::NONE) else {
                return Response::status(Sw::REFERENCED_DATA_NOT_FOUND);
            };
            if app.domain_data().is_none_or(|d| !d.keys.is_empty()) || replaces.is_some() {
                return Response::status(Sw::CONDITIONS_NOT_SATISFIED);
            }
            if let Some(app) = self.app_mut(&target) {
                if let Some(d) = app.domain_data_mut() {
                    d.keys.push(new);
                }
                app.state = app_state::PERSONALIZED;
            }
            return Response::new(answer, Sw::OK);
        }
        let Some(domain) = self.app_mut(sd).and_then(Application::domain_data_mut) else {
            return Response::status(Sw::CONDITIONS_NOT_SATISFIED);
        };
        let clash = domain
            .keys
            .iter()
            .any(|k| k.kvn == new.kvn && Some(k.kvn) != replaces);
        if clash {
            return Response::status(Sw::CONDITIONS_NOT_SATISFIED);
        }
        match replaces {
            None => domain.keys.push(new),
            Some(old) => match domain.keys.iter_mut().find(|k| k.kvn == old) {
                Some(slot) => *slot = new,
                None => return Response::status(Sw::REFERENCED_DATA_NOT_FOUND),
            },
        }
        Response::new(answer, Sw::OK)
    }

    fn store_data(&mut self, sd: &Aid, kvn: u8, cmd: &Command) -> Sw {
        let Ok(block) = StoreData::parse(cmd) else {
            return Sw::INCORRECT_DATA;
        };
        let Some(target) = self.rt.perso.clone() else {
            return Sw::CONDITIONS_NOT_SATISFIED;
        };
        if self.own_app(sd, &target, Privileges::NONE).is_err() {
            return Sw::REFERENCED_DATA_NOT_FOUND;
        }
        let Some(dek) = self.session_dek(sd, kvn) else {
            return Sw::CONDITIONS_NOT_SATISFIED;
        };
        let Some(Application {
            kind: AppKind::Payment(applet),
            state,
            ..
        }) = self.app_mut(&target)
        else {
            return Sw::INCORRECT_DATA;
        };
        let sw = applet.store_data(&block, &dek);
        if applet.is_personalized() {
            // Application-specific state 0F: what GET STATUS shows a TSM resuming a script.
            *state = app_state::PERSONALIZED;
        }
        sw
    }

    fn get_status(&mut self, sd: &Aid, cmd: &Command) -> Response {
        let Ok((subset, next, prefix)) = parse_get_status(cmd) else {
            return Response::status(Sw::INCORRECT_DATA);
        };
        let mut entries = if next {
            match self.rt.status_rest.take() {
                Some(rest) => rest,
                None => return Response::status(Sw::REFERENCED_DATA_NOT_FOUND),
            }
        } else {
            let global = *sd == self.isd || self.privileges(sd).has(Privileges::GLOBAL_REGISTRY);
            let visible = |domain: &Aid, aid: &Aid| global || domain == sd || aid == sd;
            let list: Vec<Vec<u8>> = match subset {
                Subset::IssuerSecurityDomain if global => vec![
                    StatusEntry {
                        aid: self.isd.clone(),
                        life_cycle: self.life_cycle.byte(),
                        privileges: Some(self.privileges(&self.isd).0),
                        load_file: None,
                        domain: None,
                        modules: vec![],
                    }
                    .encode(),
                ],
                Subset::IssuerSecurityDomain => vec![],
                Subset::Applications => self
                    .apps
                    .iter()
                    .filter(|a| {
                        a.aid != self.isd
                            && visible(&a.domain, &a.aid)
                            && a.aid.starts_with(&prefix)
                    })
                    .map(|a| {
                        StatusEntry {
                            aid: a.aid.clone(),
                            life_cycle: a.state,
                            privileges: Some(a.privileges.0),
                            load_file: Some(a.load_file.clone()),
                            domain: Some(a.domain.clone()),
                            modules: vec![],
                        }
                        .encode()
                    })
                    .collect(),
                Subset::LoadFiles | Subset::LoadFilesAndModules => self
                    .load_files
                    .iter()
                    .filter(|f| visible(&f.domain, &f.aid) && f.aid.starts_with(&prefix))
                    .map(|f| {
                        StatusEntry {
                            aid: f.aid.clone(),
                            life_cycle: 0x01,
                            privileges: None,
                            load_file: None,
                            domain: Some(f.domain.clone()),
                            modules: if subset == Subset::LoadFilesAndModules {
                                f.modules.clone()
                            } else {
                                vec![]
                            },
                        }
                        .encode()
                    })
                    .collect(),
            };
            if list.is_empty() {
                return Response::status(Sw::REFERENCED_DATA_NOT_FOUND);
            }
            list
        };
        let rest = entries.split_off(entries.len().min(STATUS_PAGE));
        let data = entries.concat();
        if rest.is_empty() {
            Response::new(data, Sw::OK)
        } else {
            self.rt.status_rest = Some(rest);
            Response::new(data, Sw::MORE_DATA)
        }
    }

    fn set_status(&mut self, sd: &Aid, cmd: &Command) -> Sw {
        let Ok((target, state, aid)) = parse_set_status(cmd) else {
            return Sw::INCORRECT_DATA;
        };
        match (target, aid) {
            (StatusTarget::Card, _) => {
                let Some(to) = CardLifeCycle::from_byte(state) else {
                    return Sw::INCORRECT_DATA;
                };
                let needed = match to {
                    CardLifeCycle::CardLocked => Privileges::CARD_LOCK,
                    CardLifeCycle::Terminated => Privileges::CARD_TERMINATE,
                    _ => Privileges::SECURITY_DOMAIN,
                };
                let allowed = *sd == self.isd
                    || (self.privileges(sd).has(needed) && needed != Privileges::SECURITY_DOMAIN);
                if !allowed || !self.life_cycle.can_become(to) {
                    return Sw::CONDITIONS_NOT_SATISFIED;
                }
                self.life_cycle = to;
                if let Some(isd) = self.app_mut(&self.isd.clone()) {
                    isd.state = to.byte();
                }
                Sw::OK
            }
            (_, Some(aid)) => {
                if aid == self.isd {
                    return Sw::CONDITIONS_NOT_SATISFIED;
                }
                if let Err(sw) = self.own_app(sd, &aid, Privileges::GLOBAL_LOCK) {
                    return sw;
                }
                let with_apps = target == StatusTarget::DomainAndApplications;
                let lock = state == app_state::LOCKED_BIT;
                let unlock = state == 0x00;
                let app_specific = !lock && !unlock && state & 0x87 == 0x07;
                if !(lock || unlock || app_specific) {
                    return Sw::INCORRECT_DATA;
                }
                for a in self
                    .apps
                    .iter_mut()
                    .filter(|a| a.aid == aid || (with_apps && a.domain == aid))
                {
                    a.state = if lock {
                        a.state | app_state::LOCKED_BIT
                    } else if unlock {
                        a.state & !app_state::LOCKED_BIT
                    } else {
                        state
                    };
                }
                Sw::OK
            }
            (_, None) => Sw::INCORRECT_DATA,
        }
    }
}
