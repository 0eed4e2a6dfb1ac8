//! One risk evaluation (store lookups excluded) with the built-in policy, against a baseline
//! measured in the same run: cloning the inputs, which any caller pays anyway.
#![allow(missing_docs, clippy::unwrap_used)]

use criterion::{Criterion, black_box, criterion_group, criterion_main};
use provisio_risk::{Policy, Signals, WalletInput, WalletRisk, Way, evaluate};

fn bench(c: &mut Criterion) {
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
    c.bench_function("baseline: clone the inputs", |b| {
        b.iter(|| (black_box(&wallet).clone(), black_box(&signals).clone()))
    });
    c.bench_function("risk evaluate (built-in policy, 3 rules fire)", |b| {
        b.iter(|| {
            evaluate(
                black_box(&policy),
                black_box("demo-bank"),
                black_box(&wallet),
                black_box(&signals),
                black_box(&Way::default()),
            )
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
