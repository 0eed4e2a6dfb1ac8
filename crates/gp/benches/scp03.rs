//! SCP03 secure messaging at level 33 against its raw primitive, measured in the same run.
//!
//! One "exchange" is what a TSM and a card do per command: the host wraps a 64-byte STORE DATA
//! (C-DECRYPTION + C-MAC), the card unwraps it, the card wraps a 32-byte response
//! (R-ENCRYPTION + R-MAC), the host unwraps it. The baseline is one AES-CMAC over the same
//! 64 bytes with an already expanded key: the least any MACed channel must pay. A second
//! baseline does the exchange's AES work by hand (two CBC encryptions and decryptions of the
//! padded data, four CMACs over chaining value, header and data, four counter blocks), so the
//! ratio to it is the cost of the protocol code itself.
#![allow(missing_docs, clippy::unwrap_used)]

use criterion::{Criterion, Throughput, black_box, criterion_group, criterion_main};
use provisio_crypto::AesKey;
use provisio_gp::scp03::{CardHandshake, HostHandshake, SecurityLevel, StaticKeys};
use provisio_gp::{Command, Response, StatusWord};

fn bench(c: &mut Criterion) {
    let keys = StaticKeys::from_bytes(0x30, &[0x40; 16], &[0x41; 16], &[0x42; 16]).unwrap();
    let aid = [0xA0, 0, 0, 0x01, 0x51, 0, 0, 0];
    let data = vec![0x5A; 64];
    let reply = Response::new(vec![0xC3; 32], StatusWord::OK);

    let mut g = c.benchmark_group("scp03");
    g.throughput(Throughput::Elements(1));
    let raw = AesKey::from_bytes(&[0x41; 16]).unwrap();
    g.bench_function("baseline: AES-CMAC over 64 bytes", |b| {
        b.iter(|| raw.cmac(&[black_box(&data)]))
    });

    let (enc, mac, rmac) = (
        AesKey::from_bytes(&[0x51; 16]).unwrap(),
        AesKey::from_bytes(&[0x52; 16]).unwrap(),
        AesKey::from_bytes(&[0x53; 16]).unwrap(),
    );
    let chain = [0u8; 16];
    g.bench_function("baseline: the exchange's AES work by hand", |b| {
        b.iter(|| {
            let mut out = 0u8;
            for (len, key) in [(80usize, &mac), (48, &rmac)] {
                for _ in 0..2 {
                    let mut icv = [0u8; 16];
                    enc.encrypt_block(&mut icv);
                    let mut buf = vec![0x5A; len];
                    enc.cbc_encrypt(&icv, black_box(&mut buf)).unwrap();
                    out ^= key.cmac(&[&chain, &[0x84, 0xE2, 0, 0, 0x58], &buf])[0];
                }
            }
            out
        })
    });

    let open = || {
        let host = HostHandshake::new(keys.clone(), [7; 8], SecurityLevel::FULL);
        let (rsp, card) = CardHandshake::initialize_update(&keys, [0; 10], 1, &aid, [7; 8]);
        let (ext, host) = host.handle_init_update(&rsp).unwrap();
        (host, card.external_authenticate(ext).unwrap())
    };
    let cmd = Command::new(0x80, 0xE2, 0x00, 0x00).with_data(data.clone());
    let (mut host, _) = open();
    g.bench_function("level 33: host wrap of a 64-byte command", |b| {
        b.iter(|| host.wrap(black_box(cmd.clone())).unwrap())
    });
    let (mut host, mut card) = open();
    g.bench_function("level 33: wrap + unwrap, command and response", |b| {
        b.iter(|| {
            let wire = host.wrap(black_box(cmd.clone())).unwrap();
            card.unwrap(wire).unwrap();
            let back = card.wrap(black_box(reply.clone()));
            host.unwrap(back).unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
