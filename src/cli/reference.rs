//! The reference generated from the clap definitions, so that it cannot drift from them:
//! `docs/reference/flags.md` (rendered here by walking [`clap::Command::get_arguments`]) and the
//! man page `pg_migrate.1` (clap_mangen).
//!
//! `make docs` runs the hidden `db-migrate docs --flags FILE --man DIR`; a unit test fails when
//! the committed `docs/reference/flags.md` differs from what [`flags_markdown`] renders.

use std::fmt::Write as _;
use std::path::Path;

use clap::{Arg, Command, CommandFactory};

use super::args::{PgArgs, StatusArgs};

/// Where the flag reference lives, relative to the repository root.
pub const FLAGS_MD: &str = "docs/reference/flags.md";

/// `pg_migrate`'s clap command, built (value names and help/version flags filled in).
pub fn pg_command() -> Command {
    let mut cmd = PgArgs::command();
    cmd.build();
    cmd
}

/// `db-migrate status`'s clap command, built.
pub fn status_command() -> Command {
    let mut cmd = StatusArgs::command();
    cmd.build();
    cmd
}

/// The Markdown flag reference of `pg_migrate` and `db-migrate status`.
pub fn flags_markdown() -> String {
    let mut out = String::new();
    out.push_str(
        "# Flags\n\n\
         <!-- Generated from src/cli/args.rs by `make docs`; do not edit by hand. -->\n\n\
         This page is rendered from the command line's own definitions (`make docs`), so it is \
         what `--help` says, grouped by the same headings. The guides explain the flags in \
         context: see [the table of contents](../README.md).\n\n",
    );
    out.push_str("## pg_migrate\n\n");
    out.push_str(
        "`pg_migrate [flags]`, the same as `db-migrate pg [flags]`. The Python tool's two-letter \
         short flags `-xr` and `-xe` are accepted for `--excluded-roles` and \
         `--excluded-extensions`.\n\n",
    );
    render_command(&mut out, &pg_command());
    out.push_str("## db-migrate status\n\n");
    out.push_str(
        "`db-migrate status [flags]`, the same as `pg_migrate --status [flags]`: what the \
         migrations recorded on a target are doing, read without writing anything.\n\n",
    );
    render_command(&mut out, &status_command());
    out
}

/// One command's flags, a table per help heading in the order `--help` shows them (that of
/// their first flag), then the flags without a heading (help, version).
fn render_command(out: &mut String, cmd: &Command) {
    let args: Vec<&Arg> = cmd
        .get_arguments()
        .filter(|a| !a.is_hide_set() && !a.is_positional())
        .collect();
    let mut titles: Vec<&str> = Vec::new();
    for h in args.iter().filter_map(|a| a.get_help_heading()) {
        if !titles.contains(&h) {
            titles.push(h);
        }
    }
    let mut groups: Vec<(&str, Vec<&Arg>)> = titles
        .iter()
        .map(|h| {
            let group = args
                .iter()
                .copied()
                .filter(|a| a.get_help_heading() == Some(*h))
                .collect();
            (*h, group)
        })
        .collect();
    groups.push((
        "Other",
        args.iter()
            .copied()
            .filter(|a| a.get_help_heading().is_none())
            .collect(),
    ));
    for (title, group) in groups.into_iter().filter(|(_, g)| !g.is_empty()) {
        let _ = write!(out, "### {title}\n\n| flag | meaning |\n|---|---|\n");
        for arg in group {
            let _ = writeln!(
                out,
                "| {} | {} |",
                cell(&flag_spelling(arg)),
                cell(&meaning(arg))
            );
        }
        out.push('\n');
    }
}

/// `-j`, `--jobs <N>`.
fn flag_spelling(arg: &Arg) -> String {
    let mut names = Vec::new();
    if let Some(s) = arg.get_short() {
        names.push(format!("`-{s}`"));
    }
    if let Some(l) = arg.get_long() {
        let value = if arg.get_action().takes_values() {
            let names: Vec<String> = arg
                .get_value_names()
                .unwrap_or_default()
                .iter()
                .map(|v| format!(" <{v}>"))
                .collect();
            names.concat()
        } else {
            String::new()
        };
        names.push(format!("`--{l}{value}`"));
    }
    names.join(", ")
}

/// The long help (else the help), then the values, the default and the environment variable.
fn meaning(arg: &Arg) -> String {
    let help = arg
        .get_long_help()
        .or_else(|| arg.get_help())
        .map(|h| h.to_string())
        .unwrap_or_default();
    let mut text = help
        .split("\n\n")
        .map(|p| p.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    if !text.is_empty() && !text.ends_with(['.', '!', '?']) {
        // clap drops the period that ends a one-paragraph doc comment.
        text.push('.');
    }
    let values: Vec<String> = arg
        .get_possible_values()
        .iter()
        .filter(|v| !v.is_hide_set())
        .map(|v| format!("`{}`", v.get_name()))
        .collect();
    if !values.is_empty() && arg.get_action().takes_values() {
        let _ = write!(text, " Values: {}.", values.join(", "));
    }
    let defaults: Vec<String> = arg
        .get_default_values()
        .iter()
        .map(|v| format!("`{}`", v.to_string_lossy()))
        .collect();
    // A switch's default (false, 0) says nothing.
    if !defaults.is_empty() && arg.get_action().takes_values() {
        let _ = write!(text, " Default: {}.", defaults.join(", "));
    }
    if let Some(env) = arg.get_env() {
        let _ = write!(text, " Environment: `{}`.", env.to_string_lossy());
    }
    text.trim().to_owned()
}

/// A table cell: pipes escaped, no line breaks.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// The man page `pg_migrate.1` (roff).
pub fn man_page() -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    clap_mangen::Man::new(pg_command()).render(&mut buf)?;
    Ok(buf)
}

/// `db-migrate docs [--flags FILE] [--man DIR] [--completions DIR]` (hidden; `make docs`):
/// writes the flag reference to FILE, `pg_migrate.1` into DIR, and `pg_migrate`'s bash, zsh
/// and fish completions (clap_complete, from the same definitions) into the completions DIR.
/// Without arguments, prints the flag reference.
pub fn run_docs(args: Vec<String>) -> i32 {
    let mut flags: Option<String> = None;
    let mut man: Option<String> = None;
    let mut completions: Option<String> = None;
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        let slot = match a.as_str() {
            "--flags" => &mut flags,
            "--man" => &mut man,
            "--completions" => &mut completions,
            _ => {
                eprintln!("usage: db-migrate docs [--flags FILE] [--man DIR] [--completions DIR]");
                return super::EXIT_INVALID;
            }
        };
        match it.next() {
            Some(v) => *slot = Some(v),
            None => {
                eprintln!("db-migrate docs: {a} needs a value");
                return super::EXIT_INVALID;
            }
        }
    }
    let write = |path: &Path, bytes: &[u8]| -> std::io::Result<()> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, bytes)
    };
    if flags.is_none() && man.is_none() && completions.is_none() {
        print!("{}", flags_markdown());
        return super::EXIT_OK;
    }
    if let Some(f) = flags {
        if let Err(e) = write(Path::new(&f), flags_markdown().as_bytes()) {
            eprintln!("db-migrate docs: cannot write {f}: {e}");
            return super::EXIT_OUTPUT;
        }
        println!("wrote {f}");
    }
    if let Some(dir) = man {
        let path = Path::new(&dir).join("pg_migrate.1");
        if let Err(e) = man_page().and_then(|page| write(&path, &page)) {
            eprintln!("db-migrate docs: cannot write {}: {e}", path.display());
            return super::EXIT_OUTPUT;
        }
        println!("wrote {}", path.display());
    }
    if let Some(dir) = completions {
        use clap_complete::Shell;
        for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
            let written = std::fs::create_dir_all(&dir).and_then(|()| {
                clap_complete::generate_to(shell, &mut pg_command(), "pg_migrate", &dir)
            });
            match written {
                Ok(path) => println!("wrote {}", path.display()),
                Err(e) => {
                    eprintln!("db-migrate docs: cannot write the {shell} completions: {e}");
                    return super::EXIT_OUTPUT;
                }
            }
        }
    }
    super::EXIT_OK
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::args::heading;

    /// The committed flag reference is what the definitions render.
    #[test]
    fn flags_md_is_what_the_definitions_render() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(FLAGS_MD);
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == flags_markdown(),
            "{} differs from the clap definitions in src/cli/args.rs: run `make docs` and commit \
             the result",
            path.display()
        );
    }

    /// Every flag a user can see has a help heading, so `--help` has no catch-all group but
    /// help and version.
    #[test]
    fn every_flag_has_a_heading() {
        for cmd in [pg_command(), status_command()] {
            for arg in cmd.get_arguments().filter(|a| !a.is_hide_set()) {
                let id = arg.get_id().as_str();
                if id == "help" || id == "version" {
                    continue;
                }
                let h = arg.get_help_heading();
                assert!(
                    h.is_some_and(|h| heading::ALL.contains(&h)),
                    "{} --{id}: help heading {h:?} is not one of heading::ALL",
                    cmd.get_name()
                );
            }
        }
    }

    #[test]
    fn the_man_page_names_the_flags() {
        let page = String::from_utf8(man_page().unwrap()).unwrap();
        assert!(page.contains("pg_migrate"), "{page}");
        assert!(page.contains("stall\\-timeout"), "{page}");
    }
}
