-- Undoes 0007_trace.
ALTER TABLE homebot.jobs DROP COLUMN trace_id;
ALTER TABLE homebot.audit_log DROP COLUMN trace_id;
