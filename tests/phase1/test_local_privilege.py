"""The stack as another local user would try it (runuser -u nobody, or the
web user a compromised program would run as): the embedded cluster
authenticates who connects and only the service users reach its socket;
env files are readable only by the program that needs them; the admin
program runs as its own user; a runtime directory another user made
first is refused; make superadmin passes values to psql as variables.

These need root (to act as other users): the stack runs its programs as
other users only then.
"""
import hashlib
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest

from conftest import ROOT, reserve_port

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as other users")

STACK_SH = ROOT / "scripts" / "stack.sh"


def as_user(user, *argv, **kw):
    return subprocess.run(["runuser", "-u", user, "--", *argv],
                          capture_output=True, text=True, timeout=60, **kw)


def conninfo(stack, role):
    return f"host={stack.dir}/pg user={role} dbname=homebot connect_timeout=5"


def can_connect(user, stack, role):
    r = as_user(user, "psql", "-X", "-A", "-t", conninfo(stack, role), "-c", "SELECT current_user")
    return r.returncode == 0 and r.stdout.strip() == role


@pytest.mark.parametrize("role", ["postgres", "homebot_app", "homebot_worker", "homebot_admin"])
def test_nobody_connects_to_the_cluster(stack, role):
    stack.need_own()
    r = as_user("nobody", "psql", "-X", conninfo(stack, role), "-c", "SELECT 1")
    assert r.returncode != 0
    # Not even the socket is in reach: the directory is closed to others.
    assert "Permission denied" in r.stderr, r.stderr


def test_the_socket_directory_is_closed_to_others(stack):
    stack.need_own()
    st = os.stat(Path(stack.dir) / "pg")
    assert st.st_mode & 0o007 == 0, oct(st.st_mode)
    assert as_user("nobody", "ls", f"{stack.dir}/pg").returncode != 0


@pytest.mark.parametrize("user,role,allowed", [
    ("www-data", "homebot_app", True),
    ("www-data", "homebot_worker", True),
    ("www-data", "homebot_admin", False),
    ("www-data", "postgres", False),
    ("homebot-admin", "homebot_admin", True),
    ("homebot-admin", "homebot_app", False),
    ("homebot-admin", "postgres", False),
    ("postgres", "postgres", True),
])
def test_each_service_user_gets_only_its_roles(stack, user, role, allowed):
    stack.need_own()
    assert can_connect(user, stack, role) is allowed


def test_a_program_cannot_become_the_superuser_and_run_commands(stack):
    # What a compromised program (the web user) would try: the superuser
    # role, then COPY ... TO PROGRAM. Peer authentication stops it first.
    stack.need_own()
    marker = Path(tempfile.gettempdir()) / f"homebot-pwned-{uuid.uuid4().hex}"
    r = as_user("www-data", "psql", "-X", conninfo(stack, "postgres"),
                "-c", f"COPY (SELECT 1) TO PROGRAM 'touch {marker}'")
    assert r.returncode != 0
    assert "Peer authentication failed" in r.stderr, r.stderr
    assert not marker.exists()


@pytest.mark.parametrize("name", ["homebot.env", "worker.env", "admin.env"])
def test_env_files_are_closed_to_other_users(stack, name):
    stack.need_own()
    path = Path(stack.dir) / "etc" / name
    assert "SECRET_KEY=" in path.read_text()
    assert path.stat().st_mode & 0o077 & ~0o040 == 0, oct(path.stat().st_mode)
    assert path.stat().st_mode & 0o007 == 0
    assert as_user("nobody", "cat", str(path)).returncode != 0


def test_mailed_links_are_closed_to_other_users(stack):
    # The local SMTP sink keeps every mail (reset, verification and
    # invitation links) and prints each link: nobody else may read either.
    stack.need_own()
    for path in ("mail", "state", "state/smtp.out"):
        p = Path(stack.dir) / path
        assert p.stat().st_mode & 0o077 == 0, (path, oct(p.stat().st_mode))
        assert as_user("nobody", "cat" if p.is_file() else "ls", str(p)).returncode != 0, path


def test_admin_database_url_never_reaches_the_web_users_files():
    # Every spelling lib/config.c reads: "export NAME=" and "NAME =" too.
    d = Path(tempfile.mkdtemp(prefix="homebot-spell-"))
    port = reserve_port()
    env = dict(os.environ, HOMEBOT_PORT=str(port.getsockname()[1]))
    (d / "settings.env").write_text(
        "SECRET_KEY=" + uuid.uuid4().hex * 2 + "\n"
        "export ADMIN_DATABASE_URL=host=/nonexistent user=homebot_admin password=s3cret-a\n"
        "ADMIN_DATABASE_URL =host=/nonexistent user=homebot_admin password=s3cret-b\n"
        "  export WORKER_DATABASE_URL = host=/nonexistent password=s3cret-c\n")
    try:
        r = subprocess.run([str(STACK_SH), "start", str(d)], env=env, capture_output=True,
                           text=True, timeout=300)
        port.close()
        assert r.returncode == 0, r.stderr
        for name in ("homebot.env", "worker.env"):
            assert "s3cret" not in (d / "etc" / name).read_text(), name
    finally:
        port.close()
        subprocess.run([str(STACK_SH), "stop", str(d)], env=env, capture_output=True)
        shutil.rmtree(d, ignore_errors=True)


def test_a_stack_directory_under_another_users_directory_is_refused():
    # Its parent writable by another user, the directory could be swapped
    # for a link between root's checks and its chmod.
    parent = Path(tempfile.mkdtemp(prefix="homebot-parent-"))
    try:
        os.chown(parent, pwd.getpwnam("nobody").pw_uid, -1)
        d = parent / "stack"
        d.mkdir(mode=0o755)
        r = subprocess.run([str(STACK_SH), "db", str(d)], capture_output=True, text=True,
                           timeout=120)
        assert r.returncode != 0
        assert "no one else can write to" in r.stderr, r.stderr
        assert not (d / "pg").exists()
    finally:
        shutil.rmtree(parent, ignore_errors=True)


def test_a_generated_secret_is_born_private():
    # stack.sh start generates SECRET_KEY into the stack's settings file
    # when neither the file nor the environment has one: umask 077 first,
    # never a world-readable file chmodded afterwards.
    d = Path(tempfile.mkdtemp(prefix="homebot-umask-"))
    env = {k: v for k, v in os.environ.items() if k != "SECRET_KEY"}
    port = reserve_port()
    env["HOMEBOT_PORT"] = str(port.getsockname()[1])
    try:
        r = subprocess.run([str(STACK_SH), "start", str(d)], env=env, capture_output=True,
                           text=True, timeout=300)
        port.close()
        assert r.returncode == 0, r.stderr
        settings = d / "settings.env"
        assert settings.read_text().startswith("SECRET_KEY=")
        assert settings.stat().st_mode & 0o777 == 0o600, oct(settings.stat().st_mode)
    finally:
        port.close()
        subprocess.run([str(STACK_SH), "stop", str(d)], env=env, capture_output=True)
        shutil.rmtree(d, ignore_errors=True)


def test_only_the_admin_user_reads_the_admin_env_file(stack):
    stack.need_own()
    path = str(Path(stack.dir) / "etc" / "admin.env")
    assert as_user("www-data", "cat", path).returncode != 0
    r = as_user("homebot-admin", "cat", path)
    assert r.returncode == 0 and "ADMIN_DATABASE_URL=" in r.stdout
    # And the web user's file is the web user's.
    assert as_user("www-data", "cat", str(Path(stack.dir) / "etc" / "homebot.env")).returncode == 0


def test_the_admin_program_runs_as_its_own_user(stack):
    stack.need_own()
    assert stack.get("/api/v1/admin/users").status == 401  # it answers
    pids = stack.worker_pids("admin")
    assert len(pids) == 1, pids
    assert Path(f"/proc/{pids[0]}").stat().st_uid == pwd.getpwnam("homebot-admin").pw_uid
    assert stack.get("/api/v1/auth/me").status == 401
    for pid in stack.worker_pids("me"):
        assert Path(f"/proc/{pid}").stat().st_uid == pwd.getpwnam("www-data").pw_uid
    # The web user may connect to the admin program's socket, nobody else.
    sock = Path(stack.dir) / "admin" / "admin.sock"
    assert sock.stat().st_mode & 0o007 == 0
    assert as_user("nobody", "test", "-w", str(sock)).returncode != 0


def planted_runtime_dir(root):
    h = hashlib.sha256(str(root).encode()).hexdigest()[:12]
    return Path(f"/var/tmp/homebot-{h}")


def test_a_runtime_directory_another_user_made_first_is_refused():
    # make run from a clone in a 0700 home directory falls back to a
    # predictable /var/tmp/homebot-<hash>; another user who made it first
    # (with asan -> /etc inside) gets a refusal, not root's chmod 1777.
    home = Path(tempfile.mkdtemp(prefix="homebot-home-"))
    os.chmod(home, 0o700)
    (home / "scripts").mkdir()
    shutil.copy(STACK_SH, home / "scripts" / "stack.sh")
    planted = planted_runtime_dir(home)
    shutil.rmtree(planted, ignore_errors=True)
    etc_mode = os.stat("/etc").st_mode
    try:
        assert as_user("nobody", "mkdir", "-m", "0777", str(planted)).returncode == 0
        assert as_user("nobody", "ln", "-s", "/etc", str(planted / "asan")).returncode == 0
        env = dict(os.environ, BUILD=str(ROOT / os.environ.get("BUILD", "build")),
                   HOMEBOT_PORT="1")
        r = subprocess.run([str(home / "scripts" / "stack.sh"), "run"], env=env,
                           stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=120)
        assert r.returncode != 0
        assert str(planted) in r.stderr and "remove it" in r.stderr, r.stderr
        assert os.stat("/etc").st_mode == etc_mode
        assert os.lstat(planted).st_uid == pwd.getpwnam("nobody").pw_uid
        assert os.path.islink(planted / "asan")
        # Its own directory, though, is taken (and then used).
        shutil.rmtree(planted)
        planted.mkdir(mode=0o755)
        assert os.stat(planted).st_uid == 0
    finally:
        shutil.rmtree(planted, ignore_errors=True)
        shutil.rmtree(home, ignore_errors=True)


def test_a_symbolic_link_inside_a_stack_directory_is_refused():
    d = Path(tempfile.mkdtemp(prefix="homebot-link-"))
    target = Path(tempfile.mkdtemp(prefix="homebot-target-"))
    os.chmod(target, 0o700)
    try:
        (d / "asan").symlink_to(target)
        r = subprocess.run([str(STACK_SH), "db", str(d)], capture_output=True, text=True,
                           timeout=120)
        assert r.returncode != 0
        assert "symbolic link" in r.stderr, r.stderr
        assert os.stat(target).st_mode & 0o777 == 0o700
        assert os.stat(target).st_uid == 0
    finally:
        subprocess.run([str(STACK_SH), "stop", str(d)], capture_output=True)
        shutil.rmtree(d, ignore_errors=True)
        shutil.rmtree(target, ignore_errors=True)


@pytest.mark.parametrize("email", [
    "x'); DROP TABLE homebot.users; --@example.com",
    "a\\'@example.com\n\\! touch /tmp/homebot-superadmin-pwned\n",
    "b\\\\'; SELECT pg_sleep(0); --@example.com",
])
def test_superadmin_values_never_become_sql(stack, email):
    stack.need_own()
    marker = Path("/tmp/homebot-superadmin-pwned")
    marker.unlink(missing_ok=True)
    env = dict(os.environ, DATABASE_URL=stack.env["APP_URL"],
               MIGRATE_DATABASE_URL=stack.env["OWNER_URL"], BCRYPT_COST="4")
    r = subprocess.run([str(STACK_SH), "superadmin", email, "correct horse battery"],
                       env=env, capture_output=True, text=True, timeout=60)
    assert not marker.exists()
    assert stack.psql("SELECT to_regclass('homebot.users') IS NOT NULL")[0][0] == "t"
    rows = stack.psql("SELECT is_superadmin FROM homebot.users"
                      " WHERE lower(email) = lower(:'e')", e=email)
    # Either the address was refused (it is no valid email) or stored as
    # given, a superadmin — never run as SQL or as a psql command.
    if r.returncode == 0:
        assert rows == [("t",)], (r.stdout, r.stderr)
    else:
        assert rows == [], rows
        assert "cannot create the superadmin" in r.stderr or "EMAIL" in r.stderr, r.stderr


def test_make_superadmin_passes_email_through_the_environment(stack):
    stack.need_own()
    marker = Path("/tmp/homebot-make-pwned")
    marker.unlink(missing_ok=True)
    env = dict(os.environ, DATABASE_URL=stack.env["APP_URL"],
               MIGRATE_DATABASE_URL=stack.env["OWNER_URL"], BCRYPT_COST="4")
    email = f'q"$(touch {marker})"{uuid.uuid4().hex[:6]}@example.com'
    r = subprocess.run(["make", "-s", "-C", str(ROOT), "superadmin", f"EMAIL={email}",
                        "PASSWORD=correct horse battery"],
                       env=env, capture_output=True, text=True, timeout=300)
    assert not marker.exists(), r.stdout + r.stderr
