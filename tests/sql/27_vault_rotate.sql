-- Master-key rotation's functions (R__vault.sql): homebot_worker alone may
-- call them; they walk every organization's data key in order despite
-- row-level security, write back only a row that still holds the
-- wrapping it was read with, and count the keys not under a key id.
--
--   A = ...27a, B = ...27b, C = ...27c; A and B under "old-k", C "new-k"
BEGIN;
SELECT plan(14);

INSERT INTO homebot.organizations (id, name, slug) VALUES
	('00000000-0000-4000-8000-00000000027a', 'Org 27A', 'pgtap-27-a'),
	('00000000-0000-4000-8000-00000000027b', 'Org 27B', 'pgtap-27-b'),
	('00000000-0000-4000-8000-00000000027c', 'Org 27C', 'pgtap-27-c');
-- 0x01 | key id length | key id | 60 bytes: the framing of lib/vault.h.
INSERT INTO homebot.vault_data_keys (organization_id, wrapped) VALUES
	('00000000-0000-4000-8000-00000000027a', decode('0105' || encode('old-k', 'hex') || repeat('a1', 60), 'hex')),
	('00000000-0000-4000-8000-00000000027b', decode('0105' || encode('old-k', 'hex') || repeat('b1', 60), 'hex')),
	('00000000-0000-4000-8000-00000000027c', decode('0105' || encode('new-k', 'hex') || repeat('c1', 60), 'hex'));

SET LOCAL ROLE homebot_app;
SELECT throws_ok($$SELECT * FROM homebot.vault_rotate_take(NULL, 10)$$, '42501', NULL,
	'homebot_app may not take data keys');
SELECT throws_ok($$SELECT homebot.vault_rotate_put('{}', '{}', '{}')$$, '42501', NULL,
	'nor write them');
SELECT throws_ok($$SELECT homebot.vault_rotate_pending('x')$$, '42501', NULL, 'nor count them');
RESET ROLE;
SET LOCAL ROLE homebot_admin;
SELECT throws_ok($$SELECT * FROM homebot.vault_rotate_take(NULL, 10)$$, '42501', NULL,
	'nor may homebot_admin');
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
RESET ROLE;

SELECT is((SELECT encode(wrapped, 'hex') FROM homebot.vault_data_keys
	WHERE organization_id = '00000000-0000-4000-8000-00000000027a'),
	'0105' || encode('new-k', 'hex') || repeat('a2', 60), 'A holds its new wrapping');
SELECT is((SELECT count(*) FROM homebot.vault_data_keys
	WHERE organization_id::text LIKE '00000000-0000-4000-8000-00000000027%'
	  AND substring(wrapped FROM 3 FOR get_byte(wrapped, 1)) <> convert_to('new-k', 'UTF8')), 1::bigint,
	'B alone is left under old-k');

SELECT * FROM finish();
ROLLBACK;
