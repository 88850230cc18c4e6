-- The admin functions of 0003_orgs: admin_create_organization and
-- admin_unlock called as homebot_admin (the role they are granted to),
-- ensure_superadmin as the owner (make superadmin's connection; here the
-- superuser that ran the migrations). Effects are checked as the superuser.
--
--   SA (...13e9): the superadmin acting through the admin program
--   EX (...13e1): a user with a password, owner of X (...130a)
--   P  (...13e2): a user without password or membership
--   Q  (...13e3): invited to X, no password yet (invitation 'pgtap-13-invite-q')
--   D  (...13e4): disabled, member of X        Z (...13e5): member of suspended Z (...130z)
BEGIN;
SELECT plan(44);

-- Slugs this test expects to be free are moved out of the way.
UPDATE homebot.organizations SET slug = 'pgtap-13-moved-' || left(md5(id::text), 20)
 WHERE slug ~ '^(pgtap-thirteen|administration)(-[0-9a-f]{6})?$';

INSERT INTO homebot.organizations (id, name, slug, suspended_at) VALUES
	('00000000-0000-4000-8000-00000000130a', 'Org 13X', 'pgtap-13-x', NULL),
	('00000000-0000-4000-8000-00000000130b', 'Org 13Z', 'pgtap-13-taken', now());
INSERT INTO homebot.users (id, email, password_hash, full_name, disabled_at, is_superadmin) VALUES
	('00000000-0000-4000-8000-0000000013e9', 'pgtap-13-sa@example.test', '$2b$12$pgtap13sa', 'SA', NULL, true),
	('00000000-0000-4000-8000-0000000013e1', 'PgTap-13-Existing@Example.test', '$2b$12$pgtap13ex', 'Existing', NULL, false),
	('00000000-0000-4000-8000-0000000013e2', 'pgtap-13-orphan@example.test', NULL, '', NULL, false),
	('00000000-0000-4000-8000-0000000013e3', 'pgtap-13-q@example.test', NULL, '', NULL, false),
	('00000000-0000-4000-8000-0000000013e4', 'pgtap-13-d@example.test', '$2b$12$pgtap13d', 'D', now(), false),
	('00000000-0000-4000-8000-0000000013e5', 'pgtap-13-z@example.test', '$2b$12$pgtap13z', 'Z', NULL, false);
INSERT INTO homebot.memberships (organization_id, user_id, role, status) VALUES
	('00000000-0000-4000-8000-00000000130a', '00000000-0000-4000-8000-0000000013e1', 'owner', 'active'),
	('00000000-0000-4000-8000-00000000130a', '00000000-0000-4000-8000-0000000013e3', 'member', 'invited'),
	('00000000-0000-4000-8000-00000000130a', '00000000-0000-4000-8000-0000000013e4', 'member', 'active'),
	('00000000-0000-4000-8000-00000000130b', '00000000-0000-4000-8000-0000000013e5', 'owner', 'active');
INSERT INTO homebot.invitations (organization_id, user_id, token_hash, expires_at) VALUES
	('00000000-0000-4000-8000-00000000130a', '00000000-0000-4000-8000-0000000013e3', sha256('pgtap-13-invite-q'),
	 now() + interval '7 days');

-- admin_create_organization, as the admin program runs it.
SET LOCAL ROLE homebot_admin;
SELECT set_config('app.user_id', '00000000-0000-4000-8000-0000000013e9', true);
SELECT set_config('app.request_id', 'pgtap-13-req-1', true);
CREATE TEMP TABLE admin_org1 AS
SELECT * FROM homebot.admin_create_organization('Pgtap Thirteen', NULL, ' PGTAP-13-existing@example.TEST ',
                                                sha256('pgtap-13-t1'), 604800, '00000000-0000-4000-8000-0000000013e9',
                                                '192.0.2.13', repeat('u', 600), 'pgtap-13-req-1', 3);
SELECT results_eq(
	'SELECT status, name, slug, owner_id, owner_status, created_at, _mail, _owner_email FROM admin_org1',
	$$VALUES ('ok'::text, 'Pgtap Thirteen'::text, 'pgtap-thirteen'::text, '00000000-0000-4000-8000-0000000013e1'::uuid,
	          'invited'::text, now(), true, 'PGTAP-13-existing@example.TEST'::text)$$,
	'admin_create_organization with an existing owner (email padded, in another case): ok, the slug derived, the owner invited (never active at once), to be mailed at the address as given (trimmed)');
SELECT set_config('app.request_id', 'pgtap-13-req-2', true);
CREATE TEMP TABLE admin_org2 AS
SELECT * FROM homebot.admin_create_organization('New Org', 'pgtap-13-new', 'pgtap-13-New@example.test',
                                                sha256('pgtap-13-t2'), 3600, '00000000-0000-4000-8000-0000000013e9',
                                                NULL, NULL, 'pgtap-13-req-2', 3);
SELECT results_eq(
	'SELECT status, name, slug, owner_status FROM admin_org2',
	$$VALUES ('ok'::text, 'New Org'::text, 'pgtap-13-new'::text, 'invited'::text)$$,
	'admin_create_organization with a new owner email and a slug: ok, the owner invited');
SELECT set_config('app.request_id', 'pgtap-13-req-3', true);
SELECT results_eq(
	$$SELECT status, owner_id, owner_status, _mail FROM homebot.admin_create_organization(
	      'Orphan Org', NULL, 'pgtap-13-orphan@example.test', sha256('pgtap-13-t3'), 3600,
	      '00000000-0000-4000-8000-0000000013e9', NULL, NULL, 'pgtap-13-req-3', 0)$$,
	$$VALUES ('ok'::text, '00000000-0000-4000-8000-0000000013e2'::uuid, 'invited'::text, false)$$,
	'admin_create_organization: a user without password or membership is invited, as a new one; past the hour''s mail limit it is not mailed (_mail false), the organization is still created');
RESET ROLE;

SELECT results_eq(
	$$SELECT m.user_id, m.role, m.status FROM homebot.memberships m WHERE m.organization_id = (SELECT id FROM admin_org1)$$,
	$$VALUES ('00000000-0000-4000-8000-0000000013e1'::uuid, 'owner'::text, 'invited'::text)$$,
	'admin_create_organization: the existing user is the only member, an invited owner');
SELECT results_eq(
	$$SELECT i.organization_id, i.user_id, i.created_by, i.expires_at, i.used_at FROM homebot.invitations i
	   WHERE i.token_hash = sha256('pgtap-13-t1') OR i.organization_id = (SELECT id FROM admin_org1)$$,
	$$SELECT id, owner_id, '00000000-0000-4000-8000-0000000013e9'::uuid, now() + interval '604800 seconds',
	         NULL::timestamptz FROM admin_org1$$,
	'admin_create_organization: an existing owner gets an invitation too, the only one of the organization');
SELECT results_eq(
	$$SELECT u.password_hash, u.full_name, u.email_verified_at FROM homebot.users u
	   WHERE u.id = '00000000-0000-4000-8000-0000000013e1'$$,
	$$VALUES ('$2b$12$pgtap13ex'::text, 'Existing'::text, NULL::timestamptz)$$,
	'admin_create_organization: the existing owner''s account is untouched (password, name, not verified)');
SELECT results_eq(
	$$SELECT u.email, u.password_hash, u.full_name, u.is_superadmin FROM homebot.users u WHERE u.id = (SELECT owner_id FROM admin_org2)$$,
	$$VALUES ('pgtap-13-New@example.test'::text, NULL::text, ''::text, false)$$,
	'admin_create_organization: the new owner is a user without password');
SELECT results_eq(
	$$SELECT m.role, m.status FROM homebot.memberships m
	   WHERE m.organization_id = (SELECT id FROM admin_org2) AND m.user_id = (SELECT owner_id FROM admin_org2)$$,
	$$VALUES ('owner'::text, 'invited'::text)$$,
	'admin_create_organization: with an invited owner membership');
SELECT results_eq(
	$$SELECT i.organization_id, i.user_id, i.created_by, i.expires_at, i.used_at FROM homebot.invitations i
	   WHERE i.token_hash = sha256('pgtap-13-t2')$$,
	$$SELECT id, owner_id, '00000000-0000-4000-8000-0000000013e9'::uuid, now() + interval '3600 seconds',
	         NULL::timestamptz FROM admin_org2$$,
	'admin_create_organization: and an invitation by the superadmin, expiring after the TTL');
SELECT results_eq(
	$$SELECT a.organization_id, a.actor_type, a.actor_id, a.target_type, a.target_id, a.ip, a.user_agent, a.changes
	    FROM homebot.audit_log a WHERE a.action = 'admin.organization.created' AND a.request_id = 'pgtap-13-req-1'$$,
	$$SELECT id, 'user'::text, '00000000-0000-4000-8000-0000000013e9'::uuid, 'organization'::text, id::text,
	         '192.0.2.13'::text, repeat('u', 512),
	         jsonb_build_object('name', 'Pgtap Thirteen', 'slug', 'pgtap-thirteen',
	                            'owner_id', '00000000-0000-4000-8000-0000000013e1', 'owner_email',
	                            'PgTap-13-Existing@Example.test', 'owner_status', 'invited') FROM admin_org1$$,
	'admin_create_organization: admin.organization.created in the new organization, by the superadmin, with ip, user agent and request id');
SELECT set_eq(
	$$SELECT action FROM homebot.audit_log WHERE request_id = 'pgtap-13-req-2'$$,
	$$VALUES ('admin.organization.created'), ('row.organizations.insert'), ('row.users.insert'),
	         ('row.memberships.insert'), ('row.invitations.insert')$$,
	'admin_create_organization: the triggers record the rows as well');
SELECT is((SELECT count(*)::int FROM homebot.audit_log WHERE request_id = 'pgtap-13-req-2' AND actor_id = '00000000-0000-4000-8000-0000000013e9'),
	5, 'admin_create_organization: every event of the request has the superadmin as actor');

CREATE TEMP TABLE counts_admin AS
SELECT (SELECT count(*) FROM homebot.organizations) AS orgs, (SELECT count(*) FROM homebot.users) AS users,
       (SELECT count(*) FROM homebot.audit_log) AS events, (SELECT count(*) FROM homebot.mail_sends) AS mails;
SET LOCAL ROLE homebot_admin;
SELECT results_eq(
	$$SELECT * FROM homebot.admin_create_organization('Refused', 'pgtap-13-taken', 'pgtap-13-never@example.test',
	                                                  sha256('pgtap-13-t4'), 3600, NULL, NULL, NULL, NULL, 3)$$,
	$$VALUES ('slug_taken'::text, NULL::uuid, NULL::text, NULL::text, NULL::uuid, NULL::text, NULL::timestamptz,
	          false, NULL::text)$$,
	'admin_create_organization: a taken slug → slug_taken, every other column NULL, no mail');
SELECT results_eq(
	$$SELECT status FROM unnest(ARRAY['-x', 'x-', 'X', 'x_y', '', repeat('x', 64)]) AS s,
	                     homebot.admin_create_organization('Refused', s, 'pgtap-13-never@example.test',
	                                                       sha256('pgtap-13-t5'), 3600, NULL, NULL, NULL, NULL, 3)$$,
	$$VALUES ('invalid_slug'::text), ('invalid_slug'), ('invalid_slug'), ('invalid_slug'), ('invalid_slug'), ('invalid_slug')$$,
	'admin_create_organization: an invalid slug → invalid_slug');
RESET ROLE;
SELECT is(
	(SELECT row(count(*), (SELECT count(*) FROM homebot.users), (SELECT count(*) FROM homebot.audit_log),
	            (SELECT count(*) FROM homebot.mail_sends))::text
	   FROM homebot.organizations),
	(SELECT row(orgs, users, events, mails)::text FROM counts_admin),
	'admin_create_organization: refusals write nothing (not even the owner''s user, nor a mail count)');

-- The invited owner accepts, through the request path.
GRANT SELECT ON admin_org2 TO homebot_app;
SET LOCAL ROLE homebot_app;
SELECT results_eq(
	$$SELECT status, organization_id, role FROM homebot.accept_invite(sha256('pgtap-13-t2'), NULL, NULL, '$2b$12$pgtap13new',
	                                                                  NULL, 'New Owner', NULL, NULL, NULL,
	                                                                  sha256('pgtap-13-r2'), 3600)$$,
	$$SELECT 'ok'::text, id, 'owner'::text FROM admin_org2$$,
	'the invited owner accepts the invitation and is the owner');
SELECT throws_ok(
	$$SELECT * FROM homebot.admin_create_organization('x', NULL, 'pgtap-13-app@example.test', sha256('pgtap-13-t6'), 3600,
	                                                  NULL, NULL, NULL, NULL, 3)$$,
	'42501', 'permission denied for function admin_create_organization',
	'homebot_app cannot execute admin_create_organization');
RESET ROLE;

-- admin_unlock. L is locked: five failures after his last success.
INSERT INTO homebot.login_attempts (email, attempted_at, succeeded) VALUES
	('pgtap-13-locked@example.test', now() - interval '10 minutes', true),
	('pgtap-13-locked@example.test', now(), false), ('pgtap-13-locked@example.test', now(), false),
	('pgtap-13-locked@example.test', now(), false), ('pgtap-13-locked@example.test', now(), false),
	('pgtap-13-locked@example.test', now(), false),
	('pgtap-13-other@example.test', now(), false);
SET LOCAL ROLE homebot_app;
SELECT cmp_ok((SELECT retry_after FROM homebot.login_lookup('pgtap-13-locked@example.test', 5, 900, NULL)), '>', 0,
	'precondition: the email is locked');
SELECT throws_ok($$SELECT homebot.admin_unlock('pgtap-13-locked@example.test')$$,
	'42501', 'permission denied for function admin_unlock', 'homebot_app cannot execute admin_unlock');
RESET ROLE;
SET LOCAL ROLE homebot_admin;
SELECT is(homebot.admin_unlock('PgTap-13-LOCKED@example.test'), 5,
	'admin_unlock (any case) deletes the email''s five failed attempts and says so');
SELECT is(homebot.admin_unlock('pgtap-13-locked@example.test'), 0, 'admin_unlock again: nothing left to delete');
SELECT is(homebot.admin_unlock('pgtap-13-nobody@example.test'), 0, 'admin_unlock of an unknown email: 0');
RESET ROLE;
SELECT results_eq(
	$$SELECT email, succeeded FROM homebot.login_attempts WHERE email LIKE 'pgtap-13-%' ORDER BY email$$,
	$$VALUES ('pgtap-13-locked@example.test'::text, true), ('pgtap-13-other@example.test', false)$$,
	'admin_unlock: the successful attempt and other emails'' failures stay');
-- (An unlocked lookup records an attempt: it comes after the check above.)
SET LOCAL ROLE homebot_app;
SELECT is((SELECT retry_after FROM homebot.login_lookup('pgtap-13-locked@example.test', 5, 900, NULL)), 0,
	'admin_unlock ended the lockout');
RESET ROLE;

-- ensure_superadmin, as the owner.
SET LOCAL ROLE homebot_app;
SELECT throws_ok($$SELECT * FROM homebot.ensure_superadmin('pgtap-13-x@example.test', 'h')$$,
	'42501', 'permission denied for function ensure_superadmin', 'homebot_app cannot execute ensure_superadmin');
RESET ROLE;
SET LOCAL ROLE homebot_admin;
SELECT throws_ok($$SELECT * FROM homebot.ensure_superadmin('pgtap-13-x@example.test', 'h')$$,
	'42501', 'permission denied for function ensure_superadmin', 'homebot_admin cannot execute ensure_superadmin');
RESET ROLE;
SELECT set_config('app.user_id', '', true);
SELECT set_config('app.request_id', '', true);

CREATE TEMP TABLE root1 AS SELECT * FROM homebot.ensure_superadmin(' pgtap-13-Root@Example.test ', '$2b$12$pgtap13root1');
SELECT is((SELECT created FROM root1), true, 'ensure_superadmin: a new email → created');
SELECT results_eq(
	$$SELECT u.email, u.password_hash, u.is_superadmin, u.disabled_at, u.email_verified_at FROM homebot.users u
	   WHERE u.id = (SELECT user_id FROM root1)$$,
	$$VALUES ('pgtap-13-Root@Example.test'::text, '$2b$12$pgtap13root1'::text, true, NULL::timestamptz, now())$$,
	'ensure_superadmin: the user, with the email trimmed, the password hash, superadmin, the address verified');
SELECT results_eq(
	$$SELECT o.name, o.slug, m.role, m.status FROM homebot.memberships m JOIN homebot.organizations o ON o.id = m.organization_id
	   WHERE m.user_id = (SELECT user_id FROM root1)$$,
	$$VALUES ('Administration'::text, 'administration'::text, 'owner'::text, 'active'::text)$$,
	'ensure_superadmin: an organization of its own, Administration, with the user as active owner');
SELECT results_eq(
	$$SELECT a.organization_id, a.actor_type, a.actor_id, a.target_type, a.target_id, a.changes - 'organization_id',
	         (a.changes ->> 'organization_id')::uuid = m.organization_id
	    FROM homebot.audit_log a, homebot.memberships m
	   WHERE a.action = 'admin.superadmin.ensured' AND a.target_id = (SELECT user_id::text FROM root1)
	     AND m.user_id = (SELECT user_id FROM root1)$$,
	$$SELECT NULL::uuid, 'system'::text, NULL::uuid, 'user'::text, user_id::text,
	         '{"email": "pgtap-13-Root@Example.test", "created": true}'::jsonb, true FROM root1$$,
	'ensure_superadmin: admin.superadmin.ensured, a platform event by the system, naming the new organization');

-- Again: the same user, a new password, no second organization.
UPDATE homebot.users SET disabled_at = now() WHERE id = (SELECT user_id FROM root1);
SELECT results_eq(
	$$SELECT * FROM homebot.ensure_superadmin('PGTAP-13-root@example.test', '$2b$12$pgtap13root2')$$,
	$$SELECT user_id, false FROM root1$$,
	'ensure_superadmin: an existing email (any case) → the same user, not created');
SELECT results_eq(
	$$SELECT u.password_hash, u.is_superadmin, u.disabled_at FROM homebot.users u WHERE u.id = (SELECT user_id FROM root1)$$,
	$$VALUES ('$2b$12$pgtap13root2'::text, true, NULL::timestamptz)$$,
	'ensure_superadmin: the new password hash is set and the user enabled again');
SELECT is((SELECT count(*)::int FROM homebot.memberships WHERE user_id = (SELECT user_id FROM root1)), 1,
	'ensure_superadmin: no second organization for a user that has one');
SELECT is(
	(SELECT changes FROM homebot.audit_log WHERE action = 'admin.superadmin.ensured'
	    AND target_id = (SELECT user_id::text FROM root1) AND changes ->> 'created' = 'false'),
	'{"email": "pgtap-13-Root@Example.test", "created": false, "organization_id": null}'::jsonb,
	'ensure_superadmin: audited again, without an organization');

-- Existing users: a disabled member, an invitee without password, a member
-- of a suspended organization only.
SELECT results_eq(
	$$SELECT created FROM homebot.ensure_superadmin('pgtap-13-d@example.test', '$2b$12$pgtap13d2')$$,
	$$VALUES (false)$$, 'ensure_superadmin of an existing disabled user: not created');
SELECT results_eq(
	$$SELECT u.is_superadmin, u.disabled_at, (SELECT count(*)::int FROM homebot.memberships m WHERE m.user_id = u.id)
	    FROM homebot.users u WHERE u.id = '00000000-0000-4000-8000-0000000013e4'$$,
	$$VALUES (true, NULL::timestamptz, 1)$$,
	'ensure_superadmin: the user is enabled, superadmin, and keeps his one organization (he is an active member)');
SELECT results_eq(
	$$SELECT created FROM homebot.ensure_superadmin('pgtap-13-q@example.test', '$2b$12$pgtap13q')$$,
	$$VALUES (false)$$, 'ensure_superadmin of an invited user: not created');
SELECT is_empty($$SELECT * FROM homebot.invitations WHERE token_hash = sha256('pgtap-13-invite-q')$$,
	'ensure_superadmin: the user''s pending invitation is gone (it could set the new superadmin''s password)');
SELECT results_eq(
	$$SELECT o.name, m.role, m.status FROM homebot.memberships m JOIN homebot.organizations o ON o.id = m.organization_id
	   WHERE m.user_id = '00000000-0000-4000-8000-0000000013e3' ORDER BY o.name$$,
	$$VALUES ('Administration'::text, 'owner'::text, 'active'::text), ('Org 13X', 'member', 'invited')$$,
	'ensure_superadmin: an invited membership is no organization to log in to: Administration is created');
SELECT results_eq(
	$$SELECT created FROM homebot.ensure_superadmin('pgtap-13-z@example.test', '$2b$12$pgtap13z2')$$,
	$$VALUES (false)$$, 'ensure_superadmin of a member of a suspended organization: not created');
SELECT results_eq(
	$$SELECT o.name, o.slug ~ '^administration-[0-9a-f]{6}$' FROM homebot.memberships m
	    JOIN homebot.organizations o ON o.id = m.organization_id
	   WHERE m.user_id = '00000000-0000-4000-8000-0000000013e5' ORDER BY o.name$$,
	$$VALUES ('Administration'::text, true), ('Org 13Z', false)$$,
	'ensure_superadmin: a member of a suspended organization only gets Administration too, its slug suffixed once taken');
SELECT throws_ok($$SELECT * FROM homebot.ensure_superadmin('pgtap-13-nohash@example.test', NULL)$$,
	'22004', 'ensure_superadmin: a password hash is required', 'ensure_superadmin without a password hash raises');
SELECT is_empty($$SELECT * FROM homebot.users WHERE email = 'pgtap-13-nohash@example.test'$$,
	'ensure_superadmin without a password hash creates nobody');

-- The new superadmin logs in like anyone.
GRANT SELECT ON root1 TO homebot_app;
SET LOCAL ROLE homebot_app;
SELECT results_eq(
	$$SELECT l.status, l.org_name, l.role FROM homebot.login_start((SELECT user_id FROM root1), NULL, NULL, NULL, NULL,
	                                                               sha256('pgtap-13-login'), 3600, NULL) AS l$$,
	$$VALUES ('ok'::text, 'Administration'::text, 'owner'::text)$$,
	'the superadmin logs in to Administration');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
