//! Writes the seed corpus, `crates/fuzzing/corpus/<target>/`, with the project's own
//! encoders: valid inputs (prefixed `valid-`, the ones the stable replay mutates) and nasty
//! ones (truncated, lying lengths, deep nesting, huge lengths, empty).
//!
//! ```sh
//! cargo run -p provisio-fuzzing --example corpus
//! ```
//!
//! The valid JWEs and JWSs are made under the fixed keys of `provisio_fuzzing::fixture`, so
//! they keep decrypting and verifying; rerunning replaces them with fresh (equally valid)
//! encryptions. Crash inputs found by `cargo fuzz` are added by hand (CONTRIBUTING.md,
//! "Fuzzing") and are left alone here.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::path::{Path, PathBuf};

use provisio_crypto::AesKey;
use provisio_emv::Transaction;
use provisio_fuzzing::fixture::{self, *};
use provisio_gp::command::{
    self, Dgi, Encryption, Install, KeyInfo, Privileges, StatusEntry, StatusTarget, StoreData,
    Structure, Subset,
};
use provisio_gp::scp03::{HostHandshake, SecurityLevel};
use provisio_gp::tlv::Tlv;
use provisio_gp::{Aid, Command, Response, StatusWord};
use provisio_jose::{EncryptOptions, Jwk, KeyManagement, b64_encode};
use serde_json::{Value, json};

struct Dir(PathBuf);

impl Dir {
    fn new(root: &Path, target: &str) -> Self {
        let dir = root.join(target);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn put(&self, name: &str, bytes: impl AsRef<[u8]>) {
        std::fs::write(self.0.join(name), bytes).unwrap();
    }
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    apdu(&Dir::new(&root, "apdu"));
    ber_tlv(&Dir::new(&root, "ber_tlv"));
    scp03_unwrap(&Dir::new(&root, "scp03_unwrap"));
    virtual_se(&Dir::new(&root, "virtual_se"));
    jwe(&Dir::new(&root, "jwe"));
    jws(&Dir::new(&root, "jws"));
    request_json(&Dir::new(&root, "request_json"));
    authorization_request(&Dir::new(&root, "authorization_request"));
    println!("corpus written to {}", root.display());
}

fn aid(hex: &str) -> Aid {
    hex.parse().unwrap()
}

fn gp_commands() -> Vec<(&'static str, Command)> {
    let app = aid("A0000000041010AA01");
    vec![
        ("select-isd", command::select(&Aid::isd())),
        ("delete", command::delete(&app, false)),
        ("delete-related", command::delete(&app, true)),
        (
            "install-for-load",
            Install::ForLoad {
                elf: aid("A0000000041010"),
                sd: Some(Aid::isd()),
            }
            .command(),
        ),
        (
            "install-for-install",
            Install::ForInstall {
                elf: aid("A0000000041010"),
                module: aid("A000000004101001"),
                app: app.clone(),
                privileges: Privileges([0x80, 0, 0]),
                params: vec![1, 2, 3],
                make_selectable: true,
                token: Vec::new(),
            }
            .command(),
        ),
        (
            "store-data-dgi",
            StoreData {
                last: true,
                encryption: Encryption::Encrypted,
                structure: Structure::Dgi,
                block: 0,
                data: Dgi::new(0x0101, vec![0x5A, 0x08, 0x40, 0, 0x12, 0x34]).encode(),
            }
            .command(),
        ),
        (
            "get-status-apps",
            command::get_status(Subset::Applications, false),
        ),
        (
            "get-status-next",
            command::get_status(Subset::LoadFilesAndModules, true),
        ),
        (
            "set-status-app",
            command::set_status(StatusTarget::Application, 0x07, Some(&app)),
        ),
        (
            "set-status-card",
            command::set_status(StatusTarget::Card, 0x7F, None),
        ),
        ("get-data-key-info", command::get_data(0x00E0)),
        (
            "initialize-update",
            HostHandshake::new(scp03_keys(), SCP03_HOST_CHALLENGE, SecurityLevel::CMAC)
                .initialize_update(),
        ),
        (
            "load-block",
            command::load_blocks(&[0xCA; 40], 32).remove(0),
        ),
        (
            "put-key",
            command::put_key(
                &scp03_keys(),
                Some(0x30),
                &AesKey::from_bytes(&[0x42; 16]).unwrap(),
            ),
        ),
    ]
}

fn apdu(d: &Dir) {
    let h = |s: &str| hex::decode(s).unwrap();
    d.put("valid-case1", h("80F22002"));
    d.put("valid-case2-short", h("80CA006600"));
    d.put("valid-case3-short", h("80F220020A4F0212345C054F9F70C5"));
    d.put("valid-case4-short", h("80F28002024F0000"));
    d.put("valid-case2-extended", h("80CA0066000100"));
    d.put("valid-case2-extended-65536", h("80CA0066000000"));
    let long = Command::new(0x80, 0xE2, 0x80, 0).with_data(vec![0xAB; 300]);
    d.put("valid-case3-extended", long.encode().unwrap());
    d.put(
        "valid-case4-extended",
        long.with_ne(65_536).encode().unwrap(),
    );
    d.put("valid-response-9000", h("9000"));
    d.put(
        "valid-response-data",
        h("6F108408A000000151000000A5049F6501FF9000"),
    );
    for (name, cmd) in gp_commands() {
        d.put(&format!("valid-gp-{name}"), cmd.encode().unwrap());
    }
    d.put("empty", b"");
    d.put("one-byte", h("80"));
    d.put("three-bytes", h("80F220"));
    d.put("lc-promises-more", h("80F22002FF4F00"));
    d.put("lc-promises-less", h("80F22002024F000000AA"));
    d.put("short-lc-zero", h("80F220020005"));
    d.put("extended-lc-zero", h("80F22002000000AA"));
    d.put("extended-lc-ffff-short-data", h("80F2200200FFFF01020304"));
    d.put("extended-lc-one-byte-le", h("80F2200200000201AA01"));
    d.put("extended-form-of-short", h("80CA006600000100"));
    d.put("install-bad-lv", h("80E60C0005FF0102030400"));
    d.put(
        "select-aid-too-long",
        [h("00A4040011"), vec![0xA0; 17], h("00")].concat(),
    );
    d.put("store-data-rfu-bits", h("80E2070003010203"));
}

fn ber_tlv(d: &Dir) {
    let h = |s: &str| hex::decode(s).unwrap();
    let entry = StatusEntry {
        aid: aid("A0000000041010AA01"),
        life_cycle: 0x07,
        privileges: Some([0x9E, 0xFE, 0x80]),
        load_file: Some(aid("A0000000041010")),
        domain: Some(Aid::isd()),
        modules: vec![aid("A000000004101001")],
    };
    d.put("valid-status-entry", entry.encode());
    d.put(
        "valid-status-entries",
        [entry.encode(), entry.encode()].concat(),
    );
    let keys = [1, 2, 3].map(|id| KeyInfo {
        id,
        version: 0x30,
        key_type: 0x88,
        length: 16,
    });
    d.put("valid-key-information", command::key_information(&keys));
    d.put("valid-fci", command::fci(&Aid::isd(), 0xFF));
    d.put(
        "valid-dgis",
        [
            Dgi::new(0x0101, vec![0x5A, 2, 0x40, 0x00]).encode(),
            Dgi::new(0x8000, vec![0x11; 300]).encode(),
        ]
        .concat(),
    );
    let (response, _) = provisio_gp::scp03::CardHandshake::initialize_update(
        &scp03_keys(),
        SCP03_DIVERSIFICATION,
        SCP03_COUNTER,
        Aid::isd().as_bytes(),
        SCP03_HOST_CHALLENGE,
    );
    d.put("valid-initialize-update-response", response);
    d.put(
        "valid-generate-ac-response",
        Tlv::new(
            0x77,
            [
                Tlv::new(0x9F27, vec![0x80]).encode(),
                Tlv::new(0x9F36, vec![0, 1]).encode(),
                Tlv::new(0x9F26, vec![0xAA; 8]).encode(),
            ]
            .concat(),
        )
        .encode(),
    );
    d.put(
        "valid-long-value",
        Tlv::new(0xBF3E, vec![0x55; 300]).encode(),
    );
    d.put(
        "valid-three-byte-tag",
        Tlv::new(0x5F_A0_01, vec![1]).encode(),
    );
    let mut deep = Tlv::new(0x04, vec![]).encode();
    for _ in 0..200 {
        deep = Tlv::new(0xE3, deep).encode();
    }
    d.put("valid-nested-200", deep);
    d.put("empty", b"");
    d.put("value-shorter-than-length", h("4F05A000"));
    d.put("non-minimal-length", h("4F8105AA"));
    d.put("indefinite-length", h("E380010100"));
    d.put("truncated-tag", h("9F"));
    d.put("non-minimal-tag", h("9F8001AA"));
    d.put("four-byte-tag", h("5FFFFF0100"));
    d.put("padding-00", h("004F00"));
    d.put("padding-ff", h("FF4F00"));
    d.put("missing-length", h("4F"));
    d.put("length-16mb", h("4F83FFFFFF00"));
    d.put("length-four-bytes", h("4F84FFFFFFFF00"));
    d.put("truncated-length", h("4F82FF"));
    d.put("trailing-after-one", h("4F00AA"));
    d.put("dgi-ff-length-lies", h("0101FFFFFF00"));
    d.put("status-entry-without-aid", h("E3049F700107"));
}

/// The host's first command of the fixed session, wrapped, as the card receives it.
fn wrapped(cmd: Command) -> Vec<u8> {
    let (mut host, _) = fixture::scp03_session();
    host.wrap(cmd).unwrap().encode().unwrap()
}

fn scp03_unwrap(d: &Dir) {
    for (name, cmd) in gp_commands() {
        if !matches!(name, "initialize-update" | "put-key") {
            d.put(&format!("valid-wrapped-{name}"), wrapped(cmd));
        }
    }
    d.put(
        "valid-wrapped-case1",
        wrapped(Command::new(0x80, 0xF0, 0x80, 0x07)),
    );
    d.put(
        "valid-wrapped-extended",
        wrapped(Command::new(0x80, 0xE2, 0x80, 0).with_data(vec![0x3C; 400])),
    );
    let (_, card) = fixture::scp03_session();
    d.put(
        "valid-response-wrapped",
        card.wrap(Response::new(vec![0x61; 20], StatusWord::OK))
            .encode(),
    );
    d.put(
        "valid-response-status-only",
        card.wrap(Response::status(StatusWord::OK)).encode(),
    );
    d.put("valid-response-error", hex::decode("6982").unwrap());
    let mut plain_cla = wrapped(command::select(&Aid::isd()));
    plain_cla[0] &= !0x04;
    d.put("secure-messaging-bit-clear", plain_cla);
    d.put(
        "shorter-than-mac",
        hex::decode("84E2000004AABBCCDD").unwrap(),
    );
    d.put("empty", b"");
    let mut flipped = wrapped(command::get_status(Subset::Applications, false));
    let last = flipped.len() - 2;
    flipped[last] ^= 1;
    d.put("mac-bit-flipped", flipped);
}

fn virtual_se(d: &Dir) {
    let seq = |apdus: &[Vec<u8>]| -> Vec<u8> {
        apdus
            .iter()
            .flat_map(|a| {
                let mut v = vec![u8::try_from(a.len()).unwrap()];
                v.extend_from_slice(a);
                v
            })
            .collect()
    };
    let level = SecurityLevel::from_byte(0x03).unwrap();
    let host = HostHandshake::new(scp03_keys(), SCP03_HOST_CHALLENGE, level);
    let iu = host.initialize_update().encode().unwrap();
    // The element's first session uses counter 1 (Amendment D 6.2.2.1).
    let (ea, mut channel) = host.offline(1, Aid::isd().as_bytes());
    let status = channel
        .wrap(command::get_status(Subset::IssuerSecurityDomain, false))
        .unwrap();
    let select = command::select(&Aid::isd()).encode().unwrap();
    d.put("valid-select", seq(std::slice::from_ref(&select)));
    d.put(
        "valid-initialize-update",
        seq(&[select.clone(), iu.clone()]),
    );
    d.put(
        "valid-session",
        seq(&[
            select.clone(),
            iu.clone(),
            ea.encode().unwrap(),
            status.encode().unwrap(),
        ]),
    );
    d.put(
        "valid-get-data",
        seq(&[command::get_data(0x00E0).encode().unwrap()]),
    );
    for (name, cmd) in gp_commands() {
        if let Ok(wire) = cmd.encode()
            && wire.len() < 256
        {
            d.put(&format!("valid-unauthenticated-{name}"), seq(&[wire]));
        }
    }
    d.put("empty", b"");
    d.put("length-byte-lies", [0xFF, 0x80, 0xCA]);
    d.put("replayed-external-authenticate", {
        let ea = ea.encode().unwrap();
        seq(&[iu.clone(), ea.clone(), ea])
    });
}

/// The signed claims of a push, for the fixture's identities and time.
fn claims() -> Value {
    json!({
        "iss": ISSUER_ID, "aud": TSP_ID, "iat": NOW, "jti": "jti-fuzz-0001",
        "sid": SESSION_ID, "uid": WALLET_USER_ID, "did": DEVICE_ID, "trid": TRID,
        "acct": {"pan": PAN, "exp_month": 12, "exp_year": 2030, "name": "A Holder"},
        "contact": {"phone": "+15551230001", "email": "holder@example.com"}
    })
}

fn sign(claims: &Value) -> String {
    provisio_jose::sign(
        crypto(),
        issuer_key(),
        ISSUER_KID,
        Some("JWT"),
        &serde_json::to_vec(claims).unwrap(),
    )
    .unwrap()
}

fn seal(plaintext: &[u8], alg: KeyManagement, kid: Option<&str>, cty: Option<&str>) -> String {
    let options = EncryptOptions { alg, kid, cty };
    provisio_jose::encrypt(crypto(), tsp_enc_key().public_key(), &options, plaintext).unwrap()
}

fn push_jwe(claims: &Value) -> String {
    seal(
        sign(claims).as_bytes(),
        KeyManagement::EcdhEsA256Kw,
        Some(tsp_enc_kid()),
        Some("JWT"),
    )
}

fn with(mut v: Value, path: &[&str], new: Value) -> Value {
    let mut at = &mut v;
    for p in &path[..path.len() - 1] {
        at = &mut at[*p];
    }
    at[path[path.len() - 1]] = new;
    v
}

fn header(members: Value) -> String {
    b64_encode(&serde_json::to_vec(&members).unwrap())
}

fn jwe(d: &Dir) {
    let c = claims();
    let kid = tsp_enc_kid();
    d.put("valid-push", push_jwe(&c));
    d.put(
        "valid-ecdh-es-direct",
        seal(
            sign(&c).as_bytes(),
            KeyManagement::EcdhEs,
            Some(kid),
            Some("JWT"),
        ),
    );
    d.put(
        "valid-without-cty",
        seal(
            sign(&c).as_bytes(),
            KeyManagement::EcdhEsA256Kw,
            Some(kid),
            None,
        ),
    );
    d.put(
        "valid-not-a-jws",
        seal(
            b"hello",
            KeyManagement::EcdhEsA256Kw,
            Some(kid),
            Some("JWT"),
        ),
    );
    for (name, path, value) in [
        ("wrong-aud", &["aud"][..], json!("another")),
        ("stale-iat", &["iat"], json!(NOW - 10_000)),
        ("wrong-session", &["sid"], json!("sess-other")),
        ("wrong-trid", &["trid"], json!("99999999999")),
        ("luhn-fails", &["acct", "pan"], json!("4000123456789018")),
        ("expired-card", &["acct", "exp_year"], json!(2020)),
        ("empty-jti", &["jti"], json!("")),
        ("unknown-issuer", &["iss"], json!("bank-other")),
        (
            "pan-as-number",
            &["acct", "pan"],
            json!(4_000_123_456_789_017_u64),
        ),
        ("cvv-in-acct", &["acct", "cvv"], json!("123")),
        ("bad-phone", &["contact", "phone"], json!("12")),
    ] {
        d.put(
            &format!("valid-claims-{name}"),
            push_jwe(&with(c.clone(), path, value)),
        );
    }
    d.put(
        "valid-unknown-kid",
        seal(
            sign(&c).as_bytes(),
            KeyManagement::EcdhEsA256Kw,
            Some("nope"),
            Some("JWT"),
        ),
    );
    let good = push_jwe(&c);
    let parts: Vec<&str> = good.split('.').collect();
    let epk = Jwk::from_public_key(issuer_key().public_key());
    for (name, h) in [
        ("alg-none", json!({"alg": "none", "enc": "A256GCM"})),
        (
            "alg-rsa",
            json!({"alg": "RSA-OAEP", "enc": "A256GCM", "kid": kid}),
        ),
        (
            "enc-a128",
            json!({"alg": "ECDH-ES+A256KW", "enc": "A128GCM", "kid": kid, "epk": epk}),
        ),
        (
            "zip",
            json!({"alg": "ECDH-ES+A256KW", "enc": "A256GCM", "kid": kid, "epk": epk, "zip": "DEF"}),
        ),
        (
            "crit",
            json!({"alg": "ECDH-ES+A256KW", "enc": "A256GCM", "kid": kid, "epk": epk, "crit": ["exp"]}),
        ),
        (
            "jku",
            json!({"alg": "ECDH-ES+A256KW", "enc": "A256GCM", "kid": kid, "epk": epk, "jku": "https://x"}),
        ),
        (
            "epk-off-curve",
            json!({"alg": "ECDH-ES+A256KW", "enc": "A256GCM", "kid": kid,
            "epk": {"kty": "EC", "crv": "P-256", "x": b64_encode(&[1; 32]), "y": b64_encode(&[2; 32])}}),
        ),
        (
            "no-epk",
            json!({"alg": "ECDH-ES+A256KW", "enc": "A256GCM", "kid": kid}),
        ),
        ("header-array", json!([1, 2, 3])),
    ] {
        let mut p = parts.clone();
        let h = header(h);
        p[0] = &h;
        d.put(&format!("header-{name}"), p.join("."));
    }
    d.put(
        "duplicate-alg",
        [
            b64_encode(br#"{"alg":"ECDH-ES+A256KW","alg":"ECDH-ES"}"#).as_str(),
            &parts[1..].join("."),
        ]
        .join("."),
    );
    d.put("empty", b"");
    d.put("four-parts", parts[..4].join("."));
    d.put("six-parts", format!("{good}.AA"));
    d.put("only-dots", "....");
    d.put(
        "padded-base64",
        format!("{}=.{}", parts[0], parts[1..].join(".")),
    );
    d.put(
        "iv-too-short",
        [parts[0], parts[1], "AAAA", parts[3], parts[4]].join("."),
    );
    d.put(
        "tag-too-short",
        [parts[0], parts[1], parts[2], parts[3], "AAAA"].join("."),
    );
    d.put(
        "wrapped-key-too-short",
        [parts[0], "AAAA", parts[2], parts[3], parts[4]].join("."),
    );
    d.put("truncated", &good[..good.len() / 2]);
    d.put(
        "huge-header",
        format!("{}.{}", b64_encode(&[b'{'; 3000]), parts[1..].join(".")),
    );
}

fn jws(d: &Dir) {
    let c = claims();
    let good = sign(&c);
    d.put("valid-claims", &good);
    d.put(
        "valid-empty-payload",
        provisio_jose::sign(crypto(), issuer_key(), ISSUER_KID, None, b"").unwrap(),
    );
    d.put(
        "valid-binary-payload",
        provisio_jose::sign(
            crypto(),
            issuer_key(),
            ISSUER_KID,
            Some("JWT"),
            &[0, 0xFF, 0x80],
        )
        .unwrap(),
    );
    d.put(
        "valid-other-kid",
        provisio_jose::sign(crypto(), issuer_key(), "someone-else", Some("JWT"), b"{}").unwrap(),
    );
    // RFC 7515 A.3, signed by another key.
    d.put("rfc7515-a3", "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q");
    let parts: Vec<&str> = good.split('.').collect();
    for (name, h) in [
        ("alg-none", json!({"alg": "none", "kid": ISSUER_KID})),
        ("alg-hs256", json!({"alg": "HS256", "kid": ISSUER_KID})),
        ("alg-es384", json!({"alg": "ES384", "kid": ISSUER_KID})),
        ("no-kid", json!({"alg": "ES256"})),
        (
            "crit",
            json!({"alg": "ES256", "kid": ISSUER_KID, "crit": ["b64"], "b64": false}),
        ),
        (
            "jwk",
            json!({"alg": "ES256", "kid": ISSUER_KID, "jwk": Jwk::from_public_key(issuer_key().public_key())}),
        ),
        ("kid-number", json!({"alg": "ES256", "kid": 7})),
    ] {
        d.put(
            &format!("header-{name}"),
            [header(h).as_str(), parts[1], parts[2]].join("."),
        );
    }
    d.put(
        "alg-none-no-signature",
        format!("{}.{}.", header(json!({"alg": "none"})), parts[1]),
    );
    d.put(
        "signature-63-bytes",
        [parts[0], parts[1], &b64_encode(&[1; 63])].join("."),
    );
    d.put(
        "signature-zero",
        [parts[0], parts[1], &b64_encode(&[0; 64])].join("."),
    );
    d.put(
        "signature-der",
        [parts[0], parts[1], &b64_encode(&[0x30; 72])].join("."),
    );
    d.put(
        "payload-swapped",
        [parts[0], &b64_encode(b"{\"iss\":\"x\"}"), parts[2]].join("."),
    );
    d.put("empty", b"");
    d.put("two-parts", parts[..2].join("."));
    d.put("four-parts", format!("{good}.AA"));
    d.put("whitespace", format!(" {good}"));
    d.put("truncated", &good[..good.len() - 3]);
}

fn device() -> Value {
    json!({"binding_jwk": Jwk::from_public_key(issuer_key().public_key()), "type": "PHONE"})
}

fn request_json(d: &Dir) {
    let push = json!({
        "encrypted_payload": push_jwe(&claims()),
        "session_id": SESSION_ID, "wallet_user_id": WALLET_USER_ID, "device_id": DEVICE_ID,
        "device": device(),
        "wallet_risk": {"level": 10, "non_override": false, "reason_codes": ["NEW_DEVICE"]}
    });
    let wallet = json!({
        "encrypted_card": seal(
            &serde_json::to_vec(&json!({"pan": PAN, "exp_month": 12, "exp_year": 2030,
                "name": "A Holder", "cvc2": "123", "iat": NOW, "jti": "jti-card-1"})).unwrap(),
            KeyManagement::EcdhEsA256Kw, Some(tsp_enc_kid()), None),
        "wallet_user_id": WALLET_USER_ID, "device_id": DEVICE_ID, "device": device()
    });
    let put = |name: &str, v: &Value| d.put(name, serde_json::to_vec(v).unwrap());
    put("valid-push", &push);
    put("valid-wallet", &wallet);
    put(
        "valid-otp-verify",
        &json!({"otp_id": "otp-1", "code": "123456", "wallet_user_id": WALLET_USER_ID, "device_id": DEVICE_ID}),
    );
    put(
        "valid-otp-send",
        &json!({"method_id": "sms-1", "wallet_user_id": WALLET_USER_ID, "device_id": DEVICE_ID}),
    );
    put(
        "valid-issuer-app",
        &json!({"method_id": "app-1", "wallet_user_id": WALLET_USER_ID, "device_id": DEVICE_ID, "activation_data": "e30.e30.AA"}),
    );
    put("valid-call-center", &json!({"agent_id": "agent-7"}));
    put(
        "valid-script-report",
        &json!({"script_id": "scr-1", "wallet_user_id": WALLET_USER_ID, "device_id": DEVICE_ID, "steps": [{"seq": 1, "result": "OK"}, {"seq": 2, "result": "FAILED"}]}),
    );
    put("valid-change", &json!({"reason": "LOST"}));
    put("valid-search", &json!({"pan": PAN}));
    put("valid-card-change", &json!({"pan": PAN, "reason": "FRAUD"}));
    put(
        "valid-reissue",
        &json!({"pan": PAN, "new_pan": "5500005555555559", "exp_month": 1, "exp_year": 2031}),
    );
    put(
        "push-wallet-risk-array",
        &with(push.clone(), &["wallet_risk"], json!([10, false])),
    );
    put(
        "push-wallet-risk-out-of-range",
        &with(push.clone(), &["wallet_risk", "level"], json!(300)),
    );
    put(
        "push-unknown-member",
        &with(push.clone(), &["extra"], json!(1)),
    );
    put(
        "push-pan-as-value",
        &with(
            push.clone(),
            &["session_id"],
            json!(4_000_123_456_789_017_u64),
        ),
    );
    put(
        "push-pan-in-wrong-type",
        &with(push.clone(), &["device", "type"], json!([PAN])),
    );
    put(
        "push-session-id-too-long",
        &with(push.clone(), &["session_id"], json!("s".repeat(300))),
    );
    put(
        "push-jwk-off-curve",
        &with(
            push.clone(),
            &["device", "binding_jwk", "x"],
            json!(b64_encode(&[1; 32])),
        ),
    );
    put(
        "push-jwk-private",
        &with(
            push.clone(),
            &["device", "binding_jwk", "d"],
            json!(b64_encode(&[1; 32])),
        ),
    );
    put(
        "otp-code-as-number",
        &json!({"otp_id": "otp-1", "code": 123_456, "wallet_user_id": "u", "device_id": "d"}),
    );
    put(
        "search-pan-as-number",
        &json!({"pan": 4_000_123_456_789_017_u64}),
    );
    put(
        "reissue-month-300",
        &json!({"pan": PAN, "exp_month": 300, "exp_year": 2031}),
    );
    let body = serde_json::to_string(&push).unwrap();
    d.put("truncated-push", &body[..body.len() / 2]);
    d.put(
        "duplicate-member",
        format!("{{\"session_id\":\"a\",{}", &body[1..]),
    );
    d.put("trailing-garbage", format!("{body}xyz"));
    d.put("bom", [&[0xEF, 0xBB, 0xBF][..], body.as_bytes()].concat());
    d.put(
        "invalid-utf8",
        [
            &body.as_bytes()[..20],
            &[0xC3, 0x28],
            &body.as_bytes()[20..],
        ]
        .concat(),
    );
    d.put("lone-surrogate", r#"{"session_id":"\ud800"}"#);
    d.put("deep-arrays", "[".repeat(5_000));
    d.put("deep-objects", "{\"a\":".repeat(2_000));
    d.put(
        "huge-number",
        format!("{{\"exp_month\":1{}}}", "0".repeat(400)),
    );
    d.put("nan", r#"{"level":NaN}"#);
    d.put("empty", b"");
    d.put("null", "null");
}

fn authorization_request(d: &Dir) {
    let good = json!({
        "token_pan": "4895370012345678", "exp_month": 12, "exp_year": 2030,
        "amount_minor": 1234, "currency": "978", "country": "250",
        "transaction_date": "250101", "unpredictable_number": "0A1B2C3D",
        "atc": 7, "cryptogram": "0011223344556677", "channel": "CONTACTLESS"
    });
    let put = |name: &str, v: &Value| d.put(name, serde_json::to_vec(v).unwrap());
    put("valid-contactless", &good);
    put(
        "valid-in-app",
        &with(good.clone(), &["channel"], json!("IN_APP")),
    );
    put(
        "valid-ecommerce-max-amount",
        &with(
            with(good.clone(), &["channel"], json!("ECOMMERCE")),
            &["amount_minor"],
            json!(999_999_999_999_u64),
        ),
    );
    put(
        "valid-atc-max",
        &with(good.clone(), &["atc"], json!(65_535)),
    );
    for (name, field, value) in [
        ("atc-zero", "atc", json!(0)),
        ("atc-65536", "atc", json!(65_536)),
        (
            "amount-13-digits",
            "amount_minor",
            json!(1_000_000_000_000_u64),
        ),
        ("currency-letters", "currency", json!("EUR")),
        ("country-4-digits", "country", json!("2500")),
        ("date-feb-30", "transaction_date", json!("250230")),
        ("date-month-13", "transaction_date", json!("251301")),
        ("un-7-chars", "unpredictable_number", json!("0A1B2C3")),
        ("un-non-hex", "unpredictable_number", json!("0A1B2C3G")),
        ("cryptogram-15", "cryptogram", json!("001122334455667")),
        (
            "cryptogram-non-hex",
            "cryptogram",
            json!("00112233445566ZZ"),
        ),
        (
            "cryptogram-multibyte",
            "cryptogram",
            json!("0011223344556é"),
        ),
        ("token-pan-letters", "token_pan", json!("48953700123456AB")),
        (
            "token-pan-20-digits",
            "token_pan",
            json!("48953700123456789012"),
        ),
        ("exp-month-13", "exp_month", json!(13)),
        ("exp-year-1999", "exp_year", json!(1999)),
        ("channel-unknown", "channel", json!("ATM")),
        ("extra-member", "cvv", json!("123")),
    ] {
        put(&format!("bad-{name}"), &with(good.clone(), &[field], value));
    }
    let tx = Transaction::parse(1234, "978", "250", "250101", "0A1B2C3D").unwrap();
    d.put("valid-terminal-bytes", tx.terminal_bytes());
    d.put("terminal-bytes-not-bcd", [0xFF; 17]);
    d.put("empty", b"");
    d.put("truncated", &serde_json::to_vec(&good).unwrap()[..40]);
}
