//! `provisio risk eval` and `provisio risk check`: the risk policy offline.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use provisio_risk::{Policy, RiskDecision, Signals, Way, evaluate};
use provisio_tsp::wire::WalletRiskInfo;
use serde::{Deserialize, Serialize};

/// `provisio risk` commands.
#[derive(Debug, Subcommand)]
pub(crate) enum RiskCommand {
    /// Evaluate a policy on one input and print the decision with every reason.
    Eval(EvalArgs),
    /// Validate a policy file; errors name the line and the problem.
    Check(CheckArgs),
}

/// `provisio risk eval` options.
#[derive(Debug, Args)]
pub(crate) struct EvalArgs {
    /// The policy (TOML).
    #[arg(long)]
    policy: PathBuf,
    /// The input (JSON): `{"issuer_id": .., "wallet_risk": {..} or absent, "signals": {..}}`.
    #[arg(long)]
    input: PathBuf,
    /// Print the decision as JSON.
    #[arg(long)]
    json: bool,
}

/// `provisio risk check` options.
#[derive(Debug, Args)]
pub(crate) struct CheckArgs {
    /// The policy (TOML).
    #[arg(long)]
    policy: PathBuf,
}

/// One offline evaluation's input: what the server would gather for a push request.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Input {
    /// The issuer whose overrides apply.
    #[serde(default)]
    issuer_id: String,
    /// As sent in the push request; absent means the wallet sent none.
    #[serde(default)]
    wallet_risk: Option<WalletRiskInfo>,
    /// The service's signals.
    #[serde(default)]
    signals: Signals,
    /// The way in: `{"kind": "issuer_app", "step_up": false}` (default, the trusted push) or
    /// `{"kind": "wallet", "issuer": {"decision": "APPROVE", ...} or absent}`.
    #[serde(default)]
    way: Way,
}

#[derive(Serialize)]
struct EvalOutput<'a> {
    issuer_id: &'a str,
    #[serde(flatten)]
    decision: &'a RiskDecision,
}

fn load_policy(path: &Path) -> anyhow::Result<Policy> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Policy::from_toml(&text).with_context(|| format!("{} is not a valid policy", path.display()))
}

pub(crate) fn run(command: RiskCommand) -> anyhow::Result<ExitCode> {
    match command {
        RiskCommand::Check(args) => {
            let policy = load_policy(&args.policy)?;
            println!(
                "{}: valid, version {}, {} rules",
                args.policy.display(),
                policy.version(),
                policy.rules().len()
            );
            Ok(ExitCode::SUCCESS)
        }
        RiskCommand::Eval(args) => {
            let policy = load_policy(&args.policy)?;
            let text = std::fs::read_to_string(&args.input)
                .with_context(|| format!("reading {}", args.input.display()))?;
            let input: Input = serde_json::from_str(&text)
                .with_context(|| format!("{} is not a risk input", args.input.display()))?;
            let wallet = WalletRiskInfo::to_input(input.wallet_risk.as_ref())
                .map_err(|e| anyhow::anyhow!("{}: {e}", args.input.display()))?;
            let decision = evaluate(
                &policy,
                &input.issuer_id,
                &wallet,
                &input.signals,
                &input.way,
            );
            if args.json {
                let out = EvalOutput {
                    issuer_id: &input.issuer_id,
                    decision: &decision,
                };
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                print_decision(&decision);
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn print_decision(d: &RiskDecision) {
    let wallet = match d.wallet_level {
        Some(l) if d.non_override => format!("{l} (non-override)"),
        Some(l) => format!("{l} (advisory)"),
        None => "none".into(),
    };
    println!("decision:      {:?}", d.outcome);
    println!("final level:   {}", d.final_level);
    println!("wallet level:  {wallet}");
    println!("service level: {}", d.service_level);
    println!("merge rule:    {}", d.merge_rule.as_str());
    println!("policy:        {}", d.policy_version);
    if d.fired.is_empty() {
        println!("fired rules:   none");
    } else {
        println!("fired rules:");
        for f in &d.fired {
            let effect = match (f.weight, f.floor) {
                (Some(w), _) => format!("{w:+}"),
                (_, Some(fl)) => format!("floor {fl}"),
                _ => String::new(),
            };
            println!("  {} ({effect}): {}", f.code, f.text);
        }
    }
    println!("reasons:");
    for r in &d.reasons {
        println!("  {}: {}", r.code, r.text);
    }
}
