/*
 * GET /openapi.json, GET /docs and the Swagger UI assets under /docs/,
 * all from this server's share directory: no CDN, works offline.
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

static struct asset assets[] = {
	{ "openapi.json", "application/json", NULL, 0 },
	{ "swagger-ui.css", "text/css; charset=utf-8", NULL, 0 },
	{ "swagger-ui-bundle.js", "text/javascript; charset=utf-8", NULL, 0 },
	{ "swagger-ui-standalone-preset.js", "text/javascript; charset=utf-8",
	    NULL, 0 },
	{ "swagger-init.js", "text/javascript; charset=utf-8", NULL, 0 },
	{ "favicon-32x32.png", "image/png", NULL, 0 },
};

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

static int
send_asset(struct hb_request *r, const char *name)
{
	for (size_t i = 0; i < sizeof(assets) / sizeof(assets[0]); i++) {
		if (strcmp(assets[i].name, name) != 0)
			continue;
		if (asset_load(&assets[i]) == -1)
			break;
		return http_send(r, 200, assets[i].ctype, assets[i].data,
		    assets[i].len);
	}
	return hb_fail(&r->err, 404, "not_found", "No such resource.");
}

static int
handle_openapi(struct hb_request *r, struct hb_app *app)
{
	(void)app;
	r->cache_control = "no-cache";
	return send_asset(r, "openapi.json");
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
	return send_asset(r, http_route_param(r, "asset"));
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
};

int
main(void)
{
	struct hb_app app = { .name = "homebot-docs", .routes = routes,
	    .nroutes = sizeof(routes) / sizeof(routes[0]) };

	if (share_dir_init() == -1) {
		fprintf(stderr, "homebot-docs: cannot find the share directory\n");
		return 1;
	}
	return program_main(&app);
}
