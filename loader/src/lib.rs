//! ironbpf-loader: loads BPF ELF objects (as produced by `clang -target bpf`) the way libbpf does.
//!
//! It reads the ELF sections, the `license` and `version` sections, BTF (`.BTF`) and BTF.ext
//! (`.BTF.ext`), BTF-defined maps (`.maps`), legacy `maps` sections with `struct bpf_map_def`
//! records of any size, global data (`.data`, `.rodata*`, `.bss`, `.data.*`), and the code
//! sections. Each program gets its kernel program type from the section name (libbpf's `SEC()`
//! conventions, then the old `samples/bpf` prefixes). Its instructions are linked: the entry
//! function first, then every subprogram it calls, with bpf-to-bpf call offsets fixed, map
//! references rewritten to `BPF_PSEUDO_MAP_IDX` / `BPF_PSEUDO_MAP_IDX_VALUE` (indices into
//! [`Object::maps`], as the kernel expects with `fd_array`), CO-RE relocations applied against a
//! target BTF, and func/line info re-indexed. Externs are resolved as libbpf resolves them:
//! `.kconfig` values (from the running kernel's configuration, or given in [`LoadOptions`]) in a
//! frozen `.kconfig` map, `.ksyms` addresses from `/proc/kallsyms`, typed ksyms and kfunc calls
//! by their id in the target BTF; a strong extern that cannot be resolved refuses only the
//! programs that use it.
//!
//! Nothing in the public API panics on hostile input: every malformed structure is an error that
//! names the section, symbol or offset at fault.
//!
//! ```no_run
//! use ironbpf_loader::{load_file, LoadOptions};
//! let obj = load_file("prog.o".as_ref(), &LoadOptions::default())?;
//! for p in &obj.programs {
//!     println!("{} ({}): {} insns", p.name, p.prog_type_name, p.insns.len() / 8);
//! }
//! # Ok::<(), ironbpf_loader::LoadError>(())
//! ```

#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

pub use ironbpf_btf as btf;
mod core;
mod elf;
mod externs;
mod link;
mod maps;
mod progtype;

use std::path::{Path, PathBuf};

pub use progtype::{prog_type, prog_type_from_name, prog_type_name};

/// `src_reg` of an `ld_imm64` whose imm is an index into the map array (`fd_array`).
pub const BPF_PSEUDO_MAP_IDX: u8 = 5;
/// `src_reg` of an `ld_imm64` whose imm is a map index and whose second imm is a value offset.
pub const BPF_PSEUDO_MAP_IDX_VALUE: u8 = 6;
/// `src_reg` of a call to a bpf-to-bpf subprogram.
pub const BPF_PSEUDO_CALL: u8 = 1;
/// `src_reg` of an `ld_imm64` that loads the address of a subprogram.
pub const BPF_PSEUDO_FUNC: u8 = 4;
/// The imm libbpf (and this loader) writes into an instruction whose CO-RE relocation failed:
/// `call 0xbad2310`, which the kernel verifier reports when the instruction is reachable.
pub const CORE_POISON_IMM: i32 = 0x0bad_2310;

/// Options of [`load_file`] / [`load_bytes`].
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// BTF of the target kernel for CO-RE relocations. `None`: `/sys/kernel/btf/vmlinux` if it
    /// exists; without any target BTF, CO-RE relocations are an error naming the program and
    /// relocation.
    pub target_btf: Option<PathBuf>,
    /// Program type (`BPF_PROG_TYPE_*`) for the programs whose section name follows neither
    /// libbpf's `SEC()` conventions nor the prefixes of the old `samples/bpf` loader
    /// (`"socket1"`, `"xdp_prog"`, `"kprobe/0"`): custom names such as `"test"`, `"tail-3"`,
    /// `"ingress"`, and `.text` in objects without sections. Named sections keep their type.
    pub prog_type_override: Option<u32>,
    /// The kernel configuration `.kconfig` externs (`CONFIG_*`) are read from: a `.config`
    /// file, plain or gzip-compressed. `None`: the running kernel's (`/proc/config.gz`, else
    /// `/boot/config-<release>`).
    pub kconfig_path: Option<PathBuf>,
    /// `.kconfig` values that override the configuration: (`CONFIG_HZ`, `250`),
    /// (`CONFIG_BPF_SYSCALL`, `y`), (`CONFIG_DEFAULT_HOSTNAME`, `"\"none\""`).
    pub kconfig_values: Vec<(String, String)>,
}

/// Where a map comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MapKind {
    /// A BTF-defined map in `.maps`.
    Btf,
    /// A `struct bpf_map_def` record in a legacy `maps` (or `maps/...`) section.
    Legacy,
    /// The global-data array map of the named section (`.data`, `.rodata`, `.bss`, ...).
    GlobalData(String),
}

/// A map the object defines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapDef {
    /// Symbol name, or section name for global data.
    pub name: String,
    /// `BPF_MAP_TYPE_*`.
    pub map_type: u32,
    /// Key size in bytes.
    pub key_size: u32,
    /// Value size in bytes.
    pub value_size: u32,
    /// Maximum number of entries.
    pub max_entries: u32,
    /// `BPF_F_*` creation flags.
    pub map_flags: u32,
    /// Pinning attribute (`LIBBPF_PIN_BY_NAME` = 1, or iproute2's `PIN_*`).
    pub pinning: u32,
    /// NUMA node (legacy `bpf_map_def.numa_node` or BTF `numa_node`).
    pub numa_node: u32,
    /// Template of the inner map of a map-in-map.
    pub inner: Option<Box<MapDef>>,
    /// Initial slots of a map-in-map or program array defined with BTF `values = { [i] = &x }`:
    /// (slot index, name of the map or program `x`).
    pub init_slots: Vec<(u32, String)>,
    /// Initial contents of a global-data map (`.bss`: zeros).
    pub initial_value: Option<Vec<u8>>,
    /// The map must be frozen after initialisation (`.rodata`).
    pub frozen: bool,
    /// Where the definition comes from.
    pub kind: MapKind,
    /// BTF type id of the key (0: none, or a map type that takes no BTF key).
    pub btf_key_type_id: u32,
    /// BTF type id of the value (0: none).
    pub btf_value_type_id: u32,
}

/// A `bpf_func_info` record of a linked program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FuncInfo {
    /// Instruction index in [`Program::insns`].
    pub insn: usize,
    /// BTF type id of the FUNC.
    pub type_id: u32,
    /// Function name.
    pub name: String,
}

/// A `bpf_line_info` record of a linked program, with its strings resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineInfo {
    /// Instruction index in [`Program::insns`].
    pub insn: usize,
    /// Source file name.
    pub file: String,
    /// Line number.
    pub line: u32,
    /// Column.
    pub column: u32,
    /// Text of the source line.
    pub source: String,
    /// Raw `file_name_off` (offset in the object's BTF strings), for `BPF_PROG_LOAD`.
    pub file_name_off: u32,
    /// Raw `line_off`, for `BPF_PROG_LOAD`.
    pub line_off: u32,
    /// Raw `line_col` (`line << 10 | column`), for `BPF_PROG_LOAD`.
    pub line_col: u32,
}

/// A linked program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Program {
    /// Symbol name of the entry function.
    pub name: String,
    /// ELF section name.
    pub section: String,
    /// `BPF_PROG_TYPE_*`.
    pub prog_type: u32,
    /// Kernel name of the program type.
    pub prog_type_name: &'static str,
    /// `BPF_*` attach type to pass as `expected_attach_type`.
    pub expected_attach_type: u32,
    /// Attach target from the section name (`kprobe/<fn>`, `tracepoint/<cat>/<name>`, `fentry/<fn>`...).
    pub attach_to: Option<String>,
    /// For tracing and LSM programs (`fentry/`, `fexit/`, `fmod_ret/`, `tp_btf/`, `iter/`,
    /// `lsm/`): the id of the attach target in the target BTF (`attach_btf_id` of
    /// `BPF_PROG_LOAD`), resolved as libbpf does (`btf_trace_<tp>` for `tp_btf`, `bpf_lsm_<hook>`,
    /// `bpf_iter_<name>`); `None` if there is no target BTF or no such function.
    pub attach_btf_id: Option<u32>,
    /// Final instructions (8 bytes each, little-endian).
    pub insns: Vec<u8>,
    /// Function info, one record per function placed in `insns`.
    pub func_info: Vec<FuncInfo>,
    /// Line info.
    pub line_info: Vec<LineInfo>,
    /// Number of CO-RE relocations applied (poisoned ones not counted).
    pub core_relocs_applied: usize,
    /// Number of CO-RE relocations that found no match in the target and were poisoned as
    /// libbpf does (`call 0xbad2310`).
    pub core_relocs_poisoned: usize,
    /// `false` for a section named with libbpf's `?` prefix (`SEC("?xdp")`):
    /// the program is not loaded automatically, only when asked for.
    pub autoload: bool,
    /// When neither the section name nor [`LoadOptions::prog_type_override`] gave the type and
    /// it was guessed, as veristat guesses it, from the BTF type of the entry function's first
    /// argument: that type as the source spells it (`struct __sk_buff`). `None` when the type
    /// was given.
    pub type_guessed_from: Option<String>,
}

impl Program {
    /// How the program got its type, for listings and records: `"sched_cls"`, or
    /// `"sched_cls, guessed from its ctx argument struct __sk_buff"`.
    pub fn type_description(&self) -> String {
        match &self.type_guessed_from {
            Some(ctx) => format!(
                "{}, guessed from its ctx argument {ctx}",
                self.prog_type_name
            ),
            None => self.prog_type_name.to_string(),
        }
    }
}

/// A loaded object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    /// Programs, in section and symbol order.
    pub programs: Vec<Program>,
    /// Maps: legacy, then BTF-defined, then global data (libbpf's order).
    pub maps: Vec<MapDef>,
    /// Contents of the `license` section (empty without one).
    pub license: String,
    /// Contents of the `version` section.
    pub kern_version: Option<u32>,
    /// The raw `.BTF`, with DATASEC sizes and variable offsets fixed up from the ELF sections and
    /// symbols (as libbpf does) so that the kernel accepts it.
    pub btf: Option<Vec<u8>>,
}

/// Why an object could not be loaded. Every variant names the section, symbol or offset at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("{path}: {msg}")]
    Io {
        /// The path.
        path: String,
        /// The OS error.
        msg: String,
    },
    /// The ELF structure itself (header, section table, symbol table) is broken.
    #[error("{0}")]
    Elf(String),
    /// A section is malformed or unsupported.
    #[error("section {section}: {msg}")]
    Section {
        /// Section name.
        section: String,
        /// What is wrong.
        msg: String,
    },
    /// A relocation is malformed or cannot be applied.
    #[error("section {section}: relocation at offset {offset:#x}: {msg}")]
    Relocation {
        /// Section the relocation applies to.
        section: String,
        /// Byte offset of the relocated location.
        offset: u64,
        /// What is wrong.
        msg: String,
    },
    /// A symbol is malformed.
    #[error("symbol {index} ({name}): {msg}")]
    Symbol {
        /// Symbol index.
        index: usize,
        /// Symbol name.
        name: String,
        /// What is wrong.
        msg: String,
    },
    /// `.BTF` or `.BTF.ext` is malformed.
    #[error("section {section}: invalid BTF: {msg}")]
    Btf {
        /// `.BTF` or `.BTF.ext`.
        section: String,
        /// What is wrong.
        msg: String,
    },
    /// A map definition is malformed.
    #[error("section {section}: map {map}: {msg}")]
    Map {
        /// Section holding the definition.
        section: String,
        /// Map name.
        map: String,
        /// What is wrong.
        msg: String,
    },
    /// The section name says nothing about the program type, and the program's ctx argument
    /// gives no guess either.
    #[error("section {section}: cannot infer the program type of program {program} from the section name, and {why}; give the type explicitly (--type TYPE)")]
    UnknownProgramType {
        /// Section name.
        section: String,
        /// Program name.
        program: String,
        /// Why the BTF of the program's ctx argument gives no guess (no BTF, no FUNC record,
        /// a `void *` argument...).
        why: String,
    },
    /// A CO-RE relocation cannot be applied.
    #[error(
        "program {program} (section {section}): CO-RE relocation #{index} at insn {insn}: {msg}"
    )]
    Core {
        /// Section.
        section: String,
        /// Program (function) containing the instruction.
        program: String,
        /// Index of the relocation record in the section's list.
        index: usize,
        /// Instruction index inside the section.
        insn: usize,
        /// What is wrong.
        msg: String,
    },
    /// The target BTF for CO-RE could not be read.
    #[error("target BTF {path}: {msg}")]
    TargetBtf {
        /// Path.
        path: String,
        /// What is wrong.
        msg: String,
    },
    /// An extern (`.kconfig` value, `.ksyms` symbol or kfunc) that cannot be resolved.
    #[error("extern {name}: {msg}")]
    Extern {
        /// The extern's name.
        name: String,
        /// Why it cannot be resolved.
        msg: String,
    },
}

/// A program that [`inspect_file`] found but cannot load, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusedProgram {
    /// Symbol name of the entry function.
    pub name: String,
    /// ELF section name.
    pub section: String,
    /// `BPF_PROG_TYPE_*`; 0 (`unspec`) when the section name does not say it.
    pub prog_type: u32,
    /// Kernel name of the program type.
    pub prog_type_name: &'static str,
    /// Size of the entry function in instructions (before linking).
    pub insns: usize,
    /// Why it cannot be loaded: [`LoadError::UnknownProgramType`], or a linking error that
    /// names the section, symbol or offset.
    pub error: LoadError,
}

/// What an object holds, for tools that show it rather than run it: the programs that load
/// (as [`load_file`] gives them), and the ones that do not, each with its own error. Errors
/// of the object as a whole (ELF structure, BTF, maps) still fail the inspection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inspection {
    /// The object, with the programs that load.
    pub object: Object,
    /// The programs that do not, in section and symbol order.
    pub refused: Vec<RefusedProgram>,
}

/// Loads the object file at `path`.
pub fn load_file(path: &Path, opts: &LoadOptions) -> Result<Object, LoadError> {
    let bytes = std::fs::read(path).map_err(|e| LoadError::Io {
        path: path.display().to_string(),
        msg: e.to_string(),
    })?;
    load_bytes(&bytes, opts)
}

/// Loads an object from its bytes.
pub fn load_bytes(bytes: &[u8], opts: &LoadOptions) -> Result<Object, LoadError> {
    guarded(|stage| link::load(bytes, opts, stage, None))
}

/// Reads the object file at `path` as [`load_file`] does, except that a program that cannot be
/// loaded by itself (its section name says no program type and `opts` gives none, or it calls
/// a function the object does not define) is set aside with its error instead of failing the
/// whole object.
pub fn inspect_file(path: &Path, opts: &LoadOptions) -> Result<Inspection, LoadError> {
    let bytes = std::fs::read(path).map_err(|e| LoadError::Io {
        path: path.display().to_string(),
        msg: e.to_string(),
    })?;
    inspect_bytes(&bytes, opts)
}

/// [`inspect_file`] on an object's bytes.
pub fn inspect_bytes(bytes: &[u8], opts: &LoadOptions) -> Result<Inspection, LoadError> {
    guarded(|stage| {
        let mut refused = Vec::new();
        let object = link::load(bytes, opts, stage, Some(&mut refused))?;
        Ok(Inspection { object, refused })
    })
}

/// Runs `f` with the stage it reports its progress in. A panic is not
/// caught: nothing in the loader panics on any input (the crate denies the
/// lints that find such sites, and `fuzz/` feeds it mutated objects), and a
/// panic turned into an error would hide the bug, or abort anyway in a host
/// built with `panic = "abort"`.
fn guarded<T>(
    f: impl FnOnce(&std::cell::RefCell<String>) -> Result<T, LoadError>,
) -> Result<T, LoadError> {
    let stage = std::cell::RefCell::new(String::from("ELF"));
    f(&stage)
}
