-- homebot.authenticate_session (R__auth.sql), the hot path of every
-- token-authenticated request: one statement that sets the tenant context
-- and reads the session, membership, user, organization and permissions.
-- It is SECURITY INVOKER (10_orgs_schema.sql names the few such functions
-- of schema homebot): it runs as homebot_app under row-level security, so
-- a session, membership or user of another organization is never in its
-- answer, whatever it is given.
--
--   A = ...23a, B = ...23b; X is admin of A and member of B, Y owner of B
--   sessions: X in A ...2c1, X in B ...2c2, Y in B ...2c3
BEGIN;
SELECT plan(18);

INSERT INTO homebot.organizations (id, name, slug) VALUES
	('00000000-0000-4000-8000-00000000023a', 'Org 23A', 'pgtap-23-a'),
	('00000000-0000-4000-8000-00000000023b', 'Org 23B', 'pgtap-23-b');
INSERT INTO homebot.users (id, email, full_name) VALUES
	('00000000-0000-4000-8000-0000000002e1', 'pgtap-23-x@example.test', 'X'),
	('00000000-0000-4000-8000-0000000002f1', 'pgtap-23-y@example.test', 'Y');
INSERT INTO homebot.memberships (organization_id, user_id, role) VALUES
	('00000000-0000-4000-8000-00000000023a', '00000000-0000-4000-8000-0000000002e1', 'admin'),
	('00000000-0000-4000-8000-00000000023b', '00000000-0000-4000-8000-0000000002e1', 'member'),
	('00000000-0000-4000-8000-00000000023b', '00000000-0000-4000-8000-0000000002f1', 'owner');
INSERT INTO homebot.user_permissions (organization_id, user_id, permission) VALUES
	('00000000-0000-4000-8000-00000000023a', '00000000-0000-4000-8000-0000000002e1', 'org:delete');
INSERT INTO homebot.sessions (id, organization_id, user_id) VALUES
	('00000000-0000-4000-8000-0000000002c1', '00000000-0000-4000-8000-00000000023a', '00000000-0000-4000-8000-0000000002e1'),
	('00000000-0000-4000-8000-0000000002c2', '00000000-0000-4000-8000-00000000023b', '00000000-0000-4000-8000-0000000002e1'),
	('00000000-0000-4000-8000-0000000002c3', '00000000-0000-4000-8000-00000000023b', '00000000-0000-4000-8000-0000000002f1');

SELECT is((SELECT prosecdef FROM pg_proc
            WHERE oid = 'homebot.authenticate_session(uuid, uuid, uuid)'::regprocedure),
	false, 'authenticate_session is SECURITY INVOKER: row-level security applies to it');
SELECT is((SELECT proconfig FROM pg_proc
            WHERE oid = 'homebot.authenticate_session(uuid, uuid, uuid)'::regprocedure),
	ARRAY['search_path=pg_catalog, homebot, pg_temp'], 'its search_path is fixed');
SELECT ok(has_function_privilege('homebot_app', 'homebot.authenticate_session(uuid, uuid, uuid)', 'EXECUTE')
      AND has_function_privilege('homebot_admin', 'homebot.authenticate_session(uuid, uuid, uuid)', 'EXECUTE')
      AND NOT has_function_privilege('homebot_worker', 'homebot.authenticate_session(uuid, uuid, uuid)', 'EXECUTE')
      AND NOT EXISTS (SELECT FROM pg_proc p, aclexplode(p.proacl) a
                       WHERE p.oid = 'homebot.authenticate_session(uuid, uuid, uuid)'::regprocedure
                         AND a.grantee = 0),
	'homebot_app and homebot_admin (whose program authenticates tokens too) may execute it; PUBLIC and homebot_worker may not');
SELECT is((SELECT lanname FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
            WHERE p.oid = 'homebot.authenticate_session(uuid, uuid, uuid)'::regprocedure),
	'plpgsql', 'it is plpgsql: each server connection caches the plan of its query');

SET LOCAL ROLE homebot_app;
SELECT set_config('app.org_id', '', true);
SELECT set_config('app.user_id', '', true);

SELECT results_eq(
	$$SELECT user_id, organization_id, email, full_name, disabled, email_verified, org_name,
	         org_slug, suspended, role, revoked, is_superadmin
	    FROM homebot.authenticate_session('00000000-0000-4000-8000-0000000002c1',
	         '00000000-0000-4000-8000-0000000002e1', '00000000-0000-4000-8000-00000000023a')$$,
	$$VALUES ('00000000-0000-4000-8000-0000000002e1'::uuid, '00000000-0000-4000-8000-00000000023a'::uuid,
	          'pgtap-23-x@example.test', 'X', false, false, 'Org 23A', 'pgtap-23-a', false, 'admin',
	          false, false)$$,
	'no context given: X''s session in A, with the membership''s role');
SELECT is(
	(SELECT created_at FROM homebot.authenticate_session('00000000-0000-4000-8000-0000000002c1',
	        '00000000-0000-4000-8000-0000000002e1', '00000000-0000-4000-8000-00000000023a')),
	(SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
	   FROM homebot.users WHERE id = '00000000-0000-4000-8000-0000000002e1'),
	'created_at: RFC 3339 in UTC, with microseconds');
SELECT is(current_setting('app.org_id'), '00000000-0000-4000-8000-00000000023a',
	'it set app.org_id for the rest of the transaction');
SELECT is(current_setting('app.user_id'), '00000000-0000-4000-8000-0000000002e1',
	'it set app.user_id for the rest of the transaction');
SELECT is(
	(SELECT permissions FROM homebot.authenticate_session('00000000-0000-4000-8000-0000000002c1',
	        '00000000-0000-4000-8000-0000000002e1', '00000000-0000-4000-8000-00000000023a')),
	(SELECT string_agg(p, ',' ORDER BY p) FROM (SELECT permission FROM homebot.role_permissions WHERE role = 'admin'
	                                            UNION SELECT 'org:delete') AS t (p)),
	'permissions: the role''s and the user''s extra grants of that organization, sorted');
SELECT is(
	(SELECT permissions FROM homebot.authenticate_session('00000000-0000-4000-8000-0000000002c2',
	        '00000000-0000-4000-8000-0000000002e1', '00000000-0000-4000-8000-00000000023b')),
	(SELECT string_agg(permission, ',' ORDER BY permission) FROM homebot.role_permissions WHERE role = 'member'),
	'in B, X has a member''s permissions: A''s extra grant does not cross');

-- Every mismatch of session, user and organization: no row.
SELECT is_empty($$SELECT * FROM homebot.authenticate_session('00000000-0000-4000-8000-0000000002c3',
	'00000000-0000-4000-8000-0000000002f1', '00000000-0000-4000-8000-00000000023a')$$,
	'Y''s session of B named with organization A: no row');
SELECT is_empty($$SELECT * FROM homebot.authenticate_session('00000000-0000-4000-8000-0000000002c2',
	'00000000-0000-4000-8000-0000000002e1', '00000000-0000-4000-8000-00000000023a')$$,
	'X''s session of B named with organization A: no row');
SELECT is_empty($$SELECT * FROM homebot.authenticate_session('00000000-0000-4000-8000-0000000002c3',
	'00000000-0000-4000-8000-0000000002e1', '00000000-0000-4000-8000-00000000023b')$$,
	'Y''s session named with user X: no row');
SELECT is_empty($$SELECT * FROM homebot.authenticate_session('00000000-0000-4000-8000-0000000002c1',
	'00000000-0000-4000-8000-0000000002e1', NULL)$$,
	'no organization: no row');

-- What the caller refuses is reported, not hidden.
RESET ROLE;
UPDATE homebot.sessions SET revoked_at = now() WHERE id = '00000000-0000-4000-8000-0000000002c3';
UPDATE homebot.organizations SET suspended_at = now() WHERE id = '00000000-0000-4000-8000-00000000023b';
SET LOCAL ROLE homebot_app;
SELECT is((SELECT revoked FROM homebot.authenticate_session('00000000-0000-4000-8000-0000000002c3',
	'00000000-0000-4000-8000-0000000002f1', '00000000-0000-4000-8000-00000000023b')),
	true, 'a revoked session says so');
SELECT is((SELECT suspended FROM homebot.authenticate_session('00000000-0000-4000-8000-0000000002c2',
	'00000000-0000-4000-8000-0000000002e1', '00000000-0000-4000-8000-00000000023b')),
	true, 'a suspended organization says so');
RESET ROLE;
UPDATE homebot.memberships SET status = 'invited'
 WHERE organization_id = '00000000-0000-4000-8000-00000000023a' AND user_id = '00000000-0000-4000-8000-0000000002e1';
SET LOCAL ROLE homebot_app;
SELECT is_empty($$SELECT * FROM homebot.authenticate_session('00000000-0000-4000-8000-0000000002c1',
	'00000000-0000-4000-8000-0000000002e1', '00000000-0000-4000-8000-00000000023a')$$,
	'a membership that is not active: no row');
SELECT throws_ok($$SELECT * FROM homebot.authenticate_session('00000000-0000-4000-8000-0000000002c1',
	'not-a-uuid', '00000000-0000-4000-8000-00000000023a')$$,
	'22P02', NULL, 'a value that is not a UUID is a data exception (400), not a server fault');

SELECT * FROM finish();
ROLLBACK;
