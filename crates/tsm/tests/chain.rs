//! The whole US 8,060,449 chain in process: the carrier's and the issuer's TSM sessions
//! relayed to a virtual element, with the relay dropping out at every possible point, a
//! tampered APDU, a repeated request, and the carrier after the key handover.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use provisio_crypto::AesKey;
use provisio_gp::command::Install;
use provisio_gp::scp03::{SecurityLevel, StaticKeys};
use provisio_gp::{Aid, StatusWord};
use provisio_se::VirtualSe;
use provisio_se::payment::personalization_data;
use provisio_tsm::{
    AdminSession, CreateDomain, Next, Personalize, Plan, Report, Step, Survey, TakeOverKeys,
    TsmError,
};

fn keys(kvn: u8, seed: u8, len: usize) -> StaticKeys {
    StaticKeys::from_bytes(
        kvn,
        &vec![seed; len],
        &vec![seed ^ 1; len],
        &vec![seed ^ 2; len],
    )
    .unwrap()
}

fn carrier() -> StaticKeys {
    keys(0x30, 0x40, 16)
}
fn initial() -> StaticKeys {
    keys(0x30, 0x70, 16)
}
fn own() -> StaticKeys {
    keys(0x31, 0x90, 32)
}
fn ssd() -> Aid {
    "A000000151535041AB0001".parse().unwrap()
}
fn applet() -> Aid {
    "A0000000031010AB0001".parse().unwrap()
}

/// What the relay does to the traffic.
#[derive(Clone, Copy)]
enum Relay {
    Faithful,
    /// Delivers `n` commands to the element, then the phone drops off: the n-th command was
    /// processed but its response is lost.
    DropAfter(usize),
    /// Flips a bit in the first data byte of command `n` on its way to the element.
    Tamper(usize),
}

/// Runs one session over the relay; `Ok(None)` if the relay dropped out.
fn run(
    se: &mut VirtualSe,
    sd: &Aid,
    key_sets: Vec<StaticKeys>,
    plan: Box<dyn Plan>,
    relay: Relay,
) -> Result<Option<Report>, TsmError> {
    let key_sets = key_sets
        .into_iter()
        .enumerate()
        .map(|(i, k)| (k, [i as u8 + 1; 8]))
        .collect();
    let (mut session, mut apdu) = AdminSession::start(sd, key_sets, SecurityLevel::FULL, plan);
    for n in 1.. {
        if let Relay::Tamper(t) = relay
            && n == t
        {
            apdu[5] ^= 0x01;
        }
        let response = se.transmit(&apdu);
        if let Relay::DropAfter(d) = relay
            && n == d
        {
            return Ok(None);
        }
        match session.on_response(&response)? {
            Next::Send(next) => apdu = next,
            Next::Done(report) => return Ok(Some(report)),
        }
    }
    unreachable!()
}

fn create_domain() -> Box<dyn Plan> {
    Box::new(CreateDomain {
        ssd: ssd(),
        applet: applet(),
        min_level: 0x33,
        initial: initial(),
        isd_dek: carrier().dek,
    })
}

fn take_over() -> Box<dyn Plan> {
    Box::new(TakeOverKeys {
        initial: initial(),
        own: own(),
    })
}

fn personalize() -> Box<dyn Plan> {
    let key = AesKey::from_bytes(&[0xC7; 16]).unwrap();
    let data = personalization_data(
        &[0x49, 0x99, 0x99, 0, 0, 0, 0x12, 0x34],
        &[0x29, 0x12, 0x31],
        &key,
        &own().dek,
    );
    Box::new(Personalize {
        applet: applet(),
        data,
    })
}

fn new_se() -> VirtualSe {
    VirtualSe::new(carrier(), [0; 10], SecurityLevel::CMAC)
}

/// The three sessions on a faithful relay.
fn whole_chain(se: &mut VirtualSe) -> [Report; 3] {
    [
        run(
            se,
            &Aid::isd(),
            vec![carrier()],
            create_domain(),
            Relay::Faithful,
        )
        .unwrap()
        .unwrap(),
        run(
            se,
            &ssd(),
            vec![own(), initial()],
            take_over(),
            Relay::Faithful,
        )
        .unwrap()
        .unwrap(),
        run(se, &ssd(), vec![own()], personalize(), Relay::Faithful)
            .unwrap()
            .unwrap(),
    ]
}

/// The element's registry as GET STATUS would show it, for comparing outcomes.
fn registry(se: &VirtualSe) -> String {
    serde_json::to_string(&se.view()).unwrap_or_default()
}

#[test]
fn the_chain_completes_and_a_repeat_applies_nothing() {
    let mut se = new_se();
    let [create, handover, perso] = whole_chain(&mut se);
    assert_eq!(create.applied.len(), 5, "{:?}", create.applied);
    assert_eq!(
        handover.kvn, 0x30,
        "first handover opens with the initial keys"
    );
    assert_eq!(handover.applied.len(), 1);
    assert_eq!(perso.applied.len(), 2);
    // The same requests again (a duplicated service request): every session finds its work
    // done and sends no step.
    let before = registry(&se);
    let [create, handover, perso] = whole_chain(&mut se);
    assert!(create.applied.is_empty() && handover.applied.is_empty() && perso.applied.is_empty());
    assert_eq!(handover.kvn, 0x31, "the own keys open the domain now");
    let after = registry(&se);
    assert_eq!(strip_counters(&before), strip_counters(&after));
}

fn strip_counters(view: &str) -> String {
    let mut v: serde_json::Value = serde_json::from_str(view).unwrap();
    for app in v["applications"].as_array_mut().unwrap() {
        app.as_object_mut().unwrap().remove("counter");
    }
    v.to_string()
}

#[test]
fn a_relay_dropping_out_anywhere_resumes_without_applying_anything_twice() {
    let mut reference = new_se();
    whole_chain(&mut reference);
    let expected = strip_counters(&registry(&reference));

    type MakePlan = fn() -> Box<dyn Plan>;
    let sessions: [(Aid, Vec<StaticKeys>, MakePlan); 3] = [
        (Aid::isd(), vec![carrier()], create_domain),
        (ssd(), vec![own(), initial()], take_over),
        (ssd(), vec![own()], personalize),
    ];
    for (which, (sd, ks, plan)) in sessions.iter().enumerate() {
        for cut in 1..=12 {
            let mut se = new_se();
            for (sd, ks, plan) in &sessions[..which] {
                run(&mut se, sd, ks.clone(), plan(), Relay::Faithful)
                    .unwrap()
                    .unwrap();
            }
            let first = run(&mut se, sd, ks.clone(), plan(), Relay::DropAfter(cut)).unwrap();
            // Resume: a new session surveys and finishes; the card never refused a step, so
            // nothing was sent twice.
            let resumed = run(&mut se, sd, ks.clone(), plan(), Relay::Faithful)
                .unwrap_or_else(|e| panic!("session {which}, cut {cut}: {e}"))
                .unwrap();
            if first.is_some() {
                assert!(
                    resumed.applied.is_empty(),
                    "nothing left after a complete session"
                );
            }
            for (sd, ks, plan) in &sessions[which + 1..] {
                run(&mut se, sd, ks.clone(), plan(), Relay::Faithful)
                    .unwrap()
                    .unwrap();
            }
            assert_eq!(
                strip_counters(&registry(&se)),
                expected,
                "session {which}, cut {cut}"
            );
        }
    }
}

#[test]
fn a_tampered_apdu_is_refused_by_the_element_and_the_next_session_finishes() {
    let mut se = new_se();
    // Commands 4 to 9 are wrapped (GET STATUS, GET DATA, then the plan's steps), and the
    // relay sees them only as ciphertext with a MAC.
    for n in 4..=9 {
        let mut se2 = new_se();
        let err = run(
            &mut se2,
            &Aid::isd(),
            vec![carrier()],
            create_domain(),
            Relay::Tamper(n),
        )
        .unwrap_err();
        assert!(
            matches!(
                err,
                TsmError::Refused {
                    sw: StatusWord::SECURITY_STATUS_NOT_SATISFIED,
                    ..
                } | TsmError::Channel(_)
            ),
            "command {n}: {err}"
        );
        run(
            &mut se2,
            &Aid::isd(),
            vec![carrier()],
            create_domain(),
            Relay::Faithful,
        )
        .unwrap()
        .unwrap();
    }
    run(
        &mut se,
        &Aid::isd(),
        vec![carrier()],
        create_domain(),
        Relay::Faithful,
    )
    .unwrap()
    .unwrap();
}

/// The carrier tries to act in the issuer's domain after the handover.
struct CarrierIntrudes;

impl Plan for CarrierIntrudes {
    fn steps(&self, _: &Survey) -> Vec<Step> {
        vec![Step {
            label: "INSTALL for personalization of the issuer's applet".into(),
            command: Install::ForPersonalization { app: applet() }.command(),
            accept: vec![StatusWord::OK],
        }]
    }
}

#[test]
fn after_the_handover_the_carrier_is_locked_out() {
    let mut se = new_se();
    whole_chain(&mut se);
    // With the initial keys: the domain no longer knows them.
    let err = run(
        &mut se,
        &ssd(),
        vec![initial()],
        take_over(),
        Relay::Faithful,
    )
    .unwrap_err();
    assert_eq!(
        err,
        TsmError::NoSession {
            stage: "INITIALIZE UPDATE",
            sw: StatusWord::REFERENCED_DATA_NOT_FOUND
        }
    );
    // Through its own ISD: the issuer's applet is not found, and not even listed.
    let err = run(
        &mut se,
        &Aid::isd(),
        vec![carrier()],
        Box::new(CarrierIntrudes),
        Relay::Faithful,
    )
    .unwrap_err();
    assert_eq!(
        err,
        TsmError::Refused {
            step: "INSTALL for personalization of the issuer's applet".into(),
            sw: StatusWord::REFERENCED_DATA_NOT_FOUND
        }
    );
}
