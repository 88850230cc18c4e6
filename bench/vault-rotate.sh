#!/usr/bin/env bash
# The master-key rotation's figure, on a database of its own (the bench
# stacks' data keys are their programs'; BENCH_VAULT_DIR names the
# directory, by default a new one under /tmp): BENCH_VAULT_ORGS (10,000)
# organizations,
# each with a data key wrapped by an old master key (lib/vault.h's format,
# made here with python3-cryptography), re-wrapped by homebot-vault-rotate
# (make vault-rotate's program) as the homebot_worker role; then the second
# run, which has nothing to do. Prints table rows like run.sh's.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
T=${BENCH_VAULT_DIR:-$(mktemp -d /tmp/homebot-bench-vault.XXXXXX)}
mkdir -p "$T"
chmod 0755 "$T"
cleanup() {
	"$ROOT/scripts/stack.sh" stop "$T" >/dev/null 2>&1 || true
	[ -n "${BENCH_KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT
"$ROOT/scripts/stack.sh" db "$T" >/dev/null
N=${BENCH_VAULT_ORGS:-10000}
BUILD=${BUILD:-build}
OWNER="host=$T/pg user=postgres dbname=homebot"
q() { psql -X -q -A -t "$OWNER" -c "$1"; }
# shellcheck source=bench/common.sh
. "$(dirname "$0")/common.sh"

OLD="bench-old:$(openssl rand -base64 32)"
NEW="bench-new:$(openssl rand -base64 32)"
CONF=$T/vault-rotate.env
(umask 077 && printf 'SECRET_KEY=%s\nVAULT_MASTER_KEY=%s\nVAULT_OLD_KEYS=%s\n' \
    "$(head -c 48 /dev/urandom | base64 | tr -d '\n/+=')" "$NEW" "$OLD" >"$CONF")

log "vault: $N organizations with a data key under an old master key"
q "INSERT INTO homebot.organizations (name, slug)
   SELECT 'Bench vault ' || i, 'bench-vault-' || i FROM generate_series(1, $N) AS i" >/dev/null
q "SELECT id FROM homebot.organizations WHERE slug LIKE 'bench-vault-%'" |
    OLD=$OLD /usr/bin/python3 -c '
import base64, os, sys
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
kid, _, b64 = os.environ["OLD"].partition(":")
gcm = AESGCM(base64.b64decode(b64))
header = bytes([1, len(kid)]) + kid.encode()
for org in sys.stdin.read().split():
    nonce = os.urandom(12)
    aad = b"homebot-vault-dk\0" + header + bytes([len(org)]) + org.encode()
    sealed = gcm.encrypt(nonce, os.urandom(32), aad)
    print(org + "\t\\\\x" + (header + nonce + sealed).hex())
' | psql -X -q "$OWNER" -c "COPY homebot.vault_data_keys (organization_id, wrapped) FROM STDIN"
q "VACUUM ANALYZE homebot.vault_data_keys" >/dev/null

rotate() {
	local t0 t1 out
	t0=$(date +%s.%N)
	out=$(HOMEBOT_CONFIG=$CONF DATABASE_URL="host=$T/pg user=homebot_worker dbname=homebot" \
	    "$BUILD/bin/homebot-vault-rotate")
	t1=$(date +%s.%N)
	log "$out"
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }'
}
first=$(rotate)
second=$(rotate)
left=$(q "SELECT homebot.vault_rotate_pending('bench-new')")
rate=$(awk -v n="$N" -v s="$first" 'BEGIN { printf "%.0f", n / s }')
row "make vault-rotate, $N organizations (batches of 200)" "$first s ($rate keys/s), $left left" ""
row "make vault-rotate again (nothing to re-wrap)" "$second s" ""
