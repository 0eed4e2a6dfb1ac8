//! Host half against card half, for every security level and key length.
#![allow(missing_docs, clippy::unwrap_used, clippy::indexing_slicing)]

use proptest::prelude::*;
use provisio_gp::scp03::{
    CardChannel, CardHandshake, HostChannel, HostHandshake, SecurityLevel, StaticKeys,
};
use provisio_gp::{Command, GpError, Response, StatusWord};

const AID: &[u8] = &[0xA0, 0, 0, 0x01, 0x51, 0, 0, 0];

fn keys(len: usize) -> StaticKeys {
    let k = |b: u8| (0..len as u8).map(|i| i ^ b).collect::<Vec<_>>();
    StaticKeys::from_bytes(0x30, &k(0x40), &k(0x50), &k(0x60)).unwrap()
}

fn open(len: usize, level: SecurityLevel, counter: u32) -> (HostChannel, CardChannel) {
    let host = HostHandshake::new(keys(len), [7; 8], level);
    let init = host.initialize_update();
    let (kvn, challenge) = provisio_gp::scp03::parse_initialize_update(&init).unwrap();
    assert_eq!(kvn, 0x30);
    let (rsp, card) =
        CardHandshake::initialize_update(&keys(len), [1; 10], counter, AID, challenge);
    let (ext, host) = host.handle_init_update(&rsp).unwrap();
    let card = card
        .external_authenticate(Command::parse(&ext.encode().unwrap()).unwrap())
        .unwrap();
    (host, card)
}

/// One command through the wire: wrap, encode, parse, unwrap; one response back.
fn exchange(
    host: &mut HostChannel,
    card: &mut CardChannel,
    cmd: Command,
    reply: Response,
) -> Result<Response, GpError> {
    let wire = host.wrap(cmd.clone())?.encode()?;
    let got = card.unwrap(Command::parse(&wire)?)?;
    assert_eq!(got, cmd);
    let wire = card.wrap(reply).encode();
    host.unwrap(Response::parse(&wire)?)
}

#[test]
fn every_level_and_key_length_round_trips() {
    for len in [16, 24, 32] {
        for level in SecurityLevel::ALL {
            let (mut host, mut card) = open(len, level, 5);
            for n in [0usize, 1, 15, 16, 17, 200, 239] {
                let cmd = Command::new(0x80, 0xE2, 0x00, n as u8)
                    .with_data(vec![0x5A; n])
                    .with_ne(256);
                let reply = Response::new(vec![0xC3; n.min(200)], StatusWord::OK);
                let got = exchange(&mut host, &mut card, cmd, reply.clone()).unwrap();
                assert_eq!(
                    got,
                    reply,
                    "AES-{} level {:02X} n={n}",
                    len * 8,
                    level.byte()
                );
            }
            // An error status travels unprotected and unchanged.
            let err = Response::status(StatusWord::CONDITIONS_NOT_SATISFIED);
            let cmd = Command::new(0x80, 0xE6, 0x0C, 0).with_data(vec![1, 2, 3]);
            assert_eq!(
                exchange(&mut host, &mut card, cmd, err.clone()).unwrap(),
                err
            );
        }
    }
}

#[test]
fn extended_length_commands_round_trip_at_level_33() {
    let (mut host, mut card) = open(32, SecurityLevel::FULL, 1);
    let cmd = Command::new(0x80, 0xE8, 0x00, 0)
        .with_data(vec![0xAB; 1000])
        .with_ne(65_536);
    let reply = Response::new(vec![0x11; 600], StatusWord::OK);
    assert_eq!(
        exchange(&mut host, &mut card, cmd, reply.clone()).unwrap(),
        reply
    );
}

#[test]
fn data_is_ciphertext_on_the_wire_at_level_33() {
    let (mut host, mut card) = open(16, SecurityLevel::FULL, 1);
    let secret = b"token credentials".to_vec();
    let wire = host
        .wrap(Command::new(0x80, 0xE2, 0x80, 0).with_data(secret.clone()))
        .unwrap()
        .encode()
        .unwrap();
    assert!(!wire.windows(secret.len()).any(|w| w == secret.as_slice()));
    card.unwrap(Command::parse(&wire).unwrap()).unwrap();
    let reply = card
        .wrap(Response::new(secret.clone(), StatusWord::OK))
        .encode();
    assert!(!reply.windows(secret.len()).any(|w| w == secret.as_slice()));
}

#[test]
fn the_card_refuses_a_wrong_cmac_a_replay_and_a_wrong_host_cryptogram() {
    // A flipped bit anywhere in a wrapped command.
    let (mut host, mut card) = open(16, SecurityLevel::CDEC_CMAC, 1);
    let mut wire = host
        .wrap(Command::new(0x80, 0xE2, 0x80, 0).with_data(vec![1; 20]))
        .unwrap()
        .encode()
        .unwrap();
    wire[7] ^= 0x01;
    assert_eq!(
        card.unwrap(Command::parse(&wire).unwrap()).unwrap_err(),
        GpError::CommandMac
    );

    // A command replayed within the session: the chaining value has moved on.
    let (mut host, mut card) = open(16, SecurityLevel::CMAC, 1);
    let wire = host
        .wrap(Command::new(0x80, 0xF2, 0x80, 0x02).with_data(vec![0x4F, 0]))
        .unwrap()
        .encode()
        .unwrap();
    card.unwrap(Command::parse(&wire).unwrap()).unwrap();
    assert_eq!(
        card.unwrap(Command::parse(&wire).unwrap()).unwrap_err(),
        GpError::CommandMac
    );

    // A command without the MAC at a MAC level.
    let (_, mut card) = open(16, SecurityLevel::CMAC, 1);
    assert_eq!(
        card.unwrap(Command::new(0x80, 0xF2, 0x80, 0x02))
            .unwrap_err(),
        GpError::CommandMac
    );

    // EXTERNAL AUTHENTICATE from a session prepared for another counter (a replay of an old
    // session, or an offline script that is out of date).
    let host = HostHandshake::new(keys(16), [7; 8], SecurityLevel::FULL);
    let (stale_ext, _) = host.offline(4, AID);
    let (_, card) = CardHandshake::initialize_update(&keys(16), [1; 10], 5, AID, [7; 8]);
    assert!(card.external_authenticate(stale_ext).is_err());
}

#[test]
fn offline_preparation_matches_the_card_at_the_expected_counter() {
    let (ext, mut host) =
        HostHandshake::new(keys(24), [9; 8], SecurityLevel::FULL).offline(42, AID);
    let (_, card) = CardHandshake::initialize_update(&keys(24), [0; 10], 42, AID, [9; 8]);
    let mut card = card.external_authenticate(ext).unwrap();
    let cmd = Command::new(0x80, 0xE2, 0x80, 0).with_data(vec![1, 2, 3]);
    assert_eq!(
        exchange(&mut host, &mut card, cmd, Response::status(StatusWord::OK))
            .unwrap()
            .sw,
        StatusWord::OK
    );
}

#[test]
fn the_host_refuses_a_replayed_counter_and_a_wrong_key_version() {
    let (rsp, _) = CardHandshake::initialize_update(&keys(16), [1; 10], 7, AID, [7; 8]);
    let host = HostHandshake::new(keys(16), [7; 8], SecurityLevel::CMAC).with_last_counter(7);
    assert_eq!(
        host.handle_init_update(&rsp).unwrap_err(),
        GpError::CounterNotIncreasing { got: 7, last: 7 }
    );
    let host = HostHandshake::new(keys(16), [7; 8], SecurityLevel::CMAC).with_last_counter(6);
    assert!(host.handle_init_update(&rsp).is_ok());
    let other = StaticKeys::from_bytes(0x31, &[0x40; 16], &[0x50; 16], &[0x60; 16]).unwrap();
    let host = HostHandshake::new(other, [7; 8], SecurityLevel::CMAC);
    assert!(matches!(
        host.handle_init_update(&rsp).unwrap_err(),
        GpError::KeyVersion { .. }
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn arbitrary_commands_round_trip(level in proptest::sample::select(SecurityLevel::ALL.to_vec()),
                                     len in proptest::sample::select(vec![16usize, 24, 32]),
                                     data in proptest::collection::vec(any::<u8>(), 0..300),
                                     reply in proptest::collection::vec(any::<u8>(), 0..300)) {
        let (mut host, mut card) = open(len, level, 3);
        let cmd = Command::new(0x80, 0xE2, 0, 0).with_data(data);
        let reply = Response::new(reply, StatusWord::OK);
        prop_assert_eq!(exchange(&mut host, &mut card, cmd, reply.clone()).unwrap(), reply);
    }

    #[test]
    fn the_card_never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let (_, mut card) = open(16, SecurityLevel::FULL, 3);
        if let Ok(cmd) = Command::parse(&bytes) {
            let _ = card.unwrap(cmd);
        }
    }
}
