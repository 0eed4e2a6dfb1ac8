//! Recorded SCP03 sessions with a real card, replayed byte for byte through the host half.
//! The data and its source are in `tests/vectors/scp03_pysim.json`.
#![allow(missing_docs, clippy::unwrap_used, clippy::indexing_slicing)]

use provisio_gp::scp03::{HostHandshake, SecurityLevel, StaticKeys};
use provisio_gp::{Command, Response, StatusWord};
use serde_json::Value;

fn h(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().unwrap()).unwrap()
}

fn vectors() -> Value {
    serde_json::from_str(include_str!("vectors/scp03_pysim.json")).unwrap()
}

/// The static key set a recorded session used.
fn keyset(v: &Value, session: &Value) -> StaticKeys {
    let ks = &v["keysets"][session["keyset"].as_str().unwrap()];
    StaticKeys::from_bytes(
        h(&ks["kvn"])[0],
        &h(&ks["enc"]),
        &h(&ks["mac"]),
        &h(&ks["dek"]),
    )
    .unwrap()
}

#[test]
fn recorded_sessions_replay_byte_for_byte() {
    let v = vectors();
    let plain = &v["plain"];
    let mut seen = Vec::new();
    for s in v["sessions"].as_array().unwrap() {
        let keys = keyset(&v, s);
        let init_cmd = h(&s["init_upd_cmd"]);
        let ext_auth = h(&s["ext_auth_cmd"]);
        let level = SecurityLevel::from_byte(ext_auth[2]).unwrap();
        let challenge: [u8; 8] = init_cmd[5..13].try_into().unwrap();
        let hs = HostHandshake::new(keys, challenge, level);
        assert_eq!(hs.initialize_update().encode().unwrap(), init_cmd);
        let (ext, mut channel) = hs.handle_init_update(&h(&s["init_upd_rsp"])).unwrap();
        assert_eq!(ext.encode().unwrap(), ext_auth, "EXTERNAL AUTHENTICATE");

        let wrapped = channel
            .wrap(Command::parse(&h(&plain["get_eid_cmd"])).unwrap())
            .unwrap();
        assert_eq!(
            wrapped.encode().unwrap(),
            h(&s["get_eid_cmd"]),
            "GET DATA (EID)"
        );
        let resp = Response::new(h(&s["get_eid_rsp"]), StatusWord::OK);
        assert_eq!(
            channel.unwrap(resp).unwrap().data,
            h(&plain["get_eid_rsp"]),
            "its response"
        );

        for (i, (p, w)) in plain["cases"]
            .as_array()
            .unwrap()
            .iter()
            .zip(s["cases"].as_array().unwrap())
            .enumerate()
        {
            let wrapped = channel.wrap(Command::parse(&h(p)).unwrap()).unwrap();
            assert_eq!(
                wrapped.encode().unwrap(),
                h(w),
                "case {} at level {:02X}",
                i + 1,
                level.byte()
            );
        }
        seen.push((s["keyset"].as_str().unwrap().to_owned(), level.byte()));
    }
    // Every key length at levels 03, 11 and 33.
    seen.sort();
    let expected: Vec<(String, u8)> = ["aes128", "aes192", "aes256"]
        .iter()
        .flat_map(|k| [0x03, 0x11, 0x33].map(|l| (k.to_string(), l)))
        .collect();
    assert_eq!(seen, expected);
}

#[test]
fn a_flipped_bit_in_a_recorded_response_is_refused() {
    let v = vectors();
    let s = &v["sessions"][2]; // AES-128, level 33
    let keys = keyset(&v, s);
    let init_cmd = h(&s["init_upd_cmd"]);
    let hs = HostHandshake::new(
        keys.clone(),
        init_cmd[5..13].try_into().unwrap(),
        SecurityLevel::FULL,
    );
    let mut rsp = h(&s["init_upd_rsp"]);
    rsp[25] ^= 0x01; // inside the card cryptogram
    assert_eq!(
        hs.handle_init_update(&rsp).unwrap_err(),
        provisio_gp::GpError::CardCryptogram
    );

    let hs = HostHandshake::new(
        keys,
        init_cmd[5..13].try_into().unwrap(),
        SecurityLevel::FULL,
    );
    let (_, mut channel) = hs.handle_init_update(&h(&s["init_upd_rsp"])).unwrap();
    channel
        .wrap(Command::parse(&h(&v["plain"]["get_eid_cmd"])).unwrap())
        .unwrap();
    let mut data = h(&s["get_eid_rsp"]);
    data[3] ^= 0x80;
    assert_eq!(
        channel
            .unwrap(Response::new(data, StatusWord::OK))
            .unwrap_err(),
        provisio_gp::GpError::ResponseMac
    );
}

/// The same sessions through the card half: the card challenge is the pseudo-random one of
/// Amendment D 6.2.2.1 for the eUICC's ISD-R (AID A0000005591010FFFFFFFF8900000100), so the
/// card half reproduces the recorded INITIALIZE UPDATE response exactly, accepts the recorded
/// commands, and produces the recorded response.
#[test]
fn card_half_reproduces_the_recorded_card() {
    use provisio_gp::scp03::{CardHandshake, parse_initialize_update};
    let isd_r = hex::decode("A0000005591010FFFFFFFF8900000100").unwrap();
    let v = vectors();
    let plain = &v["plain"];
    for s in v["sessions"].as_array().unwrap() {
        let keys = keyset(&v, s);
        let recorded = h(&s["init_upd_rsp"]);
        let counter = u32::from_be_bytes([0, recorded[29], recorded[30], recorded[31]]);
        let (_, host_challenge) =
            parse_initialize_update(&Command::parse(&h(&s["init_upd_cmd"])).unwrap()).unwrap();
        let (rsp, hs) =
            CardHandshake::initialize_update(&keys, [0; 10], counter, &isd_r, host_challenge);
        assert_eq!(rsp, recorded);
        let mut card = hs
            .external_authenticate(Command::parse(&h(&s["ext_auth_cmd"])).unwrap())
            .unwrap();
        let cmd = card
            .unwrap(Command::parse(&h(&s["get_eid_cmd"])).unwrap())
            .unwrap();
        assert_eq!(cmd.encode().unwrap(), h(&plain["get_eid_cmd"]));
        let rsp = card.wrap(Response::new(h(&plain["get_eid_rsp"]), StatusWord::OK));
        assert_eq!(rsp.data, h(&s["get_eid_rsp"]));
        for (p, w) in plain["cases"]
            .as_array()
            .unwrap()
            .iter()
            .zip(s["cases"].as_array().unwrap())
        {
            let cmd = card.unwrap(Command::parse(&h(w)).unwrap()).unwrap();
            assert_eq!(cmd, Command::parse(&h(p)).unwrap());
        }
    }
}
