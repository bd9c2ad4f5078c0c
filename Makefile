# The two set-up commands of README.md.
.PHONY: demo test build lint fuzz bench

build:
	cargo build --release

# Builds the release binary, starts a local source and target cluster under target/demo, loads a
# small sample installation and runs the real pg_migrate against them.
demo: build
	bash scripts/demo.sh

lint:
	cargo fmt --all -- --check
	cargo clippy --all-targets -- -D warnings

# Everything CI runs.
test: lint
	cargo test --lib --bins --tests
	cargo test --doc

fuzz:
	cd fuzz && cargo +nightly fuzz run conninfo -- -max_total_time=60

bench:
	cargo bench
