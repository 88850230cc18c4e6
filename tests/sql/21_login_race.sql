-- A login checks the password outside any transaction (bcrypt is slow),
-- then login_start opens the session. A password change in between must
-- win: the session opens, and a re-hash is written, only while the stored
-- hash is still the one the password was checked against.
BEGIN;
SELECT plan(8);

CREATE TEMP TABLE reg AS
SELECT * FROM homebot.register('race@example.test', '$2b$04$first', '', 'Race',
                               '192.0.2.21', 'pgtap', 'pgtap-21', sha256('pgtap-21'::bytea), 3600);
UPDATE homebot.users SET password_hash = '$2b$04$changed' WHERE id = (SELECT user_id FROM reg);

CREATE TEMP TABLE stale AS
SELECT * FROM homebot.login_start((SELECT user_id FROM reg), NULL, '192.0.2.21', 'pgtap', 'pgtap-21-a',
                                  sha256('pgtap-21-a'::bytea), 3600, '$2b$12$rehash-of-old', '$2b$04$first');
SELECT is((SELECT status FROM stale), 'password_changed',
	'a login that checked the password before it changed is refused');
SELECT is((SELECT count(*)::int FROM homebot.sessions WHERE user_id = (SELECT user_id FROM reg)), 1,
	'...and opens no session (only register''s)');
SELECT is((SELECT password_hash FROM homebot.users WHERE id = (SELECT user_id FROM reg)), '$2b$04$changed',
	'...and its re-hash does not write the old password back');
SELECT is((SELECT count(*)::int FROM homebot.audit_log WHERE action = 'auth.login.failed'
            AND changes ->> 'reason' = 'password_changed' AND target_id = (SELECT user_id FROM reg)::text), 1,
	'...and is audited as a failed login');

CREATE TEMP TABLE fresh AS
SELECT * FROM homebot.login_start((SELECT user_id FROM reg), NULL, '192.0.2.21', 'pgtap', 'pgtap-21-b',
                                  sha256('pgtap-21-b'::bytea), 3600, '$2b$12$rehash', '$2b$04$changed');
SELECT is((SELECT status FROM fresh), 'ok', 'a login that checked the current hash opens a session');
SELECT is((SELECT password_hash FROM homebot.users WHERE id = (SELECT user_id FROM reg)), '$2b$12$rehash',
	'...and its re-hash is written');

CREATE TEMP TABLE switched AS
SELECT * FROM homebot.login_start((SELECT user_id FROM reg), NULL, '192.0.2.21', 'pgtap', 'pgtap-21-c',
                                  sha256('pgtap-21-c'::bytea), 3600, NULL, NULL);
SELECT is((SELECT status FROM switched), 'ok', 'a switch of organization (no password checked) opens a session');
SELECT is((SELECT count(*)::int FROM homebot.sessions WHERE user_id = (SELECT user_id FROM reg)), 3,
	'three sessions: register''s, the fresh login''s and the switch''s');

SELECT * FROM finish();
ROLLBACK;
