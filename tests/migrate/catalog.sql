-- What a migrated database is made of, one line per object, in a stable
-- order and without oids or times: two databases that print the same are
-- built the same. Everything outside the system schemas and extensions:
-- schemas, tables (with their columns, constraints, indexes, row-level
-- security, policies and grants), sequences, functions (their whole
-- definition, owner and grants), triggers, the seed data of the reference
-- tables and migrate's bookkeeping (checksums, not times).
\pset format unaligned
\pset tuples_only on
\pset null '<null>'
WITH ns AS (
	SELECT n.oid, n.nspname
	  FROM pg_namespace n
	 WHERE n.nspname NOT LIKE 'pg\_%' AND n.nspname <> 'information_schema'
	   AND NOT EXISTS (SELECT FROM pg_depend d
	                    WHERE d.classid = 'pg_namespace'::regclass AND d.objid = n.oid AND d.deptype = 'e')
), rel AS (
	SELECT c.*
	  FROM pg_class c
	  JOIN ns ON ns.oid = c.relnamespace
	 WHERE NOT EXISTS (SELECT FROM pg_depend d
	                    WHERE d.deptype = 'e'
	                      AND (d.classid = 'pg_class'::regclass AND d.objid = c.oid
	                           OR d.classid = 'pg_type'::regclass AND d.objid = c.reltype))
), fn AS (
	SELECT p.*
	  FROM pg_proc p
	  JOIN ns ON ns.oid = p.pronamespace
	 WHERE NOT EXISTS (SELECT FROM pg_depend d
	                    WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
)
SELECT line FROM (
	SELECT 'schema ' || n.nspname || ' owner=' || pg_get_userbyid(n.nspowner) || ' acl=' || coalesce(n.nspacl::text, '-')
	  FROM ns JOIN pg_namespace n USING (oid)
	UNION ALL
	SELECT format('relation %s kind=%s persistence=%s owner=%s rls=%s force=%s acl=%s',
	              c.oid::regclass, c.relkind, c.relpersistence, pg_get_userbyid(c.relowner),
	              c.relrowsecurity, c.relforcerowsecurity, coalesce(c.relacl::text, '-'))
	  FROM rel c
	UNION ALL
	-- A column's place among the live ones: a column added again after a
	-- rollback dropped it gets a new attnum (the dropped one keeps its
	-- slot), yet the table reads the same.
	SELECT format('column %s.%s #%s %s notnull=%s default=%s acl=%s',
	              c.oid::regclass, a.attname,
	              row_number() OVER (PARTITION BY a.attrelid ORDER BY a.attnum),
	              format_type(a.atttypid, a.atttypmod), a.attnotnull,
	              coalesce(pg_get_expr(ad.adbin, ad.adrelid), '-'), coalesce(a.attacl::text, '-'))
	  FROM rel c
	  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
	  LEFT JOIN pg_attrdef ad ON ad.adrelid = c.oid AND ad.adnum = a.attnum
	 WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
	UNION ALL
	SELECT format('constraint %s %s: %s', co.conrelid::regclass, co.conname, pg_get_constraintdef(co.oid))
	  FROM pg_constraint co JOIN rel c ON c.oid = co.conrelid
	UNION ALL
	SELECT 'index ' || pg_get_indexdef(i.indexrelid)
	  FROM pg_index i JOIN rel c ON c.oid = i.indexrelid
	UNION ALL
	SELECT format('policy %s.%s %s %s to=%s using=%s check=%s', p.schemaname, p.tablename, p.policyname,
	              p.cmd, p.roles, coalesce(p.qual, '-'), coalesce(p.with_check, '-'))
	  FROM pg_policies p JOIN ns ON ns.nspname = p.schemaname
	UNION ALL
	SELECT format('function %s owner=%s acl=%s%s%s', p.oid::regprocedure, pg_get_userbyid(p.proowner),
	              coalesce(p.proacl::text, '-'), E'\n', pg_get_functiondef(p.oid))
	  FROM fn p WHERE p.prokind IN ('f', 'p')
	UNION ALL
	SELECT format('trigger %s %s enabled=%s: %s', t.tgrelid::regclass, t.tgname, t.tgenabled,
	              pg_get_triggerdef(t.oid))
	  FROM pg_trigger t JOIN rel c ON c.oid = t.tgrelid
	 WHERE NOT t.tgisinternal
	UNION ALL
	SELECT format('row homebot.permissions %s', p::text) FROM homebot.permissions p
	 WHERE to_regclass('homebot.permissions') IS NOT NULL
	UNION ALL
	SELECT format('row homebot.role_permissions %s', p::text) FROM homebot.role_permissions p
	 WHERE to_regclass('homebot.role_permissions') IS NOT NULL
	UNION ALL
	SELECT format('migration %s %s %s', m.version, m.name, m.checksum) FROM public.schema_migrations m
	UNION ALL
	SELECT format('repeatable %s %s', r.name, r.checksum) FROM public.schema_repeatables r
) AS catalog (line)
ORDER BY line COLLATE "C";
