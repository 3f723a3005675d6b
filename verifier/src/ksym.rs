//! Kernel variables by BTF id: `ld_imm64` with `BPF_PSEUDO_BTF_ID`
//! (`src_reg` 3), what libbpf makes of a typed `extern const struct X sym
//! __ksym;`, as Linux 6.18 checks it (`check_pseudo_btf_id` while the
//! instructions are resolved, then `check_ld_imm`).
//!
//! `imm` is the variable's id in vmlinux BTF (the second `imm`, a module
//! BTF's fd, is 0). The register gets:
//! - a per-CPU variable (one of the `.data..percpu` DATASEC):
//!   `PTR_TO_BTF_ID | MEM_PERCPU` of its type (`percpu_ptr_rq`), for
//!   `bpf_this_cpu_ptr` and `bpf_per_cpu_ptr`;
//! - a struct: `PTR_TO_BTF_ID` of it (`ptr_` loads through
//!   `btf_struct_access`);
//! - anything else: `PTR_TO_MEM | MEM_RDONLY` of its size
//!   (`rdonly_mem(sz=4)`), and a function `PTR_TO_MEM | MEM_RDONLY` of
//!   size 0.
//!
//! An id that is no VAR or FUNC, or a symbol `kallsyms_lookup_name` does
//! not find (read from /proc/kallsyms: a kernel without
//! `CONFIG_KALLSYMS_ALL` finds no variable), is refused before any
//! instruction, as the kernel refuses it; module variables (a BTF fd) are
//! not modelled. vmlinux BTF describes only per-CPU variables as VARs
//! (pahole's default), so `extern const struct rq runqueues __ksym;` is
//! the usual case.

use crate::error::RejectionKind;
use crate::state::{btf_flag, RegState, RegType};
use crate::Rejection;
use ironbpf_btf::kind;

const ENOENT: i32 = 2;

/// Whether the running kernel's `kallsyms_lookup_name` finds `name`: it
/// is in /proc/kallsyms (which lists data symbols, per-CPU variables
/// among them, only with `CONFIG_KALLSYMS_ALL`). `None`: /proc/kallsyms
/// cannot be read (not Linux), and the symbol is taken as found.
fn kallsyms_has(name: &str) -> Option<bool> {
    static NAMES: std::sync::OnceLock<Option<std::collections::HashSet<String>>> =
        std::sync::OnceLock::new();
    let names = NAMES.get_or_init(|| {
        let text = std::fs::read_to_string("/proc/kallsyms").ok()?;
        Some(
            text.lines()
                .filter_map(|l| l.split_whitespace().nth(2))
                // Module symbols carry their module: `name\t[mod]`.
                .map(str::to_string)
                .collect(),
        )
    });
    names.as_ref().map(|n| n.contains(name))
}
const EINVAL: i32 = 22;

fn refuse(insn: Option<usize>, errno: i32, message: String, kind: RejectionKind) -> Rejection {
    Rejection {
        insn,
        message,
        errno,
        kind,
        path: Vec::new(),
    }
}

/// `check_pseudo_btf_id`: the register an `ld_imm64` of the vmlinux BTF
/// variable `id` (at instruction `pc`) loads, or why there is none.
pub(crate) fn pseudo_btf_id(pc: usize, id: i32, btf_fd: i32) -> Result<RegState, Rejection> {
    if btf_fd != 0 {
        return Err(refuse(
            Some(pc),
            EINVAL,
            format!(
                "insn {pc}: ld_imm64 of a kernel variable of module BTF (fd {btf_fd}): ironbpf's verifier reads vmlinux BTF only"
            ),
            RejectionKind::Unsupported {
                pc,
                what: "module kernel variables",
            },
        ));
    }
    let vm = crate::vmlinux::vmlinux().map_err(|e| {
        refuse(
            Some(pc),
            EINVAL,
            format!("insn {pc}: a kernel variable by BTF id needs the kernel's BTF: {e}"),
            RejectionKind::Other,
        )
    })?;
    let btf = &vm.btf;
    let uid = id as u32;
    let Some(t) = btf.get(uid).filter(|_| id > 0) else {
        return Err(refuse(
            None,
            ENOENT,
            format!("ldimm64 insn specifies invalid btf_id {id}."),
            RejectionKind::Other,
        ));
    };
    if !matches!(t.kind, kind::FUNC | kind::VAR) {
        return Err(refuse(
            None,
            EINVAL,
            format!("pseudo btf_id {id} in ldimm64 isn't KIND_VAR or KIND_FUNC"),
            RejectionKind::Other,
        ));
    }
    let sym = btf.str_at(t.name_off);
    if kallsyms_has(sym) == Some(false) {
        return Err(refuse(
            None,
            ENOENT,
            format!("ldimm64 failed to find the address for kernel symbol '{sym}'."),
            RejectionKind::Other,
        ));
    }
    match t.kind {
        kind::FUNC => {
            return Ok(RegState {
                rdonly: true,
                mem_size: 0,
                ..RegState::pointer(RegType::Mem)
            })
        }
        kind::VAR => {}
        _ => {
            return Err(refuse(
                None,
                EINVAL,
                format!("pseudo btf_id {id} in ldimm64 isn't KIND_VAR or KIND_FUNC"),
                RejectionKind::Other,
            ))
        }
    }
    let ty = t.size_or_type;
    let percpu = btf.types.iter().any(|d| {
        d.kind == kind::DATASEC
            && btf.str_at(d.name_off) == ".data..percpu"
            && d.secinfo.iter().any(|v| v.type_id == uid)
    });
    if percpu {
        return Ok(RegState {
            btf_id: ty,
            btf_flags: btf_flag::PERCPU,
            ..RegState::pointer(RegType::BtfId)
        });
    }
    let target = btf.skip_mods_and_typedefs(ty).unwrap_or(ty);
    if btf.is_struct(target) {
        return Ok(RegState {
            btf_id: ty,
            ..RegState::pointer(RegType::BtfId)
        });
    }
    match btf.resolve_size(target) {
        Ok(r) => Ok(RegState {
            rdonly: true,
            mem_size: r.size,
            ..RegState::pointer(RegType::Mem)
        }),
        Err(_) => Err(refuse(
            None,
            EINVAL,
            format!(
                "ldimm64 unable to resolve the size of type '{}': -22",
                btf.name(target)
            ),
            RejectionKind::Other,
        )),
    }
}
