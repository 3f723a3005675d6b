//! A tracepoint record for `ironbpf run --record`: the fields a tracepoint
//! program reads, by the names of the tracepoint's format file
//! (`/sys/kernel/tracing/events/<category>/<name>/format`), laid out at the
//! offsets and sizes the file gives, as the kernel's perf buffer holds them.

use crate::Failure;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// One `field:` line of a format file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// The C declaration without the name (`unsigned short`, `char`, `const char *`).
    pub ctype: String,
    pub name: String,
    /// Elements, for `name[N]` (0 for a scalar).
    pub array: usize,
    pub offset: usize,
    pub size: usize,
    pub signed: bool,
}

/// A tracepoint's format: its event id (the `common_type` of its records) and fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Format {
    pub name: String,
    pub id: Option<u16>,
    pub fields: Vec<Field>,
}

impl Format {
    /// Parses the text of a format file.
    pub fn parse(text: &str) -> Result<Format, String> {
        let mut f = Format {
            name: String::new(),
            id: None,
            fields: Vec::new(),
        };
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if let Some(v) = line.strip_prefix("name:") {
                f.name = v.trim().to_string();
            } else if let Some(v) = line.strip_prefix("ID:") {
                f.id = v.trim().parse().ok();
            } else if line.starts_with("field:") {
                f.fields
                    .push(parse_field(line).map_err(|e| format!("line {}: {e}: {line}", n + 1))?);
            }
        }
        if f.fields.is_empty() {
            return Err("no `field:` lines: this is not a tracepoint format file".into());
        }
        Ok(f)
    }

    /// The record's size: the end of its last field.
    pub fn size(&self) -> usize {
        self.fields
            .iter()
            .map(|f| f.offset + f.size)
            .max()
            .unwrap_or(0)
    }

    /// Lays out `record` (a JSON object of field name → value) as the
    /// kernel's record; `common_type` is the event id unless given.
    pub fn record(&self, record: &Value) -> Result<Vec<u8>, String> {
        let Value::Object(given) = record else {
            return Err(format!(
                "the record must be a JSON object of field names, not {record}"
            ));
        };
        let mut out = vec![0u8; self.size()];
        if let (Some(id), Some(ct)) = (
            self.id,
            self.fields.iter().find(|f| f.name == "common_type"),
        ) {
            put(&mut out, ct, &Value::from(id))?;
        }
        for (name, v) in given {
            let field = self
                .fields
                .iter()
                .find(|f| &f.name == name)
                .ok_or_else(|| {
                    format!(
                        "{} has no field `{name}`; its fields are: {}",
                        if self.name.is_empty() {
                            "the tracepoint"
                        } else {
                            &self.name
                        },
                        self.fields
                            .iter()
                            .map(|f| f.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                })?;
            put(&mut out, field, v)?;
        }
        Ok(out)
    }
}

/// `field:unsigned short common_type; offset:0; size:2; signed:0;` (tab-separated)
fn parse_field(line: &str) -> Result<Field, String> {
    let mut decl = None;
    let (mut offset, mut size, mut signed) = (None, None, false);
    for part in line.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        if let Some(d) = part.strip_prefix("field:") {
            decl = Some(d.trim());
        } else if let Some(v) = part.strip_prefix("offset:") {
            offset = v.trim().parse::<usize>().ok();
        } else if let Some(v) = part.strip_prefix("size:") {
            size = v.trim().parse::<usize>().ok();
        } else if let Some(v) = part.strip_prefix("signed:") {
            signed = v.trim() == "1";
        }
    }
    let decl = decl.ok_or("no declaration")?;
    let (offset, size) = offset.zip(size).ok_or("no offset or size")?;
    let cut = decl
        .rfind(|c: char| c.is_whitespace() || c == '*')
        .ok_or("no field name")?;
    let (ctype, name) = (decl[..=cut].trim(), decl[cut + 1..].trim());
    let (name, array) = match name.split_once('[') {
        Some((n, rest)) => (n, rest.trim_end_matches(']').parse::<usize>().unwrap_or(0)),
        None => (name, 0),
    };
    if name.is_empty() {
        return Err("no field name".into());
    }
    Ok(Field {
        ctype: ctype.to_string(),
        name: name.to_string(),
        array,
        offset,
        size,
        signed,
    })
}

/// An integer of `size` bytes, little-endian, checked to fit.
fn int_bytes(v: &Value, size: usize, signed: bool, what: &str) -> Result<Vec<u8>, String> {
    let bits = 8 * size as u32;
    let raw: u64 = if let Some(u) = v.as_u64() {
        if bits < 64 && u >> bits != 0 {
            return Err(format!("{what}: {u} does not fit in {size} bytes"));
        }
        u
    } else if let Some(i) = v.as_i64() {
        if !signed {
            return Err(format!("{what} is unsigned, and {i} is negative"));
        }
        if bits < 64 && (i < -(1i64 << (bits - 1)) || i >= 1i64 << (bits - 1)) {
            return Err(format!("{what}: {i} does not fit in {size} signed bytes"));
        }
        i as u64
    } else {
        return Err(format!("{what}: {v} is not an integer"));
    };
    Ok(raw.to_le_bytes()[..size.min(8)].to_vec())
}

/// Writes one field's value: an integer; for `char x[N]`, a string (NUL
/// padded); for other arrays, a list of integers; for any field,
/// `{"hex": "..."}` gives its bytes.
fn put(out: &mut [u8], f: &Field, v: &Value) -> Result<(), String> {
    let what = format!(
        "field `{}` ({} {}, {} bytes)",
        f.name, f.ctype, f.name, f.size
    );
    if f.ctype.starts_with("__data_loc") {
        return Err(format!(
            "{what} is a dynamic array (__data_loc): give the record's bytes with --ctx instead"
        ));
    }
    let bytes = match v {
        Value::Object(o) if o.len() == 1 && o.contains_key("hex") => {
            let h = o["hex"]
                .as_str()
                .ok_or_else(|| format!("{what}: \"hex\" must be a string"))?;
            let b = crate::cmd_run::hex_bytes(h).map_err(|e| format!("{what}: {e}"))?;
            if b.len() > f.size {
                return Err(format!("{what}: {} bytes given", b.len()));
            }
            b
        }
        Value::String(s) if f.array > 0 && f.ctype.ends_with("char") => {
            if s.len() >= f.size {
                return Err(format!(
                    "{what}: \"{s}\" is {} bytes, and the field holds {} with its NUL",
                    s.len(),
                    f.size - 1
                ));
            }
            s.as_bytes().to_vec()
        }
        Value::Array(items) if f.array > 0 => {
            let elem = f.size / f.array;
            if items.len() > f.array {
                return Err(format!("{what}: {} elements given", items.len()));
            }
            let mut b = Vec::with_capacity(f.size);
            for (i, item) in items.iter().enumerate() {
                b.extend(int_bytes(item, elem, f.signed, &format!("{what}[{i}]"))?);
            }
            b
        }
        _ if f.array > 0 => {
            return Err(format!(
                "{what} is an array: give a list of integers{}, or {{\"hex\": ...}}",
                if f.ctype.ends_with("char") {
                    " or a string"
                } else {
                    ""
                }
            ))
        }
        _ => int_bytes(v, f.size, f.signed, &what)?,
    };
    let dst = out
        .get_mut(f.offset..f.offset + bytes.len())
        .ok_or_else(|| format!("{what}: past the record's end"))?;
    dst.copy_from_slice(&bytes);
    Ok(())
}

/// Where the format of tracepoint `category/name` is: tracefs, mounted at
/// either of its usual places.
pub fn format_path(attach_to: &str) -> Option<PathBuf> {
    [
        "/sys/kernel/tracing/events",
        "/sys/kernel/debug/tracing/events",
    ]
    .iter()
    .map(|d| Path::new(d).join(attach_to).join("format"))
    .find(|p| p.exists())
}

/// The record `--record` gives, laid out with the format from
/// `--tp-format`, or else from tracefs for the program's attach point.
pub fn from_args(
    record: &str,
    format_file: Option<&Path>,
    attach_to: Option<&str>,
) -> Result<Vec<u8>, Failure> {
    let text = match record.strip_prefix('@') {
        Some(file) => std::fs::read_to_string(file)
            .map_err(|e| crate::cmd_prog::unreadable(Path::new(file), &e))?,
        None => record.to_string(),
    };
    let value: Value = serde_json::from_str(&text)
        .map_err(|e| Failure::usage(format!("--record: not JSON: {e}")))?;
    let path = match (format_file, attach_to) {
        (Some(p), _) => p.to_path_buf(),
        (None, Some(tp)) => format_path(tp).ok_or_else(|| {
            Failure::usage(format!(
                "--record: the format of tracepoint {tp} is not in tracefs \
                 (/sys/kernel/tracing/events/{tp}/format; is tracefs mounted?): give it with --tp-format FILE"
            ))
        })?,
        (None, None) => {
            return Err(Failure::usage(
                "--record: the program's section names no tracepoint (tracepoint/<category>/<name>): give its format with --tp-format FILE",
            ))
        }
    };
    let text =
        std::fs::read_to_string(&path).map_err(|e| crate::cmd_prog::unreadable(&path, &e))?;
    let format =
        Format::parse(&text).map_err(|e| Failure::usage(format!("{}: {e}", path.display())))?;
    format
        .record(&value)
        .map_err(|e| Failure::usage(format!("--record: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shape of xdp/xdp_redirect_err's format on Linux 6.x, written here by hand.
    const FORMAT: &str = "name: xdp_redirect_err\nID: 1234\nformat:\n\
        \tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\
        \tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n\
        \tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n\
        \tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n\
        \tfield:int prog_id;\toffset:8;\tsize:4;\tsigned:1;\n\
        \tfield:u32 act;\toffset:12;\tsize:4;\tsigned:0;\n\
        \tfield:int err;\toffset:20;\tsize:4;\tsigned:1;\n\
        \tfield:char comm[16];\toffset:24;\tsize:16;\tsigned:0;\n\
        \tfield:const char * filename;\toffset:40;\tsize:8;\tsigned:0;\n\n\
        print fmt: \"prog_id=%d\", REC->prog_id\n";

    #[test]
    fn fields_by_name_land_at_their_offsets() {
        let f = Format::parse(FORMAT).unwrap();
        assert_eq!(f.id, Some(1234));
        assert_eq!(f.size(), 48);
        let fname = f.fields.iter().find(|x| x.name == "filename").unwrap();
        assert_eq!((fname.ctype.as_str(), fname.offset), ("const char *", 40));
        let comm = f.fields.iter().find(|x| x.name == "comm").unwrap();
        assert_eq!((comm.array, comm.size), (16, 16));
        let rec = f
            .record(&serde_json::json!({"err": -22, "act": 4, "comm": "ping", "filename": 4096}))
            .unwrap();
        assert_eq!(&rec[0..2], &1234u16.to_le_bytes(), "common_type is the id");
        assert_eq!(&rec[12..16], &4u32.to_le_bytes());
        assert_eq!(&rec[20..24], &(-22i32).to_le_bytes());
        assert_eq!(&rec[24..29], b"ping\0");
        assert_eq!(&rec[40..48], &4096u64.to_le_bytes());
    }

    #[test]
    fn bad_records_are_refused_with_the_field() {
        let f = Format::parse(FORMAT).unwrap();
        let e = f.record(&serde_json::json!({"nope": 1})).unwrap_err();
        assert!(
            e.contains("no field `nope`") && e.contains("prog_id"),
            "{e}"
        );
        let e = f.record(&serde_json::json!({"act": -1})).unwrap_err();
        assert!(e.contains("unsigned"), "{e}");
        let e = f
            .record(&serde_json::json!({"err": 1u64 << 40}))
            .unwrap_err();
        assert!(e.contains("does not fit"), "{e}");
        let e = f
            .record(&serde_json::json!({"comm": "a name longer than sixteen"}))
            .unwrap_err();
        assert!(e.contains("holds 15"), "{e}");
        assert!(Format::parse("name: x\n").is_err());
    }
}
