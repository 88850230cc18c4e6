-- Email ownership (api.md §2): an address counts only once a link mailed
-- to it was followed. users.email_verified_at records when; the tokens of
-- those links (verification, password reset, email change) live in
-- email_tokens, the invitations' in invitations (0003_orgs.sql); an
-- invited membership keeps the address it was invited at. The functions are in
-- R__email.sql and R__orgs.sql.
--
-- Both new tables are global and used only through the SECURITY DEFINER
-- functions: homebot_app, homebot_admin and homebot_worker have no
-- privilege on them. email_tokens is under FORCE ROW LEVEL SECURITY with
-- the definer_access policy alone (see the top of 0002_auth.sql), so even
-- a role that was granted the table by mistake would read no row.

-- NULL until a mailed link proved the address. Existing accounts start
-- unverified: nothing proved them.
ALTER TABLE homebot.users ADD COLUMN email_verified_at timestamptz;
GRANT SELECT (email_verified_at) ON homebot.users TO homebot_admin;

-- The address an invited member was invited at, as the inviter wrote it:
-- the invitations go there, the member list shows it (the stored address
-- of an existing account, in its own case, would tell that the account
-- exists), and an invitation is good only while its account still has
-- that address (any case), so an account that moves to another address
-- cannot accept what was sent to the old one. NULL for memberships made
-- before this migration, and for those that never were invitations.
ALTER TABLE homebot.memberships ADD COLUMN invited_email text CHECK (char_length(invited_email) <= 254);

-- One mailed token: only its SHA-256 is stored. email is the address the
-- link went to (the new address, for an email change): a token is good
-- only while it still names what it was sent for. Issuing a token of a
-- kind uses up the user's older ones of that kind.
CREATE TABLE homebot.email_tokens (
	id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	user_id uuid NOT NULL REFERENCES homebot.users (id) ON DELETE CASCADE,
	kind text NOT NULL CHECK (kind IN ('verify', 'reset', 'email_change')),
	email text NOT NULL CHECK (char_length(email) <= 254),
	token_hash bytea NOT NULL CHECK (octet_length(token_hash) = 32),
	created_at timestamptz NOT NULL DEFAULT now(),
	expires_at timestamptz NOT NULL,
	used_at timestamptz,
	CONSTRAINT email_tokens_token_hash_key UNIQUE (token_hash)
);

-- "the user's live tokens of a kind", voided when a new one is issued;
-- also the cascade from users.
CREATE INDEX email_tokens_user_id_kind_idx ON homebot.email_tokens (user_id, kind);

ALTER TABLE homebot.email_tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE homebot.email_tokens FORCE ROW LEVEL SECURITY;
CREATE POLICY definer_access ON homebot.email_tokens TO CURRENT_USER USING (true) WITH CHECK (true);

-- The mails of a kind sent to an address in the last hour (api.md §2: at
-- most 3). Global, like login_attempts: no row-level security and no
-- grants; rows older than an hour are deleted as new ones are counted.
CREATE TABLE homebot.mail_sends (
	id bigserial PRIMARY KEY,
	email text NOT NULL CHECK (email = lower(email)),
	kind text NOT NULL,
	sent_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX mail_sends_email_kind_sent_at_idx ON homebot.mail_sends (email, kind, sent_at);
