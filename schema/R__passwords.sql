-- Password history (api.md §12; the table is in 0017_password_history.sql).
--
-- A repeatable file (docs/migrations.md): migrate applies it again, in one
-- transaction, whenever it changes.

-- password_history_keep: whenever an account's password changes (change,
-- reset, invitation, superadmin), the hash it replaces is kept, and only
-- the 4 newest are: with the current one, the last 5.
CREATE OR REPLACE FUNCTION homebot.password_history_keep()
RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
BEGIN
	INSERT INTO homebot.password_history (user_id, password_hash)
	VALUES (OLD.id, OLD.password_hash);
	DELETE FROM homebot.password_history h
	 WHERE h.user_id = OLD.id
	   AND h.replaced_at < (SELECT k.replaced_at FROM homebot.password_history k
	                         WHERE k.user_id = OLD.id
	                         ORDER BY k.replaced_at DESC OFFSET 3 LIMIT 1);
	RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION homebot.password_history_keep() FROM PUBLIC;

CREATE OR REPLACE TRIGGER password_history AFTER UPDATE OF password_hash ON homebot.users
	FOR EACH ROW
	WHEN (OLD.password_hash IS NOT NULL AND OLD.password_hash IS DISTINCT FROM NEW.password_hash)
	EXECUTE FUNCTION homebot.password_history_keep();

-- password_history_of: the hashes of the account of p_email's last 5
-- passwords, newest first (none for an unknown address), for the C
-- programs to compare a new password with. homebot_app reads the current
-- hash of an address at login already (login_attempt); this adds the 4
-- it replaced.
CREATE OR REPLACE FUNCTION homebot.password_history_of(p_email text)
RETURNS SETOF text
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
	(SELECT u.password_hash FROM homebot.users u
	  WHERE lower(u.email) = lower(p_email) AND u.password_hash IS NOT NULL)
	UNION ALL
	(SELECT h.password_hash
	   FROM homebot.users u JOIN homebot.password_history h ON h.user_id = u.id
	  WHERE lower(u.email) = lower(p_email)
	  ORDER BY h.replaced_at DESC LIMIT 4)
$$;
REVOKE ALL ON FUNCTION homebot.password_history_of(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION homebot.password_history_of(text) TO homebot_app;

-- password_proved: the current password of p_user, whose hash is p_hash,
-- was given right although nothing was changed (a new password refused
-- as one of the last 5): the email's lockout count ends as after a login,
-- since it was no failed guess. false when p_hash is not the current hash.
CREATE OR REPLACE FUNCTION homebot.password_proved(p_user uuid, p_hash text, p_ip text)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
DECLARE
	v_email text;
BEGIN
	SELECT u.email INTO v_email FROM homebot.users u WHERE u.id = p_user AND u.password_hash = p_hash;
	IF v_email IS NULL THEN
		RETURN false;
	END IF;
	INSERT INTO homebot.login_attempts (email, ip, succeeded) VALUES (lower(v_email), p_ip, true);
	RETURN true;
END
$$;
REVOKE ALL ON FUNCTION homebot.password_proved(uuid, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION homebot.password_proved(uuid, text, text) TO homebot_app;
