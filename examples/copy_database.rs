//! Runs the data engine alone, for `scripts/bench` until the CLI drives it end to end.
//!
//! ```text
//! cargo run --release --example copy_database -- SOURCE_URI TARGET_URI DBNAME [JOBS]
//! ```
//!
//! The target database must already hold the pre-data schema (tables, sequences, types). The
//! post-data work the schema engine would hand over is built here from the source catalog:
//! for each table, its indexes (`CREATE [UNIQUE] INDEX`, in parallel) then its primary-key and
//! unique constraints attached with `ADD CONSTRAINT ... USING INDEX`; foreign keys at the end.
//! Prints the copy report as JSON.

use db_migrate::conn::{ConnInfo, connect};
use db_migrate::copy::{CopyOptions, PostDataJob, PostDataPlan, ProgressMode, copy_database};
use db_migrate::sql::{qualified, quote_ident};

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info".into()),
        )
        .init();
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        eprintln!("usage: copy_database SOURCE_URI TARGET_URI DBNAME [JOBS]");
        std::process::exit(2);
    }
    let source = ConnInfo::parse(&args[1]).expect("source conninfo");
    let target = ConnInfo::parse(&args[2]).expect("target conninfo");
    let db = &args[3];
    let mut opts = CopyOptions {
        progress: ProgressMode::Auto,
        ..Default::default()
    };
    if let Some(j) = args.get(4) {
        opts.jobs = j.parse().expect("JOBS is a number");
    }
    let post = post_data_plan(&source, db).await;
    let cancel = opts.cancel.clone();
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        cancel.cancel();
    });
    match copy_database(&source, &target, db, db, &opts, None, post).await {
        Ok(report) => println!("{}", serde_json::to_string_pretty(&report).unwrap()),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}

async fn post_data_plan(source: &ConnInfo, db: &str) -> PostDataPlan {
    let s = connect(source, Some(db)).await.expect("connect to the source");
    let mut plan = PostDataPlan::default();
    // Indexes (constraint-backed ones as plain unique indexes), then the constraints using them.
    let rows = s
        .query(
            "SELECT n.nspname::text, t.relname::text, i.relname::text,
                    pg_catalog.pg_get_indexdef(i.oid), c.conname::text, c.contype::text
               FROM pg_catalog.pg_index x
               JOIN pg_catalog.pg_class i ON i.oid = x.indexrelid
               JOIN pg_catalog.pg_class t ON t.oid = x.indrelid
               JOIN pg_catalog.pg_namespace n ON n.oid = t.relnamespace
               LEFT JOIN pg_catalog.pg_constraint c ON c.conindid = i.oid AND c.contype IN ('p', 'u')
              WHERE n.nspname <> 'information_schema' AND n.nspname !~ '^pg_' AND t.relkind = 'r'
              ORDER BY 1, 2, 3",
            &[],
        )
        .await
        .expect("read indexes");
    for r in rows {
        let (schema, table, index): (String, String, String) = (r.get(0), r.get(1), r.get(2));
        let def: String = r.get(3);
        let jobs = plan.by_table.entry((schema.clone(), table.clone())).or_default();
        jobs.push(PostDataJob {
            describe: format!("index {}", qualified(&schema, &index)),
            statements: vec![def],
        });
        if let (Some(con), Some(kind)) = (r.get::<_, Option<String>>(4), r.get::<_, Option<String>>(5)) {
            let what = if kind == "p" { "PRIMARY KEY" } else { "UNIQUE" };
            jobs.push(PostDataJob {
                describe: format!("constraint {con} on {}", qualified(&schema, &table)),
                statements: vec![format!(
                    "ALTER TABLE ONLY {} ADD CONSTRAINT {} {what} USING INDEX {}",
                    qualified(&schema, &table),
                    quote_ident(&con),
                    quote_ident(&index)
                )],
            });
        }
    }
    let fks = s
        .query(
            "SELECT n.nspname::text, t.relname::text, c.conname::text, pg_catalog.pg_get_constraintdef(c.oid)
               FROM pg_catalog.pg_constraint c
               JOIN pg_catalog.pg_class t ON t.oid = c.conrelid
               JOIN pg_catalog.pg_namespace n ON n.oid = t.relnamespace
              WHERE c.contype = 'f' AND n.nspname <> 'information_schema' AND n.nspname !~ '^pg_'",
            &[],
        )
        .await
        .expect("read foreign keys");
    for r in fks {
        let (schema, table, con, def): (String, String, String, String) =
            (r.get(0), r.get(1), r.get(2), r.get(3));
        plan.rest.push(PostDataJob {
            describe: format!("constraint {con}"),
            statements: vec![format!(
                "ALTER TABLE ONLY {} ADD CONSTRAINT {} {def}",
                qualified(&schema, &table),
                quote_ident(&con)
            )],
        });
    }
    plan
}
