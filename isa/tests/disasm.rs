//! The disassembler's spelling, instruction by instruction, in the kernel
//! verifier log's syntax (tests/kernel.rs checks the same spelling against
//! the running kernel).

use ironbpf_isa::{
    assemble, disasm_insn, disasm_program, format_log_line, helper_name, CallTarget, Insn,
    LdImm64Src, Program, RawInsn, Reg,
};

/// Slots from hex bytes as llvm-objdump prints them.
fn slots(hex: &str) -> Vec<RawInsn> {
    let bytes: Vec<u8> = hex
        .split_whitespace()
        .map(|b| u8::from_str_radix(b, 16).unwrap())
        .collect();
    ironbpf_isa::slots_from_bytes(&bytes).unwrap()
}

/// (bytes, the kernel's text). Bytes from LLVM's encoder where LLVM has the
/// instruction.
const TABLE: &[(&str, &str)] = &[
    // ALU
    ("b7 00 00 00 2a 00 00 00", "r0 = 42"),
    ("b4 01 00 00 f9 ff ff ff", "w1 = -7"),
    ("bf 21 00 00 00 00 00 00", "r1 = r2"),
    ("bc 21 00 00 00 00 00 00", "w1 = w2"),
    ("0c 21 00 00 00 00 00 00", "w1 += w2"),
    ("17 01 00 00 03 00 00 00", "r1 -= 3"),
    ("2f 21 00 00 00 00 00 00", "r1 *= r2"),
    ("34 01 00 00 03 00 00 00", "w1 /= 3"),
    ("3f 21 01 00 00 00 00 00", "r1 s/= r2"),
    ("94 01 01 00 03 00 00 00", "w1 s%= 3"),
    ("9f 21 00 00 00 00 00 00", "r1 %= r2"),
    ("47 01 00 00 01 00 00 00", "r1 |= 1"),
    ("5c 21 00 00 00 00 00 00", "w1 &= w2"),
    ("67 01 00 00 3f 00 00 00", "r1 <<= 63"),
    ("74 01 00 00 1f 00 00 00", "w1 >>= 31"),
    ("cf 21 00 00 00 00 00 00", "r1 s>>= r2"),
    ("a7 01 00 00 ff ff ff ff", "r1 ^= -1"),
    ("87 01 00 00 00 00 00 00", "r1 = -r1"),
    ("84 01 00 00 00 00 00 00", "w1 = -w1"),
    ("bf 10 08 00 00 00 00 00", "r0 = (s8)r1"),
    ("bf 10 10 00 00 00 00 00", "r0 = (s16)r1"),
    ("bf 10 20 00 00 00 00 00", "r0 = (s32)r1"),
    ("bc 10 08 00 00 00 00 00", "w0 = (s8)w1"),
    ("bc 10 10 00 00 00 00 00", "w0 = (s16)w1"),
    // Byte swaps
    ("dc 01 00 00 10 00 00 00", "r1 = be16 r1"),
    ("dc 01 00 00 40 00 00 00", "r1 = be64 r1"),
    ("d4 01 00 00 20 00 00 00", "r1 = le32 r1"),
    ("d4 01 00 00 40 00 00 00", "r1 = le64 r1"),
    ("d7 01 00 00 20 00 00 00", "r1 = bswap32 r1"),
    // Loads and stores: the kernel's `%+d` offsets.
    ("71 10 00 00 00 00 00 00", "r0 = *(u8 *)(r1 +0)"),
    ("69 10 fe ff 00 00 00 00", "r0 = *(u16 *)(r1 -2)"),
    ("61 10 04 00 00 00 00 00", "r0 = *(u32 *)(r1 +4)"),
    ("79 a0 00 80 00 00 00 00", "r0 = *(u64 *)(r10 -32768)"),
    ("91 10 00 00 00 00 00 00", "r0 = *(s8 *)(r1 +0)"),
    ("89 10 ff 7f 00 00 00 00", "r0 = *(s16 *)(r1 +32767)"),
    ("81 10 08 00 00 00 00 00", "r0 = *(s32 *)(r1 +8)"),
    ("73 1a ff ff 00 00 00 00", "*(u8 *)(r10 -1) = r1"),
    ("7b 1a f8 ff 00 00 00 00", "*(u64 *)(r10 -8) = r1"),
    ("72 0a ff ff ff 00 00 00", "*(u8 *)(r10 -1) = 255"),
    ("6a 0a fe ff fe ff ff ff", "*(u16 *)(r10 -2) = -2"),
    ("62 0a fc ff 07 00 00 00", "*(u32 *)(r10 -4) = 7"),
    // Atomics
    ("db 1a f8 ff 00 00 00 00", "lock *(u64 *)(r10 -8) += r1"),
    ("c3 1a f8 ff 00 00 00 00", "lock *(u32 *)(r10 -8) += r1"),
    ("db 1a f8 ff 40 00 00 00", "lock *(u64 *)(r10 -8) |= r1"),
    ("db 1a f8 ff 50 00 00 00", "lock *(u64 *)(r10 -8) &= r1"),
    ("db 1a f8 ff a0 00 00 00", "lock *(u64 *)(r10 -8) ^= r1"),
    (
        "db 1a f8 ff 01 00 00 00",
        "r1 = atomic64_fetch_add((u64 *)(r10 -8), r1)",
    ),
    (
        "c3 1a f8 ff 41 00 00 00",
        "r1 = atomic_fetch_or((u32 *)(r10 -8), r1)",
    ),
    (
        "db 1a f8 ff 51 00 00 00",
        "r1 = atomic64_fetch_and((u64 *)(r10 -8), r1)",
    ),
    (
        "db 1a f8 ff a1 00 00 00",
        "r1 = atomic64_fetch_xor((u64 *)(r10 -8), r1)",
    ),
    (
        "c3 12 00 00 e1 00 00 00",
        "r1 = atomic_xchg((u32 *)(r2 +0), r1)",
    ),
    (
        "db 1a f8 ff f1 00 00 00",
        "r0 = atomic64_cmpxchg((u64 *)(r10 -8), r0, r1)",
    ),
    (
        "db 10 00 00 00 01 00 00",
        "r0 = load_acquire((u64 *)(r1 +0))",
    ),
    (
        "cb 21 00 00 10 01 00 00",
        "store_release((u16 *)(r1 +0), r2)",
    ),
    (
        "d3 21 00 00 10 01 00 00",
        "store_release((u8 *)(r1 +0), r2)",
    ),
    // Legacy packet loads
    ("30 00 00 00 01 00 00 00", "r0 = *(u8 *)skb[1]"),
    ("28 00 00 00 0c 00 00 00", "r0 = *(u16 *)skb[12]"),
    ("20 00 00 00 fc ff ff ff", "r0 = *(u32 *)skb[-4]"),
    ("48 20 00 00 00 00 00 00", "r0 = *(u16 *)skb[r2 + 0]"),
    // Jumps: immediates in hex as u32, offsets as `pc%+d`.
    ("05 00 03 00 00 00 00 00", "goto pc+3"),
    ("05 00 ff ff 00 00 00 00", "goto pc-1"),
    ("05 00 00 00 00 00 00 00", "goto pc+0"),
    ("06 00 00 00 70 11 01 00", "gotol pc+70000"),
    ("e5 00 02 00 00 00 00 00", "may_goto pc+2"),
    ("e5 00 fd ff 00 00 00 00", "may_goto pc-3"),
    ("15 01 02 00 05 00 00 00", "if r1 == 0x5 goto pc+2"),
    ("5d 21 02 00 00 00 00 00", "if r1 != r2 goto pc+2"),
    ("25 01 02 00 05 00 00 00", "if r1 > 0x5 goto pc+2"),
    ("65 01 02 00 fb ff ff ff", "if r1 s> 0xfffffffb goto pc+2"),
    ("45 01 02 00 08 00 00 00", "if r1 & 0x8 goto pc+2"),
    ("1e 21 02 00 00 00 00 00", "if w1 == w2 goto pc+2"),
    ("66 01 03 00 05 00 00 00", "if w1 s> 0x5 goto pc+3"),
    ("a6 01 fe ff 05 00 00 00", "if w1 < 0x5 goto pc-2"),
    // Calls
    ("85 00 00 00 01 00 00 00", "call bpf_map_lookup_elem#1"),
    ("85 00 00 00 0c 00 00 00", "call bpf_tail_call#12"),
    (
        "85 00 00 00 d3 00 00 00",
        "call bpf_cgrp_storage_delete#211",
    ),
    ("85 00 00 00 d4 00 00 00", "call unknown#212"),
    ("85 00 00 00 ff ff ff ff", "call unknown#-1"),
    ("85 10 00 00 05 00 00 00", "call pc+5"),
    ("85 10 00 00 fd ff ff ff", "call pc-3"),
    ("85 20 00 00 39 30 00 00", "call kernel-function#12345"),
    (
        "85 20 02 00 39 30 00 00",
        "call kernel-function#12345[btf_fd_idx:2]",
    ),
    ("8d 02 00 00 00 00 00 00", "callx r2"),
    ("95 00 00 00 00 00 00 00", "exit"),
    // ld_imm64: the constant with LLVM's ` ll`; pseudo sources in our
    // bpftool-like forms.
    (
        "18 00 00 00 f0 de bc 9a 00 00 00 00 78 56 34 12",
        "r0 = 0x123456789abcdef0 ll",
    ),
    (
        "18 01 00 00 22 11 00 00 00 00 00 00 00 00 00 00",
        "r1 = 0x1122 ll",
    ),
    (
        "18 01 00 00 ff ff ff ff 00 00 00 00 ff ff ff ff",
        "r1 = 0xffffffffffffffff ll",
    ),
    (
        "18 11 00 00 05 00 00 00 00 00 00 00 00 00 00 00",
        "r1 = map[fd:5]",
    ),
    (
        "18 21 00 00 05 00 00 00 00 00 00 00 08 00 00 00",
        "r1 = map[fd:5][0]+8",
    ),
    (
        "18 51 00 00 02 00 00 00 00 00 00 00 00 00 00 00",
        "r1 = map[idx:2]",
    ),
    (
        "18 61 00 00 02 00 00 00 00 00 00 00 08 00 00 00",
        "r1 = map[idx:2][0]+8",
    ),
    (
        "18 42 00 00 03 00 00 00 00 00 00 00 00 00 00 00",
        "r2 = subprog[+3]",
    ),
    (
        "18 42 00 00 f0 ff ff ff 00 00 00 00 00 00 00 00",
        "r2 = subprog[-16]",
    ),
    (
        "18 31 00 00 d2 04 00 00 00 00 00 00 00 00 00 00",
        "r1 = btf_id[1234]",
    ),
    (
        "18 31 00 00 d2 04 00 00 00 00 00 00 07 00 00 00",
        "r1 = btf_id[1234][fd:7]",
    ),
];

#[test]
fn each_instruction_disassembles_as_the_kernel_prints_it() {
    for (hex, want) in TABLE {
        let s = slots(hex);
        let insn = Insn::decode(&s, 0).unwrap_or_else(|e| panic!("{hex}: {e}"));
        assert_eq!(insn.slots(), s.len(), "{hex}");
        assert_eq!(insn.encode(), s, "{hex}: encode");
        assert_eq!(disasm_insn(&insn), *want, "{hex}");
        // And the text assembles back to the same bytes.
        assert_eq!(assemble(want).unwrap(), s, "{want}");
    }
}

#[test]
fn log_lines_have_the_pc_and_opcode_prefix() {
    let mov = Insn::decode(&slots("b7 00 00 00 2a 00 00 00"), 0).unwrap();
    assert_eq!(format_log_line(0, &mov, 0xb7), "0: (b7) r0 = 42");
    // The kernel's log prints a constant ld_imm64 without ` ll`: the (18)
    // says what it is.
    let s = slots("18 00 00 00 f0 de bc 9a 00 00 00 00 78 56 34 12");
    let ld = Insn::decode(&s, 0).unwrap();
    assert_eq!(
        format_log_line(26, &ld, 0x18),
        "26: (18) r0 = 0x123456789abcdef0"
    );
    assert_eq!(assemble("26: (18) r0 = 0x2a").unwrap().len(), 2);
    assert_eq!(assemble("1: (b7) r0 = 0x2a").unwrap().len(), 1);
}

#[test]
fn a_program_is_one_log_line_per_instruction() {
    let text = "r1 = 0x1 ll\nr0 = 0\nif r1 == 0x1 goto pc+1\nr0 = 1\nexit";
    let prog = Program::from_slots(assemble(text).unwrap()).unwrap();
    assert_eq!(
        disasm_program(&prog),
        "0: (18) r1 = 0x1\n2: (b7) r0 = 0\n3: (15) if r1 == 0x1 goto pc+1\n4: (b7) r0 = 1\n5: (95) exit\n"
    );
    // The listing assembles back to the program's slots.
    assert_eq!(assemble(&disasm_program(&prog)).unwrap(), prog.slots());
}

#[test]
fn helper_names_follow_the_uapi_enum() {
    assert_eq!(helper_name(0), Some("bpf_unspec"));
    assert_eq!(helper_name(5), Some("bpf_ktime_get_ns"));
    assert_eq!(helper_name(181), Some("bpf_loop"));
    assert_eq!(helper_name(210), Some("bpf_cgrp_storage_get"));
    assert_eq!(helper_name(212), None);
    let call = Insn::Call(CallTarget::Helper(181));
    assert_eq!(disasm_insn(&call), "call bpf_loop#181");
}

#[test]
fn constructed_instructions_print_too() {
    let i = Insn::LdImm64 {
        dst: Reg::R3,
        src: LdImm64Src::MapValue,
        imm: 4,
        next_imm: -8,
    };
    assert_eq!(disasm_insn(&i), "r3 = map[fd:4][0]+-8");
    assert_eq!(assemble("r3 = map[fd:4][0]+-8").unwrap(), i.encode());
}

#[test]
fn options_print_map_ids_and_kfunc_names() {
    use ironbpf_isa::{disasm_insn_with, format_log_line_with, DisasmOptions};
    let names = |id: i32, off: i16| (id == 55).then(|| format!("bpf_rcu_read_lock{off}"));
    let opts = DisasmOptions {
        map_ids: true,
        kfunc_name: Some(&names),
    };
    let map = Insn::LdImm64 {
        dst: Reg::R1,
        src: LdImm64Src::MapValue,
        imm: 3,
        next_imm: 8,
    };
    assert_eq!(disasm_insn_with(&map, &opts), "r1 = map[id:3][0]+8");
    let kf = Insn::Call(CallTarget::Kfunc { btf_id: 55, off: 0 });
    assert_eq!(
        format_log_line_with(9, &kf, 0x85, &opts),
        "9: (85) call bpf_rcu_read_lock0#55"
    );
    let kf2 = Insn::Call(CallTarget::Kfunc { btf_id: 55, off: 2 });
    let text = disasm_insn_with(&kf2, &opts);
    assert_eq!(text, "call bpf_rcu_read_lock2#55[btf_fd_idx:2]");
    assert_eq!(assemble(&text).unwrap(), kf2.encode());
    // Unnamed: the kernel disassembler's fallback.
    let other = Insn::Call(CallTarget::Kfunc { btf_id: 56, off: 0 });
    assert_eq!(disasm_insn_with(&other, &opts), "call kernel-function#56");
}
