-- The second way in (docs/protocol.md §17): an issuer's card ranges, its decisioning endpoint
-- and key, whether its pushes still step up; wallet-initiated provisionings, whose `jti` is
-- accepted once per token requestor, forever; activation by the issuer's app (each nonce
-- once) and by the call centre (step-up methods without a destination).
ALTER TABLE issuers ADD COLUMN push_step_up INTEGER NOT NULL DEFAULT 0 CHECK (push_step_up IN (0, 1));
ALTER TABLE issuers ADD COLUMN decision_url TEXT;
ALTER TABLE issuers ADD COLUMN decision_jwk TEXT;

-- Card range prefixes (6 to 11 digits); the longest matching prefix names the issuer.
CREATE TABLE issuer_bin_ranges (
    prefix    TEXT PRIMARY KEY,
    issuer_id TEXT NOT NULL REFERENCES issuers (issuer_id)
) STRICT;
CREATE INDEX issuer_bin_ranges_issuer ON issuer_bin_ranges (issuer_id);

-- How a provisioning came in. A wallet-initiated one has no push session: its session_id and
-- jti columns hold its own provisioning id (unique by construction), and its wallet's jti is
-- kept here.
ALTER TABLE provisionings ADD COLUMN origin TEXT NOT NULL DEFAULT 'PUSH' CHECK (origin IN ('PUSH', 'WALLET'));
CREATE TABLE wallet_requests (
    token_requestor_id TEXT NOT NULL REFERENCES token_requestors (token_requestor_id),
    jti                TEXT NOT NULL,
    provisioning_id    TEXT NOT NULL UNIQUE REFERENCES provisionings (provisioning_id),
    CONSTRAINT wallet_requests_jti_unique PRIMARY KEY (token_requestor_id, jti)
) STRICT;

-- Issuer-app activation data: each nonce of an issuer accepted once.
-- A step-up the issuer's call centre passed: the answer the wallet collects (its access data
-- is a JWE only the device opens).
ALTER TABLE step_ups ADD COLUMN released TEXT;

CREATE TABLE activation_nonces (
    issuer_id       TEXT NOT NULL REFERENCES issuers (issuer_id),
    nonce           TEXT NOT NULL,
    provisioning_id TEXT NOT NULL REFERENCES provisionings (provisioning_id),
    used_at         INTEGER NOT NULL,
    CONSTRAINT activation_nonces_unique PRIMARY KEY (issuer_id, nonce)
) STRICT;

-- SQLite cannot change a CHECK constraint in place: the table is built again (SQLite's
-- lang_altertable.html, section 7); the codes that reference its methods are checked at commit.
PRAGMA defer_foreign_keys = ON;
CREATE TABLE step_up_methods_new (
    method_id       TEXT PRIMARY KEY,
    provisioning_id TEXT NOT NULL REFERENCES step_ups (provisioning_id),
    type            TEXT NOT NULL CHECK (type IN ('OTP_SMS', 'OTP_EMAIL', 'ISSUER_APP', 'CALL_CENTER')),
    masked          TEXT NOT NULL,
    destination     BLOB,
    position        INTEGER
) STRICT;
INSERT INTO step_up_methods_new (method_id, provisioning_id, type, masked, destination, position)
    SELECT method_id, provisioning_id, type, masked, destination, position FROM step_up_methods;
DROP TABLE step_up_methods;
ALTER TABLE step_up_methods_new RENAME TO step_up_methods;
CREATE INDEX step_up_methods_provisioning ON step_up_methods (provisioning_id);
