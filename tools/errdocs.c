/*
 * homebot-errdocs DIR: writes the web servers' static error documents,
 * DIR/<status>.html, one for each status they answer themselves. The
 * build runs it, so the documents carry the very codes and messages the
 * programs answer with (http_server_error). The name is lighttpd's
 * (server.errorfile-prefix appends "<status>.html"); the content is the
 * JSON error envelope, which both servers send as application/json.
 * A static document cannot know the request, so it has no request_id.
 */
#include <stdio.h>
#include <string.h>

#include "http.h"

static int
write_doc(const char *dir, int status)
{
	struct hb_error err = {0};
	struct json_object *body;
	const char *s;
	char path[4096];
	FILE *f;
	int rc = 0;

	http_server_error(status, &err);
	body = http_error_envelope(&err, NULL);
	s = json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE);
	snprintf(path, sizeof(path), "%s/%d.html", dir, status);
	f = fopen(path, "w");
	if (f == NULL || fputs(s, f) == EOF)
		rc = -1;
	if (f != NULL && fclose(f) == EOF)
		rc = -1;
	if (rc == -1)
		perror(path);
	json_object_put(body);
	hb_error_clear(&err);
	return rc;
}

int
main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: homebot-errdocs DIR\n");
		return 2;
	}
	for (size_t i = 0; http_server_status(i) != 0; i++)
		if (write_doc(argv[1], http_server_status(i)) == -1)
			return 1;
	return 0;
}
