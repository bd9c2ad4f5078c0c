//! `db-migrate <command>`: `pg` is the only command (`db-migrate pg ...` = `pg_migrate ...`).
fn main() {
    std::process::exit(db_migrate::cli::run_db_migrate(
        std::env::args().skip(1).collect(),
    ));
}
