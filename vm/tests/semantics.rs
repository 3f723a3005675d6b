//! Interpreter semantics that the conformance suites do not pin down:
//! context pointer fields, region faults naming the nearest region, call
//! depth, the budget, helpers reading program memory.

use ironbpf_isa::{AluOp, CallTarget, Insn, Operand, Program, Reg, Size, Width};
use ironbpf_vm::{progtype, HelperRegistry, Interpreter, Options, VmError};

fn prog(insns: &[Insn]) -> Program {
    let slots: Vec<_> = insns.iter().flat_map(|i| i.encode()).collect();
    Program::from_slots(slots).expect("valid program")
}

fn vm(insns: &[Insn]) -> Interpreter {
    Interpreter::new(&prog(insns), &HelperRegistry::new(), Options::default()).unwrap()
}

fn mov(dst: Reg, imm: i32) -> Insn {
    Insn::Alu {
        op: AluOp::Mov,
        width: Width::W64,
        dst,
        src: Operand::Imm(imm),
    }
}

fn ldx(size: Size, dst: Reg, src: Reg, off: i16) -> Insn {
    Insn::Load {
        size,
        sign_extend: false,
        dst,
        src,
        off,
    }
}

#[test]
fn xdp_data_and_data_end_read_as_packet_bounds() {
    // r2 = ctx->data; r3 = ctx->data_end; r0 = r3 - r2 (the packet length)
    let vm = vm(&[
        ldx(Size::W, Reg::R2, Reg::R1, 0),
        ldx(Size::W, Reg::R3, Reg::R1, 4),
        Insn::Alu {
            op: AluOp::Mov,
            width: Width::W64,
            dst: Reg::R0,
            src: Operand::Reg(Reg::R3),
        },
        Insn::Alu {
            op: AluOp::Sub,
            width: Width::W64,
            dst: Reg::R0,
            src: Operand::Reg(Reg::R2),
        },
        Insn::Exit,
    ]);
    let mut ctx = [0u8; 24];
    let mut pkt = [0u8; 60];
    assert_eq!(
        vm.run_ctx(&progtype::XDP, &mut ctx, Some(&mut pkt), None)
            .unwrap(),
        60
    );
}

#[test]
fn xdp_packet_writes_land_in_the_packet() {
    let vm = vm(&[
        ldx(Size::W, Reg::R2, Reg::R1, 0),
        Insn::Store {
            size: Size::B,
            dst: Reg::R2,
            off: 3,
            imm: 0x7f,
        },
        mov(Reg::R0, 2),
        Insn::Exit,
    ]);
    let mut ctx = [0u8; 24];
    let mut pkt = [0u8; 8];
    assert_eq!(
        vm.run_ctx(&progtype::XDP, &mut ctx, Some(&mut pkt), None)
            .unwrap(),
        2
    );
    assert_eq!(pkt, [0, 0, 0, 0x7f, 0, 0, 0, 0]);
}

#[test]
fn half_a_context_pointer_field_is_refused() {
    let vm = vm(&[ldx(Size::H, Reg::R0, Reg::R1, 0), Insn::Exit]);
    let mut ctx = [0u8; 24];
    let err = vm
        .run_ctx(&progtype::XDP, &mut ctx, Some(&mut [0u8; 4]), None)
        .unwrap_err();
    assert!(
        matches!(
            err,
            VmError::CtxAccess {
                off: 0,
                size: 2,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("only as 4 bytes"), "{err}");
}

#[test]
fn out_of_bounds_load_names_insn_address_size_and_nearest_region() {
    let vm = vm(&[ldx(Size::DW, Reg::R0, Reg::R1, 6), Insn::Exit]);
    let mut mem = [0u8; 8];
    let err = vm.run_with_memory(&mut mem).unwrap_err();
    let VmError::MemoryFault { pc, fault, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(*pc, 0);
    assert_eq!(fault.len, 8);
    assert_eq!(fault.addr, mem.as_ptr() as u64 + 6);
    let text = err.to_string();
    assert!(text.contains("input memory"), "{text}");
    assert!(text.contains("runs 6 bytes past the end"), "{text}");
}

#[test]
fn stack_above_the_frame_pointer_is_out_of_bounds() {
    let vm = vm(&[
        Insn::Store {
            size: Size::B,
            dst: Reg::R10,
            off: 0,
            imm: 0,
        },
        mov(Reg::R0, 0),
        Insn::Exit,
    ]);
    let err = vm.run_with_memory(&mut []).unwrap_err();
    assert!(err.to_string().contains("stack"), "{err}");
}

#[test]
fn endless_loop_ends_with_the_budget() {
    let p = prog(&[mov(Reg::R0, 0), Insn::Ja { off: -1 }]);
    let vm = Interpreter::new(
        &p,
        &HelperRegistry::new(),
        Options {
            budget: 1000,
            ..Options::default()
        },
    )
    .unwrap();
    let err = vm.run_with_memory(&mut []).unwrap_err();
    assert_eq!(
        err,
        VmError::BudgetExhausted {
            pc: 1,
            budget: 1000
        }
    );
}

#[test]
fn recursion_stops_at_eight_frames() {
    // main: call f; exit.  f: call f (forever).
    let vm = vm(&[
        mov(Reg::R0, 0),
        Insn::Call(CallTarget::Local(1)),
        Insn::Exit,
        Insn::Call(CallTarget::Local(-1)),
        Insn::Exit,
    ]);
    let err = vm.run_with_memory(&mut []).unwrap_err();
    assert!(matches!(err, VmError::CallDepth { pc: 3, max: 8 }), "{err}");
}

#[test]
fn callee_frames_get_their_own_stack_and_keep_r6_to_r9() {
    // main: r6 = 7; *(u64*)(r10-8) = 1; call f; r0 = *(u64*)(r10-8) + r6; exit
    // f: *(u64*)(r10-8) = 100; r6 = 99; r0 = 0; exit
    let vm = vm(&[
        mov(Reg::R6, 7),
        Insn::Store {
            size: Size::DW,
            dst: Reg::R10,
            off: -8,
            imm: 1,
        },
        Insn::Call(CallTarget::Local(3)),
        ldx(Size::DW, Reg::R0, Reg::R10, -8),
        Insn::Alu {
            op: AluOp::Add,
            width: Width::W64,
            dst: Reg::R0,
            src: Operand::Reg(Reg::R6),
        },
        Insn::Exit,
        Insn::Store {
            size: Size::DW,
            dst: Reg::R10,
            off: -8,
            imm: 100,
        },
        mov(Reg::R6, 99),
        mov(Reg::R0, 0),
        Insn::Exit,
    ]);
    assert_eq!(vm.run_with_memory(&mut []).unwrap(), 8);
}

#[test]
fn unknown_helper_is_refused_at_load() {
    let p = prog(&[Insn::Call(CallTarget::Helper(77)), Insn::Exit]);
    let err = Interpreter::new(&p, &HelperRegistry::new(), Options::default())
        .err()
        .unwrap();
    assert_eq!(err, VmError::UnknownHelper { pc: 0, id: 77 });
}

#[test]
fn reading_an_uninitialised_register_is_refused_at_load() {
    let p = prog(&[
        Insn::Alu {
            op: AluOp::Add,
            width: Width::W64,
            dst: Reg::R0,
            src: Operand::Reg(Reg::R3),
        },
        Insn::Exit,
    ]);
    let err = Interpreter::new(&p, &HelperRegistry::new(), Options::default())
        .err()
        .unwrap();
    assert!(err.to_string().contains("R0 !read_ok"), "{err}");
}

#[test]
fn helpers_read_and_write_program_memory_through_checks() {
    let mut helpers = HelperRegistry::new();
    helpers.register_fn(1, "sum_bytes", |ctx, a| {
        Ok(ctx.read(a[0], a[1])?.iter().map(|&b| b as u64).sum())
    });
    // r1 = r10 - 8; *(u64*)(r10-8) = 0x0102; r2 = 8; call 1; exit
    let p = prog(&[
        Insn::Store {
            size: Size::DW,
            dst: Reg::R10,
            off: -8,
            imm: 0x0102,
        },
        Insn::Alu {
            op: AluOp::Mov,
            width: Width::W64,
            dst: Reg::R1,
            src: Operand::Reg(Reg::R10),
        },
        Insn::Alu {
            op: AluOp::Add,
            width: Width::W64,
            dst: Reg::R1,
            src: Operand::Imm(-8),
        },
        mov(Reg::R2, 8),
        Insn::Call(CallTarget::Helper(1)),
        Insn::Exit,
    ]);
    let vm = Interpreter::new(&p, &helpers, Options::default()).unwrap();
    assert_eq!(vm.run_with_memory(&mut []).unwrap(), 3);
    // Asking for 9 bytes reaches above the frame: the helper's access faults.
    let p = prog(&[
        Insn::Alu {
            op: AluOp::Mov,
            width: Width::W64,
            dst: Reg::R1,
            src: Operand::Reg(Reg::R10),
        },
        Insn::Alu {
            op: AluOp::Add,
            width: Width::W64,
            dst: Reg::R1,
            src: Operand::Imm(-8),
        },
        mov(Reg::R2, 9),
        Insn::Call(CallTarget::Helper(1)),
        Insn::Exit,
    ]);
    let vm = Interpreter::new(&p, &helpers, Options::default()).unwrap();
    let err = vm.run_with_memory(&mut []).unwrap_err();
    assert!(matches!(err, VmError::HelperFailed { pc: 3, .. }), "{err}");
}
