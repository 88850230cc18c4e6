-- The audit triggers of 0003_orgs: every INSERT, UPDATE and DELETE on
-- organizations, users, memberships, user_permissions, sessions,
-- refresh_tokens, api_keys and invitations writes one audit event, with
-- the actor and request id of the context settings, and without any hash.
--
-- Each table is written three times under one request id: the insert by a
-- user (app.user_id), the update by an API key (app.api_key_id, with its
-- creator in app.user_id as the request path sets them), the delete by the
-- system (no settings). Writes happen as the superuser unless said: the
-- triggers fire for every writer.
--
--   T = ...110a (U owner, N invited)          T2 = ...110b (created and deleted)
--   U = ...11e1, N = ...11e2, W = ...11e3 (created and deleted)
--   K = ...11d1: U's API key in T (the actor); K2 = ...11d2 (created and deleted)
--   S0 = ...11c0: U's session in T; S = ...11c1 (created and deleted)
BEGIN;
SELECT plan(40);

CREATE FUNCTION pg_temp.ctx(p_request text, p_user uuid, p_key uuid) RETURNS void
LANGUAGE sql AS $$
	SELECT set_config('app.request_id', coalesce(p_request, ''), true),
	       set_config('app.user_id', coalesce(p_user::text, ''), true),
	       set_config('app.api_key_id', coalesce(p_key::text, ''), true);
$$;

-- The events of one request: what every table's check compares.
CREATE FUNCTION pg_temp.events(p_request text)
RETURNS TABLE (action text, organization_id uuid, actor_type text, actor_id uuid, target_type text,
               target_id text, has_old boolean, has_new boolean, ip text, user_agent text)
LANGUAGE sql AS $$
	SELECT a.action, a.organization_id, a.actor_type, a.actor_id, a.target_type, a.target_id,
	       a.changes ? 'old', a.changes ? 'new', a.ip, a.user_agent
	  FROM homebot.audit_log a WHERE a.request_id = p_request ORDER BY a.occurred_at, a.id
$$;

SELECT pg_temp.ctx('pgtap-11-setup', NULL, NULL);
INSERT INTO homebot.organizations (id, name, slug) VALUES
	('00000000-0000-4000-8000-00000000110a', 'Org 11', 'pgtap-11-t');
INSERT INTO homebot.users (id, email, password_hash, full_name) VALUES
	('00000000-0000-4000-8000-0000000011e1', 'pgtap-11-u@example.test', '$2b$12$pgtap11usecret', 'U'),
	('00000000-0000-4000-8000-0000000011e2', 'pgtap-11-n@example.test', NULL, '');
INSERT INTO homebot.memberships (organization_id, user_id, role, status) VALUES
	('00000000-0000-4000-8000-00000000110a', '00000000-0000-4000-8000-0000000011e1', 'owner', 'active'),
	('00000000-0000-4000-8000-00000000110a', '00000000-0000-4000-8000-0000000011e2', 'member', 'invited');
INSERT INTO homebot.api_keys (id, organization_id, prefix, key_hash, name, scopes, created_by) VALUES
	('00000000-0000-4000-8000-0000000011d1', '00000000-0000-4000-8000-00000000110a', 'pgtap11k',
	 sha256('pgtap-11-key'), 'K', '{org:read}', '00000000-0000-4000-8000-0000000011e1');
INSERT INTO homebot.sessions (id, organization_id, user_id) VALUES
	('00000000-0000-4000-8000-0000000011c0', '00000000-0000-4000-8000-00000000110a', '00000000-0000-4000-8000-0000000011e1');

SELECT results_eq(
	$$SELECT action, organization_id, actor_type, actor_id FROM pg_temp.events('pgtap-11-setup')$$,
	$$VALUES ('row.organizations.insert'::text, '00000000-0000-4000-8000-00000000110a'::uuid, 'system'::text, NULL::uuid),
	         ('row.users.insert', NULL, 'system', NULL), ('row.users.insert', NULL, 'system', NULL),
	         ('row.memberships.insert', '00000000-0000-4000-8000-00000000110a', 'system', NULL),
	         ('row.memberships.insert', '00000000-0000-4000-8000-00000000110a', 'system', NULL),
	         ('row.api_keys.insert', '00000000-0000-4000-8000-00000000110a', 'system', NULL),
	         ('row.sessions.insert', '00000000-0000-4000-8000-00000000110a', 'system', NULL)$$,
	'every seeded row is one event, in order; no settings: the system is the actor');

-- organizations (T2). The settings document carries hashes at two levels.
SELECT pg_temp.ctx('pgtap-11-organizations', '00000000-0000-4000-8000-0000000011e1', NULL);
INSERT INTO homebot.organizations (id, name, slug, settings) VALUES
	('00000000-0000-4000-8000-00000000110b', 'Org 11 two', 'pgtap-11-t2',
	 '{"theme": "dark", "token_hash": "$2b$12$pgtap11top",
	   "nested": {"password_hash": "$2b$12$pgtap11nested", "list": [{"key_hash": "pgtap11deep", "keep": 1}, 2]}}');
SELECT pg_temp.ctx('pgtap-11-organizations', '00000000-0000-4000-8000-0000000011e1', '00000000-0000-4000-8000-0000000011d1');
UPDATE homebot.organizations SET name = 'Org 11 renamed' WHERE id = '00000000-0000-4000-8000-00000000110b';
SELECT pg_temp.ctx('pgtap-11-organizations', NULL, NULL);
DELETE FROM homebot.organizations WHERE id = '00000000-0000-4000-8000-00000000110b';

SELECT results_eq(
	$$SELECT * FROM pg_temp.events('pgtap-11-organizations')$$,
	$$VALUES
	('row.organizations.insert'::text, '00000000-0000-4000-8000-00000000110b'::uuid, 'user'::text,
	 '00000000-0000-4000-8000-0000000011e1'::uuid, 'organizations'::text, '00000000-0000-4000-8000-00000000110b'::text,
	 false, true, NULL::text, NULL::text),
	('row.organizations.update', '00000000-0000-4000-8000-00000000110b', 'api_key',
	 '00000000-0000-4000-8000-0000000011d1', 'organizations', '00000000-0000-4000-8000-00000000110b', true, true, NULL, NULL),
	('row.organizations.delete', '00000000-0000-4000-8000-00000000110b', 'system',
	 NULL, 'organizations', '00000000-0000-4000-8000-00000000110b', true, false, NULL, NULL)$$,
	'organizations: insert by the user, update by the API key, delete by the system; the organization is its own id');
SELECT is(
	(SELECT changes #> '{new,settings}' FROM homebot.audit_log
	  WHERE request_id = 'pgtap-11-organizations' AND action = 'row.organizations.insert'),
	'{"theme": "dark", "nested": {"list": [{"keep": 1}, 2]}}'::jsonb,
	'organizations: keys ending in _hash are removed at every level, in objects and in arrays, the rest is kept');
SELECT results_eq(
	$$SELECT changes #>> '{old,name}', changes #>> '{new,name}', changes #>> '{new,slug}' FROM homebot.audit_log
	   WHERE request_id = 'pgtap-11-organizations' AND action = 'row.organizations.update'$$,
	$$VALUES ('Org 11 two'::text, 'Org 11 renamed'::text, 'pgtap-11-t2'::text)$$,
	'organizations: an update records the old and the new row');

-- users (W): a global table, so no organization.
SELECT pg_temp.ctx('pgtap-11-users', '00000000-0000-4000-8000-0000000011e1', NULL);
INSERT INTO homebot.users (id, email, password_hash, full_name) VALUES
	('00000000-0000-4000-8000-0000000011e3', 'pgtap-11-w@example.test', '$2b$12$pgtap11wsecret', 'W');
SELECT pg_temp.ctx('pgtap-11-users', '00000000-0000-4000-8000-0000000011e1', '00000000-0000-4000-8000-0000000011d1');
UPDATE homebot.users SET full_name = 'W two', password_hash = '$2b$12$pgtap11wnewsecret'
 WHERE id = '00000000-0000-4000-8000-0000000011e3';
UPDATE homebot.users SET password_hash = '$2b$12$pgtap11wthirdsecret' WHERE id = '00000000-0000-4000-8000-0000000011e3';
SELECT pg_temp.ctx('pgtap-11-users', NULL, NULL);
DELETE FROM homebot.users WHERE id = '00000000-0000-4000-8000-0000000011e3';

SELECT results_eq(
	$$SELECT * FROM pg_temp.events('pgtap-11-users')$$,
	$$VALUES
	('row.users.insert'::text, NULL::uuid, 'user'::text, '00000000-0000-4000-8000-0000000011e1'::uuid, 'users'::text,
	 '00000000-0000-4000-8000-0000000011e3'::text, false, true, NULL::text, NULL::text),
	('row.users.update', NULL, 'api_key', '00000000-0000-4000-8000-0000000011d1', 'users',
	 '00000000-0000-4000-8000-0000000011e3', true, true, NULL, NULL),
	('row.users.update', NULL, 'api_key', '00000000-0000-4000-8000-0000000011d1', 'users',
	 '00000000-0000-4000-8000-0000000011e3', true, true, NULL, NULL),
	('row.users.delete', NULL, 'system', NULL, 'users', '00000000-0000-4000-8000-0000000011e3', true, false, NULL, NULL)$$,
	'users: insert, two updates (one of the password alone: it is a change, recorded without the hash), delete; no organization');
SELECT results_eq(
	$$SELECT changes #>> '{old,full_name}', changes #>> '{new,full_name}', changes #>> '{new,email}'
	    FROM homebot.audit_log WHERE request_id = 'pgtap-11-users' AND action = 'row.users.update'
	   ORDER BY occurred_at$$,
	$$VALUES ('W'::text, 'W two'::text, 'pgtap-11-w@example.test'::text),
	         ('W two', 'W two', 'pgtap-11-w@example.test')$$,
	'users: the updates record the other columns');

-- memberships (V = ...11e4, a new user).
SELECT pg_temp.ctx('pgtap-11-memberships', '00000000-0000-4000-8000-0000000011e1', NULL);
INSERT INTO homebot.users (id, email) VALUES ('00000000-0000-4000-8000-0000000011e4', 'pgtap-11-v@example.test');
INSERT INTO homebot.memberships (organization_id, user_id, role, status) VALUES
	('00000000-0000-4000-8000-00000000110a', '00000000-0000-4000-8000-0000000011e4', 'member', 'invited');
SELECT pg_temp.ctx('pgtap-11-memberships', '00000000-0000-4000-8000-0000000011e1', '00000000-0000-4000-8000-0000000011d1');
UPDATE homebot.memberships SET role = 'admin', status = 'active'
 WHERE organization_id = '00000000-0000-4000-8000-00000000110a' AND user_id = '00000000-0000-4000-8000-0000000011e4';
SELECT pg_temp.ctx('pgtap-11-memberships', NULL, NULL);
DELETE FROM homebot.memberships
 WHERE organization_id = '00000000-0000-4000-8000-00000000110a' AND user_id = '00000000-0000-4000-8000-0000000011e4';

SELECT results_eq(
	$$SELECT * FROM pg_temp.events('pgtap-11-memberships') WHERE action LIKE 'row.memberships.%'$$,
	$$VALUES
	('row.memberships.insert'::text, '00000000-0000-4000-8000-00000000110a'::uuid, 'user'::text,
	 '00000000-0000-4000-8000-0000000011e1'::uuid, 'memberships'::text, '00000000-0000-4000-8000-0000000011e4'::text,
	 false, true, NULL::text, NULL::text),
	('row.memberships.update', '00000000-0000-4000-8000-00000000110a', 'api_key', '00000000-0000-4000-8000-0000000011d1',
	 'memberships', '00000000-0000-4000-8000-0000000011e4', true, true, NULL, NULL),
	('row.memberships.delete', '00000000-0000-4000-8000-00000000110a', 'system', NULL,
	 'memberships', '00000000-0000-4000-8000-0000000011e4', true, false, NULL, NULL)$$,
	'memberships: insert, update, delete, in the membership''s organization, the member as target');
SELECT results_eq(
	$$SELECT changes -> 'old' ->> 'role', changes -> 'old' ->> 'status', changes -> 'new' ->> 'role', changes -> 'new' ->> 'status'
	    FROM homebot.audit_log WHERE request_id = 'pgtap-11-memberships' AND action = 'row.memberships.update'$$,
	$$VALUES ('member'::text, 'invited'::text, 'admin'::text, 'active'::text)$$,
	'memberships: the update records the role and status before and after');

-- user_permissions (U in T).
SELECT pg_temp.ctx('pgtap-11-user_permissions', '00000000-0000-4000-8000-0000000011e1', NULL);
INSERT INTO homebot.user_permissions (organization_id, user_id, permission) VALUES
	('00000000-0000-4000-8000-00000000110a', '00000000-0000-4000-8000-0000000011e1', 'org:delete');
SELECT pg_temp.ctx('pgtap-11-user_permissions', '00000000-0000-4000-8000-0000000011e1', '00000000-0000-4000-8000-0000000011d1');
UPDATE homebot.user_permissions SET permission = 'members:owners'
 WHERE organization_id = '00000000-0000-4000-8000-00000000110a' AND user_id = '00000000-0000-4000-8000-0000000011e1';
SELECT pg_temp.ctx('pgtap-11-user_permissions', NULL, NULL);
DELETE FROM homebot.user_permissions
 WHERE organization_id = '00000000-0000-4000-8000-00000000110a' AND user_id = '00000000-0000-4000-8000-0000000011e1';

SELECT results_eq(
	$$SELECT * FROM pg_temp.events('pgtap-11-user_permissions')$$,
	$$VALUES
	('row.user_permissions.insert'::text, '00000000-0000-4000-8000-00000000110a'::uuid, 'user'::text,
	 '00000000-0000-4000-8000-0000000011e1'::uuid, 'user_permissions'::text, '00000000-0000-4000-8000-0000000011e1'::text,
	 false, true, NULL::text, NULL::text),
	('row.user_permissions.update', '00000000-0000-4000-8000-00000000110a', 'api_key', '00000000-0000-4000-8000-0000000011d1',
	 'user_permissions', '00000000-0000-4000-8000-0000000011e1', true, true, NULL, NULL),
	('row.user_permissions.delete', '00000000-0000-4000-8000-00000000110a', 'system', NULL,
	 'user_permissions', '00000000-0000-4000-8000-0000000011e1', true, false, NULL, NULL)$$,
	'user_permissions: insert, update, delete, the member as target');
SELECT results_eq(
	$$SELECT changes #>> '{old,permission}', changes #>> '{new,permission}' FROM homebot.audit_log
	   WHERE request_id = 'pgtap-11-user_permissions' AND action = 'row.user_permissions.update'$$,
	$$VALUES ('org:delete'::text, 'members:owners'::text)$$,
	'user_permissions: the update records the permission before and after');

-- sessions (S). A touch of last_used_at alone is no event.
SELECT pg_temp.ctx('pgtap-11-sessions', '00000000-0000-4000-8000-0000000011e1', NULL);
INSERT INTO homebot.sessions (id, organization_id, user_id, ip, user_agent) VALUES
	('00000000-0000-4000-8000-0000000011c1', '00000000-0000-4000-8000-00000000110a', '00000000-0000-4000-8000-0000000011e1',
	 '192.0.2.11', 'pgtap-agent');
SELECT pg_temp.ctx('pgtap-11-touch', '00000000-0000-4000-8000-0000000011e1', NULL);
UPDATE homebot.sessions SET last_used_at = now() + interval '1 minute' WHERE id = '00000000-0000-4000-8000-0000000011c1';
SELECT pg_temp.ctx('pgtap-11-sessions', '00000000-0000-4000-8000-0000000011e1', '00000000-0000-4000-8000-0000000011d1');
UPDATE homebot.sessions SET revoked_at = now(), last_used_at = now() + interval '2 minutes'
 WHERE id = '00000000-0000-4000-8000-0000000011c1';
SELECT pg_temp.ctx('pgtap-11-sessions', NULL, NULL);
DELETE FROM homebot.sessions WHERE id = '00000000-0000-4000-8000-0000000011c1';

SELECT results_eq(
	$$SELECT * FROM pg_temp.events('pgtap-11-sessions')$$,
	$$VALUES
	('row.sessions.insert'::text, '00000000-0000-4000-8000-00000000110a'::uuid, 'user'::text,
	 '00000000-0000-4000-8000-0000000011e1'::uuid, 'sessions'::text, '00000000-0000-4000-8000-0000000011c1'::text,
	 false, true, NULL::text, NULL::text),
	('row.sessions.update', '00000000-0000-4000-8000-00000000110a', 'api_key', '00000000-0000-4000-8000-0000000011d1',
	 'sessions', '00000000-0000-4000-8000-0000000011c1', true, true, NULL, NULL),
	('row.sessions.delete', '00000000-0000-4000-8000-00000000110a', 'system', NULL,
	 'sessions', '00000000-0000-4000-8000-0000000011c1', true, false, NULL, NULL)$$,
	'sessions: insert, the revocation (last_used_at changed with it), delete; ip and user_agent of the event stay NULL');
SELECT is(
	(SELECT changes #>> '{new,ip}' FROM homebot.audit_log
	  WHERE request_id = 'pgtap-11-sessions' AND action = 'row.sessions.insert'),
	'192.0.2.11', 'sessions: the session''s own ip is in the recorded row');

-- refresh_tokens (on S0).
SELECT pg_temp.ctx('pgtap-11-refresh_tokens', '00000000-0000-4000-8000-0000000011e1', NULL);
INSERT INTO homebot.refresh_tokens (id, organization_id, session_id, token_hash, expires_at) VALUES
	('00000000-0000-4000-8000-0000000011b1', '00000000-0000-4000-8000-00000000110a',
	 '00000000-0000-4000-8000-0000000011c0', sha256('pgtap-11-refresh'), now() + interval '1 day');
SELECT pg_temp.ctx('pgtap-11-refresh_tokens', '00000000-0000-4000-8000-0000000011e1', '00000000-0000-4000-8000-0000000011d1');
UPDATE homebot.refresh_tokens SET used_at = now() WHERE id = '00000000-0000-4000-8000-0000000011b1';
SELECT pg_temp.ctx('pgtap-11-refresh_tokens', NULL, NULL);
DELETE FROM homebot.refresh_tokens WHERE id = '00000000-0000-4000-8000-0000000011b1';

SELECT results_eq(
	$$SELECT * FROM pg_temp.events('pgtap-11-refresh_tokens')$$,
	$$VALUES
	('row.refresh_tokens.insert'::text, '00000000-0000-4000-8000-00000000110a'::uuid, 'user'::text,
	 '00000000-0000-4000-8000-0000000011e1'::uuid, 'refresh_tokens'::text, '00000000-0000-4000-8000-0000000011b1'::text,
	 false, true, NULL::text, NULL::text),
	('row.refresh_tokens.update', '00000000-0000-4000-8000-00000000110a', 'api_key', '00000000-0000-4000-8000-0000000011d1',
	 'refresh_tokens', '00000000-0000-4000-8000-0000000011b1', true, true, NULL, NULL),
	('row.refresh_tokens.delete', '00000000-0000-4000-8000-00000000110a', 'system', NULL,
	 'refresh_tokens', '00000000-0000-4000-8000-0000000011b1', true, false, NULL, NULL)$$,
	'refresh_tokens: insert, update, delete');
SELECT is(
	(SELECT changes #>> '{new,session_id}' FROM homebot.audit_log
	  WHERE request_id = 'pgtap-11-refresh_tokens' AND action = 'row.refresh_tokens.insert'),
	'00000000-0000-4000-8000-0000000011c0', 'refresh_tokens: the row is recorded, without its hash');

-- api_keys (K2). A touch of last_used_at alone is no event.
SELECT pg_temp.ctx('pgtap-11-api_keys', '00000000-0000-4000-8000-0000000011e1', NULL);
INSERT INTO homebot.api_keys (id, organization_id, prefix, key_hash, name, scopes, created_by) VALUES
	('00000000-0000-4000-8000-0000000011d2', '00000000-0000-4000-8000-00000000110a', 'pgtap11l',
	 sha256('pgtap-11-key-two'), 'K2', '{org:read,members:read}', '00000000-0000-4000-8000-0000000011e1');
SELECT pg_temp.ctx('pgtap-11-touch', '00000000-0000-4000-8000-0000000011e1', '00000000-0000-4000-8000-0000000011d2');
UPDATE homebot.api_keys SET last_used_at = now() WHERE id = '00000000-0000-4000-8000-0000000011d2';
SELECT pg_temp.ctx('pgtap-11-api_keys', '00000000-0000-4000-8000-0000000011e1', '00000000-0000-4000-8000-0000000011d1');
UPDATE homebot.api_keys SET revoked_at = now() WHERE id = '00000000-0000-4000-8000-0000000011d2';
SELECT pg_temp.ctx('pgtap-11-api_keys', NULL, NULL);
DELETE FROM homebot.api_keys WHERE id = '00000000-0000-4000-8000-0000000011d2';

SELECT results_eq(
	$$SELECT * FROM pg_temp.events('pgtap-11-api_keys')$$,
	$$VALUES
	('row.api_keys.insert'::text, '00000000-0000-4000-8000-00000000110a'::uuid, 'user'::text,
	 '00000000-0000-4000-8000-0000000011e1'::uuid, 'api_keys'::text, '00000000-0000-4000-8000-0000000011d2'::text,
	 false, true, NULL::text, NULL::text),
	('row.api_keys.update', '00000000-0000-4000-8000-00000000110a', 'api_key', '00000000-0000-4000-8000-0000000011d1',
	 'api_keys', '00000000-0000-4000-8000-0000000011d2', true, true, NULL, NULL),
	('row.api_keys.delete', '00000000-0000-4000-8000-00000000110a', 'system', NULL,
	 'api_keys', '00000000-0000-4000-8000-0000000011d2', true, false, NULL, NULL)$$,
	'api_keys: insert, the revocation, delete');
SELECT is(
	(SELECT changes #> '{new,scopes}' FROM homebot.audit_log
	  WHERE request_id = 'pgtap-11-api_keys' AND action = 'row.api_keys.insert'),
	'["org:read", "members:read"]'::jsonb, 'api_keys: the scopes are recorded');
SELECT is_empty($$SELECT * FROM homebot.audit_log WHERE request_id = 'pgtap-11-touch'$$,
	'an update of last_used_at alone, on a session or an API key, writes no event');
SELECT is((SELECT last_used_at FROM homebot.api_keys WHERE prefix = 'pgtap11k'), NULL,
	'precondition of the next check: K was never used');

-- invitations (N's membership in T).
SELECT pg_temp.ctx('pgtap-11-invitations', '00000000-0000-4000-8000-0000000011e1', NULL);
INSERT INTO homebot.invitations (id, organization_id, user_id, token_hash, created_by, expires_at) VALUES
	('00000000-0000-4000-8000-0000000011a1', '00000000-0000-4000-8000-00000000110a', '00000000-0000-4000-8000-0000000011e2',
	 sha256('pgtap-11-invite'), '00000000-0000-4000-8000-0000000011e1', now() + interval '7 days');
SELECT pg_temp.ctx('pgtap-11-invitations', '00000000-0000-4000-8000-0000000011e1', '00000000-0000-4000-8000-0000000011d1');
UPDATE homebot.invitations SET used_at = now() WHERE id = '00000000-0000-4000-8000-0000000011a1';
SELECT pg_temp.ctx('pgtap-11-invitations', NULL, NULL);
DELETE FROM homebot.invitations WHERE id = '00000000-0000-4000-8000-0000000011a1';

SELECT results_eq(
	$$SELECT * FROM pg_temp.events('pgtap-11-invitations')$$,
	$$VALUES
	('row.invitations.insert'::text, '00000000-0000-4000-8000-00000000110a'::uuid, 'user'::text,
	 '00000000-0000-4000-8000-0000000011e1'::uuid, 'invitations'::text, '00000000-0000-4000-8000-0000000011a1'::text,
	 false, true, NULL::text, NULL::text),
	('row.invitations.update', '00000000-0000-4000-8000-00000000110a', 'api_key', '00000000-0000-4000-8000-0000000011d1',
	 'invitations', '00000000-0000-4000-8000-0000000011a1', true, true, NULL, NULL),
	('row.invitations.delete', '00000000-0000-4000-8000-00000000110a', 'system', NULL,
	 'invitations', '00000000-0000-4000-8000-0000000011a1', true, false, NULL, NULL)$$,
	'invitations: insert, update, delete');

-- An UPDATE that changes nothing writes nothing.
SELECT pg_temp.ctx('pgtap-11-noop', '00000000-0000-4000-8000-0000000011e1', NULL);
UPDATE homebot.organizations SET name = name WHERE id = '00000000-0000-4000-8000-00000000110a';
UPDATE homebot.users SET full_name = full_name WHERE id = '00000000-0000-4000-8000-0000000011e1';
UPDATE homebot.memberships SET role = role WHERE organization_id = '00000000-0000-4000-8000-00000000110a';
SELECT is_empty($$SELECT * FROM homebot.audit_log WHERE request_id = 'pgtap-11-noop'$$,
	'an UPDATE that changes no column writes no event');

-- Cascades are recorded row by row: removing N's membership takes its
-- invitation and its extra permission with it.
SELECT pg_temp.ctx('pgtap-11-cascade-setup', NULL, NULL);
INSERT INTO homebot.invitations (id, organization_id, user_id, token_hash, expires_at) VALUES
	('00000000-0000-4000-8000-0000000011a2', '00000000-0000-4000-8000-00000000110a', '00000000-0000-4000-8000-0000000011e2',
	 sha256('pgtap-11-invite-2'), now() + interval '7 days');
INSERT INTO homebot.user_permissions (organization_id, user_id, permission) VALUES
	('00000000-0000-4000-8000-00000000110a', '00000000-0000-4000-8000-0000000011e2', 'audit:read');
SELECT pg_temp.ctx('pgtap-11-cascade', '00000000-0000-4000-8000-0000000011e1', NULL);
DELETE FROM homebot.memberships
 WHERE organization_id = '00000000-0000-4000-8000-00000000110a' AND user_id = '00000000-0000-4000-8000-0000000011e2';
SELECT set_eq(
	$$SELECT action, target_id, actor_type FROM homebot.audit_log WHERE request_id = 'pgtap-11-cascade'$$,
	$$VALUES ('row.memberships.delete'::text, '00000000-0000-4000-8000-0000000011e2'::text, 'user'::text),
	         ('row.invitations.delete', '00000000-0000-4000-8000-0000000011a2', 'user'),
	         ('row.user_permissions.delete', '00000000-0000-4000-8000-0000000011e2', 'user')$$,
	'a cascade writes one event per deleted row, with the actor of the statement that caused it');

-- Through the request path: homebot_app writes, the trigger records what
-- homebot_app could not record itself (a platform event for a user row).
SET LOCAL ROLE homebot_app;
SELECT set_config('app.org_id', '00000000-0000-4000-8000-00000000110a', true);
SELECT pg_temp.ctx('pgtap-11-app', '00000000-0000-4000-8000-0000000011e1', NULL);
SELECT throws_ok(
	$$INSERT INTO homebot.audit_log (organization_id, actor_type, action) VALUES (NULL, 'system', 'pgtap.11.forged')$$,
	'42501', 'new row violates row-level security policy for table "audit_log"',
	'precondition: homebot_app cannot write a platform event itself');
SELECT lives_ok(
	$$UPDATE homebot.users SET full_name = 'U renamed', password_hash = '$2b$12$pgtap11uchanged'
	   WHERE id = '00000000-0000-4000-8000-0000000011e1'$$,
	'homebot_app changes its user''s name and password');
SELECT lives_ok(
	$$INSERT INTO homebot.memberships (organization_id, user_id, role)
	  VALUES ('00000000-0000-4000-8000-00000000110a', '00000000-0000-4000-8000-0000000011e2', 'viewer')$$,
	'homebot_app adds a member');
SELECT pg_temp.ctx('pgtap-11-app-key', '00000000-0000-4000-8000-0000000011e1', '00000000-0000-4000-8000-0000000011d1');
SELECT is((SELECT key_id FROM homebot.authenticate_api_key('pgtap11k', sha256('pgtap-11-key'))),
	'00000000-0000-4000-8000-0000000011d1'::uuid, 'the request path authenticates with K (which sets its last_used_at)');
RESET ROLE;
SELECT isnt((SELECT last_used_at FROM homebot.api_keys WHERE prefix = 'pgtap11k'), NULL,
	'K''s last_used_at was set');
SELECT results_eq(
	$$SELECT * FROM pg_temp.events('pgtap-11-app')$$,
	$$VALUES
	('row.users.update'::text, NULL::uuid, 'user'::text, '00000000-0000-4000-8000-0000000011e1'::uuid, 'users'::text,
	 '00000000-0000-4000-8000-0000000011e1'::text, true, true, NULL::text, NULL::text),
	('row.memberships.insert', '00000000-0000-4000-8000-00000000110a', 'user', '00000000-0000-4000-8000-0000000011e1',
	 'memberships', '00000000-0000-4000-8000-0000000011e2', false, true, NULL, NULL)$$,
	'homebot_app''s writes are recorded, the user row''s as a platform event');
SELECT is_empty($$SELECT * FROM homebot.audit_log WHERE request_id = 'pgtap-11-app-key'$$,
	'authenticating with an API key (last_used_at) writes no event');

-- Settings that went out of scope read as '' and mean no actor.
SELECT pg_temp.ctx('', NULL, NULL);
UPDATE homebot.memberships SET role = 'member'
 WHERE organization_id = '00000000-0000-4000-8000-00000000110a' AND user_id = '00000000-0000-4000-8000-0000000011e2';
SELECT results_eq(
	$$SELECT actor_type, actor_id, request_id FROM homebot.audit_log
	   WHERE action = 'row.memberships.update' AND target_id = '00000000-0000-4000-8000-0000000011e2'
	     AND changes #>> '{new,role}' = 'member' AND organization_id = '00000000-0000-4000-8000-00000000110a'$$,
	$$VALUES ('system'::text, NULL::uuid, NULL::text)$$,
	'empty settings: the system is the actor and there is no request id');

-- No hash anywhere, in any event written here.
SELECT is(
	(SELECT count(*)::int FROM homebot.audit_log
	  WHERE request_id LIKE 'pgtap-11-%' AND action LIKE 'row.%'),
	40, 'precondition: the checks below look at every row event of this test (40)');
SELECT is_empty(
	$$SELECT id, changes FROM homebot.audit_log
	   WHERE (request_id LIKE 'pgtap-11-%' OR changes::text LIKE '%pgtap-11-%') AND changes::text ~ '\$2b\$'$$,
	'no bcrypt hash ($2b$) anywhere in the changes');
SELECT is_empty(
	$$SELECT id, changes FROM homebot.audit_log
	   WHERE (request_id LIKE 'pgtap-11-%' OR changes::text LIKE '%pgtap-11-%')
	     AND jsonb_path_exists(changes, 'lax $.** ? (@.type() == "object").keyvalue() ? (@.key like_regex "_hash$")')$$,
	'no key named *_hash at any level of the changes');
SELECT is_empty(
	$$SELECT a.id FROM homebot.audit_log a
	   CROSS JOIN (VALUES ('pgtap-11-key'), ('pgtap-11-key-two'), ('pgtap-11-refresh'), ('pgtap-11-invite'),
	                      ('pgtap-11-invite-2')) AS s (secret)
	   WHERE (a.request_id LIKE 'pgtap-11-%' OR a.changes::text LIKE '%pgtap-11-%')
	     AND (a.changes::text LIKE '%' || encode(sha256(convert_to(s.secret, 'UTF8')), 'hex') || '%'
	          OR a.changes::text LIKE '%pgtap11deep%')$$,
	'no token or key hash in any form (the hex of a bytea) in the changes');
SELECT ok(
	(SELECT bool_and(changes::text LIKE '%pgtap-11-w@example.test%') FROM homebot.audit_log
	  WHERE request_id = 'pgtap-11-users'),
	'control: the changes do carry the rows'' other values (the email), so the checks above look at real data');

-- The events are readable where they belong: homebot_app in T sees T's.
SET LOCAL ROLE homebot_app;
SELECT set_config('app.org_id', '00000000-0000-4000-8000-00000000110a', true);
SELECT isnt_empty(
	$$SELECT * FROM homebot.audit_log WHERE request_id = 'pgtap-11-sessions'$$,
	'homebot_app in T reads T''s row events');
SELECT is_empty(
	$$SELECT * FROM homebot.audit_log WHERE request_id IN ('pgtap-11-users', 'pgtap-11-organizations')
	     AND organization_id IS DISTINCT FROM '00000000-0000-4000-8000-00000000110a'$$,
	'homebot_app in T reads neither the platform events of user rows nor T2''s events');
SELECT set_config('app.org_id', '00000000-0000-4000-8000-00000000110b', true);
SELECT is_empty(
	$$SELECT * FROM homebot.audit_log WHERE request_id LIKE 'pgtap-11-%'
	     AND organization_id = '00000000-0000-4000-8000-00000000110a'$$,
	'homebot_app in another organization reads none of T''s events');
RESET ROLE;

-- Each trigger can fail this test: without them, no event.
ALTER TABLE homebot.invitations DISABLE TRIGGER audit_row;
SELECT pg_temp.ctx('pgtap-11-disabled', '00000000-0000-4000-8000-0000000011e1', NULL);
INSERT INTO homebot.invitations (organization_id, user_id, token_hash, expires_at) VALUES
	('00000000-0000-4000-8000-00000000110a', '00000000-0000-4000-8000-0000000011e2', sha256('pgtap-11-invite-3'),
	 now() + interval '1 day');
SELECT is_empty($$SELECT * FROM homebot.audit_log WHERE request_id = 'pgtap-11-disabled'$$,
	'control: with the trigger disabled the same insert writes no event');
ALTER TABLE homebot.invitations ENABLE TRIGGER audit_row;
SELECT lives_ok(
	$$UPDATE homebot.invitations SET used_at = now() WHERE token_hash = sha256('pgtap-11-invite-3')$$,
	'control: the update trigger still works');
SELECT is((SELECT count(*)::int FROM homebot.audit_log WHERE request_id = 'pgtap-11-disabled'), 1,
	'control: and writes its event');

SELECT * FROM finish();
ROLLBACK;
