/*
 * lib/mail.c end to end, without the job queue: mails go through libcurl
 * to scripts/smtp-sink.py on a free loopback port, and the tests read what
 * the sink kept (its .eml files) and printed. The sink also refuses on
 * demand (451, 550), requires a login, and a silent listener never
 * answers, for the errors a job would record. It fails (Bail out!) when
 * python3-aiosmtpd is missing or the test does not run from the checkout.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <dirent.h>
#include <unistd.h>

#include "mail.h"
#include "tap.h"

#define PYTHON	"/usr/bin/python3"
#define SINK	"scripts/smtp-sink.py"
#define TOKEN	"Tk_9b7e41c0d2f5a8_SECRET"

struct sink {
	pid_t	 pid;
	int	 out;		/* the read end of its stdout */
	int	 port;
};

static char dir[] = "/tmp/hb-mail-smtp-XXXXXX";
static char msg[HB_MAIL_MAX];

/* Reads one line of fd into buf, waiting at most ms; false on EOF/timeout. */
static bool
read_line(int fd, char *buf, size_t n, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	size_t o = 0;
	char c;

	while (o + 1 < n) {
		if (poll(&p, 1, ms) != 1 || read(fd, &c, 1) != 1)
			break;
		if (c == '\n') {
			buf[o] = '\0';
			return true;
		}
		buf[o++] = c;
	}
	buf[o] = '\0';
	return false;
}

/* Starts the sink on a free port in dir, with up to two more arguments. */
static bool
sink_start(struct sink *s, const char *a1, const char *a2)
{
	const char *argv[8];
	char line[512];
	int fds[2], i = 0;

	argv[i++] = PYTHON;
	argv[i++] = SINK;
	if (a1 != NULL)
		argv[i++] = a1;
	if (a2 != NULL)
		argv[i++] = a2;
	argv[i++] = "0";
	argv[i++] = dir;
	argv[i] = NULL;
	if (pipe(fds) == -1)
		return false;
	s->pid = fork();
	if (s->pid == -1)
		return false;
	if (s->pid == 0) {
		dup2(fds[1], STDOUT_FILENO);
		close(fds[0]);
		close(fds[1]);
		execv(PYTHON, (char *const *)argv);
		_exit(127);
	}
	close(fds[1]);
	s->out = fds[0];
	if (!read_line(s->out, line, sizeof(line), 10000) ||
	    sscanf(line, "smtp-sink: listening on 127.0.0.1:%d", &s->port) != 1) {
		diag("the sink did not start: \"%s\"", line);
		kill(s->pid, SIGKILL);
		waitpid(s->pid, NULL, 0);
		close(s->out);
		return false;
	}
	return true;
}

/* Stops the sink with sig; returns its exit status, -1 if it was killed. */
static int
sink_stop(struct sink *s, int sig)
{
	int status;

	kill(s->pid, sig);
	if (waitpid(s->pid, &status, 0) == -1)
		return -1;
	close(s->out);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void
cfg_init(struct hb_config *cfg, int port)
{
	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->mail_from, sizeof(cfg->mail_from), "%s",
	    "Homebot <homebot@mail.example>");
	snprintf(cfg->public_url, sizeof(cfg->public_url), "%s",
	    "http://127.0.0.1:3334");
	snprintf(cfg->smtp_url, sizeof(cfg->smtp_url), "smtp://127.0.0.1:%d",
	    port);
	cfg->smtp_timeout = 10;
}

/* The file dir/name into buf; its length, or -1. */
static long
read_file(const char *name, char *buf, size_t n)
{
	char path[128];
	ssize_t got;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDONLY);
	if (fd == -1)
		return -1;
	got = read(fd, buf, n - 1);
	close(fd);
	if (got < 0)
		return -1;
	buf[got] = '\0';
	return (long)got;
}

/* How many entries of dir start with a dot, other than "." and "..". */
static int
hidden_files(void)
{
	struct dirent *e;
	DIR *d = opendir(dir);
	int n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] == '.' && strcmp(e->d_name, ".") != 0 &&
		    strcmp(e->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

static void
set_refuse(const char *content)
{
	char path[128];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/refuse", dir);
	if (content == NULL) {
		unlink(path);
		return;
	}
	fp = fopen(path, "w");
	if (fp == NULL)
		abort();
	fputs(content, fp);
	fclose(fp);
}

/* An error text a job may store: no token, link, recipient or password. */
static void
error_is_safe(const struct hb_error *err, const char *what)
{
	lacks_str(err->message, TOKEN, "%s: the error has no token", what);
	lacks_str(err->message, "/account/", "%s: nor the link", what);
	lacks_str(err->message, "bob@example.com", "%s: nor the recipient",
	    what);
	lacks_str(err->message, "Secr3t", "%s: nor the password", what);
}

static void
test_delivery(struct sink *s)
{
	static struct hb_mail_rendered r;
	struct hb_config cfg;
	struct hb_error err = {0};
	char link[256], line[1024], want[1024], file[HB_MAIL_MAX + 512];
	const char *text = "Hello,\n"
	    ".a line that starts with a dot\n"
	    ".\n"
	    "..two dots\n"
	    "the end\n";
	struct hb_mail m = { "bob@example.com", "Grüße, Zoë", text, 0 };
	const char *trace = "Return-Path: <homebot@mail.example>\r\n"
	    "Delivered-To: bob@example.com\r\n";
	long n, fl;

	cfg_init(&cfg, s->port);
	mail_link(&cfg, "/account/verify", TOKEN, link, sizeof(link), &err);
	{
		struct hb_mail_var vars[] = { { "link", link } };

		is_int(mail_render("verify_email", vars, 1, &r, &err), 0,
		    "verify_email renders");
	}
	m.subject = r.subject;
	m.text = r.text;
	is_int(mail_deliver(&cfg, &m, &err), 0,
	    "mail_deliver sends a mail to the sink (%s)", err.message);
	ok(read_line(s->out, line, sizeof(line), 5000),
	    "the sink prints a line for it");
	snprintf(want, sizeof(want), "mail 1.eml to=bob@example.com "
	    "subject=\"Confirm your email address for Homebot\" link=%s", link);
	is_str(line, want, "the line: file, recipient, subject and link");
	fl = read_file("1.eml", file, sizeof(file));
	ok(fl > 0, "the sink kept it as 1.eml");
	has_str(file, "\r\nFrom: Homebot <homebot@mail.example>\r\n",
	    "1.eml: From");
	has_str(file, "\r\nTo: bob@example.com\r\n", "1.eml: To");
	has_str(file, "\r\nSubject: Confirm your email address for Homebot\r\n",
	    "1.eml: Subject");
	has_str(file, "\r\nContent-Transfer-Encoding: quoted-printable\r\n",
	    "1.eml: quoted-printable");
	has_str(file, "#token=3D" TOKEN, "1.eml: the link, '=' as =3D");

	/* A second mail, byte for byte: what mail_format wrote arrives. */
	m.subject = "Grüße, Zoë";
	m.text = text;
	n = mail_format(&cfg, &m, msg, sizeof(msg), &err);
	is_int(mail_send(&cfg, m.to, msg, (size_t)n, &err), 0,
	    "mail_send sends a formatted message (%s)", err.message);
	ok(read_line(s->out, line, sizeof(line), 5000) &&
	    strncmp(line, "mail 2.eml to=bob@example.com subject=\"Grüße, Zoë\"",
	    strlen("mail 2.eml to=bob@example.com subject=\"Grüße, Zoë\"")) == 0,
	    "the sink prints the decoded UTF-8 subject (%s)", line);
	fl = read_file("2.eml", file, sizeof(file));
	ok(fl == (long)strlen(trace) + n && strncmp(file, trace,
	    strlen(trace)) == 0 && strcmp(file + strlen(trace), msg) == 0,
	    "2.eml is the sink's trace lines, then exactly the message sent");
	has_str(file, "\r\n\r\nHello,\r\n.a line that starts with a dot\r\n"
	    ".\r\n..two dots\r\nthe end\r\n",
	    "lines starting with '.' arrive intact: libcurl dot-stuffs them");
	is_int(hidden_files(), 0, "no temporary file is left in the directory");
	hb_error_clear(&err);
}

static void
test_refusals(struct sink *s)
{
	struct hb_config cfg;
	struct hb_error err = {0};
	struct hb_mail m = { "bob@example.com", "Reset",
	    "https://homebot.example/account/reset#token=" TOKEN "\n", 0 };
	char line[512];

	cfg_init(&cfg, s->port);
	set_refuse("");
	is_int(mail_deliver(&cfg, &m, &err), -1,
	    "a sink refusing with 451 fails the send");
	is_str(err.code, "smtp_transient", "451 is transient");
	is_int(err.status, 503, "status 503");
	has_str(err.message, "451", "the error has the reply code (%s)",
	    err.message);
	error_is_safe(&err, "451");

	set_refuse("550\n");
	is_int(mail_deliver(&cfg, &m, &err), -1,
	    "a sink refusing with 550 fails the send");
	is_str(err.code, "smtp_permanent", "550 is permanent");
	is_int(err.status, 502, "status 502");
	has_str(err.message, "550", "the error has the reply code (%s)",
	    err.message);
	error_is_safe(&err, "550");

	set_refuse(NULL);
	is_int(mail_deliver(&cfg, &m, &err), 0,
	    "once the sink accepts again, the retry is delivered (%s)",
	    err.message);
	ok(read_line(s->out, line, sizeof(line), 5000) &&
	    strncmp(line, "mail 3.eml ", 11) == 0,
	    "as the next file, 3.eml (%s)", line);
	hb_error_clear(&err);
}

static void
test_refuse_flag(void)
{
	struct hb_config cfg;
	struct hb_error err = {0};
	struct hb_mail m = { "bob@example.com", "Hi", "x\n", 0 };
	struct sink s;

	if (!sink_start(&s, "--refuse", NULL)) {
		ok(0, "a sink with --refuse starts");
		return;
	}
	cfg_init(&cfg, s.port);
	is_int(mail_deliver(&cfg, &m, &err), -1,
	    "a sink started with --refuse refuses");
	has_str(err.message, "451", "with 451 (%s)", err.message);
	is_int(sink_stop(&s, SIGINT), 0, "the sink stops on SIGINT, status 0");
	hb_error_clear(&err);
}

static void
test_auth(void)
{
	struct hb_config cfg;
	struct hb_error err = {0};
	struct hb_mail m = { "bob@example.com", "Hi",
	    "https://homebot.example/account/verify#token=" TOKEN "\n", 0 };
	char line[512];
	struct sink s;

	if (!sink_start(&s, "--auth", "homebot:Secr3t-pw")) {
		ok(0, "a sink with --auth starts");
		return;
	}
	cfg_init(&cfg, s.port);
	snprintf(cfg.smtp_user, sizeof(cfg.smtp_user), "homebot");
	snprintf(cfg.smtp_password, sizeof(cfg.smtp_password), "Secr3t-pw");
	is_int(mail_deliver(&cfg, &m, &err), 0,
	    "SMTP_USER and SMTP_PASSWORD log in (%s)", err.message);
	ok(read_line(s.out, line, sizeof(line), 5000) &&
	    strncmp(line, "mail 4.eml ", 11) == 0,
	    "a restarted sink numbers on after the files there (%s)", line);

	cfg.smtp_user[0] = cfg.smtp_password[0] = '\0';
	snprintf(cfg.smtp_url, sizeof(cfg.smtp_url),
	    "smtp://homebot:Secr3t-pw@127.0.0.1:%d", s.port);
	is_int(mail_deliver(&cfg, &m, &err), 0,
	    "credentials in SMTP_URL log in (%s)", err.message);
	read_line(s.out, line, sizeof(line), 5000);

	snprintf(cfg.smtp_url, sizeof(cfg.smtp_url),
	    "smtp://homebot:Secr3t-wrong@127.0.0.1:%d", s.port);
	is_int(mail_deliver(&cfg, &m, &err), -1, "a wrong password fails");
	is_str(err.code, "smtp_permanent", "as permanent (%s)", err.message);
	lacks_str(err.message, "Secr3t-wrong", "the error has no password");
	error_is_safe(&err, "wrong password");

	cfg_init(&cfg, s.port);
	is_int(mail_deliver(&cfg, &m, &err), -1,
	    "no credentials for a server that requires them fails");
	has_str(err.message, "530", "530 authentication required (%s)",
	    err.message);
	is_int(sink_stop(&s, SIGTERM), 0, "the sink stops on SIGTERM, status 0");
	hb_error_clear(&err);
}

/* A server that takes the connection and never says a word. */
static void
test_timeout(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	struct hb_config cfg;
	struct hb_error err = {0};
	struct hb_mail m = { "bob@example.com", "Hi", "x\n", 0 };
	struct timespec t0, t1;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	double secs;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd == -1 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1 ||
	    listen(fd, 4) == -1 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) == -1)
		abort();
	cfg_init(&cfg, ntohs(sa.sin_port));
	cfg.smtp_timeout = 1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	is_int(mail_deliver(&cfg, &m, &err), -1,
	    "a server that never greets fails the send");
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	ok(secs < 5, "after SMTP_TIMEOUT (1 s), not later (%.1f s)", secs);
	has_str(err.message, "imeout", "the error says timeout (%s)",
	    err.message);
	is_str(err.code, "smtp_transient", "a timeout is transient");
	close(fd);
	hb_error_clear(&err);
}

static bool
sink_available(const char **why)
{
	if (access(SINK, R_OK) == -1) {
		*why = "run from the checkout's root: " SINK " not found";
		return false;
	}
	if (system(PYTHON " -c 'import aiosmtpd' 2>/dev/null") != 0) {
		*why = "Debian's python3-aiosmtpd is not installed";
		return false;
	}
	return true;
}

static void
cleanup(void)
{
	struct dirent *e;
	char path[512];
	DIR *d = opendir(dir);

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
			unlink(path);
		}
	closedir(d);
	rmdir(dir);
}

int
main(void)
{
	plan(54);
	struct hb_error err = {0};
	const char *why = NULL;
	struct sink s;

	signal(SIGPIPE, SIG_IGN);
	/* make check installs the sink's package: its absence is a failure. */
	if (!sink_available(&why)) {
		printf("Bail out! %s\n", why);
		return 1;
	}
	if (mkdtemp(dir) == NULL || mail_global_init(&err) == -1) {
		printf("Bail out! set-up: %s\n", err.message);
		return 1;
	}
	if (!sink_start(&s, NULL, NULL)) {
		printf("Bail out! the sink did not start\n");
		cleanup();
		return 1;
	}
	test_delivery(&s);
	test_refusals(&s);
	is_int(sink_stop(&s, SIGTERM), 0, "the sink stops on SIGTERM, status 0");
	test_refuse_flag();
	test_auth();
	test_timeout();
	mail_global_cleanup();
	cleanup();
	return done_testing();
}
