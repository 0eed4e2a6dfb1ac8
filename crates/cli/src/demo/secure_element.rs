//! The secure element flow (US 8,060,449) over HTTP between separate parties: the bank's TSM
//! (SP-TSM) and the carrier's TSM (SEI-TSM) are each their own server with their own database
//! and keys; the phone's OTA client relays their SCP03 level-33 sessions to a virtual element.
//! The token service's hand-off of the job is still played by the demo (from the access data);
//! everything after it is the real chain.

use anyhow::{ensure, Context};
use provisio_apps::OtaClient;
use provisio_client::{ota_pass, LastImage, ProvisioClient};
use provisio_crypto::{AesKey, CryptoProvider};
use provisio_gp::command::select;
use provisio_gp::scp03::{SecurityLevel, StaticKeys};
use provisio_gp::tlv::Tlv;
use provisio_gp::{Aid, Response, StatusWord};
use provisio_jose::Jwk;
use provisio_se::payment::{generate_ac, transaction_cryptogram};
use provisio_se::VirtualSe;
use provisio_tsm::wire::{AddElement, HexKeys, SpJob};
use provisio_tsm::{seal_credential, Credential};
use provisio_tsp::wire::{Decision, WalletRiskInfo};
use provisio_tsp::ScriptTarget;

use super::Demo;

/// The two TSMs as the demo reaches them.
pub(super) struct Tsms {
    /// The carrier's TSM, with its operator's key.
    pub(super) sei: ProvisioClient,
    /// The bank's TSM, with the token service's caller key.
    pub(super) sp: ProvisioClient,
    /// The bank TSM's public key (credentials are sealed to it).
    pub(super) sp_jwk: Jwk,
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
    let ops: Vec<String> = script.steps.iter().map(|s| format!("{:?}", s.op)).collect();
    steps.push(format!(
        "token service approves for a phone with a secure element; script {}: {}",
        script.script_id,
        ops.join(", ")
    ));
    let access = phone
        .wallet
        .open_access_data(crypto, r.access_data.as_deref().context("no access data")?)?;

    // The phone's element, known to the carrier by its ISD keys.
    let carrier = random_keys(crypto, 0x30, 16)?;
    let mut div = [0u8; 10];
    crypto.fill_random(&mut div)?;
    let hx = |k: &AesKey| hex::encode(k.export().expose());
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
    steps.push("carrier TSM (its own server) manages the phone's element se-913; the bank's TSM (its own server) is registered with it for AID range A000000003".into());

    // The job: the token and its key, sealed to the bank TSM's key.
    let credential = Credential {
        token_pan: access.token_pan.clone(),
        exp_year: access.exp_year,
        exp_month: access.exp_month,
        cryptogram_key: access.cryptogram_key.clone(),
    };
    let job = SpJob {
        job_id: script.script_id.clone(),
        se_id: "se-913".into(),
        ssd: "A000000003535041AB0913".parse()?,
        applet: "A0000000031010AB0913".parse()?,
        credential: seal_credential(crypto, &tsms.sp_jwk.public_key()?, &credential)?,
    };
    let first = tsms.sp.sp_job(&job).await?;
    let again = tsms.sp.sp_job(&job).await?;
    ensure!(first.state == again.state, "a repeated job changed state");
    steps.push(format!("the job goes to the bank's TSM with the credential as a JWE to its key: {}; sent twice, it is one job", first.state.name()));

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

    // The phone restarts: the element's memory image survives, sessions do not.
    let mut se = VirtualSe::from_image(images.0.as_deref().context("no element image")?)?;
    let tx = |se: &mut VirtualSe, cmd: &provisio_gp::Command| -> anyhow::Result<Response> {
        Ok(Response::parse(&se.transmit(&cmd.encode()?))?)
    };
    let applet: Aid = job.applet.clone();
    ensure!(
        tx(&mut se, &select(&applet))?.sw == StatusWord::OK,
        "applet not selectable after restart"
    );
    let (amount, currency, un) = (
        [0, 0, 0, 0, 0x12, 0x50],
        [0x09, 0x78],
        [0xCA, 0xFE, 0xBA, 0xBE],
    );
    let r = tx(&mut se, &generate_ac(&amount, &currency, &un))?;
    ensure!(r.sw == StatusWord::OK, "GENERATE AC: {}", r.sw);
    let kids = Tlv::parse_one(&r.data)?.children()?;
    let atc = Tlv::find(&kids, 0x9F36).context("no ATC")?.value.clone();
    let atc = u16::from_be_bytes(atc.try_into().map_err(|_| anyhow::anyhow!("ATC"))?);
    let ac = Tlv::find(&kids, 0x9F26)
        .context("no cryptogram")?
        .value
        .clone();
    let card_key = AesKey::from_bytes(&provisio_jose::b64_decode(&access.cryptogram_key)?)?;
    ensure!(
        ac == transaction_cryptogram(&card_key, atc, &amount, &currency, &un).to_vec(),
        "cryptogram does not verify"
    );
    steps.push(format!("after a restart from its stored image the element pays: GENERATE AC for 12.50 EUR gives ATC {atc} and an ARQC that verifies under the token's key"));
    Ok(steps)
}
