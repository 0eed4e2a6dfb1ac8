//! `provisio se`: create, inspect and drive a virtual secure element kept in a file.
//!
//! The file is the element's memory image, keys included: it is written with owner-only
//! permissions, atomically (temporary file, fsync, rename), after every command, before the
//! response is shown. A session lasts one invocation, as a real card's lasts one power-up.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use provisio_crypto::{AwsLcProvider, CryptoProvider};
use provisio_gp::command::select;
use provisio_gp::scp03::{HostHandshake, SecurityLevel, StaticKeys};
use provisio_gp::{Aid, Command, Response};
use provisio_se::VirtualSe;

/// The GlobalPlatform test key many development cards ship with (404142…4F).
const GP_TEST_KEY: &str = "404142434445464748494A4B4C4D4E4F";

/// `provisio se` commands.
#[derive(Debug, Subcommand)]
pub(crate) enum SeCommand {
    /// Create a new element (SECURED, issuer security domain with one SCP03 key set).
    Create(CreateArgs),
    /// Show the registry, life cycle, key check values and counters (never keys).
    Inspect(FileArgs),
    /// Send raw command APDUs, in order, in one power-up.
    Send(SendArgs),
    /// Open an SCP03 session with a security domain and send commands through it.
    Exec(ExecArgs),
}

/// The element file.
#[derive(Debug, Args)]
pub(crate) struct FileArgs {
    /// The element's memory image.
    #[arg(long)]
    file: PathBuf,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Static keys of a security domain.
#[derive(Debug, Args)]
pub(crate) struct KeyArgs {
    /// K-ENC (hex); default the GlobalPlatform test key.
    #[arg(long, default_value = GP_TEST_KEY)]
    enc: String,
    /// K-MAC (hex).
    #[arg(long, default_value = GP_TEST_KEY)]
    mac: String,
    /// K-DEK (hex).
    #[arg(long, default_value = GP_TEST_KEY)]
    dek: String,
    /// Key version number (hex).
    #[arg(long, default_value = "30")]
    kvn: String,
}

/// `se create` options.
#[derive(Debug, Args)]
pub(crate) struct CreateArgs {
    /// Where to write the element.
    #[arg(long)]
    file: PathBuf,
    #[command(flatten)]
    keys: KeyArgs,
    /// The lowest security level the ISD accepts management at (hex).
    #[arg(long, default_value = "01")]
    min_level: String,
    /// Replace an existing file.
    #[arg(long)]
    force: bool,
}

/// `se send` options.
#[derive(Debug, Args)]
pub(crate) struct SendArgs {
    #[command(flatten)]
    file: FileArgs,
    /// A command APDU (hex); repeat.
    #[arg(long = "apdu", required = true)]
    apdus: Vec<String>,
}

/// `se exec` options.
#[derive(Debug, Args)]
pub(crate) struct ExecArgs {
    #[command(flatten)]
    file: FileArgs,
    #[command(flatten)]
    keys: KeyArgs,
    /// The security domain (default: the issuer security domain).
    #[arg(long)]
    sd: Option<String>,
    /// Security level (hex): 00, 01, 03, 11, 13 or 33.
    #[arg(long, default_value = "33")]
    level: String,
    /// A plain command APDU (hex) to send through the session; repeat.
    #[arg(long = "apdu")]
    apdus: Vec<String>,
}

fn hex_arg(name: &str, value: &str) -> anyhow::Result<Vec<u8>> {
    hex::decode(value.trim()).with_context(|| format!("--{name} is not hex"))
}

fn byte_arg(name: &str, value: &str) -> anyhow::Result<u8> {
    match hex_arg(name, value)?.as_slice() {
        [b] => Ok(*b),
        _ => bail!("--{name} must be one byte of hex"),
    }
}

fn static_keys(k: &KeyArgs) -> anyhow::Result<StaticKeys> {
    Ok(StaticKeys::from_bytes(
        byte_arg("kvn", &k.kvn)?,
        &hex_arg("enc", &k.enc)?,
        &hex_arg("mac", &k.mac)?,
        &hex_arg("dek", &k.dek)?,
    )?)
}

fn load(path: &Path) -> anyhow::Result<VirtualSe> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    VirtualSe::from_image(&text)
        .with_context(|| format!("{} is not an element image", path.display()))
}

/// Writes the image atomically with owner-only permissions.
fn save(path: &Path, se: &VirtualSe) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut f = options
        .open(&tmp)
        .with_context(|| format!("writing {}", tmp.display()))?;
    f.write_all(se.to_image().as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, path).with_context(|| format!("replacing {}", path.display()))?;
    Ok(())
}

/// One APDU to the element, the image saved before the answer is used.
fn transmit(path: &Path, se: &mut VirtualSe, cmd: &Command) -> anyhow::Result<Response> {
    let out = se.transmit(&cmd.encode()?);
    save(path, se)?;
    Ok(Response::parse(&out)?)
}

fn show(resp: &Response) -> String {
    let data = if resp.data.is_empty() {
        String::new()
    } else {
        format!("{} ", hex::encode_upper(&resp.data))
    };
    format!("{data}{}", resp.sw)
}

pub(crate) fn run(command: SeCommand) -> anyhow::Result<ExitCode> {
    match command {
        SeCommand::Create(args) => {
            if args.file.exists() && !args.force {
                bail!("{} exists; pass --force to replace it", args.file.display());
            }
            let level = SecurityLevel::from_byte(byte_arg("min-level", &args.min_level)?)?;
            let mut div = [0u8; 10];
            AwsLcProvider::new()
                .fill_random(&mut div)
                .context("random source")?;
            let se = VirtualSe::new(static_keys(&args.keys)?, div, level);
            save(&args.file, &se)?;
            println!(
                "created {}: SECURED, ISD {} with key version {}",
                args.file.display(),
                se.isd(),
                args.keys.kvn
            );
            if args.keys.enc == GP_TEST_KEY {
                eprintln!(
                    "note: the ISD uses the public GlobalPlatform test key; pass --enc/--mac/--dek for real keys"
                );
            }
        }
        SeCommand::Inspect(args) => {
            let se = load(&args.file)?;
            let view = se.view();
            if args.json {
                println!("{}", serde_json::to_string_pretty(&view)?);
            } else {
                println!("card life cycle  {}", view.life_cycle);
                println!("load files");
                for (aid, modules, domain) in &view.load_files {
                    println!("  {aid}  modules {}  domain {domain}", modules.join(","));
                }
                println!("applications");
                for a in &view.applications {
                    println!(
                        "  {}  {}  state {}  privileges {}  domain {}",
                        a.aid, a.kind, a.state, a.privileges, a.domain
                    );
                    for k in &a.key_sets {
                        println!("      key set {k}");
                    }
                    if let Some(c) = a.counter {
                        println!("      sequence counter {c:06X}");
                    }
                    if let Some(c) = &a.credential {
                        println!(
                            "      token …{}  expiry {}  ATC {}",
                            c.token_last4, c.expiry, c.atc
                        );
                    }
                }
            }
        }
        SeCommand::Send(args) => {
            let path = &args.file.file;
            let mut se = load(path)?;
            for a in &args.apdus {
                let cmd = Command::parse(&hex_arg("apdu", a)?)
                    .with_context(|| format!("{a} is not a command APDU"))?;
                let resp = transmit(path, &mut se, &cmd)?;
                println!(">> {}\n<< {}", a.to_uppercase(), show(&resp));
            }
        }
        SeCommand::Exec(args) => {
            let path = &args.file.file;
            let mut se = load(path)?;
            let sd: Aid = match &args.sd {
                Some(s) => s.parse().context("--sd")?,
                None => se.isd().clone(),
            };
            let level = SecurityLevel::from_byte(byte_arg("level", &args.level)?)?;
            let resp = transmit(path, &mut se, &select(&sd))?;
            if resp.sw != provisio_gp::StatusWord::OK {
                bail!("SELECT {sd}: {}", resp.sw);
            }
            let mut challenge = [0u8; 8];
            AwsLcProvider::new()
                .fill_random(&mut challenge)
                .context("random source")?;
            let hs = HostHandshake::new(static_keys(&args.keys)?, challenge, level);
            let resp = transmit(path, &mut se, &hs.initialize_update())?;
            if resp.sw != provisio_gp::StatusWord::OK {
                bail!("INITIALIZE UPDATE: {}", resp.sw);
            }
            let (ext, mut channel) = hs
                .handle_init_update(&resp.data)
                .context("INITIALIZE UPDATE response")?;
            let resp = transmit(path, &mut se, &ext)?;
            if resp.sw != provisio_gp::StatusWord::OK {
                bail!("EXTERNAL AUTHENTICATE: {}", resp.sw);
            }
            println!("session open with {sd} at level {:02X}", level.byte());
            for a in &args.apdus {
                let plain = Command::parse(&hex_arg("apdu", a)?)
                    .with_context(|| format!("{a} is not a command APDU"))?;
                let wrapped = channel.wrap(plain)?;
                let resp = transmit(path, &mut se, &wrapped)?;
                let resp = channel.unwrap(resp).context("response protection")?;
                println!(
                    ">> {}\n   wrapped {}\n<< {}",
                    a.to_uppercase(),
                    hex::encode_upper(wrapped.encode()?),
                    show(&resp)
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
