-- The new sign-in notice (api.md §12; the table is in
-- 0018_sign_in_devices.sql). login_start and register (R__auth.sql) call
-- these; no runtime role may.
--
-- A repeatable file (docs/migrations.md): migrate applies it again, in one
-- transaction, whenever it changes.

-- sign_in_device_seen: records that p_user_id signs in now from the
-- device (p_family, p_network) and answers whether to tell the user: true
-- when the user had signed in before, from any device, but not from this
-- one in the last 90 days. An account's first device is no news: the one
-- it registered from, or the first sign-in recorded for an account made
-- otherwise (an invitation, a superadmin) or before devices were
-- recorded. The callers hold the user's row (login_start locks it,
-- register has just inserted it), so two sign-ins of one user do not
-- race here.
CREATE OR REPLACE FUNCTION homebot.sign_in_device_seen(p_user_id uuid, p_family text, p_network cidr)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
DECLARE
	v_last timestamptz;
	v_known boolean;
BEGIN
	-- sign_in_devices_pkey
	SELECT d.last_seen_at INTO v_last
	  FROM homebot.sign_in_devices d
	 WHERE d.user_id = p_user_id AND d.family = p_family AND d.network = p_network;
	IF FOUND THEN
		UPDATE homebot.sign_in_devices d SET last_seen_at = now()
		 WHERE d.user_id = p_user_id AND d.family = p_family AND d.network = p_network;
		RETURN v_last < now() - interval '90 days';
	END IF;
	-- sign_in_devices_pkey, by its user_id prefix
	v_known := EXISTS (SELECT FROM homebot.sign_in_devices d WHERE d.user_id = p_user_id);
	INSERT INTO homebot.sign_in_devices (user_id, family, network)
	VALUES (p_user_id, p_family, p_network);
	RETURN v_known;
END
$$;

-- sign_in_notice: the mail job of a new sign-in of p_user_id (what, when
-- in UTC, from where, and p_link to the account's security page), in the
-- caller's transaction. No token rides in it: the page asks the user to
-- sign in.
CREATE OR REPLACE FUNCTION homebot.sign_in_notice(p_user_id uuid, p_family text, p_network cidr, p_ip text,
                                                  p_link text)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
BEGIN
	PERFORM homebot.mail_enqueue(jsonb_build_object(
		'to', u.email,
		'template', 'sign_in_notice',
		'vars', jsonb_build_object(
			'when', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') || ' UTC',
			'device', p_family,
			'network', p_network::text,
			'ip', coalesce(p_ip, ''),
			'link', p_link)))
	  FROM homebot.users u
	 WHERE u.id = p_user_id;
END
$$;

-- sign_in_purge (homebot-worker's jobs.retention, beside email_purge):
-- deletes the devices not seen in 90 days, which sign_in_device_seen
-- treats as new already, but each user's last seen one, which keeps the
-- user known (a later sign-in from a new device still mails). Returns how
-- many rows went.
CREATE OR REPLACE FUNCTION homebot.sign_in_purge()
RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
DECLARE
	v_count integer;
BEGIN
	-- sign_in_devices_pkey, by its user_id prefix, for the newer device
	DELETE FROM homebot.sign_in_devices d
	 WHERE d.last_seen_at < now() - interval '90 days'
	   AND EXISTS (SELECT FROM homebot.sign_in_devices n
	                WHERE n.user_id = d.user_id AND n.last_seen_at > d.last_seen_at);
	GET DIAGNOSTICS v_count = ROW_COUNT;
	RETURN v_count;
END
$$;

REVOKE ALL ON FUNCTION
	homebot.sign_in_device_seen(uuid, text, cidr),
	homebot.sign_in_notice(uuid, text, cidr, text, text),
	homebot.sign_in_purge()
FROM PUBLIC, homebot_app, homebot_admin;
GRANT EXECUTE ON FUNCTION homebot.sign_in_purge() TO homebot_worker;
