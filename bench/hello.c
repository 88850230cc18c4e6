/*
 * The FastCGI ceiling, for make bench only (never installed): a program
 * that answers every request with a fixed JSON body and does nothing
 * else. Served through the same lighttpd as Homebot's /health, it shows
 * what Homebot's own request path adds.
 */
#include <fcgiapp.h>

static const char answer[] =
    "Status: 200 OK\r\n"
    "Content-Type: application/json\r\n"
    "Content-Length: 15\r\n"
    "\r\n"
    "{\"status\":\"ok\"}";

int
main(void)
{
	FCGX_Request fr;

	if (FCGX_Init() != 0 || FCGX_InitRequest(&fr, 0, 0) != 0)
		return 1;
	while (FCGX_Accept_r(&fr) >= 0) {
		FCGX_PutStr(answer, (int)sizeof(answer) - 1, fr.out);
		FCGX_Finish_r(&fr);
	}
	FCGX_Free(&fr, 1);
	return 0;
}
