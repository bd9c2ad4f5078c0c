//! Text from servers and users made safe for a terminal or a log line.
//!
//! Object names, role names and server messages can hold any character: a newline breaks the
//! report's table and can forge a line of it, an escape sequence repaints the terminal, and a
//! bidirectional override (U+202E) makes text read differently from what it is. The human
//! report and log lines show such characters escaped (`\n`, `\u{1b}`, `\u{202e}`); the JSON
//! report keeps names exact (JSON escapes control characters itself).

use std::borrow::Cow;

/// Unicode's bidirectional formatting characters (embeddings, overrides, isolates, marks).
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200e}' | '\u{200f}' | '\u{061c}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `text` with control and bidirectional formatting characters escaped as Rust does
/// (`\n`, `\t`, `\u{1b}`), and backslashes left alone; unchanged (borrowed) when there is none.
pub fn escape_controls(text: &str) -> Cow<'_, str> {
    if !text.chars().any(|c| c.is_control() || is_bidi_control(c)) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() || is_bidi_control(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_and_bidi_characters_are_escaped_and_the_rest_kept() {
        assert_eq!(
            escape_controls("plain ünïcode \\ \""),
            "plain ünïcode \\ \""
        );
        assert_eq!(escape_controls("a\nb\tc"), "a\\nb\\tc");
        assert_eq!(escape_controls("\u{1b}[31mred"), "\\u{1b}[31mred");
        assert_eq!(escape_controls("abc\u{202e}fed"), "abc\\u{202e}fed");
        assert_eq!(escape_controls("nul\0"), "nul\\u{0}");
    }
}
