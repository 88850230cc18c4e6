"""The mails a stack's SMTP sink kept (scripts/smtp-sink.py writes each as
DIR/mail/N.eml), and the account links in them.

Mails are sent by homebot-worker after the request that enqueued them has
committed, so a test waits for them: wait_mails() polls until the wanted
count arrived or a deadline passed. Needs a stack started by the suite
(stack.dir set).
"""
import email
import email.policy
import os
import re
import time

LINK_RE = re.compile(r"(https?://[^\s]+?)(/account/[a-z]+)#token=([A-Za-z0-9_-]+)")


def mail_dir(stack):
    stack.need_own()
    return os.path.join(stack.dir, "mail")


def mails(stack):
    """Every mail the sink kept, parsed, oldest first."""
    d = mail_dir(stack)
    names = sorted((n for n in os.listdir(d) if n.endswith(".eml")), key=lambda n: int(n[:-4]))
    return [email.message_from_bytes(open(os.path.join(d, n), "rb").read(),
                                     policy=email.policy.default) for n in names]


def mails_to(stack, address):
    """The mails to address (compared without regard to case), oldest first."""
    return [m for m in mails(stack) if (m["To"] or "").lower() == address.lower()]


def wait_mails(stack, address, count=1, timeout=20, page=None):
    """The mails to address (only those linking to page, when given) once
    there are at least count of them."""
    deadline = time.monotonic() + timeout
    while True:
        got = [m for m in mails_to(stack, address)
               if page is None or any(p == page for p, _ in links(m))]
        if len(got) >= count:
            return got
        assert time.monotonic() < deadline, \
            f"{count} mail(s) to {address} ({page}) expected, {len(got)} arrived in {timeout} s"
        time.sleep(0.05)


def body(message):
    return message.get_body(preferencelist=("plain",)).get_content()


def links(message):
    """The account links of a mail: [(page, token)], e.g. ("/account/verify", "…")."""
    return [(m.group(2), m.group(3)) for m in LINK_RE.finditer(body(message))]


def token_of(message, page):
    """The token of the one link to page in message."""
    found = [t for p, t in links(message) if p == page]
    assert len(found) == 1, (page, body(message))
    return found[0]


def count(stack, address, page):
    """How many mails to address link to page so far."""
    return len([m for m in mails_to(stack, address) if any(p == page for p, _ in links(m))])


def wait_token(stack, address, page, count=1, timeout=20):
    """The token of the newest mail to address linking to page, once there
    are count such mails."""
    return token_of(wait_mails(stack, address, count, timeout, page)[-1], page)


def settle(stack):
    """Waits until no mail job (nor a forgotten-password job, which may
    queue one) is queued or running, so that a test can assert that a mail
    was not sent."""
    deadline = time.monotonic() + 20
    while stack.psql("SELECT count(*) FROM homebot.jobs"
                     " WHERE kind IN ('mail', 'auth.password_forgot')"
                     " AND status IN ('queued', 'running')") != [("0",)]:
        assert time.monotonic() < deadline, "mail jobs still queued after 20 s"
        time.sleep(0.05)
