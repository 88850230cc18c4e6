-- The users policy (0001, rewritten by 0022): a user is visible to the
-- members of an organization the user belongs to, and checking that costs
-- one probe of memberships' primary key per row, never a hash of every
-- membership of the organization (which made GET /api/v1/auth/me, and any
-- page that reads users, cost more as an organization grew).
--
--   A = ...31a with X and Y, B = ...31b with Y and Z
BEGIN;
SELECT plan(6);

INSERT INTO homebot.organizations (id, name, slug) VALUES
	('00000000-0000-4000-8000-00000000031a', 'Org 31A', 'pgtap-31-a'),
	('00000000-0000-4000-8000-00000000031b', 'Org 31B', 'pgtap-31-b');
INSERT INTO homebot.users (id, email, full_name) VALUES
	('00000000-0000-4000-8000-0000000003e1', 'pgtap-31-x@example.test', 'X'),
	('00000000-0000-4000-8000-0000000003e2', 'pgtap-31-y@example.test', 'Y'),
	('00000000-0000-4000-8000-0000000003e3', 'pgtap-31-z@example.test', 'Z');
INSERT INTO homebot.memberships (organization_id, user_id, role) VALUES
	('00000000-0000-4000-8000-00000000031a', '00000000-0000-4000-8000-0000000003e1', 'owner'),
	('00000000-0000-4000-8000-00000000031a', '00000000-0000-4000-8000-0000000003e2', 'member'),
	('00000000-0000-4000-8000-00000000031b', '00000000-0000-4000-8000-0000000003e2', 'owner'),
	('00000000-0000-4000-8000-00000000031b', '00000000-0000-4000-8000-0000000003e3', 'member');
-- Many members in another organization: the planner's figures for "the
-- memberships of one organization" look like a real service's.
INSERT INTO homebot.organizations (id, name, slug)
SELECT ('00000000-0000-4000-8000-0000' || lpad(to_hex(g), 8, '0'))::uuid, 'Org 31 ' || g, 'pgtap-31-' || g
  FROM generate_series(1, 200) g;
INSERT INTO homebot.users (id, email, full_name)
SELECT ('00000000-0000-4000-9000-0000' || lpad(to_hex(g), 8, '0'))::uuid, 'pgtap-31-' || g || '@example.test', 'U'
  FROM generate_series(1, 2000) g;
INSERT INTO homebot.memberships (organization_id, user_id, role)
SELECT ('00000000-0000-4000-8000-0000' || lpad(to_hex(1 + g % 200), 8, '0'))::uuid,
       ('00000000-0000-4000-9000-0000' || lpad(to_hex(g), 8, '0'))::uuid, 'member'
  FROM generate_series(1, 2000) g;
ANALYZE homebot.memberships;
ANALYZE homebot.users;

-- The plan of a statement as one text, run as the caller (invoker).
CREATE FUNCTION pg_temp.plan_of(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	line text;
	out text := '';
BEGIN
	FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q LOOP
		out := out || line || E'\n';
	END LOOP;
	RETURN out;
END
$$;

SET LOCAL ROLE homebot_app;
SELECT set_config('app.org_id', '00000000-0000-4000-8000-00000000031a', true);

SELECT results_eq(
	$$SELECT full_name FROM homebot.users ORDER BY full_name$$,
	$$VALUES ('X'), ('Y')$$,
	'in A: A''s members, X and Y, and nobody else');
SELECT is_empty(
	$$SELECT FROM homebot.users WHERE id = '00000000-0000-4000-8000-0000000003e3'$$,
	'in A: Z, a member of B only, is not there even by id');
SELECT set_config('app.org_id', '00000000-0000-4000-8000-00000000031b', true);
SELECT results_eq(
	$$SELECT full_name FROM homebot.users ORDER BY full_name$$,
	$$VALUES ('Y'), ('Z')$$,
	'in B: Y and Z');
SELECT set_config('app.org_id', '', true);
SELECT is_empty($$SELECT FROM homebot.users$$, 'no organization in the context: no user');

SELECT set_config('app.org_id', '00000000-0000-4000-8000-00000000031a', true);
-- Where a probe per row looks dear (no index to probe with), 0001's policy
-- was planned as a hash of the organization's memberships; this one has
-- no such plan to choose.
SET LOCAL enable_indexscan = off;
SET LOCAL enable_indexonlyscan = off;
SET LOCAL enable_bitmapscan = off;
SELECT unalike(pg_temp.plan_of($$SELECT * FROM homebot.users WHERE id = '00000000-0000-4000-8000-0000000003e1'$$),
	'%hashed SubPlan%',
	'a user by id: the policy builds no hash of the organization''s memberships, whatever the costs');
RESET enable_indexscan;
RESET enable_indexonlyscan;
RESET enable_bitmapscan;
SELECT alike(pg_temp.plan_of($$SELECT * FROM homebot.users WHERE id = '00000000-0000-4000-8000-0000000003e1'$$),
	'%Index%Scan using memberships_% on memberships m%Index Cond: %user_id = users.id%',
	'it probes an index of memberships by the one row''s user id');

SELECT * FROM finish();
ROLLBACK;
