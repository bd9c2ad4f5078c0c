#!/usr/bin/env bash
# Proof that the release binary runs from a bare container image: it is copied, stripped, into
# an empty root file system holding only itself, the shared libraries `ldd` lists (with the
# dynamic loader), the system's CA bundle and the test CA, and run there with chroot, an empty
# environment and an unprivileged user id (no /etc/passwd, /etc/hosts, /tmp, /proc, /dev, HOME
# or PATH). It migrates
# between two throw-away clusters that accept only TLS connections, with sslmode=verify-full:
# the source by IP address (the certificate's IP SAN), the target by host name with
# hostaddr= (the DNS SAN, no name lookup). Then, outside the root, checks the exit code, the
# JSON report the binary wrote inside the root, and that the rows on the target equal the
# source's (psql of the harness), and that neither the log nor the report shows the password.
# Needs root (chroot; the clusters run as `postgres`), openssl, python3 and the release binary
# (`make build`). Server binaries: PG_BIN, else PostgreSQL 15 (scripts/clusters.sh).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
[ "$(id -u)" -eq 0 ] || { echo "empty-root: needs root for chroot; skipped" >&2; exit 0; }
# EMPTY_ROOT_BINARY: another build to test, e.g. target/dist/pg_migrate (`--profile dist`).
BINARY="${EMPTY_ROOT_BINARY:-$ROOT/target/release/pg_migrate}"
[ -x "$BINARY" ] || { echo "empty-root: no binary $BINARY: build the release binary first (make build)" >&2; exit 1; }
for tool in openssl python3 ldd chroot strip; do
  command -v "$tool" >/dev/null || { echo "empty-root: $tool is missing" >&2; exit 1; }
done
started=$(date +%s)

source "$ROOT/scripts/clusters.sh"
PSQL="$BIN/psql"
[ -x "$PSQL" ] || PSQL="$(command -v psql)" || { echo "empty-root: no psql next to $BIN or on PATH" >&2; exit 1; }
WORK="$ROOT/target/empty-root"
rm -rf "$WORK"
mkdir -p "$WORK/pki"
trap stop_clusters EXIT

# --- the test PKI: a CA and one server certificate for 127.0.0.1 and localhost ---------------
PKI="$WORK/pki"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=db-migrate empty-root test CA" \
  -keyout "$PKI/ca.key" -out "$PKI/ca.pem" \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
  -keyout "$PKI/server.key" -out "$PKI/server.csr" 2>/dev/null
printf '%s\n' "subjectAltName=IP:127.0.0.1,DNS:localhost" "basicConstraints=CA:FALSE" \
  "keyUsage=critical,digitalSignature,keyEncipherment" "extendedKeyUsage=serverAuth" >"$PKI/server.ext"
openssl x509 -req -in "$PKI/server.csr" -CA "$PKI/ca.pem" -CAkey "$PKI/ca.key" -CAcreateserial \
  -days 2 -extfile "$PKI/server.ext" -out "$PKI/server.pem" 2>/dev/null
chown postgres "$PKI/server.key"; chmod 0600 "$PKI/server.key"; chmod 0755 "$PKI"

# --- two clusters that refuse connections without TLS -----------------------------------------
tls=("ssl = on" "ssl_cert_file = '$PKI/server.pem'" "ssl_key_file = '$PKI/server.key'")
start_cluster source "$WORK/clusters/source" "${tls[@]}"
start_cluster target "$WORK/clusters/target" "${tls[@]}"
SOCK="$WORK/clusters"
for dir in "$WORK/clusters/source" "$WORK/clusters/target"; do
  { echo "hostnossl all all all reject"; cat "$dir/pg_hba.conf"; } >"$dir/pg_hba.new"
  chown postgres "$dir/pg_hba.new"; mv "$dir/pg_hba.new" "$dir/pg_hba.conf"
  as_pg "$BIN/pg_ctl" -D "$dir" reload >/dev/null
done
# psql of the harness, through the clusters' Unix socket (outside the root).
q() { PGPASSWORD="$SUPERUSER_PW" "$PSQL" -X -q -At -h "$SOCK" -p "$1" -U postgres -d "$2" -v ON_ERROR_STOP=1 -c "$3"; }

q "$PORT_source" postgres "CREATE DATABASE app"
q "$PORT_source" app "
  CREATE TABLE public.orders (id bigserial PRIMARY KEY, customer text NOT NULL, total numeric(12,2),
                              placed timestamptz NOT NULL DEFAULT '2026-01-01 00:00+00');
  INSERT INTO public.orders (customer, total, placed)
    SELECT 'customer ' || g, g * 1.25, timestamptz '2026-01-01 00:00+00' + g * interval '1 minute'
      FROM generate_series(1, 5000) g;
  CREATE INDEX orders_customer ON public.orders (customer);"

# --- the empty root ---------------------------------------------------------------------------
R="$WORK/root"
mkdir -p "$R/out" "$R/etc/ssl/certs" "$R/certs"
# Stripped like the shipped binary (`--profile dist`, the Containerfile's), without a second build.
strip -o "$R/pg_migrate" "$BINARY"
# `name => /path (addr)` lines, and the loader's own `/path (addr)` line; not linux-vdso.
libs=$(ldd "$BINARY" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }')
grep -q '/ld-' <<<"$libs" || { echo "empty-root: ldd listed no dynamic loader for $BINARY: $libs" >&2; exit 1; }
for lib in $libs; do
  mkdir -p "$R$(dirname "$lib")"
  cp -L "$lib" "$R$lib"
done
[ -f /etc/ssl/certs/ca-certificates.crt ] || { echo "empty-root: no CA bundle /etc/ssl/certs/ca-certificates.crt (install ca-certificates)" >&2; exit 1; }
cp /etc/ssl/certs/ca-certificates.crt "$R/etc/ssl/certs/"
# Outside /etc/ssl/certs: the system trust store (sslrootcert=system) must not hold it.
cp "$PKI/ca.pem" "$R/certs/test-ca.pem"
chmod 0777 "$R/out"
echo "empty-root: $(find "$R" -type f | wc -l) files in the root:"
(cd "$R" && find . -type f | sort | sed 's/^\./  /')

CA=/certs/test-ca.pem
SRC="postgres://postgres:$SUPERUSER_PW@127.0.0.1:$PORT_source/postgres?sslmode=verify-full&sslrootcert=$CA"
TGT="host=localhost hostaddr=127.0.0.1 port=$PORT_target user=postgres password=$SUPERUSER_PW dbname=postgres sslmode=verify-full sslrootcert=$CA"

# As an unnamed unprivileged user, like the image's `nonroot` (65532), with no /etc/passwd entry.
CHROOT=("$(command -v chroot)" --userspec=65532:65532)

# --- verification is real: the system's roots (the bundle in the root) do not know the test CA --
set +e
env -i "${CHROOT[@]}" "$R" /pg_migrate -s "${SRC%%&*}&sslrootcert=system" -t "$TGT" --validate >"$WORK/untrusted.log" 2>&1
rc=$?
set -e
if [ "$rc" -eq 0 ] || ! grep -q 'invalid peer certificate: UnknownIssuer' "$WORK/untrusted.log"; then
  cat "$WORK/untrusted.log" >&2
  echo "empty-root: with sslrootcert=system (the root's CA bundle, without the test CA) the source's certificate was not refused as unknown (exit $rc)" >&2
  exit 1
fi

# --- the migration, inside the root with an empty environment ---------------------------------
# The dump method: a subscription would make the target server (outside the root) read the
# sslrootcert path of the source conninfo, which exists only inside the root.
set +e
env -i "${CHROOT[@]}" "$R" /pg_migrate -s "$SRC" -t "$TGT" --force-method dump --verify --json /out/result.json >"$WORK/run.log" 2>&1
rc=$?
set -e
if [ "$rc" -ne 0 ]; then
  cat "$WORK/run.log" >&2
  echo "empty-root: pg_migrate exited with $rc inside the empty root" >&2
  exit 1
fi

# --- checks, outside the root -----------------------------------------------------------------
python3 - "$R/out/result.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
dbs = {d["dbname"]: d for d in r["databases"]}
if "app" not in dbs:
    sys.exit(f"empty-root: the report has no database app: {sorted(dbs)}")
bad = [n for n, d in dbs.items() if d["status"] != "done" or d.get("method") != "dump"]
if bad:
    sys.exit(f"empty-root: databases not done by the dump method: {bad}")
if (dbs["app"].get("verify") or {}).get("status") != "equal":
    sys.exit(f"empty-root: verification of app did not find equal: {dbs['app'].get('verify')}")
PY
for f in "$WORK/run.log" "$R/out/result.json"; do
  if grep -qF "$SUPERUSER_PW" "$f"; then echo "empty-root: $f shows the password" >&2; exit 1; fi
done
rows="SELECT count(*) || ' ' || md5(string_agg(o::text, ',' ORDER BY id)) FROM public.orders o"
want="$(q "$PORT_source" app "$rows")"
got="$(q "$PORT_target" app "$rows")"
[ "$want" = "$got" ] || { echo "empty-root: public.orders differs: source $want, target $got" >&2; exit 1; }
seq="SELECT last_value FROM public.orders_id_seq"
[ "$(q "$PORT_source" app "$seq")" = "$(q "$PORT_target" app "$seq")" ] \
  || { echo "empty-root: the sequence public.orders_id_seq differs" >&2; exit 1; }
size=$(stat -c %s "$R/pg_migrate")
echo "empty-root: migrated app (public.orders: ${got%% *} rows, equal) inside an empty root with sslmode=verify-full;" \
  "stripped binary $size bytes ($((size / 1024 / 1024)) MiB); $(($(date +%s) - started)) s"
