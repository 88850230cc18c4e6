-- audit_event (R__audit.sql) is the one function that writes audit events:
-- it takes the actor, IP, user agent and request ID from the transaction's
-- context. The functions whose callers pass IP, user agent and request ID
-- as arguments put them into the context for their own events only, where
-- the context has none: before and after, the context is what the caller
-- set, so row events and later statements are as they always were.
--
--   O = ...18a0 (U owner)   U = ...18e1   K = ...18d1 (U's API key)
BEGIN;
SELECT plan(19);

CREATE FUNCTION pg_temp.ctx(p_org uuid, p_user uuid, p_key uuid, p_ip text, p_agent text, p_request text)
RETURNS void LANGUAGE sql AS $$
	SELECT set_config('app.org_id', coalesce(p_org::text, ''), true),
	       set_config('app.user_id', coalesce(p_user::text, ''), true),
	       set_config('app.api_key_id', coalesce(p_key::text, ''), true),
	       set_config('app.ip', coalesce(p_ip, ''), true),
	       set_config('app.user_agent', coalesce(p_agent, ''), true),
	       set_config('app.request_id', coalesce(p_request, ''), true);
$$;

CREATE FUNCTION pg_temp.context() RETURNS text LANGUAGE sql AS $$
	SELECT concat_ws('|', current_setting('app.ip', true), current_setting('app.user_agent', true),
	                 current_setting('app.request_id', true))
$$;

INSERT INTO homebot.organizations (id, name, slug) VALUES
	('00000000-0000-4000-8000-0000000018a0', 'Org 18', 'pgtap-18-o');
INSERT INTO homebot.users (id, email, password_hash, full_name) VALUES
	('00000000-0000-4000-8000-0000000018e1', 'pgtap-18-u@example.test', '$2b$12$pgtap18u', 'U');
INSERT INTO homebot.memberships (organization_id, user_id, role) VALUES
	('00000000-0000-4000-8000-0000000018a0', '00000000-0000-4000-8000-0000000018e1', 'owner');
INSERT INTO homebot.api_keys (id, organization_id, prefix, key_hash, name, scopes, created_by) VALUES
	('00000000-0000-4000-8000-0000000018d1', '00000000-0000-4000-8000-0000000018a0', 'pgtap18k',
	 sha256('pgtap-18-key'), 'K', '{org:read}', '00000000-0000-4000-8000-0000000018e1');

-- One writer.
SELECT is(
	(SELECT coalesce(array_agg(p.proname::text ORDER BY p.proname), '{}') FROM pg_proc p
	  WHERE p.pronamespace = 'homebot'::regnamespace
	    AND p.prosrc ~* 'insert\s+into\s+homebot\.audit_log'),
	ARRAY['audit_event'],
	'audit_event is the only function of schema homebot that inserts into audit_log');
SELECT ok(NOT has_function_privilege('homebot_app', 'homebot.audit_event(text, text, text, jsonb, uuid, text, uuid)', 'EXECUTE')
          AND NOT has_function_privilege('homebot_admin', 'homebot.audit_event(text, text, text, jsonb, uuid, text, uuid)', 'EXECUTE'),
	'the runtime roles may not call audit_event (it writes any organization''s events, as any actor)');
SELECT ok(NOT has_function_privilege('homebot_app', 'homebot.audit_context_default(text, text, text)', 'EXECUTE')
          AND NOT has_function_privilege('homebot_app', 'homebot.audit_context_reset(text[])', 'EXECUTE'),
	'nor the context helpers');

-- The context, as the request path sets it.
SELECT pg_temp.ctx('00000000-0000-4000-8000-0000000018a0', '00000000-0000-4000-8000-0000000018e1', NULL,
                   '192.0.2.18', repeat('a', 600), 'pgtap-18-user');
CREATE TEMP TABLE e1 AS SELECT homebot.audit_event('pgtap.18.event', 'thing', 't1', '{"n": 1}', '00000000-0000-4000-8000-0000000018a0') AS id;
SELECT results_eq(
	$$SELECT a.organization_id, a.actor_type, a.actor_id, a.action, a.target_type, a.target_id, a.ip,
	         a.user_agent, a.request_id, a.changes
	    FROM homebot.audit_log a
	   WHERE a.id = (SELECT id FROM e1)$$,
	$$VALUES ('00000000-0000-4000-8000-0000000018a0'::uuid, 'user'::text, '00000000-0000-4000-8000-0000000018e1'::uuid,
	          'pgtap.18.event'::text, 'thing'::text, 't1'::text, '192.0.2.18'::text, repeat('a', 512),
	          'pgtap-18-user'::text, '{"n": 1}'::jsonb)$$,
	'audit_event: the actor, IP, user agent (cut at 512) and request ID come from the context');
SELECT pg_temp.ctx('00000000-0000-4000-8000-0000000018a0', '00000000-0000-4000-8000-0000000018e1',
                   '00000000-0000-4000-8000-0000000018d1', '192.0.2.19', 'pgtap-agent/18', 'pgtap-18-key');
CREATE TEMP TABLE e2 AS SELECT homebot.audit_event('pgtap.18.event', 'thing', 't2', NULL, '00000000-0000-4000-8000-0000000018a0') AS id;
SELECT results_eq(
	$$SELECT a.actor_type, a.actor_id, a.ip, a.user_agent, a.request_id FROM homebot.audit_log a
	   WHERE a.id = (SELECT id FROM e2)$$,
	$$VALUES ('api_key'::text, '00000000-0000-4000-8000-0000000018d1'::uuid, '192.0.2.19'::text, 'pgtap-agent/18'::text,
	          'pgtap-18-key'::text)$$,
	'audit_event: with an API key in the context, the key is the actor');
CREATE TEMP TABLE e3 AS SELECT homebot.audit_event('pgtap.18.event', 'thing', 't3', NULL, NULL, 'system', NULL) AS id;
SELECT results_eq(
	$$SELECT a.organization_id, a.actor_type, a.actor_id, a.ip, a.request_id FROM homebot.audit_log a
	   WHERE a.id = (SELECT id FROM e3)$$,
	$$VALUES (NULL::uuid, 'system'::text, NULL::uuid, '192.0.2.19'::text, 'pgtap-18-key'::text)$$,
	'audit_event: an actor given explicitly wins over the context; no organization makes a platform event');
SELECT pg_temp.ctx(NULL, NULL, NULL, NULL, NULL, NULL);
CREATE TEMP TABLE e4 AS SELECT homebot.audit_event('pgtap.18.event', 'thing', 't4', NULL, NULL) AS id;
SELECT results_eq(
	$$SELECT a.actor_type, a.actor_id, a.ip, a.user_agent, a.request_id FROM homebot.audit_log a
	   WHERE a.id = (SELECT id FROM e4)$$,
	$$VALUES ('system'::text, NULL::uuid, NULL::text, NULL::text, NULL::text)$$,
	'audit_event without any context: the system, and no IP, user agent or request ID');

-- A function that takes them as arguments, called without a context, as
-- the request path calls login_failed.
SET LOCAL ROLE homebot_app;
SELECT homebot.login_failed('pgtap-18-u@example.test', '00000000-0000-4000-8000-0000000018e1', '192.0.2.20',
                            'pgtap-agent/20', 'pgtap-18-failed', 5, 900, NULL);
SELECT is(pg_temp.context(), '||', 'the context is empty again after the call');
RESET ROLE;
SELECT results_eq(
	$$SELECT a.action, a.ip, a.user_agent, a.request_id FROM homebot.audit_log a
	   WHERE a.target_id = '00000000-0000-4000-8000-0000000018e1' AND a.action LIKE 'auth.%'$$,
	$$VALUES ('auth.login.failed'::text, '192.0.2.20'::text, 'pgtap-agent/20'::text, 'pgtap-18-failed'::text)$$,
	'its event carries the arguments');
UPDATE homebot.organizations SET name = 'Org 18 renamed' WHERE id = '00000000-0000-4000-8000-0000000018a0';
SELECT results_eq(
	$$SELECT a.ip, a.user_agent, a.request_id FROM homebot.audit_log a
	   WHERE a.action = 'row.organizations.update' AND a.target_id = '00000000-0000-4000-8000-0000000018a0'$$,
	$$VALUES (NULL::text, NULL::text, NULL::text)$$,
	'a row change after the call does not inherit them');

-- The same function inside a request context: the context wins, and stays.
SELECT pg_temp.ctx(NULL, NULL, NULL, '192.0.2.21', 'pgtap-agent/21', 'pgtap-18-ctx');
SELECT homebot.login_failed('pgtap-18-u@example.test', NULL, '198.51.100.1', 'other-agent', 'pgtap-18-arg',
                            5, 900, NULL);
SELECT is(pg_temp.context(), '192.0.2.21|pgtap-agent/21|pgtap-18-ctx', 'a context the caller set stays as it was');
SELECT results_eq(
	$$SELECT a.actor_type, a.ip, a.user_agent, a.request_id FROM homebot.audit_log a
	   WHERE a.action = 'auth.login.failed' AND a.actor_id IS NULL AND a.changes ->> 'email' = 'pgtap-18-u@example.test'$$,
	$$VALUES ('system'::text, '192.0.2.21'::text, 'pgtap-agent/21'::text, 'pgtap-18-ctx'::text)$$,
	'the event takes the context''s values over the arguments');

-- Partly set: each missing setting is filled, and only that one is emptied.
SELECT pg_temp.ctx(NULL, NULL, NULL, NULL, NULL, 'pgtap-18-partial');
SELECT is(homebot.audit_context_default('192.0.2.22', 'pgtap-agent/22', 'pgtap-18-ignored'),
	ARRAY['app.ip', 'app.user_agent'], 'audit_context_default sets what the context lacks, and says what');
SELECT is(pg_temp.context(), '192.0.2.22|pgtap-agent/22|pgtap-18-partial', '...and leaves the rest');
SELECT homebot.audit_context_reset(ARRAY['app.ip', 'app.user_agent']);
SELECT is(pg_temp.context(), '||pgtap-18-partial', 'audit_context_reset empties only those');
SELECT homebot.audit_context_reset(ARRAY['app.org_id']);
SELECT pg_temp.ctx('00000000-0000-4000-8000-0000000018a0', NULL, NULL, NULL, NULL, NULL);
SELECT homebot.audit_context_reset(ARRAY['app.org_id', 'app.user_id']);
SELECT is(current_setting('app.org_id', true), '00000000-0000-4000-8000-0000000018a0',
	'audit_context_reset never touches the tenant context');

-- Registration without a context: its own events carry the arguments,
-- the row events written before them do not (as before audit_event).
SELECT pg_temp.ctx(NULL, NULL, NULL, NULL, NULL, NULL);
SET LOCAL ROLE homebot_app;
CREATE TEMP TABLE reg AS
SELECT * FROM homebot.register('pgtap-18-new@example.test', '$2b$12$pgtap18new', 'New', 'Pgtap 18 New',
                               '192.0.2.23', 'pgtap-agent/23', 'pgtap-18-register', sha256('pgtap-18-r'), 3600);
RESET ROLE;
SELECT results_eq(
	$$SELECT a.action, a.actor_type, a.actor_id, a.ip, a.user_agent FROM homebot.audit_log a
	   WHERE a.request_id = 'pgtap-18-register' ORDER BY a.occurred_at, a.id$$,
	$$SELECT 'auth.register'::text, 'user'::text, user_id, '192.0.2.23'::text, 'pgtap-agent/23'::text FROM reg
	  UNION ALL
	  SELECT 'organization.created', 'user', user_id, '192.0.2.23', 'pgtap-agent/23' FROM reg$$,
	'register: its two events carry the arguments, in order');
SELECT is(
	(SELECT count(*)::int FROM homebot.audit_log a
	  WHERE a.action LIKE 'row.%' AND a.request_id IS NULL AND a.ip IS NULL
	    AND a.target_id IN (SELECT user_id::text FROM reg UNION ALL SELECT organization_id::text FROM reg
	                        UNION ALL SELECT session_id::text FROM reg)),
	4, 'register: the row events of its user, membership, organization and session carry none');
SELECT is(pg_temp.context(), '||', 'and the context is empty after it');

SELECT * FROM finish();
ROLLBACK;
