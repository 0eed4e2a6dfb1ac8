-- A request's APDU audit log is read by provider and request, in order.
CREATE INDEX tsm_apdu_log_request ON tsm_apdu_log (sp_id, request_id, id);
