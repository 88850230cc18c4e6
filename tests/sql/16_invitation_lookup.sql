-- invitation_lookup (it replaced invitation_email) tells accept-invite,
-- before anything is written, which account a live invitation is for:
-- its email (so a new password can be refused when it equals it), whether
-- the email is verified (which rule of api.md §2 applies) and its password
-- hash (to check a verified account's password against). Nothing about
-- used, expired or withdrawn invitations, disabled accounts or suspended
-- organizations.
BEGIN;
SELECT plan(11);

INSERT INTO homebot.organizations (id, name, slug)
VALUES ('00000000-0000-4000-8000-0000000016a1', 'Inv A', 'pgtap-16-inv-a');
INSERT INTO homebot.users (id, email, password_hash, email_verified_at)
VALUES ('00000000-0000-4000-8000-0000000016b1', 'Invited.One@example.test', NULL, NULL),
       ('00000000-0000-4000-8000-0000000016b2', 'Verified.Two@example.test', '$2b$04$pgtap16two', now());
INSERT INTO homebot.memberships (organization_id, user_id, role, status)
VALUES ('00000000-0000-4000-8000-0000000016a1', '00000000-0000-4000-8000-0000000016b1', 'member', 'invited'),
       ('00000000-0000-4000-8000-0000000016a1', '00000000-0000-4000-8000-0000000016b2', 'member', 'invited');
INSERT INTO homebot.invitations (organization_id, user_id, token_hash, expires_at)
VALUES ('00000000-0000-4000-8000-0000000016a1', '00000000-0000-4000-8000-0000000016b1',
        sha256('live'), now() + interval '1 day'),
       ('00000000-0000-4000-8000-0000000016a1', '00000000-0000-4000-8000-0000000016b1',
        sha256('expired'), now() - interval '1 second'),
       ('00000000-0000-4000-8000-0000000016a1', '00000000-0000-4000-8000-0000000016b2',
        sha256('verified'), now() + interval '1 day');

SET LOCAL ROLE homebot_app;
SELECT results_eq($$SELECT * FROM homebot.invitation_lookup(sha256('live'))$$,
	$$VALUES ('00000000-0000-4000-8000-0000000016b1'::uuid, 'Invited.One@example.test'::text, false)$$,
	'a live invitation gives its account: id, email, not verified (to homebot_app, with no context)');
SELECT results_eq($$SELECT * FROM homebot.invitation_lookup(sha256('verified'))$$,
	$$VALUES ('00000000-0000-4000-8000-0000000016b2'::uuid, 'Verified.Two@example.test'::text, true)$$,
	'a verified account''s invitation says so (and never hands out its password hash)');
SELECT is_empty($$SELECT * FROM homebot.invitation_lookup(sha256('expired'))$$, 'an expired one gives nothing');
SELECT is_empty($$SELECT * FROM homebot.invitation_lookup(sha256('unknown'))$$, 'an unknown token gives nothing');
SELECT throws_ok($$SELECT * FROM homebot.invitations$$, '42501', NULL,
                 'homebot_app still cannot read invitations');
RESET ROLE;
SELECT is((SELECT provolatile::text FROM pg_proc WHERE oid = 'homebot.invitation_lookup(bytea)'::regprocedure), 's',
	'invitation_lookup is STABLE (it only reads)');
SELECT hasnt_function('homebot', 'invitation_email', ARRAY['bytea'], 'invitation_email is gone');

UPDATE homebot.invitations SET used_at = now() WHERE token_hash = sha256('live');
SELECT is_empty($$SELECT * FROM homebot.invitation_lookup(sha256('live'))$$, 'a used one gives nothing');
UPDATE homebot.invitations SET used_at = NULL WHERE token_hash = sha256('live');
UPDATE homebot.memberships SET status = 'active'
 WHERE user_id = '00000000-0000-4000-8000-0000000016b1';
SELECT is_empty($$SELECT * FROM homebot.invitation_lookup(sha256('live'))$$,
	'nor one whose membership is no longer invited');
UPDATE homebot.users SET disabled_at = now() WHERE id = '00000000-0000-4000-8000-0000000016b2';
SELECT is_empty($$SELECT * FROM homebot.invitation_lookup(sha256('verified'))$$, 'nor one of a disabled account');
UPDATE homebot.users SET disabled_at = NULL WHERE id = '00000000-0000-4000-8000-0000000016b2';
UPDATE homebot.organizations SET suspended_at = now() WHERE id = '00000000-0000-4000-8000-0000000016a1';
SELECT is_empty($$SELECT * FROM homebot.invitation_lookup(sha256('verified'))$$, 'nor one of a suspended organization');

SELECT * FROM finish();
ROLLBACK;
