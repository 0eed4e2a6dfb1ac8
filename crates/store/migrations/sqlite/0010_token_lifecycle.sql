-- The token's life (docs/protocol.md §15): the statuses SUSPENDED and DELETED, who suspended a
-- token, its funding account reference, its event sequence and an append-only history of its changes; a live
-- token per device, card and token requestor; notification URLs; and outbox events that are
-- delivered in order per recipient and dead-lettered after their last attempt.
--
-- SQLite cannot change a CHECK constraint in place: the table is built again (SQLite's
-- lang_altertable.html, section 7). The rows that reference tokens are checked at commit.
PRAGMA defer_foreign_keys = ON;

CREATE TABLE tokens_new (
    token_ref_id       TEXT PRIMARY KEY,
    provisioning_id    TEXT NOT NULL UNIQUE REFERENCES provisionings (provisioning_id),
    token_pan_hash     BLOB NOT NULL,
    token_pan          BLOB NOT NULL,
    pan_hash           BLOB NOT NULL,
    pan                BLOB NOT NULL,
    token_last4        TEXT NOT NULL,
    exp_month          INTEGER NOT NULL,
    exp_year           INTEGER NOT NULL,
    status             TEXT NOT NULL CHECK (status IN ('INACTIVE', 'ACTIVE', 'SUSPENDED', 'DELETED')),
    token_requestor_id TEXT NOT NULL,
    wallet_user_id     TEXT NOT NULL,
    device_id          TEXT NOT NULL,
    binding_jwk        TEXT NOT NULL,
    cryptogram_key     BLOB NOT NULL,
    created_at         INTEGER NOT NULL,
    secure_element_id  TEXT,
    installed_at       INTEGER,
    issuer_id          TEXT,
    account_ref        TEXT,
    card_exp_month     INTEGER,
    card_exp_year      INTEGER,
    suspended_by       TEXT CHECK (suspended_by IN ('ISSUER', 'TOKEN_REQUESTOR', 'ADMIN')),
    event_seq          INTEGER NOT NULL DEFAULT 0,
    updated_at         INTEGER,
    created_status     TEXT,
    CONSTRAINT tokens_token_pan_unique UNIQUE (token_pan_hash)
) STRICT;

INSERT INTO tokens_new (token_ref_id, provisioning_id, token_pan_hash, token_pan, pan_hash, pan,
    token_last4, exp_month, exp_year, status, token_requestor_id, wallet_user_id, device_id,
    binding_jwk, cryptogram_key, created_at, secure_element_id, installed_at, issuer_id)
SELECT t.token_ref_id, t.provisioning_id, t.token_pan_hash, t.token_pan, t.pan_hash, t.pan,
    t.token_last4, t.exp_month, t.exp_year, t.status, t.token_requestor_id, t.wallet_user_id,
    t.device_id, t.binding_jwk, t.cryptogram_key, t.created_at, t.secure_element_id,
    t.installed_at, p.issuer_id
FROM tokens t JOIN provisionings p ON p.provisioning_id = t.provisioning_id;

DROP TABLE tokens;
ALTER TABLE tokens_new RENAME TO tokens;

-- One live token per card, token requestor and device: a second push of the card to the same
-- device answers with the first token ("already in wallet"). The same index finds an issuer's
-- live tokens of a card (by the PAN's keyed hash, its first column) and a card's account
-- reference; a wallet's tokens of a user or a device are found through the provisionings'
-- user and device indexes (a token's device and user never change).
CREATE UNIQUE INDEX tokens_live_per_card ON tokens (pan_hash, token_requestor_id, device_id)
    WHERE status <> 'DELETED';
-- The sweep of pending tokens that never activated.
CREATE INDEX tokens_pending ON tokens (created_at) WHERE status = 'INACTIVE';

CREATE TABLE token_history (
    token_ref_id TEXT NOT NULL REFERENCES tokens (token_ref_id),
    seq          INTEGER NOT NULL,
    status       TEXT NOT NULL,
    reason       TEXT NOT NULL,
    actor        TEXT NOT NULL,
    agent_id     TEXT,
    at           INTEGER NOT NULL,
    PRIMARY KEY (token_ref_id, seq)
) STRICT;
CREATE TRIGGER token_history_no_update BEFORE UPDATE ON token_history
BEGIN SELECT RAISE(ABORT, 'token_history is append-only'); END;
CREATE TRIGGER token_history_no_delete BEFORE DELETE ON token_history
BEGIN SELECT RAISE(ABORT, 'token_history is append-only'); END;

-- A token's creation is its history entry and event number 1, read from the token itself
-- (`created_status`, `created_at`); `token_history` holds the changes after it.
UPDATE tokens SET event_seq = 1, created_status = status;

ALTER TABLE issuers ADD COLUMN notification_url TEXT;
ALTER TABLE token_requestors ADD COLUMN notification_url TEXT;

ALTER TABLE outbox ADD COLUMN ordering_key TEXT;
ALTER TABLE outbox ADD COLUMN sequence INTEGER;
ALTER TABLE outbox ADD COLUMN dead_at INTEGER;
CREATE INDEX outbox_ordering ON outbox (ordering_key, sequence) WHERE delivered_at IS NULL;
CREATE INDEX outbox_dead ON outbox (dead_at) WHERE dead_at IS NOT NULL;
