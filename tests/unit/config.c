/*
 * config_load reads the environment and the env file named by
 * HOMEBOT_CONFIG (default ./homebot.env); the environment wins, and
 * anything it cannot parse stops the program with a message naming the
 * variable or the line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "tap.h"
#include "vault.h"

#define SECRET32	"0123456789abcdef0123456789abcdef"

static const char *const vars[] = {
	"HOMEBOT_CONFIG", "DATABASE_URL", "ADMIN_DATABASE_URL", "SECRET_KEY",
	"HOMEBOT_DEBUG", "HOMEBOT_PORT", "HOMEBOT_MAX_BODY", "CORS_ORIGINS",
	"HOMEBOT_HSTS", "ACCESS_TOKEN_TTL", "REFRESH_TOKEN_TTL",
	"HOMEBOT_ISSUER", "JWT_PRIVATE_KEY_FILE", "BCRYPT_COST",
	"PASSWORD_MIN_LENGTH", "LOGIN_MAX_ATTEMPTS", "LOGIN_WINDOW",
	"AUTH_RATE_PER_MINUTE", "REGISTRATION_OPEN", "SMTP_URL", "SMTP_USER",
	"SMTP_PASSWORD", "SMTP_TIMEOUT", "MAIL_FROM", "PUBLIC_URL",
	"REFRESH_RATE_PER_MINUTE", "TRUSTED_PROXIES",
	"METRICS_DIR", "METRICS_ALLOW", "VAULT_MASTER_KEY", "VAULT_OLD_KEYS",
	"READY_DATA_DIR", "READY_LOG_DIR", "READY_DISK_MIN_FREE",
	"READY_JOB_MAX_AGE", "READY_JOB_MAX_DEAD", "MQTT_HOST", "MQTT_PORT",
	"READY_MQTT_TIMEOUT", "MQTT_PUBLISHER_SECRET",
};

static char dir[] = "/tmp/hb-config-XXXXXX";
static char files[128][64];
static int nfiles;

static void
env_clear(void)
{
	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		unsetenv(vars[i]);
}

/* Writes text to a new temporary file and returns its path. */
static const char *
env_file(const char *text)
{
	char *path;
	FILE *fp;
	int fd;

	if (nfiles == (int)(sizeof(files) / sizeof(files[0])))
		abort();
	path = files[nfiles++];
	snprintf(path, sizeof(files[0]), "%s/env-XXXXXX", dir);
	fd = mkstemp(path);
	if (fd == -1 || (fp = fdopen(fd, "w")) == NULL) {
		perror("mkstemp");
		abort();
	}
	fputs(text, fp);
	fclose(fp);
	return path;
}

/* Clears the environment, points HOMEBOT_CONFIG at text, loads. */
static int
load_text(const char *text, struct hb_config *cfg, struct hb_error *err)
{
	env_clear();
	hb_error_clear(err);
	if (text != NULL)
		setenv("HOMEBOT_CONFIG", env_file(text), 1);
	return config_load(cfg, err);
}

static void
test_defaults(void)
{
	struct hb_config cfg;
	struct hb_error err = {0};
	int rc;

	/* No HOMEBOT_CONFIG and no ./homebot.env: only the environment. */
	env_clear();
	setenv("SECRET_KEY", SECRET32, 1);
	rc = config_load(&cfg, &err);
	is_int(rc, 0, "defaults: loads with only SECRET_KEY set (%s)",
	    err.message);
	is_str(cfg.secret_key, SECRET32, "defaults: SECRET_KEY from the environment");
	is_str(cfg.database_url, "", "defaults: DATABASE_URL empty");
	is_str(cfg.admin_database_url, "", "defaults: ADMIN_DATABASE_URL empty");
	ok(!cfg.debug, "defaults: HOMEBOT_DEBUG false");
	is_int(cfg.port, 3334, "defaults: HOMEBOT_PORT 3334");
	is_int(cfg.max_body, 65536, "defaults: HOMEBOT_MAX_BODY 64 KiB");
	is_str(cfg.cors_origins, "", "defaults: CORS_ORIGINS empty");
	ok(!cfg.hsts, "defaults: HOMEBOT_HSTS false");
	is_int(cfg.access_token_ttl, 900, "defaults: ACCESS_TOKEN_TTL 900");
	is_int(cfg.refresh_token_ttl, 604800,
	    "defaults: REFRESH_TOKEN_TTL 604800");
	is_str(cfg.issuer, "homebot", "defaults: HOMEBOT_ISSUER homebot");
	is_str(cfg.jwt_private_key_file, "",
	    "defaults: JWT_PRIVATE_KEY_FILE empty (HS256)");
	is_int(cfg.bcrypt_cost, 12, "defaults: BCRYPT_COST 12");
	is_int(cfg.password_min_length, 10, "defaults: PASSWORD_MIN_LENGTH 10");
	is_int(cfg.login_max_attempts, 5, "defaults: LOGIN_MAX_ATTEMPTS 5");
	is_int(cfg.login_window, 900, "defaults: LOGIN_WINDOW 900");
	is_int(cfg.auth_rate_per_minute, 60,
	    "defaults: AUTH_RATE_PER_MINUTE 60");
	is_int(cfg.refresh_rate_per_minute, 120,
	    "defaults: REFRESH_RATE_PER_MINUTE 120");
	is_int(cfg.trusted_proxies.n, 0,
	    "defaults: TRUSTED_PROXIES empty: no proxy is trusted");
	ok(cfg.registration_open, "defaults: REGISTRATION_OPEN true");
	is_str(cfg.smtp_url, "", "defaults: SMTP_URL empty (mail not configured)");
	is_str(cfg.smtp_user, "", "defaults: SMTP_USER empty");
	is_str(cfg.smtp_password, "", "defaults: SMTP_PASSWORD empty");
	is_int(cfg.smtp_timeout, 30, "defaults: SMTP_TIMEOUT 30");
	is_str(cfg.mail_from, "Homebot <homebot@localhost>",
	    "defaults: MAIL_FROM Homebot <homebot@localhost>");
	is_str(cfg.public_url, "http://127.0.0.1:3334",
	    "defaults: PUBLIC_URL http://127.0.0.1:3334");

	/* An empty HOMEBOT_CONFIG is the same as none. */
	setenv("HOMEBOT_CONFIG", "", 1);
	rc = config_load(&cfg, &err);
	is_int(rc, 0, "an empty HOMEBOT_CONFIG means the default file (%s)",
	    err.message);
	hb_error_clear(&err);
}

static void
test_file_values(void)
{
	struct hb_config cfg;
	struct hb_error err = {0};
	int rc;

	rc = load_text(
	    "DATABASE_URL=postgresql://app:pw@db.example:5432/homebot?sslmode=require\n"
	    "ADMIN_DATABASE_URL=host=/run/pg user=admin dbname=homebot\n"
	    "SECRET_KEY=" SECRET32 "\n"
	    "HOMEBOT_DEBUG=true\n"
	    "HOMEBOT_PORT=8080\n"
	    "HOMEBOT_MAX_BODY=1048576\n"
	    "CORS_ORIGINS=https://app.example.com,https://admin.example.com\n"
	    "HOMEBOT_HSTS=1\n"
	    "ACCESS_TOKEN_TTL=600\n"
	    "REFRESH_TOKEN_TTL=86400\n"
	    "HOMEBOT_ISSUER=homebot-test\n"
	    "JWT_PRIVATE_KEY_FILE=/etc/homebot/jwt.pem\n"
	    "BCRYPT_COST=4\n"
	    "PASSWORD_MIN_LENGTH=12\n"
	    "LOGIN_MAX_ATTEMPTS=3\n"
	    "LOGIN_WINDOW=60\n"
	    "AUTH_RATE_PER_MINUTE=1000\n"
	    "REFRESH_RATE_PER_MINUTE=300\n"
	    "TRUSTED_PROXIES=127.0.0.1/32, 10.0.0.0/8,::1\n"
	    "REGISTRATION_OPEN=no\n"
	    "SMTP_URL=smtps://mail.example.com:465\n"
	    "SMTP_USER=homebot@example.com\n"
	    "SMTP_PASSWORD=p@ss w0rd=#1\n"
	    "SMTP_TIMEOUT=5\n"
	    "MAIL_FROM=\"Acme, Inc.\" <noreply@acme.example>\n"
	    "PUBLIC_URL=https://app.acme.example/homebot/\n", &cfg, &err);
	is_int(rc, 0, "file: every variable is read (%s)", err.message);
	is_str(cfg.database_url,
	    "postgresql://app:pw@db.example:5432/homebot?sslmode=require",
	    "file: a value may contain '=' and '?'");
	is_str(cfg.admin_database_url, "host=/run/pg user=admin dbname=homebot",
	    "file: a value may contain spaces and '='");
	is_str(cfg.secret_key, SECRET32, "file: SECRET_KEY");
	ok(cfg.debug, "file: HOMEBOT_DEBUG=true");
	is_int(cfg.port, 8080, "file: HOMEBOT_PORT");
	is_int(cfg.max_body, 1048576, "file: HOMEBOT_MAX_BODY");
	is_str(cfg.cors_origins,
	    "https://app.example.com,https://admin.example.com",
	    "file: CORS_ORIGINS");
	ok(cfg.hsts, "file: HOMEBOT_HSTS=1 is true");
	is_int(cfg.access_token_ttl, 600, "file: ACCESS_TOKEN_TTL");
	is_int(cfg.refresh_token_ttl, 86400, "file: REFRESH_TOKEN_TTL");
	is_str(cfg.issuer, "homebot-test", "file: HOMEBOT_ISSUER");
	is_str(cfg.jwt_private_key_file, "/etc/homebot/jwt.pem",
	    "file: JWT_PRIVATE_KEY_FILE");
	is_int(cfg.bcrypt_cost, 4, "file: BCRYPT_COST");
	is_int(cfg.password_min_length, 12, "file: PASSWORD_MIN_LENGTH");
	is_int(cfg.login_max_attempts, 3, "file: LOGIN_MAX_ATTEMPTS");
	is_int(cfg.login_window, 60, "file: LOGIN_WINDOW");
	is_int(cfg.auth_rate_per_minute, 1000, "file: AUTH_RATE_PER_MINUTE");
	is_int(cfg.refresh_rate_per_minute, 300,
	    "file: REFRESH_RATE_PER_MINUTE");
	is_int(cfg.trusted_proxies.n, 3, "file: TRUSTED_PROXIES, three networks");
	ok(cidr_list_contains(&cfg.trusted_proxies, "10.1.2.3") &&
	    cidr_list_contains(&cfg.trusted_proxies, "::1") &&
	    !cidr_list_contains(&cfg.trusted_proxies, "192.0.2.1"),
	    "file: TRUSTED_PROXIES holds what it lists");
	ok(!cfg.registration_open, "file: REGISTRATION_OPEN=no is false");
	is_str(cfg.smtp_url, "smtps://mail.example.com:465", "file: SMTP_URL");
	is_str(cfg.smtp_user, "homebot@example.com", "file: SMTP_USER");
	is_str(cfg.smtp_password, "p@ss w0rd=#1",
	    "file: SMTP_PASSWORD keeps blanks, '=' and '#'");
	is_int(cfg.smtp_timeout, 5, "file: SMTP_TIMEOUT");
	is_str(cfg.mail_from, "\"Acme, Inc.\" <noreply@acme.example>",
	    "file: MAIL_FROM with a quoted display name");
	is_str(cfg.public_url, "https://app.acme.example/homebot",
	    "file: PUBLIC_URL, its trailing '/' removed");

	/* scripts/stack.sh appends DATABASE_URL after the user's file. */
	rc = load_text("SECRET_KEY=" SECRET32 "\nDATABASE_URL=first\n"
	    "DATABASE_URL=second\n", &cfg, &err);
	is_int(rc, 0, "file: a repeated variable loads");
	is_str(cfg.database_url, "second", "file: the last of a repeated variable wins");

	/* The default file is ./homebot.env when HOMEBOT_CONFIG is unset. */
	env_clear();
	{
		FILE *fp = fopen("homebot.env", "w");

		if (fp == NULL) {
			perror("homebot.env");
			abort();
		}
		fputs("SECRET_KEY=" SECRET32 "\nHOMEBOT_ISSUER=from-cwd\n", fp);
		fclose(fp);
	}
	rc = config_load(&cfg, &err);
	is_int(rc, 0, "./homebot.env is read without HOMEBOT_CONFIG (%s)",
	    err.message);
	is_str(cfg.issuer, "from-cwd", "./homebot.env values are used");
	unlink("homebot.env");
	hb_error_clear(&err);
}

static void
test_environment_wins(void)
{
	struct hb_config cfg;
	struct hb_error err = {0};
	int rc;

	env_clear();
	setenv("HOMEBOT_CONFIG", env_file(
	    "SECRET_KEY=file-secret-file-secret-file-secret\n"
	    "HOMEBOT_PORT=1111\n"
	    "HOMEBOT_ISSUER=file-issuer\n"
	    "HOMEBOT_DEBUG=false\n"
	    "CORS_ORIGINS=https://file.example\n"), 1);
	setenv("SECRET_KEY", SECRET32 "-from-env", 1);
	setenv("HOMEBOT_PORT", "2222", 1);
	setenv("HOMEBOT_DEBUG", "on", 1);
	rc = config_load(&cfg, &err);
	is_int(rc, 0, "environment + file loads (%s)", err.message);
	is_str(cfg.secret_key, SECRET32 "-from-env",
	    "the environment's SECRET_KEY wins over the file's");
	is_int(cfg.port, 2222, "the environment's HOMEBOT_PORT wins");
	ok(cfg.debug, "the environment's HOMEBOT_DEBUG=on wins over false");
	is_str(cfg.issuer, "file-issuer",
	    "a variable only in the file comes from the file");
	is_str(cfg.cors_origins, "https://file.example",
	    "CORS_ORIGINS only in the file comes from the file");

	/* A bad value in the file is not an error when the environment wins. */
	env_clear();
	setenv("HOMEBOT_CONFIG", env_file("SECRET_KEY=" SECRET32 "\n"
	    "HOMEBOT_PORT=not-a-port\n"), 1);
	setenv("HOMEBOT_PORT", "4444", 1);
	rc = config_load(&cfg, &err);
	is_int(rc, 0, "the environment overrides a bad file value (%s)",
	    err.message);
	is_int(cfg.port, 4444, "HOMEBOT_PORT from the environment");
	hb_error_clear(&err);
}

static void
test_syntax(void)
{
	struct hb_config cfg;
	struct hb_error err = {0};
	int rc;

	rc = load_text(
	    "# Homebot settings\n"
	    "\n"
	    "   # an indented comment\n"
	    "export SECRET_KEY=\"" SECRET32 "\"\n"
	    "export   HOMEBOT_ISSUER = 'single quoted'  \n"
	    "  DATABASE_URL = \"host=/tmp dbname=x\"\r\n"
	    "ADMIN_DATABASE_URL=\"\"\n"
	    "CORS_ORIGINS='https://a.example, https://b.example'\n"
	    "\t\n"
	    "JWT_PRIVATE_KEY_FILE=\"keeps 'inner' quotes\"\n"
	    "HOMEBOT_PORT=\"9090\"\n", &cfg, &err);
	is_int(rc, 0, "syntax: comments, export and quotes load (%s)",
	    err.message);
	is_str(cfg.secret_key, SECRET32,
	    "syntax: export prefix and double quotes are removed");
	is_str(cfg.issuer, "single quoted",
	    "syntax: single quotes removed, spaces around '=' trimmed");
	is_str(cfg.database_url, "host=/tmp dbname=x",
	    "syntax: leading blanks and a CRLF line ending are trimmed");
	is_str(cfg.admin_database_url, "", "syntax: \"\" is an empty value");
	is_str(cfg.cors_origins, "https://a.example, https://b.example",
	    "syntax: quoted value keeps inner spaces and commas");
	is_str(cfg.jwt_private_key_file, "keeps 'inner' quotes",
	    "syntax: quotes of the other kind inside a value are kept");
	is_int(cfg.port, 9090, "syntax: a quoted integer parses");

	rc = load_text("SECRET_KEY=" SECRET32 "\n"
	    "# HOMEBOT_PORT=1\n"
	    "#HOMEBOT_ISSUER=commented-out\n", &cfg, &err);
	is_int(rc, 0, "syntax: commented-out assignments load");
	is_int(cfg.port, 3334, "syntax: a commented-out HOMEBOT_PORT is ignored");
	is_str(cfg.issuer, "homebot",
	    "syntax: a commented-out HOMEBOT_ISSUER is ignored");

	rc = load_text("SECRET_KEY=" SECRET32, &cfg, &err);
	is_int(rc, 0, "syntax: a last line without a newline loads");
	is_str(cfg.secret_key, SECRET32,
	    "syntax: a last line without a newline is read");
	hb_error_clear(&err);
}

static void
test_secret_key(void)
{
	struct hb_config cfg;
	struct hb_error err = {0};
	int rc;

	rc = load_text("HOMEBOT_PORT=8080\n", &cfg, &err);
	is_int(rc, -1, "a missing SECRET_KEY fails");
	has_str(err.message, "SECRET_KEY", "the message names SECRET_KEY");

	rc = load_text("SECRET_KEY=\n", &cfg, &err);
	is_int(rc, -1, "an empty SECRET_KEY fails");
	has_str(err.message, "SECRET_KEY", "the message names SECRET_KEY");

	rc = load_text("SECRET_KEY=0123456789abcdef0123456789abcde\n", &cfg,
	    &err);
	is_int(rc, -1, "a 31-byte SECRET_KEY fails");
	has_str(err.message, "SECRET_KEY", "the message names SECRET_KEY");

	env_clear();
	setenv("SECRET_KEY", "0123456789abcdef0123456789abcde", 1);
	rc = config_load(&cfg, &err);
	is_int(rc, -1, "a 31-byte SECRET_KEY from the environment fails");
	has_str(err.message, "SECRET_KEY", "the message names SECRET_KEY");

	rc = load_text("SECRET_KEY=" SECRET32 "\n", &cfg, &err);
	is_int(rc, 0, "a 32-byte SECRET_KEY is enough");
	hb_error_clear(&err);
}

/* Loads "NAME=value" with a good SECRET_KEY; expects a failure naming NAME. */
static void
bad_value(const char *name, const char *value)
{
	struct hb_config cfg;
	struct hb_error err = {0};
	char text[512];
	int rc;

	snprintf(text, sizeof(text), "SECRET_KEY=%s\n%s=%s\n", SECRET32,
	    name, value);
	rc = load_text(text, &cfg, &err);
	is_int(rc, -1, "%s=%s in the file fails", name, value);
	has_str(err.message, name, "the message names %s", name);

	env_clear();
	setenv("SECRET_KEY", SECRET32, 1);
	setenv(name, value, 1);
	rc = config_load(&cfg, &err);
	is_int(rc, -1, "%s=%s in the environment fails", name, value);
	has_str(err.message, name, "the message names %s", name);
	hb_error_clear(&err);
}

static void
test_bad_values(void)
{
	char big[2100];

	bad_value("HOMEBOT_PORT", "abc");
	bad_value("HOMEBOT_PORT", "70000");
	bad_value("HOMEBOT_PORT", "0");
	bad_value("HOMEBOT_PORT", "-1");
	bad_value("HOMEBOT_PORT", "80 80");
	bad_value("HOMEBOT_PORT", "99999999999999999999999");
	bad_value("HOMEBOT_MAX_BODY", "12x");
	bad_value("HOMEBOT_MAX_BODY", "64k");
	bad_value("HOMEBOT_DEBUG", "maybe");
	bad_value("HOMEBOT_HSTS", "2");
	bad_value("REGISTRATION_OPEN", "yes please");
	bad_value("BCRYPT_COST", "3");
	bad_value("ACCESS_TOKEN_TTL", "1.5");
	bad_value("SMTP_URL", "http://mail.example.com");
	bad_value("SMTP_URL", "mail.example.com:25");
	bad_value("SMTP_URL", "smtp://");
	bad_value("SMTP_URL", "file:///etc/passwd");
	bad_value("SMTP_URL", "smtp://mail.example.com:25 x");
	bad_value("SMTP_TIMEOUT", "0");
	bad_value("SMTP_TIMEOUT", "601");
	bad_value("MAIL_FROM", "Homebot");
	bad_value("MAIL_FROM", "");
	bad_value("PUBLIC_URL", "127.0.0.1:3334");
	bad_value("PUBLIC_URL", "ftp://example.com");
	bad_value("PUBLIC_URL", "https://");
	bad_value("PUBLIC_URL", "https://example.com/?x=1");
	bad_value("PUBLIC_URL", "https://example.com/#top");
	bad_value("PUBLIC_URL", "");
	bad_value("REFRESH_RATE_PER_MINUTE", "0");
	bad_value("REFRESH_RATE_PER_MINUTE", "many");
	bad_value("TRUSTED_PROXIES", "nonsense");
	bad_value("TRUSTED_PROXIES", "10.0.0.0/33");
	bad_value("TRUSTED_PROXIES", "127.0.0.1/32,10.0.0.0/8x");
	bad_value("TRUSTED_PROXIES", "proxy.example.com");
	bad_value("TRUSTED_PROXIES", "*");
	{
		struct hb_config cfg;
		struct hb_error err = {0};

		env_clear();
		setenv("SECRET_KEY", SECRET32, 1);
		setenv("TRUSTED_PROXIES", "127.0.0.1/32, 10.0.0.300/8, ::1", 1);
		is_int(config_load(&cfg, &err), -1,
		    "TRUSTED_PROXIES with one bad entry fails");
		has_str(err.message, "TRUSTED_PROXIES: \"10.0.0.300/8\"",
		    "the message names the variable and the bad entry");
		lacks_str(err.message, "\n", "the message is one line");
		hb_error_clear(&err);
	}
	{
		struct hb_config cfg;
		struct hb_error err = {0};

		env_clear();
		setenv("SECRET_KEY", SECRET32, 1);
		setenv("MAIL_FROM", "Homebot <homebot@localhost>\r\nBcc: x@y", 1);
		is_int(config_load(&cfg, &err), -1,
		    "a MAIL_FROM with CRLF in the environment fails");
		has_str(err.message, "MAIL_FROM", "the message names MAIL_FROM");
		setenv("MAIL_FROM", "homebot@localhost", 1);
		setenv("SMTP_URL", "SMTP://localhost:2525", 1);
		setenv("PUBLIC_URL", "http://localhost:3334///", 1);
		is_int(config_load(&cfg, &err), 0,
		    "a bare MAIL_FROM address and an upper-case scheme load (%s)",
		    err.message);
		is_str(cfg.public_url, "http://localhost:3334",
		    "every trailing '/' of PUBLIC_URL is removed");
		hb_error_clear(&err);
	}

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	env_clear();
	setenv("SECRET_KEY", SECRET32, 1);
	setenv("CORS_ORIGINS", big, 1);
	{
		struct hb_config cfg;
		struct hb_error err = {0};

		is_int(config_load(&cfg, &err), -1,
		    "a CORS_ORIGINS longer than its buffer fails");
		has_str(err.message, "CORS_ORIGINS",
		    "the message names CORS_ORIGINS");
		hb_error_clear(&err);
	}
}

static void
test_file_errors(void)
{
	struct hb_config cfg;
	struct hb_error err = {0};
	char missing[128];
	int rc;

	snprintf(missing, sizeof(missing), "%s/no-such-file.env", dir);
	env_clear();
	setenv("SECRET_KEY", SECRET32, 1);
	setenv("HOMEBOT_CONFIG", missing, 1);
	rc = config_load(&cfg, &err);
	is_int(rc, -1, "an explicitly named, missing HOMEBOT_CONFIG fails");
	has_str(err.message, "no-such-file.env",
	    "the message names the missing file");

	rc = load_text("SECRET_KEY=" SECRET32 "\n"
	    "# comment\n"
	    "this line has no equals sign\n"
	    "HOMEBOT_PORT=8080\n", &cfg, &err);
	is_int(rc, -1, "a line without '=' fails");
	has_str(err.message, ":3:", "the message names line 3 (%s)",
	    err.message);

	rc = load_text("SECRET_KEY=" SECRET32 "\n"
	    "\n"
	    "\n"
	    "\n"
	    "BAD NAME=1\n", &cfg, &err);
	is_int(rc, -1, "a variable name with a space fails");
	has_str(err.message, ":5:", "the message names line 5 (%s)",
	    err.message);

	rc = load_text("1PORT=1\n", &cfg, &err);
	is_int(rc, -1, "a variable name starting with a digit fails");
	has_str(err.message, ":1:", "the message names line 1 (%s)",
	    err.message);

	rc = load_text("SECRET_KEY=" SECRET32 "\n=value\n", &cfg, &err);
	is_int(rc, -1, "an empty variable name fails");
	has_str(err.message, ":2:", "the message names line 2 (%s)",
	    err.message);
	hb_error_clear(&err);
}

static void
test_origins(void)
{
	struct hb_config cfg;

	memset(&cfg, 0, sizeof(cfg));
	snprintf(cfg.cors_origins, sizeof(cfg.cors_origins), "%s",
	    "https://app.example.com,https://admin.example.com:8443, "
	    "http://localhost:3000");
	ok(config_origin_allowed(&cfg, "https://app.example.com"),
	    "origins: the first listed origin is allowed");
	ok(config_origin_allowed(&cfg, "https://admin.example.com:8443"),
	    "origins: a middle origin with a port is allowed");
	ok(config_origin_allowed(&cfg, "http://localhost:3000"),
	    "origins: an origin after \", \" is allowed");
	ok(!config_origin_allowed(&cfg, "https://app.example.co"),
	    "origins: a prefix of a listed origin is refused");
	ok(!config_origin_allowed(&cfg, "https://app.example.com.evil.net"),
	    "origins: a listed origin plus a suffix is refused");
	ok(!config_origin_allowed(&cfg, "https://evil.app.example.com"),
	    "origins: a subdomain of a listed origin is refused");
	ok(!config_origin_allowed(&cfg, "app.example.com"),
	    "origins: a listed origin's host alone is refused");
	ok(!config_origin_allowed(&cfg, "https://admin.example.com"),
	    "origins: a listed origin without its port is refused");
	ok(!config_origin_allowed(&cfg,
	    "https://app.example.com,https://admin.example.com:8443"),
	    "origins: two listed origins joined by a comma are refused");
	ok(!config_origin_allowed(&cfg, "http://app.example.com"),
	    "origins: another scheme is refused");
	ok(!config_origin_allowed(&cfg, ""), "origins: an empty origin is refused");
	ok(!config_origin_allowed(&cfg, NULL), "origins: no origin is refused");
	ok(!config_origin_allowed(&cfg, "*"), "origins: '*' is refused");
	ok(!config_origin_allowed(&cfg, "null"), "origins: 'null' is refused");

	cfg.cors_origins[0] = '\0';
	ok(!config_origin_allowed(&cfg, "https://app.example.com"),
	    "origins: nothing is allowed when CORS_ORIGINS is empty");
	snprintf(cfg.cors_origins, sizeof(cfg.cors_origins), "%s", ", ,");
	ok(!config_origin_allowed(&cfg, ""),
	    "origins: empty list items do not allow an empty origin");
	snprintf(cfg.cors_origins, sizeof(cfg.cors_origins), "%s", "*");
	ok(!config_origin_allowed(&cfg, "https://app.example.com"),
	    "origins: '*' in CORS_ORIGINS is not a wildcard");
}

/* GET /metrics: who may read it, and where the counters live. */
static void
test_metrics(void)
{
	struct hb_config cfg;
	struct hb_error err = {0};

	env_clear();
	setenv("SECRET_KEY", SECRET32, 1);
	is_int(config_load(&cfg, &err), 0, "no METRICS_* loads");
	is_str(cfg.metrics_dir, "", "METRICS_DIR unset: nothing is recorded");
	ok(cidr_list_contains(&cfg.metrics_allow, "127.0.0.1") &&
	    cidr_list_contains(&cfg.metrics_allow, "::1") &&
	    !cidr_list_contains(&cfg.metrics_allow, "127.0.0.2") &&
	    !cidr_list_contains(&cfg.metrics_allow, "10.0.0.1"),
	    "METRICS_ALLOW defaults to 127.0.0.1/32 and ::1/128");
	setenv("METRICS_DIR", "/run/homebot/metrics", 1);
	setenv("METRICS_ALLOW", "10.0.0.0/8, fd00::/8", 1);
	is_int(config_load(&cfg, &err), 0, "METRICS_* load (%s)", err.message);
	is_str(cfg.metrics_dir, "/run/homebot/metrics", "METRICS_DIR is kept");
	ok(cidr_list_contains(&cfg.metrics_allow, "10.1.2.3") &&
	    !cidr_list_contains(&cfg.metrics_allow, "127.0.0.1"),
	    "METRICS_ALLOW replaces the default");
	setenv("METRICS_ALLOW", "", 1);
	is_int(config_load(&cfg, &err), 0, "an empty METRICS_ALLOW loads");
	ok(!cidr_list_contains(&cfg.metrics_allow, "127.0.0.1"),
	    "and lets nobody read /metrics");
	hb_error_clear(&err);
	bad_value("METRICS_DIR", "var/metrics");
	bad_value("METRICS_DIR", "/run/\001metrics");
	bad_value("METRICS_ALLOW", "localhost");
	bad_value("METRICS_ALLOW", "10.0.0.0/33");
}

/*
 * The vault's keys are read as written; only the programs that store
 * secrets parse them (lib/vault.c), so a bad one stops no other program.
 */
static void
test_vault_keys(void)
{
	static const char key[] =
	    "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
	struct vault_keyring *kr = NULL;
	struct hb_config cfg;
	struct hb_error err = {0};
	char longkey[300];
	int rc;

	rc = load_text("SECRET_KEY=" SECRET32 "\n", &cfg, &err);
	is_int(rc, 0, "vault: no VAULT_MASTER_KEY loads");
	ok(cfg.vault_master_key[0] == '\0' && cfg.vault_old_keys[0] == '\0',
	    "vault: both keys default to empty");
	rc = load_text("SECRET_KEY=" SECRET32 "\nVAULT_MASTER_KEY=" "k2:"
	    "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n"
	    "VAULT_OLD_KEYS=k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=,"
	    "k0:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n", &cfg, &err);
	is_int(rc, 0, "vault: keys in the file load (%s)", err.message);
	is_str(cfg.vault_master_key,
	    "k2:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
	    "vault: VAULT_MASTER_KEY is kept as written");
	has_str(cfg.vault_old_keys, ",k0:", "vault: VAULT_OLD_KEYS too");
	is_int(vault_keyring_load(&kr, cfg.vault_master_key,
	    cfg.vault_old_keys, &err), VAULT_OK, "vault: and they parse");
	vault_keyring_free(kr);

	rc = load_text("SECRET_KEY=" SECRET32 "\nVAULT_MASTER_KEY=nope\n",
	    &cfg, &err);
	is_int(rc, 0, "vault: a malformed VAULT_MASTER_KEY stops no program "
	    "that does not use it");
	is_int(vault_keyring_load(&kr, cfg.vault_master_key,
	    cfg.vault_old_keys, &err), VAULT_E_KEY_LENGTH,
	    "vault: the vault refuses it");
	memset(longkey, 'A', sizeof(longkey) - 1);
	longkey[sizeof(longkey) - 1] = '\0';
	memcpy(longkey, "k1:", 3);
	env_clear();
	setenv("SECRET_KEY", SECRET32, 1);
	setenv("VAULT_MASTER_KEY", longkey, 1);
	setenv("VAULT_OLD_KEYS", key, 1);
	rc = config_load(&cfg, &err);
	is_int(rc, 0, "vault: an overlong VAULT_MASTER_KEY stops no other "
	    "program either");
	is_str(cfg.vault_old_keys, key,
	    "vault: VAULT_OLD_KEYS from the environment");
	is_int(vault_keyring_load(&kr, cfg.vault_master_key,
	    cfg.vault_old_keys, &err), VAULT_E_FORMAT,
	    "vault: the vault refuses the overlong key");
	lacks_str(err.message, "AAAAAAAA", "vault: without quoting it");
	ok(kr == NULL, "vault: and gives no keyring");
	env_clear();
	hb_error_clear(&err);
}

/* The broker /ready asks: an address, never a name, and its port. */
static void
test_mqtt_broker(void)
{
	struct hb_config cfg;
	struct hb_error err = {0};

	env_clear();
	setenv("SECRET_KEY", SECRET32, 1);
	is_int(config_load(&cfg, &err), 0, "no MQTT_* loads");
	ok(cfg.mqtt_host[0] == '\0' && cfg.mqtt_port == 1883,
	    "MQTT_HOST: none (no check); MQTT_PORT: 1883");
	is_int(cfg.ready_mqtt_ms, 200, "READY_MQTT_TIMEOUT: 200 ms");
	setenv("MQTT_HOST", "::1", 1);
	setenv("MQTT_PORT", "18830", 1);
	setenv("READY_MQTT_TIMEOUT", "600", 1);
	is_int(config_load(&cfg, &err), 0, "an IPv6 MQTT_HOST loads (%s)",
	    err.message);
	ok(strcmp(cfg.mqtt_host, "::1") == 0 && cfg.mqtt_port == 18830,
	    "MQTT_HOST and MQTT_PORT are kept");
	is_int(cfg.ready_mqtt_ms, 600, "READY_MQTT_TIMEOUT is kept");
	hb_error_clear(&err);
	env_clear();
	bad_value("MQTT_HOST", "localhost");
	bad_value("MQTT_HOST", "127.0.0.1:1883");
	bad_value("MQTT_PORT", "0");
	bad_value("MQTT_PORT", "65536");
	bad_value("READY_MQTT_TIMEOUT", "9");
	bad_value("READY_MQTT_TIMEOUT", "801");
}

/* GET /ready's warnings: which directories, and when to warn. */
static void
test_ready(void)
{
	struct hb_config cfg;
	struct hb_error err = {0};

	env_clear();
	setenv("SECRET_KEY", SECRET32, 1);
	is_int(config_load(&cfg, &err), 0, "no READY_* loads");
	is_str(cfg.ready_data_dir, "", "READY_DATA_DIR: none without METRICS_DIR");
	is_str(cfg.ready_log_dir, "", "READY_LOG_DIR: none by default");
	is_int(cfg.ready_disk_min_free, 10, "READY_DISK_MIN_FREE: 10 %%");
	is_int(cfg.ready_job_max_age, 300, "READY_JOB_MAX_AGE: 5 minutes");
	is_int(cfg.ready_job_max_dead, 0, "READY_JOB_MAX_DEAD: any dead job");
	setenv("METRICS_DIR", "/var/lib/homebot/metrics", 1);
	is_int(config_load(&cfg, &err), 0, "METRICS_DIR loads");
	is_str(cfg.ready_data_dir, "/var/lib/homebot/metrics",
	    "READY_DATA_DIR: METRICS_DIR by default");
	setenv("READY_DATA_DIR", "", 1);
	is_int(config_load(&cfg, &err), 0, "an empty READY_DATA_DIR loads");
	is_str(cfg.ready_data_dir, "", "and checks no data directory");
	setenv("READY_DATA_DIR", "/srv/homebot", 1);
	setenv("READY_LOG_DIR", "/var/log/journal", 1);
	setenv("READY_DISK_MIN_FREE", "100", 1);
	setenv("READY_JOB_MAX_AGE", "60", 1);
	setenv("READY_JOB_MAX_DEAD", "5", 1);
	is_int(config_load(&cfg, &err), 0, "READY_* load (%s)", err.message);
	is_str(cfg.ready_data_dir, "/srv/homebot", "READY_DATA_DIR is kept");
	is_str(cfg.ready_log_dir, "/var/log/journal", "READY_LOG_DIR is kept");
	ok(cfg.ready_disk_min_free == 100 && cfg.ready_job_max_age == 60 &&
	    cfg.ready_job_max_dead == 5, "READY_* thresholds are kept");
	hb_error_clear(&err);
	bad_value("READY_DATA_DIR", "var/lib/homebot");
	bad_value("READY_LOG_DIR", "/var/\001log");
	bad_value("READY_DISK_MIN_FREE", "101");
	bad_value("READY_DISK_MIN_FREE", "-1");
	bad_value("READY_JOB_MAX_AGE", "0");
	bad_value("READY_JOB_MAX_DEAD", "-1");
	test_mqtt_broker();
}

/* The events publisher's secret: none by default, never a short one. */
static void
test_publisher_secret(void)
{
	struct hb_config cfg;
	struct hb_error err = {0};

	env_clear();
	setenv("SECRET_KEY", SECRET32, 1);
	is_int(config_load(&cfg, &err), 0, "no MQTT_PUBLISHER_SECRET loads");
	is_str(cfg.mqtt_publisher_secret, "", "MQTT_PUBLISHER_SECRET: none");
	setenv("MQTT_PUBLISHER_SECRET", SECRET32, 1);
	is_int(config_load(&cfg, &err), 0, "a secret loads (%s)", err.message);
	is_str(cfg.mqtt_publisher_secret, SECRET32, "the secret is kept");
	hb_error_clear(&err);
	bad_value("MQTT_PUBLISHER_SECRET", "short");
}

int
main(void)
{
	plan(341 + 4 + 26 + 4 + 4);
	char cwd[4096];

	if (getcwd(cwd, sizeof(cwd)) == NULL || mkdtemp(dir) == NULL ||
	    chdir(dir) == -1) {
		perror("setup");
		return 2;
	}
	test_defaults();
	test_file_values();
	test_environment_wins();
	test_syntax();
	test_secret_key();
	test_bad_values();
	test_file_errors();
	test_origins();
	test_metrics();
	test_vault_keys();
	test_ready();
	test_publisher_secret();

	env_clear();
	for (int i = 0; i < nfiles; i++)
		unlink(files[i]);
	if (chdir(cwd) == -1 || rmdir(dir) == -1)
		perror("cleanup");
	return done_testing();
}
