//! The disassembler: instructions as text in the syntax of the kernel's
//! verifier log (`print_bpf_insn` in `kernel/bpf/disasm.c`), which bpftool
//! prints too.
//!
//! [`disasm_insn`] gives the bare text (`r0 = 42`, `if r1 > 0x5 goto pc+2`,
//! `call bpf_map_lookup_elem#1`); [`format_log_line`] the log's
//! `N: (xx) text` line; [`disasm_program`] a whole program, a line each.
//!
//! The text follows the kernel character for character, with these
//! exceptions where the kernel has no spelling that could be read back:
//!
//! - A constant `ld_imm64` gets LLVM's ` ll` suffix in [`disasm_insn`]
//!   (`r0 = 0x2a ll`), because `r0 = 0x2a` alone is a 32-bit-immediate move
//!   to an assembler. The log form has the `(18)` opcode, so
//!   [`format_log_line`] prints it as the kernel does, without ` ll`.
//! - Pseudo `ld_imm64` sources: the kernel prints the resolved pointer (or
//!   `0x0`); we print what the instruction holds: `map[fd:5]`,
//!   `map[fd:5][0]+8`, `map[idx:2]`, `map[idx:2][0]+8` (bpftool's
//!   `map[id:N]` form, with `fd`/`idx` for what an unloaded program holds),
//!   `subprog[+3]` (bpftool's form for `BPF_PSEUDO_FUNC`), and
//!   `btf_id[123]` / `btf_id[123][fd:4]` for `BPF_PSEUDO_BTF_ID`.
//! - A kfunc call: the kernel prints the function's BTF name, which needs
//!   the kernel's BTF; without a name from [`DisasmOptions::kfunc_name`] we
//!   print `call kernel-function#ID` (what the kernel's disassembler prints
//!   when it has no name). A call into a module BTF gets `[btf_fd_idx:N]`
//!   after the id, which the kernel does not print.
//! - `BPF_PSEUDO_FUNC`: the kernel prints the raw offset as a constant
//!   (`r2 = 0x8`); we print bpftool's `subprog[+8]`.
//! - `callx rN`, which the kernel does not accept, is printed as LLVM does.

use crate::insn::{AtomicOp, CallTarget, Endian, Insn, LdImm64Src, Operand, Reg, Size, Width};
use crate::program::Program;
use std::fmt::Write;

/// The kernel's helper function names by id (`__BPF_FUNC_MAPPER` in
/// `include/uapi/linux/bpf.h`, with the `bpf_` prefix the verifier log
/// prints), ids 0 to 211.
pub const HELPER_NAMES: [&str; 212] = [
    "bpf_unspec",
    "bpf_map_lookup_elem",
    "bpf_map_update_elem",
    "bpf_map_delete_elem",
    "bpf_probe_read",
    "bpf_ktime_get_ns",
    "bpf_trace_printk",
    "bpf_get_prandom_u32",
    "bpf_get_smp_processor_id",
    "bpf_skb_store_bytes",
    "bpf_l3_csum_replace",
    "bpf_l4_csum_replace",
    "bpf_tail_call",
    "bpf_clone_redirect",
    "bpf_get_current_pid_tgid",
    "bpf_get_current_uid_gid",
    "bpf_get_current_comm",
    "bpf_get_cgroup_classid",
    "bpf_skb_vlan_push",
    "bpf_skb_vlan_pop",
    "bpf_skb_get_tunnel_key",
    "bpf_skb_set_tunnel_key",
    "bpf_perf_event_read",
    "bpf_redirect",
    "bpf_get_route_realm",
    "bpf_perf_event_output",
    "bpf_skb_load_bytes",
    "bpf_get_stackid",
    "bpf_csum_diff",
    "bpf_skb_get_tunnel_opt",
    "bpf_skb_set_tunnel_opt",
    "bpf_skb_change_proto",
    "bpf_skb_change_type",
    "bpf_skb_under_cgroup",
    "bpf_get_hash_recalc",
    "bpf_get_current_task",
    "bpf_probe_write_user",
    "bpf_current_task_under_cgroup",
    "bpf_skb_change_tail",
    "bpf_skb_pull_data",
    "bpf_csum_update",
    "bpf_set_hash_invalid",
    "bpf_get_numa_node_id",
    "bpf_skb_change_head",
    "bpf_xdp_adjust_head",
    "bpf_probe_read_str",
    "bpf_get_socket_cookie",
    "bpf_get_socket_uid",
    "bpf_set_hash",
    "bpf_setsockopt",
    "bpf_skb_adjust_room",
    "bpf_redirect_map",
    "bpf_sk_redirect_map",
    "bpf_sock_map_update",
    "bpf_xdp_adjust_meta",
    "bpf_perf_event_read_value",
    "bpf_perf_prog_read_value",
    "bpf_getsockopt",
    "bpf_override_return",
    "bpf_sock_ops_cb_flags_set",
    "bpf_msg_redirect_map",
    "bpf_msg_apply_bytes",
    "bpf_msg_cork_bytes",
    "bpf_msg_pull_data",
    "bpf_bind",
    "bpf_xdp_adjust_tail",
    "bpf_skb_get_xfrm_state",
    "bpf_get_stack",
    "bpf_skb_load_bytes_relative",
    "bpf_fib_lookup",
    "bpf_sock_hash_update",
    "bpf_msg_redirect_hash",
    "bpf_sk_redirect_hash",
    "bpf_lwt_push_encap",
    "bpf_lwt_seg6_store_bytes",
    "bpf_lwt_seg6_adjust_srh",
    "bpf_lwt_seg6_action",
    "bpf_rc_repeat",
    "bpf_rc_keydown",
    "bpf_skb_cgroup_id",
    "bpf_get_current_cgroup_id",
    "bpf_get_local_storage",
    "bpf_sk_select_reuseport",
    "bpf_skb_ancestor_cgroup_id",
    "bpf_sk_lookup_tcp",
    "bpf_sk_lookup_udp",
    "bpf_sk_release",
    "bpf_map_push_elem",
    "bpf_map_pop_elem",
    "bpf_map_peek_elem",
    "bpf_msg_push_data",
    "bpf_msg_pop_data",
    "bpf_rc_pointer_rel",
    "bpf_spin_lock",
    "bpf_spin_unlock",
    "bpf_sk_fullsock",
    "bpf_tcp_sock",
    "bpf_skb_ecn_set_ce",
    "bpf_get_listener_sock",
    "bpf_skc_lookup_tcp",
    "bpf_tcp_check_syncookie",
    "bpf_sysctl_get_name",
    "bpf_sysctl_get_current_value",
    "bpf_sysctl_get_new_value",
    "bpf_sysctl_set_new_value",
    "bpf_strtol",
    "bpf_strtoul",
    "bpf_sk_storage_get",
    "bpf_sk_storage_delete",
    "bpf_send_signal",
    "bpf_tcp_gen_syncookie",
    "bpf_skb_output",
    "bpf_probe_read_user",
    "bpf_probe_read_kernel",
    "bpf_probe_read_user_str",
    "bpf_probe_read_kernel_str",
    "bpf_tcp_send_ack",
    "bpf_send_signal_thread",
    "bpf_jiffies64",
    "bpf_read_branch_records",
    "bpf_get_ns_current_pid_tgid",
    "bpf_xdp_output",
    "bpf_get_netns_cookie",
    "bpf_get_current_ancestor_cgroup_id",
    "bpf_sk_assign",
    "bpf_ktime_get_boot_ns",
    "bpf_seq_printf",
    "bpf_seq_write",
    "bpf_sk_cgroup_id",
    "bpf_sk_ancestor_cgroup_id",
    "bpf_ringbuf_output",
    "bpf_ringbuf_reserve",
    "bpf_ringbuf_submit",
    "bpf_ringbuf_discard",
    "bpf_ringbuf_query",
    "bpf_csum_level",
    "bpf_skc_to_tcp6_sock",
    "bpf_skc_to_tcp_sock",
    "bpf_skc_to_tcp_timewait_sock",
    "bpf_skc_to_tcp_request_sock",
    "bpf_skc_to_udp6_sock",
    "bpf_get_task_stack",
    "bpf_load_hdr_opt",
    "bpf_store_hdr_opt",
    "bpf_reserve_hdr_opt",
    "bpf_inode_storage_get",
    "bpf_inode_storage_delete",
    "bpf_d_path",
    "bpf_copy_from_user",
    "bpf_snprintf_btf",
    "bpf_seq_printf_btf",
    "bpf_skb_cgroup_classid",
    "bpf_redirect_neigh",
    "bpf_per_cpu_ptr",
    "bpf_this_cpu_ptr",
    "bpf_redirect_peer",
    "bpf_task_storage_get",
    "bpf_task_storage_delete",
    "bpf_get_current_task_btf",
    "bpf_bprm_opts_set",
    "bpf_ktime_get_coarse_ns",
    "bpf_ima_inode_hash",
    "bpf_sock_from_file",
    "bpf_check_mtu",
    "bpf_for_each_map_elem",
    "bpf_snprintf",
    "bpf_sys_bpf",
    "bpf_btf_find_by_name_kind",
    "bpf_sys_close",
    "bpf_timer_init",
    "bpf_timer_set_callback",
    "bpf_timer_start",
    "bpf_timer_cancel",
    "bpf_get_func_ip",
    "bpf_get_attach_cookie",
    "bpf_task_pt_regs",
    "bpf_get_branch_snapshot",
    "bpf_trace_vprintk",
    "bpf_skc_to_unix_sock",
    "bpf_kallsyms_lookup_name",
    "bpf_find_vma",
    "bpf_loop",
    "bpf_strncmp",
    "bpf_get_func_arg",
    "bpf_get_func_ret",
    "bpf_get_func_arg_cnt",
    "bpf_get_retval",
    "bpf_set_retval",
    "bpf_xdp_get_buff_len",
    "bpf_xdp_load_bytes",
    "bpf_xdp_store_bytes",
    "bpf_copy_from_user_task",
    "bpf_skb_set_tstamp",
    "bpf_ima_file_hash",
    "bpf_kptr_xchg",
    "bpf_map_lookup_percpu_elem",
    "bpf_skc_to_mptcp_sock",
    "bpf_dynptr_from_mem",
    "bpf_ringbuf_reserve_dynptr",
    "bpf_ringbuf_submit_dynptr",
    "bpf_ringbuf_discard_dynptr",
    "bpf_dynptr_read",
    "bpf_dynptr_write",
    "bpf_dynptr_data",
    "bpf_tcp_raw_gen_syncookie_ipv4",
    "bpf_tcp_raw_gen_syncookie_ipv6",
    "bpf_tcp_raw_check_syncookie_ipv4",
    "bpf_tcp_raw_check_syncookie_ipv6",
    "bpf_ktime_get_tai_ns",
    "bpf_user_ringbuf_drain",
    "bpf_cgrp_storage_get",
    "bpf_cgrp_storage_delete",
];

/// The name of helper `id` (`bpf_map_lookup_elem` for 1), if the kernel
/// has one.
pub fn helper_name(id: i32) -> Option<&'static str> {
    usize::try_from(id)
        .ok()
        .and_then(|i| HELPER_NAMES.get(i).copied())
}

/// The id of the helper named `name`, with or without the `bpf_` prefix.
pub fn helper_id(name: &str) -> Option<i32> {
    let full = if name.starts_with("bpf_") {
        std::borrow::Cow::Borrowed(name)
    } else {
        std::borrow::Cow::Owned(format!("bpf_{name}"))
    };
    HELPER_NAMES
        .iter()
        .position(|n| *n == full.as_ref())
        .map(|i| i as i32)
}

/// The register as the log names it: `wN` for 32-bit operations, `rN`.
fn reg(r: Reg, width: Width) -> String {
    match width {
        Width::W32 => format!("w{}", r.num()),
        Width::W64 => format!("r{}", r.num()),
    }
}

/// `(r1 +4)`: a base register and a signed offset as `%+d` prints it.
fn addr(base: Reg, off: i16) -> String {
    format!("(r{} {:+})", base.num(), off)
}

fn write_text(out: &mut String, insn: &Insn, log_form: bool, opts: &DisasmOptions) {
    // `write!` into a String cannot fail.
    let _ = match *insn {
        Insn::Alu {
            op,
            width,
            dst,
            src,
        } => match src {
            Operand::Reg(s) => write!(out, "{} {} {}", reg(dst, width), op.symbol(), reg(s, width)),
            Operand::Imm(imm) => write!(out, "{} {} {}", reg(dst, width), op.symbol(), imm),
        },
        Insn::Neg { width, dst } => write!(out, "{} = -{}", reg(dst, width), reg(dst, width)),
        Insn::MovSx {
            width,
            dst,
            src,
            bits,
        } => write!(out, "{} = (s{}){}", reg(dst, width), bits, reg(src, width)),
        Insn::Endian { kind, bits, dst } => {
            let name = match kind {
                Endian::ToLe => "le",
                Endian::ToBe => "be",
                Endian::Swap => "bswap",
            };
            write!(out, "{dst} = {name}{bits} {dst}")
        }
        Insn::LdImm64 {
            dst,
            src,
            imm,
            next_imm,
        } => match src {
            LdImm64Src::Imm => {
                let v = Insn::imm64(imm, next_imm);
                if log_form {
                    write!(out, "{dst} = {v:#x}")
                } else {
                    write!(out, "{dst} = {v:#x} ll")
                }
            }
            LdImm64Src::MapFd => write!(out, "{dst} = map[{}:{imm}]", opts.map_key()),
            LdImm64Src::MapValue => {
                write!(out, "{dst} = map[{}:{imm}][0]+{next_imm}", opts.map_key())
            }
            LdImm64Src::MapIdx => write!(out, "{dst} = map[idx:{imm}]"),
            LdImm64Src::MapIdxValue => write!(out, "{dst} = map[idx:{imm}][0]+{next_imm}"),
            LdImm64Src::Func => write!(out, "{dst} = subprog[{imm:+}]"),
            LdImm64Src::BtfId if next_imm == 0 => write!(out, "{dst} = btf_id[{imm}]"),
            LdImm64Src::BtfId => write!(out, "{dst} = btf_id[{imm}][fd:{next_imm}]"),
        },
        Insn::LdAbs { size, imm } => write!(out, "r0 = *({} *)skb[{}]", size.c_type(), imm),
        Insn::LdInd { size, src, imm } => {
            write!(out, "r0 = *({} *)skb[{} + {}]", size.c_type(), src, imm)
        }
        Insn::Load {
            size,
            sign_extend,
            dst,
            src,
            off,
        } => {
            let ty = if sign_extend {
                size.c_stype()
            } else {
                size.c_type()
            };
            write!(out, "{dst} = *({ty} *){}", addr(src, off))
        }
        Insn::Store {
            size,
            dst,
            off,
            imm,
        } => write!(out, "*({} *){} = {}", size.c_type(), addr(dst, off), imm),
        Insn::StoreReg {
            size,
            dst,
            src,
            off,
        } => write!(out, "*({} *){} = {}", size.c_type(), addr(dst, off), src),
        Insn::Atomic {
            op,
            size,
            dst,
            src,
            off,
        } => write_atomic(out, op, size, dst, src, off),
        Insn::Ja { off } => write!(out, "goto pc{off:+}"),
        Insn::Gotol { imm } => write!(out, "gotol pc{imm:+}"),
        Insn::MayGoto { off } => write!(out, "may_goto pc{off:+}"),
        Insn::Jmp {
            op,
            width,
            dst,
            src,
            off,
        } => match src {
            Operand::Reg(s) => write!(
                out,
                "if {} {} {} goto pc{:+}",
                reg(dst, width),
                op.symbol(),
                reg(s, width),
                off
            ),
            Operand::Imm(imm) => write!(
                out,
                "if {} {} {:#x} goto pc{:+}",
                reg(dst, width),
                op.symbol(),
                imm as u32,
                off
            ),
        },
        Insn::Call(CallTarget::Helper(id)) => {
            write!(out, "call {}#{}", helper_name(id).unwrap_or("unknown"), id)
        }
        Insn::Call(CallTarget::Local(imm)) => write!(out, "call pc{imm:+}"),
        Insn::Call(CallTarget::Kfunc { btf_id, off }) => {
            let name = opts
                .kfunc_name
                .and_then(|f| f(btf_id, off))
                .unwrap_or_else(|| "kernel-function".to_string());
            if off == 0 {
                write!(out, "call {name}#{btf_id}")
            } else {
                write!(out, "call {name}#{btf_id}[btf_fd_idx:{off}]")
            }
        }
        Insn::Callx { reg } => write!(out, "callx {reg}"),
        Insn::Exit => write!(out, "exit"),
    };
}

fn write_atomic(
    out: &mut String,
    op: AtomicOp,
    size: Size,
    dst: Reg,
    src: Reg,
    off: i16,
) -> std::fmt::Result {
    let ty = size.c_type();
    let a = addr(dst, off);
    let bits = if size == Size::DW { "64" } else { "" };
    match op {
        AtomicOp::Add | AtomicOp::Or | AtomicOp::And | AtomicOp::Xor => {
            let sym = op.alu().map(|o| o.symbol()).unwrap_or("?");
            write!(out, "lock *({ty} *){a} {sym} {src}")
        }
        AtomicOp::FetchAdd | AtomicOp::FetchOr | AtomicOp::FetchAnd | AtomicOp::FetchXor => {
            let name = match op {
                AtomicOp::FetchAdd => "add",
                AtomicOp::FetchOr => "or",
                AtomicOp::FetchAnd => "and",
                _ => "xor",
            };
            write!(out, "{src} = atomic{bits}_fetch_{name}(({ty} *){a}, {src})")
        }
        AtomicOp::Xchg => write!(out, "{src} = atomic{bits}_xchg(({ty} *){a}, {src})"),
        AtomicOp::CmpXchg => write!(out, "r0 = atomic{bits}_cmpxchg(({ty} *){a}, r0, {src})"),
        AtomicOp::LoadAcquire => {
            // Here `src` is the address and `dst` the loaded register.
            write!(out, "{dst} = load_acquire(({ty} *){})", addr(src, off))
        }
        AtomicOp::StoreRelease => write!(out, "store_release(({ty} *){a}, {src})"),
    }
}

/// What the instruction alone cannot tell the disassembler.
#[derive(Clone, Copy, Default)]
pub struct DisasmOptions<'a> {
    /// The program was read back from the kernel (its "xlated" form), where
    /// the map `ld_imm64`s hold map ids: print `map[id:N]` as bpftool does,
    /// rather than `map[fd:N]`.
    pub map_ids: bool,
    /// The name of the kfunc with this BTF id in this module BTF (the
    /// `off` field, 0 for vmlinux), which the kernel's log prints in place
    /// of `kernel-function`. (A name that is also a helper's, or `unknown`,
    /// would read back as a helper call.)
    pub kfunc_name: Option<&'a dyn Fn(i32, i16) -> Option<String>>,
}

impl DisasmOptions<'_> {
    fn map_key(&self) -> &'static str {
        if self.map_ids {
            "id"
        } else {
            "fd"
        }
    }
}

impl std::fmt::Debug for DisasmOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DisasmOptions")
            .field("map_ids", &self.map_ids)
            .field("kfunc_name", &self.kfunc_name.is_some())
            .finish()
    }
}

/// The instruction as the kernel's verifier log writes it, without the
/// `N: (xx) ` prefix: `r0 = 42`, `*(u64 *)(r10 -8) = r1`, `exit`. A
/// constant `ld_imm64` ends in ` ll` (see the module documentation).
pub fn disasm_insn(insn: &Insn) -> String {
    disasm_insn_with(insn, &DisasmOptions::default())
}

/// [`disasm_insn`] with map ids or kfunc names.
pub fn disasm_insn_with(insn: &Insn, opts: &DisasmOptions) -> String {
    let mut s = String::new();
    write_text(&mut s, insn, false, opts);
    s
}

/// One line of the kernel's verifier log for the instruction at slot `pc`
/// whose first slot has opcode `code`: `0: (b7) r0 = 42`. No newline.
pub fn format_log_line(pc: usize, insn: &Insn, code: u8) -> String {
    format_log_line_with(pc, insn, code, &DisasmOptions::default())
}

/// [`format_log_line`] with map ids or kfunc names.
pub fn format_log_line_with(pc: usize, insn: &Insn, code: u8, opts: &DisasmOptions) -> String {
    let mut s = format!("{pc}: ({code:02x}) ");
    write_text(&mut s, insn, true, opts);
    s
}

/// The whole program in the verifier log's form, one instruction a line
/// (`0: (b7) r0 = 42`), each line ending in a newline. The second slot of
/// an `ld_imm64` has no line of its own, as in the kernel's log.
pub fn disasm_program(prog: &Program) -> String {
    disasm_program_with(prog, &DisasmOptions::default())
}

/// [`disasm_program`] with map ids or kfunc names.
pub fn disasm_program_with(prog: &Program, opts: &DisasmOptions) -> String {
    let mut out = String::new();
    for d in prog.insns() {
        let code = prog.slots().get(d.pc).map_or(0, |s| s.code);
        out.push_str(&format_log_line_with(d.pc, &d.insn, code, opts));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helper_table_matches_known_ids() {
        assert_eq!(helper_name(1), Some("bpf_map_lookup_elem"));
        assert_eq!(helper_name(12), Some("bpf_tail_call"));
        assert_eq!(helper_name(209), Some("bpf_user_ringbuf_drain"));
        assert_eq!(helper_name(211), Some("bpf_cgrp_storage_delete"));
        assert_eq!(helper_name(212), None);
        assert_eq!(helper_name(-1), None);
        assert_eq!(helper_id("map_lookup_elem"), Some(1));
        assert_eq!(helper_id("bpf_trace_printk"), Some(6));
        assert_eq!(helper_id("bpf_nope"), None);
    }
}
