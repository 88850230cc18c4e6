-- Multi-factor authentication (api.md §12): a user's TOTP secret, the
-- recovery codes and the pending second steps of logins. None of these
-- tables belongs to an organization (a person's second factor goes with
-- the person, into every organization), so homebot_app has no privilege
-- on them: the SECURITY DEFINER functions of R__mfa.sql, each given the
-- user id its caller authenticated, are the only way in.

-- users.mfa_enabled_at: when TOTP was confirmed, NULL while it is off. It
-- lives on the users row so that authenticate_session, the one statement
-- of every token-authenticated request, reads it with no join of its own.
ALTER TABLE homebot.users ADD COLUMN mfa_enabled_at timestamptz;
-- The admin program authenticates its callers with authenticate_session too.
GRANT SELECT (mfa_enabled_at) ON homebot.users TO homebot_admin;

-- The TOTP secret (20 random bytes), encrypted by the C programs
-- (lib/mfa.c) before it reaches the database: secret is a value blob of
-- lib/vault.h under the data key wrapped_key wraps, both bound to the
-- binding id "user:<user id>" and the blob to generation too, so neither
-- decrypts on another user's row or after a newer enrolment. One row per
-- user: a pending enrolment until users.mfa_enabled_at is set, then the
-- active secret. last_step is the time step of the last code accepted:
-- only a later one is accepted after it (no replay).
CREATE TABLE homebot.user_totp (
	user_id uuid PRIMARY KEY REFERENCES homebot.users (id) ON DELETE CASCADE,
	wrapped_key bytea NOT NULL CHECK (octet_length(wrapped_key) BETWEEN 67 AND 98),
	secret bytea NOT NULL CHECK (octet_length(secret) BETWEEN 30 AND 93),
	generation bigint NOT NULL CHECK (generation > 0),
	last_step bigint,
	created_at timestamptz NOT NULL DEFAULT now()
);

-- Recovery codes, as their SHA-256 only; a used one stays with used_at.
CREATE TABLE homebot.mfa_recovery_codes (
	user_id uuid NOT NULL REFERENCES homebot.users (id) ON DELETE CASCADE,
	code_hash bytea NOT NULL CHECK (octet_length(code_hash) = 32),
	created_at timestamptz NOT NULL DEFAULT now(),
	used_at timestamptz,
	PRIMARY KEY (user_id, code_hash)
);

-- The first step of a login with TOTP: the mfa_token's SHA-256, the
-- account, the organization the login asked for (requested_org, NULL: the
-- usual choice), the password hash the password was checked against (a
-- password change in between voids the login) and a stronger re-hash of
-- the password to store once the login completes. Single use (used_at).
CREATE TABLE homebot.mfa_challenges (
	token_hash bytea PRIMARY KEY CHECK (octet_length(token_hash) = 32),
	user_id uuid NOT NULL REFERENCES homebot.users (id) ON DELETE CASCADE,
	requested_org uuid,
	verified_hash text NOT NULL,
	rehash text,
	created_at timestamptz NOT NULL DEFAULT now(),
	expires_at timestamptz NOT NULL,
	used_at timestamptz
);
-- The cascade from users, and the voiding of a user's pending logins.
CREATE INDEX mfa_challenges_user_id_idx ON homebot.mfa_challenges (user_id);
-- The purge of expired ones.
CREATE INDEX mfa_challenges_expires_at_idx ON homebot.mfa_challenges (expires_at);

ALTER TABLE homebot.user_totp ENABLE ROW LEVEL SECURITY;
ALTER TABLE homebot.user_totp FORCE ROW LEVEL SECURITY;
ALTER TABLE homebot.mfa_recovery_codes ENABLE ROW LEVEL SECURITY;
ALTER TABLE homebot.mfa_recovery_codes FORCE ROW LEVEL SECURITY;
ALTER TABLE homebot.mfa_challenges ENABLE ROW LEVEL SECURITY;
ALTER TABLE homebot.mfa_challenges FORCE ROW LEVEL SECURITY;
-- The owner's functions only (0002_auth.sql, definer_access).
CREATE POLICY definer_access ON homebot.user_totp TO CURRENT_USER USING (true) WITH CHECK (true);
CREATE POLICY definer_access ON homebot.mfa_recovery_codes TO CURRENT_USER USING (true) WITH CHECK (true);
CREATE POLICY definer_access ON homebot.mfa_challenges TO CURRENT_USER USING (true) WITH CHECK (true);
