//! The secret scan (hardening issue 26): a full `provisio demo` run, then every byte it left
//! or showed (its output and debug logs, every file of its data directory: the three SQLite
//! databases with their `-wal` and `-shm` files, and every HTTP response body its clients
//! received) is searched for every secret the demo used, and for any Luhn-valid 13 to 19 digit
//! number (a PAN or a token PAN).
//!
//! The demo says what it used through its opt-in capture (`PROVISIO_CAPTURE_DIR`, see
//! `crates/cli/src/demo/capture.rs`): `secrets.json` lists the PANs, token PANs, step-up codes,
//! KBA answers and enrolment facts, master keys, admin keys, SCP03 keys and cryptogram keys;
//! the API keys the registrations issued are read from their answers. Binary keys are looked
//! for as raw bytes, hex (either case), base64 and base64url.
//!
//! What the protocol hands a party in the clear on purpose is allowed there and only there
//! (the `Exemption`s, each with its section of docs/protocol.md), and each exemption must be
//! seen at least once, so that none of them is dead weight and the scan is known to find what
//! it looks for. The captured request bodies are not scanned as leaks (a verify request carries
//! its code), but they must contain the codes and PANs: the same check that the needles match
//! what really travelled.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::print_stdout
)]

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use serde_json::Value;

/// Text secrets shorter than this are not searched as substrings: a KBA answer such as `2`,
/// `SMS` or `1984` occurs by chance in any database page or JSON body. Every PAN, code, key
/// and longer answer is.
const MIN_TEXT: usize = 5;

/// One needle: a secret in one of its encodings.
#[derive(Debug, Clone)]
struct Needle {
    kind: String,
    form: &'static str,
    bytes: Vec<u8>,
    /// The secret's text, for the exemptions and the report (never printed for keys).
    value: String,
}

/// One place scanned.
struct Haystack {
    name: String,
    /// The URL of a captured response; `None` for logs and files.
    url: Option<String>,
    bytes: Vec<u8>,
}

/// The deliberate exceptions: a secret a party is sent in the clear by design.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Exemption {
    /// A registration's answer carries the API key it issued, once, to its caller
    /// (docs/protocol.md §2.3, §2.4, §1.4; the TSM roles' `ota_key` and `api_key`, §11.2, §11.3).
    IssuedKey,
    /// A network's approved authorisation answer carries the funding PAN, to the network only
    /// (docs/protocol.md §16.3).
    FundingPanToNetwork,
    /// A KBA question shows its options, the right answer among them (docs/protocol.md §8.6);
    /// the answer step shows the next question.
    KbaOptions,
}

fn demo(data: &Path, capture: &Path) -> (Vec<u8>, Vec<u8>) {
    let out = Command::new(env!("CARGO_BIN_EXE_provisio"))
        .args(["demo", "--json", "--data-dir"])
        .arg(data)
        .env("RUST_LOG", "debug")
        .env("PROVISIO_CAPTURE_DIR", capture)
        .output()
        .expect("the provisio binary runs");
    assert!(
        out.status.success(),
        "demo failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["ok"], true, "every flow as expected");
    (out.stdout, out.stderr)
}

/// The capture's index: sequence number to (kind, status, URL).
fn index(capture: &Path) -> BTreeMap<String, (String, u16, String)> {
    let text =
        std::fs::read_to_string(capture.join("index.txt")).expect("the capture has an index");
    text.lines()
        .map(|l| {
            let f: Vec<&str> = l.splitn(5, ' ').collect();
            assert_eq!(f.len(), 5, "index line {l}");
            (
                f[0].to_owned(),
                (f[1].to_owned(), f[2].parse().unwrap(), f[4].to_owned()),
            )
        })
        .collect()
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files(&path, out);
        } else {
            out.push(path);
        }
    }
}

fn needles_of(kind: &str, encoding: &str, value: &str) -> Vec<Needle> {
    let needle = |form, bytes: Vec<u8>| Needle {
        kind: kind.to_owned(),
        form,
        bytes,
        value: value.to_owned(),
    };
    let key_forms = |raw: Vec<u8>| {
        vec![
            needle("hex", hex::encode(&raw).into_bytes()),
            needle("HEX", hex::encode_upper(&raw).into_bytes()),
            needle("base64", STANDARD_NO_PAD.encode(&raw).into_bytes()),
            needle("base64url", URL_SAFE_NO_PAD.encode(&raw).into_bytes()),
            needle("raw", raw),
        ]
    };
    match encoding {
        "hex" => key_forms(hex::decode(value).unwrap()),
        // A cryptogram key as the access data carries it: base64url text (§3.6).
        "text" if kind == "cryptogram_key" => {
            let raw = URL_SAFE_NO_PAD
                .decode(value)
                .or_else(|_| URL_SAFE.decode(value))
                .or_else(|_| STANDARD.decode(value))
                .unwrap();
            key_forms(raw)
        }
        "text" if value.len() >= MIN_TEXT => vec![needle("text", value.as_bytes().to_vec())],
        "text" => Vec::new(),
        other => panic!("unknown encoding {other}"),
    }
}

/// Every needle's first four bytes, to find them all in one pass over a haystack (a search
/// per needle would read each database file hundreds of times).
struct Finder<'a> {
    needles: &'a [Needle],
    by_prefix: HashMap<[u8; 4], Vec<usize>>,
}

impl<'a> Finder<'a> {
    fn new(needles: &'a [Needle]) -> Self {
        let mut by_prefix: HashMap<[u8; 4], Vec<usize>> = HashMap::new();
        for (i, n) in needles.iter().enumerate() {
            let prefix: [u8; 4] = n.bytes[..4].try_into().unwrap();
            by_prefix.entry(prefix).or_default().push(i);
        }
        Self { needles, by_prefix }
    }

    /// The needles found in `hay`, each once. A needle of digits only (a code, a PAN) counts
    /// only where it is not part of a longer word: a six-digit code inside a timestamp or an
    /// id is not that code.
    fn found(&self, hay: &[u8]) -> Vec<&'a Needle> {
        let mut hit = vec![false; self.needles.len()];
        for i in 0..hay.len().saturating_sub(3) {
            let prefix: [u8; 4] = hay[i..i + 4].try_into().unwrap();
            let Some(candidates) = self.by_prefix.get(&prefix) else {
                continue;
            };
            for &c in candidates {
                if !hit[c] && at(hay, i, &self.needles[c].bytes) {
                    hit[c] = true;
                }
            }
        }
        self.needles
            .iter()
            .zip(hit)
            .filter_map(|(n, h)| h.then_some(n))
            .collect()
    }
}

fn at(hay: &[u8], i: usize, needle: &[u8]) -> bool {
    if hay.get(i..i + needle.len()) != Some(needle) {
        return false;
    }
    let word = |b: Option<&u8>| b.is_some_and(u8::is_ascii_alphanumeric);
    !needle.iter().all(u8::is_ascii_digit)
        || (!word(i.checked_sub(1).and_then(|j| hay.get(j))) && !word(hay.get(i + needle.len())))
}

/// Luhn-valid runs of 13 to 19 ASCII digits not inside a longer word or a decimal number (a
/// digit run that is part of a hex or base64 string, or a fraction, is not a card number).
fn luhn_numbers(hay: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < hay.len() {
        if !hay[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        while i < hay.len() && hay[i].is_ascii_digit() {
            i += 1;
        }
        let before = start.checked_sub(1).map(|j| hay[j]);
        let after = hay.get(i).copied();
        let word = |b: Option<u8>| b.is_some_and(|b| b.is_ascii_alphanumeric());
        // The other half of a decimal number (a duration such as 79.68818900000001).
        let decimal = (before == Some(b'.')
            && start >= 2
            && hay.get(start - 2).is_some_and(u8::is_ascii_digit))
            || (after == Some(b'.') && hay.get(i + 1).is_some_and(u8::is_ascii_digit));
        let run = &hay[start..i];
        if (13..=19).contains(&run.len()) && !word(before) && !word(after) && !decimal && luhn(run)
        {
            out.push(String::from_utf8(run.to_vec()).unwrap());
        }
    }
    out
}

fn luhn(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| {
            let d = u32::from(d - b'0');
            if i % 2 == 1 {
                if d * 2 > 9 { d * 2 - 9 } else { d * 2 }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// The registration routes whose answers carry a new key (§2.3, §2.4, §11.2, §11.3, the
/// SP-TSM's callers).
fn is_registration(url: &str) -> bool {
    [
        "/v1/admin/issuers",
        "/v1/admin/token-requestors",
        "/v1/admin/networks",
        "/v1/sei/admin/elements",
        "/v1/sei/admin/service-providers",
        "/v1/sp/admin/callers",
    ]
    .iter()
    .any(|r| url.ends_with(r))
}

/// Whether `needle` found in `hay` is one of the protocol's deliberate exceptions.
fn exemption(needle: &Needle, hay: &Haystack, issued: &[(String, String)]) -> Option<Exemption> {
    let url = hay.url.as_deref()?;
    let json: Value = serde_json::from_slice(&hay.bytes).ok()?;
    match needle.kind.as_str() {
        "api_key"
            if is_registration(url)
                && issued
                    .iter()
                    .any(|(name, key)| name == &hay.name && key == &needle.value) =>
        {
            Some(Exemption::IssuedKey)
        }
        "pan"
            if url.ends_with("/v1/network/authorizations")
                && json["decision"] == "APPROVED"
                && json["pan"] == needle.value.as_str() =>
        {
            Some(Exemption::FundingPanToNetwork)
        }
        "kba_answer" if url.ends_with("/kba/question") || url.ends_with("/kba/answer") => {
            let shown = json["question"]["options"]
                .as_array()
                .is_some_and(|o| o.iter().any(|o| o["text"] == needle.value.as_str()));
            shown.then_some(Exemption::KbaOptions)
        }
        _ => None,
    }
}

#[test]
fn a_full_demo_run_leaves_no_secret_in_logs_files_or_answers() {
    let data = tempfile::tempdir().unwrap();
    let capture = tempfile::tempdir().unwrap();
    let (stdout, stderr) = demo(data.path(), capture.path());
    let index = index(capture.path());

    // The secrets the demo used, and the keys its registrations issued.
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(capture.path().join("secrets.json")).unwrap())
            .unwrap();
    let mut secrets: Vec<(String, String, String)> = manifest["secrets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["kind"].as_str().unwrap().to_owned(),
                s["encoding"].as_str().unwrap().to_owned(),
                s["value"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let mut responses = Vec::new();
    let mut requests = Vec::new();
    for (seq, (kind, status, url)) in &index {
        let path = capture.path().join(format!("{kind}s/{seq}.body"));
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let hay = Haystack {
            name: format!("response {seq} ({status} {url})"),
            url: Some(url.clone()),
            bytes,
        };
        if kind == "response" {
            responses.push(hay);
        } else {
            requests.push(hay);
        }
    }
    let mut issued = Vec::new();
    for r in &responses {
        let Some(url) = r.url.as_deref() else {
            continue;
        };
        if !is_registration(url) {
            continue;
        }
        let json: Value = serde_json::from_slice(&r.bytes).unwrap_or(Value::Null);
        for member in ["api_key", "ota_key"] {
            if let Some(key) = json[member].as_str() {
                issued.push((r.name.clone(), key.to_owned()));
                secrets.push(("api_key".into(), "text".into(), key.to_owned()));
            }
        }
    }
    secrets.sort();
    secrets.dedup();
    let mut per_kind: BTreeMap<&str, usize> = BTreeMap::new();
    for (kind, _, _) in &secrets {
        *per_kind.entry(kind.as_str()).or_default() += 1;
    }
    // A broken capture or manifest must not pass as "nothing found".
    for (kind, at_least) in [
        ("pan", 20),
        ("token_pan", 5),
        ("otp", 3),
        ("kba_answer", 5),
        ("kba_fact", 3),
        ("master_key", 3),
        ("api_key", 8),
        ("scp03_key", 3),
        ("cryptogram_key", 2),
    ] {
        let n = per_kind.get(kind).copied().unwrap_or(0);
        assert!(
            n >= at_least,
            "{n} {kind} secrets in the manifest, expected {at_least} or more"
        );
    }
    assert!(
        responses.len() >= 150,
        "only {} responses captured",
        responses.len()
    );
    for route in [
        "/v1/push-provisioning",
        "/v1/network/authorizations",
        "/kba/question",
        "/step-up/verify",
        "/v1/tokens/",
        "/v1/sei/ota/sessions",
    ] {
        assert!(
            responses
                .iter()
                .any(|r| r.url.as_deref().is_some_and(|u| u.contains(route))),
            "no response of {route} captured"
        );
    }
    let needles: Vec<Needle> = secrets
        .iter()
        .flat_map(|(kind, encoding, value)| needles_of(kind, encoding, value))
        .collect();
    let known_pans: Vec<&str> = secrets
        .iter()
        .filter(|(k, _, _)| k == "pan" || k == "token_pan")
        .map(|(_, _, v)| v.as_str())
        .collect();

    // The haystacks: output and logs, the data directory's files, the responses.
    let mut hays = vec![
        Haystack {
            name: "demo output".into(),
            url: None,
            bytes: stdout,
        },
        Haystack {
            name: "demo logs (debug)".into(),
            url: None,
            bytes: stderr,
        },
    ];
    assert!(
        String::from_utf8_lossy(&hays[1].bytes).contains("provisioning committed"),
        "the debug logs were captured"
    );
    let mut data_files = Vec::new();
    files(data.path(), &mut data_files);
    let db_files = data_files.len();
    assert!(
        data_files
            .iter()
            .filter(|p| p.extension().is_some_and(|e| e == "db"))
            .count()
            >= 3,
        "the three databases are in the data directory: {data_files:?}"
    );
    for path in data_files {
        hays.push(Haystack {
            name: path.display().to_string(),
            url: None,
            bytes: std::fs::read(&path).unwrap(),
        });
    }
    let n_responses = responses.len();
    hays.extend(responses);

    let mut findings = Vec::new();
    let mut exempted: BTreeMap<Exemption, usize> = BTreeMap::new();
    let finder = Finder::new(&needles);
    for hay in &hays {
        for n in finder.found(&hay.bytes) {
            match exemption(n, hay, &issued) {
                Some(e) => *exempted.entry(e).or_default() += 1,
                None => findings.push(format!("{} ({}) in {}", n.kind, n.form, hay.name)),
            }
        }
        for number in luhn_numbers(&hay.bytes) {
            let pan = Needle {
                kind: "pan".into(),
                form: "text",
                bytes: number.clone().into_bytes(),
                value: number.clone(),
            };
            if exemption(&pan, hay, &issued).is_none() {
                let what = if known_pans.contains(&number.as_str()) {
                    "a known PAN or token PAN"
                } else {
                    "a Luhn-valid number"
                };
                findings.push(format!(
                    "{what} ({}******{}) in {}",
                    &number[..6],
                    &number[number.len() - 4..],
                    hay.name
                ));
            }
        }
    }

    // The needles match what travelled: the requests carry the codes, PANs and keys the
    // manifest names.
    let mut in_requests: BTreeMap<&str, usize> = BTreeMap::new();
    for r in &requests {
        for n in finder.found(&r.bytes) {
            *in_requests.entry(n.kind.as_str()).or_default() += 1;
        }
    }
    // (No request of the demo's clients carries a PAN in the clear: the pushes and cards
    // entered travel as JWEs. The PANs are seen in the network's answers, `FundingPanToNetwork`.)
    for kind in ["otp", "scp03_key"] {
        assert!(
            in_requests.get(kind).copied().unwrap_or(0) > 0,
            "no {kind} found in the requests that carried them: the scan cannot see it"
        );
    }
    for e in [
        Exemption::IssuedKey,
        Exemption::FundingPanToNetwork,
        Exemption::KbaOptions,
    ] {
        assert!(
            exempted.contains_key(&e),
            "{e:?} never seen: the exemption or the scan is wrong"
        );
    }

    let bytes: usize = hays.iter().map(|h| h.bytes.len()).sum();
    println!(
        "secret scan: {} places scanned ({} data files, {} responses, output and logs), {} bytes; {} secrets checked in {} forms ({:?}); {} requests cross-checked; exempted by the protocol {:?}; findings {}",
        hays.len(),
        db_files,
        n_responses,
        bytes,
        secrets.len(),
        needles.len(),
        per_kind,
        requests.len(),
        exempted,
        findings.len()
    );
    assert!(
        findings.is_empty(),
        "{} secrets found:\n{}",
        findings.len(),
        findings.join("\n")
    );
}

#[test]
fn the_scan_finds_card_numbers_and_codes_and_not_digits_inside_words() {
    let text =
        b"pan 4000123456789017, in hex ab4000123456789017cd, short 40001234567, 4000123456789018, ms 79.4000123456789017, 4000123456789017.5";
    assert_eq!(luhn_numbers(text), ["4000123456789017"]);
    let needles = [
        needles_of("otp", "text", "123456"),
        needles_of("api_key", "text", "pvk_secret"),
    ]
    .concat();
    let finder = Finder::new(&needles);
    assert_eq!(finder.found(b"code: 123456.").len(), 1);
    assert!(finder.found(b"ts 1123456 or 1234567").is_empty());
    assert_eq!(finder.found(b"xpvk_secretx 123456").len(), 2);
    assert!(luhn(b"79927398713") && !luhn(b"79927398710"));
}
