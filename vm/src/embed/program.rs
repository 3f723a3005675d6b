//! [`Program`]: the code of a plugin, from an ELF object, from instructions
//! or from kernel-syntax assembly; and [`ProgramType`]: what its context
//! looks like and which helpers it may call.

use super::error::{Error, SourceLine};
use crate::progtype::{AccessRule, CtxField, CtxYield, ProgTypeDesc, ProgTypeId};
use ironbpf_isa::RawInsn;
use ironbpf_loader::{LineInfo, LoadOptions, MapDef};
use ironbpf_progtype::desc::RetRange;
use ironbpf_progtype::AttachType;
use std::sync::Arc;

/// A program type: the context layout the program sees (a
/// [`ProgTypeDesc`]: fields, their load and store sizes, what a load
/// yields), the legal return values, and the kernel helpers it may call
/// besides the host's own (which every program may call).
///
/// A built-in type ([`ProgramType::builtin`]) is the kernel's, with the
/// kernel's context rules and helpers. A custom type
/// ([`ProgramType::new`]) starts with an empty context and no kernel
/// helpers; its kernel helpers are checked with the rules of the kernel
/// type [`ProgramType::rules`] names (XDP's by default: direct packet
/// access, the map helpers).
#[derive(Clone, Debug)]
pub struct ProgramType {
    pub(crate) desc: Arc<ProgTypeDesc>,
    pub(crate) rules: ProgTypeId,
    /// `None`: every helper the rules type offers (built-in types).
    pub(crate) kernel_helpers: Option<Vec<i64>>,
    pub(crate) attach: Option<AttachType>,
}

fn loads_up_to(size: u32) -> u8 {
    (size.next_power_of_two().clamp(1, 8) * 2 - 1) as u8
}

impl ProgramType {
    /// The kernel's program type `id` (`ProgTypeId::Xdp`...).
    pub fn builtin(id: ProgTypeId) -> Result<ProgramType, Error> {
        let desc = ProgTypeDesc::builtin(id).ok_or_else(|| {
            Error::Load(format!("ironbpf has no descriptor for program type {id}"))
        })?;
        Ok(ProgramType {
            desc: Arc::new(desc.clone()),
            rules: id,
            kernel_helpers: None,
            attach: None,
        })
    }

    /// A custom type called `name` whose context struct is `ctx_size`
    /// bytes: no readable field, any return value, no kernel helper.
    pub fn new(name: &str, ctx_size: u32) -> ProgramType {
        ProgramType::from_desc(ProgTypeDesc::custom(name, ctx_size))
    }

    /// A custom type from a whole descriptor.
    pub fn from_desc(desc: ProgTypeDesc) -> ProgramType {
        ProgramType {
            desc: Arc::new(desc),
            rules: ProgTypeId::Xdp,
            kernel_helpers: Some(Vec::new()),
            attach: None,
        }
    }

    fn push(mut self, f: CtxField) -> Self {
        let d = Arc::make_mut(&mut self.desc);
        if f.yields.is_pointer() {
            d.has_packet = true;
        }
        d.fields.push(f);
        self
    }

    /// A field at byte `off` of `size` bytes (1, 2, 4 or 8) that programs
    /// may read, whole or in narrower loads; a load yields a scalar.
    pub fn field_ro(self, name: &str, off: u32, size: u32) -> Self {
        self.push(CtxField::ro(name.to_string(), off, size, loads_up_to(size)))
    }

    /// A field that programs may read (as [`ProgramType::field_ro`]) and
    /// write with stores of exactly its size.
    pub fn field_rw(self, name: &str, off: u32, size: u32) -> Self {
        let read = AccessRule::sizes(loads_up_to(size));
        let write = AccessRule::sizes(size as u8);
        self.push(CtxField::new(
            name.to_string(),
            off,
            size,
            Some(read),
            Some(write),
        ))
    }

    /// A 4-byte field whose load yields the packet's start
    /// (`PTR_TO_PACKET`, as `xdp_md.data`): a run's packet is given to
    /// [`super::Instance::run_with_packet`].
    pub fn field_packet(self, name: &str, off: u32) -> Self {
        self.push(
            CtxField::new(name.to_string(), off, 4, Some(AccessRule::sizes(4)), None)
                .yields(CtxYield::PtrToPacket),
        )
    }

    /// A 4-byte field whose load yields the packet's end
    /// (`PTR_TO_PACKET_END`, as `xdp_md.data_end`).
    pub fn field_packet_end(self, name: &str, off: u32) -> Self {
        self.push(
            CtxField::new(name.to_string(), off, 4, Some(AccessRule::sizes(4)), None)
                .yields(CtxYield::PtrToPacketEnd),
        )
    }

    /// The legal return values: the verifier refuses a program that may
    /// return outside `[min, max]`.
    pub fn returns(mut self, min: i64, max: i64) -> Self {
        Arc::make_mut(&mut self.desc).ret = Some(RetRange::new(min, max));
        self
    }

    /// Lets programs of this type call these kernel helpers (by name, with
    /// or without `bpf_`), checked with their kernel prototypes and run
    /// with ironbpf's implementations.
    pub fn allow_kernel_helpers(mut self, names: &[&str]) -> Result<Self, Error> {
        let mut ids = Vec::new();
        for n in names {
            let full = if n.starts_with("bpf_") {
                n.to_string()
            } else {
                format!("bpf_{n}")
            };
            let id = (1..=1024)
                .find(|&i| ironbpf_helpers::catalog::helper_name(i) == Some(full.as_str()))
                .ok_or_else(|| {
                    Error::Link(format!("{n:?} is not a helper of Linux 6.18's catalogue"))
                })?;
            ids.push(id);
        }
        match &mut self.kernel_helpers {
            Some(v) => v.extend(ids),
            None => {
                return Err(Error::Link(format!(
                    "program type {} is the kernel's: it already offers the kernel's helpers",
                    self.desc.name
                )))
            }
        }
        Ok(self)
    }

    /// The kernel type whose verifier rules apply to the kernel helpers of
    /// a custom type and to its packet writes (XDP's by default).
    pub fn rules(mut self, id: ProgTypeId) -> Self {
        self.rules = id;
        self
    }

    /// The expected attach type of a built-in type (some context rules and
    /// return ranges depend on it).
    pub fn attach(mut self, attach: AttachType) -> Self {
        self.attach = Some(attach);
        self
    }

    /// The descriptor the verifier and the engines read.
    pub fn desc(&self) -> &ProgTypeDesc {
        &self.desc
    }
}

/// A map reference of a program: by the linker's name, or an ELF object's
/// definition (created in the linker on first use, shared after).
#[derive(Clone, Debug)]
pub(crate) enum MapRef {
    Named(String),
    Elf(MapDef),
}

impl MapRef {
    pub(crate) fn name(&self) -> &str {
        match self {
            MapRef::Named(n) => n,
            MapRef::Elf(d) => &d.name,
        }
    }
}

/// A program's code and what it needs: its type, its maps (by index, as
/// `map[idx:N]` and the loader's `BPF_PSEUDO_MAP_IDX` name them), its
/// licence and its line info. Cheap to clone; building one checks nothing
/// beyond decoding: [`super::Linker::instantiate`] links and verifies it.
#[derive(Clone, Debug)]
pub struct Program {
    pub(crate) name: String,
    pub(crate) insns: Vec<RawInsn>,
    pub(crate) ptype: ProgramType,
    pub(crate) maps: Vec<MapRef>,
    pub(crate) lines: Vec<LineInfo>,
    pub(crate) gpl: bool,
    /// The object's BTF and the program's func_info `(insn, FUNC id)`, for
    /// the verifier's global functions and callbacks.
    pub(crate) btf: Option<(Vec<u8>, FuncInfo)>,
}

/// func_info records: `(first instruction, BTF FUNC id)` per subprogram.
pub(crate) type FuncInfo = Vec<(usize, u32)>;

impl Program {
    /// The program `name` (its function's symbol; `None`: the object's only
    /// or first program) of an ELF object, with the program type its
    /// section names, its maps and its line info.
    pub fn from_elf(bytes: &[u8], name: Option<&str>) -> Result<Program, Error> {
        Self::elf(bytes, name, None)
    }

    /// Like [`Program::from_elf`] for a program of `ptype`, whatever its
    /// section is called (`SEC("plugin")` in C): the plugin of a custom
    /// type written in C.
    pub fn from_elf_with_type(
        bytes: &[u8],
        name: Option<&str>,
        ptype: ProgramType,
    ) -> Result<Program, Error> {
        Self::elf(bytes, name, Some(ptype))
    }

    fn elf(bytes: &[u8], name: Option<&str>, ptype: Option<ProgramType>) -> Result<Program, Error> {
        let opts = LoadOptions {
            prog_type_override: ptype.as_ref().map(|p| p.rules.kernel_id()),
            ..LoadOptions::default()
        };
        let obj =
            ironbpf_loader::load_bytes(bytes, &opts).map_err(|e| Error::Load(e.to_string()))?;
        let prog = match name {
            Some(n) => obj.programs.iter().find(|p| p.name == n).ok_or_else(|| {
                let names: Vec<&str> = obj.programs.iter().map(|p| p.name.as_str()).collect();
                Error::Load(format!(
                    "the object has no program {n:?} (it has {})",
                    names.join(", ")
                ))
            })?,
            None => obj
                .programs
                .first()
                .ok_or_else(|| Error::Load("the object has no program".into()))?,
        };
        let ptype = match ptype {
            Some(p) => p,
            None => {
                let id = ProgTypeId::from_kernel_id(prog.prog_type).ok_or_else(|| {
                    Error::Load(format!(
                        "program {}: unknown program type {}",
                        prog.name, prog.prog_type
                    ))
                })?;
                let mut p = ProgramType::builtin(id)?;
                if prog.expected_attach_type != 0 {
                    p.attach = AttachType::from_kernel_id(prog.expected_attach_type);
                }
                p
            }
        };
        let insns = ironbpf_isa::insn::slots_from_bytes(&prog.insns)
            .map_err(|e| Error::Load(format!("program {}: {e}", prog.name)))?;
        Ok(Program {
            name: prog.name.clone(),
            insns,
            ptype,
            maps: obj.maps.iter().cloned().map(MapRef::Elf).collect(),
            lines: prog.line_info.clone(),
            gpl: is_gpl(&obj.license),
            btf: obj.btf.clone().map(|b| {
                let fi = prog.func_info.iter().map(|f| (f.insn, f.type_id));
                (b, fi.collect())
            }),
        })
    }

    /// A program from raw instruction slots, of type `ptype`.
    pub fn from_insns(insns: Vec<RawInsn>, ptype: ProgramType) -> Program {
        Program {
            name: "prog".into(),
            insns,
            ptype,
            maps: Vec::new(),
            lines: Vec::new(),
            gpl: true,
            btf: None,
        }
    }

    /// A program from the bytes of its instructions (8 a slot).
    pub fn from_bytes(bytes: &[u8], ptype: ProgramType) -> Result<Program, Error> {
        let insns =
            ironbpf_isa::insn::slots_from_bytes(bytes).map_err(|e| Error::Load(e.to_string()))?;
        Ok(Self::from_insns(insns, ptype))
    }

    /// A program in the kernel's log syntax (`r0 = *(u32 *)(r1 + 0)`,
    /// `call 1000`, `r1 = map[idx:0]`, labels), of type `ptype`.
    pub fn from_asm(text: &str, ptype: ProgramType) -> Result<Program, Error> {
        let insns = ironbpf_isa::asm::assemble(text).map_err(|e| Error::Load(e.to_string()))?;
        Ok(Self::from_insns(insns, ptype))
    }

    /// Names the linker maps that `map[idx:0]`, `map[idx:1]`... refer to
    /// (programs from instructions or assembly).
    pub fn with_maps(mut self, names: &[&str]) -> Self {
        self.maps = names.iter().map(|n| MapRef::Named(n.to_string())).collect();
        self
    }

    /// Gives the program another type (an ELF program whose section does
    /// not say it, or a custom type).
    pub fn with_type(mut self, ptype: ProgramType) -> Self {
        self.ptype = ptype;
        self
    }

    /// The program's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its instruction slots.
    pub fn insns(&self) -> &[RawInsn] {
        &self.insns
    }

    /// Its type.
    pub fn program_type(&self) -> &ProgramType {
        &self.ptype
    }

    /// The source line of instruction `insn`, from the object's line info.
    pub fn source_line(&self, insn: usize) -> Option<SourceLine> {
        line_of(&self.lines, insn)
    }
}

/// The line-info record that covers `insn`: the last one at or before it.
pub(crate) fn line_of(lines: &[LineInfo], insn: usize) -> Option<SourceLine> {
    lines
        .iter()
        .filter(|l| l.insn <= insn)
        .max_by_key(|l| l.insn)
        .map(|l| SourceLine {
            file: l.file.clone(),
            line: l.line,
            text: l.source.clone(),
        })
}

/// The kernel's `license_is_gpl_compatible`.
fn is_gpl(license: &str) -> bool {
    matches!(
        license.trim_end_matches('\0'),
        "GPL"
            | "GPL v2"
            | "GPL and additional rights"
            | "Dual BSD/GPL"
            | "Dual MIT/GPL"
            | "Dual MPL/GPL"
    )
}
