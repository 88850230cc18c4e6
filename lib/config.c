#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"

#define ENV_MAX_LINE	4096
#define ENV_MAX_VARS	128

struct env_var {
	char	*name;
	char	*value;
};

struct env_file {
	struct env_var	 vars[ENV_MAX_VARS];
	int		 n;
};

static void
env_file_clear(struct env_file *f)
{
	for (int i = 0; i < f->n; i++) {
		free(f->vars[i].name);
		/* Values include the keys: none stays behind in the heap. */
		explicit_bzero(f->vars[i].value, strlen(f->vars[i].value));
		free(f->vars[i].value);
	}
	f->n = 0;
}

static char *
trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static bool
valid_name(const char *s)
{
	if (!isalpha((unsigned char)*s) && *s != '_')
		return false;
	for (; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) && *s != '_')
			return false;
	return true;
}

/* Parses one "NAME=value" line into f; blank lines and comments are skipped. */
static int
env_file_line(struct env_file *f, char *line, const char *path, int lineno,
    struct hb_error *err)
{
	char *eq, *name, *value;
	size_t vlen;

	line = trim(line);
	if (*line == '\0' || *line == '#')
		return 0;
	if (strncmp(line, "export ", 7) == 0)
		line = trim(line + 7);
	eq = strchr(line, '=');
	if (eq == NULL)
		return hb_fail(err, 500, "config",
		    "%s:%d: expected NAME=value", path, lineno);
	*eq = '\0';
	name = trim(line);
	value = trim(eq + 1);
	if (!valid_name(name))
		return hb_fail(err, 500, "config",
		    "%s:%d: invalid variable name", path, lineno);
	vlen = strlen(value);
	if (vlen >= 2 && (value[0] == '"' || value[0] == '\'') &&
	    value[vlen - 1] == value[0]) {
		value[vlen - 1] = '\0';
		value++;
	}
	if (f->n == ENV_MAX_VARS)
		return hb_fail(err, 500, "config",
		    "%s: more than %d variables", path, ENV_MAX_VARS);
	f->vars[f->n].name = strdup(name);
	f->vars[f->n].value = strdup(value);
	if (f->vars[f->n].name == NULL || f->vars[f->n].value == NULL) {
		free(f->vars[f->n].name);
		free(f->vars[f->n].value);
		return hb_fail(err, 500, "config", "out of memory");
	}
	f->n++;
	return 0;
}

/* A missing file is fine unless HOMEBOT_CONFIG named it explicitly. */
static int
env_file_read(struct env_file *f, struct hb_error *err)
{
	const char *path = getenv("HOMEBOT_CONFIG");
	bool explicit = path != NULL && *path != '\0';
	char line[ENV_MAX_LINE];
	int lineno = 0, rc = 0;
	FILE *fp;

	if (!explicit)
		path = "./homebot.env";
	fp = fopen(path, "r");
	if (fp == NULL) {
		if (!explicit && errno == ENOENT)
			return 0;
		return hb_fail(err, 500, "config", "HOMEBOT_CONFIG: cannot read %s: %s",
		    path, strerror(errno));
	}
	while (rc == 0 && fgets(line, sizeof(line), fp) != NULL) {
		lineno++;
		if (strchr(line, '\n') == NULL && !feof(fp))
			rc = hb_fail(err, 500, "config", "%s:%d: line too long",
			    path, lineno);
		else
			rc = env_file_line(f, line, path, lineno, err);
	}
	fclose(fp);
	return rc;
}

static const char *
lookup(const struct env_file *f, const char *name)
{
	const char *v = getenv(name);

	if (v != NULL)
		return v;
	for (int i = f->n - 1; i >= 0; i--)
		if (strcmp(f->vars[i].name, name) == 0)
			return f->vars[i].value;
	return NULL;
}

static int
get_str(const struct env_file *f, const char *name, const char *def,
    char *out, size_t outsz, struct hb_error *err)
{
	const char *v = lookup(f, name);

	if (v == NULL)
		v = def;
	if (strlen(v) >= outsz)
		return hb_fail(err, 500, "config", "%s: longer than %zu bytes",
		    name, outsz - 1);
	memcpy(out, v, strlen(v) + 1);
	return 0;
}

static int
get_long(const struct env_file *f, const char *name, long def, long min,
    long max, long *out, struct hb_error *err)
{
	const char *v = lookup(f, name);
	char *end;
	long n;

	if (v == NULL || *v == '\0') {
		*out = def;
		return 0;
	}
	errno = 0;
	n = strtol(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0' || n < min || n > max)
		return hb_fail(err, 500, "config",
		    "%s: expected an integer from %ld to %ld, got \"%.40s\"",
		    name, min, max, v);
	*out = n;
	return 0;
}

static int
get_int(const struct env_file *f, const char *name, int def, int min,
    int max, int *out, struct hb_error *err)
{
	long n;

	if (get_long(f, name, def, min, max, &n, err) == -1)
		return -1;
	*out = (int)n;
	return 0;
}

static int
get_bool(const struct env_file *f, const char *name, bool def, bool *out,
    struct hb_error *err)
{
	const char *v = lookup(f, name);

	if (v == NULL || *v == '\0')
		*out = def;
	else if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0 ||
	    strcmp(v, "yes") == 0 || strcmp(v, "on") == 0)
		*out = true;
	else if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0 ||
	    strcmp(v, "no") == 0 || strcmp(v, "off") == 0)
		*out = false;
	else
		return hb_fail(err, 500, "config",
		    "%s: expected true or false, got \"%.40s\"", name, v);
	return 0;
}

static int
check_secret(const struct hb_config *cfg, struct hb_error *err)
{
	if (cfg->secret_key[0] == '\0')
		return hb_fail(err, 500, "config",
		    "SECRET_KEY is not set (at least %d bytes are required)",
		    HB_SECRET_MIN);
	if (strlen(cfg->secret_key) < HB_SECRET_MIN)
		return hb_fail(err, 500, "config",
		    "SECRET_KEY is too short: at least %d bytes are required",
		    HB_SECRET_MIN);
	return 0;
}

/*
 * TRUSTED_PROXIES: the networks of the reverse proxies whose
 * X-Forwarded-For names the client. A bad entry stops the program, as any
 * other bad value does: silently trusting fewer proxies would put every
 * client behind the proxy's one address.
 */
static int
get_networks(const struct env_file *f, const char *name,
    struct hb_cidr_list *out, struct hb_error *err)
{
	const char *v = lookup(f, name);
	struct hb_error e = {0};

	if (cidr_list_parse(out, v != NULL ? v : "", &e) == -1) {
		hb_fail(err, 500, "config", "%s: %s", name, e.message);
		hb_error_clear(&e);
		return -1;
	}
	return 0;
}

/* The queue and homebot-worker (api.md §7). */
static int
config_fill_jobs(struct hb_config *c, const struct env_file *f,
    struct hb_error *err)
{
	if (get_int(f, "WORKER_PROCS", 2, 1, 64, &c->worker_procs,
	    err) == -1 ||
	    get_int(f, "JOB_RETENTION", 604800, 60, 31536000,
	    &c->job_retention, err) == -1 ||
	    get_int(f, "SOFT_DELETE_RETENTION", 2592000, 60, 315360000,
	    &c->soft_delete_retention, err) == -1 ||
	    get_int(f, "SECRET_HISTORY", 5, 1, 100, &c->secret_history,
	    err) == -1 ||
	    get_int(f, "JOB_LEASE", 60, 5, 3600, &c->job_lease, err) == -1 ||
	    get_int(f, "JOB_BACKOFF_BASE", 2, 1, 3600, &c->job_backoff_base,
	    err) == -1 ||
	    get_int(f, "JOB_BACKOFF_CAP", 3600, 1, 604800,
	    &c->job_backoff_cap, err) == -1 ||
	    get_int(f, "JOB_BATCH", 10, 1, 100, &c->job_batch, err) == -1)
		return -1;
	return 0;
}

/*
 * The vault's keys (api.md §11), kept as written: lib/vault.c parses them
 * for the programs that store secrets, so a missing or malformed key stops
 * those programs only. A value too long for its field is one no parse
 * accepts, so it is kept as a text that fails the same way.
 */
static void
get_vault_key(const struct env_file *f, const char *name, char *out,
    size_t outsz)
{
	const char *v = lookup(f, name);

	if (v == NULL)
		v = "";
	if (strlen(v) >= outsz)
		v = "(too long)";
	memcpy(out, v, strlen(v) + 1);
}

/* METRICS_READ_DIRS: absolute paths, comma-separated, no control bytes. */
static int
read_dirs_check(const char *dirs, struct hb_error *err)
{
	const char *p = dirs;

	for (const char *q = dirs; *q != '\0'; q++)
		if ((unsigned char)*q < ' ' || *q == 0x7f)
			return hb_fail(err, 500, "config", "METRICS_READ_DIRS: "
			    "must not contain control characters");
	while (*p != '\0') {
		size_t len = strcspn(p, ",");

		if (len == 0 || *p != '/')
			return hb_fail(err, 500, "config", "METRICS_READ_DIRS: "
			    "expected absolute paths, comma-separated");
		p += len;
		if (*p == ',')
			p++;
	}
	return 0;
}

/*
 * GET /metrics (api.md §6): who may read it, and where the processes keep
 * their counters. Without METRICS_DIR nothing is recorded.
 */
static int
config_fill_metrics(struct hb_config *c, const struct env_file *f,
    struct hb_error *err)
{
	char allow[2048];

	if (get_str(f, "METRICS_DIR", "", c->metrics_dir,
	    sizeof(c->metrics_dir), err) == -1 ||
	    get_str(f, "METRICS_READ_DIRS", "", c->metrics_read_dirs,
	    sizeof(c->metrics_read_dirs), err) == -1 ||
	    get_str(f, "METRICS_ALLOW", "127.0.0.1/32,::1/128", allow,
	    sizeof(allow), err) == -1)
		return -1;
	for (const char *p = c->metrics_dir; *p != '\0'; p++)
		if ((unsigned char)*p < ' ' || *p == 0x7f)
			return hb_fail(err, 500, "config",
			    "METRICS_DIR: must not contain control characters");
	if (c->metrics_dir[0] != '\0' && c->metrics_dir[0] != '/')
		return hb_fail(err, 500, "config",
		    "METRICS_DIR: expected an absolute path");
	if (read_dirs_check(c->metrics_read_dirs, err) == -1)
		return -1;
	if (cidr_list_parse(&c->metrics_allow, allow, err) == -1) {
		snprintf(allow, sizeof(allow), "%s", err->message);
		return hb_fail(err, 500, "config", "METRICS_ALLOW: %s", allow);
	}
	return 0;
}

/* An optional absolute directory: empty, or '/' and no control byte. */
static int
check_dir(const char *name, const char *dir, struct hb_error *err)
{
	for (const char *p = dir; *p != '\0'; p++)
		if ((unsigned char)*p < ' ' || *p == 0x7f)
			return hb_fail(err, 500, "config",
			    "%s: must not contain control characters", name);
	if (dir[0] != '\0' && dir[0] != '/')
		return hb_fail(err, 500, "config",
		    "%s: expected an absolute path", name);
	return 0;
}

/* Whether s is an IPv4 or IPv6 address (not a name). */
static bool
ip_literal(const char *s)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, s, buf) == 1 ||
	    inet_pton(AF_INET6, s, buf) == 1;
}

/*
 * GET /ready's warning-only checks (api.md §12): the directories whose
 * free space it reports (the data directory is METRICS_DIR unless said
 * otherwise) and the thresholds past which disk and jobs warn.
 */
static int
config_fill_ready(struct hb_config *c, const struct env_file *f,
    struct hb_error *err)
{
	if (get_str(f, "READY_DATA_DIR", c->metrics_dir, c->ready_data_dir,
	    sizeof(c->ready_data_dir), err) == -1 ||
	    get_str(f, "READY_LOG_DIR", "", c->ready_log_dir,
	    sizeof(c->ready_log_dir), err) == -1 ||
	    get_int(f, "READY_DISK_MIN_FREE", 10, 0, 100,
	    &c->ready_disk_min_free, err) == -1 ||
	    get_int(f, "READY_JOB_MAX_AGE", 300, 1, 31536000,
	    &c->ready_job_max_age, err) == -1 ||
	    get_int(f, "READY_JOB_MAX_DEAD", 0, 0, 1000000000,
	    &c->ready_job_max_dead, err) == -1)
		return -1;
	if (check_dir("READY_DATA_DIR", c->ready_data_dir, err) == -1 ||
	    check_dir("READY_LOG_DIR", c->ready_log_dir, err) == -1)
		return -1;
	/* The broker /ready asks: an address, so no name lookup can stall it. */
	if (get_str(f, "MQTT_HOST", "", c->mqtt_host, sizeof(c->mqtt_host),
	    err) == -1 || get_int(f, "MQTT_PORT", 1883, 1, 65535,
	    &c->mqtt_port, err) == -1 ||
	    get_int(f, "READY_MQTT_TIMEOUT", 200, 10, 800,
	    &c->ready_mqtt_ms, err) == -1)
		return -1;
	if (c->mqtt_host[0] != '\0' && !ip_literal(c->mqtt_host))
		return hb_fail(err, 500, "config", "MQTT_HOST: expected an IPv4 "
		    "or IPv6 address, got \"%.40s\"", c->mqtt_host);
	return 0;
}

/* Whether s has a control character or a blank: no URL here may. */
static bool
has_space_or_control(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s <= ' ' || *s == 0x7f)
			return true;
	return false;
}

/*
 * The secret with which homebot-worker publishes Homebot's events to the
 * broker at MQTT_HOST:MQTT_PORT (api.md §8), which no client can hold: the
 * plugin admits it only with a client id clients may not use. Empty: no
 * publisher is admitted (the worker refuses to start with MQTT_HOST set
 * and no secret: event_config_check).
 */
static int
config_fill_mqtt(struct hb_config *c, const struct env_file *f,
    struct hb_error *err)
{
	if (get_str(f, "MQTT_PUBLISHER_SECRET", "", c->mqtt_publisher_secret,
	    sizeof(c->mqtt_publisher_secret), err) == -1)
		return -1;
	if (c->mqtt_publisher_secret[0] != '\0' &&
	    strlen(c->mqtt_publisher_secret) < HB_SECRET_MIN)
		return hb_fail(err, 500, "config", "MQTT_PUBLISHER_SECRET is too "
		    "short: at least %d bytes are required", HB_SECRET_MIN);
	return 0;
}

/* Whether url starts with "<scheme>://" and something after it. */
static bool
url_scheme_is(const char *url, const char *scheme)
{
	size_t n = strlen(scheme);

	return strncasecmp(url, scheme, n) == 0 &&
	    strncmp(url + n, "://", 3) == 0 && url[n + 3] != '\0' &&
	    url[n + 3] != '/';
}

/*
 * The mail settings a program can parse without sending anything; the
 * address inside MAIL_FROM is checked in full by mail_config_check().
 */
static int
check_mail(struct hb_config *c, struct hb_error *err)
{
	size_t n;

	if (c->smtp_url[0] != '\0' && (has_space_or_control(c->smtp_url) ||
	    (!url_scheme_is(c->smtp_url, "smtp") &&
	    !url_scheme_is(c->smtp_url, "smtps"))))
		return hb_fail(err, 500, "config",
		    "SMTP_URL: expected smtp://host:port or smtps://host:port");
	for (const char *p = c->mail_from; *p != '\0'; p++)
		if ((unsigned char)*p < ' ' || *p == 0x7f)
			return hb_fail(err, 500, "config",
			    "MAIL_FROM: must not contain control characters");
	if (strchr(c->mail_from, '@') == NULL)
		return hb_fail(err, 500, "config",
		    "MAIL_FROM: expected an address such as "
		    "Homebot <homebot@example.com>");
	/* Links are PUBLIC_URL + "/account/…": '?' or '#' would swallow it. */
	if (has_space_or_control(c->public_url) ||
	    strpbrk(c->public_url, "?#") != NULL ||
	    (!url_scheme_is(c->public_url, "http") &&
	    !url_scheme_is(c->public_url, "https")))
		return hb_fail(err, 500, "config",
		    "PUBLIC_URL: expected http(s)://host[:port][/path] "
		    "without '?' or '#'");
	n = strlen(c->public_url);
	while (n > 0 && c->public_url[n - 1] == '/')
		c->public_url[--n] = '\0';
	return 0;
}

static int
config_fill(struct hb_config *c, const struct env_file *f,
    struct hb_error *err)
{
	if (get_str(f, "DATABASE_URL", "", c->database_url,
	    sizeof(c->database_url), err) == -1 ||
	    get_str(f, "ADMIN_DATABASE_URL", "", c->admin_database_url,
	    sizeof(c->admin_database_url), err) == -1 ||
	    get_str(f, "SECRET_KEY", "", c->secret_key,
	    sizeof(c->secret_key), err) == -1 ||
	    get_bool(f, "HOMEBOT_DEBUG", false, &c->debug, err) == -1 ||
	    get_int(f, "HOMEBOT_PORT", 3334, 1, 65535, &c->port, err) == -1 ||
	    get_long(f, "HOMEBOT_MAX_BODY", 65536, 1024, 16L << 20,
	    &c->max_body, err) == -1 ||
	    get_str(f, "CORS_ORIGINS", "", c->cors_origins,
	    sizeof(c->cors_origins), err) == -1 ||
	    get_bool(f, "HOMEBOT_HSTS", false, &c->hsts, err) == -1 ||
	    get_int(f, "ACCESS_TOKEN_TTL", 900, 30, 86400,
	    &c->access_token_ttl, err) == -1 ||
	    get_int(f, "REFRESH_TOKEN_TTL", 604800, 60, 31536000,
	    &c->refresh_token_ttl, err) == -1 ||
	    get_int(f, "SESSION_MAX_AGE", 2592000, 60, 315360000,
	    &c->session_max_age, err) == -1 ||
	    get_int(f, "VERIFY_TOKEN_TTL", 86400, 60, 31536000,
	    &c->verify_token_ttl, err) == -1 ||
	    get_int(f, "INVITE_TOKEN_TTL", 604800, 60, 31536000,
	    &c->invite_token_ttl, err) == -1 ||
	    get_int(f, "RESET_TOKEN_TTL", 3600, 60, 86400,
	    &c->reset_token_ttl, err) == -1 ||
	    get_int(f, "MAIL_PER_HOUR", 3, 1, 1000, &c->mail_per_hour,
	    err) == -1 ||
	    get_str(f, "HOMEBOT_ISSUER", "homebot", c->issuer,
	    sizeof(c->issuer), err) == -1 ||
	    get_str(f, "JWT_PRIVATE_KEY_FILE", "", c->jwt_private_key_file,
	    sizeof(c->jwt_private_key_file), err) == -1 ||
	    get_int(f, "BCRYPT_COST", 12, 4, 31, &c->bcrypt_cost, err) == -1 ||
	    get_int(f, "PASSWORD_MIN_LENGTH", 10, 1, 72,
	    &c->password_min_length, err) == -1 ||
	    get_int(f, "LOGIN_MAX_ATTEMPTS", 5, 1, 1000,
	    &c->login_max_attempts, err) == -1 ||
	    get_int(f, "LOGIN_WINDOW", 900, 1, 86400, &c->login_window,
	    err) == -1 ||
	    get_int(f, "AUTH_RATE_PER_MINUTE", 60, 1, 1000000,
	    &c->auth_rate_per_minute, err) == -1 ||
	    get_int(f, "REFRESH_RATE_PER_MINUTE", 120, 1, 1000000,
	    &c->refresh_rate_per_minute, err) == -1 ||
	    get_networks(f, "TRUSTED_PROXIES", &c->trusted_proxies,
	    err) == -1 ||
	    get_bool(f, "REGISTRATION_OPEN", true, &c->registration_open,
	    err) == -1 ||
	    get_str(f, "SMTP_URL", "", c->smtp_url, sizeof(c->smtp_url),
	    err) == -1 ||
	    get_str(f, "SMTP_USER", "", c->smtp_user, sizeof(c->smtp_user),
	    err) == -1 ||
	    get_str(f, "SMTP_PASSWORD", "", c->smtp_password,
	    sizeof(c->smtp_password), err) == -1 ||
	    get_int(f, "SMTP_TIMEOUT", 30, 1, 600, &c->smtp_timeout,
	    err) == -1 ||
	    get_str(f, "MAIL_FROM", "Homebot <homebot@localhost>",
	    c->mail_from, sizeof(c->mail_from), err) == -1 ||
	    get_str(f, "PUBLIC_URL", "http://127.0.0.1:3334", c->public_url,
	    sizeof(c->public_url), err) == -1 ||
	    check_mail(c, err) == -1 ||
	    config_fill_jobs(c, f, err) == -1 ||
	    config_fill_metrics(c, f, err) == -1 ||
	    config_fill_ready(c, f, err) == -1 ||
	    config_fill_mqtt(c, f, err) == -1)
		return -1;
	get_vault_key(f, "VAULT_MASTER_KEY", c->vault_master_key,
	    sizeof(c->vault_master_key));
	get_vault_key(f, "VAULT_OLD_KEYS", c->vault_old_keys,
	    sizeof(c->vault_old_keys));
	return check_secret(c, err);
}

int
config_load(struct hb_config *cfg, struct hb_error *err)
{
	struct env_file *f;
	int rc;

	memset(cfg, 0, sizeof(*cfg));
	f = calloc(1, sizeof(*f));
	if (f == NULL)
		return hb_fail(err, 500, "config", "out of memory");
	rc = env_file_read(f, err);
	if (rc == 0)
		rc = config_fill(cfg, f, err);
	env_file_clear(f);
	free(f);
	return rc;
}

bool
config_origin_allowed(const struct hb_config *cfg, const char *origin)
{
	const char *p = cfg->cors_origins, *end;
	size_t olen;

	if (origin == NULL || *origin == '\0')
		return false;
	olen = strlen(origin);
	while (*p != '\0') {
		while (*p == ' ' || *p == ',')
			p++;
		end = p;
		while (*end != '\0' && *end != ',' && *end != ' ')
			end++;
		if ((size_t)(end - p) == olen && memcmp(p, origin, olen) == 0)
			return true;
		p = end;
	}
	return false;
}
