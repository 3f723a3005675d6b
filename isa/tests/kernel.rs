//! The disassembler's spelling against the kernel's own: programs with
//! many kinds of instructions are loaded through bpf(2) with log_level 2,
//! and every `N: (xx) text` line of the verifier's log must equal
//! `format_log_line` for the instruction at N.
//!
//! Skipped (with "skipped: <reason>" on stderr) when bpf(2) is not
//! permitted, unless IRONBPF_REQUIRE_KERNEL=1.

use ironbpf_isa::{assemble_program, format_log_line, Program};
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
    let (accepted, log) = match load(&prog) {
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
