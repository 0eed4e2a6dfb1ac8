//! `provisio tokens`: read, find, suspend, resume and delete tokens on a running token service
//! (docs/cli.md#tokens), with the admin key (or an issuer's or a token requestor's: the server
//! decides what the key sees). Also the small HTTP caller the demo's token-life flows use.

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

use clap::builder::PossibleValuesParser;
use clap::{Args, Subcommand};
use provisio_tsp::token_wire::{TokenAnswer, TokenList};
use provisio_types::Pan;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// Exit code: the server refused (its problem is printed as `code: detail`).
pub(crate) const EXIT_REFUSED: u8 = 1;
/// Exit code: the command line or its input is wrong (also clap's usage errors).
pub(crate) const EXIT_USAGE: u8 = 2;
/// Exit code: the server could not be reached or answered something undocumented.
pub(crate) const EXIT_TRANSPORT: u8 = 3;

/// `provisio tokens` options.
#[derive(Debug, Args)]
pub(crate) struct TokensArgs {
    #[command(flatten)]
    remote: Remote,
    #[command(subcommand)]
    command: TokensCommand,
}

/// Which running token service, with which key, and how to print its answers (the flags of
/// `provisio tokens` and `provisio issuers`).
#[derive(Debug, Args)]
pub(crate) struct Remote {
    /// The token service's base URL.
    #[arg(
        long,
        env = "PROVISIO_URL",
        default_value = "http://127.0.0.1:8080",
        global = true
    )]
    url: String,
    /// The API key: the admin key (an issuer's or a token requestor's key sees its own tokens
    /// only).
    #[arg(
        long,
        env = "PROVISIO_ADMIN_KEY",
        hide_env_values = true,
        global = true
    )]
    key: Option<String>,
    /// Print the server's answer (or problem document) as JSON.
    #[arg(long, global = true)]
    pub(crate) json: bool,
}

impl Remote {
    /// The caller of the service with the key, or the usage error of a missing key.
    pub(crate) fn api(&self) -> Result<Api, ExitCode> {
        match self.key.as_deref().filter(|k| !k.is_empty()) {
            Some(key) => Ok(Api::new(&self.url, key)),
            None => {
                eprintln!("error: no API key: pass --key or set PROVISIO_ADMIN_KEY");
                Err(ExitCode::from(EXIT_USAGE))
            }
        }
    }
}

/// `provisio tokens` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum TokensCommand {
    /// Show one token with its history.
    Get {
        /// The token's reference id.
        token_ref_id: String,
    },
    /// Find the live tokens of a card (the PAN read from standard input), or of a wallet user
    /// and/or device (a token requestor's key).
    Search {
        /// Read the card's PAN from standard input (one line); it is sent in the request body
        /// only. There is no `--pan`: a PAN on the command line stays in the shell's history
        /// and in the process list.
        #[arg(long, conflicts_with_all = ["wallet_user_id", "device_id"])]
        pan_stdin: bool,
        /// The wallet's user (a token requestor's key).
        #[arg(long)]
        wallet_user_id: Option<String>,
        /// The device (a token requestor's key).
        #[arg(long)]
        device_id: Option<String>,
        /// Refused, with the reason: use --pan-stdin.
        #[arg(long, hide = true)]
        pan: Option<String>,
    },
    /// Suspend an ACTIVE token.
    Suspend(ChangeArgs),
    /// Resume a SUSPENDED token.
    Resume(ChangeArgs),
    /// Delete a token for good.
    Delete(ChangeArgs),
    /// Activate an INACTIVE token whose step-up offers CALL_CENTER, as the issuer's call centre
    /// (an issuer's key; docs/protocol.md §17.5).
    Activate {
        /// The token's reference id.
        token_ref_id: String,
        /// The agent who authenticated the cardholder (named in the token's history).
        #[arg(long)]
        agent_id: String,
    },
}

/// What a suspend, resume or delete names.
#[derive(Debug, Args)]
pub(crate) struct ChangeArgs {
    /// The token's reference id.
    token_ref_id: String,
    /// Why (case does not matter).
    #[arg(long, ignore_case = true, value_parser = PossibleValuesParser::new(provisio_tsp::Reason::ALL.iter().map(|r| r.as_str())))]
    reason: String,
}

/// An RFC 9457 problem document as the token service sends it.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Problem {
    /// HTTP status.
    pub(crate) status: u16,
    /// Stable code (docs/protocol.md §4).
    pub(crate) code: String,
    /// What happened.
    pub(crate) detail: String,
    /// `already_in_wallet`: the existing token.
    #[serde(default)]
    pub(crate) token_ref_id: Option<String>,
}

/// Why a call failed.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The server refused; the document as sent and as read.
    Refused(Value, Problem),
    /// The server could not be reached or answered something undocumented.
    Transport(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Refused(_, p) => write!(f, "{} {}: {}", p.status, p.code, p.detail),
            Self::Transport(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for Failure {}

/// A token service and the key to call it with.
#[derive(Debug, Clone)]
pub(crate) struct Api {
    base: String,
    key: String,
    http: reqwest::Client,
}

impl Api {
    /// A caller of `base` with `key`.
    pub(crate) fn new(base: &str, key: &str) -> Self {
        Self {
            base: base.trim_end_matches('/').to_owned(),
            key: key.to_owned(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap_or_default(),
        }
    }

    /// The same over `http` (the demo's, which trusts its own CA).
    pub(crate) fn with_http(base: &str, key: &str, http: reqwest::Client) -> Self {
        Self {
            http,
            ..Self::new(base, key)
        }
    }

    /// One call; the answer's JSON (`null` for a 204), or the problem.
    pub(crate) async fn raw(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, Failure> {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.key);
        if let Some(body) = body {
            req = req
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(serde_json::to_vec(body).map_err(|e| Failure::Transport(e.to_string()))?);
        }
        let answer = req
            .send()
            .await
            .map_err(|e| Failure::Transport(format!("cannot reach {}: {e}", self.base)))?;
        let status = answer.status();
        let bytes = answer
            .bytes()
            .await
            .map_err(|e| Failure::Transport(format!("reading the answer: {e}")))?;
        provisio_client::capture::response(
            status.as_u16(),
            &format!("{}{path}", self.base),
            &bytes,
        );
        if status.is_success() {
            if bytes.is_empty() {
                return Ok(Value::Null);
            }
            return serde_json::from_slice(&bytes).map_err(|_| {
                Failure::Transport(format!("HTTP {status} with an answer that is not JSON"))
            });
        }
        let doc: Value = serde_json::from_slice(&bytes)
            .map_err(|_| Failure::Transport(format!("HTTP {status} without a problem document")))?;
        let problem: Problem = serde_json::from_value(doc.clone())
            .map_err(|_| Failure::Transport(format!("HTTP {status} without a problem document")))?;
        Err(Failure::Refused(doc, problem))
    }

    /// One call, its answer read as `T`.
    pub(crate) async fn call<T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<T, Failure> {
        let v = self.raw(method, path, body).await?;
        serde_json::from_value(v)
            .map_err(|e| Failure::Transport(format!("undocumented answer: {e}")))
    }

    /// `GET /v1/tokens/{token_ref_id}`.
    pub(crate) async fn token(&self, token_ref_id: &str) -> Result<TokenAnswer, Failure> {
        self.call(reqwest::Method::GET, &token_path(token_ref_id, ""), None)
            .await
    }

    /// `POST /v1/tokens/{token_ref_id}/{action}` (`suspend`, `resume`, `delete`).
    pub(crate) async fn change(
        &self,
        token_ref_id: &str,
        action: &str,
        reason: &str,
    ) -> Result<TokenAnswer, Failure> {
        let body = json!({ "reason": reason });
        self.call(
            reqwest::Method::POST,
            &token_path(token_ref_id, &format!("/{action}")),
            Some(&body),
        )
        .await
    }

    /// `POST /v1/tokens/search`.
    pub(crate) async fn search(&self, body: &Value) -> Result<TokenList, Failure> {
        self.call(reqwest::Method::POST, "/v1/tokens/search", Some(body))
            .await
    }

    /// `POST /v1/cards/{action}` (an issuer's key): every live token of a card.
    pub(crate) async fn card(
        &self,
        action: &str,
        pan: &Pan,
        reason: &str,
    ) -> Result<TokenList, Failure> {
        let body = json!({ "pan": pan.expose(), "reason": reason });
        self.call(
            reqwest::Method::POST,
            &format!("/v1/cards/{action}"),
            Some(&body),
        )
        .await
    }

    /// `POST /v1/cards/reissue` (an issuer's key).
    pub(crate) async fn reissue(
        &self,
        pan: &Pan,
        new_pan: Option<&Pan>,
        exp_month: u8,
        exp_year: u16,
    ) -> Result<TokenList, Failure> {
        let body = json!({
            "pan": pan.expose(),
            "new_pan": new_pan.map(Pan::expose),
            "exp_month": exp_month,
            "exp_year": exp_year,
        });
        self.call(reqwest::Method::POST, "/v1/cards/reissue", Some(&body))
            .await
    }

    /// `PUT /v1/admin/{issuers|token-requestors}/{id}/notifications` (the admin key).
    pub(crate) async fn set_notifications(
        &self,
        participants: &str,
        id: &str,
        url: Option<&str>,
    ) -> Result<(), Failure> {
        let body = json!({ "url": url });
        self.raw(
            reqwest::Method::PUT,
            &format!("/v1/admin/{participants}/{}/notifications", encode(id)),
            Some(&body),
        )
        .await
        .map(|_| ())
    }
}

/// `/v1/tokens/{token_ref_id}{rest}`, the id percent-encoded: a reference id may hold any
/// printable character, and a `/` or `?` in it must not change the path.
fn token_path(token_ref_id: &str, rest: &str) -> String {
    format!("/v1/tokens/{}{rest}", encode(token_ref_id))
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
pub(crate) fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

pub(crate) async fn run(args: TokensArgs) -> anyhow::Result<ExitCode> {
    let api = match args.remote.api() {
        Ok(api) => api,
        Err(code) => return Ok(code),
    };
    let json = args.remote.json;
    let (answer, list) = match &args.command {
        TokensCommand::Get { token_ref_id } => (
            api.raw(reqwest::Method::GET, &token_path(token_ref_id, ""), None)
                .await,
            false,
        ),
        TokensCommand::Search {
            pan_stdin,
            wallet_user_id,
            device_id,
            pan,
        } => {
            if pan.is_some() {
                eprintln!(
                    "error: --pan is refused: a PAN on the command line stays in the shell's history and the process list; pipe it in with --pan-stdin"
                );
                return Ok(ExitCode::from(EXIT_USAGE));
            }
            if !pan_stdin && wallet_user_id.is_none() && device_id.is_none() {
                eprintln!(
                    "error: search needs --pan-stdin, or --wallet-user-id and/or --device-id"
                );
                return Ok(ExitCode::from(EXIT_USAGE));
            }
            let body = if *pan_stdin {
                match read_pan() {
                    Ok(pan) => json!({ "pan": pan.expose() }),
                    Err(e) => {
                        eprintln!("error: {e}");
                        return Ok(ExitCode::from(EXIT_USAGE));
                    }
                }
            } else {
                json!({ "wallet_user_id": wallet_user_id, "device_id": device_id })
            };
            (
                api.raw(reqwest::Method::POST, "/v1/tokens/search", Some(&body))
                    .await,
                true,
            )
        }
        TokensCommand::Activate {
            token_ref_id,
            agent_id,
        } => {
            let answer = api
                .raw(
                    reqwest::Method::POST,
                    &token_path(token_ref_id, "/activate"),
                    Some(&json!({ "agent_id": agent_id })),
                )
                .await;
            return print_answer(answer, json, |v| {
                format!(
                    "token {} {} (activated by agent {})\n",
                    v["token_ref_id"].as_str().unwrap_or(""),
                    v["status"].as_str().unwrap_or(""),
                    v["agent_id"].as_str().unwrap_or("")
                )
            });
        }
        TokensCommand::Suspend(c) | TokensCommand::Resume(c) | TokensCommand::Delete(c) => {
            let action = match &args.command {
                TokensCommand::Suspend(_) => "suspend",
                TokensCommand::Resume(_) => "resume",
                _ => "delete",
            };
            let body = json!({ "reason": c.reason.to_ascii_uppercase() });
            (
                api.raw(
                    reqwest::Method::POST,
                    &token_path(&c.token_ref_id, &format!("/{action}")),
                    Some(&body),
                )
                .await,
                false,
            )
        }
    };
    match answer {
        Ok(v) => {
            if json {
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else if list {
                let l: TokenList = match serde_json::from_value(v) {
                    Ok(l) => l,
                    Err(e) => return Ok(transport(&format!("undocumented answer: {e}"))),
                };
                print!("{}", table(&l.tokens));
            } else {
                let t: TokenAnswer = match serde_json::from_value(v) {
                    Ok(t) => t,
                    Err(e) => return Ok(transport(&format!("undocumented answer: {e}"))),
                };
                print!("{}", summary(&t));
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(Failure::Refused(doc, p)) => {
            if json {
                println!("{}", serde_json::to_string_pretty(&doc)?);
            }
            eprintln!("{}: {}", p.code, p.detail);
            Ok(ExitCode::from(EXIT_REFUSED))
        }
        Err(Failure::Transport(e)) => Ok(transport(&e)),
    }
}

/// Prints a call's answer (`--json`: as it came; otherwise `summary` of it) or its refusal
/// (`code: detail` on standard error), and the exit code that says which.
pub(crate) fn print_answer(
    answer: Result<Value, Failure>,
    json: bool,
    summary: impl FnOnce(&Value) -> String,
) -> anyhow::Result<ExitCode> {
    match answer {
        Ok(v) => {
            if json {
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                print!("{}", summary(&v));
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(Failure::Refused(doc, p)) => {
            if json {
                println!("{}", serde_json::to_string_pretty(&doc)?);
            }
            eprintln!("{}: {}", p.code, p.detail);
            Ok(ExitCode::from(EXIT_REFUSED))
        }
        Err(Failure::Transport(e)) => Ok(transport(&e)),
    }
}

fn transport(e: &str) -> ExitCode {
    eprintln!("error: {e}");
    ExitCode::from(EXIT_TRANSPORT)
}

/// The PAN from one line of standard input (spaces and dashes dropped). Errors never
/// contain it.
fn read_pan() -> anyhow::Result<Pan> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("card number: ");
        let _ = std::io::stderr().flush();
    }
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .map_err(|_| anyhow::anyhow!("cannot read the PAN from standard input"))?;
    let digits: String = line
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    Pan::parse(&digits).map_err(|_| {
        anyhow::anyhow!("standard input does not hold a card number (12 to 19 digits, Luhn-valid)")
    })
}

/// One token, readable.
pub(crate) fn summary(t: &TokenAnswer) -> String {
    let mut out = String::new();
    let mut line = |label: &str, value: String| {
        out.push_str(&format!("{label:<16}{value}\n"));
    };
    line("token", t.token_ref_id.clone());
    line("status", t.status.clone());
    line("last4", t.last4.clone());
    line("expiry", format!("{:02}/{}", t.exp_month, t.exp_year));
    line("issuer", t.issuer_id.clone());
    line("token requestor", t.token_requestor_id.clone());
    line("wallet user", t.wallet_user_id.clone());
    line("device", t.device_id.clone());
    line("account_ref", t.account_ref.clone());
    line("created", utc(t.created_at));
    out.push_str("history\n");
    let w0 = t.history.iter().map(|h| h.status.len()).max().unwrap_or(0);
    let w1 = t.history.iter().map(|h| h.reason.len()).max().unwrap_or(0);
    for h in &t.history {
        out.push_str(&format!(
            "  {}  {:<w0$}  {:<w1$}  {}\n",
            utc(h.at),
            h.status,
            h.reason,
            h.actor,
        ));
    }
    out
}

/// Tokens, one line each, then how many.
pub(crate) fn table(tokens: &[TokenAnswer]) -> String {
    let header = [
        "TOKEN_REF_ID",
        "STATUS",
        "LAST4",
        "EXPIRY",
        "WALLET_USER",
        "DEVICE",
        "ACCOUNT_REF",
    ];
    let rows: Vec<[String; 7]> = tokens
        .iter()
        .map(|t| {
            [
                t.token_ref_id.clone(),
                t.status.clone(),
                t.last4.clone(),
                format!("{:02}/{}", t.exp_month, t.exp_year),
                t.wallet_user_id.clone(),
                t.device_id.clone(),
                t.account_ref.clone(),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    let mut out = String::new();
    let mut push_row = |cells: &mut dyn Iterator<Item = &str>| {
        let line: Vec<String> = cells.zip(widths).map(|(c, w)| format!("{c:<w$}")).collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    };
    if !rows.is_empty() {
        push_row(&mut header.iter().copied());
        for row in &rows {
            push_row(&mut row.iter().map(String::as_str));
        }
    }
    out.push_str(&match tokens.len() {
        0 => "no tokens\n".to_owned(),
        1 => "1 token\n".to_owned(),
        n => format!("{n} tokens\n"),
    });
    out
}

/// Unix seconds as `YYYY-MM-DD HH:MM:SS UTC` (H. Hinnant's `civil_from_days`).
pub(crate) fn utc(t: i64) -> String {
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_as_utc() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(1_709_251_199), "2024-02-29 23:59:59 UTC");
        assert_eq!(utc(1_795_392_000 + 3661), "2026-11-23 01:01:01 UTC");
    }

    #[test]
    fn ids_cannot_change_the_path() {
        assert_eq!(token_path("tr_1", "/suspend"), "/v1/tokens/tr_1/suspend");
        assert_eq!(token_path("a/../b?x", ""), "/v1/tokens/a%2F..%2Fb%3Fx");
    }
}
