//! `pg_migrate ...`: exactly `db-migrate pg ...`.
fn main() {
    std::process::exit(db_migrate::cli::run_pg(std::env::args().skip(1).collect()));
}
