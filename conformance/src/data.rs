//! The bpf_conformance `.data` test file format.
//!
//! A file is a sequence of sections, each opened by a line `-- name`:
//! `asm` (assembly in bpf_conformance's syntax), `raw` (64-bit instruction
//! words `0x...`, or 8 hex bytes a line; takes precedence over `asm`),
//! `mem` (hex bytes: the input memory), `result` (the expected r0),
//! `error` (the expected error text), `error pattern` (a regex for it),
//! `no jit`, `no register offset` and `c` (recorded, not run). `#` starts a
//! comment anywhere outside `c`.

use ironbpf_isa::RawInsn;
use thiserror::Error;

/// A parsed test file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DataFile {
    pub asm: Option<String>,
    pub raw: Option<Vec<RawInsn>>,
    pub mem: Option<Vec<u8>>,
    pub result: Option<u64>,
    pub error: Option<String>,
    pub error_pattern: Option<String>,
    pub no_jit: Option<String>,
    pub no_register_offset: bool,
    pub c: Option<String>,
}

/// A file that does not follow the format, with the line at fault.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("line {line}: {message}")]
pub struct DataError {
    pub line: usize,
    pub message: String,
}

fn err(line: usize, message: impl Into<String>) -> DataError {
    DataError {
        line,
        message: message.into(),
    }
}

/// Strips a `#` comment.
fn uncomment(line: &str) -> &str {
    line.split('#').next().unwrap_or("")
}

/// Parses a `.data` file.
pub fn parse_data_file(text: &str) -> Result<DataFile, DataError> {
    let mut df = DataFile::default();
    // (section name, first line number, lines)
    // (section name, its header's line number, its body lines with their numbers)
    type Section<'a> = (String, usize, Vec<(usize, &'a str)>);
    let mut sections: Vec<Section> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        if let Some(name) = line.strip_prefix("-- ") {
            sections.push((name.trim().to_string(), n, Vec::new()));
            continue;
        }
        match sections.last_mut() {
            Some((_, _, lines)) => lines.push((n, line)),
            None if uncomment(line).trim().is_empty() => {}
            None => {
                return Err(err(
                    n,
                    format!("`{}` comes before any `-- section` line", line.trim()),
                ))
            }
        }
    }
    for (name, at, lines) in sections {
        let body = || {
            lines
                .iter()
                .map(|(_, l)| uncomment(l))
                .collect::<Vec<_>>()
                .join("\n")
        };
        match name.as_str() {
            "asm" => df.asm = Some(lines.iter().map(|(_, l)| *l).collect::<Vec<_>>().join("\n")),
            "raw" => df.raw = Some(parse_raw(&lines)?),
            "mem" => df.mem = Some(parse_hex_bytes(&lines)?),
            "result" => {
                let b = body();
                let t = b.trim();
                df.result = Some(parse_u64(t).ok_or_else(|| {
                    err(at + 1, format!("the result `{t}` is not a 64-bit number"))
                })?);
            }
            "error" => df.error = Some(body().trim().to_string()),
            "error pattern" => df.error_pattern = Some(body().trim().to_string()),
            "no jit" => df.no_jit = Some(body().trim().to_string()),
            "no register offset" => df.no_register_offset = true,
            "c" => df.c = Some(lines.iter().map(|(_, l)| *l).collect::<Vec<_>>().join("\n")),
            other => {
                return Err(err(
                    at,
                    format!("unknown section `-- {other}` (known: asm, raw, mem, result, error, error pattern, no jit, no register offset, c)"),
                ))
            }
        }
    }
    Ok(df)
}

/// A hex (`0x...`) or decimal (possibly negative) 64-bit number.
fn parse_u64(t: &str) -> Option<u64> {
    if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        u64::from_str_radix(h, 16).ok()
    } else if let Some(d) = t.strip_prefix('-') {
        d.parse::<u64>().ok().map(|v| v.wrapping_neg())
    } else {
        t.parse().ok()
    }
}

fn parse_raw(lines: &[(usize, &str)]) -> Result<Vec<RawInsn>, DataError> {
    let mut out = Vec::new();
    let mut bytes = Vec::new();
    for &(n, line) in lines {
        let t = uncomment(line).trim();
        if t.is_empty() {
            continue;
        }
        if t.starts_with("0x") || t.starts_with("0X") {
            let w =
                parse_u64(t).ok_or_else(|| err(n, format!("`{t}` is not a 64-bit hex word")))?;
            out.push(RawInsn::from_u64(w));
        } else {
            for tok in t.split_whitespace() {
                bytes.push(
                    u8::from_str_radix(tok, 16)
                        .map_err(|_| err(n, format!("`{tok}` is not a hex byte")))?,
                );
            }
        }
    }
    if !bytes.is_empty() {
        if !out.is_empty() {
            return Err(err(
                lines.first().map_or(0, |l| l.0),
                "the raw section mixes 64-bit words and bytes",
            ));
        }
        if bytes.len() % 8 != 0 {
            return Err(err(
                lines.last().map_or(0, |l| l.0),
                format!(
                    "the raw section has {} bytes, not a multiple of 8",
                    bytes.len()
                ),
            ));
        }
        out = bytes
            .chunks_exact(8)
            .map(|c| RawInsn::from_bytes(c.try_into().expect("chunks of 8")))
            .collect();
    }
    Ok(out)
}

fn parse_hex_bytes(lines: &[(usize, &str)]) -> Result<Vec<u8>, DataError> {
    let mut out = Vec::new();
    for &(n, line) in lines {
        for tok in uncomment(line).split_whitespace() {
            out.push(
                u8::from_str_radix(tok, 16)
                    .map_err(|_| err(n, format!("`{tok}` in -- mem is not a hex byte")))?,
            );
        }
    }
    Ok(out)
}

impl DataFile {
    /// The program: the raw words if there are any, else the assembled
    /// asm; `None` when the file has neither.
    pub fn program(&self) -> Result<Option<Vec<RawInsn>>, crate::conf_asm::ConfAsmError> {
        if let Some(raw) = &self.raw {
            return Ok(Some(raw.clone()));
        }
        match &self.asm {
            Some(asm) => crate::conf_asm::assemble(asm).map(Some),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_comments_and_numbers() {
        let df = parse_data_file(
            "# header\n-- asm\nmov %r0, 1 # one\nexit\n-- mem\naa bb\n01\n-- result\n0x1\n-- error pattern\nfoo.*\n",
        )
        .unwrap();
        assert_eq!(df.asm.as_deref(), Some("mov %r0, 1 # one\nexit"));
        assert_eq!(df.mem, Some(vec![0xaa, 0xbb, 0x01]));
        assert_eq!(df.result, Some(1));
        assert_eq!(df.error_pattern.as_deref(), Some("foo.*"));
    }

    #[test]
    fn raw_as_words_or_bytes() {
        let a = parse_data_file("-- raw\n0x00000000000001b7\n0x0000000000000095\n").unwrap();
        let b =
            parse_data_file("-- raw\nb7 01 00 00 00 00 00 00\n95 00 00 00 00 00 00 00\n").unwrap();
        assert_eq!(a.raw, b.raw);
        assert_eq!(a.raw.unwrap()[0].dst, 1);
        let e = parse_data_file("-- raw\nb7 01 00\n").unwrap_err();
        assert_eq!(e.line, 2);
    }

    #[test]
    fn unknown_sections_name_their_line() {
        let e = parse_data_file("-- asm\nexit\n-- Unknown directive\n").unwrap_err();
        assert_eq!(e.line, 3);
        assert!(e.message.contains("Unknown directive"));
    }
}
