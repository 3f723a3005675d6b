//! The exception callback of a program that throws (`bpf_throw`): the main
//! program's BTF FUNC names it with a `exception_callback:<name>` decl tag.
//!
//! The kernel finds it in `add_subprog_and_kfunc`
//! (`bpf_find_exception_callback_insn_off`): the tag must be unique, its
//! FUNC must exist in the program's BTF with global linkage, and one of the
//! program's func_info records must name that FUNC (a loader that does not
//! append the callback to the program, as libbpf does, makes the kernel
//! refuse the load there). The callback becomes a subprogram that nothing
//! may call directly (`check_max_stack_depth`: `insn N cannot call
//! exception cb directly`).

use crate::cfg::libc_errno::{EEXIST, EINVAL, ENOENT};
use crate::error::RejectionKind;
use crate::{Rejection, VerifyOptions};
use ironbpf_btf::{kind, Btf};
use ironbpf_isa::RawInsn;

/// The decl tag's key.
const TAG_KEY: &str = "exception_callback:";

/// `BTF_FUNC_GLOBAL`: the linkage of a FUNC (its `vlen`).
const BTF_FUNC_GLOBAL: u32 = 1;

fn reject(errno: i32, message: String) -> Rejection {
    Rejection {
        insn: None,
        message,
        errno,
        kind: RejectionKind::Other,
        path: Vec::new(),
    }
}

/// The value of the `exception_callback:` decl tag on the main FUNC
/// (`btf_find_decl_tag_value` with component -1); `Ok(None)` without one.
fn tag_value(btf: &Btf, main: u32) -> Result<Option<&str>, Rejection> {
    let mut found = None;
    for t in &btf.types {
        if t.kind != kind::DECL_TAG || t.size_or_type != main || t.extra[0] != u32::MAX {
            continue;
        }
        let Some(value) = btf.str_at(t.name_off).strip_prefix(TAG_KEY) else {
            continue;
        };
        if found.is_some() {
            return Err(reject(
                EEXIST,
                "multiple exception callback tags for main subprog".into(),
            ));
        }
        found = Some(value);
    }
    Ok(found)
}

/// `bpf_find_exception_callback_insn_off`: the first instruction of the
/// exception callback, `None` when the main program names none (or the
/// program has no func_info).
pub(crate) fn find_callback_insn(opts: &VerifyOptions) -> Result<Option<usize>, Rejection> {
    let (Some(btf), Some(main)) = (opts.btf.as_deref(), opts.func_info.first()) else {
        return Ok(None);
    };
    if btf.get(main.type_id).is_none() {
        return Err(reject(
            EINVAL,
            "invalid btf id for main subprog in func_info".into(),
        ));
    }
    let Some(name) = tag_value(btf, main.type_id)? else {
        return Ok(None);
    };
    // btf_find_by_name_kind: the first FUNC of that name.
    let Some((id, func)) = btf
        .types
        .iter()
        .enumerate()
        .skip(1)
        .find(|(_, t)| t.kind == kind::FUNC && btf.str_at(t.name_off) == name)
    else {
        return Err(reject(
            ENOENT,
            format!("exception callback '{name}' could not be found in BTF"),
        ));
    };
    if func.vlen != BTF_FUNC_GLOBAL {
        return Err(reject(
            EINVAL,
            format!("exception callback '{name}' must have global linkage"),
        ));
    }
    // The last func_info record naming it wins, as in the kernel's loop.
    let mut off = None;
    for rec in opts.func_info.iter().filter(|r| r.type_id as usize == id) {
        if rec.insn == 0 {
            return Err(reject(
                EINVAL,
                "invalid exception callback insn_off in func_info: 0".into(),
            ));
        }
        off = Some(rec.insn);
    }
    match off {
        Some(o) => Ok(Some(o)),
        None => Err(reject(
            EINVAL,
            "exception callback type id not found in func_info".into(),
        )),
    }
}

/// `check_max_stack_depth`'s refusal of a direct call (`call pc+N`, not
/// a callback reference) to the exception callback, which starts at
/// `cb`. The kernel prints this line without a newline.
pub(crate) fn check_direct_calls(insns: &[RawInsn], cb: Option<usize>) -> Result<(), Rejection> {
    let Some(cb) = cb else { return Ok(()) };
    for (pc, i) in insns.iter().enumerate() {
        if i.code == 0x85 && i.src == 1 && pc as i64 + i64::from(i.imm) + 1 == cb as i64 {
            return Err(reject(
                EINVAL,
                format!("insn {pc} cannot call exception cb directly"),
            ));
        }
    }
    Ok(())
}
