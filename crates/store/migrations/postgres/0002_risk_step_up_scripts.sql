-- PostgreSQL dialect of ../sqlite/0002_risk_step_up_scripts.sql (the same schema: BYTEA for BLOB, BIGINT for
-- INTEGER, PL/pgSQL triggers).
-- Risk signals, allow and block lists, step-up (methods, codes), the notification outbox and
-- installation scripts (issue 3).

-- Velocity and history signals are counted over provisionings; the funding PAN's keyed hash
-- makes per-card counts possible without the PAN.
ALTER TABLE provisionings ADD COLUMN pan_hash BYTEA;
CREATE INDEX provisionings_pan_time ON provisionings (pan_hash, created_at);
CREATE INDEX provisionings_device_time ON provisionings (device_id, created_at);
CREATE INDEX provisionings_user_time ON provisionings (token_requestor_id, wallet_user_id, created_at);

-- The device's secure element (scripts go through the TSMs) and when the completion report
-- made the token payment-ready.
ALTER TABLE tokens ADD COLUMN secure_element_id TEXT;
ALTER TABLE tokens ADD COLUMN installed_at BIGINT;

-- Allow and block lists. `value`: a device id, the hex keyed hash of a PAN, or a BIN prefix.
CREATE TABLE risk_lists (
    list       TEXT NOT NULL CHECK (list IN ('allow', 'block')),
    kind       TEXT NOT NULL CHECK (kind IN ('device', 'pan', 'bin')),
    value      TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (list, kind, value)
);

-- One row per provisioning held for step-up. Every change bumps `version` and applies only
-- to the version it was computed from, so concurrent verifications cannot both pass.
CREATE TABLE step_ups (
    provisioning_id      TEXT PRIMARY KEY REFERENCES provisionings (provisioning_id),
    token_ref_id         TEXT NOT NULL REFERENCES tokens (token_ref_id),
    status               TEXT NOT NULL CHECK (status IN ('PENDING', 'PASSED', 'LOCKED')),
    consecutive_failures BIGINT NOT NULL,
    sends                BIGINT NOT NULL,
    version              BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL
);

CREATE TABLE step_up_methods (
    method_id       TEXT PRIMARY KEY,
    provisioning_id TEXT NOT NULL REFERENCES step_ups (provisioning_id),
    type            TEXT NOT NULL CHECK (type IN ('OTP_SMS', 'OTP_EMAIL')),
    masked          TEXT NOT NULL,
    destination     BYTEA NOT NULL
);
CREATE INDEX step_up_methods_provisioning ON step_up_methods (provisioning_id);

-- Codes are stored only as keyed hashes.
CREATE TABLE otps (
    otp_id          TEXT PRIMARY KEY,
    provisioning_id TEXT NOT NULL REFERENCES step_ups (provisioning_id),
    method_id       TEXT NOT NULL REFERENCES step_up_methods (method_id),
    code_hash       BYTEA NOT NULL,
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    wrong_tries     BIGINT NOT NULL,
    consumed_at     BIGINT
);
CREATE INDEX otps_provisioning ON otps (provisioning_id);

-- Notifications, committed with the record that caused them and delivered by a background
-- task; the payload is sealed. A claim is a lease (`claimed_until`), so a crashed deliverer's
-- messages are picked up again.
CREATE TABLE outbox (
    message_id      TEXT PRIMARY KEY,
    channel         TEXT NOT NULL,
    payload         BYTEA NOT NULL,
    created_at      BIGINT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    claimed_until   BIGINT NOT NULL DEFAULT 0,
    delivered_at    BIGINT,
    last_error      TEXT
);
CREATE INDEX outbox_pending ON outbox (delivered_at, next_attempt_at);

-- Installation scripts as sent; completed once by the device's report.
CREATE TABLE scripts (
    script_id       TEXT PRIMARY KEY,
    provisioning_id TEXT NOT NULL UNIQUE REFERENCES provisionings (provisioning_id),
    token_ref_id    TEXT NOT NULL REFERENCES tokens (token_ref_id),
    body            TEXT NOT NULL,
    completed_at    BIGINT
);
