//! The SQL store: SQLite (the embedded default) or PostgreSQL, through one implementation.
//!
//! Both are configured so that a committed transaction survives power loss before the server
//! acknowledges it (docs/architecture.md §3, "durable before acknowledged").

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use provisio_accounts::{KbaChange, Transition};
use provisio_risk::Signals;
use provisio_tsp::records::{NewProvisioning, TokenStatus};
use provisio_tsp::{
    IssuedOtp, KeyKind, OtpRecord, OutboxMessage, Script, Sealed, StepUpChange, StepUpState,
    StoredKey, TsmHandoff,
};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row};

use crate::group_commit::GroupCommit;
use crate::hot_reads::HotReads;
use crate::migrate::migrate;
use crate::{
    AccountFacts, AccountFactsQuery, AccountGate, AccountRecord, Conflict, EnrolmentRecord,
    IdempotencyRecord, IssuerRecord, KbaSourceRecord, ListKind, ListName, NewAccount, Principal,
    QuestionRecord, Role, ScriptRecord, SignalQuery, SpTsmRecord, Store, StoreError, TokenRecord,
    TokenRequestorRecord,
};

/// Which database a [`SqlStore`] talks to. The SQL is the same for both (`$n` placeholders,
/// standard types) except where a dialect has a better tool (PostgreSQL's `SKIP LOCKED`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded, one process (`sqlite://`).
    Sqlite,
    /// Shared by any number of instances (`postgres://`).
    Postgres,
}

impl Backend {
    /// Whether a common group-commit batch goes in as one statement (`bulk_insert.rs`):
    /// PostgreSQL's data-modifying `WITH`.
    fn one_statement(self) -> bool {
        self == Backend::Postgres
    }
}

/// The SQL store, opened from a `sqlite://` or `postgres://` URL.
#[derive(Debug, Clone)]
pub struct SqlStore {
    pub(crate) pool: AnyPool,
    pub(crate) backend: Backend,
    writer: GroupCommit,
    /// SQLite: the connection the risk signals are read on (`hot_reads.rs`).
    pub(crate) hot_reads: Option<std::sync::Arc<HotReads>>,
}

/// Connections per instance unless the URL's `pool_size` says otherwise.
const DEFAULT_POOL: u32 = 8;

/// PostgreSQL's group-commit writers per instance unless the URL's `writers` says otherwise.
/// Fewer writers make larger batches, and so fewer statements and commits per request. On a
/// 2-core machine with PostgreSQL beside the server, 2 writers against 4 (the default before),
/// 3 alternated pairs of `bench push`: 10 to 35 % more pushes per second at 15 to 30 % less
/// PostgreSQL CPU per push; 1 writer against 2 was mixed (docs/perf-journal.md). More
/// writers let an instance overlap more commits when the database has cores and slow syncs to
/// spare.
const DEFAULT_POSTGRES_WRITERS: usize = 2;

/// Our own URL parameters, taken out before the URL reaches the driver.
#[derive(Debug, PartialEq, Eq)]
struct Params {
    /// Pooled connections (`pool_size`).
    pool_size: u32,
    /// Group-commit writers (`writers`), each with a connection of its own.
    writers: Option<usize>,
}

/// Takes our own `pool_size=N` and `writers=N` parameters out of a database URL.
fn take_params(url: &str) -> Result<(String, Params), StoreError> {
    let mut params = Params {
        pool_size: DEFAULT_POOL,
        writers: None,
    };
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_owned(), params));
    };
    let positive = |name: &str, n: &str| {
        n.parse::<u32>()
            .ok()
            .filter(|&n| n > 0)
            .ok_or_else(|| StoreError::Unavailable(format!("{name} must be a positive number")))
    };
    let mut rest = Vec::new();
    for pair in query.split('&') {
        if let Some(n) = pair.strip_prefix("pool_size=") {
            params.pool_size = positive("pool_size", n)?;
        } else if let Some(n) = pair.strip_prefix("writers=") {
            params.writers = Some(positive("writers", n)? as usize);
        } else {
            rest.push(pair);
        }
    }
    let url = if rest.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", rest.join("&"))
    };
    Ok((url, params))
}

impl SqlStore {
    /// Opens and migrates the database at `url`. A `pool_size=N` query parameter sets the
    /// connections this instance keeps (default 8); on PostgreSQL `writers=N` sets its
    /// group-commit writers (default 2). SQLite has one writer.
    ///
    /// SQLite: the file is created if needed; WAL journal with `synchronous=FULL`, foreign keys
    /// on, a 10 s busy timeout, temporary data in memory. PostgreSQL: `synchronous_commit`
    /// stays on (the server's default), so a commit is durable before the server acknowledges.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let (url, params) = take_params(url)?;
        let url = url.as_str();
        let (backend, url) = if let Some(rest) = url.strip_prefix("sqlite:") {
            let path = rest.trim_start_matches("//");
            let sep = if path.contains('?') { '&' } else { '?' };
            let url = if path.contains("mode=") {
                format!("sqlite://{path}")
            } else {
                format!("sqlite://{path}{sep}mode=rwc")
            };
            (Backend::Sqlite, url)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            (Backend::Postgres, url.to_owned())
        } else {
            return Err(StoreError::Unavailable(
                "unsupported database URL: use sqlite:// or postgres://".into(),
            ));
        };
        if backend == Backend::Sqlite && params.writers.is_some_and(|n| n != 1) {
            return Err(StoreError::Unavailable(
                "SQLite has one writer at a time: writers must be 1".into(),
            ));
        }
        let options = AnyConnectOptions::from_str(&url)
            .map_err(|e| StoreError::Unavailable(format!("bad database URL: {e}")))?;
        let pool = AnyPoolOptions::new()
            .max_connections(params.pool_size)
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    let setup = match backend {
                        // temp_store: the statement journals of multi-row inserts stay in memory
                        // instead of a temporary file (SQLite's tempfiles.html, section 2.5).
                        Backend::Sqlite => "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000; PRAGMA temp_store = MEMORY;",
                        // plan_cache_mode: every statement here looks rows up by key, so
                        // one generic plan per prepared statement serves every call; under
                        // the default (auto) PostgreSQL planned the risk-signal statement
                        // afresh on each call, 1.9 ms of its CPU every time.
                        Backend::Postgres => "SET synchronous_commit = on; SET plan_cache_mode = force_generic_plan",
                    };
                    sqlx::Executor::execute(conn, setup).await.map(|_| ())
                })
            })
            .connect_with(options)
            .await
            .map_err(unavailable)?;
        migrate(&pool, backend).await?;
        // SQLite: one writer (SQLite has one at a time anyway) with a page cache big enough
        // for the interior pages of every index a provisioning touches at millions of rows
        // (the default 2 MB is not), so its inserts read only leaves.
        let (writers, setup) = match backend {
            Backend::Sqlite => (1, Some("PRAGMA cache_size = -65536")),
            Backend::Postgres => (params.writers.unwrap_or(DEFAULT_POSTGRES_WRITERS), None),
        };
        let writer = GroupCommit::start(pool.clone(), writers, setup, backend.one_statement());
        // SQLite: one more connection of its own for the risk signals; 16 MB holds the interior
        // pages of the indexes they read at millions of rows.
        let hot_reads = (backend == Backend::Sqlite).then(|| {
            std::sync::Arc::new(HotReads::new(pool.clone(), "PRAGMA cache_size = -16384"))
        });
        Ok(Self {
            pool,
            backend,
            writer,
            hot_reads,
        })
    }
}

pub(crate) fn unavailable(e: sqlx::Error) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

/// Maps a failed write to the rule it broke.
pub(crate) fn write_error(e: sqlx::Error) -> StoreError {
    use sqlx::error::ErrorKind;
    let Some(db) = e.as_database_error() else {
        return unavailable(e);
    };
    match db.kind() {
        ErrorKind::ForeignKeyViolation => return StoreError::MissingReference,
        ErrorKind::UniqueViolation => {}
        _ => return unavailable(e),
    }
    // PostgreSQL names the constraint ("provisionings_session_unique"); SQLite names the
    // columns ("UNIQUE constraint failed: provisionings.session_id").
    let what = db.constraint().unwrap_or_else(|| db.message());
    let is = |constraint: &str, columns: &str| what.contains(constraint) || what.contains(columns);
    let conflict = if is("provisionings_session_unique", "provisionings.session_id") {
        Conflict::SessionId
    } else if is("provisionings_jti_unique", "provisionings.jti") {
        Conflict::Jti
    } else if is("tokens_token_pan_unique", "tokens.token_pan_hash") {
        Conflict::TokenPan
    } else if is("idempotency_pkey", "idempotency.") {
        Conflict::IdempotencyKey
    } else if is("issuers_pkey", "issuers.") {
        Conflict::IssuerId
    } else if is("token_requestors_pkey", "token_requestors.") {
        Conflict::TokenRequestorId
    } else {
        Conflict::Other
    };
    StoreError::Conflict(conflict)
}

/// A small unsigned column (a month, a year): stored as an integer, checked on the way out.
pub(crate) fn small<T: TryFrom<i64>>(row: &AnyRow, col: &str) -> Result<T, StoreError> {
    let v: i64 = row.try_get(col).map_err(unavailable)?;
    T::try_from(v).map_err(|_| StoreError::Corrupt(format!("{col} out of range")))
}

/// A stored count as `u32` (negative is impossible; huge saturates).
pub(crate) fn count(v: i64) -> u32 {
    u32::try_from(v.max(0)).unwrap_or(u32::MAX)
}

pub(crate) fn sealed(row: &sqlx::any::AnyRow, col: &str) -> Result<Sealed, StoreError> {
    let bytes: Vec<u8> = row.try_get(col).map_err(unavailable)?;
    Sealed::from_bytes(&bytes).ok_or_else(|| StoreError::Corrupt(format!("sealed {col}")))
}

pub(crate) async fn insert_idempotency(
    tx: &mut sqlx::AnyConnection,
    r: &IdempotencyRecord,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO idempotency (principal, idem_key, request_hash, status, body, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(&r.principal)
        .bind(&r.key)
        .bind(&r.request_hash[..])
        .bind(i64::from(r.status))
        .bind(&r.body)
        .bind(r.created_at)
        .execute(tx)
        .await
        .map_err(write_error)?;
    Ok(())
}

async fn insert_api_key(
    tx: &mut sqlx::AnyConnection,
    hash: &[u8; 32],
    role: Role,
    id: &str,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO api_keys (key_hash, role, principal_id, created_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(&hash[..])
    .bind(role.as_str())
    .bind(id)
    .bind(now)
    .execute(tx)
    .await
    .map_err(write_error)?;
    Ok(())
}

#[async_trait]
impl Store for SqlStore {
    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn load_keys(&self) -> Result<Vec<StoredKey>, StoreError> {
        let rows = sqlx::query("SELECT kid, kind, sealed, created_at FROM keys")
            .fetch_all(&self.pool)
            .await
            .map_err(unavailable)?;
        rows.iter()
            .map(|r| {
                let kind: String = r.try_get("kind").map_err(unavailable)?;
                Ok(StoredKey {
                    kid: r.try_get("kid").map_err(unavailable)?,
                    kind: KeyKind::parse(&kind)
                        .ok_or_else(|| StoreError::Corrupt(format!("key kind {kind}")))?,
                    sealed: r.try_get("sealed").map_err(unavailable)?,
                    created_at: r.try_get("created_at").map_err(unavailable)?,
                })
            })
            .collect()
    }

    async fn init_keys(&self, keys: &[StoredKey]) -> Result<Vec<StoredKey>, StoreError> {
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        let claimed = sqlx::query("INSERT INTO meta (name, value) VALUES ('keyset', 'initialized') ON CONFLICT (name) DO NOTHING")
            .execute(&mut *tx)
            .await
            .map_err(write_error)?
            .rows_affected()
            == 1;
        if claimed {
            for k in keys {
                sqlx::query(
                    "INSERT INTO keys (kid, kind, sealed, created_at) VALUES ($1, $2, $3, $4)",
                )
                .bind(&k.kid)
                .bind(k.kind.as_str())
                .bind(&k.sealed)
                .bind(k.created_at)
                .execute(&mut *tx)
                .await
                .map_err(write_error)?;
            }
        }
        tx.commit().await.map_err(unavailable)?;
        self.load_keys().await
    }

    async fn ensure_admin_key(&self, key_hash: &[u8; 32], now: i64) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO api_keys (key_hash, role, principal_id, created_at) VALUES ($1, 'admin', 'admin', $2) ON CONFLICT (key_hash) DO NOTHING")
            .bind(&key_hash[..])
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(write_error)?;
        Ok(())
    }

    async fn principal(&self, key_hash: &[u8; 32]) -> Result<Option<Principal>, StoreError> {
        let row = sqlx::query(
            "SELECT k.role, k.principal_id, t.wallet_accounts FROM api_keys k
             LEFT JOIN token_requestors t ON k.role = 'token_requestor' AND t.token_requestor_id = k.principal_id
             WHERE k.key_hash = $1",
        )
            .bind(&key_hash[..])
            .fetch_optional(&self.pool)
            .await
            .map_err(unavailable)?;
        row.map(|r| {
            let role: String = r.try_get("role").map_err(unavailable)?;
            Ok(Principal {
                role: Role::parse(&role)
                    .ok_or_else(|| StoreError::Corrupt(format!("role {role}")))?,
                id: r.try_get("principal_id").map_err(unavailable)?,
                hosted_accounts: r
                    .try_get::<Option<String>, _>("wallet_accounts")
                    .map_err(unavailable)?
                    .is_some_and(|w| w == "hosted"),
            })
        })
        .transpose()
    }

    async fn create_issuer(
        &self,
        issuer: &IssuerRecord,
        api_key_hash: &[u8; 32],
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        sqlx::query("INSERT INTO issuers (issuer_id, name, signing_kid, signing_jwk, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(&issuer.issuer_id)
            .bind(&issuer.name)
            .bind(&issuer.signing_kid)
            .bind(&issuer.signing_jwk)
            .bind(issuer.created_at)
            .execute(&mut *tx)
            .await
            .map_err(write_error)?;
        insert_api_key(
            &mut tx,
            api_key_hash,
            Role::Issuer,
            &issuer.issuer_id,
            issuer.created_at,
        )
        .await?;
        if let Some(r) = idempotency {
            insert_idempotency(&mut tx, r).await?;
        }
        tx.commit().await.map_err(unavailable)
    }

    async fn issuer(&self, issuer_id: &str) -> Result<Option<IssuerRecord>, StoreError> {
        let row = sqlx::query("SELECT issuer_id, name, signing_kid, signing_jwk, created_at FROM issuers WHERE issuer_id = $1")
            .bind(issuer_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(unavailable)?;
        row.map(|r| {
            Ok(IssuerRecord {
                issuer_id: r.try_get("issuer_id").map_err(unavailable)?,
                name: r.try_get("name").map_err(unavailable)?,
                signing_kid: r.try_get("signing_kid").map_err(unavailable)?,
                signing_jwk: r.try_get("signing_jwk").map_err(unavailable)?,
                created_at: r.try_get("created_at").map_err(unavailable)?,
            })
        })
        .transpose()
    }

    async fn create_token_requestor(
        &self,
        requestor: &TokenRequestorRecord,
        api_key_hash: &[u8; 32],
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        sqlx::query("INSERT INTO token_requestors (token_requestor_id, name, wallet_accounts, created_at) VALUES ($1, $2, $3, $4)")
            .bind(&requestor.token_requestor_id)
            .bind(&requestor.name)
            .bind(&requestor.wallet_accounts)
            .bind(requestor.created_at)
            .execute(&mut *tx)
            .await
            .map_err(write_error)?;
        insert_api_key(
            &mut tx,
            api_key_hash,
            Role::TokenRequestor,
            &requestor.token_requestor_id,
            requestor.created_at,
        )
        .await?;
        if let Some(r) = idempotency {
            insert_idempotency(&mut tx, r).await?;
        }
        tx.commit().await.map_err(unavailable)
    }

    async fn idempotency(
        &self,
        principal: &str,
        key: &str,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        let row = sqlx::query("SELECT request_hash, status, body, created_at FROM idempotency WHERE principal = $1 AND idem_key = $2")
            .bind(principal)
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(unavailable)?;
        row.map(|r| {
            let hash: Vec<u8> = r.try_get("request_hash").map_err(unavailable)?;
            let status: i64 = r.try_get("status").map_err(unavailable)?;
            Ok(IdempotencyRecord {
                principal: principal.to_owned(),
                key: key.to_owned(),
                request_hash: hash
                    .try_into()
                    .map_err(|_| StoreError::Corrupt("request hash".into()))?,
                status: u16::try_from(status).map_err(|_| StoreError::Corrupt("status".into()))?,
                body: r.try_get("body").map_err(unavailable)?,
                created_at: r.try_get("created_at").map_err(unavailable)?,
            })
        })
        .transpose()
    }

    async fn commit_provisioning(
        &self,
        p: &NewProvisioning,
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<(), StoreError> {
        self.writer.commit(p.clone(), idempotency.cloned()).await
    }

    async fn import_provisionings(&self, batch: &[NewProvisioning]) -> Result<(), StoreError> {
        crate::group_commit::import(&self.pool, batch, self.backend.one_statement()).await
    }

    async fn token(&self, token_ref_id: &str) -> Result<Option<TokenRecord>, StoreError> {
        let row = sqlx::query("SELECT t.token_ref_id, t.provisioning_id, p.issuer_id, t.token_pan, t.pan, t.token_last4, t.status, t.device_id, t.cryptogram_key, t.binding_jwk, t.exp_month, t.exp_year, t.secure_element_id, t.installed_at FROM tokens t JOIN provisionings p ON p.provisioning_id = t.provisioning_id WHERE t.token_ref_id = $1")
            .bind(token_ref_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(unavailable)?;
        row.map(|r| {
            let status: String = r.try_get("status").map_err(unavailable)?;
            Ok(TokenRecord {
                token_ref_id: r.try_get("token_ref_id").map_err(unavailable)?,
                provisioning_id: r.try_get("provisioning_id").map_err(unavailable)?,
                issuer_id: r.try_get("issuer_id").map_err(unavailable)?,
                token_pan: sealed(&r, "token_pan")?,
                pan: sealed(&r, "pan")?,
                token_last4: r.try_get("token_last4").map_err(unavailable)?,
                status: TokenStatus::parse(&status)
                    .ok_or_else(|| StoreError::Corrupt(format!("status {status}")))?,
                device_id: r.try_get("device_id").map_err(unavailable)?,
                cryptogram_key: sealed(&r, "cryptogram_key")?,
                binding_jwk: r.try_get("binding_jwk").map_err(unavailable)?,
                exp_month: small(&r, "exp_month")?,
                exp_year: small(&r, "exp_year")?,
                secure_element_id: r.try_get("secure_element_id").map_err(unavailable)?,
                installed_at: r.try_get("installed_at").map_err(unavailable)?,
            })
        })
        .transpose()
    }

    async fn count_tokens(&self) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM tokens")
            .fetch_one(&self.pool)
            .await
            .map_err(unavailable)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn count_tokens_by_pan_hash(&self, pan_hash: &[u8; 32]) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM provisionings p JOIN tokens t ON t.provisioning_id = p.provisioning_id WHERE p.pan_hash = $1")
            .bind(&pan_hash[..])
            .fetch_one(&self.pool)
            .await
            .map_err(unavailable)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn risk_signals(&self, q: &SignalQuery) -> Result<Signals, StoreError> {
        self.risk_signals_impl(q).await
    }

    async fn add_list_entry(
        &self,
        list: ListName,
        kind: ListKind,
        value: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO risk_lists (list, kind, value, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING")
            .bind(list.as_str())
            .bind(kind.as_str())
            .bind(value)
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(write_error)?;
        Ok(())
    }

    async fn step_up(&self, provisioning_id: &str) -> Result<Option<StepUpState>, StoreError> {
        self.step_up_impl(provisioning_id).await
    }

    async fn otp(&self, otp_id: &str) -> Result<Option<OtpRecord>, StoreError> {
        self.otp_impl(otp_id).await
    }

    async fn commit_otp_issue(&self, issued: &IssuedOtp) -> Result<(), StoreError> {
        self.commit_otp_issue_impl(issued).await
    }

    async fn commit_step_up_change(
        &self,
        change: &StepUpChange,
        token_ref_id: &str,
        script: Option<&Script>,
        handoff: Option<&TsmHandoff>,
        now: i64,
    ) -> Result<(), StoreError> {
        self.commit_step_up_change_impl(change, token_ref_id, script, handoff, now)
            .await
    }

    async fn script(&self, provisioning_id: &str) -> Result<Option<ScriptRecord>, StoreError> {
        self.script_impl(provisioning_id).await
    }

    async fn complete_script(&self, provisioning_id: &str, now: i64) -> Result<(), StoreError> {
        self.complete_script_impl(provisioning_id, now).await
    }

    async fn fail_script(
        &self,
        provisioning_id: &str,
        reason: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        self.fail_script_impl(provisioning_id, reason, now).await
    }

    async fn set_sp_tsm(&self, tsm: &SpTsmRecord, now: i64) -> Result<(), StoreError> {
        self.set_sp_tsm_impl(tsm, now).await
    }

    async fn sp_tsm(&self, issuer_id: &str) -> Result<Option<SpTsmRecord>, StoreError> {
        self.sp_tsm_impl(issuer_id).await
    }

    async fn claim_outbox(
        &self,
        now: i64,
        lease_s: i64,
        limit: u32,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        self.claim_outbox_impl(now, lease_s, limit).await
    }

    async fn outbox_delivered(&self, message_id: &str, now: i64) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE outbox SET delivered_at = $1, attempts = attempts + 1 WHERE message_id = $2",
        )
        .bind(now)
        .bind(message_id)
        .execute(&self.pool)
        .await
        .map_err(write_error)?;
        Ok(())
    }

    async fn outbox_failed(
        &self,
        message_id: &str,
        retry_at: i64,
        error: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE outbox SET attempts = attempts + 1, next_attempt_at = $1, claimed_until = 0, last_error = $2 WHERE message_id = $3")
            .bind(retry_at)
            .bind(error)
            .bind(message_id)
            .execute(&self.pool)
            .await
            .map_err(write_error)?;
        Ok(())
    }

    async fn account_facts(&self, q: &AccountFactsQuery) -> Result<AccountFacts, StoreError> {
        self.account_facts_impl(q).await
    }

    async fn create_account(
        &self,
        account: &NewAccount,
        created: &Transition,
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<(), StoreError> {
        self.create_account_impl(account, created, idempotency)
            .await
    }

    async fn account(&self, account_id: &str) -> Result<Option<AccountRecord>, StoreError> {
        self.account_impl(account_id).await
    }

    async fn live_account(
        &self,
        token_requestor_id: &str,
        wallet_user_id: &str,
    ) -> Result<Option<AccountGate>, StoreError> {
        self.live_account_impl(token_requestor_id, wallet_user_id)
            .await
    }

    async fn commit_kba(&self, change: &KbaChange) -> Result<(), StoreError> {
        self.commit_kba_impl(change).await
    }

    async fn asked_questions(&self, account_id: &str) -> Result<Vec<String>, StoreError> {
        self.asked_questions_impl(account_id).await
    }

    async fn served_question(
        &self,
        account_id: &str,
        question_id: &str,
    ) -> Result<Option<QuestionRecord>, StoreError> {
        self.served_question_impl(account_id, question_id).await
    }

    async fn bank_questions(
        &self,
        issuer_id: &str,
        customer_ref: &str,
        account_id: &str,
    ) -> Result<Vec<QuestionRecord>, StoreError> {
        self.bank_questions_impl(issuer_id, customer_ref, account_id)
            .await
    }

    async fn load_enrolment(
        &self,
        enrolment: &EnrolmentRecord,
        questions: &[QuestionRecord],
    ) -> Result<(), StoreError> {
        self.load_enrolment_impl(enrolment, questions).await
    }

    async fn set_kba_source(
        &self,
        issuer_id: &str,
        source: &KbaSourceRecord,
        now: i64,
    ) -> Result<(), StoreError> {
        self.set_kba_source_impl(issuer_id, source, now).await
    }

    async fn kba_source(&self, issuer_id: &str) -> Result<Option<KbaSourceRecord>, StoreError> {
        self.kba_source_impl(issuer_id).await
    }

    async fn account_events(&self, account_id: &str) -> Result<Vec<Transition>, StoreError> {
        self.account_events_impl(account_id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pool_size_and_writers_parameters_are_ours_and_taken_out() {
        let params = |pool_size, writers| Params { pool_size, writers };
        assert_eq!(
            take_params("postgres://u@h/db").unwrap(),
            ("postgres://u@h/db".into(), params(DEFAULT_POOL, None))
        );
        assert_eq!(
            take_params("postgres://u@h/db?pool_size=20&sslmode=require&writers=3").unwrap(),
            (
                "postgres://u@h/db?sslmode=require".into(),
                params(20, Some(3))
            )
        );
        assert_eq!(
            take_params("sqlite:///tmp/x.db?pool_size=2").unwrap(),
            ("sqlite:///tmp/x.db".into(), params(2, None))
        );
        for bad in ["pool_size=0", "pool_size=many", "writers=0", "writers=-1"] {
            assert!(
                take_params(&format!("postgres://u@h/db?{bad}")).is_err(),
                "{bad}"
            );
        }
    }

    #[tokio::test]
    async fn sqlite_refuses_more_than_one_writer() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("w.db").display());
        let err = SqlStore::open(&format!("{url}?writers=2"))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("writers must be 1"), "{err}");
        let store = SqlStore::open(&format!("{url}?writers=1")).await.unwrap();
        assert_eq!(store.writer.writers(), 1);
    }

    #[tokio::test]
    async fn postgres_takes_its_writers_from_the_url() {
        let Some(url) = provisio_testkit::postgres::fresh_postgres_url().await else {
            return;
        };
        let store = SqlStore::open(&url).await.unwrap();
        assert_eq!(store.writer.writers(), DEFAULT_POSTGRES_WRITERS);
        let store = SqlStore::open(&format!("{url}?writers=3")).await.unwrap();
        assert_eq!(store.writer.writers(), 3);
    }
}
