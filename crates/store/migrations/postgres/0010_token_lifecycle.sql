-- The token's life (docs/protocol.md §15): the statuses SUSPENDED and DELETED, who suspended a
-- token, its funding account reference, its event sequence and an append-only history of its changes; a live
-- token per device, card and token requestor; notification URLs; and outbox events that are
-- delivered in order per recipient and dead-lettered after their last attempt.
ALTER TABLE tokens DROP CONSTRAINT tokens_status_check;
ALTER TABLE tokens ADD CONSTRAINT tokens_status_check
    CHECK (status IN ('INACTIVE', 'ACTIVE', 'SUSPENDED', 'DELETED'));
ALTER TABLE tokens ADD COLUMN issuer_id TEXT;
ALTER TABLE tokens ADD COLUMN account_ref TEXT;
ALTER TABLE tokens ADD COLUMN card_exp_month BIGINT;
ALTER TABLE tokens ADD COLUMN card_exp_year BIGINT;
ALTER TABLE tokens ADD COLUMN suspended_by TEXT
    CHECK (suspended_by IN ('ISSUER', 'TOKEN_REQUESTOR', 'ADMIN'));
ALTER TABLE tokens ADD COLUMN event_seq BIGINT NOT NULL DEFAULT 0;
ALTER TABLE tokens ADD COLUMN updated_at BIGINT;
ALTER TABLE tokens ADD COLUMN created_status TEXT;
UPDATE tokens t SET issuer_id = p.issuer_id FROM provisionings p
    WHERE p.provisioning_id = t.provisioning_id;

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
    seq          BIGINT NOT NULL,
    status       TEXT NOT NULL,
    reason       TEXT NOT NULL,
    actor        TEXT NOT NULL,
    agent_id     TEXT,
    at           BIGINT NOT NULL,
    PRIMARY KEY (token_ref_id, seq)
);
CREATE FUNCTION token_history_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'token_history is append-only'; END $$;
CREATE TRIGGER token_history_no_update BEFORE UPDATE OR DELETE ON token_history
    FOR EACH ROW EXECUTE FUNCTION token_history_append_only();

-- A token's creation is its history entry and event number 1, read from the token itself
-- (`created_status`, `created_at`); `token_history` holds the changes after it.
UPDATE tokens SET event_seq = 1, created_status = status;

ALTER TABLE issuers ADD COLUMN notification_url TEXT;
ALTER TABLE token_requestors ADD COLUMN notification_url TEXT;

ALTER TABLE outbox ADD COLUMN ordering_key TEXT;
ALTER TABLE outbox ADD COLUMN sequence BIGINT;
ALTER TABLE outbox ADD COLUMN dead_at BIGINT;
CREATE INDEX outbox_ordering ON outbox (ordering_key, sequence) WHERE delivered_at IS NULL;
CREATE INDEX outbox_dead ON outbox (dead_at) WHERE dead_at IS NOT NULL;
