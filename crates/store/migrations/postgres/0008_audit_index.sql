-- PostgreSQL dialect of ../sqlite/0008_audit_index.sql (the same statement).
CREATE INDEX tsm_apdu_log_request ON tsm_apdu_log (sp_id, request_id, id);
