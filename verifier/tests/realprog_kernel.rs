//! Rules that real programs (the kernel's BPF selftests and bcc's
//! libbpf-tools, measured outside the repo) showed ironbpf getting wrong,
//! each as a small program of our own loaded in the running kernel and
//! verified by ironbpf: both must give the same verdict and, where the
//! kernel refuses, the same error line at the same instruction.
//! - a `const volatile` setting in a frozen `.rodata` map is a constant
//!   (`bpf_map_direct_read`), so the branch it guards is decided;
//! - loads through `struct bpf_sock` and `struct bpf_tcp_sock` pointers
//!   (`check_sock_access`);
//! - a sign-extending load of a ctx pointer field is refused;
//! - a sockmap lookup is an acquired `sock` once null-checked;
//! - `if ptr == maybe_null_ptr`: the second is not null on the equal edge.
//!
//! Skips with a `skipped:` line where bpf(2) cannot be used (fails instead
//! under IRONBPF_REQUIRE_KERNEL=1).

use ironbpf_isa::asm::assemble;
use ironbpf_kernel::{load_program, ProgLoad};
use ironbpf_progtype::ProgTypeId;
use ironbpf_verifier::{verify, VerifyOptions};
use kernel_case::*;

mod kernel_case;

struct Case {
    prog_type: ProgTypeId,
    /// `expected_attach_type`, for the types that need one.
    attach: Option<ironbpf_progtype::AttachType>,
    text: &'static str,
    maps: Vec<Map>,
    /// `None`: both accept; `Some((insn, line))`: both refuse there.
    refused: Option<(usize, &'static str)>,
}

fn check(name: &str, c: &Case) {
    if !ironbpf_kernel::available_for_test(name) {
        return;
    }
    let insns = assemble(c.text).unwrap_or_else(|e| panic!("{name}: {e}"));
    let words: Vec<u64> = insns.iter().map(|i| i.to_u64()).collect();
    let mut opts = VerifyOptions::new(c.prog_type);
    opts.log_level = 1;
    opts.attach_type = c.attach;
    let kmaps = create_maps(name, &c.maps, &mut opts);
    let fds: Vec<i32> = kmaps.iter().map(|m| m.raw_fd()).collect();
    let out = load_program(&ProgLoad {
        prog_type: c.prog_type.kernel_id(),
        expected_attach_type: c.attach.map_or(0, |a| a.kernel_id()),
        insns: &words,
        name: "realprog",
        log_level: 1,
        fd_array: &fds,
        ..Default::default()
    });
    let ours = verify(&insns, &opts);
    assert_verdicts(name, &out, &ours, Verdict::at(c.refused));
}

/// A one-entry array of 8-byte values, read-only to programs, frozen with
/// `first` in its first 4 bytes (a `.rodata` holding `const volatile u32`).
fn rodata(first: u32) -> Map {
    let mut v = first.to_le_bytes().to_vec();
    v.extend_from_slice(&[0; 4]);
    Map {
        map_type: 2,
        key_size: 4,
        value_size: 8,
        max_entries: 1,
        map_flags: BPF_F_RDONLY_PROG,
        frozen: Some(v),
    }
}

/// Where the setting is not zero the program exits; otherwise it
/// dereferences a scalar.
const RODATA_GUARD: &str = "r1 = map[idx:0][0]+0\n\
    r2 = *(u32 *)(r1 +0)\n\
    if r2 != 0x0 goto +2\n\
    r3 = 0\n\
    r0 = *(u64 *)(r3 +0)\n\
    r0 = 0\n\
    exit";

#[test]
fn a_frozen_rodata_setting_decides_its_branch() {
    check(
        "a_frozen_rodata_setting_decides_its_branch",
        &Case {
            attach: None,
            prog_type: ProgTypeId::SocketFilter,
            text: RODATA_GUARD,
            maps: vec![rodata(1)],
            refused: None,
        },
    );
}

#[test]
fn a_zero_rodata_setting_takes_the_guarded_path() {
    check(
        "a_zero_rodata_setting_takes_the_guarded_path",
        &Case {
            attach: None,
            prog_type: ProgTypeId::SocketFilter,
            text: RODATA_GUARD,
            maps: vec![rodata(0)],
            refused: Some((5, "R3 invalid mem access 'scalar'")),
        },
    );
}

#[test]
fn a_rodata_byte_load_sign_extends_when_asked() {
    // 0xff as s8 is -1: `if r2 s< 0` is always taken.
    check(
        "a_rodata_byte_load_sign_extends_when_asked",
        &Case {
            attach: None,
            prog_type: ProgTypeId::SocketFilter,
            text: "r1 = map[idx:0][0]+0\n\
                r2 = *(s8 *)(r1 +0)\n\
                if r2 s< 0x0 goto +2\n\
                r3 = 0\n\
                r0 = *(u64 *)(r3 +0)\n\
                r0 = 0\n\
                exit",
            maps: vec![rodata(0xff)],
            refused: None,
        },
    );
}

/// A cgroup_skb program that loads `__sk_buff->sk` (a sock_common or
/// null) and then `LOAD`, skipped when the socket is null.
fn sock_common_load(load: &'static str) -> String {
    format!("r1 = *(u64 *)(r1 +168)\nif r1 == 0x0 goto +1\n{load}\nr0 = 1\nexit")
}

#[test]
fn a_sock_common_gives_its_family() {
    let text: &'static str = Box::leak(sock_common_load("r0 = *(u32 *)(r1 +4)").into_boxed_str());
    check(
        "a_sock_common_gives_its_family",
        &Case {
            attach: None,
            prog_type: ProgTypeId::CgroupSkb,
            text,
            maps: vec![],
            refused: None,
        },
    );
}

#[test]
fn a_sock_common_hides_the_protocol_of_a_full_socket() {
    let text: &'static str = Box::leak(sock_common_load("r0 = *(u32 *)(r1 +12)").into_boxed_str());
    check(
        "a_sock_common_hides_the_protocol_of_a_full_socket",
        &Case {
            attach: None,
            prog_type: ProgTypeId::CgroupSkb,
            text,
            maps: vec![],
            refused: Some((2, "R1 invalid sock_common access off=12 size=4")),
        },
    );
}

/// `bpf_sk_fullsock(skb->sk)`, then `LOAD` through the full socket in r0.
fn full_sock_load(load: &'static str) -> &'static str {
    Box::leak(
        format!(
            "r1 = *(u64 *)(r1 +168)\nif r1 == 0x0 goto +4\ncall bpf_sk_fullsock\n\
             if r0 == 0x0 goto +2\n{load}\nr0 = 1\nr0 = 1\nexit"
        )
        .into_boxed_str(),
    )
}

#[test]
fn a_full_socket_gives_a_byte_of_its_protocol_and_its_port() {
    for (i, load) in [
        "r2 = *(u8 *)(r0 +12)",
        "r2 = *(u16 *)(r0 +48)",
        "r2 = *(u32 *)(r0 +48)",
        "r2 = *(u8 *)(r0 +49)",
        "r2 = *(u16 *)(r0 +26)",
    ]
    .into_iter()
    .enumerate()
    {
        check(
            &format!("a_full_socket_gives_a_byte_of_its_protocol_and_its_port_{i}"),
            &Case {
                attach: None,
                prog_type: ProgTypeId::CgroupSkb,
                text: full_sock_load(load),
                maps: vec![],
                refused: None,
            },
        );
    }
}

#[test]
fn a_full_socket_refuses_the_padding_after_dst_port_and_narrow_marks() {
    for (i, (load, line)) in [
        (
            "r2 = *(u16 *)(r0 +50)",
            "R0 invalid sock access off=50 size=2",
        ),
        (
            "r2 = *(u16 *)(r0 +16)",
            "R0 invalid sock access off=16 size=2",
        ),
        (
            "r2 = *(u32 *)(r0 +80)",
            "R0 invalid sock access off=80 size=4",
        ),
        (
            "r2 = *(u64 *)(r0 +8)",
            "R0 invalid sock access off=8 size=8",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        check(
            &format!("a_full_socket_refuses_the_padding_after_dst_port_and_narrow_marks_{i}"),
            &Case {
                attach: None,
                prog_type: ProgTypeId::CgroupSkb,
                text: full_sock_load(load),
                maps: vec![],
                refused: Some((4, line)),
            },
        );
    }
}

/// `bpf_tcp_sock(skb->sk)`, then `LOAD` through the tcp_sock in r0.
fn tcp_sock_load(load: &'static str) -> &'static str {
    Box::leak(
        format!(
            "r1 = *(u64 *)(r1 +168)\nif r1 == 0x0 goto +4\ncall bpf_tcp_sock\n\
             if r0 == 0x0 goto +2\n{load}\nr0 = 1\nr0 = 1\nexit"
        )
        .into_boxed_str(),
    )
}

#[test]
fn a_tcp_sock_gives_bytes_acked_as_a_u64_only() {
    check(
        "a_tcp_sock_gives_bytes_acked_as_a_u64_only_0",
        &Case {
            attach: None,
            prog_type: ProgTypeId::CgroupSkb,
            text: tcp_sock_load("r2 = *(u64 *)(r0 +88)"),
            maps: vec![],
            refused: None,
        },
    );
    check(
        "a_tcp_sock_gives_bytes_acked_as_a_u64_only_1",
        &Case {
            attach: None,
            prog_type: ProgTypeId::CgroupSkb,
            text: tcp_sock_load("r2 = *(u32 *)(r0 +88)"),
            maps: vec![],
            refused: Some((4, "R0 invalid tcp_sock access off=88 size=4")),
        },
    );
}

#[test]
fn a_sign_extending_load_of_a_packet_pointer_field_is_refused() {
    for (i, (pt, off)) in [(ProgTypeId::Xdp, 0), (ProgTypeId::SchedCls, 80)]
        .into_iter()
        .enumerate()
    {
        let text: &'static str =
            Box::leak(format!("r2 = *(s32 *)(r1 +{off})\nr0 = 0\nexit").into_boxed_str());
        let line: &'static str =
            Box::leak(format!("invalid bpf_context access off={off} size=4").into_boxed_str());
        check(
            &format!("a_sign_extending_load_of_a_packet_pointer_field_is_refused_{i}"),
            &Case {
                attach: None,
                prog_type: pt,
                text,
                maps: vec![],
                refused: Some((0, line)),
            },
        );
    }
}

/// A sockmap of 4 sockets.
fn sockmap() -> Map {
    Map {
        map_type: 15,
        key_size: 4,
        value_size: 4,
        max_entries: 4,
        map_flags: 0,
        frozen: None,
    }
}

const SOCKMAP_LOOKUP: &str = "*(u32 *)(r10 -4) = 0\n\
    r2 = r10\n\
    r2 += -4\n\
    r1 = map[idx:0]\n\
    call bpf_map_lookup_elem\n\
    if r0 == 0x0 goto +3\n";

#[test]
fn a_sockmap_lookup_is_a_socket_to_release() {
    let text: &'static str = Box::leak(
        format!("{SOCKMAP_LOOKUP}r2 = *(u32 *)(r0 +4)\nr1 = r0\ncall bpf_sk_release\nr0 = 0\nexit")
            .into_boxed_str(),
    );
    check(
        "a_sockmap_lookup_is_a_socket_to_release",
        &Case {
            attach: None,
            prog_type: ProgTypeId::SchedCls,
            text,
            maps: vec![sockmap()],
            refused: None,
        },
    );
}

#[test]
fn a_sockmap_lookup_left_unreleased_leaks() {
    let text: &'static str = Box::leak(
        format!("{SOCKMAP_LOOKUP}r2 = *(u32 *)(r0 +4)\nr2 = 0\nr2 = 0\nr0 = 0\nexit")
            .into_boxed_str(),
    );
    check(
        "a_sockmap_lookup_left_unreleased_leaks",
        &Case {
            attach: None,
            prog_type: ProgTypeId::SchedCls,
            text,
            maps: vec![sockmap()],
            refused: Some((
                11,
                "BPF_EXIT instruction in main prog would lead to reference leak",
            )),
        },
    );
}

#[test]
fn a_pointer_equal_to_a_non_null_one_is_not_null() {
    // r6: a non-null value of a hash map; r7: a second lookup, maybe null.
    // On `r6 == r7`, r7 is not null and may be read.
    let hash = Map {
        map_type: 1,
        key_size: 4,
        value_size: 8,
        max_entries: 4,
        map_flags: 0,
        frozen: None,
    };
    check(
        "a_pointer_equal_to_a_non_null_one_is_not_null",
        &Case {
            attach: None,
            prog_type: ProgTypeId::SchedCls,
            text: "*(u32 *)(r10 -4) = 0\n\
                r2 = r10\n\
                r2 += -4\n\
                r1 = map[idx:0]\n\
                call bpf_map_lookup_elem\n\
                if r0 == 0x0 goto +9\n\
                r6 = r0\n\
                r2 = r10\n\
                r2 += -4\n\
                r1 = map[idx:0]\n\
                call bpf_map_lookup_elem\n\
                r7 = r0\n\
                if r6 != r7 goto +1\n\
                r0 = *(u64 *)(r7 +0)\n\
                r0 = 0\n\
                exit",
            maps: vec![hash],
            refused: None,
        },
    );
}

#[test]
fn get_local_storage_takes_no_flags() {
    // A cgroup storage map (struct bpf_cgroup_storage_key's cgroup id as
    // the key); flags 1.
    let storage = Map {
        map_type: 19,
        key_size: 8,
        value_size: 8,
        max_entries: 0,
        map_flags: 0,
        frozen: None,
    };
    check(
        "get_local_storage_takes_no_flags",
        &Case {
            attach: None,
            prog_type: ProgTypeId::CgroupSkb,
            text: "r1 = map[idx:0]\nr2 = 1\ncall bpf_get_local_storage\nr0 = 1\nexit",
            maps: vec![storage],
            refused: Some((3, "get_local_storage() doesn't support non-zero flags")),
        },
    );
}

#[test]
fn a_tail_call_holding_a_socket_leaks_it() {
    let prog_array = Map {
        map_type: 3,
        key_size: 4,
        value_size: 4,
        max_entries: 1,
        map_flags: 0,
        frozen: None,
    };
    check(
        "a_tail_call_holding_a_socket_leaks_it",
        &Case {
            attach: None,
            prog_type: ProgTypeId::SchedCls,
            text: "r6 = r1\n\
                *(u32 *)(r10 -4) = 0\n\
                r2 = r10\n\
                r2 += -4\n\
                r1 = map[idx:0]\n\
                call bpf_map_lookup_elem\n\
                if r0 == 0x0 goto +8\n\
                r7 = r0\n\
                r1 = r6\n\
                r2 = map[idx:1]\n\
                r3 = 0\n\
                call bpf_tail_call\n\
                r1 = r7\n\
                call bpf_sk_release\n\
                r0 = 0\n\
                exit",
            maps: vec![sockmap(), prog_array],
            refused: Some((13, "tail_call would lead to reference leak")),
        },
    );
}

#[test]
fn a_sockopt_program_may_write_its_option_buffer() {
    // optval and optval_end are packet pointers that a cgroup_sockopt
    // program may write between.
    check(
        "a_sockopt_program_may_write_its_option_buffer",
        &Case {
            attach: Some(ironbpf_progtype::AttachType::CgroupSetsockopt),
            prog_type: ProgTypeId::CgroupSockopt,
            text: "r2 = *(u64 *)(r1 +8)\n\
                r3 = *(u64 *)(r1 +16)\n\
                r4 = r2\n\
                r4 += 1\n\
                if r4 > r3 goto +1\n\
                *(u8 *)(r2 +0) = 0\n\
                r0 = 1\n\
                exit",
            maps: vec![],
            refused: None,
        },
    );
}
