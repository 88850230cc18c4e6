-- Every tenant table, present and future, carries the isolation that
-- design.md requires. A tenant table is any ordinary or partitioned table
-- in schema homebot with an organization_id column. Each assertion lists
-- the offending tables in its diagnostics.
BEGIN;
SELECT plan(12);

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

SELECT is(
	(SELECT coalesce(array_agg(name ORDER BY name), '{}') FROM tenant_tables t
	  WHERE NOT EXISTS (
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

SELECT * FROM finish();
ROLLBACK;
