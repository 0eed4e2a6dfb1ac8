//! The virtual element driven through its APDU interface by the host half of SCP03, as a TSM
//! would: the full issuer-domain story, and every refusal the issue lists.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use proptest::prelude::*;
use provisio_crypto::AesKey;
use provisio_emv::{Atc, Transaction};
use provisio_gp::command::{
    Encryption, Install, Privileges, StatusEntry, StatusTarget, StoreData, Structure, Subset,
    delete, get_status, load_blocks, put_key, select, set_status,
};
use provisio_gp::scp03::{HostChannel, HostHandshake, SecurityLevel, StaticKeys};
use provisio_gp::tlv::Tlv;
use provisio_gp::{Aid, Command, Response, StatusWord};
use provisio_se::payment::{generate_ac, personalization_data};
use provisio_se::{
    CardLifeCycle, VirtualSe, delegation_token, payment_load_file, payment_module, sd_load_file,
    sd_module,
};

fn keys(kvn: u8, seed: u8) -> StaticKeys {
    StaticKeys::from_bytes(kvn, &[seed; 16], &[seed ^ 1; 16], &[seed ^ 2; 16]).unwrap()
}

fn aid(s: &str) -> Aid {
    s.parse().unwrap()
}

fn ssd() -> Aid {
    aid("A000000151535041AB01")
}

fn applet() -> Aid {
    aid("A0000000041010AA01")
}

fn new_se() -> VirtualSe {
    VirtualSe::new(keys(0x30, 0x40), [0x11; 10], SecurityLevel::CMAC)
}

fn tx(se: &mut VirtualSe, cmd: &Command) -> Response {
    Response::parse(&se.transmit(&cmd.encode().unwrap())).unwrap()
}

/// SELECT `sd` and open a session with `keys` at `level`; the status word of the step that
/// failed otherwise.
fn open(
    se: &mut VirtualSe,
    sd: &Aid,
    keys: StaticKeys,
    level: SecurityLevel,
) -> Result<HostChannel, StatusWord> {
    let r = tx(se, &select(sd));
    if r.sw != StatusWord::OK {
        return Err(r.sw);
    }
    let hs = HostHandshake::new(keys, [0x5A; 8], level);
    let r = tx(se, &hs.initialize_update());
    if r.sw != StatusWord::OK {
        return Err(r.sw);
    }
    let (ext, ch) = hs
        .handle_init_update(&r.data)
        .map_err(|_| StatusWord::UNKNOWN)?;
    match tx(se, &ext).sw {
        StatusWord::OK => Ok(ch),
        sw => Err(sw),
    }
}

fn send(se: &mut VirtualSe, ch: &mut HostChannel, cmd: Command) -> Response {
    let wrapped = ch.wrap(cmd).unwrap();
    ch.unwrap(tx(se, &wrapped)).unwrap()
}

/// The carrier's part (US 8,060,449 steps 4-5): create the issuer's domain, install the
/// payment applet, hand it to the domain, put the domain's initial keys.
fn carrier_prepares(se: &mut VirtualSe, initial: &StaticKeys) {
    let mut isd = open(se, &Aid::isd(), keys(0x30, 0x40), SecurityLevel::FULL).unwrap();
    let steps = [
        Install::ForInstall {
            elf: sd_load_file(),
            module: sd_module(),
            app: ssd(),
            privileges: Privileges::SECURITY_DOMAIN,
            params: vec![],
            make_selectable: true,
            token: vec![],
        },
        Install::ForInstall {
            elf: payment_load_file(),
            module: payment_module(),
            app: applet(),
            privileges: Privileges::NONE,
            params: vec![],
            make_selectable: true,
            token: vec![],
        },
        Install::ForExtradition {
            sd: ssd(),
            app: applet(),
            token: vec![],
        },
        Install::ForPersonalization { app: ssd() },
    ];
    for step in steps {
        assert_eq!(
            send(se, &mut isd, step.command()).sw,
            StatusWord::OK,
            "{step:?}"
        );
    }
    let r = send(se, &mut isd, put_key(initial, None, &keys(0x30, 0x40).dek));
    assert_eq!(r.sw, StatusWord::OK);
    assert_eq!(r.data[0], initial.kvn);
}

/// The ISD creates a security domain with `privileges` and install `params`, and puts its
/// initial keys.
fn create_domain(
    se: &mut VirtualSe,
    sd: &Aid,
    privileges: Privileges,
    params: Vec<u8>,
    initial: &StaticKeys,
) {
    let mut isd = open(se, &Aid::isd(), keys(0x30, 0x40), SecurityLevel::FULL).unwrap();
    let create = Install::ForInstall {
        elf: sd_load_file(),
        module: sd_module(),
        app: sd.clone(),
        privileges,
        params,
        make_selectable: true,
        token: vec![],
    };
    assert_eq!(send(se, &mut isd, create.command()).sw, StatusWord::OK);
    let perso = Install::ForPersonalization { app: sd.clone() };
    assert_eq!(send(se, &mut isd, perso.command()).sw, StatusWord::OK);
    let put = put_key(initial, None, &keys(0x30, 0x40).dek);
    assert_eq!(send(se, &mut isd, put).sw, StatusWord::OK);
}

#[test]
fn the_issuer_domain_story_ends_in_a_cryptogram() {
    let mut se = new_se();
    let initial = keys(0x30, 0x70);
    carrier_prepares(&mut se, &initial);

    // Key handover: the issuer's TSM replaces the initial keys in its first session.
    let own = keys(0x31, 0x90);
    let mut sp = open(&mut se, &ssd(), initial.clone(), SecurityLevel::FULL).unwrap();
    assert_eq!(
        send(&mut se, &mut sp, put_key(&own, Some(0x30), &initial.dek)).sw,
        StatusWord::OK
    );

    // The carrier is locked out of the issuer's domain.
    assert_eq!(
        open(&mut se, &ssd(), initial.clone(), SecurityLevel::FULL).unwrap_err(),
        StatusWord::REFERENCED_DATA_NOT_FOUND
    );
    let mut isd = open(&mut se, &Aid::isd(), keys(0x30, 0x40), SecurityLevel::FULL).unwrap();
    assert_eq!(
        send(
            &mut se,
            &mut isd,
            Install::ForPersonalization { app: applet() }.command()
        )
        .sw,
        StatusWord::REFERENCED_DATA_NOT_FOUND
    );
    assert_eq!(
        send(
            &mut se,
            &mut isd,
            Install::ForPersonalization { app: ssd() }.command()
        )
        .sw,
        StatusWord::OK
    );
    assert_eq!(
        send(
            &mut se,
            &mut isd,
            put_key(&keys(0x30, 0x66), None, &keys(0x30, 0x40).dek)
        )
        .sw,
        StatusWord::CONDITIONS_NOT_SATISFIED
    );

    // Personalisation with the issuer's own keys; the key travels encrypted under its DEK.
    let card_key = AesKey::from_bytes(&[0xC7; 16]).unwrap();
    let token = [0x49, 0x99, 0x99, 0x00, 0x00, 0x00, 0x12, 0x34];
    let mut sp = open(&mut se, &ssd(), own.clone(), SecurityLevel::FULL).unwrap();
    assert_eq!(
        send(
            &mut se,
            &mut sp,
            Install::ForPersonalization { app: applet() }.command()
        )
        .sw,
        StatusWord::OK
    );
    let data = personalization_data(&token, &[0x29, 0x12, 0x31], &card_key, &own.dek);
    assert!(
        !data.windows(16).any(|w| w == [0xC7; 16]),
        "the key is not in clear"
    );
    let store = StoreData {
        last: true,
        encryption: Encryption::Encrypted,
        structure: Structure::Dgi,
        block: 0,
        data,
    };
    assert_eq!(send(&mut se, &mut sp, store.command()).sw, StatusWord::OK);
    assert_eq!(
        send(&mut se, &mut sp, store.command()).sw,
        StatusWord::CONDITIONS_NOT_SATISFIED,
        "applied once"
    );

    // The phone pays: the applet makes cryptograms the verifier recomputes, ATC moving.
    assert_eq!(tx(&mut se, &select(&applet())).sw, StatusWord::OK);
    let transaction = Transaction::parse(1250, "978", "250", "261203", "01020304").unwrap();
    for expected_atc in 1..=2u16 {
        let r = tx(&mut se, &generate_ac(&transaction));
        assert_eq!(r.sw, StatusWord::OK);
        let kids = Tlv::parse_one(&r.data).unwrap().children().unwrap();
        let atc = u16::from_be_bytes(
            Tlv::find(&kids, 0x9F36)
                .unwrap()
                .value
                .clone()
                .try_into()
                .unwrap(),
        );
        assert_eq!(atc, expected_atc);
        let ac = provisio_emv::arqc(&card_key, Atc::new(atc).unwrap(), &transaction).unwrap();
        assert_eq!(Tlv::find(&kids, 0x9F26).unwrap().value, ac.to_vec());
    }
    let debug = format!("{se:?}");
    assert!(
        !debug.contains("4999990000001234") && !debug.contains("C7C7C7"),
        "Debug redacts"
    );
    let view = serde_json::to_string(&se.view()).unwrap();
    assert!(view.contains("\"token_last4\":\"1234\""));
    assert!(!view.contains("C7C7C7"), "no key in the view");
}

#[test]
fn a_bad_host_cryptogram_is_refused() {
    let mut se = new_se();
    tx(&mut se, &select(&Aid::isd()));
    let wrong = keys(0x30, 0x41);
    let hs = HostHandshake::new(wrong, [1; 8], SecurityLevel::CMAC);
    let r = tx(&mut se, &hs.initialize_update());
    assert_eq!(r.sw, StatusWord::OK);
    // The host cannot verify the card (wrong keys); force the EXTERNAL AUTHENTICATE anyway.
    let d = hs.derive(&r.data).unwrap();
    assert!(!d.card_cryptogram_ok);
    let (ext, _) = HostHandshake::new(keys(0x30, 0x41), [1; 8], SecurityLevel::CMAC)
        .offline(d.response.sequence_counter.unwrap(), Aid::isd().as_bytes());
    assert_eq!(tx(&mut se, &ext).sw, StatusWord::AUTHENTICATION_FAILED);
    assert_eq!(
        tx(&mut se, &get_status(Subset::Applications, false)).sw,
        StatusWord::SECURITY_STATUS_NOT_SATISFIED
    );
}

#[test]
fn a_wrong_cmac_closes_the_session_until_a_new_one() {
    let mut se = new_se();
    let mut ch = open(
        &mut se,
        &Aid::isd(),
        keys(0x30, 0x40),
        SecurityLevel::CDEC_CMAC,
    )
    .unwrap();
    let mut bad = ch.wrap(get_status(Subset::LoadFiles, false)).unwrap();
    let n = bad.data.len();
    bad.data[n - 1] ^= 0x01;
    assert_eq!(
        tx(&mut se, &bad).sw,
        StatusWord::SECURITY_STATUS_NOT_SATISFIED
    );
    // The next command, correctly wrapped in the host's chain, is refused too.
    let next = ch.wrap(get_status(Subset::LoadFiles, false)).unwrap();
    assert_eq!(
        tx(&mut se, &next).sw,
        StatusWord::SECURITY_STATUS_NOT_SATISFIED
    );
    let mut fresh = open(
        &mut se,
        &Aid::isd(),
        keys(0x30, 0x40),
        SecurityLevel::CDEC_CMAC,
    )
    .unwrap();
    assert_eq!(
        send(&mut se, &mut fresh, get_status(Subset::LoadFiles, false)).sw,
        StatusWord::OK
    );
}

#[test]
fn a_replayed_session_and_a_rewound_counter_are_refused() {
    let mut se = new_se();
    tx(&mut se, &select(&Aid::isd()));
    let hs = HostHandshake::new(keys(0x30, 0x40), [3; 8], SecurityLevel::CMAC);
    let init = hs.initialize_update();
    let r = tx(&mut se, &init);
    let first_counter = se.counter(&Aid::isd()).unwrap();
    let (ext, _) = hs.handle_init_update(&r.data).unwrap();
    assert_eq!(tx(&mut se, &ext).sw, StatusWord::OK);

    // An eavesdropper replays the recorded INITIALIZE UPDATE and EXTERNAL AUTHENTICATE.
    let r2 = tx(&mut se, &init);
    assert_ne!(r2.data, r.data, "new counter, new challenge");
    assert_eq!(tx(&mut se, &ext).sw, StatusWord::AUTHENTICATION_FAILED);
    assert!(se.counter(&Aid::isd()).unwrap() > first_counter);

    // A host that knows the last counter refuses a rewound card (an old image restored).
    let image_before = se.to_image();
    let mut ch_counter = se.counter(&Aid::isd()).unwrap();
    tx(
        &mut se,
        &HostHandshake::new(keys(0x30, 0x40), [4; 8], SecurityLevel::CMAC).initialize_update(),
    );
    ch_counter += 1;
    let mut rewound = VirtualSe::from_image(&image_before).unwrap();
    let hs = HostHandshake::new(keys(0x30, 0x40), [5; 8], SecurityLevel::CMAC)
        .with_last_counter(ch_counter);
    let r = tx(&mut rewound, &hs.initialize_update());
    assert!(matches!(
        hs.handle_init_update(&r.data),
        Err(provisio_gp::GpError::CounterNotIncreasing { .. })
    ));
}

#[test]
fn install_without_the_privilege_is_refused_and_delegation_needs_a_token() {
    let mut se = new_se();
    carrier_prepares(&mut se, &keys(0x30, 0x70));
    let install = Install::ForInstall {
        elf: payment_load_file(),
        module: payment_module(),
        app: aid("A0000000041010BB02"),
        privileges: Privileges::NONE,
        params: vec![],
        make_selectable: true,
        token: vec![],
    };
    let mut sp = open(&mut se, &ssd(), keys(0x30, 0x70), SecurityLevel::CMAC).unwrap();
    assert_eq!(
        send(&mut se, &mut sp, install.command()).sw,
        StatusWord::CONDITIONS_NOT_SATISFIED
    );
    // A domain may not hand itself management privileges either.
    let grab = Install::ForInstall {
        elf: sd_load_file(),
        module: sd_module(),
        app: aid("A000000151535041AB09"),
        privileges: Privileges::SECURITY_DOMAIN.with(Privileges::AUTHORIZED_MANAGEMENT),
        params: vec![],
        make_selectable: true,
        token: vec![],
    };
    assert_eq!(
        send(&mut se, &mut sp, grab.command()).sw,
        StatusWord::CONDITIONS_NOT_SATISFIED
    );

    // A delegated-management domain installs with the card issuer's token, and not without.
    let dm = aid("A000000151535041DD01");
    create_domain(
        &mut se,
        &dm,
        Privileges::SECURITY_DOMAIN.with(Privileges::DELEGATED_MANAGEMENT),
        vec![],
        &keys(0x30, 0x22),
    );
    let mut dm_ch = open(&mut se, &dm, keys(0x30, 0x22), SecurityLevel::CMAC).unwrap();
    assert_eq!(
        send(&mut se, &mut dm_ch, install.command()).sw,
        StatusWord::CONDITIONS_NOT_SATISFIED
    );
    let Install::ForInstall {
        elf,
        module,
        app,
        privileges,
        params,
        make_selectable,
        ..
    } = install.clone()
    else {
        unreachable!()
    };
    let mut forged = Install::ForInstall {
        elf: elf.clone(),
        module: module.clone(),
        app: app.clone(),
        privileges,
        params: params.clone(),
        make_selectable,
        token: vec![0; 8],
    };
    assert_eq!(
        send(&mut se, &mut dm_ch, forged.command()).sw,
        StatusWord::SECURITY_STATUS_NOT_SATISFIED
    );
    forged = Install::ForInstall {
        elf,
        module,
        app,
        privileges,
        params,
        make_selectable,
        token: delegation_token(&keys(0x30, 0x40), &install),
    };
    assert_eq!(
        send(&mut se, &mut dm_ch, forged.command()).sw,
        StatusWord::OK
    );
}

#[test]
fn a_command_below_the_domains_minimum_level_is_refused() {
    let mut se = new_se();
    let strict = aid("A000000151535041EE01");
    let min_level_33 = Tlv::new(0x82, vec![0x33]).encode();
    create_domain(
        &mut se,
        &strict,
        Privileges::SECURITY_DOMAIN,
        min_level_33,
        &keys(0x30, 0x33),
    );
    for level in [
        SecurityLevel::CMAC,
        SecurityLevel::CDEC_CMAC,
        SecurityLevel::CDEC_CMAC_RMAC,
    ] {
        let mut ch = open(&mut se, &strict, keys(0x30, 0x33), level).unwrap();
        assert_eq!(
            send(&mut se, &mut ch, get_status(Subset::Applications, false)).sw,
            StatusWord::SECURITY_STATUS_NOT_SATISFIED,
            "{level:?}"
        );
    }
    let mut ch = open(&mut se, &strict, keys(0x30, 0x33), SecurityLevel::FULL).unwrap();
    assert_eq!(
        send(
            &mut se,
            &mut ch,
            Install::ForPersonalization {
                app: strict.clone()
            }
            .command()
        )
        .sw,
        StatusWord::REFERENCED_DATA_NOT_FOUND,
        "not its own application"
    );
    // Outside any session nothing but public data.
    tx(&mut se, &select(&Aid::isd()));
    assert_eq!(
        tx(&mut se, &delete(&strict, true)).sw,
        StatusWord::SECURITY_STATUS_NOT_SATISFIED
    );
    assert_eq!(
        tx(&mut se, &provisio_gp::command::get_data(0x00E0)).sw,
        StatusWord::OK
    );
}

#[test]
fn load_get_status_with_continuation_and_delete() {
    let mut se = new_se();
    let mut isd = open(&mut se, &Aid::isd(), keys(0x30, 0x40), SecurityLevel::FULL).unwrap();
    let elf = aid("A0000009990001");
    let modules: Vec<Aid> = (1..=6)
        .map(|i| aid(&format!("A00000099900010{i}")))
        .collect();
    assert_eq!(
        send(
            &mut se,
            &mut isd,
            Install::ForLoad {
                elf: elf.clone(),
                sd: None
            }
            .command()
        )
        .sw,
        StatusWord::OK
    );
    let image: Vec<u8> = modules
        .iter()
        .flat_map(|m| Tlv::new(0x4F, m.as_bytes().to_vec()).encode())
        .collect();
    for block in load_blocks(&image, 20) {
        assert_eq!(send(&mut se, &mut isd, block).sw, StatusWord::OK);
    }
    for (i, m) in modules.iter().enumerate() {
        let inst = Install::ForInstall {
            elf: elf.clone(),
            module: m.clone(),
            app: aid(&format!("A00000099900020{i}")),
            privileges: Privileges::NONE,
            params: vec![],
            make_selectable: true,
            token: vec![],
        };
        assert_eq!(send(&mut se, &mut isd, inst.command()).sw, StatusWord::OK);
    }
    let first = send(&mut se, &mut isd, get_status(Subset::Applications, false));
    assert_eq!(first.sw, StatusWord::MORE_DATA);
    let second = send(&mut se, &mut isd, get_status(Subset::Applications, true));
    assert_eq!(second.sw, StatusWord::OK);
    let all: Vec<StatusEntry> = [
        StatusEntry::parse_all(&first.data).unwrap(),
        StatusEntry::parse_all(&second.data).unwrap(),
    ]
    .concat();
    assert_eq!(all.len(), 6);
    assert_eq!(
        send(&mut se, &mut isd, get_status(Subset::Applications, true)).sw,
        StatusWord::REFERENCED_DATA_NOT_FOUND
    );
    // The load file cannot go while instances exist, unless with them.
    assert_eq!(
        send(&mut se, &mut isd, delete(&elf, false)).sw,
        StatusWord::CONDITIONS_NOT_SATISFIED
    );
    assert_eq!(
        send(&mut se, &mut isd, delete(&elf, true)).sw,
        StatusWord::OK
    );
    assert_eq!(
        send(&mut se, &mut isd, get_status(Subset::Applications, false)).sw,
        StatusWord::REFERENCED_DATA_NOT_FOUND
    );
    assert_eq!(
        send(&mut se, &mut isd, delete(&sd_load_file(), true)).sw,
        StatusWord::CONDITIONS_NOT_SATISFIED,
        "ROM"
    );
}

#[test]
fn card_life_cycle_lock_and_terminate() {
    let mut se = new_se();
    carrier_prepares(&mut se, &keys(0x30, 0x70));
    let mut isd = open(&mut se, &Aid::isd(), keys(0x30, 0x40), SecurityLevel::CMAC).unwrap();
    assert_eq!(
        send(
            &mut se,
            &mut isd,
            set_status(StatusTarget::Card, 0x7F, None)
        )
        .sw,
        StatusWord::OK
    );
    assert_eq!(se.life_cycle(), CardLifeCycle::CardLocked);
    assert_eq!(
        send(
            &mut se,
            &mut isd,
            Install::ForPersonalization { app: ssd() }.command()
        )
        .sw,
        StatusWord::CONDITIONS_NOT_SATISFIED
    );
    assert_eq!(tx(&mut se, &select(&applet())).sw, StatusWord::NOT_FOUND);
    let mut isd = open(&mut se, &Aid::isd(), keys(0x30, 0x40), SecurityLevel::CMAC);
    assert!(isd.is_err(), "select of the ISD warns 6283 while locked");
    tx(&mut se, &select(&Aid::isd()));
    let hs = HostHandshake::new(keys(0x30, 0x40), [8; 8], SecurityLevel::CMAC);
    let r = tx(&mut se, &hs.initialize_update());
    let (ext, mut ch) = hs.handle_init_update(&r.data).unwrap();
    tx(&mut se, &ext);
    assert_eq!(
        send(&mut se, &mut ch, set_status(StatusTarget::Card, 0x0F, None)).sw,
        StatusWord::OK
    );
    assert_eq!(
        send(&mut se, &mut ch, set_status(StatusTarget::Card, 0x01, None)).sw,
        StatusWord::CONDITIONS_NOT_SATISFIED,
        "never back to OP_READY"
    );
    // The ISD's global lock privilege reaches every application (GPC 6.6.1.3): lock, then
    // unlock; an app-specific state outside the applet's own range is refused.
    assert_eq!(
        send(
            &mut se,
            &mut ch,
            set_status(StatusTarget::Application, 0x80, Some(&applet()))
        )
        .sw,
        StatusWord::OK
    );
    assert_eq!(
        send(
            &mut se,
            &mut ch,
            set_status(StatusTarget::Application, 0x42, Some(&applet()))
        )
        .sw,
        StatusWord::INCORRECT_DATA
    );
    assert_eq!(
        send(
            &mut se,
            &mut ch,
            set_status(StatusTarget::Application, 0x00, Some(&applet()))
        )
        .sw,
        StatusWord::OK
    );
    assert_eq!(
        send(&mut se, &mut ch, set_status(StatusTarget::Card, 0xFF, None)).sw,
        StatusWord::OK
    );
    isd = open(&mut se, &Aid::isd(), keys(0x30, 0x40), SecurityLevel::CMAC);
    assert!(isd.is_err());
    assert_eq!(
        tx(&mut se, &provisio_gp::command::get_data(0x00E0)).sw,
        StatusWord::FUNCTION_NOT_SUPPORTED
    );
}

#[test]
fn the_image_survives_a_restart_but_the_session_does_not() {
    let mut se = new_se();
    carrier_prepares(&mut se, &keys(0x30, 0x70));
    let mut isd = open(&mut se, &Aid::isd(), keys(0x30, 0x40), SecurityLevel::CMAC).unwrap();
    let counter = se.counter(&Aid::isd()).unwrap();
    let mut restored = VirtualSe::from_image(&se.to_image()).unwrap();
    assert_eq!(restored.counter(&Aid::isd()), Some(counter));
    assert_eq!(
        serde_json::to_value(restored.view()).unwrap(),
        serde_json::to_value(se.view()).unwrap()
    );
    let wrapped = isd.wrap(get_status(Subset::Applications, false)).unwrap();
    assert_eq!(
        tx(&mut restored, &wrapped).sw,
        StatusWord::SECURITY_STATUS_NOT_SATISFIED
    );
    assert!(open(&mut restored, &ssd(), keys(0x30, 0x70), SecurityLevel::CMAC).is_ok());
    assert!(VirtualSe::from_image("{}").is_err());
    assert!(
        VirtualSe::from_image(&se.to_image().replace("\"version\": 1", "\"version\": 9")).is_err()
    );
}

#[test]
fn malformed_apdus_get_status_words() {
    let mut se = new_se();
    assert_eq!(se.transmit(&[0x80]), vec![0x67, 0x00]);
    assert_eq!(se.transmit(&[0x80, 0xE6, 0, 0, 0x05, 1]), vec![0x67, 0x00]);
    assert_eq!(se.transmit(&[0x81, 0xCA, 0, 0x66, 0]), vec![0x68, 0x81]);
    assert_eq!(se.transmit(&[0xA0, 0xCA, 0, 0x66, 0]), vec![0x6E, 0x00]);
    assert_eq!(
        se.transmit(&[0x00, 0xA4, 0x04, 0x00, 0x05, 1, 2, 3, 4, 5, 0]),
        vec![0x6A, 0x82]
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn never_panics_on_arbitrary_bytes_in_any_state(bytes in proptest::collection::vec(any::<u8>(), 0..300), open_session in any::<bool>()) {
        let mut se = new_se();
        if open_session {
            let _ = open(&mut se, &Aid::isd(), keys(0x30, 0x40), SecurityLevel::FULL);
        }
        let out = se.transmit(&bytes);
        prop_assert!(out.len() >= 2);
        // Also as the data of a plausible header.
        let mut cmd = vec![0x84, 0xE6, 0x0C, 0x00, bytes.len().min(255) as u8];
        cmd.extend_from_slice(&bytes[..bytes.len().min(255)]);
        prop_assert!(se.transmit(&cmd).len() >= 2);
    }
}
