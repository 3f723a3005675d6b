//! The table's program types against the kernel's: for each helper and
//! each program type ironbpf runs, a program that calls it is loaded into
//! the kernel, whose verifier says "program of this type cannot use helper"
//! (or "unknown func") exactly where the table says the type may not call
//! it.

use ironbpf_helpers::HelperRegistry;
use ironbpf_kernel::{load_program, ProgLoad};
use ironbpf_progtype::ProgTypeId;

/// The program types that load with no attach type, every helper the
/// table implements in each (`ironbpf_conformance::probe_helpers` probes
/// every helper of 6.18 in every loadable type and attach type).
const TYPES: &[ProgTypeId] = &[
    ProgTypeId::SocketFilter,
    ProgTypeId::Kprobe,
    ProgTypeId::SchedCls,
    ProgTypeId::SchedAct,
    ProgTypeId::Tracepoint,
    ProgTypeId::Xdp,
    ProgTypeId::PerfEvent,
    ProgTypeId::CgroupSkb,
    ProgTypeId::CgroupSock,
    ProgTypeId::LwtIn,
    ProgTypeId::LwtOut,
    ProgTypeId::LwtXmit,
    ProgTypeId::SockOps,
    ProgTypeId::SkSkb,
    ProgTypeId::SkMsg,
    ProgTypeId::RawTracepoint,
    ProgTypeId::LwtSeg6local,
    ProgTypeId::SkReuseport,
    ProgTypeId::FlowDissector,
    ProgTypeId::RawTracepointWritable,
];

/// Whether the kernel lets a program of `prog_type` call helper `id`.
fn kernel_allows(prog_type: ProgTypeId, id: i64) -> Result<bool, String> {
    let mut words = Vec::new();
    for r in 1..=5u8 {
        // rN = 0
        words.push(ironbpf_isa::RawInsn {
            code: 0xb7,
            dst: r,
            src: 0,
            off: 0,
            imm: 0,
        });
    }
    words.push(ironbpf_isa::RawInsn {
        code: 0x85,
        dst: 0,
        src: 0,
        off: 0,
        imm: id as i32,
    });
    words.push(ironbpf_isa::RawInsn {
        code: 0xb7,
        dst: 0,
        src: 0,
        off: 0,
        imm: 0,
    });
    words.push(ironbpf_isa::RawInsn {
        code: 0x95,
        dst: 0,
        src: 0,
        off: 0,
        imm: 0,
    });
    let insns: Vec<u64> = words.iter().map(|w| w.to_u64()).collect();
    let out = load_program(&ProgLoad {
        prog_type: prog_type.kernel_id(),
        insns: &insns,
        ..Default::default()
    });
    if out.accepted() {
        return Ok(true);
    }
    let log = out.log;
    if log.contains("program of this type cannot use helper") || log.contains("invalid func") {
        return Ok(false);
    }
    if log.is_empty() {
        return Err(format!(
            "type {prog_type}, helper {id}: refused with no log: {:?}",
            out.result.err()
        ));
    }
    Ok(true)
}

#[test]
fn program_types_agree_with_the_kernels_func_protos() {
    if !ironbpf_kernel::available_for_test("program_types_agree_with_the_kernels_func_protos") {
        return;
    }
    let table = HelperRegistry::standard();
    let mut differ = Vec::new();
    for e in table.entries() {
        for &pt in TYPES {
            let name = pt.name();
            let ours = e.allowed_for(pt.kernel_id());
            match kernel_allows(pt, e.id) {
                Ok(k) if k != ours => differ.push(format!(
                    "{} in {name}: the kernel {}, the table {}",
                    e.name,
                    if k { "allows it" } else { "refuses it" },
                    if ours { "allows it" } else { "refuses it" }
                )),
                Ok(_) => {}
                Err(why) => differ.push(why),
            }
        }
    }
    assert!(differ.is_empty(), "{}", differ.join("\n"));
}
