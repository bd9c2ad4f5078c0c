//! The command line's log: human text on a terminal, plain text in a pipe or file, or JSON lines
//! for log collectors (`--log-format json`).
//!
//! Colour only when standard error is a terminal and `NO_COLOR` is unset or empty
//! (<https://no-color.org>): escape codes in a container's log or a CI file are noise. tokio-postgres
//! logs every statement it prepares or runs at debug level, with the text (a `CREATE
//! SUBSCRIPTION` conninfo with the source password, a role's SCRAM verifier): its log is capped
//! at info whatever `-d`/`-v` ask for, and db-migrate logs those statements itself with the
//! secrets left out. `DB_MIGRATE_LOG` (an `EnvFilter` directive) overrides all of this, at the
//! user's own risk. The engine's messages name settings as values; the log says them as flags
//! ([`super::words`]).

use std::fmt;
use std::io::IsTerminal;

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// `--log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line: timestamp, level, message, migration_id and the event's
    /// fields (such as database).
    Json,
}

/// The filter for a verbosity: by default warnings (those the report lists are logged at info,
/// not to be printed twice: retries, stalls, a replication's schema changes are not) and the
/// progress lines (object by object it would be a log nobody reads), `-v` the steps at info, `-vv` our debug, `-vvv` everything at debug, `-d` our trace; never
/// tokio-postgres' statement log. JSON lines (`--log-format json`) are for log collectors,
/// which filter themselves: they get the steps at info by default.
pub fn filter_directives(debug: bool, verbose: u8) -> &'static str {
    if debug {
        "debug,db_migrate=trace,tokio_postgres=info"
    } else {
        // Server notices reach the log through tokio-postgres at info level; they are noise
        // in a migration report (e.g. a ROLLBACK that found nothing to roll back).
        match verbose {
            // Warnings the report lists are logged at info; the command line's own notes (a
            // flag ignored) are not in the report.
            0 => "warn,db_migrate::progress=info,db_migrate::cli=info,tokio_postgres=warn",
            1 => "info,tokio_postgres=warn",
            2 => "info,tokio_postgres=warn,db_migrate=debug",
            _ => "debug,tokio_postgres=info",
        }
    }
}

/// Whether text logs get colour: a terminal, and no `NO_COLOR`.
pub fn use_colour(stderr_is_terminal: bool, no_color: Option<&str>) -> bool {
    stderr_is_terminal && no_color.is_none_or(str::is_empty)
}

/// Installs the process's subscriber (once; later calls do nothing).
pub fn init(format: LogFormat, directives: &str, migration_id: &str) {
    let filter =
        EnvFilter::try_from_env("DB_MIGRATE_LOG").unwrap_or_else(|_| EnvFilter::new(directives));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => {
            let colour = use_colour(
                std::io::stderr().is_terminal(),
                std::env::var("NO_COLOR").ok().as_deref(),
            );
            builder
                .with_ansi(colour)
                .with_target(false)
                .fmt_fields(EscapedFields)
                .try_init()
        }
        LogFormat::Json => builder
            .event_format(JsonLines {
                migration_id: migration_id.to_owned(),
            })
            .try_init(),
    };
}

/// The text log's fields (`message` first, then `name=value`), with control and
/// bidirectional characters escaped as the report escapes them
/// ([`crate::text::escape_controls`]): a database named `new\nline` must not start a forged
/// line in the log. (JSON lines escape them themselves.)
struct EscapedFields;

impl<'w> FormatFields<'w> for EscapedFields {
    fn format_fields<R: tracing_subscriber::field::RecordFields>(
        &self,
        mut writer: Writer<'w>,
        fields: R,
    ) -> fmt::Result {
        let mut visitor = EscapingVisitor {
            writer: &mut writer,
            result: Ok(()),
            empty: true,
        };
        fields.record(&mut visitor);
        visitor.result
    }
}

struct EscapingVisitor<'a, 'w> {
    writer: &'a mut Writer<'w>,
    result: fmt::Result,
    empty: bool,
}

impl Visit for EscapingVisitor<'_, '_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let name = field.name();
        // `log` records (tokio-postgres) carry their metadata as `log.*` fields.
        if self.result.is_err() || name.starts_with("log.") {
            return;
        }
        let text = format!("{value:?}");
        let text = super::words::text(&text);
        let text = crate::text::escape_controls(&text);
        let sep = if self.empty { "" } else { " " };
        self.empty = false;
        self.result = if name == "message" {
            write!(self.writer, "{sep}{text}")
        } else {
            write!(self.writer, "{sep}{name}={text}")
        };
    }
}

/// One JSON object per event.
struct JsonLines {
    migration_id: String,
}

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        let mut fields = Fields::default();
        event.record(&mut fields);
        let mut line = serde_json::Map::new();
        line.insert("timestamp".into(), rfc3339_now().into());
        line.insert("level".into(), meta.level().as_str().into());
        line.insert("migration_id".into(), self.migration_id.clone().into());
        line.insert("target".into(), meta.target().into());
        line.insert("message".into(), fields.message.unwrap_or_default().into());
        for (key, value) in fields.others {
            line.entry(key).or_insert(value.into());
        }
        let text = serde_json::Value::Object(line).to_string();
        writeln!(writer, "{text}")
    }
}

#[derive(Default)]
struct Fields {
    message: Option<String>,
    others: Vec<(String, String)>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, value.to_owned());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.put(field, format!("{value:?}"));
    }
}

impl Fields {
    fn put(&mut self, field: &Field, value: String) {
        // `log` records (tokio-postgres) carry their metadata as `log.*` fields.
        if field.name().starts_with("log.") {
            return;
        }
        let value = super::words::text(&value).into_owned();
        if field.name() == "message" {
            self.message = Some(value);
        } else {
            self.others.push((field.name().to_owned(), value));
        }
    }
}

/// Now as `2026-12-01T19:21:26.123Z`.
fn rfc3339_now() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    rfc3339(now.as_secs(), now.subsec_millis())
}

/// UTC date and time of a Unix time (Howard Hinnant's days-to-civil).
fn rfc3339(secs: u64, millis: u32) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(use_colour(true, None));
        assert!(use_colour(true, Some("")));
        assert!(!use_colour(true, Some("1")));
        assert!(!use_colour(false, None));
    }

    #[test]
    fn tokio_postgres_statements_are_never_logged() {
        for (debug, verbose) in [
            (true, 0),
            (false, 0),
            (false, 1),
            (false, 2),
            (false, 3),
            (false, 5),
        ] {
            let d = filter_directives(debug, verbose);
            assert!(
                ["info", "warn", "error"]
                    .iter()
                    .any(|l| d.contains(&format!("tokio_postgres={l}"))),
                "{d}"
            );
        }
    }

    #[test]
    fn text_log_fields_escape_control_characters() {
        use tracing_subscriber::layer::SubscriberExt;
        #[derive(Clone, Default)]
        struct Buf(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
        impl std::io::Write for Buf {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buf = Buf::default();
        let out = buf.clone();
        let layer = tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .without_time()
            .with_target(false)
            .fmt_fields(EscapedFields)
            .with_writer(move || out.clone());
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, || {
            let name = "new\nline";
            tracing::info!(database = %name, "migrating database {name}");
        });
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        assert_eq!(
            text,
            " INFO migrating database new\\nline database=new\\nline\n"
        );
    }

    #[test]
    fn timestamps_are_utc_rfc3339() {
        assert_eq!(rfc3339(0, 0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(1_796_152_886, 5), "2026-12-01T19:21:26.005Z");
        assert_eq!(rfc3339(951_782_400, 0), "2000-02-29T00:00:00.000Z");
    }
}
