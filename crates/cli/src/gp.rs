//! `provisio gp scp03 derive` and `wrap` (docs/cli.md): SCP03 by hand, for people
//! who debug secure elements. Given the static keys, the host challenge and the card's
//! INITIALIZE UPDATE response, show the session keys, the cryptograms and the APDUs a host
//! sends.

use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use provisio_gp::Command;
use provisio_gp::scp03::{HostHandshake, InitUpdateResponse, SecurityLevel, StaticKeys};
use serde_json::json;

/// `provisio gp` commands.
#[derive(Debug, Subcommand)]
pub(crate) enum GpCommand {
    /// SCP03 (GlobalPlatform Amendment D) tools.
    #[command(subcommand)]
    Scp03(Scp03Command),
}

/// `provisio gp scp03` commands.
#[derive(Debug, Subcommand)]
pub(crate) enum Scp03Command {
    /// Session keys, card cryptogram check, host cryptogram and the EXTERNAL AUTHENTICATE APDU.
    Derive(DeriveArgs),
    /// As `derive`, then each `--apdu` wrapped (C-MAC, and C-DECRYPTION at levels 03 and 33).
    Wrap(WrapArgs),
}

/// The session inputs both commands take.
#[derive(Debug, Args)]
pub(crate) struct DeriveArgs {
    /// Static K-ENC (hex, 16, 24 or 32 bytes).
    #[arg(long)]
    enc: String,
    /// Static K-MAC (hex).
    #[arg(long)]
    mac: String,
    /// Static K-DEK (hex).
    #[arg(long)]
    dek: String,
    /// The 8-byte host challenge sent in INITIALIZE UPDATE (hex).
    #[arg(long)]
    host_challenge: String,
    /// The card's INITIALIZE UPDATE response data, without the status word (hex).
    #[arg(long)]
    init_update_response: String,
    /// Security level for EXTERNAL AUTHENTICATE: 00, 01, 03, 11, 13 or 33 (hex).
    #[arg(long)]
    level: String,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

/// `wrap` options.
#[derive(Debug, Args)]
pub(crate) struct WrapArgs {
    #[command(flatten)]
    session: DeriveArgs,
    /// A plain command APDU (hex) sent after EXTERNAL AUTHENTICATE; repeat, in order.
    #[arg(long = "apdu", required = true)]
    apdus: Vec<String>,
}

fn hex_arg(name: &str, value: &str) -> anyhow::Result<Vec<u8>> {
    let cleaned: String = value
        .chars()
        .filter(|c| !c.is_whitespace() && *c != ':')
        .collect();
    hex::decode(&cleaned).with_context(|| format!("--{name} is not hex"))
}

fn up(bytes: &[u8]) -> String {
    hex::encode_upper(bytes)
}

fn encode(cmd: &Command) -> anyhow::Result<String> {
    Ok(up(&cmd.encode().context("encoding an APDU")?))
}

pub(crate) fn run(command: GpCommand) -> anyhow::Result<ExitCode> {
    let GpCommand::Scp03(command) = command;
    let (args, apdus) = match command {
        Scp03Command::Derive(args) => (args, None),
        Scp03Command::Wrap(args) => (args.session, Some(args.apdus)),
    };
    let response = hex_arg("init-update-response", &args.init_update_response)?;
    let parsed = InitUpdateResponse::parse(&response).context("--init-update-response")?;
    let keys = StaticKeys::from_bytes(
        parsed.kvn,
        &hex_arg("enc", &args.enc)?,
        &hex_arg("mac", &args.mac)?,
        &hex_arg("dek", &args.dek)?,
    )
    .context("static keys")?;
    let host_challenge: [u8; 8] = hex_arg("host-challenge", &args.host_challenge)?
        .try_into()
        .map_err(|_| anyhow::anyhow!("--host-challenge must be 8 bytes"))?;
    let level_byte = hex_arg("level", &args.level)?;
    let [level_byte] = level_byte.as_slice() else {
        bail!("--level must be one byte, such as 33");
    };
    let level = SecurityLevel::from_byte(*level_byte)?;

    let handshake = HostHandshake::new(keys, host_challenge, level);
    let (d, ext, mut channel) = handshake.diagnose(&response)?;
    let expected = d
        .session
        .card_cryptogram(&host_challenge, &d.response.card_challenge);
    let mut wrapped = Vec::new();
    if let Some(apdus) = &apdus {
        if !d.card_cryptogram_ok {
            bail!(
                "the card cryptogram does not verify under these keys: nothing to wrap (run `derive` to see both values)"
            );
        }
        for (i, a) in apdus.iter().enumerate() {
            let plain = Command::parse(&hex_arg("apdu", a)?)
                .with_context(|| format!("--apdu number {} is not a command APDU", i + 1))?;
            wrapped.push(encode(&channel.wrap(plain)?)?);
        }
    }
    let counter = d.response.sequence_counter.map(|c| format!("{c:06X}"));
    let out = json!({
        "kvn": format!("{:02X}", d.response.kvn),
        "i": format!("{:02X}", d.response.i),
        "sequence_counter": counter,
        "card_challenge": up(&d.response.card_challenge),
        "s_enc": up(d.session.enc.export().expose()),
        "s_mac": up(d.session.mac.export().expose()),
        "s_rmac": up(d.session.rmac.export().expose()),
        "card_cryptogram": up(&d.response.card_cryptogram),
        "card_cryptogram_expected": up(&expected),
        "card_cryptogram_ok": d.card_cryptogram_ok,
        "host_cryptogram": up(&d.host_cryptogram),
        "external_authenticate": encode(&ext)?,
        "wrapped": if apdus.is_some() { json!(wrapped) } else { serde_json::Value::Null },
    });
    if args.json {
        println!("{out}");
    } else {
        let s = |k: &str| {
            out.get(k)
                .and_then(|v| v.as_str())
                .unwrap_or("-")
                .to_owned()
        };
        println!(
            "key version            {} (SCP03, i={}, S8)",
            s("kvn"),
            s("i")
        );
        println!("sequence counter       {}", s("sequence_counter"));
        println!("card challenge         {}", s("card_challenge"));
        println!("S-ENC                  {}", s("s_enc"));
        println!("S-MAC                  {}", s("s_mac"));
        println!("S-RMAC                 {}", s("s_rmac"));
        if d.card_cryptogram_ok {
            println!("card cryptogram        {} verified", s("card_cryptogram"));
        } else {
            println!(
                "card cryptogram        {} MISMATCH (expected {}: wrong keys or not this card)",
                s("card_cryptogram"),
                s("card_cryptogram_expected")
            );
        }
        println!("host cryptogram        {}", s("host_cryptogram"));
        println!("EXTERNAL AUTHENTICATE  {}", s("external_authenticate"));
        for (a, w) in apdus.iter().flatten().zip(&wrapped) {
            println!("{}  ->  {w}", a.to_uppercase());
        }
    }
    Ok(ExitCode::SUCCESS)
}
