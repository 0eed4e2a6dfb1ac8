//! Paying with the token (docs/protocol.md §16): a phone without secure element pays at a
//! simulated terminal with a cryptogram its wallet core makes; the network de-tokenises and
//! gets the funding card; a replayed cryptogram, a changed amount and a suspended token are
//! declined with their reasons, and so is the suspended token's cryptogram after the resume;
//! after the resume, and after a restart of the wallet core from its stored state, the phone
//! pays again.

use std::path::Path;

use anyhow::{Context, ensure};
use provisio_apps::{Payment, PaymentState, WalletApp};
use provisio_client::ProvisioClient;
use provisio_emv::Transaction;
use provisio_tsp::payment_wire::{
    AuthorizationAnswer, AuthorizationDecision, AuthorizationRequest, Channel, DeclineReason,
};
use provisio_tsp::wire::{Decision, WalletRiskInfo};

use super::Demo;

/// A terminal's transaction: amount in minor units, currency, country, date, unpredictable
/// number.
pub(super) struct Terminal {
    pub(super) amount_minor: u64,
    pub(super) unpredictable_number: &'static str,
}

const CURRENCY: &str = "978";
const COUNTRY: &str = "250";
const DATE: &str = "261203";

impl Terminal {
    pub(super) fn transaction(&self) -> anyhow::Result<Transaction> {
        Ok(Transaction::parse(
            self.amount_minor,
            CURRENCY,
            COUNTRY,
            DATE,
            self.unpredictable_number,
        )?)
    }

    /// What the terminal forwards to the network: its data and the device's cryptogram.
    pub(super) fn request(
        &self,
        token_pan: &str,
        exp: (u8, u16),
        atc: u16,
        cryptogram: &str,
    ) -> AuthorizationRequest {
        AuthorizationRequest {
            token_pan: token_pan.to_owned(),
            exp_month: exp.0,
            exp_year: exp.1,
            amount_minor: self.amount_minor,
            currency: CURRENCY.into(),
            country: COUNTRY.into(),
            transaction_date: DATE.into(),
            unpredictable_number: self.unpredictable_number.into(),
            atc: u32::from(atc),
            cryptogram: cryptogram.to_owned(),
            channel: Channel::Contactless,
        }
    }
}

/// The network authorises; the answer is described as a step.
pub(super) async fn authorize(
    network: &ProvisioClient,
    req: &AuthorizationRequest,
    expect: Option<DeclineReason>,
    steps: &mut Vec<String>,
) -> anyhow::Result<AuthorizationAnswer> {
    let a = network.authorize(req).await?;
    ensure!(
        a.reason == expect,
        "expected {expect:?}, the network got {:?} {:?}",
        a.decision,
        a.reason
    );
    let seen = match (a.decision, a.reason) {
        (AuthorizationDecision::Approved, _) => format!(
            "APPROVED, de-tokenised to the funding card ending {} (exp {:02}/{}), authorisation {}",
            a.pan
                .as_deref()
                .map_or("?", |p| p.get(p.len().saturating_sub(4)..).unwrap_or("?")),
            a.exp_month.unwrap_or_default(),
            a.exp_year.unwrap_or_default(),
            a.authorization_id
        ),
        (_, reason) => format!(
            "DECLINED {}",
            reason.map_or("(no reason)", DeclineReason::as_str)
        ),
    };
    steps.push(format!(
        "the network asks POST /v1/network/authorizations ({} {} at ATC {}): {seen}",
        req.amount_minor, req.currency, req.atc
    ));
    Ok(a)
}

/// Stores the wallet's payment state as the app would (here a JSON file, written, synced and
/// renamed into place before the cryptogram is released).
fn persist(path: &Path) -> impl FnOnce(&PaymentState) -> anyhow::Result<()> + '_ {
    move |state| {
        let bytes = serde_json::to_vec(state)?;
        let tmp = path.with_extension("tmp");
        {
            use std::io::Write;
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&bytes)?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, path)?;
        Ok(())
    }
}

fn pay(
    wallet: &mut WalletApp,
    token_ref_id: &str,
    terminal: &Terminal,
    state: &Path,
) -> anyhow::Result<Payment> {
    let tx = terminal.transaction()?;
    Ok(wallet.pay(token_ref_id, &tx, persist(state))?)
}

fn request_of(terminal: &Terminal, p: &Payment) -> AuthorizationRequest {
    terminal.request(
        p.token_pan.expose(),
        (p.exp_month, p.exp_year),
        p.atc,
        &p.cryptogram,
    )
}

pub(super) async fn pay_without_secure_element(d: &Demo) -> anyhow::Result<Vec<String>> {
    let mut steps = Vec::new();
    let mut phone = d.phone(920)?;
    let r = d
        .push(
            &phone,
            Some(WalletRiskInfo::level(10, false)),
            Decision::Approved,
            &mut steps,
        )
        .await?;
    d.install_approved(&mut phone, &r, &mut steps).await?;
    let token = r.token.as_ref().context("no token")?.token_ref_id.clone();
    let dir = tempfile::tempdir()?;
    let state = dir.path().join("payment-state.json");

    let coffee = Terminal {
        amount_minor: 450,
        unpredictable_number: "1A2B3C4D",
    };
    let p = pay(&mut phone.wallet, &token, &coffee, &state)?;
    steps.push(format!(
        "at a terminal (4.50 EUR, unpredictable number {}) the wallet core stores ATC {} and then makes its ARQC {} (EMV session key, AES-CMAC)",
        coffee.unpredictable_number, p.atc, p.cryptogram
    ));
    let first = request_of(&coffee, &p);
    let a = authorize(&d.network_api, &first, None, &mut steps).await?;
    ensure!(
        a.pan.as_deref() == Some(phone.card.pan.expose())
            && a.token_ref_id.as_deref() == Some(token.as_str()),
        "de-tokenised to another card"
    );

    authorize(
        &d.network_api,
        &first,
        Some(DeclineReason::AtcReplayed),
        &mut steps,
    )
    .await?;
    steps.push(
        "the same cryptogram sent again (a replay) is declined: its ATC was approved once".into(),
    );
    let mut changed = first.clone();
    changed.amount_minor = 45_000;
    authorize(
        &d.network_api,
        &changed,
        Some(DeclineReason::CryptogramInvalid),
        &mut steps,
    )
    .await?;
    steps.push("the amount changed to 450.00 EUR under the same cryptogram is declined: the ARQC covers the amount".into());

    d.tokens.wallet.change(&token, "suspend", "LOST").await?;
    let lunch = Terminal {
        amount_minor: 1290,
        unpredictable_number: "5E6F7081",
    };
    let p = pay(&mut phone.wallet, &token, &lunch, &state)?;
    steps.push(format!(
        "the wallet suspends the token (LOST); the phone pays 12.90 EUR with ATC {}",
        p.atc
    ));
    let while_suspended = request_of(&lunch, &p);
    authorize(
        &d.network_api,
        &while_suspended,
        Some(DeclineReason::TokenNotActive),
        &mut steps,
    )
    .await?;

    d.tokens.wallet.change(&token, "resume", "FOUND").await?;
    authorize(
        &d.network_api,
        &while_suspended,
        Some(DeclineReason::AtcReplayed),
        &mut steps,
    )
    .await?;
    steps.push("the token is resumed (FOUND); the cryptogram made while it was suspended, sent again, is declined: its ATC was used".into());
    // The app restarts: a fresh wallet core reads the stored state back.
    let stored: PaymentState = serde_json::from_slice(&std::fs::read(&state)?)?;
    let mut restarted = WalletApp::new(&d.crypto, super::DEMO_TRID, &phone.user, &phone.device)?;
    restarted.restore_payment_state(stored);
    let p = pay(&mut restarted, &token, &lunch, &state)?;
    ensure!(
        p.atc == 3,
        "the restarted wallet core reused an ATC: {}",
        p.atc
    );
    steps.push(format!(
        "the wallet app restarts from its stored state and pays with ATC {} (never one used before)",
        p.atc
    ));
    authorize(&d.network_api, &request_of(&lunch, &p), None, &mut steps).await?;
    let view = d.tokens.wallet.token(&token).await?;
    steps.push(format!(
        "the token's view counts its authorisations: {} approved, {} declined",
        view.authorizations.approved, view.authorizations.declined
    ));
    ensure!(
        (view.authorizations.approved, view.authorizations.declined) == (2, 4),
        "the token's view counts {:?}",
        view.authorizations
    );
    Ok(steps)
}
