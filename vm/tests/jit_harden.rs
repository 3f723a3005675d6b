//! Constant blinding (`JitOptions::harden`, the kernel's `bpf_jit_harden`):
//! the hardened code of a program holds none of the program's immediates,
//! and computes what the interpreter computes, in every mode.
//!
//! The programs are random (seeds pinned and printed): ALU and ALU32
//! operations with immediates on registers loaded from the input memory
//! (so that the JIT's constant propagation cannot fold them away), signed
//! division and remainder, shifts, compare-and-branch on immediates, stores
//! of immediates to the stack and to the memory, and `ld_imm64`.

use ironbpf_isa::{Program, RawInsn};
use ironbpf_vm::{Engine, HelperRegistry, Interpreter, JitOptions, JitProgram, Options};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// A 32-bit immediate whose four bytes are distinct and non-zero: its
    /// little-endian bytes appear in code only where it was encoded.
    fn imm(&mut self) -> i32 {
        loop {
            let v = self.next() as u32;
            let b = v.to_le_bytes();
            if b.iter().all(|&x| x != 0) && (0..4).all(|i| (i + 1..4).all(|j| b[i] != b[j])) {
                return v as i32;
            }
        }
    }
}

fn raw(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> RawInsn {
    RawInsn {
        code,
        dst,
        src,
        off,
        imm,
    }
}

/// A random program and the immediates it encodes: 4-byte patterns
/// (ALU/jump/store operands, each half of an `ld_imm64`) and 8-byte ones
/// (whole `ld_imm64` constants).
struct Case {
    slots: Vec<RawInsn>,
    imm32: Vec<u32>,
    imm64: Vec<u64>,
}

const MEM: usize = 64;

fn generate(seed: u64) -> Case {
    let mut r = Rng(seed);
    let mut slots = Vec::new();
    let mut imm32 = Vec::new();
    let mut imm64 = Vec::new();
    // r0, r2-r5 = u64 words of the memory (r1 points at it).
    for (k, reg) in [0u8, 2, 3, 4, 5].into_iter().enumerate() {
        slots.push(raw(0x79, reg, 1, 8 * k as i16, 0));
    }
    let alu_ops = [0x00u8, 0x10, 0x20, 0x30, 0x40, 0x50, 0x90, 0xa0];
    for _ in 0..40 {
        let reg = [0u8, 2, 3, 4, 5][r.below(5) as usize];
        match r.below(9) {
            0..=3 => {
                // ALU64 or ALU32 op with an immediate; div and mod are
                // signed (off 1) half of the time.
                let op = alu_ops[r.below(alu_ops.len() as u64) as usize];
                let class = if r.below(2) == 0 { 0x07 } else { 0x04 };
                let signed = matches!(op, 0x30 | 0x90) && r.below(2) == 0;
                let imm = r.imm();
                imm32.push(imm as u32);
                slots.push(raw(class | op, reg, 0, i16::from(signed), imm));
            }
            4 => {
                // A shift by an immediate count (not a 4-byte pattern).
                let op = [0x60u8, 0x70, 0xc0][r.below(3) as usize];
                let class = if r.below(2) == 0 { 0x07 } else { 0x04 };
                let bits = if class == 0x07 { 64 } else { 32 };
                slots.push(raw(class | op, reg, 0, 0, r.below(bits) as i32));
            }
            5 => {
                // if reg OP imm goto +1; reg ^= imm2 (64- or 32-bit jump).
                let op = [
                    0x10u8, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0xa0, 0xb0, 0xc0, 0xd0,
                ][r.below(11) as usize];
                let class = if r.below(2) == 0 { 0x05 } else { 0x06 };
                let (a, b) = (r.imm(), r.imm());
                imm32.extend([a as u32, b as u32]);
                slots.push(raw(class | op, reg, 0, 1, a));
                slots.push(raw(0xa7, reg, 0, 0, b));
            }
            6 => {
                // A store of an immediate to the stack, read back.
                let (store, load) =
                    [(0x62u8, 0x61u8), (0x7a, 0x79), (0x6a, 0x69)][r.below(3) as usize];
                let imm = r.imm();
                imm32.push(imm as u32);
                let off = -8 - 8 * r.below(4) as i16;
                slots.push(raw(store, 10, 0, off, imm));
                slots.push(raw(load, reg, 10, off, 0));
            }
            7 => {
                // A store of an immediate to the memory (past the words
                // read above).
                let imm = r.imm();
                imm32.push(imm as u32);
                let off = 40 + 8 * r.below(3) as i16;
                slots.push(raw([0x62u8, 0x7a][r.below(2) as usize], 1, 0, off, imm));
            }
            _ => {
                // reg2 = a 64-bit constant; reg ^= reg2.
                let (lo, hi) = (r.imm(), r.imm());
                let v = u64::from(lo as u32) | u64::from(hi as u32) << 32;
                imm32.extend([lo as u32, hi as u32]);
                imm64.push(v);
                let tmp = if reg == 5 { 4 } else { 5 };
                slots.push(raw(0x18, tmp, 0, 0, lo));
                slots.push(raw(0, 0, 0, 0, hi));
                slots.push(raw(0xaf, reg, tmp, 0, 0));
            }
        }
    }
    // r0 ^= r2 ^ ... ^ r5; the registers also go to the memory.
    for (k, reg) in [2u8, 3, 4, 5].into_iter().enumerate() {
        slots.push(raw(0xaf, 0, reg, 0, 0));
        slots.push(raw(0x7b, 1, reg, 8 * k as i16, 0));
    }
    slots.push(raw(0x95, 0, 0, 0, 0));
    Case {
        slots,
        imm32,
        imm64,
    }
}

fn input(seed: u64) -> Vec<u8> {
    let mut r = Rng(seed ^ 0x5eed);
    (0..MEM).map(|_| r.next() as u8).collect()
}

fn contains(code: &[u8], pattern: &[u8]) -> bool {
    code.windows(pattern.len()).any(|w| w == pattern)
}

/// The immediates of `case` found in `code`.
fn found(case: &Case, code: &[u8]) -> Vec<String> {
    let mut out: Vec<String> = case
        .imm32
        .iter()
        .filter(|v| contains(code, &v.to_le_bytes()))
        .map(|v| format!("{v:#010x}"))
        .collect();
    out.extend(
        case.imm64
            .iter()
            .filter(|v| contains(code, &v.to_le_bytes()))
            .map(|v| format!("{v:#018x}")),
    );
    out
}

fn run(engine: &dyn Engine, mem: &[u8]) -> (Result<u64, String>, Vec<u8>) {
    let mut m = mem.to_vec();
    let r = engine.run_memory(&mut m).map_err(|e| e.to_string());
    (r, m)
}

const SEED: u64 = 0x6a17_4a2d;
const PROGRAMS: u64 = 60;

#[test]
fn hardened_code_holds_no_immediate_and_computes_what_the_interpreter_does() {
    let helpers = HelperRegistry::new();
    let mut shown_plain = 0usize;
    let mut total = 0usize;
    for n in 0..PROGRAMS {
        let seed = SEED + n;
        let case = generate(seed);
        let mem = input(seed);
        let prog = Program::from_slots(case.slots.clone()).expect("a well-formed program");
        let vm = Interpreter::new(&prog, &helpers, Options::default()).expect("it loads");
        let expected = run(&vm, &mem);
        assert!(
            expected.0.is_ok(),
            "seed {seed}: the interpreter fails: {:?}",
            expected.0
        );
        let fixed = |k: u64| JitOptions {
            harden: true,
            blinding_seed: Some(seed ^ k),
        };
        let engines: Vec<(&str, JitProgram)> = vec![
            (
                "checked, hardened",
                JitProgram::checked_with(vm.clone(), fixed(1)).expect("it compiles"),
            ),
            (
                "checked, hardened with fresh keys",
                JitProgram::checked_with(vm.clone(), JitOptions::hardened()).expect("it compiles"),
            ),
            (
                "trusted, hardened",
                // SAFETY: the program ran to its end on the checked
                // interpreter on this very input (asserted above); it reads
                // and writes only its stack and the 64-byte memory.
                unsafe { JitProgram::trusted_with(vm.clone(), fixed(2)) }.expect("it compiles"),
            ),
        ];
        for (what, jit) in &engines {
            assert!(jit.hardened(), "seed {seed}: {what}: not hardened");
            let got = run(jit, &mem);
            assert_eq!(
                got, expected,
                "seed {seed}: {what} differs from the interpreter"
            );
            let leaked = found(&case, jit.code().code());
            assert!(
                leaked.is_empty(),
                "seed {seed}: {what}: the code holds the program's immediates {leaked:?}"
            );
        }
        // The control: without blinding the same scan finds them.
        let plain = JitProgram::checked(vm.clone()).expect("it compiles");
        assert!(!plain.hardened());
        assert_eq!(
            run(&plain, &mem),
            expected,
            "seed {seed}: plain checked JIT"
        );
        shown_plain += found(&case, plain.code().code()).len();
        total += case.imm32.len() + case.imm64.len();
    }
    println!(
        "seeds {SEED}..{}: plain code shows {shown_plain} of {total} immediates, hardened none",
        SEED + PROGRAMS
    );
    assert!(
        shown_plain * 2 > total,
        "the scan finds only {shown_plain} of {total} immediates in unblinded code: it does not look where immediates are"
    );
}

#[test]
fn the_same_seed_gives_the_same_code_and_fresh_keys_give_other_code() {
    let case = generate(SEED);
    let prog = Program::from_slots(case.slots).expect("a well-formed program");
    let vm = Interpreter::new(&prog, &HelperRegistry::new(), Options::default()).expect("loads");
    let with = |seed| {
        JitProgram::checked_with(
            vm.clone(),
            JitOptions {
                harden: true,
                blinding_seed: seed,
            },
        )
        .expect("it compiles")
    };
    let (a, b) = (with(Some(7)), with(Some(7)));
    // Code addresses differ between buffers only in no byte of the body:
    // the body refers to nothing outside itself by absolute address.
    let body = |j: &JitProgram| j.code().code()[..j.code().body_end()].to_vec();
    assert_eq!(body(&a), body(&b), "one seed, one code");
    let (c, d) = (with(None), with(None));
    assert_ne!(body(&c), body(&d), "two programs drew the same keys");
    assert_ne!(body(&a), body(&c));
}

#[test]
fn the_embedding_runtime_hardens_the_jit_and_results_stay() {
    use ironbpf_vm::embed::{Linker, Program as EmbedProgram, ProgramType, Runtime};
    let ty = ProgramType::new("ab", 8)
        .field_ro("a", 0, 4)
        .field_ro("b", 4, 4);
    let src = "r2 = *(u32 *)(r1 + 0)\n r3 = *(u32 *)(r1 + 4)\n r2 *= 0x3b9aca07\n \
               r2 ^= 0x5a17c3e1\n if r3 > 0x7f00beef goto +2\n r2 += r3\n r2 += 0x1d2c3b4a\n \
               r0 = 0x1122334455667788 ll\n r0 ^= r2\n exit";
    let prog = EmbedProgram::from_asm(src, ty).expect("it assembles");
    let linker = Linker::new();
    let interp = linker
        .instantiate(&Runtime::interpreter(), &prog)
        .expect("it verifies");
    let hardened = Runtime::jit().harden();
    assert!(hardened.is_hardened() && !Runtime::jit().is_hardened());
    let checked = linker.instantiate(&hardened, &prog).expect("it verifies");
    // SAFETY: the program is verified and straight-line but for one
    // forward branch.
    let trusted = linker
        .instantiate(&unsafe { Runtime::jit_trusted() }.harden(), &prog)
        .expect("it verifies");
    for (a, b) in [
        (0u32, 0u32),
        (1, 0x7f00_beef),
        (0xdead_beef, 0x7f00_bef0),
        (u32::MAX, 5),
    ] {
        let mut ctx = [a.to_le_bytes(), b.to_le_bytes()].concat();
        let want = interp.run(&mut ctx).expect("it runs");
        assert_eq!(
            checked.run(&mut ctx).expect("it runs"),
            want,
            "a={a:#x} b={b:#x}"
        );
        assert_eq!(
            trusted.run(&mut ctx).expect("it runs"),
            want,
            "a={a:#x} b={b:#x}"
        );
    }
}
