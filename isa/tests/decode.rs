//! Decoding hand-written slots: one valid encoding of each family, and
//! every way an encoding is refused, each error naming the instruction
//! index and the field at fault.

use ironbpf_isa::{
    AluOp, AtomicOp, CallTarget, Endian, Insn, IsaError, IsaErrorKind, JmpOp, LdImm64Src, Operand,
    Program, RawInsn, Reg, Size, Width,
};

fn w(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> RawInsn {
    RawInsn::new(code, dst, src, off, imm)
}

/// Decodes at pc 7 and returns the error.
fn refuse(slots: &[RawInsn]) -> IsaError {
    match Insn::decode(slots, 7) {
        Ok(i) => panic!("{slots:?} decoded as {i:?}"),
        Err(e) => e,
    }
}

fn reserved(slot: RawInsn, field: &str, value: i64) {
    let e = refuse(&[slot]);
    assert_eq!(e.pc, 7, "{slot:?}");
    assert_eq!(
        e.kind,
        IsaErrorKind::ReservedField {
            code: slot.code,
            field: match field {
                "dst" => "dst",
                "src" => "src",
                "off" => "off",
                "imm" => "imm",
                other => panic!("no field {other}"),
            },
            value,
        },
        "{slot:?}"
    );
}

fn unknown(code: u8) {
    let e = refuse(&[w(code, 0, 0, 0, 0), w(0, 0, 0, 0, 0)]);
    assert_eq!(
        e,
        IsaError::new(7, IsaErrorKind::UnknownOpcode { code }),
        "{code:#04x}"
    );
}

/// Decodes and re-encodes a valid instruction.
fn valid(slots: &[RawInsn], want: Insn) {
    assert_eq!(Insn::decode(slots, 0), Ok(want), "{slots:?}");
    assert_eq!(want.encode(), &slots[..want.slots()]);
}

#[test]
fn each_family_decodes_and_encodes() {
    let r = |n| Reg::new(n).unwrap();
    valid(
        &[w(0x07, 1, 0, 0, -3)],
        Insn::Alu {
            op: AluOp::Add,
            width: Width::W64,
            dst: r(1),
            src: Operand::Imm(-3),
        },
    );
    valid(
        &[w(0x3c, 1, 2, 1, 0)],
        Insn::Alu {
            op: AluOp::SDiv,
            width: Width::W32,
            dst: r(1),
            src: Operand::Reg(r(2)),
        },
    );
    valid(
        &[w(0x97, 1, 0, 1, 3)],
        Insn::Alu {
            op: AluOp::SMod,
            width: Width::W64,
            dst: r(1),
            src: Operand::Imm(3),
        },
    );
    valid(
        &[w(0x84, 3, 0, 0, 0)],
        Insn::Neg {
            width: Width::W32,
            dst: r(3),
        },
    );
    valid(
        &[w(0xbf, 0, 1, 32, 0)],
        Insn::MovSx {
            width: Width::W64,
            dst: r(0),
            src: r(1),
            bits: 32,
        },
    );
    valid(
        &[w(0xdc, 1, 0, 0, 16)],
        Insn::Endian {
            kind: Endian::ToBe,
            bits: 16,
            dst: r(1),
        },
    );
    valid(
        &[w(0xd7, 1, 0, 0, 64)],
        Insn::Endian {
            kind: Endian::Swap,
            bits: 64,
            dst: r(1),
        },
    );
    valid(
        &[w(0x18, 2, 0, 0, -1), w(0, 0, 0, 0, 0x1234)],
        Insn::LdImm64 {
            dst: r(2),
            src: LdImm64Src::Imm,
            imm: -1,
            next_imm: 0x1234,
        },
    );
    valid(
        &[w(0x18, 2, 6, 0, 1), w(0, 0, 0, 0, 16)],
        Insn::LdImm64 {
            dst: r(2),
            src: LdImm64Src::MapIdxValue,
            imm: 1,
            next_imm: 16,
        },
    );
    valid(
        &[w(0x30, 0, 0, 0, 14)],
        Insn::LdAbs {
            size: Size::B,
            imm: 14,
        },
    );
    valid(
        &[w(0x40, 0, 3, 0, 2)],
        Insn::LdInd {
            size: Size::W,
            src: r(3),
            imm: 2,
        },
    );
    valid(
        &[w(0x81, 0, 10, -4, 0)],
        Insn::Load {
            size: Size::W,
            sign_extend: true,
            dst: r(0),
            src: r(10),
            off: -4,
        },
    );
    valid(
        &[w(0x7a, 10, 0, -8, 99)],
        Insn::Store {
            size: Size::DW,
            dst: r(10),
            off: -8,
            imm: 99,
        },
    );
    valid(
        &[w(0x6b, 10, 1, -2, 0)],
        Insn::StoreReg {
            size: Size::H,
            dst: r(10),
            src: r(1),
            off: -2,
        },
    );
    valid(
        &[w(0xc3, 10, 1, -4, 0xf1)],
        Insn::Atomic {
            op: AtomicOp::CmpXchg,
            size: Size::W,
            dst: r(10),
            src: r(1),
            off: -4,
        },
    );
    valid(
        &[w(0xd3, 0, 1, 0, 0x100)],
        Insn::Atomic {
            op: AtomicOp::LoadAcquire,
            size: Size::B,
            dst: r(0),
            src: r(1),
            off: 0,
        },
    );
    valid(&[w(0x05, 0, 0, -1, 0)], Insn::Ja { off: -1 });
    valid(&[w(0x06, 0, 0, 0, 70000)], Insn::Gotol { imm: 70000 });
    valid(
        &[w(0xde, 1, 2, 5, 0)],
        Insn::Jmp {
            op: JmpOp::Jsle,
            width: Width::W32,
            dst: r(1),
            src: Operand::Reg(r(2)),
            off: 5,
        },
    );
    valid(&[w(0x85, 0, 0, 0, 1)], Insn::Call(CallTarget::Helper(1)));
    valid(&[w(0x85, 0, 1, 0, -4)], Insn::Call(CallTarget::Local(-4)));
    valid(
        &[w(0x85, 0, 2, 3, 555)],
        Insn::Call(CallTarget::Kfunc {
            btf_id: 555,
            off: 3,
        }),
    );
    valid(&[w(0x8d, 4, 0, 0, 0)], Insn::Callx { reg: r(4) });
    valid(&[w(0x95, 0, 0, 0, 0)], Insn::Exit);
}

#[test]
fn unknown_opcodes_are_refused() {
    for code in [
        0x00, // ld W imm
        0x08, // ld H imm
        0x38, // ld_abs DW
        0x58, // ld_ind DW
        0x60, // ld mem
        0x99, // ldx memsx DW
        0x21, // ldx abs
        0xc1, // ldx atomic
        0x82, // st memsx
        0xc2, // st atomic
        0x23, // stx abs
        0x83, // stx memsx
        0xe4, // alu 0xe0
        0xf7, // alu64 0xf0
        0x8c, // neg with BPF_X
        0xdf, // alu64 end with BPF_X
        0x0d, // ja with BPF_X
        0xed, // jcond with BPF_X
        0xe6, // jcond in jmp32
        0xf6, // jmp32 0xf0
        0x86, // call in jmp32
        0x96, // exit in jmp32
        0x9d, // exit with BPF_X
    ] {
        unknown(code);
    }
}

#[test]
fn may_goto_decodes_and_encodes_with_its_offset() {
    valid(&[w(0xe5, 0, 0, 2, 0)], Insn::MayGoto { off: 2 });
    valid(&[w(0xe5, 0, 0, -3, 0)], Insn::MayGoto { off: -3 });
    valid(&[w(0xe5, 0, 0, 0, 0)], Insn::MayGoto { off: 0 });
    let i = Insn::MayGoto { off: -3 };
    assert_eq!(i.branch(), Some(ironbpf_isa::Branch::Cond(-3)));
    assert_eq!((i.reads(), i.writes()), (0, None));
}

#[test]
fn reserved_fields_are_refused() {
    // ALU
    reserved(w(0x07, 1, 2, 0, 1), "src", 2);
    reserved(w(0x0f, 1, 2, 0, 1), "imm", 1);
    reserved(w(0x07, 1, 0, 1, 1), "off", 1);
    reserved(w(0xb7, 1, 0, 8, 1), "off", 8);
    reserved(w(0x37, 1, 0, 2, 1), "off", 2);
    reserved(w(0xbf, 1, 2, 8, 5), "imm", 5);
    // neg
    reserved(w(0x87, 1, 1, 0, 0), "src", 1);
    reserved(w(0x87, 1, 0, 1, 0), "off", 1);
    reserved(w(0x87, 1, 0, 0, 1), "imm", 1);
    // byte swap
    reserved(w(0xd4, 1, 1, 0, 16), "src", 1);
    reserved(w(0xdc, 1, 0, 1, 16), "off", 1);
    // ja / gotol
    reserved(w(0x05, 1, 0, 0, 0), "dst", 1);
    reserved(w(0x05, 0, 1, 0, 0), "src", 1);
    reserved(w(0x05, 0, 0, 0, 1), "imm", 1);
    reserved(w(0x06, 0, 0, 1, 0), "off", 1);
    // may_goto (BPF_JMP | BPF_JCOND): src names the form, then dst, then imm
    reserved(w(0xe5, 0, 1, 2, 0), "src", 1);
    reserved(w(0xe5, 1, 0, 2, 0), "dst", 1);
    reserved(w(0xe5, 0, 0, 2, 5), "imm", 5);
    // call / callx / exit
    reserved(w(0x85, 1, 0, 0, 1), "dst", 1);
    reserved(w(0x85, 0, 3, 0, 1), "src", 3);
    reserved(w(0x85, 0, 0, 1, 1), "off", 1);
    reserved(w(0x85, 0, 1, 1, 1), "off", 1);
    reserved(w(0x8d, 1, 1, 0, 0), "src", 1);
    reserved(w(0x8d, 1, 0, 1, 0), "off", 1);
    reserved(w(0x8d, 1, 0, 0, 1), "imm", 1);
    reserved(w(0x95, 1, 0, 0, 0), "dst", 1);
    reserved(w(0x95, 0, 1, 0, 0), "src", 1);
    reserved(w(0x95, 0, 0, 1, 0), "off", 1);
    reserved(w(0x95, 0, 0, 0, 1), "imm", 1);
    // conditional jumps
    reserved(w(0x15, 1, 2, 0, 0), "src", 2);
    reserved(w(0x1d, 1, 2, 0, 3), "imm", 3);
    reserved(w(0x16, 1, 2, 0, 0), "src", 2);
    // legacy packet loads
    reserved(w(0x30, 1, 0, 0, 0), "dst", 1);
    reserved(w(0x30, 0, 1, 0, 0), "src", 1);
    reserved(w(0x30, 0, 0, 1, 0), "off", 1);
    reserved(w(0x50, 1, 2, 0, 0), "dst", 1);
    reserved(w(0x50, 0, 2, 1, 0), "off", 1);
    // memory
    reserved(w(0x61, 0, 1, 0, 1), "imm", 1);
    reserved(w(0x91, 0, 1, 0, 1), "imm", 1);
    reserved(w(0x62, 10, 1, 0, 1), "src", 1);
    reserved(w(0x63, 10, 1, 0, 1), "imm", 1);
    // ld_imm64 first slot
    let e = refuse(&[w(0x18, 1, 0, 1, 0), w(0, 0, 0, 0, 0)]);
    assert_eq!(
        e,
        IsaError::new(
            7,
            IsaErrorKind::ReservedField {
                code: 0x18,
                field: "off",
                value: 1
            }
        )
    );
}

#[test]
fn bad_registers_are_refused() {
    for (slot, field, reg) in [
        (w(0x07, 11, 0, 0, 0), "dst", 11),
        (w(0x0f, 1, 15, 0, 0), "src", 15),
        (w(0x61, 0, 12, 0, 0), "src", 12),
        (w(0x7b, 13, 1, 0, 0), "dst", 13),
        (w(0x8d, 11, 0, 0, 0), "dst", 11),
        (w(0x1d, 1, 11, 0, 0), "src", 11),
        (w(0x48, 0, 14, 0, 0), "src", 14),
        (w(0xdb, 10, 11, 0, 0), "src", 11),
    ] {
        let e = refuse(&[slot]);
        assert_eq!(
            e,
            IsaError::new(7, IsaErrorKind::BadRegister { field, reg }),
            "{slot:?}"
        );
    }
    let e = refuse(&[w(0x18, 11, 0, 0, 0), w(0, 0, 0, 0, 0)]);
    assert_eq!(
        e.kind,
        IsaErrorKind::BadRegister {
            field: "dst",
            reg: 11
        }
    );
}

#[test]
fn bad_immediates_and_offsets_are_refused() {
    let e = refuse(&[w(0xdc, 1, 0, 0, 8)]);
    assert!(
        matches!(
            e.kind,
            IsaErrorKind::BadImm {
                code: 0xdc,
                imm: 8,
                ..
            }
        ),
        "{e}"
    );
    let e = refuse(&[w(0xdb, 10, 1, 0, 2)]);
    assert!(
        matches!(
            e.kind,
            IsaErrorKind::BadImm {
                code: 0xdb,
                imm: 2,
                ..
            }
        ),
        "{e}"
    );
    // Read-modify-write atomics are 32 or 64 bits wide.
    let e = refuse(&[w(0xd3, 10, 1, 0, 0)]);
    assert!(
        matches!(
            e.kind,
            IsaErrorKind::BadImm {
                code: 0xd3,
                imm: 0,
                ..
            }
        ),
        "{e}"
    );
    let e = refuse(&[w(0xcb, 10, 1, 0, 0xe1)]);
    assert!(
        matches!(e.kind, IsaErrorKind::BadImm { code: 0xcb, .. }),
        "{e}"
    );
    // movsx: off 8, 16, or 32 for the 64-bit form only.
    let e = refuse(&[w(0xbf, 0, 1, 7, 0)]);
    assert!(
        matches!(
            e.kind,
            IsaErrorKind::BadOffset {
                code: 0xbf,
                off: 7,
                ..
            }
        ),
        "{e}"
    );
    let e = refuse(&[w(0xbc, 0, 1, 32, 0)]);
    assert!(
        matches!(
            e.kind,
            IsaErrorKind::BadOffset {
                code: 0xbc,
                off: 32,
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(e.pc, 7);
}

#[test]
fn malformed_ld_imm64_is_refused() {
    // Unknown pseudo source.
    let e = refuse(&[w(0x18, 1, 7, 0, 0), w(0, 0, 0, 0, 0)]);
    assert_eq!(e, IsaError::new(7, IsaErrorKind::BadLdImm64Src { src: 7 }));
    // The program ends after the first slot.
    let e = refuse(&[w(0x18, 1, 0, 0, 0)]);
    assert_eq!(e, IsaError::new(7, IsaErrorKind::IncompleteLdImm64));
    // Each field of the second slot; the error names the second slot.
    for (second, field, value) in [
        (w(0x18, 0, 0, 0, 0), "opcode", 0x18),
        (w(0, 1, 0, 0, 0), "dst", 1),
        (w(0, 0, 2, 0, 0), "src", 2),
        (w(0, 0, 0, -1, 0), "off", -1),
    ] {
        let e = refuse(&[w(0x18, 1, 0, 0, 0), second]);
        assert_eq!(
            e,
            IsaError::new(8, IsaErrorKind::BadLdImm64SecondSlot { field, value }),
            "{second:?}"
        );
    }
    // imm of the second slot: only the constant, the two map-value forms
    // and the BTF id (module BTF fd) use it.
    for src in [1u8, 4, 5] {
        let e = refuse(&[w(0x18, 1, src, 0, 0), w(0, 0, 0, 0, 9)]);
        assert_eq!(
            e,
            IsaError::new(
                8,
                IsaErrorKind::BadLdImm64SecondSlot {
                    field: "imm",
                    value: 9
                }
            ),
            "src {src}"
        );
    }
    for src in [0u8, 2, 3, 6] {
        assert!(
            Insn::decode(&[w(0x18, 1, src, 0, 0), w(0, 0, 0, 0, 9)], 0).is_ok(),
            "src {src}"
        );
    }
}

fn prog(slots: Vec<RawInsn>) -> Result<Program, IsaError> {
    Program::from_slots(slots)
}

const EXIT: RawInsn = RawInsn::new(0x95, 0, 0, 0, 0);
const MOV0: RawInsn = RawInsn::new(0xb7, 0, 0, 0, 0);

#[test]
fn jumps_out_of_the_program_are_refused() {
    let e = prog(vec![MOV0, w(0x05, 0, 0, 5, 0), EXIT]).unwrap_err();
    assert_eq!(
        e,
        IsaError::new(1, IsaErrorKind::JumpOutOfRange { target: 7, last: 2 })
    );
    let e = prog(vec![MOV0, w(0x15, 0, 0, -3, 0), EXIT]).unwrap_err();
    assert_eq!(
        e,
        IsaError::new(
            1,
            IsaErrorKind::JumpOutOfRange {
                target: -1,
                last: 2
            }
        )
    );
    let e = prog(vec![MOV0, w(0x06, 0, 0, 0, 1_000), EXIT]).unwrap_err();
    assert_eq!(e.pc, 1);
    assert!(matches!(
        e.kind,
        IsaErrorKind::JumpOutOfRange { target: 1002, .. }
    ));
    // A call to outside the program.
    let e = prog(vec![MOV0, w(0x85, 0, 1, 0, 9), EXIT]).unwrap_err();
    assert_eq!(
        e,
        IsaError::new(
            1,
            IsaErrorKind::JumpOutOfRange {
                target: 11,
                last: 2
            }
        )
    );
    // A jump from the main program into a subprogram.
    let e = prog(vec![
        w(0x85, 0, 1, 0, 2), // call pc+2 -> subprog at 3
        w(0x05, 0, 0, 1, 0), // goto 3: into the subprogram
        EXIT,
        MOV0,
        EXIT,
    ])
    .unwrap_err();
    assert_eq!(
        e,
        IsaError::new(1, IsaErrorKind::JumpOutOfRange { target: 3, last: 2 })
    );
}

#[test]
fn jumps_into_the_middle_of_ld_imm64_are_refused() {
    let e = prog(vec![
        w(0x05, 0, 0, 1, 0),
        w(0x18, 0, 0, 0, 1),
        w(0, 0, 0, 0, 0),
        EXIT,
    ])
    .unwrap_err();
    assert_eq!(
        e,
        IsaError::new(0, IsaErrorKind::JumpIntoLdImm64 { ldimm64: 1 })
    );
    let e = prog(vec![
        w(0x18, 0, 0, 0, 1),
        w(0, 0, 0, 0, 0),
        w(0x15, 0, 0, -2, 0),
        EXIT,
    ])
    .unwrap_err();
    assert_eq!(
        e,
        IsaError::new(2, IsaErrorKind::JumpIntoLdImm64 { ldimm64: 0 })
    );
}

#[test]
fn falling_off_the_end_is_refused() {
    let e = prog(vec![MOV0]).unwrap_err();
    assert_eq!(
        e,
        IsaError::new(
            0,
            IsaErrorKind::FallsOffEnd {
                what: "the program".into()
            }
        )
    );
    // The last instruction is a conditional jump: it may fall through.
    let e = prog(vec![MOV0, EXIT, w(0x15, 0, 0, -2, 0)]).unwrap_err();
    assert_eq!(e.pc, 2);
    // A subprogram that ends in the second slot of an ld_imm64.
    let e = prog(vec![
        w(0x85, 0, 1, 0, 1),
        EXIT,
        w(0x18, 0, 0, 0, 1),
        w(0, 0, 0, 0, 0),
    ])
    .unwrap_err();
    assert_eq!(
        e,
        IsaError::new(
            3,
            IsaErrorKind::FallsOffEnd {
                what: "subprogram 1 (insns 2 to 3)".into()
            }
        )
    );
}

#[test]
fn whole_program_errors() {
    assert_eq!(
        Program::from_slots(vec![]).unwrap_err(),
        IsaError::new(0, IsaErrorKind::EmptyProgram)
    );
    assert_eq!(
        Program::from_bytes(&[0x95, 0, 0, 0, 0, 0, 0, 0, 0]).unwrap_err(),
        IsaError::new(1, IsaErrorKind::TruncatedProgram { len: 9 })
    );
    assert_eq!(
        Program::from_slots_with_limit(vec![MOV0, MOV0, EXIT], 2).unwrap_err(),
        IsaError::new(2, IsaErrorKind::TooManyInstructions { len: 3, max: 2 })
    );
    // An invalid instruction inside a program names its own index.
    let e = Program::from_slots(vec![MOV0, MOV0, w(0xe4, 0, 0, 0, 0), EXIT]).unwrap_err();
    assert_eq!(
        e,
        IsaError::new(2, IsaErrorKind::UnknownOpcode { code: 0xe4 })
    );
}
