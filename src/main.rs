//! `db-migrate <command>`: `pg` (`db-migrate pg ...` = `pg_migrate ...`) or `status`.
fn main() {
    std::process::exit(db_migrate::cli::run_db_migrate(
        std::env::args().skip(1).collect(),
    ));
}
