"""The README's curl recipes for administration work as written: every
```sh block under the heading "Administration with curl" is run with bash,
in order, against the test stack, and must exit 0 and do what it says.

The contract the README section is written to:

- The heading's text is exactly "Administration with curl" (any level);
  the section ends at the next heading of the same or a higher level.
- Only ```sh (or ```bash) fences run; put `make superadmin ...` and sample
  output in ```console / ```text / ```json fences or in prose.
- The environment provides B (the base URL, no trailing slash),
  ADMIN_EMAIL and ADMIN_PASSWORD (a superadmin, as `make superadmin` makes
  one); curl and jq are on PATH. A block never assigns B a fixed value
  (write `B=${B:-http://127.0.0.1:3334}` if it must have a default).
- Each block runs under `set -euo pipefail`; shell variables a block sets
  (TOKEN, ORG_ID, USER_ID, ...) are there for the blocks after it, as in
  one terminal. No placeholders: ids are captured with jq, and `curl -fsS`
  makes an HTTP error fail the block.
- What a block does is read from the endpoints it calls: a body with
  "owner_email" creates an organization; /suspend, /unsuspend, /disable,
  /enable and /unlock do just that (checked in the database and the
  platform audit log); a block that reads /api/v1/admin/audit-log must
  print admin events. Together the blocks create an organization with an
  owner, suspend it, disable a user, unlock a user and read the platform
  audit log. Before a block that unlocks, every user the recipes made is
  locked out (5 failed logins); after it, the unlocked user is not.
"""
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import ROOT, login, make_superadmin

README = Path(os.environ.get("HOMEBOT_README", ROOT / "README.md"))
HEADING = "Administration with curl"
RUNNABLE = {"sh", "bash"}
TASKS = {
    "create an organization with an owner": "owner_email",
    "suspend an organization": "/suspend",
    "disable a user": "/disable",
    "unlock a user": "/unlock",
    "read the platform audit log": "/api/v1/admin/audit-log",
}
# What each admin endpoint of a block must leave in the platform audit log.
ACTIONS = [
    ("owner_email", "admin.organization.created"),
    (r"/organizations/[^\s/\"']+/suspend", "admin.organization.suspended"),
    (r"/unsuspend", "admin.organization.unsuspended"),
    (r"/disable", "admin.user.disabled"),
    (r"/enable", "admin.user.enabled"),
    (r"/unlock", "admin.user.unlocked"),
]
MISSING = (f'README.md has no "{HEADING}" section with ```sh blocks yet. Expected: a heading '
           f'"{HEADING}" whose ```sh blocks, run in order with bash -euo pipefail and only B '
           "(base URL), ADMIN_EMAIL and ADMIN_PASSWORD given (curl and jq on PATH), log in as "
           "the superadmin and create an organization with an owner (owner_email), suspend it, "
           "disable a user, unlock a user and read /api/v1/admin/audit-log. See the docstring "
           "of tests/phase1/test_readme_recipes.py.")

# Runs one block, then writes every variable it created into the state file
# the next block starts from.
RUNNER = r"""
set -euo pipefail
__before=$(compgen -v | sort)
if [ -f "$HB_STATE" ]; then source "$HB_STATE"; fi
%s
set +u
for __v in $(comm -13 <(printf '%%s\n' "$__before") <(compgen -v | sort)); do
	case $__v in __*|BASH*|FUNCNAME|PIPESTATUS|_|COLUMNS|LINES|OPTARG|OPTIND) continue ;; esac
	declare -p "$__v"
done >"$HB_STATE.new"
mv "$HB_STATE.new" "$HB_STATE"
"""


def recipe_blocks(text):
    """The runnable fenced blocks of the section, in order; None without it."""
    lines = text.splitlines()
    level = None
    for i, line in enumerate(lines):
        m = re.match(r"(#{1,6})\s+(.*?)\s*#*\s*$", line)
        if m and m.group(2) == HEADING:
            level, start = len(m.group(1)), i + 1
            break
    if level is None:
        return None
    blocks, fence, indent, lang, buf = [], None, 0, "", []
    for line in lines[start:]:
        stripped = line.lstrip()
        if fence is None:
            m = re.match(r"(#{1,6})\s", line)
            if m and len(m.group(1)) <= level:
                break
            m = re.match(r"(```+|~~~+)\s*([\w+-]*)", stripped)
            if m:
                fence, indent, lang, buf = m.group(1), len(line) - len(stripped), m.group(2), []
        elif stripped.startswith(fence):
            if lang in RUNNABLE:
                blocks.append("\n".join(l[indent:] if l[:indent].isspace() else l.lstrip()
                                        for l in buf))
            fence = None
        else:
            buf.append(line)
    return blocks


def _blocks():
    return recipe_blocks(README.read_text()) if README.exists() else None


BLOCKS = _blocks() or []


class Recipes:
    """The stack, the superadmin and the shell state the blocks share."""

    def __init__(self, stack):
        self.stack = stack
        self.admin = make_superadmin(stack)
        self.dir = tempfile.mkdtemp(prefix="homebot-readme-")
        self.state = os.path.join(self.dir, "state.sh")
        [(self.started,)] = stack.psql("SELECT now()")
        self.failed = False

    def run(self, block):
        env = dict(os.environ, B=self.stack.url, ADMIN_EMAIL=self.admin.email,
                   ADMIN_PASSWORD=self.admin.password, HB_STATE=self.state, LC_ALL="C")
        return subprocess.run(["bash", "-c", RUNNER % block], env=env, cwd=self.dir,
                              capture_output=True, text=True, timeout=60)

    def admin_events(self):
        return self.stack.psql("SELECT id, action, target_id FROM homebot.audit_log"
                               " WHERE action LIKE 'admin.%' AND actor_id = :'a'"
                               " ORDER BY occurred_at, id", a=self.admin.user_id)

    def recipe_users(self):
        """Emails of the users made since the recipes began (not the admin)."""
        return [e for (e,) in self.stack.psql(
            "SELECT email FROM homebot.users WHERE created_at >= :'t' AND id <> :'a'",
            t=self.started, a=self.admin.user_id)]

    def lock_out(self, email):
        for _ in range(5):
            login(self.stack, email, "not-the-password-1")


@pytest.fixture(scope="module")
def recipes(stack):
    stack.need_own()
    if not shutil.which("jq") or not shutil.which("curl"):
        pytest.fail("the README recipes need curl and jq on PATH")
    r = Recipes(stack)
    yield r
    shutil.rmtree(r.dir, ignore_errors=True)


def test_readme_has_the_administration_with_curl_section():
    assert BLOCKS, MISSING


def test_readme_recipes_cover_every_admin_task():
    assert BLOCKS, MISSING
    text = "\n".join(BLOCKS)
    missing = [task for task, needle in TASKS.items() if needle not in text]
    assert missing == [], f'the "{HEADING}" recipes do not show how to: {", ".join(missing)}'


def test_readme_recipes_take_the_base_url_from_b():
    assert BLOCKS, MISSING
    fixed = [line for block in BLOCKS for line in block.splitlines()
             if re.match(r"\s*(export\s+)?B=(?!\$\{B:-)", line)]
    assert fixed == [], f"a recipe sets B itself (use B=${{B:-...}}): {fixed}"


@pytest.mark.parametrize("index", range(len(BLOCKS)) if BLOCKS else [None],
                         ids=lambda i: "missing" if i is None else f"block{i + 1}")
def test_readme_recipe_runs_and_does_what_it_says(stack, recipes, index):
    if index is None:
        pytest.fail(MISSING)
    if recipes.failed:
        pytest.skip("an earlier recipe block failed; the blocks build on each other")
    block = BLOCKS[index]
    if "/unlock" in block:
        for email in recipes.recipe_users():
            recipes.lock_out(email)
    before = {row[0] for row in recipes.admin_events()}
    out = recipes.run(block)
    if out.returncode != 0:
        recipes.failed = True
    hint = ("\n(curl exit 22: an HTTP status >= 400. A POST without a body has no"
            " Content-Length, which lighttpd refuses with 411 before Homebot sees it:"
            " send -d '' or --json '{}'.)" if out.returncode == 22 else "")
    assert out.returncode == 0, (f"block {index + 1} exited {out.returncode}{hint}\n--- block\n"
                                 f"{block}\n--- stdout\n{out.stdout}\n--- stderr\n{out.stderr}")
    new = [row for row in recipes.admin_events() if row[0] not in before]
    done = [action for _, action, _ in new]
    for pattern, action in ACTIONS:
        if re.search(pattern, block):
            assert action in done, (f"block {index + 1} calls {pattern} but the audit log has no"
                                    f" {action}: {done}\n--- stdout\n{out.stdout}")
    _check_effects(stack, recipes, new, out)
    if "/api/v1/admin/audit-log" in block:
        assert "admin." in out.stdout, ("the audit-log recipe printed no admin event:\n"
                                        + out.stdout)


def _check_effects(stack, recipes, events, out):
    """The database agrees with the last admin event on each target."""
    family = {"admin.organization.suspended": "suspension",
              "admin.organization.unsuspended": "suspension",
              "admin.user.disabled": "disabling", "admin.user.enabled": "disabling"}
    last = {}
    for _, action, target in events:
        last[(family.get(action, action), target)] = action
    for (_, target), action in last.items():
        if action == "admin.organization.created":
            rows = stack.psql("SELECT m.role, m.status FROM homebot.memberships m"
                              " WHERE m.organization_id = :'o'", o=target)
            assert ("owner", "invited") in rows or ("owner", "active") in rows, rows
        elif action in ("admin.organization.suspended", "admin.organization.unsuspended"):
            [(suspended,)] = stack.psql("SELECT suspended_at IS NOT NULL FROM"
                                        " homebot.organizations WHERE id = :'o'", o=target)
            assert suspended == ("t" if action.endswith(".suspended") else "f"), (action, target)
        elif action in ("admin.user.disabled", "admin.user.enabled"):
            [(disabled,)] = stack.psql("SELECT disabled_at IS NOT NULL FROM homebot.users"
                                       " WHERE id = :'u'", u=target)
            assert disabled == ("t" if action.endswith("disabled") else "f"), (action, target)
        elif action == "admin.user.unlocked":
            [(email,)] = stack.psql("SELECT email FROM homebot.users WHERE id = :'u'", u=target)
            r = login(stack, email, "not-the-password-1")
            assert r.status == 401, (f"{email} is still locked after the unlock recipe: {r}"
                                     f"\n--- stdout\n{out.stdout}")
