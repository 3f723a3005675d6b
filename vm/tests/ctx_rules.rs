//! The interpreter's context checks follow the kernel's `is_valid_access`
//! (issue 9's table, each row as Linux 6.18 decides it), and a program type
//! defined at run time by an embedder runs like a built-in one.

use ironbpf_isa::assemble_program;
use ironbpf_vm::progtype::{self, AccessRule, AttachType, CtxField, ProgType};
use ironbpf_vm::{HelperRegistry, Interpreter, Options, VmError};

fn run(pt: &ProgType, attach: Option<AttachType>, asm: &str) -> Result<u64, VmError> {
    let prog = assemble_program(asm).unwrap_or_else(|e| panic!("{e}\n{asm}"));
    let vm = Interpreter::new(&prog, &HelperRegistry::new(), Options::default()).unwrap();
    let mut ctx = vec![0u8; pt.ctx_size as usize];
    let mut pkt = [0u8; 64];
    let packet = pt.has_packet.then_some(&mut pkt[..]);
    vm.run_ctx_attach(pt, attach, &mut ctx, packet, None)
}

fn refused(pt: &ProgType, asm: &str) -> String {
    match run(pt, None, asm) {
        Err(e @ VmError::CtxAccess { .. }) => e.to_string(),
        other => panic!("{asm}: expected a context refusal, got {other:?}"),
    }
}

#[test]
fn issue_9_rows_as_the_kernel_decides_them() {
    let sf = &progtype::SOCKET_FILTER;
    let why = refused(sf, "r0 = *(u32 *)(r1 +76)\nexit\n");
    assert!(why.contains("`data`"), "{why}");
    refused(sf, "r0 = *(u32 *)(r1 +88)\nexit\n");
    let why = refused(sf, "r2 = 1\n*(u32 *)(r1 +8) = r2\nr0 = 0\nexit\n");
    assert!(why.contains("read-only"), "{why}");

    let tc = &progtype::SCHED_CLS;
    // Cilium's programs set queue_mapping; it reads back.
    let r0 = run(
        tc,
        None,
        "r2 = 3\n*(u32 *)(r1 +12) = r2\nr0 = *(u32 *)(r1 +12)\nexit\n",
    );
    assert_eq!(r0.unwrap(), 3);
    let why = refused(tc, "r0 = *(u16 *)(r1 +1)\nexit\n");
    assert!(why.contains("multiple of 2"), "{why}");
    // `sk` reads as the 8 bytes the caller put there: NULL.
    assert_eq!(run(tc, None, "r0 = *(u64 *)(r1 +168)\nexit\n").unwrap(), 0);

    let xdp = &progtype::XDP;
    let why = refused(xdp, "r0 = *(u8 *)(r1 +12)\nexit\n");
    assert!(why.contains("only as 4 bytes"), "{why}");
    let why = refused(xdp, "r0 = *(u32 *)(r1 +20)\nexit\n");
    assert!(why.contains("xdp_devmap"), "{why}");
    let devmap = run(
        xdp,
        Some(AttachType::XdpDevmap),
        "r0 = *(u32 *)(r1 +20)\nexit\n",
    );
    assert_eq!(devmap.unwrap(), 0);

    let tp = &progtype::TRACEPOINT;
    refused(tp, "r0 = *(u64 *)(r1 +0)\nexit\n");
    assert_eq!(run(tp, None, "r0 = *(u64 *)(r1 +4096)\nexit\n").unwrap(), 0);

    // Atomics on the context are refused, as the kernel refuses them.
    let why = refused(tc, "r2 = 1\nlock *(u32 *)(r1 +8) += r2\nr0 = 0\nexit\n");
    assert!(why.contains("atomic"), "{why}");
}

#[test]
fn xdp_data_loads_yield_the_packet_bounds() {
    let r0 = run(
        &progtype::XDP,
        None,
        "r2 = *(u32 *)(r1 +0)\nr3 = *(u32 *)(r1 +4)\nr3 -= r2\nr0 = r3\nexit\n",
    );
    assert_eq!(r0.unwrap(), 64);
}

#[test]
fn an_embedders_type_defined_at_run_time() {
    let mut pt = ProgType::custom(format!("hook_{}", 7), 16);
    pt.fields.push(CtxField::new(
        "counter",
        0,
        8,
        Some(AccessRule::sizes(8)),
        Some(AccessRule::sizes(8)),
    ));
    pt.fields.push(CtxField::ro("flags", 8, 4, 1 | 2 | 4));
    let asm = "r2 = *(u64 *)(r1 +0)\nr2 += 5\n*(u64 *)(r1 +0) = r2\nr0 = *(u16 *)(r1 +8)\nexit\n";
    assert_eq!(run(&pt, None, asm).unwrap(), 0);
    let why = refused(&pt, "r2 = 0\n*(u32 *)(r1 +8) = r2\nr0 = 0\nexit\n");
    assert!(why.contains("hook_7") && why.contains("read-only"), "{why}");
    let why = refused(&pt, "r0 = *(u32 *)(r1 +12)\nexit\n");
    assert!(why.contains("offset 12"), "{why}");
}
