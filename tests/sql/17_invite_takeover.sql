-- Closing the invitation takeover: a user without a password is invited,
-- never added at once, by every organization; an invitation cannot set a
-- password once one exists; a removed member's API keys are revoked.
BEGIN;
SELECT plan(8);

INSERT INTO homebot.organizations (id, name, slug) VALUES
	('00000000-0000-4000-8000-0000000017a0', 'Attacker', 'pgtap-17-attacker'),
	('00000000-0000-4000-8000-0000000017b0', 'Victim', 'pgtap-17-victim');
INSERT INTO homebot.users (id, email, password_hash) VALUES
	('00000000-0000-4000-8000-0000000017a1', 'pgtap-17-owner-a@example.test', '$2b$04$pgtap17a'),
	('00000000-0000-4000-8000-0000000017b1', 'pgtap-17-owner-b@example.test', '$2b$04$pgtap17b');
INSERT INTO homebot.memberships (organization_id, user_id, role) VALUES
	('00000000-0000-4000-8000-0000000017a0', '00000000-0000-4000-8000-0000000017a1', 'owner'),
	('00000000-0000-4000-8000-0000000017b0', '00000000-0000-4000-8000-0000000017b1', 'owner');

SET LOCAL ROLE homebot_app;
-- Organization A invites the CEO first: the user is created without a password.
SELECT set_config('app.org_id', '00000000-0000-4000-8000-0000000017a0', true),
       set_config('app.user_id', '00000000-0000-4000-8000-0000000017a1', true);
SELECT is((SELECT status FROM homebot.invite_member('pgtap-17-ceo@example.test', 'member',
                                                    sha256('pgtap-17-token-a'), 604800)),
          'invited', 'A invites a new user');
-- Then B adds the same email: still an invitation, not an active membership.
SELECT set_config('app.org_id', '00000000-0000-4000-8000-0000000017b0', true),
       set_config('app.user_id', '00000000-0000-4000-8000-0000000017b1', true);
SELECT is((SELECT status FROM homebot.invite_member('pgtap-17-ceo@example.test', 'admin',
                                                    sha256('pgtap-17-token-b'), 604800)),
          'invited', 'B invites (not adds) a user who has no password yet');
SELECT set_config('app.org_id', '', true), set_config('app.user_id', '', true);
RESET ROLE;
SELECT is((SELECT status FROM homebot.memberships
            WHERE organization_id = '00000000-0000-4000-8000-0000000017b0' AND user_id =
             (SELECT user_id FROM homebot.invitations WHERE token_hash = sha256('pgtap-17-token-b'))),
          'invited', 'B''s membership waits for B''s own invitation');
SET LOCAL ROLE homebot_app;

-- Whoever holds A's token sets the password; B's invitation can no longer.
SELECT is((SELECT status FROM homebot.accept_invite(sha256('pgtap-17-token-a'), '$2b$04$attacker',
          NULL, '127.0.0.1', 'ua', 'r1', sha256('pgtap-17-refresh-a'), 3600)),
          'ok', 'A''s invitation is accepted');
SELECT is((SELECT status FROM homebot.accept_invite(sha256('pgtap-17-token-b'), '$2b$04$second',
          NULL, '127.0.0.1', 'ua', 'r2', sha256('pgtap-17-refresh-b'), 3600)),
          'invalid', 'an invitation cannot replace a password that exists');
RESET ROLE;
SELECT is((SELECT m.status FROM homebot.memberships m JOIN homebot.users u ON u.id = m.user_id
            WHERE u.email = 'pgtap-17-ceo@example.test'
              AND m.organization_id = '00000000-0000-4000-8000-0000000017b0'),
          'invited', 'so B''s membership never became active for the token holder of A');

-- remove_member revokes the removed member's keys in that organization.
INSERT INTO homebot.api_keys (organization_id, prefix, key_hash, name, scopes, created_by) VALUES
	('00000000-0000-4000-8000-0000000017b0', 'pgtap17k', sha256('k'), 'k', '{org:read}',
	 '00000000-0000-4000-8000-0000000017b1');
INSERT INTO homebot.memberships (organization_id, user_id, role) VALUES
	('00000000-0000-4000-8000-0000000017b0', '00000000-0000-4000-8000-0000000017a1', 'owner');
UPDATE homebot.api_keys SET created_by = '00000000-0000-4000-8000-0000000017a1' WHERE prefix = 'pgtap17k';
SET LOCAL ROLE homebot_app;
SELECT set_config('app.org_id', '00000000-0000-4000-8000-0000000017b0', true),
       set_config('app.user_id', '00000000-0000-4000-8000-0000000017b1', true);
SELECT is((SELECT status FROM homebot.remove_member('00000000-0000-4000-8000-0000000017a1')),
          'ok', 'B removes the member');
RESET ROLE;
SELECT isnt((SELECT revoked_at FROM homebot.api_keys WHERE prefix = 'pgtap17k'), NULL,
            'a removed member''s API keys are revoked');

SELECT * FROM finish();
ROLLBACK;
