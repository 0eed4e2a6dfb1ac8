//! `provisio bench risk | scp03 | mint`: one hot path on one core, beside the raw primitive it
//! is built on, both measured in the same run (the medians of 7 rounds), so the ratio says
//! what the protocol code costs on top of the work it cannot avoid.

use std::hint::black_box;
use std::process::ExitCode;

use clap::Args;
use provisio_crypto::{AesKey, AwsLcProvider, CryptoProvider, SecretBytes};
use provisio_gp::scp03::{CardHandshake, HostHandshake, SecurityLevel, StaticKeys};
use provisio_gp::{Command, Response, StatusWord};
use provisio_jose::{EncryptOptions, KeyManagement};
use provisio_risk::{Policy, Signals, WalletInput, WalletRisk, Way, evaluate};
use provisio_server::{Clock, SystemClock};
use provisio_tsp::{Accepted, Contact, MintInput, TspConfig, TspKeys};
use provisio_types::Expiry;
use serde::Serialize;

use super::{emit, per_call_us, test_card};

/// Options of the one-core benchmarks.
#[derive(Debug, Args)]
pub(crate) struct MicroArgs {
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
    /// Calls per round (7 rounds; the median is reported).
    #[arg(long, default_value_t = 2_000)]
    iterations: usize,
}

/// The report: the operation, and each baseline with the operation's cost in its units.
#[derive(Debug, Serialize)]
struct MicroReport {
    operation: &'static str,
    operation_us: f64,
    baselines: Vec<Baseline>,
}

#[derive(Debug, Serialize)]
struct Baseline {
    name: &'static str,
    us: f64,
    /// `operation_us / us`.
    ratio: f64,
}

fn report(
    args: &MicroArgs,
    operation: &'static str,
    operation_us: f64,
    baselines: Vec<(&'static str, f64)>,
) -> anyhow::Result<ExitCode> {
    let r = MicroReport {
        operation,
        operation_us,
        baselines: baselines
            .into_iter()
            .map(|(name, us)| Baseline {
                name,
                us,
                ratio: operation_us / us,
            })
            .collect(),
    };
    emit(args.json, &r, |r: &MicroReport| {
        println!("{:<58} {:>9.3} µs", r.operation, r.operation_us);
        for b in &r.baselines {
            println!(
                "  baseline: {:<48} {:>9.3} µs  ({:.2} ×)",
                b.name, b.us, b.ratio
            );
        }
    })
}

/// The built-in policy on a wallet-assessed request where three rules fire.
pub(super) fn risk(args: &MicroArgs) -> anyhow::Result<ExitCode> {
    let policy = Policy::builtin();
    let wallet = WalletInput::Assessed(WalletRisk {
        level: 10,
        non_override: true,
        reason_codes: vec!["new_device".into()],
        device_score: Some(20),
        account_score: None,
    });
    let signals = Signals {
        card_attempts_1h: 3,
        device_tokens: 2,
        device_distinct_cards_24h: 3,
        ..Signals::default()
    };
    let op = per_call_us(args.iterations, || {
        black_box(evaluate(
            &policy,
            "demo-bank",
            black_box(&wallet),
            black_box(&signals),
            black_box(&Way::default()),
        ));
        Ok(())
    })?;
    // What any caller pays to hand the inputs over by value.
    let clone = per_call_us(args.iterations, || {
        black_box((black_box(&wallet).clone(), black_box(&signals).clone()));
        Ok(())
    })?;
    report(
        args,
        "risk evaluate (built-in policy, 3 rules fire)",
        op,
        vec![("clone the inputs", clone)],
    )
}

/// One level-33 exchange: the host wraps a 64-byte STORE DATA, the card unwraps it, the card
/// wraps a 32-byte response, the host unwraps it.
pub(super) fn scp03(args: &MicroArgs) -> anyhow::Result<ExitCode> {
    let keys = StaticKeys::from_bytes(0x30, &[0x40; 16], &[0x41; 16], &[0x42; 16])?;
    let aid = [0xA0, 0, 0, 0x01, 0x51, 0, 0, 0];
    let host = HostHandshake::new(keys.clone(), [7; 8], SecurityLevel::FULL);
    let (rsp, card) = CardHandshake::initialize_update(&keys, [0; 10], 1, &aid, [7; 8]);
    let (ext, mut host) = host.handle_init_update(&rsp)?;
    let mut card = card.external_authenticate(ext)?;
    let cmd = Command::new(0x80, 0xE2, 0x00, 0x00).with_data(vec![0x5A; 64]);
    let reply = Response::new(vec![0xC3; 32], StatusWord::OK);
    let op = per_call_us(args.iterations, || {
        let wire = host.wrap(black_box(cmd.clone()))?;
        card.unwrap(wire)?;
        let back = card.wrap(black_box(reply.clone()));
        black_box(host.unwrap(back)?);
        Ok(())
    })?;

    // The exchange's AES work by hand: two CBC encryptions of the padded data (80 bytes
    // command, 48 bytes response) with their counter blocks, and the four CMACs over chaining
    // value, header and data (GlobalPlatform Amendment D, sections 6.2.6 and 6.2.7).
    let enc = AesKey::from_bytes(&[0x51; 16])?;
    let mac = AesKey::from_bytes(&[0x52; 16])?;
    let rmac = AesKey::from_bytes(&[0x53; 16])?;
    let chain = [0u8; 16];
    let by_hand = per_call_us(args.iterations, || {
        for (len, key) in [(80usize, &mac), (48, &rmac)] {
            for _ in 0..2 {
                let mut icv = [0u8; 16];
                enc.encrypt_block(&mut icv);
                let mut buf = vec![0x5A; len];
                enc.cbc_encrypt(&icv, black_box(&mut buf))?;
                black_box(key.cmac(&[&chain, &[0x84, 0xE2, 0, 0, 0x58], &buf]));
            }
        }
        Ok(())
    })?;
    let data = [0x5A; 64];
    let cmac = per_call_us(args.iterations, || {
        black_box(mac.cmac(&[black_box(&data)]));
        Ok(())
    })?;
    report(
        args,
        "SCP03 level 33: wrap + unwrap, command and response",
        op,
        vec![
            ("the exchange's AES work by hand", by_hand),
            ("one AES-CMAC over 64 bytes", cmac),
        ],
    )
}

/// One approved token for an HCE device: token PAN, seals, access data JWE, script.
pub(super) fn mint(args: &MicroArgs) -> anyhow::Result<ExitCode> {
    let crypto = AwsLcProvider::new();
    let mut master = vec![0u8; 32];
    crypto.fill_random(&mut master)?;
    let now = SystemClock.now();
    let (keys, _) = TspKeys::generate(&crypto, &SecretBytes::new(master), now)?;
    let config = TspConfig::default();
    let card = test_card(1)?;
    let accepted = Accepted {
        origin: provisio_tsp::records::Origin::Push,
        issuer_id: "bench-bank".into(),
        jti: "jti".into(),
        session_id: "sid".into(),
        wallet_user_id: "user".into(),
        device_id: "device".into(),
        token_requestor_id: "40010030273".into(),
        pan: card.pan,
        expiry: Expiry::new(12, 2031)?,
        contact: Contact::default(),
    };
    let device = crypto.generate_ec_key()?;
    let risk = evaluate(
        &config.risk_policy,
        "bench-bank",
        &WalletInput::Missing,
        &Signals::default(),
        &Way::default(),
    );
    let pan_hash = keys
        .vault()
        .lookup_hash(&crypto, "pan", accepted.pan.expose());
    let input = MintInput {
        accepted: &accepted,
        device_key: device.public_key(),
        secure_element: None,
        risk: &risk,
        pan_hash,
        card: &provisio_tsp::CardFacts::default(),
        methods: None,
        now,
    };
    let op = per_call_us(args.iterations, || {
        black_box(provisio_tsp::mint(&crypto, &keys, &config, &input)?);
        Ok(())
    })?;
    // The access data must be encrypted to the device key whatever else minting does.
    let access = [b'a'; 180];
    let options = EncryptOptions {
        alg: KeyManagement::EcdhEs,
        kid: None,
        cty: None,
    };
    let jwe = per_call_us(args.iterations, || {
        black_box(provisio_jose::encrypt(
            &crypto,
            device.public_key(),
            &options,
            &access,
        )?);
        Ok(())
    })?;
    report(
        args,
        "mint one approved HCE token",
        op,
        vec![("JWE (ECDH-ES, A256GCM) of the access data", jwe)],
    )
}
