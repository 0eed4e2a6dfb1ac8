//! Minting one approved HCE token (token PAN, three seals, lookup hashes, the access data JWE,
//! the script) beside the access data encryption it cannot avoid, measured in the same run.
#![allow(missing_docs, clippy::unwrap_used)]

use criterion::{Criterion, black_box, criterion_group, criterion_main};
use provisio_crypto::{AwsLcProvider, CryptoProvider, SecretBytes};
use provisio_jose::{EncryptOptions, KeyManagement};
use provisio_risk::{Signals, WalletInput, Way, evaluate};
use provisio_tsp::{Accepted, Contact, MintInput, TspConfig, TspKeys, mint};
use provisio_types::{Expiry, Pan};

fn bench(c: &mut Criterion) {
    let crypto = AwsLcProvider::new();
    let now = 1_800_000_000;
    let (keys, _) = TspKeys::generate(&crypto, &SecretBytes::new(vec![7; 32]), now).unwrap();
    let config = TspConfig::default();
    let accepted = Accepted {
        origin: provisio_tsp::records::Origin::Push,
        issuer_id: "bank".into(),
        jti: "jti".into(),
        session_id: "sid".into(),
        wallet_user_id: "user".into(),
        device_id: "device".into(),
        token_requestor_id: "40010030273".into(),
        pan: Pan::parse("4000000000000002").unwrap(),
        expiry: Expiry::new(12, 2031).unwrap(),
        contact: Contact::default(),
    };
    let device = crypto.generate_ec_key().unwrap();
    let risk = evaluate(
        &config.risk_policy,
        "bank",
        &WalletInput::Missing,
        &Signals::default(),
        &Way::default(),
    );
    let input = MintInput {
        accepted: &accepted,
        device_key: device.public_key(),
        secure_element: None,
        risk: &risk,
        pan_hash: [1; 32],
        card: &provisio_tsp::CardFacts::default(),
        methods: None,
        now,
    };
    let options = EncryptOptions {
        alg: KeyManagement::EcdhEs,
        kid: None,
        cty: None,
    };
    let access = [b'a'; 180];

    let mut g = c.benchmark_group("mint");
    g.bench_function("baseline: JWE (ECDH-ES, A256GCM) of 180 bytes", |b| {
        b.iter(|| {
            provisio_jose::encrypt(&crypto, device.public_key(), &options, black_box(&access))
                .unwrap()
        })
    });
    g.bench_function("mint one approved HCE token", |b| {
        b.iter(|| mint(&crypto, &keys, &config, black_box(&input)).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
