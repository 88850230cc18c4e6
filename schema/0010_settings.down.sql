-- Undoes 0010_settings (migrate down drops the functions and triggers of
-- the repeatable files first).
DROP TABLE homebot.platform_settings;
ALTER TABLE homebot.organizations
	DROP COLUMN settings_updated_by,
	DROP COLUMN settings_updated_at,
	DROP COLUMN settings_version;
