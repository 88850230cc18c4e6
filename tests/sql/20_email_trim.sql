-- Emails are trimmed of white space only. PostgreSQL's escape strings have
-- no \v, so E'\v' is the letter v: trimming with it turned
-- victor@example.dev into ictor@example.de, and two people into one
-- account. register and find_or_create_user (behind invitations and
-- admin-created organizations) keep every letter.
BEGIN;
SELECT plan(6);

SELECT is((SELECT status FROM homebot.register('victor@example.dev', '$2b$04$x', '', 'Org V',
                                                '192.0.2.1', 'pgtap', 'pgtap-20-a',
                                                sha256('pgtap-20-a'::bytea), 3600)),
	'ok', 'victor@example.dev registers');
SELECT is((SELECT email FROM homebot.users WHERE lower(email) LIKE '%ictor@example.de%'),
	'victor@example.dev', '...and is stored with its first and last letter');
SELECT is((SELECT status FROM homebot.register('ictor@example.de', '$2b$04$x', '', 'Org I',
                                                '192.0.2.1', 'pgtap', 'pgtap-20-b',
                                                sha256('pgtap-20-b'::bytea), 3600)),
	'ok', 'ictor@example.de is someone else: a second account, not email_taken');
CREATE TEMP TABLE found AS SELECT * FROM homebot.find_or_create_user(E' \t vova@example.dev\n' || chr(11));
SELECT is((SELECT u.email FROM homebot.users u JOIN found f ON f.user_id = u.id),
	'vova@example.dev', 'find_or_create_user trims blanks, tabs, line ends and vertical tabs, not letters');
SELECT is((SELECT count(*)::int FROM homebot.users WHERE email = 'vova@example.dev'), 1,
	'...one user for it');
SELECT is((SELECT f.created FROM homebot.find_or_create_user('VOVA@example.dev') f), false,
	'...found again whatever the case');

SELECT * FROM finish();
ROLLBACK;
