-- PostgreSQL dialect of ../sqlite/0012_second_way_in.sql.
ALTER TABLE issuers ADD COLUMN push_step_up BIGINT NOT NULL DEFAULT 0 CHECK (push_step_up IN (0, 1));
ALTER TABLE issuers ADD COLUMN decision_url TEXT;
ALTER TABLE issuers ADD COLUMN decision_jwk TEXT;

CREATE TABLE issuer_bin_ranges (
    prefix    TEXT PRIMARY KEY,
    issuer_id TEXT NOT NULL REFERENCES issuers (issuer_id)
);
CREATE INDEX issuer_bin_ranges_issuer ON issuer_bin_ranges (issuer_id);

ALTER TABLE provisionings ADD COLUMN origin TEXT NOT NULL DEFAULT 'PUSH' CHECK (origin IN ('PUSH', 'WALLET'));
CREATE TABLE wallet_requests (
    token_requestor_id TEXT NOT NULL REFERENCES token_requestors (token_requestor_id),
    jti                TEXT NOT NULL,
    provisioning_id    TEXT NOT NULL UNIQUE REFERENCES provisionings (provisioning_id),
    CONSTRAINT wallet_requests_jti_unique PRIMARY KEY (token_requestor_id, jti)
);

-- A step-up the issuer's call centre passed: the answer the wallet collects (its access data
-- is a JWE only the device opens).
ALTER TABLE step_ups ADD COLUMN released TEXT;

CREATE TABLE activation_nonces (
    issuer_id       TEXT NOT NULL REFERENCES issuers (issuer_id),
    nonce           TEXT NOT NULL,
    provisioning_id TEXT NOT NULL REFERENCES provisionings (provisioning_id),
    used_at         BIGINT NOT NULL,
    CONSTRAINT activation_nonces_unique PRIMARY KEY (issuer_id, nonce)
);

ALTER TABLE step_up_methods DROP CONSTRAINT step_up_methods_type_check;
ALTER TABLE step_up_methods ADD CONSTRAINT step_up_methods_type_check
    CHECK (type IN ('OTP_SMS', 'OTP_EMAIL', 'ISSUER_APP', 'CALL_CENTER'));
ALTER TABLE step_up_methods ALTER COLUMN destination DROP NOT NULL;
