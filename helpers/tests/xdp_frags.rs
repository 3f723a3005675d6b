//! Multi-buffer XDP (`SEC("xdp.frags")`, `BPF_F_XDP_HAS_FRAGS`) in the
//! kernel and in ironbpf: packets longer than an XDP frame's linear part
//! (3520 bytes), or cut short by a given `xdp_md.data_end`, are split by
//! `BPF_PROG_TEST_RUN` into the linear part and page-sized fragments;
//! `bpf_xdp_get_buff_len`, `bpf_xdp_load_bytes`, `bpf_xdp_store_bytes` and
//! `bpf_xdp_adjust_tail` see the whole. Each case runs on both sides and
//! compares r0, the packet handed back (linear part, then fragments) and,
//! where a context was given, the context handed back. Skips with a
//! `skipped:` line where bpf(2) cannot be used (fails under
//! IRONBPF_REQUIRE_KERNEL=1).

mod common;

use common::{check, ours, Case};
use ironbpf_kernel::BPF_F_XDP_HAS_FRAGS;
use ironbpf_vm::progtype::XDP;

/// The most an XDP test run's linear part holds without metadata.
const LINEAR: usize = 3520;
const FRAG: usize = 4096;

/// A packet of `len` bytes: an Ethernet header (IPv4), then a pattern in
/// which every byte's offset shows (so a byte read or written at the wrong
/// place changes the result).
fn packet(len: usize) -> Vec<u8> {
    let mut p: Vec<u8> = (0..len)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).rotate_right(13) as u8)
        .collect();
    p[12] = 0x08;
    p[13] = 0x00;
    p
}

/// An `xdp_md` with metadata of `meta` bytes and the linear part ending
/// at `data_end` (counted from the metadata's start).
fn xdp_md(meta: u32, data_end: u32) -> Vec<u8> {
    let mut c = vec![0u8; 24];
    c[0..4].copy_from_slice(&meta.to_ne_bytes());
    c[4..8].copy_from_slice(&data_end.to_ne_bytes());
    c
}

fn frags(name: String, asm: String, len: usize) -> Case {
    Case::new(name, &XDP, asm)
        .packet(packet(len))
        .prog_flags(BPF_F_XDP_HAS_FRAGS)
}

/// r0 = bpf_xdp_get_buff_len() << 12 | (data_end - data): the whole frame
/// and the linear part the program sees.
const BUFF_LEN: &str = "r6 = r1\ncall bpf_xdp_get_buff_len\nr2 = *(u32 *)(r6 +0)\nr3 = *(u32 *)(r6 +4)\nr3 -= r2\nr0 <<= 12\nr0 |= r3\nexit\n";

#[test]
fn frags_buff_len_and_split() {
    let mut v = Vec::new();
    for len in [
        64,
        LINEAR - 1,
        LINEAR,
        LINEAR + 1,
        5000,
        LINEAR + FRAG,
        LINEAR + FRAG + 1,
        LINEAR + 3 * FRAG - 7,
        LINEAR + 17 * FRAG,
    ] {
        v.push(frags(format!("buff_len of {len}"), BUFF_LEN.into(), len));
    }
    // A given data_end sets the linear part; metadata comes from the front.
    for (len, meta, end) in [
        (200, 0, 100),
        (200, 0, 14),
        (6000, 8, 3000),
        (6000, 32, 6000),
        (6000, 0, 0),
        (9000, 4, 18),
    ] {
        v.push(
            frags(
                format!("buff_len of {len}, xdp_md data {meta} data_end {end}"),
                BUFF_LEN.into(),
                len,
            )
            .ctx(xdp_md(meta, end as u32)),
        );
    }
    // The kernel's test run does not ask for the flag to split a packet.
    v.push(
        Case::new(
            "buff_len of 5000 without BPF_F_XDP_HAS_FRAGS",
            &XDP,
            BUFF_LEN,
        )
        .packet(packet(5000)),
    );
    check("frags_buff_len_and_split", v);
}

/// Loads `n` bytes at `off` onto the zeroed stack, then copies them into
/// the linear part's first bytes (so they show in the packet handed back);
/// r0 = the helper's result.
fn load_bytes(off: i64, n: i32) -> String {
    let mut s = "r6 = r1\n".to_string();
    for i in 0..8 {
        s += &format!("*(u64 *)(r10 -{}) = 0\n", 8 * (i + 1));
    }
    s += &format!(
        "r1 = r6\nr2 = {off}\nr3 = r10\nr3 += -64\nr4 = {n}\ncall bpf_xdp_load_bytes\nr7 = r0\n"
    );
    s + &common::xdp_dump_stack(64, 64, 0)
}

/// Stores `n` bytes of a pattern at `off`; r0 = the helper's result.
fn store_bytes(off: i64, n: i32) -> String {
    let mut s = "r6 = r1\n".to_string();
    for i in 0..8 {
        s += &format!(
            "r1 = {:#x} ll\n*(u64 *)(r10 -{}) = r1\n",
            0xa1a2_a3a4_a5a6_a7a8u64.wrapping_add(0x0101_0101_0101_0101 * i as u64),
            8 * (i + 1)
        );
    }
    s + &format!(
        "r1 = r6\nr2 = {off}\nr3 = r10\nr3 += -64\nr4 = {n}\ncall bpf_xdp_store_bytes\nexit\n"
    )
}

#[test]
fn frags_load_and_store_bytes() {
    // Linear 3520, then fragments of 4096, 4096 and 1000 bytes.
    let len = LINEAR + 2 * FRAG + 1000;
    let mut v = Vec::new();
    let at = |o: usize| o as i64;
    for (off, n) in [
        (at(0), 64),
        (at(LINEAR - 64), 64),
        (at(LINEAR - 5), 16),
        (at(LINEAR - 1), 2),
        (at(LINEAR), 64),
        (at(LINEAR + 100), 33),
        (at(LINEAR + FRAG - 3), 64),
        (at(LINEAR + 2 * FRAG - 1), 7),
        (at(len - 64), 64),
        (at(len - 63), 64),
        (at(len), 1),
        (0x10000, 8),
        (0xffff, 8),
        (-1, 8),
    ] {
        v.push(frags(
            format!("load_bytes {off} {n}"),
            load_bytes(off, n),
            len,
        ));
        v.push(frags(
            format!("store_bytes {off} {n}"),
            store_bytes(off, n),
            len,
        ));
    }
    // Past 64 KiB: offsets up to 0xffff reach into the last fragments.
    let big = LINEAR + 17 * FRAG;
    for off in [0xffff - 8, 0xffff - 7, 0xffff, 0x10000, big as i64 - 8] {
        v.push(frags(
            format!("load_bytes {off} 8 of {big}"),
            load_bytes(off, 8),
            big,
        ));
        v.push(frags(
            format!("store_bytes {off} 8 of {big}"),
            store_bytes(off, 8),
            big,
        ));
    }
    // A given data_end that leaves most of a short packet in one fragment.
    v.push(
        frags(
            "load_bytes across a 40-byte linear part".into(),
            load_bytes(30, 40),
            300,
        )
        .ctx(xdp_md(0, 40)),
    );
    v.push(
        frags(
            "store_bytes across a 40-byte linear part".into(),
            store_bytes(30, 40),
            300,
        )
        .ctx(xdp_md(8, 48)),
    );
    check("frags_load_and_store_bytes", v);
}

/// r0 = bpf_xdp_get_buff_len() << 8 | the low byte of the adjustment's
/// result, after `bpf_xdp_adjust_tail(delta)`; a second `delta2` after it
/// when given.
fn adjust_tail(delta: i64, delta2: Option<i64>) -> String {
    let mut s = format!("r6 = r1\nr2 = {delta}\ncall bpf_xdp_adjust_tail\nr7 = r0\n");
    if let Some(d) = delta2 {
        s += &format!("r1 = r6\nr2 = {d}\ncall bpf_xdp_adjust_tail\nr7 <<= 8\nr7 |= r0\n");
    }
    s + "r1 = r6\ncall bpf_xdp_get_buff_len\nr0 <<= 16\nr7 &= 0xffff\nr0 |= r7\nexit\n"
}

#[test]
fn frags_adjust_tail() {
    // Linear 3520, then fragments of 4096 and 904 bytes.
    let len = LINEAR + FRAG + 904;
    let total = len as i64;
    let mut v = Vec::new();
    for d in [
        0i64,
        1,
        -1,
        -903,
        -904,
        -905,
        -(904 + 4096),
        -(904 + 4096 + 1),
        -(total - 14),
        -(total - 13),
        -(total + 100),
        (FRAG - 904) as i64,
        (FRAG - 903) as i64,
        i32::MAX as i64,
        i32::MIN as i64,
    ] {
        v.push(frags(
            format!("adjust_tail {d} on {len}"),
            adjust_tail(d, None),
            len,
        ));
    }
    // Shrink to linear, then the linear part's own rules apply.
    for (d, d2) in [
        (-(904 + 4096), 200),
        (-(904 + 4096), 257),
        (-(904 + 4096 + 10), -20),
        (-904, 5),
        (-100, 100),
        (-100, 101),
    ] {
        v.push(frags(
            format!("adjust_tail {d} then {d2} on {len}"),
            adjust_tail(d, Some(d2)),
            len,
        ));
    }
    // With a short linear part and metadata.
    for d in [-10i64, -286, -287, 3000, 4096 - 260, 4096 - 259] {
        v.push(
            frags(
                format!("adjust_tail {d}, linear 40 of 300"),
                adjust_tail(d, None),
                300,
            )
            .ctx(xdp_md(8, 48)),
        );
    }
    // The head moves in the linear part only; the fragments stay.
    for d in [-16i64, 16, 3000, 3506, 3507] {
        v.push(frags(
            format!("adjust_head {d} on {len}"),
            format!("r6 = r1\nr2 = {d}\ncall bpf_xdp_adjust_head\nr7 = r0\nr1 = r6\ncall bpf_xdp_get_buff_len\nr0 <<= 16\nr7 &= 0xffff\nr0 |= r7\nexit\n"),
            len,
        ));
    }
    check("frags_adjust_tail", v);
}

#[test]
fn frags_refusals_name_the_limit() {
    // More than MAX_SKB_FRAGS fragments: the kernel says ENOMEM.
    let c = frags("too long".into(), BUFF_LEN.into(), LINEAR + 17 * FRAG + 1);
    let e = ours(&c).expect_err("18 fragments");
    assert!(e.contains("MAX_SKB_FRAGS") && e.contains("ENOMEM"), "{e}");
    // Fewer than ETH_HLEN bytes after the metadata: EINVAL.
    let c = frags("short".into(), BUFF_LEN.into(), 20).ctx(xdp_md(8, 20));
    let e = ours(&c).expect_err("12 bytes after the metadata");
    assert!(e.contains("EINVAL"), "{e}");
    if !ironbpf_kernel::available_for_test("frags_refusals_name_the_limit") {
        return;
    }
    for c in [
        frags("too long".into(), BUFF_LEN.into(), LINEAR + 17 * FRAG + 1),
        frags("short".into(), BUFF_LEN.into(), 20).ctx(xdp_md(8, 20)),
    ] {
        let k = common::kernel(&c).expect_err("the kernel refuses it too");
        println!("{}: the kernel says {k}", c.name);
    }
}
