-- Undoes 0005_email.
DROP TABLE homebot.mail_sends;
DROP TABLE homebot.email_tokens;
ALTER TABLE homebot.users DROP COLUMN email_verified_at;
ALTER TABLE homebot.memberships DROP COLUMN invited_email;
