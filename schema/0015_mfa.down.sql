-- Undoes 0015_mfa (migrate down drops the functions of the repeatable
-- files first); the audit events stay.
DROP TABLE homebot.mfa_challenges;
DROP TABLE homebot.mfa_recovery_codes;
DROP TABLE homebot.user_totp;
ALTER TABLE homebot.users DROP COLUMN mfa_enabled_at;
