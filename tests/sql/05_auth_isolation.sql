-- The tenant tables of 0002_auth isolate organizations for homebot_app: rows
-- of organization B are invisible and unwritable with context A and with no
-- context, and what homebot_app has no privilege for is refused outright.
-- The one deliberate crossing: a user sees and revokes his own sessions in
-- every organization, and nobody else's outside the current one.
--
-- Seeding happens as the superuser; every assertion about isolation runs as
-- homebot_app.
--
--   A = ...50a, B = ...50b; users X = ...5e1 and Y = ...5f1 belong to both
--   sessions: X in A ...5c1, X in B ...5c2, Y in A ...5c3, Y in B ...5c4
BEGIN;
SELECT plan(52);

INSERT INTO homebot.organizations (id, name, slug) VALUES
	('00000000-0000-4000-8000-00000000050a', 'Org 5A', 'pgtap-05-a'),
	('00000000-0000-4000-8000-00000000050b', 'Org 5B', 'pgtap-05-b');
INSERT INTO homebot.users (id, email, full_name) VALUES
	('00000000-0000-4000-8000-0000000005e1', 'pgtap-05-x@example.test', 'X'),
	('00000000-0000-4000-8000-0000000005f1', 'pgtap-05-y@example.test', 'Y'),
	('00000000-0000-4000-8000-0000000005f9', 'pgtap-05-loner@example.test', 'Loner');
INSERT INTO homebot.memberships (organization_id, user_id, role) VALUES
	('00000000-0000-4000-8000-00000000050a', '00000000-0000-4000-8000-0000000005e1', 'admin'),
	('00000000-0000-4000-8000-00000000050a', '00000000-0000-4000-8000-0000000005f1', 'member'),
	('00000000-0000-4000-8000-00000000050b', '00000000-0000-4000-8000-0000000005e1', 'member'),
	('00000000-0000-4000-8000-00000000050b', '00000000-0000-4000-8000-0000000005f1', 'owner');
INSERT INTO homebot.user_permissions (organization_id, user_id, permission) VALUES
	('00000000-0000-4000-8000-00000000050a', '00000000-0000-4000-8000-0000000005e1', 'org:delete'),
	('00000000-0000-4000-8000-00000000050b', '00000000-0000-4000-8000-0000000005e1', 'audit:read'),
	('00000000-0000-4000-8000-00000000050b', '00000000-0000-4000-8000-0000000005f1', 'org:delete');
INSERT INTO homebot.sessions (id, organization_id, user_id) VALUES
	('00000000-0000-4000-8000-0000000005c1', '00000000-0000-4000-8000-00000000050a', '00000000-0000-4000-8000-0000000005e1'),
	('00000000-0000-4000-8000-0000000005c2', '00000000-0000-4000-8000-00000000050b', '00000000-0000-4000-8000-0000000005e1'),
	('00000000-0000-4000-8000-0000000005c3', '00000000-0000-4000-8000-00000000050a', '00000000-0000-4000-8000-0000000005f1'),
	('00000000-0000-4000-8000-0000000005c4', '00000000-0000-4000-8000-00000000050b', '00000000-0000-4000-8000-0000000005f1');
INSERT INTO homebot.api_keys (id, organization_id, prefix, key_hash, name, scopes, created_by) VALUES
	('00000000-0000-4000-8000-0000000005d1', '00000000-0000-4000-8000-00000000050a', 'pgtap05a',
	 sha256('pgtap-05-key-a'), 'key A', '{org:read}', '00000000-0000-4000-8000-0000000005e1'),
	('00000000-0000-4000-8000-0000000005d2', '00000000-0000-4000-8000-00000000050b', 'pgtap05b',
	 sha256('pgtap-05-key-b'), 'key B', '{org:read}', '00000000-0000-4000-8000-0000000005f1');
INSERT INTO homebot.audit_log (id, organization_id, actor_type, actor_id, action) VALUES
	('00000000-0000-4000-8000-0000000005a1', '00000000-0000-4000-8000-00000000050a', 'user',
	 '00000000-0000-4000-8000-0000000005e1', 'pgtap.05.a'),
	('00000000-0000-4000-8000-0000000005a2', '00000000-0000-4000-8000-00000000050b', 'user',
	 '00000000-0000-4000-8000-0000000005f1', 'pgtap.05.b'),
	('00000000-0000-4000-8000-0000000005a3', NULL, 'system', NULL, 'pgtap.05.platform');

-- A role with INSERT on sessions, which homebot_app lacks, to show that the
-- policies themselves refuse a session in another organization.
CREATE ROLE pgtap_05_session_writer NOLOGIN NOSUPERUSER NOBYPASSRLS;
GRANT USAGE ON SCHEMA homebot TO pgtap_05_session_writer;
GRANT SELECT, INSERT ON homebot.sessions TO pgtap_05_session_writer;

SET LOCAL ROLE homebot_app;

-- No context.
SELECT set_config('app.org_id', '', true);
SELECT set_config('app.user_id', '', true);
SELECT is_empty($$SELECT * FROM homebot.user_permissions WHERE user_id::text LIKE '%-0000000005%'$$,
	'no context: no extra permission is visible');
SELECT is_empty($$SELECT * FROM homebot.sessions WHERE user_id::text LIKE '%-0000000005%'$$,
	'no context: no session is visible');
SELECT is_empty($$SELECT * FROM homebot.api_keys WHERE prefix LIKE 'pgtap05%'$$,
	'no context: no API key is visible');
SELECT is_empty($$SELECT * FROM homebot.audit_log WHERE action LIKE 'pgtap.05.%'$$,
	'no context: no audit event is visible');
SELECT is_empty(
	$$UPDATE homebot.sessions SET revoked_at = now() WHERE user_id::text LIKE '%-0000000005%' RETURNING id$$,
	'no context: revoking sessions touches no row');

-- A user id without an organization opens nothing either.
SELECT set_config('app.user_id', '00000000-0000-4000-8000-0000000005e1', true);
SELECT is_empty($$SELECT * FROM homebot.sessions WHERE user_id::text LIKE '%-0000000005%'$$,
	'app.user_id without app.org_id: not even the user''s own sessions are visible');
SELECT is_empty(
	$$UPDATE homebot.sessions SET revoked_at = now()
	   WHERE user_id = '00000000-0000-4000-8000-0000000005e1' RETURNING id$$,
	'app.user_id without app.org_id: the user cannot revoke his own sessions');

-- Context: organization A, user X.
SELECT set_config('app.org_id', '00000000-0000-4000-8000-00000000050a', true);

-- user_permissions
SELECT results_eq(
	'SELECT organization_id, user_id, permission FROM homebot.user_permissions',
	$$VALUES ('00000000-0000-4000-8000-00000000050a'::uuid, '00000000-0000-4000-8000-0000000005e1'::uuid, 'org:delete'::text)$$,
	'context A: exactly A''s extra permissions are visible');
SELECT is_empty(
	$$SELECT * FROM homebot.user_permissions WHERE organization_id = '00000000-0000-4000-8000-00000000050b'$$,
	'context A: B''s extra permissions are invisible even when asked for by id');
SELECT throws_ok(
	$$INSERT INTO homebot.user_permissions (organization_id, user_id, permission)
	  VALUES ('00000000-0000-4000-8000-00000000050b', '00000000-0000-4000-8000-0000000005e1', 'members:owners')$$,
	'42501', 'new row violates row-level security policy for table "user_permissions"',
	'context A: granting a permission in B is refused');
SELECT is_empty(
	$$DELETE FROM homebot.user_permissions
	   WHERE organization_id = '00000000-0000-4000-8000-00000000050b' RETURNING *$$,
	'context A: taking B''s extra permissions touches no row');
SELECT throws_ok(
	$$UPDATE homebot.user_permissions SET permission = 'members:owners'$$,
	'42501', 'permission denied for table user_permissions',
	'homebot_app cannot update extra permissions (grant or take them)');
SELECT lives_ok(
	$$INSERT INTO homebot.user_permissions (organization_id, user_id, permission)
	  VALUES ('00000000-0000-4000-8000-00000000050a', '00000000-0000-4000-8000-0000000005f1', 'audit:read')$$,
	'context A: granting a member of A a permission in A works');
SELECT throws_ok(
	$$INSERT INTO homebot.user_permissions (organization_id, user_id, permission)
	  VALUES ('00000000-0000-4000-8000-00000000050a', '00000000-0000-4000-8000-0000000005f9', 'audit:read')$$,
	'23503', NULL,
	'context A: a permission needs a membership (the loner has none)');
SELECT results_eq(
	$$DELETE FROM homebot.user_permissions
	   WHERE organization_id = '00000000-0000-4000-8000-00000000050a'
	     AND user_id = '00000000-0000-4000-8000-0000000005f1' RETURNING permission$$,
	$$VALUES ('audit:read'::text)$$,
	'context A: taking a permission in A works');

-- sessions, user X
SELECT set_config('app.user_id', '00000000-0000-4000-8000-0000000005e1', true);
SELECT set_eq(
	$$SELECT id FROM homebot.sessions WHERE user_id::text LIKE '%-0000000005%'$$,
	$$VALUES ('00000000-0000-4000-8000-0000000005c1'::uuid), ('00000000-0000-4000-8000-0000000005c2'::uuid),
	         ('00000000-0000-4000-8000-0000000005c3'::uuid)$$,
	'context (A, X): A''s sessions and X''s own session in B are visible');
SELECT results_eq(
	$$SELECT organization_id FROM homebot.sessions WHERE id = '00000000-0000-4000-8000-0000000005c2'$$,
	$$VALUES ('00000000-0000-4000-8000-00000000050b'::uuid)$$,
	'context (A, X): X''s session in B is visible');
SELECT is_empty(
	$$SELECT * FROM homebot.sessions WHERE id = '00000000-0000-4000-8000-0000000005c4'$$,
	'context (A, X): Y''s session in B is invisible even when asked for by id');
SELECT throws_ok(
	$$INSERT INTO homebot.sessions (organization_id, user_id)
	  VALUES ('00000000-0000-4000-8000-00000000050b', '00000000-0000-4000-8000-0000000005e1')$$,
	'42501', 'permission denied for table sessions',
	'context (A, X): homebot_app cannot insert a session for B (no INSERT privilege at all)');
SELECT is_empty(
	$$UPDATE homebot.sessions SET revoked_at = now()
	   WHERE id = '00000000-0000-4000-8000-0000000005c4' RETURNING id$$,
	'context (A, X): revoking Y''s session in B touches no row');
SELECT results_eq(
	$$UPDATE homebot.sessions SET revoked_at = now()
	   WHERE id = '00000000-0000-4000-8000-0000000005c2' RETURNING id$$,
	$$VALUES ('00000000-0000-4000-8000-0000000005c2'::uuid)$$,
	'context (A, X): X revokes his own session in B (logout of all sessions)');
SELECT results_eq(
	$$UPDATE homebot.sessions SET revoked_at = now()
	   WHERE id = '00000000-0000-4000-8000-0000000005c3' RETURNING id$$,
	$$VALUES ('00000000-0000-4000-8000-0000000005c3'::uuid)$$,
	'context (A, X): Y''s session in A can be revoked (member removal revokes them)');
SELECT throws_ok(
	$$UPDATE homebot.sessions SET organization_id = '00000000-0000-4000-8000-00000000050a'
	   WHERE id = '00000000-0000-4000-8000-0000000005c2'$$,
	'42501', 'permission denied for table sessions',
	'context (A, X): a session cannot be moved to another organization');
SELECT throws_ok(
	$$UPDATE homebot.sessions SET user_id = '00000000-0000-4000-8000-0000000005e1'
	   WHERE id = '00000000-0000-4000-8000-0000000005c4'$$,
	'42501', 'permission denied for table sessions',
	'context (A, X): a session cannot be given to another user');
SELECT throws_ok(
	$$DELETE FROM homebot.sessions WHERE id = '00000000-0000-4000-8000-0000000005c1'$$,
	'42501', 'permission denied for table sessions',
	'homebot_app cannot delete sessions (they are revoked)');

-- sessions, context A without a user, then user Y
SELECT set_config('app.user_id', '', true);
SELECT set_eq(
	$$SELECT id FROM homebot.sessions WHERE user_id::text LIKE '%-0000000005%'$$,
	$$VALUES ('00000000-0000-4000-8000-0000000005c1'::uuid), ('00000000-0000-4000-8000-0000000005c3'::uuid)$$,
	'context (A, no user): exactly A''s sessions are visible');
SELECT set_config('app.user_id', '00000000-0000-4000-8000-0000000005f1', true);
SELECT set_eq(
	$$SELECT id FROM homebot.sessions WHERE user_id::text LIKE '%-0000000005%'$$,
	$$VALUES ('00000000-0000-4000-8000-0000000005c1'::uuid), ('00000000-0000-4000-8000-0000000005c3'::uuid),
	         ('00000000-0000-4000-8000-0000000005c4'::uuid)$$,
	'context (A, Y): A''s sessions and Y''s own in B, not X''s in B');

-- refresh tokens are the functions' alone
SELECT throws_ok('SELECT * FROM homebot.refresh_tokens', '42501',
	'permission denied for table refresh_tokens', 'context A: refresh tokens stay unreadable');

-- api_keys
SELECT results_eq(
	$$SELECT id FROM homebot.api_keys WHERE prefix LIKE 'pgtap05%'$$,
	$$VALUES ('00000000-0000-4000-8000-0000000005d1'::uuid)$$,
	'context A: exactly A''s API keys are visible');
SELECT is_empty(
	$$SELECT * FROM homebot.api_keys WHERE prefix = 'pgtap05b'$$,
	'context A: B''s API key is invisible even when asked for by prefix');
SELECT throws_ok(
	$$INSERT INTO homebot.api_keys (organization_id, prefix, key_hash, name, scopes, created_by)
	  VALUES ('00000000-0000-4000-8000-00000000050b', 'pgtap05c', sha256('pgtap-05-key-c'), 'intruder',
	          '{org:read}', '00000000-0000-4000-8000-0000000005e1')$$,
	'42501', 'new row violates row-level security policy for table "api_keys"',
	'context A: creating an API key in B is refused');
SELECT is_empty(
	$$UPDATE homebot.api_keys SET revoked_at = now() WHERE prefix = 'pgtap05b' RETURNING id$$,
	'context A: revoking B''s API key touches no row');
SELECT throws_ok(
	$$UPDATE homebot.api_keys SET scopes = '{org:delete}' WHERE prefix = 'pgtap05a'$$,
	'42501', 'permission denied for table api_keys',
	'context A: an API key''s scopes cannot be changed');
SELECT throws_ok(
	$$DELETE FROM homebot.api_keys WHERE prefix = 'pgtap05a'$$,
	'42501', 'permission denied for table api_keys',
	'homebot_app cannot delete API keys (they are revoked)');
SELECT lives_ok(
	$$INSERT INTO homebot.api_keys (organization_id, prefix, key_hash, name, scopes, created_by)
	  VALUES ('00000000-0000-4000-8000-00000000050a', 'pgtap05c', sha256('pgtap-05-key-c'), 'key C',
	          '{org:read}', '00000000-0000-4000-8000-0000000005e1')$$,
	'context A: creating an API key in A works');
SELECT results_eq(
	$$UPDATE homebot.api_keys SET revoked_at = now() WHERE prefix = 'pgtap05c' RETURNING name$$,
	$$VALUES ('key C'::text)$$,
	'context A: revoking an API key of A works');

-- audit_log
SELECT results_eq(
	$$SELECT id FROM homebot.audit_log WHERE action LIKE 'pgtap.05.%'$$,
	$$VALUES ('00000000-0000-4000-8000-0000000005a1'::uuid)$$,
	'context A: exactly A''s audit events are visible');
SELECT is_empty(
	$$SELECT * FROM homebot.audit_log WHERE id = '00000000-0000-4000-8000-0000000005a2'$$,
	'context A: B''s audit event is invisible even when asked for by id');
SELECT is_empty(
	$$SELECT * FROM homebot.audit_log WHERE id = '00000000-0000-4000-8000-0000000005a3'
	     OR (organization_id IS NULL AND action LIKE 'pgtap.05.%')$$,
	'context A: platform events (no organization) are invisible');
SELECT throws_ok(
	$$INSERT INTO homebot.audit_log (organization_id, actor_type, action)
	  VALUES ('00000000-0000-4000-8000-00000000050b', 'system', 'pgtap.05.forged')$$,
	'42501', 'new row violates row-level security policy for table "audit_log"',
	'context A: writing an audit event into B is refused');
SELECT throws_ok(
	$$INSERT INTO homebot.audit_log (organization_id, actor_type, action)
	  VALUES (NULL, 'system', 'pgtap.05.forged')$$,
	'42501', 'new row violates row-level security policy for table "audit_log"',
	'context A: writing a platform event is refused');
SELECT lives_ok(
	$$INSERT INTO homebot.audit_log (organization_id, actor_type, actor_id, action)
	  VALUES ('00000000-0000-4000-8000-00000000050a', 'user', '00000000-0000-4000-8000-0000000005e1',
	          'pgtap.05.appended')$$,
	'context A: appending an audit event to A works');
SELECT throws_ok(
	$$UPDATE homebot.audit_log SET action = 'pgtap.05.rewritten'
	   WHERE id = '00000000-0000-4000-8000-0000000005a1'$$,
	'42501', 'permission denied for table audit_log',
	'context A: even A''s own audit events cannot be updated');
SELECT throws_ok(
	$$DELETE FROM homebot.audit_log WHERE id = '00000000-0000-4000-8000-0000000005a1'$$,
	'42501', 'permission denied for table audit_log',
	'context A: even A''s own audit events cannot be deleted');
SELECT throws_ok('TRUNCATE homebot.audit_log', '42501', 'permission denied for table audit_log',
	'homebot_app cannot truncate the audit log (TRUNCATE ignores RLS)');

-- The policies, not only the missing grant, refuse a session in another
-- organization: a role that may insert sessions is still held to A.
RESET ROLE;
SET LOCAL ROLE pgtap_05_session_writer;
SELECT set_config('app.org_id', '00000000-0000-4000-8000-00000000050a', true);
SELECT set_config('app.user_id', '00000000-0000-4000-8000-0000000005e1', true);
SELECT throws_ok(
	$$INSERT INTO homebot.sessions (organization_id, user_id)
	  VALUES ('00000000-0000-4000-8000-00000000050b', '00000000-0000-4000-8000-0000000005e1')$$,
	'42501', 'new row violates row-level security policy for table "sessions"',
	'context (A, X), with INSERT granted: a session of X in B is still refused by the policies');
SELECT lives_ok(
	$$INSERT INTO homebot.sessions (organization_id, user_id)
	  VALUES ('00000000-0000-4000-8000-00000000050a', '00000000-0000-4000-8000-0000000005e1')$$,
	'context (A, X), with INSERT granted: a session in A is accepted');

-- As the superuser: B is as it was, except X's own revoked session.
RESET ROLE;
SELECT set_eq(
	$$SELECT user_id, permission FROM homebot.user_permissions
	   WHERE organization_id = '00000000-0000-4000-8000-00000000050b'$$,
	$$VALUES ('00000000-0000-4000-8000-0000000005e1'::uuid, 'audit:read'::text),
	         ('00000000-0000-4000-8000-0000000005f1'::uuid, 'org:delete'::text)$$,
	'B''s extra permissions are unchanged');
SELECT results_eq(
	$$SELECT id, revoked_at IS NOT NULL FROM homebot.sessions
	   WHERE id::text LIKE '%-0000000005c_' ORDER BY id$$,
	$$VALUES ('00000000-0000-4000-8000-0000000005c1'::uuid, false),
	         ('00000000-0000-4000-8000-0000000005c2'::uuid, true),
	         ('00000000-0000-4000-8000-0000000005c3'::uuid, true),
	         ('00000000-0000-4000-8000-0000000005c4'::uuid, false)$$,
	'exactly the sessions that were allowed to be revoked are revoked');
SELECT is(
	(SELECT count(*)::int FROM homebot.sessions
	  WHERE organization_id = '00000000-0000-4000-8000-00000000050b'),
	2, 'no session was added to B');
SELECT results_eq(
	$$SELECT prefix, revoked_at IS NULL FROM homebot.api_keys WHERE prefix LIKE 'pgtap05%' ORDER BY prefix$$,
	$$VALUES ('pgtap05a'::text, true), ('pgtap05b'::text, true), ('pgtap05c'::text, false)$$,
	'B''s API key is unrevoked and no key was added to B');
SELECT results_eq(
	$$SELECT organization_id, action FROM homebot.audit_log
	   WHERE action LIKE 'pgtap.05.%' ORDER BY action$$,
	$$VALUES ('00000000-0000-4000-8000-00000000050a'::uuid, 'pgtap.05.a'::text),
	         ('00000000-0000-4000-8000-00000000050a'::uuid, 'pgtap.05.appended'::text),
	         ('00000000-0000-4000-8000-00000000050b'::uuid, 'pgtap.05.b'::text),
	         (NULL::uuid, 'pgtap.05.platform'::text)$$,
	'the audit log holds the seeded events unchanged plus the one appended to A');

SELECT * FROM finish();
ROLLBACK;
