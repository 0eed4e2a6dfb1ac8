-- Paying with the token (docs/protocol.md §16): payment networks as participants, and every
-- authorisation recorded (never the PAN or the cryptogram), each (token, ATC) used at most
-- once by a partial unique index.
ALTER TABLE api_keys DROP CONSTRAINT api_keys_role_check;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_role_check
    CHECK (role IN ('admin', 'issuer', 'token_requestor', 'network'));

CREATE TABLE networks (
    network_id TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE authorizations (
    authorization_id TEXT PRIMARY KEY,
    network_id       TEXT NOT NULL REFERENCES networks (network_id),
    token_ref_id     TEXT REFERENCES tokens (token_ref_id),
    atc              BIGINT NOT NULL,
    decision         TEXT NOT NULL CHECK (decision IN ('APPROVED', 'DECLINED')),
    reason           TEXT,
    -- 1 when the cryptogram verified: the attempt used up its (token, ATC), approved or not.
    atc_claimed      BIGINT NOT NULL CHECK (atc_claimed IN (0, 1)),
    amount_minor     BIGINT NOT NULL,
    currency         TEXT NOT NULL,
    country          TEXT NOT NULL,
    channel          TEXT NOT NULL,
    created_at       BIGINT NOT NULL
);
-- Each (token, ATC) used once, forever, by an attempt whose cryptogram verified (so at most one
-- approval); also the highest ATC used and the approvals' count. Approvals are the common case,
-- so this is the only index of an approved authorisation (ids are time-ordered: the primary
-- key grows at its end).
CREATE UNIQUE INDEX authorizations_atc_once ON authorizations (token_ref_id, atc)
    WHERE atc_claimed = 1;
-- A token's declines, for its view.
CREATE INDEX authorizations_declined ON authorizations (token_ref_id, created_at)
    WHERE decision = 'DECLINED';
