-- Closing the invitation takeover (api.md §2, "Email ownership"): every
-- organization invites, never adds at once; an invitation's token proves
-- the mailbox, so for an unverified account whoever holds it sets the
-- password (and a squatter who registered the address first loses it);
-- once the address is verified, another invitation cannot replace the
-- password: it needs the account's password or token. A removed member's
-- API keys are revoked.
BEGIN;
SELECT plan(15);

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
                                                    sha256('pgtap-17-token-a'), 604800, 3)),
          'invited', 'A invites a new user');
-- Then B adds the same email: still an invitation, not an active membership.
SELECT set_config('app.org_id', '00000000-0000-4000-8000-0000000017b0', true),
       set_config('app.user_id', '00000000-0000-4000-8000-0000000017b1', true);
SELECT is((SELECT status FROM homebot.invite_member('pgtap-17-ceo@example.test', 'admin',
                                                    sha256('pgtap-17-token-b'), 604800, 3)),
          'invited', 'B invites (not adds) a user who has no password yet');
SELECT set_config('app.org_id', '', true), set_config('app.user_id', '', true);
RESET ROLE;
SELECT is((SELECT status FROM homebot.memberships
            WHERE organization_id = '00000000-0000-4000-8000-0000000017b0' AND user_id =
             (SELECT user_id FROM homebot.invitations WHERE token_hash = sha256('pgtap-17-token-b'))),
          'invited', 'B''s membership waits for B''s own invitation');
SET LOCAL ROLE homebot_app;

-- Whoever holds A's token (it reached the mailbox) sets the password and
-- so verifies the address; B's invitation can then no longer set one.
SELECT is((SELECT status FROM homebot.accept_invite(sha256('pgtap-17-token-a'), NULL, NULL, '$2b$04$mailbox', NULL,
          NULL, '127.0.0.1', 'ua', 'r1', sha256('pgtap-17-refresh-a'), 3600)),
          'ok', 'A''s invitation is accepted');
SELECT is((SELECT status FROM homebot.accept_invite(sha256('pgtap-17-token-b'), NULL, NULL, '$2b$04$second', NULL,
          NULL, '127.0.0.1', 'ua', 'r2', sha256('pgtap-17-refresh-b'), 3600)),
          'credentials', 'a verified account: an invitation with a new password but no proof of the account → credentials');
SELECT is((SELECT status FROM homebot.accept_invite(sha256('pgtap-17-token-b'), NULL, NULL, NULL, '$2b$04$guessed',
          NULL, '127.0.0.1', 'ua', 'r3', sha256('pgtap-17-refresh-b'), 3600)),
          'credentials', 'nor with a hash that is not the account''s');
RESET ROLE;
SELECT results_eq(
	$$SELECT u.password_hash, u.email_verified_at IS NOT NULL, m.status
	    FROM homebot.memberships m JOIN homebot.users u ON u.id = m.user_id
	   WHERE u.email = 'pgtap-17-ceo@example.test' AND m.organization_id = '00000000-0000-4000-8000-0000000017b0'$$,
	$$VALUES ('$2b$04$mailbox'::text, true, 'invited'::text)$$,
	'so the password stays the mailbox owner''s and B''s membership is not active');
SET LOCAL ROLE homebot_app;
SELECT is((SELECT status FROM homebot.accept_invite(sha256('pgtap-17-token-b'), NULL, NULL, '$2b$04$ignored', '$2b$04$mailbox',
          NULL, '127.0.0.1', 'ua', 'r4', sha256('pgtap-17-refresh-b'), 3600)),
          'ok', 'with the account''s own password (its hash) the CEO accepts B''s invitation');
RESET ROLE;
SELECT results_eq(
	$$SELECT u.password_hash, m.status FROM homebot.memberships m JOIN homebot.users u ON u.id = m.user_id
	   WHERE u.email = 'pgtap-17-ceo@example.test' AND m.organization_id = '00000000-0000-4000-8000-0000000017b0'$$,
	$$VALUES ('$2b$04$mailbox'::text, 'active'::text)$$,
	'B''s membership is active, the verified account keeps its password');

-- A squatter registers the address of someone B then invites: the
-- account is unverified, so the invitation's holder takes it over.
INSERT INTO homebot.organizations (id, name, slug) VALUES
	('00000000-0000-4000-8000-0000000017c0', 'Squat', 'pgtap-17-squat');
INSERT INTO homebot.users (id, email, password_hash) VALUES
	('00000000-0000-4000-8000-0000000017c1', 'pgtap-17-cfo@example.test', '$2b$04$squatter');
INSERT INTO homebot.memberships (organization_id, user_id, role) VALUES
	('00000000-0000-4000-8000-0000000017c0', '00000000-0000-4000-8000-0000000017c1', 'owner');
INSERT INTO homebot.sessions (id, organization_id, user_id) VALUES
	('00000000-0000-4000-8000-0000000017c9', '00000000-0000-4000-8000-0000000017c0', '00000000-0000-4000-8000-0000000017c1');
SET LOCAL ROLE homebot_app;
SELECT set_config('app.org_id', '00000000-0000-4000-8000-0000000017b0', true),
       set_config('app.user_id', '00000000-0000-4000-8000-0000000017b1', true);
SELECT results_eq(
	$$SELECT status, member_status FROM homebot.invite_member('pgtap-17-cfo@example.test', 'member',
	                                                         sha256('pgtap-17-token-cfo'), 604800, 3)$$,
	$$VALUES ('invited'::text, 'invited'::text)$$,
	'B invites the address the squatter registered: invited, not added');
SELECT set_config('app.org_id', '', true), set_config('app.user_id', '', true);
SELECT is((SELECT status FROM homebot.accept_invite(sha256('pgtap-17-token-cfo'), NULL, NULL, '$2b$04$cfo', NULL,
          NULL, '127.0.0.1', 'ua', 'r5', sha256('pgtap-17-refresh-cfo'), 3600)),
          'ok', 'the mailbox''s owner accepts without the squatter''s password');
RESET ROLE;
SELECT results_eq(
	$$SELECT password_hash, email_verified_at IS NOT NULL FROM homebot.users WHERE id = '00000000-0000-4000-8000-0000000017c1'$$,
	$$VALUES ('$2b$04$cfo'::text, true)$$,
	'the squatter''s password is replaced and the address verified');
SELECT isnt((SELECT revoked_at FROM homebot.sessions WHERE id = '00000000-0000-4000-8000-0000000017c9'), NULL,
	'the squatter''s session is revoked');

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
