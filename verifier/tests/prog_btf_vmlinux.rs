//! The running kernel's BTF read through `ironbpf_verifier::vmlinux`:
//! a few facts every x86-64 Linux 6.18 has. Skips with a `skipped:` line
//! where /sys/kernel/btf/vmlinux is missing (fails instead under
//! IRONBPF_REQUIRE_KERNEL=1).

mod vmlinux_or_skip;
use ironbpf_btf::kind;
use vmlinux_or_skip::vmlinux_or_skip;

#[test]
fn task_struct_pid_is_4_bytes_and_sk_buff_len_is_an_unsigned_int() {
    let Some(v) = vmlinux_or_skip() else {
        return;
    };
    let task = v.struct_id("task_struct").expect("struct task_struct");
    let (_, bits, m) = v.btf.member_by_name(task, "pid").expect("task_struct.pid");
    assert_eq!(bits % 8, 0);
    assert_eq!(v.btf.size_of(m.type_id).expect("size"), 4);
    // pid_t is a typedef of int.
    assert_eq!(v.name(m.type_id), "pid_t");
    let int = v.btf.skip_mods_and_typedefs(m.type_id).expect("resolve");
    assert_eq!(v.btf.kind_of(int), kind::INT);
    assert_eq!(v.name(int), "int");

    let skb = v.struct_id("sk_buff").expect("struct sk_buff");
    let (_, _, len) = v.btf.member_by_name(skb, "len").expect("sk_buff.len");
    assert_eq!(v.name(len.type_id), "unsigned int");
    assert_eq!(v.btf.size_of(len.type_id).expect("size"), 4);

    // The btf_trace typedef of a tracepoint leads to its prototype, whose
    // first argument is the `void *__data` the kernel skips.
    let tp = v
        .find("btf_trace_sched_switch", kind::TYPEDEF)
        .expect("typedef");
    let proto = v.btf.func_proto_of(tp).expect("proto");
    let args = &v.btf.get(proto).expect("type").members;
    assert_eq!(args.len(), 5, "__data, preempt, prev, next, prev_state");
    // A FUNC leads to its prototype too.
    let f = v.find("do_unlinkat", kind::FUNC).expect("do_unlinkat");
    let p = v.btf.func_proto_of(f).expect("proto");
    assert_eq!(v.btf.get(p).expect("type").members.len(), 2);
    // The same Arc is shared: the file is read once.
    assert!(std::sync::Arc::ptr_eq(
        &v,
        &vmlinux_or_skip().expect("again")
    ));
}

#[test]
fn an_array_member_resolves_to_its_elements_as_the_kernel_resolves_it() {
    let Some(v) = vmlinux_or_skip() else {
        return;
    };
    // task_struct.comm is char[16] (TASK_COMM_LEN).
    let task = v.struct_id("task_struct").expect("task_struct");
    let (_, _, comm) = v.btf.member_by_name(task, "comm").expect("comm");
    let r = v.btf.resolve_size(comm.type_id).expect("resolve");
    assert_eq!(r.size, 16);
    assert_eq!(r.nelems, 16);
    assert_eq!(v.btf.kind_of(r.type_id), kind::ARRAY);
    assert_eq!(v.name(r.elem_id), "char");
    assert_eq!(ironbpf_btf::kind_str(v.btf.kind_of(r.elem_id)), "INT");
}
