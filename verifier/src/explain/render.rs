//! Printing an [`Explanation`]: ironbpf's plain account, and the layout
//! kernels from 7.3 on print after the verifier log (`Verification failed:
//! <category>: <title>`, `Reason:`, `At:`, `Instruction context:`,
//! `Causal path:`, `Suggestion:`).

use super::{Explanation, Site};
use std::fmt::Write;

fn site_line(s: &Site) -> String {
    let mut out = format!("insn {}: {}", s.insn, s.text);
    if let Some(src) = &s.source {
        let _ = write!(out, "  ({src})");
    }
    out
}

/// The plain account, several lines, each ending in a newline.
pub fn text(e: &Explanation) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "error {} [{}]: {}", e.code, e.category, e.title);
    if let Some(at) = &e.at {
        let _ = writeln!(o, "  at:          insn {}: {}", at.insn, at.text);
        if let Some(src) = &at.source {
            let _ = writeln!(o, "               {src}");
        }
    }
    let _ = writeln!(o, "  why:         {}", e.reason);
    if let Some(st) = &e.state {
        let _ = writeln!(o, "  state:       {st}");
    }
    if let Some(c) = &e.root_cause {
        let _ = writeln!(o, "  root cause:  insn {}: {}", c.site.insn, c.site.text);
        if let Some(src) = &c.site.source {
            let _ = writeln!(o, "               {src}");
        }
        let _ = writeln!(o, "               {}", c.what);
    }
    if !e.path.is_empty() {
        let _ = writeln!(o, "  path:");
        for b in &e.path {
            let dir = if b.taken { "taken" } else { "not taken" };
            let _ = write!(
                o,
                "    insn {}: {} -> {dir}, on to insn {}",
                b.site.insn, b.condition, b.next
            );
            if b.repeats > 1 {
                let _ = write!(o, " ({} times in a row)", b.repeats);
            }
            if let Some(src) = &b.site.source {
                let _ = write!(o, "  ({}:{})", src.file, src.line);
            }
            o.push('\n');
        }
    }
    let _ = writeln!(o, "  suggestion:  {}", e.suggestion);
    o
}

/// The layout of kernels 7.3 and later.
pub fn kernel73(e: &Explanation) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "Verification failed: {}: {}", e.category, e.title);
    match &e.state {
        Some(st) => {
            let _ = writeln!(o, "Reason: {} ({st})", e.reason);
        }
        None => {
            let _ = writeln!(o, "Reason: {}", e.reason);
        }
    }
    match &e.at {
        Some(at) => {
            let _ = writeln!(o, "At: {}", site_line(at));
        }
        None => {
            let _ = writeln!(o, "At: (the whole program)");
        }
    }
    let _ = writeln!(o, "Instruction context:");
    for s in &e.context {
        let _ = writeln!(o, "  {}", site_line(s));
    }
    if let Some(at) = &e.at {
        let _ = writeln!(o, "> {}", site_line(at));
    }
    let _ = writeln!(o, "Causal path:");
    if let Some(c) = &e.root_cause {
        let _ = writeln!(o, "  cause: {} -- {}", site_line(&c.site), c.what);
    }
    for b in &e.path {
        let dir = if b.taken { "taken" } else { "not taken" };
        let times = if b.repeats > 1 {
            format!(" ({} times)", b.repeats)
        } else {
            String::new()
        };
        let _ = writeln!(
            o,
            "  branch: {} -- {}: {dir}{times}",
            site_line(&b.site),
            b.condition
        );
    }
    if let Some(at) = &e.at {
        let _ = writeln!(o, "  fails: {}", site_line(at));
    }
    let _ = writeln!(o, "Suggestion: {}", e.suggestion);
    o
}
