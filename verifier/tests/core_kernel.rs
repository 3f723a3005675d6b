//! The core verifier against the running kernel: each small program is
//! loaded by the kernel and verified by ironbpf; the verdict, the failing
//! instruction and the error line must agree, and for the programs marked
//! `log`, the whole level-1 log.
//!
//! Skips (printing `skipped: ...`) when bpf(2) is not permitted, unless
//! IRONBPF_REQUIRE_KERNEL=1.

use ironbpf_kernel::{load_program, KernelMap, MapCreate, ProgLoad};
use ironbpf_progtype::desc::ProgTypeDesc;
use ironbpf_progtype::ProgTypeId;
use ironbpf_verifier::{verify_with_desc, MapInfo, VerifyOptions};

struct Case {
    name: &'static str,
    /// 1 or 2.
    level: u32,
    prog_type: u32,
    privileged: bool,
    /// Compare the whole log too (level 1).
    log: bool,
    /// `BPF_F_STRICT_ALIGNMENT`.
    strict: bool,
    asm: &'static str,
}

const fn case(name: &'static str, asm: &'static str) -> Case {
    Case {
        name,
        level: 1,
        prog_type: 1,
        privileged: true,
        log: false,
        strict: false,
        asm,
    }
}

const fn logged(name: &'static str, asm: &'static str) -> Case {
    Case {
        name,
        level: 1,
        prog_type: 1,
        privileged: true,
        log: true,
        strict: false,
        asm,
    }
}

const fn unpriv(name: &'static str, asm: &'static str) -> Case {
    Case {
        name,
        level: 1,
        prog_type: 1,
        privileged: false,
        log: false,
        strict: false,
        asm,
    }
}

fn cases() -> Vec<Case> {
    vec![
        logged("return 0", "r0 = 0\nexit"),
        logged("r0 never written", "exit"),
        logged("read of uninit r2", "r0 = r2\nexit"),
        logged(
            "dead branch skipped",
            "r1 = 5\nr6 = 7\nif r1 > 3 goto +1\nr0 = 1\nexit",
        ),
        logged(
            "array lookup with constant key is not null",
            "r2 = r10\nr2 += -8\n*(u32 *)(r10 -8) = 0\nr1 = map[idx:0]\ncall bpf_map_lookup_elem\nr0 = *(u64 *)(r0 +8)\nr0 = 0\nexit",
        ),
        case(
            "map value out of bounds",
            "r2 = r10\nr2 += -8\n*(u32 *)(r10 -8) = 0\nr1 = map[idx:0]\ncall bpf_map_lookup_elem\nif r0 == 0 goto +2\nr0 = *(u64 *)(r0 +12)\nr0 = 0\nexit",
        ),
        case(
            "hash lookup needs a null check",
            "r2 = r10\nr2 += -8\n*(u32 *)(r10 -8) = 0\nr1 = map[idx:1]\ncall bpf_map_lookup_elem\nr0 = *(u64 *)(r0 +0)\nr0 = 0\nexit",
        ),
        logged(
            "hash lookup with a null check",
            "r2 = r10\nr2 += -8\n*(u32 *)(r10 -8) = 0\nr1 = map[idx:1]\ncall bpf_map_lookup_elem\nif r0 == 0 goto +1\nr0 = *(u64 *)(r0 +0)\nr0 = 0\nexit",
        ),
        case(
            "hash lookup: failure on the taken path",
            "r2 = r10\nr2 += -8\n*(u32 *)(r10 -8) = 0\nr1 = map[idx:1]\ncall bpf_map_lookup_elem\nif r0 != 0 goto +2\nr0 = 0\nexit\nr0 = *(u64 *)(r0 +8)\nexit",
        ),
        case(
            "variable map offset bounded",
            "r2 = r10\nr2 += -8\n*(u32 *)(r10 -8) = 0\nr1 = map[idx:1]\ncall bpf_map_lookup_elem\nif r0 == 0 goto +5\nr1 = *(u32 *)(r0 +0)\nr1 &= 4\nr0 += r1\nr0 = *(u32 *)(r0 +0)\nexit\nr0 = 0\nexit",
        ),
        case(
            "variable map offset unbounded",
            "r2 = r10\nr2 += -8\n*(u32 *)(r10 -8) = 0\nr1 = map[idx:1]\ncall bpf_map_lookup_elem\nif r0 == 0 goto +4\nr1 = *(u32 *)(r0 +0)\nr0 += r1\nr0 = *(u32 *)(r0 +0)\nexit\nr0 = 0\nexit",
        ),
        case(
            "variable map offset may be negative",
            "r2 = r10\nr2 += -8\n*(u32 *)(r10 -8) = 0\nr1 = map[idx:1]\ncall bpf_map_lookup_elem\nif r0 == 0 goto +5\nr1 = *(u64 *)(r0 +0)\nr0 += r1\nr0 = *(u32 *)(r0 +0)\nr0 = 0\nexit\nr0 = 0\nexit",
        ),
        logged("ctx out of range", "r0 = *(u32 *)(r1 +4096)\nexit"),
        logged(
            "modified ctx pointer",
            "r1 += 8\nr0 = *(u32 *)(r1 +0)\nr0 = 0\nexit",
        ),
        logged(
            "stack spills and partial writes",
            "*(u32 *)(r10 -8) = 0\n*(u16 *)(r10 -14) = 0\n*(u8 *)(r10 -23) = 1\nr1 = 0\nr1 += r0\nexit",
        ),
        logged(
            "spill and fill of a pointer",
            "*(u64 *)(r10 -16) = r1\nr3 = *(u64 *)(r10 -16)\nr0 = *(u32 *)(r3 +0)\nr0 = 0\nexit",
        ),
        case("stack out of range", "*(u64 *)(r10 -520) = 1\nr0 = 0\nexit"),
        case("stack above fp", "*(u64 *)(r10 +0) = 1\nr0 = 0\nexit"),
        unpriv("unprivileged uninit stack read", "r0 = *(u64 *)(r10 -8)\nexit"),
        case("privileged uninit stack read", "r0 = *(u64 *)(r10 -8)\nexit"),
        case("frame pointer is read only", "r10 = 0\nr0 = 0\nexit"),
        case("scalar dereference", "r1 = 0\nr0 = *(u64 *)(r1 +0)\nexit"),
        case("unknown helper", "call 10000\nr0 = 0\nexit"),
        case("jump out of range", "if r1 == 0 goto +5\nr0 = 0\nexit"),
        case("unreachable insn", "r0 = 0\nexit\nr0 = 1\nexit"),
        case("last insn not exit", "r0 = 0"),
        unpriv("back-edge unprivileged", "r0 = 0\nr0 += 1\nif r0 < 4 goto -2\nexit"),
        case("bounded loop privileged", "r0 = 0\nr0 += 1\nif r0 < 4 goto -2\nexit"),
        case("infinite loop", "r0 = 0\nif r0 == 0 goto -1\nexit"),
        case("pointer arithmetic on map_ptr", "r1 = map[idx:0]\nr1 += 8\nr0 = 0\nexit"),
        case("32-bit pointer arithmetic", "w1 += 8\nr0 = 0\nexit"),
        case(
            "unbounded min on pointer math",
            "r2 = r10\nr2 += -8\n*(u32 *)(r10 -8) = 0\nr1 = map[idx:1]\ncall bpf_map_lookup_elem\nif r0 == 0 goto +4\nr3 = *(u64 *)(r0 +0)\nr2 = r10\nr2 += r3\nexit\nr0 = 0\nexit",
        ),
        case("pointer - pointer privileged", "r0 = r1\nr0 -= r10\nexit"),
        case("pointer | scalar", "r1 |= 1\nr0 = 0\nexit"),
        unpriv("pointer comparison unprivileged", "if r1 > r10 goto +0\nr0 = 0\nexit"),
        unpriv("returning a pointer unprivileged", "r0 = r1\nexit"),
        case(
            "helper key not initialised",
            "r2 = r10\nr2 += -8\nr1 = map[idx:1]\ncall bpf_map_lookup_elem\nr0 = 0\nexit",
        ),
        unpriv(
            "helper key not initialised unprivileged",
            "r2 = r10\nr2 += -8\nr1 = map[idx:1]\ncall bpf_map_lookup_elem\nr0 = 0\nexit",
        ),
        case(
            "helper wrong map argument",
            "r2 = r10\nr2 += -8\n*(u32 *)(r10 -8) = 0\nr1 = r10\ncall bpf_map_lookup_elem\nr0 = 0\nexit",
        ),
        case(
            "helper wrong key argument",
            "r2 = 0\nr1 = map[idx:1]\ncall bpf_map_lookup_elem\nr0 = 0\nexit",
        ),
        case(
            "helper args clobbered",
            "r2 = r10\nr2 += -8\n*(u32 *)(r10 -8) = 0\nr1 = map[idx:1]\ncall bpf_map_lookup_elem\nr0 = r1\nexit",
        ),
        case(
            "probe_read size negative",
            "r1 = r10\nr1 += -8\nr2 = *(u32 *)(r1 +0)\nr2 = -1\nr3 = 0\ncall bpf_probe_read_kernel\nr0 = 0\nexit",
        ),
        case(
            "bpf-to-bpf call",
            "r1 = 1\ncall pc+2\nr0 = 0\nexit\nr0 = r1\nexit",
        ),
        case(
            "bpf-to-bpf call reads a clobbered register",
            "r6 = 1\nr2 = 1\ncall pc+2\nr0 = r2\nexit\nr0 = 0\nexit",
        ),
        case(
            "callee returns uninit r0",
            "call pc+2\nr0 = 0\nexit\nexit",
        ),
        case(
            "combined stack too large",
            "*(u64 *)(r10 -400) = 0\ncall pc+2\nr0 = 0\nexit\n*(u64 *)(r10 -200) = 0\nr0 = 0\nexit",
        ),
        case("div by zero imm", "r0 = 1\nr0 /= 0\nexit"),
        case("invalid shift", "r0 = 1\nr0 <<= 64\nexit"),
        case(
            "many branches, all safe",
            "r2 = *(u32 *)(r1 +0)\nr0 = 0\nif r2 > 10 goto +1\nr0 += 1\nif r2 > 20 goto +1\nr0 += 1\nif r2 > 30 goto +1\nr0 += 1\nif r2 > 40 goto +1\nr0 += 1\nexit",
        ),
        case(
            "jset and jmp32",
            "r2 = *(u32 *)(r1 +0)\nr0 = 0\nif w2 & 0x1 goto +1\nr0 = 1\nif w2 s> 7 goto +1\nr0 = 2\nexit",
        ),
        case(
            "atomic add on stack",
            "*(u64 *)(r10 -8) = 0\nr1 = 1\nlock *(u64 *)(r10 -8) += r1\nr0 = 0\nexit",
        ),
        case(
            "atomic on uninit stack unprivileged",
            "r1 = 1\nlock *(u64 *)(r10 -8) += r1\nr0 = 0\nexit",
        ),
        xdp(
            "xdp packet access after a bounds check",
            "r2 = *(u32 *)(r1 +0)\nr3 = *(u32 *)(r1 +4)\nr4 = r2\nr4 += 14\nif r4 > r3 goto +2\nr0 = *(u8 *)(r2 +13)\nexit\nr0 = 2\nexit",
        ),
        xdp(
            "xdp packet access past the checked range",
            "r2 = *(u32 *)(r1 +0)\nr3 = *(u32 *)(r1 +4)\nr4 = r2\nr4 += 14\nif r4 > r3 goto +2\nr0 = *(u8 *)(r2 +14)\nexit\nr0 = 2\nexit",
        ),
        xdp(
            "xdp packet access without a check",
            "r2 = *(u32 *)(r1 +0)\nr0 = *(u8 *)(r2 +0)\nexit",
        ),
        xdp(
            "xdp packet check with <",
            "r2 = *(u32 *)(r1 +0)\nr3 = *(u32 *)(r1 +4)\nr4 = r2\nr4 += 8\nif r4 < r3 goto +2\nr0 = 2\nexit\nr0 = *(u32 *)(r2 +4)\nexit",
        ),
        unpriv(
            "unprivileged pointer stored into a map",
            "r2 = r10\nr2 += -8\n*(u32 *)(r10 -8) = 0\nr1 = map[idx:0]\ncall bpf_map_lookup_elem\nif r0 == 0 goto +1\n*(u64 *)(r0 +0) = r0\nr0 = 0\nexit",
        ),
        unpriv("unprivileged partial copy of a pointer", "w0 = w1\nexit"),
        unpriv(
            "unprivileged variable stack pointer",
            "r2 = *(u32 *)(r1 +0)\nr2 &= 7\nr3 = r10\nr3 += -16\nr3 += r2\nr0 = 0\nexit",
        ),
        unpriv("unprivileged pointer arithmetic on ctx", "r1 += 4\nr0 = *(u32 *)(r1 +0)\nexit"),
        case(
            "nine frames are too deep",
            "call pc+1\nexit\ncall pc+1\nexit\ncall pc+1\nexit\ncall pc+1\nexit\ncall pc+1\nexit\ncall pc+1\nexit\ncall pc+1\nexit\ncall pc+1\nexit\nr0 = 0\nexit",
        ),
        case(
            "eight frames are fine",
            "call pc+1\nexit\ncall pc+1\nexit\ncall pc+1\nexit\ncall pc+1\nexit\ncall pc+1\nexit\ncall pc+1\nexit\ncall pc+1\nexit\nr0 = 0\nexit",
        ),
        case(
            "tail call",
            "r2 = map[idx:2]\nr3 = 0\ncall bpf_tail_call\nr0 = 0\nexit",
        ),
        case(
            "tail call into a non-prog-array map",
            "r2 = map[idx:0]\nr3 = 0\ncall bpf_tail_call\nr0 = 0\nexit",
        ),
        typed(
            "kprobe may not call an skb helper",
            2,
            "call bpf_skb_store_bytes\nr0 = 0\nexit",
        ),
        typed(
            "kprobe trace_printk takes a format and its size",
            2,
            "*(u64 *)(r10 -8) = 0\nr1 = r10\nr1 += -8\nr2 = 8\ncall bpf_trace_printk\nr0 = 0\nexit",
        ),
        typed(
            "sched_cls classid takes the skb",
            3,
            "call bpf_get_cgroup_classid\nr0 = 0\nexit",
        ),
        case(
            "a prog array passed to map_lookup_elem",
            "r2 = r10\nr2 += -8\n*(u32 *)(r10 -8) = 0\nr1 = map[idx:2]\ncall bpf_map_lookup_elem\nr0 = 0\nexit",
        ),
        typed("cgroup_skb returns 5", 8, "r0 = 5\nexit"),
        typed("cgroup_skb returns 1", 8, "r0 = 1\nexit"),
        xdp(
            "xdp data_meta checked against data",
            "r2 = *(u32 *)(r1 +8)\nr3 = *(u32 *)(r1 +0)\nr4 = r2\nr4 += 4\nif r4 > r3 goto +1\nr0 = *(u32 *)(r2 +0)\nr0 = 2\nexit",
        ),
        xdp(
            "xdp data_meta read past data",
            "r2 = *(u32 *)(r1 +8)\nr3 = *(u32 *)(r1 +0)\nr4 = r2\nr4 += 4\nif r4 > r3 goto +1\nr0 = *(u32 *)(r2 +4)\nr0 = 2\nexit",
        ),
        case("helper of another program type", "r2 = 0\ncall bpf_xdp_adjust_head\nr0 = 0\nexit"),
        case("ld_abs", "r6 = r1\nr0 = *(u8 *)skb[0]\nexit"),
        case("ld_abs without r6", "r0 = *(u8 *)skb[0]\nexit"),
        case(
            "sign-extending load and movsx",
            "r2 = *(s8 *)(r1 +0)\nr3 = (s16)r2\nif r3 s> 127 goto +2\nr0 = 0\nexit\nr0 = r10\nexit",
        ),
        case(
            "map_update with stack key and value",
            "*(u32 *)(r10 -4) = 1\n*(u64 *)(r10 -16) = 7\nr2 = r10\nr2 += -4\nr3 = r10\nr3 += -16\nr1 = map[idx:1]\nr4 = 0\ncall bpf_map_update_elem\nexit",
        ),
        case(
            "map_update with a short value",
            "*(u32 *)(r10 -4) = 1\n*(u32 *)(r10 -16) = 7\nr2 = r10\nr2 += -4\nr3 = r10\nr3 += -16\nr1 = map[idx:0]\nr4 = 0\ncall bpf_map_update_elem\nexit",
        ),
        case(
            "bounded loop with a counter",
            "r0 = 0\nr1 = 0\nr0 += r1\nr1 += 1\nif r1 < 100 goto -3\nexit",
        ),
        case(
            "a loop too long to verify",
            "r0 = 0\nr0 += 1\nif r0 < 0x100000 goto -2\nexit",
        ),
        case(
            "a loop of 10000 iterations",
            "r0 = 0\nr0 += 1\nif r0 < 10000 goto -2\nr0 = 0\nexit",
        ),
        case(
            "ringbuf reserve and submit",
            "r1 = map[idx:3]\nr2 = 8\nr3 = 0\ncall bpf_ringbuf_reserve\nif r0 == 0 goto +4\n*(u64 *)(r0 +0) = 1\nr1 = r0\nr2 = 0\ncall bpf_ringbuf_submit\nr0 = 0\nexit",
        ),
        case(
            "ringbuf record never submitted",
            "r1 = map[idx:3]\nr2 = 8\nr3 = 0\ncall bpf_ringbuf_reserve\nif r0 == 0 goto +1\n*(u64 *)(r0 +0) = 1\nr0 = 0\nexit",
        ),
        case(
            "ringbuf record written past its size",
            "r1 = map[idx:3]\nr2 = 8\nr3 = 0\ncall bpf_ringbuf_reserve\nif r0 == 0 goto +4\n*(u64 *)(r0 +4) = 1\nr1 = r0\nr2 = 0\ncall bpf_ringbuf_submit\nr0 = 0\nexit",
        ),
        case(
            "ringbuf record used after submit",
            "r1 = map[idx:3]\nr2 = 8\nr3 = 0\ncall bpf_ringbuf_reserve\nif r0 == 0 goto +5\nr6 = r0\nr1 = r0\nr2 = 0\ncall bpf_ringbuf_submit\n*(u64 *)(r6 +0) = 1\nr0 = 0\nexit",
        ),
        case(
            "ringbuf reserve of a variable size",
            "r2 = *(u32 *)(r1 +0)\nr1 = map[idx:3]\nr3 = 0\ncall bpf_ringbuf_reserve\nr0 = 0\nexit",
        ),
        case(
            "a 32-bit null check does not prove a pointer",
            "r2 = r10\nr2 += -8\n*(u32 *)(r10 -8) = 0\nr1 = map[idx:1]\ncall bpf_map_lookup_elem\nif w0 == 0 goto +1\nr0 = *(u64 *)(r0 +0)\nr0 = 0\nexit",
        ),
        case(
            "a null check through a copy",
            "r2 = r10\nr2 += -8\n*(u32 *)(r10 -8) = 0\nr1 = map[idx:1]\ncall bpf_map_lookup_elem\nr6 = r0\nif r0 == 0 goto +1\nr0 = *(u64 *)(r6 +0)\nr0 = 0\nexit",
        ),
        case("misaligned stack store", "*(u64 *)(r10 -12) = 0\nr0 = 0\nexit"),
        case("misaligned stack load", "*(u64 *)(r10 -16) = 0\nr0 = *(u32 *)(r10 -14)\nexit"),
        strict(
            "strict alignment: map value",
            "r2 = r10\nr2 += -8\n*(u32 *)(r10 -8) = 0\nr1 = map[idx:0]\ncall bpf_map_lookup_elem\nr0 = *(u64 *)(r0 +4)\nr0 = 0\nexit",
        ),
        case(
            "no strict alignment: map value",
            "r2 = r10\nr2 += -8\n*(u32 *)(r10 -8) = 0\nr1 = map[idx:0]\ncall bpf_map_lookup_elem\nr0 = *(u64 *)(r0 +4)\nr0 = 0\nexit",
        ),
        strict("strict alignment: ctx", "r0 = *(u32 *)(r1 +2)\nexit"),
        level2(
            "level 2: branches",
            "r2 = *(u32 *)(r1 +0)\nr0 = 0\nif r2 > 10 goto +1\nr0 = 1\nexit",
        ),
        level2(
            "level 2: a failing branch",
            "r2 = *(u32 *)(r1 +0)\nif r2 > 10 goto +2\nr0 = 1\nexit\nr0 = r3\nexit",
        ),
        level2(
            "level 2: bpf-to-bpf call",
            "r1 = 1\ncall pc+2\nr0 = 0\nexit\nr0 = r1\nexit",
        ),
        level2(
            "level 2: map lookup",
            "r2 = r10\nr2 += -8\n*(u32 *)(r10 -8) = 0\nr1 = map[idx:1]\ncall bpf_map_lookup_elem\nif r0 == 0 goto +1\nr0 = *(u64 *)(r0 +0)\nr0 = 0\nexit",
        ),
        xdp(
            "xdp packet check with <: the byte at the compared offset",
            "r2 = *(u32 *)(r1 +0)\nr3 = *(u32 *)(r1 +4)\nr4 = r2\nr4 += 8\nif r4 < r3 goto +2\nr0 = 2\nexit\nr0 = *(u8 *)(r2 +8)\nexit",
        ),
        xdp(
            "xdp packet check with >=: one byte too far",
            "r2 = *(u32 *)(r1 +0)\nr3 = *(u32 *)(r1 +4)\nr4 = r2\nr4 += 8\nif r4 >= r3 goto +2\nr0 = *(u8 *)(r2 +9)\nexit\nr0 = 2\nexit",
        ),
        xdp(
            "xdp pkt_end on the left",
            "r2 = *(u32 *)(r1 +0)\nr3 = *(u32 *)(r1 +4)\nr4 = r2\nr4 += 4\nif r3 >= r4 goto +2\nr0 = 2\nexit\nr0 = *(u32 *)(r2 +0)\nexit",
        ),
        xdp(
            "xdp variable offset into the packet",
            "r2 = *(u32 *)(r1 +0)\nr3 = *(u32 *)(r1 +4)\nr5 = *(u8 *)(r2 +0)\nr0 = 0\nexit",
        ),
    ]
}

const fn strict(name: &'static str, asm: &'static str) -> Case {
    Case {
        name,
        level: 1,
        prog_type: 1,
        privileged: true,
        log: false,
        strict: true,
        asm,
    }
}

const fn level2(name: &'static str, asm: &'static str) -> Case {
    Case {
        name,
        level: 2,
        prog_type: 1,
        privileged: true,
        log: true,
        strict: false,
        asm,
    }
}

/// An XDP program: needs the built-in xdp descriptor (packet pointers from
/// the context), skipped until it exists.
/// A privileged case of kernel program type `prog_type`, verdict and error
/// line compared.
const fn typed(name: &'static str, prog_type: u32, asm: &'static str) -> Case {
    Case {
        name,
        level: 1,
        prog_type,
        privileged: true,
        log: false,
        strict: false,
        asm,
    }
}

const fn xdp(name: &'static str, asm: &'static str) -> Case {
    Case {
        name,
        level: 1,
        prog_type: 6,
        privileged: true,
        log: false,
        strict: false,
        asm,
    }
}

/// The logs agree, line for line, but for the kernel's stack-liveness debug
/// lines at level 2, the map addresses the kernel
/// prints in `ld_imm64` lines (ironbpf prints `map[idx:N]`) and the precise
/// marks (`P`) ironbpf does not track. Unless `exact`, only the processed
/// count of the statistics line is compared (the state counts depend on
/// precision tracking, which ironbpf does not do).
fn same_log(kernel: &str, ours: &str, exact: bool) -> bool {
    let norm = |l: &str, ours: bool| -> String {
        let mut l = l.to_string();
        if let Some(i) = l.find(") r") {
            if let Some(eq) = l[i..].find(" = ") {
                let start = i + eq + 3;
                let rest = &l[start..];
                // Both print a kernel address for a map (ours a stand-in).
                let is_map = rest.starts_with("0xffff") || (ours && rest.starts_with("map[idx:"));
                if is_map {
                    let end = rest.find(' ').map_or(l.len(), |e| start + e);
                    l.replace_range(start..end, "MAP");
                }
            }
        }
        let l = l.replace("=P", "=");
        let l = match l.split_once(" ;") {
            Some((a, b)) => format!("{} ;{b}", a.trim_end()),
            None => l,
        };
        if l.starts_with("processed ") && !exact {
            return l.split(" (limit").next().unwrap_or("").to_string();
        }
        l
    };
    // The stack-liveness lines (`(0) frame 0 insn 5 +live -8`) included.
    let k: Vec<String> = kernel.lines().map(|l| norm(l, false)).collect();
    let o: Vec<String> = ours.lines().map(|l| norm(l, true)).collect();
    k == o
}

fn desc_for(pt: u32) -> ProgTypeDesc {
    let id = ProgTypeId::from_kernel_id(pt).expect("a kernel program type");
    ProgTypeDesc::builtin(id)
        .cloned()
        .expect("every 6.18 program type has a built-in descriptor")
}

#[test]
fn core_agrees_with_the_kernel() {
    if !ironbpf_kernel::available_for_test("core_agrees_with_the_kernel") {
        return;
    }
    let amap = KernelMap::create(&MapCreate {
        map_type: 2,
        key_size: 4,
        value_size: 16,
        max_entries: 4,
        name: "amap".into(),
        ..Default::default()
    })
    .expect("array map");
    let hmap = KernelMap::create(&MapCreate {
        map_type: 1,
        key_size: 4,
        value_size: 8,
        max_entries: 16,
        name: "hmap".into(),
        ..Default::default()
    })
    .expect("hash map");
    let pmap = KernelMap::create(&MapCreate {
        map_type: 3,
        key_size: 4,
        value_size: 4,
        max_entries: 4,
        name: "progs".into(),
        ..Default::default()
    })
    .expect("prog array");
    let rb = KernelMap::create(&MapCreate {
        map_type: 27,
        key_size: 0,
        value_size: 0,
        max_entries: 4096,
        name: "rb".into(),
        ..Default::default()
    })
    .expect("ring buffer");
    let fds = [amap.raw_fd(), hmap.raw_fd(), pmap.raw_fd(), rb.raw_fd()];
    let maps = vec![
        MapInfo {
            name: "amap".into(),
            map_type: 2,
            key_size: 4,
            value_size: 16,
            max_entries: 4,
            map_flags: 0,
            frozen_readonly: false,
            record: Default::default(),
        },
        MapInfo {
            name: "hmap".into(),
            map_type: 1,
            key_size: 4,
            value_size: 8,
            max_entries: 16,
            map_flags: 0,
            frozen_readonly: false,
            record: Default::default(),
        },
        MapInfo {
            name: "progs".into(),
            map_type: 3,
            key_size: 4,
            value_size: 4,
            max_entries: 4,
            map_flags: 0,
            frozen_readonly: false,
            record: Default::default(),
        },
        MapInfo {
            name: "rb".into(),
            map_type: 27,
            key_size: 0,
            value_size: 0,
            max_entries: 4096,
            map_flags: 0,
            frozen_readonly: false,
            record: Default::default(),
        },
    ];
    let mut failures = Vec::new();
    let mut skipped = 0;
    let all = cases();
    for c in &all {
        let id = ProgTypeId::from_kernel_id(c.prog_type).unwrap();
        if c.prog_type != 1 && ProgTypeDesc::builtin(id).is_none() {
            println!(
                "skipped: {}: no built-in {} descriptor yet",
                c.name,
                id.name()
            );
            skipped += 1;
            continue;
        }
        let slots = ironbpf_isa::assemble(c.asm)
            .unwrap_or_else(|e| panic!("{}: does not assemble: {e}", c.name));
        let words: Vec<u64> = slots.iter().map(|s| s.to_u64()).collect();
        let req = ProgLoad {
            prog_type: c.prog_type,
            insns: &words,
            log_level: c.level,
            prog_flags: c.strict as u32,
            fd_array: &fds,
            ..Default::default()
        };
        let k = if c.privileged {
            load_program(&req)
        } else {
            match ironbpf_kernel::load_program_unprivileged(&req, 0) {
                Ok(k) if k.log.is_empty() && k.result.as_ref().is_err_and(|e| e.errno == 1) => {
                    println!(
                        "skipped: {}: unprivileged BPF is disabled on this machine",
                        c.name
                    );
                    skipped += 1;
                    continue;
                }
                Ok(k) => k,
                Err(e) => panic!("{}: cannot load unprivileged: {e}", c.name),
            }
        };
        let mut opts = VerifyOptions::new(ProgTypeId::from_kernel_id(c.prog_type).unwrap());
        opts.privileged = c.privileged;
        opts.log_level = c.level;
        opts.strict_alignment = c.strict;
        opts.maps = maps.clone();
        let desc = desc_for(c.prog_type);
        let ours = verify_with_desc(&slots, &opts, Some(&desc));
        let k_err = ironbpf_kernel::first_error_line(&k.log);
        let o_err = ours
            .result
            .as_ref()
            .err()
            .map(|r| r.message.lines().last().unwrap_or("").to_string());
        let verdict_ok = k.accepted() == ours.result.is_ok();
        // The kernel's error line is one of the lines of our message (the
        // kernel's parser takes the last line that is not a trailer).
        let line_ok = k.accepted()
            || ours.result.as_ref().err().is_some_and(|r| {
                k_err
                    .as_deref()
                    .is_some_and(|k| r.message.lines().any(|l| l == k || k.starts_with(l)))
            });
        // (The kernel's failing insn is read from its log's last insn line;
        // at the complexity limit that is the one before the insn refused.)
        let too_large = k_err
            .as_deref()
            .is_some_and(|e| e.starts_with("BPF program is too large"));
        let insn_ok = k.accepted()
            || k.error_insn.is_none()
            || too_large
            || ours.result.as_ref().err().and_then(|r| r.insn) == k.error_insn;
        let log_ok = same_log(&k.log, &ours.log, c.log);
        if !(verdict_ok && line_ok && insn_ok && log_ok) {
            failures.push(format!(
                "{}:\n  kernel: accepted={} insn={:?} error={:?}\n  ours:   accepted={} insn={:?} error={:?}\n--- kernel log\n{}--- our log\n{}",
                c.name,
                k.accepted(),
                k.error_insn,
                k_err,
                ours.result.is_ok(),
                ours.result.as_ref().err().and_then(|r| r.insn),
                o_err,
                k.log,
                ours.log
            ));
        }
    }
    println!(
        "core_kernel: {} of {} programs agree with the kernel ({skipped} skipped)",
        all.len() - skipped - failures.len(),
        all.len() - skipped
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
