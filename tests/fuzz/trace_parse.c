/*
 * W3C trace context (lib/trace.c): traceparent and tracestate as a client
 * may send them. The input up to its first newline is the traceparent,
 * the rest the tracestate. Whatever they are, a request's trace must come
 * out valid: a trace ID and a span ID that parse back, the incoming trace
 * kept exactly when the traceparent parsed, and a tracestate kept only
 * when it is valid.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "trace.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *parent, *state, *nl, out[HB_TRACEPARENT_LEN + 1];
	char tid[HB_TRACE_ID_LEN + 1], pid[HB_SPAN_ID_LEN + 1];
	char tid2[HB_TRACE_ID_LEN + 1], pid2[HB_SPAN_ID_LEN + 1];
	unsigned flags, flags2;
	struct hb_trace t;
	bool parsed;

	/* Headers are NUL-terminated strings: a NUL ends the input. */
	parent = malloc(size + 1);
	if (parent == NULL)
		return 0;
	memcpy(parent, data, size);
	parent[size] = '\0';
	nl = strchr(parent, '\n');
	state = NULL;
	if (nl != NULL) {
		*nl = '\0';
		state = nl + 1;
	}
	parsed = trace_parse_parent(parent, tid, pid, &flags);
	if (parsed && (!trace_id_valid(tid) || strlen(pid) != HB_SPAN_ID_LEN))
		abort();
	trace_begin(&t, parent, state);
	if (!trace_id_valid(t.trace_id) || strlen(t.span_id) != HB_SPAN_ID_LEN)
		abort();
	if (parsed != (strcmp(t.trace_id, tid) == 0 &&
	    strcmp(t.parent_id, pid) == 0))
		abort();
	if (t.tracestate != NULL && (!parsed || !trace_state_valid(state)))
		abort();
	trace_format(&t, out);
	if (!trace_parse_parent(out, tid2, pid2, &flags2) ||
	    strcmp(tid2, t.trace_id) != 0 || strcmp(pid2, t.span_id) != 0 ||
	    flags2 != (t.flags & 0xffu))
		abort();
	free(parent);
	return 0;
}
