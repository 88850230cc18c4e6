-- invitation_email tells accept-invite which email a live invitation is
-- for (so the new password can be refused when it equals it), and nothing
-- about used, expired or withdrawn invitations.
BEGIN;
SELECT plan(6);

INSERT INTO homebot.organizations (id, name, slug)
VALUES ('00000000-0000-4000-8000-0000000016a1', 'Inv A', 'pgtap-16-inv-a');
INSERT INTO homebot.users (id, email)
VALUES ('00000000-0000-4000-8000-0000000016b1', 'Invited.One@example.test');
INSERT INTO homebot.memberships (organization_id, user_id, role, status)
VALUES ('00000000-0000-4000-8000-0000000016a1', '00000000-0000-4000-8000-0000000016b1', 'member', 'invited');
INSERT INTO homebot.invitations (organization_id, user_id, token_hash, expires_at)
VALUES ('00000000-0000-4000-8000-0000000016a1', '00000000-0000-4000-8000-0000000016b1',
        sha256('live'), now() + interval '1 day'),
       ('00000000-0000-4000-8000-0000000016a1', '00000000-0000-4000-8000-0000000016b1',
        sha256('expired'), now() - interval '1 second');

SET LOCAL ROLE homebot_app;
SELECT is(homebot.invitation_email(sha256('live')), 'Invited.One@example.test',
          'a live invitation gives its email (to homebot_app, with no context)');
SELECT is(homebot.invitation_email(sha256('expired')), NULL, 'an expired one gives nothing');
SELECT is(homebot.invitation_email(sha256('unknown')), NULL, 'an unknown token gives nothing');
SELECT throws_ok($$SELECT * FROM homebot.invitations$$, '42501', NULL,
                 'homebot_app still cannot read invitations');
RESET ROLE;

UPDATE homebot.invitations SET used_at = now() WHERE token_hash = sha256('live');
SELECT is(homebot.invitation_email(sha256('live')), NULL, 'a used one gives nothing');
UPDATE homebot.invitations SET used_at = NULL WHERE token_hash = sha256('live');
UPDATE homebot.memberships SET status = 'active'
 WHERE user_id = '00000000-0000-4000-8000-0000000016b1';
SELECT is(homebot.invitation_email(sha256('live')), NULL,
          'nor one whose membership is no longer invited');

SELECT * FROM finish();
ROLLBACK;
