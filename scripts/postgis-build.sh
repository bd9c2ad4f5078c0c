#!/usr/bin/env bash
# Builds PostGIS into a whole PostgreSQL build of another major (.pg/<major>-full, default 18),
# so that tests/extensions.rs can migrate PostGIS from Debian's PostgreSQL 15 into a newer major
# (the cross-version pass of `make test`). Debian bookworm packages PostGIS for its PostgreSQL 15
# alone, and its PostGIS 3.3 does not build for 16+.
#
#   scripts/postgis-build.sh [MAJOR]     build if missing, print the build's directory
#
# How:
#   - the build dependencies from bookworm (libgeos-dev, libproj-dev, libjson-c-dev,
#     libxml2-dev, pkg-config; installing them needs root);
#   - the source: the newest `postgis` source package of Debian's newer suites (trixie, sid)
#     whose upstream version supports MAJOR (3.4 for 16, 3.5 for 17, 3.6 for 18), read through
#     a private apt state in target/postgis-build (the system's sources are left alone); only
#     its upstream tarball is fetched, from the pool, and checked against the sha256 the
#     package lists;
#   - core PostGIS only (no raster, topology, SFCGAL or protobuf), a pgxs build with that
#     major's pg_config, `make install` into .pg/<major>-full (about 30 s on 2 cores). Versions
#     are tried newest first until one builds.
# Without what it needs it says why and exits 3; the test then says SKIPPED for that target.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MAJOR="${1:-18}"
FULL="$ROOT/.pg/$MAJOR-full"
PG_CONFIG="$FULL/bin/pg_config"
WORK="$ROOT/target/postgis-build"
MIRROR="http://deb.debian.org/debian"

say() { echo "postgis-build: $*" >&2; }
cannot() { say "CANNOT BUILD POSTGIS FOR POSTGRESQL $MAJOR: $*"; exit 3; }
is_root() { [ "$(id -u)" = 0 ]; }

case "$MAJOR" in
  16) min=3.4 ;; 17) min=3.5 ;; 18) min=3.6 ;;
  *) cannot "no known PostGIS range for major $MAJOR (16, 17 or 18)" ;;
esac
[ -x "$PG_CONFIG" ] || cannot "no $FULL (scripts/install-postgres.sh $MAJOR)"
if [ -f "$FULL/share/extension/postgis.control" ] && [ -f "$FULL/lib/postgis-3.so" ]; then
  echo "$FULL"
  exit 0
fi

# --- build dependencies (bookworm) ---
need=()
for p in libgeos-dev libproj-dev libjson-c-dev libxml2-dev pkg-config make gcc g++ xz-utils curl; do
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  is_root || cannot "missing ${need[*]} and installing them needs root"
  say "installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null 2>&1 \
    || { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null; } \
    || cannot "apt-get install ${need[*]} failed"
fi

# --- the source packages of the newer suites, through a private apt state ---
apt_dir="$WORK/apt"
mkdir -p "$apt_dir/lists/partial" "$apt_dir/archives/partial"
cat > "$apt_dir/sources.list" <<EOF
deb-src $MIRROR trixie main
deb-src $MIRROR sid main
EOF
apt_opts=(-o "Dir::Etc::SourceList=$apt_dir/sources.list" -o "Dir::Etc::SourceParts=/dev/null"
  -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir")
apt-get "${apt_opts[@]}" update -qq >/dev/null 2>&1 || cannot "cannot read Debian's trixie/sid source lists"
records="$(apt-cache "${apt_opts[@]}" showsrc postgis 2>/dev/null)" || cannot "no postgis source package in trixie or sid"

# "version sha256 directory/file" of each record's upstream tarball, newest first.
candidates="$(awk -v RS= '
  {
    version = ""; dir = ""; sha = ""; file = ""; in_sha = 0
    n = split($0, lines, "\n")
    for (i = 1; i <= n; i++) {
      l = lines[i]
      if (l ~ /^Version: /) version = substr(l, 10)
      else if (l ~ /^Directory: /) dir = substr(l, 12)
      else if (l ~ /^Checksums-Sha256:/) in_sha = 1
      else if (l ~ /^[^ ]/) in_sha = 0
      else if (in_sha && l ~ /orig\.tar\./) { split(l, f, " "); sha = f[1]; file = f[3] }
    }
    if (version != "" && file != "") print version, sha, dir "/" file
  }' <<<"$records" | sort -u -V -r -k1,1)"
[ -n "$candidates" ] || cannot "the postgis source records name no upstream tarball"

srcs="$WORK"
while read -r version sha path; do
  upstream="${version%%+*}"; upstream="${upstream%%-*}"
  # Supports MAJOR from $min on.
  [ "$(printf '%s\n%s\n' "$min" "$upstream" | sort -V | head -1)" = "$min" ] || continue
  say "PostGIS $upstream (Debian $version) for PostgreSQL $MAJOR"
  src="$srcs/src-$upstream"; rm -rf "$src"; mkdir -p "$src"
  tarball="$src/$(basename "$path")"
  curl -fsS -o "$tarball" "$MIRROR/$path" || { say "cannot fetch $MIRROR/$path"; continue; }
  echo "$sha  $tarball" | sha256sum -c --quiet - || { say "sha256 mismatch for $path"; continue; }
  tar -C "$src" -xf "$tarball"
  dir="$(find "$src" -mindepth 1 -maxdepth 1 -type d -name 'postgis-*' | head -1)"
  [ -n "$dir" ] || { say "no postgis-* directory in $tarball"; continue; }
  if (cd "$dir" \
      && ./configure --with-pgconfig="$PG_CONFIG" --without-raster --without-topology \
           --without-protobuf --without-sfcgal >"$src/configure.log" 2>&1 \
      && { make -j"$(nproc)" with_llvm=no >"$src/make.log" 2>&1 \
           || { # 3.6's topology rules race under -j (an empty topology.sql that is then
                # "up to date"): drop the empty outputs and finish serially.
                find . -name '*.sql' -size 0 -delete
                make with_llvm=no >>"$src/make.log" 2>&1; }; } \
      && make install with_llvm=no >"$src/install.log" 2>&1); then
    rm -rf "$src"
    say "installed PostGIS $upstream into $FULL"
    echo "$FULL"
    exit 0
  fi
  say "PostGIS $upstream does not build here (see $src/*.log); trying an older one"
done <<<"$candidates"
cannot "no PostGIS source of trixie or sid from $min on builds here"
