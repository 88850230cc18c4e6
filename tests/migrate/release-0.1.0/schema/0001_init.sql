-- Organizations, users and memberships, isolated by row-level security.
--
-- Tenant context is the transaction-local setting app.org_id (design.md,
-- "Tenant isolation"). Policies read it as
--     (select NULLIF(current_setting('app.org_id', true), '')::uuid)
-- The sub-select is evaluated once per statement instead of once per row,
-- and NULLIF is needed because once a transaction-local setting has gone out
-- of scope it reads back as '' (not NULL), which ::uuid would reject. With no
-- context the expression is NULL, so the policies match no row.

-- Runtime roles. Roles are global to the cluster, so they are created only
-- when missing, and the down migration leaves them alone.
DO $$
DECLARE
	wanted constant text[] := ARRAY['homebot_app', 'homebot_admin'];
	missing text[];
	unsafe text[];
	r text;
BEGIN
	SELECT array_agg(w ORDER BY w) INTO unsafe
	  FROM unnest(wanted) AS w
	  JOIN pg_roles ON rolname = w
	 WHERE rolsuper OR rolbypassrls;
	-- A runtime role that skips RLS would make every policy below void.
	IF unsafe IS NOT NULL THEN
		RAISE EXCEPTION 'role(s) % exist but are SUPERUSER or BYPASSRLS; a DBA must run: % then run the migrations again',
			array_to_string(unsafe, ', '),
			(SELECT string_agg(format('ALTER ROLE %I NOSUPERUSER NOBYPASSRLS;', u), ' ')
			   FROM unnest(unsafe) AS u);
	END IF;

	SELECT array_agg(w ORDER BY w) INTO missing
	  FROM unnest(wanted) AS w
	 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = w);
	IF missing IS NULL THEN
		RETURN;
	END IF;

	IF NOT (SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user) THEN
		RAISE EXCEPTION 'role(s) % do not exist and role % may not create roles; a DBA must run: % then run the migrations again',
			array_to_string(missing, ', '), current_user,
			(SELECT string_agg(format('CREATE ROLE %I LOGIN NOSUPERUSER NOBYPASSRLS;', m), ' ')
			   FROM unnest(missing) AS m);
	END IF;

	FOREACH r IN ARRAY missing LOOP
		EXECUTE format('CREATE ROLE %I LOGIN NOSUPERUSER NOBYPASSRLS', r);
	END LOOP;
END
$$;

CREATE SCHEMA homebot;

CREATE TABLE homebot.organizations (
	id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	name text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
	slug text NOT NULL CHECK (slug ~ '^[a-z0-9-]{1,63}$'),
	settings jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(settings) = 'object'),
	suspended_at timestamptz,
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	-- Named so that callers can map the violation to 409 slug_taken.
	CONSTRAINT organizations_slug_key UNIQUE (slug)
);

-- Users are global: one person may belong to several organizations.
CREATE TABLE homebot.users (
	id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	email text NOT NULL,
	-- NULL until an invited user sets a password.
	password_hash text,
	full_name text NOT NULL DEFAULT '' CHECK (char_length(full_name) <= 200),
	is_superadmin boolean NOT NULL DEFAULT false,
	disabled_at timestamptz,
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now()
);

-- Emails are unique regardless of case; look users up by lower(email) so
-- this index is used. Named so that callers can map it to 409 email_taken.
CREATE UNIQUE INDEX users_email_key ON homebot.users (lower(email));

CREATE TABLE homebot.memberships (
	organization_id uuid NOT NULL REFERENCES homebot.organizations (id) ON DELETE CASCADE,
	user_id uuid NOT NULL REFERENCES homebot.users (id) ON DELETE CASCADE,
	role text NOT NULL CHECK (role IN ('owner', 'admin', 'member', 'viewer')),
	status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'invited')),
	created_at timestamptz NOT NULL DEFAULT now(),
	-- Led by organization_id: the tenant index, and the distribution key
	-- should tenant tables ever be sharded by organization.
	PRIMARY KEY (organization_id, user_id)
);

-- "Which organizations does this user belong to" (login, GET /organizations).
CREATE INDEX memberships_user_id_idx ON homebot.memberships (user_id);

-- FORCE makes the policies apply to the table owner too, so only a
-- superuser (or a BYPASSRLS role, which the runtime roles never are) sees
-- across tenants.
ALTER TABLE homebot.memberships ENABLE ROW LEVEL SECURITY;
ALTER TABLE homebot.memberships FORCE ROW LEVEL SECURITY;
CREATE POLICY memberships_tenant ON homebot.memberships
	USING (organization_id = (SELECT NULLIF(current_setting('app.org_id', true), '')::uuid))
	WITH CHECK (organization_id = (SELECT NULLIF(current_setting('app.org_id', true), '')::uuid));

ALTER TABLE homebot.organizations ENABLE ROW LEVEL SECURITY;
ALTER TABLE homebot.organizations FORCE ROW LEVEL SECURITY;
CREATE POLICY organizations_tenant ON homebot.organizations
	USING (id = (SELECT NULLIF(current_setting('app.org_id', true), '')::uuid))
	WITH CHECK (id = (SELECT NULLIF(current_setting('app.org_id', true), '')::uuid));

-- A user is visible to members of an organization the user belongs to. The
-- sub-query is itself filtered by memberships' policy; the explicit
-- organization_id condition keeps this policy correct even for a role that
-- some later policy lets see more memberships, and lets it use the primary key.
ALTER TABLE homebot.users ENABLE ROW LEVEL SECURITY;
ALTER TABLE homebot.users FORCE ROW LEVEL SECURITY;
CREATE POLICY users_in_current_organization ON homebot.users
	USING (EXISTS (
		SELECT FROM homebot.memberships m
		 WHERE m.organization_id = (SELECT NULLIF(current_setting('app.org_id', true), '')::uuid)
		   AND m.user_id = users.id))
	WITH CHECK (EXISTS (
		SELECT FROM homebot.memberships m
		 WHERE m.organization_id = (SELECT NULLIF(current_setting('app.org_id', true), '')::uuid)
		   AND m.user_id = users.id));

-- Least privilege: the request path may read and edit its own organization
-- and its users, and manage memberships. Creating organizations and users,
-- and looking users up before a tenant is known, go through narrow
-- SECURITY DEFINER functions in later migrations, not through grants here.
GRANT USAGE ON SCHEMA homebot TO homebot_app, homebot_admin;
-- Updates are column-level: the request path can never set is_superadmin,
-- suspended_at, disabled_at, ids or emails.
GRANT SELECT ON homebot.organizations TO homebot_app;
GRANT UPDATE (name, settings, updated_at) ON homebot.organizations TO homebot_app;
GRANT SELECT ON homebot.users TO homebot_app;
GRANT UPDATE (full_name, password_hash, updated_at) ON homebot.users TO homebot_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON homebot.memberships TO homebot_app;

-- GET /ready compares max(version) with the migrations the build expects.
-- migrate creates public.schema_migrations before running any migration.
GRANT SELECT ON public.schema_migrations TO homebot_app, homebot_admin;
