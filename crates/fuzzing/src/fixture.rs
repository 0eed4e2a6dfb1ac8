//! The fixed world the targets run in: the token service's keys, an issuer's signing key, an
//! SCP03 key set and the identities and time the signed claims name. Everything is derived
//! from constants, so a seed made once (`cargo run -p provisio-fuzzing --example corpus`)
//! still decrypts, verifies and opens a secure channel in every later run, under libFuzzer as
//! on stable.
//!
//! These keys are test fixtures, public by construction; no real key is ever derived here.

use std::sync::OnceLock;

use provisio_crypto::{AwsLcProvider, CryptoProvider, EcKeyPair, SecretBytes};
use provisio_gp::scp03::StaticKeys;
use provisio_gp::scp03::{CardChannel, CardHandshake, HostChannel, HostHandshake, SecurityLevel};
use provisio_tsp::{KeyKind, StoredKey, TspKeys, jwk_thumbprint};

/// The token service id the claims are addressed to (`aud`).
pub const TSP_ID: &str = "provisio";
/// The issuer id the claims name (`iss`).
pub const ISSUER_ID: &str = "bank-fuzz";
/// The issuer signing key's `kid`.
pub const ISSUER_KID: &str = "issuer-fuzz-1";
/// The token requestor the push comes from (`trid`).
pub const TRID: &str = "40010030273";
/// The session id the push is bound to (`sid`).
pub const SESSION_ID: &str = "sess-fuzz-ABCDEFGHIJK1";
/// The wallet user (`uid`).
pub const WALLET_USER_ID: &str = "user-fuzz";
/// The device (`did`).
pub const DEVICE_ID: &str = "device-fuzz";
/// The funding PAN the valid seeds carry (a Luhn-valid test number). A target checks that it
/// never appears in an error or a `Debug` output.
pub const PAN: &str = "4000123456789017";
/// The instant the targets take as `now`, and the seeds as `iat` (2025-01-01T00:00:00Z).
pub const NOW: i64 = 1_735_689_600;
/// The freshness window the targets accept (the service's default, docs/protocol.md §3.4).
pub const WINDOW_S: i64 = 300;
/// The SCP03 security level of the fixed session: C-MAC and C-DECRYPTION, R-MAC and
/// R-ENCRYPTION (GPC Amendment D 7.1.2, level `33`).
pub const SCP03_LEVEL: u8 = 0x33;
/// The sequence counter the card answers the fixed INITIALIZE UPDATE with.
pub const SCP03_COUNTER: u32 = 0x00_0042;
/// The host challenge of the fixed session.
pub const SCP03_HOST_CHALLENGE: [u8; 8] = [0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88];
/// The card's key diversification data.
pub const SCP03_DIVERSIFICATION: [u8; 10] = [0xD1; 10];

/// A private scalar below the P-256 order: `seed` repeated, with a first byte that keeps it
/// well under n (FFFFFFFF00000000...).
fn scalar(seed: u8) -> [u8; 32] {
    let mut s = [seed; 32];
    s[0] = 0x3C;
    s
}

/// The one crypto provider.
pub fn crypto() -> &'static AwsLcProvider {
    static CRYPTO: OnceLock<AwsLcProvider> = OnceLock::new();
    CRYPTO.get_or_init(AwsLcProvider::new)
}

/// The token service's encryption key pair (the JWE recipient).
pub fn tsp_enc_key() -> &'static EcKeyPair {
    static KEY: OnceLock<EcKeyPair> = OnceLock::new();
    KEY.get_or_init(|| {
        EcKeyPair::from_private_scalar(&scalar(0x5E))
            .unwrap_or_else(|_| unreachable!("a fixed scalar below the order"))
    })
}

/// The `kid` of [`tsp_enc_key`]: its RFC 7638 thumbprint, as the service names its keys.
pub fn tsp_enc_kid() -> &'static str {
    static KID: OnceLock<String> = OnceLock::new();
    KID.get_or_init(|| jwk_thumbprint(crypto(), tsp_enc_key().public_key()))
}

/// The issuer's ES256 signing key pair.
pub fn issuer_key() -> &'static EcKeyPair {
    static KEY: OnceLock<EcKeyPair> = OnceLock::new();
    KEY.get_or_init(|| {
        EcKeyPair::from_private_scalar(&scalar(0x15))
            .unwrap_or_else(|_| unreachable!("a fixed scalar below the order"))
    })
}

/// The token service's key set as an instance holds it, with [`tsp_enc_key`] as its
/// encryption key: built through [`TspKeys::from_stored`], the way the server loads it.
pub fn tsp_keys() -> &'static TspKeys {
    static KEYS: OnceLock<TspKeys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let c = crypto();
        let master = SecretBytes::new(vec![0x4D; 32]);
        let ec = |kid: &str, kind, seed| {
            let key = EcKeyPair::from_private_scalar(&scalar(seed))
                .unwrap_or_else(|_| unreachable!("a fixed scalar below the order"));
            StoredKey {
                kid: kid.to_owned(),
                kind,
                sealed: key
                    .seal(master.expose())
                    .unwrap_or_else(|_| unreachable!("a 32-byte master key")),
                created_at: NOW,
            }
        };
        let sym = |kid: &str, kind, byte| StoredKey {
            kid: kid.to_owned(),
            kind,
            sealed: c
                .aes_kw_wrap(master.expose(), &[byte; 32])
                .unwrap_or_else(|_| unreachable!("a 32-byte key under a 32-byte master key")),
            created_at: NOW,
        };
        let stored = [
            ec(tsp_enc_kid(), KeyKind::Enc, 0x5E),
            ec("sig-fuzz", KeyKind::Sig, 0x51),
            sym("vk-fuzz", KeyKind::VaultKek, 0x7E),
            sym("vh-fuzz", KeyKind::VaultHash, 0x7A),
        ];
        TspKeys::from_stored(c, &master, &stored)
            .unwrap_or_else(|_| unreachable!("keys sealed above under the same master key"))
    })
}

/// The card's static SCP03 key set (AES-128, key version 0x30).
pub fn scp03_keys() -> StaticKeys {
    StaticKeys::from_bytes(0x30, &[0x40; 16], &[0x41; 16], &[0x42; 16])
        .unwrap_or_else(|_| unreachable!("three 16-byte keys"))
}

/// The fixed SCP03 session, both halves, authenticated: the host's EXTERNAL AUTHENTICATE has
/// been checked by the card. Every call returns the same session in the same state, so the
/// first command the host wraps is the same bytes every time (Amendment D 6.2.4: the MAC
/// chaining value and the encryption counter start from the handshake).
pub fn scp03_session() -> (HostChannel, CardChannel) {
    let level = SecurityLevel::from_byte(SCP03_LEVEL)
        .unwrap_or_else(|_| unreachable!("33 is a level of Amendment D 7.1.2"));
    let host = HostHandshake::new(scp03_keys(), SCP03_HOST_CHALLENGE, level);
    let (response, card) = CardHandshake::initialize_update(
        &scp03_keys(),
        SCP03_DIVERSIFICATION,
        SCP03_COUNTER,
        provisio_gp::Aid::isd().as_bytes(),
        SCP03_HOST_CHALLENGE,
    );
    let (auth, host) = host
        .handle_init_update(&response)
        .unwrap_or_else(|_| unreachable!("the card half answered with the same keys"));
    let card = card
        .external_authenticate(auth)
        .unwrap_or_else(|_| unreachable!("the host half authenticated with the same keys"));
    (host, card)
}
