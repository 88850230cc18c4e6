-- Every tenant table, present and future, carries the isolation that
-- design.md requires. A tenant table is any ordinary or partitioned table
-- in schema homebot with an organization_id column. Each assertion lists
-- the offending tables in its diagnostics.
BEGIN;
SELECT plan(19);

CREATE TEMP VIEW tenant_tables AS
SELECT c.oid, c.oid::regclass::text AS name, c.relrowsecurity, c.relforcerowsecurity,
       a.attnum AS org_attnum
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'organization_id'
                     AND a.attnum > 0 AND NOT a.attisdropped
 WHERE n.nspname = 'homebot'
   AND c.relkind IN ('r', 'p');

-- Without this, every check below would pass on an empty catalog.
SELECT ok((SELECT count(*) FROM tenant_tables) > 0,
	'schema homebot has at least one tenant table');

SELECT is(
	(SELECT coalesce(array_agg(name ORDER BY name), '{}') FROM tenant_tables
	  WHERE NOT relrowsecurity),
	'{}'::text[],
	'every tenant table has row-level security enabled');

SELECT is(
	(SELECT coalesce(array_agg(name ORDER BY name), '{}') FROM tenant_tables
	  WHERE NOT relforcerowsecurity),
	'{}'::text[],
	'every tenant table has row-level security forced (applies to its owner too)');

SELECT is(
	(SELECT coalesce(array_agg(name ORDER BY name), '{}') FROM tenant_tables t
	  WHERE NOT EXISTS (SELECT FROM pg_policy p WHERE p.polrelid = t.oid)),
	'{}'::text[],
	'every tenant table has at least one policy');

-- A policy that the request path is subject to must be about the tenant
-- context; USING (true) would pass the checks above and isolate nothing.
SELECT is(
	(SELECT coalesce(array_agg(t.name || ' ' || p.polname ORDER BY t.name, p.polname), '{}')
	   FROM tenant_tables t
	   JOIN pg_policy p ON p.polrelid = t.oid
	  WHERE p.polpermissive
	    AND (0::oid = ANY (p.polroles) OR 'homebot_app'::regrole = ANY (p.polroles))
	    AND ((p.polqual IS NOT NULL
	          AND pg_get_expr(p.polqual, p.polrelid) NOT LIKE '%app.org_id%')
	      OR (p.polwithcheck IS NOT NULL
	          AND pg_get_expr(p.polwithcheck, p.polrelid) NOT LIKE '%app.org_id%'))),
	'{}'::text[],
	'every permissive policy homebot_app is subject to on a tenant table checks app.org_id');

-- But the event outbox: no statement looks its rows up by organization
-- (the worker takes them by seq, and no runtime role may read it at all:
-- 28_events.sql), so an index of organization_id would only
-- cost every audited write.
SELECT is(
	(SELECT coalesce(array_agg(name ORDER BY name), '{}') FROM tenant_tables t
	  WHERE t.oid <> 'homebot.event_outbox'::regclass
	    AND NOT EXISTS (
		SELECT FROM pg_index i
		 WHERE i.indrelid = t.oid
		   AND i.indkey[0] = t.org_attnum
		   AND i.indpred IS NULL
		   AND i.indisvalid)),
	'{}'::text[],
	'every tenant table has a (valid, non-partial) index whose first column is organization_id');

-- Not tenant tables, but isolated by policies of their own.
SELECT is(
	(SELECT coalesce(array_agg(relname::text ORDER BY relname), '{}') FROM pg_class
	  WHERE oid IN ('homebot.organizations'::regclass, 'homebot.users'::regclass)
	    AND NOT (relrowsecurity AND relforcerowsecurity
	             AND EXISTS (SELECT FROM pg_policy WHERE polrelid = pg_class.oid))),
	'{}'::text[],
	'organizations and users have row-level security enabled, forced and a policy');

SELECT is((SELECT rolsuper FROM pg_roles WHERE rolname = 'homebot_app'), false,
	'homebot_app is not a superuser');
SELECT is((SELECT rolbypassrls FROM pg_roles WHERE rolname = 'homebot_app'), false,
	'homebot_app does not have BYPASSRLS');
SELECT is(
	(SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = 'homebot_admin'), false,
	'homebot_admin is neither a superuser nor BYPASSRLS');

SELECT is(
	(SELECT coalesce(array_agg(c.oid::regclass::text ORDER BY c.oid::regclass::text), '{}')
	   FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
	  WHERE n.nspname = 'homebot' AND c.relowner = 'homebot_app'::regrole),
	'{}'::text[],
	'homebot_app owns no table (or other relation) in schema homebot');

-- Ownership would let it disable RLS, change policies or grant itself more.
SELECT is(
	(SELECT coalesce(array_agg(pg_describe_object(classid, objid, objsubid)
	                              ORDER BY pg_describe_object(classid, objid, objsubid)), '{}')
	   FROM pg_shdepend
	  WHERE refclassid = 'pg_authid'::regclass
	    AND refobjid = 'homebot_app'::regrole
	    AND deptype = 'o'
	    AND dbid = (SELECT oid FROM pg_database WHERE datname = current_database())),
	'{}'::text[],
	'homebot_app owns nothing in this database');


-- Team scope (0009_teams.sql): every policy homebot_app is subject to on a
-- table with a team_id column holds the team check, in its USING and its
-- WITH CHECK. team_members is where team membership itself is kept (every
-- member of the organization may list it, teams:read): not team-scoped.
CREATE TEMP VIEW team_scope_lacking AS
SELECT t.name || ' ' || p.polname AS policy
  FROM tenant_tables t
  JOIN pg_attribute a ON a.attrelid = t.oid AND a.attname = 'team_id' AND a.attnum > 0 AND NOT a.attisdropped
  JOIN pg_policy p ON p.polrelid = t.oid
 WHERE t.name <> 'homebot.team_members'
   AND p.polpermissive
   AND (0::oid = ANY (p.polroles) OR (SELECT oid FROM pg_roles WHERE rolname = 'homebot_app') = ANY (p.polroles))
   AND EXISTS (SELECT FROM (VALUES (pg_get_expr(p.polqual, p.polrelid)),
                                   (pg_get_expr(p.polwithcheck, p.polrelid))) e (expr)
                WHERE e.expr IS NOT NULL
                  AND NOT (e.expr LIKE '%team_id IS NULL%'
                           AND e.expr LIKE '%team_id = ANY ((( SELECT NULLIF(current_setting(''app.team_ids''::text, true), ''''::text) AS "nullif"))::uuid[])%'
                           AND e.expr LIKE '%( SELECT current_setting(''app.teams_write''::text, true) AS current_setting) = ''true''::text%'));

SELECT is((SELECT coalesce(array_agg(policy ORDER BY policy), '{}') FROM team_scope_lacking), '{}'::text[],
	'every policy homebot_app is subject to on a team-scoped table holds the team check');

-- The check above catches a table that lacks it (created and dropped here).
CREATE TABLE homebot.pgtap_unscoped (organization_id uuid, team_id uuid);
CREATE INDEX ON homebot.pgtap_unscoped (organization_id);
ALTER TABLE homebot.pgtap_unscoped ENABLE ROW LEVEL SECURITY;
ALTER TABLE homebot.pgtap_unscoped FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON homebot.pgtap_unscoped
	USING (organization_id = (SELECT NULLIF(current_setting('app.org_id', true), '')::uuid));
SELECT is((SELECT array_agg(policy) FROM team_scope_lacking), '{homebot.pgtap_unscoped tenant}'::text[],
	'a table with team_id whose policy checks only the organization is caught');
DROP TABLE homebot.pgtap_unscoped;

-- Row metadata: every table carrying the five columns has the
-- row_metadata trigger before INSERT and UPDATE, for each row.
CREATE TEMP VIEW metadata_lacking AS
SELECT c.oid::regclass::text AS name
  FROM pg_class c
 WHERE c.relnamespace = 'homebot'::regnamespace AND c.relkind IN ('r', 'p')
   AND (SELECT count(*) FROM pg_attribute a
         WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
           AND a.attname IN ('created_at', 'updated_at', 'created_by', 'updated_by', 'version')) = 5
   AND NOT EXISTS (
	SELECT FROM pg_trigger g
	 WHERE g.tgrelid = c.oid AND NOT g.tgisinternal
	   AND g.tgfoid = 'homebot.row_metadata()'::regprocedure
	   AND g.tgtype & 1 = 1      -- ROW
	   AND g.tgtype & 2 = 2      -- BEFORE
	   AND g.tgtype & 4 = 4      -- INSERT
	   AND g.tgtype & 16 = 16);  -- UPDATE

SELECT ok((SELECT count(*) FROM pg_trigger WHERE tgfoid = 'homebot.row_metadata()'::regprocedure) >= 2,
	'row_metadata is attached (teams and team_members at least)');
SELECT is((SELECT coalesce(array_agg(name ORDER BY name), '{}') FROM metadata_lacking), '{}'::text[],
	'every table with row metadata columns has the row_metadata trigger before insert and update');
CREATE TABLE homebot.pgtap_meta (created_at timestamptz, updated_at timestamptz, created_by uuid,
                                 updated_by uuid, version integer);
SELECT is((SELECT array_agg(name) FROM metadata_lacking), '{homebot.pgtap_meta}'::text[],
	'a table with the columns but without the trigger is caught');
DROP TABLE homebot.pgtap_meta;

-- Soft delete: on a table with deleted_at, every policy homebot_app reads
-- through hides the deleted rows itself.
SELECT ok(EXISTS (SELECT FROM tenant_tables t JOIN pg_attribute a ON a.attrelid = t.oid
                   WHERE a.attname = 'deleted_at'),
	'there is a soft-deleted tenant table (teams)');
SELECT is(
	(SELECT coalesce(array_agg(t.name || ' ' || p.polname ORDER BY t.name, p.polname), '{}')
	   FROM tenant_tables t
	   JOIN pg_attribute a ON a.attrelid = t.oid AND a.attname = 'deleted_at' AND a.attnum > 0 AND NOT a.attisdropped
	   JOIN pg_policy p ON p.polrelid = t.oid
	  WHERE p.polpermissive AND p.polcmd IN ('r', '*')
	    AND (0::oid = ANY (p.polroles) OR 'homebot_app'::regrole = ANY (p.polroles))
	    AND coalesce(pg_get_expr(p.polqual, p.polrelid), '') NOT LIKE '%deleted_at IS NULL%'),
	'{}'::text[],
	'every policy homebot_app reads a soft-deleted table through hides deleted rows');

SELECT * FROM finish();
ROLLBACK;
