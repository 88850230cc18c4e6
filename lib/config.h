#ifndef HB_CONFIG_H
#define HB_CONFIG_H

#include <stdbool.h>

#include "cidr.h"
#include "error.h"

#define HB_SECRET_MIN	32

/*
 * Every setting Homebot reads, from the environment or the env file named
 * by HOMEBOT_CONFIG (default ./homebot.env); the environment wins.
 */
struct hb_config {
	char	 database_url[1024];
	char	 admin_database_url[1024];
	char	 secret_key[512];
	bool	 debug;
	int	 port;
	long	 max_body;
	char	 cors_origins[2048];
	bool	 hsts;
	int	 access_token_ttl;
	int	 refresh_token_ttl;
	int	 session_max_age;	/* seconds after the login, refreshes or not */
	char	 issuer[128];
	char	 jwt_private_key_file[1024];
	int	 bcrypt_cost;
	int	 password_min_length;
	int	 login_max_attempts;
	int	 login_window;
	int	 auth_rate_per_minute;
	int	 refresh_rate_per_minute;	/* refresh's own per-IP limit */
	/* Peers whose X-Forwarded-For is believed (lib/http.c); empty: none. */
	struct hb_cidr_list trusted_proxies;
	bool	 registration_open;
	int	 worker_procs;		/* homebot-worker processes */
	int	 job_retention;		/* seconds a finished job is kept */
	int	 soft_delete_retention;	/* seconds a soft-deleted row is kept */
	int	 secret_history;	/* value versions a secret keeps */
	int	 job_lease;		/* seconds a taken job is held */
	int	 job_backoff_base;	/* seconds before the first retry */
	int	 job_backoff_cap;	/* seconds between retries, at most */
	int	 job_batch;		/* jobs a worker takes at once */
	char	 smtp_url[1024];	/* empty: mail is not configured */
	char	 smtp_user[256];
	char	 smtp_password[256];
	int	 smtp_timeout;		/* seconds a delivery may take */
	char	 mail_from[512];
	char	 public_url[512];	/* no trailing '/' */
	int	 verify_token_ttl;	/* seconds a mailed link is good for */
	int	 invite_token_ttl;
	int	 reset_token_ttl;
	int	 mail_per_hour;		/* mails of a kind to one address */
	char	 metrics_dir[256];	/* absolute; empty: nothing recorded */
	/* more directories /metrics reads, comma-separated: another user's */
	char	 metrics_read_dirs[1024];
	struct hb_cidr_list metrics_allow;	/* who may read /metrics */
	/*
	 * VAULT_MASTER_KEY and VAULT_OLD_KEYS as written: secrets, never
	 * logged. Only the programs that need them parse them
	 * (vault_keyring_load), so a bad one stops those alone.
	 */
	char	 vault_master_key[128];
	char	 vault_old_keys[2048];
	/* GET /ready's warnings: absolute directories, empty: not checked */
	char	 ready_data_dir[256];
	char	 ready_log_dir[256];
	int	 ready_disk_min_free;	/* percent free below which disk warns */
	int	 ready_job_max_age;	/* seconds a runnable job may wait */
	int	 ready_job_max_dead;	/* dead jobs before jobs warns */
	char	 mqtt_host[64];		/* the broker's address, or "": none */
	int	 mqtt_port;
	int	 ready_mqtt_ms;		/* how long /ready waits for the broker */
	/*
	 * The password homebot-worker publishes Homebot's events with, which
	 * the broker's plugin admits it by (README, "Events"): a secret,
	 * never logged, at least HB_SECRET_MIN bytes; empty: none.
	 */
	char	 mqtt_publisher_secret[256];
};

/*
 * Fills *cfg. Returns 0, or -1 with err->message naming the variable that
 * is missing or cannot be parsed; the program stops on it.
 */
int	config_load(struct hb_config *cfg, struct hb_error *err);

/* Whether origin is one of the comma-separated CORS_ORIGINS. */
bool	config_origin_allowed(const struct hb_config *cfg, const char *origin);

#endif
