-- Hosted wallet accounts, their append-only audit trail, and knowledge-based verification
-- (issue 4, US 10,699,267).

-- One account per wallet user and token requestor that is not expired: PENDING_ACTIVATION
-- happens once, and a locked account stays locked. User data is sealed in the vault.
CREATE TABLE wallet_accounts (
    account_id          TEXT PRIMARY KEY,
    token_requestor_id  TEXT NOT NULL REFERENCES token_requestors (token_requestor_id),
    wallet_user_id      TEXT NOT NULL,
    issuer_id           TEXT NOT NULL REFERENCES issuers (issuer_id),
    customer_ref        TEXT NOT NULL,
    device_id           TEXT NOT NULL,
    device_model        TEXT NOT NULL,
    device_os           TEXT NOT NULL,
    secure_element_id   TEXT,
    binding_jwk         TEXT NOT NULL,
    user_sealed         BLOB NOT NULL,
    security_level      TEXT NOT NULL CHECK (security_level IN ('LOW', 'MEDIUM', 'HIGH')),
    level_score         INTEGER NOT NULL,
    level_reasons       TEXT NOT NULL,
    kba_source          TEXT NOT NULL CHECK (kba_source IN ('BANK', 'ISSUER', 'THIRD_PARTY')),
    state               TEXT NOT NULL CHECK (state IN ('PENDING_ACTIVATION', 'ACTIVE', 'LOCKED', 'EXPIRED')),
    kba_status          TEXT NOT NULL CHECK (kba_status IN ('NOT_STARTED', 'IN_PROGRESS', 'PASSED', 'FAILED', 'OPTED_OUT')),
    attempts_used       INTEGER NOT NULL DEFAULT 0,
    created_at          INTEGER NOT NULL,
    expires_at          INTEGER NOT NULL,
    activated_at        INTEGER,
    version             INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE UNIQUE INDEX wallet_accounts_live ON wallet_accounts (token_requestor_id, wallet_user_id)
    WHERE state <> 'EXPIRED';
CREATE INDEX wallet_accounts_device ON wallet_accounts (device_id);
CREATE INDEX wallet_accounts_customer ON wallet_accounts (issuer_id, customer_ref);

-- Every state change: from, to, channel, reason, time. Rows are never changed or removed.
CREATE TABLE wallet_account_events (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id  TEXT NOT NULL REFERENCES wallet_accounts (account_id),
    from_state  TEXT,
    to_state    TEXT NOT NULL,
    channel     TEXT NOT NULL CHECK (channel IN ('WALLET', 'ISSUER', 'SYSTEM')),
    reason      TEXT NOT NULL,
    at          INTEGER NOT NULL
) STRICT;
CREATE INDEX wallet_account_events_account ON wallet_account_events (account_id, seq);
CREATE TRIGGER wallet_account_events_no_update BEFORE UPDATE ON wallet_account_events
BEGIN SELECT RAISE(ABORT, 'wallet_account_events is append-only'); END;
CREATE TRIGGER wallet_account_events_no_delete BEFORE DELETE ON wallet_account_events
BEGIN SELECT RAISE(ABORT, 'wallet_account_events is append-only'); END;

-- Where each issuer's questions come from (no row: the service's own bank).
CREATE TABLE kba_sources (
    issuer_id          TEXT PRIMARY KEY REFERENCES issuers (issuer_id),
    kind               TEXT NOT NULL CHECK (kind IN ('BANK', 'ISSUER', 'THIRD_PARTY')),
    url                TEXT,
    credential_sealed  BLOB,
    updated_at         INTEGER NOT NULL
) STRICT;

-- What the issuer has on file for a customer: keyed hashes only, for the mismatch rules.
CREATE TABLE kba_enrolments (
    issuer_id       TEXT NOT NULL REFERENCES issuers (issuer_id),
    customer_ref    TEXT NOT NULL,
    name_hash       BLOB NOT NULL,
    phone_hash      BLOB NOT NULL,
    email_hash      BLOB NOT NULL,
    customer_since  INTEGER,
    loaded_at       INTEGER NOT NULL,
    PRIMARY KEY (issuer_id, customer_ref)
) STRICT;

-- The bank: questions built from enrolment facts, sealed; the right option only as a keyed
-- hash.
CREATE TABLE kba_bank_questions (
    question_id   TEXT PRIMARY KEY,
    issuer_id     TEXT NOT NULL,
    customer_ref  TEXT NOT NULL,
    sealed        BLOB NOT NULL,
    answer_mac    BLOB NOT NULL,
    FOREIGN KEY (issuer_id, customer_ref) REFERENCES kba_enrolments (issuer_id, customer_ref)
) STRICT;
CREATE INDEX kba_bank_questions_customer ON kba_bank_questions (issuer_id, customer_ref);

CREATE TABLE kba_attempts (
    account_id   TEXT NOT NULL REFERENCES wallet_accounts (account_id),
    attempt_no   INTEGER NOT NULL,
    started_at   INTEGER NOT NULL,
    finished_at  INTEGER,
    outcome      TEXT CHECK (outcome IN ('PASSED', 'WRONG_ANSWERS', 'TIMED_OUT', 'ABANDONED')),
    PRIMARY KEY (account_id, attempt_no)
) STRICT;

-- Every question ever drawn for an account; the primary key is the rule that no question
-- is asked twice. Answers are not stored, only whether they were right.
CREATE TABLE kba_served (
    account_id   TEXT NOT NULL,
    question_id  TEXT NOT NULL,
    attempt_no   INTEGER NOT NULL,
    position     INTEGER NOT NULL,
    sealed       BLOB NOT NULL,
    answer_mac   BLOB,
    served_at    INTEGER,
    deadline     INTEGER,
    answered_at  INTEGER,
    correct      INTEGER,
    PRIMARY KEY (account_id, question_id),
    UNIQUE (account_id, attempt_no, position),
    FOREIGN KEY (account_id, attempt_no) REFERENCES kba_attempts (account_id, attempt_no)
) STRICT;
