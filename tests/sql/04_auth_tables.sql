-- The shape of 0002_auth: the permission tables hold exactly api.md §3, the
-- tables carry their policies, the runtime roles hold exactly the grants the
-- contract lists, the functions are narrow SECURITY DEFINER entry points,
-- and the definer_access policies open nothing to the runtime roles.
BEGIN;
SELECT plan(70);

SELECT has_table('homebot', t, 'table homebot.' || t || ' exists')
  FROM unnest(ARRAY['permissions', 'role_permissions', 'user_permissions', 'sessions',
                    'refresh_tokens', 'api_keys', 'login_attempts', 'auth_rate_limits',
                    'audit_log']) AS t;

-- Permissions and roles: the full sets, compared whole.
SELECT set_eq(
	'SELECT name FROM homebot.permissions',
	$$VALUES ('org:read'), ('members:read'), ('audit:read'), ('api_keys:read'), ('api_keys:write'),
	         ('members:write'), ('org:update'), ('org:delete'), ('members:owners'),
	         ('jobs:read'),
	         ('teams:read'), ('teams:write'), ('mqtt:subscribe'), ('mqtt:publish'),
	         ('secrets:read'), ('secrets:write'), ('secrets:reveal'),
	         ('connections:read'), ('connections:write')$$,
	'permissions holds exactly the permissions of api.md §3 (jobs:read from 0004, teams:* from 0009, mqtt:* from 0011, secrets:* from 0012, connections:* from 0013)');
SELECT is_empty(
	$$SELECT name FROM homebot.permissions WHERE description = ''$$,
	'every permission has a description');
SELECT set_eq(
	'SELECT role, permission FROM homebot.role_permissions',
	$$VALUES ('viewer', 'org:read'), ('viewer', 'members:read'), ('viewer', 'mqtt:subscribe'),
	         ('member', 'org:read'), ('member', 'members:read'), ('member', 'mqtt:subscribe'),
	         ('member', 'mqtt:publish'), ('admin', 'mqtt:subscribe'), ('admin', 'mqtt:publish'),
	         ('owner', 'mqtt:subscribe'), ('owner', 'mqtt:publish'),
	         ('admin', 'org:read'), ('admin', 'members:read'), ('admin', 'audit:read'),
	         ('admin', 'api_keys:read'), ('admin', 'api_keys:write'), ('admin', 'members:write'),
	         ('admin', 'org:update'), ('admin', 'jobs:read'),
	         ('owner', 'org:read'), ('owner', 'members:read'), ('owner', 'audit:read'),
	         ('owner', 'api_keys:read'), ('owner', 'api_keys:write'), ('owner', 'members:write'),
	         ('owner', 'org:update'), ('owner', 'org:delete'), ('owner', 'members:owners'),
	         ('owner', 'jobs:read'),
	         ('viewer', 'teams:read'), ('member', 'teams:read'), ('admin', 'teams:read'), ('owner', 'teams:read'),
	         ('admin', 'teams:write'), ('owner', 'teams:write'),
	         ('admin', 'secrets:read'), ('owner', 'secrets:read'), ('admin', 'secrets:write'), ('owner', 'secrets:write'),
	         ('owner', 'secrets:reveal'),
	         ('viewer', 'connections:read'), ('member', 'connections:read'), ('admin', 'connections:read'), ('owner', 'connections:read'),
	         ('admin', 'connections:write'), ('owner', 'connections:write')$$,
	'role_permissions is exactly the table of api.md §3');

-- Policies, by table.
SELECT policies_are('homebot', 'user_permissions', ARRAY['user_permissions_tenant', 'definer_access', 'admin_access'],
	'user_permissions: the tenant policy, definer_access and 0003''s admin_access');
SELECT policies_are('homebot', 'sessions',
	ARRAY['sessions_tenant', 'sessions_own_select', 'sessions_own_update', 'definer_access', 'admin_access'],
	'sessions: tenant, own-sessions (select, update), definer_access and 0003''s admin_access');
SELECT policy_cmd_is('homebot', 'sessions', 'sessions_own_select', 'SELECT',
	'the own-sessions policy that reads is for SELECT only');
SELECT policy_cmd_is('homebot', 'sessions', 'sessions_own_update', 'UPDATE',
	'the own-sessions policy that writes is for UPDATE only (never INSERT or DELETE)');
SELECT policies_are('homebot', 'refresh_tokens', ARRAY['refresh_tokens_tenant', 'definer_access'],
	'refresh_tokens: the tenant policy and definer_access');
SELECT policies_are('homebot', 'api_keys', ARRAY['api_keys_tenant', 'definer_access', 'admin_access'],
	'api_keys: the tenant policy, definer_access and 0003''s admin_access');
SELECT policies_are('homebot', 'audit_log', ARRAY['audit_log_tenant', 'definer_access', 'admin_access'],
	'audit_log: the tenant policy, definer_access and 0003''s admin_access');
SELECT policies_are('homebot', 'organizations', ARRAY['organizations_tenant', 'definer_access', 'admin_access'],
	'organizations: 0001''s policy, definer_access and 0003''s admin_access');
SELECT policies_are('homebot', 'users', ARRAY['users_in_current_organization', 'definer_access', 'admin_access'],
	'users: 0001''s policy, definer_access and 0003''s admin_access');
SELECT policies_are('homebot', 'memberships', ARRAY['memberships_tenant', 'definer_access', 'admin_access'],
	'memberships: 0001''s policy, definer_access and 0003''s admin_access');

-- definer_access names the owner of its table (the role that ran the
-- migrations), which also owns the functions, and no runtime role.
SELECT is(
	(SELECT coalesce(array_agg(c.oid::regclass::text ORDER BY c.oid::regclass::text), '{}')
	   FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid
	  WHERE p.polname = 'definer_access'
	    AND p.polroles IS DISTINCT FROM ARRAY[c.relowner]::oid[]),
	'{}'::text[],
	'every definer_access policy names exactly its table''s owner, never PUBLIC');
SELECT is(
	(SELECT coalesce(array_agg(DISTINCT c.relowner::regrole::text), '{}')
	   FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid
	  WHERE p.polname = 'definer_access'
	    AND c.relowner NOT IN (SELECT proowner FROM pg_proc
	                            WHERE pronamespace = 'homebot'::regnamespace)),
	'{}'::text[],
	'the role definer_access names is the one that owns the functions');
SELECT is(
	(SELECT coalesce(array_agg(DISTINCT r::regrole::text), '{}')
	   FROM pg_policy p, unnest(p.polroles) AS r
	  WHERE p.polname = 'definer_access'
	    AND r <> 0
	    AND (pg_has_role('homebot_app', r, 'USAGE') OR pg_has_role('homebot_admin', r, 'USAGE'))),
	'{}'::text[],
	'neither runtime role has the privileges of a role definer_access names');
SELECT is(
	(SELECT coalesce(array_agg(c.relname::text ORDER BY c.relname), '{}')
	   FROM pg_class c
	  WHERE c.relnamespace = 'homebot'::regnamespace AND c.relkind IN ('r', 'p')
	    AND c.relname IN ('organizations', 'users', 'memberships', 'user_permissions', 'sessions',
	                      'refresh_tokens', 'api_keys', 'audit_log')
	    AND NOT (c.relrowsecurity AND c.relforcerowsecurity)),
	'{}'::text[],
	'every table the functions use under RLS has it enabled and forced');

-- The own-sessions policies are bound to the tenant context too: app.user_id
-- alone never opens a row.
SELECT is(
	(SELECT coalesce(array_agg(polname::text ORDER BY polname), '{}')
	   FROM pg_policy
	  WHERE polrelid = 'homebot.sessions'::regclass
	    AND polname IN ('sessions_own_select', 'sessions_own_update')
	    AND NOT (pg_get_expr(polqual, polrelid) LIKE '%app.user_id%'
	             AND pg_get_expr(polqual, polrelid) LIKE '%app.org_id%')),
	'{}'::text[],
	'the own-sessions policies check app.user_id and require app.org_id');

-- Global tables: no tenant column, unlogged where said.
SELECT hasnt_column('homebot', t, 'organization_id', 'homebot.' || t || ' is global (no organization_id)')
  FROM unnest(ARRAY['permissions', 'role_permissions', 'login_attempts', 'auth_rate_limits']) AS t;
SELECT is((SELECT relpersistence::text FROM pg_class WHERE oid = 'homebot.auth_rate_limits'::regclass),
	'u', 'auth_rate_limits is UNLOGGED');

-- Indexes the functions and the request path rely on.
SELECT has_index('homebot', 'sessions', 'sessions_organization_id_user_id_idx',
	ARRAY['organization_id', 'user_id'], 'sessions has an index on (organization_id, user_id)');
SELECT is(
	(SELECT pg_get_indexdef(indexrelid) FROM pg_index
	  WHERE indexrelid = 'homebot.sessions_user_id_created_at_idx'::regclass),
	'CREATE INDEX sessions_user_id_created_at_idx ON homebot.sessions USING btree (user_id, created_at DESC, id DESC)',
	'sessions has an index on (user_id, created_at DESC, id DESC)');
SELECT has_index('homebot', 'refresh_tokens', 'refresh_tokens_organization_id_session_id_idx',
	ARRAY['organization_id', 'session_id'], 'refresh_tokens has an index on (organization_id, session_id)');
SELECT is(
	(SELECT pg_get_indexdef(indexrelid) FROM pg_index
	  WHERE indexrelid = 'homebot.api_keys_organization_id_created_at_idx'::regclass),
	'CREATE INDEX api_keys_organization_id_created_at_idx ON homebot.api_keys USING btree (organization_id, created_at DESC, id DESC)',
	'api_keys has an index on (organization_id, created_at DESC, id DESC)');
SELECT is(
	(SELECT pg_get_indexdef(indexrelid) FROM pg_index
	  WHERE indexrelid = 'homebot.audit_log_organization_id_occurred_at_idx'::regclass),
	'CREATE INDEX audit_log_organization_id_occurred_at_idx ON homebot.audit_log USING btree (organization_id, occurred_at DESC, id DESC)',
	'audit_log has an index on (organization_id, occurred_at DESC, id DESC)');
SELECT is(
	(SELECT pg_get_indexdef(indexrelid) FROM pg_index
	  WHERE indexrelid = 'homebot.login_attempts_email_attempted_at_idx'::regclass),
	'CREATE INDEX login_attempts_email_attempted_at_idx ON homebot.login_attempts USING btree (email, attempted_at DESC)',
	'login_attempts has an index on (email, attempted_at DESC)');

-- Grants: exactly the contract's.
SELECT table_privs_are('homebot', 'permissions', 'homebot_app', ARRAY['SELECT'],
	'homebot_app may only read permissions');
SELECT table_privs_are('homebot', 'role_permissions', 'homebot_app', ARRAY['SELECT'],
	'homebot_app may only read role_permissions');
SELECT table_privs_are('homebot', 'user_permissions', 'homebot_app', ARRAY['SELECT', 'INSERT', 'DELETE'],
	'homebot_app may read, grant and take extra permissions, not update or truncate them');
SELECT table_privs_are('homebot', 'sessions', 'homebot_app', ARRAY['SELECT'],
	'homebot_app may read sessions, and not insert, delete or truncate them');
SELECT is(
	ARRAY(SELECT a.attname::text FROM pg_attribute a
	       WHERE a.attrelid = 'homebot.sessions'::regclass AND a.attnum > 0 AND NOT a.attisdropped
	         AND has_column_privilege('homebot_app', a.attrelid, a.attnum, 'UPDATE')
	       ORDER BY a.attname),
	ARRAY['last_used_at', 'revoked_at'],
	'homebot_app may update only last_used_at and revoked_at of sessions');
SELECT table_privs_are('homebot', 'refresh_tokens', 'homebot_app', '{}'::text[],
	'homebot_app has no privilege on refresh_tokens');
SELECT table_privs_are('homebot', 'api_keys', 'homebot_app', ARRAY['SELECT', 'INSERT'],
	'homebot_app may read and create API keys, not delete or truncate them');
SELECT is(
	ARRAY(SELECT a.attname::text FROM pg_attribute a
	       WHERE a.attrelid = 'homebot.api_keys'::regclass AND a.attnum > 0 AND NOT a.attisdropped
	         AND has_column_privilege('homebot_app', a.attrelid, a.attnum, 'UPDATE')
	       ORDER BY a.attname),
	ARRAY['last_used_at', 'revoked_at'],
	'homebot_app may update only last_used_at and revoked_at of API keys');
SELECT table_privs_are('homebot', 'audit_log', 'homebot_app', ARRAY['SELECT', 'INSERT'],
	'homebot_app may only read and append to the audit log');
SELECT table_privs_are('homebot', 'login_attempts', 'homebot_app', '{}'::text[],
	'homebot_app has no privilege on login_attempts');
SELECT table_privs_are('homebot', 'auth_rate_limits', 'homebot_app', '{}'::text[],
	'homebot_app has no privilege on auth_rate_limits');
SELECT is(
	(SELECT coalesce(array_agg(c.relname::text ORDER BY c.relname), '{}')
	   FROM pg_class c
	  WHERE c.relnamespace = 'homebot'::regnamespace AND c.relkind IN ('r', 'p', 'S')
	    AND c.relname IN ('refresh_tokens', 'login_attempts', 'auth_rate_limits', 'login_attempts_id_seq')
	    AND (has_table_privilege('homebot_admin', c.oid, 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')
	         OR has_any_column_privilege('homebot_admin', c.oid, 'SELECT, INSERT, UPDATE, REFERENCES'))),
	'{}'::text[],
	'homebot_admin has no privilege on refresh_tokens, login_attempts or auth_rate_limits (its grants on the other tables of 0002 come with 0003: tests/sql/10_orgs_schema.sql)');
SELECT ok(NOT has_sequence_privilege('homebot_app', 'homebot.login_attempts_id_seq', 'USAGE, SELECT, UPDATE'),
	'homebot_app has no privilege on login_attempts'' sequence');

-- Functions: SECURITY DEFINER, fixed search_path, executable by homebot_app
-- and not by PUBLIC.
CREATE TEMP TABLE auth_functions (sig regprocedure);
INSERT INTO auth_functions VALUES
	('homebot.auth_rate_hit(text, text, integer)'),
	('homebot.login_lookup(text, integer, integer, text)'),
	('homebot.login_failed(text, uuid, text, text, text, integer, integer, bigint)'),
	('homebot.login_start(uuid, uuid, text, text, text, bytea, integer, text, text, text, cidr, text)'),
	('homebot.register(text, text, text, text, text, text, text, bytea, integer, text, cidr)'),
	('homebot.refresh_rotate(bytea, bytea, integer, text, text, text, integer)'),
	('homebot.authenticate_api_key(text, bytea)');

SELECT is(
	(SELECT coalesce(array_agg(f.sig::text ORDER BY f.sig::text), '{}')
	   FROM auth_functions f JOIN pg_proc p ON p.oid = f.sig
	  WHERE NOT p.prosecdef
	     OR p.proconfig IS DISTINCT FROM ARRAY['search_path=pg_catalog, homebot, pg_temp']),
	'{}'::text[],
	'every auth function is SECURITY DEFINER with search_path = pg_catalog, homebot, pg_temp');
SELECT is(
	(SELECT coalesce(array_agg(f.sig::text ORDER BY f.sig::text), '{}')
	   FROM auth_functions f JOIN pg_proc p ON p.oid = f.sig
	  WHERE p.proacl IS NULL
	     OR EXISTS (SELECT FROM aclexplode(p.proacl) a WHERE a.grantee = 0)),
	'{}'::text[],
	'no auth function is executable by PUBLIC');
SELECT is(
	(SELECT coalesce(array_agg(f.sig::text ORDER BY f.sig::text), '{}')
	   FROM auth_functions f
	  WHERE NOT has_function_privilege('homebot_app', f.sig, 'EXECUTE')),
	'{}'::text[],
	'homebot_app may execute every auth function');
SELECT is(
	(SELECT coalesce(array_agg(f.sig::text ORDER BY f.sig::text), '{}')
	   FROM auth_functions f
	  WHERE has_function_privilege('homebot_admin', f.sig, 'EXECUTE')),
	'{}'::text[],
	'homebot_admin may execute none of them (nothing new yet)');
SELECT is((SELECT provolatile::text FROM pg_proc WHERE oid = 'homebot.authenticate_api_key(text, bytea)'::regprocedure),
	'v', 'authenticate_api_key is VOLATILE (it writes last_used_at)');

-- Constraints (as the owner: they hold for every writer).
INSERT INTO homebot.organizations (id, name, slug) VALUES
	('00000000-0000-4000-8000-00000000040a', 'Org 4A', 'pgtap-04-a');
INSERT INTO homebot.users (id, email) VALUES
	('00000000-0000-4000-8000-0000000004a1', 'pgtap-04-a1@example.test');
INSERT INTO homebot.sessions (id, organization_id, user_id) VALUES
	('00000000-0000-4000-8000-0000000004c1', '00000000-0000-4000-8000-00000000040a',
	 '00000000-0000-4000-8000-0000000004a1');

SELECT throws_ok(
	$$INSERT INTO homebot.sessions (organization_id, user_id, user_agent)
	  VALUES ('00000000-0000-4000-8000-00000000040a', '00000000-0000-4000-8000-0000000004a1', repeat('x', 513))$$,
	'23514', NULL, 'a session''s user_agent is at most 512 characters');
SELECT throws_ok(
	$$INSERT INTO homebot.refresh_tokens (organization_id, session_id, token_hash, expires_at)
	  VALUES ('00000000-0000-4000-8000-00000000040a', '00000000-0000-4000-8000-0000000004c1',
	          '\x00112233', now() + interval '1 day')$$,
	'23514', NULL, 'a refresh token hash is 32 bytes');
SELECT lives_ok(
	$$INSERT INTO homebot.refresh_tokens (organization_id, session_id, token_hash, expires_at)
	  VALUES ('00000000-0000-4000-8000-00000000040a', '00000000-0000-4000-8000-0000000004c1',
	          sha256('pgtap-04-token'), now() + interval '1 day')$$,
	'a 32-byte refresh token hash is accepted');
SELECT throws_ok(
	$$INSERT INTO homebot.refresh_tokens (organization_id, session_id, token_hash, expires_at)
	  VALUES ('00000000-0000-4000-8000-00000000040a', '00000000-0000-4000-8000-0000000004c1',
	          sha256('pgtap-04-token'), now() + interval '1 day')$$,
	'23505', NULL, 'refresh token hashes are unique');
SELECT throws_ok(
	$$INSERT INTO homebot.api_keys (organization_id, prefix, key_hash, name, scopes, created_by)
	  VALUES ('00000000-0000-4000-8000-00000000040a', 'ABCD1234', sha256('k'), 'k', '{}',
	          '00000000-0000-4000-8000-0000000004a1')$$,
	'23514', NULL, 'an API key prefix is 8 characters of [a-z0-9]');
SELECT throws_ok(
	$$INSERT INTO homebot.api_keys (organization_id, prefix, key_hash, name, scopes, created_by)
	  VALUES ('00000000-0000-4000-8000-00000000040a', 'abcd1234', '\x01', 'k', '{}',
	          '00000000-0000-4000-8000-0000000004a1')$$,
	'23514', NULL, 'an API key hash is 32 bytes');
SELECT throws_ok(
	$$INSERT INTO homebot.api_keys (organization_id, prefix, key_hash, name, scopes, created_by)
	  VALUES ('00000000-0000-4000-8000-00000000040a', 'abcd1234', sha256('k'), repeat('n', 101), '{}',
	          '00000000-0000-4000-8000-0000000004a1')$$,
	'23514', NULL, 'an API key name is at most 100 characters');
SELECT throws_ok(
	$$INSERT INTO homebot.login_attempts (email, succeeded) VALUES ('Pgtap-04@Example.test', false)$$,
	'23514', NULL, 'login_attempts stores emails in lower case only');
SELECT throws_ok(
	$$INSERT INTO homebot.audit_log (actor_type, action) VALUES ('robot', 'x')$$,
	'23514', NULL, 'an audit actor is a user, an api_key or the system');
SELECT throws_ok(
	$$INSERT INTO homebot.role_permissions (role, permission) VALUES ('viewer', 'org:rule')$$,
	'23503', NULL, 'role_permissions names existing permissions only');

-- What homebot_app is refused outright, whatever its tenant context.
SET LOCAL ROLE homebot_app;
SELECT set_config('app.org_id', '00000000-0000-4000-8000-00000000040a', true);

SELECT throws_ok('SELECT * FROM homebot.refresh_tokens', '42501',
	'permission denied for table refresh_tokens', 'homebot_app cannot read refresh_tokens');
SELECT throws_ok('SELECT * FROM homebot.login_attempts', '42501',
	'permission denied for table login_attempts', 'homebot_app cannot read login_attempts');
SELECT throws_ok('SELECT * FROM homebot.auth_rate_limits', '42501',
	'permission denied for table auth_rate_limits', 'homebot_app cannot read auth_rate_limits');
SELECT throws_ok($$INSERT INTO homebot.role_permissions (role, permission) VALUES ('viewer', 'org:delete')$$,
	'42501', 'permission denied for table role_permissions',
	'homebot_app cannot widen a role');

SELECT * FROM finish();
ROLLBACK;
