-- The users policy answers with one primary-key probe per row instead of
-- reading the whole organization's memberships. PostgreSQL plans the
-- correlated EXISTS of 0001's policy as a choice between a probe per row
-- and a hash of every membership of the organization built per statement;
-- with the organization unknown at plan time (it comes from the context)
-- it picked the hash, so GET /api/v1/auth/me read 10 memberships in an
-- organization of 10 and 100,000 in an organization of 100,000. A
-- correlated condition that is not an equality (users.id IS NOT NULL,
-- always true of a primary key) keeps the sub-query from being turned
-- into a hashed one, so only the probe remains. Same rows either way.
ALTER POLICY users_in_current_organization ON homebot.users
	USING (EXISTS (
		SELECT FROM homebot.memberships m
		 WHERE m.organization_id = (SELECT NULLIF(current_setting('app.org_id', true), '')::uuid)
		   AND m.user_id = users.id
		   AND users.id IS NOT NULL))
	WITH CHECK (EXISTS (
		SELECT FROM homebot.memberships m
		 WHERE m.organization_id = (SELECT NULLIF(current_setting('app.org_id', true), '')::uuid)
		   AND m.user_id = users.id
		   AND users.id IS NOT NULL));
