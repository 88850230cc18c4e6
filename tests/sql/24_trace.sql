-- The trace ID (0007_trace.sql, api.md §1): an audit row and a job written
-- in a transaction whose context has app.trace_id carry it, whoever wrote
-- them and whatever the writer gave; without one they carry none; the
-- worker's claim hands each job its trace ID.
BEGIN;
SELECT plan(11);

INSERT INTO homebot.organizations (id, name, slug)
VALUES ('00000000-0000-4000-8000-0000000024a1', 'Trace A', 'pgtap-24-trace-a');

-- A request's context, with its trace.
SELECT set_config('app.org_id', '00000000-0000-4000-8000-0000000024a1', true),
       set_config('app.request_id', 'req-pgtap-24', true),
       set_config('app.trace_id', '4bf92f3577b34da6a3ce929d0e0e4736', true);

SET LOCAL ROLE homebot_app;
INSERT INTO homebot.audit_log (organization_id, actor_type, action)
VALUES ('00000000-0000-4000-8000-0000000024a1', 'system', 'pgtap.24.traced');
INSERT INTO homebot.audit_log (organization_id, actor_type, action, trace_id)
VALUES ('00000000-0000-4000-8000-0000000024a1', 'system', 'pgtap.24.given',
        'ffffffffffffffffffffffffffffffff');
UPDATE homebot.organizations SET name = 'Trace A2' WHERE id = '00000000-0000-4000-8000-0000000024a1';
INSERT INTO homebot.jobs (organization_id, kind, priority)
VALUES ('00000000-0000-4000-8000-0000000024a1', 'pgtap.24.traced', 100);
INSERT INTO homebot.jobs (organization_id, kind, priority, trace_id)
VALUES ('00000000-0000-4000-8000-0000000024a1', 'pgtap.24.given', 100,
        'ffffffffffffffffffffffffffffffff');
SELECT homebot.mail_enqueue('{"to": "pgtap-24@example.test", "template": "pgtap"}');
RESET ROLE;

SELECT is(trace_id, '4bf92f3577b34da6a3ce929d0e0e4736', 'an audit row gets the context''s trace ID')
  FROM homebot.audit_log WHERE action = 'pgtap.24.traced';
SELECT is(trace_id, '4bf92f3577b34da6a3ce929d0e0e4736', '...and not the one its writer gave')
  FROM homebot.audit_log WHERE action = 'pgtap.24.given';
SELECT is(trace_id, '4bf92f3577b34da6a3ce929d0e0e4736', 'a row change''s audit row (trigger) carries it')
  FROM homebot.audit_log
 WHERE action = 'row.organizations.update' AND target_id = '00000000-0000-4000-8000-0000000024a1';
SELECT is(trace_id, '4bf92f3577b34da6a3ce929d0e0e4736', 'a job enqueued in the context carries it')
  FROM homebot.jobs WHERE kind = 'pgtap.24.traced';
SELECT is(trace_id, '4bf92f3577b34da6a3ce929d0e0e4736', '...and not the one its enqueuer gave')
  FROM homebot.jobs WHERE kind = 'pgtap.24.given';
SELECT is(trace_id, '4bf92f3577b34da6a3ce929d0e0e4736', 'a mail job (mail_enqueue) carries it')
  FROM homebot.jobs WHERE kind = 'mail' AND payload ->> 'to' = 'pgtap-24@example.test';

-- The worker's claim hands the job its trace ID.
SET LOCAL ROLE homebot_worker;
SELECT is((SELECT trace_id FROM homebot.job_claim('pgtap-24', 30, NULL, 100)
            WHERE kind = 'pgtap.24.traced'),
          '4bf92f3577b34da6a3ce929d0e0e4736', 'job_claim returns the job''s trace ID');
RESET ROLE;

-- The same without a trace in the context.
SELECT set_config('app.trace_id', '', true);
SET LOCAL ROLE homebot_app;
INSERT INTO homebot.audit_log (organization_id, actor_type, action)
VALUES ('00000000-0000-4000-8000-0000000024a1', 'system', 'pgtap.24.untraced');
INSERT INTO homebot.jobs (organization_id, kind)
VALUES ('00000000-0000-4000-8000-0000000024a1', 'pgtap.24.untraced');
RESET ROLE;

SELECT is(trace_id, NULL, 'an audit row without a trace in the context has none')
  FROM homebot.audit_log WHERE action = 'pgtap.24.untraced';
SELECT is(trace_id, NULL, 'a job without a trace in the context has none')
  FROM homebot.jobs WHERE kind = 'pgtap.24.untraced';

-- A trace ID is 32 lowercase hex digits or nothing.
SELECT throws_ok($$UPDATE homebot.jobs SET trace_id = 'not-a-trace' WHERE kind = 'pgtap.24.untraced'$$,
                 '23514', NULL, 'a job''s trace ID must be a trace ID');
SELECT throws_ok($$UPDATE homebot.audit_log SET trace_id = upper('4bf92f3577b34da6a3ce929d0e0e4736')
                    WHERE action = 'pgtap.24.untraced'$$,
                 '23514', NULL, 'an audit row''s too (lowercase)');

SELECT * FROM finish();
ROLLBACK;
