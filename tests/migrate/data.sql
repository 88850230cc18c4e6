-- Real data for the migration tests (roundtrip.t, upgrade.t): a few dozen
-- rows in every table of schema homebot, written the way the programs
-- write them: through the SQL functions, with the request context set as
-- the request path sets it, plus the few rows the programs insert
-- themselves (API keys, extra permissions). Only the functions' public
-- interface is used, so the same script fills a database of release 0.1.0
-- and one of today. Where today's interface differs (email ownership,
-- 0005: invitations always wait for consent, addresses are verified by
-- mailed tokens), the script asks which one the database has; requests
-- that exist only today, or whose audit events changed, have request IDs
-- of their own (%-email-%, %-invite-%, %-accept-%, %-teams-%, %-secrets-%: secrets and connections, %-mfa-%), and upgrade.t leaves
-- those out when it compares the audit trails.
--
-- psql -v tag=a -f data.sql: tag keeps emails and slugs apart when the
-- script runs twice on one database.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
BEGIN;
SELECT set_config('migrate_test.tag', :'tag', true) \gset

DO $data$
DECLARE
	t text := current_setting('migrate_test.tag');
	n constant integer := 12;
	i integer;
	k integer;
	r record;
	v_orgs uuid[] := '{}';
	v_owners uuid[] := '{}';
	v_attempt bigint;
	v_admin uuid;
	-- today's schema (0005 on): email ownership
	v_email boolean := to_regprocedure('homebot.verify_email_issue(uuid, bytea, integer, integer)') IS NOT NULL;
	-- today's rate limits: a counter per scope (auth, refresh)
	v_rate_scopes boolean := to_regprocedure('homebot.auth_rate_hit(text, text, integer)') IS NOT NULL;
BEGIN
	-- Registrations: a user, an organization, the owner membership, a
	-- session and its refresh token each.
	FOR i IN 1..n LOOP
		SELECT * INTO STRICT r
		  FROM homebot.register(format('%s-owner-%s@example.test', t, i), '$2b$04$owner' || i, 'Owner ' || i,
		                        format('Org %s %s', t, i), '192.0.2.' || i, 'data-agent/' || i,
		                        format('%s-register-%s', t, i), sha256(convert_to(format('%s-refresh-%s', t, i), 'UTF8')),
		                        3600);
		IF r.status <> 'ok' THEN
			RAISE EXCEPTION 'register %: %', i, r.status;
		END IF;
		v_orgs := v_orgs || r.organization_id;
		v_owners := v_owners || r.user_id;
	END LOOP;

	-- Today: every owner follows a verification link (a used token, a
	-- mail counted); three ask for a password reset and one for an email
	-- change, and leave the links unused; one mail queued. The request
	-- context is set as the request path sets it.
	IF v_email THEN
		FOR i IN 1..n LOOP
			PERFORM set_config('app.request_id', format('%s-email-verify-%s', t, i), true);
			EXECUTE 'SELECT * FROM homebot.verify_email_issue($1, $2, 86400, 3)' INTO STRICT r
			  USING v_owners[i], sha256(convert_to(format('%s-verify-%s', t, i), 'UTF8'));
			IF r.status <> 'sent' THEN
				RAISE EXCEPTION 'verify_email_issue %: %', i, r.status;
			END IF;
			EXECUTE 'SELECT * FROM homebot.verify_email($1, $2, $3, $4)' INTO STRICT r
			  USING sha256(convert_to(format('%s-verify-%s', t, i), 'UTF8')), '192.0.2.' || i, 'data-agent/verify',
			        format('%s-email-verify-%s', t, i);
			IF r.status <> 'ok' THEN
				RAISE EXCEPTION 'verify_email %: %', i, r.status;
			END IF;
		END LOOP;
		FOR i IN 1..3 LOOP
			EXECUTE 'SELECT * FROM homebot.password_forgot($1, $2, 3600, 3)' INTO STRICT r
			  USING format('%s-owner-%s@example.test', t, i), sha256(convert_to(format('%s-reset-%s', t, i), 'UTF8'));
			IF r.status <> 'sent' THEN
				RAISE EXCEPTION 'password_forgot %: %', i, r.status;
			END IF;
		END LOOP;
		EXECUTE 'SELECT * FROM homebot.email_change_request($1, $2, $3, $4, 86400, 3)' INTO STRICT r
		  USING v_owners[n], '$2b$04$owner' || n, format('%s-changed-%s@example.test', t, n),
		        sha256(convert_to(format('%s-change-%s', t, n), 'UTF8'));
		IF r.status <> 'sent' THEN
			RAISE EXCEPTION 'email_change_request: %', r.status;
		END IF;
		EXECUTE 'SELECT homebot.mail_enqueue($1)'
		  USING jsonb_build_object('to', r.new_email, 'template', 'email_change', 'vars', '{}'::jsonb);
		PERFORM set_config('app.request_id', '', true);
	END IF;

	-- Inside each organization, as its owner's requests: three new members
	-- invited, the next organization's owner added and made admin, an extra
	-- permission, two API keys, a second organization of the owner's.
	FOR i IN 1..n LOOP
		PERFORM set_config('app.org_id', v_orgs[i]::text, true),
		        set_config('app.user_id', v_owners[i]::text, true),
		        set_config('app.api_key_id', '', true),
		        set_config('app.ip', '198.51.100.' || i, true),
		        set_config('app.user_agent', 'data-agent/' || i, true),
		        set_config('app.request_id', format('%s-org-%s', t, i), true);
		PERFORM set_config('app.request_id', format('%s-invite-%s', t, i), true);
		FOR k IN 1..3 LOOP
			IF v_email THEN
				EXECUTE 'SELECT * FROM homebot.invite_member($1, ''member'', $2, 604800, 3)' INTO STRICT r
				  USING format('%s-member-%s-%s@example.test', t, i, k),
				        sha256(convert_to(format('%s-invite-%s-%s', t, i, k), 'UTF8'));
			ELSE
				EXECUTE 'SELECT * FROM homebot.invite_member($1, ''member'', $2, 604800)' INTO STRICT r
				  USING format('%s-member-%s-%s@example.test', t, i, k),
				        sha256(convert_to(format('%s-invite-%s-%s', t, i, k), 'UTF8'));
			END IF;
			IF r.status <> 'invited' THEN
				RAISE EXCEPTION 'invite %/%: %', i, k, r.status;
			END IF;
		END LOOP;
		-- The next organization's owner: added at once by release 0.1.0;
		-- today invited, and accepted with that owner's access token.
		IF v_email THEN
			EXECUTE 'SELECT * FROM homebot.invite_member($1, ''viewer'', $2, 604800, 3)' INTO STRICT r
			  USING format('%s-owner-%s@example.test', t, i % n + 1),
			        sha256(convert_to(format('%s-invite-%s-0', t, i), 'UTF8'));
			IF r.status <> 'invited' THEN
				RAISE EXCEPTION 'invite owner %: %', i, r.status;
			END IF;
			PERFORM set_config('app.org_id', '', true), set_config('app.user_id', '', true);
			EXECUTE 'SELECT * FROM homebot.accept_invite($1, NULL, $2, NULL, NULL, NULL, $3, $4, $5, $6, 3600)'
			  INTO STRICT r
			  USING sha256(convert_to(format('%s-invite-%s-0', t, i), 'UTF8')), v_owners[i % n + 1],
			        '198.51.100.' || i, 'data-agent/' || i, format('%s-accept-%s-0', t, i),
			        sha256(convert_to(format('%s-refresh-%s-0', t, i), 'UTF8'));
			IF r.status <> 'ok' THEN
				RAISE EXCEPTION 'accept owner %: %', i, r.status;
			END IF;
			PERFORM set_config('app.org_id', v_orgs[i]::text, true),
			        set_config('app.user_id', v_owners[i]::text, true);
		ELSE
			EXECUTE 'SELECT * FROM homebot.invite_member($1, ''viewer'', $2, 604800)' INTO STRICT r
			  USING format('%s-owner-%s@example.test', t, i % n + 1),
			        sha256(convert_to(format('%s-invite-%s-0', t, i), 'UTF8'));
			IF r.status <> 'added' THEN
				RAISE EXCEPTION 'add %: %', i, r.status;
			END IF;
		END IF;
		PERFORM set_config('app.request_id', format('%s-org-%s', t, i), true);
		PERFORM homebot.change_member_role(v_owners[i % n + 1], 'admin');
		INSERT INTO homebot.user_permissions (organization_id, user_id, permission)
		VALUES (v_orgs[i], v_owners[i % n + 1], 'org:delete');
		INSERT INTO homebot.api_keys (organization_id, prefix, key_hash, name, scopes, created_by, expires_at)
		SELECT v_orgs[i], lpad(t || i || 'k' || g.j, 8, 'x'),
		       sha256(convert_to(format('%s-key-%s-%s', t, i, g.j), 'UTF8')), 'key ' || g.j,
		       '{org:read,members:read}', v_owners[i], now() + interval '90 days'
		  FROM generate_series(1, 2) AS g (j);
		SELECT * INTO STRICT r FROM homebot.create_organization(v_owners[i], format('Second %s %s', t, i), NULL);
		IF r.status <> 'ok' THEN
			RAISE EXCEPTION 'create_organization %: %', i, r.status;
		END IF;
	END LOOP;

	-- Two of each organization's three invitations accepted (no context, as
	-- the request path calls accept_invite).
	PERFORM set_config('app.org_id', '', true), set_config('app.user_id', '', true),
	        set_config('app.ip', '', true), set_config('app.user_agent', '', true),
	        set_config('app.request_id', '', true);
	FOR i IN 1..n LOOP
		FOR k IN 1..2 LOOP
			IF v_email THEN
				EXECUTE 'SELECT * FROM homebot.accept_invite($1, NULL, NULL, $2, NULL, $3, $4, $5, $6, $7, 3600)'
				  INTO STRICT r
				  USING sha256(convert_to(format('%s-invite-%s-%s', t, i, k), 'UTF8')),
				        '$2b$04$member' || i || k, 'Member ' || i || k, '203.0.113.' || i,
				        'data-agent/accept', format('%s-accept-%s-%s', t, i, k),
				        sha256(convert_to(format('%s-refresh-%s-%s', t, i, k), 'UTF8'));
			ELSE
				EXECUTE 'SELECT * FROM homebot.accept_invite($1, $2, $3, $4, $5, $6, $7, 3600)' INTO STRICT r
				  USING sha256(convert_to(format('%s-invite-%s-%s', t, i, k), 'UTF8')),
				        '$2b$04$member' || i || k, 'Member ' || i || k, '203.0.113.' || i,
				        'data-agent/accept', format('%s-accept-%s-%s', t, i, k),
				        sha256(convert_to(format('%s-refresh-%s-%s', t, i, k), 'UTF8'));
			END IF;
			IF r.status <> 'ok' THEN
				RAISE EXCEPTION 'accept %/%: %', i, k, r.status;
			END IF;
		END LOOP;
	END LOOP;

	-- The second accepted member of each organization removed again (its
	-- sessions revoked).
	FOR i IN 1..n LOOP
		PERFORM set_config('app.org_id', v_orgs[i]::text, true),
		        set_config('app.user_id', v_owners[i]::text, true),
		        set_config('app.request_id', format('%s-remove-%s', t, i), true);
		SELECT * INTO STRICT r
		  FROM homebot.remove_member((SELECT u.id FROM homebot.users u
		                               WHERE u.email = format('%s-member-%s-2@example.test', t, i)));
		IF r.status <> 'ok' THEN
			RAISE EXCEPTION 'remove %: %', i, r.status;
		END IF;
	END LOOP;
	PERFORM set_config('app.org_id', '', true), set_config('app.user_id', '', true),
	        set_config('app.request_id', '', true);

	-- Logins: a wrong password for every owner, then the right one; five
	-- wrong ones lock the first owner. Refreshes of every registration's
	-- token, one of them reused. API keys used. Rate limits hit.
	FOR i IN 1..n LOOP
		SELECT * INTO STRICT r
		  FROM homebot.login_lookup(format('%s-owner-%s@example.test', t, i), 5, 900, '192.0.2.' || i);
		PERFORM homebot.login_failed(format('%s-owner-%s@example.test', t, i), r.user_id, '192.0.2.' || i,
		                             'data-agent/login', format('%s-failed-%s', t, i), 5, 900, r.attempt_id);
		SELECT attempt_id INTO v_attempt
		  FROM homebot.login_lookup(format('%s-owner-%s@example.test', t, i), 5, 900, '192.0.2.' || i);
		SELECT * INTO STRICT r
		  FROM homebot.login_start(v_owners[i], NULL, '192.0.2.' || i, 'data-agent/login',
		                           format('%s-login-%s', t, i),
		                           sha256(convert_to(format('%s-login-refresh-%s', t, i), 'UTF8')), 3600, NULL);
		IF r.status <> 'ok' THEN
			RAISE EXCEPTION 'login %: %', i, r.status;
		END IF;
		SELECT * INTO STRICT r
		  FROM homebot.refresh_rotate(sha256(convert_to(format('%s-refresh-%s', t, i), 'UTF8')),
		                              sha256(convert_to(format('%s-refresh-%s-b', t, i), 'UTF8')), 3600,
		                              '192.0.2.' || i, 'data-agent/refresh', format('%s-refresh-%s', t, i));
		IF r.status <> 'ok' THEN
			RAISE EXCEPTION 'refresh %: %', i, r.status;
		END IF;
		FOR k IN 1..2 LOOP
			PERFORM homebot.authenticate_api_key(lpad(t || i || 'k' || k, 8, 'x'),
			                                     sha256(convert_to(format('%s-key-%s-%s', t, i, k), 'UTF8')));
		END LOOP;
		FOR k IN 1..3 LOOP
			IF v_rate_scopes THEN
				PERFORM homebot.auth_rate_hit(CASE k WHEN 3 THEN 'refresh' ELSE 'auth' END,
				                              format('%s.%s.%s', t, i, k), 10);
			ELSE
				PERFORM homebot.auth_rate_hit(format('%s.%s.%s', t, i, k), 10);
			END IF;
		END LOOP;
	END LOOP;
	FOR k IN 1..5 LOOP
		SELECT * INTO STRICT r
		  FROM homebot.login_lookup(format('%s-owner-1@example.test', t), 5, 900, '192.0.2.99');
		PERFORM homebot.login_failed(format('%s-owner-1@example.test', t), r.user_id, '192.0.2.99',
		                             'data-agent/attack', format('%s-attack-%s', t, k), 5, 900, r.attempt_id);
	END LOOP;
	SELECT * INTO STRICT r
	  FROM homebot.refresh_rotate(sha256(convert_to(format('%s-refresh-1', t), 'UTF8')),
	                              sha256(convert_to(format('%s-refresh-1-c', t), 'UTF8')), 3600,
	                              '192.0.2.98', 'data-agent/reuse', format('%s-reuse', t));
	IF r.status <> 'reused' THEN
		RAISE EXCEPTION 'reuse: %', r.status;
	END IF;

	-- Administration: a superadmin (make superadmin, as the owner), three
	-- organizations made by the admin program, an unlock.
	SELECT user_id INTO v_admin FROM homebot.ensure_superadmin(format('%s-root@example.test', t), '$2b$04$root');
	-- The admin program sets the context and passes the same values as
	-- arguments.
	PERFORM set_config('app.user_id', v_admin::text, true),
	        set_config('app.ip', '192.0.2.200', true),
	        set_config('app.user_agent', 'data-agent/admin', true);
	FOR k IN 1..3 LOOP
		PERFORM set_config('app.request_id', format('%s-admin-%s', t, k), true);
		IF v_email THEN
			EXECUTE 'SELECT * FROM homebot.admin_create_organization($1, NULL, $2, $3, 604800, $4, $5, $6, $7, 3)'
			  INTO STRICT r
			  USING format('Admin %s %s', t, k), format('%s-admin-owner-%s@example.test', t, k),
			        sha256(convert_to(format('%s-admin-invite-%s', t, k), 'UTF8')), v_admin, '192.0.2.200',
			        'data-agent/admin', format('%s-admin-%s', t, k);
		ELSE
			EXECUTE 'SELECT * FROM homebot.admin_create_organization($1, NULL, $2, $3, 604800, $4, $5, $6, $7)'
			  INTO STRICT r
			  USING format('Admin %s %s', t, k), format('%s-admin-owner-%s@example.test', t, k),
			        sha256(convert_to(format('%s-admin-invite-%s', t, k), 'UTF8')), v_admin, '192.0.2.200',
			        'data-agent/admin', format('%s-admin-%s', t, k);
		END IF;
		IF r.status <> 'ok' THEN
			RAISE EXCEPTION 'admin_create_organization %: %', k, r.status;
		END IF;
	END LOOP;
	PERFORM homebot.admin_unlock(format('%s-owner-1@example.test', t));

	-- Platform settings (0010 on), where the schema has them: public and
	-- private ones, written by the superadmin as the admin program writes
	-- them, one changed once. Their request IDs (%-settings-%) are their
	-- own: release 0.1.0 has no such requests.
	IF to_regclass('homebot.platform_settings') IS NOT NULL THEN
		PERFORM set_config('app.user_id', v_admin::text, true),
		        set_config('app.request_id', format('%s-settings-1', t), true);
		EXECUTE $settings$
			INSERT INTO homebot.platform_settings (key, value, description, is_public)
			SELECT format('%s.setting.%s', $1, n), jsonb_build_object('n', n), 'setting ' || n, n % 2 = 0
			  FROM generate_series(1, 4) AS n
		$settings$ USING t;
		PERFORM set_config('app.request_id', format('%s-settings-2', t), true);
		EXECUTE 'UPDATE homebot.platform_settings SET value = ''"changed"'' WHERE key = $1'
		  USING format('%s.setting.1', t);
		PERFORM set_config('app.user_id', '', true), set_config('app.request_id', '', true);
	END IF;

	-- Jobs (0004 on), where the schema has them: each organization's, in
	-- every state, and platform jobs.
	IF to_regclass('homebot.jobs') IS NOT NULL THEN
		EXECUTE $jobs$
			INSERT INTO homebot.jobs (organization_id, kind, payload, status, attempts, last_error,
			                          finished_at)
			SELECT o.id, 'noop', jsonb_build_object('n', n),
			       (ARRAY['queued', 'succeeded', 'failed', 'dead'])[1 + n % 4], n % 4,
			       CASE WHEN n % 4 >= 2 THEN 'refused' END,
			       CASE WHEN n % 4 IN (1, 3) THEN now() END
			  FROM homebot.organizations o, generate_series(1, 2) AS n
		$jobs$;
		INSERT INTO homebot.jobs (kind, unique_key) VALUES ('jobs.retention', format('%s-retention', t));
	END IF;

	-- Teams (0009 on), where the schema has them: two of each
	-- organization, its active members in the first (its owner as lead),
	-- the second soft-deleted; the row metadata comes from the context.
	IF to_regclass('homebot.teams') IS NOT NULL THEN
		FOR r IN SELECT m.organization_id, m.user_id FROM homebot.memberships m
		          WHERE m.role = 'owner' AND m.status = 'active' AND m.organization_id = ANY (v_orgs) LOOP
			PERFORM set_config('app.org_id', r.organization_id::text, true),
			        set_config('app.user_id', r.user_id::text, true),
			        set_config('app.request_id', format('%s-teams-%s', t, r.organization_id), true);
			EXECUTE $teams$
				INSERT INTO homebot.teams (organization_id, name, slug)
				VALUES ($1, 'Team one', 'one'), ($1, 'Team two', 'two')
			$teams$ USING r.organization_id;
			EXECUTE $teams$
				INSERT INTO homebot.team_members (organization_id, team_id, user_id, team_role)
				SELECT m.organization_id, t.id, m.user_id, CASE WHEN m.user_id = $2 THEN 'lead' ELSE 'member' END
				  FROM homebot.memberships m
				  JOIN homebot.teams t ON t.organization_id = m.organization_id AND t.slug = 'one'
				 WHERE m.organization_id = $1 AND m.status = 'active'
			$teams$ USING r.organization_id, r.user_id;
			EXECUTE $teams$
				UPDATE homebot.teams SET deleted_at = now() WHERE organization_id = $1 AND slug = 'two'
			$teams$ USING r.organization_id;
		END LOOP;
		PERFORM set_config('app.org_id', '', true), set_config('app.user_id', '', true),
		        set_config('app.request_id', '', true);
	END IF;

	-- Secrets (0012 on), where the schema has them: each organization's
	-- (stand-in) wrapped data key, a secret of its own and one of team
	-- one, each with two value versions of (stand-in) ciphertext.
	IF to_regclass('homebot.secrets') IS NOT NULL THEN
		FOR r IN SELECT m.organization_id, m.user_id FROM homebot.memberships m
		          WHERE m.role = 'owner' AND m.status = 'active' AND m.organization_id = ANY (v_orgs) LOOP
			PERFORM set_config('app.org_id', r.organization_id::text, true),
			        set_config('app.user_id', r.user_id::text, true),
			        set_config('app.request_id', format('%s-secrets-%s', t, r.organization_id), true);
			EXECUTE $secrets$
				INSERT INTO homebot.vault_data_keys (organization_id, wrapped)
				VALUES ($1, decode(repeat(md5($1::text), 5), 'hex'))
			$secrets$ USING r.organization_id;
			EXECUTE $secrets$
				INSERT INTO homebot.secrets (organization_id, team_id, name, value_version)
				SELECT $1, NULL, 'org-token', 2
				UNION ALL
				SELECT $1, t.id, 'team-token', 2 FROM homebot.teams t
				 WHERE t.organization_id = $1 AND t.slug = 'one'
			$secrets$ USING r.organization_id;
			EXECUTE $secrets$
				INSERT INTO homebot.secret_values (organization_id, secret_id, version, ciphertext, hint)
				SELECT s.organization_id, s.id, v, decode(repeat(md5(s.id::text || v), 2), 'hex'),
				       CASE WHEN v = 2 THEN 'abcd' END
				  FROM homebot.secrets s, generate_series(1, 2) AS v
				 WHERE s.organization_id = $1
			$secrets$ USING r.organization_id;
			-- Connections (0013 on): a default smtp connection of the
			-- organization and one of team one, each with a secret field.
			IF to_regclass('homebot.connections') IS NOT NULL THEN
				EXECUTE $secrets$
					INSERT INTO homebot.connections (organization_id, team_id, name, type, config, is_default)
					SELECT $1, NULL, 'Mail relay', 'smtp', '{"host": "smtp.example.com", "port": 587}'::jsonb, true
					UNION ALL
					SELECT $1, t.id, 'Team relay', 'smtp', '{"host": "smtp.example.org"}'::jsonb, true
					  FROM homebot.teams t WHERE t.organization_id = $1 AND t.slug = 'one'
				$secrets$ USING r.organization_id;
				EXECUTE $secrets$
					INSERT INTO homebot.connection_secrets (organization_id, connection_id, name, ciphertext, hint)
					SELECT c.organization_id, c.id, 'password', decode(repeat(md5(c.id::text), 2), 'hex'), 'wxyz'
					  FROM homebot.connections c WHERE c.organization_id = $1
				$secrets$ USING r.organization_id;
			END IF;
		END LOOP;
		PERFORM set_config('app.org_id', '', true), set_config('app.user_id', '', true),
		        set_config('app.request_id', '', true);
	END IF;

	-- Every owner changed their password and back again, as POST
	-- /api/v1/auth/password writes it (from 0017 on, the history keeps
	-- the replaced hashes).
	FOR i IN 1..n LOOP
		PERFORM set_config('app.org_id', v_orgs[i]::text, true),
		        set_config('app.user_id', v_owners[i]::text, true),
		        set_config('app.api_key_id', '', true),
		        set_config('app.ip', '192.0.2.' || i, true),
		        set_config('app.user_agent', 'data-agent/password', true),
		        set_config('app.request_id', format('%s-password-%s', t, i), true);
		UPDATE homebot.users SET password_hash = '$2b$04$second' || i, updated_at = now()
		 WHERE id = v_owners[i];
		UPDATE homebot.users SET password_hash = '$2b$04$owner' || i, updated_at = now()
		 WHERE id = v_owners[i];
	END LOOP;
	PERFORM set_config('app.org_id', '', true), set_config('app.user_id', '', true),
	        set_config('app.request_id', '', true);

	-- Two-factor authentication (0015 on), where the schema has it: each
	-- organization's owner turns TOTP on ((stand-in) wrapped key and
	-- ciphertext) with two recovery codes, and has a login waiting for
	-- its second step.
	IF to_regclass('homebot.user_totp') IS NOT NULL THEN
		FOR r IN SELECT m.organization_id, m.user_id FROM homebot.memberships m
		          WHERE m.role = 'owner' AND m.status = 'active' AND m.organization_id = ANY (v_orgs) LOOP
			PERFORM set_config('app.org_id', r.organization_id::text, true),
			        set_config('app.user_id', r.user_id::text, true),
			        set_config('app.request_id', format('%s-mfa-%s', t, r.organization_id), true);
			EXECUTE $mfa$
				SELECT homebot.mfa_totp_begin($1, decode(repeat(md5($1::text), 5), 'hex'),
				                              decode(repeat(md5($1::text), 3), 'hex'), 1),
				       homebot.mfa_totp_confirm($1, 1, 100, ARRAY[sha256(convert_to($1::text || '1', 'UTF8')),
				                                                  sha256(convert_to($1::text || '2', 'UTF8'))]),
				       homebot.mfa_challenge_new($1, sha256(convert_to($1::text, 'UTF8')), NULL,
				                                 'stand-in', NULL, 300)
			$mfa$ USING r.user_id;
		END LOOP;
		PERFORM set_config('app.org_id', '', true), set_config('app.user_id', '', true),
		        set_config('app.request_id', '', true);
	END IF;

	-- The devices users signed in from (0018 on), where the schema has
	-- them: each owner's, as register records it, and a second one, as a
	-- login from elsewhere does.
	IF to_regclass('homebot.sign_in_devices') IS NOT NULL THEN
		FOR i IN 1..n LOOP
			EXECUTE $devices$
				SELECT homebot.sign_in_device_seen($1, 'Firefox on Linux', '192.0.2.0/24'),
				       homebot.sign_in_device_seen($1, 'curl', ('2001:db8:' || $2 || '::/48')::cidr)
			$devices$ USING v_owners[i], to_hex(i);
		END LOOP;
	END IF;
END
$data$;

COMMIT;
