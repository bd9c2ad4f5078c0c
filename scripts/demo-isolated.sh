#!/usr/bin/env bash
# Proof that `make demo` needs no system PostgreSQL: runs scripts/demo.sh in a private mount
# namespace where the distribution's PostgreSQL (/usr/lib/postgresql, and psql through
# /usr/share/postgresql-common) and the checkout's .pg/ are hidden under empty tmpfs mounts, so
# the demo must fetch its own build. Then checks the exit code and that every database is done.
# Needs root (mount namespaces) and the release binary (`make build`).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
[ "$(id -u)" -eq 0 ] || { echo "demo-isolated: needs root for a mount namespace; skipped" >&2; exit 0; }
[ -x "$ROOT/target/release/pg_migrate" ] || { echo "demo-isolated: build the release binary first (make build)" >&2; exit 1; }
rm -f "$ROOT/target/demo/result.json" "$ROOT/target/demo/resumed.json"
unshare --mount --propagation private bash -euo pipefail -c '
  ROOT="$1"
  for d in /usr/lib/postgresql /usr/share/postgresql-common "$ROOT/.pg"; do
    mkdir -p "$d"; mount -t tmpfs -o mode=0755 none "$d"
  done
  if command -v psql >/dev/null 2>&1; then echo "demo-isolated: psql still visible at $(command -v psql)" >&2; exit 1; fi
  bash "$ROOT/scripts/demo.sh"
' demo-isolated "$ROOT"
python3 - "$ROOT/target/demo/result.json" "$ROOT/target/demo/resumed.json" <<'PY'
import json, sys
for path in sys.argv[1:]:
    r = json.load(open(path))
    bad = [d["dbname"] for d in r["databases"] if d["status"] != "done"]
    if bad or not r["databases"]:
        sys.exit(f"demo-isolated: {path}: databases not done: {bad or 'none migrated'}")
    unequal = [d["dbname"] for d in r["databases"] if (d.get("verify") or {}).get("status") != "equal"]
    if unequal:
        sys.exit(f"demo-isolated: {path}: verification did not find equal: {unequal}")
    print(f"demo-isolated: {path}: {len(r['databases'])} databases done and verified, without a system PostgreSQL")
PY
