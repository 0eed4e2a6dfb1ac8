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
use provisio_server::{Clock, MemorySink, SystemClock, bootstrap, new_api_key, spawn_delivery};
use provisio_tsp::wire::{
    Decision, OtpSendRequest, OtpVerifyRequest, PushProvisioningRequest, PushProvisioningResponse,
    RequestClaims, ScriptReportRequest, StepUpPassed, WalletRiskInfo,
};
use provisio_tsp::{Contact, Script, TspConfig, jwk_thumbprint};
use provisio_types::{Pan, luhn_check_digit};
use serde::Serialize;

use crate::serve::open_store;

mod accounts;
mod capture;
mod lifecycle;
mod pay;
mod secure_element;
mod tls;
mod wallet_path;

/// The demo card: a test PAN, never a real one.
pub(crate) const DEMO_PAN: &str = "4000123456789017";
const DEMO_ISSUER: &str = "demo-bank";
/// An issuer registered with `push_step_up`: its pushes in the step-up band still step up.
const DEMO_STRICT_ISSUER: &str = "demo-bank-strict";
const DEMO_TRID: &str = "40010030273";
/// A wallet whose accounts Provisio hosts (`wallet_accounts: "hosted"`).
const DEMO_HOSTED_TRID: &str = "40010030299";
/// The demo's payment network.
const DEMO_NETWORK: &str = "demo-network";

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
    admin: ProvisioClient,
    wallet_api: ProvisioClient,
    /// The hosted-account wallet's backend.
    hosted_api: ProvisioClient,
    /// The issuer's backend (enrolments, verification).
    issuer_api: ProvisioClient,
    issuer_app: IssuerApp,
    /// The app of [`DEMO_STRICT_ISSUER`].
    strict_app: IssuerApp,
    impostor_app: IssuerApp,
    jwks: JwkSet,
    /// The SMS and e-mail the phones receive.
    inbox: Arc<MemorySink>,
    /// The token-life calls, with each party's key.
    tokens: lifecycle::TokenApis,
    /// The bank's and the wallet's token event receivers.
    events: lifecycle::Receiver,
    /// The payment network's switch.
    network_api: ProvisioClient,
    /// The demo bank's decisioning endpoint (cards entered in the wallet).
    bank: wallet_path::BankDecisioning,
}

/// One phone: a wallet for one user on one device, and the card the issuer app pushes.
struct Phone {
    wallet: WalletApp,
    /// The wallet provider's backend, as the phone's wallet reaches it.
    api: ProvisioClient,
    card: CardDetails,
    user: String,
    device: String,
}

/// The demo's test PANs: `400012345678`, three digits, the Luhn digit. Phone 901's is
/// [`DEMO_PAN`].
fn demo_pan(n: u32) -> anyhow::Result<Pan> {
    let body = format!("400012345678{n:03}");
    let check = luhn_check_digit(&body).context("demo PAN")?;
    capture::secret("pan", &format!("{body}{check}"));
    Ok(Pan::parse(&format!("{body}{check}"))?)
}

pub(crate) async fn run(args: DemoArgs) -> anyhow::Result<ExitCode> {
    crate::logging::init("warn", false);
    capture::start()?;
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
    capture::secret_bytes("master_key", &master);
    let admin_key = new_api_key(&crypto).map_err(|e| anyhow::anyhow!("{e}"))?;
    capture::secret("api_key", &admin_key);
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    // TLS between the three servers, mutual TLS on both TSMs (tls.rs).
    let tls = tls::DemoTls::create(&data_dir.join("tls"))?;
    let tsp = tls.endpoint("token-service", false).await?;
    let base = tsp.base.clone();
    let state = bootstrap(
        store,
        &SecretBytes::new(master),
        &admin_key,
        TspConfig::default(),
        clock,
    )
    .await?
    .with_public_url(&base)
    .with_outgoing(&tsp.outgoing);
    let tsp_id = state.config.tsp_id.clone();
    let inbox = Arc::new(MemorySink::default());
    let deliverer = spawn_delivery(state.clone(), inbox.clone());
    let server = tsp.spawn(provisio_server::router(state));

    // The carrier's TSM: its own server, database, master key and admin key.
    let (sei_store, sei_master, sei_admin) = role_setup(&crypto, &data_dir, "sei-tsm.db").await?;
    let sei_state =
        provisio_server::SeiState::new(sei_store, sei_master, &sei_admin, Arc::new(SystemClock));
    let sei_end = tls.endpoint("carrier-tsm", true).await?;
    let sei = ProvisioClient::with_http(&sei_end.base, &sei_admin, tls.http.clone());
    // The bank's TSM: its own server, database and keys; registered with the carrier.
    let (sp_store, sp_master, sp_admin) = role_setup(&crypto, &data_dir, "sp-tsm.db").await?;
    let sp_end = tls.endpoint("bank-tsm", true).await?;
    let sp_base = sp_end.base.clone();
    let link = provisio_server::SeiLink {
        base: sei.base().to_owned(),
        api_key: String::new(),
    };
    let sp_state = provisio_server::SpState::open(
        sp_store,
        sp_master,
        &sp_admin,
        Arc::new(SystemClock),
        hex::decode("A000000003")?,
        sp_base.clone(),
        link.clone(),
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e:?}"))?
    .with_outgoing(&sp_end.outgoing);
    let sp_jwk = sp_state.public_jwk();
    let sei_server = sei_end.spawn(provisio_server::sei_router(sei_state));
    tls.refuses_anonymous(sei.base())
        .await
        .context("mutual TLS at the carrier TSM")?;

    let provider = sei
        .sei_add_provider(&provisio_tsm::wire::AddProvider {
            sp_id: "demo-bank-tsm".into(),
            aid_prefix: "A000000003".into(),
            encryption_jwk: sp_jwk.clone(),
        })
        .await?;
    let sp_state = sp_state.with_sei(provisio_server::SeiLink {
        api_key: provider.api_key,
        ..link
    });
    let sp_driver =
        provisio_server::spawn_sp_driver(sp_state.clone(), std::time::Duration::from_millis(20));
    let sp_server = sp_end.spawn(provisio_server::sp_router(sp_state));
    let sp_operator = sei.at(&sp_base, &sp_admin);
    let sp_caller_key = sp_operator
        .sp_add_caller("demo token service")
        .await?
        .api_key;

    let mut flows = Vec::new();
    let demo = setup(&crypto, &tls.http, (&base, &admin_key), &tsp_id, inbox)
        .await
        .context("registering the demo participants")?;
    // The bank's TSM installs its tokens on secure elements; the token service holds the
    // caller key the bank's TSM issued to it.
    demo.admin
        .set_sp_tsm(
            DEMO_ISSUER,
            &provisio_tsp::wire::SpTsmConfig {
                url: sp_base.clone(),
                api_key: Some(sp_caller_key.clone()),
                encryption_jwk: sp_jwk,
                aid_prefix: "A000000003".into(),
            },
        )
        .await
        .context("registering the bank's TSM with the token service")?;
    let tsms = secure_element::Tsms {
        sei: sei.clone(),
        sp: sp_operator.with_key(&sp_caller_key),
    };
    flows.push(
        run_flow(
            "hosted wallet: fresh phone, module, account, KBA (one failed attempt), then push",
            accounts::activate_then_push(&demo),
        )
        .await,
    );
    flows.push(
        run_flow(
            "hosted wallet: three failed attempts lock the account; push refused",
            accounts::locked_refused(&demo),
        )
        .await,
    );
    flows.push(run_flow("push provisioning", green_path(&demo)).await);
    flows.push(
        run_flow(
            "trusted push: wallet level below the service's, approved as authenticated by the issuer's app",
            trusted_push(&demo),
        )
        .await,
    );
    flows.push(
        run_flow(
            "non-override: wallet level below the service's, an issuer that keeps step-up on pushes, step-up by OTP",
            step_up_then_otp(&demo),
        )
        .await,
    );
    flows.push(
        run_flow(
            "non-override: wallet level above the service's, provisioned by script",
            wallet_floor(&demo),
        )
        .await,
    );
    flows.push(
        run_flow(
            "secure element: carrier and bank TSMs over HTTP, OTA relay at SCP03 level 33, key handover, personalisation; the element pays and the network de-tokenises",
            secure_element::install_on_element(&demo, &tsms),
        )
        .await,
    );
    flows.push(run_flow("decline: device on the block list", declined(&demo)).await);
    flows.push(
        run_flow(
            "card entered in the wallet: the bank's decisioning approves",
            wallet_path::approved_by_the_bank(&demo),
        )
        .await,
    );
    flows.push(
        run_flow(
            "card entered in the wallet: the bank requires authentication, its app activates the token",
            wallet_path::activated_by_the_bank_app(&demo),
        )
        .await,
    );
    flows.push(
        run_flow(
            "card entered in the wallet: the bank's call centre activates the token",
            wallet_path::activated_by_the_call_centre(&demo),
        )
        .await,
    );
    flows.push(
        run_flow(
            "card entered in the wallet: the bank declines",
            wallet_path::declined_by_the_bank(&demo),
        )
        .await,
    );
    flows.push(
        run_flow(
            "card entered in the wallet: non-override below the service's, step-up by code to the bank's contact; above it, final",
            wallet_path::non_override_on_the_wallet_path(&demo),
        )
        .await,
    );
    flows.push(run_flow("step-up: OTP lockout", lockout(&demo)).await);
    flows.push(
        run_flow(
            "lost phone: the wallet suspends its token, the bank hears it, the found phone resumes; the wallet may not lift the bank's suspension",
            lifecycle::lost_phone(&demo),
        )
        .await,
    );
    flows.push(
        run_flow(
            "stolen card: the bank suspends the card's tokens, reissues the card, resumes; the tokens are kept",
            lifecycle::stolen_card(&demo),
        )
        .await,
    );
    flows.push(
        run_flow(
            "already in wallet: the same card pushed to the same phone again",
            lifecycle::already_in_wallet(&demo),
        )
        .await,
    );
    flows.push(
        run_flow(
            "pay: the wallet core's cryptogram at a terminal, de-tokenised by the network; a replay, a changed amount and a suspended token declined; paid again after resume and a restart",
            pay::pay_without_secure_element(&demo),
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
    capture::finish()?;
    server.abort();
    sei_server.abort();
    sp_server.abort();
    sp_driver.abort();
    deliverer.abort();

    let report = Report {
        ok: flows.iter().all(|f| f.ok),
        flows,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_transcript(&report, &base, &url);
    }
    Ok(if report.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// A TSM role's own database (in the demo's data directory), master key and admin key.
async fn role_setup(
    crypto: &AwsLcProvider,
    data_dir: &std::path::Path,
    db: &str,
) -> anyhow::Result<(Arc<provisio_store::SqlStore>, SecretBytes, String)> {
    let url = format!("sqlite://{}", data_dir.join(db).display());
    let store = Arc::new(provisio_store::SqlStore::open(&url).await?);
    let mut master = vec![0u8; 32];
    crypto
        .fill_random(&mut master)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let admin = new_api_key(crypto).map_err(|e| anyhow::anyhow!("{e}"))?;
    capture::secret_bytes("master_key", &master);
    capture::secret("api_key", &admin);
    Ok((store, SecretBytes::new(master), admin))
}

async fn setup(
    crypto: &AwsLcProvider,
    http: &reqwest::Client,
    (base, admin_key): (&str, &str),
    tsp_id: &str,
    inbox: Arc<MemorySink>,
) -> anyhow::Result<Demo> {
    let admin = ProvisioClient::with_http(base, admin_key, http.clone());
    let issuer_key = crypto.generate_ec_key()?;
    let kid = jwk_thumbprint(crypto, issuer_key.public_key());
    let mut jwk = Jwk::from_public_key(issuer_key.public_key());
    jwk.kid = Some(kid.clone());
    let issuer_api_key = admin
        .register_issuer(DEMO_ISSUER, "Demo Bank", &jwk)
        .await?;
    let strict_key = crypto.generate_ec_key()?;
    let strict_kid = jwk_thumbprint(crypto, strict_key.public_key());
    let mut strict_jwk = Jwk::from_public_key(strict_key.public_key());
    strict_jwk.kid = Some(strict_kid.clone());
    admin
        .register_issuer_with(&serde_json::json!({
            "issuer_id": DEMO_STRICT_ISSUER,
            "name": "Demo Bank (step-up on pushes)",
            "signing_jwk": strict_jwk,
            "push_step_up": true,
        }))
        .await?;
    let wallet_key = admin
        .register_token_requestor(DEMO_TRID, "Demo Wallet", "external")
        .await?;
    let hosted_key = admin
        .register_token_requestor(DEMO_HOSTED_TRID, "Demo Hosted Wallet", "hosted")
        .await?;
    let network_key = admin.register_network(DEMO_NETWORK, "Demo Network").await?;
    let impostor_key = crypto.generate_ec_key()?;
    let jwks = admin.jwks().await?;
    // The demo bank's card range and its decisioning (docs/protocol.md §17.1, §17.3).
    let bank = wallet_path::BankDecisioning::start(crypto, jwks.clone()).await?;
    admin
        .put_issuer_setting(
            DEMO_ISSUER,
            "bin-ranges",
            &serde_json::json!({"bin_ranges": ["40001234"]}),
        )
        .await?;
    admin
        .put_issuer_setting(
            DEMO_ISSUER,
            "decisioning",
            &serde_json::json!({"url": bank.url, "encryption_jwk": bank.jwk}),
        )
        .await?;
    let tokens = lifecycle::TokenApis {
        admin: crate::tokens::Api::with_http(base, admin_key, http.clone()),
        issuer: crate::tokens::Api::with_http(base, &issuer_api_key, http.clone()),
        wallet: crate::tokens::Api::with_http(base, &wallet_key, http.clone()),
    };
    let events = lifecycle::Receiver::start(jwks.clone(), admin.clone()).await?;
    lifecycle::subscribe(&tokens.admin, &events).await?;
    Ok(Demo {
        crypto: AwsLcProvider::new(),
        wallet_api: admin.with_key(&wallet_key),
        hosted_api: admin.with_key(&hosted_key),
        issuer_api: admin.with_key(&issuer_api_key),
        network_api: admin.with_key(&network_key),
        admin,
        issuer_app: IssuerApp::new(DEMO_ISSUER, &kid, issuer_key, tsp_id),
        strict_app: IssuerApp::new(DEMO_STRICT_ISSUER, &strict_kid, strict_key, tsp_id),
        impostor_app: IssuerApp::new("not-a-registered-bank", &kid, impostor_key, tsp_id),
        jwks,
        inbox,
        tokens,
        events,
        bank,
    })
}

impl Demo {
    /// A fresh phone `n` (its own user, device, card and contact), so the flows' velocity
    /// signals do not mix.
    fn phone(&self, n: u32) -> anyhow::Result<Phone> {
        self.phone_of(n, DEMO_TRID, &self.wallet_api)
    }

    fn phone_of(&self, n: u32, trid: &str, api: &ProvisioClient) -> anyhow::Result<Phone> {
        let user = format!("wallet-user-{n}");
        let device = format!("device-{n}");
        Ok(Phone {
            wallet: WalletApp::new(&self.crypto, trid, &user, &device)?,
            api: api.clone(),
            card: CardDetails {
                pan: demo_pan(n)?,
                exp_month: 12,
                exp_year: 2030,
                name: "A. Cardholder".into(),
                contact: Some(Contact {
                    phone: Some(format!("+1555010{n:04}")),
                    email: Some(format!("cardholder{n}@example.com")),
                }),
            },
            user,
            device,
        })
    }

    /// Steps 1 to 4 on the phone, with `tweak` applied to the claims, then the step 5 body.
    fn request(
        &self,
        issuer: &IssuerApp,
        phone: &Phone,
        steps: &mut Vec<String>,
        tweak: impl FnOnce(&mut RequestClaims),
        wallet_risk: Option<WalletRiskInfo>,
    ) -> anyhow::Result<PushProvisioningRequest> {
        let start = issuer.start_session(&self.crypto)?;
        steps.push(format!(
            "issuer app {} opens the wallet with a fresh session id",
            start.issuer_id
        ));
        let answer = phone.wallet.answer(&start);
        steps.push(format!(
            "wallet answers: user {}, device {}, token requestor {}",
            answer.wallet_user_id, answer.device_id, answer.token_requestor_id
        ));
        let mut claims = issuer.claims(&self.crypto, &answer, &phone.card, SystemClock.now())?;
        tweak(&mut claims);
        let jwe = issuer.request_data(&self.crypto, &claims, &self.jwks)?;
        steps.push(format!("issuer app signs (ES256) and encrypts (ECDH-ES+A256KW/A256GCM) the request data for card {:?}: {} bytes", phone.card.pan, jwe.len()));
        Ok(phone.wallet.push_request(&answer, jwe, wallet_risk))
    }

    fn expect_refusal<T: std::fmt::Debug>(
        &self,
        result: Result<T, ClientError>,
        code: &str,
        steps: &mut Vec<String>,
    ) -> anyhow::Result<()> {
        match result {
            Err(ClientError::Problem(p)) if p.code == code => {
                steps.push(format!(
                    "token service refuses: {} {} ({})",
                    p.status, p.code, p.detail
                ));
                Ok(())
            }
            Err(e) => anyhow::bail!("expected {code}, got {e}"),
            Ok(r) => anyhow::bail!("expected {code}, got {r:?}"),
        }
    }

    /// Pushes, and describes the risk decision.
    async fn push(
        &self,
        phone: &Phone,
        wallet_risk: Option<WalletRiskInfo>,
        expected: Decision,
        steps: &mut Vec<String>,
    ) -> anyhow::Result<PushProvisioningResponse> {
        self.push_via(&self.issuer_app, phone, wallet_risk, expected, steps)
            .await
    }

    /// [`Demo::push`] from the app of `issuer`.
    async fn push_via(
        &self,
        issuer: &IssuerApp,
        phone: &Phone,
        wallet_risk: Option<WalletRiskInfo>,
        expected: Decision,
        steps: &mut Vec<String>,
    ) -> anyhow::Result<PushProvisioningResponse> {
        let req = self.request(issuer, phone, steps, |_| {}, wallet_risk)?;
        let r = phone.api.push_provisioning(&req, None).await?;
        let fired: Vec<&str> = r.risk.reasons.iter().map(|x| x.code.as_str()).collect();
        steps.push(format!(
            "token service decides {:?}: wallet level {}{}, service level {}, final {}, merge rule {}, reasons [{}], policy {}",
            r.decision,
            r.risk.wallet_level.map_or_else(|| "none".into(), |l| l.to_string()),
            if r.risk.non_override { " (non-override)" } else { "" },
            r.risk.tsp_level,
            r.risk.final_level,
            r.risk.merge_rule,
            fired.join(", "),
            r.risk.policy_version
        ));
        anyhow::ensure!(
            r.decision == expected,
            "expected {expected:?}, got {:?}",
            r.decision
        );
        Ok(r)
    }

    /// Runs the script on the phone and reports it; the token becomes payment-ready.
    async fn install(
        &self,
        phone: &mut Phone,
        provisioning_id: &str,
        script: &Script,
        access_data: &str,
        steps: &mut Vec<String>,
    ) -> anyhow::Result<()> {
        let ops: Vec<String> = script.steps.iter().map(|s| format!("{:?}", s.op)).collect();
        let reports = phone.wallet.install(&self.crypto, script, access_data)?;
        let card = phone.wallet.cards().last().context("nothing installed")?;
        capture::card(card);
        steps.push(format!(
            "wallet runs script {} v{} ({:?}): {} -> token {:?} stored with its cryptogram key, default card: {}",
            script.script_id,
            script.version,
            script.target,
            ops.join(", "),
            card.token_pan,
            card.default
        ));
        let done = phone
            .api
            .script_report(
                provisioning_id,
                &ScriptReportRequest {
                    script_id: script.script_id.clone(),
                    wallet_user_id: phone.user.clone(),
                    device_id: phone.device.clone(),
                    steps: reports,
                },
            )
            .await?;
        anyhow::ensure!(done.payment_ready, "not payment-ready after the report");
        steps.push(format!(
            "completion report accepted: token {} {} and payment-ready",
            done.token_ref_id, done.status
        ));
        Ok(())
    }

    /// Installs the script of an approved answer with its access data.
    async fn install_approved(
        &self,
        phone: &mut Phone,
        r: &PushProvisioningResponse,
        steps: &mut Vec<String>,
    ) -> anyhow::Result<()> {
        let script = r.script.as_ref().context("no script")?;
        let access_data = r.access_data.as_deref().context("no access data")?;
        self.install(phone, &r.provisioning_id, script, access_data, steps)
            .await
    }

    /// Asks for a code by SMS and reads it from the phone's inbox.
    async fn code_by_sms(
        &self,
        phone: &Phone,
        r: &PushProvisioningResponse,
        steps: &mut Vec<String>,
    ) -> anyhow::Result<(String, String)> {
        let method = wallet_path::offered(r, "OTP_SMS")?;
        let before = self.inbox.delivered().len();
        let sent = phone
            .api
            .send_otp(
                &r.provisioning_id,
                &OtpSendRequest {
                    method_id: method.method_id.clone(),
                    wallet_user_id: phone.user.clone(),
                    device_id: phone.device.clone(),
                },
            )
            .await?;
        let to = phone
            .card
            .contact
            .as_ref()
            .and_then(|c| c.phone.clone())
            .unwrap_or_default();
        for _ in 0..200 {
            let inbox = self.inbox.delivered();
            if let Some(sms) = inbox.iter().skip(before).find(|n| n.to == to) {
                let code = six_digit_code(&sms.text).context("no code in the SMS")?;
                capture::secret("otp", &code);
                steps.push(format!(
                    "code {} sent by SMS to {} through the outbox (resends left {}); the phone receives it",
                    sent.otp_id, sent.destination, sent.resends_left
                ));
                return Ok((sent.otp_id, code));
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        anyhow::bail!("the SMS never arrived")
    }

    async fn verify(
        &self,
        phone: &Phone,
        provisioning_id: &str,
        otp_id: &str,
        code: &str,
    ) -> Result<StepUpPassed, ClientError> {
        phone
            .api
            .verify_otp(
                provisioning_id,
                &OtpVerifyRequest {
                    otp_id: otp_id.to_owned(),
                    code: code.to_owned(),
                    wallet_user_id: phone.user.clone(),
                    device_id: phone.device.clone(),
                },
            )
            .await
    }
}

/// The six-digit code in a message.
fn six_digit_code(text: &str) -> Option<String> {
    text.split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .map(str::to_owned)
}

/// A code that is certainly wrong.
fn wrong(code: &str) -> String {
    let n: u32 = code.parse().unwrap_or(0);
    format!("{:06}", (n + 1) % 1_000_000)
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

async fn green_path(d: &Demo) -> anyhow::Result<Vec<String>> {
    let mut steps = Vec::new();
    let mut phone = d.phone(901)?;
    let r = d
        .push(
            &phone,
            Some(WalletRiskInfo::level(10, false)),
            Decision::Approved,
            &mut steps,
        )
        .await?;
    let token = r
        .token
        .as_ref()
        .context("approved answer without a token")?;
    let access_data = r.access_data.as_deref().context("no access data")?;
    let access = phone.wallet.open_access_data(&d.crypto, access_data)?;
    let token_pan = provisio_types::TokenPan::parse(&access.token_pan)?;
    capture::secret("token_pan", token_pan.expose());
    capture::secret("cryptogram_key", &access.cryptogram_key);
    anyhow::ensure!(
        access.token_ref_id == token.token_ref_id && token_pan.last4() == token.last4,
        "access data does not match the token"
    );
    anyhow::ensure!(
        token_pan.expose() != DEMO_PAN,
        "token PAN equals the funding PAN"
    );
    steps.push(format!("device opens the access data with its binding key: token {token_pan:?}, {} key for cryptograms", access.cryptogram_alg));
    d.install_approved(&mut phone, &r, &mut steps).await?;
    Ok(steps)
}

/// US 10,243,958: the wallet's non-override level below the service's asks for further
/// authentication, and the issuer's app gave it: approved without step-up.
async fn trusted_push(d: &Demo) -> anyhow::Result<Vec<String>> {
    let mut steps = Vec::new();
    let mut phone = d.phone(908)?;
    let r = d
        .push(
            &phone,
            Some(WalletRiskInfo::level(5, true)),
            Decision::Approved,
            &mut steps,
        )
        .await?;
    anyhow::ensure!(
        r.risk.merge_rule == "issuer_app_authenticated",
        "merge rule {}",
        r.risk.merge_rule
    );
    steps.push(format!(
        "the wallet's 5 is below the service's {}, which asks for further authentication; the issuer's app authenticated the cardholder and signed the request, so no step-up",
        r.risk.tsp_level
    ));
    d.install_approved(&mut phone, &r, &mut steps).await?;
    Ok(steps)
}

async fn step_up_then_otp(d: &Demo) -> anyhow::Result<Vec<String>> {
    let mut steps = Vec::new();
    let mut phone = d.phone(902)?;
    steps.push(format!(
        "{DEMO_STRICT_ISSUER} is registered with push_step_up: its pushes in the step-up band still step up"
    ));
    let r = d
        .push_via(
            &d.strict_app,
            &phone,
            Some(WalletRiskInfo::level(5, true)),
            Decision::StepUpRequired,
            &mut steps,
        )
        .await?;
    anyhow::ensure!(
        r.risk.merge_rule == "non_override_service_higher",
        "merge rule {}",
        r.risk.merge_rule
    );
    anyhow::ensure!(
        r.access_data.is_none() && r.script.is_none(),
        "credential released before step-up"
    );
    let methods: Vec<String> = r
        .step_up
        .iter()
        .flat_map(|s| &s.methods)
        .map(|m| format!("{} {}", m.method_type, m.destination))
        .collect();
    steps.push(format!(
        "the wallet's 5 is below the service's {}: token {} stays INACTIVE; methods offered: {}",
        r.risk.tsp_level,
        r.token.as_ref().map_or("", |t| t.token_ref_id.as_str()),
        methods.join(", ")
    ));
    let (otp_id, code) = d.code_by_sms(&phone, &r, &mut steps).await?;
    d.expect_refusal(
        d.verify(&phone, &r.provisioning_id, &otp_id, &wrong(&code))
            .await,
        "otp_invalid",
        &mut steps,
    )?;
    let thief = d.phone(999)?;
    steps.push("another wallet user tries the right code on this provisioning".into());
    d.expect_refusal(
        d.verify(&thief, &r.provisioning_id, &otp_id, &code).await,
        "not_found",
        &mut steps,
    )?;
    let passed = d.verify(&phone, &r.provisioning_id, &otp_id, &code).await?;
    steps.push(format!(
        "the cardholder enters the right code: token {} {}, access data and script released",
        passed.token.token_ref_id, passed.token.status
    ));
    steps.push("the same code is sent again".into());
    d.expect_refusal(
        d.verify(&phone, &r.provisioning_id, &otp_id, &code).await,
        "otp_used",
        &mut steps,
    )?;
    d.install(
        &mut phone,
        &r.provisioning_id,
        &passed.script,
        &passed.access_data,
        &mut steps,
    )
    .await?;
    Ok(steps)
}

async fn wallet_floor(d: &Demo) -> anyhow::Result<Vec<String>> {
    let mut steps = Vec::new();
    let mut phone = d.phone(903)?;
    let r = d
        .push(
            &phone,
            Some(WalletRiskInfo::level(30, true)),
            Decision::Approved,
            &mut steps,
        )
        .await?;
    anyhow::ensure!(
        r.risk.merge_rule == "non_override_wallet_floor" && r.risk.final_level == 30,
        "expected the wallet's 30 to be final, got {} ({})",
        r.risk.final_level,
        r.risk.merge_rule
    );
    steps.push(format!(
        "the wallet's 30 is above the service's {}: the wallet's level is final and in the approve band",
        r.risk.tsp_level
    ));
    d.install_approved(&mut phone, &r, &mut steps).await?;
    Ok(steps)
}

async fn declined(d: &Demo) -> anyhow::Result<Vec<String>> {
    let mut steps = Vec::new();
    let phone = d.phone(904)?;
    d.admin
        .add_risk_list_entry("block", "device", &phone.device)
        .await?;
    steps.push(format!(
        "the operator puts {} on the block list",
        phone.device
    ));
    let r = d
        .push(
            &phone,
            Some(WalletRiskInfo::level(10, false)),
            Decision::Declined,
            &mut steps,
        )
        .await?;
    anyhow::ensure!(
        r.token.is_none() && r.access_data.is_none(),
        "a declined answer carries a token"
    );
    steps.push("no token is created; the request is consumed".into());
    Ok(steps)
}

async fn lockout(d: &Demo) -> anyhow::Result<Vec<String>> {
    let mut steps = Vec::new();
    let phone = d.phone(905)?;
    let r = d
        .push_via(
            &d.strict_app,
            &phone,
            Some(WalletRiskInfo::level(5, true)),
            Decision::StepUpRequired,
            &mut steps,
        )
        .await?;
    let mut wrong_tries = 0;
    let mut last = None;
    'codes: for _ in 0..4 {
        let (otp_id, code) = d.code_by_sms(&phone, &r, &mut steps).await?;
        for _ in 0..3 {
            wrong_tries += 1;
            match d
                .verify(&phone, &r.provisioning_id, &otp_id, &wrong(&code))
                .await
            {
                Err(ClientError::Problem(p)) if p.code == "otp_invalid" => {}
                Err(ClientError::Problem(p)) if p.code == "step_up_locked" => {
                    steps.push(format!(
                        "wrong code number {wrong_tries}: {} {} ({})",
                        p.status, p.code, p.detail
                    ));
                    last = Some((otp_id, code));
                    break 'codes;
                }
                other => anyhow::bail!("expected otp_invalid, got {other:?}"),
            }
        }
        steps.push(format!(
            "three wrong codes ({wrong_tries} in a row so far): this code is spent"
        ));
    }
    let (otp_id, code) = last.context("never locked")?;
    anyhow::ensure!(wrong_tries == 10, "locked after {wrong_tries} wrong codes");
    steps.push("even the right code is now refused".into());
    d.expect_refusal(
        d.verify(&phone, &r.provisioning_id, &otp_id, &code).await,
        "step_up_locked",
        &mut steps,
    )?;
    Ok(steps)
}

async fn replayed(d: &Demo) -> anyhow::Result<Vec<String>> {
    let mut steps = Vec::new();
    let phone = d.phone(906)?;
    let req = d.request(&d.issuer_app, &phone, &mut steps, |_| {}, None)?;
    let first = d.wallet_api.push_provisioning(&req, None).await?;
    steps.push(format!("first submission: {:?}", first.decision));
    steps.push("an attacker who captured the request submits it again".into());
    d.expect_refusal(
        d.wallet_api.push_provisioning(&req, None).await,
        "replayed_request",
        &mut steps,
    )?;
    Ok(steps)
}

async fn stale(d: &Demo) -> anyhow::Result<Vec<String>> {
    let mut steps = Vec::new();
    let phone = d.phone(907)?;
    let req = d.request(&d.issuer_app, &phone, &mut steps, |c| c.iat -= 3600, None)?;
    steps.push("the request data was made an hour ago".into());
    d.expect_refusal(
        d.wallet_api.push_provisioning(&req, None).await,
        "stale_timestamp",
        &mut steps,
    )?;
    Ok(steps)
}

async fn tampered(d: &Demo) -> anyhow::Result<Vec<String>> {
    let mut steps = Vec::new();
    let phone = d.phone(907)?;
    let mut req = d.request(&d.issuer_app, &phone, &mut steps, |_| {}, None)?;
    let mut bytes = std::mem::take(&mut req.encrypted_payload).into_bytes();
    let i = bytes.len().saturating_sub(30);
    if let Some(b) = bytes.get_mut(i) {
        *b = if *b == b'A' { b'B' } else { b'A' };
    }
    req.encrypted_payload = String::from_utf8(bytes)?;
    steps.push("one character of the JWE ciphertext is changed in transit".into());
    d.expect_refusal(
        d.wallet_api.push_provisioning(&req, None).await,
        "payload_undecryptable",
        &mut steps,
    )?;
    Ok(steps)
}

async fn other_device(d: &Demo) -> anyhow::Result<Vec<String>> {
    let mut steps = Vec::new();
    let phone = d.phone(907)?;
    let req = d.request(
        &d.issuer_app,
        &phone,
        &mut steps,
        |c| c.did = "device-of-the-attacker".into(),
        None,
    )?;
    steps.push("the signed request data names another device than the one asking".into());
    d.expect_refusal(
        d.wallet_api.push_provisioning(&req, None).await,
        "binding_mismatch",
        &mut steps,
    )?;
    Ok(steps)
}

async fn unknown_issuer(d: &Demo) -> anyhow::Result<Vec<String>> {
    let mut steps = Vec::new();
    let phone = d.phone(907)?;
    let req = d.request(&d.impostor_app, &phone, &mut steps, |_| {}, None)?;
    steps.push("an app of an unregistered issuer makes the request data".into());
    d.expect_refusal(
        d.wallet_api.push_provisioning(&req, None).await,
        "unknown_issuer",
        &mut steps,
    )?;
    Ok(steps)
}

fn print_transcript(report: &Report, base: &str, store_url: &str) {
    let store = if store_url.starts_with("postgres") {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    println!("Provisio demo: token service on {base}, {store} store\n");
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
