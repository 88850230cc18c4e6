-- login_start and register, called as homebot_app. Results are kept in
-- temporary tables; what the functions wrote is checked as the superuser.
--
-- User U (...7e1) belongs to: A (owner, joined 3 days ago), B (member, 2
-- days ago), C (admin, 1 day ago; C is suspended), D (invited 5 days ago,
-- so not active). E is an organization U has left, with an old session.
BEGIN;
SELECT plan(46);

INSERT INTO homebot.organizations (id, name, slug, suspended_at) VALUES
	('00000000-0000-4000-8000-00000000070a', 'Org 7A', 'pgtap-07-a', NULL),
	('00000000-0000-4000-8000-00000000070b', 'Org 7B', 'pgtap-07-b', NULL),
	('00000000-0000-4000-8000-00000000070c', 'Org 7C', 'pgtap-07-c', now()),
	('00000000-0000-4000-8000-00000000070d', 'Org 7D', 'pgtap-07-d', NULL),
	('00000000-0000-4000-8000-00000000070e', 'Org 7E', 'pgtap-07-e', NULL);
INSERT INTO homebot.users (id, email, password_hash, full_name, disabled_at, created_at) VALUES
	('00000000-0000-4000-8000-0000000007e1', 'PgTap-07-User@Example.test', 'old-hash', 'User Seven', NULL,
	 '2026-01-02T03:04:05Z'),
	('00000000-0000-4000-8000-0000000007e2', 'pgtap-07-disabled@example.test', 'h', 'Disabled', now(), now()),
	('00000000-0000-4000-8000-0000000007e3', 'pgtap-07-nomember@example.test', 'h', 'No Member', NULL, now()),
	('00000000-0000-4000-8000-0000000007e4', 'pgtap-07-suspended@example.test', 'h', 'Suspended', NULL, now());
INSERT INTO homebot.memberships (organization_id, user_id, role, status, created_at) VALUES
	('00000000-0000-4000-8000-00000000070a', '00000000-0000-4000-8000-0000000007e1', 'owner', 'active', now() - interval '3 days'),
	('00000000-0000-4000-8000-00000000070b', '00000000-0000-4000-8000-0000000007e1', 'member', 'active', now() - interval '2 days'),
	('00000000-0000-4000-8000-00000000070c', '00000000-0000-4000-8000-0000000007e1', 'admin', 'active', now() - interval '1 day'),
	('00000000-0000-4000-8000-00000000070d', '00000000-0000-4000-8000-0000000007e1', 'member', 'invited', now() - interval '5 days'),
	('00000000-0000-4000-8000-00000000070a', '00000000-0000-4000-8000-0000000007e2', 'member', 'active', now()),
	('00000000-0000-4000-8000-00000000070c', '00000000-0000-4000-8000-0000000007e4', 'owner', 'active', now());

SET LOCAL ROLE homebot_app;

-- No session yet: the oldest active membership (A; D is older but invited).
CREATE TEMP TABLE login_oldest AS
SELECT * FROM homebot.login_start('00000000-0000-4000-8000-0000000007e1', NULL, '192.0.2.70',
                                  repeat('u', 600), 'pgtap-07-req-1', sha256('pgtap-07-refresh-1'),
                                  604800, NULL);
SELECT results_eq(
	$$SELECT status, organization_id, org_name, org_slug, role, email, full_name, created_at FROM login_oldest$$,
	$$VALUES ('ok'::text, '00000000-0000-4000-8000-00000000070a'::uuid, 'Org 7A'::text, 'pgtap-07-a'::text,
	          'owner'::text, 'PgTap-07-User@Example.test'::text, 'User Seven'::text,
	          '2026-01-02T03:04:05Z'::timestamptz)$$,
	'login_start without organization or sessions: the oldest active membership (A), with the user''s data');
SELECT isnt((SELECT session_id FROM login_oldest), NULL, 'login_start returns the new session id');

RESET ROLE;
SELECT results_eq(
	$$SELECT s.organization_id, s.user_id, s.ip, s.user_agent, s.revoked_at FROM homebot.sessions s
	   WHERE s.id = (SELECT session_id FROM login_oldest)$$,
	$$VALUES ('00000000-0000-4000-8000-00000000070a'::uuid, '00000000-0000-4000-8000-0000000007e1'::uuid,
	          '192.0.2.70'::text, repeat('u', 512), NULL::timestamptz)$$,
	'login_start ok: the session is in A, with the IP and the user agent cut to 512 characters');
SELECT results_eq(
	$$SELECT t.organization_id, t.token_hash, t.expires_at, t.used_at FROM homebot.refresh_tokens t
	   WHERE t.session_id = (SELECT session_id FROM login_oldest)$$,
	$$VALUES ('00000000-0000-4000-8000-00000000070a'::uuid, sha256('pgtap-07-refresh-1'),
	          now() + interval '604800 seconds', NULL::timestamptz)$$,
	'login_start ok: one refresh token, the given hash, same organization, expiring after the TTL');
SELECT results_eq(
	$$SELECT email, ip, succeeded FROM homebot.login_attempts WHERE email LIKE 'pgtap-07-%'$$,
	$$VALUES ('pgtap-07-user@example.test'::text, '192.0.2.70'::text, true)$$,
	'login_start ok: a successful attempt under the lower-case email');
SELECT results_eq(
	$$SELECT organization_id, actor_type, actor_id, target_type, target_id, ip, user_agent, request_id
	    FROM homebot.audit_log WHERE action = 'auth.login.succeeded' AND request_id = 'pgtap-07-req-1'$$,
	$$SELECT '00000000-0000-4000-8000-00000000070a'::uuid, 'user'::text,
	         '00000000-0000-4000-8000-0000000007e1'::uuid, 'session'::text, session_id::text,
	         '192.0.2.70'::text, repeat('u', 512), 'pgtap-07-req-1'::text FROM login_oldest$$,
	'login_start ok: auth.login.succeeded in A, the user as actor, the session as target');
SELECT is((SELECT password_hash FROM homebot.users WHERE id = '00000000-0000-4000-8000-0000000007e1'),
	'old-hash', 'login_start without a new hash leaves the password hash alone');

-- The requested organization, with a re-hashed password.
SET LOCAL ROLE homebot_app;
CREATE TEMP TABLE login_requested AS
SELECT * FROM homebot.login_start('00000000-0000-4000-8000-0000000007e1', '00000000-0000-4000-8000-00000000070b',
                                  '192.0.2.71', 'pgtap-agent', 'pgtap-07-req-2', sha256('pgtap-07-refresh-2'),
                                  3600, 'new-hash');
SELECT results_eq(
	$$SELECT status, organization_id, org_slug, role FROM login_requested$$,
	$$VALUES ('ok'::text, '00000000-0000-4000-8000-00000000070b'::uuid, 'pgtap-07-b'::text, 'member'::text)$$,
	'login_start with an organization: that one (B), with the role there');
RESET ROLE;
SELECT is((SELECT password_hash FROM homebot.users WHERE id = '00000000-0000-4000-8000-0000000007e1'),
	'new-hash', 'login_start with a new hash stores it (re-hash at the configured cost)');
SELECT is(
	(SELECT expires_at FROM homebot.refresh_tokens WHERE session_id = (SELECT session_id FROM login_requested)),
	now() + interval '1 hour', 'the refresh token expires after the given TTL');

-- The organization used last: the newest session's, revoked or not, where
-- U is still an active member (not E, which he left).
UPDATE homebot.sessions SET created_at = now() - interval '2 hours'
 WHERE id = (SELECT session_id FROM login_oldest);
UPDATE homebot.sessions SET created_at = now() - interval '1 hour', revoked_at = now()
 WHERE id = (SELECT session_id FROM login_requested);
INSERT INTO homebot.sessions (organization_id, user_id, created_at) VALUES
	('00000000-0000-4000-8000-00000000070e', '00000000-0000-4000-8000-0000000007e1', now() - interval '1 minute');

SET LOCAL ROLE homebot_app;
CREATE TEMP TABLE login_last AS
SELECT * FROM homebot.login_start('00000000-0000-4000-8000-0000000007e1', NULL, '192.0.2.72', 'pgtap-agent',
                                  'pgtap-07-req-3', sha256('pgtap-07-refresh-3'), 604800, NULL);
SELECT results_eq(
	$$SELECT status, organization_id, role FROM login_last$$,
	$$VALUES ('ok'::text, '00000000-0000-4000-8000-00000000070b'::uuid, 'member'::text)$$,
	'login_start without organization: the one used last (B, even though that session was revoked)');

-- The organization used last is suspended: that is the answer, no fallback.
RESET ROLE;
UPDATE homebot.sessions SET created_at = now() - interval '30 minutes'
 WHERE id = (SELECT session_id FROM login_last);
INSERT INTO homebot.sessions (organization_id, user_id, created_at) VALUES
	('00000000-0000-4000-8000-00000000070c', '00000000-0000-4000-8000-0000000007e1', now() - interval '10 minutes');
CREATE TEMP TABLE counts_ok AS
SELECT (SELECT count(*) FROM homebot.sessions WHERE user_id::text LIKE '%-0000000007e_') AS sessions,
       (SELECT count(*) FROM homebot.refresh_tokens
         WHERE session_id IN (SELECT id FROM homebot.sessions WHERE user_id::text LIKE '%-0000000007e_')) AS tokens,
       (SELECT count(*) FROM homebot.login_attempts WHERE email LIKE 'pgtap-07-%') AS attempts,
       (SELECT password_hash FROM homebot.users WHERE id = '00000000-0000-4000-8000-0000000007e1') AS hash;

SET LOCAL ROLE homebot_app;
CREATE TEMP TABLE login_refused (label text, status text, rest_all_null boolean);
INSERT INTO login_refused
SELECT 'last used suspended', r.status, num_nulls(r.session_id, r.organization_id, r.org_name, r.org_slug, r.role,
                                                  r.email, r.full_name, r.created_at) = 8
  FROM homebot.login_start('00000000-0000-4000-8000-0000000007e1', NULL, '192.0.2.73', 'pgtap-agent',
                           'pgtap-07-req-r1', sha256('pgtap-07-refused-1'), 604800, 'refused-hash') r;
INSERT INTO login_refused
SELECT 'requested suspended', r.status, num_nulls(r.session_id, r.organization_id, r.role) = 3
  FROM homebot.login_start('00000000-0000-4000-8000-0000000007e1', '00000000-0000-4000-8000-00000000070c',
                           '192.0.2.73', 'pgtap-agent', 'pgtap-07-req-r2', sha256('pgtap-07-refused-2'),
                           604800, NULL) r;
INSERT INTO login_refused
SELECT 'requested invited', r.status, num_nulls(r.session_id, r.organization_id, r.role) = 3
  FROM homebot.login_start('00000000-0000-4000-8000-0000000007e1', '00000000-0000-4000-8000-00000000070d',
                           '192.0.2.73', 'pgtap-agent', 'pgtap-07-req-r3', sha256('pgtap-07-refused-3'),
                           604800, NULL) r;
INSERT INTO login_refused
SELECT 'requested left', r.status, num_nulls(r.session_id, r.organization_id, r.role) = 3
  FROM homebot.login_start('00000000-0000-4000-8000-0000000007e1', '00000000-0000-4000-8000-00000000070e',
                           '192.0.2.73', 'pgtap-agent', 'pgtap-07-req-r4', sha256('pgtap-07-refused-4'),
                           604800, NULL) r;
INSERT INTO login_refused
SELECT 'requested unknown', r.status, num_nulls(r.session_id, r.organization_id, r.role) = 3
  FROM homebot.login_start('00000000-0000-4000-8000-0000000007e1', '00000000-0000-4000-8000-0000000007ff',
                           '192.0.2.73', 'pgtap-agent', 'pgtap-07-req-r5', sha256('pgtap-07-refused-5'),
                           604800, NULL) r;
INSERT INTO login_refused
SELECT 'disabled', r.status, num_nulls(r.session_id, r.organization_id, r.role) = 3
  FROM homebot.login_start('00000000-0000-4000-8000-0000000007e2', '00000000-0000-4000-8000-00000000070a',
                           '192.0.2.73', 'pgtap-agent', 'pgtap-07-req-r6', sha256('pgtap-07-refused-6'),
                           604800, NULL) r;
INSERT INTO login_refused
SELECT 'no membership', r.status, num_nulls(r.session_id, r.organization_id, r.role) = 3
  FROM homebot.login_start('00000000-0000-4000-8000-0000000007e3', NULL, '192.0.2.73', 'pgtap-agent',
                           'pgtap-07-req-r7', sha256('pgtap-07-refused-7'), 604800, NULL) r;
INSERT INTO login_refused
SELECT 'only suspended', r.status, num_nulls(r.session_id, r.organization_id, r.role) = 3
  FROM homebot.login_start('00000000-0000-4000-8000-0000000007e4', NULL, '192.0.2.73', 'pgtap-agent',
                           'pgtap-07-req-r8', sha256('pgtap-07-refused-8'), 604800, NULL) r;
INSERT INTO login_refused
SELECT 'no such user', r.status, num_nulls(r.session_id, r.organization_id, r.role) = 3
  FROM homebot.login_start('00000000-0000-4000-8000-0000000007ef', NULL, '192.0.2.73', 'pgtap-agent',
                           'pgtap-07-req-r9', sha256('pgtap-07-refused-9'), 604800, NULL) r;

SELECT results_eq(
	$$SELECT status, rest_all_null FROM login_refused WHERE label = 'last used suspended'$$,
	$$VALUES ('organization_suspended'::text, true)$$,
	'login_start: the organization used last is suspended → organization_suspended, every other column NULL');
SELECT results_eq($$SELECT status, rest_all_null FROM login_refused WHERE label = 'requested suspended'$$,
	$$VALUES ('organization_suspended'::text, true)$$,
	'login_start: a requested suspended organization → organization_suspended');
SELECT results_eq($$SELECT status, rest_all_null FROM login_refused WHERE label = 'requested invited'$$,
	$$VALUES ('not_a_member'::text, true)$$,
	'login_start: a requested organization where the membership is only invited → not_a_member');
SELECT results_eq($$SELECT status, rest_all_null FROM login_refused WHERE label = 'requested left'$$,
	$$VALUES ('not_a_member'::text, true)$$,
	'login_start: a requested organization the user is not in → not_a_member');
SELECT results_eq($$SELECT status, rest_all_null FROM login_refused WHERE label = 'requested unknown'$$,
	$$VALUES ('not_a_member'::text, true)$$,
	'login_start: a requested organization that does not exist → not_a_member');
SELECT results_eq($$SELECT status, rest_all_null FROM login_refused WHERE label = 'disabled'$$,
	$$VALUES ('account_disabled'::text, true)$$,
	'login_start: a disabled user → account_disabled');
SELECT results_eq($$SELECT status, rest_all_null FROM login_refused WHERE label = 'no membership'$$,
	$$VALUES ('not_a_member'::text, true)$$,
	'login_start: a user without any active membership → not_a_member');
SELECT results_eq($$SELECT status, rest_all_null FROM login_refused WHERE label = 'only suspended'$$,
	$$VALUES ('organization_suspended'::text, true)$$,
	'login_start: a user whose only organization is suspended → organization_suspended');
SELECT results_eq($$SELECT status, rest_all_null FROM login_refused WHERE label = 'no such user'$$,
	$$VALUES ('not_a_member'::text, true)$$,
	'login_start: a user id that no longer exists → not_a_member');

RESET ROLE;
SELECT is(
	(SELECT row(count(*), (SELECT count(*) FROM homebot.refresh_tokens
	                        WHERE session_id IN (SELECT id FROM homebot.sessions
	                                              WHERE user_id::text LIKE '%-0000000007e_')))::text
	   FROM homebot.sessions WHERE user_id::text LIKE '%-0000000007e_'),
	(SELECT row(sessions, tokens)::text FROM counts_ok),
	'refused logins created no session and no refresh token');
SELECT is((SELECT count(*) FROM homebot.login_attempts WHERE email LIKE 'pgtap-07-%'),
	(SELECT attempts FROM counts_ok), 'refused logins recorded no login attempt');
SELECT is((SELECT password_hash FROM homebot.users WHERE id = '00000000-0000-4000-8000-0000000007e1'),
	(SELECT hash FROM counts_ok), 'a refused login does not store the new password hash');
SELECT results_eq(
	$$SELECT request_id, organization_id, actor_type, actor_id, target_type, target_id, changes
	    FROM homebot.audit_log WHERE action = 'auth.login.failed' AND request_id LIKE 'pgtap-07-req-r%'
	   ORDER BY request_id$$,
	$$VALUES
	('pgtap-07-req-r1'::text, NULL::uuid, 'user'::text, '00000000-0000-4000-8000-0000000007e1'::uuid, 'user'::text,
	 '00000000-0000-4000-8000-0000000007e1'::text, '{"email": "pgtap-07-user@example.test", "reason": "organization_suspended"}'::jsonb),
	('pgtap-07-req-r2', NULL, 'user', '00000000-0000-4000-8000-0000000007e1', 'user',
	 '00000000-0000-4000-8000-0000000007e1', '{"email": "pgtap-07-user@example.test", "reason": "organization_suspended"}'),
	('pgtap-07-req-r3', NULL, 'user', '00000000-0000-4000-8000-0000000007e1', 'user',
	 '00000000-0000-4000-8000-0000000007e1', '{"email": "pgtap-07-user@example.test", "reason": "not_a_member"}'),
	('pgtap-07-req-r4', NULL, 'user', '00000000-0000-4000-8000-0000000007e1', 'user',
	 '00000000-0000-4000-8000-0000000007e1', '{"email": "pgtap-07-user@example.test", "reason": "not_a_member"}'),
	('pgtap-07-req-r5', NULL, 'user', '00000000-0000-4000-8000-0000000007e1', 'user',
	 '00000000-0000-4000-8000-0000000007e1', '{"email": "pgtap-07-user@example.test", "reason": "not_a_member"}'),
	('pgtap-07-req-r6', NULL, 'user', '00000000-0000-4000-8000-0000000007e2', 'user',
	 '00000000-0000-4000-8000-0000000007e2', '{"email": "pgtap-07-disabled@example.test", "reason": "account_disabled"}'),
	('pgtap-07-req-r7', NULL, 'user', '00000000-0000-4000-8000-0000000007e3', 'user',
	 '00000000-0000-4000-8000-0000000007e3', '{"email": "pgtap-07-nomember@example.test", "reason": "not_a_member"}'),
	('pgtap-07-req-r8', NULL, 'user', '00000000-0000-4000-8000-0000000007e4', 'user',
	 '00000000-0000-4000-8000-0000000007e4', '{"email": "pgtap-07-suspended@example.test", "reason": "organization_suspended"}'),
	('pgtap-07-req-r9', NULL, 'user', '00000000-0000-4000-8000-0000000007ef', 'user',
	 '00000000-0000-4000-8000-0000000007ef', '{"email": null, "reason": "not_a_member"}')$$,
	'each refused login writes one auth.login.failed platform event with the reason');
SELECT is_empty(
	$$SELECT * FROM homebot.audit_log WHERE request_id LIKE 'pgtap-07-req-r%' AND action <> 'auth.login.failed'$$,
	'refused logins write no other audit event');

-- register
-- Slugs this test expects to be free are moved out of the way (rolled back
-- with everything else).
UPDATE homebot.organizations SET slug = 'pgtap-07-moved-' || left(md5(id::text), 20)
 WHERE slug ~ '^(acme-inc|org|n-code-name|pgtap-x+|a+)(-[0-9a-f]{6})?$';

SET LOCAL ROLE homebot_app;
CREATE TEMP TABLE reg1 AS
SELECT * FROM homebot.register('  PgTap-07-New@Example.test ', 'hash-r1', 'New Person', 'Acme, Inc.',
                               '192.0.2.74', 'pgtap-agent', 'pgtap-07-reg-1', sha256('pgtap-07-reg-1'), 604800);
SELECT results_eq(
	$$SELECT status, org_name, org_slug FROM reg1$$,
	$$VALUES ('ok'::text, 'Acme, Inc.'::text, 'acme-inc'::text)$$,
	'register: ok, and ''Acme, Inc.'' gets the slug acme-inc');
SELECT is(num_nulls(user_id, session_id, organization_id, created_at), 0,
	'register: returns the user, session and organization ids and the creation time')
  FROM reg1;

RESET ROLE;
SELECT results_eq(
	$$SELECT u.email, u.password_hash, u.full_name, u.created_at, u.is_superadmin, u.disabled_at
	    FROM homebot.users u WHERE u.id = (SELECT user_id FROM reg1)$$,
	$$SELECT 'PgTap-07-New@Example.test'::text, 'hash-r1'::text, 'New Person'::text, created_at, false,
	         NULL::timestamptz FROM reg1$$,
	'register: the user, with the email trimmed but its case kept');
SELECT results_eq(
	$$SELECT o.name, o.slug, o.suspended_at FROM homebot.organizations o WHERE o.id = (SELECT organization_id FROM reg1)$$,
	$$VALUES ('Acme, Inc.'::text, 'acme-inc'::text, NULL::timestamptz)$$,
	'register: the organization');
SELECT results_eq(
	$$SELECT m.role, m.status FROM homebot.memberships m
	   WHERE m.organization_id = (SELECT organization_id FROM reg1) AND m.user_id = (SELECT user_id FROM reg1)$$,
	$$VALUES ('owner'::text, 'active'::text)$$,
	'register: the user is the active owner');
SELECT is((SELECT count(*)::int FROM homebot.memberships WHERE organization_id = (SELECT organization_id FROM reg1)),
	1, 'register: the owner is the only member');
SELECT results_eq(
	$$SELECT s.id, s.organization_id, s.user_id, s.ip, s.user_agent FROM homebot.sessions s
	   WHERE s.user_id = (SELECT user_id FROM reg1)$$,
	$$SELECT session_id, organization_id, user_id, '192.0.2.74'::text, 'pgtap-agent'::text FROM reg1$$,
	'register: one session, in the new organization');
SELECT results_eq(
	$$SELECT t.organization_id, t.token_hash, t.expires_at, t.used_at FROM homebot.refresh_tokens t
	   WHERE t.session_id = (SELECT session_id FROM reg1)$$,
	$$SELECT organization_id, sha256('pgtap-07-reg-1'), now() + interval '7 days', NULL::timestamptz FROM reg1$$,
	'register: one refresh token for that session');
SELECT results_eq(
	$$SELECT a.action, a.organization_id, a.actor_type, a.actor_id, a.target_type, a.target_id, a.ip, a.request_id
	    FROM homebot.audit_log a WHERE a.request_id = 'pgtap-07-reg-1' ORDER BY a.action$$,
	$$SELECT 'auth.register'::text, organization_id, 'user'::text, user_id, 'user'::text, user_id::text,
	         '192.0.2.74'::text, 'pgtap-07-reg-1'::text FROM reg1
	  UNION ALL
	  SELECT 'organization.created', organization_id, 'user', user_id, 'organization', organization_id::text,
	         '192.0.2.74', 'pgtap-07-reg-1' FROM reg1$$,
	'register: auth.register and organization.created, both in the new organization');
SELECT is_empty(
	$$SELECT * FROM homebot.audit_log WHERE request_id = 'pgtap-07-reg-1'
	     AND changes::text ~ '(hash-r1|password)'$$,
	'register: no password hash in the audit events');

CREATE TEMP TABLE counts_reg AS
SELECT (SELECT count(*) FROM homebot.users) AS users, (SELECT count(*) FROM homebot.organizations) AS orgs,
       (SELECT count(*) FROM homebot.sessions) AS sessions, (SELECT count(*) FROM homebot.audit_log) AS events;

SET LOCAL ROLE homebot_app;
SELECT results_eq(
	$$SELECT * FROM homebot.register('pgtap-07-NEW@example.TEST', 'hash-r2', NULL, 'Other', NULL, NULL, NULL,
	                                 sha256('pgtap-07-reg-2'), 604800)$$,
	$$VALUES ('email_taken'::text, NULL::uuid, NULL::uuid, NULL::uuid, NULL::text, NULL::text, NULL::timestamptz)$$,
	'register: the same email in another case → email_taken, every other column NULL');
SELECT is(
	(SELECT status FROM homebot.register(' pgtap-07-user@EXAMPLE.test', 'hash-r3', NULL, 'Other', NULL, NULL, NULL,
	                                     sha256('pgtap-07-reg-3'), 604800)),
	'email_taken', 'register: an existing user''s email, padded and in another case → email_taken');
RESET ROLE;
SELECT is(
	(SELECT row(count(*), (SELECT count(*) FROM homebot.organizations), (SELECT count(*) FROM homebot.sessions),
	            (SELECT count(*) FROM homebot.audit_log))::text FROM homebot.users),
	(SELECT row(users, orgs, sessions, events)::text FROM counts_reg),
	'register with a taken email writes nothing');

SET LOCAL ROLE homebot_app;
CREATE TEMP TABLE reg_slugs (label text, status text, slug text, full_name text);
INSERT INTO reg_slugs
SELECT 'second acme', r.status, r.org_slug, NULL FROM homebot.register('pgtap-07-acme2@example.test', 'h', 'Two', 'Acme, Inc.',
	NULL, NULL, NULL, sha256('pgtap-07-slug-1'), 604800) r;
INSERT INTO reg_slugs
SELECT 'third acme', r.status, r.org_slug, NULL FROM homebot.register('pgtap-07-acme3@example.test', 'h', 'Three', 'ACME inc',
	NULL, NULL, NULL, sha256('pgtap-07-slug-2'), 604800) r;
INSERT INTO reg_slugs
SELECT 'symbols', r.status, r.org_slug, NULL FROM homebot.register('pgtap-07-symbols@example.test', 'h', 'S', '  *** !! ',
	NULL, NULL, NULL, sha256('pgtap-07-slug-3'), 604800) r;
INSERT INTO reg_slugs
SELECT 'long', r.status, r.org_slug, NULL FROM homebot.register('pgtap-07-long@example.test', 'h', 'L', 'Pgtap ' || repeat('x', 60),
	NULL, NULL, NULL, sha256('pgtap-07-slug-4'), 604800) r;
INSERT INTO reg_slugs
SELECT 'cut at dash', r.status, r.org_slug, NULL FROM homebot.register('pgtap-07-cut@example.test', 'h', 'C', repeat('a', 49) || ' b',
	NULL, NULL, NULL, sha256('pgtap-07-slug-5'), 604800) r;
INSERT INTO reg_slugs
SELECT 'unicode', r.status, r.org_slug, NULL FROM homebot.register('pgtap-07-unicode@example.test', 'h', NULL, '--Ünïcode__Name!!--',
	NULL, NULL, NULL, sha256('pgtap-07-slug-6'), 604800) r;
RESET ROLE;

SELECT matches((SELECT slug FROM reg_slugs WHERE label = 'second acme'), '^acme-inc-[0-9a-f]{6}$',
	'register: a second ''Acme, Inc.'' gets acme-inc and 6 random hex digits');
SELECT matches((SELECT slug FROM reg_slugs WHERE label = 'third acme'), '^acme-inc-[0-9a-f]{6}$',
	'register: ''ACME inc'' derives the same taken slug and gets a suffix too');
SELECT isnt((SELECT slug FROM reg_slugs WHERE label = 'third acme'), (SELECT slug FROM reg_slugs WHERE label = 'second acme'),
	'register: the two suffixed slugs differ');
SELECT matches((SELECT slug FROM reg_slugs WHERE label = 'symbols'), '^org(-[0-9a-f]{6})?$',
	'register: a name without letters or digits gets the slug org');
SELECT is((SELECT slug FROM reg_slugs WHERE label = 'long'), 'pgtap-' || repeat('x', 44),
	'register: a slug is cut to 50 characters');
SELECT is((SELECT slug FROM reg_slugs WHERE label = 'cut at dash'), repeat('a', 49),
	'register: a slug that ends in ''-'' once cut is trimmed again');
SELECT is((SELECT slug FROM reg_slugs WHERE label = 'unicode'), 'n-code-name',
	'register: runs of other characters (non-ASCII, ''_'', ''!'') become one ''-'', none at the ends');
SELECT is(
	(SELECT u.full_name FROM homebot.users u WHERE u.email = 'pgtap-07-unicode@example.test'),
	'', 'register: no full name is stored as an empty one');

SELECT * FROM finish();
ROLLBACK;
