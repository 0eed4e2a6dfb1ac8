//! The demo's opt-in capture for the secret scan (`crates/cli/tests/secret_scan.rs`, hardening
//! issue 26). With `PROVISIO_CAPTURE_DIR` set, every body the demo's clients send and receive
//! is written there ([`provisio_client::capture`]), and at the end `secrets.json` lists every
//! secret the demo made or used, so the scan knows what to look for:
//!
//! ```json
//! {"secrets": [{"kind": "pan", "encoding": "text", "value": "4000123456789017"},
//!              {"kind": "master_key", "encoding": "hex", "value": "8f1c..."}]}
//! ```
//!
//! `encoding` is `text` (scanned as is) or `hex` (key bytes; the scan also looks for the raw
//! bytes and their base64 forms). Without the variable nothing here does anything.

use std::sync::Mutex;

use serde::Serialize;

/// The variable that turns the capture on.
const CAPTURE_ENV: &str = "PROVISIO_CAPTURE_DIR";

static SECRETS: Mutex<Vec<Secret>> = Mutex::new(Vec::new());

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
struct Secret {
    kind: &'static str,
    encoding: &'static str,
    value: String,
}

#[derive(Serialize)]
struct Manifest<'a> {
    secrets: &'a [Secret],
}

/// Turns the capture on when `PROVISIO_CAPTURE_DIR` is set.
pub(crate) fn start() -> anyhow::Result<()> {
    if let Some(dir) = std::env::var_os(CAPTURE_ENV) {
        provisio_client::capture::enable(std::path::Path::new(&dir))?;
    }
    Ok(())
}

/// Notes a secret in text form (a PAN, a code, an answer, an API key).
pub(crate) fn secret(kind: &'static str, value: &str) {
    note(kind, "text", value.to_owned());
}

/// Notes secret key bytes.
pub(crate) fn secret_bytes(kind: &'static str, value: &[u8]) {
    note(kind, "hex", hex::encode(value));
}

/// Notes what an installed card holds: its token PAN and its cryptogram key.
pub(crate) fn card(card: &provisio_apps::InstalledCard) {
    if !provisio_client::capture::is_enabled() {
        return;
    }
    secret("token_pan", card.token_pan.expose());
    if let Some(key) = &card.cryptogram_key {
        secret_bytes("cryptogram_key", key.export().expose());
    }
}

/// Notes what a hosted user's issuer knows and the user answers with: the KBA answers (the
/// right option texts), the user's name, phone and e-mail.
pub(crate) fn enrolment(e: &provisio_accounts::wire::Enrolment, answers: &[&str]) {
    for a in answers {
        secret("kba_answer", a);
    }
    secret("kba_fact", &e.name);
    secret("kba_fact", &e.phone);
    secret("kba_fact", &e.email);
}

fn note(kind: &'static str, encoding: &'static str, value: String) {
    if !provisio_client::capture::is_enabled() || value.is_empty() {
        return;
    }
    let mut secrets = SECRETS.lock().unwrap_or_else(|e| e.into_inner());
    let s = Secret {
        kind,
        encoding,
        value,
    };
    if !secrets.contains(&s) {
        secrets.push(s);
    }
}

/// Writes `secrets.json` into the capture directory (once the flows ran).
pub(crate) fn finish() -> anyhow::Result<()> {
    let Some(dir) = std::env::var_os(CAPTURE_ENV) else {
        return Ok(());
    };
    let secrets = SECRETS.lock().unwrap_or_else(|e| e.into_inner());
    let path = std::path::Path::new(&dir).join("secrets.json");
    std::fs::write(
        path,
        serde_json::to_vec_pretty(&Manifest { secrets: &secrets })?,
    )?;
    Ok(())
}
