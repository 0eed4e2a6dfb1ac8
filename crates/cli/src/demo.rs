//! `provisio demo`: a server on loopback, a simulated issuer app and wallet app, every flow
//! over real HTTP, and the attacks each refused with its code.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use provisio_apps::{CardDetails, IssuerApp, WalletApp};
use provisio_client::{ClientError, ProvisioClient};
use provisio_crypto::{AwsLcProvider, CryptoProvider, SecretBytes};
use provisio_jose::{Jwk, JwkSet};
use provisio_server::{bootstrap, new_api_key, Clock, SystemClock};
use provisio_tsp::wire::{PushProvisioningRequest, RequestClaims, WalletRiskInfo};
use provisio_tsp::{jwk_thumbprint, TspConfig};
use provisio_types::Pan;
use serde::Serialize;

use crate::serve::open_store;

/// The demo card: a test PAN, never a real one.
pub(crate) const DEMO_PAN: &str = "4000123456789017";
const DEMO_ISSUER: &str = "demo-bank";
const DEMO_TRID: &str = "40010030273";

/// `provisio demo` options.
#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// Print one JSON object instead of the transcript.
    #[arg(long)]
    json: bool,
    /// Database URL; default: SQLite in a temporary directory.
    #[arg(long)]
    store: Option<String>,
    /// Keep the demo's data in this directory instead of a temporary one.
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

#[derive(Debug, Serialize)]
struct FlowReport {
    name: String,
    ok: bool,
    steps: Vec<String>,
    ms: f64,
}

#[derive(Debug, Serialize)]
struct Report {
    ok: bool,
    flows: Vec<FlowReport>,
}

/// The parties of the demo and what they share.
struct Demo {
    crypto: AwsLcProvider,
    wallet_api: ProvisioClient,
    issuer_app: IssuerApp,
    impostor_app: IssuerApp,
    wallet: WalletApp,
    jwks: JwkSet,
    card: CardDetails,
}

pub(crate) async fn run(args: DemoArgs) -> anyhow::Result<ExitCode> {
    crate::logging::init("warn", false);
    let temp = tempfile::tempdir()?;
    let data_dir = args
        .data_dir
        .clone()
        .unwrap_or_else(|| temp.path().to_path_buf());
    std::fs::create_dir_all(&data_dir)?;
    let crypto = AwsLcProvider::new();
    let url = args
        .store
        .clone()
        .unwrap_or_else(|| crate::settings::database_url(None, &data_dir));
    let store = open_store(&url).await?;
    let mut master = vec![0u8; 32];
    crypto
        .fill_random(&mut master)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let admin_key = new_api_key(&crypto).map_err(|e| anyhow::anyhow!("{e}"))?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let state = bootstrap(
        store,
        &SecretBytes::new(master),
        &admin_key,
        TspConfig::default(),
        clock,
    )
    .await?;
    let tsp_id = state.config.tsp_id.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let server =
        tokio::spawn(async move { axum::serve(listener, provisio_server::router(state)).await });

    let mut flows = Vec::new();
    let demo = setup(&crypto, &base, &admin_key, &tsp_id)
        .await
        .context("registering the demo participants")?;
    flows.push(run_flow("push provisioning", happy_path(&demo)).await);
    flows.push(
        run_flow(
            "non-override wallet risk in the step-up band",
            step_up(&demo),
        )
        .await,
    );
    flows.push(run_flow("attack: replayed request", replayed(&demo)).await);
    flows.push(run_flow("attack: stale timestamp", stale(&demo)).await);
    flows.push(run_flow("attack: tampered JWE", tampered(&demo)).await);
    flows.push(
        run_flow(
            "attack: request data bound to another device",
            other_device(&demo),
        )
        .await,
    );
    flows.push(run_flow("attack: unknown issuer", unknown_issuer(&demo)).await);
    server.abort();

    let report = Report {
        ok: flows.iter().all(|f| f.ok),
        flows,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_transcript(&report, &base);
    }
    Ok(if report.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

async fn setup(
    crypto: &AwsLcProvider,
    base: &str,
    admin_key: &str,
    tsp_id: &str,
) -> anyhow::Result<Demo> {
    let admin = ProvisioClient::new(base, admin_key);
    let issuer_key = crypto.generate_ec_key()?;
    let kid = jwk_thumbprint(crypto, issuer_key.public_key());
    let mut jwk = Jwk::from_public_key(issuer_key.public_key());
    jwk.kid = Some(kid.clone());
    admin
        .register_issuer(DEMO_ISSUER, "Demo Bank", &jwk)
        .await?;
    let wallet_key = admin
        .register_token_requestor(DEMO_TRID, "Demo Wallet", "external")
        .await?;
    let impostor_key = crypto.generate_ec_key()?;
    Ok(Demo {
        crypto: AwsLcProvider::new(),
        wallet_api: admin.with_key(&wallet_key),
        issuer_app: IssuerApp::new(DEMO_ISSUER, &kid, issuer_key, tsp_id),
        impostor_app: IssuerApp::new("not-a-registered-bank", &kid, impostor_key, tsp_id),
        wallet: WalletApp::new(crypto, DEMO_TRID, "wallet-user-1", "device-1")?,
        jwks: admin.jwks().await?,
        card: CardDetails {
            pan: Pan::parse(DEMO_PAN)?,
            exp_month: 12,
            exp_year: 2030,
            name: "A. Cardholder".into(),
            contact: None,
        },
    })
}

impl Demo {
    /// Steps 1 to 4 on the phone, with `tweak` applied to the claims, then the step 5 body.
    fn request(
        &self,
        issuer: &IssuerApp,
        steps: &mut Vec<String>,
        tweak: impl FnOnce(&mut RequestClaims),
        wallet_risk: Option<WalletRiskInfo>,
    ) -> anyhow::Result<PushProvisioningRequest> {
        let start = issuer.start_session(&self.crypto)?;
        steps.push(format!(
            "issuer app {} opens the wallet with a fresh session id",
            start.issuer_id
        ));
        let answer = self.wallet.answer(&start);
        steps.push(format!(
            "wallet answers: user {}, device {}, token requestor {}",
            answer.wallet_user_id, answer.device_id, answer.token_requestor_id
        ));
        let mut claims = issuer.claims(&self.crypto, &answer, &self.card, SystemClock.now())?;
        tweak(&mut claims);
        let jwe = issuer.request_data(&self.crypto, &claims, &self.jwks)?;
        steps.push(format!("issuer app signs (ES256) and encrypts (ECDH-ES+A256KW/A256GCM) the request data for card {:?}: {} bytes", self.card.pan, jwe.len()));
        Ok(self.wallet.push_request(&answer, jwe, wallet_risk))
    }

    async fn expect_refusal(
        &self,
        req: &PushProvisioningRequest,
        code: &str,
        steps: &mut Vec<String>,
    ) -> anyhow::Result<()> {
        match self.wallet_api.push_provisioning(req, None).await {
            Err(ClientError::Problem(p)) if p.code == code => {
                steps.push(format!(
                    "token service refuses: {} {} ({})",
                    p.status, p.code, p.detail
                ));
                Ok(())
            }
            Err(e) => anyhow::bail!("expected {code}, got {e}"),
            Ok(r) => anyhow::bail!("expected {code}, got {:?}", r.decision),
        }
    }
}

async fn run_flow(
    name: &str,
    flow: impl std::future::Future<Output = anyhow::Result<Vec<String>>>,
) -> FlowReport {
    let started = Instant::now();
    let (ok, steps) = match flow.await {
        Ok(steps) => (true, steps),
        Err(e) => (false, vec![format!("FAILED: {e:#}")]),
    };
    FlowReport {
        name: name.into(),
        ok,
        steps,
        ms: started.elapsed().as_secs_f64() * 1000.0,
    }
}

async fn happy_path(d: &Demo) -> anyhow::Result<Vec<String>> {
    let mut steps = Vec::new();
    let req = d.request(
        &d.issuer_app,
        &mut steps,
        |_| {},
        Some(WalletRiskInfo::level(10, false)),
    )?;
    let r = d.wallet_api.push_provisioning(&req, None).await?;
    let token = r
        .token
        .as_ref()
        .context("approved answer without a token")?;
    anyhow::ensure!(
        r.decision == provisio_tsp::wire::Decision::Approved,
        "decision {:?}",
        r.decision
    );
    steps.push(format!(
        "token service approves (wallet level {}, service level {}, final {}): token {} ****{} exp {:02}/{} {}",
        r.risk.wallet_level.map_or_else(|| "none".into(), |l| l.to_string()), r.risk.tsp_level, r.risk.final_level, token.token_ref_id, token.last4, token.exp_month, token.exp_year, token.status
    ));
    let access = d.wallet.open_access_data(
        &d.crypto,
        r.access_data.as_deref().context("no access data")?,
    )?;
    let token_pan = provisio_types::TokenPan::parse(&access.token_pan)?;
    anyhow::ensure!(
        access.token_ref_id == token.token_ref_id && token_pan.last4() == token.last4,
        "access data does not match the token"
    );
    anyhow::ensure!(
        token_pan.expose() != DEMO_PAN,
        "token PAN equals the funding PAN"
    );
    steps.push(format!("device opens the access data with its binding key: token {token_pan:?}, {} key for cryptograms", access.cryptogram_alg));
    Ok(steps)
}

async fn step_up(d: &Demo) -> anyhow::Result<Vec<String>> {
    let mut steps = Vec::new();
    let risk = WalletRiskInfo::level(55, true);
    let req = d.request(&d.issuer_app, &mut steps, |_| {}, Some(risk))?;
    let r = d.wallet_api.push_provisioning(&req, None).await?;
    anyhow::ensure!(
        r.decision == provisio_tsp::wire::Decision::StepUpRequired,
        "decision {:?}",
        r.decision
    );
    anyhow::ensure!(
        r.access_data.is_none(),
        "access data released before step-up"
    );
    let token = r.token.as_ref().context("no token")?;
    steps.push(format!(
        "wallet level 55 is non-override, so it is a floor over the service's {}: final {} ({}), token {} stays {} and no access data is released",
        r.risk.tsp_level, r.risk.final_level, r.risk.merge_rule, token.token_ref_id, token.status
    ));
    Ok(steps)
}

async fn replayed(d: &Demo) -> anyhow::Result<Vec<String>> {
    let mut steps = Vec::new();
    let req = d.request(&d.issuer_app, &mut steps, |_| {}, None)?;
    let first = d.wallet_api.push_provisioning(&req, None).await?;
    steps.push(format!("first submission: {:?}", first.decision));
    steps.push("an attacker who captured the request submits it again".into());
    d.expect_refusal(&req, "replayed_request", &mut steps)
        .await?;
    Ok(steps)
}

async fn stale(d: &Demo) -> anyhow::Result<Vec<String>> {
    let mut steps = Vec::new();
    let req = d.request(&d.issuer_app, &mut steps, |c| c.iat -= 3600, None)?;
    steps.push("the request data was made an hour ago".into());
    d.expect_refusal(&req, "stale_timestamp", &mut steps)
        .await?;
    Ok(steps)
}

async fn tampered(d: &Demo) -> anyhow::Result<Vec<String>> {
    let mut steps = Vec::new();
    let mut req = d.request(&d.issuer_app, &mut steps, |_| {}, None)?;
    let mut bytes = std::mem::take(&mut req.encrypted_payload).into_bytes();
    let i = bytes.len().saturating_sub(30);
    if let Some(b) = bytes.get_mut(i) {
        *b = if *b == b'A' { b'B' } else { b'A' };
    }
    req.encrypted_payload = String::from_utf8(bytes)?;
    steps.push("one character of the JWE ciphertext is changed in transit".into());
    d.expect_refusal(&req, "payload_undecryptable", &mut steps)
        .await?;
    Ok(steps)
}

async fn other_device(d: &Demo) -> anyhow::Result<Vec<String>> {
    let mut steps = Vec::new();
    let req = d.request(
        &d.issuer_app,
        &mut steps,
        |c| c.did = "device-of-the-attacker".into(),
        None,
    )?;
    steps.push("the signed request data names another device than the one asking".into());
    d.expect_refusal(&req, "binding_mismatch", &mut steps)
        .await?;
    Ok(steps)
}

async fn unknown_issuer(d: &Demo) -> anyhow::Result<Vec<String>> {
    let mut steps = Vec::new();
    let req = d.request(&d.impostor_app, &mut steps, |_| {}, None)?;
    steps.push("an app of an unregistered issuer makes the request data".into());
    d.expect_refusal(&req, "unknown_issuer", &mut steps).await?;
    Ok(steps)
}

fn print_transcript(report: &Report, base: &str) {
    println!("Provisio demo: token service on {base}, SQLite store\n");
    for flow in &report.flows {
        println!(
            "{} {} ({:.1} ms)",
            if flow.ok { "✔" } else { "✘" },
            flow.name,
            flow.ms
        );
        for step in &flow.steps {
            println!("    {step}");
        }
    }
    let passed = report.flows.iter().filter(|f| f.ok).count();
    println!("\n{passed} of {} flows as expected", report.flows.len());
}
