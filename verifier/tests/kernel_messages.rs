//! The error lines ironbpf prints where Linux 6.18 prints them differently
//! from older kernels (or where the kernel says why in two lines): each
//! small program is loaded in the kernel and verified by ironbpf, and both
//! must give the same error lines at the same instruction. Skips with a
//! `skipped:` line where bpf(2) cannot be used (fails instead under
//! IRONBPF_REQUIRE_KERNEL=1).

use ironbpf_isa::asm::assemble;
use ironbpf_kernel::{
    is_trailer_line, last_error_lines, load_program, load_program_unprivileged, KernelMap,
    MapCreate, ProgLoad,
};
use ironbpf_progtype::ProgTypeId;
use ironbpf_verifier::{verify, MapInfo, VerifyOptions};

/// An array map with 4-byte keys and 16-byte values, `map[idx:0]`.
const ARRAY: (u32, u32, u32, u32) = (2, 4, 16, 4);

struct Case {
    prog_type: ProgTypeId,
    privileged: bool,
    text: &'static str,
    /// The error lines both must print, the last one the error.
    want: &'static [&'static str],
    /// The instruction both must name.
    insn: usize,
    with_map: bool,
}

/// Loads `c` in the kernel (at log level 1) and in ironbpf and checks both
/// against `c.want`; `None` when the kernel cannot be used.
fn check(name: &str, c: &Case) {
    if !ironbpf_kernel::available_for_test(name) {
        return;
    }
    let insns = assemble(c.text).unwrap_or_else(|e| panic!("{name}: {e}"));
    let words: Vec<u64> = insns.iter().map(|i| i.to_u64()).collect();
    let map = c.with_map.then(|| {
        let (t, k, v, m) = ARRAY;
        KernelMap::create(&MapCreate::new(t, k, v, m)).expect("an array map")
    });
    let fds: Vec<i32> = map.iter().map(|m| m.raw_fd()).collect();
    let req = ProgLoad {
        prog_type: c.prog_type.kernel_id(),
        insns: &words,
        name: "msg",
        log_level: 1,
        fd_array: &fds,
        ..Default::default()
    };
    let out = if c.privileged {
        load_program(&req)
    } else {
        match load_program_unprivileged(&req, 0) {
            Ok(o) => o,
            Err(e) => {
                assert!(
                    std::env::var("IRONBPF_REQUIRE_KERNEL").as_deref() != Ok("1"),
                    "{name}: an unprivileged load is not possible here: {e}"
                );
                println!("skipped: {name}: an unprivileged load is not possible here: {e}");
                return;
            }
        }
    };
    assert!(out.result.is_err(), "{name}: the kernel accepted it");
    if !c.privileged && out.log.trim().is_empty() {
        assert!(
            std::env::var("IRONBPF_REQUIRE_KERNEL").as_deref() != Ok("1"),
            "{name}: the unprivileged load was refused before verification (kernel.unprivileged_bpf_disabled?)"
        );
        println!("skipped: {name}: the unprivileged load was refused before verification");
        return;
    }
    let kernel = last_error_lines(&out.log, c.want.len());
    assert_eq!(kernel, c.want, "{name}: the kernel's log:\n{}", out.log);
    let kernel_insn = out
        .error_insn
        .or_else(|| out.first_error_line.as_deref().and_then(named_insn));
    assert_eq!(
        kernel_insn,
        Some(c.insn),
        "{name}: the kernel's log:\n{}",
        out.log
    );

    let mut opts = VerifyOptions::new(c.prog_type);
    opts.privileged = c.privileged;
    opts.log_level = 1;
    if c.with_map {
        let (map_type, key_size, value_size, max_entries) = ARRAY;
        opts.maps = vec![MapInfo {
            name: "msg_array".into(),
            map_type,
            key_size,
            value_size,
            max_entries,
            map_flags: 0,
            frozen_readonly: false,
            record: Default::default(),
        }];
    }
    let ours = verify(&insns, &opts);
    let rej = ours
        .result
        .err()
        .unwrap_or_else(|| panic!("{name}: ironbpf accepted it"));
    let lines: Vec<&str> = rej
        .message
        .lines()
        .take_while(|l| !is_trailer_line(l))
        .collect();
    assert_eq!(lines, c.want, "{name}: ironbpf's log:\n{}", ours.log);
    assert_eq!(
        rej.insn,
        Some(c.insn),
        "{name}: ironbpf's log:\n{}",
        ours.log
    );
    // The log ends with the same lines as the kernel's.
    assert_eq!(
        last_error_lines(&ours.log, c.want.len()),
        c.want,
        "{name}: ironbpf's log:\n{}",
        ours.log
    );
}

/// The instruction an error line names (`... ldimm64 insn 2`).
fn named_insn(line: &str) -> Option<usize> {
    let w: Vec<&str> = line.split_whitespace().collect();
    w.windows(2)
        .find(|p| p[0] == "insn")
        .and_then(|p| p[1].parse().ok())
}

#[test]
fn a_jump_into_an_ld_imm64_names_the_ld_imm64_after_the_walk() {
    check(
        "a_jump_into_an_ld_imm64_names_the_ld_imm64_after_the_walk",
        &Case {
            prog_type: ProgTypeId::SocketFilter,
            privileged: true,
            text: "r0 = 0\nif r0 == 0 goto +1\nr1 = 0 ll\nexit",
            want: &["jump into the middle of ldimm64 insn 2"],
            insn: 2,
            with_map: false,
        },
    );
}

#[test]
fn a_bpf_st_into_the_context_is_checked_as_a_context_write() {
    check(
        "a_bpf_st_into_the_context_is_checked_as_a_context_write",
        &Case {
            prog_type: ProgTypeId::SocketFilter,
            privileged: true,
            text: "*(u32 *)(r1 +0) = 0\nr0 = 0\nexit",
            want: &["invalid bpf_context access off=0 size=4"],
            insn: 0,
            with_map: false,
        },
    );
}

#[test]
fn an_uninitialised_stack_read_names_the_first_bad_byte() {
    check(
        "an_uninitialised_stack_read_names_the_first_bad_byte",
        &Case {
            prog_type: ProgTypeId::SocketFilter,
            privileged: false,
            text: "*(u32 *)(r10 -16) = 0\nr0 = *(u64 *)(r10 -16)\nr0 = 0\nexit",
            want: &["invalid read from stack off -16+4 size 8"],
            insn: 1,
            with_map: false,
        },
    );
}

#[test]
fn a_helper_that_writes_the_stack_names_a_write() {
    check(
        "a_helper_that_writes_the_stack_names_a_write",
        &Case {
            prog_type: ProgTypeId::SocketFilter,
            privileged: true,
            text: "r2 = 0\nr3 = r10\nr3 += -8\nr4 = 40\ncall bpf_skb_load_bytes\nr0 = 0\nexit",
            want: &["invalid write to stack R3 off=-8 size=40"],
            insn: 4,
            with_map: false,
        },
    );
}

#[test]
fn a_short_map_key_on_the_stack_names_a_read() {
    check(
        "a_short_map_key_on_the_stack_names_a_read",
        &Case {
            prog_type: ProgTypeId::SocketFilter,
            privileged: true,
            text: "*(u16 *)(r10 -2) = 0\nr2 = r10\nr2 += -2\nr1 = map[idx:0]\ncall bpf_map_lookup_elem\nr0 = 0\nexit",
            want: &["invalid read from stack R2 off=-2 size=4"],
            insn: 5,
            with_map: true,
        },
    );
}

#[test]
fn a_helper_reading_uninitialised_stack_names_the_first_bad_byte() {
    check(
        "a_helper_reading_uninitialised_stack_names_the_first_bad_byte",
        &Case {
            prog_type: ProgTypeId::SocketFilter,
            privileged: false,
            text: "*(u16 *)(r10 -8) = 0\nr2 = r10\nr2 += -8\nr1 = map[idx:0]\ncall bpf_map_lookup_elem\nr0 = 0\nexit",
            want: &["invalid read from stack R2 off -8+2 size 4"],
            insn: 5,
            with_map: true,
        },
    );
}

#[test]
fn a_map_value_access_past_its_end_says_which_bound_in_two_lines() {
    check(
        "a_map_value_access_past_its_end_says_which_bound_in_two_lines",
        &Case {
            prog_type: ProgTypeId::SocketFilter,
            privileged: true,
            text: "*(u32 *)(r10 -4) = 0\nr2 = r10\nr2 += -4\nr1 = map[idx:0]\ncall bpf_map_lookup_elem\nif r0 == 0 goto +1\nr1 = *(u8 *)(r0 +16)\nr0 = 0\nexit",
            want: &[
                "invalid access to map value, value_size=16 off=16 size=1",
                "R0 min value is outside of the allowed memory range",
            ],
            insn: 7,
            with_map: true,
        },
    );
}

#[test]
fn a_variable_map_value_index_past_its_end_names_the_max_bound() {
    check(
        "a_variable_map_value_index_past_its_end_names_the_max_bound",
        &Case {
            prog_type: ProgTypeId::SocketFilter,
            privileged: true,
            text: "*(u32 *)(r10 -4) = 0\nr2 = r10\nr2 += -4\nr1 = map[idx:0]\ncall bpf_map_lookup_elem\nif r0 == 0 goto +4\nr1 = *(u32 *)(r0 +0)\nr1 &= 15\nr0 += r1\nr1 = *(u16 *)(r0 +1)\nr0 = 0\nexit",
            want: &[
                "invalid access to map value, value_size=16 off=16 size=2",
                "R0 max value is outside of the allowed memory range",
            ],
            insn: 10,
            with_map: true,
        },
    );
}

#[test]
fn a_packet_read_past_the_checked_range_says_so_in_two_lines() {
    check(
        "a_packet_read_past_the_checked_range_says_so_in_two_lines",
        &Case {
            prog_type: ProgTypeId::Xdp,
            privileged: true,
            text: "r2 = *(u32 *)(r1 +0)\nr3 = *(u32 *)(r1 +4)\nr4 = r2\nr4 += 8\nif r4 > r3 goto +1\nr0 = *(u32 *)(r2 +5)\nr0 = 2\nexit",
            want: &[
                "invalid access to packet, off=5 size=4, R2(id=0,off=5,r=8)",
                "R2 offset is outside of the packet",
            ],
            insn: 5,
            with_map: false,
        },
    );
}

#[test]
fn an_infinite_loop_is_named_at_its_instruction() {
    check(
        "an_infinite_loop_is_named_at_its_instruction",
        &Case {
            prog_type: ProgTypeId::SocketFilter,
            privileged: true,
            text: "r0 = 0\nif r0 == 0 goto -1\nexit",
            want: &["infinite loop detected at insn 1"],
            insn: 1,
            with_map: false,
        },
    );
}

#[test]
fn an_unprivileged_read_below_the_allocated_stack_is_out_of_bounds() {
    check(
        "an_unprivileged_read_below_the_allocated_stack_is_out_of_bounds",
        &Case {
            prog_type: ProgTypeId::SocketFilter,
            privileged: false,
            text: "r0 = *(u64 *)(r10 -8)\nr0 = 0\nexit",
            want: &["invalid read from stack R10 off=-8 size=8"],
            insn: 0,
            with_map: false,
        },
    );
}
