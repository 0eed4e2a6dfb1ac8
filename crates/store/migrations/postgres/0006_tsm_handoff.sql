-- PostgreSQL dialect of ../sqlite/0006_tsm_handoff.sql (the same schema: BYTEA for BLOB, BIGINT for
-- INTEGER, PL/pgSQL triggers).
-- The token service hands secure-element jobs to the issuer's TSM and takes its report
-- (US 8,060,449 steps 1 and 6).

-- Each issuer's TSM, as the token service reaches it. `api_key` (the token service's caller
-- key there) is sealed; `encryption_jwk` is the TSM's public key credentials are sealed to.
CREATE TABLE issuer_sp_tsms (
    issuer_id      TEXT PRIMARY KEY REFERENCES issuers (issuer_id),
    url            TEXT NOT NULL,
    api_key        BYTEA NOT NULL,
    encryption_jwk TEXT NOT NULL,
    aid_prefix     TEXT NOT NULL,
    updated_at     BIGINT NOT NULL
);

-- A secure-element script is completed by its TSM's report, authenticated by a token made for
-- that job alone (its keyed hash here); a failed job records the TSM's reason.
ALTER TABLE scripts ADD COLUMN report_token_hash BYTEA;
ALTER TABLE scripts ADD COLUMN failed_at BIGINT;
ALTER TABLE scripts ADD COLUMN failure TEXT;

-- The SP-TSM's side: where to report a job's end, the report token (sealed), and when the
-- report was acknowledged.
ALTER TABLE sp_jobs ADD COLUMN report_url TEXT;
ALTER TABLE sp_jobs ADD COLUMN report_token BYTEA;
ALTER TABLE sp_jobs ADD COLUMN reported_at BIGINT;
