/*
 * What a sign-in's device is (lib/sign_in.h). The classification is
 * deliberately coarse: a browser update or a new address in the same
 * network is the same device, so the notice comes for what a user would
 * call another computer, browser or place. The order of the checks
 * matters: Edge and Opera also say "Chrome/", Chrome also says "Safari/",
 * and every browser says "Mozilla/".
 */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "sign_in.h"

/* A user agent longer than this is read only that far. */
#define UA_READ_MAX	512

struct marker {
	const char	*needle;
	const char	*name;
};

/* Tools that sign in without a browser: their name is the whole family. */
static const struct marker tools[] = {
	{ "curl/", "curl" },
	{ "Wget/", "Wget" },
	{ "python-requests/", "Python" },
	{ "Python-urllib/", "Python" },
	{ "python-httpx/", "Python" },
	{ "Go-http-client/", "Go" },
	{ "okhttp/", "OkHttp" },
	{ "PostmanRuntime/", "Postman" },
};

static const struct marker browsers[] = {
	{ "Edg/", "Edge" },
	{ "EdgA/", "Edge" },
	{ "EdgiOS/", "Edge" },
	{ "OPR/", "Opera" },
	{ "SamsungBrowser/", "Samsung Internet" },
	{ "Firefox/", "Firefox" },
	{ "FxiOS/", "Firefox" },
	{ "CriOS/", "Chrome" },
	{ "Chrome/", "Chrome" },
	{ "Chromium/", "Chrome" },
	{ "Safari/", "Safari" },
};

/* iPhone before Mac OS X: an iPhone's agent says "like Mac OS X". */
static const struct marker systems[] = {
	{ "Windows", "Windows" },
	{ "iPhone", "iOS" },
	{ "iPad", "iOS" },
	{ "Android", "Android" },
	{ "CrOS", "ChromeOS" },
	{ "Macintosh", "macOS" },
	{ "Mac OS X", "macOS" },
	{ "Linux", "Linux" },
	{ "FreeBSD", "FreeBSD" },
	{ "OpenBSD", "OpenBSD" },
};

/* The name of the first marker found in ua (len bytes), or NULL. */
static const char *
find(const char *ua, size_t len, const struct marker *m, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (memmem(ua, len, m[i].needle, strlen(m[i].needle)) != NULL)
			return m[i].name;
	return NULL;
}

static int
put(char *out, size_t outsz, const char *a, const char *b)
{
	int n = b == NULL ? snprintf(out, outsz, "%s", a) :
	    snprintf(out, outsz, "%s on %s", a, b);

	if (n < 0 || (size_t)n >= outsz) {
		if (outsz > 0)
			out[0] = '\0';
		return -1;
	}
	return 0;
}

int
sign_in_family(const char *ua, char *out, size_t outsz)
{
	const char *tool, *browser, *sys;
	size_t len = ua != NULL ? strnlen(ua, UA_READ_MAX) : 0;

	if (len == 0)
		return put(out, outsz, "other", NULL);
	if ((tool = find(ua, len, tools, sizeof(tools) / sizeof(*tools))) != NULL)
		return put(out, outsz, tool, NULL);
	browser = find(ua, len, browsers, sizeof(browsers) / sizeof(*browsers));
	sys = find(ua, len, systems, sizeof(systems) / sizeof(*systems));
	if (browser == NULL)
		return put(out, outsz, "other", NULL);
	return put(out, outsz, browser, sys != NULL ? sys : "another system");
}

int
sign_in_network(const char *addr, char *out, size_t outsz)
{
	static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    0, 0xff, 0xff };
	unsigned char a[16];
	char text[INET6_ADDRSTRLEN];
	bool v4;
	int n;

	if (outsz > 0)
		out[0] = '\0';
	if (addr == NULL || strnlen(addr, INET6_ADDRSTRLEN) >= INET6_ADDRSTRLEN)
		return -1;
	if (inet_pton(AF_INET, addr, a) == 1)
		v4 = true;
	else if (inet_pton(AF_INET6, addr, a) == 1) {
		v4 = memcmp(a, mapped, sizeof(mapped)) == 0;
		if (v4)
			memmove(a, a + 12, 4);
	} else
		return -1;
	if (v4)
		a[3] = 0;
	else
		memset(a + 6, 0, 10);
	if (inet_ntop(v4 ? AF_INET : AF_INET6, a, text, sizeof(text)) == NULL)
		return -1;
	n = snprintf(out, outsz, "%s/%d", text, v4 ? 24 : 48);
	if (n < 0 || (size_t)n >= outsz) {
		if (outsz > 0)
			out[0] = '\0';
		return -1;
	}
	return 0;
}
