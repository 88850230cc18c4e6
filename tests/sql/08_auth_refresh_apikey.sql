-- refresh_rotate and authenticate_api_key, called as homebot_app without a
-- tenant context (as the request path does before it knows one). Effects
-- are checked as the superuser.
--
--   A = ...80a (active), B = ...80b (suspended)
--   U = ...8e1: admin of A (+ extra members:owners), member of B
--   V = ...8e2: was a member of A, removed      W = ...8e3: invited to A
--   X = ...8e4: member of A, disabled
BEGIN;
SELECT plan(49);

INSERT INTO homebot.organizations (id, name, slug, suspended_at) VALUES
	('00000000-0000-4000-8000-00000000080a', 'Org 8A', 'pgtap-08-a', NULL),
	('00000000-0000-4000-8000-00000000080b', 'Org 8B', 'pgtap-08-b', now());
INSERT INTO homebot.users (id, email, full_name, disabled_at, created_at, email_verified_at) VALUES
	('00000000-0000-4000-8000-0000000008e1', 'pgtap-08-u@example.test', 'U Eight', NULL, '2026-02-03T04:05:06Z', now()),
	('00000000-0000-4000-8000-0000000008e2', 'pgtap-08-v@example.test', 'V', NULL, now(), NULL),
	('00000000-0000-4000-8000-0000000008e3', 'pgtap-08-w@example.test', 'W', NULL, now(), NULL),
	('00000000-0000-4000-8000-0000000008e4', 'pgtap-08-x@example.test', 'X', now(), now(), NULL);
INSERT INTO homebot.memberships (organization_id, user_id, role, status) VALUES
	('00000000-0000-4000-8000-00000000080a', '00000000-0000-4000-8000-0000000008e1', 'admin', 'active'),
	('00000000-0000-4000-8000-00000000080b', '00000000-0000-4000-8000-0000000008e1', 'member', 'active'),
	('00000000-0000-4000-8000-00000000080a', '00000000-0000-4000-8000-0000000008e3', 'member', 'invited'),
	('00000000-0000-4000-8000-00000000080a', '00000000-0000-4000-8000-0000000008e4', 'member', 'active');
INSERT INTO homebot.user_permissions (organization_id, user_id, permission) VALUES
	('00000000-0000-4000-8000-00000000080a', '00000000-0000-4000-8000-0000000008e1', 'members:owners');

-- Sessions, each with one refresh token named after it.
INSERT INTO homebot.sessions (id, organization_id, user_id, created_at, last_used_at, ip, user_agent) VALUES
	('00000000-0000-4000-8000-0000000008c1', '00000000-0000-4000-8000-00000000080a', '00000000-0000-4000-8000-0000000008e1',
	 now() - interval '1 hour', now() - interval '1 hour', '10.0.0.1', 'old-agent'),
	('00000000-0000-4000-8000-0000000008c2', '00000000-0000-4000-8000-00000000080a', '00000000-0000-4000-8000-0000000008e1',
	 now() - interval '1 hour', now() - interval '1 hour', NULL, NULL),
	('00000000-0000-4000-8000-0000000008c3', '00000000-0000-4000-8000-00000000080a', '00000000-0000-4000-8000-0000000008e2',
	 now() - interval '1 hour', now() - interval '1 hour', NULL, NULL),
	('00000000-0000-4000-8000-0000000008c4', '00000000-0000-4000-8000-00000000080a', '00000000-0000-4000-8000-0000000008e3',
	 now() - interval '1 hour', now() - interval '1 hour', NULL, NULL),
	('00000000-0000-4000-8000-0000000008c5', '00000000-0000-4000-8000-00000000080a', '00000000-0000-4000-8000-0000000008e4',
	 now() - interval '1 hour', now() - interval '1 hour', NULL, NULL),
	('00000000-0000-4000-8000-0000000008c6', '00000000-0000-4000-8000-00000000080b', '00000000-0000-4000-8000-0000000008e1',
	 now() - interval '1 hour', now() - interval '1 hour', NULL, NULL),
	('00000000-0000-4000-8000-0000000008c7', '00000000-0000-4000-8000-00000000080a', '00000000-0000-4000-8000-0000000008e1',
	 now() - interval '1 hour', now() - interval '1 hour', NULL, NULL);
INSERT INTO homebot.refresh_tokens (organization_id, session_id, token_hash, expires_at)
SELECT s.organization_id, s.id, sha256(convert_to('pgtap-08-' || right(s.id::text, 2), 'UTF8')),
       CASE WHEN s.id = '00000000-0000-4000-8000-0000000008c2' THEN now() - interval '1 second'
            ELSE now() + interval '1 day' END
  FROM homebot.sessions s WHERE s.id::text LIKE '%-0000000008c_';
-- V leaves A after his session was opened.
INSERT INTO homebot.memberships (organization_id, user_id, role) VALUES
	('00000000-0000-4000-8000-00000000080a', '00000000-0000-4000-8000-0000000008e2', 'member');
DELETE FROM homebot.memberships
 WHERE organization_id = '00000000-0000-4000-8000-00000000080a' AND user_id = '00000000-0000-4000-8000-0000000008e2';

SET LOCAL ROLE homebot_app;

-- refresh_rotate: ok
CREATE TEMP TABLE rot1 AS
SELECT * FROM homebot.refresh_rotate(sha256('pgtap-08-c1'), sha256('pgtap-08-c1-next'), 3600,
                                     '10.0.0.2', repeat('n', 700), 'pgtap-08-req-1');
SELECT results_eq(
	'SELECT * FROM rot1',
	$$VALUES ('ok'::text, '00000000-0000-4000-8000-0000000008c1'::uuid, '00000000-0000-4000-8000-0000000008e1'::uuid,
	          '00000000-0000-4000-8000-00000000080a'::uuid, 'Org 8A'::text, 'pgtap-08-a'::text, 'admin'::text,
	          'pgtap-08-u@example.test'::text, 'U Eight'::text, '2026-02-03T04:05:06Z'::timestamptz, true)$$,
	'refresh_rotate: ok, with the session, user, organization, role and the user''s data (email verified)');

RESET ROLE;
SELECT results_eq(
	$$SELECT token_hash, used_at IS NOT NULL, expires_at FROM homebot.refresh_tokens
	   WHERE session_id = '00000000-0000-4000-8000-0000000008c1' ORDER BY used_at NULLS LAST$$,
	$$VALUES (sha256('pgtap-08-c1'), true, now() + interval '1 day'),
	         (sha256('pgtap-08-c1-next'), false, now() + interval '3600 seconds')$$,
	'refresh_rotate ok: the old token is marked used, the new one belongs to the same session and expires after the TTL');
SELECT is(
	(SELECT organization_id FROM homebot.refresh_tokens WHERE token_hash = sha256('pgtap-08-c1-next')),
	'00000000-0000-4000-8000-00000000080a'::uuid, 'refresh_rotate ok: the new token is in the session''s organization');
SELECT results_eq(
	$$SELECT last_used_at, ip, user_agent, revoked_at FROM homebot.sessions
	   WHERE id = '00000000-0000-4000-8000-0000000008c1'$$,
	$$VALUES (now(), '10.0.0.2'::text, repeat('n', 512), NULL::timestamptz)$$,
	'refresh_rotate ok: the session''s last use, IP and user agent (cut to 512) are updated');

-- refresh_rotate: the old token again
SET LOCAL ROLE homebot_app;
SELECT results_eq(
	$$SELECT * FROM homebot.refresh_rotate(sha256('pgtap-08-c1'), sha256('pgtap-08-c1-evil'), 3600,
	                                       '203.0.113.9', 'evil-agent', 'pgtap-08-req-2')$$,
	$$VALUES ('reused'::text, '00000000-0000-4000-8000-0000000008c1'::uuid, '00000000-0000-4000-8000-0000000008e1'::uuid,
	          '00000000-0000-4000-8000-00000000080a'::uuid, NULL::text, NULL::text, NULL::text, NULL::text,
	          NULL::text, NULL::timestamptz, NULL::boolean)$$,
	'refresh_rotate: a used token → reused, with the ids of the session it ends');
RESET ROLE;
SELECT is((SELECT revoked_at FROM homebot.sessions WHERE id = '00000000-0000-4000-8000-0000000008c1'), now(),
	'reused: the session is revoked');
SELECT is_empty($$SELECT * FROM homebot.refresh_tokens WHERE token_hash = sha256('pgtap-08-c1-evil')$$,
	'reused: no new token is issued');
SELECT results_eq(
	$$SELECT organization_id, actor_type, actor_id, target_type, target_id, ip, user_agent FROM homebot.audit_log
	   WHERE action = 'auth.refresh.reused' AND request_id = 'pgtap-08-req-2'$$,
	$$VALUES ('00000000-0000-4000-8000-00000000080a'::uuid, 'user'::text, '00000000-0000-4000-8000-0000000008e1'::uuid,
	          'session'::text, '00000000-0000-4000-8000-0000000008c1'::text, '203.0.113.9'::text, 'evil-agent'::text)$$,
	'reused: auth.refresh.reused is audited in the session''s organization, the session as target');
SELECT is_empty(
	$$SELECT * FROM homebot.audit_log WHERE request_id LIKE 'pgtap-08-req-%' AND changes::text LIKE '%\\x%'$$,
	'no token hash in the audit events');

-- Pretend the revocation happened an hour ago, to see that a later reuse
-- keeps that time.
UPDATE homebot.sessions SET revoked_at = now() - interval '1 hour'
 WHERE id = '00000000-0000-4000-8000-0000000008c1';
SET LOCAL ROLE homebot_app;
SELECT is(
	(SELECT status FROM homebot.refresh_rotate(sha256('pgtap-08-c1-next'), sha256('pgtap-08-c1-next2'), 3600,
	                                           NULL, NULL, NULL)),
	'invalid', 'after a reuse, the newest token of that session is invalid too (the session is revoked)');
SELECT is(
	(SELECT status FROM homebot.refresh_rotate(sha256('pgtap-08-c1'), sha256('pgtap-08-c1-again'), 3600,
	                                           NULL, NULL, 'pgtap-08-req-3')),
	'reused', 'presenting the used token once more is again a reuse');
RESET ROLE;
SELECT is((SELECT revoked_at FROM homebot.sessions WHERE id = '00000000-0000-4000-8000-0000000008c1'),
	now() - interval '1 hour', 'a second reuse leaves the session revoked, at its first revocation time');
SELECT is(
	(SELECT count(*)::int FROM homebot.audit_log
	  WHERE action = 'auth.refresh.reused' AND target_id = '00000000-0000-4000-8000-0000000008c1'),
	2, 'each reuse is audited');
SELECT is((SELECT used_at FROM homebot.refresh_tokens WHERE token_hash = sha256('pgtap-08-c1-next')), NULL,
	'an invalid refresh marks nothing used');

-- refresh_rotate: each reason for invalid
SET LOCAL ROLE homebot_app;
SELECT results_eq(
	$$SELECT * FROM homebot.refresh_rotate(sha256('pgtap-08-no-such-token'), sha256('pgtap-08-x'), 3600,
	                                       NULL, NULL, NULL)$$,
	$$VALUES ('invalid'::text, NULL::uuid, NULL::uuid, NULL::uuid, NULL::text, NULL::text, NULL::text, NULL::text,
	          NULL::text, NULL::timestamptz, NULL::boolean)$$,
	'refresh_rotate: an unknown token → invalid, every other column NULL');
SELECT is(
	(SELECT status FROM homebot.refresh_rotate(sha256('pgtap-08-c2'), sha256('pgtap-08-c2-next'), 3600, NULL, NULL, NULL)),
	'invalid', 'refresh_rotate: an expired token → invalid');
SELECT is(
	(SELECT status FROM homebot.refresh_rotate(sha256('pgtap-08-c3'), sha256('pgtap-08-c3-next'), 3600, NULL, NULL, NULL)),
	'invalid', 'refresh_rotate: the user is no longer a member → invalid');
SELECT is(
	(SELECT status FROM homebot.refresh_rotate(sha256('pgtap-08-c4'), sha256('pgtap-08-c4-next'), 3600, NULL, NULL, NULL)),
	'invalid', 'refresh_rotate: the membership is only invited → invalid');
SELECT is(
	(SELECT status FROM homebot.refresh_rotate(sha256('pgtap-08-c5'), sha256('pgtap-08-c5-next'), 3600, NULL, NULL, NULL)),
	'invalid', 'refresh_rotate: the user is disabled → invalid');
SELECT is(
	(SELECT status FROM homebot.refresh_rotate(sha256('pgtap-08-c6'), sha256('pgtap-08-c6-next'), 3600, NULL, NULL, NULL)),
	'invalid', 'refresh_rotate: the organization is suspended → invalid');
RESET ROLE;
SELECT is_empty(
	$$SELECT * FROM homebot.refresh_tokens
	   WHERE session_id IN ('00000000-0000-4000-8000-0000000008c2', '00000000-0000-4000-8000-0000000008c3',
	                        '00000000-0000-4000-8000-0000000008c4', '00000000-0000-4000-8000-0000000008c5',
	                        '00000000-0000-4000-8000-0000000008c6')
	     AND used_at IS NOT NULL$$,
	'invalid refreshes mark nothing used');
SELECT is(
	(SELECT count(*)::int FROM homebot.refresh_tokens
	  WHERE session_id::text LIKE '%-0000000008c_' AND session_id <> '00000000-0000-4000-8000-0000000008c1'),
	6, 'invalid refreshes issue no token');
SELECT is_empty(
	$$SELECT * FROM homebot.sessions WHERE id::text LIKE '%-0000000008c_'
	     AND id <> '00000000-0000-4000-8000-0000000008c1' AND (revoked_at IS NOT NULL OR last_used_at = now())$$,
	'invalid refreshes neither revoke nor touch their sessions');

-- refresh_rotate: a chain of rotations, then a reuse from the middle.
SET LOCAL ROLE homebot_app;
SELECT is(
	(SELECT status FROM homebot.refresh_rotate(sha256('pgtap-08-c7'), sha256('pgtap-08-c7-2'), 3600, NULL, NULL, NULL)),
	'ok', 'chain: first rotation');
SELECT is(
	(SELECT status FROM homebot.refresh_rotate(sha256('pgtap-08-c7-2'), sha256('pgtap-08-c7-3'), 3600, NULL, NULL, NULL)),
	'ok', 'chain: the new token rotates in turn');
SELECT is(
	(SELECT status FROM homebot.refresh_rotate(sha256('pgtap-08-c7-2'), sha256('pgtap-08-c7-x'), 3600, NULL, NULL, NULL)),
	'reused', 'chain: the middle token presented again → reused');
SELECT is(
	(SELECT status FROM homebot.refresh_rotate(sha256('pgtap-08-c7-3'), sha256('pgtap-08-c7-4'), 3600, NULL, NULL, NULL)),
	'invalid', 'chain: the legitimate newest token is then refused too');
RESET ROLE;

-- authenticate_api_key
INSERT INTO homebot.api_keys (id, organization_id, prefix, key_hash, name, scopes, created_by, expires_at, revoked_at) VALUES
	('00000000-0000-4000-8000-0000000008d1', '00000000-0000-4000-8000-00000000080a', 'pgtap08a', sha256('pgtap-08-key-a'),
	 'key A', '{org:read,org:delete,members:owners,audit:read,members:read,org:read}',
	 '00000000-0000-4000-8000-0000000008e1', NULL, NULL),
	('00000000-0000-4000-8000-0000000008d2', '00000000-0000-4000-8000-00000000080a', 'pgtap08b', sha256('pgtap-08-key-b'),
	 'expired', '{org:read}', '00000000-0000-4000-8000-0000000008e1', now() - interval '1 second', NULL),
	('00000000-0000-4000-8000-0000000008d3', '00000000-0000-4000-8000-00000000080a', 'pgtap08c', sha256('pgtap-08-key-c'),
	 'revoked', '{org:read}', '00000000-0000-4000-8000-0000000008e1', NULL, now()),
	('00000000-0000-4000-8000-0000000008d4', '00000000-0000-4000-8000-00000000080a', 'pgtap08d', sha256('pgtap-08-key-d'),
	 'by V', '{org:read}', '00000000-0000-4000-8000-0000000008e2', NULL, NULL),
	('00000000-0000-4000-8000-0000000008d5', '00000000-0000-4000-8000-00000000080a', 'pgtap08e', sha256('pgtap-08-key-e'),
	 'by W', '{org:read}', '00000000-0000-4000-8000-0000000008e3', NULL, NULL),
	('00000000-0000-4000-8000-0000000008d6', '00000000-0000-4000-8000-00000000080b', 'pgtap08f', sha256('pgtap-08-key-f'),
	 'in B', '{org:read}', '00000000-0000-4000-8000-0000000008e1', NULL, NULL),
	('00000000-0000-4000-8000-0000000008d7', '00000000-0000-4000-8000-00000000080a', 'pgtap08g', sha256('pgtap-08-key-g'),
	 'by X', '{org:read}', '00000000-0000-4000-8000-0000000008e4', NULL, NULL),
	('00000000-0000-4000-8000-0000000008d8', '00000000-0000-4000-8000-00000000080a', 'pgtap08h', sha256('pgtap-08-key-h'),
	 'expiring', '{org:read}', '00000000-0000-4000-8000-0000000008e1', now() + interval '1 second', NULL);

SET LOCAL ROLE homebot_app;
SELECT is_empty($$SELECT * FROM homebot.authenticate_api_key('pgtap08z', sha256('pgtap-08-key-a'))$$,
	'authenticate_api_key: an unknown prefix → no row');
SELECT results_eq(
	$$SELECT * FROM homebot.authenticate_api_key('pgtap08a', sha256('pgtap-08-wrong'))$$,
	$$VALUES (sha256('pgtap-08-key-a'), '00000000-0000-4000-8000-0000000008d1'::uuid, 'key A'::text,
	          '{org:read,org:delete,members:owners,audit:read,members:read,org:read}'::text[],
	          '{audit:read,members:owners,members:read,org:read}'::text[], false, false,
	          '00000000-0000-4000-8000-00000000080a'::uuid, 'Org 8A'::text, 'pgtap-08-a'::text, false,
	          '00000000-0000-4000-8000-0000000008e1'::uuid, 'pgtap-08-u@example.test'::text, 'U Eight'::text,
	          '2026-02-03T04:05:06Z'::timestamptz, false, 'admin'::text, true, '[]'::text, '{}'::text, '{}'::text, false)$$,
	'authenticate_api_key: the stored hash (whatever was presented), the key, the creator, and as permissions the scopes he holds (role + extra grants), sorted, without duplicates, and his teams (none)');
RESET ROLE;
SELECT is((SELECT last_used_at FROM homebot.api_keys WHERE prefix = 'pgtap08a'), NULL,
	'a wrong hash does not touch last_used_at');

SET LOCAL ROLE homebot_app;
SELECT is((SELECT key_id FROM homebot.authenticate_api_key('pgtap08a', sha256('pgtap-08-key-a'))),
	'00000000-0000-4000-8000-0000000008d1'::uuid, 'authenticate_api_key: the right hash finds the same key');
RESET ROLE;
SELECT is((SELECT last_used_at FROM homebot.api_keys WHERE prefix = 'pgtap08a'), now(),
	'the right hash sets last_used_at');

UPDATE homebot.api_keys SET last_used_at = now() - interval '30 seconds' WHERE prefix = 'pgtap08a';
SET LOCAL ROLE homebot_app;
SELECT isnt_empty($$SELECT * FROM homebot.authenticate_api_key('pgtap08a', sha256('pgtap-08-key-a'))$$,
	'authenticate_api_key: used again 30 s later');
RESET ROLE;
SELECT is((SELECT last_used_at FROM homebot.api_keys WHERE prefix = 'pgtap08a'), now() - interval '30 seconds',
	'last_used_at is not written again within a minute');

UPDATE homebot.api_keys SET last_used_at = now() - interval '61 seconds' WHERE prefix = 'pgtap08a';
SET LOCAL ROLE homebot_app;
SELECT isnt_empty($$SELECT * FROM homebot.authenticate_api_key('pgtap08a', sha256('pgtap-08-wrong'))$$,
	'authenticate_api_key: a wrong hash 61 s later');
RESET ROLE;
SELECT is((SELECT last_used_at FROM homebot.api_keys WHERE prefix = 'pgtap08a'), now() - interval '61 seconds',
	'a wrong hash does not write last_used_at even when it is due');
SET LOCAL ROLE homebot_app;
SELECT isnt_empty($$SELECT * FROM homebot.authenticate_api_key('pgtap08a', sha256('pgtap-08-key-a'))$$,
	'authenticate_api_key: the right hash 61 s later');
RESET ROLE;
SELECT is((SELECT last_used_at FROM homebot.api_keys WHERE prefix = 'pgtap08a'), now(),
	'last_used_at is written again after more than a minute');

SET LOCAL ROLE homebot_app;
SELECT results_eq(
	$$SELECT expired, revoked FROM homebot.authenticate_api_key('pgtap08b', sha256('pgtap-08-key-b'))$$,
	$$VALUES (true, false)$$, 'authenticate_api_key: an expired key is reported expired');
SELECT results_eq(
	$$SELECT expired, revoked FROM homebot.authenticate_api_key('pgtap08c', sha256('pgtap-08-key-c'))$$,
	$$VALUES (false, true)$$, 'authenticate_api_key: a revoked key is reported revoked');
SELECT results_eq(
	$$SELECT expired, revoked FROM homebot.authenticate_api_key('pgtap08h', sha256('pgtap-08-key-h'))$$,
	$$VALUES (false, false)$$, 'authenticate_api_key: a key expiring later is not expired');
SELECT is_empty($$SELECT * FROM homebot.authenticate_api_key('pgtap08d', sha256('pgtap-08-key-d'))$$,
	'authenticate_api_key: the creator left the organization → no row');
SELECT is_empty($$SELECT * FROM homebot.authenticate_api_key('pgtap08e', sha256('pgtap-08-key-e'))$$,
	'authenticate_api_key: the creator is only invited → no row');
SELECT results_eq(
	$$SELECT organization_id, org_suspended, user_disabled, role
	    FROM homebot.authenticate_api_key('pgtap08f', sha256('pgtap-08-key-f'))$$,
	$$VALUES ('00000000-0000-4000-8000-00000000080b'::uuid, true, false, 'member'::text)$$,
	'authenticate_api_key: a key of a suspended organization is reported so, with the creator''s role there');
SELECT results_eq(
	$$SELECT user_id, user_disabled FROM homebot.authenticate_api_key('pgtap08g', sha256('pgtap-08-key-g'))$$,
	$$VALUES ('00000000-0000-4000-8000-0000000008e4'::uuid, true)$$,
	'authenticate_api_key: a key of a disabled creator is reported so');
RESET ROLE;
SELECT is_empty(
	$$SELECT * FROM homebot.api_keys WHERE prefix IN ('pgtap08b', 'pgtap08c', 'pgtap08d', 'pgtap08e')
	     AND last_used_at IS NOT NULL$$,
	'expired and revoked keys, and keys without an active creator, never get last_used_at');

-- Permissions follow the creator's current role and grants.
UPDATE homebot.memberships SET role = 'viewer'
 WHERE organization_id = '00000000-0000-4000-8000-00000000080a' AND user_id = '00000000-0000-4000-8000-0000000008e1';
SET LOCAL ROLE homebot_app;
SELECT is((SELECT permissions FROM homebot.authenticate_api_key('pgtap08a', sha256('pgtap-08-key-a'))),
	'{members:owners,members:read,org:read}'::text[],
	'authenticate_api_key: the creator demoted to viewer: only his viewer permissions and extra grant remain');
RESET ROLE;
DELETE FROM homebot.user_permissions
 WHERE organization_id = '00000000-0000-4000-8000-00000000080a' AND user_id = '00000000-0000-4000-8000-0000000008e1';
SET LOCAL ROLE homebot_app;
SELECT is((SELECT permissions FROM homebot.authenticate_api_key('pgtap08a', sha256('pgtap-08-key-a'))),
	'{members:read,org:read}'::text[],
	'authenticate_api_key: the extra grant taken away: it is gone from the key too');
RESET ROLE;
UPDATE homebot.api_keys SET scopes = '{org:delete}' WHERE prefix = 'pgtap08a';
SET LOCAL ROLE homebot_app;
SELECT is((SELECT permissions FROM homebot.authenticate_api_key('pgtap08a', sha256('pgtap-08-key-a'))),
	'{}'::text[], 'authenticate_api_key: no scope held → an empty permission list, not NULL');

SELECT * FROM finish();
ROLLBACK;
