-- Password history (api.md §12): a new password equal to one of the
-- account's last 5 (the current one and the 4 before it) is refused. The
-- C programs compare with bcrypt, so the database keeps the replaced
-- hashes, never a password. Written by a trigger on users
-- (R__passwords.sql) and read through password_history_of; no runtime
-- role reads the table itself.
CREATE TABLE homebot.password_history (
	user_id       uuid NOT NULL REFERENCES homebot.users (id) ON DELETE CASCADE,
	password_hash text NOT NULL,
	replaced_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
	PRIMARY KEY (user_id, replaced_at)
);
ALTER TABLE homebot.password_history ENABLE ROW LEVEL SECURITY;
ALTER TABLE homebot.password_history FORCE ROW LEVEL SECURITY;
-- Only the functions of R__passwords.sql, which run as the owner; no
-- role is granted anything on the table.
CREATE POLICY definer_access ON homebot.password_history TO CURRENT_USER
	USING (true) WITH CHECK (true);
