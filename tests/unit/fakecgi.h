#ifndef HB_FAKECGI_H
#define HB_FAKECGI_H

/*
 * A FastCGI request without a web server: the body is served from memory
 * (possibly cut short, possibly in small pieces) and the response is
 * collected in memory and split into status, headers and body.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http.h"

#define FAKE_MAX_HEADERS	48

struct fake_io {
	const char	*in;		/* the body bytes available to read */
	size_t		 in_len;
	size_t		 in_pos;
	int		 chunk;		/* most bytes one read() returns; 0 = any */
	int		 reads;
	char		*out;		/* everything written, NUL-terminated */
	size_t		 out_len;
	size_t		 out_cap;
	int		 writes;
};

struct fake_header {
	char	*name;
	char	*value;
};

struct fake_response {
	int		 status;
	struct fake_header h[FAKE_MAX_HEADERS];
	int		 nh;
	char		*body;		/* NUL-terminated */
	size_t		 body_len;
	int		 well_formed;	/* a header block ended by a blank line */
};

__attribute__((unused)) static int
fake_read(void *ctx, char *buf, int n)
{
	struct fake_io *io = ctx;
	size_t left = io->in_len - io->in_pos, take = (size_t)n;

	io->reads++;
	if (io->chunk > 0 && take > (size_t)io->chunk)
		take = (size_t)io->chunk;
	if (take > left)
		take = left;
	memcpy(buf, io->in + io->in_pos, take);
	io->in_pos += take;
	return (int)take;
}

__attribute__((unused)) static int
fake_write(void *ctx, const char *buf, int n)
{
	struct fake_io *io = ctx;

	io->writes++;
	if (n < 0)
		return -1;
	if (io->out_len + (size_t)n + 1 > io->out_cap) {
		size_t cap = (io->out_len + (size_t)n + 1) * 2;
		char *p = realloc(io->out, cap);

		if (p == NULL)
			return -1;
		io->out = p;
		io->out_cap = cap;
	}
	memcpy(io->out + io->out_len, buf, (size_t)n);
	io->out_len += (size_t)n;
	io->out[io->out_len] = '\0';
	return n;
}

__attribute__((unused)) static void
fake_io_free(struct fake_io *io)
{
	free(io->out);
	memset(io, 0, sizeof(*io));
}

__attribute__((unused)) static char *
fake_strndup(const char *s, size_t n)
{
	char *p = malloc(n + 1);

	if (p == NULL)
		abort();
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

__attribute__((unused)) static void
fake_response_free(struct fake_response *r)
{
	for (int i = 0; i < r->nh; i++) {
		free(r->h[i].name);
		free(r->h[i].value);
	}
	free(r->body);
	memset(r, 0, sizeof(*r));
}

/*
 * Splits a CGI response: "Status: NNN text" and "Name: value" lines ended
 * by CRLF, a blank line, then the body.
 */
__attribute__((unused)) static void
fake_response_parse(struct fake_response *r, const char *out, size_t len)
{
	const char *p = out, *end = out + len, *eol, *colon;

	memset(r, 0, sizeof(*r));
	r->status = -1;
	while (p < end) {
		eol = memmem(p, (size_t)(end - p), "\r\n", 2);
		if (eol == NULL)
			break;
		if (eol == p) {
			p += 2;
			r->well_formed = 1;
			break;
		}
		colon = memchr(p, ':', (size_t)(eol - p));
		if (colon == NULL || r->nh == FAKE_MAX_HEADERS)
			break;
		r->h[r->nh].name = fake_strndup(p, (size_t)(colon - p));
		colon++;
		while (colon < eol && *colon == ' ')
			colon++;
		r->h[r->nh].value = fake_strndup(colon, (size_t)(eol - colon));
		if (strcasecmp(r->h[r->nh].name, "Status") == 0)
			r->status = atoi(r->h[r->nh].value);
		r->nh++;
		p = eol + 2;
	}
	if (!r->well_formed)
		p = end;
	r->body_len = (size_t)(end - p);
	r->body = fake_strndup(p, r->body_len);
}

/* The value of the first header of this name, or NULL. */
__attribute__((unused)) static const char *
fake_header(const struct fake_response *r, const char *name)
{
	for (int i = 0; i < r->nh; i++)
		if (strcasecmp(r->h[i].name, name) == 0)
			return r->h[i].value;
	return NULL;
}

__attribute__((unused)) static int
fake_header_count(const struct fake_response *r, const char *name)
{
	int n = 0;

	for (int i = 0; i < r->nh; i++)
		if (strcasecmp(r->h[i].name, name) == 0)
			n++;
	return n;
}

#endif
