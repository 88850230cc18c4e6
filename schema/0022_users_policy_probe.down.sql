-- Undoes 0022_users_policy_probe: 0001's policy as it was.
ALTER POLICY users_in_current_organization ON homebot.users
	USING (EXISTS (
		SELECT FROM homebot.memberships m
		 WHERE m.organization_id = (SELECT NULLIF(current_setting('app.org_id', true), '')::uuid)
		   AND m.user_id = users.id))
	WITH CHECK (EXISTS (
		SELECT FROM homebot.memberships m
		 WHERE m.organization_id = (SELECT NULLIF(current_setting('app.org_id', true), '')::uuid)
		   AND m.user_id = users.id));
