-- The shape of 0003_orgs and what it means for the runtime roles:
-- invitations is a tenant table isolated like the others (and closed to
-- homebot_app altogether: only the functions use it), the audit log is
-- append-only for both runtime roles, every tenant table's row changes are
-- captured by the audit triggers, and homebot_admin sees every organization
-- but may change only what its column grants name.
--
-- Seeding happens as the superuser; every assertion about access runs as
-- the role concerned.
--
--   A = ...100a: X (...10e1) owner, N (...10e2) invited, invitation ...10d1
--   B = ...100b: Y (...10f1) owner, M (...10f2) invited, invitation ...10d2
BEGIN;
SELECT plan(105);

-- invitations: columns, keys, constraints.
SELECT has_table('homebot', 'invitations', 'table homebot.invitations exists');
SELECT results_eq(
	$$SELECT attname::text COLLATE "default", format_type(atttypid, atttypmod), attnotnull FROM pg_attribute
	   WHERE attrelid = 'homebot.invitations'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum$$,
	$$VALUES ('id'::text, 'uuid'::text, true), ('organization_id', 'uuid', true), ('user_id', 'uuid', true),
	         ('token_hash', 'bytea', true), ('created_by', 'uuid', false),
	         ('created_at', 'timestamp with time zone', true), ('expires_at', 'timestamp with time zone', true),
	         ('used_at', 'timestamp with time zone', false)$$,
	'invitations has exactly the contract''s columns, types and NOT NULLs');
SELECT col_is_pk('homebot', 'invitations', 'id', 'invitations: id is the primary key');
SELECT col_default_is('homebot', 'invitations', 'id', 'gen_random_uuid()', 'invitations: id defaults to a random UUID');
SELECT results_eq(
	$$SELECT array_to_string(ARRAY(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY AS k (n, i)
	                               JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n ORDER BY k.i), ',') COLLATE "default",
	         c.confrelid::regclass::text, c.confdeltype::text
	    FROM pg_constraint c WHERE c.conrelid = 'homebot.invitations'::regclass AND c.contype = 'f' ORDER BY 2$$,
	$$VALUES ('organization_id,user_id'::text, 'homebot.memberships'::text, 'c'::text),
	         ('created_by', 'homebot.users', 'n')$$,
	'invitations: (organization_id, user_id) references memberships ON DELETE CASCADE, created_by users ON DELETE SET NULL');
SELECT is(
	(SELECT pg_get_indexdef(indexrelid) FROM pg_index WHERE indexrelid = 'homebot.invitations_organization_id_user_id_idx'::regclass),
	'CREATE INDEX invitations_organization_id_user_id_idx ON homebot.invitations USING btree (organization_id, user_id)',
	'invitations has the tenant index (organization_id, user_id), which also serves the cascade');
SELECT is(
	(SELECT pg_get_indexdef(indexrelid) FROM pg_index WHERE indexrelid = 'homebot.invitations_token_hash_key'::regclass),
	'CREATE UNIQUE INDEX invitations_token_hash_key ON homebot.invitations USING btree (token_hash)',
	'invitation token hashes are unique (invitations_token_hash_key)');
SELECT is(
	(SELECT relrowsecurity AND relforcerowsecurity FROM pg_class WHERE oid = 'homebot.invitations'::regclass),
	true, 'invitations has row-level security enabled and forced');
SELECT policies_are('homebot', 'invitations', ARRAY['invitations_tenant', 'definer_access', 'admin_access'],
	'invitations: the tenant policy, definer_access and admin_access');

-- audit_log: the indexes of the audit-log filters and of the platform log.
SELECT is(
	(SELECT pg_get_indexdef(indexrelid) FROM pg_index
	  WHERE indexrelid = 'homebot.audit_log_organization_id_action_occurred_at_idx'::regclass),
	'CREATE INDEX audit_log_organization_id_action_occurred_at_idx ON homebot.audit_log USING btree (organization_id, action, occurred_at DESC, id DESC)',
	'audit_log has an index on (organization_id, action, occurred_at DESC, id DESC)');
SELECT is(
	(SELECT pg_get_indexdef(indexrelid) FROM pg_index
	  WHERE indexrelid = 'homebot.audit_log_organization_id_actor_id_occurred_at_idx'::regclass),
	'CREATE INDEX audit_log_organization_id_actor_id_occurred_at_idx ON homebot.audit_log USING btree (organization_id, actor_id, occurred_at DESC, id DESC)',
	'audit_log has an index on (organization_id, actor_id, occurred_at DESC, id DESC)');
SELECT is(
	(SELECT pg_get_indexdef(indexrelid) FROM pg_index WHERE indexrelid = 'homebot.audit_log_occurred_at_idx'::regclass),
	'CREATE INDEX audit_log_occurred_at_idx ON homebot.audit_log USING btree (occurred_at DESC, id DESC)',
	'audit_log has an index on (occurred_at DESC, id DESC) for the platform audit log');

-- admin_access: on exactly these tables, for homebot_admin alone, open.
SELECT set_has(
	$$SELECT polrelid::regclass::text FROM pg_policy WHERE polname = 'admin_access'$$,
	$$VALUES ('homebot.organizations'), ('homebot.users'), ('homebot.memberships'), ('homebot.sessions'),
	         ('homebot.api_keys'), ('homebot.audit_log'), ('homebot.invitations'), ('homebot.user_permissions')$$,
	'admin_access is on organizations, users, memberships, sessions, api_keys, audit_log, invitations and user_permissions');
SELECT is_empty(
	$$SELECT polrelid::regclass FROM pg_policy
	   WHERE polname = 'admin_access' AND polrelid IN ('homebot.refresh_tokens'::regclass, 'homebot.permissions'::regclass,
	                                                    'homebot.role_permissions'::regclass)$$,
	'admin_access is not on refresh_tokens (nor on the unprotected reference tables)');
SELECT is_empty(
	$$SELECT polrelid::regclass FROM pg_policy
	   WHERE polname = 'admin_access'
	     AND NOT (polpermissive AND polcmd = '*' AND polroles = ARRAY['homebot_admin'::regrole]::oid[]
	              AND pg_get_expr(polqual, polrelid) = 'true' AND pg_get_expr(polwithcheck, polrelid) = 'true')$$,
	'every admin_access policy is permissive, for all commands, USING (true) WITH CHECK (true), TO homebot_admin only');
SELECT is_empty(
	$$SELECT polrelid::regclass, polname FROM pg_policy
	   WHERE 'homebot_admin'::regrole = ANY (polroles) AND polname <> 'admin_access'$$,
	'no other policy names homebot_admin');
SELECT is_empty(
	$$SELECT polrelid::regclass, polname FROM pg_policy
	   WHERE pg_get_expr(polqual, polrelid) = 'true'
	     AND (0::oid = ANY (polroles) OR 'homebot_app'::regrole = ANY (polroles))$$,
	'no USING (true) policy applies to PUBLIC or homebot_app');

-- Grants: homebot_app has nothing on invitations.
SELECT table_privs_are('homebot', 'invitations', 'homebot_app', '{}'::text[],
	'homebot_app has no table privilege on invitations');
SELECT ok(NOT has_any_column_privilege('homebot_app', 'homebot.invitations', 'SELECT, INSERT, UPDATE, REFERENCES'),
	'homebot_app has no column privilege on invitations');

-- Grants: homebot_admin, table by table (the tables as of 0003).
SELECT table_privs_are('homebot', t, 'homebot_admin', ARRAY['SELECT'], 'homebot_admin may only read ' || t || ' as a whole')
  FROM unnest(ARRAY['organizations', 'memberships', 'sessions', 'api_keys', 'role_permissions',
                    'user_permissions', 'permissions']) AS t;
SELECT table_privs_are('homebot', 'audit_log', 'homebot_admin', ARRAY['SELECT', 'INSERT'],
	'homebot_admin may read and append to the audit log, never update, delete or truncate it');
SELECT table_privs_are('homebot', t, 'homebot_admin', '{}'::text[], 'homebot_admin has no table privilege on ' || t)
  FROM unnest(ARRAY['users', 'invitations', 'refresh_tokens', 'login_attempts', 'auth_rate_limits']) AS t;
SELECT is(
	ARRAY(SELECT a.attname::text FROM pg_attribute a
	       WHERE a.attrelid = 'homebot.users'::regclass AND a.attnum > 0 AND NOT a.attisdropped
	         AND has_column_privilege('homebot_admin', a.attrelid, a.attnum, 'SELECT')
	       ORDER BY a.attnum),
	ARRAY['id', 'email', 'full_name', 'is_superadmin', 'disabled_at', 'created_at', 'updated_at', 'email_verified_at', 'mfa_enabled_at'],
	'homebot_admin may read every column of users but password_hash (email_verified_at: 0005, mfa_enabled_at: 0015)');
SELECT set_eq(
	$$SELECT c.relname::text COLLATE "default", a.attname::text COLLATE "default"
	    FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
	   WHERE c.relnamespace = 'homebot'::regnamespace AND c.relkind IN ('r', 'p')
	     AND c.relname IN ('organizations', 'users', 'memberships', 'permissions', 'role_permissions', 'user_permissions', 'sessions',
	                       'refresh_tokens', 'api_keys', 'login_attempts', 'auth_rate_limits', 'audit_log', 'invitations',
	                       'login_attempts_id_seq')
	     AND has_column_privilege('homebot_admin', c.oid, a.attnum, 'UPDATE')$$,
	$$VALUES ('organizations', 'suspended_at'), ('organizations', 'updated_at'),
	         ('users', 'disabled_at'), ('users', 'updated_at'), ('sessions', 'revoked_at')$$,
	'homebot_admin may update exactly: organizations (suspended_at, updated_at), users (disabled_at, updated_at), sessions (revoked_at)');
SELECT set_eq(
	$$SELECT c.relname::text COLLATE "default" FROM pg_class c
	   WHERE c.relnamespace = 'homebot'::regnamespace AND c.relkind IN ('r', 'p', 'S')
	     AND c.relname IN ('organizations', 'users', 'memberships', 'permissions', 'role_permissions', 'user_permissions', 'sessions',
	                       'refresh_tokens', 'api_keys', 'login_attempts', 'auth_rate_limits', 'audit_log', 'invitations',
	                       'login_attempts_id_seq')
	     AND (has_table_privilege('homebot_admin', c.oid, 'INSERT, DELETE, TRUNCATE, REFERENCES, TRIGGER')
	          OR has_any_column_privilege('homebot_admin', c.oid, 'INSERT, REFERENCES'))$$,
	$$VALUES ('audit_log')$$,
	'homebot_admin may insert into the audit log and nowhere else, and delete or truncate nothing');
SELECT ok(NOT has_sequence_privilege('homebot_admin', 'homebot.login_attempts_id_seq', 'USAGE, SELECT, UPDATE'),
	'homebot_admin has no privilege on login_attempts'' sequence');

-- Functions: SECURITY DEFINER, fixed search_path, never PUBLIC, executable
-- by exactly the roles the contract names.
CREATE TEMP TABLE orgs_functions (sig regprocedure, app boolean, admin boolean);
INSERT INTO orgs_functions VALUES
	('homebot.audit_redact(jsonb)', false, false),
	('homebot.audit_row()', false, false),
	('homebot.slug_for(text)', false, false),
	('homebot.insert_organization(text, text)', false, false),
	('homebot.find_or_create_user(text)', false, false),
	('homebot.create_organization(uuid, text, text)', true, false),
	('homebot.user_organizations(uuid, timestamptz, uuid, integer)', true, false),
	('homebot.invite_member(text, text, bytea, integer, integer)', true, false),
	('homebot.resend_invite(uuid, bytea, integer, integer)', true, false),
	('homebot.invitation_lookup(bytea)', true, false),
	('homebot.accept_invite(bytea, uuid, uuid, text, text, text, text, text, text, bytea, integer)', true, false),
	('homebot.user_invitations(uuid, timestamptz, uuid, integer)', true, false),
	('homebot.change_member_role(uuid, text)', true, false),
	('homebot.remove_member(uuid)', true, false),
	('homebot.admin_create_organization(text, text, text, bytea, integer, uuid, text, text, text, integer)', false, true),
	('homebot.ensure_superadmin(text, text)', false, false),
	('homebot.admin_unlock(text)', false, true);

SELECT is(
	(SELECT coalesce(array_agg(p.oid::regprocedure::text ORDER BY p.oid::regprocedure::text), '{}')
	   FROM pg_proc p
	  WHERE p.pronamespace = 'homebot'::regnamespace
	    AND ((NOT p.prosecdef AND p.oid NOT IN ('homebot.authenticate_session(uuid, uuid, uuid)'::regprocedure,
	                                            'homebot.secret_create(uuid, uuid, uuid, text, text, bytea, text, bytea)'::regprocedure,
	                                            'homebot.request_context(text, text, text, text, text, text, text, text, text, text)'::regprocedure))
	         OR p.proconfig IS DISTINCT FROM
	            ARRAY['search_path=pg_catalog, homebot, pg_temp']
	            || CASE WHEN p.oid IN ('homebot.event_claim(text, integer, bigint[], integer, bigint)'::regprocedure,
	                                   'homebot.event_release(bigint[], text)'::regprocedure,
	                                   'homebot.job_claim(text, integer, uuid[], integer)'::regprocedure)
	                    THEN ARRAY['enable_seqscan=off'] ELSE '{}' END)),
	'{}'::text[],
	'every function of schema homebot is SECURITY DEFINER with search_path = pg_catalog, homebot, pg_temp, but authenticate_session and secret_create, which run under the caller''s row-level security (23_authenticate_session.sql, 32_secrets.sql), and request_context, which sets its caller''s own settings (15_audit_context.sql); event_claim, event_release and job_claim also turn sequential scans off (28_events.sql, 19_jobs.sql)');
SELECT is(
	(SELECT coalesce(array_agg(p.oid::regprocedure::text ORDER BY p.oid::regprocedure::text), '{}')
	   FROM pg_proc p
	  WHERE p.pronamespace = 'homebot'::regnamespace
	    AND (p.proacl IS NULL OR EXISTS (SELECT FROM aclexplode(p.proacl) a WHERE a.grantee = 0))),
	'{}'::text[],
	'no function of schema homebot is executable by PUBLIC');
SELECT is(
	(SELECT coalesce(array_agg(f.sig::text ORDER BY f.sig::text), '{}') FROM orgs_functions f
	  WHERE has_function_privilege('homebot_app', f.sig, 'EXECUTE') IS DISTINCT FROM f.app),
	'{}'::text[],
	'homebot_app may execute exactly create_organization, user_organizations, invite_member, resend_invite, invitation_lookup, accept_invite, user_invitations, change_member_role and remove_member');
SELECT is(
	(SELECT coalesce(array_agg(f.sig::text ORDER BY f.sig::text), '{}') FROM orgs_functions f
	  WHERE has_function_privilege('homebot_admin', f.sig, 'EXECUTE') IS DISTINCT FROM f.admin),
	'{}'::text[],
	'homebot_admin may execute exactly admin_create_organization and admin_unlock');
SELECT is(
	(SELECT coalesce(array_agg(f.sig::text ORDER BY f.sig::text), '{}')
	   FROM orgs_functions f JOIN pg_proc p ON p.oid = f.sig
	  WHERE EXISTS (SELECT FROM aclexplode(p.proacl) a
	                 WHERE a.grantee <> p.proowner
	                   AND a.grantee NOT IN ('homebot_app'::regrole, 'homebot_admin'::regrole))),
	'{}'::text[],
	'no 0003 function is granted to anyone but the runtime roles (ensure_superadmin: the owner alone)');
SELECT is((SELECT provolatile::text FROM pg_proc WHERE oid = 'homebot.user_organizations(uuid, timestamptz, uuid, integer)'::regprocedure),
	's', 'user_organizations is STABLE (it only reads)');

-- The audit triggers.
SELECT set_eq(
	$$SELECT tgrelid::regclass::text, tgname::text COLLATE "default", tgtype::int, tgenabled::text, tgqual IS NOT NULL,
	         substring(pg_get_triggerdef(oid) FROM 'EXECUTE FUNCTION homebot\.audit_row\((.*)\)$')
	    FROM pg_trigger WHERE tgfoid = 'homebot.audit_row()'::regprocedure
	     AND tgrelid IN ('homebot.organizations'::regclass, 'homebot.users'::regclass, 'homebot.memberships'::regclass,
	                     'homebot.user_permissions'::regclass, 'homebot.sessions'::regclass,
	                     'homebot.refresh_tokens'::regclass, 'homebot.api_keys'::regclass,
	                     'homebot.invitations'::regclass)$$,
	$$VALUES ('homebot.organizations'::text, 'audit_row'::text, 13, 'O'::text, false, '''id'', ''id'''::text),
	         ('homebot.organizations', 'audit_row_update', 17, 'O', true, '''id'', ''id'''),
	         ('homebot.users', 'audit_row', 13, 'O', false, ''''', ''id'''),
	         ('homebot.users', 'audit_row_update', 17, 'O', true, ''''', ''id'''),
	         ('homebot.memberships', 'audit_row', 13, 'O', false, '''organization_id'', ''user_id'''),
	         ('homebot.memberships', 'audit_row_update', 17, 'O', true, '''organization_id'', ''user_id'''),
	         ('homebot.user_permissions', 'audit_row', 13, 'O', false, '''organization_id'', ''user_id'''),
	         ('homebot.user_permissions', 'audit_row_update', 17, 'O', true, '''organization_id'', ''user_id'''),
	         ('homebot.sessions', 'audit_row', 13, 'O', false, '''organization_id'', ''id'''),
	         ('homebot.sessions', 'audit_row_update', 17, 'O', true, '''organization_id'', ''id'''),
	         ('homebot.refresh_tokens', 'audit_row', 13, 'O', false, '''organization_id'', ''id'''),
	         ('homebot.refresh_tokens', 'audit_row_update', 17, 'O', true, '''organization_id'', ''id'''),
	         ('homebot.api_keys', 'audit_row', 13, 'O', false, '''organization_id'', ''id'''),
	         ('homebot.api_keys', 'audit_row_update', 17, 'O', true, '''organization_id'', ''id'''),
	         ('homebot.invitations', 'audit_row', 13, 'O', false, '''organization_id'', ''id'''),
	         ('homebot.invitations', 'audit_row_update', 17, 'O', true, '''organization_id'', ''id''')$$,
	'each audited table has an AFTER INSERT OR DELETE and an AFTER UPDATE (with WHEN) row trigger calling audit_row, enabled, with its columns');
-- Future tables too: every tenant table but the log itself is audited, and
-- the job queue and the event outbox: their rows are their own
-- bookkeeping, changed by every attempt, and the request that enqueued a
-- job is audited itself, as is each event (it is an audit row); and
-- member_access, whose rows are derived from audited writes, in their
-- transaction (R__access.sql).
SELECT is(
	(SELECT coalesce(array_agg(c.oid::regclass::text ORDER BY c.oid::regclass::text), '{}')
	   FROM pg_class c
	   JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'organization_id' AND a.attnum > 0 AND NOT a.attisdropped
	  WHERE c.relnamespace = 'homebot'::regnamespace AND c.relkind IN ('r', 'p')
	    AND c.oid NOT IN ('homebot.audit_log'::regclass, 'homebot.jobs'::regclass,
	                      'homebot.event_outbox'::regclass, 'homebot.member_access'::regclass)
	    AND (SELECT count(*) FROM pg_trigger t WHERE t.tgrelid = c.oid AND t.tgfoid = 'homebot.audit_row()'::regprocedure
	                                         AND t.tgenabled = 'O') <> 2),
	'{}'::text[],
	'every tenant table (but audit_log, jobs, event_outbox and member_access) has both audit triggers');
SELECT is(
	(SELECT pg_get_triggerdef(oid) FROM pg_trigger
	  WHERE tgrelid = 'homebot.sessions'::regclass AND tgname = 'audit_row_update'),
	'CREATE TRIGGER audit_row_update AFTER UPDATE ON homebot.sessions FOR EACH ROW WHEN (((to_jsonb(old.*) - ''last_used_at''::text) IS DISTINCT FROM (to_jsonb(new.*) - ''last_used_at''::text))) EXECUTE FUNCTION homebot.audit_row(''organization_id'', ''id'')',
	'sessions: an update of last_used_at alone does not fire the audit trigger');
SELECT is(
	(SELECT pg_get_triggerdef(oid) FROM pg_trigger
	  WHERE tgrelid = 'homebot.api_keys'::regclass AND tgname = 'audit_row_update'),
	'CREATE TRIGGER audit_row_update AFTER UPDATE ON homebot.api_keys FOR EACH ROW WHEN (((to_jsonb(old.*) - ''last_used_at''::text) IS DISTINCT FROM (to_jsonb(new.*) - ''last_used_at''::text))) EXECUTE FUNCTION homebot.audit_row(''organization_id'', ''id'')',
	'api_keys: an update of last_used_at alone does not fire the audit trigger');

-- Seed.
INSERT INTO homebot.organizations (id, name, slug) VALUES
	('00000000-0000-4000-8000-00000000100a', 'Org 10A', 'pgtap-10-a'),
	('00000000-0000-4000-8000-00000000100b', 'Org 10B', 'pgtap-10-b');
INSERT INTO homebot.users (id, email, password_hash, full_name) VALUES
	('00000000-0000-4000-8000-0000000010e1', 'pgtap-10-x@example.test', '$2b$12$pgtap10x', 'X'),
	('00000000-0000-4000-8000-0000000010e2', 'pgtap-10-n@example.test', NULL, ''),
	('00000000-0000-4000-8000-0000000010f1', 'pgtap-10-y@example.test', '$2b$12$pgtap10y', 'Y'),
	('00000000-0000-4000-8000-0000000010f2', 'pgtap-10-m@example.test', NULL, '');
INSERT INTO homebot.memberships (organization_id, user_id, role, status) VALUES
	('00000000-0000-4000-8000-00000000100a', '00000000-0000-4000-8000-0000000010e1', 'owner', 'active'),
	('00000000-0000-4000-8000-00000000100a', '00000000-0000-4000-8000-0000000010e2', 'member', 'invited'),
	('00000000-0000-4000-8000-00000000100b', '00000000-0000-4000-8000-0000000010f1', 'owner', 'active'),
	('00000000-0000-4000-8000-00000000100b', '00000000-0000-4000-8000-0000000010f2', 'member', 'invited');
INSERT INTO homebot.invitations (id, organization_id, user_id, token_hash, created_by, expires_at) VALUES
	('00000000-0000-4000-8000-0000000010d1', '00000000-0000-4000-8000-00000000100a',
	 '00000000-0000-4000-8000-0000000010e2', sha256('pgtap-10-invite-a'), '00000000-0000-4000-8000-0000000010e1',
	 now() + interval '7 days'),
	('00000000-0000-4000-8000-0000000010d2', '00000000-0000-4000-8000-00000000100b',
	 '00000000-0000-4000-8000-0000000010f2', sha256('pgtap-10-invite-b'), '00000000-0000-4000-8000-0000000010f1',
	 now() + interval '7 days');
INSERT INTO homebot.sessions (id, organization_id, user_id) VALUES
	('00000000-0000-4000-8000-0000000010c1', '00000000-0000-4000-8000-00000000100a', '00000000-0000-4000-8000-0000000010e1'),
	('00000000-0000-4000-8000-0000000010c2', '00000000-0000-4000-8000-00000000100b', '00000000-0000-4000-8000-0000000010f1');
INSERT INTO homebot.login_attempts (email, succeeded) VALUES ('pgtap-10-y@example.test', false);
INSERT INTO homebot.audit_log (id, organization_id, actor_type, action) VALUES
	('00000000-0000-4000-8000-0000000010a1', '00000000-0000-4000-8000-00000000100a', 'system', 'pgtap.10.a'),
	('00000000-0000-4000-8000-0000000010a2', '00000000-0000-4000-8000-00000000100b', 'system', 'pgtap.10.b'),
	('00000000-0000-4000-8000-0000000010a3', NULL, 'system', 'pgtap.10.platform');

-- invitations constraints (as the owner: they hold for every writer).
SELECT throws_ok(
	$$INSERT INTO homebot.invitations (organization_id, user_id, token_hash, expires_at)
	  VALUES ('00000000-0000-4000-8000-00000000100a', '00000000-0000-4000-8000-0000000010e2', '\x0011', now())$$,
	'23514', NULL, 'an invitation token hash is 32 bytes');
SELECT throws_ok(
	$$INSERT INTO homebot.invitations (organization_id, user_id, token_hash, expires_at)
	  VALUES ('00000000-0000-4000-8000-00000000100a', '00000000-0000-4000-8000-0000000010e2',
	          sha256('pgtap-10-invite-b'), now())$$,
	'23505', NULL, 'invitation token hashes are unique, across organizations too');
SELECT throws_ok(
	$$INSERT INTO homebot.invitations (organization_id, user_id, token_hash, expires_at)
	  VALUES ('00000000-0000-4000-8000-00000000100a', '00000000-0000-4000-8000-0000000010f2',
	          sha256('pgtap-10-invite-c'), now())$$,
	'23503', NULL, 'an invitation needs a membership in its organization (M is only in B)');
SELECT throws_ok(
	$$INSERT INTO homebot.invitations (organization_id, user_id, token_hash)
	  VALUES ('00000000-0000-4000-8000-00000000100a', '00000000-0000-4000-8000-0000000010e2', sha256('pgtap-10-invite-d'))$$,
	'23502', NULL, 'an invitation has an expiry');

-- A role that may do everything on invitations, to show that the policies
-- themselves, not only the missing grants, keep organizations apart.
CREATE ROLE pgtap_10_invitations NOLOGIN NOSUPERUSER NOBYPASSRLS;
GRANT USAGE ON SCHEMA homebot TO pgtap_10_invitations;
GRANT SELECT, INSERT, UPDATE, DELETE ON homebot.invitations TO pgtap_10_invitations;

-- homebot_app: refused outright, with context or without.
SET LOCAL ROLE homebot_app;
SELECT set_config('app.org_id', '', true);
SELECT throws_ok('SELECT * FROM homebot.invitations', '42501', 'permission denied for table invitations',
	'homebot_app without context cannot read invitations');
SELECT set_config('app.org_id', '00000000-0000-4000-8000-00000000100a', true);
SELECT throws_ok('SELECT * FROM homebot.invitations', '42501', 'permission denied for table invitations',
	'homebot_app with context A cannot read invitations, not even A''s');
SELECT throws_ok(
	$$INSERT INTO homebot.invitations (organization_id, user_id, token_hash, expires_at)
	  VALUES ('00000000-0000-4000-8000-00000000100a', '00000000-0000-4000-8000-0000000010e2',
	          sha256('pgtap-10-app'), now() + interval '1 day')$$,
	'42501', 'permission denied for table invitations', 'homebot_app with context A cannot create an invitation in A');
SELECT throws_ok($$UPDATE homebot.invitations SET used_at = now()$$, '42501',
	'permission denied for table invitations', 'homebot_app cannot mark invitations used');
SELECT throws_ok($$DELETE FROM homebot.invitations$$, '42501',
	'permission denied for table invitations', 'homebot_app cannot delete invitations');
SELECT throws_ok('TRUNCATE homebot.invitations', '42501', 'permission denied for table invitations',
	'homebot_app cannot truncate invitations');

-- The policies, with every privilege granted.
RESET ROLE;
SET LOCAL ROLE pgtap_10_invitations;
SELECT set_config('app.org_id', '', true);
SELECT is_empty('SELECT * FROM homebot.invitations', 'no context: no invitation is visible');
SELECT throws_ok(
	$$INSERT INTO homebot.invitations (organization_id, user_id, token_hash, expires_at)
	  VALUES ('00000000-0000-4000-8000-00000000100a', '00000000-0000-4000-8000-0000000010e2',
	          sha256('pgtap-10-none'), now() + interval '1 day')$$,
	'42501', 'new row violates row-level security policy for table "invitations"',
	'no context: creating an invitation is refused');
SELECT is_empty($$UPDATE homebot.invitations SET used_at = now() RETURNING id$$,
	'no context: marking invitations used touches no row');
SELECT is_empty($$DELETE FROM homebot.invitations RETURNING id$$,
	'no context: deleting invitations touches no row');

SELECT set_config('app.org_id', '00000000-0000-4000-8000-00000000100a', true);
SELECT results_eq('SELECT id FROM homebot.invitations',
	$$VALUES ('00000000-0000-4000-8000-0000000010d1'::uuid)$$,
	'context A: exactly A''s invitation is visible');
SELECT is_empty(
	$$SELECT * FROM homebot.invitations WHERE id = '00000000-0000-4000-8000-0000000010d2'
	     OR token_hash = sha256('pgtap-10-invite-b')$$,
	'context A: B''s invitation is invisible even when asked for by id or token hash');
SELECT throws_ok(
	$$INSERT INTO homebot.invitations (organization_id, user_id, token_hash, expires_at)
	  VALUES ('00000000-0000-4000-8000-00000000100b', '00000000-0000-4000-8000-0000000010f2',
	          sha256('pgtap-10-intruder'), now() + interval '1 day')$$,
	'42501', 'new row violates row-level security policy for table "invitations"',
	'context A: creating an invitation in B is refused');
SELECT is_empty(
	$$UPDATE homebot.invitations SET expires_at = now() + interval '1 year'
	   WHERE id = '00000000-0000-4000-8000-0000000010d2' RETURNING id$$,
	'context A: extending B''s invitation touches no row');
SELECT is_empty(
	$$DELETE FROM homebot.invitations WHERE id = '00000000-0000-4000-8000-0000000010d2' RETURNING id$$,
	'context A: deleting B''s invitation touches no row');
SELECT throws_ok(
	$$UPDATE homebot.invitations SET organization_id = '00000000-0000-4000-8000-00000000100b'
	   WHERE id = '00000000-0000-4000-8000-0000000010d1'$$,
	'42501', 'new row violates row-level security policy for table "invitations"',
	'context A: moving A''s invitation into B is refused');
SELECT results_eq(
	$$UPDATE homebot.invitations SET expires_at = now() + interval '1 day'
	   WHERE id = '00000000-0000-4000-8000-0000000010d1' RETURNING id$$,
	$$VALUES ('00000000-0000-4000-8000-0000000010d1'::uuid)$$,
	'context A: A''s invitation can be changed');

-- The audit log is append-only for both runtime roles.
RESET ROLE;
SET LOCAL ROLE homebot_app;
SELECT set_config('app.org_id', '00000000-0000-4000-8000-00000000100a', true);
SELECT lives_ok(
	$$INSERT INTO homebot.audit_log (organization_id, actor_type, action)
	  VALUES ('00000000-0000-4000-8000-00000000100a', 'system', 'pgtap.10.app-appended')$$,
	'homebot_app appends an event to its own organization');
SELECT throws_ok(
	$$INSERT INTO homebot.audit_log (organization_id, actor_type, action)
	  VALUES ('00000000-0000-4000-8000-00000000100b', 'system', 'pgtap.10.app-forged')$$,
	'42501', 'new row violates row-level security policy for table "audit_log"',
	'homebot_app cannot append an event to another organization');
SELECT throws_ok(
	$$UPDATE homebot.audit_log SET action = 'pgtap.10.rewritten' WHERE id = '00000000-0000-4000-8000-0000000010a1'$$,
	'42501', 'permission denied for table audit_log', 'homebot_app cannot update its own organization''s events');
SELECT throws_ok(
	$$DELETE FROM homebot.audit_log WHERE id = '00000000-0000-4000-8000-0000000010a1'$$,
	'42501', 'permission denied for table audit_log', 'homebot_app cannot delete its own organization''s events');
SELECT set_config('app.org_id', '', true);
SELECT throws_ok($$UPDATE homebot.audit_log SET action = 'pgtap.10.rewritten'$$,
	'42501', 'permission denied for table audit_log', 'homebot_app without context cannot update events either');
SELECT throws_ok($$DELETE FROM homebot.audit_log$$,
	'42501', 'permission denied for table audit_log', 'homebot_app without context cannot delete events either');

RESET ROLE;
SET LOCAL ROLE homebot_admin;
SELECT lives_ok(
	$$INSERT INTO homebot.audit_log (organization_id, actor_type, actor_id, action)
	  VALUES ('00000000-0000-4000-8000-00000000100b', 'user', '00000000-0000-4000-8000-0000000010e1',
	          'pgtap.10.admin-org')$$,
	'homebot_admin appends an event to any organization (admin.organization.suspended and the like)');
SELECT lives_ok(
	$$INSERT INTO homebot.audit_log (organization_id, actor_type, actor_id, action)
	  VALUES (NULL, 'user', '00000000-0000-4000-8000-0000000010e1', 'pgtap.10.admin-platform')$$,
	'homebot_admin appends a platform event (admin.user.disabled and the like)');
SELECT throws_ok(
	$$UPDATE homebot.audit_log SET action = 'pgtap.10.rewritten' WHERE id = '00000000-0000-4000-8000-0000000010a3'$$,
	'42501', 'permission denied for table audit_log', 'homebot_admin cannot update events');
SELECT throws_ok(
	$$DELETE FROM homebot.audit_log WHERE id = '00000000-0000-4000-8000-0000000010a3'$$,
	'42501', 'permission denied for table audit_log', 'homebot_admin cannot delete events');
SELECT throws_ok('TRUNCATE homebot.audit_log', '42501', 'permission denied for table audit_log',
	'homebot_admin cannot truncate the audit log');

-- homebot_admin sees every organization, without any tenant context.
SELECT ok(NULLIF(current_setting('app.org_id', true), '') IS NULL, 'precondition: no tenant context');
SELECT set_eq($$SELECT action FROM homebot.audit_log WHERE action LIKE 'pgtap.10.%'$$,
	$$VALUES ('pgtap.10.a'), ('pgtap.10.b'), ('pgtap.10.platform'), ('pgtap.10.app-appended'),
	         ('pgtap.10.admin-org'), ('pgtap.10.admin-platform')$$,
	'homebot_admin reads the events of every organization and the platform events');
SELECT set_eq($$SELECT id FROM homebot.organizations WHERE slug LIKE 'pgtap-10-%'$$,
	$$VALUES ('00000000-0000-4000-8000-00000000100a'::uuid), ('00000000-0000-4000-8000-00000000100b'::uuid)$$,
	'homebot_admin sees every organization');
SELECT is((SELECT count(*)::int FROM homebot.memberships WHERE organization_id::text LIKE '%-00000000100_'), 4,
	'homebot_admin sees every membership');
SELECT set_eq($$SELECT id, email FROM homebot.users WHERE email LIKE 'pgtap-10-%'$$,
	$$VALUES ('00000000-0000-4000-8000-0000000010e1'::uuid, 'pgtap-10-x@example.test'::text),
	         ('00000000-0000-4000-8000-0000000010e2', 'pgtap-10-n@example.test'),
	         ('00000000-0000-4000-8000-0000000010f1', 'pgtap-10-y@example.test'),
	         ('00000000-0000-4000-8000-0000000010f2', 'pgtap-10-m@example.test')$$,
	'homebot_admin finds users of every organization by email');
SELECT is((SELECT count(*)::int FROM homebot.sessions WHERE id::text LIKE '%-0000000010c_'), 2,
	'homebot_admin sees every session');
SELECT throws_ok($$SELECT password_hash FROM homebot.users WHERE email LIKE 'pgtap-10-%'$$,
	'42501', 'permission denied for table users', 'homebot_admin cannot read password hashes');
SELECT throws_ok($$SELECT * FROM homebot.invitations$$, '42501', 'permission denied for table invitations',
	'homebot_admin cannot read invitations');
SELECT throws_ok($$SELECT * FROM homebot.refresh_tokens$$, '42501', 'permission denied for table refresh_tokens',
	'homebot_admin cannot read refresh tokens');
SELECT throws_ok($$SELECT * FROM homebot.login_attempts$$, '42501', 'permission denied for table login_attempts',
	'homebot_admin cannot read login attempts');
SELECT throws_ok($$DELETE FROM homebot.login_attempts$$, '42501', 'permission denied for table login_attempts',
	'homebot_admin cannot delete login attempts (admin_unlock does, for one email)');

-- What it may change, and what not.
SELECT results_eq(
	$$UPDATE homebot.organizations SET suspended_at = now(), updated_at = now()
	   WHERE id = '00000000-0000-4000-8000-00000000100b' RETURNING id$$,
	$$VALUES ('00000000-0000-4000-8000-00000000100b'::uuid)$$,
	'homebot_admin suspends an organization');
SELECT results_eq(
	$$UPDATE homebot.users SET disabled_at = now(), updated_at = now()
	   WHERE id = '00000000-0000-4000-8000-0000000010f1' RETURNING id$$,
	$$VALUES ('00000000-0000-4000-8000-0000000010f1'::uuid)$$,
	'homebot_admin disables a user');
SELECT results_eq(
	$$UPDATE homebot.sessions SET revoked_at = now()
	   WHERE user_id = '00000000-0000-4000-8000-0000000010f1' AND revoked_at IS NULL RETURNING id$$,
	$$VALUES ('00000000-0000-4000-8000-0000000010c2'::uuid)$$,
	'homebot_admin revokes a user''s sessions');
SELECT throws_ok($$UPDATE homebot.organizations SET name = 'taken over' WHERE id = '00000000-0000-4000-8000-00000000100a'$$,
	'42501', 'permission denied for table organizations', 'homebot_admin cannot rename an organization');
SELECT throws_ok($$UPDATE homebot.users SET is_superadmin = true WHERE id = '00000000-0000-4000-8000-0000000010e1'$$,
	'42501', 'permission denied for table users', 'homebot_admin cannot make anyone superadmin');
SELECT throws_ok($$UPDATE homebot.users SET password_hash = 'x' WHERE id = '00000000-0000-4000-8000-0000000010e1'$$,
	'42501', 'permission denied for table users', 'homebot_admin cannot set a password');
SELECT throws_ok($$UPDATE homebot.users SET email = 'pgtap-10-z@example.test' WHERE id = '00000000-0000-4000-8000-0000000010e1'$$,
	'42501', 'permission denied for table users', 'homebot_admin cannot change an email');
SELECT throws_ok($$UPDATE homebot.sessions SET user_id = '00000000-0000-4000-8000-0000000010e1'$$,
	'42501', 'permission denied for table sessions', 'homebot_admin cannot move sessions');
SELECT throws_ok($$UPDATE homebot.memberships SET role = 'owner'$$,
	'42501', 'permission denied for table memberships', 'homebot_admin cannot change roles');
SELECT throws_ok($$DELETE FROM homebot.organizations WHERE id = '00000000-0000-4000-8000-00000000100a'$$,
	'42501', 'permission denied for table organizations', 'homebot_admin cannot delete organizations');
SELECT throws_ok($$INSERT INTO homebot.users (email) VALUES ('pgtap-10-new@example.test')$$,
	'42501', 'permission denied for table users', 'homebot_admin cannot create users (admin_create_organization does)');
SELECT throws_ok($$INSERT INTO homebot.memberships (organization_id, user_id, role)
	  VALUES ('00000000-0000-4000-8000-00000000100a', '00000000-0000-4000-8000-0000000010f1', 'owner')$$,
	'42501', 'permission denied for table memberships', 'homebot_admin cannot add members');

-- admin_access is homebot_admin's alone: homebot_app still sees only its tenant.
RESET ROLE;
SET LOCAL ROLE homebot_app;
SELECT set_config('app.org_id', '00000000-0000-4000-8000-00000000100a', true);
SELECT results_eq($$SELECT id FROM homebot.organizations$$,
	$$VALUES ('00000000-0000-4000-8000-00000000100a'::uuid)$$,
	'homebot_app with context A still sees organization A alone');
SELECT is_empty($$SELECT * FROM homebot.audit_log WHERE action IN ('pgtap.10.b', 'pgtap.10.platform', 'pgtap.10.admin-org')$$,
	'homebot_app with context A still sees none of B''s or the platform''s events');

-- As the superuser: B's invitation is untouched.
RESET ROLE;
SELECT results_eq(
	$$SELECT organization_id, user_id, token_hash, used_at, expires_at FROM homebot.invitations
	   WHERE id = '00000000-0000-4000-8000-0000000010d2'$$,
	$$VALUES ('00000000-0000-4000-8000-00000000100b'::uuid, '00000000-0000-4000-8000-0000000010f2'::uuid,
	          sha256('pgtap-10-invite-b'), NULL::timestamptz, now() + interval '7 days')$$,
	'B''s invitation is unchanged');
SELECT is((SELECT count(*)::int FROM homebot.invitations WHERE organization_id = '00000000-0000-4000-8000-00000000100b'),
	1, 'no invitation was added to B');

SELECT * FROM finish();
ROLLBACK;
