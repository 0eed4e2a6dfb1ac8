//! Server settings from flags, environment (docs/operations.md §1) and an optional TOML file.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use provisio_accounts::AccountsConfig;
use provisio_crypto::{CryptoProvider, SecretBytes};
use provisio_risk::Policy;
use provisio_server::serving::HttpLimits;
use provisio_tsp::{TokenBin, TspConfig};
use serde::Deserialize;

/// The optional `--config` file. Every member is optional; docs/operations.md §2 lists them.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConfigFile {
    tsp_id: Option<String>,
    freshness_window_s: Option<i64>,
    token_bin_prefix: Option<String>,
    token_bin_length: Option<usize>,
    token_validity_months: Option<u32>,
    /// Path of a risk policy TOML (relative paths: from the config file's directory).
    risk_policy: Option<PathBuf>,
    /// Where step-up messages are POSTed (the SMS and e-mail gateway).
    notification_webhook: Option<String>,
    /// Step-up limits.
    step_up: Option<StepUpFile>,
    /// Hosted wallet accounts: pending time, KBA limits, question counts, level rules.
    accounts: Option<AccountsConfig>,
    /// Token life: how long a pending token lives, how events are retried.
    tokens: Option<TokensFile>,
    /// Paying: the ATC window, whether phone tokens pay e-commerce.
    payments: Option<PaymentsFile>,
    /// Issuers' decisioning: the budget and the fallback.
    decisioning: Option<DecisioningFile>,
    /// The HTTP layer: timeouts, the connection cap, failed-authentication throttling.
    http: Option<HttpFile>,
    #[serde(skip)]
    base_dir: PathBuf,
}

/// `[step_up]` in the config file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct StepUpFile {
    otp_ttl_s: Option<i64>,
    max_tries_per_code: Option<u32>,
    lockout_after: Option<u32>,
    max_resends: Option<u32>,
}

/// `[tokens]` in the config file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TokensFile {
    pending_ttl_days: Option<u32>,
    event_max_attempts: Option<u32>,
    event_first_retry_s: Option<i64>,
    event_max_retry_s: Option<i64>,
}

/// `[payments]` in the config file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PaymentsFile {
    atc_window: Option<u16>,
    ecommerce: Option<bool>,
}

/// `[decisioning]` in the config file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct DecisioningFile {
    budget_ms: Option<u64>,
    fallback: Option<provisio_risk::IssuerDecision>,
}

/// `[http]` in the config file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct HttpFile {
    header_read_timeout_s: Option<u64>,
    request_timeout_s: Option<u64>,
    idle_timeout_s: Option<u64>,
    max_connections: Option<usize>,
    auth_failures_per_minute: Option<u32>,
}

impl ConfigFile {
    /// The `[http]` settings, checked.
    pub(crate) fn http_limits(&self) -> anyhow::Result<HttpLimits> {
        let mut l = HttpLimits::default();
        let Some(h) = &self.http else { return Ok(l) };
        let seconds = |name: &str, v: Option<u64>, default: Duration| -> anyhow::Result<Duration> {
            match v {
                None => Ok(default),
                Some(s @ 1..=3600) => Ok(Duration::from_secs(s)),
                Some(_) => bail!("http.{name} must be 1 to 3600 seconds"),
            }
        };
        l.header_read_timeout = seconds(
            "header_read_timeout_s",
            h.header_read_timeout_s,
            l.header_read_timeout,
        )?;
        l.request_timeout = seconds("request_timeout_s", h.request_timeout_s, l.request_timeout)?;
        l.idle_timeout = seconds("idle_timeout_s", h.idle_timeout_s, l.idle_timeout)?;
        if let Some(n) = h.max_connections {
            if !(1..=1_000_000).contains(&n) {
                bail!("http.max_connections must be 1 to 1000000");
            }
            l.max_connections = n;
        }
        l.auth_failures_per_minute = h
            .auth_failures_per_minute
            .unwrap_or(l.auth_failures_per_minute);
        Ok(l)
    }

    pub(crate) fn load(path: &Path) -> anyhow::Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let mut file: Self =
            toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        file.base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Ok(file)
    }

    /// The notification gateway's URL, if configured.
    pub(crate) fn notification_webhook(&self) -> Option<&str> {
        self.notification_webhook.as_deref()
    }

    /// The `[accounts]` settings, checked.
    pub(crate) fn accounts_config(&self) -> anyhow::Result<AccountsConfig> {
        let c = self.accounts.clone().unwrap_or_default();
        c.check().map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(c)
    }

    pub(crate) fn tsp_config(&self) -> anyhow::Result<TspConfig> {
        let mut c = TspConfig::default();
        if let Some(id) = self.tsp_id.clone() {
            c.tsp_id = id;
        }
        if let Some(w) = self.freshness_window_s {
            if !(1..=3600).contains(&w) {
                bail!("freshness_window_s must be 1 to 3600 seconds");
            }
            c.freshness_window_s = w;
        }
        if self.token_bin_prefix.is_some() || self.token_bin_length.is_some() {
            let prefix = self
                .token_bin_prefix
                .clone()
                .unwrap_or_else(|| c.token_bin.prefix().to_owned());
            let length = self.token_bin_length.unwrap_or(c.token_bin.length());
            c.token_bin = TokenBin::new(&prefix, length).map_err(|e| anyhow::anyhow!("{e}"))?;
        }
        if let Some(m) = self.token_validity_months {
            c.token_validity_months = m;
        }
        if let Some(path) = &self.risk_policy {
            let path = self.base_dir.join(path);
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("reading the risk policy {}", path.display()))?;
            c.risk_policy = Policy::from_toml(&text)
                .with_context(|| format!("the risk policy {} is invalid", path.display()))?;
        }
        if let Some(s) = &self.step_up {
            let limits = &mut c.step_up;
            if let Some(v) = s.otp_ttl_s {
                if !(60..=3600).contains(&v) {
                    bail!("step_up.otp_ttl_s must be 60 to 3600 seconds");
                }
                limits.otp_ttl_s = v;
            }
            let positive = |name: &str, v: Option<u32>, current: u32| match v {
                Some(0) => bail!("step_up.{name} must be at least 1"),
                Some(v) => Ok(v),
                None => Ok(current),
            };
            limits.max_tries_per_code = positive(
                "max_tries_per_code",
                s.max_tries_per_code,
                limits.max_tries_per_code,
            )?;
            limits.lockout_after =
                positive("lockout_after", s.lockout_after, limits.lockout_after)?;
            limits.max_resends = s.max_resends.unwrap_or(limits.max_resends);
        }
        if let Some(t) = &self.tokens {
            if let Some(days) = t.pending_ttl_days {
                if !(1..=365).contains(&days) {
                    bail!("tokens.pending_ttl_days must be 1 to 365");
                }
                c.pending_token_ttl_s = i64::from(days) * 24 * 3600;
            }
            let e = &mut c.events;
            if let Some(n) = t.event_max_attempts {
                if n == 0 {
                    bail!("tokens.event_max_attempts must be at least 1");
                }
                e.max_attempts = n;
            }
            if let Some(s) = t.event_first_retry_s {
                e.first_retry_s = s.max(1);
            }
            if let Some(s) = t.event_max_retry_s {
                e.max_retry_s = s.max(e.first_retry_s);
            }
        }
        if let Some(p) = &self.payments {
            c.payments.atc_window = p.atc_window.unwrap_or(c.payments.atc_window);
            c.payments.ecommerce = p.ecommerce.unwrap_or(c.payments.ecommerce);
        }
        if let Some(d) = &self.decisioning {
            if let Some(ms) = d.budget_ms {
                if !(50..=10_000).contains(&ms) {
                    bail!("decisioning.budget_ms must be 50 to 10000");
                }
                c.decisioning.budget_ms = ms;
            }
            c.decisioning.fallback = d.fallback.unwrap_or(c.decisioning.fallback);
        }
        Ok(c)
    }
}

/// The master key: `PROVISIO_MASTER_KEY` (64 hex characters), or a key kept in
/// `<data_dir>/master.key` (created 0600 on first use, with a warning).
pub(crate) fn master_key(
    crypto: &dyn CryptoProvider,
    from_env: Option<&str>,
    data_dir: &Path,
) -> anyhow::Result<SecretBytes> {
    if let Some(hex_key) = from_env {
        return parse_master(hex_key).context("PROVISIO_MASTER_KEY");
    }
    let path = data_dir.join("master.key");
    if path.exists() {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        return parse_master(text.trim()).with_context(|| format!("{}", path.display()));
    }
    let mut key = vec![0u8; 32];
    crypto
        .fill_random(&mut key)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let key = SecretBytes::new(key);
    write_private(&path, &hex::encode(key.expose()))?;
    tracing::warn!(path = %path.display(), "PROVISIO_MASTER_KEY is not set: generated a master key into the data directory; set PROVISIO_MASTER_KEY in production and keep it outside the data directory");
    Ok(key)
}

fn parse_master(hex_key: &str) -> anyhow::Result<SecretBytes> {
    if hex_key.len() != 64 {
        bail!("the master key must be 64 hex characters (256 bits)");
    }
    let bytes = hex::decode(hex_key).map_err(|_| anyhow::anyhow!("the master key must be hex"))?;
    if distinct(bytes.iter()) < 8 {
        bail!(
            "the master key repeats a few bytes (e.g. all zeros): it is not random; make one with `openssl rand -hex 32`"
        );
    }
    Ok(SecretBytes::new(bytes))
}

/// The admin key from `PROVISIO_ADMIN_KEY`: at least 22 characters (128 bits of base64url)
/// and not a repetition of a few characters (such as 22 times the same one), which no
/// random key is.
pub(crate) fn checked_admin_key(key: &str) -> anyhow::Result<()> {
    if key.len() < 22 {
        bail!("PROVISIO_ADMIN_KEY must be at least 22 characters (128 bits of base64url)");
    }
    if distinct(key.bytes()) < 8 {
        bail!(
            "PROVISIO_ADMIN_KEY repeats a few characters: it is not random; leave it unset and `serve` makes one"
        );
    }
    Ok(())
}

/// How many different values `items` holds.
fn distinct<T: Ord>(items: impl Iterator<Item = T>) -> usize {
    items.collect::<std::collections::BTreeSet<_>>().len()
}

/// Writes a file readable only by its owner.
pub(crate) fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(contents.as_bytes())?;
    f.sync_all()?;
    Ok(())
}

/// The database URL: the given one, or a SQLite file in the data directory.
pub(crate) fn database_url(given: Option<String>, data_dir: &Path) -> String {
    given.unwrap_or_else(|| format!("sqlite://{}", data_dir.join("provisio.db").display()))
}

pub(crate) fn default_data_dir() -> PathBuf {
    PathBuf::from("provisio-data")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> anyhow::Result<ConfigFile> {
        Ok(toml::from_str(text)?)
    }

    #[test]
    fn the_http_table_sets_the_limits_and_refuses_nonsense() {
        let l = parse(
            "[http]\nrequest_timeout_s = 5\nmax_connections = 64\nauth_failures_per_minute = 0\n",
        )
        .unwrap()
        .http_limits()
        .unwrap();
        assert_eq!(l.request_timeout, Duration::from_secs(5));
        assert_eq!(l.max_connections, 64);
        assert_eq!(l.auth_failures_per_minute, 0);
        assert_eq!(
            l.header_read_timeout,
            HttpLimits::default().header_read_timeout
        );
        assert!(
            parse("[http]\nidle_timeout_s = 0\n")
                .unwrap()
                .http_limits()
                .is_err()
        );
        assert!(
            parse("[http]\nmax_connections = 0\n")
                .unwrap()
                .http_limits()
                .is_err()
        );
        assert!(
            parse("[http]\nkeep_alive = true\n").is_err(),
            "unknown members are refused"
        );
    }

    #[test]
    fn the_accounts_table_sets_limits_and_level_rules() {
        let file = parse(
            "[accounts]\nquestions_low = 5\npending_ttl_s = 86400\n[accounts.level]\nphone_mismatch = 50\n",
        )
        .unwrap();
        let c = file.accounts_config().unwrap();
        assert_eq!(
            (c.questions_low, c.questions_medium, c.pending_ttl_s),
            (5, 5, 86_400)
        );
        assert_eq!(c.level.phone_mismatch, 50);
        assert_eq!(c.max_attempts, 3);
    }

    #[test]
    fn low_entropy_operator_secrets_are_refused() {
        assert!(parse_master(&"00".repeat(32)).is_err());
        assert!(parse_master(&"ab".repeat(32)).is_err());
        assert!(
            parse_master("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")
                .is_ok()
        );
        assert!(checked_admin_key(&"a".repeat(22)).is_err());
        assert!(checked_admin_key("abababababababababababab").is_err());
        assert!(checked_admin_key("short").is_err());
        assert!(checked_admin_key("pvk_test-admin-key-0123456789abcdef").is_ok());
    }

    #[test]
    fn the_decisioning_table_sets_the_budget_and_the_fallback() {
        let c = parse("[decisioning]\nbudget_ms = 250\nfallback = \"DECLINE\"\n")
            .unwrap()
            .tsp_config()
            .unwrap();
        assert_eq!(
            (c.decisioning.budget_ms, c.decisioning.fallback),
            (250, provisio_risk::IssuerDecision::Decline)
        );
        let d = parse("").unwrap().tsp_config().unwrap().decisioning;
        assert_eq!(d, provisio_tsp::DecisioningConfig::default());
        for bad in [
            "[decisioning]\nbudget_ms = 20\n",
            "[decisioning]\nbudget_ms = 60000\n",
        ] {
            assert!(parse(bad).unwrap().tsp_config().is_err(), "{bad}");
        }
        assert!(parse("[decisioning]\nfallback = \"MAYBE\"\n").is_err());
    }

    #[test]
    fn accounts_settings_outside_the_rules_are_refused() {
        for bad in [
            "[accounts]\nmax_attempts = 5\n",
            "[accounts]\noptions_per_question = 3\n",
            "[accounts]\nquestions_high = 2\n",
            // NIST SP 800-63A 5.3.2: at least four questions at every level.
            "[accounts]\nquestions_low = 3\n",
        ] {
            assert!(parse(bad).unwrap().accounts_config().is_err(), "{bad}");
        }
        assert!(
            parse("[accounts]\nkba = 1\n").is_err(),
            "unknown keys are refused"
        );
    }

    #[test]
    fn the_payments_table_sets_the_atc_window_and_ecommerce() {
        let c = parse("[payments]\natc_window = 20\necommerce = true\n")
            .unwrap()
            .tsp_config()
            .unwrap();
        assert_eq!((c.payments.atc_window, c.payments.ecommerce), (20, true));
        let d = parse("").unwrap().tsp_config().unwrap();
        assert_eq!((d.payments.atc_window, d.payments.ecommerce), (100, false));
        assert!(parse("[payments]\natc_window = 70000\n").is_err());
    }
}
