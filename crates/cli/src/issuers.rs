//! `provisio issuers`: an issuer's card ranges and decisioning endpoint on a running token
//! service (docs/cli.md#issuers, docs/protocol.md §17.1 and §17.3), with the admin key.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use serde_json::{Value, json};

use crate::tokens::{EXIT_USAGE, Remote, print_answer};

/// `provisio issuers` options.
#[derive(Debug, Args)]
pub(crate) struct IssuersArgs {
    #[command(flatten)]
    remote: Remote,
    #[command(subcommand)]
    command: IssuersCommand,
}

/// `provisio issuers` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum IssuersCommand {
    /// Replace the issuer's card ranges (prefixes of 6 to 11 digits; none: clear them).
    BinRanges {
        /// The issuer.
        issuer_id: String,
        /// The prefixes.
        prefixes: Vec<String>,
    },
    /// Whether the issuer's pushes in the step-up band still step up (`on`) or are approved as
    /// authenticated by its app (`off`, the default).
    PushStepUp {
        /// The issuer.
        issuer_id: String,
        /// `on` or `off`.
        #[arg(value_parser = ["on", "off"])]
        setting: String,
    },
    /// Set where the issuer decides on cards entered in a wallet.
    Decisioning {
        /// The issuer.
        issuer_id: String,
        /// Its endpoint (https; plain http only to a loopback address).
        #[arg(long)]
        endpoint: String,
        /// A file with the EC P-256 public JWK (with kid) card data is encrypted to.
        #[arg(long)]
        jwk: PathBuf,
    },
}

pub(crate) async fn run(args: IssuersArgs) -> anyhow::Result<ExitCode> {
    let api = match args.remote.api() {
        Ok(api) => api,
        Err(code) => return Ok(code),
    };
    let (issuer_id, what, body) = match &args.command {
        IssuersCommand::BinRanges {
            issuer_id,
            prefixes,
        } => (issuer_id, "bin-ranges", json!({ "bin_ranges": prefixes })),
        IssuersCommand::PushStepUp { issuer_id, setting } => (
            issuer_id,
            "push-step-up",
            json!({ "push_step_up": setting == "on" }),
        ),
        IssuersCommand::Decisioning {
            issuer_id,
            endpoint,
            jwk,
        } => {
            let jwk: Value = match std::fs::read_to_string(jwk)
                .ok()
                .and_then(|t| serde_json::from_str(&t).ok())
            {
                Some(v) => v,
                None => {
                    eprintln!("error: {} does not hold a JSON JWK", jwk.display());
                    return Ok(ExitCode::from(EXIT_USAGE));
                }
            };
            (
                issuer_id,
                "decisioning",
                json!({ "url": endpoint, "encryption_jwk": jwk }),
            )
        }
    };
    let path = format!(
        "/v1/admin/issuers/{}/{what}",
        crate::tokens::encode(issuer_id)
    );
    let answer = api.raw(reqwest::Method::PUT, &path, Some(&body)).await;
    print_answer(answer, args.remote.json, |v| match what {
        "bin-ranges" => format!(
            "{issuer_id}: card ranges {}\n",
            v["bin_ranges"]
                .as_array()
                .map(|a| a
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(", "))
                .unwrap_or_default()
        ),
        "push-step-up" => format!(
            "{issuer_id}: pushes in the step-up band {}\n",
            if v.pointer("/push_step_up").and_then(Value::as_bool) == Some(true) {
                "step up"
            } else {
                "are approved as authenticated by its app"
            }
        ),
        _ => format!(
            "{issuer_id}: decisioning at {}, card data encrypted to key {}\n",
            v.pointer("/url").and_then(Value::as_str).unwrap_or(""),
            v.pointer("/encryption_jwk/kid")
                .and_then(Value::as_str)
                .unwrap_or("")
        ),
    })
}
