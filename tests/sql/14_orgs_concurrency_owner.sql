-- Two things a single test transaction cannot see by itself:
--
-- 1. Concurrency. Two more sessions (dblink connections to this database)
--    run the functions at the same time on committed rows: one holds its
--    transaction open while the other is shown to wait for it (in
--    pg_stat_activity) and then to get the answer the locks promise. Rows
--    these sessions commit are named pgtap-14-* and deleted again, before
--    and after, together with their audit events (as the superuser: the
--    runtime roles can never delete events).
--
-- 2. A non-superuser owner, as in 09_auth_definer_owner.sql: every table
--    and function of schema homebot is handed to pgtap_14_owner (neither
--    superuser nor BYPASSRLS) inside this transaction, and each 0003
--    function (and the email functions of 0005, whose email_tokens is
--    under FORCE ROW LEVEL SECURITY) and the audit triggers must still
--    work through the definer_access policies.
BEGIN;
SELECT plan(48);

CREATE EXTENSION IF NOT EXISTS dblink;

CREATE FUNCTION pg_temp.connect(p_name text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	PERFORM dblink_connect(p_name, format('dbname=%s user=%s host=%s port=%s application_name=%s',
	                                      current_database(), current_user,
	                                      split_part(current_setting('unix_socket_directories'), ',', 1),
	                                      current_setting('port'), p_name));
END
$$;

-- One text value from a query on a connection.
CREATE FUNCTION pg_temp.remote(p_conn text, p_sql text) RETURNS text LANGUAGE sql AS $$
	SELECT v FROM dblink(p_conn, p_sql) AS t (v text)
$$;

-- Opens a transaction on p_conn as homebot_app with the given context.
CREATE FUNCTION pg_temp.begin_app(p_conn text, p_org text, p_user text, p_request text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM dblink_exec(p_conn, 'BEGIN');
	PERFORM dblink_exec(p_conn, 'SET LOCAL ROLE homebot_app');
	PERFORM * FROM dblink(p_conn, format(
		'SELECT set_config(''app.org_id'', %L, true), set_config(''app.user_id'', %L, true), '
		'set_config(''app.request_id'', %L, true)', coalesce(p_org, ''), coalesce(p_user, ''), p_request))
		AS t (a text, b text, c text);
END
$$;

-- Whether the backend p_pid is (or within 30 seconds comes to be) waiting
-- for a lock: a deadline of the clock, not a count of naps, so a loaded
-- machine does not turn a wait into a failure.
CREATE FUNCTION pg_temp.waits_for_lock(p_pid integer) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
	deadline constant timestamptz := clock_timestamp() + interval '30 seconds';
BEGIN
	WHILE clock_timestamp() < deadline LOOP
		PERFORM pg_stat_clear_snapshot();
		IF EXISTS (SELECT FROM pg_stat_activity WHERE pid = p_pid AND wait_event_type = 'Lock') THEN
			RETURN true;
		END IF;
		PERFORM pg_sleep(0.01);
	END LOOP;
	RETURN false;
END
$$;

-- The value a query sent with dblink_send_query returned.
CREATE FUNCTION pg_temp.collect(p_conn text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	v_value text;
BEGIN
	SELECT t.v INTO v_value FROM dblink_get_result(p_conn) AS t (v text);
	PERFORM * FROM dblink_get_result(p_conn) AS t (v text);
	RETURN v_value;
END
$$;

CREATE FUNCTION pg_temp.cleanup() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	PERFORM * FROM dblink('pgtap14a', $sql$SELECT set_config('app.request_id', 'pgtap-14-cleanup', false)$sql$)
		AS t (v text);
	PERFORM dblink_exec('pgtap14a', $sql$
		DELETE FROM homebot.organizations WHERE slug LIKE 'pgtap-14-%';
		DELETE FROM homebot.users WHERE email LIKE 'pgtap-14-%';
		DELETE FROM homebot.audit_log WHERE request_id LIKE 'pgtap-14-%';
		DELETE FROM homebot.mail_sends WHERE email LIKE 'pgtap-14-%';
	$sql$);
	PERFORM * FROM dblink('pgtap14a', $sql$SELECT set_config('app.request_id', 'pgtap-14-seed', false)$sql$)
		AS t (v text);
END
$$;

SELECT pg_temp.connect('pgtap14a');
SELECT pg_temp.connect('pgtap14b');
CREATE TEMP TABLE pids AS
SELECT (SELECT pid FROM dblink('pgtap14a', 'SELECT pg_backend_pid()') AS t (pid integer)) AS a,
       (SELECT pid FROM dblink('pgtap14b', 'SELECT pg_backend_pid()') AS t (pid integer)) AS b;
SELECT pg_temp.cleanup();

-- Committed seed:
--   U1 (...14e1), U2 (...14e2): users
--   C (...140c): U1 owner; N (...14e3) invited, invitation 'pgtap-14-invite'
--   D (...140d): O1 (...14e4) and O2 (...14e5) owners
--   E (...140e): O3 (...14e6) and O4 (...14e7) owners
SELECT dblink_exec('pgtap14a', $$
	INSERT INTO homebot.organizations (id, name, slug) VALUES
		('00000000-0000-4000-8000-00000000140c', 'Org 14C', 'pgtap-14-c'),
		('00000000-0000-4000-8000-00000000140d', 'Org 14D', 'pgtap-14-d'),
		('00000000-0000-4000-8000-00000000140e', 'Org 14E', 'pgtap-14-e');
	INSERT INTO homebot.users (id, email) VALUES
		('00000000-0000-4000-8000-0000000014e1', 'pgtap-14-u1@example.test'),
		('00000000-0000-4000-8000-0000000014e2', 'pgtap-14-u2@example.test'),
		('00000000-0000-4000-8000-0000000014e3', 'pgtap-14-n@example.test'),
		('00000000-0000-4000-8000-0000000014e4', 'pgtap-14-o1@example.test'),
		('00000000-0000-4000-8000-0000000014e5', 'pgtap-14-o2@example.test'),
		('00000000-0000-4000-8000-0000000014e6', 'pgtap-14-o3@example.test'),
		('00000000-0000-4000-8000-0000000014e7', 'pgtap-14-o4@example.test');
	INSERT INTO homebot.memberships (organization_id, user_id, role, status) VALUES
		('00000000-0000-4000-8000-00000000140c', '00000000-0000-4000-8000-0000000014e1', 'owner', 'active'),
		('00000000-0000-4000-8000-00000000140c', '00000000-0000-4000-8000-0000000014e3', 'member', 'invited'),
		('00000000-0000-4000-8000-00000000140d', '00000000-0000-4000-8000-0000000014e4', 'owner', 'active'),
		('00000000-0000-4000-8000-00000000140d', '00000000-0000-4000-8000-0000000014e5', 'owner', 'active'),
		('00000000-0000-4000-8000-00000000140e', '00000000-0000-4000-8000-0000000014e6', 'owner', 'active'),
		('00000000-0000-4000-8000-00000000140e', '00000000-0000-4000-8000-0000000014e7', 'owner', 'active');
	INSERT INTO homebot.invitations (organization_id, user_id, token_hash, expires_at) VALUES
		('00000000-0000-4000-8000-00000000140c', '00000000-0000-4000-8000-0000000014e3', sha256('pgtap-14-invite'),
		 now() + interval '1 day');
$$);
SELECT is((SELECT count(*)::int FROM homebot.memberships WHERE user_id::text LIKE '%-0000000014e_'), 6,
	'precondition: the seed is committed (this transaction sees it)');

-- Two creations with the same slug: the second waits for the first, then
-- gets slug_taken.
SELECT pg_temp.begin_app('pgtap14a', NULL, '00000000-0000-4000-8000-0000000014e1', 'pgtap-14-race-a');
SELECT pg_temp.begin_app('pgtap14b', NULL, '00000000-0000-4000-8000-0000000014e2', 'pgtap-14-race-b');
SELECT is(pg_temp.remote('pgtap14a',
	$$SELECT status FROM homebot.create_organization('00000000-0000-4000-8000-0000000014e1', 'Race', 'pgtap-14-race')$$),
	'ok', 'slug race: the first creation of pgtap-14-race succeeds (not committed yet)');
SELECT dblink_send_query('pgtap14b',
	$$SELECT status FROM homebot.create_organization('00000000-0000-4000-8000-0000000014e2', 'Race', 'pgtap-14-race')$$);
SELECT ok(pg_temp.waits_for_lock((SELECT b FROM pids)), 'slug race: the second creation waits for the first');
SELECT dblink_exec('pgtap14a', 'COMMIT');
SELECT is(pg_temp.collect('pgtap14b'), 'slug_taken', 'slug race: once the first commits, the second gets slug_taken');
SELECT dblink_exec('pgtap14b', 'COMMIT');
SELECT results_eq(
	$$SELECT m.user_id FROM homebot.organizations o JOIN homebot.memberships m ON m.organization_id = o.id
	   WHERE o.slug = 'pgtap-14-race'$$,
	$$VALUES ('00000000-0000-4000-8000-0000000014e1'::uuid)$$,
	'slug race: one organization, the first caller its only member');

-- Two acceptances of one invitation: the second waits, then is invalid.
SELECT pg_temp.begin_app('pgtap14a', NULL, NULL, 'pgtap-14-accept-a');
SELECT pg_temp.begin_app('pgtap14b', NULL, NULL, 'pgtap-14-accept-b');
SELECT is(pg_temp.remote('pgtap14a',
	$$SELECT status FROM homebot.accept_invite(sha256('pgtap-14-invite'), NULL, NULL, '$2b$12$pgtap14first', NULL, 'First',
	                                           NULL, NULL, 'pgtap-14-accept-a', sha256('pgtap-14-refresh-a'), 3600)$$),
	'ok', 'invitation race: the first acceptance succeeds (not committed yet)');
SELECT dblink_send_query('pgtap14b',
	$$SELECT status FROM homebot.accept_invite(sha256('pgtap-14-invite'), NULL, NULL, '$2b$12$pgtap14second', NULL, 'Second',
	                                           NULL, NULL, 'pgtap-14-accept-b', sha256('pgtap-14-refresh-b'), 3600)$$);
SELECT ok(pg_temp.waits_for_lock((SELECT b FROM pids)), 'invitation race: the second acceptance waits for the first');
SELECT dblink_exec('pgtap14a', 'COMMIT');
SELECT is(pg_temp.collect('pgtap14b'), 'invalid', 'invitation race: once the first commits, the second is invalid');
SELECT dblink_exec('pgtap14b', 'COMMIT');
SELECT results_eq(
	$$SELECT u.password_hash, u.full_name, u.email_verified_at IS NOT NULL,
	         (SELECT count(*)::int FROM homebot.sessions s WHERE s.user_id = u.id)
	    FROM homebot.users u WHERE u.id = '00000000-0000-4000-8000-0000000014e3'$$,
	$$VALUES ('$2b$12$pgtap14first'::text, 'First'::text, true, 1)$$,
	'invitation race: the first acceptance''s password and name, the email verified, one session');

-- Two demotions of the last two owners: the second waits, then is refused.
SELECT pg_temp.begin_app('pgtap14a', '00000000-0000-4000-8000-00000000140d', '00000000-0000-4000-8000-0000000014e4', 'pgtap-14-demote-a');
SELECT pg_temp.begin_app('pgtap14b', '00000000-0000-4000-8000-00000000140d', '00000000-0000-4000-8000-0000000014e5', 'pgtap-14-demote-b');
SELECT is(pg_temp.remote('pgtap14a',
	$$SELECT status FROM homebot.change_member_role('00000000-0000-4000-8000-0000000014e4', 'admin')$$),
	'ok', 'demotion race: demoting O1 succeeds while O2 is an owner (not committed yet)');
SELECT dblink_send_query('pgtap14b',
	$$SELECT status FROM homebot.change_member_role('00000000-0000-4000-8000-0000000014e5', 'admin')$$);
SELECT ok(pg_temp.waits_for_lock((SELECT b FROM pids)), 'demotion race: demoting O2 waits for it');
SELECT dblink_exec('pgtap14a', 'COMMIT');
SELECT is(pg_temp.collect('pgtap14b'), 'last_owner', 'demotion race: once it commits, O2 is the last owner');
SELECT dblink_exec('pgtap14b', 'COMMIT');
SELECT results_eq(
	$$SELECT user_id, role FROM homebot.memberships WHERE organization_id = '00000000-0000-4000-8000-00000000140d'
	   ORDER BY user_id$$,
	$$VALUES ('00000000-0000-4000-8000-0000000014e4'::uuid, 'admin'::text),
	         ('00000000-0000-4000-8000-0000000014e5'::uuid, 'owner'::text)$$,
	'demotion race: D keeps one owner');

-- Two removals of the last two owners: the same.
SELECT pg_temp.begin_app('pgtap14a', '00000000-0000-4000-8000-00000000140e', '00000000-0000-4000-8000-0000000014e6', 'pgtap-14-remove-a');
SELECT pg_temp.begin_app('pgtap14b', '00000000-0000-4000-8000-00000000140e', '00000000-0000-4000-8000-0000000014e7', 'pgtap-14-remove-b');
SELECT is(pg_temp.remote('pgtap14a',
	$$SELECT status FROM homebot.remove_member('00000000-0000-4000-8000-0000000014e6')$$),
	'ok', 'removal race: removing O3 succeeds while O4 is an owner (not committed yet)');
SELECT dblink_send_query('pgtap14b',
	$$SELECT status FROM homebot.remove_member('00000000-0000-4000-8000-0000000014e7')$$);
SELECT ok(pg_temp.waits_for_lock((SELECT b FROM pids)), 'removal race: removing O4 waits for it');
SELECT dblink_exec('pgtap14a', 'COMMIT');
SELECT is(pg_temp.collect('pgtap14b'), 'last_owner', 'removal race: once it commits, O4 is the last owner');
SELECT dblink_exec('pgtap14b', 'COMMIT');
SELECT results_eq(
	$$SELECT user_id, role FROM homebot.memberships WHERE organization_id = '00000000-0000-4000-8000-00000000140e'$$,
	$$VALUES ('00000000-0000-4000-8000-0000000014e7'::uuid, 'owner'::text)$$,
	'removal race: E keeps its one owner');

-- Two invitations of one new email: the second waits for the user the
-- first creates, then finds it a member.
SELECT pg_temp.begin_app('pgtap14a', '00000000-0000-4000-8000-00000000140c', '00000000-0000-4000-8000-0000000014e1', 'pgtap-14-invite-a');
SELECT pg_temp.begin_app('pgtap14b', '00000000-0000-4000-8000-00000000140c', '00000000-0000-4000-8000-0000000014e1', 'pgtap-14-invite-b');
SELECT is(pg_temp.remote('pgtap14a',
	$$SELECT status FROM homebot.invite_member('pgtap-14-race@example.test', 'member', sha256('pgtap-14-race-1'), 3600, 3)$$),
	'invited', 'invitation race: the first invitation of a new email creates the user (not committed yet)');
SELECT dblink_send_query('pgtap14b',
	$$SELECT status FROM homebot.invite_member('PGTAP-14-race@example.test', 'admin', sha256('pgtap-14-race-2'), 3600, 3)$$);
SELECT ok(pg_temp.waits_for_lock((SELECT b FROM pids)), 'invitation race: the second waits for it');
SELECT dblink_exec('pgtap14a', 'COMMIT');
SELECT is(pg_temp.collect('pgtap14b'), 'already_member', 'invitation race: once it commits, the second finds a member');
SELECT dblink_exec('pgtap14b', 'COMMIT');
SELECT results_eq(
	$$SELECT count(DISTINCT u.id)::int, count(DISTINCT m.role)::int, string_agg(DISTINCT m.role, ','),
	         count(i.id)::int, bool_and(i.token_hash = sha256('pgtap-14-race-1'))
	    FROM homebot.users u JOIN homebot.memberships m ON m.user_id = u.id
	    JOIN homebot.invitations i ON i.user_id = u.id
	   WHERE lower(u.email) = 'pgtap-14-race@example.test'$$,
	$$VALUES (1, 1, 'member'::text, 1, true)$$,
	'invitation race: one user, one membership, one invitation: the first');

SELECT pg_temp.cleanup();
SELECT dblink_disconnect('pgtap14a');
SELECT dblink_disconnect('pgtap14b');
SELECT is_empty(
	$$SELECT id FROM homebot.organizations WHERE slug LIKE 'pgtap-14-%'
	  UNION ALL SELECT id FROM homebot.users WHERE email LIKE 'pgtap-14-%'
	  UNION ALL SELECT id FROM homebot.audit_log WHERE request_id LIKE 'pgtap-14-%'
	  UNION ALL SELECT NULL FROM homebot.mail_sends WHERE email LIKE 'pgtap-14-%'$$,
	'the committed rows of this test, their audit events and mail counts are gone again');

-- 2. A non-superuser owner.
CREATE ROLE pgtap_14_owner NOLOGIN NOSUPERUSER NOBYPASSRLS;
GRANT USAGE ON SCHEMA homebot TO pgtap_14_owner;
DO $$
DECLARE
	r record;
BEGIN
	FOR r IN SELECT c.oid::regclass AS t FROM pg_class c
	          WHERE c.relnamespace = 'homebot'::regnamespace AND c.relkind IN ('r', 'p') LOOP
		EXECUTE format('ALTER TABLE %s OWNER TO pgtap_14_owner', r.t);
	END LOOP;
	FOR r IN SELECT p.oid::regprocedure AS f FROM pg_proc p
	          WHERE p.pronamespace = 'homebot'::regnamespace LOOP
		EXECUTE format('ALTER FUNCTION %s OWNER TO pgtap_14_owner', r.f);
	END LOOP;
	FOR r IN SELECT p.polrelid::regclass AS t FROM pg_policy p WHERE p.polname = 'definer_access' LOOP
		EXECUTE format('ALTER POLICY definer_access ON %s TO pgtap_14_owner', r.t);
	END LOOP;
END
$$;

SELECT is(
	(SELECT coalesce(array_agg(DISTINCT o::regrole::text), '{}')
	   FROM (SELECT relowner AS o FROM pg_class
	          WHERE relnamespace = 'homebot'::regnamespace AND relkind IN ('r', 'p', 'S')
	         UNION ALL
	         SELECT proowner FROM pg_proc WHERE pronamespace = 'homebot'::regnamespace) AS owners),
	ARRAY['pgtap_14_owner'],
	'precondition: pgtap_14_owner (not superuser, not BYPASSRLS) owns every table, sequence and function');
SELECT is(
	(SELECT count(*)::int FROM pg_policy WHERE polname = 'definer_access' AND polroles <> ARRAY['pgtap_14_owner'::regrole]::oid[]),
	0, 'precondition: every definer_access policy names it, invitations'' included');

INSERT INTO homebot.organizations (id, name, slug) VALUES
	('00000000-0000-4000-8000-00000000141a', 'Org 14F', 'pgtap-14-f');
INSERT INTO homebot.users (id, email, password_hash, full_name) VALUES
	('00000000-0000-4000-8000-0000000014f1', 'pgtap-14-g@example.test', '$2b$12$pgtap14g', 'G'),
	('00000000-0000-4000-8000-0000000014f2', 'pgtap-14-h@example.test', '$2b$12$pgtap14h', 'H');
INSERT INTO homebot.memberships (organization_id, user_id, role) VALUES
	('00000000-0000-4000-8000-00000000141a', '00000000-0000-4000-8000-0000000014f1', 'owner');
INSERT INTO homebot.login_attempts (email, succeeded) VALUES
	('pgtap-14-locked@example.test', false), ('pgtap-14-locked@example.test', false);

SET LOCAL ROLE homebot_app;
SELECT set_config('app.org_id', '00000000-0000-4000-8000-00000000141a', true);
SELECT set_config('app.user_id', '00000000-0000-4000-8000-0000000014f1', true);
SELECT set_config('app.request_id', 'pgtap-14-owner', true);
SELECT is((SELECT status FROM homebot.create_organization('00000000-0000-4000-8000-0000000014f1', 'Owner Flow', 'pgtap-14-owner-flow')),
	'ok', 'create_organization works under a non-superuser owner');
SELECT is((SELECT status FROM homebot.invite_member('pgtap-14-owner-new@example.test', 'member', sha256('pgtap-14-owner-invite'), 3600, 3)),
	'invited', 'invite_member (a new user, membership and invitation) works under it');
SELECT results_eq(
	$$SELECT status, user_id, _mail FROM homebot.invite_member('pgtap-14-h@example.test', 'viewer', sha256('pgtap-14-owner-h'), 3600, 3)$$,
	$$VALUES ('invited'::text, '00000000-0000-4000-8000-0000000014f2'::uuid, true)$$,
	'invite_member finds (and invites) a user of no shared organization under it, and counts the mail');
SELECT is((SELECT status FROM homebot.change_member_role('00000000-0000-4000-8000-0000000014f2', 'admin')),
	'ok', 'change_member_role works under it');
SELECT is((SELECT status FROM homebot.change_member_role('00000000-0000-4000-8000-0000000014f1', 'member')),
	'last_owner', 'change_member_role sees the owners under it');
SELECT is((SELECT status FROM homebot.remove_member('00000000-0000-4000-8000-0000000014f2')),
	'ok', 'remove_member works under it');
SELECT is((SELECT count(*)::int FROM homebot.user_organizations('00000000-0000-4000-8000-0000000014f1', NULL, NULL, 10)),
	2, 'user_organizations reads across organizations under it');
SELECT set_config('app.org_id', '', true);
SELECT set_config('app.user_id', '', true);
SELECT is((SELECT status FROM homebot.accept_invite(sha256('pgtap-14-owner-invite'), NULL, NULL, '$2b$12$pgtap14owner', NULL,
                                                    NULL, NULL, NULL, 'pgtap-14-owner', sha256('pgtap-14-owner-refresh'),
                                                    3600)),
	'ok', 'accept_invite works under it, without tenant context');
RESET ROLE;

SET LOCAL ROLE homebot_admin;
SELECT set_config('app.user_id', '00000000-0000-4000-8000-0000000014f1', true);
SELECT is((SELECT owner_status FROM homebot.admin_create_organization('Owner Admin', 'pgtap-14-owner-admin',
	'pgtap-14-owner-admin@example.test', sha256('pgtap-14-owner-admin'), 3600, '00000000-0000-4000-8000-0000000014f1',
	NULL, NULL, 'pgtap-14-owner', 3)),
	'invited', 'admin_create_organization works under it');
SELECT is(homebot.admin_unlock('pgtap-14-locked@example.test'), 2, 'admin_unlock works under it');
RESET ROLE;

-- The email functions, as the request path calls them (no tenant context).
SET LOCAL ROLE homebot_app;
SELECT set_config('app.user_id', '', true);
SELECT is((SELECT status FROM homebot.verify_email_issue('00000000-0000-4000-8000-0000000014f1',
                                                          sha256('pgtap-14-owner-verify'), 3600, 3)),
	'sent', 'verify_email_issue (a token in email_tokens, a count in mail_sends) works under it');
SELECT is((SELECT status FROM homebot.verify_email(sha256('pgtap-14-owner-verify'), NULL, NULL, NULL)),
	'ok', 'verify_email finds and uses the token under it');
SET LOCAL ROLE homebot_worker;
SELECT is((SELECT status FROM homebot.password_forgot('pgtap-14-g@example.test', sha256('pgtap-14-owner-reset'), 3600, 3)),
	'sent', 'password_forgot works under it (as homebot-worker runs it)');
SET LOCAL ROLE homebot_app;
SELECT is((SELECT status FROM homebot.password_reset(sha256('pgtap-14-owner-reset'), '$2b$12$pgtap14reset', NULL, NULL, NULL)),
	'ok', 'password_reset works under it');
SELECT is((SELECT status FROM homebot.email_change_request('00000000-0000-4000-8000-0000000014f1', '$2b$12$pgtap14reset',
                                                            'pgtap-14-g2@example.test', sha256('pgtap-14-owner-change'),
                                                            3600, 3)),
	'sent', 'email_change_request works under it');
SELECT is((SELECT status FROM homebot.email_change_confirm(sha256('pgtap-14-owner-change'), NULL, NULL, NULL)),
	'ok', 'email_change_confirm works under it');
SELECT isnt(homebot.mail_enqueue('{"to": "pgtap-14-g2@example.test", "template": "pgtap"}'), NULL,
	'mail_enqueue inserts a platform job under it');
RESET ROLE;

SET LOCAL ROLE pgtap_14_owner;
SELECT set_config('app.user_id', '', true);
SELECT is((SELECT created FROM homebot.ensure_superadmin('pgtap-14-owner-root@example.test', '$2b$12$pgtap14root')),
	true, 'ensure_superadmin works as the (non-superuser) owner');
RESET ROLE;

SELECT set_eq(
	$$SELECT DISTINCT action FROM homebot.audit_log WHERE request_id = 'pgtap-14-owner' AND action NOT LIKE 'row.%'$$,
	$$VALUES ('organization.created'), ('member.invited'), ('member.role_changed'), ('member.removed'),
	         ('member.invite_accepted'), ('member.added'), ('auth.email.verified'), ('admin.organization.created'),
	         ('admin.superadmin.ensured'), ('auth.password.reset'), ('auth.email.changed')$$,
	'every function''s own audit event was written under it');
SELECT set_eq(
	$$SELECT DISTINCT action FROM homebot.audit_log WHERE request_id = 'pgtap-14-owner' AND action LIKE 'row.%'$$,
	$$VALUES ('row.organizations.insert'), ('row.memberships.insert'), ('row.memberships.update'),
	         ('row.memberships.delete'), ('row.users.insert'), ('row.users.update'), ('row.invitations.insert'),
	         ('row.invitations.update'), ('row.invitations.delete'), ('row.sessions.insert'),
	         ('row.refresh_tokens.insert')$$,
	'the audit triggers wrote the row events under it (platform events of users rows included)');
SELECT results_eq(
	$$SELECT u.is_superadmin, (SELECT count(*)::int FROM homebot.memberships m WHERE m.user_id = u.id AND m.status = 'active')
	    FROM homebot.users u WHERE u.email = 'pgtap-14-owner-root@example.test'$$,
	$$VALUES (true, 1)$$,
	'ensure_superadmin created the superadmin and its organization under it');

-- Control: without definer_access on invitations the owner is bound by the
-- tenant policy like anyone, and the functions can no longer use the table.
DROP POLICY definer_access ON homebot.invitations;
SET LOCAL ROLE homebot_app;
SELECT set_config('app.org_id', '', true);
SELECT is((SELECT status FROM homebot.accept_invite(sha256('pgtap-14-owner-admin'), NULL, NULL, '$2b$12$pgtap14x', NULL,
                                                    NULL, NULL, NULL, NULL, sha256('pgtap-14-owner-refresh-2'), 3600)),
	'invalid', 'control: without definer_access on invitations, accept_invite (as the owner) no longer sees a valid invitation');
RESET ROLE;
SET LOCAL ROLE homebot_admin;
SELECT throws_ok(
	$$SELECT * FROM homebot.admin_create_organization('Owner Admin 2', 'pgtap-14-owner-admin-2',
	      'pgtap-14-owner-other@example.test', sha256('pgtap-14-owner-other'), 3600, NULL, NULL, NULL, NULL, 3)$$,
	'42501', 'new row violates row-level security policy for table "invitations"',
	'control: nor write one outside the caller''s tenant context');
RESET ROLE;
-- The same for email_tokens: forced row-level security binds its owner.
DROP POLICY definer_access ON homebot.email_tokens;
SET LOCAL ROLE homebot_app;
SELECT throws_ok(
	$$SELECT * FROM homebot.verify_email_issue('00000000-0000-4000-8000-0000000014f2', sha256('pgtap-14-owner-verify-2'),
	                                           3600, 3)$$,
	'42501', 'new row violates row-level security policy for table "email_tokens"',
	'control: without definer_access on email_tokens, verify_email_issue (as the owner) cannot issue a token');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
