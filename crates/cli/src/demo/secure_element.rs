//! The secure element flow: a push-provisioned token installed into a virtual element. The
//! carrier's TSM runs as its own HTTP server: the issuer's TSM sends it a service request, the
//! phone's OTA client fetches the wake-up message and relays the admin session (dropping off
//! once mid-script and resuming), and the issuer's TSM collects the key handover package. The
//! issuer's TSM sessions are still relayed in process (its HTTP service is the next step).

use anyhow::{ensure, Context};
use provisio_apps::OtaClient;
use provisio_client::ProvisioClient;
use provisio_crypto::{AesKey, CryptoProvider};
use provisio_gp::command::select;
use provisio_gp::scp03::{SecurityLevel, StaticKeys};
use provisio_gp::tlv::Tlv;
use provisio_gp::{Aid, Response, StatusWord};
use provisio_jose::Jwk;
use provisio_se::payment::{generate_ac, personalization_data, transaction_cryptogram};
use provisio_se::VirtualSe;
use provisio_tsm::wire::{AddElement, AddProvider, HexKeys, OpenSession};
use provisio_tsm::{
    open_initial_keys, AdminSession, Next, Personalize, Plan, Report, RequestKind, ServiceRequest,
    TakeOverKeys, TsmError,
};
use provisio_tsp::wire::{Decision, WalletRiskInfo};
use provisio_tsp::ScriptTarget;

use super::Demo;

/// One TSM session relayed to the element; returns the report and the APDUs exchanged.
fn relay(
    crypto: &dyn CryptoProvider,
    se: &mut VirtualSe,
    sd: &Aid,
    key_sets: &[StaticKeys],
    plan: Box<dyn Plan>,
) -> anyhow::Result<(Report, usize)> {
    let mut with_challenges = Vec::new();
    for k in key_sets {
        let mut challenge = [0u8; 8];
        crypto.fill_random(&mut challenge)?;
        with_challenges.push((k.clone(), challenge));
    }
    let (mut session, mut apdu) =
        AdminSession::start(sd, with_challenges, SecurityLevel::FULL, plan);
    for n in 1.. {
        match session.on_response(&se.transmit(&apdu))? {
            Next::Send(next) => apdu = next,
            Next::Done(report) => return Ok((report, n)),
        }
    }
    unreachable!("the loop returns")
}

fn random_keys(crypto: &dyn CryptoProvider, kvn: u8, len: usize) -> anyhow::Result<StaticKeys> {
    let mut k = vec![0u8; len * 3];
    crypto.fill_random(&mut k)?;
    let (enc, rest) = k.split_at(len);
    let (mac, dek) = rest.split_at(len);
    Ok(StaticKeys::from_bytes(kvn, enc, mac, dek)?)
}

/// The OTA client relays one admin session over HTTP; with `drop_after`, it stops after that
/// many commands (the phone lost its connection). Returns (done, commands relayed).
async fn relay_http(
    api: &ProvisioClient,
    ota: &mut OtaClient,
    open: &OpenSession,
    drop_after: Option<usize>,
) -> anyhow::Result<(bool, usize)> {
    let mut step = api.ota_open_session(open).await?;
    for n in 1.. {
        let Some(command) = step.apdu.as_deref() else {
            return Ok((step.done, n - 1));
        };
        // The SDK stores the element's image here, before the response leaves the phone.
        let relayed = ota.relay(command)?;
        if drop_after == Some(n) {
            return Ok((false, n));
        }
        step = api.ota_relay(&step.session_id, relayed.response).await?;
    }
    unreachable!("the loop returns")
}

/// BCD with `F` padding (EMV tag 5A).
fn bcd(digits: &str) -> anyhow::Result<Vec<u8>> {
    let mut s = digits.to_owned();
    if s.len() % 2 == 1 {
        s.push('F');
    }
    Ok(hex::decode(s)?)
}

pub(super) async fn install_on_element(
    d: &Demo,
    sei: &ProvisioClient,
) -> anyhow::Result<Vec<String>> {
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
    let card_key = AesKey::from_bytes(&provisio_jose::b64_decode(&access.cryptogram_key)?)?;

    // The phone's element; the carrier's ISD demands level 33 for management.
    let carrier = random_keys(crypto, 0x30, 16)?;
    let mut div = [0u8; 10];
    crypto.fill_random(&mut div)?;
    let se = VirtualSe::new(carrier.clone(), div, SecurityLevel::FULL);
    let ssd: Aid = "A000000003535041AB0913".parse()?;
    let applet: Aid = "A0000000031010AB0913".parse()?;
    let request_id = "sr-create-913";

    // The carrier registers the element and the issuer's TSM (its AID range, its handover key).
    let hx = |k: &AesKey| hex::encode(k.export().expose());
    let isd_keys = HexKeys {
        kvn: "30".into(),
        enc: hx(&carrier.enc),
        mac: hx(&carrier.mac),
        dek: hx(&carrier.dek),
    };
    let element = sei
        .sei_add_element(&AddElement {
            se_id: "se-913".into(),
            isd_keys,
        })
        .await?;
    let sp_key = crypto.generate_ec_key()?;
    let provider = AddProvider {
        sp_id: "demo-bank-tsm".into(),
        aid_prefix: "A000000003".into(),
        encryption_jwk: Jwk::from_public_key(sp_key.public_key()),
    };
    let sp = sei.with_key(&sei.sei_add_provider(&provider).await?.api_key);
    let ota_api = sei.with_key(&element.ota_key);
    steps.push("carrier TSM (its own server) registers the phone's element se-913 and the bank's TSM with AID range A000000003 and a handover key".into());

    // The issuer's TSM asks for its domain.
    let request = ServiceRequest {
        request_id: request_id.into(),
        se_id: "se-913".into(),
        kind: RequestKind::CreateDomain {
            ssd: ssd.clone(),
            applet: applet.clone(),
        },
    };
    let status = sp.sei_request(&request).await?;
    ensure!(
        sp.sei_request(&request).await?.state == status.state,
        "a repeated request changed state"
    );
    steps.push(format!("bank TSM sends service request {request_id} (CREATE_DOMAIN {ssd}, applet {applet}): {}; sent twice, it is one request", status.state.name()));

    // The phone's OTA client: the wake-up message, a session that drops off, then one that
    // finishes.
    let mut ota = OtaClient::new(se);
    let messages = ota_api.ota_messages(5).await?;
    let message = messages.messages.first().context("no wake-up message")?;
    ensure!(
        message.wake.connect == "SEI",
        "unexpected wake-up {:?}",
        message.wake
    );
    let open = OpenSession {
        sp_id: "demo-bank-tsm".into(),
        request_id: request_id.into(),
    };
    let first = relay_http(&ota_api, &mut ota, &open, Some(7)).await?;
    ensure!(!first.0, "the dropped session finished");
    ensure!(
        sp.sei_request_status(request_id).await?.state.name() == "IN_PROGRESS",
        "not in progress"
    );
    let (done, n) = relay_http(&ota_api, &mut ota, &open, None).await?;
    ensure!(done, "the resumed session did not finish");
    ota_api.ota_ack(&message.message_id).await?;
    steps.push(format!(
        "the OTA client fetches the wake-up (long-poll), relays the carrier's level-33 session and drops off after 7 APDUs; the request stays IN_PROGRESS; the next session surveys the element and finishes in {n} APDUs without repeating a step"
    ));
    let status = sp.sei_request_status(request_id).await?;
    let package = status.handover.context("no handover package")?;
    let handed = open_initial_keys(crypto, &sp_key, &package, "se-913", &ssd, request_id)?;
    steps.push(format!("bank TSM: request DONE; it opens the {}-byte key handover package (JWE to its key, bound to element, domain and request)", package.len()));
    let mut se = VirtualSe::from_image(&ota.element().to_image())?;
    let initial = handed.clone();

    // SP-TSM: key handover, then the carrier is out.
    let own = random_keys(crypto, 0x31, 32)?;
    let (report, n) = relay(
        crypto,
        &mut se,
        &ssd,
        &[own.clone(), handed.clone()],
        Box::new(TakeOverKeys {
            initial: handed.clone(),
            own: own.clone(),
        }),
    )?;
    steps.push(format!(
        "issuer TSM, its own session ({n} APDUs) opened with key set {:02X}: {}",
        report.kvn,
        report.applied.join("; ")
    ));
    let locked_out = relay(
        crypto,
        &mut se,
        &ssd,
        &[initial],
        Box::new(TakeOverKeys {
            initial: handed,
            own: own.clone(),
        }),
    );
    ensure!(
        matches!(locked_out, Err(ref e) if e.downcast_ref::<TsmError>().is_some_and(|e| e.code() == "no_session")),
        "the carrier's copy of the initial keys still opens the domain"
    );
    steps.push("the carrier's copy of the initial keys no longer opens the issuer's domain (INITIALIZE UPDATE 6A88)".into());

    // Personalisation, delegated to the SP-TSM; a repeated request applies nothing.
    let data = personalization_data(
        &bcd(&access.token_pan)?,
        &expiry(access.exp_year, access.exp_month)?,
        &card_key,
        &own.dek,
    );
    let perso = Personalize {
        applet: applet.clone(),
        data,
    };
    let (report, n) = relay(
        crypto,
        &mut se,
        &ssd,
        std::slice::from_ref(&own),
        Box::new(perso.clone()),
    )?;
    steps.push(format!(
        "issuer TSM personalises ({n} APDUs): {}",
        report.applied.join("; ")
    ));
    let (again, _) = relay(crypto, &mut se, &ssd, &[own], Box::new(perso))?;
    ensure!(
        again.applied.is_empty(),
        "a repeated personalisation applied steps"
    );
    steps.push("the same personalisation request again: the survey finds the applet PERSONALIZED and nothing is sent".into());

    // The phone restarts: the element's memory image survives, sessions do not.
    let mut se = VirtualSe::from_image(&se.to_image())?;
    let tx = |se: &mut VirtualSe, cmd: &provisio_gp::Command| -> anyhow::Result<Response> {
        Ok(Response::parse(&se.transmit(&cmd.encode()?))?)
    };
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
    ensure!(
        ac == transaction_cryptogram(&card_key, atc, &amount, &currency, &un).to_vec(),
        "cryptogram does not verify"
    );
    steps.push(format!("after a restart the element pays: GENERATE AC for 12.50 EUR gives ATC {atc} and an ARQC that verifies under the token's key from the access data"));
    Ok(steps)
}

/// EMV expiry YYMMDD, last day placeholder 31.
fn expiry(year: u16, month: u8) -> anyhow::Result<[u8; 3]> {
    let v = hex::decode(format!("{:02}{:02}31", year % 100, month))?;
    v.try_into().map_err(|_| anyhow::anyhow!("expiry"))
}
