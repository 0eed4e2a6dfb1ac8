//! The secure element flow at the GlobalPlatform layer: a push-provisioned token installed
//! into a virtual element over SCP03 at level 33, with the carrier's and the issuer's trusted
//! service managers played in-process (the TSM services and the OTA relay over HTTP are the
//! next step; the APDUs are already the ones they will send).

use anyhow::{ensure, Context};
use provisio_crypto::{AesKey, CryptoProvider};
use provisio_gp::command::{
    put_key, select, Encryption, Install, Privileges, StoreData, Structure,
};
use provisio_gp::scp03::{HostChannel, HostHandshake, SecurityLevel, StaticKeys};
use provisio_gp::tlv::Tlv;
use provisio_gp::{Aid, Command, Response, StatusWord};
use provisio_se::payment::{generate_ac, personalization_data, transaction_cryptogram};
use provisio_se::{payment_load_file, payment_module, sd_load_file, sd_module, VirtualSe};
use provisio_tsp::wire::{Decision, WalletRiskInfo};
use provisio_tsp::ScriptTarget;

use super::Demo;

/// The element, with a count of what crossed its interface.
struct Element {
    se: VirtualSe,
    apdus: usize,
}

impl Element {
    fn tx(&mut self, cmd: &Command) -> anyhow::Result<Response> {
        self.apdus += 1;
        Ok(Response::parse(&self.se.transmit(&cmd.encode()?))?)
    }

    /// SELECT, INITIALIZE UPDATE, EXTERNAL AUTHENTICATE.
    fn open(
        &mut self,
        sd: &Aid,
        keys: &StaticKeys,
        level: SecurityLevel,
        crypto: &dyn CryptoProvider,
    ) -> anyhow::Result<HostChannel> {
        ensure!(
            self.tx(&select(sd))?.sw == StatusWord::OK,
            "SELECT {sd} refused"
        );
        let mut challenge = [0u8; 8];
        crypto.fill_random(&mut challenge)?;
        let hs = HostHandshake::new(keys.clone(), challenge, level);
        let r = self.tx(&hs.initialize_update())?;
        ensure!(r.sw == StatusWord::OK, "INITIALIZE UPDATE: {}", r.sw);
        let (ext, channel) = hs.handle_init_update(&r.data)?;
        let sw = self.tx(&ext)?.sw;
        ensure!(sw == StatusWord::OK, "EXTERNAL AUTHENTICATE: {sw}");
        Ok(channel)
    }

    fn send(&mut self, ch: &mut HostChannel, cmd: Command) -> anyhow::Result<Response> {
        let wrapped = ch.wrap(cmd)?;
        Ok(ch.unwrap(self.tx(&wrapped)?)?)
    }

    fn expect(
        &mut self,
        ch: &mut HostChannel,
        cmd: Command,
        sw: StatusWord,
    ) -> anyhow::Result<Response> {
        let r = self.send(ch, cmd)?;
        ensure!(r.sw == sw, "expected {sw}, got {}", r.sw);
        Ok(r)
    }
}

fn random_keys(crypto: &dyn CryptoProvider, kvn: u8, len: usize) -> anyhow::Result<StaticKeys> {
    let mut k = vec![0u8; len * 3];
    crypto.fill_random(&mut k)?;
    let (enc, rest) = k.split_at(len);
    let (mac, dek) = rest.split_at(len);
    Ok(StaticKeys::from_bytes(kvn, enc, mac, dek)?)
}

/// BCD with `F` padding (EMV tag 5A).
fn bcd(digits: &str) -> anyhow::Result<Vec<u8>> {
    let mut s = digits.to_owned();
    if s.len() % 2 == 1 {
        s.push('F');
    }
    Ok(hex::decode(s)?)
}

pub(super) async fn install_on_element(d: &Demo) -> anyhow::Result<Vec<String>> {
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

    // The phone's element: the carrier's ISD demands level 33 for management.
    let carrier = random_keys(crypto, 0x30, 16)?;
    let mut div = [0u8; 10];
    crypto.fill_random(&mut div)?;
    let mut el = Element {
        se: VirtualSe::new(carrier.clone(), div, SecurityLevel::FULL),
        apdus: 0,
    };
    let ssd: Aid = "A000000151535041AB0913".parse()?;
    let applet: Aid = "A0000000031010AB0913".parse()?;

    // Carrier's TSM (SEI-TSM): the issuer's domain, the payment applet, initial keys.
    let mut isd = el.open(&Aid::isd(), &carrier, SecurityLevel::FULL, crypto)?;
    for install in [
        Install::ForInstall {
            elf: sd_load_file(),
            module: sd_module(),
            app: ssd.clone(),
            privileges: Privileges::SECURITY_DOMAIN,
            params: Tlv::new(0x82, vec![0x33]).encode(),
            make_selectable: true,
            token: vec![],
        },
        Install::ForInstall {
            elf: payment_load_file(),
            module: payment_module(),
            app: applet.clone(),
            privileges: Privileges::NONE,
            params: vec![],
            make_selectable: true,
            token: vec![],
        },
        Install::ForExtradition {
            sd: ssd.clone(),
            app: applet.clone(),
            token: vec![],
        },
        Install::ForPersonalization { app: ssd.clone() },
    ] {
        el.expect(&mut isd, install.command(), StatusWord::OK)?;
    }
    let initial = random_keys(crypto, 0x30, 16)?;
    el.expect(
        &mut isd,
        put_key(&initial, None, &carrier.dek),
        StatusWord::OK,
    )?;
    steps.push(format!(
        "carrier TSM, SCP03 level 33 with the ISD: creates the issuer's domain {ssd} (minimum level 33), installs payment applet {applet}, extradites it to the domain, puts the domain's initial keys"
    ));

    // Issuer's TSM (SP-TSM): key handover, then the carrier is out.
    let own = random_keys(crypto, 0x31, 32)?;
    let mut sp = el.open(&ssd, &initial, SecurityLevel::FULL, crypto)?;
    el.expect(
        &mut sp,
        put_key(&own, Some(0x30), &initial.dek),
        StatusWord::OK,
    )?;
    ensure!(
        el.open(&ssd, &initial, SecurityLevel::FULL, crypto)
            .is_err(),
        "initial keys still open the domain"
    );
    let mut isd = el.open(&Aid::isd(), &carrier, SecurityLevel::FULL, crypto)?;
    el.expect(
        &mut isd,
        Install::ForPersonalization {
            app: applet.clone(),
        }
        .command(),
        StatusWord::REFERENCED_DATA_NOT_FOUND,
    )?;
    steps.push("issuer TSM replaces the initial keys with its own AES-256 set (PUT KEY under the initial DEK); the initial keys no longer open the domain and the carrier's ISD cannot reach the applet (6A88)".into());

    // Personalisation: the token and its device-bound key, the key encrypted under the DEK.
    let mut sp = el.open(&ssd, &own, SecurityLevel::FULL, crypto)?;
    el.expect(
        &mut sp,
        Install::ForPersonalization {
            app: applet.clone(),
        }
        .command(),
        StatusWord::OK,
    )?;
    let expiry = hex::decode(format!(
        "{:02}{:02}31",
        access.exp_year % 100,
        access.exp_month
    ))?;
    let expiry: [u8; 3] = expiry.try_into().map_err(|_| anyhow::anyhow!("expiry"))?;
    let data = personalization_data(&bcd(&access.token_pan)?, &expiry, &card_key, &own.dek);
    let store = StoreData {
        last: true,
        encryption: Encryption::Encrypted,
        structure: Structure::Dgi,
        block: 0,
        data,
    };
    el.expect(&mut sp, store.command(), StatusWord::OK)?;
    el.expect(
        &mut sp,
        store.command(),
        StatusWord::CONDITIONS_NOT_SATISFIED,
    )?;
    steps.push("issuer TSM personalises the applet with STORE DATA (DGI 0101 token, DGI 8000 key encrypted under its DEK, all inside level-33 C-DECRYPTION); a second STORE DATA is refused (6985)".into());

    // The phone restarts: the element's memory image survives, sessions do not.
    el.se = VirtualSe::from_image(&el.se.to_image())?;
    ensure!(
        el.tx(&select(&applet))?.sw == StatusWord::OK,
        "applet not selectable after restart"
    );
    let (amount, currency, un) = (
        [0, 0, 0, 0, 0x12, 0x50],
        [0x09, 0x78],
        [0xCA, 0xFE, 0xBA, 0xBE],
    );
    let r = el.tx(&generate_ac(&amount, &currency, &un))?;
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
    steps.push(format!(
        "after a restart the element pays: GENERATE AC for 12.50 EUR gives ATC {atc} and an ARQC that verifies under the token's key from the access data; {} APDUs in all",
        el.apdus
    ));
    Ok(steps)
}
