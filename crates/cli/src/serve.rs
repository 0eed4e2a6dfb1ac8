//! `provisio serve`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::Args;
use provisio_crypto::{AwsLcProvider, SecretBytes};
use provisio_server::serving::{HttpLimits, Outgoing, Serving, Tls, TlsFiles, serve};
use provisio_server::{
    NoGateway, NotificationSink, SeiLink, SeiState, SpState, SystemClock, WebhookSink, bootstrap,
    new_api_key, sei_router, sp_router, spawn_delivery, spawn_pending_sweep, spawn_sp_driver,
};
use provisio_store::{SqlStore, Store};
use tokio::net::TcpListener;

use crate::settings::{self, ConfigFile};

/// `provisio serve` options.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "PROVISIO_LISTEN", default_value = "127.0.0.1:8080")]
    listen: String,
    /// Directory for the SQLite database and, without PROVISIO_MASTER_KEY, the master key.
    #[arg(long, env = "PROVISIO_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Database URL (`sqlite://...` or `postgres://...`); default: provisio.db in the data
    /// directory.
    #[arg(long, env = "PROVISIO_DATABASE_URL")]
    database_url: Option<String>,
    /// TOML file: tsp_id, freshness_window_s, token_bin_prefix, token_bin_length,
    /// token_validity_months, risk_policy, notification_webhook, [step_up], [accounts]
    /// (docs/operations.md §2).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Log one JSON object per line.
    #[arg(long)]
    log_json: bool,
    /// Which party this process is: the token service (`tsp`, the default) or a carrier's
    /// trusted service manager (`sei-tsm`, its own database and admin key).
    #[arg(long, env = "PROVISIO_ROLE", value_enum, default_value = "tsp")]
    role: Role,
    #[command(flatten)]
    sp: SpArgs,
    #[command(flatten)]
    tls: TlsArgs,
}

/// TLS (docs/operations.md §4).
#[derive(Debug, Args)]
pub(crate) struct TlsArgs {
    /// Serve TLS with this certificate chain (PEM, leaf first); reloaded on SIGHUP.
    #[arg(long, env = "PROVISIO_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM).
    #[arg(long, env = "PROVISIO_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Require client certificates issued by these CAs (PEM): mutual TLS.
    #[arg(long, env = "PROVISIO_TLS_CLIENT_CA", requires = "tls_cert")]
    tls_client_ca: Option<PathBuf>,
    /// Extra CAs (PEM) trusted for this server's own calls to partners.
    #[arg(long, env = "PROVISIO_TRUST_CA")]
    trust_ca: Option<PathBuf>,
    /// A TLS-terminating proxy is in front: serve plain HTTP on a non-loopback address, and
    /// take the peer address for throttling from the proxy's X-Forwarded-For.
    #[arg(long, env = "PROVISIO_BEHIND_TLS_PROXY")]
    behind_tls_proxy: bool,
}

impl TlsArgs {
    /// How to serve, and what outgoing calls trust and present (the serving certificate
    /// doubles as the client certificate toward partners that ask for one).
    fn serving(&self, limits: HttpLimits) -> anyhow::Result<(Serving, Outgoing)> {
        let files = match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => Some(TlsFiles {
                cert: cert.clone(),
                key: key.clone(),
                client_ca: self.tls_client_ca.clone(),
            }),
            _ => None,
        };
        let tls = files.clone().map(Tls::load).transpose()?;
        if let Some(tls) = &tls {
            tls.reload_on_sighup();
        }
        let outgoing = Outgoing::load(self.trust_ca.as_deref(), files.as_ref())?;
        let serving = Serving {
            limits,
            tls,
            behind_tls_proxy: self.behind_tls_proxy,
        };
        Ok((serving, outgoing))
    }
}

/// Binds `listen`, refusing a non-loopback address in clear.
async fn bind(listen: &str, serving: &Serving) -> anyhow::Result<TcpListener> {
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding {listen}"))?;
    serving
        .check_listen(listener.local_addr()?)
        .map_err(anyhow::Error::msg)?;
    Ok(listener)
}

/// The party a server process plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Role {
    /// The token service.
    Tsp,
    /// The carrier's trusted service manager (SEI-TSM).
    SeiTsm,
    /// An issuer's trusted service manager (SP-TSM).
    SpTsm,
}

/// What the SP-TSM role needs besides the common options.
#[derive(Debug, Args)]
pub(crate) struct SpArgs {
    /// The carrier TSM's base URL.
    #[arg(long, env = "PROVISIO_SEI_URL")]
    sei_url: Option<String>,
    /// This provider's API key at the carrier TSM (from its operator's registration, which
    /// needs this TSM's key: `GET /v1/sp/keys/handover`).
    #[arg(long, env = "PROVISIO_SEI_KEY")]
    sei_key: Option<String>,
    /// Hex AID prefix of this provider's domains and applets (at least the 5-byte RID).
    #[arg(long, env = "PROVISIO_SP_AID_PREFIX")]
    sp_aid_prefix: Option<String>,
    /// The base URL other parties reach this service at: phones reach an SP-TSM there (given
    /// to the carrier for delegation); issuers' TSMs report to the token service there.
    #[arg(long, env = "PROVISIO_PUBLIC_URL")]
    public_url: Option<String>,
}

pub(crate) async fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    crate::logging::init("info", args.log_json);
    let file = match &args.config {
        Some(path) => ConfigFile::load(path)?,
        None => ConfigFile::default(),
    };
    let config = file.tsp_config()?;
    let accounts = file.accounts_config()?;
    tracing::info!(version = config.risk_policy.version(), "risk policy loaded");
    let data_dir = args.data_dir.unwrap_or_else(settings::default_data_dir);
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("creating {}", data_dir.display()))?;
    let crypto = AwsLcProvider::new();
    let master = settings::master_key(
        &crypto,
        std::env::var("PROVISIO_MASTER_KEY").ok().as_deref(),
        &data_dir,
    )?;
    let url = settings::database_url(args.database_url, &data_dir);

    let admin_key = match std::env::var("PROVISIO_ADMIN_KEY") {
        Ok(k) => {
            settings::checked_admin_key(&k)?;
            k
        }
        Err(_) => {
            let k = new_api_key(&crypto).map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("Generated admin API key (shown once, stored only as a hash): {k}");
            k
        }
    };
    let (serving, outgoing) = args.tls.serving(file.http_limits()?)?;
    let listener = bind(&args.listen, &serving).await?;
    match args.role {
        Role::SeiTsm => return serve_sei(listener, serving, &url, master, &admin_key).await,
        Role::SpTsm => {
            return serve_sp(
                listener,
                (serving, outgoing),
                &url,
                master,
                &admin_key,
                &args.sp,
            )
            .await;
        }
        Role::Tsp => {}
    }
    let public = args.sp.public_url.clone().unwrap_or(format!(
        "{}://{}",
        serving.scheme(),
        listener.local_addr()?
    ));
    let store = open_store(&url).await?;
    let state = bootstrap(store, &master, &admin_key, config, Arc::new(SystemClock))
        .await?
        .with_accounts(accounts)
        .with_public_url(&public)
        .with_outgoing(&outgoing);
    let sink: Arc<dyn NotificationSink> = match file.notification_webhook() {
        Some(url) => Arc::new(WebhookSink::new(url)),
        None => {
            tracing::warn!(
                "no notification_webhook configured: step-up messages wait in the outbox until one is"
            );
            Arc::new(NoGateway)
        }
    };
    spawn_delivery(state.clone(), sink);
    // Pending tokens whose step-up never passed are deleted after `[tokens] pending_ttl_days`.
    spawn_pending_sweep(state.clone());
    tracing::info!(listen = %listener.local_addr()?, tls = serving.tls.is_some(), database = %redact_url(&url), "provisio serving");
    serve(
        listener,
        provisio_server::router(state),
        serving,
        shutdown_signal(),
    )
    .await?;
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// The carrier TSM role: its routes over its own tables.
async fn serve_sei(
    listener: TcpListener,
    serving: Serving,
    url: &str,
    master: SecretBytes,
    admin_key: &str,
) -> anyhow::Result<ExitCode> {
    let store = Arc::new(SqlStore::open(url).await?);
    let state = SeiState::new(store, master, admin_key, Arc::new(SystemClock));
    tracing::info!(listen = %listener.local_addr()?, tls = serving.tls.is_some(), database = %redact_url(url), "provisio SEI-TSM serving");
    serve(listener, sei_router(state), serving, shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// The issuer TSM role: its routes and its job driver over its own tables.
async fn serve_sp(
    listener: TcpListener,
    (serving, outgoing): (Serving, Outgoing),
    url: &str,
    master: SecretBytes,
    admin_key: &str,
    sp: &SpArgs,
) -> anyhow::Result<ExitCode> {
    let prefix = hex::decode(
        sp.sp_aid_prefix
            .as_deref()
            .context("--sp-aid-prefix (PROVISIO_SP_AID_PREFIX) is required")?,
    )
    .context("--sp-aid-prefix must be hex")?;
    if !(5..=16).contains(&prefix.len()) {
        bail!("--sp-aid-prefix must be 5 to 16 bytes");
    }
    let public = sp.public_url.clone().unwrap_or(format!(
        "{}://{}",
        serving.scheme(),
        listener.local_addr()?
    ));
    let sei = SeiLink {
        base: sp
            .sei_url
            .clone()
            .context("--sei-url (PROVISIO_SEI_URL) is required")?,
        api_key: sp.sei_key.clone().unwrap_or_default(),
    };
    if sei.api_key.is_empty() {
        tracing::warn!(
            "no PROVISIO_SEI_KEY: register this TSM's key (GET /v1/sp/keys/handover) with the carrier, then restart with it"
        );
    }
    let store = Arc::new(SqlStore::open(url).await?);
    let state = SpState::open(
        store,
        master,
        admin_key,
        Arc::new(SystemClock),
        prefix,
        public,
        sei,
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e:?}"))?
    .with_outgoing(&outgoing);
    spawn_sp_driver(state.clone(), std::time::Duration::from_secs(1));
    tracing::info!(listen = %listener.local_addr()?, tls = serving.tls.is_some(), database = %redact_url(url), "provisio SP-TSM serving");
    serve(listener, sp_router(state), serving, shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// Opens the store a URL names (`sqlite://` or `postgres://`).
pub(crate) async fn open_store(url: &str) -> anyhow::Result<Arc<dyn Store>> {
    Ok(Arc::new(SqlStore::open(url).await?))
}

/// A URL with any password removed, for logs.
fn redact_url(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://***@{}", &url[..s], &url[at + 1..]),
        _ => url.to_owned(),
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}
