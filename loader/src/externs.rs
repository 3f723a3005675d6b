//! Extern variables and functions, resolved as libbpf resolves them.
//!
//! clang leaves `extern` declarations undefined in the ELF symbol table and
//! describes them in BTF: variables in the DATASEC `.kconfig` (kernel
//! configuration values, `LINUX_KERNEL_VERSION`), variables in `.ksyms`
//! (kernel symbols: an address, or a typed kernel variable), and functions
//! (kfuncs) called with `BPF_PSEUDO_KFUNC_CALL`.
//!
//! - `.kconfig` values live in a read-only, frozen global-data map named
//!   `.kconfig` (one entry), laid out by alignment as libbpf lays it out;
//!   each reference becomes a `BPF_PSEUDO_MAP_IDX_VALUE` load of its offset.
//!   Values come from the running kernel's configuration
//!   (`/proc/config.gz`, else `/boot/config-<release>`), a file the caller
//!   names, or values the caller gives ([`crate::LoadOptions`]).
//! - Untyped `.ksyms` (`extern const void sym __ksym`) get the symbol's
//!   address from `/proc/kallsyms`; typed ones become `BPF_PSEUDO_BTF_ID`
//!   loads of the variable's id in the target (vmlinux) BTF.
//! - kfunc calls get the function's id in the target BTF.
//!
//! A weak extern that cannot be resolved reads as zero (an address of 0,
//! so `bpf_ksym_exists()` is false); a strong one is an error naming it.

use std::collections::HashMap;
use std::io::Read;

use crate::btf::{kind, Btf};
use crate::core::Target;
use crate::elf::Elf;
use crate::LoadError;

/// `BPF_VAR_GLOBAL_ALLOCATED`: the linkage the kernel accepts in a DATASEC.
const VAR_GLOBAL_ALLOCATED: u32 = 1;
/// `STB_WEAK`.
const STB_WEAK: u8 = 2;

/// What one extern resolved to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Resolved {
    /// An offset into the `.kconfig` map.
    Kconfig { off: u32 },
    /// An address (`.ksyms` without a type); 0 for a missing weak symbol.
    Address(u64),
    /// A typed kernel variable: its id in the target BTF (`BPF_PSEUDO_BTF_ID`),
    /// `None` for a missing weak one (the load becomes a NULL).
    KernelVar(Option<u32>),
    /// A kfunc: its id in the target BTF, `None` for a missing weak one.
    Kfunc(Option<u32>),
    /// A strong extern that cannot be resolved, and why: an error for the
    /// programs that use it only, so the object's other programs still load.
    Missing(String),
}

/// The object's externs, by symbol name, and the `.kconfig` map's contents.
#[derive(Debug, Default)]
pub(crate) struct Externs {
    pub by_name: HashMap<String, Resolved>,
    /// The `.kconfig` map's value (None: the object has no kconfig externs).
    pub kconfig: Option<Vec<u8>>,
    /// The BTF id of the `.kconfig` DATASEC (the map's value type).
    pub kconfig_datasec: u32,
}

/// How a `.kconfig` extern's C type stores its value (libbpf's `kcfg_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KcfgType {
    /// `bool`: y is 1, n is 0.
    Bool,
    /// `char`: the letter y, m or n.
    Char,
    /// `enum libbpf_tristate`: y 1, n 0, m 2.
    Tristate,
    /// An integer of `size` bytes.
    Int { signed: bool },
    /// `char[N]`: a quoted string, NUL-padded.
    CharArray,
}

struct KcfgVar {
    name: String,
    weak: bool,
    ty: KcfgType,
    size: u32,
    align: u32,
    /// The VAR's type id and its DATASEC entry index.
    var_id: u32,
}

/// Where kconfig values come from, from [`crate::LoadOptions`].
pub(crate) struct KconfigSource<'a> {
    pub path: Option<&'a std::path::Path>,
    pub values: &'a [(String, String)],
}

fn ext_err(name: &str, msg: impl Into<String>) -> LoadError {
    LoadError::Extern {
        name: name.to_string(),
        msg: msg.into(),
    }
}

/// Resolves every undefined symbol the object describes as an extern.
pub(crate) fn collect(
    elf: &Elf,
    btf: Option<&mut Btf>,
    source: &KconfigSource<'_>,
    target: &mut dyn FnMut() -> Result<Option<std::sync::Arc<Target>>, LoadError>,
) -> Result<Externs, LoadError> {
    let undefined: Vec<(&str, bool)> = elf
        .symbols
        .iter()
        .filter(|y| y.shndx == 0 && !y.name.is_empty() && !y.is_section())
        .map(|y| (y.name.as_str(), y.bind == STB_WEAK))
        .collect();
    let mut out = Externs::default();
    if undefined.is_empty() {
        return Ok(out);
    }
    let Some(btf) = btf else {
        // Without BTF nothing says what an undefined symbol is; the linker
        // reports each reference to one.
        return Ok(out);
    };
    let weak_of = |name: &str| undefined.iter().find(|(n, _)| *n == name).map(|(_, w)| *w);

    // .kconfig: lay the variables out, fill them, fix the DATASEC up.
    let mut kcfg = Vec::new();
    let mut kcfg_datasec = None;
    let mut ksyms_vars = Vec::new();
    // kfuncs: the FUNCs of the .ksyms DATASEC (an extern function declared
    // without __ksym is no kfunc, and stays an undefined call).
    let mut kfuncs: Vec<(String, bool)> = Vec::new();
    for (id, t) in btf.types.iter().enumerate() {
        if t.kind != kind::DATASEC {
            continue;
        }
        let sec = btf.str_at(t.name_off);
        if sec != ".kconfig" && sec != ".ksyms" {
            continue;
        }
        if sec == ".kconfig" {
            kcfg_datasec = Some(id as u32);
        }
        for vs in &t.secinfo {
            let Some(v) = btf.get(vs.type_id) else {
                continue;
            };
            let name = btf.str_at(v.name_off).to_string();
            let Some(weak) = weak_of(&name) else {
                continue;
            };
            match (sec, v.kind) {
                (".kconfig", kind::VAR) => {
                    let (ty, size, align) = kcfg_type(btf, v.size_or_type)
                        .map_err(|m| ext_err(&name, format!("in .kconfig: {m}")))?;
                    kcfg.push(KcfgVar {
                        name,
                        weak,
                        ty,
                        size,
                        align,
                        var_id: vs.type_id,
                    });
                }
                (".ksyms", kind::VAR) => {
                    let typed = btf
                        .skip_mods_and_typedefs(v.size_or_type)
                        .map(|t| t != 0)
                        .unwrap_or(false);
                    ksyms_vars.push((name, weak, typed));
                }
                (".ksyms", kind::FUNC) => kfuncs.push((name, weak)),
                _ => {}
            }
        }
    }
    if !kcfg.is_empty() {
        let config = read_config(source, kcfg.iter().any(|v| v.name.starts_with("CONFIG_")))?;
        // libbpf's order: larger alignment first, then by name.
        kcfg.sort_by(|a, b| b.align.cmp(&a.align).then_with(|| a.name.cmp(&b.name)));
        let mut off = 0u32;
        let mut offs = Vec::new();
        for v in &kcfg {
            off = off.next_multiple_of(v.align.max(1));
            offs.push(off);
            off += v.size;
        }
        let mut value = vec![0u8; off as usize];
        for (v, &o) in kcfg.iter().zip(&offs) {
            let text = special_value(&v.name).or_else(|| config.get(&v.name).cloned());
            match text {
                Some(text) => {
                    let bytes = encode(v, &text)
                        .map_err(|m| ext_err(&v.name, format!("kconfig value `{text}`: {m}")))?;
                    let dst = value
                        .get_mut(o as usize..(o as usize).saturating_add(bytes.len()))
                        .ok_or_else(|| {
                            ext_err(&v.name, format!("kconfig value at offset {o} does not fit the {off}-byte .kconfig map"))
                        })?;
                    dst.copy_from_slice(&bytes);
                }
                None if v.weak => {}
                None => {
                    out.by_name.insert(
                        v.name.clone(),
                        Resolved::Missing(
                            "not found in the kernel configuration (declare it __weak to default to 0, or give its value: ironbpf --kconfig NAME=VALUE)".into(),
                        ),
                    );
                    continue;
                }
            }
            out.by_name
                .insert(v.name.clone(), Resolved::Kconfig { off: o });
        }
        if let Some(ds) = kcfg_datasec {
            fix_kconfig_datasec(btf, ds, &kcfg, &offs, off);
            out.kconfig_datasec = ds;
        }
        out.kconfig = Some(value);
    }

    if !ksyms_vars.is_empty() || !kfuncs.is_empty() {
        let kallsyms = if ksyms_vars.iter().any(|(_, _, typed)| !typed) {
            read_kallsyms()
        } else {
            HashMap::new()
        };
        let tgt = if ksyms_vars.iter().any(|(_, _, typed)| *typed) || !kfuncs.is_empty() {
            target()?
        } else {
            None
        };
        let find = |name: &str, k: u32| -> Option<u32> {
            let t = tgt.as_ref()?;
            t.ids_by_name(name)
                .iter()
                .copied()
                .find(|&id| t.btf.get(id).is_some_and(|x| x.kind == k))
        };
        for (name, weak, typed) in ksyms_vars {
            let r = if typed {
                match find(&name, kind::VAR) {
                    None if !weak => Resolved::Missing(
                        "typed __ksym: no variable of this name in the target (vmlinux) BTF".into(),
                    ),
                    id => Resolved::KernelVar(id),
                }
            } else {
                match kallsyms.get(&name) {
                    Some(&a) => Resolved::Address(a),
                    None if weak => Resolved::Address(0),
                    None => Resolved::Missing(
                        "__ksym: not in /proc/kallsyms (reading addresses there needs root)".into(),
                    ),
                }
            };
            out.by_name.insert(name, r);
        }
        for (name, weak) in kfuncs {
            let r = match find(&name, kind::FUNC) {
                None if !weak => Resolved::Missing(
                    "kfunc: no function of this name in the target (vmlinux) BTF".into(),
                ),
                id => Resolved::Kfunc(id),
            };
            out.by_name.insert(name, r);
        }
    }
    Ok(out)
}

/// The storage class, size and alignment of a `.kconfig` variable's type.
fn kcfg_type(btf: &Btf, type_id: u32) -> Result<(KcfgType, u32, u32), String> {
    let id = btf.skip_mods_and_typedefs(type_id).map_err(|e| e.0)?;
    let t = btf
        .get(id)
        .ok_or_else(|| format!("type [{id}] does not exist"))?;
    match t.kind {
        kind::INT => {
            let enc = t.extra[0];
            let (signed, is_char, is_bool) =
                (enc >> 24 & 1 != 0, enc >> 24 & 2 != 0, enc >> 24 & 4 != 0);
            let size = t.size_or_type;
            let ty = if is_bool && size == 1 {
                KcfgType::Bool
            } else if is_char && size == 1 {
                KcfgType::Char
            } else if matches!(size, 1 | 2 | 4 | 8) {
                KcfgType::Int { signed }
            } else {
                return Err(format!("an integer of {size} bytes is not a kconfig type"));
            };
            Ok((ty, size, size))
        }
        kind::ENUM if btf.str_at(t.name_off) == "libbpf_tristate" => {
            Ok((KcfgType::Tristate, t.size_or_type, t.size_or_type))
        }
        kind::ARRAY => {
            let elem = btf.skip_mods_and_typedefs(t.extra[0]).map_err(|e| e.0)?;
            let is_char = btf
                .get(elem)
                .is_some_and(|e| e.kind == kind::INT && e.size_or_type == 1);
            if !is_char {
                return Err("an array of anything but char is not a kconfig type".into());
            }
            Ok((KcfgType::CharArray, t.extra[2], 1))
        }
        k => Err(format!(
            "a {} is not a kconfig type (bool, char, tristate, integers and char arrays are)",
            crate::btf::kind_name(k)
        )),
    }
}

/// libbpf's built-in kconfig values, which no configuration file holds.
fn special_value(name: &str) -> Option<String> {
    match name {
        "LINUX_KERNEL_VERSION" => Some(kernel_version_code().to_string()),
        // Linux 6.18 has BPF cookies and (on x86-64) the syscall wrapper.
        "LINUX_HAS_BPF_COOKIE" | "LINUX_HAS_SYSCALL_WRAPPER" => Some("y".into()),
        _ => None,
    }
}

/// `KERNEL_VERSION(a, b, c)` of the running kernel, as libbpf computes it
/// from its release (the patch level capped at 255).
fn kernel_version_code() -> u32 {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    version_code(release.trim())
}

fn version_code(release: &str) -> u32 {
    let mut parts = release
        .split(|c: char| !c.is_ascii_digit())
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let (a, b, c) = (
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
    );
    (a << 16) + (b.min(255) << 8) + c.min(255)
}

/// The configuration as NAME -> value text (`y`, `m`, `n`, `250`, `"str"`).
fn read_config(
    source: &KconfigSource<'_>,
    needed: bool,
) -> Result<HashMap<String, String>, LoadError> {
    let mut map = HashMap::new();
    if needed {
        let text = match source.path {
            Some(p) => Some(read_config_file(p).map_err(|e| LoadError::Io {
                path: p.display().to_string(),
                msg: e,
            })?),
            None => {
                let release =
                    std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
                let boot = format!("/boot/config-{}", release.trim());
                ["/proc/config.gz", boot.as_str()]
                    .iter()
                    .find_map(|p| read_config_file(std::path::Path::new(p)).ok())
            }
        };
        for line in text.as_deref().unwrap_or("").lines() {
            let line = line.trim();
            if let Some(rest) = line.strip_prefix("# ") {
                if let Some(name) = rest.strip_suffix(" is not set") {
                    map.insert(name.to_string(), "n".to_string());
                }
            } else if let Some((k, v)) = line.split_once('=') {
                if k.starts_with("CONFIG_") {
                    map.insert(k.to_string(), v.to_string());
                }
            }
        }
    }
    for (k, v) in source.values {
        map.insert(k.clone(), v.clone());
    }
    Ok(map)
}

fn read_config_file(path: &std::path::Path) -> Result<String, String> {
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut s = String::new();
        flate2::read::GzDecoder::new(&bytes[..])
            .read_to_string(&mut s)
            .map_err(|e| format!("gzip: {e}"))?;
        Ok(s)
    } else {
        String::from_utf8(bytes).map_err(|e| e.to_string())
    }
}

/// One value in its C type's bytes (little-endian).
fn encode(v: &KcfgVar, text: &str) -> Result<Vec<u8>, String> {
    let tri = match text {
        "y" => Some(1u8),
        "m" => Some(2),
        "n" => Some(0),
        _ => None,
    };
    match v.ty {
        KcfgType::Bool => match tri {
            Some(1) => Ok(vec![1]),
            Some(0) => Ok(vec![0]),
            Some(_) => Err("a module (m) cannot be a bool; declare it enum libbpf_tristate".into()),
            None => Err("a bool takes y or n".into()),
        },
        KcfgType::Char => match tri {
            Some(_) => Ok(text.as_bytes().get(..1).unwrap_or(&[0]).to_vec()),
            None => Err("a char takes y, m or n".into()),
        },
        KcfgType::Tristate => match tri {
            Some(t) => {
                let mut b = vec![0u8; v.size.max(1) as usize];
                b.insert(0, t);
                b.truncate(v.size.max(1) as usize);
                Ok(b)
            }
            None => Err("a tristate takes y, m or n".into()),
        },
        KcfgType::CharArray => {
            let s = text
                .strip_prefix('"')
                .and_then(|s| s.strip_suffix('"'))
                .ok_or("a char array takes a quoted string")?;
            let mut b = s.as_bytes().to_vec();
            b.truncate(v.size.saturating_sub(1) as usize);
            b.resize(v.size as usize, 0);
            Ok(b)
        }
        KcfgType::Int { signed } => {
            if let Some(t) = tri {
                // libbpf lets y/n/m fill integers too.
                let mut b = vec![0u8; v.size.max(1) as usize];
                b.insert(0, t);
                b.truncate(v.size.max(1) as usize);
                return Ok(b);
            }
            let (neg, digits) = match text.strip_prefix('-') {
                Some(d) => (true, d),
                None => (false, text),
            };
            let n = match digits
                .strip_prefix("0x")
                .or_else(|| digits.strip_prefix("0X"))
            {
                Some(h) => u64::from_str_radix(h, 16),
                None => digits.parse::<u64>(),
            }
            .map_err(|_| "not a number".to_string())?;
            if !(1..=8).contains(&v.size) {
                return Err(format!(
                    "an integer of {} bytes cannot hold a kconfig value (1 to 8)",
                    v.size
                ));
            }
            let bits = v.size * 8;
            let fits = if neg {
                signed && n <= 1u64 << (bits - 1)
            } else if signed {
                n < 1u64 << (bits - 1)
            } else {
                bits == 64 || n < 1u64 << bits
            };
            if !fits {
                return Err(format!(
                    "does not fit in a{} {}-byte integer",
                    if signed { " signed" } else { "n unsigned" },
                    v.size
                ));
            }
            let n = if neg { n.wrapping_neg() } else { n };
            Ok(n.to_le_bytes()
                .get(..v.size as usize)
                .unwrap_or_default()
                .to_vec())
        }
    }
}

/// Gives the `.kconfig` DATASEC the layout of the map and the linkage the
/// kernel accepts, so that the object's BTF still loads.
fn fix_kconfig_datasec(btf: &mut Btf, ds: u32, vars: &[KcfgVar], offs: &[u32], size: u32) {
    let Some(t) = btf.get(ds).cloned() else {
        return;
    };
    let mut entries: Vec<(u32, u32, u32)> = t
        .secinfo
        .iter()
        .map(|e| {
            let off = vars
                .iter()
                .zip(offs)
                .find(|(v, _)| v.var_id == e.type_id)
                .map_or(0, |(_, &o)| o);
            (e.type_id, off, e.size)
        })
        .collect();
    entries.sort_by_key(|e| e.1);
    btf.patch_u32(t.raw_off + 8, size);
    for (k, (id, off, sz)) in entries.iter().enumerate() {
        let base = t.raw_off + 12 + k * 12;
        btf.patch_u32(base, *id);
        btf.patch_u32(base + 4, *off);
        btf.patch_u32(base + 8, *sz);
        if let Some(v) = btf.get(*id).filter(|v| v.kind == kind::VAR) {
            let at = v.raw_off + 12;
            btf.patch_u32(at, VAR_GLOBAL_ALLOCATED);
        }
    }
}

/// Symbol addresses from `/proc/kallsyms` (all zero for a reader without
/// CAP_SYSLOG, which the kernel shows as 0: such symbols count as missing).
fn read_kallsyms() -> HashMap<String, u64> {
    let text = std::fs::read_to_string("/proc/kallsyms").unwrap_or_default();
    let mut map = HashMap::new();
    for line in text.lines() {
        let mut f = line.split_whitespace();
        let (Some(addr), Some(_), Some(name)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        if let Ok(a) = u64::from_str_radix(addr, 16) {
            if a != 0 {
                map.entry(name.to_string()).or_insert(a);
            }
        }
    }
    map
}

/// `BTF_FUNC_GLOBAL`.
const FUNC_GLOBAL: u32 = 1;
/// `BTF_FUNC_EXTERN`.
const FUNC_EXTERN: u32 = 2;

/// The object's BTF as the kernel is given it, with its extern functions
/// rewritten as libbpf rewrites them (`bpf_object__collect_externs`): the
/// kernel refuses a FUNC of extern linkage ("Invalid func linkage"), an
/// unnamed parameter of a non-static one, and a DATASEC entry that is no
/// VAR, and would then load every program without BTF. Each extern FUNC
/// becomes global with its unnamed parameters named; in `.ksyms`, the
/// FUNC entries point to one added `int` VAR and every entry is an
/// allocated 4-byte `int` at the next offset. Types keep their ids (the
/// new ones come last), so func_info and map type ids are unchanged.
pub(crate) fn btf_for_kernel(btf: &Btf) -> Vec<u8> {
    let mut raw = btf.raw.clone();
    let mut patch = |off: usize, v: u32| {
        if let Some(b) = off.checked_add(4).and_then(|e| raw.get_mut(off..e)) {
            b.copy_from_slice(&v.to_le_bytes());
        }
    };
    let externs: Vec<&crate::btf::BtfType> = btf
        .types
        .iter()
        .filter(|t| t.kind == kind::FUNC && t.vlen == FUNC_EXTERN)
        .collect();
    if externs.is_empty() {
        return raw;
    }
    let field = |at: usize| -> usize {
        btf.raw
            .get(at..at + 4)
            .and_then(|b| b.try_into().ok())
            .map_or(0, |b: [u8; 4]| u32::from_le_bytes(b) as usize)
    };
    let (hdr_len, type_len, str_off, str_len) = (field(4), field(12), field(16), field(20));
    // The added types' names: appended to the string section.
    let int_name = str_len as u32;
    let var_name = int_name + 4;
    let n = btf.types.len() as u32;
    let (int_id, var_id) = (n, n + 1);
    for f in &externs {
        patch(f.raw_off + 4, (kind::FUNC << 24) | FUNC_GLOBAL);
        let Some(proto) = btf.get(f.size_or_type) else {
            continue;
        };
        for (k, p) in proto.members.iter().enumerate() {
            if p.type_id != 0 && p.name_off == 0 {
                patch(proto.raw_off + 12 + 8 * k, var_name);
            }
        }
    }
    for t in &btf.types {
        if t.kind != kind::DATASEC || btf.str_at(t.name_off) != ".ksyms" {
            continue;
        }
        for (k, e) in t.secinfo.iter().enumerate() {
            let at = t.raw_off + 12 + 12 * k;
            let is_func = btf.get(e.type_id).is_some_and(|v| v.kind == kind::FUNC);
            if is_func {
                patch(at, var_id);
            } else if let Some(v) = btf.get(e.type_id).filter(|v| v.kind == kind::VAR) {
                patch(v.raw_off + 8, int_id);
                patch(v.raw_off + 12, VAR_GLOBAL_ALLOCATED);
            }
            patch(at + 4, 4 * k as u32);
            patch(at + 8, 4);
        }
        patch(t.raw_off + 8, 4 * t.secinfo.len() as u32);
    }
    // `int` (4 bytes, signed) and `VAR dummy_ksym` of it, after the
    // last type; their names after the last string.
    let mut added = Vec::new();
    for w in [int_name, kind::INT << 24, 4, (1 << 24) | 32] {
        added.extend_from_slice(&w.to_le_bytes());
    }
    for w in [var_name, kind::VAR << 24, int_id, VAR_GLOBAL_ALLOCATED] {
        added.extend_from_slice(&w.to_le_bytes());
    }
    let types_at = hdr_len + field(8);
    let strs = hdr_len + str_off;
    let (Some(types), Some(strings)) = (
        raw.get(types_at..types_at + type_len).map(<[u8]>::to_vec),
        raw.get(strs..strs + str_len).map(<[u8]>::to_vec),
    ) else {
        return raw;
    };
    let mut out = raw.get(..hdr_len).map(<[u8]>::to_vec).unwrap_or_default();
    let new_type_len = (types.len() + added.len()) as u32;
    let new_str_len = (strings.len() + b"int\0dummy_ksym\0".len()) as u32;
    for (at, v) in [
        (8, 0),
        (12, new_type_len),
        (16, new_type_len),
        (20, new_str_len),
    ] {
        if let Some(b) = out.get_mut(at..at + 4) {
            b.copy_from_slice(&v.to_le_bytes());
        }
    }
    out.extend_from_slice(&types);
    out.extend_from_slice(&added);
    out.extend_from_slice(&strings);
    out.extend_from_slice(b"int\0dummy_ksym\0");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_codes_follow_libbpf() {
        assert_eq!(version_code("6.18.44-fc-v1045"), (6 << 16) + (18 << 8) + 44);
        assert_eq!(version_code("5.4.300"), (5 << 16) + (4 << 8) + 255);
        assert_eq!(version_code("6.1"), (6 << 16) + (1 << 8));
    }

    fn var(ty: KcfgType, size: u32) -> KcfgVar {
        KcfgVar {
            name: "CONFIG_X".into(),
            weak: false,
            ty,
            size,
            align: size,
            var_id: 1,
        }
    }

    #[test]
    fn values_are_encoded_in_their_c_type() {
        assert_eq!(encode(&var(KcfgType::Bool, 1), "y").unwrap(), [1]);
        assert!(encode(&var(KcfgType::Bool, 1), "m").is_err());
        assert_eq!(encode(&var(KcfgType::Char, 1), "m").unwrap(), [b'm']);
        assert_eq!(
            encode(&var(KcfgType::Tristate, 4), "m").unwrap(),
            [2, 0, 0, 0]
        );
        assert_eq!(
            encode(&var(KcfgType::Int { signed: false }, 4), "250").unwrap(),
            250u32.to_le_bytes()
        );
        assert_eq!(
            encode(&var(KcfgType::Int { signed: true }, 2), "-2").unwrap(),
            (-2i16).to_le_bytes()
        );
        assert_eq!(
            encode(&var(KcfgType::Int { signed: false }, 8), "0x10").unwrap(),
            16u64.to_le_bytes()
        );
        assert!(encode(&var(KcfgType::Int { signed: false }, 1), "256").is_err());
        assert!(encode(&var(KcfgType::Int { signed: true }, 1), "128").is_err());
        assert_eq!(
            encode(&var(KcfgType::CharArray, 4), "\"abcdef\"").unwrap(),
            *b"abc\0"
        );
        assert!(encode(&var(KcfgType::CharArray, 4), "abc").is_err());
    }
}
