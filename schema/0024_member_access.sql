-- What each membership may do and which teams it is in, kept ready for the
-- hot path: authenticate_session (R__auth.sql) reads one row here by its
-- primary key instead of computing the union of the role's and the
-- member's permissions, sorting it, and aggregating the member's teams on
-- every request. The rows are derived, never written by a request: the
-- triggers of R__access.sql recompute a member's row in the same
-- transaction as every change that could alter it (the membership's role,
-- user_permissions, team_members, a team renamed or deleted,
-- role_permissions), so a revocation applies to the very next request as
-- before. R__access.sql also fills the table when it is applied.
--
-- Not audited (tests/sql/10_orgs_schema.sql): every row here follows from
-- a write to an audited table, in the same transaction.
CREATE TABLE homebot.member_access (
	organization_id uuid NOT NULL,
	user_id uuid NOT NULL,
	-- Comma-separated and sorted: authenticate_session's answer.
	permissions text NOT NULL,
	-- The me object's teams (JSON), and the request's team context
	-- (app.team_ids, app.team_leads: PostgreSQL array literals).
	teams text NOT NULL,
	team_ids text NOT NULL,
	team_leads text NOT NULL,
	PRIMARY KEY (organization_id, user_id),
	FOREIGN KEY (organization_id, user_id)
		REFERENCES homebot.memberships (organization_id, user_id) ON DELETE CASCADE
);

ALTER TABLE homebot.member_access ENABLE ROW LEVEL SECURITY;
ALTER TABLE homebot.member_access FORCE ROW LEVEL SECURITY;
-- The request path reads its own organization's rows and writes none.
CREATE POLICY member_access_tenant ON homebot.member_access FOR SELECT
	USING (organization_id = (SELECT NULLIF(current_setting('app.org_id', true), '')::uuid));
-- The triggers' functions (SECURITY DEFINER, 0002_auth.sql's rule).
CREATE POLICY definer_access ON homebot.member_access TO CURRENT_USER USING (true) WITH CHECK (true);
-- The admin program authenticates its callers with authenticate_session,
-- and sees memberships so (0003_orgs.sql). It may only read (the grant).
CREATE POLICY admin_access ON homebot.member_access TO homebot_admin USING (true) WITH CHECK (true);

GRANT SELECT ON homebot.member_access TO homebot_app, homebot_admin;

-- The rows list permissions comma-separated (authenticate_api_key splits
-- them again): no permission's name may hold a comma.
ALTER TABLE homebot.permissions
	ADD CONSTRAINT permissions_name_no_comma CHECK (strpos(name, ',') = 0);
