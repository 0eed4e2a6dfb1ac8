//! The cryptogram against an independent implementation: `tests/interop/emv_vectors.py`
//! (pyca/cryptography's AES-ECB and CMAC) computes `D`, the session key and the ARQC from the
//! wire fields as docs/protocol.md §16.1 describes them, and ours must give the same bytes.
//!
//! The Python environment is made on first use (`provisio_testkit::python`). Two of its answers
//! are also pasted below as known answers, so the derivation is pinned without Python; the
//! session key of the first was checked a third way, with `openssl enc -aes-128-ecb` and
//! `openssl mac CMAC`.

#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::io::Write;
use std::process::Stdio;

use proptest::prelude::*;
use provisio_crypto::AesKey;
use provisio_emv::{Atc, Transaction, arqc, session_key, verify};
use serde_json::{Value, json};

/// One case: the key, the ATC and the transaction's wire fields.
#[derive(Debug, Clone)]
struct Case {
    key: &'static str,
    atc: u16,
    amount_minor: u64,
    currency: &'static str,
    country: &'static str,
    date: &'static str,
    un: &'static str,
}

impl Case {
    fn key(&self) -> AesKey {
        AesKey::from_bytes(&hex::decode(self.key).unwrap()).unwrap()
    }

    fn atc(&self) -> Atc {
        Atc::new(self.atc).unwrap()
    }

    fn transaction(&self) -> Transaction {
        Transaction::parse(
            self.amount_minor,
            self.currency,
            self.country,
            self.date,
            self.un,
        )
        .unwrap()
    }

    fn json(&self) -> Value {
        json!({
            "key": self.key, "atc": self.atc, "amount_minor": self.amount_minor,
            "currency": self.currency, "country": self.country, "date": self.date, "un": self.un,
        })
    }
}

/// What a case must give: `D` without and with the ATC, the session key and the ARQC, in hex.
struct Answer {
    terminal: String,
    data: String,
    session_key: String,
    arqc: String,
}

fn ours(case: &Case) -> Answer {
    let t = case.transaction();
    Answer {
        terminal: hex::encode(t.terminal_bytes()),
        data: hex::encode(t.data(case.atc())),
        session_key: hex::encode(
            session_key(&case.key(), case.atc())
                .unwrap()
                .export()
                .expose(),
        ),
        arqc: hex::encode(arqc(&case.key(), case.atc(), &t).unwrap()),
    }
}

fn check(case: &Case, expected: &Answer) {
    let got = ours(case);
    assert_eq!(
        got.terminal, expected.terminal,
        "terminal bytes of {case:?}"
    );
    assert_eq!(got.data, expected.data, "D of {case:?}");
    assert_eq!(
        got.session_key, expected.session_key,
        "session key of {case:?}"
    );
    assert_eq!(got.arqc, expected.arqc, "ARQC of {case:?}");
    let presented = hex::decode(&expected.arqc).unwrap();
    assert!(verify(&case.key(), case.atc(), &case.transaction(), &presented).unwrap());
}

/// Computed once with `tests/interop/emv_vectors.py` (cryptography 50.0.2).
#[test]
fn known_answers() {
    let cases = [
        (
            Case {
                key: "2b7e151628aed2a6abf7158809cf4f3c",
                atc: 1,
                amount_minor: 1250,
                currency: "978",
                country: "250",
                date: "261203",
                un: "0a1b2c3d",
            },
            Answer {
                terminal: "000000001250097802502612030a1b2c3d".into(),
                data: "000000001250097802502612030a1b2c3d0001".into(),
                session_key: "f503fda2ec35f315ab680b82987f2f73".into(),
                arqc: "9821cc8b0fcfeb03".into(),
            },
        ),
        (
            Case {
                key: "c7c7c7c7c7c7c7c7c7c7c7c7c7c7c7c7",
                atc: 0xFFFF,
                amount_minor: 999_999_999_999,
                currency: "840",
                country: "840",
                date: "240229",
                un: "FFFFFFFF",
            },
            Answer {
                terminal: "99999999999908400840240229ffffffff".into(),
                data: "99999999999908400840240229ffffffffffff".into(),
                session_key: "fffba6dcacf9777ae3ac4281b9e541fa".into(),
                arqc: "23170def62272cb0".into(),
            },
        ),
    ];
    for (case, answer) in &cases {
        check(case, answer);
    }
}

/// Every key with every ATC and every amount; the other fields cycle through their values.
fn cases() -> Vec<Case> {
    let keys = [
        "000102030405060708090a0b0c0d0e0f",
        "2b7e151628aed2a6abf7158809cf4f3c",
        "c7c7c7c7c7c7c7c7c7c7c7c7c7c7c7c7",
        "ffffffffffffffffffffffffffffffff",
    ];
    let atcs = [1, 2, 0x00FF, 0xFFFF];
    let amounts = [0, 1250, 999_999_999_999];
    let currencies = ["978", "840", "036", "392", "000"];
    let countries = ["250", "276", "840", "826", "999"];
    let dates = ["261203", "240229", "991231", "000101", "250615", "300430"];
    let uns = ["00000000", "0a1b2c3d", "CAFEBABE", "ffffffff", "80000001"];
    let mut out = Vec::new();
    for (k, key) in keys.iter().enumerate() {
        for (a, atc) in atcs.iter().enumerate() {
            for (m, amount_minor) in amounts.iter().enumerate() {
                let i = k * 12 + a * 3 + m;
                out.push(Case {
                    key,
                    atc: *atc,
                    amount_minor: *amount_minor,
                    currency: currencies[i % currencies.len()],
                    country: countries[(i / 2) % countries.len()],
                    date: dates[i % dates.len()],
                    un: uns[(i / 3) % uns.len()],
                });
            }
        }
    }
    out
}

fn python(cases: &[Case]) -> Vec<Value> {
    let input: Vec<Value> = cases.iter().map(Case::json).collect();
    let mut child = provisio_testkit::python::python()
        .command()
        .arg(provisio_testkit::python::interop_script("emv_vectors.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the interop interpreter starts");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(Value::from(input).to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "emv_vectors.py failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn python_cryptography_agrees() {
    let cases = cases();
    let answers = python(&cases);
    assert_eq!(answers.len(), cases.len());
    for (case, answer) in cases.iter().zip(&answers) {
        let field = |name: &str| answer[name].as_str().unwrap().to_owned();
        check(
            case,
            &Answer {
                terminal: field("terminal"),
                data: field("data"),
                session_key: field("session_key"),
                arqc: field("arqc"),
            },
        );
    }
}

/// The wire fields back from the 17 terminal bytes (the test's own reading of the layout).
fn wire_fields(bytes: &[u8; 17]) -> (u64, String, String, String, String) {
    let h = hex::encode(bytes);
    (
        h[..12].parse().unwrap(),
        h[13..16].to_owned(),
        h[17..20].to_owned(),
        h[20..26].to_owned(),
        h[26..].to_owned(),
    )
}

proptest! {
    #[test]
    fn wire_fields_and_terminal_bytes_round_trip(
        amount in 0..=999_999_999_999u64,
        currency in "[0-9]{3}",
        country in "[0-9]{3}",
        (yy, mm, dd) in (0..100u32, 1..=12u32, 1..=28u32),
        un in "[0-9a-fA-F]{8}",
    ) {
        let date = format!("{yy:02}{mm:02}{dd:02}");
        let t = Transaction::parse(amount, &currency, &country, &date, &un).unwrap();
        let bytes = t.terminal_bytes();
        prop_assert_eq!(Transaction::from_bytes(&bytes).unwrap(), t);
        let (a, c, k, d, u) = wire_fields(&bytes);
        prop_assert_eq!((a, c, k, d), (amount, currency, country, date));
        prop_assert_eq!(u, un.to_lowercase());
    }

    #[test]
    fn terminal_bytes_that_parse_read_back(bytes in proptest::array::uniform17(any::<u8>())) {
        // Never panics; what it accepts it gives back unchanged, and the wire fields agree.
        if let Ok(t) = Transaction::from_bytes(&bytes) {
            prop_assert_eq!(t.terminal_bytes(), bytes);
            let (a, c, k, d, u) = wire_fields(&bytes);
            prop_assert_eq!(Transaction::parse(a, &c, &k, &d, &u).unwrap(), t);
        }
    }

    #[test]
    fn terminal_bytes_of_valid_bcd_parse(
        amount in proptest::array::uniform6(0..100u8),
        currency in 0..1000u16,
        country in 0..1000u16,
        (yy, mm, dd) in (0..100u8, 1..=12u8, 1..=28u8),
        un in proptest::array::uniform4(any::<u8>()),
    ) {
        // Valid BCD is accepted: the 17 bytes a terminal sends for any such fields.
        let b = |n: u8| (n / 10) << 4 | (n % 10);
        let code = |n: u16| [(n / 100) as u8, b((n % 100) as u8)];
        let mut bytes = [0u8; 17];
        bytes[..6].copy_from_slice(&amount.map(b));
        bytes[6..8].copy_from_slice(&code(currency));
        bytes[8..10].copy_from_slice(&code(country));
        bytes[10..13].copy_from_slice(&[b(yy), b(mm), b(dd)]);
        bytes[13..].copy_from_slice(&un);
        let t = Transaction::from_bytes(&bytes).unwrap();
        prop_assert_eq!(t.terminal_bytes(), bytes);
    }
}
