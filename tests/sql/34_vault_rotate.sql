-- Master-key rotation's functions (R__vault.sql): homebot_worker alone may
-- call them; they walk every organization's data key in order despite
-- row-level security, write back only a row that still holds the
-- wrapping it was read with, and count the keys not under a key id. The
-- same for the users' two-factor data keys (homebot.user_totp).
--
--   A = ...27a, B = ...27b, C = ...27c; A and B under "old-k", C "new-k"
--   users U = ...27f1 under "old-k", V = ...27f2 under "new-k"
BEGIN;
SELECT plan(26);

INSERT INTO homebot.organizations (id, name, slug) VALUES
	('00000000-0000-4000-8000-00000000027a', 'Org 27A', 'pgtap-27-a'),
	('00000000-0000-4000-8000-00000000027b', 'Org 27B', 'pgtap-27-b'),
	('00000000-0000-4000-8000-00000000027c', 'Org 27C', 'pgtap-27-c');
-- 0x01 | key id length | key id | 60 bytes: the framing of lib/vault.h.
INSERT INTO homebot.vault_data_keys (organization_id, wrapped) VALUES
	('00000000-0000-4000-8000-00000000027a', decode('0105' || encode('old-k', 'hex') || repeat('a1', 60), 'hex')),
	('00000000-0000-4000-8000-00000000027b', decode('0105' || encode('old-k', 'hex') || repeat('b1', 60), 'hex')),
	('00000000-0000-4000-8000-00000000027c', decode('0105' || encode('new-k', 'hex') || repeat('c1', 60), 'hex'));

INSERT INTO homebot.users (id, email, full_name, password_hash) VALUES
	('00000000-0000-4000-8000-0000000027f1', 'pgtap-27-rot-u@example.test', 'U', 'hash-u'),
	('00000000-0000-4000-8000-0000000027f2', 'pgtap-27-rot-v@example.test', 'V', 'hash-v');
INSERT INTO homebot.user_totp (user_id, wrapped_key, secret, generation) VALUES
	('00000000-0000-4000-8000-0000000027f1', decode('0105' || encode('old-k', 'hex') || repeat('d1', 60), 'hex'),
	 decode(repeat('e1', 48), 'hex'), 1),
	('00000000-0000-4000-8000-0000000027f2', decode('0105' || encode('new-k', 'hex') || repeat('d2', 60), 'hex'),
	 decode(repeat('e2', 48), 'hex'), 1);

SET LOCAL ROLE homebot_app;
SELECT throws_ok($$SELECT * FROM homebot.vault_rotate_totp_take(NULL, 10)$$, '42501', NULL,
	'homebot_app may not take two-factor keys');
SELECT throws_ok($$SELECT homebot.vault_rotate_totp_put('{}', '{}', '{}')$$, '42501', NULL,
	'nor write them');
SELECT throws_ok($$SELECT homebot.vault_rotate_totp_pending('x')$$, '42501', NULL, 'nor count them');
SELECT throws_ok($$SELECT * FROM homebot.vault_rotate_take(NULL, 10)$$, '42501', NULL,
	'homebot_app may not take data keys');
SELECT throws_ok($$SELECT homebot.vault_rotate_put('{}', '{}', '{}')$$, '42501', NULL,
	'nor write them');
SELECT throws_ok($$SELECT homebot.vault_rotate_pending('x')$$, '42501', NULL, 'nor count them');
RESET ROLE;
SET LOCAL ROLE homebot_admin;
SELECT throws_ok($$SELECT * FROM homebot.vault_rotate_take(NULL, 10)$$, '42501', NULL,
	'nor may homebot_admin');
SELECT throws_ok($$SELECT * FROM homebot.vault_rotate_totp_take(NULL, 10)$$, '42501', NULL,
	'nor take two-factor keys');
RESET ROLE;

SET LOCAL ROLE homebot_worker;
SELECT throws_ok('SELECT * FROM homebot.vault_data_keys', '42501', NULL,
	'the worker role reads the table of keys only through the functions');
SELECT results_eq($$SELECT organization_id FROM homebot.vault_rotate_take(NULL, 10)
	WHERE organization_id::text LIKE '00000000-0000-4000-8000-00000000027%'$$,
	$$VALUES ('00000000-0000-4000-8000-00000000027a'::uuid), ('00000000-0000-4000-8000-00000000027b'::uuid),
	         ('00000000-0000-4000-8000-00000000027c'::uuid)$$,
	'the worker takes every organization''s data key, in order, without a context');
SELECT results_eq($$SELECT organization_id FROM homebot.vault_rotate_take('00000000-0000-4000-8000-00000000027a', 1)$$,
	$$VALUES ('00000000-0000-4000-8000-00000000027b'::uuid)$$,
	'a batch starts after the organization given and holds at most p_limit keys');
SELECT cmp_ok(homebot.vault_rotate_pending('new-k'), '>=', 2::bigint,
	'A and B are not under new-k');
SELECT is(homebot.vault_rotate_put('{00000000-0000-4000-8000-00000000027a}',
	ARRAY[encode(decode('0105' || encode('old-k', 'hex') || repeat('ff', 60), 'hex'), 'hex')],
	ARRAY['0105' || encode('new-k', 'hex') || repeat('a2', 60)]), 0,
	'a row that no longer holds the wrapping read is not written');
SELECT is(homebot.vault_rotate_put('{00000000-0000-4000-8000-00000000027a}',
	ARRAY['0105' || encode('old-k', 'hex') || repeat('a1', 60)],
	ARRAY['0105' || encode('new-k', 'hex') || repeat('a2', 60)]), 1,
	'one that does is');
SELECT throws_ok($$SELECT homebot.vault_rotate_put('{00000000-0000-4000-8000-00000000027b}', '{}', '{}')$$,
	'P0001', NULL, 'arrays of different lengths are refused');
SELECT throws_ok($$SELECT homebot.vault_rotate_put('{00000000-0000-4000-8000-00000000027b}',
	ARRAY['0105' || encode('old-k', 'hex') || repeat('b1', 60)], ARRAY['00'])$$,
	'23514', NULL, 'a new wrapping of the wrong size is refused by the table');

SELECT throws_ok('SELECT * FROM homebot.user_totp', '42501', NULL,
	'the worker role reads the two-factor keys only through the functions');
SELECT results_eq($$SELECT user_id FROM homebot.vault_rotate_totp_take(NULL, 1000)
	WHERE user_id::text LIKE '00000000-0000-4000-8000-0000000027f%'$$,
	$$VALUES ('00000000-0000-4000-8000-0000000027f1'::uuid), ('00000000-0000-4000-8000-0000000027f2'::uuid)$$,
	'the worker takes every user''s two-factor key, in order');
SELECT results_eq($$SELECT user_id FROM homebot.vault_rotate_totp_take('00000000-0000-4000-8000-0000000027f1', 1)$$,
	$$VALUES ('00000000-0000-4000-8000-0000000027f2'::uuid)$$,
	'a batch starts after the user given and holds at most p_limit keys');
SELECT cmp_ok(homebot.vault_rotate_totp_pending('new-k'), '>=', 1::bigint, 'U is not under new-k');
SELECT is(homebot.vault_rotate_totp_put('{00000000-0000-4000-8000-0000000027f1}',
	ARRAY['0105' || encode('old-k', 'hex') || repeat('ff', 60)],
	ARRAY['0105' || encode('new-k', 'hex') || repeat('d3', 60)]), 0,
	'a two-factor key that no longer holds the wrapping read is not written');
SELECT is(homebot.vault_rotate_totp_put('{00000000-0000-4000-8000-0000000027f1}',
	ARRAY['0105' || encode('old-k', 'hex') || repeat('d1', 60)],
	ARRAY['0105' || encode('new-k', 'hex') || repeat('d3', 60)]), 1,
	'one that does is');
SELECT throws_ok($$SELECT homebot.vault_rotate_totp_put('{00000000-0000-4000-8000-0000000027f1}', '{}', '{}')$$,
	'P0001', NULL, 'arrays of different lengths are refused');
RESET ROLE;

SELECT is((SELECT encode(wrapped_key, 'hex') || '/' || encode(secret, 'hex') FROM homebot.user_totp
	WHERE user_id = '00000000-0000-4000-8000-0000000027f1'),
	'0105' || encode('new-k', 'hex') || repeat('d3', 60) || '/' || repeat('e1', 48),
	'U holds its new wrapping and the same secret');

SELECT is((SELECT encode(wrapped, 'hex') FROM homebot.vault_data_keys
	WHERE organization_id = '00000000-0000-4000-8000-00000000027a'),
	'0105' || encode('new-k', 'hex') || repeat('a2', 60), 'A holds its new wrapping');
SELECT is((SELECT count(*) FROM homebot.vault_data_keys
	WHERE organization_id::text LIKE '00000000-0000-4000-8000-00000000027%'
	  AND substring(wrapped FROM 3 FOR get_byte(wrapped, 1)) <> convert_to('new-k', 'UTF8')), 1::bigint,
	'B alone is left under old-k');

SELECT * FROM finish();
ROLLBACK;
