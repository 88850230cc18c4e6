#ifndef HB_TRACE_H
#define HB_TRACE_H

#include <stdbool.h>

/*
 * W3C Trace Context level 1 (api.md §1): the traceparent and tracestate
 * headers. A request continues a valid incoming traceparent (its trace ID,
 * a new span ID of its own) and starts a new trace otherwise. Nothing here
 * allocates: a trace is a few fixed buffers, and tracestate is borrowed.
 */

#define HB_TRACE_ID_LEN		32	/* lowercase hex */
#define HB_SPAN_ID_LEN		16
#define HB_TRACEPARENT_LEN	55	/* "00-<trace>-<span>-<flags>" */
#define HB_TRACESTATE_MAX_MEMBERS 32

struct hb_trace {
	char		 trace_id[HB_TRACE_ID_LEN + 1];
	char		 span_id[HB_SPAN_ID_LEN + 1];	/* this process's span */
	char		 parent_id[HB_SPAN_ID_LEN + 1];	/* "" when none */
	unsigned	 flags;		/* trace-flags (bit 0: sampled) */
	/* The incoming tracestate when valid, else NULL; borrowed. */
	const char	*tracestate;
};

/*
 * Parses a traceparent value: true with trace_id, parent_id and flags set
 * when it is valid (a version above 00 is read by its first 55 characters
 * when a '-' or the end follows them), false otherwise (out untouched).
 */
bool	trace_parse_parent(const char *s, char trace_id[HB_TRACE_ID_LEN + 1],
	    char parent_id[HB_SPAN_ID_LEN + 1], unsigned *flags);
/* Whether s is a valid tracestate list (empty members allowed). */
bool	trace_state_valid(const char *s);
/*
 * The trace of a request: continues traceparent when valid (same trace,
 * the incoming span as parent, tracestate kept when valid), else starts a
 * new one (tracestate dropped). Either may be NULL. A new span ID always.
 */
void	trace_begin(struct hb_trace *t, const char *traceparent,
	    const char *tracestate);
/*
 * A new span of trace_id (a job's run), or of a new trace when trace_id
 * is NULL or not a valid trace ID; no parent.
 */
void	trace_child(struct hb_trace *t, const char *trace_id);
/* Whether s is 32 lowercase hex digits, not all zero. */
bool	trace_id_valid(const char *s);
/* The traceparent of t's span into out. */
void	trace_format(const struct hb_trace *t,
	    char out[HB_TRACEPARENT_LEN + 1]);

#endif
