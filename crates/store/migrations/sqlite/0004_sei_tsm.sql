-- The carrier's trusted service manager (SEI-TSM, US 8,060,449). An instance that serves only
-- this role uses only these tables.

-- API keys of service providers (issuers' SP-TSMs) and of phones' OTA clients, hashed.
CREATE TABLE tsm_principals (
    key_hash   BLOB PRIMARY KEY,
    kind       TEXT NOT NULL CHECK (kind IN ('SERVICE_PROVIDER', 'OTA_CLIENT')),
    subject    TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

-- Secure elements the carrier manages, with the ISD key set sealed under the master key.
CREATE TABLE tsm_elements (
    se_id      TEXT PRIMARY KEY,
    isd_keys   BLOB NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE tsm_providers (
    sp_id          TEXT PRIMARY KEY,
    aid_prefix     BLOB NOT NULL,
    encryption_jwk TEXT NOT NULL,
    created_at     INTEGER NOT NULL
);

-- Service requests: the request id is the provider's idempotency key. `secret` holds what the
-- request needs sealed (the initial keys of a CREATE_DOMAIN); `handover` the package for the
-- provider once it is DONE. `version` guards every state change.
CREATE TABLE tsm_requests (
    sp_id       TEXT NOT NULL REFERENCES tsm_providers (sp_id),
    request_id  TEXT NOT NULL,
    se_id       TEXT NOT NULL REFERENCES tsm_elements (se_id),
    body        TEXT NOT NULL,
    fingerprint BLOB NOT NULL,
    state       TEXT NOT NULL,
    secret      BLOB,
    handover    TEXT,
    version     INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (sp_id, request_id)
);

-- Wake-up messages for a phone's OTA client, durable until acknowledged.
CREATE TABLE ota_messages (
    message_id TEXT PRIMARY KEY,
    se_id      TEXT NOT NULL REFERENCES tsm_elements (se_id),
    body       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    acked_at   INTEGER
);
CREATE INDEX ota_messages_pending ON ota_messages (se_id) WHERE acked_at IS NULL;

-- Every APDU of every admin session, as it crossed the relay (ciphertext at level 33).
CREATE TABLE tsm_apdu_log (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT NOT NULL,
    sp_id      TEXT NOT NULL,
    request_id TEXT NOT NULL,
    direction  TEXT NOT NULL CHECK (direction IN ('C', 'R')),
    apdu       BLOB NOT NULL,
    at         INTEGER NOT NULL
);
CREATE TRIGGER tsm_apdu_log_no_update BEFORE UPDATE ON tsm_apdu_log
BEGIN SELECT RAISE(ABORT, 'tsm_apdu_log is append-only'); END;
CREATE TRIGGER tsm_apdu_log_no_delete BEFORE DELETE ON tsm_apdu_log
BEGIN SELECT RAISE(ABORT, 'tsm_apdu_log is append-only'); END;
