-- Password history (0017_password_history.sql, R__passwords.sql, api.md
-- §12): every change of an account's password keeps the hash it replaced,
-- the 4 newest of them only; password_history_of gives the current hash
-- and those 4, newest first, by address in any case; no runtime role
-- reads the table itself. password_proved counts a right current password
-- as a login would.
BEGIN;
SELECT plan(12);

INSERT INTO homebot.users (id, email, password_hash, full_name) VALUES
	('00000000-0000-4000-8000-0000000030e1', 'pgtap-30@example.test', '$2b$04$h0', 'P'),
	('00000000-0000-4000-8000-0000000030e2', 'pgtap-30-other@example.test', '$2b$04$o0', 'O');

SELECT is((SELECT count(*) FROM homebot.password_history
            WHERE user_id = '00000000-0000-4000-8000-0000000030e1'), 0::bigint,
	'a new account has no history');
SELECT results_eq($$SELECT * FROM homebot.password_history_of('pgtap-30@example.test')$$,
	ARRAY['$2b$04$h0'], '...and its current hash is its last password');

UPDATE homebot.users SET password_hash = '$2b$04$h1' WHERE id = '00000000-0000-4000-8000-0000000030e1';
UPDATE homebot.users SET full_name = 'P2' WHERE id = '00000000-0000-4000-8000-0000000030e1';
SELECT results_eq($$SELECT password_hash FROM homebot.password_history
                     WHERE user_id = '00000000-0000-4000-8000-0000000030e1'$$,
	ARRAY['$2b$04$h0'], 'a new password keeps the hash it replaced; another change keeps nothing');
UPDATE homebot.users SET password_hash = '$2b$04$h1' WHERE id = '00000000-0000-4000-8000-0000000030e1';
SELECT is((SELECT count(*) FROM homebot.password_history
            WHERE user_id = '00000000-0000-4000-8000-0000000030e1'), 1::bigint,
	'setting the same hash again keeps nothing');

UPDATE homebot.users SET password_hash = '$2b$04$h2' WHERE id = '00000000-0000-4000-8000-0000000030e1';
UPDATE homebot.users SET password_hash = '$2b$04$h3' WHERE id = '00000000-0000-4000-8000-0000000030e1';
UPDATE homebot.users SET password_hash = '$2b$04$h4' WHERE id = '00000000-0000-4000-8000-0000000030e1';
UPDATE homebot.users SET password_hash = '$2b$04$h5' WHERE id = '00000000-0000-4000-8000-0000000030e1';
UPDATE homebot.users SET password_hash = '$2b$04$o1' WHERE id = '00000000-0000-4000-8000-0000000030e2';
SELECT results_eq($$SELECT password_hash FROM homebot.password_history
                     WHERE user_id = '00000000-0000-4000-8000-0000000030e1' ORDER BY replaced_at DESC$$,
	ARRAY['$2b$04$h4', '$2b$04$h3', '$2b$04$h2', '$2b$04$h1'],
	'only the 4 newest replaced hashes stay');
SELECT results_eq($$SELECT * FROM homebot.password_history_of('PGTAP-30@Example.Test')$$,
	ARRAY['$2b$04$h5', '$2b$04$h4', '$2b$04$h3', '$2b$04$h2', '$2b$04$h1'],
	'password_history_of: the current hash and the 4 before it, newest first, whatever the case of the address');
SELECT results_eq($$SELECT * FROM homebot.password_history_of('pgtap-30-other@example.test')$$,
	ARRAY['$2b$04$o1', '$2b$04$o0'], '...each account its own');
SELECT is_empty($$SELECT * FROM homebot.password_history_of('pgtap-30-nobody@example.test')$$,
	'...and nothing for an unknown address');

SET LOCAL ROLE homebot_app;
SELECT is(homebot.password_proved('00000000-0000-4000-8000-0000000030e1', '$2b$04$h4', '192.0.2.30'), false,
	'password_proved: false for a hash that is not the current one');
SELECT is(homebot.password_proved('00000000-0000-4000-8000-0000000030e1', '$2b$04$h5', '192.0.2.30'), true,
	'...true for the current one, as homebot_app');
SELECT throws_ok($$SELECT * FROM homebot.password_history$$, '42501', NULL,
	'homebot_app cannot read the table itself');
SELECT results_eq($$SELECT count(*) FROM homebot.password_history_of('pgtap-30@example.test')$$,
	ARRAY[5::bigint], '...only through password_history_of');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
