//! CO-RE (compile once, run everywhere) relocations: the `bpf_core_relo` records of `.BTF.ext`
//! resolved against a target BTF (usually the running kernel's `/sys/kernel/btf/vmlinux`), the
//! way libbpf resolves them: candidates are the target types whose name equals the local root
//! type's name without its `___flavor` suffix; field accesses are matched member by member by
//! name (through anonymous members); the instruction's imm / offset / ld_imm64 value is patched.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::btf::{kind, kind_name, Btf, ExtCoreRelo};

/// `enum bpf_core_relo_kind`.
pub(crate) mod relo {
    pub const FIELD_BYTE_OFFSET: u32 = 0;
    pub const FIELD_BYTE_SIZE: u32 = 1;
    pub const FIELD_EXISTS: u32 = 2;
    pub const FIELD_SIGNED: u32 = 3;
    pub const FIELD_LSHIFT_U64: u32 = 4;
    pub const FIELD_RSHIFT_U64: u32 = 5;
    pub const TYPE_ID_LOCAL: u32 = 6;
    pub const TYPE_ID_TARGET: u32 = 7;
    pub const TYPE_EXISTS: u32 = 8;
    pub const TYPE_SIZE: u32 = 9;
    pub const ENUMVAL_EXISTS: u32 = 10;
    pub const ENUMVAL_VALUE: u32 = 11;
    pub const TYPE_MATCHES: u32 = 12;
}

pub(crate) fn relo_kind_name(k: u32) -> &'static str {
    match k {
        relo::FIELD_BYTE_OFFSET => "field_byte_offset",
        relo::FIELD_BYTE_SIZE => "field_byte_size",
        relo::FIELD_EXISTS => "field_exists",
        relo::FIELD_SIGNED => "field_signed",
        relo::FIELD_LSHIFT_U64 => "field_lshift_u64",
        relo::FIELD_RSHIFT_U64 => "field_rshift_u64",
        relo::TYPE_ID_LOCAL => "local_type_id",
        relo::TYPE_ID_TARGET => "target_type_id",
        relo::TYPE_EXISTS => "type_exists",
        relo::TYPE_SIZE => "type_size",
        relo::ENUMVAL_EXISTS => "enumval_exists",
        relo::ENUMVAL_VALUE => "enumval_value",
        relo::TYPE_MATCHES => "type_matches",
        _ => "unknown",
    }
}

/// A target BTF with a name index.
pub(crate) struct Target {
    pub btf: Btf,
    by_name: HashMap<String, Vec<u32>>,
}

impl Target {
    pub fn new(btf: Btf) -> Target {
        let by_name = btf
            .ids_by_name()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        Target { btf, by_name }
    }
}

impl Target {
    /// The ids of the types named `name`.
    pub fn ids_by_name(&self, name: &str) -> &[u32] {
        self.by_name.get(name).map_or(&[], |v| v.as_slice())
    }

    /// The BTF id libbpf attaches a tracing/LSM program with attach type `eat` to `name`.
    pub fn attach_btf_id(&self, eat: u32, name: &str) -> Option<u32> {
        // A trailing "/..." or sleepable suffix is not part of the name.
        let name = name.split('/').next().unwrap_or(name);
        let (full, kind_) = match eat {
            23 => (format!("btf_trace_{name}"), kind::TYPEDEF),
            27 | 43 => (format!("bpf_lsm_{name}"), kind::FUNC),
            28 => (format!("bpf_iter_{name}"), kind::FUNC),
            _ => (name.to_string(), kind::FUNC),
        };
        self.by_name
            .get(&full)?
            .iter()
            .copied()
            .find(|&id| self.btf.get(id).is_some_and(|t| t.kind == kind_))
    }
}

type Cache = Mutex<Option<(PathBuf, std::time::SystemTime, Arc<Target>)>>;
static CACHE: Cache = Mutex::new(None);

/// Reads and parses a target BTF file (cached per path and modification time).
pub(crate) fn load_target(path: &Path) -> Result<Arc<Target>, String> {
    let mtime = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .map_err(|e| e.to_string())?;
    if let Ok(guard) = CACHE.lock() {
        if let Some((p, t, tgt)) = guard.as_ref() {
            if p == path && *t == mtime {
                return Ok(Arc::clone(tgt));
            }
        }
    }
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    let btf = Btf::parse(&bytes).map_err(|e| format!("invalid BTF: {e}"))?;
    let tgt = Arc::new(Target::new(btf));
    if let Ok(mut guard) = CACHE.lock() {
        *guard = Some((path.to_path_buf(), mtime, Arc::clone(&tgt)));
    }
    Ok(tgt)
}

/// What happened to one relocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Applied,
    Poisoned,
}

fn essence(name: &str) -> &str {
    match name.find("___") {
        Some(p) => &name[..p],
        None => name,
    }
}

#[derive(Debug, Clone)]
enum Step {
    Array(u32),
    Member(String),
}

struct LocalSpec {
    first: u32,
    steps: Vec<Step>,
    bit_offset: u64,
    field_type: u32,
    bitfield: Option<u32>,
}

struct FieldMatch {
    bit_offset: u64,
    field_type: u32,
    bitfield: Option<u32>,
}

fn parse_access(s: &str) -> Result<Vec<u32>, String> {
    if s.is_empty() {
        return Err("empty access string".into());
    }
    s.split(':')
        .map(|p| {
            p.parse::<u32>()
                .map_err(|_| format!("access string {s:?} is not a list of numbers"))
        })
        .collect()
}

fn member_bits(kind_flag: bool, off: u64) -> (u64, Option<u32>) {
    if kind_flag {
        let size = (off >> 24) as u32;
        (off & 0x00ff_ffff, (size != 0).then_some(size))
    } else {
        (off, None)
    }
}

fn local_spec(btf: &Btf, root: u32, acc: &[u32]) -> Result<LocalSpec, String> {
    let Some((&first, rest)) = acc.split_first() else {
        return Err("empty access string".into());
    };
    let mut id = root;
    let size = btf.size_of(root).map_err(|e| e.0)?;
    let mut bit_offset = u64::from(first).saturating_mul(size).saturating_mul(8);
    let mut steps = Vec::new();
    let mut bitfield = None;
    for &ix in rest {
        let rid = btf.skip_mods_and_typedefs(id).map_err(|e| e.0)?;
        let t = btf.get(rid).ok_or("type id out of range")?;
        match t.kind {
            kind::STRUCT | kind::UNION => {
                let m = t.members.get(ix as usize).ok_or_else(|| {
                    format!(
                        "access index {ix} past the {} members of {} {}",
                        t.members.len(),
                        kind_name(t.kind),
                        btf.name(rid)
                    )
                })?;
                let (off, bf) = member_bits(t.kind_flag, m.offset);
                bit_offset += off;
                bitfield = bf;
                steps.push(Step::Member(btf.str_at(m.name_off).to_string()));
                id = m.type_id;
            }
            kind::ARRAY => {
                let elem = t.extra[0];
                let sz = btf.size_of(elem).map_err(|e| e.0)?;
                bit_offset += u64::from(ix).saturating_mul(sz).saturating_mul(8);
                bitfield = None;
                steps.push(Step::Array(ix));
                id = elem;
            }
            k => {
                return Err(format!(
                    "access index {ix} applied to a {} (type [{rid}])",
                    kind_name(k)
                ))
            }
        }
    }
    Ok(LocalSpec {
        first,
        steps,
        bit_offset,
        field_type: id,
        bitfield,
    })
}

/// Finds member `name` in composite `id`, descending into anonymous members.
fn find_member(btf: &Btf, id: u32, name: &str, depth: u32) -> Option<(u64, u32, Option<u32>)> {
    if depth > 32 {
        return None;
    }
    let rid = btf.skip_mods_and_typedefs(id).ok()?;
    let t = btf.get(rid)?;
    if !matches!(t.kind, kind::STRUCT | kind::UNION) {
        return None;
    }
    for m in &t.members {
        let (off, bf) = member_bits(t.kind_flag, m.offset);
        let mname = btf.str_at(m.name_off);
        if mname == name {
            return Some((off, m.type_id, bf));
        }
        if mname.is_empty() {
            if let Some((o, ty, b)) = find_member(btf, m.type_id, name, depth + 1) {
                return Some((off + o, ty, b));
            }
        }
    }
    None
}

fn fields_compat(local: &Btf, lid: u32, target: &Btf, tid: u32, depth: u32) -> bool {
    if depth > 32 {
        return false;
    }
    let (Ok(l), Ok(t)) = (
        local.skip_mods_and_typedefs(lid),
        target.skip_mods_and_typedefs(tid),
    ) else {
        return false;
    };
    let (Some(lt), Some(tt)) = (local.get(l), target.get(t)) else {
        return false;
    };
    let composite = |k| matches!(k, kind::STRUCT | kind::UNION);
    if composite(lt.kind) && composite(tt.kind) {
        return true;
    }
    let enumish = |k| matches!(k, kind::ENUM | kind::ENUM64);
    if lt.kind != tt.kind && !(enumish(lt.kind) && enumish(tt.kind)) {
        return false;
    }
    match lt.kind {
        kind::PTR | kind::FLOAT => true,
        kind::FWD | kind::ENUM | kind::ENUM64 => {
            essence(local.str_at(lt.name_off)) == essence(target.str_at(tt.name_off))
        }
        kind::INT => true,
        kind::ARRAY => fields_compat(local, lt.extra[0], target, tt.extra[0], depth + 1),
        _ => false,
    }
}

fn match_field(local: &Btf, spec: &LocalSpec, target: &Btf, cand: u32) -> Option<FieldMatch> {
    let size = target.size_of(cand).ok()?;
    let mut bit_offset = u64::from(spec.first).saturating_mul(size).saturating_mul(8);
    let mut id = cand;
    let mut bitfield = None;
    for step in &spec.steps {
        match step {
            Step::Array(ix) => {
                let rid = target.skip_mods_and_typedefs(id).ok()?;
                let t = target.get(rid)?;
                if t.kind != kind::ARRAY {
                    return None;
                }
                if t.extra[2] != 0 && *ix >= t.extra[2] {
                    return None;
                }
                let sz = target.size_of(t.extra[0]).ok()?;
                bit_offset += u64::from(*ix).saturating_mul(sz).saturating_mul(8);
                bitfield = None;
                id = t.extra[0];
            }
            // An anonymous local member: its named fields are found by the next name lookup.
            Step::Member(name) if name.is_empty() => continue,
            Step::Member(name) => {
                let (off, ty, bf) = find_member(target, id, name, 0)?;
                bit_offset += off;
                bitfield = bf;
                id = ty;
            }
        }
    }
    if !fields_compat(local, spec.field_type, target, id, 0) {
        return None;
    }
    Some(FieldMatch {
        bit_offset,
        field_type: id,
        bitfield,
    })
}

fn int_signed(btf: &Btf, id: u32) -> bool {
    let Ok(r) = btf.skip_mods_and_typedefs(id) else {
        return false;
    };
    match btf.get(r) {
        Some(t) if t.kind == kind::INT => (t.extra[0] >> 24) & 1 == 1,
        Some(t) if t.kind == kind::ENUM || t.kind == kind::ENUM64 => t.kind_flag,
        _ => false,
    }
}

/// Computes (byte offset, byte size, bit offset, bit size) of a field as libbpf does for loads.
fn field_geometry(btf: &Btf, m: &FieldMatch) -> Result<(u64, u64, u64, u64), String> {
    let sz = btf.size_of(m.field_type).map_err(|e| e.0)?;
    match m.bitfield {
        None => Ok((m.bit_offset / 8, sz, m.bit_offset, sz * 8)),
        Some(bits) => {
            let bits = u64::from(bits);
            let mut byte_sz = sz.max(1);
            let mut byte_off = m.bit_offset / 8 / byte_sz * byte_sz;
            while m.bit_offset + bits - byte_off * 8 > byte_sz * 8 {
                if byte_sz >= 8 {
                    return Err("bitfield cannot be loaded with one 8-byte access".into());
                }
                byte_sz *= 2;
                byte_off = m.bit_offset / 8 / byte_sz * byte_sz;
            }
            Ok((byte_off, byte_sz, m.bit_offset, bits))
        }
    }
}

fn field_value(kind_: u32, btf: &Btf, m: &FieldMatch) -> Result<u64, String> {
    let (byte_off, byte_sz, bit_off, bit_sz) = field_geometry(btf, m)?;
    Ok(match kind_ {
        relo::FIELD_BYTE_OFFSET => byte_off,
        relo::FIELD_BYTE_SIZE => byte_sz,
        relo::FIELD_EXISTS => 1,
        relo::FIELD_SIGNED => u64::from(int_signed(btf, m.field_type)),
        relo::FIELD_LSHIFT_U64 => 64u64.saturating_sub(bit_off + bit_sz - byte_off * 8),
        relo::FIELD_RSHIFT_U64 => 64u64.saturating_sub(bit_sz),
        _ => return Err(format!("relocation kind {kind_} is not a field relocation")),
    })
}

/// The value a relocation computes (`None`: no match in the target, poison) and, for a field
/// offset of a scalar, the (local, target) field sizes for the memory-access size adjustment.
type Computed = (Option<u64>, Option<(u64, u64)>);

/// The value the relocation computes, or `None` when the target has no match (poison).
/// `target` is `None` only for TYPE_ID_LOCAL, which needs no target.
fn compute(local: &Btf, r: &ExtCoreRelo, target: Option<&Target>) -> Result<Computed, String> {
    let access_str = local.str_at_checked(r.access_str_off).map_err(|e| e.0)?;
    let acc = parse_access(access_str)?;
    let lt = local
        .get(r.type_id)
        .filter(|_| r.type_id != 0)
        .ok_or_else(|| format!("local type id {} does not exist", r.type_id))?;
    if r.kind == relo::TYPE_ID_LOCAL {
        return Ok((Some(u64::from(r.type_id)), None));
    }
    let Some(target) = target else {
        return Err("needs a target BTF".into());
    };
    let tb = &target.btf;
    let local_name = essence(local.str_at(lt.name_off));
    if local_name.is_empty() {
        return Err(format!("local type [{}] is anonymous", r.type_id));
    }
    let cands: Vec<u32> = target
        .by_name
        .get(local_name)
        .map(|v| v.as_slice())
        .unwrap_or(&[])
        .iter()
        .copied()
        .filter(|&c| {
            tb.get(c).is_some_and(|t| {
                let composite = |k| matches!(k, kind::STRUCT | kind::UNION);
                let enumish = |k| matches!(k, kind::ENUM | kind::ENUM64);
                t.kind == lt.kind
                    || (composite(t.kind) && composite(lt.kind))
                    || (enumish(t.kind) && enumish(lt.kind))
                    || (lt.kind == kind::FWD && composite(t.kind))
            })
        })
        .collect();
    match r.kind {
        relo::FIELD_BYTE_OFFSET
        | relo::FIELD_BYTE_SIZE
        | relo::FIELD_EXISTS
        | relo::FIELD_SIGNED
        | relo::FIELD_LSHIFT_U64
        | relo::FIELD_RSHIFT_U64 => {
            let spec = local_spec(local, r.type_id, &acc)?;
            let local_m = FieldMatch {
                bit_offset: spec.bit_offset,
                field_type: spec.field_type,
                bitfield: spec.bitfield,
            };
            // The local value must be computable (validates the local spec) even though the
            // instruction is patched with the target's.
            field_value(r.kind, local, &local_m)?;
            let mut result: Option<(u64, FieldMatch)> = None;
            for c in cands {
                if let Some(m) = match_field(local, &spec, tb, c) {
                    let v = field_value(r.kind, tb, &m)?;
                    match &result {
                        Some((prev, _)) if *prev != v => {
                            return Err(format!("ambiguous: target candidates give {prev} and {v}"))
                        }
                        Some(_) => {}
                        None => result = Some((v, m)),
                    }
                }
            }
            // Memory-access size adjustment for plain (non-bitfield) scalar fields.
            let sizes = result.as_ref().and_then(|(_, m)| {
                if r.kind != relo::FIELD_BYTE_OFFSET
                    || m.bitfield.is_some()
                    || spec.bitfield.is_some()
                {
                    return None;
                }
                let scalar = |b: &Btf, id: u32| {
                    b.skip_mods_and_typedefs(id)
                        .ok()
                        .and_then(|x| b.get(x))
                        .is_some_and(|t| {
                            matches!(t.kind, kind::INT | kind::ENUM | kind::ENUM64 | kind::PTR)
                        })
                };
                if !scalar(local, spec.field_type) || !scalar(tb, m.field_type) {
                    return None;
                }
                Some((
                    local.size_of(spec.field_type).ok()?,
                    tb.size_of(m.field_type).ok()?,
                ))
            });
            match (result, r.kind) {
                (Some((v, _)), _) => Ok((Some(v), sizes)),
                (None, relo::FIELD_EXISTS) => Ok((Some(0), None)),
                (None, _) => Ok((None, None)),
            }
        }
        relo::TYPE_ID_TARGET | relo::TYPE_EXISTS | relo::TYPE_SIZE | relo::TYPE_MATCHES => {
            let c = cands.first().copied();
            match (r.kind, c) {
                (relo::TYPE_ID_TARGET, Some(c)) => Ok((Some(u64::from(c)), None)),
                (relo::TYPE_SIZE, Some(c)) => Ok((Some(tb.size_of(c).map_err(|e| e.0)?), None)),
                (relo::TYPE_EXISTS | relo::TYPE_MATCHES, c) => {
                    Ok((Some(u64::from(c.is_some())), None))
                }
                _ => Ok((None, None)),
            }
        }
        relo::ENUMVAL_EXISTS | relo::ENUMVAL_VALUE => {
            let lid = local.skip_mods_and_typedefs(r.type_id).map_err(|e| e.0)?;
            let le = local.get(lid).ok_or("local enum type out of range")?;
            let ix = acc.first().copied().unwrap_or(u32::MAX) as usize;
            let m = le
                .members
                .get(ix)
                .filter(|_| matches!(le.kind, kind::ENUM | kind::ENUM64))
                .ok_or_else(|| format!("enumerator index {ix} out of range"))?;
            let ename = essence(local.str_at(m.name_off));
            let mut found = None;
            for c in cands {
                if let Some(t) = tb.get(c) {
                    if let Some(tm) = t
                        .members
                        .iter()
                        .find(|tm| essence(tb.str_at(tm.name_off)) == ename)
                    {
                        let v = if t.kind == kind::ENUM {
                            // sign-extend 32-bit enumerators when the enum is signed
                            if t.kind_flag {
                                (tm.offset as u32 as i32) as i64 as u64
                            } else {
                                tm.offset & 0xffff_ffff
                            }
                        } else {
                            tm.offset
                        };
                        found = Some(v);
                        break;
                    }
                }
            }
            match (r.kind, found) {
                (relo::ENUMVAL_EXISTS, f) => Ok((Some(u64::from(f.is_some())), None)),
                (_, Some(v)) => Ok((Some(v), None)),
                _ => Ok((None, None)),
            }
        }
        k => Err(format!("unknown relocation kind {k}")),
    }
}

/// The 8 bytes of the instruction at byte `at` of `code`, if they are all there.
fn slot(code: &mut [u8], at: usize) -> Option<&mut [u8; 8]> {
    code.get_mut(at..at.checked_add(8)?)?.try_into().ok()
}

fn poison(code: &mut [u8], at: usize) {
    if let Some(s) = slot(code, at) {
        let imm = crate::CORE_POISON_IMM.to_le_bytes();
        *s = [0x85, 0, 0, 0, imm[0], imm[1], imm[2], imm[3]];
    }
}

/// Writes `v` as the imm of the instruction at byte `at`.
fn set_imm(code: &mut [u8], at: usize, v: u32) {
    if let Some(s) = slot(code, at) {
        let b = v.to_le_bytes();
        s[4] = b[0];
        s[5] = b[1];
        s[6] = b[2];
        s[7] = b[3];
    }
}

/// Describes a relocation for error messages.
pub(crate) fn describe(local: &Btf, r: &ExtCoreRelo) -> String {
    format!(
        "kind {}, type [{}] {}, access {}",
        relo_kind_name(r.kind),
        r.type_id,
        local.name(r.type_id),
        local.str_at(r.access_str_off)
    )
}

/// Does this relocation need a target BTF?
pub(crate) fn needs_target(r: &ExtCoreRelo) -> bool {
    r.kind != relo::TYPE_ID_LOCAL
}

/// Applies one relocation to the section code `code`.
pub(crate) fn apply(
    code: &mut [u8],
    local: &Btf,
    r: &ExtCoreRelo,
    target: Option<&Target>,
) -> Result<Outcome, String> {
    let at = r.insn_off as usize;
    if !at.is_multiple_of(8) || at + 8 > code.len() {
        return Err(format!(
            "instruction offset {:#x} is not an instruction of the {}-byte section",
            r.insn_off,
            code.len()
        ));
    }
    let (val, sizes) = compute(local, r, target)?;
    let op = code.get(at).copied().unwrap_or(0);
    let Some(val) = val else {
        poison(code, at);
        if op == 0x18 {
            // keep the second slot of a poisoned ld_imm64 harmless
            if let Some(s) = slot(code, at + 8) {
                *s = [0; 8];
            }
        }
        return Ok(Outcome::Poisoned);
    };
    let class = op & 0x07;
    match class {
        // ALU / ALU64 with an immediate operand
        0x04 | 0x07 if op & 0x08 == 0 => {
            if val > u64::from(u32::MAX) && (val as i64) < i64::from(i32::MIN) {
                return Err(format!("value {val:#x} does not fit the 32-bit immediate"));
            }
            set_imm(code, at, val as u32);
        }
        // LDX / ST / STX: the field offset goes into `off`
        0x01..=0x03 => {
            let mode = op & 0xe0;
            if mode != 0x60 && mode != 0x80 {
                return Err(format!(
                    "cannot relocate memory instruction with opcode {op:#04x}"
                ));
            }
            if r.kind != relo::FIELD_BYTE_OFFSET {
                return Err(format!(
                    "{} relocation on a memory instruction (opcode {op:#04x})",
                    relo_kind_name(r.kind)
                ));
            }
            let off = i16::try_from(val)
                .map_err(|_| format!("field offset {val} does not fit the 16-bit insn offset"))?;
            if let Some(s) = slot(code, at) {
                [s[2], s[3]] = off.to_le_bytes();
            }
            if let Some((orig, new)) = sizes {
                let cur = match op & 0x18 {
                    0x00 => 4,
                    0x08 => 2,
                    0x10 => 1,
                    _ => 8,
                };
                if orig != new && cur == orig {
                    let bits = match new {
                        1 => Some(0x10),
                        2 => Some(0x08),
                        4 => Some(0x00),
                        8 => Some(0x18),
                        _ => None,
                    };
                    if let (Some(b), Some(s)) = (bits, slot(code, at)) {
                        s[0] = (op & !0x18) | b;
                    }
                }
            }
        }
        // LD: only ld_imm64
        0x00 if op == 0x18 => {
            if at + 16 > code.len() {
                return Err("ld_imm64 at the end of the section has no second slot".into());
            }
            set_imm(code, at, val as u32);
            set_imm(code, at + 8, (val >> 32) as u32);
        }
        _ => return Err(format!("cannot relocate instruction with opcode {op:#04x}")),
    }
    Ok(Outcome::Applied)
}
