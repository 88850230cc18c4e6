"""Seeds a benchmark stack: 1,000 organizations, 10,000 users, sessions
with signed access tokens, and API keys; writes the credentials wrk rotates.

usage: seed.py STACK_DIR OUT_DIR
"""
import base64
import crypt
import hashlib
import hmac
import json
import os
import secrets
import subprocess
import sys
import time

ORGS, USERS_PER_ORG = 1000, 10
PASSWORD = "bench-password-1"


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def sign(secret, claims):
    head = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64url(json.dumps(claims).encode())
    mac = hmac.new(secret.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64url(mac)}"


def psql(owner, sql, stdin=None):
    return subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", owner, "-c", sql],
                          input=stdin, capture_output=True, text=True, check=True).stdout


def main():
    stack_dir, out = sys.argv[1], sys.argv[2]
    env = dict(l.split("=", 1) for l in open(os.path.join(stack_dir, "stack.env")).read().split("\n") if "=" in l)
    settings = dict(l.split("=", 1) for l in open(os.path.join(stack_dir, "settings.env")).read().split("\n") if "=" in l)
    owner, secret = env["OWNER_URL"], settings["SECRET_KEY"]
    cost = int(settings.get("BCRYPT_COST", "12"))
    pw_hash = crypt.crypt(PASSWORD, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=2 ** cost))
    users = ORGS * USERS_PER_ORG
    psql(owner, f"""
        INSERT INTO homebot.organizations (name, slug)
             SELECT 'Bench ' || g, 'bench-' || g FROM generate_series(1, {ORGS}) g;
        INSERT INTO homebot.users (email, password_hash, full_name)
             SELECT 'bench' || g || '@example.com', '{pw_hash}', 'Bench User ' || g
               FROM generate_series(1, {users}) g;
        INSERT INTO homebot.memberships (organization_id, user_id, role)
             SELECT o.id, u.id, CASE WHEN g % {USERS_PER_ORG} = 1 THEN 'owner' ELSE 'member' END
               FROM generate_series(1, {users}) g
               JOIN homebot.users u ON u.email = 'bench' || g || '@example.com'
               JOIN homebot.organizations o ON o.slug = 'bench-' || ((g - 1) / {USERS_PER_ORG} + 1);
        """)
    # One live session for every fifth user: 2,000 users of all organizations.
    rows = psql(owner, f"""
        INSERT INTO homebot.sessions (organization_id, user_id, ip, user_agent)
             SELECT m.organization_id, m.user_id, '127.0.0.1', 'bench'
               FROM homebot.memberships m JOIN homebot.users u ON u.id = m.user_id
              WHERE u.email LIKE 'bench%' AND split_part(substring(u.email from 6), '@', 1)::int % 5 = 0
        RETURNING id, organization_id, user_id""")
    now = int(time.time())
    with open(os.path.join(out, "tokens.txt"), "w") as f:
        for line in rows.split():
            sid, org, sub = line.split("|")
            f.write(sign(secret, {"iss": "homebot", "sub": sub, "org": org, "role": "member",
                                  "sid": sid, "jti": sid, "iat": now, "exp": now + 3600,
                                  "typ": "access"}) + "\n")
    # One organization with 210 members, for the 50- and 200-row collections.
    big = psql(owner, f"""
        INSERT INTO homebot.organizations (name, slug) VALUES ('Bench Big', 'bench-big');
        INSERT INTO homebot.users (email, password_hash, full_name)
             SELECT 'big' || g || '@example.com', '{pw_hash}', 'Big User ' || g
               FROM generate_series(1, 210) g;
        INSERT INTO homebot.memberships (organization_id, user_id, role)
             SELECT o.id, u.id, CASE WHEN u.email = 'big1@example.com' THEN 'owner' ELSE 'member' END
               FROM homebot.organizations o, homebot.users u
              WHERE o.slug = 'bench-big' AND u.email LIKE 'big%@example.com';
        INSERT INTO homebot.sessions (organization_id, user_id, ip, user_agent)
             SELECT m.organization_id, m.user_id, '127.0.0.1', 'bench'
               FROM homebot.memberships m JOIN homebot.users u ON u.id = m.user_id
              WHERE u.email = 'big1@example.com'
        RETURNING id, organization_id, user_id""").split()[0]
    sid, org, sub = big.split("|")
    with open(os.path.join(out, "owner_token.txt"), "w") as f:
        f.write(sign(secret, {"iss": "homebot", "sub": sub, "org": org, "role": "owner",
                              "sid": sid, "jti": sid, "iat": now, "exp": now + 3600,
                              "typ": "access"}) + "\n")
    # One API key for each organization's owner.
    owners = psql(owner, """SELECT m.organization_id, m.user_id FROM homebot.memberships m
                             JOIN homebot.users u ON u.id = m.user_id
                            WHERE m.role = 'owner' AND u.email LIKE 'bench%'""").split()
    copy, keys = [], []
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    for line in owners:
        org, user = line.split("|")
        prefix = "".join(secrets.choice(alphabet) for _ in range(8))
        key = f"hb_{prefix}_{b64url(secrets.token_bytes(32))}"
        copy.append(f"{org}\t{prefix}\t\\\\x{hashlib.sha256(key.encode()).hexdigest()}\tbench\t{{org:read,members:read,mqtt:subscribe,mqtt:publish}}\t{user}")
        keys.append(key)
    psql(owner, "COPY homebot.api_keys (organization_id, prefix, key_hash, name, scopes, created_by) FROM STDIN",
         stdin="\n".join(copy) + "\n")
    with open(os.path.join(out, "keys.txt"), "w") as f:
        f.write("\n".join(keys) + "\n")
    with open(os.path.join(out, "logins.txt"), "w") as f:
        for g in range(1, users + 1, 7):
            f.write(f"bench{g}@example.com\n")
    print(f"seeded {ORGS} organizations, {users} users, {len(rows.split())} sessions, {len(keys)} API keys")


if __name__ == "__main__":
    main()
