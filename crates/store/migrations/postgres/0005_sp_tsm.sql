-- PostgreSQL dialect of ../sqlite/0005_sp_tsm.sql (the same schema: BYTEA for BLOB, BIGINT for
-- INTEGER, PL/pgSQL triggers).
-- The issuer's trusted service manager (SP-TSM, US 8,060,449). An instance that serves only
-- this role uses only these tables.

-- The SP-TSM's own secrets (its handover key pair), sealed under the master key.
CREATE TABLE sp_secrets (
    name       TEXT PRIMARY KEY,
    sealed     BYTEA NOT NULL,
    created_at BIGINT NOT NULL
);

-- Callers (the token service), by API key hash.
CREATE TABLE sp_callers (
    key_hash   BYTEA PRIMARY KEY,
    name       TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- Provisioning jobs. `credential` (the token and its key), `initial_keys` and `own_keys` are
-- sealed; `ticket_hash` authenticates the OTA client sent by the delegation. `version` guards
-- every change.
CREATE TABLE sp_jobs (
    job_id       TEXT PRIMARY KEY,
    caller       TEXT NOT NULL,
    se_id        TEXT NOT NULL,
    ssd          TEXT NOT NULL,
    applet       TEXT NOT NULL,
    credential   BYTEA NOT NULL,
    fingerprint  BYTEA NOT NULL,
    state        TEXT NOT NULL,
    initial_keys BYTEA,
    own_keys     BYTEA,
    ticket_hash  BYTEA UNIQUE,
    version      BIGINT NOT NULL DEFAULT 0,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE INDEX sp_jobs_open ON sp_jobs (state);
