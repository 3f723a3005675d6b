//! Property tests: encoding and decoding are inverse, the disassembler's
//! text assembles back to the same slots, and no raw word makes the
//! decoder panic.

use ironbpf_isa::{
    assemble, assemble_insn, disasm_insn, disasm_insn_with, format_log_line, AluOp, AtomicOp,
    CallTarget, DisasmOptions, Endian, Insn, JmpOp, LdImm64Src, Operand, RawInsn, Reg, Size, Width,
};
use proptest::prelude::*;

fn reg() -> impl Strategy<Value = Reg> {
    (0u8..=10).prop_map(|n| Reg::new(n).unwrap())
}

fn width() -> impl Strategy<Value = Width> {
    prop_oneof![Just(Width::W32), Just(Width::W64)]
}

fn size() -> impl Strategy<Value = Size> {
    prop_oneof![Just(Size::B), Just(Size::H), Just(Size::W), Just(Size::DW)]
}

/// Interesting 32-bit values more often than uniform ones.
fn imm32() -> impl Strategy<Value = i32> {
    prop_oneof![
        any::<i32>(),
        -4i32..=4,
        Just(i32::MIN),
        Just(i32::MAX),
        Just(0x7fff_ffff),
    ]
}

fn off16() -> impl Strategy<Value = i16> {
    prop_oneof![any::<i16>(), -4i16..=4, Just(i16::MIN), Just(i16::MAX)]
}

fn operand() -> impl Strategy<Value = Operand> {
    prop_oneof![reg().prop_map(Operand::Reg), imm32().prop_map(Operand::Imm)]
}

fn ld_imm64() -> impl Strategy<Value = Insn> {
    let src = prop_oneof![
        Just(LdImm64Src::Imm),
        Just(LdImm64Src::MapFd),
        Just(LdImm64Src::MapValue),
        Just(LdImm64Src::BtfId),
        Just(LdImm64Src::Func),
        Just(LdImm64Src::MapIdx),
        Just(LdImm64Src::MapIdxValue),
    ];
    (reg(), src, imm32(), imm32()).prop_map(|(dst, src, imm, next)| {
        let next_imm = match src {
            LdImm64Src::MapFd | LdImm64Src::MapIdx | LdImm64Src::Func => 0,
            _ => next,
        };
        Insn::LdImm64 {
            dst,
            src,
            imm,
            next_imm,
        }
    })
}

fn atomic() -> impl Strategy<Value = Insn> {
    let op = prop_oneof![
        Just(AtomicOp::Add),
        Just(AtomicOp::Or),
        Just(AtomicOp::And),
        Just(AtomicOp::Xor),
        Just(AtomicOp::FetchAdd),
        Just(AtomicOp::FetchOr),
        Just(AtomicOp::FetchAnd),
        Just(AtomicOp::FetchXor),
        Just(AtomicOp::Xchg),
        Just(AtomicOp::CmpXchg),
        Just(AtomicOp::LoadAcquire),
        Just(AtomicOp::StoreRelease),
    ];
    (op, size(), reg(), reg(), off16()).prop_map(|(op, size, dst, src, off)| {
        let size = match (op, size) {
            (AtomicOp::LoadAcquire | AtomicOp::StoreRelease, s) => s,
            (_, Size::B | Size::W) => Size::W,
            _ => Size::DW,
        };
        Insn::Atomic {
            op,
            size,
            dst,
            src,
            off,
        }
    })
}

/// Every valid instruction variant with random fields.
fn insn() -> impl Strategy<Value = Insn> {
    let alu = (0..AluOp::ALL.len(), width(), reg(), operand()).prop_map(|(i, width, dst, src)| {
        Insn::Alu {
            op: AluOp::ALL[i],
            width,
            dst,
            src,
        }
    });
    let movsx = (width(), reg(), reg(), 0usize..3).prop_map(|(width, dst, src, b)| {
        let bits = match (width, b) {
            (_, 0) => 8,
            (_, 1) => 16,
            (Width::W64, _) => 32,
            (Width::W32, _) => 8,
        };
        Insn::MovSx {
            width,
            dst,
            src,
            bits,
        }
    });
    let endian = (
        prop_oneof![Just(Endian::ToLe), Just(Endian::ToBe), Just(Endian::Swap)],
        prop_oneof![Just(16u8), Just(32u8), Just(64u8)],
        reg(),
    )
        .prop_map(|(kind, bits, dst)| Insn::Endian { kind, bits, dst });
    let pkt_size = prop_oneof![Just(Size::B), Just(Size::H), Just(Size::W)];
    let ld_abs = (pkt_size.clone(), imm32()).prop_map(|(size, imm)| Insn::LdAbs { size, imm });
    let ld_ind =
        (pkt_size, reg(), imm32()).prop_map(|(size, src, imm)| Insn::LdInd { size, src, imm });
    let load =
        (size(), any::<bool>(), reg(), reg(), off16()).prop_map(|(size, sx, dst, src, off)| {
            Insn::Load {
                size,
                sign_extend: sx && size != Size::DW,
                dst,
                src,
                off,
            }
        });
    let store = (size(), reg(), off16(), imm32()).prop_map(|(size, dst, off, imm)| Insn::Store {
        size,
        dst,
        off,
        imm,
    });
    let store_reg =
        (size(), reg(), reg(), off16()).prop_map(|(size, dst, src, off)| Insn::StoreReg {
            size,
            dst,
            src,
            off,
        });
    let jmp = (0..JmpOp::ALL.len(), width(), reg(), operand(), off16()).prop_map(
        |(i, width, dst, src, off)| Insn::Jmp {
            op: JmpOp::ALL[i],
            width,
            dst,
            src,
            off,
        },
    );
    let call = prop_oneof![
        prop_oneof![0i32..=215, imm32()].prop_map(|id| Insn::Call(CallTarget::Helper(id))),
        imm32().prop_map(|i| Insn::Call(CallTarget::Local(i))),
        (imm32(), off16()).prop_map(|(btf_id, off)| Insn::Call(CallTarget::Kfunc { btf_id, off })),
    ];
    prop_oneof![
        alu,
        width().prop_flat_map(|w| reg().prop_map(move |dst| Insn::Neg { width: w, dst })),
        movsx,
        endian,
        ld_imm64(),
        ld_abs,
        ld_ind,
        load,
        store,
        store_reg,
        atomic(),
        off16().prop_map(|off| Insn::Ja { off }),
        imm32().prop_map(|imm| Insn::Gotol { imm }),
        jmp,
        call,
        reg().prop_map(|reg| Insn::Callx { reg }),
        Just(Insn::Exit),
    ]
}

/// A slot biased towards real opcodes and small fields, so that most
/// words reach deep into the decoder.
fn raw_slot() -> impl Strategy<Value = RawInsn> {
    (
        any::<u8>(),
        prop_oneof![0u8..=10, 0u8..=15],
        prop_oneof![0u8..=10, 0u8..=15],
        prop_oneof![
            Just(0i16),
            Just(1),
            Just(8),
            Just(16),
            Just(32),
            any::<i16>()
        ],
        prop_oneof![
            Just(0i32),
            Just(1),
            Just(16),
            Just(32),
            Just(64),
            Just(0x100),
            Just(0x110),
            Just(0xe1),
            Just(0xf1),
            any::<i32>()
        ],
    )
        .prop_map(|(code, dst, src, off, imm)| RawInsn::new(code, dst, src, off, imm))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 10_000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn decode_inverts_encode(i in insn()) {
        let slots = i.encode();
        prop_assert_eq!(slots.len(), i.slots());
        prop_assert_eq!(Insn::decode(&slots, 0), Ok(i));
    }

    #[test]
    fn disassembly_assembles_back(i in insn()) {
        let text = disasm_insn(&i);
        let slots = assemble(&text).map_err(|e| TestCaseError::fail(format!("`{text}`: {e}")))?;
        prop_assert_eq!(&slots, &i.encode(), "text `{}`", text);
        prop_assert_eq!(assemble_insn(&text), Ok(i));
    }

    #[test]
    fn disassembly_with_options_assembles_back(i in insn()) {
        let names = |id: i32, off: i16| (id % 3 == 0).then(|| format!("kf_{}_{}", id.unsigned_abs(), off.unsigned_abs()));
        let opts = DisasmOptions { map_ids: true, kfunc_name: Some(&names) };
        let text = disasm_insn_with(&i, &opts);
        let slots = assemble(&text).map_err(|e| TestCaseError::fail(format!("`{text}`: {e}")))?;
        prop_assert_eq!(&slots, &i.encode(), "text `{}`", text);
    }

    #[test]
    fn log_line_assembles_back(i in insn(), pc in 0usize..100_000) {
        let code = i.encode()[0].code;
        let line = format_log_line(pc, &i, code);
        let slots = assemble(&line).map_err(|e| TestCaseError::fail(format!("`{line}`: {e}")))?;
        prop_assert_eq!(&slots, &i.encode(), "line `{}`", line);
    }

    #[test]
    fn random_words_decode_or_fail_cleanly(a in any::<u64>(), b in any::<u64>()) {
        let slots = [RawInsn::from_u64(a), RawInsn::from_u64(b)];
        if let Ok(i) = Insn::decode(&slots, 7) {
            prop_assert_eq!(&i.encode()[..], &slots[..i.slots()]);
        }
    }

    #[test]
    fn biased_words_decode_or_fail_cleanly(a in raw_slot(), b in raw_slot(), second_zero in any::<bool>()) {
        // Half the time the second slot is a well-formed ld_imm64 tail.
        let b = if second_zero { RawInsn::new(0, 0, 0, 0, b.imm) } else { b };
        let slots = [a, b];
        match Insn::decode(&slots, 3) {
            Ok(i) => {
                prop_assert_eq!(&i.encode()[..], &slots[..i.slots()]);
                // What decodes also disassembles and assembles back.
                let text = disasm_insn(&i);
                let again = assemble(&text).map_err(|e| TestCaseError::fail(format!("`{text}`: {e}")))?;
                prop_assert_eq!(&again[..], &slots[..i.slots()]);
            }
            Err(e) => prop_assert!(e.pc == 3 || e.pc == 4, "error pc {}", e.pc),
        }
        // A lone slot never reads past the slice.
        let _ = Insn::decode(&slots[..1], 0);
    }
}
