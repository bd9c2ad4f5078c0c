//! `--output-format legacy`: the result printed exactly as aiven-db-migrate prints it, so that
//! scripts that parse its output keep working.
//!
//! That tool prints, on stdout, an empty line, `Roles:`, one line per role, an empty line,
//! `Databases:`, one line per database and an empty line; each value is a Python `repr()`
//! (single-quoted strings with backslash escapes, `None`), and the database key really is
//! spelled `dbaname`:
//!
//! ```text
//!   rolname: 'app', rolpassword: '<hidden>', status: 'created', message: 'role created'
//!   dbaname: 'shop', method: 'dump', status: 'done', message: 'created database; ...'
//! ```
//!
//! A role without a password shows `'-'`, as that tool does since it hides passwords. When a
//! database failed it ends with [`FAILURE_LINE`] on stderr (Python's `sys.exit(message)`).
//! Messages are db-migrate's own (more detailed than that tool's).

use crate::report::MigrateResult;

/// What aiven-db-migrate writes on stderr when a database failed.
pub const FAILURE_LINE: &str = "Database migration did not succeed";

/// Python's `repr()` of a `str`: single quotes unless the text holds a single quote and no
/// double quote; backslash, the chosen quote, `\n`, `\r`, `\t` escaped; other control and
/// non-printable characters as `\xNN`, `\uNNNN` or `\UNNNNNNNN`.
pub fn python_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if (0x80..=0xa0).contains(&(c as u32)) => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            // Unicode format and separator characters Python does not print as themselves.
            c if matches!(c as u32, 0xad | 0x2028 | 0x2029 | 0x200b..=0x200f | 0xfeff) => {
                if (c as u32) < 0x100 {
                    out.push_str(&format!("\\x{:02x}", c as u32))
                } else {
                    out.push_str(&format!("\\u{:04x}", c as u32))
                }
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

fn enum_name<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// The stdout part of the legacy output.
pub fn render(result: &MigrateResult) -> String {
    let mut out = String::from("\nRoles:\n");
    for r in &result.roles {
        let pw = r
            .rolpassword
            .as_ref()
            .map(|p| p.shown().to_string())
            .unwrap_or_else(|| "-".into());
        out.push_str(&format!(
            "  rolname: {}, rolpassword: {}, status: {}, message: {}\n",
            python_repr(&r.rolname),
            python_repr(&pw),
            python_repr(&enum_name(&r.status)),
            python_repr(&r.message)
        ));
    }
    out.push_str("\nDatabases:\n");
    for d in &result.databases {
        let method = d
            .method
            .map(|m| python_repr(&enum_name(&m)))
            .unwrap_or_else(|| "None".into());
        out.push_str(&format!(
            "  dbaname: {}, method: {method}, status: {}, message: {}\n",
            python_repr(&d.dbname),
            python_repr(&enum_name(&d.status)),
            python_repr(&d.message)
        ));
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{DatabaseResult, DbStatus, Method, RolePassword, RoleResult, RoleStatus};

    #[test]
    fn strings_print_like_python_repr() {
        assert_eq!(python_repr("plain"), "'plain'");
        assert_eq!(python_repr("it's"), "\"it's\"");
        assert_eq!(python_repr("both ' and \""), "'both \\' and \"'");
        assert_eq!(python_repr("a\\b\nc\td"), "'a\\\\b\\nc\\td'");
        assert_eq!(python_repr("\u{1}"), "'\\x01'");
        assert_eq!(python_repr("ünïcode ✓"), "'ünïcode ✓'");
    }

    #[test]
    fn lines_have_the_old_tools_format() {
        let result = MigrateResult {
            roles: vec![
                RoleResult {
                    rolname: "app".into(),
                    status: RoleStatus::Created,
                    message: "role created".into(),
                    rolpassword: Some(RolePassword {
                        value: "placeholder_abc".into(),
                        reveal: false,
                        placeholder: true,
                    }),
                },
                RoleResult {
                    rolname: "postgres".into(),
                    status: RoleStatus::Exists,
                    message: "role already exists".into(),
                    rolpassword: None,
                },
            ],
            databases: vec![
                DatabaseResult::new(
                    "shop",
                    Some(Method::Dump),
                    DbStatus::Done,
                    "created database".into(),
                ),
                DatabaseResult::new("bad", None, DbStatus::Failed, "FATAL:  no\n".into()),
            ],
            ..Default::default()
        };
        assert_eq!(
            render(&result),
            "\nRoles:\n\
             \x20 rolname: 'app', rolpassword: '<hidden>', status: 'created', message: 'role created'\n\
             \x20 rolname: 'postgres', rolpassword: '-', status: 'exists', message: 'role already exists'\n\
             \nDatabases:\n\
             \x20 dbaname: 'shop', method: 'dump', status: 'done', message: 'created database'\n\
             \x20 dbaname: 'bad', method: None, status: 'failed', message: 'FATAL:  no\\n'\n\n"
        );
    }
}
