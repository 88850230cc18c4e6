-- Undoes 0017_password_history (migrate down drops the trigger and the
-- functions of R__passwords.sql first).
DROP TABLE homebot.password_history;
