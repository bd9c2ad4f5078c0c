//! Fuzzes the selection flags' pattern parser (`db_migrate::selection::pattern`).
//!
//! Properties, for any UTF-8 input (the first line is a flag's value, the second a catalog
//! name to match it against):
//! - parsing a value (`parse_list`, and `Selection::parse` with it in every flag) never
//!   panics, and an error names the flag it came from, so the user knows which one to fix;
//! - a parsed pattern has between 1 and the flag's number of parts;
//! - each part written back in pattern syntax (`Display`) parses to the same part, so the
//!   patterns messages print are ones the user can paste back;
//! - matching never panics, `*` matches every name, and a name written as a quoted pattern
//!   matches exactly that name (quoting makes everything literal).
#![no_main]

use db_migrate::Setting;
use db_migrate::selection::Selection;
use db_migrate::selection::pattern::{parse_list, parse_one};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (value, name) = text.split_once('\n').unwrap_or((text, ""));

    for (flag, max_parts) in [(Setting::WithTable, 3), (Setting::Schema, 2)] {
        match parse_list(flag, value, max_parts) {
            Ok(patterns) => {
                assert!(!patterns.is_empty());
                for p in &patterns {
                    assert!((1..=max_parts).contains(&p.parts.len()), "{p:?}");
                    let written: Vec<String> = p.parts.iter().map(|g| g.to_string()).collect();
                    let again = parse_one(flag, &written.join("."), max_parts)
                        .unwrap_or_else(|e| panic!("{written:?} of {p:?} does not parse: {e}"));
                    assert_eq!(again.parts, p.parts, "{written:?}");
                    let _ = p.matches_table(name, name, name);
                    let _ = p.matches_schema(name, name);
                }
            }
            Err(e) => assert!(e.to_string().contains(&flag.to_string()), "{e}"),
        }
    }

    let one = vec![value.to_string()];
    let none: Vec<String> = Vec::new();
    if let Err(e) = Selection::parse(&none, &one, &one, &one, &one) {
        let msg = e.to_string();
        assert!(
            [
                Setting::SkipTable,
                Setting::Schema,
                Setting::ExcludeSchema,
                Setting::ExcludeTableData
            ]
            .iter()
            .any(|f| msg.contains(&f.to_string())),
            "{msg}"
        );
    }
    assert!(Selection::parse(&one, &one, &none, &none, &none).is_err());

    let any = parse_one(Setting::WithTable, "*", 3).expect("* is a pattern");
    assert!(any.matches_table(name, name, name));
    let quoted = format!("\"{}\"", name.replace('"', "\"\""));
    let exact = parse_one(Setting::WithTable, &quoted, 3).expect("a quoted name is a pattern");
    assert!(exact.name().is_literal());
    assert!(exact.matches_table("db", "schema", name));
    assert!(!exact.matches_table("db", "schema", &format!("{name}x")));
});
