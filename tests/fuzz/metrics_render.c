/*
 * GET /metrics reads slot files another program's user may write
 * (METRICS_READ_DIRS): lib/metrics_text.c must take any file of a slot's
 * size without reading out of bounds and print only valid text format.
 * Each input is laid over a valid slot of program "fuzz" as patches
 * ("offset high, offset low, length, bytes", repeated) and written to
 * fuzz.0 in a private directory, which is then read both as METRICS_DIR
 * and as a METRICS_READ_DIRS entry.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "job.h"
#include "metrics.h"
#include "metrics_slot.h"

static char dir[64];
static char path[sizeof(dir) + 16];
static struct mx_slot *base, *slot;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
remove_dir(void)
{
	unlink(path);
	rmdir(dir);
}

/* What a program that answered a few requests and ran a job leaves. */
static void
base_slot(struct mx_slot *s)
{
	static const char *const routes[] = { "/api/v1/things",
	    "/api/v1/things/{id}", "/api/v1/orgs/{org}/members" };

	memset(s, 0, sizeof(*s));
	s->magic = MX_MAGIC;
	s->version = MX_VERSION;
	s->size = sizeof(*s);
	snprintf(s->program, sizeof(s->program), "fuzz");
	s->pid = 4242;
	s->owners = 2;
	s->db_connections = 1;
	s->db_reconnects = 3;
	s->dropped = 1;
	s->nroutes = 3;
	for (int i = 0; i < 3; i++)
		snprintf(s->route[i], MX_NAME, "%s", routes[i]);
	s->nkinds = 1;
	snprintf(s->kind[0], MX_NAME, "send_mail");
	s->requests[0].key = mx_request_key(0, 0, 200);
	s->requests[0].count = 17;
	s->requests[1].key = mx_request_key(1, 2, 404);
	s->requests[1].count = 2;
	s->requests[2].key = mx_request_key(MX_ROUTES, 7, 0);
	s->requests[2].count = 1;
	s->db_errors[0].key = '2' << 8 | '3';
	s->db_errors[0].count = 4;
	s->duration[0].bucket[3] = 17;
	s->duration[0].sum_ns = 123456789;
	s->job[0][0].bucket[5] = 2;
	s->job[0][0].sum_ns = 2000000000;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* Memory, where there is a tmpfs: a slot is written every run. */
	snprintf(dir, sizeof(dir), "%s/hb-fuzz-metrics.XXXXXX",
	    access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
	if (mkdtemp(dir) == NULL)
		abort();
	snprintf(path, sizeof(path), "%s/fuzz.0", dir);
	atexit(remove_dir);
	base = malloc(sizeof(*base));
	slot = malloc(sizeof(*slot));
	if (base == NULL || slot == NULL)
		abort();
	base_slot(base);
	return 0;
}

static void
write_slot(const uint8_t *data, size_t size)
{
	unsigned char *s = (unsigned char *)slot;
	FILE *fp;

	memcpy(slot, base, sizeof(*slot));
	while (size >= 3) {
		size_t off = ((size_t)data[0] << 8 | data[1]) * 8 % sizeof(*slot);
		size_t len = data[2];

		data += 3;
		size -= 3;
		if (len > size)
			len = size;
		if (len > sizeof(*slot) - off)
			len = sizeof(*slot) - off;
		memcpy(s + off, data, len);
		data += len;
		size -= len;
	}
	fp = fopen(path, "w");
	if (fp == NULL || fwrite(slot, sizeof(*slot), 1, fp) != 1 ||
	    fclose(fp) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct hb_job_count counts[] = {
		{ "send_mail", 3, 1, 0, 12.5 },
		{ "purge", 0, 0, 2, 0 },
	};
	struct hb_metrics_jobs jobs = { counts, 2, size % 2 == 0 };
	char *text = NULL;
	size_t len = 0;
	FILE *out;

	write_slot(data, size);
	out = open_memstream(&text, &len);
	if (out == NULL)
		abort();
	metrics_render(out, dir, dir, &jobs);
	if (fclose(out) != 0)
		abort();
	for (size_t i = 0; i < len; i++)
		if ((text[i] < 0x20 || text[i] > 0x7e) && text[i] != '\n')
			abort();
	free(text);
	return 0;
}
