-- PostgreSQL dialect of ../sqlite/0001_push_provisioning.sql (the same schema: BYTEA for BLOB, BIGINT for
-- INTEGER, PL/pgSQL triggers).
-- Push provisioning: keys, participants, processed requests, tokens, idempotency.
-- Secrets are stored only sealed (envelope encryption) or hashed; see provisio_tsp::vault.

CREATE TABLE meta (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE keys (
    kid        TEXT PRIMARY KEY,
    kind       TEXT NOT NULL CHECK (kind IN ('enc', 'sig', 'vault_kek', 'vault_hash')),
    sealed     BYTEA NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE api_keys (
    key_hash     BYTEA PRIMARY KEY,
    role         TEXT NOT NULL CHECK (role IN ('admin', 'issuer', 'token_requestor')),
    principal_id TEXT NOT NULL,
    created_at   BIGINT NOT NULL
);

CREATE TABLE issuers (
    issuer_id   TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    signing_kid TEXT NOT NULL,
    signing_jwk TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE token_requestors (
    token_requestor_id TEXT PRIMARY KEY,
    name               TEXT NOT NULL,
    wallet_accounts    TEXT NOT NULL CHECK (wallet_accounts IN ('external', 'hosted')),
    created_at         BIGINT NOT NULL
);

-- One row per processed push request. The two UNIQUE constraints are the one-time-use rule
-- of PROTOCOL.md section 3: a session id and an issuer's jti are accepted once, forever.
CREATE TABLE provisionings (
    provisioning_id    TEXT PRIMARY KEY,
    session_id         TEXT NOT NULL,
    issuer_id          TEXT NOT NULL REFERENCES issuers (issuer_id),
    jti                TEXT NOT NULL,
    token_requestor_id TEXT NOT NULL REFERENCES token_requestors (token_requestor_id),
    wallet_user_id     TEXT NOT NULL,
    device_id          TEXT NOT NULL,
    decision           TEXT NOT NULL,
    risk               TEXT NOT NULL,
    created_at         BIGINT NOT NULL,
    CONSTRAINT provisionings_session_unique UNIQUE (session_id),
    CONSTRAINT provisionings_jti_unique UNIQUE (issuer_id, jti)
);

CREATE TABLE tokens (
    token_ref_id       TEXT PRIMARY KEY,
    provisioning_id    TEXT NOT NULL UNIQUE REFERENCES provisionings (provisioning_id),
    token_pan_hash     BYTEA NOT NULL,
    token_pan          BYTEA NOT NULL,
    pan_hash           BYTEA NOT NULL,
    pan                BYTEA NOT NULL,
    token_last4        TEXT NOT NULL,
    exp_month          BIGINT NOT NULL,
    exp_year           BIGINT NOT NULL,
    status             TEXT NOT NULL CHECK (status IN ('ACTIVE', 'INACTIVE')),
    token_requestor_id TEXT NOT NULL,
    wallet_user_id     TEXT NOT NULL,
    device_id          TEXT NOT NULL,
    binding_jwk        TEXT NOT NULL,
    cryptogram_key     BYTEA NOT NULL,
    created_at         BIGINT NOT NULL,
    CONSTRAINT tokens_token_pan_unique UNIQUE (token_pan_hash)
);

CREATE INDEX tokens_pan_hash ON tokens (pan_hash);
CREATE INDEX tokens_device ON tokens (device_id);

-- The first answer to a POST with an Idempotency-Key, committed with the records it made.
CREATE TABLE idempotency (
    principal    TEXT NOT NULL,
    idem_key     TEXT NOT NULL,
    request_hash BYTEA NOT NULL,
    status       BIGINT NOT NULL,
    body         TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (principal, idem_key)
);
