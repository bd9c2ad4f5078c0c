//! The column and enum changes of [`super`], as statements and as when they may go.

use super::*;

fn col(name: &str, ty: &str) -> ColumnShape {
    ColumnShape {
        name: name.into(),
        type_sql: ty.into(),
        collation: None,
        not_null: false,
        default: None,
        generated: false,
        missing: None,
    }
}

fn table(cols: Vec<ColumnShape>) -> TableColumns {
    TableColumns {
        regclass: "public.t".into(),
        schema: "public".into(),
        name: "t".into(),
        is_child: false,
        columns: cols,
    }
}

#[test]
fn a_column_whose_older_rows_read_a_value_of_their_own_is_added_with_it() {
    let mut added = col("added_at", "timestamp with time zone");
    added.default = Some("now()".into());
    added.missing = Some("2026-12-08 01:00:00+00".into());
    let src = table(vec![col("id", "integer"), added]);
    let tgt = table(vec![col("id", "integer")]);
    let sql: Vec<String> = column_changes(&src, &tgt)
        .into_iter()
        .map(|c| c.sql)
        .collect();
    assert_eq!(
        sql,
        vec![
            "ALTER TABLE \"public\".\"t\" ADD COLUMN \"added_at\" timestamp with time zone \
             DEFAULT '2026-12-08 01:00:00+00'::timestamp with time zone"
        ]
    );
    // Its own default, once the rows from before are in.
    let mut on_target = col("added_at", "timestamp with time zone");
    on_target.default = Some("'2026-12-08 01:00:00+00'::timestamp with time zone".into());
    let tgt = table(vec![col("id", "integer"), on_target]);
    let changes = column_changes(&src, &tgt);
    assert_eq!(changes.len(), 1);
    assert_eq!(
        changes[0].sql,
        "ALTER TABLE \"public\".\"t\" ALTER COLUMN \"added_at\" SET DEFAULT now()"
    );
    assert_eq!(changes[0].when, When::InSync);
    // Still held back once a later rewrite of the source's table cleared its value for the
    // older rows there.
    let mut rewritten = col("added_at", "timestamp with time zone");
    rewritten.default = Some("now()".into());
    let src = table(vec![col("id", "integer"), rewritten]);
    let changes = column_changes(&src, &tgt);
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].when, When::InSync);
}

fn sql(changes: Vec<Change>) -> Vec<String> {
    changes.into_iter().map(|c| c.sql).collect()
}

#[test]
fn an_added_column_comes_with_its_default_and_not_null() {
    let mut w = col("w", "integer");
    w.default = Some("7".into());
    w.not_null = true;
    let src = table(vec![col("id", "integer"), w]);
    let tgt = table(vec![col("id", "integer")]);
    assert_eq!(
        sql(column_changes(&src, &tgt)),
        vec!["ALTER TABLE \"public\".\"t\" ADD COLUMN \"w\" integer DEFAULT 7 NOT NULL"]
    );
}

#[test]
fn one_column_gone_and_one_new_of_its_type_is_a_rename_others_are_drop_and_add() {
    let src = table(vec![col("id", "integer"), col("new name", "text")]);
    let tgt = table(vec![col("id", "integer"), col("old", "text")]);
    assert_eq!(
        sql(column_changes(&src, &tgt)),
        vec!["ALTER TABLE \"public\".\"t\" RENAME COLUMN \"old\" TO \"new name\""]
    );
    let src = table(vec![col("id", "integer"), col("n", "bigint")]);
    let tgt = table(vec![col("id", "integer"), col("old", "text")]);
    assert_eq!(
        sql(column_changes(&src, &tgt)),
        vec![
            "ALTER TABLE \"public\".\"t\" DROP COLUMN \"old\"",
            "ALTER TABLE \"public\".\"t\" ADD COLUMN \"n\" bigint",
        ]
    );
}

#[test]
fn a_new_name_before_a_common_column_is_a_rename_even_with_other_changes() {
    // v renamed to label and retyped, old dropped, w added: seen together by the cut-over.
    let src = table(vec![
        col("id", "integer"),
        col("label", "character varying(20)"),
        col("n", "bigint"),
        col("w", "integer"),
    ]);
    let tgt = table(vec![
        col("id", "integer"),
        col("v", "text"),
        col("n", "integer"),
        col("old", "text"),
    ]);
    assert_eq!(
        sql(column_changes(&src, &tgt)),
        vec![
            "ALTER TABLE \"public\".\"t\" RENAME COLUMN \"v\" TO \"label\"",
            "ALTER TABLE \"public\".\"t\" ALTER COLUMN \"label\" TYPE character varying(20) USING \"label\"::character varying(20)",
            "ALTER TABLE \"public\".\"t\" DROP COLUMN \"old\"",
            "ALTER TABLE \"public\".\"t\" ADD COLUMN \"w\" integer",
            "ALTER TABLE \"public\".\"t\" ALTER COLUMN \"n\" TYPE bigint USING \"n\"::bigint",
        ]
    );
}

#[test]
fn enum_values_the_target_lacks_are_added_in_their_place() {
    let labels = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let sql: Vec<String> = enum_changes(
        "public.mood",
        &labels(&["first", "calm", "new's", "glad"]),
        &labels(&["calm", "glad"]),
    )
    .into_iter()
    .map(|c| c.sql)
    .collect();
    assert_eq!(
        sql,
        vec![
            "ALTER TYPE public.mood ADD VALUE IF NOT EXISTS 'first' BEFORE 'calm'",
            "ALTER TYPE public.mood ADD VALUE IF NOT EXISTS 'new''s' AFTER 'calm'",
        ]
    );
}

#[test]
fn widening_type_changes_go_at_once_others_wait_for_the_rows_before_them() {
    for (from, to) in [
        ("integer", "bigint"),
        ("smallint", "numeric"),
        ("character varying(10)", "character varying(20)"),
        ("character varying(10)", "text"),
        ("character varying(10)", "character varying"),
        ("real", "double precision"),
    ] {
        assert!(widens(from, to), "{from} -> {to}");
    }
    for (from, to) in [
        ("bigint", "integer"),
        ("text", "character varying(20)"),
        ("character varying(20)", "character varying(10)"),
        ("text", "integer"),
        ("numeric", "numeric(10,2)"),
    ] {
        assert!(!widens(from, to), "{from} -> {to}");
    }
    let src = table(vec![col("v", "character varying(20)")]);
    let tgt = table(vec![col("v", "text")]);
    assert_eq!(column_changes(&src, &tgt)[0].when, When::WhenStuck);
}

#[test]
fn a_dropped_not_null_column_is_made_nullable_at_once_and_dropped_later() {
    let mut old = col("old", "integer");
    old.not_null = true;
    let src = table(vec![col("id", "integer")]);
    let tgt = table(vec![col("id", "integer"), old]);
    let changes = column_changes(&src, &tgt);
    let got: Vec<(&str, When)> = changes.iter().map(|c| (c.sql.as_str(), c.when)).collect();
    assert_eq!(
        got,
        vec![
            (
                "ALTER TABLE \"public\".\"t\" ALTER COLUMN \"old\" DROP NOT NULL",
                When::Now
            ),
            (
                "ALTER TABLE \"public\".\"t\" DROP COLUMN \"old\"",
                When::InSync
            ),
        ]
    );
}

#[test]
fn type_default_and_nullability_follow_the_source() {
    let mut s = col("v", "bigint");
    s.default = Some("0".into());
    s.not_null = true;
    let src = table(vec![s]);
    let mut t = col("v", "integer");
    t.default = Some("1".into());
    let tgt = table(vec![t]);
    assert_eq!(
        sql(column_changes(&src, &tgt)),
        vec![
            "ALTER TABLE \"public\".\"t\" ALTER COLUMN \"v\" TYPE bigint USING \"v\"::bigint",
            "ALTER TABLE \"public\".\"t\" ALTER COLUMN \"v\" SET DEFAULT 0",
            "ALTER TABLE \"public\".\"t\" ALTER COLUMN \"v\" SET NOT NULL",
        ]
    );
    assert!(column_changes(&src, &src).is_empty());
}

#[test]
fn a_change_held_back_waits_for_the_position_read_after_the_latest_change_of_its_object() {
    let pending: BTreeSet<String> = ["table public.t", "table public.u", "table public.v"]
        .map(String::from)
        .into();
    let at = |lsn: &str, read_at: f64| Position {
        lsn: lsn.into(),
        read_at,
    };
    let placed = BTreeMap::from([
        ("table public.t".to_string(), at("0/10", 100.0)),
        ("table public.u".to_string(), at("0/10", 100.0)),
    ]);
    let seen = BTreeMap::from([
        // Changed again after its position was read: read it again.
        ("table public.t".to_string(), 105.0),
        // Its latest change came before its position: the position holds.
        ("table public.u".to_string(), 99.0),
        // Held back for the first time.
        ("table public.v".to_string(), 105.0),
    ]);
    assert_eq!(
        unplaced(&pending, &placed, &seen),
        ["table public.t", "table public.v"]
    );
}
