-- Undoes 0018_sign_in_devices (migrate down drops the functions of
-- R__sign_in.sql and R__auth.sql first).
DROP TABLE homebot.sign_in_devices;
