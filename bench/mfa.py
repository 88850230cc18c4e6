"""The second step of a TOTP login (POST /api/v1/auth/mfa/verify) for
make bench: users with TOTP on, and for each run a file of fresh
(mfa_token, code) pairs that bench/verify.lua sends, each once.

  mfa.py enrol STACK_DIR OUT_DIR URL N   N users with TOTP on (enrolled
                                         through the API), their secrets
                                         in OUT_DIR/mfa_secrets.txt
  mfa.py pairs STACK_DIR OUT_DIR         OUT_DIR/mfa_pairs.txt: two lines
                                         a user, "mfa_token code"

A code's time step is accepted once a user and only a later one after it,
and only the step before, at and after now: so each user gives two
verifications a run, the steps now and now + 1, all users' first ones
before all their second ones, made at the start of a step so that both
stay valid for the run. The mfa_tokens are inserted as the first step of
a login would leave them (homebot.mfa_challenges, their SHA-256 only):
the first step is a password login, measured in the login row; this row
is the second step alone. Their passwords have bcrypt cost 4, so that
enrolling thousands of users takes seconds; the second step runs no
bcrypt.
"""
import base64
import concurrent.futures
import crypt
import hashlib
import hmac
import http.client
import json
import os
import secrets
import struct
import sys
import time
from urllib.parse import urlsplit

from seed import PASSWORD, psql, sign


def totp(secret, step):
    key = base64.b32decode(secret)
    mac = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    o = mac[-1] & 15
    return f"{(struct.unpack('>I', mac[o:o + 4])[0] & 0x7FFFFFFF) % 10 ** 6:06d}"


def stack_env(stack_dir):
    def read(name):
        text = open(os.path.join(stack_dir, name)).read()
        return dict(l.split("=", 1) for l in text.split("\n") if "=" in l)
    return read("stack.env")["OWNER_URL"], read("settings.env")["SECRET_KEY"]


def post(url, path, token, body):
    u = urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    try:
        conn.request("POST", path, json.dumps(body),
                     {"Authorization": "Bearer " + token, "Content-Type": "application/json"})
        r = conn.getresponse()
        data = r.read()
    finally:
        conn.close()
    if r.status != 200:
        raise RuntimeError(f"{path}: {r.status} {data[:200]!r}")
    return json.loads(data)


def enrol_one(url, token):
    """TOTP on for the token's user; (secret, the step its confirmation used)."""
    secret = post(url, "/api/v1/auth/mfa/totp", token, {"password": PASSWORD})["secret"]
    step = int(time.time() // 30)
    post(url, "/api/v1/auth/mfa/totp/confirm", token, {"code": totp(secret, step)})
    return secret, step


def enrol(stack_dir, out, url, n):
    owner, key = stack_env(stack_dir)
    pw_hash = crypt.crypt(PASSWORD, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=2 ** 4))
    rows = psql(owner, f"""
        INSERT INTO homebot.organizations (name, slug) VALUES ('Bench MFA', 'bench-mfa');
        INSERT INTO homebot.users (email, password_hash, full_name)
             SELECT 'mfa' || g || '@example.com', '{pw_hash}', 'MFA User ' || g
               FROM generate_series(1, {n}) g;
        INSERT INTO homebot.memberships (organization_id, user_id, role)
             SELECT o.id, u.id, 'member' FROM homebot.organizations o, homebot.users u
              WHERE o.slug = 'bench-mfa' AND u.email LIKE 'mfa%@example.com';
        INSERT INTO homebot.sessions (organization_id, user_id, ip, user_agent)
             SELECT m.organization_id, m.user_id, '127.0.0.1', 'bench'
               FROM homebot.memberships m JOIN homebot.organizations o ON o.id = m.organization_id
              WHERE o.slug = 'bench-mfa'
        RETURNING id, organization_id, user_id""").split()
    now = int(time.time())
    users = []
    for line in rows:
        sid, org, sub = line.split("|")
        users.append((sub, sign(key, {"iss": "homebot", "sub": sub, "org": org, "role": "member",
                                      "sid": sid, "jti": sid, "iat": now, "exp": now + 3600,
                                      "typ": "access"})))
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        done = list(pool.map(lambda u: enrol_one(url, u[1]), users))
    with open(os.path.join(out, "mfa_secrets.txt"), "w") as f:
        for (sub, _), (secret, step) in zip(users, done):
            f.write(f"{sub} {secret} {step}\n")
    print(f"{len(users)} users with TOTP on")


def pairs(stack_dir, out):
    owner, _ = stack_env(stack_dir)
    path = os.path.join(out, "mfa_secrets.txt")
    users = [l.split() for l in open(path).read().splitlines()]
    # The start of a step: the steps now and now + 1 stay valid 60 s.
    if time.time() % 30 > 2:
        time.sleep(30 - time.time() % 30 + 0.2)
    now = int(time.time() // 30)
    hashes = dict(l.split("|") for l in psql(owner, """
        SELECT id, password_hash FROM homebot.users WHERE email LIKE 'mfa%@example.com'""").split())
    expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 600))
    first, second, copy, kept = [], [], [], []
    for sub, secret, last in users:
        steps = [s for s in (now, now + 1) if s > int(last)]
        for s, lines in zip(steps, (first, second)):
            token = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()
            digest = hashlib.sha256(token.encode()).hexdigest()
            copy.append(f"\\\\x{digest}\t{sub}\t{hashes[sub]}\t{expires}")
            lines.append(f"{token} {totp(secret, s)}")
        kept.append(f"{sub} {secret} {max([int(last)] + steps)}")
    psql(owner, "COPY homebot.mfa_challenges (token_hash, user_id, verified_hash, expires_at) FROM STDIN",
         stdin="\n".join(copy) + "\n")
    with open(os.path.join(out, "mfa_pairs.txt"), "w") as f:
        f.write("\n".join(first + second) + "\n")
    with open(path, "w") as f:
        f.write("\n".join(kept) + "\n")
    print(f"{len(first) + len(second)} pairs")


if __name__ == "__main__":
    if sys.argv[1] == "enrol":
        enrol(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
    else:
        pairs(sys.argv[2], sys.argv[3])
