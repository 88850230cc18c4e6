-- Audit rows written anywhere (functions, triggers, the programs) carry the
-- request's IP, user agent and request ID from the transaction-local
-- context, unless the writer gave its own. The context itself is set by
-- homebot.request_context (R__audit.sql), which lib/db.c sends before
-- every tenant statement: each of its ten settings, transaction-local.
BEGIN;
SELECT plan(11);

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

-- request_context, as the programs call it: every setting, NULL as none.
SET LOCAL ROLE homebot_app;
SELECT homebot.request_context('00000000-0000-4000-8000-0000000015a1', '00000000-0000-4000-8000-0000000015b1',
                               'req-15-ctx', '00000000-0000-4000-8000-0000000015c1', '192.0.2.16',
                               'agent/16', '0af7651916cd43dd8448eb211c80319c', '{00000000-0000-4000-8000-0000000015d1}',
                               '{00000000-0000-4000-8000-0000000015d2}', 'true');
RESET ROLE;
SELECT is(ARRAY[current_setting('app.org_id'), current_setting('app.user_id'),
                current_setting('app.request_id'), current_setting('app.api_key_id'),
                current_setting('app.ip'), current_setting('app.user_agent'),
                current_setting('app.trace_id'), current_setting('app.team_ids'),
                current_setting('app.team_leads'), current_setting('app.teams_write')],
          ARRAY['00000000-0000-4000-8000-0000000015a1', '00000000-0000-4000-8000-0000000015b1',
                'req-15-ctx', '00000000-0000-4000-8000-0000000015c1', '192.0.2.16', 'agent/16',
                '0af7651916cd43dd8448eb211c80319c', '{00000000-0000-4000-8000-0000000015d1}',
                '{00000000-0000-4000-8000-0000000015d2}', 'true'],
          'request_context sets the ten settings of the context, and they outlive the call');
SET LOCAL ROLE homebot_app;
INSERT INTO homebot.audit_log (organization_id, actor_type, action)
VALUES ('00000000-0000-4000-8000-0000000015a1', 'system', 'pgtap.ctx.function');
RESET ROLE;
SELECT is(ip || ' ' || user_agent || ' ' || request_id || ' ' || trace_id,
          '192.0.2.16 agent/16 req-15-ctx 0af7651916cd43dd8448eb211c80319c',
          'an audit row written after it carries its context')
  FROM homebot.audit_log WHERE action = 'pgtap.ctx.function';
SELECT is(homebot.request_context(NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::text, '',
          'request_context answers nothing');
SELECT is(ARRAY[current_setting('app.org_id'), current_setting('app.user_id'),
                current_setting('app.request_id'), current_setting('app.api_key_id'),
                current_setting('app.ip'), current_setting('app.user_agent'),
                current_setting('app.trace_id'), current_setting('app.team_ids'),
                current_setting('app.team_leads'), current_setting('app.teams_write')],
          array_fill(''::text, ARRAY[10]),
          'NULL sets a setting to none, whatever it was');

-- Transaction-local: a second session (as homebot_worker) sets its
-- context in one transaction; the next transaction on that connection sees
-- none of it.
CREATE EXTENSION IF NOT EXISTS dblink;
SELECT dblink_connect('ctx15', format('dbname=%s user=%s host=%s port=%s', current_database(), current_user,
                                     split_part(current_setting('unix_socket_directories'), ',', 1),
                                     current_setting('port')));
SELECT is((SELECT v FROM dblink('ctx15', $$
		BEGIN;
		SET LOCAL ROLE homebot_worker;
		SELECT homebot.request_context('00000000-0000-4000-8000-0000000015a1', '00000000-0000-4000-8000-0000000015b1',
		                               'r', NULL, '192.0.2.17', 'a', 't', '{}', '{}', 'true');
		SELECT current_setting('app.org_id') || ' ' || current_setting('app.teams_write');
	$$) AS t(v text)),
	'00000000-0000-4000-8000-0000000015a1 true', 'another role (homebot_worker) sets its context too');
SELECT dblink_exec('ctx15', 'COMMIT');
SELECT is((SELECT v FROM dblink('ctx15', $$
		SELECT count(*)::int FROM unnest(ARRAY[
			current_setting('app.org_id', true), current_setting('app.user_id', true),
			current_setting('app.request_id', true), current_setting('app.api_key_id', true),
			current_setting('app.ip', true), current_setting('app.user_agent', true),
			current_setting('app.trace_id', true), current_setting('app.team_ids', true),
			current_setting('app.team_leads', true), current_setting('app.teams_write', true)]) AS s(v)
		 WHERE coalesce(s.v, '') <> ''
	$$) AS t(v int)),
	0, 'the context ends with its transaction: the next one on the connection has none of it');
SELECT dblink_disconnect('ctx15');

SELECT * FROM finish();
ROLLBACK;
