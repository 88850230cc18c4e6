-- Rows of organization B are invisible and unwritable for homebot_app with
-- the tenant context of organization A, and with no tenant context at all.
--
-- Seeding happens as the superuser (which skips RLS); every assertion about
-- isolation runs as homebot_app, the role of the request path.
--
--   A = ...00a: users a1 (owner) and both (member)
--   B = ...00b: users b1 (owner) and both (admin)
--   loner: no membership anywhere
BEGIN;
SELECT plan(38);

INSERT INTO homebot.organizations (id, name, slug) VALUES
	('00000000-0000-4000-8000-00000000000a', 'Org A', 'pgtap-org-a'),
	('00000000-0000-4000-8000-00000000000b', 'Org B', 'pgtap-org-b');

INSERT INTO homebot.users (id, email, full_name) VALUES
	('00000000-0000-4000-8000-0000000000a1', 'pgtap-a1@example.test', 'A One'),
	('00000000-0000-4000-8000-0000000000b1', 'pgtap-b1@example.test', 'B One'),
	('00000000-0000-4000-8000-0000000000ab', 'pgtap-both@example.test', 'Both'),
	('00000000-0000-4000-8000-0000000000c1', 'pgtap-loner@example.test', 'Loner');

INSERT INTO homebot.memberships (organization_id, user_id, role) VALUES
	('00000000-0000-4000-8000-00000000000a', '00000000-0000-4000-8000-0000000000a1', 'owner'),
	('00000000-0000-4000-8000-00000000000a', '00000000-0000-4000-8000-0000000000ab', 'member'),
	('00000000-0000-4000-8000-00000000000b', '00000000-0000-4000-8000-0000000000b1', 'owner'),
	('00000000-0000-4000-8000-00000000000b', '00000000-0000-4000-8000-0000000000ab', 'admin');

SET LOCAL ROLE homebot_app;

-- No context: never set in this session.
SELECT ok(current_setting('app.org_id', true) IS NULL,
	'precondition: app.org_id has never been set in this session');
SELECT is_empty('SELECT * FROM homebot.memberships',
	'no context (never set): no membership is visible');
SELECT is_empty('SELECT * FROM homebot.organizations',
	'no context (never set): no organization is visible');
SELECT is_empty('SELECT * FROM homebot.users',
	'no context (never set): no user is visible');
SELECT throws_ok(
	$$INSERT INTO homebot.memberships (organization_id, user_id, role)
	  VALUES ('00000000-0000-4000-8000-00000000000a', '00000000-0000-4000-8000-0000000000c1', 'member')$$,
	'42501', 'new row violates row-level security policy for table "memberships"',
	'no context (never set): inserting a membership is refused');

-- No context: a context that went out of scope. A transaction cannot end
-- inside this test's transaction, but leaving a function that has a SET
-- clause restores settings through the same code path as the end of a
-- transaction: it shows what the next request on a reused connection sees
-- after a request with context A.
RESET ROLE;
CREATE FUNCTION pg_temp.count_memberships_in_scope(org uuid) RETURNS bigint
LANGUAGE plpgsql SET app.org_id = '' AS $$
BEGIN
	PERFORM set_config('app.org_id', org::text, true);
	RETURN (SELECT count(*) FROM homebot.memberships);
END
$$;
SET LOCAL ROLE homebot_app;

SELECT is(pg_temp.count_memberships_in_scope('00000000-0000-4000-8000-00000000000a'), 2::bigint,
	'inside its scope, context A shows A''s two memberships');
SELECT is(current_setting('app.org_id', true), '',
	'after its scope the setting reads back as an empty string, not as A');
SELECT is_empty('SELECT * FROM homebot.memberships',
	'no context (out of scope): no membership is visible, and the policy does not fail on ''''');
SELECT is_empty('SELECT * FROM homebot.organizations',
	'no context (out of scope): no organization is visible');
SELECT is_empty('SELECT * FROM homebot.users',
	'no context (out of scope): no user is visible');

-- No context: explicitly empty.
SELECT set_config('app.org_id', '', true);
SELECT is_empty('SELECT * FROM homebot.memberships',
	'no context (empty): no membership is visible');
SELECT is_empty('SELECT * FROM homebot.organizations',
	'no context (empty): no organization is visible');
SELECT is_empty('SELECT * FROM homebot.users',
	'no context (empty): no user is visible');
SELECT throws_ok(
	$$INSERT INTO homebot.memberships (organization_id, user_id, role)
	  VALUES ('00000000-0000-4000-8000-00000000000b', '00000000-0000-4000-8000-0000000000c1', 'member')$$,
	'42501', 'new row violates row-level security policy for table "memberships"',
	'no context (empty): inserting a membership is refused');
SELECT is_empty(
	$$UPDATE homebot.memberships SET role = 'viewer' RETURNING *$$,
	'no context (empty): updating memberships touches no row');

-- Context A.
SELECT set_config('app.org_id', '00000000-0000-4000-8000-00000000000a', true);

SELECT results_eq(
	'SELECT user_id FROM homebot.memberships ORDER BY user_id',
	$$VALUES ('00000000-0000-4000-8000-0000000000a1'::uuid), ('00000000-0000-4000-8000-0000000000ab'::uuid)$$,
	'context A: exactly A''s memberships are visible');
SELECT results_eq(
	'SELECT id FROM homebot.organizations',
	$$VALUES ('00000000-0000-4000-8000-00000000000a'::uuid)$$,
	'context A: exactly organization A is visible');
SELECT results_eq(
	'SELECT id FROM homebot.users ORDER BY id',
	$$VALUES ('00000000-0000-4000-8000-0000000000a1'::uuid), ('00000000-0000-4000-8000-0000000000ab'::uuid)$$,
	'context A: exactly A''s members are visible, including one who is also in B');
SELECT is_empty(
	$$SELECT * FROM homebot.memberships WHERE organization_id = '00000000-0000-4000-8000-00000000000b'$$,
	'context A: B''s memberships are invisible even when asked for by id');
SELECT is_empty(
	$$SELECT * FROM homebot.organizations WHERE id = '00000000-0000-4000-8000-00000000000b'$$,
	'context A: organization B is invisible even when asked for by id');
SELECT is_empty(
	$$SELECT * FROM homebot.users WHERE id = '00000000-0000-4000-8000-0000000000b1'$$,
	'context A: a user only in B is invisible even when asked for by id');

SELECT throws_ok(
	$$INSERT INTO homebot.memberships (organization_id, user_id, role)
	  VALUES ('00000000-0000-4000-8000-00000000000b', '00000000-0000-4000-8000-0000000000c1', 'owner')$$,
	'42501', 'new row violates row-level security policy for table "memberships"',
	'context A: inserting a membership into B is refused');
SELECT throws_ok(
	$$UPDATE homebot.memberships SET organization_id = '00000000-0000-4000-8000-00000000000b'
	   WHERE user_id = '00000000-0000-4000-8000-0000000000a1'$$,
	'42501', 'new row violates row-level security policy for table "memberships"',
	'context A: moving one of A''s memberships into B is refused');
SELECT throws_ok(
	$$UPDATE homebot.organizations SET id = '00000000-0000-4000-8000-00000000000b'$$,
	'42501', 'permission denied for table organizations',
	'context A: changing an organization''s id is refused');
SELECT is_empty(
	$$UPDATE homebot.memberships SET role = 'viewer'
	   WHERE organization_id = '00000000-0000-4000-8000-00000000000b' RETURNING *$$,
	'context A: updating B''s memberships touches no row');
SELECT is_empty(
	$$DELETE FROM homebot.memberships
	   WHERE organization_id = '00000000-0000-4000-8000-00000000000b' RETURNING *$$,
	'context A: deleting B''s memberships touches no row');
SELECT is_empty(
	$$UPDATE homebot.organizations SET name = 'taken over', settings = '{"owned": true}'
	   WHERE id = '00000000-0000-4000-8000-00000000000b' RETURNING *$$,
	'context A: updating organization B touches no row');
SELECT is_empty(
	$$UPDATE homebot.users SET full_name = 'taken over', password_hash = 'x'
	   WHERE id = '00000000-0000-4000-8000-0000000000b1' RETURNING *$$,
	'context A: updating a user only in B touches no row');

SELECT lives_ok(
	$$INSERT INTO homebot.memberships (organization_id, user_id, role)
	  VALUES ('00000000-0000-4000-8000-00000000000a', '00000000-0000-4000-8000-0000000000c1', 'viewer')$$,
	'context A: adding a member to A works');
SELECT results_eq(
	$$SELECT id FROM homebot.users WHERE id = '00000000-0000-4000-8000-0000000000c1'$$,
	$$VALUES ('00000000-0000-4000-8000-0000000000c1'::uuid)$$,
	'context A: a user becomes visible once a member of A');
SELECT results_eq(
	$$UPDATE homebot.memberships SET role = 'member'
	   WHERE organization_id = '00000000-0000-4000-8000-00000000000a'
	     AND user_id = '00000000-0000-4000-8000-0000000000c1' RETURNING role$$,
	$$VALUES ('member'::text)$$,
	'context A: changing a role in A works');
SELECT results_eq(
	$$UPDATE homebot.organizations SET name = 'Org A renamed'
	   WHERE id = '00000000-0000-4000-8000-00000000000a' RETURNING name$$,
	$$VALUES ('Org A renamed'::text)$$,
	'context A: renaming organization A works');
SELECT results_eq(
	$$UPDATE homebot.users SET full_name = 'A One renamed'
	   WHERE id = '00000000-0000-4000-8000-0000000000a1' RETURNING full_name$$,
	$$VALUES ('A One renamed'::text)$$,
	'context A: editing a member of A works');
SELECT results_eq(
	$$DELETE FROM homebot.memberships
	   WHERE organization_id = '00000000-0000-4000-8000-00000000000a'
	     AND user_id = '00000000-0000-4000-8000-0000000000c1' RETURNING user_id$$,
	$$VALUES ('00000000-0000-4000-8000-0000000000c1'::uuid)$$,
	'context A: removing a member from A works');

-- Back to the superuser, which sees every row: B is untouched.
RESET ROLE;

SELECT results_eq(
	$$SELECT user_id, role FROM homebot.memberships
	   WHERE organization_id = '00000000-0000-4000-8000-00000000000b' ORDER BY user_id$$,
	$$VALUES ('00000000-0000-4000-8000-0000000000ab'::uuid, 'admin'::text),
	         ('00000000-0000-4000-8000-0000000000b1'::uuid, 'owner'::text)$$,
	'B''s memberships are unchanged');
SELECT results_eq(
	$$SELECT name, settings FROM homebot.organizations
	   WHERE id = '00000000-0000-4000-8000-00000000000b'$$,
	$$VALUES ('Org B'::text, '{}'::jsonb)$$,
	'organization B is unchanged');
SELECT results_eq(
	$$SELECT full_name, password_hash FROM homebot.users
	   WHERE id = '00000000-0000-4000-8000-0000000000b1'$$,
	$$VALUES ('B One'::text, NULL::text)$$,
	'the user only in B is unchanged');
SELECT is_empty(
	$$SELECT * FROM homebot.memberships WHERE user_id = '00000000-0000-4000-8000-0000000000c1'$$,
	'no membership was left in B (or anywhere) for the user without one');

SELECT * FROM finish();
ROLLBACK;
