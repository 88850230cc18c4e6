/*
 * The env file (HOMEBOT_CONFIG) through config_load: an input is the
 * file's text. The file is a memfd, so nothing is left on disk. The
 * variables config_load reads are unset first: the environment wins over
 * the file, and the harness must see only the file.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config.h"

static int fd = -1;

static const char *const read_vars[] = {
	"DATABASE_URL", "ADMIN_DATABASE_URL", "SECRET_KEY", "HOMEBOT_DEBUG",
	"HOMEBOT_PORT", "HOMEBOT_MAX_BODY", "CORS_ORIGINS", "HOMEBOT_HSTS",
	"ACCESS_TOKEN_TTL", "REFRESH_TOKEN_TTL", "SESSION_MAX_AGE",
	"VERIFY_TOKEN_TTL", "INVITE_TOKEN_TTL", "RESET_TOKEN_TTL",
	"MAIL_PER_HOUR", "HOMEBOT_ISSUER", "JWT_PRIVATE_KEY_FILE",
	"BCRYPT_COST", "PASSWORD_MIN_LENGTH", "LOGIN_MAX_ATTEMPTS",
	"LOGIN_WINDOW", "AUTH_RATE_PER_MINUTE", "REFRESH_RATE_PER_MINUTE",
	"TRUSTED_PROXIES", "REGISTRATION_OPEN", "SMTP_URL", "SMTP_USER",
	"SMTP_PASSWORD", "SMTP_TIMEOUT", "MAIL_FROM", "PUBLIC_URL",
	"WORKER_PROCS", "JOB_RETENTION", "JOB_LEASE", "JOB_BACKOFF_BASE",
	"JOB_BACKOFF_CAP", "JOB_BATCH", "METRICS_DIR", "METRICS_READ_DIRS",
	"METRICS_ALLOW", "VAULT_MASTER_KEY", "VAULT_OLD_KEYS",
};

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char path[64];

	(void)argc;
	(void)argv;
	for (size_t i = 0; i < sizeof(read_vars) / sizeof(read_vars[0]); i++)
		unsetenv(read_vars[i]);
	fd = memfd_create("homebot.env", 0);
	if (fd == -1)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	setenv("HOMEBOT_CONFIG", path, 1);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const origins[] = { "https://app.example.com",
	    "http://localhost:5173", "https://app.example.com.evil", "", "," };
	struct hb_config cfg;
	struct hb_error err = {0};

	if (ftruncate(fd, 0) == -1 ||
	    pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	if (config_load(&cfg, &err) == 0) {
		if (strlen(cfg.secret_key) < HB_SECRET_MIN || cfg.max_body < 1024)
			abort();
		for (size_t i = 0; i < sizeof(origins) / sizeof(origins[0]); i++)
			config_origin_allowed(&cfg, origins[i]);
	} else if (err.message[0] == '\0')
		abort();
	hb_error_clear(&err);
	return 0;
}
