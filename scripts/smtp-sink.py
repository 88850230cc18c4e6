#!/usr/bin/python3
"""A local SMTP server that keeps every mail it gets, for development and tests.

Usage: smtp-sink.py [--host 127.0.0.1] [--refuse | --refuse-code CODE]
                    [--auth USER:PASSWORD] PORT DIR

Listens on HOST:PORT (loopback; PORT 0 picks a free one) and writes each
mail, as received, to DIR/<n>.eml (n counts on from the files already
there), atomically: a hidden temporary file, then a rename. A
"Return-Path:" and one "Delivered-To:" per recipient come first, as a
delivering server adds them. On stdout it prints first

    smtp-sink: listening on 127.0.0.1:PORT, mails in DIR

then one line per mail, with the subject decoded and the first http(s)
link of the decoded body:

    mail 1.eml to=bob@example.com subject="Reset your Homebot password" link=http://…

Refusing, so that retries can be tested: with --refuse every RCPT is
answered 451 ("try again later"), with --refuse-code CODE that code.
Without them, while a file DIR/refuse exists every RCPT is answered with
the code the file holds (451 when it holds none), so a test can switch
refusal on and off while the sink runs. With --auth the sink requires
AUTH LOGIN/PLAIN with those credentials (over plain text: it is for
loopback only). While a file DIR/delay holds a number of seconds, each
RCPT is answered only after that long: a slow server, to test what a
client that dies or stops mid-delivery leaves behind (nothing is kept
unless the client stays for DATA).

Stops cleanly, exit status 0, on SIGTERM or SIGINT.

Needs Debian's python3-aiosmtpd (scripts/deps.sh installs it); it runs
with Debian's /usr/bin/python3, which sees Debian's Python packages.
"""
import argparse
import asyncio
import email
import email.policy
import json
import logging
import os
import re
import signal
import sys
import warnings

from aiosmtpd.smtp import SMTP, AuthResult

LINK = re.compile(r"https?://[^\s<>\"']+")
EML = re.compile(r"^(\d+)\.eml$")


def refusal(directory, refuse):
    """The reply that refuses a recipient now, or None to accept."""
    code = refuse
    if code is None:
        try:
            with open(os.path.join(directory, "refuse")) as f:
                text = f.read().strip()
        except FileNotFoundError:
            return None
        code = int(text) if re.fullmatch(r"[45]\d\d", text) else 451
    status = "4.3.0" if code < 500 else "5.7.1"
    return f"{code} {status} smtp-sink: refusing mail"


def delay(directory):
    """Seconds to wait before answering a recipient (DIR/delay), or 0."""
    try:
        with open(os.path.join(directory, "delay")) as f:
            return min(float(f.read().strip() or 0), 600.0)
    except (FileNotFoundError, ValueError):
        return 0.0


def summary(data):
    """Recipients, decoded subject and the first link of a message."""
    msg = email.message_from_bytes(data, policy=email.policy.default)
    subject = str(msg.get("Subject", ""))
    link = ""
    try:
        body = msg.get_body(preferencelist=("plain", "html"))
        text = body.get_content() if body is not None else ""
    except (LookupError, ValueError):
        text = data.decode("utf-8", "replace")
    m = LINK.search(text)
    if m:
        link = m.group(0)
    return subject, link


class Sink:
    def __init__(self, directory, refuse):
        self.directory = directory
        self.refuse = refuse
        names = (EML.match(n) for n in os.listdir(directory))
        self.count = max((int(m.group(1)) for m in names if m), default=0)

    async def handle_RCPT(self, server, session, envelope, address, options):
        # A slow server, for tests of what happens to a job mid-delivery:
        # nothing is kept unless the client is still there for DATA.
        wait = delay(self.directory)
        if wait > 0:
            await asyncio.sleep(wait)
        reply = refusal(self.directory, self.refuse)
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        name = f"{self.count}.eml"
        trace = f"Return-Path: <{envelope.mail_from}>\r\n"
        trace += "".join(f"Delivered-To: {r}\r\n" for r in envelope.rcpt_tos)
        data = envelope.original_content
        tmp = os.path.join(self.directory, f".{name}.tmp")
        with open(tmp, "wb") as f:
            f.write(trace.encode("ascii", "replace") + data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, os.path.join(self.directory, name))
        subject, link = summary(data)
        print(f"mail {name} to={','.join(envelope.rcpt_tos)} "
              f"subject={json.dumps(subject, ensure_ascii=False)} link={link}",
              flush=True)
        return "250 OK: kept as " + name


def authenticator(user, password):
    want = (user.encode(), password.encode())

    def check(server, session, envelope, mechanism, auth_data):
        ok = (getattr(auth_data, "login", None),
              getattr(auth_data, "password", None)) == want
        # handled=False: aiosmtpd answers a failure with 535 itself.
        return AuthResult(success=ok, handled=False)
    return check


async def serve(args):
    loop = asyncio.get_running_loop()
    sink = Sink(args.dir, args.refuse)
    options = {}
    if args.auth is not None:
        # Plain-text AUTH is the point here (loopback, tests): no warnings.
        warnings.simplefilter("ignore", UserWarning)
        logging.getLogger("mail.log").setLevel(logging.ERROR)
        user, _, password = args.auth.partition(":")
        options = dict(auth_required=True, auth_require_tls=False,
                       authenticator=authenticator(user, password))

    def protocol():
        return SMTP(sink, hostname="smtp-sink", loop=loop, **options)

    server = await loop.create_server(protocol, args.host, args.port)
    port = server.sockets[0].getsockname()[1]
    print(f"smtp-sink: listening on {args.host}:{port}, mails in {args.dir}",
          flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.close()
    await server.wait_closed()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--refuse", action="store_const", const=451,
                   help="answer every RCPT with 451")
    p.add_argument("--refuse-code", dest="refuse", type=int, metavar="CODE",
                   help="answer every RCPT with CODE (4xx or 5xx)")
    p.add_argument("--auth", metavar="USER:PASSWORD",
                   help="require SMTP AUTH with these credentials")
    p.add_argument("port", type=int)
    p.add_argument("dir")
    args = p.parse_args()
    # Subjects are UTF-8 whatever the locale of the console or the pipe.
    sys.stdout.reconfigure(encoding="utf-8", errors="replace")
    if args.refuse is not None and not 400 <= args.refuse <= 599:
        p.error("--refuse-code takes a 4xx or 5xx code")
    os.makedirs(args.dir, exist_ok=True)
    asyncio.run(serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
