-- The tenant functions of 0003_orgs, called as homebot_app (the role they
-- are granted to): slug_for, create_organization, user_organizations,
-- invite_member, accept_invite, change_member_role, remove_member. (The
-- rules of email ownership behind invitations: 22_email_ownership.sql.) Results
-- are kept in temporary tables; what the functions wrote is checked as the
-- superuser.
--
--   A = ...120a: O1 (...12e1) owner, M1 (...12e2) member, V1 (...12e3) viewer,
--                I1 (...12e4) invited (invitation token 'pgtap-12-invite-i1')
--   B = ...120b: O2 (...12f1) owner, Y (...12f2) member, M1 and V1 members
--   S = ...120c: suspended
--   L (...12e9): a user with a password and no membership
--   P (...12e8): a user without password or membership (a removed invitee)
--   Q (...12c7): invited to A, unverified, no password
BEGIN;
SELECT plan(82);

INSERT INTO homebot.organizations (id, name, slug, suspended_at) VALUES
	('00000000-0000-4000-8000-00000000120a', 'Org 12A', 'pgtap-12-a', NULL),
	('00000000-0000-4000-8000-00000000120b', 'Org 12B', 'pgtap-12-b', NULL),
	('00000000-0000-4000-8000-00000000120c', 'Org 12S', 'pgtap-12-s', now());
INSERT INTO homebot.users (id, email, password_hash, full_name, disabled_at) VALUES
	('00000000-0000-4000-8000-0000000012e1', 'pgtap-12-o1@example.test', '$2b$12$pgtap12o1', 'O One', NULL),
	('00000000-0000-4000-8000-0000000012e2', 'pgtap-12-m1@example.test', '$2b$12$pgtap12m1', 'M One', NULL),
	('00000000-0000-4000-8000-0000000012e3', 'pgtap-12-v1@example.test', '$2b$12$pgtap12v1', 'V One', NULL),
	('00000000-0000-4000-8000-0000000012e4', 'pgtap-12-i1@example.test', NULL, 'I One', NULL),
	('00000000-0000-4000-8000-0000000012f1', 'pgtap-12-o2@example.test', '$2b$12$pgtap12o2', 'O Two', NULL),
	('00000000-0000-4000-8000-0000000012f2', 'pgtap-12-y@example.test', '$2b$12$pgtap12y', 'Y', NULL),
	('00000000-0000-4000-8000-0000000012e9', 'PgTap-12-Loner@Example.test', '$2b$12$pgtap12l', 'Loner', NULL),
	('00000000-0000-4000-8000-0000000012e8', 'pgtap-12-orphan@example.test', NULL, '', NULL),
	-- Invitees for accept_invite's refusals.
	('00000000-0000-4000-8000-0000000012c1', 'pgtap-12-expired@example.test', NULL, '', NULL),
	('00000000-0000-4000-8000-0000000012c2', 'pgtap-12-suspended@example.test', NULL, '', NULL),
	('00000000-0000-4000-8000-0000000012c3', 'pgtap-12-disabled@example.test', NULL, '', now()),
	('00000000-0000-4000-8000-0000000012c4', 'pgtap-12-active@example.test', NULL, '', NULL),
	('00000000-0000-4000-8000-0000000012c5', 'pgtap-12-used@example.test', NULL, '', NULL),
	('00000000-0000-4000-8000-0000000012c6', 'pgtap-12-gone@example.test', NULL, '', NULL),
	('00000000-0000-4000-8000-0000000012c7', 'pgtap-12-nopass@example.test', NULL, '', NULL);
INSERT INTO homebot.memberships (organization_id, user_id, role, status, created_at) VALUES
	('00000000-0000-4000-8000-00000000120a', '00000000-0000-4000-8000-0000000012e1', 'owner', 'active', now() - interval '9 days'),
	('00000000-0000-4000-8000-00000000120a', '00000000-0000-4000-8000-0000000012e2', 'member', 'active', now() - interval '8 days'),
	('00000000-0000-4000-8000-00000000120a', '00000000-0000-4000-8000-0000000012e3', 'viewer', 'active', now() - interval '7 days'),
	('00000000-0000-4000-8000-00000000120a', '00000000-0000-4000-8000-0000000012e4', 'member', 'invited', now()),
	('00000000-0000-4000-8000-00000000120b', '00000000-0000-4000-8000-0000000012f1', 'owner', 'active', now()),
	('00000000-0000-4000-8000-00000000120b', '00000000-0000-4000-8000-0000000012f2', 'member', 'active', now()),
	('00000000-0000-4000-8000-00000000120b', '00000000-0000-4000-8000-0000000012e2', 'member', 'active', now()),
	('00000000-0000-4000-8000-00000000120b', '00000000-0000-4000-8000-0000000012e3', 'member', 'active', now()),
	('00000000-0000-4000-8000-00000000120a', '00000000-0000-4000-8000-0000000012c1', 'member', 'invited', now()),
	('00000000-0000-4000-8000-00000000120c', '00000000-0000-4000-8000-0000000012c2', 'member', 'invited', now()),
	('00000000-0000-4000-8000-00000000120a', '00000000-0000-4000-8000-0000000012c3', 'member', 'invited', now()),
	('00000000-0000-4000-8000-00000000120a', '00000000-0000-4000-8000-0000000012c4', 'member', 'active', now()),
	('00000000-0000-4000-8000-00000000120a', '00000000-0000-4000-8000-0000000012c5', 'member', 'invited', now()),
	('00000000-0000-4000-8000-00000000120a', '00000000-0000-4000-8000-0000000012c6', 'member', 'invited', now()),
	('00000000-0000-4000-8000-00000000120a', '00000000-0000-4000-8000-0000000012c7', 'member', 'invited', now());
INSERT INTO homebot.invitations (organization_id, user_id, token_hash, expires_at, used_at)
SELECT m.organization_id, m.user_id, sha256(convert_to('pgtap-12-invite-' || split_part(u.email, '@', 1), 'UTF8')),
       CASE WHEN u.email LIKE 'pgtap-12-expired@%' THEN now() - interval '1 second' ELSE now() + interval '7 days' END,
       CASE WHEN u.email LIKE 'pgtap-12-used@%' THEN now() - interval '1 hour' END
  FROM homebot.memberships m JOIN homebot.users u ON u.id = m.user_id
 WHERE u.id::text LIKE '%-0000000012c_' OR u.id = '00000000-0000-4000-8000-0000000012e4';
-- The invitation of ...12c6 goes with its membership.
DELETE FROM homebot.memberships
 WHERE organization_id = '00000000-0000-4000-8000-00000000120a' AND user_id = '00000000-0000-4000-8000-0000000012c6';

-- slug_for: register's derivation.
SELECT is(homebot.slug_for('Acme, Inc.'), 'acme-inc', 'slug_for: lower case, runs of other characters become one ''-''');
SELECT is(homebot.slug_for('  *** !! '), 'org', 'slug_for: nothing left gives ''org''');
SELECT is(homebot.slug_for(NULL), 'org', 'slug_for: no name gives ''org''');
SELECT is(homebot.slug_for('Pgtap ' || repeat('x', 60)), 'pgtap-' || repeat('x', 44), 'slug_for: at most 50 characters');
SELECT is(homebot.slug_for(repeat('a', 49) || ' b'), repeat('a', 49), 'slug_for: no ''-'' at the end once cut');
SELECT is(homebot.slug_for('--Ünïcode__Name!!--'), 'n-code-name', 'slug_for: non-ASCII letters are other characters too');

-- create_organization, as O1 from a request in A.
SET LOCAL ROLE homebot_app;
SELECT set_config('app.org_id', '00000000-0000-4000-8000-00000000120a', true);
SELECT set_config('app.user_id', '00000000-0000-4000-8000-0000000012e1', true);
SELECT set_config('app.request_id', 'pgtap-12-create-1', true);
CREATE TEMP TABLE created1 AS
SELECT * FROM homebot.create_organization('00000000-0000-4000-8000-0000000012e1', 'Pgtap Twelve!', NULL);
SELECT results_eq(
	$$SELECT status, name, slug, settings, created_at FROM created1$$,
	$$VALUES ('ok'::text, 'Pgtap Twelve!'::text, 'pgtap-twelve'::text, '{}'::text, now())$$,
	'create_organization without a slug: ok, the slug derived from the name, empty settings as JSON text');
SELECT isnt((SELECT id FROM created1), NULL, 'create_organization returns the new id');
SELECT set_config('app.request_id', 'pgtap-12-create-2', true);
CREATE TEMP TABLE created2 AS
SELECT * FROM homebot.create_organization('00000000-0000-4000-8000-0000000012e1', 'PGTAP twelve', NULL);
SELECT set_config('app.request_id', 'pgtap-12-create-3', true);
CREATE TEMP TABLE created3 AS
SELECT * FROM homebot.create_organization('00000000-0000-4000-8000-0000000012e1', 'Explicit', 'pgtap-12-explicit');
CREATE TEMP TABLE created4 AS
SELECT * FROM homebot.create_organization('00000000-0000-4000-8000-0000000012e1', 'Longest', 'pgtap-12-' || repeat('b', 54));
SELECT results_eq($$SELECT status FROM created2 WHERE slug ~ '^pgtap-twelve-[0-9a-f]{6}$'$$, $$VALUES ('ok'::text)$$,
	'create_organization: a derived slug that is taken gets a random suffix');
SELECT results_eq($$SELECT status, slug FROM created3$$, $$VALUES ('ok'::text, 'pgtap-12-explicit'::text)$$,
	'create_organization with a free slug: exactly that slug');
SELECT results_eq($$SELECT status, length(slug) FROM created4$$, $$VALUES ('ok'::text, 63)$$,
	'create_organization: a slug of 63 characters is valid');

RESET ROLE;
SELECT results_eq(
	$$SELECT o.name, o.slug, o.settings, o.suspended_at FROM homebot.organizations o WHERE o.id = (SELECT id FROM created1)$$,
	$$VALUES ('Pgtap Twelve!'::text, 'pgtap-twelve'::text, '{}'::jsonb, NULL::timestamptz)$$,
	'create_organization: the organization is stored');
SELECT results_eq(
	$$SELECT m.user_id, m.role, m.status FROM homebot.memberships m WHERE m.organization_id = (SELECT id FROM created1)$$,
	$$VALUES ('00000000-0000-4000-8000-0000000012e1'::uuid, 'owner'::text, 'active'::text)$$,
	'create_organization: the caller is its only member, an active owner');
SELECT results_eq(
	$$SELECT a.organization_id, a.actor_type, a.actor_id, a.target_type, a.target_id, a.changes
	    FROM homebot.audit_log a WHERE a.action = 'organization.created' AND a.request_id = 'pgtap-12-create-1'$$,
	$$SELECT id, 'user'::text, '00000000-0000-4000-8000-0000000012e1'::uuid, 'organization'::text, id::text,
	         '{"name": "Pgtap Twelve!", "slug": "pgtap-twelve"}'::jsonb FROM created1$$,
	'create_organization: organization.created in the new organization, by the user, with the request id of the setting');

CREATE TEMP TABLE counts_create AS
SELECT (SELECT count(*) FROM homebot.organizations) AS orgs, (SELECT count(*) FROM homebot.memberships) AS members,
       (SELECT count(*) FROM homebot.audit_log) AS events;
SET LOCAL ROLE homebot_app;
CREATE TEMP TABLE refused_create (label text, status text, rest_null boolean);
INSERT INTO refused_create
SELECT s, r.status, num_nulls(r.id, r.name, r.slug, r.settings, r.created_at) = 5
  FROM unnest(ARRAY['-pgtap', 'pgtap-', 'Pgtap', 'pg_tap', 'pg tap', '', repeat('c', 64), 'pgtap-12-é']) AS s,
       homebot.create_organization('00000000-0000-4000-8000-0000000012e1', 'Refused', s) AS r;
INSERT INTO refused_create
SELECT 'taken', r.status, num_nulls(r.id, r.name, r.slug, r.settings, r.created_at) = 5
  FROM homebot.create_organization('00000000-0000-4000-8000-0000000012e1', 'Refused', 'pgtap-twelve') AS r;
INSERT INTO refused_create
SELECT 'taken by B', r.status, num_nulls(r.id, r.name, r.slug, r.settings, r.created_at) = 5
  FROM homebot.create_organization('00000000-0000-4000-8000-0000000012e1', 'Refused', 'pgtap-12-b') AS r;
RESET ROLE;
SELECT results_eq(
	$$SELECT label, status, rest_null FROM refused_create WHERE label NOT LIKE 'taken%' ORDER BY label$$,
	$$SELECT s, 'invalid_slug'::text, true
	    FROM unnest(ARRAY['-pgtap', 'pgtap-', 'Pgtap', 'pg_tap', 'pg tap', '', repeat('c', 64), 'pgtap-12-é']) AS s
	   ORDER BY s$$,
	'create_organization: a leading or trailing ''-'', upper case, ''_'', a space, empty, 64 characters, non-ASCII → invalid_slug');
SELECT results_eq(
	$$SELECT label, status, rest_null FROM refused_create WHERE label LIKE 'taken%' ORDER BY label$$,
	$$VALUES ('taken'::text, 'slug_taken'::text, true), ('taken by B', 'slug_taken', true)$$,
	'create_organization: a taken slug (also one of an organization the caller cannot see) → slug_taken');
SELECT is(
	(SELECT row(count(*), (SELECT count(*) FROM homebot.memberships), (SELECT count(*) FROM homebot.audit_log))::text
	   FROM homebot.organizations),
	(SELECT row(orgs, members, events)::text FROM counts_create),
	'create_organization: refusals write nothing (no organization, membership or event)');

-- user_organizations: U1 (...12d1) in seven organizations of known ages.
INSERT INTO homebot.users (id, email) VALUES ('00000000-0000-4000-8000-0000000012d1', 'pgtap-12-lister@example.test');
INSERT INTO homebot.organizations (id, name, slug, created_at, suspended_at) VALUES
	('00000000-0000-4000-8000-00000000121a', 'L1', 'pgtap-12-l1', now() - interval '5 days', NULL),
	('00000000-0000-4000-8000-00000000121b', 'L2', 'pgtap-12-l2', now() - interval '4 days', NULL),
	('00000000-0000-4000-8000-00000000121c', 'L3', 'pgtap-12-l3', now() - interval '3 days', now()),
	('00000000-0000-4000-8000-00000000121d', 'L4', 'pgtap-12-l4', now() - interval '2 days', NULL),
	('00000000-0000-4000-8000-00000000121e', 'L5', 'pgtap-12-l5', now() - interval '1 day', NULL),
	('00000000-0000-4000-8000-00000000121f', 'L6', 'pgtap-12-l6', now() - interval '1 day', NULL),
	('00000000-0000-4000-8000-000000001210', 'L7', 'pgtap-12-l7', now(), NULL);
INSERT INTO homebot.memberships (organization_id, user_id, role, status) VALUES
	('00000000-0000-4000-8000-00000000121a', '00000000-0000-4000-8000-0000000012d1', 'member', 'active'),
	('00000000-0000-4000-8000-00000000121b', '00000000-0000-4000-8000-0000000012d1', 'owner', 'active'),
	('00000000-0000-4000-8000-00000000121c', '00000000-0000-4000-8000-0000000012d1', 'admin', 'active'),
	('00000000-0000-4000-8000-00000000121d', '00000000-0000-4000-8000-0000000012d1', 'member', 'invited'),
	('00000000-0000-4000-8000-00000000121e', '00000000-0000-4000-8000-0000000012d1', 'viewer', 'active'),
	('00000000-0000-4000-8000-00000000121f', '00000000-0000-4000-8000-0000000012d1', 'member', 'active'),
	('00000000-0000-4000-8000-000000001210', '00000000-0000-4000-8000-0000000012f2', 'owner', 'active');

SET LOCAL ROLE homebot_app;
SELECT set_config('app.org_id', '', true);
SELECT results_eq(
	$$SELECT id, name, slug, role, created_at FROM homebot.user_organizations('00000000-0000-4000-8000-0000000012d1', NULL, NULL, 50)$$,
	$$VALUES ('00000000-0000-4000-8000-00000000121f'::uuid, 'L6'::text, 'pgtap-12-l6'::text, 'member'::text, now() - interval '1 day'),
	         ('00000000-0000-4000-8000-00000000121e', 'L5', 'pgtap-12-l5', 'viewer', now() - interval '1 day'),
	         ('00000000-0000-4000-8000-00000000121c', 'L3', 'pgtap-12-l3', 'admin', now() - interval '3 days'),
	         ('00000000-0000-4000-8000-00000000121b', 'L2', 'pgtap-12-l2', 'owner', now() - interval '4 days'),
	         ('00000000-0000-4000-8000-00000000121a', 'L1', 'pgtap-12-l1', 'member', now() - interval '5 days')$$,
	'user_organizations: the active memberships (a suspended organization too, not an invitation), newest first, ties by id descending, with the role');
SELECT results_eq(
	$$SELECT id FROM homebot.user_organizations('00000000-0000-4000-8000-0000000012d1', NULL, NULL, 2)$$,
	$$VALUES ('00000000-0000-4000-8000-00000000121f'::uuid), ('00000000-0000-4000-8000-00000000121e'::uuid)$$,
	'user_organizations: at most p_limit rows');
SELECT results_eq(
	$$SELECT id FROM homebot.user_organizations('00000000-0000-4000-8000-0000000012d1', now() - interval '1 day',
	                                            '00000000-0000-4000-8000-00000000121f', 2)$$,
	$$VALUES ('00000000-0000-4000-8000-00000000121e'::uuid), ('00000000-0000-4000-8000-00000000121c'::uuid)$$,
	'user_organizations: after a keyset, within a tie on created_at, by id');
SELECT results_eq(
	$$SELECT id FROM homebot.user_organizations('00000000-0000-4000-8000-0000000012d1', now() - interval '3 days',
	                                            '00000000-0000-4000-8000-00000000121c', 50)$$,
	$$VALUES ('00000000-0000-4000-8000-00000000121b'::uuid), ('00000000-0000-4000-8000-00000000121a'::uuid)$$,
	'user_organizations: the page after the third row');
SELECT is_empty(
	$$SELECT * FROM homebot.user_organizations('00000000-0000-4000-8000-0000000012d1', now() - interval '5 days',
	                                            '00000000-0000-4000-8000-00000000121a', 50)$$,
	'user_organizations: nothing after the last row');
SELECT results_eq(
	$$SELECT id, role FROM homebot.user_organizations('00000000-0000-4000-8000-0000000012f2', NULL, NULL, 50)$$,
	$$VALUES ('00000000-0000-4000-8000-000000001210'::uuid, 'owner'::text),
	         ('00000000-0000-4000-8000-00000000120b'::uuid, 'member'::text)$$,
	'user_organizations: another user gets his own organizations only');

-- invite_member, as O1 from a request in A. Every call invites: an
-- existing account too (api.md §3), at most 3 mails an hour per address.
SELECT throws_ok(
	$$SELECT * FROM homebot.invite_member('pgtap-12-x@example.test', 'member', sha256('pgtap-12-x'), 604800, 3)$$,
	'42501', 'invite_member: no tenant context (app.org_id is not set)',
	'invite_member without app.org_id raises');
SELECT set_config('app.org_id', '00000000-0000-4000-8000-00000000120a', true);
SELECT set_config('app.user_id', '00000000-0000-4000-8000-0000000012e1', true);
SELECT throws_ok(
	$$SELECT * FROM homebot.invite_member('pgtap-12-x@example.test', 'superuser', sha256('pgtap-12-x'), 604800, 3)$$,
	'22023', 'invite_member: no such role: superuser', 'invite_member with an unknown role raises');

SELECT set_config('app.request_id', 'pgtap-12-invite-loner', true);
CREATE TEMP TABLE invite_loner AS
SELECT * FROM homebot.invite_member('  PGTAP-12-loner@example.TEST ', 'member', sha256('pgtap-12-invite-loner'), 604800, 3);
SELECT results_eq(
	'SELECT * FROM invite_loner',
	$$VALUES ('invited'::text, '00000000-0000-4000-8000-0000000012e9'::uuid, 'PGTAP-12-loner@example.TEST'::text,
	          ''::text, 'member'::text, 'invited'::text, now(), true, 'Org 12A'::text, 'O One'::text)$$,
	'invite_member: an existing user (email padded, in another case) is invited, not added; neither the name nor the stored address is told; mail allowed, with the organization and the inviter');
SELECT set_config('app.request_id', 'pgtap-12-invite-o2', true);
SELECT results_eq(
	$$SELECT status, user_id, role, member_status
	    FROM homebot.invite_member('pgtap-12-o2@example.test', 'admin', sha256('pgtap-12-invite-o2'), 604800, 3)$$,
	$$VALUES ('invited'::text, '00000000-0000-4000-8000-0000000012f1'::uuid, 'admin'::text, 'invited'::text)$$,
	'invite_member: a user of another organization (invisible to the caller) is found and invited');

SELECT set_config('app.api_key_id', '00000000-0000-4000-8000-0000000012d9', true);
SELECT set_config('app.request_id', 'pgtap-12-invite-new', true);
CREATE TEMP TABLE invite_new AS
SELECT * FROM homebot.invite_member(E' pgtap-12-New@Example.test\t', 'viewer', sha256('pgtap-12-invite-new'), 3600, 3);
SELECT set_config('app.api_key_id', '', true);
SELECT results_eq(
	'SELECT status, email, full_name, role, member_status, joined_at, _mail FROM invite_new',
	$$VALUES ('invited'::text, 'pgtap-12-New@Example.test'::text, ''::text, 'viewer'::text, 'invited'::text, now(), true)$$,
	'invite_member: an unknown email → invited, the user created with the email trimmed, case kept');
SELECT set_config('app.request_id', 'pgtap-12-invite-orphan', true);
SELECT results_eq(
	$$SELECT status, user_id, member_status
	    FROM homebot.invite_member('pgtap-12-orphan@example.test', 'member', sha256('pgtap-12-invite-orphan'), 3600, 3)$$,
	$$VALUES ('invited'::text, '00000000-0000-4000-8000-0000000012e8'::uuid, 'invited'::text)$$,
	'invite_member: a user without password or membership (left over from a removed invitation) is invited again');
SELECT set_config('app.request_id', 'pgtap-12-invite-owner', true);
SELECT results_eq(
	$$SELECT status, role, member_status
	    FROM homebot.invite_member('pgtap-12-owner2@example.test', 'owner', sha256('pgtap-12-invite-owner2'), 3600, 3)$$,
	$$VALUES ('invited'::text, 'owner'::text, 'invited'::text)$$,
	'invite_member: the owner role can be given (members:owners is the caller''s check)');

RESET ROLE;
SELECT results_eq(
	$$SELECT m.user_id, m.role, m.status FROM homebot.memberships m
	   WHERE m.organization_id = '00000000-0000-4000-8000-00000000120a'
	     AND m.user_id IN ('00000000-0000-4000-8000-0000000012e9', '00000000-0000-4000-8000-0000000012f1')
	   ORDER BY m.user_id$$,
	$$VALUES ('00000000-0000-4000-8000-0000000012e9'::uuid, 'member'::text, 'invited'::text),
	         ('00000000-0000-4000-8000-0000000012f1'::uuid, 'admin'::text, 'invited'::text)$$,
	'invite_member, existing users: the memberships are stored invited, never active');
SELECT results_eq(
	$$SELECT i.user_id, i.organization_id, i.created_by, i.expires_at, i.used_at FROM homebot.invitations i
	   WHERE i.token_hash IN (sha256('pgtap-12-invite-loner'), sha256('pgtap-12-invite-o2')) ORDER BY i.user_id$$,
	$$VALUES ('00000000-0000-4000-8000-0000000012e9'::uuid, '00000000-0000-4000-8000-00000000120a'::uuid,
	          '00000000-0000-4000-8000-0000000012e1'::uuid, now() + interval '604800 seconds', NULL::timestamptz),
	         ('00000000-0000-4000-8000-0000000012f1', '00000000-0000-4000-8000-00000000120a',
	          '00000000-0000-4000-8000-0000000012e1', now() + interval '604800 seconds', NULL)$$,
	'invite_member, existing users: each gets an invitation with the given token');
SELECT results_eq(
	$$SELECT u.password_hash, u.full_name, u.email_verified_at FROM homebot.users u
	   WHERE u.id = '00000000-0000-4000-8000-0000000012e9'$$,
	$$VALUES ('$2b$12$pgtap12l'::text, 'Loner'::text, NULL::timestamptz)$$,
	'invite_member, an existing user: the account is untouched (password, name; being invited verifies nothing)');
SELECT results_eq(
	$$SELECT u.email, u.password_hash, u.full_name, u.is_superadmin, u.disabled_at, u.email_verified_at FROM homebot.users u
	   WHERE u.id = (SELECT user_id FROM invite_new)$$,
	$$VALUES ('pgtap-12-New@Example.test'::text, NULL::text, ''::text, false, NULL::timestamptz, NULL::timestamptz)$$,
	'invite_member invited: the new user has no password and is not verified');
SELECT results_eq(
	$$SELECT i.organization_id, i.user_id, i.created_by, i.created_at, i.expires_at, i.used_at FROM homebot.invitations i
	   WHERE i.token_hash = sha256('pgtap-12-invite-new')$$,
	$$SELECT '00000000-0000-4000-8000-00000000120a'::uuid, user_id, '00000000-0000-4000-8000-0000000012e1'::uuid,
	         now(), now() + interval '3600 seconds', NULL::timestamptz FROM invite_new$$,
	'invite_member invited: the invitation, in A, by the requesting user, expiring after the TTL');
SELECT results_eq(
	$$SELECT a.request_id, a.organization_id, a.actor_type, a.actor_id, a.target_type, a.target_id, a.changes
	    FROM homebot.audit_log a WHERE a.action = 'member.invited' AND a.request_id LIKE 'pgtap-12-invite-%'
	   ORDER BY a.occurred_at$$,
	$$VALUES
	('pgtap-12-invite-loner'::text, '00000000-0000-4000-8000-00000000120a'::uuid, 'user'::text,
	 '00000000-0000-4000-8000-0000000012e1'::uuid, 'user'::text, '00000000-0000-4000-8000-0000000012e9'::text,
	 '{"email": "PGTAP-12-loner@example.TEST", "role": "member"}'::jsonb),
	('pgtap-12-invite-o2', '00000000-0000-4000-8000-00000000120a', 'user', '00000000-0000-4000-8000-0000000012e1',
	 'user', '00000000-0000-4000-8000-0000000012f1',
	 '{"email": "pgtap-12-o2@example.test", "role": "admin"}'),
	('pgtap-12-invite-new', '00000000-0000-4000-8000-00000000120a', 'api_key', '00000000-0000-4000-8000-0000000012d9',
	 'user', (SELECT user_id::text FROM invite_new),
	 '{"email": "pgtap-12-New@Example.test", "role": "viewer"}'),
	('pgtap-12-invite-orphan', '00000000-0000-4000-8000-00000000120a', 'user', '00000000-0000-4000-8000-0000000012e1',
	 'user', '00000000-0000-4000-8000-0000000012e8',
	 '{"email": "pgtap-12-orphan@example.test", "role": "member"}'),
	('pgtap-12-invite-owner', '00000000-0000-4000-8000-00000000120a', 'user', '00000000-0000-4000-8000-0000000012e1',
	 'user', (SELECT id::text FROM homebot.users WHERE email = 'pgtap-12-owner2@example.test'),
	 '{"email": "pgtap-12-owner2@example.test", "role": "owner"}')$$,
	'invite_member: member.invited for each, in A, by the user or the API key of the request, the user as target');
SELECT is_empty(
	$$SELECT a.action FROM homebot.audit_log a WHERE a.action = 'member.added' AND a.request_id LIKE 'pgtap-12-invite-%'$$,
	'invite_member: nobody is audited as added');

CREATE TEMP TABLE counts_invite AS
SELECT (SELECT count(*) FROM homebot.users) AS users, (SELECT count(*) FROM homebot.memberships) AS members,
       (SELECT count(*) FROM homebot.invitations) AS invitations, (SELECT count(*) FROM homebot.audit_log) AS events;
SET LOCAL ROLE homebot_app;
SELECT results_eq(
	$$SELECT * FROM homebot.invite_member('pgtap-12-m1@example.test', 'admin', sha256('pgtap-12-unused-3'), 3600, 3)$$,
	$$VALUES ('already_member'::text, NULL::uuid, NULL::text, NULL::text, NULL::text, NULL::text, NULL::timestamptz,
	          false, NULL::text, NULL::text)$$,
	'invite_member: an active member → already_member, every other column NULL, no mail');
SELECT is(
	(SELECT status FROM homebot.invite_member('PGTAP-12-I1@example.test', 'admin', sha256('pgtap-12-unused-4'), 3600, 3)),
	'already_member', 'invite_member: an invited member → already_member');
SELECT is(
	(SELECT status FROM homebot.invite_member('pgtap-12-new@example.test', 'admin', sha256('pgtap-12-unused-5'), 3600, 3)),
	'already_member', 'invite_member: the user just invited → already_member');
RESET ROLE;
SELECT is(
	(SELECT row(count(*), (SELECT count(*) FROM homebot.memberships), (SELECT count(*) FROM homebot.invitations),
	            (SELECT count(*) FROM homebot.audit_log))::text FROM homebot.users),
	(SELECT row(users, members, invitations, events)::text FROM counts_invite),
	'invite_member: already_member writes nothing');

-- accept_invite, as the request path does it: no tenant context.
SET LOCAL ROLE homebot_app;
SELECT set_config('app.org_id', '', true);
SELECT set_config('app.user_id', '', true);
SELECT set_config('app.request_id', 'pgtap-12-accept', true);
CREATE TEMP TABLE accepted AS
SELECT * FROM homebot.accept_invite(sha256('pgtap-12-invite-new'), NULL, NULL, '$2b$12$pgtap12newpassword', NULL,
                                    'New Person', '192.0.2.12', repeat('a', 600), 'pgtap-12-accept',
                                    sha256('pgtap-12-refresh-new'), 3600);
SELECT results_eq(
	$$SELECT status, user_id, organization_id, org_name, org_slug, role, email, full_name, email_verified FROM accepted$$,
	$$SELECT 'ok'::text, user_id, '00000000-0000-4000-8000-00000000120a'::uuid, 'Org 12A'::text, 'pgtap-12-a'::text,
	         'viewer'::text, 'pgtap-12-New@Example.test'::text, 'New Person'::text, true FROM invite_new$$,
	'accept_invite: ok, with the user, the organization and the role of the invitation, the email now verified');
SELECT isnt((SELECT session_id FROM accepted), NULL, 'accept_invite returns the new session id');
SELECT results_eq(
	$$SELECT status, num_nulls(user_id, session_id, organization_id, org_name, org_slug, role, email, full_name,
	                           email_verified)
	    FROM homebot.accept_invite(sha256('pgtap-12-invite-new'), NULL, NULL, '$2b$12$pgtap12second', NULL, 'Intruder',
	                               NULL, NULL, 'pgtap-12-accept-again', sha256('pgtap-12-refresh-again'), 3600)$$,
	$$VALUES ('invalid'::text, 9)$$,
	'accept_invite: a used invitation → invalid, every other column NULL (single use)');
RESET ROLE;
SELECT results_eq(
	$$SELECT u.password_hash, u.full_name, u.email_verified_at FROM homebot.users u WHERE u.id = (SELECT user_id FROM accepted)$$,
	$$VALUES ('$2b$12$pgtap12newpassword'::text, 'New Person'::text, now())$$,
	'accept_invite: the password hash and the full name are set, the email verified (and the second use changed nothing)');
SELECT results_eq(
	$$SELECT m.status, m.role FROM homebot.memberships m
	   WHERE m.organization_id = '00000000-0000-4000-8000-00000000120a' AND m.user_id = (SELECT user_id FROM accepted)$$,
	$$VALUES ('active'::text, 'viewer'::text)$$,
	'accept_invite: the membership is active');
SELECT is((SELECT used_at FROM homebot.invitations WHERE token_hash = sha256('pgtap-12-invite-new')), now(),
	'accept_invite: the invitation is used');
SELECT results_eq(
	$$SELECT s.id, s.organization_id, s.ip, s.user_agent, s.revoked_at FROM homebot.sessions s
	   WHERE s.user_id = (SELECT user_id FROM accepted)$$,
	$$SELECT session_id, '00000000-0000-4000-8000-00000000120a'::uuid, '192.0.2.12'::text, repeat('a', 512),
	         NULL::timestamptz FROM accepted$$,
	'accept_invite: one session, in A, with the IP and the user agent cut to 512 characters');
SELECT results_eq(
	$$SELECT t.organization_id, t.token_hash, t.expires_at, t.used_at FROM homebot.refresh_tokens t
	   WHERE t.session_id = (SELECT session_id FROM accepted)$$,
	$$VALUES ('00000000-0000-4000-8000-00000000120a'::uuid, sha256('pgtap-12-refresh-new'),
	          now() + interval '3600 seconds', NULL::timestamptz)$$,
	'accept_invite: one refresh token for that session');
SELECT results_eq(
	$$SELECT a.organization_id, a.actor_type, a.actor_id, a.target_type, a.target_id, a.ip, a.user_agent,
	         a.changes ->> 'role', a.changes ->> 'email'
	    FROM homebot.audit_log a WHERE a.action = 'member.invite_accepted' AND a.request_id = 'pgtap-12-accept'$$,
	$$SELECT '00000000-0000-4000-8000-00000000120a'::uuid, 'user'::text, user_id, 'user'::text, user_id::text,
	         '192.0.2.12'::text, repeat('a', 512), 'viewer'::text, 'pgtap-12-New@Example.test'::text FROM accepted$$,
	'accept_invite: member.invite_accepted in A, the user as actor and target');
SELECT results_eq(
	$$SELECT a.organization_id, a.actor_id, a.target_id, a.changes FROM homebot.audit_log a
	   WHERE a.action = 'auth.email.verified' AND a.request_id = 'pgtap-12-accept'$$,
	$$SELECT NULL::uuid, user_id, user_id::text,
	         '{"email": "pgtap-12-New@Example.test", "by": "invitation"}'::jsonb FROM accepted$$,
	'accept_invite: an unverified account''s email is verified by the invitation, audited on the platform');
SELECT is_empty($$SELECT * FROM homebot.audit_log WHERE request_id = 'pgtap-12-accept-again' AND action NOT LIKE 'row.%'$$,
	'accept_invite: the refused second use is not audited as a join');

-- Without a full name the stored one stays; an empty one too.
SET LOCAL ROLE homebot_app;
SELECT results_eq(
	$$SELECT status, full_name FROM homebot.accept_invite(sha256('pgtap-12-invite-pgtap-12-i1'), NULL, NULL,
	                                                       '$2b$12$pgtap12i1', NULL, NULL, NULL, NULL, NULL,
	                                                       sha256('pgtap-12-refresh-i1'), 3600)$$,
	$$VALUES ('ok'::text, 'I One'::text)$$,
	'accept_invite without a full name keeps the stored one');
SELECT results_eq(
	$$SELECT status, full_name FROM homebot.accept_invite(sha256('pgtap-12-invite-orphan'), NULL, NULL,
	                                                       '$2b$12$pgtap12orphan', NULL, '', NULL, NULL, NULL,
	                                                       sha256('pgtap-12-refresh-orphan'), 3600)$$,
	$$VALUES ('ok'::text, ''::text)$$,
	'accept_invite with an empty full name keeps the stored one');

-- Refusals.
RESET ROLE;
CREATE TEMP TABLE counts_accept AS
SELECT (SELECT count(*) FROM homebot.sessions) AS sessions, (SELECT count(*) FROM homebot.refresh_tokens) AS tokens,
       (SELECT count(*) FROM homebot.audit_log) AS events,
       (SELECT string_agg(coalesce(password_hash, '-') || m.status, ',' ORDER BY u.id)
          FROM homebot.users u JOIN homebot.memberships m ON m.user_id = u.id
         WHERE u.id::text LIKE '%-0000000012c_') AS state;
SET LOCAL ROLE homebot_app;
CREATE TEMP TABLE refused_accept (label text, status text, rest_null boolean);
INSERT INTO refused_accept
SELECT l.label, r.status, num_nulls(r.user_id, r.session_id, r.organization_id, r.org_name, r.org_slug, r.role, r.email,
                                    r.full_name, r.email_verified) = 9
  FROM (VALUES ('unknown', 'pgtap-12-invite-nobody'), ('expired', 'pgtap-12-invite-pgtap-12-expired'),
               ('suspended', 'pgtap-12-invite-pgtap-12-suspended'), ('disabled', 'pgtap-12-invite-pgtap-12-disabled'),
               ('active', 'pgtap-12-invite-pgtap-12-active'), ('used', 'pgtap-12-invite-pgtap-12-used'),
               ('membership gone', 'pgtap-12-invite-pgtap-12-gone')) AS l (label, token),
       homebot.accept_invite(sha256(convert_to(l.token, 'UTF8')), NULL, NULL, '$2b$12$pgtap12refused', NULL, 'Refused',
                             NULL, NULL, 'pgtap-12-refused', sha256(convert_to('pgtap-12-refresh-' || l.label, 'UTF8')),
                             3600) AS r;
INSERT INTO refused_accept
SELECT 'no password', r.status, num_nulls(r.user_id, r.session_id, r.organization_id, r.org_name, r.org_slug, r.role,
                                          r.email, r.full_name, r.email_verified) = 9
  FROM homebot.accept_invite(sha256('pgtap-12-invite-pgtap-12-nopass'), NULL, NULL, NULL, NULL, 'Refused',
                             NULL, NULL, 'pgtap-12-refused', sha256('pgtap-12-refresh-nopass'), 3600) AS r;
SELECT results_eq(
	'SELECT label, status, rest_null FROM refused_accept ORDER BY label',
	$$VALUES ('active'::text, 'invalid'::text, true), ('disabled', 'invalid', true), ('expired', 'invalid', true),
	         ('membership gone', 'invalid', true), ('no password', 'password_required', true),
	         ('suspended', 'invalid', true), ('unknown', 'invalid', true), ('used', 'invalid', true)$$,
	'accept_invite: unknown, expired, used, membership gone or not invited, user disabled, organization suspended → invalid; an unverified account without a password hash → password_required');
RESET ROLE;
SELECT is(
	(SELECT row(count(*), (SELECT count(*) FROM homebot.refresh_tokens), (SELECT count(*) FROM homebot.audit_log),
	            (SELECT string_agg(coalesce(password_hash, '-') || m.status, ',' ORDER BY u.id)
	               FROM homebot.users u JOIN homebot.memberships m ON m.user_id = u.id
	              WHERE u.id::text LIKE '%-0000000012c_'))::text FROM homebot.sessions),
	(SELECT row(sessions, tokens, events, state)::text FROM counts_accept),
	'accept_invite: refusals write nothing (no session, token, event, password or membership change)');
SELECT is((SELECT count(*)::int FROM homebot.invitations WHERE token_hash = sha256('pgtap-12-invite-pgtap-12-gone')), 0,
	'precondition: the invitation of a removed membership went with it');

-- change_member_role, as O1 from a request in A.
SET LOCAL ROLE homebot_app;
SELECT set_config('app.org_id', '', true);
SELECT throws_ok($$SELECT * FROM homebot.change_member_role('00000000-0000-4000-8000-0000000012e2', 'admin')$$,
	'42501', 'change_member_role: no tenant context (app.org_id is not set)', 'change_member_role without app.org_id raises');
SELECT set_config('app.org_id', '00000000-0000-4000-8000-00000000120a', true);
SELECT set_config('app.user_id', '00000000-0000-4000-8000-0000000012e1', true);
SELECT throws_ok($$SELECT * FROM homebot.change_member_role('00000000-0000-4000-8000-0000000012e2', 'root')$$,
	'22023', 'change_member_role: no such role: root', 'change_member_role with an unknown role raises');

SELECT set_config('app.request_id', 'pgtap-12-role-1', true);
SELECT results_eq(
	$$SELECT * FROM homebot.change_member_role('00000000-0000-4000-8000-0000000012e2', 'admin')$$,
	$$VALUES ('ok'::text, '00000000-0000-4000-8000-0000000012e2'::uuid, 'pgtap-12-m1@example.test'::text, 'M One'::text,
	          'admin'::text, 'active'::text, now() - interval '8 days')$$,
	'change_member_role: ok, the member with the new role');
SELECT set_config('app.request_id', 'pgtap-12-role-same', true);
SELECT results_eq(
	$$SELECT status, role FROM homebot.change_member_role('00000000-0000-4000-8000-0000000012e2', 'admin')$$,
	$$VALUES ('ok'::text, 'admin'::text)$$,
	'change_member_role to the current role: ok');
SELECT results_eq(
	$$SELECT * FROM homebot.change_member_role('00000000-0000-4000-8000-0000000012f2', 'admin')$$,
	$$VALUES ('not_found'::text, NULL::uuid, NULL::text, NULL::text, NULL::text, NULL::text, NULL::timestamptz)$$,
	'change_member_role: a member of B only → not_found, every other column NULL');
SELECT is((SELECT status FROM homebot.change_member_role('00000000-0000-4000-8000-0000000012ff', 'admin')),
	'not_found', 'change_member_role: an unknown user → not_found');
SELECT set_config('app.request_id', 'pgtap-12-role-last', true);
SELECT results_eq(
	$$SELECT * FROM homebot.change_member_role('00000000-0000-4000-8000-0000000012e1', 'admin')$$,
	$$VALUES ('last_owner'::text, NULL::uuid, NULL::text, NULL::text, NULL::text, NULL::text, NULL::timestamptz)$$,
	'change_member_role: demoting the only active owner → last_owner (an invited owner does not count)');
SELECT set_config('app.request_id', 'pgtap-12-role-2', true);
CREATE TEMP TABLE owner2 AS SELECT id FROM homebot.users WHERE email = 'pgtap-12-owner2@example.test';
SELECT is((SELECT status FROM homebot.change_member_role((SELECT id FROM owner2), 'member')), 'ok',
	'change_member_role: an invited owner can be demoted, however many owners are active');
SELECT set_config('app.api_key_id', '00000000-0000-4000-8000-0000000012d9', true);
SELECT set_config('app.request_id', 'pgtap-12-role-3', true);
SELECT is((SELECT status FROM homebot.change_member_role('00000000-0000-4000-8000-0000000012e2', 'owner')), 'ok',
	'change_member_role: a second owner');
SELECT set_config('app.api_key_id', '', true);
SELECT set_config('app.request_id', 'pgtap-12-role-4', true);
SELECT is((SELECT status FROM homebot.change_member_role('00000000-0000-4000-8000-0000000012e1', 'member')), 'ok',
	'change_member_role: with another active owner, an owner can be demoted');
SELECT is((SELECT status FROM homebot.change_member_role('00000000-0000-4000-8000-0000000012e2', 'viewer')), 'last_owner',
	'change_member_role: and then the remaining one cannot');
RESET ROLE;
SELECT results_eq(
	$$SELECT user_id, role FROM homebot.memberships
	   WHERE organization_id = '00000000-0000-4000-8000-00000000120a'
	     AND user_id IN ('00000000-0000-4000-8000-0000000012e1', '00000000-0000-4000-8000-0000000012e2') ORDER BY user_id$$,
	$$VALUES ('00000000-0000-4000-8000-0000000012e1'::uuid, 'member'::text),
	         ('00000000-0000-4000-8000-0000000012e2'::uuid, 'owner'::text)$$,
	'change_member_role: the roles in A are as changed');
SELECT results_eq(
	$$SELECT role FROM homebot.memberships
	   WHERE organization_id = '00000000-0000-4000-8000-00000000120b' AND user_id = '00000000-0000-4000-8000-0000000012e2'$$,
	$$VALUES ('member'::text)$$,
	'change_member_role: the same user''s role in B is untouched');
SELECT results_eq(
	$$SELECT a.request_id, a.organization_id, a.actor_type, a.actor_id, a.target_type, a.target_id, a.changes
	    FROM homebot.audit_log a WHERE a.action = 'member.role_changed' AND a.request_id LIKE 'pgtap-12-role-%'
	   ORDER BY a.occurred_at$$,
	$$VALUES
	('pgtap-12-role-1'::text, '00000000-0000-4000-8000-00000000120a'::uuid, 'user'::text,
	 '00000000-0000-4000-8000-0000000012e1'::uuid, 'user'::text, '00000000-0000-4000-8000-0000000012e2'::text,
	 '{"from": "member", "to": "admin"}'::jsonb),
	('pgtap-12-role-2', '00000000-0000-4000-8000-00000000120a', 'user', '00000000-0000-4000-8000-0000000012e1', 'user',
	 (SELECT id::text FROM owner2), '{"from": "owner", "to": "member"}'),
	('pgtap-12-role-3', '00000000-0000-4000-8000-00000000120a', 'api_key', '00000000-0000-4000-8000-0000000012d9', 'user',
	 '00000000-0000-4000-8000-0000000012e2', '{"from": "admin", "to": "owner"}'),
	('pgtap-12-role-4', '00000000-0000-4000-8000-00000000120a', 'user', '00000000-0000-4000-8000-0000000012e1', 'user',
	 '00000000-0000-4000-8000-0000000012e1', '{"from": "owner", "to": "member"}')$$,
	'change_member_role: member.role_changed with from and to for each change; none for no change or a refusal');

-- remove_member, as O1 (now a member) from a request in A. V1 has an extra
-- permission, an invitation and sessions in A, and a session in B.
INSERT INTO homebot.user_permissions (organization_id, user_id, permission) VALUES
	('00000000-0000-4000-8000-00000000120a', '00000000-0000-4000-8000-0000000012e3', 'audit:read'),
	('00000000-0000-4000-8000-00000000120b', '00000000-0000-4000-8000-0000000012e3', 'audit:read');
INSERT INTO homebot.invitations (organization_id, user_id, token_hash, expires_at) VALUES
	('00000000-0000-4000-8000-00000000120a', '00000000-0000-4000-8000-0000000012e3', sha256('pgtap-12-invite-v1'),
	 now() + interval '1 day');
INSERT INTO homebot.sessions (id, organization_id, user_id, revoked_at) VALUES
	('00000000-0000-4000-8000-0000000012b1', '00000000-0000-4000-8000-00000000120a', '00000000-0000-4000-8000-0000000012e3', NULL),
	('00000000-0000-4000-8000-0000000012b2', '00000000-0000-4000-8000-00000000120a', '00000000-0000-4000-8000-0000000012e3',
	 now() - interval '1 hour'),
	('00000000-0000-4000-8000-0000000012b3', '00000000-0000-4000-8000-00000000120b', '00000000-0000-4000-8000-0000000012e3', NULL),
	('00000000-0000-4000-8000-0000000012b4', '00000000-0000-4000-8000-00000000120a', '00000000-0000-4000-8000-0000000012e2', NULL);

SET LOCAL ROLE homebot_app;
SELECT set_config('app.org_id', '', true);
SELECT throws_ok($$SELECT * FROM homebot.remove_member('00000000-0000-4000-8000-0000000012e3')$$,
	'42501', 'remove_member: no tenant context (app.org_id is not set)', 'remove_member without app.org_id raises');
SELECT set_config('app.org_id', '00000000-0000-4000-8000-00000000120a', true);
SELECT set_config('app.request_id', 'pgtap-12-remove', true);
SELECT results_eq($$SELECT * FROM homebot.remove_member('00000000-0000-4000-8000-0000000012f2')$$,
	$$VALUES ('not_found'::text, NULL::text)$$, 'remove_member: a member of B only → not_found');
SELECT results_eq($$SELECT * FROM homebot.remove_member('00000000-0000-4000-8000-0000000012e2')$$,
	$$VALUES ('last_owner'::text, NULL::text)$$, 'remove_member: the only active owner → last_owner');
SELECT results_eq($$SELECT * FROM homebot.remove_member('00000000-0000-4000-8000-0000000012e3')$$,
	$$VALUES ('ok'::text, 'viewer'::text)$$, 'remove_member: ok, with the removed member''s role');
SELECT results_eq($$SELECT * FROM homebot.remove_member('00000000-0000-4000-8000-0000000012e3')$$,
	$$VALUES ('not_found'::text, NULL::text)$$, 'remove_member: removing again → not_found');
SELECT results_eq($$SELECT * FROM homebot.remove_member('00000000-0000-4000-8000-0000000012e1')$$,
	$$VALUES ('ok'::text, 'member'::text)$$, 'remove_member: a member can be removed (here the requesting user himself)');
RESET ROLE;

SELECT results_eq(
	$$SELECT organization_id FROM homebot.memberships WHERE user_id = '00000000-0000-4000-8000-0000000012e3'$$,
	$$VALUES ('00000000-0000-4000-8000-00000000120b'::uuid)$$,
	'remove_member: the membership in A is gone, the one in B stays');
SELECT results_eq(
	$$SELECT organization_id FROM homebot.user_permissions WHERE user_id = '00000000-0000-4000-8000-0000000012e3'$$,
	$$VALUES ('00000000-0000-4000-8000-00000000120b'::uuid)$$,
	'remove_member: the extra permission in A went with the membership, the one in B stays');
SELECT is_empty($$SELECT * FROM homebot.invitations WHERE token_hash = sha256('pgtap-12-invite-v1')$$,
	'remove_member: the invitation in A went with the membership');
SELECT results_eq(
	$$SELECT id, revoked_at FROM homebot.sessions WHERE id::text LIKE '%-0000000012b_' ORDER BY id$$,
	$$VALUES ('00000000-0000-4000-8000-0000000012b1'::uuid, now()),
	         ('00000000-0000-4000-8000-0000000012b2'::uuid, now() - interval '1 hour'),
	         ('00000000-0000-4000-8000-0000000012b3'::uuid, NULL::timestamptz),
	         ('00000000-0000-4000-8000-0000000012b4'::uuid, NULL::timestamptz)$$,
	'remove_member: the member''s open session in A is revoked (a revoked one keeps its time); B''s and other members'' stay open');
SELECT results_eq(
	$$SELECT a.organization_id, a.actor_type, a.actor_id, a.target_type, a.target_id, a.changes
	    FROM homebot.audit_log a WHERE a.action = 'member.removed' AND a.request_id = 'pgtap-12-remove'
	   ORDER BY a.occurred_at$$,
	$$VALUES
	('00000000-0000-4000-8000-00000000120a'::uuid, 'user'::text, '00000000-0000-4000-8000-0000000012e1'::uuid,
	 'user'::text, '00000000-0000-4000-8000-0000000012e3'::text,
	 '{"email": "pgtap-12-v1@example.test", "role": "viewer", "status": "active"}'::jsonb),
	('00000000-0000-4000-8000-00000000120a', 'user', '00000000-0000-4000-8000-0000000012e1', 'user',
	 '00000000-0000-4000-8000-0000000012e1',
	 '{"email": "pgtap-12-o1@example.test", "role": "member", "status": "active"}')$$,
	'remove_member: member.removed for each removal, none for the refusals');

SELECT * FROM finish();
ROLLBACK;
