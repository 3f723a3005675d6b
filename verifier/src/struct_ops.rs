//! `check_struct_ops_btf_id`: what a struct_ops program implements, checked
//! before any instruction is verified.
//!
//! A struct_ops program is one member (a function pointer) of a struct_ops
//! type the kernel has registered (`tcp_congestion_ops`, `bpf_dummy_ops`,
//! or a module's, such as `bpf_testmod_ops`). The loader names the type by
//! its BTF id in `attach_btf_id` and the member by its index in
//! `expected_attach_type` (libbpf reads both from the `.struct_ops` map the
//! program is placed in). Without `attach_btf_id` the kernel answers
//! `ENOTSUPP` and logs nothing; for a type it has not registered (its
//! module is not loaded) it logs `attach_btf_id N is not a supported
//! struct`.
//!
//! A registered type is recognised in vmlinux BTF by its value struct,
//! `struct bpf_struct_ops_<name>` (a `common` header and the ops struct
//! as `data`), which the kernel declares for every struct_ops it registers.

use crate::cfg::libc_errno::{EINVAL, ENOTSUPP};
use crate::error::RejectionKind;
use crate::{Rejection, VerifyOptions};
use ironbpf_btf::kind;
use ironbpf_progtype::ProgTypeId;

/// The prefix of a registered struct_ops type's value struct
/// (`STRUCT_OPS_VALUE_PREFIX`).
const VALUE_PREFIX: &str = "bpf_struct_ops_";

fn reject(errno: i32, message: String) -> Rejection {
    Rejection {
        insn: None,
        message,
        errno,
        kind: RejectionKind::Other,
        path: Vec::new(),
    }
}

/// The struct_ops checks of a struct_ops program; any other program type
/// passes.
pub(crate) fn check(opts: &VerifyOptions) -> Result<(), Rejection> {
    if opts.prog_type != ProgTypeId::StructOps {
        return Ok(());
    }
    if !opts.gpl {
        return Err(reject(
            EINVAL,
            "struct ops programs must have a GPL compatible license".into(),
        ));
    }
    let Some(id) = opts.attach_btf_id.filter(|&id| id != 0) else {
        return Err(reject(
            ENOTSUPP,
            "a struct_ops program needs attach_btf_id: the BTF id of the struct_ops type it \
             implements (tcp_congestion_ops, bpf_dummy_ops...) in the kernel's BTF, and the \
             index of its member as expected_attach_type; the kernel refuses the load without \
             one (ENOTSUPP, with an empty log)"
                .into(),
        ));
    };
    let vm = crate::vmlinux::vmlinux().map_err(|e| reject(ENOTSUPP, e))?;
    let btf = &vm.btf;
    let registered = btf.types.iter().any(|t| {
        t.kind == kind::STRUCT
            && btf.str_at(t.name_off).starts_with(VALUE_PREFIX)
            && t.members
                .iter()
                .any(|m| btf.str_at(m.name_off) == "data" && m.type_id == id)
    });
    if !registered {
        return Err(reject(
            ENOTSUPP,
            format!("attach_btf_id {id} is not a supported struct"),
        ));
    }
    let Some(t) = btf.get(id) else {
        return Err(reject(
            ENOTSUPP,
            format!("attach_btf_id {id} is not a supported struct"),
        ));
    };
    let sname = btf.str_at(t.name_off);
    let member_idx = opts.attach_type.map_or(0, |a| a.kernel_id());
    let Some(member) = t.members.get(member_idx as usize) else {
        return Err(reject(
            EINVAL,
            format!("attach to invalid member idx {member_idx} of struct {sname}"),
        ));
    };
    let mname = btf.str_at(member.name_off);
    // btf_type_resolve_func_ptr: a pointer (through modifiers) to a FUNC_PROTO.
    let ptr = btf
        .skip_mods_and_typedefs(member.type_id)
        .unwrap_or(member.type_id);
    let is_func_ptr = btf.get(ptr).is_some_and(|p| {
        p.kind == kind::PTR
            && btf
                .skip_mods_and_typedefs(p.size_or_type)
                .is_ok_and(|f| btf.kind_of(f) == kind::FUNC_PROTO)
    });
    if !is_func_ptr {
        return Err(reject(
            EINVAL,
            format!("attach to invalid member {mname}(@idx {member_idx}) of struct {sname}"),
        ));
    }
    Ok(())
}
