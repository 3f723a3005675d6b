//! Every helper of Linux 6.18 and which program type gets which prototype.
//!
//! [`HELPERS`] holds a prototype for each helper id of 6.18's
//! `__BPF_FUNC_MAPPER` (1 to 211), implemented in userspace or not;
//! [`VARIANTS`] the other prototypes some helpers have per program type
//! (`get_cgroup_classid` takes the skb in tc and lwt, nothing elsewhere;
//! `skb_load_bytes` is another function in sk_reuseport...). [`func_proto`]
//! is the kernel's `get_func_proto` as data: for a program type, attach
//! type, helper id, licence, capabilities and sleepability, the prototype
//! the verifier checks the call against, or the kernel's refusal.
//!
//! The tables were written from the kernel's sources (`bpf_base_func_proto`,
//! each type's `*_func_proto` in net/core/filter.c, kernel/trace/bpf_trace.c,
//! kernel/bpf/cgroup.c) and are checked against the running kernel by
//! `ironbpf_conformance::probe_helpers`. Where a helper depends on the
//! kernel's configuration, they describe the configuration of the kernel
//! they were checked on: `bpf_override_return` (needs
//! `CONFIG_BPF_KPROBE_OVERRIDE`), `bpf_probe_write_user` (refused under
//! lockdown) and the lirc_mode2 helpers are offered to no type.
use crate::proto::args::*;
use crate::proto::flags::{ALLOC, FIXED_SIZE, MAYBE_NULL, RDONLY, RELEASE, RINGBUF, TRUSTED};
use crate::proto::{ArgType, Proto, RetType};
use RetType::{Integer as INT, Void as VOID};

const fn p(ret: RetType, a: &[(&'static str, ArgType)]) -> Proto {
    Proto::new(ret, a, crate::proto::progs::ALL)
}
const fn ptr_or_null(ret: RetType, a: &[(&'static str, ArgType)]) -> Proto {
    p(ret, a).ret_with(MAYBE_NULL)
}
const BTF_TASK: ArgType = BTF.btf("task_struct");
const BTF_TASK_OR_NULL: ArgType = BTF_OR_NULL.btf("task_struct");
/// `ARG_PTR_TO_FIXED_SIZE_MEM | MEM_RDONLY` of `size` bytes.
const fn fixed_ro(size: u32) -> ArgType {
    ArgType {
        size,
        ..MEM_RO.with(FIXED_SIZE)
    }
}

/// One row of [`HELPERS`].
#[derive(Clone, Copy, Debug)]
pub struct HelperDef {
    /// The uapi id (`BPF_FUNC_*`).
    pub id: u32,
    /// The name without `bpf_`.
    pub name: &'static str,
    /// The prototype most program types get.
    pub proto: Proto,
}

const fn v(name: &'static str, proto: Proto) -> (&'static str, Proto) {
    (name, proto.named(name))
}

const fn h(id: u32, name: &'static str, proto: Proto) -> HelperDef {
    HelperDef {
        id,
        name,
        proto: proto.named(name),
    }
}
/// Every helper of Linux 6.18 (`__BPF_FUNC_MAPPER`), by id, with the
/// prototype that most program types get.
#[rustfmt::skip]
pub static HELPERS: &[HelperDef] = &[
    h(1, "map_lookup_elem", ptr_or_null(RetType::PtrToMapValue, &[("map", MAP), ("key", KEY)]).pkt_access()),
    h(2, "map_update_elem", p(INT, &[("map", MAP), ("key", KEY), ("value", VALUE), ("flags", ANY)]).pkt_access()),
    h(3, "map_delete_elem", p(INT, &[("map", MAP), ("key", KEY)]).pkt_access()),
    h(4, "probe_read", p(INT, &[("dst", MEM_OUT), ("size", SIZE0), ("unsafe_ptr", ANY)]).gpl()),
    h(5, "ktime_get_ns", p(INT, &[])),
    h(6, "trace_printk", p(INT, &[("fmt", MEM_RO), ("fmt_size", SIZE)]).gpl()),
    h(7, "get_prandom_u32", p(INT, &[])),
    h(8, "get_smp_processor_id", p(INT, &[]).fastcall()),
    h(9, "skb_store_bytes", p(INT, &[("skb", CTX), ("offset", ANY), ("from", MEM_RO), ("len", SIZE), ("flags", ANY)]).pkt()),
    h(10, "l3_csum_replace", p(INT, &[("skb", CTX), ("offset", ANY), ("from", ANY), ("to", ANY), ("size", ANY)]).pkt()),
    h(11, "l4_csum_replace", p(INT, &[("skb", CTX), ("offset", ANY), ("from", ANY), ("to", ANY), ("flags", ANY)]).pkt()),
    h(12, "tail_call", p(VOID, &[("ctx", CTX), ("prog_array_map", MAP), ("index", ANY)]).pkt()),
    h(13, "clone_redirect", p(INT, &[("skb", CTX), ("ifindex", ANY), ("flags", ANY)]).pkt()),
    h(14, "get_current_pid_tgid", p(INT, &[])),
    h(15, "get_current_uid_gid", p(INT, &[])),
    h(16, "get_current_comm", p(INT, &[("buf", MEM_OUT), ("size_of_buf", SIZE)])),
    h(17, "get_cgroup_classid", p(INT, &[("skb", CTX)])),
    h(18, "skb_vlan_push", p(INT, &[("skb", CTX), ("vlan_proto", ANY), ("vlan_tci", ANY)]).pkt()),
    h(19, "skb_vlan_pop", p(INT, &[("skb", CTX)]).pkt()),
    h(20, "skb_get_tunnel_key", p(INT, &[("skb", CTX), ("key", MEM_OUT), ("size", SIZE), ("flags", ANY)])),
    h(21, "skb_set_tunnel_key", p(INT, &[("skb", CTX), ("key", MEM_RO), ("size", SIZE), ("flags", ANY)])),
    h(22, "perf_event_read", p(INT, &[("map", MAP), ("flags", ANY)]).gpl()),
    h(23, "redirect", p(INT, &[("ifindex", ANY), ("flags", ANY)])),
    h(24, "get_route_realm", p(INT, &[("skb", CTX)])),
    h(25, "perf_event_output", p(INT, &[("ctx", CTX), ("map", MAP), ("flags", ANY), ("data", MEM_RO), ("size", SIZE0)]).gpl()),
    h(26, "skb_load_bytes", p(INT, &[("skb", CTX), ("offset", ANY), ("to", MEM_OUT), ("len", SIZE)])),
    h(27, "get_stackid", p(INT, &[("ctx", CTX), ("map", MAP), ("flags", ANY)]).gpl()),
    h(28, "csum_diff", p(INT, &[("from", MEM_RO_OR_NULL), ("from_size", SIZE0), ("to", MEM_RO_OR_NULL), ("to_size", SIZE0), ("seed", ANY)]).pkt_access()),
    h(29, "skb_get_tunnel_opt", p(INT, &[("skb", CTX), ("opt", MEM_OUT), ("size", SIZE)])),
    h(30, "skb_set_tunnel_opt", p(INT, &[("skb", CTX), ("opt", MEM_RO), ("size", SIZE)])),
    h(31, "skb_change_proto", p(INT, &[("skb", CTX), ("proto", ANY), ("flags", ANY)]).pkt()),
    h(32, "skb_change_type", p(INT, &[("skb", CTX), ("type", ANY)])),
    h(33, "skb_under_cgroup", p(INT, &[("skb", CTX), ("map", MAP), ("index", ANY)])),
    h(34, "get_hash_recalc", p(INT, &[("skb", CTX)])),
    h(35, "get_current_task", p(INT, &[]).gpl()),
    h(36, "probe_write_user", p(INT, &[("dst", ANY), ("src", MEM_RO), ("len", SIZE)]).gpl()),
    h(37, "current_task_under_cgroup", p(INT, &[("map", MAP), ("index", ANY)])),
    h(38, "skb_change_tail", p(INT, &[("skb", CTX), ("len", ANY), ("flags", ANY)]).pkt()),
    h(39, "skb_pull_data", p(INT, &[("skb", CTX), ("len", ANY)]).pkt()),
    h(40, "csum_update", p(INT, &[("skb", CTX), ("csum", ANY)])),
    h(41, "set_hash_invalid", p(VOID, &[("skb", CTX)])),
    h(42, "get_numa_node_id", p(INT, &[])),
    h(43, "skb_change_head", p(INT, &[("skb", CTX), ("len", ANY), ("flags", ANY)]).pkt()),
    h(44, "xdp_adjust_head", p(INT, &[("xdp_md", CTX), ("delta", ANY)]).pkt()),
    h(45, "probe_read_str", p(INT, &[("dst", MEM_OUT), ("size", SIZE0), ("unsafe_ptr", ANY)]).gpl()),
    h(46, "get_socket_cookie", p(INT, &[("skb", CTX)])),
    h(47, "get_socket_uid", p(INT, &[("skb", CTX)])),
    h(48, "set_hash", p(INT, &[("skb", CTX), ("hash", ANY)])),
    h(49, "setsockopt", p(INT, &[("bpf_socket", CTX), ("level", ANY), ("optname", ANY), ("optval", MEM_RO), ("optlen", SIZE)])),
    h(50, "skb_adjust_room", p(INT, &[("skb", CTX), ("len_diff", ANY), ("mode", ANY), ("flags", ANY)]).pkt()),
    h(51, "redirect_map", p(INT, &[("map", MAP), ("key", ANY), ("flags", ANY)])),
    h(52, "sk_redirect_map", p(INT, &[("skb", CTX), ("map", MAP), ("key", ANY), ("flags", ANY)])),
    h(53, "sock_map_update", p(INT, &[("skops", CTX), ("map", MAP), ("key", KEY), ("flags", ANY)])),
    h(54, "xdp_adjust_meta", p(INT, &[("xdp_md", CTX), ("delta", ANY)]).pkt()),
    h(55, "perf_event_read_value", p(INT, &[("map", MAP), ("flags", ANY), ("buf", MEM_OUT), ("buf_size", SIZE)]).gpl()),
    h(56, "perf_prog_read_value", p(INT, &[("ctx", CTX), ("buf", MEM_OUT), ("buf_size", SIZE)]).gpl()),
    h(57, "getsockopt", p(INT, &[("bpf_socket", CTX), ("level", ANY), ("optname", ANY), ("optval", MEM_OUT), ("optlen", SIZE)])),
    h(58, "override_return", p(INT, &[("regs", CTX), ("rc", ANY)]).gpl()),
    h(59, "sock_ops_cb_flags_set", p(INT, &[("bpf_sock", CTX), ("argval", ANY)])),
    h(60, "msg_redirect_map", p(INT, &[("msg", CTX), ("map", MAP), ("key", ANY), ("flags", ANY)])),
    h(61, "msg_apply_bytes", p(INT, &[("msg", CTX), ("bytes", ANY)])),
    h(62, "msg_cork_bytes", p(INT, &[("msg", CTX), ("bytes", ANY)])),
    h(63, "msg_pull_data", p(INT, &[("msg", CTX), ("start", ANY), ("end", ANY), ("flags", ANY)]).pkt()),
    h(64, "bind", p(INT, &[("ctx", CTX), ("addr", MEM_RO), ("addr_len", SIZE)])),
    h(65, "xdp_adjust_tail", p(INT, &[("xdp_md", CTX), ("delta", ANY)]).pkt()),
    h(66, "skb_get_xfrm_state", p(INT, &[("skb", CTX), ("index", ANY), ("xfrm_state", MEM_OUT), ("size", SIZE), ("flags", ANY)])),
    h(67, "get_stack", p(INT, &[("ctx", CTX), ("buf", MEM_OUT), ("size", SIZE0), ("flags", ANY)]).gpl()),
    h(68, "skb_load_bytes_relative", p(INT, &[("skb", CTX), ("offset", ANY), ("to", MEM_OUT), ("len", SIZE), ("start_header", ANY)])),
    h(69, "fib_lookup", p(INT, &[("ctx", CTX), ("params", MEM_RW), ("plen", SIZE), ("flags", ANY)]).gpl()),
    h(70, "sock_hash_update", p(INT, &[("skops", CTX), ("map", MAP), ("key", KEY), ("flags", ANY)])),
    h(71, "msg_redirect_hash", p(INT, &[("msg", CTX), ("map", MAP), ("key", KEY), ("flags", ANY)])),
    h(72, "sk_redirect_hash", p(INT, &[("skb", CTX), ("map", MAP), ("key", KEY), ("flags", ANY)])),
    h(73, "lwt_push_encap", p(INT, &[("skb", CTX), ("type", ANY), ("hdr", MEM_RO), ("len", SIZE)]).pkt()),
    h(74, "lwt_seg6_store_bytes", p(INT, &[("skb", CTX), ("offset", ANY), ("from", MEM_RO), ("len", SIZE)]).pkt()),
    h(75, "lwt_seg6_adjust_srh", p(INT, &[("skb", CTX), ("offset", ANY), ("delta", ANY)]).pkt()),
    h(76, "lwt_seg6_action", p(INT, &[("skb", CTX), ("action", ANY), ("param", MEM_RO), ("param_len", SIZE)]).pkt()),
    h(77, "rc_repeat", p(INT, &[("ctx", CTX)]).gpl()),
    h(78, "rc_keydown", p(INT, &[("ctx", CTX), ("protocol", ANY), ("scancode", ANY), ("toggle", ANY)]).gpl()),
    h(79, "skb_cgroup_id", p(INT, &[("skb", CTX)])),
    h(80, "get_current_cgroup_id", p(INT, &[])),
    h(81, "get_local_storage", p(RetType::PtrToMapValue, &[("map", MAP), ("flags", ANY)])),
    h(82, "sk_select_reuseport", p(INT, &[("reuse", CTX), ("map", MAP), ("key", KEY), ("flags", ANY)])),
    h(83, "skb_ancestor_cgroup_id", p(INT, &[("skb", CTX), ("ancestor_level", ANY)])),
    h(84, "sk_lookup_tcp", ptr_or_null(RetType::PtrToSocket, &[("ctx", CTX), ("tuple", MEM_RO), ("tuple_size", SIZE0), ("netns", ANY), ("flags", ANY)]).ret_with(RELEASE).pkt_access()),
    h(85, "sk_lookup_udp", ptr_or_null(RetType::PtrToSocket, &[("ctx", CTX), ("tuple", MEM_RO), ("tuple_size", SIZE0), ("netns", ANY), ("flags", ANY)]).ret_with(RELEASE).pkt_access()),
    h(86, "sk_release", p(INT, &[("sock", BTF_SOCK_COMMON.with(RELEASE))])),
    h(87, "map_push_elem", p(INT, &[("map", MAP), ("value", VALUE), ("flags", ANY)]).pkt_access()),
    h(88, "map_pop_elem", p(INT, &[("map", MAP), ("value", VALUE_OUT)])),
    h(89, "map_peek_elem", p(INT, &[("map", MAP), ("value", VALUE_OUT)])),
    h(90, "msg_push_data", p(INT, &[("msg", CTX), ("start", ANY), ("len", ANY), ("flags", ANY)]).pkt()),
    h(91, "msg_pop_data", p(INT, &[("msg", CTX), ("start", ANY), ("len", ANY), ("flags", ANY)]).pkt()),
    h(92, "rc_pointer_rel", p(INT, &[("ctx", CTX), ("rel_x", ANY), ("rel_y", ANY)]).gpl()),
    h(93, "spin_lock", p(VOID, &[("lock", SPIN_LOCK)])),
    h(94, "spin_unlock", p(VOID, &[("lock", SPIN_LOCK)])),
    h(95, "sk_fullsock", ptr_or_null(RetType::PtrToSocket, &[("sk", SOCK_COMMON)])),
    h(96, "tcp_sock", ptr_or_null(RetType::PtrToTcpSock, &[("sk", SOCK_COMMON)])),
    h(97, "skb_ecn_set_ce", p(INT, &[("skb", CTX)])),
    h(98, "get_listener_sock", ptr_or_null(RetType::PtrToSocket, &[("sk", SOCK_COMMON)])),
    h(99, "skc_lookup_tcp", ptr_or_null(RetType::PtrToSockCommon, &[("ctx", CTX), ("tuple", MEM_RO), ("tuple_size", SIZE0), ("netns", ANY), ("flags", ANY)]).ret_with(RELEASE).pkt_access()),
    h(100, "tcp_check_syncookie", p(INT, &[("sk", BTF_SOCK_COMMON), ("iph", MEM_RO), ("iph_len", SIZE), ("th", MEM_RO), ("th_len", SIZE)]).gpl().pkt_access()),
    h(101, "sysctl_get_name", p(INT, &[("ctx", CTX), ("buf", MEM_RW), ("buf_len", SIZE), ("flags", ANY)])),
    h(102, "sysctl_get_current_value", p(INT, &[("ctx", CTX), ("buf", MEM_OUT), ("buf_len", SIZE)])),
    h(103, "sysctl_get_new_value", p(INT, &[("ctx", CTX), ("buf", MEM_OUT), ("buf_len", SIZE)])),
    h(104, "sysctl_set_new_value", p(INT, &[("ctx", CTX), ("buf", MEM_RO), ("buf_len", SIZE)])),
    h(105, "strtol", p(INT, &[("buf", MEM_RO), ("buf_len", SIZE), ("flags", ANY), ("res", LONG_OUT)])),
    h(106, "strtoul", p(INT, &[("buf", MEM_RO), ("buf_len", SIZE), ("flags", ANY), ("res", LONG_OUT)])),
    h(107, "sk_storage_get", ptr_or_null(RetType::PtrToMapValue, &[("map", MAP), ("sk", BTF_SOCK_COMMON), ("value", VALUE_OR_NULL), ("flags", ANY)])),
    h(108, "sk_storage_delete", p(INT, &[("map", MAP), ("sk", BTF_SOCK_COMMON)])),
    h(109, "send_signal", p(INT, &[("sig", ANY)])),
    h(110, "tcp_gen_syncookie", p(INT, &[("sk", BTF_SOCK_COMMON), ("iph", MEM_RO), ("iph_len", SIZE), ("th", MEM_RO), ("th_len", SIZE)]).gpl().pkt_access()),
    h(111, "skb_output", p(INT, &[("ctx", BTF.btf("sk_buff")), ("map", MAP), ("flags", ANY), ("data", MEM_RO), ("size", SIZE0)]).gpl()),
    h(112, "probe_read_user", p(INT, &[("dst", MEM_OUT), ("size", SIZE0), ("unsafe_ptr", ANY)]).gpl()),
    h(113, "probe_read_kernel", p(INT, &[("dst", MEM_OUT), ("size", SIZE0), ("unsafe_ptr", ANY)]).gpl()),
    h(114, "probe_read_user_str", p(INT, &[("dst", MEM_OUT), ("size", SIZE0), ("unsafe_ptr", ANY)]).gpl()),
    h(115, "probe_read_kernel_str", p(INT, &[("dst", MEM_OUT), ("size", SIZE0), ("unsafe_ptr", ANY)]).gpl()),
    h(116, "tcp_send_ack", p(INT, &[("tp", BTF.btf("tcp_sock")), ("rcv_nxt", ANY)])),
    h(117, "send_signal_thread", p(INT, &[("sig", ANY)])),
    h(118, "jiffies64", p(INT, &[])),
    h(119, "read_branch_records", p(INT, &[("ctx", CTX), ("buf", MEM_OUT_OR_NULL), ("size", SIZE0), ("flags", ANY)]).gpl()),
    h(120, "get_ns_current_pid_tgid", p(INT, &[("dev", ANY), ("ino", ANY), ("nsdata", MEM_OUT), ("size", SIZE)])),
    h(121, "xdp_output", p(INT, &[("ctx", BTF.btf("xdp_buff")), ("map", MAP), ("flags", ANY), ("data", MEM_RO), ("size", SIZE0)]).gpl()),
    h(122, "get_netns_cookie", p(INT, &[("ctx", CTX_OR_NULL)])),
    h(123, "get_current_ancestor_cgroup_id", p(INT, &[("ancestor_level", ANY)])),
    h(124, "sk_assign", p(INT, &[("ctx", CTX), ("sk", BTF_SOCK_COMMON), ("flags", ANY)])),
    h(125, "ktime_get_boot_ns", p(INT, &[])),
    h(126, "seq_printf", p(INT, &[("m", BTF.btf("seq_file")), ("fmt", MEM_RO), ("fmt_size", SIZE), ("data", MEM_RO_OR_NULL), ("data_len", SIZE0)]).gpl()),
    h(127, "seq_write", p(INT, &[("m", BTF.btf("seq_file")), ("data", MEM_RO), ("len", SIZE0)]).gpl()),
    h(128, "sk_cgroup_id", p(INT, &[("sk", BTF_SOCK_COMMON)])),
    h(129, "sk_ancestor_cgroup_id", p(INT, &[("sk", BTF_SOCK_COMMON), ("ancestor_level", ANY)])),
    h(130, "ringbuf_output", p(INT, &[("ringbuf", MAP), ("data", MEM_RO), ("size", SIZE0), ("flags", ANY)])),
    h(131, "ringbuf_reserve", ptr_or_null(RetType::PtrToMem, &[("ringbuf", MAP), ("size", ALLOC_SIZE0), ("flags", ANY)]).ret_with(RINGBUF)),
    h(132, "ringbuf_submit", p(VOID, &[("data", RINGBUF_MEM), ("flags", ANY)])),
    h(133, "ringbuf_discard", p(VOID, &[("data", RINGBUF_MEM), ("flags", ANY)])),
    h(134, "ringbuf_query", p(INT, &[("ringbuf", MAP), ("flags", ANY)])),
    h(135, "csum_level", p(INT, &[("skb", CTX), ("level", ANY)])),
    h(136, "skc_to_tcp6_sock", ptr_or_null(RetType::PtrToBtfId, &[("sk", BTF_SOCK_COMMON)]).ret_btf("tcp6_sock")),
    h(137, "skc_to_tcp_sock", ptr_or_null(RetType::PtrToBtfId, &[("sk", BTF_SOCK_COMMON)]).ret_btf("tcp_sock")),
    h(138, "skc_to_tcp_timewait_sock", ptr_or_null(RetType::PtrToBtfId, &[("sk", BTF_SOCK_COMMON)]).ret_btf("tcp_timewait_sock")),
    h(139, "skc_to_tcp_request_sock", ptr_or_null(RetType::PtrToBtfId, &[("sk", BTF_SOCK_COMMON)]).ret_btf("tcp_request_sock")),
    h(140, "skc_to_udp6_sock", ptr_or_null(RetType::PtrToBtfId, &[("sk", BTF_SOCK_COMMON)]).ret_btf("udp6_sock")),
    h(141, "get_task_stack", p(INT, &[("task", BTF_TASK), ("buf", MEM_OUT), ("size", SIZE0), ("flags", ANY)])),
    h(142, "load_hdr_opt", p(INT, &[("skops", CTX), ("searchby_res", MEM_RW), ("len", SIZE), ("flags", ANY)])),
    h(143, "store_hdr_opt", p(INT, &[("skops", CTX), ("from", MEM_RO), ("len", SIZE), ("flags", ANY)])),
    h(144, "reserve_hdr_opt", p(INT, &[("skops", CTX), ("len", ANY), ("flags", ANY)])),
    h(145, "inode_storage_get", ptr_or_null(RetType::PtrToMapValue, &[("map", MAP), ("inode", BTF_OR_NULL.btf("inode")), ("value", VALUE_OR_NULL), ("flags", ANY)])),
    h(146, "inode_storage_delete", p(INT, &[("map", MAP), ("inode", BTF_OR_NULL.btf("inode"))])),
    h(147, "d_path", p(INT, &[("path", BTF.btf("path")), ("buf", MEM_OUT), ("sz", SIZE0)])),
    h(148, "copy_from_user", p(INT, &[("dst", MEM_OUT), ("size", SIZE0), ("user_ptr", ANY)]).sleeps()),
    h(149, "snprintf_btf", p(INT, &[("str", MEM_OUT), ("str_size", SIZE), ("ptr", MEM_RO), ("btf_ptr_size", SIZE), ("flags", ANY)])),
    h(150, "seq_printf_btf", p(INT, &[("m", BTF.btf("seq_file")), ("ptr", MEM_RO), ("ptr_size", SIZE0), ("flags", ANY)]).gpl()),
    h(151, "skb_cgroup_classid", p(INT, &[("skb", CTX)])),
    h(152, "redirect_neigh", p(INT, &[("ifindex", ANY), ("params", MEM_RO_OR_NULL), ("plen", SIZE0), ("flags", ANY)])),
    h(153, "per_cpu_ptr", p(RetType::PtrToMemOrBtfId, &[("percpu_ptr", PERCPU_BTF), ("cpu", ANY)]).ret_with(MAYBE_NULL | RDONLY)),
    h(154, "this_cpu_ptr", p(RetType::PtrToMemOrBtfId, &[("percpu_ptr", PERCPU_BTF)]).ret_with(RDONLY)),
    h(155, "redirect_peer", p(INT, &[("ifindex", ANY), ("flags", ANY)])),
    h(156, "task_storage_get", ptr_or_null(RetType::PtrToMapValue, &[("map", MAP), ("task", BTF_TASK_OR_NULL), ("value", VALUE_OR_NULL), ("flags", ANY)])),
    h(157, "task_storage_delete", p(INT, &[("map", MAP), ("task", BTF_TASK_OR_NULL)])),
    h(158, "get_current_task_btf", p(RetType::PtrToBtfId, &[]).ret_with(TRUSTED).ret_btf("task_struct").gpl()),
    h(159, "bprm_opts_set", p(INT, &[("bprm", BTF.btf("linux_binprm")), ("flags", ANY)])),
    h(160, "ktime_get_coarse_ns", p(INT, &[])),
    h(161, "ima_inode_hash", p(INT, &[("inode", BTF.btf("inode")), ("dst", MEM_OUT), ("size", SIZE)]).sleeps()),
    h(162, "sock_from_file", ptr_or_null(RetType::PtrToBtfId, &[("file", BTF.btf("file"))]).ret_btf("socket")),
    h(163, "check_mtu", p(INT, &[("ctx", CTX), ("ifindex", ANY), ("mtu_len", fixed_out(4)), ("len_diff", ANY), ("flags", ANY)]).gpl()),
    h(164, "for_each_map_elem", p(INT, &[("map", MAP), ("callback_fn", FUNC), ("callback_ctx", STACK_OR_NULL), ("flags", ANY)])),
    h(165, "snprintf", p(INT, &[("str", MEM_OUT_OR_NULL), ("str_size", SIZE0), ("fmt", CONST_STR), ("data", MEM_RO_OR_NULL), ("data_len", SIZE0)]).gpl()),
    h(166, "sys_bpf", p(INT, &[("cmd", ANY), ("attr", MEM_RO), ("attr_size", SIZE)]).sleeps()),
    h(167, "btf_find_by_name_kind", p(INT, &[("name", MEM_RO), ("name_sz", SIZE), ("kind", ANY), ("flags", ANY)])),
    h(168, "sys_close", p(INT, &[("fd", ANY)]).sleeps()),
    h(169, "timer_init", p(INT, &[("timer", TIMER), ("map", MAP), ("flags", ANY)]).gpl()),
    h(170, "timer_set_callback", p(INT, &[("timer", TIMER), ("callback_fn", FUNC)]).gpl()),
    h(171, "timer_start", p(INT, &[("timer", TIMER), ("nsecs", ANY), ("flags", ANY)]).gpl()),
    h(172, "timer_cancel", p(INT, &[("timer", TIMER)]).gpl()),
    h(173, "get_func_ip", p(INT, &[("ctx", CTX)]).gpl()),
    h(174, "get_attach_cookie", p(INT, &[("ctx", CTX)])),
    h(175, "task_pt_regs", p(RetType::PtrToBtfId, &[("task", BTF_TASK)]).ret_with(TRUSTED).ret_btf("pt_regs").gpl()),
    h(176, "get_branch_snapshot", p(INT, &[("entries", MEM_OUT), ("size", SIZE0), ("flags", ANY)]).gpl()),
    h(177, "trace_vprintk", p(INT, &[("fmt", MEM_RO), ("fmt_size", SIZE), ("data", MEM_RO_OR_NULL), ("data_len", SIZE0)]).gpl()),
    h(178, "skc_to_unix_sock", ptr_or_null(RetType::PtrToBtfId, &[("sk", BTF_SOCK_COMMON)]).ret_btf("unix_sock")),
    h(179, "kallsyms_lookup_name", p(INT, &[("name", MEM_RO), ("name_sz", SIZE0), ("flags", ANY), ("res", LONG_OUT)])),
    h(180, "find_vma", p(INT, &[("task", BTF_TASK), ("addr", ANY), ("callback_fn", FUNC), ("callback_ctx", STACK_OR_NULL), ("flags", ANY)])),
    h(181, "loop", p(INT, &[("nr_loops", ANY), ("callback_fn", FUNC), ("callback_ctx", STACK_OR_NULL), ("flags", ANY)])),
    h(182, "strncmp", p(INT, &[("s1", MEM_RO), ("s1_sz", SIZE), ("s2", CONST_STR)])),
    h(183, "get_func_arg", p(INT, &[("ctx", CTX), ("n", ANY), ("value", LONG_OUT)])),
    h(184, "get_func_ret", p(INT, &[("ctx", CTX), ("value", LONG_OUT)])),
    h(185, "get_func_arg_cnt", p(INT, &[("ctx", CTX)])),
    h(186, "get_retval", p(INT, &[])),
    h(187, "set_retval", p(INT, &[("retval", ANY)])),
    h(188, "xdp_get_buff_len", p(INT, &[("xdp_md", CTX)])),
    h(189, "xdp_load_bytes", p(INT, &[("xdp_md", CTX), ("offset", ANY), ("buf", MEM_OUT), ("len", SIZE)])),
    h(190, "xdp_store_bytes", p(INT, &[("xdp_md", CTX), ("offset", ANY), ("buf", MEM_RO), ("len", SIZE)])),
    h(191, "copy_from_user_task", p(INT, &[("dst", MEM_OUT), ("size", SIZE0), ("user_ptr", ANY), ("tsk", BTF_TASK), ("flags", ANY)]).sleeps().gpl()),
    h(192, "skb_set_tstamp", p(INT, &[("skb", CTX), ("tstamp", ANY), ("tstamp_type", ANY)])),
    h(193, "ima_file_hash", p(INT, &[("file", BTF.btf("file")), ("dst", MEM_OUT), ("size", SIZE)]).sleeps()),
    h(194, "kptr_xchg", p(RetType::PtrToBtfId, &[("dst", KPTR_DEST), ("ptr", BTF_OR_NULL.with(RELEASE))]).ret_with(MAYBE_NULL | RELEASE)),
    h(195, "map_lookup_percpu_elem", ptr_or_null(RetType::PtrToMapValue, &[("map", MAP), ("key", KEY), ("cpu", ANY)]).pkt_access()),
    h(196, "skc_to_mptcp_sock", ptr_or_null(RetType::PtrToBtfId, &[("sk", BTF_SOCK_COMMON)]).ret_btf("mptcp_sock")),
    h(197, "dynptr_from_mem", p(INT, &[("data", MEM_RW), ("size", SIZE0), ("flags", ANY), ("ptr", DYNPTR_LOCAL_OUT)])),
    h(198, "ringbuf_reserve_dynptr", p(INT, &[("ringbuf", MAP), ("size", ANY), ("flags", ANY), ("ptr", DYNPTR_RINGBUF_OUT)])),
    h(199, "ringbuf_submit_dynptr", p(VOID, &[("ptr", DYNPTR_RINGBUF_RELEASE), ("flags", ANY)])),
    h(200, "ringbuf_discard_dynptr", p(VOID, &[("ptr", DYNPTR_RINGBUF_RELEASE), ("flags", ANY)])),
    h(201, "dynptr_read", p(INT, &[("dst", MEM_OUT), ("len", SIZE0), ("src", DYNPTR_RO), ("offset", ANY), ("flags", ANY)])),
    h(202, "dynptr_write", p(INT, &[("dst", DYNPTR_RO), ("offset", ANY), ("src", MEM_RO), ("len", SIZE0), ("flags", ANY)])),
    h(203, "dynptr_data", ptr_or_null(RetType::PtrToMem, &[("ptr", DYNPTR_RO), ("offset", ANY), ("len", ALLOC_SIZE0)]).ret_with(ALLOC)),
    h(204, "tcp_raw_gen_syncookie_ipv4", p(INT, &[("iph", fixed_ro(20)), ("th", MEM_RO), ("th_len", SIZE0)]).gpl().pkt_access()),
    h(205, "tcp_raw_gen_syncookie_ipv6", p(INT, &[("iph", fixed_ro(40)), ("th", MEM_RO), ("th_len", SIZE0)]).gpl().pkt_access()),
    h(206, "tcp_raw_check_syncookie_ipv4", p(INT, &[("iph", fixed_ro(20)), ("th", fixed_ro(20))]).gpl().pkt_access()),
    h(207, "tcp_raw_check_syncookie_ipv6", p(INT, &[("iph", fixed_ro(40)), ("th", fixed_ro(20))]).gpl().pkt_access()),
    h(208, "ktime_get_tai_ns", p(INT, &[])),
    h(209, "user_ringbuf_drain", p(INT, &[("map", MAP), ("callback_fn", FUNC), ("ctx", STACK_OR_NULL), ("flags", ANY)])),
    h(210, "cgrp_storage_get", ptr_or_null(RetType::PtrToMapValue, &[("map", MAP), ("cgroup", BTF.btf("cgroup")), ("value", VALUE_OR_NULL), ("flags", ANY)])),
    h(211, "cgrp_storage_delete", p(INT, &[("map", MAP), ("cgroup", BTF.btf("cgroup"))])),
];

/// The prototypes a helper has besides its [`HELPERS`] one, by the
/// kernel's name of the prototype (without `bpf_` and `_proto`).
#[rustfmt::skip]
pub static VARIANTS: &[(&str, Proto)] = &[
    v("get_cgroup_classid_curr", p(INT, &[])),
    v("get_socket_cookie_sock_addr", p(INT, &[("ctx", CTX)])),
    v("get_socket_cookie_sock", p(INT, &[("sk", CTX)])),
    v("get_socket_cookie_sock_ops", p(INT, &[("ctx", CTX)])),
    v("get_socket_ptr_cookie", p(INT, &[("sk", BTF_SOCK_COMMON_OR_NULL)])),
    v("get_netns_cookie_sk_msg", p(INT, &[("ctx", CTX_OR_NULL)])),
    v("get_netns_cookie_sock", p(INT, &[("ctx", CTX_OR_NULL)])),
    v("get_netns_cookie_sock_addr", p(INT, &[("ctx", CTX_OR_NULL)])),
    v("get_netns_cookie_sock_ops", p(INT, &[("ctx", CTX_OR_NULL)])),
    v("get_netns_cookie_sockopt", p(INT, &[("ctx", CTX_OR_NULL)])),
    v("sk_storage_get_cg_sock", ptr_or_null(RetType::PtrToMapValue, &[("map", MAP), ("sk", CTX), ("value", VALUE_OR_NULL), ("flags", ANY)])),
    v("sk_storage_get_tracing", ptr_or_null(RetType::PtrToMapValue, &[("map", MAP), ("sk", BTF_OR_NULL.btf("sock_common")), ("value", VALUE_OR_NULL), ("flags", ANY)])),
    v("sk_storage_delete_tracing", p(INT, &[("map", MAP), ("sk", BTF_OR_NULL.btf("sock_common"))])),
    v("skb_event_output", p(INT, &[("ctx", CTX), ("map", MAP), ("flags", ANY), ("data", MEM_RO), ("size", SIZE0)]).gpl()),
    v("xdp_event_output", p(INT, &[("ctx", CTX), ("map", MAP), ("flags", ANY), ("data", MEM_RO), ("size", SIZE0)]).gpl()),
    v("event_output_data", p(INT, &[("ctx", CTX), ("map", MAP), ("flags", ANY), ("data", MEM_RO), ("size", SIZE0)]).gpl()),
    v("perf_event_output_tp", p(INT, &[("ctx", CTX), ("map", MAP), ("flags", ANY), ("data", MEM_RO), ("size", SIZE0)]).gpl()),
    v("perf_event_output_raw_tp", p(INT, &[("ctx", CTX), ("map", MAP), ("flags", ANY), ("data", MEM_RO), ("size", SIZE0)]).gpl()),
    v("get_stackid_tp", p(INT, &[("ctx", CTX), ("map", MAP), ("flags", ANY)]).gpl()),
    v("get_stackid_raw_tp", p(INT, &[("ctx", CTX), ("map", MAP), ("flags", ANY)]).gpl()),
    v("get_stackid_pe", p(INT, &[("ctx", CTX), ("map", MAP), ("flags", ANY)])),
    v("get_stack_tp", p(INT, &[("ctx", CTX), ("buf", MEM_OUT), ("size", SIZE0), ("flags", ANY)]).gpl()),
    v("get_stack_raw_tp", p(INT, &[("ctx", CTX), ("buf", MEM_RW), ("size", SIZE0), ("flags", ANY)]).gpl()),
    v("get_stack_pe", p(INT, &[("ctx", CTX), ("buf", MEM_OUT), ("size", SIZE0), ("flags", ANY)]).gpl()),
    v("sk_reuseport_load_bytes", p(INT, &[("ctx", CTX), ("offset", ANY), ("to", MEM_OUT), ("len", SIZE)])),
    v("sk_reuseport_load_bytes_relative", p(INT, &[("ctx", CTX), ("offset", ANY), ("to", MEM_OUT), ("len", SIZE), ("start_header", ANY)])),
    v("flow_dissector_load_bytes", p(INT, &[("ctx", CTX), ("offset", ANY), ("to", MEM_OUT), ("len", SIZE)])),
    v("sock_addr_setsockopt", p(INT, &[("ctx", CTX), ("level", ANY), ("optname", ANY), ("optval", MEM_RO), ("optlen", SIZE)])),
    v("sock_addr_getsockopt", p(INT, &[("ctx", CTX), ("level", ANY), ("optname", ANY), ("optval", MEM_OUT), ("optlen", SIZE)])),
    v("sk_setsockopt", p(INT, &[("sk", BTF_SOCK_COMMON), ("level", ANY), ("optname", ANY), ("optval", MEM_RO), ("optlen", SIZE)])),
    v("sk_getsockopt", p(INT, &[("sk", BTF_SOCK_COMMON), ("level", ANY), ("optname", ANY), ("optval", MEM_OUT), ("optlen", SIZE)])),
    v("sock_ops_getsockopt", p(INT, &[("bpf_socket", CTX), ("level", ANY), ("optname", ANY), ("optval", MEM_OUT), ("optlen", SIZE)])),
    v("sock_addr_sk_lookup_tcp", ptr_or_null(RetType::PtrToSocket, &[("ctx", CTX), ("tuple", MEM_RO), ("tuple_size", SIZE0), ("netns", ANY), ("flags", ANY)]).ret_with(RELEASE).pkt_access()),
    v("sock_addr_sk_lookup_udp", ptr_or_null(RetType::PtrToSocket, &[("ctx", CTX), ("tuple", MEM_RO), ("tuple_size", SIZE0), ("netns", ANY), ("flags", ANY)]).ret_with(RELEASE).pkt_access()),
    v("sock_addr_skc_lookup_tcp", ptr_or_null(RetType::PtrToSockCommon, &[("ctx", CTX), ("tuple", MEM_RO), ("tuple_size", SIZE0), ("netns", ANY), ("flags", ANY)]).ret_with(RELEASE).pkt_access()),
    v("xdp_sk_lookup_tcp", ptr_or_null(RetType::PtrToSocket, &[("ctx", CTX), ("tuple", MEM_RO), ("tuple_size", SIZE0), ("netns", ANY), ("flags", ANY)]).ret_with(RELEASE).pkt_access()),
    v("xdp_sk_lookup_udp", ptr_or_null(RetType::PtrToSocket, &[("ctx", CTX), ("tuple", MEM_RO), ("tuple_size", SIZE0), ("netns", ANY), ("flags", ANY)]).ret_with(RELEASE).pkt_access()),
    v("xdp_skc_lookup_tcp", ptr_or_null(RetType::PtrToSockCommon, &[("ctx", CTX), ("tuple", MEM_RO), ("tuple_size", SIZE0), ("netns", ANY), ("flags", ANY)]).ret_with(RELEASE).pkt_access()),
    v("sk_lookup_assign", p(INT, &[("ctx", CTX), ("sk", BTF_SOCK_COMMON_OR_NULL), ("flags", ANY)])),
    v("xdp_redirect", p(INT, &[("ifindex", ANY), ("flags", ANY)])),
    v("xdp_redirect_map", p(INT, &[("map", MAP), ("key", ANY), ("flags", ANY)])),
    v("xdp_check_mtu", p(INT, &[("ctx", CTX), ("ifindex", ANY), ("mtu_len", fixed_out(4)), ("len_diff", ANY), ("flags", ANY)]).gpl()),
    v("xdp_fib_lookup", p(INT, &[("ctx", CTX), ("params", MEM_RW), ("plen", SIZE), ("flags", ANY)]).gpl()),
    v("sk_msg_redirect_map", p(INT, &[("msg", CTX), ("map", MAP), ("key", ANY), ("flags", ANY)])),
    v("sk_skb_adjust_room", p(INT, &[("skb", CTX), ("len_diff", ANY), ("mode", ANY), ("flags", ANY)]).pkt()),
    v("sk_skb_change_tail", p(INT, &[("skb", CTX), ("len", ANY), ("flags", ANY)]).pkt()),
    v("sk_skb_change_head", p(INT, &[("skb", CTX), ("len", ANY), ("flags", ANY)]).pkt()),
    v("sk_skb_pull_data", p(INT, &[("skb", CTX), ("len", ANY)]).pkt()),
    v("xdp_get_buff_len_trace", p(INT, &[("xdp_md", BTF.btf("xdp_buff"))])),
    v("get_func_ip_kprobe", p(INT, &[("ctx", CTX)]).gpl()),
    v("get_func_ip_kprobe_multi", p(INT, &[("ctx", CTX)])),
    v("get_func_ip_uprobe_multi", p(INT, &[("ctx", CTX)])),
    v("get_func_ip_tracing", p(INT, &[("ctx", CTX)]).gpl()),
    v("get_attach_cookie_trace", p(INT, &[("ctx", CTX)])),
    v("get_attach_cookie_kprobe_multi", p(INT, &[("ctx", CTX)])),
    v("get_attach_cookie_uprobe_multi", p(INT, &[("ctx", CTX)])),
    v("get_attach_cookie_pe", p(INT, &[("ctx", CTX)])),
    v("get_attach_cookie_tracing", p(INT, &[("ctx", CTX)])),
];

/// The privilege a helper of `bpf_base_func_proto` needs
/// (`bpf_token_capable`): unprivileged programs get the first group, a
/// loader with `CAP_BPF` the second, with `CAP_PERFMON` too the third.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Privilege {
    /// Any loader (socket filters and cgroup skb programs without capabilities).
    Unprivileged,
    /// `CAP_BPF` (or `CAP_SYS_ADMIN`).
    Bpf,
    /// `CAP_BPF` and `CAP_PERFMON` (or `CAP_SYS_ADMIN`).
    Perfmon,
}

/// What the kernel knows of the program at the call: the licence, the
/// loader's capabilities, whether it is sleepable (`BPF_F_SLEEPABLE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProtoEnv {
    /// The licence is GPL-compatible.
    pub gpl: bool,
    /// The loader's capabilities.
    pub privilege: Privilege,
    /// The program is sleepable.
    pub sleepable: bool,
}

impl Default for ProtoEnv {
    /// A GPL program loaded by root, not sleepable.
    fn default() -> Self {
        ProtoEnv {
            gpl: true,
            privilege: Privilege::Perfmon,
            sleepable: false,
        }
    }
}

/// Why the verifier refuses a call, with the kernel's message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProtoRefusal {
    /// The id is not a helper of Linux 6.18.
    #[error("invalid func {name}#{id}")]
    InvalidFunc {
        /// The id.
        id: i64,
        /// `unknown`, as the kernel prints it.
        name: &'static str,
    },
    /// The program type does not offer the helper (its `get_func_proto`
    /// returns NULL), or the loader lacks the capability it needs.
    #[error("program of this type cannot use helper {name}#{id}")]
    NotAllowed {
        /// The helper's id.
        id: u32,
        /// `bpf_` and its name.
        name: &'static str,
    },
    /// A GPL-only helper from a program whose licence is not GPL-compatible.
    #[error("cannot call GPL-restricted function from non-GPL compatible program")]
    GplOnly {
        /// The helper's id.
        id: u32,
        /// `bpf_` and its name.
        name: &'static str,
    },
    /// A helper that may sleep, from a program that may not.
    #[error("helper call might sleep in a non-sleepable prog")]
    MightSleep {
        /// The helper's id.
        id: u32,
        /// `bpf_` and its name.
        name: &'static str,
    },
}

use ironbpf_progtype::{AttachType, ProgTypeId};

/// `bpf_base_func_proto`: the helpers every program type offers (unless its
/// own `get_func_proto` overrides them first), with the privilege each
/// needs. `get_cgroup_classid` here is the one of the current task
/// (`get_cgroup_classid_curr`).
#[rustfmt::skip]
pub static BASE: &[(&str, Privilege)] = &[
    ("map_lookup_elem", Privilege::Unprivileged), ("map_update_elem", Privilege::Unprivileged),
    ("map_delete_elem", Privilege::Unprivileged), ("map_push_elem", Privilege::Unprivileged),
    ("map_pop_elem", Privilege::Unprivileged), ("map_peek_elem", Privilege::Unprivileged),
    ("map_lookup_percpu_elem", Privilege::Unprivileged), ("get_prandom_u32", Privilege::Unprivileged),
    ("get_smp_processor_id", Privilege::Unprivileged), ("get_numa_node_id", Privilege::Unprivileged),
    ("tail_call", Privilege::Unprivileged), ("get_current_uid_gid", Privilege::Unprivileged), ("ktime_get_ns", Privilege::Unprivileged),
    ("ktime_get_boot_ns", Privilege::Unprivileged), ("ktime_get_tai_ns", Privilege::Unprivileged),
    ("ringbuf_output", Privilege::Unprivileged), ("ringbuf_reserve", Privilege::Unprivileged),
    ("ringbuf_submit", Privilege::Unprivileged), ("ringbuf_discard", Privilege::Unprivileged),
    ("ringbuf_query", Privilege::Unprivileged), ("for_each_map_elem", Privilege::Bpf),
    ("loop", Privilege::Bpf), ("strncmp", Privilege::Unprivileged),
    ("get_current_pid_tgid", Privilege::Unprivileged), ("get_ns_current_pid_tgid", Privilege::Unprivileged),
    ("spin_lock", Privilege::Bpf), ("spin_unlock", Privilege::Bpf), ("jiffies64", Privilege::Bpf),
    ("per_cpu_ptr", Privilege::Perfmon), ("this_cpu_ptr", Privilege::Perfmon),
    ("timer_init", Privilege::Bpf), ("timer_set_callback", Privilege::Bpf),
    ("timer_start", Privilege::Bpf), ("timer_cancel", Privilege::Bpf), ("kptr_xchg", Privilege::Bpf),
    ("ringbuf_reserve_dynptr", Privilege::Bpf), ("ringbuf_submit_dynptr", Privilege::Bpf),
    ("ringbuf_discard_dynptr", Privilege::Bpf), ("dynptr_from_mem", Privilege::Bpf),
    ("dynptr_read", Privilege::Bpf), ("dynptr_write", Privilege::Bpf), ("dynptr_data", Privilege::Bpf),
    ("user_ringbuf_drain", Privilege::Bpf), ("cgrp_storage_get", Privilege::Bpf),
    ("cgrp_storage_delete", Privilege::Bpf), ("strtol", Privilege::Unprivileged), ("strtoul", Privilege::Unprivileged),
    ("trace_printk", Privilege::Perfmon), ("snprintf", Privilege::Perfmon),
    ("trace_vprintk", Privilege::Perfmon), ("snprintf_btf", Privilege::Perfmon),
    ("get_current_task", Privilege::Perfmon), ("get_current_task_btf", Privilege::Perfmon),
    ("probe_read_user", Privilege::Perfmon), ("probe_read_kernel", Privilege::Perfmon),
    ("probe_read_user_str", Privilege::Perfmon), ("probe_read_kernel_str", Privilege::Perfmon),
    ("task_pt_regs", Privilege::Perfmon), ("copy_from_user", Privilege::Perfmon),
    ("copy_from_user_task", Privilege::Perfmon), ("get_current_comm", Privilege::Perfmon),
    ("get_current_cgroup_id", Privilege::Bpf), ("get_current_ancestor_cgroup_id", Privilege::Bpf), ("send_signal", Privilege::Perfmon),
    ("send_signal_thread", Privilege::Perfmon), ("perf_event_read", Privilege::Perfmon),
    ("perf_event_read_value", Privilege::Perfmon), ("get_branch_snapshot", Privilege::Perfmon),
    ("find_vma", Privilege::Perfmon), ("get_task_stack", Privilege::Perfmon),
    ("current_task_under_cgroup", Privilege::Bpf), ("task_storage_get", Privilege::Bpf),
    ("task_storage_delete", Privilege::Bpf), ("get_cgroup_classid=get_cgroup_classid_curr", Privilege::Bpf),
];

/// `bpf_sk_base_func_proto`: what networking types add to the base (the
/// `skc_to_*` casts need `CAP_PERFMON`).
#[rustfmt::skip]
const SK_BASE: &[&str] = &[
    "ktime_get_coarse_ns", "skc_to_tcp6_sock", "skc_to_tcp_sock", "skc_to_tcp_timewait_sock",
    "skc_to_tcp_request_sock", "skc_to_udp6_sock", "skc_to_unix_sock", "skc_to_mptcp_sock",
];

/// `bpf_tracing_func_proto` with the kprobe/tracepoint/perf_event/raw_tp
/// specifics as `{variant}` markers replaced per type.
#[rustfmt::skip]
const TRACE: &[&str] = &["probe_read", "probe_read_str"];

#[rustfmt::skip]
const TC: &[&str] = &[
    "check_mtu", "clone_redirect", "csum_diff", "csum_level", "csum_update", "fib_lookup",
    "get_hash_recalc", "get_listener_sock", "get_netns_cookie", "get_route_realm",
    "get_socket_cookie", "get_socket_uid", "l3_csum_replace", "l4_csum_replace",
    "perf_event_output=skb_event_output", "redirect", "redirect_neigh", "redirect_peer", "set_hash",
    "set_hash_invalid", "sk_assign", "sk_fullsock", "sk_lookup_tcp", "sk_lookup_udp", "sk_release",
    "sk_storage_delete", "sk_storage_get", "skb_adjust_room", "skb_ancestor_cgroup_id",
    "skb_cgroup_classid", "skb_cgroup_id", "skb_change_head", "skb_change_proto", "skb_change_tail",
    "skb_change_type", "skb_ecn_set_ce", "skb_get_tunnel_key", "skb_get_tunnel_opt",
    "skb_get_xfrm_state", "skb_load_bytes", "skb_load_bytes_relative", "skb_pull_data",
    "skb_set_tstamp", "skb_set_tunnel_key", "skb_set_tunnel_opt", "skb_store_bytes",
    "skb_under_cgroup", "skb_vlan_pop", "skb_vlan_push", "skc_lookup_tcp", "tcp_check_syncookie",
    "tcp_gen_syncookie", "tcp_raw_check_syncookie_ipv4", "tcp_raw_check_syncookie_ipv6",
    "tcp_raw_gen_syncookie_ipv4", "tcp_raw_gen_syncookie_ipv6", "tcp_sock", "get_cgroup_classid",
];

#[rustfmt::skip]
const XDP: &[&str] = &[
    "check_mtu=xdp_check_mtu", "csum_diff", "fib_lookup=xdp_fib_lookup",
    "perf_event_output=xdp_event_output", "redirect=xdp_redirect", "redirect_map=xdp_redirect_map",
    "sk_lookup_tcp=xdp_sk_lookup_tcp", "sk_lookup_udp=xdp_sk_lookup_udp", "sk_release",
    "skc_lookup_tcp=xdp_skc_lookup_tcp", "tcp_check_syncookie", "tcp_gen_syncookie",
    "tcp_raw_check_syncookie_ipv4", "tcp_raw_check_syncookie_ipv6", "tcp_raw_gen_syncookie_ipv4",
    "tcp_raw_gen_syncookie_ipv6", "xdp_adjust_head", "xdp_adjust_meta", "xdp_adjust_tail",
    "xdp_get_buff_len", "xdp_load_bytes", "xdp_store_bytes",
];

#[rustfmt::skip]
const SOCKET_FILTER: &[&str] = &[
    "get_netns_cookie", "get_socket_cookie", "get_socket_uid", "perf_event_output=skb_event_output",
    "skb_load_bytes", "skb_load_bytes_relative",
];

#[rustfmt::skip]
const CGROUP_SKB: &[&str] = &[
    "get_listener_sock", "get_local_storage", "get_netns_cookie", "get_socket_cookie",
    "get_socket_uid", "perf_event_output=skb_event_output", "sk_ancestor_cgroup_id", "sk_cgroup_id",
    "sk_fullsock", "sk_lookup_tcp", "sk_lookup_udp", "sk_release", "sk_storage_delete",
    "sk_storage_get", "skb_ancestor_cgroup_id", "skb_cgroup_id", "skb_ecn_set_ce", "skb_load_bytes",
    "skb_load_bytes_relative", "skc_lookup_tcp", "tcp_sock",
];

#[rustfmt::skip]
const CGROUP_SOCK: &[&str] = &[
    "get_local_storage", "get_netns_cookie=get_netns_cookie_sock", "get_retval",
    "get_socket_cookie=get_socket_cookie_sock", "ktime_get_coarse_ns",
    "perf_event_output=event_output_data", "set_retval", "sk_storage_get=sk_storage_get_cg_sock",
];

#[rustfmt::skip]
const LWT_OUT: &[&str] = &[
    "csum_diff", "get_hash_recalc", "get_route_realm", "perf_event_output=skb_event_output",
    "skb_load_bytes", "skb_pull_data", "skb_under_cgroup", "get_cgroup_classid",
];
#[rustfmt::skip]
const LWT_IN: &[&str] = &["lwt_push_encap"];
#[rustfmt::skip]
const LWT_XMIT: &[&str] = &[
    "clone_redirect", "csum_level", "csum_update", "l3_csum_replace", "l4_csum_replace",
    "lwt_push_encap", "redirect", "set_hash_invalid", "skb_change_head", "skb_change_tail",
    "skb_get_tunnel_key", "skb_get_tunnel_opt", "skb_set_tunnel_key", "skb_set_tunnel_opt",
    "skb_store_bytes",
];
#[rustfmt::skip]
const LWT_SEG6LOCAL: &[&str] = &["lwt_seg6_action", "lwt_seg6_adjust_srh", "lwt_seg6_store_bytes"];

#[rustfmt::skip]
const SOCK_OPS: &[&str] = &[
    "get_local_storage", "get_netns_cookie=get_netns_cookie_sock_ops",
    "get_socket_cookie=get_socket_cookie_sock_ops", "getsockopt=sock_ops_getsockopt", "load_hdr_opt",
    "perf_event_output=event_output_data", "reserve_hdr_opt", "setsockopt", "sk_storage_delete",
    "sk_storage_get", "sock_hash_update", "sock_map_update", "sock_ops_cb_flags_set",
    "store_hdr_opt", "tcp_sock",
];

#[rustfmt::skip]
const SK_SKB: &[&str] = &[
    "get_socket_cookie", "get_socket_uid", "perf_event_output=skb_event_output", "sk_lookup_tcp",
    "sk_lookup_udp", "sk_redirect_hash", "sk_redirect_map", "sk_release",
    "skb_adjust_room=sk_skb_adjust_room", "skb_change_head=sk_skb_change_head",
    "skb_change_tail=sk_skb_change_tail", "skb_load_bytes", "skb_pull_data=sk_skb_pull_data",
    "skb_store_bytes", "skc_lookup_tcp",
];

#[rustfmt::skip]
const CGROUP_DEVICE: &[&str] = &["get_local_storage", "perf_event_output=event_output_data"];

#[rustfmt::skip]
const SK_MSG: &[&str] = &[
    "get_netns_cookie=get_netns_cookie_sk_msg", "msg_apply_bytes", "msg_cork_bytes", "msg_pop_data",
    "msg_pull_data", "msg_push_data", "msg_redirect_hash", "msg_redirect_map=sk_msg_redirect_map",
    "perf_event_output=event_output_data", "sk_storage_delete", "sk_storage_get",
];

#[rustfmt::skip]
const SOCK_ADDR: &[&str] = &[
    "get_local_storage", "get_netns_cookie=get_netns_cookie_sock_addr",
    "get_socket_cookie=get_socket_cookie_sock_addr", "getsockopt=sock_addr_getsockopt",
    "perf_event_output=event_output_data", "setsockopt=sock_addr_setsockopt",
    "sk_lookup_tcp=sock_addr_sk_lookup_tcp", "sk_lookup_udp=sock_addr_sk_lookup_udp", "sk_release",
    "sk_storage_delete", "sk_storage_get", "skc_lookup_tcp=sock_addr_skc_lookup_tcp",
];

#[rustfmt::skip]
const SK_REUSEPORT: &[&str] = &[
    "get_socket_cookie=get_socket_ptr_cookie", "ktime_get_coarse_ns", "sk_select_reuseport",
    "skb_load_bytes=sk_reuseport_load_bytes",
    "skb_load_bytes_relative=sk_reuseport_load_bytes_relative",
];

#[rustfmt::skip]
const FLOW_DISSECTOR: &[&str] = &["skb_load_bytes=flow_dissector_load_bytes"];

#[rustfmt::skip]
const SYSCTL: &[&str] = &[
    "get_local_storage", "ktime_get_coarse_ns", "perf_event_output=event_output_data",
    "sysctl_get_current_value", "sysctl_get_name", "sysctl_get_new_value", "sysctl_set_new_value",
];

#[rustfmt::skip]
const SOCKOPT: &[&str] = &[
    "get_local_storage", "get_netns_cookie=get_netns_cookie_sockopt",
    "perf_event_output=event_output_data", "sk_storage_delete", "sk_storage_get", "tcp_sock",
];

/// `tracing_prog_func_proto` (with `raw_tp_prog_func_proto` and
/// `bpf_tracing_func_proto` under it); entries that depend on the attach
/// type are decided in [`offer`].
#[rustfmt::skip]
const TRACING: &[&str] = &[
    "skb_output", "xdp_output", "skc_to_tcp6_sock", "skc_to_tcp_sock", "skc_to_tcp_timewait_sock",
    "skc_to_tcp_request_sock", "skc_to_udp6_sock", "skc_to_unix_sock", "skc_to_mptcp_sock",
    "sk_storage_get=sk_storage_get_tracing", "sk_storage_delete=sk_storage_delete_tracing",
    "sock_from_file", "get_socket_cookie=get_socket_ptr_cookie", "d_path",
    "get_func_ip=get_func_ip_tracing", "perf_event_output=perf_event_output_raw_tp",
    "get_stackid=get_stackid_raw_tp", "get_stack=get_stack_raw_tp", "probe_read", "probe_read_str",
    "xdp_get_buff_len=xdp_get_buff_len_trace",
];

/// `bpf_lsm_func_proto`, before [`TRACING`].
#[rustfmt::skip]
const LSM: &[&str] = &[
    "inode_storage_get", "inode_storage_delete", "sk_storage_get", "sk_storage_delete",
    "spin_lock", "spin_unlock", "bprm_opts_set", "ima_inode_hash", "ima_file_hash",
];

/// `lirc_mode2_func_proto` (drivers/media/rc/bpf-lirc.c), before the base;
/// not probed: the kernel the tables were checked on has no lirc_mode2.
#[rustfmt::skip]
const LIRC_MODE2: &[&str] = &["rc_repeat", "rc_keydown", "rc_pointer_rel"];

/// `syscall_prog_func_proto`, before [`TRACING`].
#[rustfmt::skip]
const SYSCALL: &[&str] = &["sys_bpf", "btf_find_by_name_kind", "sys_close", "kallsyms_lookup_name"];

#[rustfmt::skip]
const SK_LOOKUP: &[&str] = &["perf_event_output=event_output_data", "sk_assign=sk_lookup_assign", "sk_release"];

/// The attach types of cgroup programs for which `get_retval` and
/// `set_retval` are not offered (`cgroup_common_func_proto`).
const NO_RETVAL: &[AttachType] = &[
    AttachType::CgroupInetIngress,
    AttachType::CgroupInetEgress,
    AttachType::CgroupSockOps,
    AttachType::CgroupUdp4Recvmsg,
    AttachType::CgroupUdp6Recvmsg,
    AttachType::CgroupUnixRecvmsg,
    AttachType::CgroupInet4Getpeername,
    AttachType::CgroupInet6Getpeername,
    AttachType::CgroupUnixGetpeername,
    AttachType::CgroupInet4Getsockname,
    AttachType::CgroupInet6Getsockname,
    AttachType::CgroupUnixGetsockname,
];

/// The attach type the kernel assumes when a program of this type is loaded
/// with none (`bpf_prog_load_fixup_attach_type`), or the one it requires.
pub fn effective_attach(prog_type: ProgTypeId, attach: Option<AttachType>) -> Option<AttachType> {
    match (prog_type, attach) {
        (ProgTypeId::CgroupSock, None) => Some(AttachType::CgroupInetSockCreate),
        (_, a) => a,
    }
}

/// One entry of a per-type list: `"helper"` or `"helper=variant"`.
fn entry_matches(entry: &'static str, name: &str) -> Option<&'static str> {
    let (helper, variant) = match entry.split_once('=') {
        Some((h, v)) => (h, v),
        None => (entry, entry),
    };
    (helper == name).then_some(variant)
}

fn find(list: &[&'static str], name: &str) -> Option<&'static str> {
    list.iter().find_map(|e| entry_matches(e, name))
}

/// How a program type offers a helper: the prototype's name (a
/// [`HELPERS`] name or a [`VARIANTS`] one) and the privilege it needs.
fn offer(
    prog_type: ProgTypeId,
    attach: Option<AttachType>,
    name: &str,
) -> Option<(&'static str, Privilege)> {
    use ProgTypeId as P;
    let attach = effective_attach(prog_type, attach);
    let type_lists: &[&[&'static str]] = match prog_type {
        P::SocketFilter => &[SOCKET_FILTER, SK_BASE],
        P::SchedCls | P::SchedAct => &[TC, SK_BASE],
        P::Xdp => &[XDP, SK_BASE],
        P::CgroupSkb => &[CGROUP_SKB, SK_BASE],
        P::CgroupSock => &[CGROUP_SOCK],
        P::LwtIn => &[LWT_IN, LWT_OUT, SK_BASE],
        P::LwtOut => &[LWT_OUT, SK_BASE],
        P::LwtXmit => &[LWT_XMIT, LWT_OUT, SK_BASE],
        P::LwtSeg6local => &[LWT_SEG6LOCAL, LWT_OUT, SK_BASE],
        P::SockOps => &[SOCK_OPS, SK_BASE],
        P::SkSkb => &[SK_SKB, SK_BASE],
        P::CgroupDevice => &[CGROUP_DEVICE],
        P::SkMsg => &[SK_MSG, SK_BASE],
        P::CgroupSockAddr => &[SOCK_ADDR, SK_BASE],
        P::SkReuseport => &[SK_REUSEPORT],
        P::FlowDissector => &[FLOW_DISSECTOR, SK_BASE],
        P::CgroupSysctl => &[SYSCTL],
        P::CgroupSockopt => &[SOCKOPT],
        P::SkLookup => &[SK_LOOKUP, SK_BASE],
        P::Kprobe | P::Tracepoint | P::PerfEvent | P::RawTracepoint | P::RawTracepointWritable => {
            &[TRACE]
        }
        P::Tracing => &[TRACING],
        P::Lsm => &[LSM, TRACING],
        P::Syscall => &[SYSCALL, TRACING],
        P::LircMode2 => &[LIRC_MODE2],
        P::Netfilter => &[],
        // struct_ops programs take the helpers of their struct_ops (tcp_ca,
        // sched_ext...), ext programs those of the program they replace:
        // not kept here.
        P::StructOps | P::Ext | P::Unspec => return None,
    };
    let trampoline = matches!(
        (prog_type, attach),
        (
            P::Tracing,
            Some(AttachType::TraceFentry | AttachType::TraceFexit | AttachType::ModifyReturn)
        ) | (P::Lsm, Some(AttachType::LsmMac | AttachType::LsmCgroup))
    );
    // Per-type entries whose prototype depends on the type or attach type.
    let special: Option<&'static str> = match (prog_type, name) {
        (P::Kprobe, "get_func_ip") => Some(match attach {
            Some(AttachType::TraceKprobeMulti | AttachType::TraceKprobeSession) => {
                "get_func_ip_kprobe_multi"
            }
            Some(AttachType::TraceUprobeMulti | AttachType::TraceUprobeSession) => {
                "get_func_ip_uprobe_multi"
            }
            _ => "get_func_ip_kprobe",
        }),
        (P::Kprobe, "get_attach_cookie") => Some(match attach {
            Some(AttachType::TraceKprobeMulti | AttachType::TraceKprobeSession) => {
                "get_attach_cookie_kprobe_multi"
            }
            Some(AttachType::TraceUprobeMulti | AttachType::TraceUprobeSession) => {
                "get_attach_cookie_uprobe_multi"
            }
            _ => "get_attach_cookie_trace",
        }),
        (P::Kprobe, "perf_event_output" | "get_stackid" | "get_stack") => Some(name_static(name)),
        (P::Tracepoint, "perf_event_output") => Some("perf_event_output_tp"),
        (P::Tracepoint, "get_stackid") => Some("get_stackid_tp"),
        (P::Tracepoint, "get_stack") => Some("get_stack_tp"),
        (P::Tracepoint, "get_func_ip") => Some("get_func_ip"),
        (P::Tracepoint, "get_attach_cookie") => Some("get_attach_cookie_trace"),
        (P::PerfEvent, "perf_event_output") => Some("perf_event_output_tp"),
        (P::PerfEvent, "get_stackid") => Some("get_stackid_pe"),
        (P::PerfEvent, "get_stack") => Some("get_stack_pe"),
        (P::PerfEvent, "perf_prog_read_value" | "read_branch_records") => Some(name_static(name)),
        (P::PerfEvent, "get_func_ip") => Some("get_func_ip"),
        (P::PerfEvent, "get_attach_cookie") => Some("get_attach_cookie_pe"),
        (P::RawTracepoint | P::RawTracepointWritable, "perf_event_output") => {
            Some("perf_event_output_raw_tp")
        }
        (P::RawTracepoint | P::RawTracepointWritable, "get_stackid") => Some("get_stackid_raw_tp"),
        (P::RawTracepoint | P::RawTracepointWritable, "get_stack") => Some("get_stack_raw_tp"),
        (P::RawTracepoint | P::RawTracepointWritable, "get_func_ip") => Some("get_func_ip"),
        (P::RawTracepoint | P::RawTracepointWritable, "get_attach_cookie") => {
            Some("get_attach_cookie_trace")
        }
        (
            P::Tracing | P::Lsm | P::Syscall,
            "get_func_arg" | "get_func_ret" | "get_func_arg_cnt",
        ) => {
            if trampoline {
                Some(name_static(name))
            } else {
                return None;
            }
        }
        (P::Tracing | P::Lsm | P::Syscall, "get_attach_cookie") => {
            if trampoline || (prog_type == P::Tracing && attach == Some(AttachType::TraceRawTp)) {
                Some("get_attach_cookie_tracing")
            } else {
                return None;
            }
        }
        (P::Tracing | P::Lsm | P::Syscall, "seq_printf" | "seq_write" | "seq_printf_btf") => {
            if prog_type == P::Tracing && attach == Some(AttachType::TraceIter) {
                Some(name_static(name))
            } else {
                return None;
            }
        }
        (P::Lsm, "get_local_storage" | "get_retval" | "set_retval")
            if attach == Some(AttachType::LsmCgroup) =>
        {
            Some(name_static(name))
        }
        (P::CgroupSockAddr, "bind") => match attach {
            Some(AttachType::CgroupInet4Connect | AttachType::CgroupInet6Connect) => Some("bind"),
            _ => return None,
        },
        (P::CgroupSockopt, "setsockopt") | (P::CgroupSockopt, "getsockopt") => match attach {
            Some(AttachType::CgroupSetsockopt) => Some(if name == "setsockopt" {
                "sk_setsockopt"
            } else {
                "sk_getsockopt"
            }),
            _ => return None,
        },
        (
            P::CgroupSock
            | P::CgroupDevice
            | P::CgroupSockAddr
            | P::CgroupSysctl
            | P::CgroupSockopt,
            "get_retval" | "set_retval",
        ) => match attach {
            Some(a) if !NO_RETVAL.contains(&a) => Some(name_static(name)),
            _ => return None,
        },
        _ => None,
    };
    if let Some(v) = special {
        return Some((v, Privilege::Unprivileged));
    }
    for list in type_lists {
        if let Some(v) = find(list, name) {
            let privilege = if v.starts_with("skc_to_") || v == "sys_bpf" {
                Privilege::Perfmon
            } else {
                Privilege::Unprivileged
            };
            return Some((v, privilege));
        }
    }
    BASE.iter()
        .find_map(|(e, p)| entry_matches(e, name).map(|v| (v, *p)))
}

fn name_static(name: &str) -> &'static str {
    HELPERS
        .iter()
        .find(|h| h.name == name)
        .map(|h| h.name)
        .unwrap_or("")
}

/// The kernel's name of helper `id` (`bpf_map_lookup_elem`), if 6.18 has it.
pub fn helper_name(id: i64) -> Option<&'static str> {
    if id <= 0 {
        return None;
    }
    let i = usize::try_from(id).ok()?;
    HELPERS
        .get(i - 1)
        .filter(|h| h.id as usize == i)
        .map(|h| h.kernel_name())
}

impl HelperDef {
    /// `bpf_` and the name, as the kernel prints it.
    pub fn kernel_name(&self) -> &'static str {
        ironbpf_isa::disasm::HELPER_NAMES
            .get(self.id as usize)
            .copied()
            .unwrap_or(self.name)
    }
}

/// The helper with this uapi id.
pub fn helper(id: u32) -> Option<&'static HelperDef> {
    HELPERS
        .get((id as usize).checked_sub(1)?)
        .filter(|h| h.id == id)
}

/// The helper with this name (with or without `bpf_`).
pub fn helper_by_name(name: &str) -> Option<&'static HelperDef> {
    let name = name.strip_prefix("bpf_").unwrap_or(name);
    HELPERS.iter().find(|h| h.name == name)
}

/// A prototype by its kernel name (a helper's name or a [`VARIANTS`] name).
pub fn proto_named(variant: &str) -> Option<&'static Proto> {
    if let Some(h) = HELPERS.iter().find(|h| h.name == variant) {
        return Some(&h.proto);
    }
    VARIANTS.iter().find(|(n, _)| *n == variant).map(|(_, p)| p)
}

/// The prototype a program of type `prog_type` (attached as `attach`, if
/// the type's helpers depend on it) gets for helper `helper_id`, as the
/// kernel's verifier decides it in `check_helper_call`: the program type's
/// `get_func_proto` (with `bpf_base_func_proto` and its capability checks
/// under it), then the GPL check, then the sleepable check. A refusal
/// carries the kernel's message. After the arguments, the verifier makes
/// the checks of particular helpers that [`call_check`] describes, and
/// [`crate::map_compat::check`] for the map argument.
///
/// struct_ops and ext programs are refused every helper here: the kernel
/// gives them the helpers of their struct_ops or of the program they
/// extend (ask with that program's type).
///
/// ```
/// use ironbpf_helpers::catalog::{func_proto, ProtoEnv};
/// use ironbpf_progtype::ProgTypeId;
/// let env = ProtoEnv::default();
/// let p = func_proto(ProgTypeId::SchedCls, None, 17, &env).unwrap();
/// assert_eq!(p.arg_count(), 1); // bpf_get_cgroup_classid(skb)
/// let p = func_proto(ProgTypeId::Kprobe, None, 17, &env).unwrap();
/// assert_eq!(p.arg_count(), 0); // the current task's classid
/// let e = func_proto(ProgTypeId::CgroupSock, None, 9, &env).unwrap_err();
/// assert_eq!(e.to_string(), "program of this type cannot use helper bpf_skb_store_bytes#9");
/// ```
pub fn func_proto(
    prog_type: ProgTypeId,
    attach: Option<AttachType>,
    helper_id: i64,
    env: &ProtoEnv,
) -> Result<&'static Proto, ProtoRefusal> {
    let def = u32::try_from(helper_id)
        .ok()
        .and_then(helper)
        .ok_or(ProtoRefusal::InvalidFunc {
            id: helper_id,
            name: "unknown",
        })?;
    let not_allowed = ProtoRefusal::NotAllowed {
        id: def.id,
        name: def.kernel_name(),
    };
    let (variant, needs) = offer(prog_type, attach, def.name).ok_or(not_allowed.clone())?;
    if env.privilege < needs {
        return Err(not_allowed);
    }
    let proto = proto_named(variant).ok_or(not_allowed)?;
    if proto.gpl_only && !env.gpl {
        return Err(ProtoRefusal::GplOnly {
            id: def.id,
            name: def.kernel_name(),
        });
    }
    if proto.might_sleep && !env.sleepable {
        return Err(ProtoRefusal::MightSleep {
            id: def.id,
            name: def.kernel_name(),
        });
    }
    Ok(proto)
}

/// Whether the program type offers the helper at all (its prototype may
/// still be refused for the licence or for sleeping).
pub fn offered(
    prog_type: ProgTypeId,
    attach: Option<AttachType>,
    helper_id: i64,
    env: &ProtoEnv,
) -> bool {
    !matches!(
        func_proto(prog_type, attach, helper_id, env),
        Err(ProtoRefusal::NotAllowed { .. } | ProtoRefusal::InvalidFunc { .. })
    )
}

/// The checks `check_helper_call` makes of particular helpers once
/// `get_func_proto` offered them: a prototype's `allowed` callback (`helper
/// call is not allowed in probe`) and `bpf_get_func_ip`'s program-type
/// check. `attach_btf` is the name of the BTF function the program attaches
/// to, where it has one. `Err` carries the kernel's message.
///
/// `bpf_d_path` and the `bpf_ima_*` helpers depend on lists of kernel
/// functions and sleepable LSM hooks that are kept here only in part
/// ([`D_PATH_ALLOWED`], [`SLEEPABLE_LSM_HOOKS`]).
pub fn call_check(
    prog_type: ProgTypeId,
    attach: Option<AttachType>,
    attach_btf: Option<&str>,
    helper_id: u32,
) -> Result<(), String> {
    use ProgTypeId as P;
    let Some(def) = helper(helper_id) else {
        return Ok(());
    };
    let not_in_probe = || Err("helper call is not allowed in probe".to_string());
    let sleepable_hook =
        prog_type == P::Lsm && attach_btf.is_some_and(|f| SLEEPABLE_LSM_HOOKS.contains(&f));
    let trampoline = prog_type == P::Tracing
        && matches!(
            attach,
            Some(AttachType::TraceFentry | AttachType::TraceFexit | AttachType::ModifyReturn)
        );
    let proto = func_proto(
        prog_type,
        attach,
        helper_id as i64,
        &ProtoEnv {
            sleepable: true,
            ..Default::default()
        },
    );
    let variant = proto.map(|p| p.variant).unwrap_or("");
    match (def.name, variant) {
        ("get_func_ip", _) => match prog_type {
            P::Kprobe => Ok(()),
            P::Tracing if trampoline => Ok(()),
            P::Tracing => Err(format!(
                "func {}#{} supported only for fentry/fexit/fmod_ret programs",
                def.kernel_name(),
                def.id
            )),
            _ => Err(format!(
                "func {}#{} not supported for program type {}",
                def.kernel_name(),
                def.id,
                prog_type.kernel_id()
            )),
        },
        (_, "sk_storage_get_tracing" | "sk_storage_delete_tracing") => {
            let ok = prog_type == P::Tracing
                && matches!(
                    attach,
                    Some(
                        AttachType::TraceIter
                            | AttachType::TraceRawTp
                            | AttachType::TraceFentry
                            | AttachType::TraceFexit
                    )
                );
            if ok {
                Ok(())
            } else {
                not_in_probe()
            }
        }
        ("d_path", _) => {
            let ok = (prog_type == P::Tracing && attach == Some(AttachType::TraceIter))
                || sleepable_hook
                || (prog_type == P::Tracing
                    && attach_btf.is_some_and(|f| D_PATH_ALLOWED.contains(&f)));
            if ok {
                Ok(())
            } else {
                not_in_probe()
            }
        }
        ("ima_inode_hash" | "ima_file_hash", _) => {
            if sleepable_hook {
                Ok(())
            } else {
                not_in_probe()
            }
        }
        _ => Ok(()),
    }
}

/// Some of the functions `bpf_d_path` may be called from (the kernel's
/// `btf_allowlist_d_path`).
pub const D_PATH_ALLOWED: &[&str] = &[
    "security_file_permission",
    "security_inode_getattr",
    "security_file_open",
    "security_path_truncate",
    "vfs_truncate",
    "vfs_fallocate",
    "dentry_open",
    "vfs_getattr",
    "filp_close",
];

/// Some of the LSM hooks a sleepable program may attach to (the kernel's
/// `bpf_lsm_sleepable_hooks`).
pub const SLEEPABLE_LSM_HOOKS: &[&str] = &[
    "bpf_lsm_bpf",
    "bpf_lsm_bpf_map",
    "bpf_lsm_bpf_prog",
    "bpf_lsm_bprm_check_security",
    "bpf_lsm_bprm_committed_creds",
    "bpf_lsm_bprm_committing_creds",
    "bpf_lsm_file_open",
    "bpf_lsm_file_alloc_security",
    "bpf_lsm_file_mprotect",
    "bpf_lsm_inode_create",
    "bpf_lsm_inode_getattr",
    "bpf_lsm_inode_setattr",
    "bpf_lsm_inode_unlink",
    "bpf_lsm_mmap_file",
    "bpf_lsm_path_unlink",
    "bpf_lsm_sb_mount",
    "bpf_lsm_task_alloc",
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{flags, ArgBase};

    #[test]
    fn every_helper_of_6_18_has_its_id_and_name() {
        assert_eq!(HELPERS.len(), 211);
        for (i, h) in HELPERS.iter().enumerate() {
            assert_eq!(h.id as usize, i + 1, "{} is out of order", h.name);
            assert_eq!(
                ironbpf_isa::disasm::HELPER_NAMES[i + 1],
                format!("bpf_{}", h.name),
                "id {}",
                h.id
            );
        }
        assert_eq!(helper_name(17), Some("bpf_get_cgroup_classid"));
        assert_eq!(helper_name(212), None);
        assert_eq!(helper_name(0), None);
    }

    #[test]
    fn every_per_type_entry_names_a_prototype() {
        let lists: &[&[&str]] = &[
            SK_BASE,
            TRACE,
            TC,
            XDP,
            SOCKET_FILTER,
            CGROUP_SKB,
            CGROUP_SOCK,
            LWT_OUT,
            LWT_IN,
            LWT_XMIT,
            LWT_SEG6LOCAL,
            SOCK_OPS,
            SK_SKB,
            CGROUP_DEVICE,
            SK_MSG,
            SOCK_ADDR,
            SK_REUSEPORT,
            FLOW_DISSECTOR,
            SYSCTL,
            SOCKOPT,
            SK_LOOKUP,
            TRACING,
            LSM,
            SYSCALL,
        ];
        for list in lists {
            for e in *list {
                let (h, v) = e.split_once('=').unwrap_or((e, e));
                assert!(helper_by_name(h).is_some(), "{e}: no helper {h}");
                assert!(proto_named(v).is_some(), "{e}: no prototype {v}");
            }
        }
        for (e, _) in BASE {
            let (h, v) = e.split_once('=').unwrap_or((e, e));
            assert!(
                helper_by_name(h).is_some() && proto_named(v).is_some(),
                "{e}"
            );
        }
        // Every type and attach type that offers a special prototype
        // resolves to one.
        for &pt in ProgTypeId::ALL {
            for a in std::iter::once(None).chain(AttachType::ALL.iter().copied().map(Some)) {
                for def in HELPERS {
                    if let Some((v, _)) = offer(pt, a, def.name) {
                        assert!(proto_named(v).is_some(), "{pt} {a:?} {}: {v}", def.name);
                    }
                }
            }
        }
    }

    #[test]
    fn sizes_follow_memory_arguments() {
        let all = HELPERS
            .iter()
            .map(|h| (h.name, &h.proto))
            .chain(VARIANTS.iter().map(|(n, p)| (*n, p)));
        for (name, p) in all {
            for i in 0..5 {
                let a = p.args[i];
                if a.base == ArgBase::PtrToMem && !a.has(flags::FIXED_SIZE) {
                    let next = p.args.get(i + 1).map(|n| n.base);
                    assert!(
                        matches!(next, Some(ArgBase::ConstSize | ArgBase::ConstSizeOrZero)),
                        "{name}: argument {} has no size after it",
                        i + 1
                    );
                }
            }
        }
    }

    #[test]
    fn refusals_carry_the_kernels_messages() {
        let env = ProtoEnv::default();
        let e = func_proto(ProgTypeId::SocketFilter, None, 212, &env).unwrap_err();
        assert_eq!(e.to_string(), "invalid func unknown#212");
        let e = func_proto(ProgTypeId::CgroupSock, None, 9, &env).unwrap_err();
        assert_eq!(
            e.to_string(),
            "program of this type cannot use helper bpf_skb_store_bytes#9"
        );
        let non_gpl = ProtoEnv { gpl: false, ..env };
        let e = func_proto(ProgTypeId::Kprobe, None, 25, &non_gpl).unwrap_err();
        assert_eq!(
            e.to_string(),
            "cannot call GPL-restricted function from non-GPL compatible program"
        );
        // perf_event_read_value's map variant is GPL-only; skb_load_bytes is not.
        assert!(matches!(
            func_proto(ProgTypeId::SchedCls, None, 55, &non_gpl),
            Err(ProtoRefusal::GplOnly { .. })
        ));
        assert!(func_proto(ProgTypeId::SchedCls, None, 26, &non_gpl).is_ok());
        let unpriv = ProtoEnv {
            privilege: Privilege::Unprivileged,
            ..env
        };
        assert!(func_proto(ProgTypeId::SocketFilter, None, 1, &unpriv).is_ok());
        assert!(func_proto(ProgTypeId::SocketFilter, None, 6, &unpriv).is_err());
    }

    #[test]
    fn the_registry_offers_what_the_kernel_offers() {
        let reg = crate::HelperRegistry::standard();
        let store = reg.entry(9).unwrap();
        assert!(store.allowed_for(ProgTypeId::SchedCls.kernel_id()));
        // The issue's example: cgroup_sock has no skb to store into.
        assert!(!store.allowed_for(ProgTypeId::CgroupSock.kernel_id()));
        // A number that is not a program type offers no kernel helper.
        assert!(!store.allowed_for(999));
        let sock = reg.for_prog_type(ProgTypeId::CgroupSock.kernel_id());
        assert!(sock.get(9).is_none());
        assert_eq!(sock.refused(9).map(|(n, _)| n), Some("bpf_skb_store_bytes"));
        assert!(sock.get(1).is_some());
    }

    #[test]
    fn per_type_prototypes_differ_where_the_kernels_do() {
        let env = ProtoEnv::default();
        let tc = func_proto(ProgTypeId::SchedCls, None, 26, &env).unwrap();
        let reuse = func_proto(ProgTypeId::SkReuseport, None, 26, &env).unwrap();
        assert_eq!(tc.variant, "skb_load_bytes");
        assert_eq!(reuse.variant, "sk_reuseport_load_bytes");
        let bind = crate::catalog::helper_by_name("bind").unwrap().id as i64;
        assert!(func_proto(
            ProgTypeId::CgroupSockAddr,
            Some(AttachType::CgroupInet4Connect),
            bind,
            &env
        )
        .is_ok());
        assert!(func_proto(
            ProgTypeId::CgroupSockAddr,
            Some(AttachType::CgroupInet4Bind),
            bind,
            &env
        )
        .is_err());
    }
}
