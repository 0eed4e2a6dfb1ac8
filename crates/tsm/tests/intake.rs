//! What the SEI-TSM accepts from an SP-TSM, and the key handover package.
#![allow(missing_docs, clippy::unwrap_used, clippy::indexing_slicing)]

use provisio_crypto::{AwsLcProvider, CryptoProvider};
use provisio_gp::Aid;
use provisio_gp::scp03::StaticKeys;
use provisio_tsm::{
    Intake, RequestKind, RequestState, ServiceProvider, ServiceRequest, TsmError, intake,
    open_initial_keys, seal_initial_keys,
};
use provisio_types::Refusal;

fn sp() -> ServiceProvider {
    ServiceProvider {
        sp_id: "demo-bank-tsm".into(),
        aid_prefix: hex::decode("A000000003").unwrap(),
    }
}

fn create(id: &str, ssd: &str, applet: &str) -> ServiceRequest {
    ServiceRequest {
        request_id: id.into(),
        se_id: "se-1".into(),
        kind: RequestKind::CreateDomain {
            ssd: ssd.parse().unwrap(),
            applet: applet.parse().unwrap(),
        },
    }
}

#[test]
fn a_provider_acts_only_inside_its_own_aid_range() {
    let c = AwsLcProvider::new();
    let ok = intake(
        &c,
        &sp(),
        create("r1", "A000000003535041AB01", "A0000000031010AB01"),
        None,
        false,
    )
    .unwrap();
    let Intake::New(record) = ok else {
        panic!("new")
    };
    assert_eq!(record.state, RequestState::Received);
    for (ssd, applet) in [
        ("A000000004535041AB01", "A0000000031010AB01"),
        ("A000000003535041AB01", "A0000000041010AB01"),
    ] {
        let err = intake(&c, &sp(), create("r2", ssd, applet), None, false).unwrap_err();
        assert!(matches!(err, TsmError::OutsideOwnDomain(_)), "{err}");
        assert_eq!(err.code(), provisio_types::Code::OutsideOwnDomain);
    }
    // A provider registered with less than a RID owns nothing.
    let greedy = ServiceProvider {
        sp_id: "x".into(),
        aid_prefix: vec![0xA0],
    };
    assert!(
        intake(
            &c,
            &greedy,
            create("r3", "A000000003535041AB01", "A0000000031010AB01"),
            None,
            false
        )
        .is_err()
    );
}

#[test]
fn the_same_request_is_one_request_and_a_reused_id_is_a_conflict() {
    let c = AwsLcProvider::new();
    let req = create("r1", "A000000003535041AB01", "A0000000031010AB01");
    let Intake::New(mut stored) = intake(&c, &sp(), req.clone(), None, false).unwrap() else {
        panic!()
    };
    stored.state = RequestState::InProgress { sessions: 1 };
    assert_eq!(
        intake(&c, &sp(), req, Some(stored.clone()), false).unwrap(),
        Intake::Duplicate(stored.clone())
    );
    let other = create("r1", "A000000003535041AB02", "A0000000031010AB01");
    assert_eq!(
        intake(&c, &sp(), other, Some(stored), false).unwrap_err(),
        TsmError::RequestConflict
    );
}

#[test]
fn delegation_needs_a_domain_created_for_the_provider() {
    let c = AwsLcProvider::new();
    let req = ServiceRequest {
        request_id: "p1".into(),
        se_id: "se-1".into(),
        kind: RequestKind::DelegatePersonalization {
            ssd: "A000000003535041AB01".parse().unwrap(),
            sp_endpoint: "https://sp.example/v1/sp/ota".into(),
        },
    };
    assert_eq!(
        intake(&c, &sp(), req.clone(), None, false).unwrap_err(),
        TsmError::DomainNotReady
    );
    assert!(matches!(
        intake(&c, &sp(), req, None, true).unwrap(),
        Intake::New(_)
    ));
}

#[test]
fn the_handover_package_opens_only_for_its_provider_element_domain_and_request() {
    let c = AwsLcProvider::new();
    let sp_key = c.generate_ec_key().unwrap();
    let keys = StaticKeys::from_bytes(0x30, &[1; 16], &[2; 16], &[3; 16]).unwrap();
    let ssd: Aid = "A000000003535041AB01".parse().unwrap();
    let jwe = seal_initial_keys(&c, sp_key.public_key(), "se-1", &ssd, "r1", &keys).unwrap();
    assert!(
        !jwe.contains("010101"),
        "the keys are not readable in the package"
    );
    let opened = open_initial_keys(&c, &sp_key, &jwe, "se-1", &ssd, "r1").unwrap();
    assert_eq!(opened.enc.check_value(), keys.enc.check_value());
    assert_eq!(opened.dek.check_value(), keys.dek.check_value());

    let other_key = c.generate_ec_key().unwrap();
    assert_eq!(
        open_initial_keys(&c, &other_key, &jwe, "se-1", &ssd, "r1").unwrap_err(),
        TsmError::Handover
    );
    let other_ssd: Aid = "A000000003535041AB02".parse().unwrap();
    assert!(open_initial_keys(&c, &sp_key, &jwe, "se-1", &other_ssd, "r1").is_err());
    assert!(open_initial_keys(&c, &sp_key, &jwe, "se-2", &ssd, "r1").is_err());
    assert!(open_initial_keys(&c, &sp_key, &jwe, "se-1", &ssd, "r2").is_err());
    let mut tampered = jwe.into_bytes();
    let i = tampered.len() - 30;
    tampered[i] = if tampered[i] == b'A' { b'B' } else { b'A' };
    assert!(
        open_initial_keys(
            &c,
            &sp_key,
            std::str::from_utf8(&tampered).unwrap(),
            "se-1",
            &ssd,
            "r1"
        )
        .is_err()
    );
}
