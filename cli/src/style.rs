//! Colour only on a terminal (and never with NO_COLOR set).

use std::io::IsTerminal;

fn paint(code: &str, text: &str, stream_is_tty: bool) -> String {
    if stream_is_tty && std::env::var_os("NO_COLOR").is_none() {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

/// `error` in red on a terminal (stderr).
pub fn error_label() -> String {
    paint("1;31", "error", std::io::stderr().is_terminal())
}

/// `FAIL` in red on a terminal (stdout).
pub fn fail() -> String {
    paint("1;31", "FAIL", std::io::stdout().is_terminal())
}

/// `skip` in yellow on a terminal (stdout).
pub fn skip() -> String {
    paint("33", "skip", std::io::stdout().is_terminal())
}
