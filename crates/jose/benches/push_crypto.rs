//! The cryptography of one push provisioning, each step beside its raw primitive measured in
//! the same run: opening the request JWE (ECDH-ES+A256KW, A256GCM) against one static ECDH,
//! verifying the issuer's ES256 JWS against one raw ECDSA verification, and encrypting the
//! access data (ECDH-ES, A256GCM) against one ephemeral ECDH. The gaps are the JOSE code
//! itself: base64url, JSON headers, key wrap and GCM.
#![allow(missing_docs, clippy::unwrap_used)]

use criterion::{Criterion, black_box, criterion_group, criterion_main};
use provisio_crypto::{AwsLcProvider, CryptoProvider};
use provisio_jose::{EncryptOptions, KeyManagement};

fn bench(c: &mut Criterion) {
    let crypto = AwsLcProvider::new();
    let tsp = crypto.generate_ec_key().unwrap();
    let issuer = crypto.generate_ec_key().unwrap();
    let device = crypto.generate_ec_key().unwrap();
    // Claims about the size of a push request's: card, expiry, ids, contact.
    let claims = [b'c'; 420];
    let jws = provisio_jose::sign(&crypto, &issuer, "issuer-key", Some("JWT"), &claims).unwrap();
    let wrap = EncryptOptions {
        alg: KeyManagement::EcdhEsA256Kw,
        kid: Some("enc"),
        cty: Some("JWT"),
    };
    let jwe = provisio_jose::encrypt(&crypto, tsp.public_key(), &wrap, jws.as_bytes()).unwrap();
    let direct = EncryptOptions {
        alg: KeyManagement::EcdhEs,
        kid: None,
        cty: None,
    };
    let access = [b'a'; 180];
    let signature = crypto.sign_es256(&issuer, &claims).unwrap();

    let mut g = c.benchmark_group("push crypto");
    g.bench_function("baseline: static ECDH P-256", |b| {
        b.iter(|| crypto.ecdh(&tsp, black_box(issuer.public_key())).unwrap())
    });
    g.bench_function("open the request JWE (ECDH-ES+A256KW, A256GCM)", |b| {
        b.iter(|| {
            provisio_jose::decrypt(
                &crypto,
                black_box(&jwe),
                &[KeyManagement::EcdhEsA256Kw],
                |_| Some(&tsp),
            )
            .unwrap()
        })
    });
    g.bench_function("baseline: ECDSA P-256 verify", |b| {
        b.iter(|| {
            crypto
                .verify_es256(issuer.public_key(), black_box(&claims), &signature)
                .unwrap()
        })
    });
    g.bench_function("verify the issuer's JWS (ES256)", |b| {
        b.iter(|| {
            provisio_jose::verify_with_key(&crypto, black_box(&jws), issuer.public_key()).unwrap()
        })
    });
    g.bench_function(
        "baseline: ephemeral ECDH P-256 (key generation included)",
        |b| {
            b.iter(|| {
                crypto
                    .ecdh_ephemeral(black_box(device.public_key()))
                    .unwrap()
            })
        },
    );
    g.bench_function("encrypt the access data (ECDH-ES, A256GCM)", |b| {
        b.iter(|| {
            provisio_jose::encrypt(&crypto, device.public_key(), &direct, black_box(&access))
                .unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
