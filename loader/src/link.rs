//! The loader proper: reads the object, applies CO-RE to the code sections, then links each
//! program (entry function + called subprograms), rewriting map references and call offsets.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use object::elf;

use crate::btf::{kind, Btf, BtfExt};
use crate::core::{self, Outcome, Target};
use crate::elf::{Elf, Section};
use crate::externs::{self, Resolved};
use crate::maps::{self, MapIndex};
use crate::progtype;
use crate::{
    FuncInfo, LineInfo, LoadError, LoadOptions, MapDef, Object, Program, RefusedProgram,
    BPF_PSEUDO_CALL, BPF_PSEUDO_FUNC, BPF_PSEUDO_MAP_IDX, BPF_PSEUDO_MAP_IDX_VALUE,
};

const INSN: usize = 8;

/// `src_reg` of an `ld_imm64` of a kernel variable's BTF id.
const BPF_PSEUDO_BTF_ID: u8 = 3;
/// `src_reg` of a call to a kfunc by BTF id.
const BPF_PSEUDO_KFUNC_CALL: u8 = 2;

/// The object's resolved externs and the `.kconfig` map's index.
struct Externs {
    resolved: externs::Externs,
    kconfig_map: Option<usize>,
}

/// A function inside a code section.
#[derive(Debug, Clone)]
struct Func {
    name: String,
    start: usize,
    end: usize,
    /// Entry point of a program (a function in a non-`.text` code section).
    is_prog: bool,
}

/// A code section after CO-RE.
struct Code {
    code: Vec<u8>,
    funcs: Vec<Func>,
    /// Relocations by offset.
    rels: HashMap<u64, crate::elf::Rel>,
    /// CO-RE outcomes by instruction offset.
    core: Vec<(usize, Outcome)>,
}

fn set_stage(stage: &RefCell<String>, s: &str) {
    if let Ok(mut st) = stage.try_borrow_mut() {
        st.clear();
        st.push_str(s);
    }
}

/// The most instructions a linked program may have: the kernel's
/// `BPF_COMPLEXITY_LIMIT_INSNS`.
pub(crate) const MAX_PROGRAM_INSNS: usize = 1_000_000;
/// The largest `.BTF` or `.BTF.ext` section: the kernel's `BTF_MAX_SIZE`.
pub(crate) const MAX_BTF_BYTES: usize = 16 << 20;

/// Loads an object. With `refused`, a program that cannot be loaded by itself (its section
/// name gives no type, or it cannot be linked) is recorded there and the others still load;
/// without it, the first such program fails the whole object.
pub(crate) fn load(
    bytes: &[u8],
    opts: &LoadOptions,
    stage: &RefCell<String>,
    mut refused: Option<&mut Vec<RefusedProgram>>,
) -> Result<Object, LoadError> {
    set_stage(stage, "ELF");
    let elf = Elf::parse(bytes)?;

    set_stage(stage, "license");
    let license = match elf.section_by_name("license") {
        Some(s) => {
            let end = s.data.iter().position(|&b| b == 0).unwrap_or(s.data.len());
            String::from_utf8_lossy(s.data.get(..end).unwrap_or_default()).into_owned()
        }
        None => String::new(),
    };
    set_stage(stage, "version");
    let kern_version = match elf.section_by_name("version") {
        Some(s) => {
            let &[a, b, c, d] = &s.data[..] else {
                return Err(LoadError::Section {
                    section: "version".into(),
                    msg: format!(
                        "size {} is not 4 bytes (a u32 kernel version)",
                        s.data.len()
                    ),
                });
            };
            Some(u32::from_le_bytes([a, b, c, d]))
        }
        None => None,
    };

    set_stage(stage, ".BTF");
    for name in [".BTF", ".BTF.ext"] {
        if let Some(s) = elf
            .section_by_name(name)
            .filter(|s| s.data.len() > MAX_BTF_BYTES)
        {
            return Err(LoadError::Btf {
                section: name.into(),
                msg: format!(
                    "{} bytes, more than the kernel's {MAX_BTF_BYTES} (BTF_MAX_SIZE)",
                    s.data.len()
                ),
            });
        }
    }
    let mut btf = match elf.section_by_name(".BTF") {
        Some(s) => Some(Btf::parse(&s.data).map_err(|e| LoadError::Btf {
            section: ".BTF".into(),
            msg: e.0,
        })?),
        None => None,
    };
    set_stage(stage, ".BTF.ext");
    let ext = match (elf.section_by_name(".BTF.ext"), btf.as_ref()) {
        (Some(s), Some(b)) => Some(BtfExt::parse(&s.data, b).map_err(|e| LoadError::Btf {
            section: ".BTF.ext".into(),
            msg: e.0,
        })?),
        _ => None,
    };
    if let Some(b) = btf.as_mut() {
        fixup_btf(b, &elf);
    }

    set_stage(stage, "maps");
    let (mut maps, map_index) = maps::collect(&elf, btf.as_ref())?;

    // Code sections: functions, relocations, CO-RE.
    let mut codes: HashMap<usize, Code> = HashMap::new();
    let mut target: Option<Option<Arc<Target>>> = None;

    set_stage(stage, "externs");
    let source = externs::KconfigSource {
        path: opts.kconfig_path.as_deref(),
        values: &opts.kconfig_values,
    };
    let mut externs = externs::collect(&elf, btf.as_mut(), &source, &mut || {
        if target.is_none() {
            target = Some(load_target(opts)?);
        }
        Ok(target.clone().flatten())
    })?;
    let kconfig_map = externs.kconfig.take().map(|value| {
        maps.push(MapDef {
            name: ".kconfig".into(),
            map_type: maps::BPF_MAP_TYPE_ARRAY,
            key_size: 4,
            value_size: value.len() as u32,
            max_entries: 1,
            map_flags: maps::BPF_F_RDONLY_PROG,
            pinning: 0,
            numa_node: 0,
            inner: None,
            init_slots: Vec::new(),
            initial_value: Some(value),
            frozen: true,
            kind: crate::MapKind::GlobalData(".kconfig".into()),
            btf_key_type_id: 0,
            btf_value_type_id: externs.kconfig_datasec,
        });
        maps.len() - 1
    });
    let externs = Externs {
        resolved: externs,
        kconfig_map,
    };
    // Objects whose only code section is .text (no SEC() annotations) keep their programs there:
    // its global functions are then the programs (PREVAIL-style test objects).
    let text_progs = !elf
        .sections
        .iter()
        .any(|s| s.is_exec() && s.name != ".text" && s.size > 0);
    for s in elf.sections.iter().filter(|s| s.is_exec()) {
        set_stage(stage, &s.name);
        let mut c = code_section(&elf, s, text_progs)?;
        if let (Some(b), Some(x)) = (btf.as_ref(), ext.as_ref()) {
            if let Some(relos) = x.core_relos.get(&s.name) {
                for (k, r) in relos.iter().enumerate() {
                    let func_name = c
                        .funcs
                        .iter()
                        .find(|f| (f.start..f.end).contains(&(r.insn_off as usize)))
                        .map(|f| f.name.clone())
                        .unwrap_or_else(|| s.name.clone());
                    let cerr = |msg: String| LoadError::Core {
                        section: s.name.clone(),
                        program: func_name.clone(),
                        index: k,
                        insn: r.insn_off as usize / INSN,
                        msg,
                    };
                    let tgt = if core::needs_target(r) {
                        if target.is_none() {
                            target = Some(load_target(opts)?);
                        }
                        match target.as_ref().and_then(|t| t.as_ref()) {
                            Some(t) => Some(Arc::clone(t)),
                            None => {
                                return Err(cerr(format!(
                                    "{}: needs a target BTF, but /sys/kernel/btf/vmlinux does not exist; pass one (--btf, LoadOptions::target_btf)",
                                    core::describe(b, r)
                                )))
                            }
                        }
                    } else {
                        None
                    };
                    let out = core::apply(&mut c.code, b, r, tgt.as_deref())
                        .map_err(|m| cerr(format!("{}: {m}", core::describe(b, r))))?;
                    c.core.push((r.insn_off as usize, out));
                }
            }
        }
        codes.insert(s.index, c);
    }

    // Programs.
    let mut programs = Vec::new();
    let mut sec_order: Vec<usize> = codes.keys().copied().collect();
    sec_order.sort_unstable();
    for si in sec_order {
        let sec = elf.section(si)?;
        let entries: Vec<Func> = codes
            .get(&si)
            .map_or(&[][..], |c| &c.funcs[..])
            .iter()
            .filter(|f| f.is_prog)
            .cloned()
            .collect();
        for f in entries {
            set_stage(stage, &sec.name);
            // libbpf's SEC() names first; then the old samples/bpf prefixes; then the caller's
            // type for the names that follow no convention.
            let kind = progtype::infer_libbpf(&sec.name)
                .or_else(|| progtype::infer_legacy(&sec.name))
                .or_else(|| {
                    opts.prog_type_override.map(|t| progtype::SectionKind {
                        prog_type: t,
                        expected_attach_type: 0,
                        attach_to: None,
                        autoload: !sec.name.starts_with('?'),
                    })
                });
            // Last, a guess from the BTF of the entry function's ctx argument, as veristat
            // makes it; the program then says its type is a guess.
            let mut type_guessed_from = None;
            let kind = match kind {
                Some(k) => k,
                None => match progtype::guess_from_ctx(
                    btf.as_ref(),
                    &f.name,
                    !sec.name.starts_with('?'),
                ) {
                    Ok(g) => {
                        type_guessed_from = Some(g.ctx);
                        g.kind
                    }
                    Err(why) => {
                        let error = LoadError::UnknownProgramType {
                            section: sec.name.clone(),
                            program: f.name.clone(),
                            why,
                        };
                        match refused.as_deref_mut() {
                            Some(r) => {
                                r.push(refuse(&f, &sec.name, 0, error));
                                continue;
                            }
                            None => return Err(error),
                        }
                    }
                },
            };
            let autoload = kind.autoload;
            let (prog_type, eat, attach_to) =
                (kind.prog_type, kind.expected_attach_type, kind.attach_to);
            let attach_btf_id = match (&attach_to, prog_type) {
                (Some(a), progtype::prog_type::TRACING | progtype::prog_type::LSM) => {
                    if target.is_none() {
                        target = Some(load_target(opts)?);
                    }
                    target
                        .as_ref()
                        .and_then(|t| t.as_deref())
                        .and_then(|t| t.attach_btf_id(eat, a))
                }
                _ => None,
            };
            let linked = match link_program(
                &elf,
                &codes,
                &map_index,
                &maps,
                &externs,
                btf.as_ref(),
                ext.as_ref(),
                si,
                &f,
            ) {
                Ok(l) => l,
                Err(error) => match refused.as_deref_mut() {
                    Some(r) => {
                        r.push(refuse(&f, &sec.name, prog_type, error));
                        continue;
                    }
                    None => return Err(error),
                },
            };
            programs.push(Program {
                name: f.name.clone(),
                section: sec.name.clone(),
                prog_type,
                prog_type_name: progtype::prog_type_name(prog_type),
                expected_attach_type: eat,
                attach_to,
                attach_btf_id,
                insns: linked.insns,
                func_info: linked.func_info,
                line_info: linked.line_info,
                core_relocs_applied: linked.core_applied,
                core_relocs_poisoned: linked.core_poisoned,
                autoload,
                type_guessed_from,
            });
        }
    }

    Ok(Object {
        programs,
        maps,
        license,
        kern_version,
        btf: btf.as_ref().map(externs::btf_for_kernel),
    })
}

fn refuse(f: &Func, section: &str, prog_type: u32, error: LoadError) -> RefusedProgram {
    RefusedProgram {
        name: f.name.clone(),
        section: section.to_string(),
        prog_type,
        prog_type_name: progtype::prog_type_name(prog_type),
        insns: (f.end - f.start) / INSN,
        error,
    }
}

fn load_target(opts: &LoadOptions) -> Result<Option<Arc<Target>>, LoadError> {
    let path = match &opts.target_btf {
        Some(p) => p.clone(),
        None => {
            let p = PathBuf::from("/sys/kernel/btf/vmlinux");
            if !p.exists() {
                return Ok(None);
            }
            p
        }
    };
    core::load_target(Path::new(&path))
        .map(Some)
        .map_err(|msg| LoadError::TargetBtf {
            path: path.display().to_string(),
            msg,
        })
}

/// Splits a code section into functions and indexes its relocations.
fn code_section(elf: &Elf, s: &Section, text_progs: bool) -> Result<Code, LoadError> {
    let len = s.data.len();
    if !len.is_multiple_of(INSN) {
        return Err(LoadError::Section {
            section: s.name.clone(),
            msg: format!("size {len} is not a multiple of the 8-byte instruction"),
        });
    }
    let is_text = s.name == ".text";
    let mut syms: Vec<(usize, &crate::elf::Symbol)> = elf
        .symbols
        .iter()
        .enumerate()
        .filter(|(_, y)| {
            y.shndx == s.index
                && (y.st_type == elf::STT_FUNC
                    || (y.st_type == elf::STT_NOTYPE
                        && matches!(y.bind, elf::STB_GLOBAL | elf::STB_WEAK)))
        })
        .collect();
    // At equal offsets prefer the FUNC symbol over a NOTYPE alias.
    syms.sort_by_key(|(i, y)| (y.value, y.st_type != elf::STT_FUNC, *i));
    syms.dedup_by_key(|(_, y)| y.value);
    let mut funcs = Vec::new();
    for (k, (i, y)) in syms.iter().enumerate() {
        let start = y.value as usize;
        if y.value % INSN as u64 != 0 || y.value > len as u64 {
            return Err(LoadError::Symbol {
                index: *i,
                name: y.name.clone(),
                msg: format!(
                    "function offset {:#x} is not an instruction of section {} ({len} bytes)",
                    y.value, s.name
                ),
            });
        }
        let next = syms.get(k + 1).map_or(len, |(_, n)| n.value as usize);
        let end = if y.size > 0 {
            let e = start.checked_add(y.size as usize).filter(|&e| e <= len);
            match e {
                Some(e) if y.size % INSN as u64 == 0 => e,
                _ => {
                    return Err(LoadError::Symbol {
                        index: *i,
                        name: y.name.clone(),
                        msg: format!(
                            "function at {:#x} with size {:#x} does not fit section {} ({len} bytes) in whole instructions",
                            y.value, y.size, s.name
                        ),
                    })
                }
            }
        } else {
            next
        };
        if start == end {
            continue;
        }
        funcs.push(Func {
            name: y.name.clone(),
            start,
            end,
            is_prog: !is_text || (text_progs && y.bind != elf::STB_LOCAL),
        });
    }
    if funcs.is_empty() && len > 0 {
        // No symbols: the whole section is one function named after the section.
        funcs.push(Func {
            name: s.name.clone(),
            start: 0,
            end: len,
            is_prog: !is_text || text_progs,
        });
    }
    let mut rels = HashMap::new();
    for r in &s.rels {
        if r.offset % INSN as u64 != 0 || r.offset >= len as u64 {
            return Err(LoadError::Relocation {
                section: s.name.clone(),
                offset: r.offset,
                msg: format!("not at an instruction boundary inside the {len}-byte section"),
            });
        }
        rels.insert(r.offset, *r);
    }
    Ok(Code {
        code: s.data.clone(),
        funcs,
        rels,
        core: Vec::new(),
    })
}

struct Linked {
    insns: Vec<u8>,
    func_info: Vec<FuncInfo>,
    line_info: Vec<LineInfo>,
    core_applied: usize,
    core_poisoned: usize,
}

struct Placed {
    sec: usize,
    start: usize,
    end: usize,
    base: usize,
}

/// The 8 bytes of the instruction at byte `at` of `b`, if they are all there
/// (callers walk whole instructions of a placed function).
fn slot(b: &[u8], at: usize) -> [u8; 8] {
    b.get(at..at + 8)
        .and_then(|s| s.try_into().ok())
        .unwrap_or([0; 8])
}

fn slot_mut(b: &mut [u8], at: usize) -> Option<&mut [u8; 8]> {
    b.get_mut(at..at + 8)?.try_into().ok()
}

fn imm(b: &[u8], at: usize) -> i32 {
    let s = slot(b, at);
    i32::from_le_bytes([s[4], s[5], s[6], s[7]])
}

fn set_imm(b: &mut [u8], at: usize, v: i32) {
    if let Some(s) = slot_mut(b, at) {
        [s[4], s[5], s[6], s[7]] = v.to_le_bytes();
    }
}

fn set_src(b: &mut [u8], at: usize, src: u8) {
    if let Some(s) = slot_mut(b, at) {
        s[1] = (s[1] & 0x0f) | (src << 4);
    }
}

fn clear_off(b: &mut [u8], at: usize) {
    if let Some(s) = slot_mut(b, at) {
        [s[2], s[3]] = [0, 0];
    }
}

/// Places the function of section `sec` containing byte offset `off`; returns its new insn index.
fn place(
    placed: &mut Vec<Placed>,
    out: &mut Vec<u8>,
    codes: &HashMap<usize, Code>,
    sec: usize,
    off: usize,
) -> Option<usize> {
    if let Some(p) = placed
        .iter()
        .find(|p| p.sec == sec && (p.start..p.end).contains(&off))
    {
        return Some(p.base + (off - p.start) / INSN);
    }
    let c = codes.get(&sec)?;
    let f = c.funcs.iter().find(|f| (f.start..f.end).contains(&off))?;
    let base = out.len() / INSN;
    out.extend_from_slice(c.code.get(f.start..f.end)?);
    placed.push(Placed {
        sec,
        start: f.start,
        end: f.end,
        base,
    });
    Some(base + (off - f.start) / INSN)
}

#[allow(clippy::too_many_arguments)]
fn link_program(
    elf: &Elf,
    codes: &HashMap<usize, Code>,
    map_index: &MapIndex,
    maps: &[MapDef],
    externs: &Externs,
    btf: Option<&Btf>,
    ext: Option<&BtfExt>,
    sec: usize,
    entry: &Func,
) -> Result<Linked, LoadError> {
    let mut out = Vec::new();
    let mut placed = Vec::new();
    place(&mut placed, &mut out, codes, sec, entry.start);
    let mut pi = 0;
    while pi < placed.len() {
        let Some(&Placed {
            sec: psec,
            start: pstart,
            end: pend,
            base: pbase,
        }) = placed.get(pi)
        else {
            break;
        };
        let Some(code) = codes.get(&psec) else {
            break;
        };
        let sname = &elf.section(psec)?.name;
        let mut off = pstart;
        while off < pend {
            let at = pbase * INSN + (off - pstart);
            let cur = at / INSN;
            let [op, regs, ..] = slot(&out, at);
            let src = regs >> 4;
            let rel = code.rels.get(&(off as u64));
            let rel_err = |msg: String| LoadError::Relocation {
                section: sname.clone(),
                offset: off as u64,
                msg,
            };
            if op == 0x18 {
                if off + 2 * INSN > pend {
                    return Err(LoadError::Section {
                        section: sname.clone(),
                        msg: format!(
                            "ld_imm64 at offset {off:#x} (insn {}) is missing its second slot",
                            off / INSN
                        ),
                    });
                }
                if let Some(r) = rel {
                    let sym = elf.symbol(r.sym)?;
                    if src == BPF_PSEUDO_FUNC || codes.contains_key(&sym.shndx) {
                        // Address of a subprogram: clang leaves src_reg 0 and relocates against
                        // the function (or its section, with the byte offset in imm).
                        set_src(&mut out, at, BPF_PSEUDO_FUNC);
                        let target_off = sym.value as i64 + i64::from(imm(&out, at));
                        let tsec = sym.shndx;
                        let idx = usize::try_from(target_off)
                            .ok()
                            .and_then(|t| place(&mut placed, &mut out, codes, tsec, t))
                            .ok_or_else(|| {
                                rel_err(format!(
                                    "function pointer to symbol {} ({}) + {} is not inside a function",
                                    r.sym, sym.name, imm(&out, at)
                                ))
                            })?;
                        set_imm(&mut out, at, (idx as i64 - cur as i64 - 1) as i32);
                    } else {
                        resolve_map_ref(elf, map_index, maps, externs, r, &mut out, at)
                            .map_err(rel_err)?;
                    }
                } else if src == BPF_PSEUDO_FUNC {
                    let target = off as i64 + (i64::from(imm(&out, at)) + 1) * INSN as i64;
                    let idx = usize::try_from(target)
                        .ok()
                        .and_then(|t| place(&mut placed, &mut out, codes, psec, t))
                        .ok_or_else(|| {
                            rel_err(format!("function pointer target offset {target:#x} is not inside a function"))
                        })?;
                    set_imm(&mut out, at, (idx as i64 - cur as i64 - 1) as i32);
                }
                off += 2 * INSN;
                continue;
            }
            if op == 0x85 && src == BPF_PSEUDO_CALL {
                let (tsec, target) = match rel {
                    Some(r) => {
                        let sym = elf.symbol(r.sym)?;
                        if sym.shndx == 0 {
                            // clang emits a kfunc call as a bpf-to-bpf call to an undefined
                            // symbol; libbpf makes it a BPF_PSEUDO_KFUNC_CALL by BTF id.
                            match externs.resolved.by_name.get(&sym.name) {
                                Some(Resolved::Kfunc(id)) => {
                                    set_src(&mut out, at, BPF_PSEUDO_KFUNC_CALL);
                                    set_imm(&mut out, at, id.unwrap_or(0) as i32);
                                    clear_off(&mut out, at);
                                    off += INSN;
                                    continue;
                                }
                                Some(Resolved::Missing(why)) => {
                                    return Err(LoadError::Extern {
                                        name: sym.name.clone(),
                                        msg: why.clone(),
                                    })
                                }
                                _ => {}
                            }
                        }
                        if sym.shndx == 0 || !codes.contains_key(&sym.shndx) {
                            return Err(rel_err(format!(
                                "call to symbol {} ({}) which is not defined in a code section",
                                r.sym, sym.name
                            )));
                        }
                        (
                            sym.shndx,
                            sym.value as i64 + (i64::from(imm(&out, at)) + 1) * INSN as i64,
                        )
                    }
                    None => (
                        psec,
                        off as i64 + (i64::from(imm(&out, at)) + 1) * INSN as i64,
                    ),
                };
                let idx = usize::try_from(target)
                    .ok()
                    .and_then(|t| place(&mut placed, &mut out, codes, tsec, t))
                    .ok_or_else(|| {
                        rel_err(format!(
                            "bpf-to-bpf call targets offset {target:#x} of section {}, which is not inside a function",
                            elf.section(tsec).map_or("?", |s| &s.name)
                        ))
                    })?;
                set_imm(&mut out, at, (idx as i64 - cur as i64 - 1) as i32);
            } else if let Some(r) = rel {
                let sym = elf.symbol(r.sym)?;
                if op == 0x85 && src == BPF_PSEUDO_KFUNC_CALL {
                    match externs.resolved.by_name.get(&sym.name) {
                        Some(Resolved::Kfunc(id)) => {
                            // The kfunc's id in vmlinux BTF, off 0 (vmlinux, not a
                            // module); a missing weak kfunc stays 0, as libbpf leaves it.
                            set_imm(&mut out, at, id.unwrap_or(0) as i32);
                            clear_off(&mut out, at);
                            off += INSN;
                            continue;
                        }
                        Some(Resolved::Missing(why)) => {
                            return Err(LoadError::Extern {
                                name: sym.name.clone(),
                                msg: why.clone(),
                            })
                        }
                        _ => {
                            return Err(rel_err(format!(
                                "kfunc call to symbol {} ({}), which the object's BTF does not declare as an extern function",
                                r.sym, sym.name
                            )))
                        }
                    }
                }
                let what = if op == 0x85 && src == 2 {
                    "kfunc calls (extern functions) are not supported".to_string()
                } else {
                    format!("unsupported relocation on instruction with opcode {op:#04x}")
                };
                return Err(rel_err(format!("{what} (symbol {} {})", r.sym, sym.name)));
            }
            off += INSN;
        }
        pi += 1;
    }

    // func_info / line_info / CO-RE counts per placed function.
    let mut func_info = Vec::new();
    let mut line_info = Vec::new();
    let mut core_applied = 0;
    let mut core_poisoned = 0;
    for p in &placed {
        let sname = &elf.section(p.sec)?.name;
        let map_off = |o: u32| -> Option<usize> {
            let o = o as usize;
            (o >= p.start && o < p.end && o.is_multiple_of(INSN))
                .then(|| p.base + (o - p.start) / INSN)
        };
        if let (Some(b), Some(x)) = (btf, ext) {
            if let Some(fi) = x.func_info.get(sname) {
                for r in fi {
                    if let Some(insn) = map_off(r.insn_off) {
                        func_info.push(FuncInfo {
                            insn,
                            type_id: r.type_id,
                            name: b.name(r.type_id).to_string(),
                        });
                    }
                }
            }
            if let Some(li) = x.line_info.get(sname) {
                for r in li {
                    if let Some(insn) = map_off(r.insn_off) {
                        line_info.push(LineInfo {
                            insn,
                            file: b.str_at(r.file_name_off).to_string(),
                            line: r.line_col >> 10,
                            column: r.line_col & 0x3ff,
                            source: b.str_at(r.line_off).to_string(),
                            file_name_off: r.file_name_off,
                            line_off: r.line_off,
                            line_col: r.line_col,
                        });
                    }
                }
            }
        }
        for (o, out) in &codes[&p.sec].core {
            if (p.start..p.end).contains(o) {
                match out {
                    Outcome::Applied => core_applied += 1,
                    Outcome::Poisoned => core_poisoned += 1,
                }
            }
        }
    }
    func_info.sort_by_key(|f| f.insn);
    line_info.sort_by_key(|l| l.insn);
    if out.len() / INSN > MAX_PROGRAM_INSNS {
        return Err(LoadError::Section {
            section: elf.section(sec)?.name.clone(),
            msg: format!(
                "program {} links to {} instructions, more than the kernel's {MAX_PROGRAM_INSNS} (BPF_COMPLEXITY_LIMIT_INSNS)",
                entry.name,
                out.len() / INSN
            ),
        });
    }
    Ok(Linked {
        insns: out,
        func_info,
        line_info,
        core_applied,
        core_poisoned,
    })
}

/// Rewrites an `ld_imm64` relocated against a map or global-data symbol.
fn resolve_map_ref(
    elf: &Elf,
    idx: &MapIndex,
    maps: &[MapDef],
    externs: &Externs,
    r: &crate::elf::Rel,
    out: &mut [u8],
    at: usize,
) -> Result<(), String> {
    let sym = elf.symbol(r.sym).map_err(|e| e.to_string())?;
    let sec = sym.shndx;
    if sym.shndx == 0 {
        let addend = i64::from(imm(out, at));
        match externs.resolved.by_name.get(&sym.name) {
            Some(Resolved::Kconfig { off }) => {
                let m = externs
                    .kconfig_map
                    .ok_or_else(|| format!("symbol {} has no .kconfig map", sym.name))?;
                set_src(out, at, BPF_PSEUDO_MAP_IDX_VALUE);
                set_imm(out, at, m as i32);
                set_imm(out, at + INSN, (i64::from(*off) + addend) as i32);
            }
            Some(Resolved::Address(a)) => {
                let a = if *a == 0 { 0 } else { a.wrapping_add(addend as u64) };
                set_src(out, at, 0);
                set_imm(out, at, a as u32 as i32);
                set_imm(out, at + INSN, (a >> 32) as u32 as i32);
            }
            Some(Resolved::KernelVar(Some(id))) | Some(Resolved::Kfunc(Some(id))) => {
                // A typed kernel variable, or a kfunc's address (`bpf_ksym_exists`):
                // the kernel resolves the BTF id.
                set_src(out, at, BPF_PSEUDO_BTF_ID);
                set_imm(out, at, *id as i32);
                set_imm(out, at + INSN, 0);
            }
            Some(Resolved::KernelVar(None)) | Some(Resolved::Kfunc(None)) => {
                // A weak typed ksym or kfunc the kernel lacks: a NULL pointer, as libbpf
                // makes it.
                set_src(out, at, 0);
                set_imm(out, at, 0);
                set_imm(out, at + INSN, 0);
            }
            Some(Resolved::Missing(why)) => return Err(format!("extern {}: {why}", sym.name)),
            None => {
                return Err(format!(
                    "symbol {} ({}) is undefined and the object's BTF does not describe it as a .kconfig or .ksyms extern",
                    r.sym, sym.name
                ))
            }
        }
        return Ok(());
    }
    if let Some(&m) = idx.by_data_section.get(&sec) {
        let off = i64::from(imm(out, at)) + sym.value as i64;
        let map = maps
            .get(m)
            .ok_or_else(|| format!("map index {m} is past the {} maps", maps.len()))?;
        let size = i64::from(map.value_size);
        if off < 0 || off > size {
            return Err(format!(
                "reference to {}+{off} is outside the {size}-byte section",
                map.name
            ));
        }
        set_src(out, at, BPF_PSEUDO_MAP_IDX_VALUE);
        set_imm(out, at, m as i32);
        set_imm(out, at + INSN, off as i32);
        return Ok(());
    }
    if idx.def_sections.contains(&sec) {
        let def_off = if sym.is_section() {
            imm(out, at) as u32 as u64
        } else {
            sym.value
        };
        let Some(&m) = idx.by_def.get(&(sec, def_off)) else {
            return Err(format!(
                "symbol {} ({}) at offset {def_off:#x} of section {} is not a map definition",
                r.sym,
                sym.name,
                elf.sections.get(sec).map_or("?", |s| s.name.as_str())
            ));
        };
        set_src(out, at, BPF_PSEUDO_MAP_IDX);
        set_imm(out, at, m as i32);
        set_imm(out, at + INSN, 0);
        return Ok(());
    }
    let sname = elf.sections.get(sec).map_or("?", |s| s.name.as_str());
    if elf.sections.get(sec).is_some_and(maps::is_data_section) {
        return Err(format!(
            "symbol {} ({}) refers to the empty data section {sname}",
            r.sym, sym.name
        ));
    }
    Err(format!(
        "ld_imm64 refers to symbol {} ({}) in section {sname}, which is neither a map nor global data",
        r.sym, sym.name
    ))
}

/// libbpf-style BTF fix-ups: DATASEC sizes and variable offsets from the ELF file, entries sorted.
fn fixup_btf(btf: &mut Btf, elf: &Elf) {
    let mut patches: Vec<(usize, u32)> = Vec::new();
    for t in &btf.types {
        if t.kind != kind::DATASEC {
            continue;
        }
        let name = btf.str_at(t.name_off);
        let Some(sec) = elf.section_by_name(name) else {
            continue;
        };
        if t.size_or_type == 0 {
            if let Ok(sz) = u32::try_from(sec.size) {
                patches.push((t.raw_off + 8, sz));
            }
        }
        let mut entries = t.secinfo.clone();
        for e in entries.iter_mut() {
            let Some(v) = btf.get(e.type_id) else {
                continue;
            };
            if v.kind != kind::VAR {
                continue;
            }
            let vname = btf.str_at(v.name_off);
            if let Some(sym) = elf
                .symbols
                .iter()
                .find(|y| y.shndx == sec.index && y.name == vname && !y.is_section())
            {
                if let Ok(o) = u32::try_from(sym.value) {
                    e.offset = o;
                }
            }
        }
        entries.sort_by_key(|e| e.offset);
        for (k, e) in entries.iter().enumerate() {
            let base = t.raw_off + 12 + k * 12;
            patches.push((base, e.type_id));
            patches.push((base + 4, e.offset));
            patches.push((base + 8, e.size));
        }
    }
    for (off, v) in patches {
        btf.patch_u32(off, v);
    }
}
