-- Two-factor authentication (R__mfa.sql, 0015_mfa.sql) and require_mfa
-- in authenticate_session (R__auth.sql): the tables are closed to the
-- runtime roles, a code's time step is accepted once and only a later
-- one after it, a recovery code and an mfa_token work once, and the hot
-- path says whom the organization's require_mfa holds.
--
--   org ...27a; U ...27e1 (member), V ...27e2 (member with TOTP on)
--   sessions: U ...27c1, V ...27c2
BEGIN;
SELECT plan(22);

INSERT INTO homebot.organizations (id, name, slug) VALUES
	('00000000-0000-4000-8000-00000000027a', 'Org 27A', 'pgtap-27-a');
INSERT INTO homebot.users (id, email, full_name, password_hash) VALUES
	('00000000-0000-4000-8000-0000000027e1', 'pgtap-27-u@example.test', 'U', 'hash-u'),
	('00000000-0000-4000-8000-0000000027e2', 'pgtap-27-v@example.test', 'V', 'hash-v');
INSERT INTO homebot.memberships (organization_id, user_id, role) VALUES
	('00000000-0000-4000-8000-00000000027a', '00000000-0000-4000-8000-0000000027e1', 'member'),
	('00000000-0000-4000-8000-00000000027a', '00000000-0000-4000-8000-0000000027e2', 'member');
INSERT INTO homebot.sessions (id, organization_id, user_id) VALUES
	('00000000-0000-4000-8000-0000000027c1', '00000000-0000-4000-8000-00000000027a', '00000000-0000-4000-8000-0000000027e1'),
	('00000000-0000-4000-8000-0000000027c2', '00000000-0000-4000-8000-00000000027a', '00000000-0000-4000-8000-0000000027e2');

SELECT is(
	(SELECT count(*)::int FROM unnest(ARRAY['homebot.user_totp', 'homebot.mfa_recovery_codes',
	                                        'homebot.mfa_challenges']) t
	  WHERE has_table_privilege('homebot_app', t, 'SELECT')
	     OR has_table_privilege('homebot_app', t, 'INSERT')
	     OR has_table_privilege('homebot_app', t, 'UPDATE')
	     OR has_table_privilege('homebot_app', t, 'DELETE')),
	0, 'homebot_app has no privilege on the MFA tables: only the functions reach them');
SELECT ok(NOT has_function_privilege('homebot_worker', 'homebot.mfa_totp_use(uuid, bigint, bigint)', 'EXECUTE'),
	'homebot_worker may not use codes');

-- V: a pending secret of generation 7, confirmed at step 100.
SELECT is(homebot.mfa_totp_begin('00000000-0000-4000-8000-0000000027e2', decode(repeat('ab', 70), 'hex'),
	decode(repeat('cd', 49), 'hex'), 7), 'ok', 'begin: a pending secret');
SELECT is(homebot.mfa_totp_use('00000000-0000-4000-8000-0000000027e2', 7, 100), false,
	'a pending secret accepts no code');
SELECT is(homebot.mfa_totp_confirm('00000000-0000-4000-8000-0000000027e2', 6, 100,
	ARRAY[sha256('r1'), sha256('r2')]), 'stale', 'confirm of another generation: stale');
SELECT is(homebot.mfa_totp_confirm('00000000-0000-4000-8000-0000000027e2', 7, 100,
	ARRAY[sha256('r1'), sha256('r2')]), 'ok', 'confirm: on');
SELECT is(homebot.mfa_totp_begin('00000000-0000-4000-8000-0000000027e2', decode(repeat('ab', 70), 'hex'),
	decode(repeat('cd', 49), 'hex'), 8), 'mfa_enabled', 'begin while on: mfa_enabled, the secret kept');
SELECT is(homebot.mfa_totp_use('00000000-0000-4000-8000-0000000027e2', 7, 100), false,
	'the confirming step is not accepted again');
SELECT is(homebot.mfa_totp_use('00000000-0000-4000-8000-0000000027e2', 7, 101), true, 'a later step is');
SELECT is(homebot.mfa_totp_use('00000000-0000-4000-8000-0000000027e2', 7, 101), false, 'once');
SELECT is(homebot.mfa_totp_use('00000000-0000-4000-8000-0000000027e2', 7, 100), false,
	'and an earlier one no more');

-- A login's second step.
SELECT homebot.mfa_challenge_new('00000000-0000-4000-8000-0000000027e2', sha256('t1'), NULL, 'hash-v', NULL, 300);
SELECT is((SELECT count(*)::int FROM homebot.mfa_challenge_get(sha256('t1'))), 1, 'the challenge is live');
SELECT is((SELECT status FROM homebot.mfa_challenge_finish(sha256('t1'), 7, NULL, sha256('r9'))),
	'invalid_code', 'an unknown recovery code');
SELECT is((SELECT status || ' ' || verified_hash FROM homebot.mfa_challenge_finish(sha256('t1'), 7, NULL, sha256('r1'))),
	'ok hash-v', 'a recovery code completes it');
SELECT is((SELECT status FROM homebot.mfa_challenge_finish(sha256('t1'), 7, 105, NULL)),
	'invalid_token', 'the mfa_token works once');
SELECT homebot.mfa_challenge_new('00000000-0000-4000-8000-0000000027e2', sha256('t2'), NULL, 'hash-v', NULL, 300);
SELECT is((SELECT status FROM homebot.mfa_challenge_finish(sha256('t2'), 7, NULL, sha256('r1'))),
	'invalid_code', 'a used recovery code is refused');
SELECT homebot.mfa_challenge_new('00000000-0000-4000-8000-0000000027e2', sha256('t3'), NULL, 'hash-v', NULL, -1);
SELECT is((SELECT count(*)::int FROM homebot.mfa_challenge_get(sha256('t3'))), 0, 'an expired challenge is not live');

-- require_mfa on the hot path.
SET LOCAL ROLE homebot_app;
SELECT is((SELECT mfa_blocked FROM homebot.authenticate_session('00000000-0000-4000-8000-0000000027c1',
	'00000000-0000-4000-8000-0000000027e1', '00000000-0000-4000-8000-00000000027a')),
	false, 'no require_mfa: nobody is held');
RESET ROLE;
UPDATE homebot.organizations SET settings = '{"require_mfa": "true"}' WHERE id = '00000000-0000-4000-8000-00000000027a';
SET LOCAL ROLE homebot_app;
SELECT is((SELECT mfa_blocked FROM homebot.authenticate_session('00000000-0000-4000-8000-0000000027c1',
	'00000000-0000-4000-8000-0000000027e1', '00000000-0000-4000-8000-00000000027a')),
	false, 'the string "true" is not true');
RESET ROLE;
UPDATE homebot.organizations SET settings = '{"require_mfa": true}' WHERE id = '00000000-0000-4000-8000-00000000027a';
SET LOCAL ROLE homebot_app;
SELECT is((SELECT mfa_enabled::text || ' ' || mfa_blocked::text FROM homebot.authenticate_session('00000000-0000-4000-8000-0000000027c1',
	'00000000-0000-4000-8000-0000000027e1', '00000000-0000-4000-8000-00000000027a')),
	'false true', 'require_mfa: true holds a member without TOTP');
SELECT is((SELECT mfa_enabled::text || ' ' || mfa_blocked::text FROM homebot.authenticate_session('00000000-0000-4000-8000-0000000027c2',
	'00000000-0000-4000-8000-0000000027e2', '00000000-0000-4000-8000-00000000027a')),
	'true false', 'and not one with TOTP on');
RESET ROLE;

-- Off again: the secret, codes and other sessions go.
SELECT homebot.mfa_disable('00000000-0000-4000-8000-0000000027e2', '00000000-0000-4000-8000-0000000027c1');
SELECT is((SELECT (SELECT count(*) FROM homebot.user_totp WHERE user_id = '00000000-0000-4000-8000-0000000027e2')
	        + (SELECT count(*) FROM homebot.mfa_recovery_codes WHERE user_id = '00000000-0000-4000-8000-0000000027e2')
	        + (SELECT count(*) FROM homebot.sessions WHERE user_id = '00000000-0000-4000-8000-0000000027e2'
	                                                   AND revoked_at IS NULL))::int,
	0, 'disable: no secret, no recovery code, no live session of V left');

SELECT * FROM finish();
ROLLBACK;
