-- Audit rows written anywhere (functions, triggers, the programs) carry the
-- request's IP, user agent and request ID from the transaction-local
-- context, unless the writer gave its own.
BEGIN;
SELECT plan(5);

INSERT INTO homebot.organizations (id, name, slug)
VALUES ('00000000-0000-4000-8000-0000000015a1', 'Ctx A', 'pgtap-15-ctx-a');

SELECT set_config('app.org_id', '00000000-0000-4000-8000-0000000015a1', true),
       set_config('app.ip', '192.0.2.15', true),
       set_config('app.user_agent', 'pgtap-agent/15', true),
       set_config('app.request_id', 'req-pgtap-15', true);

SET LOCAL ROLE homebot_app;
INSERT INTO homebot.audit_log (organization_id, actor_type, action)
VALUES ('00000000-0000-4000-8000-0000000015a1', 'system', 'pgtap.ctx.filled');
INSERT INTO homebot.audit_log (organization_id, actor_type, action, ip, user_agent, request_id)
VALUES ('00000000-0000-4000-8000-0000000015a1', 'system', 'pgtap.ctx.given',
        '198.51.100.1', 'own-agent', 'own-request');
RESET ROLE;

SELECT is(ip, '192.0.2.15', 'an audit row without an IP gets the request''s')
  FROM homebot.audit_log WHERE action = 'pgtap.ctx.filled';
SELECT is(user_agent, 'pgtap-agent/15', '...and its user agent')
  FROM homebot.audit_log WHERE action = 'pgtap.ctx.filled';
SELECT is(request_id, 'req-pgtap-15', '...and its request ID')
  FROM homebot.audit_log WHERE action = 'pgtap.ctx.filled';
SELECT is(ip || ' ' || user_agent || ' ' || request_id,
          '198.51.100.1 own-agent own-request',
          'values the writer gave are kept')
  FROM homebot.audit_log WHERE action = 'pgtap.ctx.given';
SELECT is((SELECT ip FROM homebot.audit_log
            WHERE action = 'row.organizations.update' AND target_id = '00000000-0000-4000-8000-0000000015a1'),
          NULL, 'no row change yet (control)');

SELECT * FROM finish();
ROLLBACK;
