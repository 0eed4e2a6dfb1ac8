//! The wallet core pays without a secure element (docs/protocol.md §16.1): a card installed
//! from access data makes the contract's cryptograms with a counter that is stored before each
//! cryptogram leaves the core, and that a restart continues.

#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::cell::{Cell, RefCell};

use provisio_apps::{AppError, PaymentState, WalletAnswer, WalletApp};
use provisio_crypto::{AesKey, AwsLcProvider};
use provisio_emv::{Atc, Transaction};
use provisio_jose::{EncryptOptions, KeyManagement};
use provisio_tsp::wire::AccessData;
use provisio_tsp::{SCRIPT_VERSION, Script, ScriptStep, ScriptTarget, StepOp, StepResult};

const TOKEN: &str = "tr_1";
const TOKEN_PAN: &str = "4895370000000015";
const KEY: [u8; 16] = [0xC7; 16];

/// The phone's durable storage, as the app would give it to the core's `persist` port.
#[derive(Default)]
struct Disk {
    stored: RefCell<Option<Vec<u8>>>,
    writes: Cell<usize>,
    broken: Cell<bool>,
}

impl Disk {
    fn store(&self, state: &PaymentState) -> Result<(), String> {
        if self.broken.get() {
            return Err("disk full".into());
        }
        *self.stored.borrow_mut() = Some(serde_json::to_vec(state).unwrap());
        self.writes.set(self.writes.get() + 1);
        Ok(())
    }

    fn load(&self) -> PaymentState {
        serde_json::from_slice(self.stored.borrow().as_deref().unwrap()).unwrap()
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(self.stored.borrow().as_deref().unwrap()).unwrap()
    }
}

fn wallet(crypto: &AwsLcProvider) -> WalletApp {
    WalletApp::new(crypto, "40010030273", "u1", "d1").unwrap()
}

/// A wallet with the card installed by a script of the given steps, as the token service's
/// access data for this device would install it.
fn installed(crypto: &AwsLcProvider, ops: &[StepOp]) -> WalletApp {
    let mut w = wallet(crypto);
    let answer = WalletAnswer {
        session_id: "s".into(),
        wallet_user_id: "u1".into(),
        device_id: "d1".into(),
        token_requestor_id: "40010030273".into(),
    };
    let binding = w
        .push_request(&answer, String::new(), None)
        .device
        .binding_jwk
        .public_key()
        .unwrap();
    let access = AccessData {
        token_pan: TOKEN_PAN.into(),
        exp_month: 12,
        exp_year: 2030,
        token_ref_id: TOKEN.into(),
        cryptogram_key: provisio_jose::b64_encode(&KEY),
        cryptogram_alg: "AES-128-CMAC".into(),
    };
    let options = EncryptOptions {
        alg: KeyManagement::EcdhEs,
        kid: None,
        cty: None,
    };
    let jwe = provisio_jose::encrypt(
        crypto,
        &binding,
        &options,
        &serde_json::to_vec(&access).unwrap(),
    )
    .unwrap();
    let script = Script {
        script_id: "sc_1".into(),
        version: SCRIPT_VERSION,
        target: ScriptTarget::Hce,
        steps: ops
            .iter()
            .zip(1..)
            .map(|(op, seq)| ScriptStep {
                seq,
                op: *op,
                token_ref_id: TOKEN.into(),
                service_request_id: None,
            })
            .collect(),
    };
    let reports = w.install(crypto, &script, &jwe).unwrap();
    assert!(reports.iter().all(|r| r.result == StepResult::Ok));
    w
}

fn full(crypto: &AwsLcProvider) -> WalletApp {
    installed(
        crypto,
        &[StepOp::StoreToken, StepOp::StoreKeys, StepOp::SetDefault],
    )
}

fn transaction(un: &str) -> Transaction {
    Transaction::parse(1250, "978", "250", "261203", un).unwrap()
}

fn expected_cryptogram(atc: u16, t: &Transaction) -> String {
    let key = AesKey::from_bytes(&KEY).unwrap();
    hex::encode_upper(provisio_emv::arqc(&key, Atc::new(atc).unwrap(), t).unwrap())
}

#[test]
fn atcs_count_from_one_and_the_cryptogram_is_the_contracts() {
    let crypto = AwsLcProvider::new();
    let mut w = full(&crypto);
    let card = &w.cards()[0];
    assert_eq!(
        (
            card.expiry.month(),
            card.expiry.year(),
            card.last_atc,
            card.default
        ),
        (12, 2030, None, true)
    );
    let disk = Disk::default();
    for (atc, un) in [(1, "0a1b2c3d"), (2, "0a1b2c3e"), (3, "CAFEBABE")] {
        let t = transaction(un);
        let p = w.pay(TOKEN, &t, |s| disk.store(s)).unwrap();
        assert_eq!(p.atc, atc);
        assert_eq!(p.cryptogram, expected_cryptogram(atc, &t));
        assert_eq!(p.cryptogram.len(), 16);
        let key = AesKey::from_bytes(&KEY).unwrap();
        let presented = hex::decode(&p.cryptogram).unwrap();
        assert!(provisio_emv::verify(&key, Atc::new(atc).unwrap(), &t, &presented).unwrap());
        assert_eq!(
            (p.token_pan.expose(), p.exp_month, p.exp_year),
            (TOKEN_PAN, 12, 2030)
        );
        assert_eq!(disk.json()["cards"][0]["last_atc"], atc, "stored first");
        assert_eq!(disk.writes.get(), usize::from(atc));
    }
    assert_eq!(w.cards()[0].last_atc, Atc::new(3));
}

#[test]
fn a_restarted_wallet_continues_after_the_last_stored_atc() {
    let crypto = AwsLcProvider::new();
    let mut w = full(&crypto);
    let disk = Disk::default();
    for _ in 0..3 {
        w.pay(TOKEN, &transaction("0a1b2c3d"), |s| disk.store(s))
            .unwrap();
    }
    drop(w);

    let mut restarted = wallet(&crypto);
    restarted.restore_payment_state(disk.load());
    let card = &restarted.cards()[0];
    assert_eq!(
        (card.token_ref_id.as_str(), card.default, card.last_atc),
        (TOKEN, true, Atc::new(3))
    );
    let t = transaction("0a1b2c3d");
    let p = restarted.pay(TOKEN, &t, |s| disk.store(s)).unwrap();
    assert_eq!(p.atc, 4);
    assert_eq!(p.cryptogram, expected_cryptogram(4, &t));

    // Restoring an older state does not move a held counter back.
    let older = disk.load();
    restarted.pay(TOKEN, &t, |s| disk.store(s)).unwrap();
    restarted.restore_payment_state(older);
    assert_eq!(restarted.pay(TOKEN, &t, |s| disk.store(s)).unwrap().atc, 6);
}

#[test]
fn a_failed_store_releases_no_cryptogram_and_spends_the_atc() {
    let crypto = AwsLcProvider::new();
    let mut w = full(&crypto);
    let disk = Disk::default();
    let t = transaction("0a1b2c3d");
    assert_eq!(w.pay(TOKEN, &t, |s| disk.store(s)).unwrap().atc, 1);
    disk.broken.set(true);
    assert_eq!(
        w.pay(TOKEN, &t, |s| disk.store(s)),
        Err(AppError::PaymentStateNotStored("disk full".into()))
    );
    assert_eq!(
        w.cards()[0].last_atc,
        Atc::new(2),
        "spent though not released"
    );
    disk.broken.set(false);
    let p = w.pay(TOKEN, &t, |s| disk.store(s)).unwrap();
    assert_eq!(p.atc, 3, "a fresh ATC, never the unreleased one");
    assert_eq!(p.cryptogram, expected_cryptogram(3, &t));
    assert_eq!(disk.json()["cards"][0]["last_atc"], 3);
}

#[test]
fn refusals_name_the_reason_and_store_nothing() {
    let crypto = AwsLcProvider::new();
    let disk = Disk::default();
    let t = transaction("0a1b2c3d");

    let mut w = full(&crypto);
    assert_eq!(
        w.pay("tr_other", &t, |s| disk.store(s)),
        Err(AppError::UnknownCard)
    );

    let mut keyless = installed(&crypto, &[StepOp::StoreToken]);
    assert_eq!(
        keyless.pay(TOKEN, &t, |s| disk.store(s)),
        Err(AppError::NoCryptogramKey)
    );
    assert_eq!(keyless.cards()[0].last_atc, None);

    // A card that used the last counter: its stored state says FFFF.
    w.pay(TOKEN, &t, |s| disk.store(s)).unwrap();
    let mut json = disk.json();
    json["cards"][0]["last_atc"] = 0xFFFF.into();
    let mut spent = wallet(&crypto);
    spent.restore_payment_state(serde_json::from_value(json).unwrap());
    let writes = disk.writes.get();
    assert_eq!(
        spent.pay(TOKEN, &t, |s| disk.store(s)),
        Err(AppError::AtcExhausted)
    );
    assert_eq!(disk.writes.get(), writes, "nothing stored on a refusal");
}

#[test]
fn debug_shows_neither_the_token_pan_nor_the_key() {
    let crypto = AwsLcProvider::new();
    let mut w = full(&crypto);
    let disk = Disk::default();
    let p = w
        .pay(TOKEN, &transaction("0a1b2c3d"), |s| disk.store(s))
        .unwrap();
    let state = disk.load();
    let key_forms = [
        hex::encode(KEY),
        hex::encode_upper(KEY),
        provisio_jose::b64_encode(&KEY),
        format!("{:?}", KEY),
    ];
    for shown in [
        format!("{p:?}"),
        format!("{state:?}"),
        format!("{:?}", w.payment_state()),
        format!("{w:?}"),
    ] {
        assert!(!shown.contains(TOKEN_PAN), "{shown}");
        assert!(shown.contains("489537******0015"), "masked: {shown}");
        for k in &key_forms {
            assert!(!shown.contains(k.as_str()), "{shown}");
        }
        assert!(!shown.contains("199, 199"), "{shown}");
    }
    // The stored form does hold both: it is what `persist` must protect.
    let stored = disk.json().to_string();
    assert!(stored.contains(TOKEN_PAN) && stored.contains(&provisio_jose::b64_encode(&KEY)));
}
