//! Plans: what a TSM wants on the element, turned into steps against what the element
//! already has.
//!
//! A TSM never replays a script blindly. Every session starts with a survey (GET STATUS of
//! the applications the domain can see, GET DATA of its key information), and the plan is
//! made from that survey: a step whose effect is already on the element is left out. An
//! interrupted session (relay gone, server restarted) therefore resumes by simply starting
//! again, and no command is applied twice (US 8,060,449 needs both TSMs to survive a phone
//! that drops off the network mid-script).

use provisio_crypto::AesKey;
use provisio_gp::command::{
    Encryption, Install, KeyInfo, Privileges, StatusEntry, StoreData, Structure, put_key,
};
use provisio_gp::scp03::StaticKeys;
use provisio_gp::tlv::Tlv;
use provisio_gp::{Aid, Command, StatusWord};
use provisio_se::{app_state, payment_load_file, payment_module, sd_load_file, sd_module};

/// One command of a plan and the status words that mean it was applied.
#[derive(Debug, Clone)]
pub struct Step {
    /// What it does, for the audit record (never key material).
    pub label: String,
    /// The plain command; the session wraps it.
    pub command: Command,
    /// Status words that count as done.
    pub accept: Vec<StatusWord>,
}

impl Step {
    fn ok(label: impl Into<String>, command: Command) -> Self {
        Self {
            label: label.into(),
            command,
            accept: vec![StatusWord::OK],
        }
    }
}

/// What the element showed at the start of a session.
#[derive(Debug, Clone, Default)]
pub struct Survey {
    /// GET STATUS (applications) entries the domain can see.
    pub apps: Vec<StatusEntry>,
    /// The domain's key information (GET DATA `00E0`).
    pub keys: Vec<KeyInfo>,
}

impl Survey {
    /// The entry for `aid`, if visible.
    pub fn app(&self, aid: &Aid) -> Option<&StatusEntry> {
        self.apps.iter().find(|e| &e.aid == aid)
    }

    /// Whether the domain holds key version `kvn`.
    pub fn has_kvn(&self, kvn: u8) -> bool {
        self.keys.iter().any(|k| k.version == kvn)
    }
}

/// What a plan is made from.
pub trait Plan: Send {
    /// The steps still needed, given the survey.
    fn steps(&self, survey: &Survey) -> Vec<Step>;
}

/// The carrier's part (SEI-TSM, US 8,060,449 steps 4-5), run in a session with the issuer
/// security domain: create the issuer's supplementary security domain, install the payment
/// applet, hand it to the domain, and put the domain's initial keys.
#[derive(Debug, Clone)]
pub struct CreateDomain {
    /// The issuer's security domain.
    pub ssd: Aid,
    /// The payment applet instance.
    pub applet: Aid,
    /// The lowest level the domain will accept (install parameter 82).
    pub min_level: u8,
    /// The domain's initial keys (handed over to the SP-TSM).
    pub initial: StaticKeys,
    /// The ISD session's K-DEK, under which PUT KEY carries the initial keys.
    pub isd_dek: AesKey,
}

impl Plan for CreateDomain {
    fn steps(&self, s: &Survey) -> Vec<Step> {
        let mut steps = Vec::new();
        if s.app(&self.ssd).is_none() {
            let install = Install::ForInstall {
                elf: sd_load_file(),
                module: sd_module(),
                app: self.ssd.clone(),
                privileges: Privileges::SECURITY_DOMAIN,
                params: Tlv::new(0x82, vec![self.min_level]).encode(),
                make_selectable: true,
                token: vec![],
            };
            steps.push(Step::ok(
                format!("INSTALL security domain {}", self.ssd),
                install.command(),
            ));
        }
        match s.app(&self.applet) {
            None => {
                let install = Install::ForInstall {
                    elf: payment_load_file(),
                    module: payment_module(),
                    app: self.applet.clone(),
                    privileges: Privileges::NONE,
                    params: vec![],
                    make_selectable: true,
                    token: vec![],
                };
                steps.push(Step::ok(
                    format!("INSTALL payment applet {}", self.applet),
                    install.command(),
                ));
                steps.push(self.extradite());
            }
            Some(e) if e.domain.as_ref() != Some(&self.ssd) => steps.push(self.extradite()),
            Some(_) => {}
        }
        let personalized = s
            .app(&self.ssd)
            .is_some_and(|e| e.life_cycle == app_state::PERSONALIZED);
        if !personalized {
            let perso = Install::ForPersonalization {
                app: self.ssd.clone(),
            };
            steps.push(Step::ok(
                format!("INSTALL for personalization {}", self.ssd),
                perso.command(),
            ));
            steps.push(Step::ok(
                format!("PUT KEY initial key set {:02X}", self.initial.kvn),
                put_key(&self.initial, None, &self.isd_dek),
            ));
        }
        steps
    }
}

impl CreateDomain {
    fn extradite(&self) -> Step {
        let install = Install::ForExtradition {
            sd: self.ssd.clone(),
            app: self.applet.clone(),
            token: vec![],
        };
        Step::ok(
            format!("INSTALL for extradition of {} to {}", self.applet, self.ssd),
            install.command(),
        )
    }
}

/// The issuer's key handover (US 8,060,449 step 5), run in a session with its own domain:
/// replace the initial key set with the SP-TSM's own. The session is opened with the own keys
/// if they already work (a resumed handover), else with the initial ones.
#[derive(Debug, Clone)]
pub struct TakeOverKeys {
    /// The key set the carrier put.
    pub initial: StaticKeys,
    /// The SP-TSM's own key set.
    pub own: StaticKeys,
}

impl Plan for TakeOverKeys {
    fn steps(&self, s: &Survey) -> Vec<Step> {
        if s.has_kvn(self.own.kvn) {
            return Vec::new();
        }
        vec![Step::ok(
            format!(
                "PUT KEY replace {:02X} with {:02X}",
                self.initial.kvn, self.own.kvn
            ),
            put_key(&self.own, Some(self.initial.kvn), &self.initial.dek),
        )]
    }
}

/// Personalisation of the payment applet through the issuer's domain (US 8,060,449 step 6):
/// INSTALL [for personalization] and one STORE DATA with the token and its key.
#[derive(Debug, Clone)]
pub struct Personalize {
    /// The payment applet.
    pub applet: Aid,
    /// The STORE DATA data field ([`provisio_se::payment::personalization_data`]), its key
    /// already encrypted under the domain's K-DEK.
    pub data: Vec<u8>,
}

impl Plan for Personalize {
    fn steps(&self, s: &Survey) -> Vec<Step> {
        if s.app(&self.applet)
            .is_some_and(|e| e.life_cycle == app_state::PERSONALIZED)
        {
            return Vec::new();
        }
        let store = StoreData {
            last: true,
            encryption: Encryption::Encrypted,
            structure: Structure::Dgi,
            block: 0,
            data: self.data.clone(),
        };
        vec![
            Step::ok(
                format!("INSTALL for personalization {}", self.applet),
                Install::ForPersonalization {
                    app: self.applet.clone(),
                }
                .command(),
            ),
            Step::ok(
                "STORE DATA token credential (DGI 0101, 8000 encrypted)",
                store.command(),
            ),
        ]
    }
}
