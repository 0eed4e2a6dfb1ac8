//! The secure element flow (US 8,060,449) over HTTP between separate parties: the token
//! service, the bank's TSM (SP-TSM) and the carrier's TSM (SEI-TSM) are each their own server
//! with their own database and keys; the phone's OTA client relays their SCP03 level-33
//! sessions to a virtual element. The token service hands the job to the bank's TSM through
//! its outbox, and the token becomes payment-ready only on that TSM's report.

use anyhow::{Context, ensure};
use provisio_apps::OtaClient;
use provisio_client::{LastImage, ProvisioClient, ota_pass};
use provisio_crypto::{AesKey, CryptoProvider};
use provisio_emv::Atc;
use provisio_gp::command::select;
use provisio_gp::scp03::{SecurityLevel, StaticKeys};
use provisio_gp::tlv::Tlv;
use provisio_gp::{Response, StatusWord};
use provisio_se::VirtualSe;
use provisio_se::payment::generate_ac;
use provisio_tsm::wire::{AddElement, HexKeys};
use provisio_tsp::ScriptTarget;
use provisio_tsp::wire::{Decision, InstallationState, ScriptReportRequest, WalletRiskInfo};

use super::Demo;

/// The two TSMs as the demo reaches them.
pub(super) struct Tsms {
    /// The carrier's TSM, with its operator's key.
    pub(super) sei: ProvisioClient,
    /// The bank's TSM, with the token service's caller key (to show the job's states).
    pub(super) sp: ProvisioClient,
}

fn random_keys(crypto: &dyn CryptoProvider, kvn: u8, len: usize) -> anyhow::Result<StaticKeys> {
    let mut k = vec![0u8; len * 3];
    crypto.fill_random(&mut k)?;
    let (enc, rest) = k.split_at(len);
    let (mac, dek) = rest.split_at(len);
    Ok(StaticKeys::from_bytes(kvn, enc, mac, dek)?)
}

pub(super) async fn install_on_element(d: &Demo, tsms: &Tsms) -> anyhow::Result<Vec<String>> {
    let mut steps = Vec::new();
    let crypto = &d.crypto;
    let phone = d.phone(913)?;

    // The phone's element, known to the carrier by its ISD keys.
    let carrier = random_keys(crypto, 0x30, 16)?;
    let mut div = [0u8; 10];
    crypto.fill_random(&mut div)?;
    let hx = |k: &AesKey| hex::encode(k.export().expose());
    for key in [&carrier.enc, &carrier.mac, &carrier.dek] {
        super::capture::secret_bytes("scp03_key", key.export().expose());
    }
    let isd_keys = HexKeys {
        kvn: "30".into(),
        enc: hx(&carrier.enc),
        mac: hx(&carrier.mac),
        dek: hx(&carrier.dek),
    };
    let element = tsms
        .sei
        .sei_add_element(&AddElement {
            se_id: "se-913".into(),
            isd_keys,
        })
        .await?;
    let ota_api = tsms.sei.with_key(&element.ota_key);
    let mut ota = OtaClient::new(VirtualSe::new(carrier, div, SecurityLevel::FULL));
    steps.push("all three servers speak TLS with certificates made at start, both TSMs require client certificates (a caller without one fails the handshake); carrier TSM (its own server) manages the phone's element se-913; the bank's TSM (its own server) is registered with it for AID range A000000003 and with the token service as the bank's TSM".into());

    let mut req = d.request(
        &d.issuer_app,
        &phone,
        &mut steps,
        |_| {},
        Some(WalletRiskInfo::level(10, false)),
    )?;
    req.device.secure_element_id = Some("se-913".into());
    let r = phone.api.push_provisioning(&req, None).await?;
    ensure!(
        r.decision == Decision::Approved,
        "expected approval, got {:?}",
        r.decision
    );
    let script = r.script.as_ref().context("no script")?;
    ensure!(
        script.target == ScriptTarget::SecureElement,
        "script is not for the secure element"
    );
    let pending = phone.api.installation(&r.provisioning_id).await?;
    ensure!(
        pending.state == InstallationState::Pending && !pending.payment_ready,
        "installation should be pending, is {}",
        pending.state.as_str()
    );
    steps.push(format!(
        "token service approves for a phone with a secure element: token {} is ACTIVE but not payment-ready ({}); the job for the bank's TSM is committed with it",
        pending.token_ref_id,
        pending.state.as_str()
    ));
    let early = phone
        .api
        .script_report(
            &r.provisioning_id,
            &ScriptReportRequest {
                script_id: script.script_id.clone(),
                wallet_user_id: req.wallet_user_id.clone(),
                device_id: req.device_id.clone(),
                steps: script
                    .steps
                    .iter()
                    .map(|s| provisio_tsp::StepReport {
                        seq: s.seq,
                        result: provisio_tsp::StepResult::Ok,
                    })
                    .collect(),
            },
        )
        .await;
    match early {
        Err(e) if e.code() == Some("reported_by_tsm") => {}
        other => anyhow::bail!("the device completed a secure-element script: {other:?}"),
    }
    steps.push(
        "the wallet cannot complete it itself: its script report is refused (reported_by_tsm)"
            .into(),
    );

    // The token service's outbox delivers the job to the bank's TSM.
    let mut job = None;
    for _ in 0..200 {
        match tsms.sp.sp_job_status(&r.provisioning_id).await {
            Ok(status) => {
                job = Some(status);
                break;
            }
            Err(e) if e.code() == Some("not_found") => {
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
    let job = job.context("the job never reached the bank's TSM")?;
    steps.push(format!("the token service's outbox delivers the job to the bank's TSM (the credential a JWE to its key, the domain and applet AIDs in the bank's range, a report token for this job): {}", job.state.name()));

    // The phone: long-polls the carrier for wake-ups and relays whatever session they name,
    // losing its connection once.
    let mut images = LastImage::default();
    let (mut commands, mut sessions, mut drop) = (0, 0, Some(9));
    for _ in 0..200 {
        if tsms.sp.sp_job_status(&job.job_id).await?.state.name() == "DONE" {
            break;
        }
        let run = ota_pass(&ota_api, &mut ota, &mut images, 1, drop.take()).await?;
        commands += run.commands;
        sessions += run.sessions;
    }
    ensure!(
        tsms.sp.sp_job_status(&job.job_id).await?.state.name() == "DONE",
        "the job did not finish"
    );
    steps.push(format!(
        "the OTA client long-polls the carrier, relays its level-33 session (creating the bank's domain and applet, extraditing it, putting initial keys), loses its connection after 9 commands and resumes; the carrier hands the initial keys to the bank's TSM; delegated by the carrier, the phone opens the bank's own sessions: key takeover (PUT KEY), then personalisation (STORE DATA, key encrypted under the bank's DEK); {sessions} sessions, {commands} commands relayed"
    ));

    // The bank's TSM reports to the token service; the wallet sees the token payment-ready.
    let mut installed = None;
    for _ in 0..200 {
        let now = phone.api.installation(&r.provisioning_id).await?;
        if now.payment_ready {
            installed = Some(now);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let installed = installed.context("the bank's TSM never reported the installation")?;
    steps.push(format!(
        "the bank's TSM reports DONE to the token service with the job's report token: token {} is {} and payment-ready",
        installed.token_ref_id,
        installed.state.as_str()
    ));

    // The phone restarts: the element's memory image survives, sessions do not.
    let mut se = VirtualSe::from_image(images.0.as_deref().context("no element image")?)?;
    let tx = |se: &mut VirtualSe, cmd: &provisio_gp::Command| -> anyhow::Result<Response> {
        Ok(Response::parse(&se.transmit(&cmd.encode()?))?)
    };
    let (_, applet) =
        provisio_tsp::token_aids(crypto, &hex::decode("A000000003")?, &installed.token_ref_id)?;
    ensure!(
        tx(&mut se, &select(&applet))?.sw == StatusWord::OK,
        "applet not selectable after restart"
    );
    let terminal = super::pay::Terminal {
        amount_minor: 1250,
        unpredictable_number: "CAFEBABE",
    };
    let transaction = terminal.transaction()?;
    let ac_response = tx(&mut se, &generate_ac(&transaction))?;
    ensure!(
        ac_response.sw == StatusWord::OK,
        "GENERATE AC: {}",
        ac_response.sw
    );
    let kids = Tlv::parse_one(&ac_response.data)?.children()?;
    let atc = Tlv::find(&kids, 0x9F36).context("no ATC")?.value.clone();
    let atc = u16::from_be_bytes(atc.try_into().map_err(|_| anyhow::anyhow!("ATC"))?);
    let atc = Atc::new(atc).context("ATC 0")?;
    let ac = Tlv::find(&kids, 0x9F26)
        .context("no cryptogram")?
        .value
        .clone();
    let access = phone
        .wallet
        .open_access_data(crypto, r.access_data.as_deref().context("no access data")?)?;
    steps.push(format!("after a restart from its stored image the element pays at a terminal: GENERATE AC for 12.50 EUR gives ATC {} and its ARQC", atc.get()));
    // The terminal forwards the element's cryptogram; the network de-tokenises.
    let req = terminal.request(
        &access.token_pan,
        (access.exp_month, access.exp_year),
        atc.get(),
        &hex::encode_upper(&ac),
    );
    let a = super::pay::authorize(&d.network_api, &req, None, &mut steps).await?;
    ensure!(
        a.pan.as_deref() == Some(phone.card.pan.expose()),
        "the element's token de-tokenised to another card"
    );
    Ok(steps)
}
