/*
 * GET /openapi.json, GET /docs and the Swagger UI assets under /docs/,
 * and the account pages under /account/ (those mailed links open, the
 * sessions page and the two-factor page), all from this server's share
 * directory: no CDN, works offline.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app.h"
#include "program.h"

/* Swagger UI styles elements inline; scripts come only from this server. */
static const char DOCS_CSP[] =
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; font-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/*
 * The account pages are Homebot's own: one script and one stylesheet, no
 * inline code, and the only requests they make are their calls to the API.
 * No form submits natively: the script sends it, so a page whose script
 * did not run cannot leak a password into a URL.
 */
static const char ACCOUNT_CSP[] =
    "default-src 'none'; script-src 'self'; style-src 'self'; "
    "connect-src 'self'; img-src 'self'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'";

/*
 * The two-factor page shows the QR code the API answers as an <img> of a
 * data: URI: an SVG image runs no script and loads nothing, so the page
 * never parses the API's markup. Only this page allows data: images.
 */
static const char ACCOUNT_MFA_CSP[] =
    "default-src 'none'; script-src 'self'; style-src 'self'; "
    "connect-src 'self'; img-src 'self' data:; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'";

static const char DOCS_PAGE[] =
    "<!DOCTYPE html>\n"
    "<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
    "<title>Homebot API</title>\n"
    "<link rel=\"stylesheet\" href=\"/docs/swagger-ui.css\">\n"
    "<link rel=\"icon\" type=\"image/png\" href=\"/docs/favicon-32x32.png\">\n"
    "</head>\n<body>\n<div id=\"swagger-ui\"></div>\n"
    "<script src=\"/docs/swagger-ui-bundle.js\"></script>\n"
    "<script src=\"/docs/swagger-ui-standalone-preset.js\"></script>\n"
    "<script src=\"/docs/swagger-init.js\"></script>\n"
    "</body>\n</html>\n";

/* A file served from the share directory, read once and kept. */
struct asset {
	const char	*name;
	const char	*ctype;
	char		*data;	/* owned; loaded on first request */
	size_t		 len;
};

static struct asset docs_assets[] = {
	{ "openapi.json", "application/json", NULL, 0 },
	{ "swagger-ui.css", "text/css; charset=utf-8", NULL, 0 },
	{ "swagger-ui-bundle.js", "text/javascript; charset=utf-8", NULL, 0 },
	{ "swagger-ui-standalone-preset.js", "text/javascript; charset=utf-8",
	    NULL, 0 },
	{ "swagger-init.js", "text/javascript; charset=utf-8", NULL, 0 },
	{ "favicon-32x32.png", "image/png", NULL, 0 },
};

/* /account/<name> serves account/<name>.html. */
static struct asset account_pages[] = {
	{ "account/verify.html", "text/html; charset=utf-8", NULL, 0 },
	{ "account/reset.html", "text/html; charset=utf-8", NULL, 0 },
	{ "account/invite.html", "text/html; charset=utf-8", NULL, 0 },
	{ "account/email.html", "text/html; charset=utf-8", NULL, 0 },
	{ "account/security.html", "text/html; charset=utf-8", NULL, 0 },
	{ "account/mfa.html", "text/html; charset=utf-8", NULL, 0 },
};

static struct asset account_assets[] = {
	{ "account/account.js", "text/javascript; charset=utf-8", NULL, 0 },
	{ "account/account.css", "text/css; charset=utf-8", NULL, 0 },
};

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

static char share_dir[PATH_MAX];

/* The share directory is ../share beside this program's own directory. */
static int
share_dir_init(void)
{
	char exe[PATH_MAX], *slash;
	ssize_t n;

	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return -1;
	exe[n] = '\0';
	for (int i = 0; i < 2; i++) {
		slash = strrchr(exe, '/');
		if (slash == NULL)
			return -1;
		*slash = '\0';
	}
	if ((size_t)snprintf(share_dir, sizeof(share_dir), "%s/share", exe) >=
	    sizeof(share_dir))
		return -1;
	return 0;
}

static int
asset_load(struct asset *a)
{
	char path[PATH_MAX + 64];
	FILE *fp;
	long size;

	if (a->data != NULL)
		return 0;
	snprintf(path, sizeof(path), "%s/%s", share_dir, a->name);
	fp = fopen(path, "rb");
	if (fp == NULL)
		return -1;
	if (fseek(fp, 0, SEEK_END) == 0 && (size = ftell(fp)) > 0 &&
	    fseek(fp, 0, SEEK_SET) == 0 &&
	    (a->data = malloc((size_t)size)) != NULL) {
		a->len = fread(a->data, 1, (size_t)size, fp);
		if (a->len != (size_t)size) {
			free(a->data);
			a->data = NULL;
		}
	}
	fclose(fp);
	return a->data != NULL ? 0 : -1;
}

/* Sends the file of table named name; anything not listed is a 404. */
static int
send_asset(struct hb_request *r, struct asset *table, size_t n,
    const char *name)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(table[i].name, name) != 0)
			continue;
		if (asset_load(&table[i]) == -1)
			break;
		return http_send(r, 200, table[i].ctype, table[i].data,
		    table[i].len);
	}
	/* A 404 is answered like any other: not cached, the default CSP. */
	r->cache_control = NULL;
	r->csp = NULL;
	return hb_fail(&r->err, 404, "not_found", "No such resource.");
}

static int
handle_openapi(struct hb_request *r, struct hb_app *app)
{
	(void)app;
	r->cache_control = "no-cache";
	return send_asset(r, docs_assets, NELEM(docs_assets), "openapi.json");
}

static int
handle_docs(struct hb_request *r, struct hb_app *app)
{
	(void)app;
	r->csp = DOCS_CSP;
	r->cache_control = "no-cache";
	return http_send(r, 200, "text/html; charset=utf-8", DOCS_PAGE,
	    sizeof(DOCS_PAGE) - 1);
}

static int
handle_asset(struct hb_request *r, struct hb_app *app)
{
	(void)app;
	r->cache_control = "public, max-age=3600";
	if (strcmp(http_route_param(r, "asset"), "openapi.json") == 0)
		return hb_fail(&r->err, 404, "not_found", "No such resource.");
	return send_asset(r, docs_assets, NELEM(docs_assets),
	    http_route_param(r, "asset"));
}

/*
 * /account/<name>: the page account/<name>.html, or the asset
 * account/<name>; only the files in table are ever read.
 */
static int
send_account_file(struct hb_request *r, struct asset *table, size_t n,
    const char *suffix)
{
	const char *name = r->path + strlen("/account/");
	char file[64];

	/* A name too long for any listed file matches none of them. */
	if ((size_t)snprintf(file, sizeof(file), "account/%s%s", name,
	    suffix) >= sizeof(file))
		file[0] = '\0';
	return send_asset(r, table, n, file);
}

static int
handle_account_page(struct hb_request *r, struct hb_app *app)
{
	(void)app;
	r->csp = ACCOUNT_CSP;
	r->cache_control = "no-cache";
	return send_account_file(r, account_pages, NELEM(account_pages),
	    ".html");
}

static int
handle_account_mfa_page(struct hb_request *r, struct hb_app *app)
{
	(void)app;
	r->csp = ACCOUNT_MFA_CSP;
	r->cache_control = "no-cache";
	return send_account_file(r, account_pages, NELEM(account_pages),
	    ".html");
}

static int
handle_account_asset(struct hb_request *r, struct hb_app *app)
{
	(void)app;
	r->cache_control = "public, max-age=3600";
	return send_account_file(r, account_assets, NELEM(account_assets), "");
}

/* The public keys access tokens are signed with ({"keys": []} under HS256). */
static int
handle_jwks(struct hb_request *r, struct hb_app *app)
{
	r->cache_control = "public, max-age=300";
	return http_send(r, 200, "application/json", app->keys.jwks,
	    strlen(app->keys.jwks));
}

static const struct hb_route routes[] = {
	{ "GET", "/.well-known/jwks.json", handle_jwks, 0 },
	{ "GET", "/openapi.json", handle_openapi, 0 },
	{ "GET", "/docs", handle_docs, 0 },
	{ "GET", "/docs/", handle_docs, 0 },
	{ "GET", "/docs/{asset}", handle_asset, 0 },
	{ "GET", "/account/verify", handle_account_page, 0 },
	{ "GET", "/account/reset", handle_account_page, 0 },
	{ "GET", "/account/invite", handle_account_page, 0 },
	{ "GET", "/account/email", handle_account_page, 0 },
	{ "GET", "/account/security", handle_account_page, 0 },
	{ "GET", "/account/mfa", handle_account_mfa_page, 0 },
	{ "GET", "/account/{asset}", handle_account_asset, 0 },
};

int
main(void)
{
	struct hb_app app = { .name = "homebot-docs", .routes = routes,
	    .nroutes = NELEM(routes) };

	if (share_dir_init() == -1) {
		fprintf(stderr, "homebot-docs: cannot find the share directory\n");
		return 1;
	}
	return program_main(&app);
}
