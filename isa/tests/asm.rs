//! The assembler: the forms it reads (kernel log, llvm-objdump, labels,
//! comments) and the errors it gives, each naming the line, the column and
//! what was expected.

use ironbpf_isa::{
    assemble, assemble_insn, assemble_program, AsmError, AsmErrorKind, AtomicOp, CallTarget, Insn,
    IsaErrorKind, LdImm64Src, Reg, Size,
};

fn one(text: &str) -> Insn {
    assemble_insn(text).unwrap_or_else(|e| panic!("`{text}`: {e}"))
}

fn err(text: &str) -> AsmError {
    match assemble(text) {
        Ok(s) => panic!("`{text}` assembled to {s:?}"),
        Err(e) => e,
    }
}

#[test]
fn kernel_log_lines_with_state_annotations() {
    let log = "\
0: (bf) r6 = r1                       ; R1=ctx() R6=ctx()
1: (b7) r0 = 42                       ; R0=42
2: (18) r1 = 0x123456789abcdef0       ; R1=0x123456789abcdef0
4: (65) if r1 s> 0xfffffffb goto pc+1 ; R1=42
5: (85) call bpf_get_prandom_u32#7    ; R0=scalar()
6: (95) exit
";
    let slots = assemble(log).unwrap();
    assert_eq!(slots.len(), 7);
    assert_eq!(slots[2].code, 0x18);
    assert_eq!(slots[4].imm, -5);
    assert_eq!(slots[5].imm, 7);
}

#[test]
fn labels_resolve_forwards_and_backwards() {
    let text = "
        r0 = 0
    top:
        r0 += 1
        if r0 < 10 goto top     // back to the add
        if r0 == 10 goto done
        goto top
    done:
        r2 = subprog[cb]
        call cb
        exit
    cb: r0 = 1
        exit
    ";
    let slots = assemble(text).unwrap();
    assert_eq!(slots[2].off, -2); // if r0 < 10 goto top (pc 2 -> 1)
    assert_eq!(slots[3].off, 1); // pc 3 -> 5
    assert_eq!(slots[4].off, -4); // pc 4 -> 1
    assert_eq!((slots[5].src, slots[5].imm), (4, 3)); // ld_imm64 pc 5 -> 9
    assert_eq!((slots[7].src, slots[7].imm), (1, 1)); // call pc 7 -> 9
    assemble_program(text).unwrap();
}

#[test]
fn comments_of_every_kind() {
    let text = "; a comment line\n# another\n// and another\nr0 = 1 # set r0\ncall bpf_map_lookup_elem#1 ; helper 1\nexit // done";
    let slots = assemble(text).unwrap();
    assert_eq!(slots.len(), 3);
    assert_eq!(slots[1].imm, 1);
}

#[test]
fn helpers_by_name_and_id_and_kfuncs() {
    let helper = |id| Insn::Call(CallTarget::Helper(id));
    assert_eq!(one("call 1"), helper(1));
    assert_eq!(one("call bpf_map_lookup_elem"), helper(1));
    assert_eq!(one("call map_lookup_elem"), helper(1));
    assert_eq!(one("call bpf_trace_printk#6"), helper(6));
    assert_eq!(one("call unknown#999"), helper(999));
    assert_eq!(one("call pc-3"), Insn::Call(CallTarget::Local(-3)));
    // The kernel's log names kfuncs by their BTF name.
    assert_eq!(
        one("call bpf_obj_new_impl#12345"),
        Insn::Call(CallTarget::Kfunc {
            btf_id: 12345,
            off: 0
        })
    );
    assert_eq!(
        one("call kernel-function#7[btf_fd_idx:1]"),
        Insn::Call(CallTarget::Kfunc { btf_id: 7, off: 1 })
    );
    assert_eq!(one("callx r3"), Insn::Callx { reg: Reg::R3 });
}

#[test]
fn move_or_ld_imm64() {
    // Fits a sign-extended imm32: a move.
    assert_eq!(assemble("r1 = 0x7fffffff").unwrap().len(), 1);
    assert_eq!(assemble("r1 = -2147483648").unwrap().len(), 1);
    // Does not: the 64-bit load of that value.
    let s = assemble("r1 = 0xffffffff").unwrap();
    assert_eq!((s.len(), s[0].imm, s[1].imm), (2, -1, 0));
    let s = assemble("r1 = -2147483649").unwrap();
    assert_eq!((s.len(), s[0].imm, s[1].imm), (2, i32::MAX, -1));
    // A 32-bit move takes the bit pattern.
    let s = assemble("w1 = 0xffffffff").unwrap();
    assert_eq!((s.len(), s[0].code, s[0].imm), (1, 0xb4, -1));
    // ` ll` and the (18) prefix force the 64-bit load.
    assert_eq!(assemble("r1 = 5 ll").unwrap().len(), 2);
    assert_eq!(assemble("3: (18) r1 = 0x5").unwrap().len(), 2);
    assert_eq!(assemble("r1 = 0xffffffffffffffff ll").unwrap()[1].imm, -1);
}

#[test]
fn map_and_other_pseudo_sources() {
    let ld = |text: &str| match one(text) {
        Insn::LdImm64 {
            src, imm, next_imm, ..
        } => (src, imm, next_imm),
        other => panic!("{other:?}"),
    };
    assert_eq!(ld("r1 = map[fd:5]"), (LdImm64Src::MapFd, 5, 0));
    assert_eq!(ld("r1 = map[id:3]"), (LdImm64Src::MapFd, 3, 0));
    assert_eq!(ld("r1 = map[id:3][0]+8"), (LdImm64Src::MapValue, 3, 8));
    assert_eq!(ld("r1 = map[idx:2]"), (LdImm64Src::MapIdx, 2, 0));
    assert_eq!(ld("r1 = map[idx:2][0]+8"), (LdImm64Src::MapIdxValue, 2, 8));
    assert_eq!(ld("r1 = map[idx:2]+8"), (LdImm64Src::MapIdxValue, 2, 8));
    assert_eq!(ld("r1 = btf_id[77][fd:3]"), (LdImm64Src::BtfId, 77, 3));
    assert_eq!(ld("r1 = subprog[-5]"), (LdImm64Src::Func, -5, 0));
}

#[test]
fn atomics_in_both_syntaxes() {
    let at = |text: &str| match one(text) {
        Insn::Atomic {
            op,
            size,
            dst,
            src,
            off,
        } => (op, size, dst.num(), src.num(), off),
        other => panic!("{other:?}"),
    };
    let add = (AtomicOp::Add, Size::DW, 10, 1, -8);
    assert_eq!(at("lock *(u64 *)(r10 -8) += r1"), add);
    assert_eq!(at("lock *(u64 *)(r10 - 8) += r1"), add);
    assert_eq!(at("lock *(u64 *)(r10 - 0x8) += r1"), add);
    let xchg = (AtomicOp::Xchg, Size::DW, 10, 1, -8);
    assert_eq!(at("r1 = atomic64_xchg((u64 *)(r10 -8), r1)"), xchg);
    assert_eq!(at("r1 = xchg_64(r10 - 8, r1)"), xchg);
    let cmp = (AtomicOp::CmpXchg, Size::W, 10, 1, -8);
    assert_eq!(at("r0 = atomic_cmpxchg((u32 *)(r10 -8), r0, r1)"), cmp);
    assert_eq!(at("w0 = cmpxchg32_32(r10 - 8, w0, w1)"), cmp);
    assert_eq!(
        at("w1 = atomic_fetch_add((u32 *)(r10 - 8), w1)"),
        (AtomicOp::FetchAdd, Size::W, 10, 1, -8)
    );
    assert_eq!(
        at("w0 = load_acquire((u8 *)(r1 + 0x0))"),
        (AtomicOp::LoadAcquire, Size::B, 0, 1, 0)
    );
    assert_eq!(
        at("store_release((u16 *)(r1 + 0x0), w2)"),
        (AtomicOp::StoreRelease, Size::H, 1, 2, 0)
    );
}

#[test]
fn llvm_spellings_of_jumps_and_packet_loads() {
    assert_eq!(one("goto +3"), Insn::Ja { off: 3 });
    assert_eq!(one("goto -1"), Insn::Ja { off: -1 });
    assert_eq!(one("goto +0x3 <.text+0xf0>"), Insn::Ja { off: 3 });
    assert_eq!(one("gotol +0x11170"), Insn::Gotol { imm: 70000 });
    // llvm-objdump-19's spelling of `can_loop` (`may_goto +0x2 <LBB0_3>`)
    // and the kernel log's.
    assert_eq!(one("may_goto +0x2 <LBB0_3>"), Insn::MayGoto { off: 2 });
    assert_eq!(one("may_goto pc-3"), Insn::MayGoto { off: -3 });
    let s = assemble("l: r0 += 1\nmay_goto out\ngoto l\nout: exit").unwrap();
    assert_eq!((s[1].code, s[1].src, s[1].off), (0xe5, 0, 1));
    let s = assemble("if r1 s> 5 goto +3").unwrap();
    assert_eq!((s[0].code, s[0].imm, s[0].off), (0x65, 5, 3));
    let s = assemble("if w1 s> -0x5 goto -0x1").unwrap();
    assert_eq!((s[0].code, s[0].imm, s[0].off), (0x66, -5, -1));
    assert_eq!(
        one("r0 = *(u16 *)skb[r2]"),
        Insn::LdInd {
            size: Size::H,
            src: Reg::R2,
            imm: 0
        }
    );
    assert_eq!(
        one("r0 = *(u32 *)skb[r2 - 4]"),
        Insn::LdInd {
            size: Size::W,
            src: Reg::R2,
            imm: -4
        }
    );
}

fn check(text: &str, line: usize, column: usize, want: AsmErrorKind) {
    let e = err(text);
    assert_eq!(
        (e.line, e.column, &e.kind),
        (line, column, &want),
        "`{text}`: {e}"
    );
}

#[test]
fn errors_name_line_column_and_expectation() {
    let e = err("r0 = 0\nexit\nr11 = 1");
    assert_eq!((e.line, e.column), (3, 1));
    assert_eq!(
        e.to_string(),
        "line 3: unknown register `r11` (registers are r0 to r10, or w0 to w10 for 32-bit operations)"
    );
    check(
        "r0 = *(u32 *)(r1 +4",
        1,
        20,
        AsmErrorKind::Expected {
            expected: "`)`".into(),
            found: "the end of the line".into(),
        },
    );
    check(
        "  frobnicate r1",
        1,
        3,
        AsmErrorKind::UnknownInstruction("frobnicate".into()),
    );
    check(
        "r0 = *(u32 *)(r1 +40000)",
        1,
        18,
        AsmErrorKind::OutOfRange {
            value: "40000".into(),
            what: "a 16-bit offset",
            min: -32768,
            max: 32767,
        },
    );
    check(
        "r0 += 0x100000000",
        1,
        7,
        AsmErrorKind::OutOfRange {
            value: "4294967296".into(),
            what: "a 32-bit immediate",
            min: -2147483648,
            max: 4294967295,
        },
    );
    check(
        "w1 += r2",
        1,
        1,
        AsmErrorKind::MixedWidths("w1 += r2".into()),
    );
    check(
        "exit now",
        1,
        6,
        AsmErrorKind::Expected {
            expected: "the end of the instruction".into(),
            found: "`now`".into(),
        },
    );
    check(
        "goto nowhere",
        1,
        6,
        AsmErrorKind::UnknownLabel("nowhere".into()),
    );
    check(
        "call no_such_helper",
        1,
        6,
        AsmErrorKind::UnknownHelper("no_such_helper".into()),
    );
    check(
        "a:\nexit\na: exit",
        3,
        1,
        AsmErrorKind::DuplicateLabel {
            label: "a".into(),
            first_line: 1,
        },
    );
    check(
        "4: (bf) r0 = 42",
        1,
        9,
        AsmErrorKind::OpcodeMismatch {
            prefix: 0xbf,
            actual: 0xb7,
        },
    );
    check(
        "lock *(u8 *)(r10 -8) += r1",
        1,
        1,
        AsmErrorKind::Invalid(IsaErrorKind::BadImm {
            code: 0xd3,
            imm: 0,
            why: "read-modify-write atomics are 32 or 64 bits wide",
        }),
    );
    let e = err("r1 = -r2");
    assert_eq!((e.line, e.column), (1, 7));
    assert!(
        e.to_string()
            .contains("negation works in place: write `r1 = -r1`"),
        "{e}"
    );
    let e = err("r1 = atomic64_cmpxchg((u64 *)(r10 -8), r0, r1)");
    assert!(e.to_string().contains("writes its result to r0"), "{e}");
    let e = err("r1 = *(u8 *)skb[1]");
    assert!(e.to_string().contains("always writes r0"), "{e}");
    let e = err("call bpf_map_lookup_elem#2");
    assert_eq!(e.column, 26);
    assert!(e.to_string().contains("is helper 1, not 2"), "{e}");
    let e = err("w1 = 5 ll");
    assert!(e.to_string().contains("64-bit register"), "{e}");
    let e = err("r0 = 12abc");
    assert_eq!(e.column, 6);
}

#[test]
fn jumps_too_far_for_goto_suggest_gotol() {
    let mut text = String::from("goto far\n");
    for _ in 0..40_000 {
        text.push_str("r0 = 0\n");
    }
    text.push_str("far: exit\n");
    let e = err(&text);
    assert_eq!(
        (e.line, e.column, e.kind),
        (
            1,
            6,
            AsmErrorKind::JumpTooFar {
                label: "far".into(),
                offset: 40_000
            }
        )
    );
    let ok = text.replacen("goto far", "gotol far", 1);
    assert_eq!(assemble(&ok).unwrap()[0].imm, 40_000);
}

#[test]
fn program_errors_name_the_line() {
    let e = assemble_program("r0 = 0\n\n; nothing after\nr0 += 1").unwrap_err();
    assert_eq!(e.line, 4);
    assert!(
        matches!(
            e.kind,
            AsmErrorKind::Program(IsaErrorKind::FallsOffEnd { .. })
        ),
        "{e}"
    );
    let e = assemble_program("r0 = 0\ngoto +5\nexit").unwrap_err();
    assert_eq!(e.line, 2);
    assert!(
        matches!(
            e.kind,
            AsmErrorKind::Program(IsaErrorKind::JumpOutOfRange { .. })
        ),
        "{e}"
    );
    assert_eq!(assemble("").unwrap(), vec![]);
    let e = assemble_program("; nothing").unwrap_err();
    assert_eq!(e.kind, AsmErrorKind::Program(IsaErrorKind::EmptyProgram));
}
