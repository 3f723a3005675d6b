//! The disassembler's spelling against the kernel's own: programs with
//! many kinds of instructions are loaded through bpf(2) with log_level 2,
//! and every `N: (xx) text` line of the verifier's log must equal
//! `format_log_line` for the instruction at N.
//!
//! Skipped (with "skipped: <reason>" on stderr) when bpf(2) is not
//! permitted, unless IRONBPF_REQUIRE_KERNEL=1.

use ironbpf_isa::{
    assemble_program, format_log_line, AluOp, AtomicOp, CallTarget, Endian, Insn, JmpOp,
    LdImm64Src, Operand, Program, Reg, Size, Width,
};
use std::collections::BTreeSet;

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_TYPE_SOCKET_FILTER: u32 = 1;

/// The leading fields of `union bpf_attr` for `BPF_PROG_LOAD`; the kernel
/// takes a shorter attr and reads the rest as zero.
#[repr(C)]
#[derive(Default)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
}

enum Load {
    /// The verifier's log, whether or not it accepted the program.
    Log { accepted: bool, log: String },
    /// bpf(2) is not available here.
    Unavailable(String),
}

fn load(prog: &Program) -> Load {
    let bytes = prog.to_bytes();
    let license = b"GPL\0";
    let mut log = vec![0u8; 4 << 20];
    let attr = ProgLoadAttr {
        prog_type: BPF_PROG_TYPE_SOCKET_FILTER,
        insn_cnt: prog.slots().len() as u32,
        insns: bytes.as_ptr() as u64,
        license: license.as_ptr() as u64,
        log_level: 2,
        log_size: log.len() as u32,
        log_buf: log.as_mut_ptr() as u64,
        ..Default::default()
    };
    // SAFETY: `attr` is a valid, initialised prefix of `union bpf_attr` for
    // BPF_PROG_LOAD whose pointers (instructions, license, log buffer) point
    // to live buffers of the sizes given, which outlive the call.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_PROG_LOAD,
            &attr as *const ProgLoadAttr,
            std::mem::size_of::<ProgLoadAttr>() as libc::c_uint,
        )
    };
    let err = std::io::Error::last_os_error();
    let len = log.iter().position(|&b| b == 0).unwrap_or(log.len());
    let text = String::from_utf8_lossy(&log[..len]).into_owned();
    if fd >= 0 {
        // SAFETY: `fd` is the program fd the kernel just returned to us.
        unsafe { libc::close(fd as libc::c_int) };
        return Load::Log {
            accepted: true,
            log: text,
        };
    }
    match err.raw_os_error() {
        Some(libc::EPERM) | Some(libc::ENOSYS) if text.is_empty() => {
            Load::Unavailable(format!("bpf(BPF_PROG_LOAD) failed: {err}"))
        }
        _ => Load::Log {
            accepted: false,
            log: text,
        },
    }
}

/// Loads `src`, then compares every instruction line of the log with ours.
/// Returns false when the kernel is not available (and that is allowed).
fn check_against_kernel(name: &str, src: &str) -> bool {
    let prog = assemble_program(src).unwrap_or_else(|e| panic!("{name}: {e}"));
    compare_with_kernel(name, &prog)
}

/// Loads `prog`, then compares every instruction line of the log with ours.
fn compare_with_kernel(name: &str, prog: &Program) -> bool {
    let (accepted, log) = match load(prog) {
        Load::Unavailable(why) => {
            if std::env::var("IRONBPF_REQUIRE_KERNEL").as_deref() == Ok("1") {
                panic!("{name}: the kernel is required (IRONBPF_REQUIRE_KERNEL=1) but {why}");
            }
            eprintln!("skipped: {why}");
            return false;
        }
        Load::Log { accepted, log } => (accepted, log),
    };
    let tail: String = log
        .lines()
        .rev()
        .take(15)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect::<Vec<_>>()
        .join("\n");
    assert!(accepted, "{name}: the kernel refused the program:\n{tail}");
    let mut seen = BTreeSet::new();
    let mut mismatches = Vec::new();
    let mut compared = 0usize;
    for line in log.lines() {
        // `12: (bf) r6 = r1` with, at log_level 2, `   ; R6_w=ctx()` after it.
        let Some((pc, rest)) = line.split_once(": (") else {
            continue;
        };
        let Ok(pc) = pc.parse::<usize>() else {
            continue;
        };
        let kernel = format!("{pc}: ({}", rest.split(';').next().unwrap_or("").trim_end());
        let Some(d) = prog.insn_at(pc) else {
            mismatches.push(format!(
                "the kernel printed insn {pc}, which is not an instruction start: {kernel}"
            ));
            continue;
        };
        let ours = format_log_line(pc, &d.insn, prog.slots()[pc].code);
        if ours != kernel {
            mismatches.push(format!("kernel: {kernel}\n  ours: {ours}"));
        }
        seen.insert(pc);
        compared += 1;
    }
    assert!(
        mismatches.is_empty(),
        "{name}: {} lines differ:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
    let missing: Vec<usize> = prog
        .insns()
        .iter()
        .map(|d| d.pc)
        .filter(|pc| !seen.contains(pc))
        .collect();
    assert!(
        missing.is_empty(),
        "{name}: the log never printed insns {missing:?}:\n{tail}"
    );
    eprintln!(
        "{name}: {compared} log lines equal ours, covering all {} instructions",
        seen.len()
    );
    if std::env::var_os("IRONBPF_SHOW_LOG").is_some() {
        eprintln!("{log}");
    }
    true
}

/// ALU, byte swaps, sign extension, ld_imm64, loads and stores, atomics,
/// jumps, helper calls and the legacy packet loads.
const MANY_KINDS: &str = "
    r6 = r1
    r0 = 42
    w1 = 5
    w1 += w0
    r1 -= 3
    r1 *= r0
    r2 = 7
    r1 /= r2
    r1 %= 3
    w1 s/= 3
    r1 s%= r2
    r1 |= 16
    r1 &= r2
    r1 <<= 3
    r1 >>= 1
    r1 s>>= 2
    r1 ^= r0
    w1 ^= -1
    r1 = -r1
    w1 = -w1
    r3 = (s8)r1
    w3 = (s16)w1
    r3 = (s32)r1
    r1 = be16 r1
    r1 = le32 r1
    r1 = bswap64 r1
    r1 = 0x123456789abcdef0 ll
    r4 = -2 ll
    *(u64 *)(r10 -8) = r1
    *(u32 *)(r10 -16) = 7
    *(u32 *)(r10 -12) = -1
    *(u16 *)(r10 -24) = 300
    *(u8 *)(r10 -22) = r0
    r2 = *(u64 *)(r10 -8)
    r2 = *(s16 *)(r10 -16)
    r2 = *(u8 *)(r10 -22)
    r2 = 1
    lock *(u64 *)(r10 -8) += r2
    lock *(u32 *)(r10 -16) |= r2
    lock *(u64 *)(r10 -8) &= r2
    lock *(u32 *)(r10 -16) ^= r2
    r2 = atomic64_fetch_add((u64 *)(r10 -8), r2)
    r2 = atomic_fetch_xor((u32 *)(r10 -16), r2)
    r2 = atomic64_fetch_or((u64 *)(r10 -8), r2)
    r2 = atomic_fetch_and((u32 *)(r10 -16), r2)
    r2 = atomic64_xchg((u64 *)(r10 -8), r2)
    r2 = atomic_xchg((u32 *)(r10 -16), r2)
    r0 = atomic64_cmpxchg((u64 *)(r10 -8), r0, r2)
    r0 = atomic_cmpxchg((u32 *)(r10 -16), r0, r2)
    r3 = load_acquire((u64 *)(r10 -8))
    r3 = load_acquire((u8 *)(r10 -22))
    store_release((u32 *)(r10 -16), r3)
    store_release((u16 *)(r10 -24), r3)
    r7 = r0
    if r0 > 0x5 goto pc+0
    if w0 s> -3 goto pc+0
    if r0 != r7 goto pc+0
    if w0 <= w7 goto pc+0
    if r7 & 0x10 goto pc+0
    if r0 s< -100 goto pc+1
    goto pc+0
    gotol pc+0
    call bpf_get_prandom_u32#7
    call bpf_ktime_get_ns
    r7 = 2
    r0 = *(u16 *)skb[12]
    r0 = *(u8 *)skb[r7 + 2]
    r0 = *(u32 *)skb[r7 + -1]
    r0 = 0
    exit
";

/// bpf-to-bpf calls (they may not be mixed with ld_abs).
const CALLS: &str = "
    r1 = 1
    call pc+3
    call add_one
    r0 = 0
    exit
    r0 = r1
    exit
add_one:
    r0 = 2
    r0 += 1
    exit
";

#[test]
fn verifier_log_spelling_of_many_instruction_kinds() {
    check_against_kernel("many kinds", MANY_KINDS);
}

#[test]
fn verifier_log_spelling_of_calls() {
    check_against_kernel("calls", CALLS);
}

/// `may_goto` forwards and backwards (a `can_loop` loop).
const MAY_GOTO: &str = "
    r0 = 0
    may_goto pc+0
    may_goto out
again:
    r0 += 1
    may_goto out
    goto again
out:
    exit
";

#[test]
fn verifier_log_spelling_of_may_goto() {
    check_against_kernel("may_goto", MAY_GOTO);
}

/// A small deterministic generator (xorshift64*), so that a failure names
/// a seed that reproduces it.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len() as u64) as usize]
    }
    fn imm(&mut self) -> i32 {
        match self.below(4) {
            0 => self.next() as i32,
            1 => self.below(64) as i32 - 32,
            2 => self.next() as i16 as i32,
            _ => self.pick(&[0, 1, -1, i32::MIN, i32::MAX, 0xff, 0xffff]),
        }
    }
    fn bool(&mut self) -> bool {
        self.below(2) == 0
    }
}

fn r(n: u8) -> Reg {
    Reg::new(n).unwrap()
}

/// Scalar registers the generator reads and writes: not r6 (the context,
/// for the packet loads) and not r10.
const SCALARS: [u8; 9] = [0, 1, 2, 3, 4, 5, 7, 8, 9];

/// A random program the kernel accepts, with random fields in every
/// instruction kind a socket filter may use. Its control flow is straight
/// (conditional jumps go to the next instruction either way), so every
/// instruction is verified and printed.
fn random_program(rng: &mut Rng) -> Vec<Insn> {
    let mut p = vec![Insn::Alu {
        op: AluOp::Mov,
        width: Width::W64,
        dst: Reg::R6,
        src: Operand::Reg(Reg::R1),
    }];
    let init = |p: &mut Vec<Insn>, rng: &mut Rng, regs: &[u8]| {
        for &n in regs {
            let imm = rng.imm();
            p.push(Insn::Alu {
                op: AluOp::Mov,
                width: Width::W64,
                dst: r(n),
                src: Operand::Imm(imm),
            });
        }
    };
    init(&mut p, rng, &SCALARS);
    for k in 1..=8 {
        let imm = rng.imm();
        p.push(Insn::Store {
            size: Size::DW,
            dst: Reg::R10,
            off: -8 * k,
            imm,
        });
    }
    let mut jumps = 0;
    for _ in 0..150 {
        let dst = r(rng.pick(&SCALARS));
        let src = r(rng.pick(&SCALARS));
        let width = if rng.bool() { Width::W64 } else { Width::W32 };
        let size = rng.pick(&[Size::B, Size::H, Size::W, Size::DW]);
        // An aligned stack slot in the initialised 64 bytes.
        let off = -(((rng.below(64 / size.bytes() as u64) + 1) * size.bytes() as u64) as i16);
        match rng.below(16) {
            0..=3 => {
                let op = rng.pick(&AluOp::ALL);
                let bits = if width == Width::W64 { 64 } else { 32 };
                let imm = match op {
                    AluOp::Lsh | AluOp::Rsh | AluOp::Arsh => rng.below(bits) as i32,
                    AluOp::Div | AluOp::Mod | AluOp::SDiv | AluOp::SMod => {
                        let v = rng.imm();
                        if v == 0 {
                            7
                        } else {
                            v
                        }
                    }
                    _ => rng.imm(),
                };
                let src = if rng.bool() {
                    Operand::Reg(src)
                } else {
                    Operand::Imm(imm)
                };
                p.push(Insn::Alu {
                    op,
                    width,
                    dst,
                    src,
                });
            }
            4 => p.push(Insn::Neg { width, dst }),
            5 => {
                let bits = match width {
                    Width::W64 => rng.pick(&[8, 16, 32]),
                    Width::W32 => rng.pick(&[8, 16]),
                };
                p.push(Insn::MovSx {
                    width,
                    dst,
                    src,
                    bits,
                });
            }
            6 => p.push(Insn::Endian {
                kind: rng.pick(&[Endian::ToLe, Endian::ToBe, Endian::Swap]),
                bits: rng.pick(&[16, 32, 64]),
                dst,
            }),
            7 => p.push(Insn::LdImm64 {
                dst,
                src: LdImm64Src::Imm,
                imm: rng.imm(),
                next_imm: rng.imm(),
            }),
            8 => p.push(Insn::Load {
                size,
                sign_extend: size != Size::DW && rng.bool(),
                dst,
                src: Reg::R10,
                off,
            }),
            9 => p.push(Insn::Store {
                size,
                dst: Reg::R10,
                off,
                imm: rng.imm(),
            }),
            10 => p.push(Insn::StoreReg {
                size,
                dst: Reg::R10,
                src,
                off,
            }),
            11 => {
                let op = rng.pick(&[
                    AtomicOp::Add,
                    AtomicOp::Or,
                    AtomicOp::And,
                    AtomicOp::Xor,
                    AtomicOp::FetchAdd,
                    AtomicOp::FetchOr,
                    AtomicOp::FetchAnd,
                    AtomicOp::FetchXor,
                    AtomicOp::Xchg,
                    AtomicOp::CmpXchg,
                    AtomicOp::LoadAcquire,
                    AtomicOp::StoreRelease,
                ]);
                let (size, off) = match (op, size) {
                    (AtomicOp::LoadAcquire | AtomicOp::StoreRelease, _) => (size, off),
                    (_, Size::DW) => (Size::DW, off),
                    _ => (Size::W, -4 * (rng.below(16) as i16 + 1)),
                };
                let (dst, src) = match op {
                    AtomicOp::LoadAcquire => (dst, Reg::R10),
                    _ => (Reg::R10, src),
                };
                p.push(Insn::Atomic {
                    op,
                    size,
                    dst,
                    src,
                    off,
                });
            }
            12 if jumps < 6 => {
                jumps += 1;
                let src = if rng.bool() {
                    Operand::Reg(src)
                } else {
                    Operand::Imm(rng.imm())
                };
                p.push(Insn::Jmp {
                    op: rng.pick(&JmpOp::ALL),
                    width,
                    dst,
                    src,
                    off: 0,
                });
            }
            13 => p.push(if rng.bool() {
                Insn::Ja { off: 0 }
            } else {
                Insn::Gotol { imm: 0 }
            }),
            14 => {
                p.push(Insn::Call(CallTarget::Helper(rng.pick(&[5, 7, 8]))));
                init(&mut p, rng, &[1, 2, 3, 4, 5]);
            }
            _ => {
                let size = rng.pick(&[Size::B, Size::H, Size::W]);
                let imm = rng.below(1000) as i32;
                p.push(if rng.bool() {
                    Insn::LdAbs { size, imm }
                } else {
                    Insn::LdInd {
                        size,
                        src: r(rng.pick(&[7, 8, 9])),
                        imm,
                    }
                });
                init(&mut p, rng, &[1, 2, 3, 4, 5]);
            }
        }
    }
    p.push(Insn::Alu {
        op: AluOp::Mov,
        width: Width::W64,
        dst: Reg::R0,
        src: Operand::Imm(0),
    });
    p.push(Insn::Exit);
    p
}

#[test]
fn verifier_log_spelling_of_random_programs() {
    let seed = std::env::var("IRONBPF_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x1234_5678_9abc_def1u64);
    let programs = 24;
    for i in 0..programs {
        let s = seed.wrapping_add(i);
        let mut rng = Rng(s | 1);
        let insns = random_program(&mut rng);
        let mut slots = Vec::new();
        for insn in &insns {
            insn.encode_into(&mut slots);
        }
        let prog = Program::from_slots(slots).unwrap();
        if !compare_with_kernel(&format!("random program (IRONBPF_SEED={s})"), &prog) {
            return;
        }
    }
}
