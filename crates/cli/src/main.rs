//! `provisio`: the Provisio command line (docs/cli.md).

mod bench;
mod demo;
mod gp;
mod issuers;
mod logging;
mod risk;
mod se;
mod serve;
mod settings;
mod tokens;

use clap::{Parser, Subcommand};

/// Provisio puts payment credentials onto phones.
#[derive(Debug, Parser)]
#[command(name = "provisio", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server.
    Serve(serve::ServeArgs),
    /// Start a server in-process on loopback and play every supported flow against it.
    Demo(demo::DemoArgs),
    /// Benchmarks: push provisioning under load against a server process on loopback.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// Risk policy tools: evaluate offline, validate.
    #[command(subcommand)]
    Risk(risk::RiskCommand),
    /// GlobalPlatform tools: SCP03 derive and wrap.
    #[command(subcommand)]
    Gp(gp::GpCommand),
    /// A virtual secure element in a file: create, inspect, send APDUs, open SCP03 sessions.
    #[command(subcommand)]
    Se(se::SeCommand),
    /// A running token service's tokens: get, search, suspend, resume, delete, activate.
    Tokens(tokens::TokensArgs),
    /// A running token service's issuers: card ranges, decisioning endpoint.
    Issuers(issuers::IssuersArgs),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve(args) => serve::run(args).await,
            Command::Demo(args) => demo::run(args).await,
            Command::Bench(command) => bench::run(command).await,
            Command::Risk(command) => risk::run(command),
            Command::Gp(command) => gp::run(command),
            Command::Se(command) => se::run(command),
            Command::Tokens(args) => tokens::run(args).await,
            Command::Issuers(args) => issuers::run(args).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// mimalloc instead of the system allocator: under load glibc's malloc and free took about 11 %
/// of the server's CPU, and with mimalloc the server spends about 12 % less CPU per push
/// provisioning (docs/benchmarking.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
