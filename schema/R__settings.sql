-- Settings (api.md §10): the version of each organization's settings
-- document, and the one way homebot_app reads platform settings (the
-- public ones). Their row metadata is the row_metadata trigger's
-- (R__teams.sql).
--
-- A repeatable file (docs/migrations.md): migrate applies it again, in one
-- transaction, whenever it changes. Edit a function here, in place.

-- organization_settings_version: every change of an organization's
-- settings document (PATCH /organizations/current, PUT of one key, psql)
-- raises settings_version, the ETag of each of its keys, and stamps
-- settings_updated_at/_by from the transaction's context (NULL, the
-- version of a document that never changed, is version 1). An UPDATE that
-- leaves the document as it was changes none of them, nor can a writer
-- set them by hand.
CREATE OR REPLACE FUNCTION homebot.organization_settings_version()
RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
BEGIN
	IF TG_OP = 'INSERT' THEN
		NEW.settings_version := NULL;
		NEW.settings_updated_at := NULL;
		NEW.settings_updated_by := NULL;
	ELSIF NEW.settings IS DISTINCT FROM OLD.settings THEN
		NEW.settings_version := coalesce(OLD.settings_version, 1) + 1;
		NEW.settings_updated_at := now();
		NEW.settings_updated_by := NULLIF(current_setting('app.user_id', true), '')::uuid;
	ELSE
		NEW.settings_version := OLD.settings_version;
		NEW.settings_updated_at := OLD.settings_updated_at;
		NEW.settings_updated_by := OLD.settings_updated_by;
	END IF;
	RETURN NEW;
END
$$;

CREATE OR REPLACE TRIGGER organization_settings_version BEFORE INSERT OR UPDATE ON homebot.organizations
	FOR EACH ROW EXECUTE FUNCTION homebot.organization_settings_version();

-- public_settings (GET /api/v1/settings, no credential): the public
-- platform settings as one object {key: value}, and its ETag: the md5 of
-- that object's text (jsonb prints its keys in one order), so that any
-- change of what the public sees (a value, a key made public or private,
-- added or deleted) gives a new one and nothing else does. SECURITY
-- DEFINER: homebot_app may not read the table; this is the only window,
-- and it shows the public rows only.
CREATE OR REPLACE FUNCTION homebot.public_settings(OUT settings jsonb, OUT etag text)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, homebot, pg_temp
AS $$
	SELECT s.o, md5(s.o::text)
	  FROM (SELECT coalesce(jsonb_object_agg(key, value), '{}'::jsonb) AS o
	          FROM homebot.platform_settings WHERE is_public) AS s
$$;

REVOKE ALL ON FUNCTION
	homebot.organization_settings_version(),
	homebot.public_settings()
FROM PUBLIC;
GRANT EXECUTE ON FUNCTION homebot.public_settings() TO homebot_app, homebot_admin;
