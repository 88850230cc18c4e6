-- Teams inside organizations (api.md §9), the row metadata of §1 and the
-- team scope of tenant rows. The functions and triggers are in
-- R__teams.sql (and the audit triggers in R__audit.sql).
--
-- Row metadata: a table that carries created_at, updated_at, created_by,
-- updated_by and version gets the row_metadata trigger (R__teams.sql),
-- which sets them from the transaction's context, never from what a
-- writer passes; tests/sql/02_rls_structure.sql fails for a table that
-- carries them without it. A table with deleted_at is soft-deleted: its
-- policies hide a deleted row from every statement of the request path,
-- and the purge job (purge_soft_deleted) removes it after
-- SOFT_DELETE_RETENTION.
--
-- Team scope: a tenant table with a team_id column is team-scoped. Besides
-- the organization check, each of its policies holds the team check,
-- word for word:
--
--   (team_id IS NULL
--    OR team_id = ANY ((SELECT NULLIF(current_setting('app.team_ids', true), ''))::uuid[])
--    OR (SELECT current_setting('app.teams_write', true)) = 'true')
--
-- a row of no team is the organization's; a row of a team is visible to
-- that team's members and to holders of teams:write. The request sets
-- app.team_ids (the user's teams, '{id,…}') and app.teams_write with the
-- rest of its context, in the same round trip (lib/db.c), from what
-- authenticate_session read. tests/sql/02_rls_structure.sql fails for a
-- table with a team_id column whose policies lack it. It is an expression,
-- not a function: a policy may not call a function of the repeatable
-- files, which a rollback drops (docs/migrations.md).

INSERT INTO homebot.permissions (name, description) VALUES
	('teams:read', 'List the teams and their members'),
	('teams:write', 'Create, change and delete teams, manage every team''s members and see every team''s rows');
INSERT INTO homebot.role_permissions (role, permission) VALUES
	('viewer', 'teams:read'), ('member', 'teams:read'), ('admin', 'teams:read'), ('owner', 'teams:read'),
	('admin', 'teams:write'), ('owner', 'teams:write');

CREATE TABLE homebot.teams (
	organization_id uuid NOT NULL REFERENCES homebot.organizations (id) ON DELETE CASCADE,
	id uuid NOT NULL DEFAULT gen_random_uuid(),
	name text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
	slug text NOT NULL CHECK (slug ~ '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$'),
	description text NOT NULL DEFAULT '' CHECK (char_length(description) <= 2000),
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	created_by uuid,
	updated_by uuid,
	version integer NOT NULL DEFAULT 1,
	deleted_at timestamptz,
	PRIMARY KEY (organization_id, id)
);

-- A slug is taken only by a live team: a deleted team's slug is free at
-- once. Named so that callers can map the violation to 409 slug_taken.
CREATE UNIQUE INDEX teams_organization_id_slug_key ON homebot.teams (organization_id, slug)
	WHERE deleted_at IS NULL;
-- GET /api/v1/teams, newest first, a page at a time.
CREATE INDEX teams_organization_id_created_at_idx ON homebot.teams (organization_id, created_at DESC, id DESC);
-- The purge job's scan.
CREATE INDEX teams_deleted_at_idx ON homebot.teams (deleted_at) WHERE deleted_at IS NOT NULL;

-- A user's place in a team. Leaving the organization (the membership's
-- row going, by any path) leaves its teams in the same transaction: the
-- cascade.
CREATE TABLE homebot.team_members (
	organization_id uuid NOT NULL,
	team_id uuid NOT NULL,
	user_id uuid NOT NULL,
	team_role text NOT NULL CHECK (team_role IN ('lead', 'member')),
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	created_by uuid,
	updated_by uuid,
	version integer NOT NULL DEFAULT 1,
	PRIMARY KEY (organization_id, team_id, user_id),
	FOREIGN KEY (organization_id, team_id) REFERENCES homebot.teams (organization_id, id) ON DELETE CASCADE,
	FOREIGN KEY (organization_id, user_id)
		REFERENCES homebot.memberships (organization_id, user_id) ON DELETE CASCADE
);

-- A user's teams (the context of every request, authenticate_session) and
-- what the cascade from memberships looks up.
CREATE INDEX team_members_organization_id_user_id_idx ON homebot.team_members (organization_id, user_id);
-- GET /api/v1/teams/{id}/members, newest first.
CREATE INDEX team_members_organization_id_team_id_created_at_idx
	ON homebot.team_members (organization_id, team_id, created_at DESC, user_id DESC);

ALTER TABLE homebot.teams ENABLE ROW LEVEL SECURITY;
ALTER TABLE homebot.teams FORCE ROW LEVEL SECURITY;
-- A deleted team is gone for the request path: no statement sees it.
-- UPDATE's new row is checked without deleted_at, so that the soft
-- delete itself passes.
CREATE POLICY teams_tenant ON homebot.teams
	USING (organization_id = (SELECT NULLIF(current_setting('app.org_id', true), '')::uuid)
	       AND deleted_at IS NULL)
	WITH CHECK (organization_id = (SELECT NULLIF(current_setting('app.org_id', true), '')::uuid));
CREATE POLICY definer_access ON homebot.teams TO CURRENT_USER USING (true) WITH CHECK (true);

ALTER TABLE homebot.team_members ENABLE ROW LEVEL SECURITY;
ALTER TABLE homebot.team_members FORCE ROW LEVEL SECURITY;
-- Everyone of the organization reads; writes are for holders of
-- teams:write and the team's leads (app.team_leads, set like app.team_ids).
CREATE POLICY team_members_tenant ON homebot.team_members FOR SELECT
	USING (organization_id = (SELECT NULLIF(current_setting('app.org_id', true), '')::uuid));
CREATE POLICY team_members_insert ON homebot.team_members FOR INSERT
	WITH CHECK (organization_id = (SELECT NULLIF(current_setting('app.org_id', true), '')::uuid)
	            AND ((SELECT current_setting('app.teams_write', true)) = 'true'
	                 OR team_id = ANY ((SELECT NULLIF(current_setting('app.team_leads', true), ''))::uuid[])));
CREATE POLICY team_members_update ON homebot.team_members FOR UPDATE
	USING (organization_id = (SELECT NULLIF(current_setting('app.org_id', true), '')::uuid)
	       AND ((SELECT current_setting('app.teams_write', true)) = 'true'
	                 OR team_id = ANY ((SELECT NULLIF(current_setting('app.team_leads', true), ''))::uuid[])))
	WITH CHECK (organization_id = (SELECT NULLIF(current_setting('app.org_id', true), '')::uuid)
	            AND ((SELECT current_setting('app.teams_write', true)) = 'true'
	                 OR team_id = ANY ((SELECT NULLIF(current_setting('app.team_leads', true), ''))::uuid[])));
CREATE POLICY team_members_delete ON homebot.team_members FOR DELETE
	USING (organization_id = (SELECT NULLIF(current_setting('app.org_id', true), '')::uuid)
	       AND ((SELECT current_setting('app.teams_write', true)) = 'true'
	                 OR team_id = ANY ((SELECT NULLIF(current_setting('app.team_leads', true), ''))::uuid[])));
CREATE POLICY definer_access ON homebot.team_members TO CURRENT_USER USING (true) WITH CHECK (true);
CREATE POLICY admin_access ON homebot.teams TO homebot_admin USING (true) WITH CHECK (true);
CREATE POLICY admin_access ON homebot.team_members TO homebot_admin USING (true) WITH CHECK (true);

GRANT SELECT, INSERT ON homebot.teams TO homebot_app;
-- The soft delete goes through team_delete (R__teams.sql): the request
-- path writes no deleted_at itself.
GRANT UPDATE (name, description) ON homebot.teams TO homebot_app;
GRANT SELECT, INSERT, DELETE ON homebot.team_members TO homebot_app;
GRANT UPDATE (team_role) ON homebot.team_members TO homebot_app;
GRANT SELECT ON homebot.teams, homebot.team_members TO homebot_admin;
