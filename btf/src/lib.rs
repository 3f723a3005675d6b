//! BTF (`.BTF`) and BTF.ext (`.BTF.ext`) readers, for object files and for the
//! running kernel's `/sys/kernel/btf/vmlinux`.
//!
//! One home for BTF below the loader and the verifier: the loader reads an
//! object's types, func and line info and CO-RE records with it; the verifier
//! reads global functions' prototypes and kernel types with it.
//!
//! Every read is bounds-checked; a malformed blob yields a [`BtfError`] naming the byte offset or
//! type id at fault. Types are kept with the byte offset of their record in the raw blob, so that
//! fix-ups (DATASEC sizes and variable offsets) can patch the raw bytes in place.

#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

use std::collections::HashMap;

mod query;
pub use query::{kind_str, NameIndex, Resolved};

/// Error in a BTF or BTF.ext blob; the caller adds the section name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BtfError(pub String);

fn err<T>(msg: impl Into<String>) -> Result<T, BtfError> {
    Err(BtfError(msg.into()))
}

/// BTF kind numbers (`BTF_KIND_*`).
pub mod kind {
    pub const INT: u32 = 1;
    pub const PTR: u32 = 2;
    pub const ARRAY: u32 = 3;
    pub const STRUCT: u32 = 4;
    pub const UNION: u32 = 5;
    pub const ENUM: u32 = 6;
    pub const FWD: u32 = 7;
    pub const TYPEDEF: u32 = 8;
    pub const VOLATILE: u32 = 9;
    pub const CONST: u32 = 10;
    pub const RESTRICT: u32 = 11;
    pub const FUNC: u32 = 12;
    pub const FUNC_PROTO: u32 = 13;
    pub const VAR: u32 = 14;
    pub const DATASEC: u32 = 15;
    pub const FLOAT: u32 = 16;
    pub const DECL_TAG: u32 = 17;
    pub const TYPE_TAG: u32 = 18;
    pub const ENUM64: u32 = 19;
}

/// One member of a STRUCT/UNION, parameter of a FUNC_PROTO, or enumerator of an ENUM/ENUM64.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Member {
    /// Offset of the name in the string section.
    pub name_off: u32,
    /// Member / parameter type id (0 for enumerators).
    pub type_id: u32,
    /// Bit offset (members; with kind_flag the low 24 bits), or the enumerator value.
    pub offset: u64,
}

/// One `btf_var_secinfo` of a DATASEC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VarSecinfo {
    /// The VAR (or FUNC) type id.
    pub type_id: u32,
    /// Offset inside the section.
    pub offset: u32,
    /// Size of the variable.
    pub size: u32,
}

/// One BTF type record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BtfType {
    /// Offset of the name in the string section.
    pub name_off: u32,
    /// BTF_KIND_*.
    pub kind: u32,
    /// `vlen` field of `info`.
    pub vlen: u32,
    /// `kind_flag` bit of `info`.
    pub kind_flag: bool,
    /// `size` or `type` field, depending on the kind.
    pub size_or_type: u32,
    /// INT encoding word, ARRAY (elem type, index type, nelems), VAR linkage, DECL_TAG index.
    pub extra: [u32; 3],
    /// Members, parameters or enumerators.
    pub members: Vec<Member>,
    /// DATASEC entries.
    pub secinfo: Vec<VarSecinfo>,
    /// Byte offset of this record inside the raw blob.
    pub raw_off: usize,
}

/// A parsed BTF blob.
#[derive(Debug, Clone)]
pub struct Btf {
    /// Types; index 0 is `void`.
    pub types: Vec<BtfType>,
    strings: Vec<u8>,
    /// The raw blob (patched in place by fix-ups).
    pub raw: Vec<u8>,
}

struct Reader<'a> {
    data: &'a [u8],
    what: &'static str,
}

impl Reader<'_> {
    fn u32(&self, off: usize) -> Result<u32, BtfError> {
        match off.checked_add(4).and_then(|end| self.data.get(off..end)) {
            Some(&[a, b, c, d]) => Ok(u32::from_le_bytes([a, b, c, d])),
            _ => err(format!(
                "{}: 4-byte read at offset {off:#x} past the end ({} bytes)",
                self.what,
                self.data.len()
            )),
        }
    }
}

const MAX_RESOLVE_DEPTH: usize = 32;
/// The most types a BTF blob may have: the kernel's `BTF_MAX_TYPE`.
const BTF_MAX_TYPE: usize = 0x000f_ffff;

impl Btf {
    /// Parses a little-endian BTF blob.
    pub fn parse(data: &[u8]) -> Result<Btf, BtfError> {
        let r = Reader { data, what: "BTF" };
        if data.len() < 24 {
            return err(format!("header needs 24 bytes, blob has {}", data.len()));
        }
        let &[m0, m1, version, ..] = data else {
            return err(format!("header needs 24 bytes, blob has {}", data.len()));
        };
        let magic = u16::from_le_bytes([m0, m1]);
        if magic != 0xeb9f {
            return err(format!(
                "bad magic {magic:#06x} at offset 0 (expected 0xeb9f; big-endian BTF is not supported)"
            ));
        }
        if version != 1 {
            return err(format!("unsupported version {version} at offset 2"));
        }
        let hdr_len = r.u32(4)? as usize;
        let type_off = r.u32(8)? as usize;
        let type_len = r.u32(12)? as usize;
        let str_off = r.u32(16)? as usize;
        let str_len = r.u32(20)? as usize;
        if hdr_len < 24 || hdr_len > data.len() {
            return err(format!(
                "header length {hdr_len} at offset 4 is out of range"
            ));
        }
        let span = |off: usize, len: usize, what: &str| -> Result<(usize, usize), BtfError> {
            let start = hdr_len.checked_add(off);
            let end = start.and_then(|s| s.checked_add(len));
            match (start, end) {
                (Some(s), Some(e)) if e <= data.len() => Ok((s, e)),
                _ => err(format!(
                    "{what} section (offset {off:#x}, length {len:#x}) goes past the end of the {}-byte blob",
                    data.len()
                )),
            }
        };
        let (ts, te) = span(type_off, type_len, "type")?;
        let (ss, se) = span(str_off, str_len, "string")?;
        let strings = data.get(ss..se).unwrap_or_default().to_vec();
        if !strings.is_empty() && (strings.first() != Some(&0) || strings.last() != Some(&0)) {
            return err("string section must start and end with a NUL byte");
        }
        let mut types = vec![BtfType {
            name_off: 0,
            kind: 0,
            vlen: 0,
            kind_flag: false,
            size_or_type: 0,
            extra: [0; 3],
            members: Vec::new(),
            secinfo: Vec::new(),
            raw_off: 0,
        }];
        let mut off = ts;
        while off < te {
            let id = types.len();
            if id > BTF_MAX_TYPE {
                return err(format!(
                    "type [{id}] at offset {off:#x}: more than the kernel's {BTF_MAX_TYPE} types (BTF_MAX_TYPE)"
                ));
            }
            let rd = |o: usize| -> Result<u32, BtfError> {
                if o + 4 > te {
                    return err(format!(
                        "type [{id}] at offset {off:#x} is truncated by the end of the type section"
                    ));
                }
                r.u32(o)
            };
            let name_off = rd(off)?;
            let info = rd(off + 4)?;
            let size_or_type = rd(off + 8)?;
            let kind = (info >> 24) & 0x1f;
            let vlen = info & 0xffff;
            let kind_flag = info >> 31 == 1;
            let mut t = BtfType {
                name_off,
                kind,
                vlen,
                kind_flag,
                size_or_type,
                extra: [0; 3],
                members: Vec::new(),
                secinfo: Vec::new(),
                raw_off: off,
            };
            let mut p = off + 12;
            match kind {
                kind::INT => {
                    t.extra[0] = rd(p)?;
                    p += 4;
                }
                kind::ARRAY => {
                    for e in t.extra.iter_mut() {
                        *e = rd(p)?;
                        p += 4;
                    }
                }
                kind::STRUCT | kind::UNION | kind::FUNC_PROTO => {
                    let per = if kind == kind::FUNC_PROTO { 8 } else { 12 };
                    for _ in 0..vlen {
                        let m_name = rd(p)?;
                        let m_type = rd(p + 4)?;
                        let m_off = if per == 12 { rd(p + 8)? } else { 0 };
                        t.members.push(Member {
                            name_off: m_name,
                            type_id: m_type,
                            offset: u64::from(m_off),
                        });
                        p += per;
                    }
                }
                kind::ENUM => {
                    for _ in 0..vlen {
                        let m_name = rd(p)?;
                        let val = rd(p + 4)?;
                        t.members.push(Member {
                            name_off: m_name,
                            type_id: 0,
                            offset: u64::from(val),
                        });
                        p += 8;
                    }
                }
                kind::ENUM64 => {
                    for _ in 0..vlen {
                        let m_name = rd(p)?;
                        let lo = rd(p + 4)?;
                        let hi = rd(p + 8)?;
                        t.members.push(Member {
                            name_off: m_name,
                            type_id: 0,
                            offset: u64::from(lo) | (u64::from(hi) << 32),
                        });
                        p += 12;
                    }
                }
                kind::VAR | kind::DECL_TAG => {
                    t.extra[0] = rd(p)?;
                    p += 4;
                }
                kind::DATASEC => {
                    for _ in 0..vlen {
                        t.secinfo.push(VarSecinfo {
                            type_id: rd(p)?,
                            offset: rd(p + 4)?,
                            size: rd(p + 8)?,
                        });
                        p += 12;
                    }
                }
                kind::PTR
                | kind::FWD
                | kind::TYPEDEF
                | kind::VOLATILE
                | kind::CONST
                | kind::RESTRICT
                | kind::FUNC
                | kind::FLOAT
                | kind::TYPE_TAG => {}
                _ => {
                    return err(format!(
                        "type [{id}] at offset {off:#x} has unknown kind {kind}"
                    ))
                }
            }
            types.push(t);
            off = p;
        }
        let btf = Btf {
            types,
            strings,
            raw: data.to_vec(),
        };
        btf.validate()?;
        Ok(btf)
    }

    fn validate(&self) -> Result<(), BtfError> {
        let n = self.types.len() as u64;
        let check_id = |id: u32, tid: usize, what: &str| -> Result<(), BtfError> {
            if u64::from(id) >= n {
                return err(format!(
                    "type [{tid}] refers to {what} type id {id}, but there are only {} types",
                    n - 1
                ));
            }
            Ok(())
        };
        for (tid, t) in self.types.iter().enumerate().skip(1) {
            self.str_checked(t.name_off)
                .map_err(|e| BtfError(format!("type [{tid}] name: {e}")))?;
            match t.kind {
                kind::PTR
                | kind::TYPEDEF
                | kind::VOLATILE
                | kind::CONST
                | kind::RESTRICT
                | kind::FUNC
                | kind::VAR
                | kind::DECL_TAG
                | kind::TYPE_TAG
                | kind::FUNC_PROTO => check_id(t.size_or_type, tid, "its target")?,
                kind::ARRAY => {
                    check_id(t.extra[0], tid, "element")?;
                    check_id(t.extra[1], tid, "index")?;
                }
                _ => {}
            }
            for m in &t.members {
                self.str_checked(m.name_off)
                    .map_err(|e| BtfError(format!("type [{tid}] member name: {e}")))?;
                if matches!(t.kind, kind::STRUCT | kind::UNION | kind::FUNC_PROTO) {
                    check_id(m.type_id, tid, "member")?;
                }
            }
            for s in &t.secinfo {
                check_id(s.type_id, tid, "variable")?;
            }
        }
        Ok(())
    }

    /// The type with this id.
    pub fn get(&self, id: u32) -> Option<&BtfType> {
        self.types.get(id as usize)
    }

    fn str_checked(&self, off: u32) -> Result<&str, BtfError> {
        let off = off as usize;
        if off == 0 {
            return Ok("");
        }
        let Some(rest) = self.strings.get(off..) else {
            return err(format!(
                "string offset {off:#x} is past the end of the {}-byte string section",
                self.strings.len()
            ));
        };
        let end = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
        std::str::from_utf8(rest.get(..end).unwrap_or(rest))
            .map_err(|_| BtfError(format!("string at offset {off:#x} is not UTF-8")))
    }

    /// The string at `off` in the string section, or `""` if out of range.
    pub fn str_at(&self, off: u32) -> &str {
        self.str_checked(off).unwrap_or("")
    }

    /// The string at `off`, or an error naming the offset.
    pub fn str_at_checked(&self, off: u32) -> Result<&str, BtfError> {
        self.str_checked(off)
    }

    /// Name of the type `id` (`""` for anonymous types).
    pub fn name(&self, id: u32) -> &str {
        self.get(id).map(|t| self.str_at(t.name_off)).unwrap_or("")
    }

    /// Follows TYPEDEF, CONST, VOLATILE, RESTRICT and TYPE_TAG to the underlying type id.
    pub fn skip_mods_and_typedefs(&self, mut id: u32) -> Result<u32, BtfError> {
        for _ in 0..MAX_RESOLVE_DEPTH {
            let Some(t) = self.get(id) else {
                return err(format!("type id {id} does not exist"));
            };
            match t.kind {
                kind::TYPEDEF | kind::VOLATILE | kind::CONST | kind::RESTRICT | kind::TYPE_TAG => {
                    id = t.size_or_type
                }
                _ => return Ok(id),
            }
        }
        err(format!(
            "type id {id}: modifier chain longer than {MAX_RESOLVE_DEPTH}"
        ))
    }

    /// Size in bytes of type `id`, as the kernel computes it.
    pub fn size_of(&self, id: u32) -> Result<u64, BtfError> {
        let mut id = id;
        let mut mult: u64 = 1;
        for _ in 0..MAX_RESOLVE_DEPTH {
            let Some(t) = self.get(id) else {
                return err(format!("type id {id} does not exist"));
            };
            match t.kind {
                kind::INT
                | kind::STRUCT
                | kind::UNION
                | kind::ENUM
                | kind::ENUM64
                | kind::DATASEC
                | kind::FLOAT => return Ok(mult.saturating_mul(u64::from(t.size_or_type))),
                kind::PTR => return Ok(mult.saturating_mul(8)),
                kind::TYPEDEF
                | kind::VOLATILE
                | kind::CONST
                | kind::RESTRICT
                | kind::TYPE_TAG
                | kind::VAR => id = t.size_or_type,
                kind::ARRAY => {
                    mult = mult.saturating_mul(u64::from(t.extra[2]));
                    id = t.extra[0];
                }
                _ => return err(format!("type [{id}] ({}) has no size", kind_name(t.kind))),
            }
        }
        err(format!(
            "type id {id}: type chain longer than {MAX_RESOLVE_DEPTH}"
        ))
    }

    /// Index from name to type ids, for the types whose kind is one of `kinds`.
    pub fn ids_by_name(&self) -> HashMap<&str, Vec<u32>> {
        let mut m: HashMap<&str, Vec<u32>> = HashMap::new();
        for (id, t) in self.types.iter().enumerate().skip(1) {
            let n = self.str_at(t.name_off);
            if !n.is_empty() {
                m.entry(n).or_default().push(id as u32);
            }
        }
        m
    }

    /// Writes a u32 into the raw blob at `off` (used by fix-ups).
    pub fn patch_u32(&mut self, off: usize, v: u32) {
        if let Some(b) = off.checked_add(4).and_then(|e| self.raw.get_mut(off..e)) {
            b.copy_from_slice(&v.to_le_bytes());
        }
    }
}

/// Human-readable name of a BTF kind.
pub fn kind_name(k: u32) -> &'static str {
    match k {
        0 => "void",
        kind::INT => "int",
        kind::PTR => "ptr",
        kind::ARRAY => "array",
        kind::STRUCT => "struct",
        kind::UNION => "union",
        kind::ENUM => "enum",
        kind::FWD => "fwd",
        kind::TYPEDEF => "typedef",
        kind::VOLATILE => "volatile",
        kind::CONST => "const",
        kind::RESTRICT => "restrict",
        kind::FUNC => "func",
        kind::FUNC_PROTO => "func_proto",
        kind::VAR => "var",
        kind::DATASEC => "datasec",
        kind::FLOAT => "float",
        kind::DECL_TAG => "decl_tag",
        kind::TYPE_TAG => "type_tag",
        kind::ENUM64 => "enum64",
        _ => "unknown",
    }
}

/// One `bpf_func_info` record of `.BTF.ext` (insn_off in bytes, as in the ELF file).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtFuncInfo {
    pub insn_off: u32,
    pub type_id: u32,
}

/// One `bpf_line_info` record of `.BTF.ext`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtLineInfo {
    pub insn_off: u32,
    pub file_name_off: u32,
    pub line_off: u32,
    pub line_col: u32,
}

/// One `bpf_core_relo` record of `.BTF.ext`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtCoreRelo {
    pub insn_off: u32,
    pub type_id: u32,
    pub access_str_off: u32,
    pub kind: u32,
}

/// Records of one `.BTF.ext` info block, grouped by section name, each as raw u32 words.
type InfoBlocks = Vec<(String, Vec<[u32; 4]>)>;

/// A parsed `.BTF.ext`, keyed by section name.
#[derive(Debug, Clone, Default)]
pub struct BtfExt {
    pub func_info: HashMap<String, Vec<ExtFuncInfo>>,
    pub line_info: HashMap<String, Vec<ExtLineInfo>>,
    pub core_relos: HashMap<String, Vec<ExtCoreRelo>>,
}

impl BtfExt {
    /// Parses `.BTF.ext`; section names are looked up in `btf`'s strings.
    pub fn parse(data: &[u8], btf: &Btf) -> Result<BtfExt, BtfError> {
        let r = Reader {
            data,
            what: "BTF.ext",
        };
        if data.len() < 24 {
            return err(format!("header needs 24 bytes, blob has {}", data.len()));
        }
        let &[m0, m1, ..] = data else {
            return err(format!("header needs 24 bytes, blob has {}", data.len()));
        };
        let magic = u16::from_le_bytes([m0, m1]);
        if magic != 0xeb9f {
            return err(format!("bad magic {magic:#06x} at offset 0"));
        }
        let hdr_len = r.u32(4)? as usize;
        if hdr_len < 24 || hdr_len > data.len() {
            return err(format!(
                "header length {hdr_len} at offset 4 is out of range"
            ));
        }
        let mut ext = BtfExt::default();
        let sub = |off_field: usize, min_rec: usize| -> Result<InfoBlocks, BtfError> {
            let off = r.u32(off_field)? as usize;
            let len = r.u32(off_field + 4)? as usize;
            let mut out = Vec::new();
            if len == 0 {
                return Ok(out);
            }
            let start = hdr_len.checked_add(off);
            let end = start.and_then(|s| s.checked_add(len));
            let (start, end) = match (start, end) {
                (Some(s), Some(e)) if e <= data.len() => (s, e),
                _ => {
                    return err(format!(
                        "info block at header offset {off_field:#x} (offset {off:#x}, length {len:#x}) goes past the end of the {}-byte blob",
                        data.len()
                    ))
                }
            };
            let rd = |o: usize| -> Result<u32, BtfError> {
                if o + 4 > end {
                    return err(format!("info record at offset {o:#x} is truncated"));
                }
                r.u32(o)
            };
            let rec_size = rd(start)? as usize;
            if rec_size < min_rec || !rec_size.is_multiple_of(4) || rec_size > 256 {
                return err(format!(
                    "info block at offset {start:#x}: record size {rec_size} is invalid (minimum {min_rec})"
                ));
            }
            let mut p = start + 4;
            while p < end {
                let sec_name_off = rd(p)?;
                let num = rd(p + 4)? as usize;
                let sec = btf
                    .str_at_checked(sec_name_off)
                    .map_err(|e| BtfError(format!("info at offset {p:#x}: section name: {e}")))?
                    .to_string();
                p += 8;
                let need = num.checked_mul(rec_size);
                if need.is_none_or(|n| p + n > end) {
                    return err(format!(
                        "info for section {sec} at offset {p:#x}: {num} records of {rec_size} bytes go past the end of the block"
                    ));
                }
                let mut recs = Vec::with_capacity(num);
                for _ in 0..num {
                    // Up to four words of each record are read (min_rec <= 16).
                    let mut rec = [0u32; 4];
                    for (k, w) in rec.iter_mut().enumerate().take(min_rec / 4) {
                        *w = rd(p + 4 * k)?;
                    }
                    recs.push(rec);
                    p += rec_size;
                }
                out.push((sec, recs));
            }
            Ok(out)
        };
        for (sec, recs) in sub(8, 8)? {
            ext.func_info
                .entry(sec)
                .or_default()
                .extend(recs.iter().map(|r| ExtFuncInfo {
                    insn_off: r[0],
                    type_id: r[1],
                }));
        }
        for (sec, recs) in sub(16, 16)? {
            ext.line_info
                .entry(sec)
                .or_default()
                .extend(recs.iter().map(|r| ExtLineInfo {
                    insn_off: r[0],
                    file_name_off: r[1],
                    line_off: r[2],
                    line_col: r[3],
                }));
        }
        if hdr_len >= 32 {
            for (sec, recs) in sub(24, 16)? {
                ext.core_relos
                    .entry(sec)
                    .or_default()
                    .extend(recs.iter().map(|r| ExtCoreRelo {
                        insn_off: r[0],
                        type_id: r[1],
                        access_str_off: r[2],
                        kind: r[3],
                    }));
            }
        }
        Ok(ext)
    }
}
