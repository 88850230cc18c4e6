-- The W3C trace ID (api.md §1) of the request an audit row was written in
-- and of the request (or job) that enqueued a job, so that one trace can
-- be followed from a request's log line to its audit rows, its jobs and
-- their log lines. The database sets both from the transaction's context
-- (app.trace_id: the audit_fill_context and job_fill_trace triggers of the
-- repeatable files), never from what a writer passes. NULL: written
-- outside any trace (before this migration, or by psql as the owner).
-- Rows that exist keep NULL: no table is rewritten.
ALTER TABLE homebot.audit_log ADD COLUMN trace_id text
	CONSTRAINT audit_log_trace_id_check CHECK (trace_id ~ '^[0-9a-f]{32}$');
ALTER TABLE homebot.jobs ADD COLUMN trace_id text
	CONSTRAINT jobs_trace_id_check CHECK (trace_id ~ '^[0-9a-f]{32}$');
