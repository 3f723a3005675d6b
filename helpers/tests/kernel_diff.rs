//! Helpers in the kernel and in ironbpf: the same programs, packets and
//! maps through `BPF_PROG_TEST_RUN` and through ironbpf's interpreter on
//! the same buffer layout (`ironbpf_vm::testrun`), compared on r0, the
//! packet handed back and the maps. Each test skips with a `skipped:` line
//! where bpf(2) cannot be used (and fails under IRONBPF_REQUIRE_KERNEL=1).

mod common;

use common::{check, on_stack, xdp_dump_stack, Case, MapDef};
use ironbpf_vm::progtype::{CGROUP_SKB, SCHED_CLS, SOCKET_FILTER, XDP};

/// r7 = the helper's result; a marker byte written at the packet's start
/// (if the packet still has one), so that its new bounds show in the
/// packet handed back.
fn adjust(call: &str, delta: i64) -> String {
    format!(
        "r6 = r1\nr2 = {delta}\ncall {call}\nr7 = r0\nr2 = *(u32 *)(r6 +0)\nr3 = *(u32 *)(r6 +4)\nr1 = r2\nr1 += 1\nif r1 > r3 goto +2\nr1 = 0xee\n*(u8 *)(r2 +0) = r1\nr0 = r7\nexit\n"
    )
}

#[test]
fn xdp_adjust_head_tail_meta() {
    let mut v = Vec::new();
    for d in [
        -256i64,
        -217,
        -216,
        -215,
        -100,
        -4,
        0,
        4,
        49,
        50,
        51,
        1 << 31,
    ] {
        v.push(Case::new(
            format!("adjust_head {d}"),
            &XDP,
            adjust("bpf_xdp_adjust_head", d),
        ));
    }
    for d in [
        -51i64,
        -50,
        -49,
        -1,
        0,
        1,
        100,
        3455,
        3456,
        3457,
        -(1 << 31),
    ] {
        v.push(Case::new(
            format!("adjust_tail {d}"),
            &XDP,
            adjust("bpf_xdp_adjust_tail", d),
        ));
    }
    for d in [4i64, 0, -3, -4, -8, -32, -36, -252, -256, -216] {
        v.push(Case::new(
            format!("adjust_meta {d}"),
            &XDP,
            adjust("bpf_xdp_adjust_meta", d),
        ));
    }
    // Metadata moves with the data when the head moves.
    for (meta, head) in [(-8i64, -16i64), (-32, 20), (-4, -212), (-8, -209)] {
        v.push(Case::new(
            format!("meta {meta} then head {head}"),
            &XDP,
            format!(
                "r6 = r1\nr2 = {meta}\ncall bpf_xdp_adjust_meta\nr2 = *(u32 *)(r6 +8)\nr3 = *(u32 *)(r6 +0)\nr1 = r2\nr1 += 4\nif r1 > r3 goto +2\nr1 = 0x11223344\n*(u32 *)(r2 +0) = r1\n\
                 r1 = r6\nr2 = {head}\ncall bpf_xdp_adjust_head\nr7 = r0\nr0 = r7\nexit\n"
            ),
        ));
    }
    // Growth is zeroed.
    v.push(Case::new(
        "shrink then grow the tail",
        &XDP,
        "r6 = r1\nr2 = -20\ncall bpf_xdp_adjust_tail\nr1 = r6\nr2 = 28\ncall bpf_xdp_adjust_tail\nr7 = r0\nr0 = r7\nexit\n",
    ));
    check("xdp_adjust_head_tail_meta", v);
}

#[test]
fn csum_diff_edges() {
    let mut v = Vec::new();
    for (fs, ts, seed) in [
        (0, 0, 0x1234_5678u64),
        (0, 0, 0xffff_ffff),
        (0, 0, 1 << 40),
        (4, 0, 0x10),
        (0, 4, 0x10),
        (2, 6, 3),
        (8, 8, 0),
    ] {
        v.push(Case::new(
            format!("csum_diff {fs} {ts} {seed:#x}"),
            &SCHED_CLS,
            format!(
                "*(u64 *)(r10 -8) = 0x1f2e3d4c\n*(u64 *)(r10 -16) = -7\nr1 = r10\nr1 += -8\nr2 = {fs}\nr3 = r10\nr3 += -16\nr4 = {ts}\nr5 = {seed:#x} ll\ncall bpf_csum_diff\nexit\n"
            ),
        ));
    }
    check("csum_diff_edges", v);
}

#[test]
fn trace_printk_and_snprintf_results() {
    let mut v = Vec::new();
    // The arguments: -7, 0x1234 and a pointer to "str".
    for fmt in [
        &b"x=%d y=%u\n\0"[..],
        b"[%5d|%-5x]\0",
        b"%d%d%s!\0",
        b"%d%x%pI4\0",
        b"%q\0",
        b"%d %d %d %d\0",
        b"no nul",
        b"%.2d\0",
        b"%lld%%\0",
        b"%d%d%sX\0",
    ] {
        let asm = on_stack(fmt, 32)
            + &on_stack(b"str\0", 40)
            + &format!(
                "r1 = r10\nr1 += -32\nr2 = {}\nr3 = -7\nr4 = 0x1234\nr5 = r10\nr5 += -40\ncall bpf_trace_printk\nexit\n",
                fmt.len()
            );
        v.push(Case::new(
            format!("trace_printk {:?}", String::from_utf8_lossy(fmt)),
            &XDP,
            asm,
        ));
    }
    // snprintf: the text lands in the packet.
    // The arguments: -42, 'A', a pointer to "abcdefghijklmnop", a u64.
    for fmt in [
        &b"%d|%c|%5s\0"[..],
        b"%d%c%pI4\0",
        b"%d%c%pi4\0",
        b"%d%c%pI6\0",
        b"%d%c%pi6\0",
        b"%d%c%pks%%\0",
        b"%-8lx|\0",
        b"%+d % d|\0",
        b"%+x %05d\0",
        b"%px\0",
        b"%d%c%s %020llu\0",
        b"%5c|%-3c|\0",
    ] {
        let asm = "r9 = r1\n".to_string()
            + &on_stack(b"abcdefghijklmnop\0", 64)
            + "*(u64 *)(r10 -16) = 0\n*(u64 *)(r10 -8) = 0\n*(u64 *)(r10 -24) = 0\n*(u64 *)(r10 -32) = 0\n"
            + "r1 = -42\n*(u64 *)(r10 -96) = r1\n*(u64 *)(r10 -88) = 65\nr1 = r10\nr1 += -64\n*(u64 *)(r10 -80) = r1\nr1 = 0x1122334455667788 ll\n*(u64 *)(r10 -72) = r1\n"
            + "r1 = r10\nr1 += -32\nr2 = 32\nr3 = map[idx:0][0]+0\nr4 = r10\nr4 += -96\nr5 = 32\ncall bpf_snprintf\nr7 = r0\nr6 = r9\n"
            + &xdp_dump_stack(32, 32, 0);
        v.push(
            Case::new(
                format!("snprintf {:?}", String::from_utf8_lossy(fmt)),
                &XDP,
                asm,
            )
            .maps(vec![MapDef::strings(fmt)]),
        );
    }
    check("trace_printk_and_snprintf_results", v);
}

#[test]
fn loops_and_callbacks() {
    let mut v = Vec::new();
    for (n, stop) in [
        (0u64, 100u64),
        (10, 100),
        (10, 3),
        (1 << 23, 5),
        ((1 << 23) + 1, 5),
    ] {
        v.push(Case::new(
            format!("loop {n} stop at {stop}"),
            &XDP,
            format!(
                "*(u64 *)(r10 -8) = 0\nr1 = {n}\nr2 = subprog[cb]\nr3 = r10\nr3 += -8\nr4 = 0\ncall bpf_loop\nr1 = *(u64 *)(r10 -8)\nr0 <<= 16\nr0 += r1\nexit\n\
                 cb:\nr3 = *(u64 *)(r2 +0)\nr3 += r1\n*(u64 *)(r2 +0) = r3\nr0 = 0\nif r1 < {stop} goto +1\nr0 = 1\nexit\n"
            ),
        ));
    }
    v.push(Case::new(
        "loop flags",
        &XDP,
        "r1 = 3\nr2 = subprog[cb]\nr3 = 0\nr4 = 1\ncall bpf_loop\nexit\ncb:\nr0 = 0\nexit\n",
    ));
    // Walk an array and a hash map, summing values and counting keys.
    for map_type in [2u32, 1] {
        let mut m = MapDef::new(map_type, 4, 8, 8);
        for k in [1u32, 3, 6] {
            m = m.with(&k.to_ne_bytes(), &(k as u64 * 10).to_ne_bytes());
        }
        v.push(
            Case::new(
                format!("for_each_map_elem type {map_type}"),
                &XDP,
                "*(u64 *)(r10 -8) = 0\nr1 = map[idx:0]\nr2 = subprog[cb]\nr3 = r10\nr3 += -8\nr4 = 0\ncall bpf_for_each_map_elem\nr1 = *(u64 *)(r10 -8)\nr0 <<= 32\nr0 += r1\nexit\n\
                 cb:\nr5 = *(u32 *)(r2 +0)\nr6 = *(u64 *)(r3 +0)\nr6 += r5\nr6 += 1\n*(u64 *)(r3 +0) = r6\nr7 = *(u64 *)(r4 +0)\nr7 += r6\n*(u64 *)(r4 +0) = r7\nr0 = 0\nexit\n",
            )
            .maps(vec![m]),
        );
    }
    check("loops_and_callbacks", v);
}

#[test]
fn probe_reads_of_kernel_memory() {
    let mut v = Vec::new();
    for call in ["bpf_probe_read_kernel", "bpf_probe_read_kernel_str"] {
        for (src, size) in [
            ("r10\nr3 += -32", 16),
            ("16", 8),
            ("r10\nr3 += -32", 5),
            ("0", 0),
        ] {
            v.push(Case::new(
                format!("{call} from {src} size {size}"),
                &XDP,
                "r9 = r1\n".to_string()
                    + &on_stack(b"kernel stack\0\0\0\0", 32)
                    + &format!(
                        "*(u64 *)(r10 -16) = -1\n*(u64 *)(r10 -8) = -1\nr1 = r10\nr1 += -16\nr2 = {size}\nr3 = {src}\ncall {call}\nr7 = r0\nr6 = r9\n"
                    )
                    + &xdp_dump_stack(16, 16, 0),
            ));
        }
    }
    check("probe_reads_of_kernel_memory", v);
}

#[test]
fn skb_helpers_against_the_test_run_skb() {
    let mut v = Vec::new();
    for (pt, start, off, len) in [
        (&SOCKET_FILTER, 0u32, 0u32, 8u32),
        (&SOCKET_FILTER, 1, 0, 8),
        (&SOCKET_FILTER, 1, 44, 8),
        (&SCHED_CLS, 0, 6, 8),
        (&SCHED_CLS, 1, 9, 2),
        (&SCHED_CLS, 2, 0, 4),
        (&SCHED_CLS, 0, 0x10000, 4),
    ] {
        v.push(Case::new(
            format!("skb_load_bytes_relative {} start {start} off {off}", pt.name),
            pt,
            format!("*(u64 *)(r10 -8) = -1\nr2 = {off}\nr3 = r10\nr3 += -8\nr4 = {len}\nr5 = {start}\ncall bpf_skb_load_bytes_relative\nr1 = *(u64 *)(r10 -8)\nr0 ^= r1\nr1 >>= 32\nr0 ^= r1\nexit\n"),
        ));
    }
    for (levels, last) in [
        (vec![1u64], 0u64),
        (vec![1, 1], 0),
        (vec![1, 1, 1, 1, 1], 0),
        (vec![1, 2], 0),
        (vec![1, 3], 0),
        (vec![2], 0),
        (vec![3], 0),
    ] {
        let mut asm = "r6 = r1\n".to_string();
        for l in &levels {
            asm += &format!("r1 = r6\nr2 = {l}\ncall bpf_csum_level\n");
        }
        asm += &format!("r1 = r6\nr2 = {last}\ncall bpf_csum_level\nexit\n");
        v.push(Case::new(
            format!("csum_level {levels:?} then query"),
            &SCHED_CLS,
            asm,
        ));
    }
    for flags in [0u64, 1 << 7, 1 << 8, 0x14, 0x34, 0x64] {
        v.push(Case::new(
            format!("l4_csum_replace flags {flags:#x}"),
            &SCHED_CLS,
            format!("r2 = 50\nr3 = 0x02000a00\nr4 = 0x09000a00\nr5 = {}\ncall bpf_l4_csum_replace\nexit\n", flags | 4),
        ));
    }
    // The packet grows and shrinks; skb->len follows.
    for (grow, back) in [
        (100u64, 0u64),
        (20, 0),
        (13, 0),
        (14, 0),
        (16064, 64),
        (16065, 0),
        (64, 0),
    ] {
        let mut asm = format!("r6 = r1\nr2 = {grow}\nr3 = 0\ncall bpf_skb_change_tail\nr7 = r0\n");
        if back > 0 {
            asm += &format!(
                "r1 = r6\nr2 = {back}\nr3 = 0\ncall bpf_skb_change_tail\nr7 <<= 8\nr7 |= r0\n"
            );
        }
        asm += "r0 = *(u32 *)(r6 +0)\nr7 <<= 16\nr0 ^= r7\nexit\n";
        v.push(Case::new(
            format!("skb_change_tail {grow} then {back}"),
            &SCHED_CLS,
            asm,
        ));
    }
    v.push(Case::new(
        "skb_change_tail flags",
        &SCHED_CLS,
        "r2 = 70\nr3 = 1\ncall bpf_skb_change_tail\nexit\n",
    ));
    // (After a change_head past the test run's 64 bytes of headroom the
    // kernel reallocates, and its smallest change_tail length no longer
    // follows the network header: that case is left out.)
    for (room, flags) in [
        (14u64, 0u64),
        (64, 0),
        (100, 0),
        (0, 0),
        (1, 1),
        (16000, 0),
        (16001, 0),
    ] {
        v.push(Case::new(
            format!("skb_change_head {room} flags {flags}"),
            &SCHED_CLS,
            format!("r6 = r1\nr2 = {room}\nr3 = {flags}\ncall bpf_skb_change_head\nr7 = r0\nr1 = r6\nr2 = 16064\nr3 = 0\ncall bpf_skb_change_tail\nr7 <<= 8\nr7 |= r0\nr0 = *(u32 *)(r6 +0)\nr7 <<= 16\nr0 ^= r7\nexit\n"),
        ));
    }
    v.push(Case::new(
        "set_hash then read skb->hash",
        &SCHED_CLS,
        "r6 = r1\nr2 = 0x1234\ncall bpf_set_hash\nr0 = *(u32 *)(r6 +68)\nexit\n",
    ));
    v.push(Case::new(
        "set_hash, store_bytes invalidating it",
        &SCHED_CLS,
        "r6 = r1\nr2 = 0x1234\ncall bpf_set_hash\n*(u32 *)(r10 -4) = 7\nr1 = r6\nr2 = 40\nr3 = r10\nr3 += -4\nr4 = 4\nr5 = 2\ncall bpf_skb_store_bytes\nr0 = *(u32 *)(r6 +68)\nexit\n",
    ));
    v.push(Case::new(
        "set_hash_invalid after set_hash",
        &SCHED_CLS,
        "r6 = r1\nr2 = 0x1234\ncall bpf_set_hash\nr1 = r6\ncall bpf_set_hash_invalid\nr0 = *(u32 *)(r6 +68)\nexit\n",
    ));
    v.push(Case::new(
        "get_socket_uid in a socket filter",
        &SOCKET_FILTER,
        "call bpf_get_socket_uid\nexit\n",
    ));
    check("skb_helpers_against_the_test_run_skb", v);
}

#[test]
#[allow(clippy::vec_init_then_push)]
fn map_helpers_against_the_kernels_maps() {
    let mut v = Vec::new();
    v.push(
        Case::new(
            "hash update, lookup, delete",
            &XDP,
            "*(u32 *)(r10 -4) = 7\n*(u64 *)(r10 -16) = 99\nr1 = map[idx:0]\nr2 = r10\nr2 += -4\nr3 = r10\nr3 += -16\nr4 = 1\ncall bpf_map_update_elem\nr6 = r0\n\
             r1 = map[idx:0]\nr2 = r10\nr2 += -4\nr3 = r10\nr3 += -16\nr4 = 1\ncall bpf_map_update_elem\nr6 <<= 8\nr6 |= r0\n\
             *(u32 *)(r10 -4) = 8\nr1 = map[idx:0]\nr2 = r10\nr2 += -4\ncall bpf_map_delete_elem\nr6 <<= 8\nr6 |= r0\nr0 = r6\nexit\n",
        )
        .maps(vec![MapDef::new(1, 4, 8, 4)]),
    );
    v.push(
        Case::new(
            "queue push until full, pop, peek",
            &XDP,
            "r6 = 0\n*(u64 *)(r10 -8) = 5\nr1 = map[idx:0]\nr2 = r10\nr2 += -8\nr3 = 0\ncall bpf_map_push_elem\nr6 += r0\n\
             r1 = map[idx:0]\nr2 = r10\nr2 += -8\nr3 = 0\ncall bpf_map_push_elem\nr6 <<= 8\nr6 |= r0\n\
             r1 = map[idx:0]\nr2 = r10\nr2 += -8\nr3 = 0\ncall bpf_map_push_elem\nr6 <<= 8\nr6 |= r0\n\
             r1 = map[idx:0]\nr2 = r10\nr2 += -16\ncall bpf_map_pop_elem\nr1 = map[idx:0]\nr2 = r10\nr2 += -16\ncall bpf_map_pop_elem\n\
             r1 = map[idx:0]\nr2 = r10\nr2 += -16\ncall bpf_map_peek_elem\nr6 <<= 8\nr6 |= r0\nr0 = r6\nexit\n",
        )
        .maps(vec![MapDef::new(22, 0, 8, 2)]),
    );
    v.push(
        Case::new(
            "ringbuf output, reserve, submit, discard, query",
            &XDP,
            "*(u64 *)(r10 -8) = 1\nr1 = map[idx:0]\nr2 = r10\nr2 += -8\nr3 = 8\nr4 = 0\ncall bpf_ringbuf_output\nr6 = r0\n\
             r1 = map[idx:0]\nr2 = r10\nr2 += -8\nr3 = 8\nr4 = 4\ncall bpf_ringbuf_output\nr6 <<= 8\nr6 |= r0\n\
             r1 = map[idx:0]\nr2 = 24\nr3 = 0\ncall bpf_ringbuf_reserve\nif r0 == 0 goto +3\nr1 = r0\nr2 = 0\ncall bpf_ringbuf_discard\n\
             r1 = map[idx:0]\nr2 = 0\ncall bpf_ringbuf_query\nr6 <<= 8\nr6 |= r0\nr1 = map[idx:0]\nr2 = 3\ncall bpf_ringbuf_query\nr6 <<= 8\nr6 |= r0\nr0 = r6\nexit\n",
        )
        .maps(vec![MapDef::new(27, 0, 0, 4096)]),
    );
    v.push(
        Case::new(
            "perf_event_output to a slot nobody opened",
            &XDP,
            "*(u64 *)(r10 -8) = 1\nr2 = map[idx:0]\nr3 = 0xffffffff ll\nr4 = r10\nr4 += -8\nr5 = 8\ncall bpf_perf_event_output\nexit\n",
        )
        .maps(vec![MapDef::new(4, 4, 4, 2)]),
    );
    let counts = MapDef::new(2, 4, 8, 2);
    v.push(
        Case::new(
            "array lookup, then writes through the value",
            &XDP,
            "*(u32 *)(r10 -4) = 1\nr1 = map[idx:0]\nr2 = r10\nr2 += -4\ncall bpf_map_lookup_elem\nif r0 == 0 goto +3\nr1 = 41\n*(u64 *)(r0 +0) = r1\nlock *(u64 *)(r0 +0) += r1\nr0 = 0\nexit\n",
        )
        .maps(vec![counts]),
    );
    check("map_helpers_against_the_kernels_maps", v);
}

/// Clocks cannot agree to the nanosecond: each side writes what it read
/// into the packet, and the readings must be no further apart than the time
/// the two runs took, plus the clocks' granularity.
#[test]
fn clocks_agree_with_the_kernels() {
    if !ironbpf_kernel::available_for_test("clocks_agree_with_the_kernels") {
        return;
    }
    let calls = [
        "bpf_ktime_get_ns",
        "bpf_ktime_get_boot_ns",
        "bpf_ktime_get_coarse_ns",
        "bpf_ktime_get_tai_ns",
        "bpf_jiffies64",
        "bpf_get_numa_node_id",
    ];
    let mut asm = "r6 = r1\nr2 = *(u32 *)(r6 +0)\nr3 = *(u32 *)(r6 +4)\nr1 = r2\nr1 += 48\nif r1 > r3 goto out\nr9 = r2\n".to_string();
    for (i, call) in calls.iter().enumerate() {
        asm += &format!("call {call}\n*(u64 *)(r9 +{}) = r0\n", 8 * i);
    }
    asm += "out:\nr0 = 2\nexit\n";
    let c = Case::new("clocks", &XDP, asm);
    // Both readings fall between these two instants, so they may differ by
    // the time between them (however long a loaded machine makes it) plus
    // the clocks' granularity (a coarse clock or a jiffy: 4 ms at HZ=250).
    let start = std::time::Instant::now();
    let k = common::kernel(&c).unwrap();
    let o = common::ours(&c).unwrap();
    let window_ns = start.elapsed().as_nanos() as u64;
    let word = |d: &[u8], i: usize| u64::from_ne_bytes(d[8 * i..8 * i + 8].try_into().unwrap());
    for (i, call) in calls.iter().enumerate() {
        let (a, b) = (word(&k.data, i), word(&o.data, i));
        let tolerance = match *call {
            "bpf_jiffies64" => window_ns / 4_000_000 + 2,
            "bpf_get_numa_node_id" => 0,
            _ => window_ns + 10_000_000,
        };
        assert!(
            a.abs_diff(b) <= tolerance,
            "{call}: the kernel read {a}, ironbpf {b}"
        );
    }
}

/// A frame with an 802.1Q tag (TCI 100) before the IPv4 type, and one with
/// two tags (802.1ad 200 outside, 802.1Q 100 inside).
fn tagged(outer: bool) -> Vec<u8> {
    let p = common::packet();
    let mut t = p[..12].to_vec();
    if outer {
        t.extend_from_slice(&[0x88, 0xa8, 0x00, 0xc8]);
    }
    t.extend_from_slice(&[0x81, 0x00, 0x00, 0x64]);
    t.extend_from_slice(&p[12..]);
    t
}

#[test]
fn vlan_tags_pushed_and_popped() {
    // r0 = the calls' results, then the __sk_buff's protocol and VLAN
    // fields, each folded in.
    let fields = "r1 = *(u32 *)(r6 +16)\nr0 = r7\nr0 <<= 16\nr0 ^= r1\nr1 = *(u32 *)(r6 +20)\nr0 <<= 1\nr0 ^= r1\nr1 = *(u32 *)(r6 +24)\nr0 <<= 12\nr0 ^= r1\nr1 = *(u32 *)(r6 +28)\nr0 <<= 16\nr0 ^= r1\nexit\n";
    let push = |proto: u32, tci: u32| {
        format!(
            "r1 = r6\nr2 = {proto:#x}\nr3 = {tci}\ncall bpf_skb_vlan_push\nr7 <<= 4\nr7 |= r0\n"
        )
    };
    let pop = "r1 = r6\ncall bpf_skb_vlan_pop\nr7 <<= 4\nr7 |= r0\n";
    let mut v = Vec::new();
    for (name, body, pkt) in [
        ("push", push(0x0081, 5), common::packet()),
        ("push 802.1ad", push(0xa888, 5), common::packet()),
        ("push an unknown type", push(0x3412, 5), common::packet()),
        (
            "push twice",
            push(0x0081, 5) + &push(0xa888, 7),
            common::packet(),
        ),
        ("pop untagged", pop.to_string(), common::packet()),
        ("push then pop", push(0x0081, 5) + pop, common::packet()),
        ("pop a tag in the frame", pop.to_string(), tagged(false)),
        ("pop the outer of two tags", pop.to_string(), tagged(true)),
        ("pop twice", pop.to_string() + pop, tagged(true)),
        (
            "push onto a tagged frame twice",
            push(0x0081, 9) + &push(0x0081, 10),
            tagged(false),
        ),
        (
            "pop a tag from a frame too short to hold it",
            pop.to_string(),
            vec![0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x81, 0, 0, 1],
        ),
    ] {
        v.push(
            Case::new(
                format!("vlan: {name}"),
                &SCHED_CLS,
                "r6 = r1\nr7 = 0\n".to_string() + &body + fields,
            )
            .packet(pkt),
        );
    }
    check("vlan_tags_pushed_and_popped", v);
}

/// Values the kernel makes up (a socket cookie, a flow hash) cannot match
/// ours; what the program can tell of them must: non-zero, stable within
/// a run, and the hash kept in skb->hash. Per-CPU lookups by CPU number.
#[test]
fn made_up_values_behave_alike() {
    let mut v = Vec::new();
    v.push(Case::new(
        "socket cookie: non-zero, the same twice",
        &SCHED_CLS,
        "r6 = r1\ncall bpf_get_socket_cookie\nr7 = r0\nr1 = r6\ncall bpf_get_socket_cookie\nr1 = 0\nif r7 == 0 goto +2\nif r0 != r7 goto +1\nr1 = 1\nr0 = r1\nexit\n",
    ));
    v.push(Case::new(
        "flow hash: non-zero, the same twice, in skb->hash",
        &SCHED_CLS,
        "r6 = r1\ncall bpf_get_hash_recalc\nr7 = r0\nr1 = r6\ncall bpf_get_hash_recalc\nr8 = *(u32 *)(r6 +68)\nr1 = 0\nif r7 == 0 goto +3\nif r0 != r7 goto +2\nif r8 != r7 goto +1\nr1 = 1\nr0 = r1\nexit\n",
    ));
    v.push(Case::new(
        "set_hash then get_hash_recalc gives it back",
        &SCHED_CLS,
        "r6 = r1\nr2 = 0xabcd\ncall bpf_set_hash\nr1 = r6\ncall bpf_get_hash_recalc\nexit\n",
    ));
    let cpus = ironbpf_kernel::possible_cpus();
    let values: Vec<u8> = (0..cpus as u64)
        .flat_map(|c| (100 + c).to_ne_bytes())
        .collect();
    for cpu in [0u64, cpus as u64 - 1, cpus as u64, 1 << 32] {
        v.push(
            Case::new(
                format!("map_lookup_percpu_elem cpu {cpu}"),
                &XDP,
                format!("*(u32 *)(r10 -4) = 0\nr1 = map[idx:0]\nr2 = r10\nr2 += -4\nr3 = {cpu:#x} ll\ncall bpf_map_lookup_percpu_elem\nif r0 == 0 goto +1\nr0 = *(u64 *)(r0 +0)\nexit\n"),
            )
            .maps(vec![MapDef::new(6, 4, 8, 1).with(&0u32.to_ne_bytes(), &values)]),
        );
    }
    check("made_up_values_behave_alike", v);
}

/// Tail calls through a program array, in the kernel and here: a slot
/// with a program, an empty one, an index past the end, and a program
/// that tail-calls itself until the kernel's limit of 33 stops it.
#[test]
fn tail_calls_agree_with_the_kernel() {
    use ironbpf_isa::assemble_program;
    use ironbpf_kernel::{load_program, KernelMap, MapCreate, ProgLoad, TestRun};
    use ironbpf_maps::FdMap;
    use ironbpf_vm::object::MapResolver;
    use ironbpf_vm::{testrun, Interpreter, Options};
    use std::sync::Arc;
    if !ironbpf_kernel::available_for_test("tail_calls_agree_with_the_kernel") {
        return;
    }
    // map 0: the program array; map 1: a counter.
    let target = "r0 = *(u32 *)(r1 +12)\nr0 += 1000\nexit\n";
    let counting = "r6 = r1\n*(u32 *)(r10 -4) = 0\nr1 = map[idx:1]\nr2 = r10\nr2 += -4\ncall bpf_map_lookup_elem\nif r0 == 0 goto +6\n\
                    r1 = 1\nlock *(u64 *)(r0 +0) += r1\nr1 = r6\nr2 = map[idx:0]\nr3 = 0\ncall bpf_tail_call\n\
                    *(u32 *)(r10 -4) = 0\nr1 = map[idx:1]\nr2 = r10\nr2 += -4\ncall bpf_map_lookup_elem\nif r0 == 0 goto +1\nr0 = *(u64 *)(r0 +0)\nexit\n";
    let callers = [
        ("a slot with a program", "r6 = r1\nr2 = map[idx:0]\nr3 = 1\ncall bpf_tail_call\nr0 = 99\nexit\n"),
        ("an empty slot, then a full one", "r6 = r1\nr2 = map[idx:0]\nr3 = 2\ncall bpf_tail_call\nr1 = r6\nr2 = map[idx:0]\nr3 = 1\ncall bpf_tail_call\nr0 = 98\nexit\n"),
        ("past the end", "r2 = map[idx:0]\nr3 = 7\ncall bpf_tail_call\nr0 = 97\nexit\n"),
        ("itself until the limit", counting),
    ];
    let words = |asm: &str| -> Vec<u64> {
        assemble_program(asm)
            .unwrap()
            .slots()
            .iter()
            .map(|s| s.to_u64())
            .collect()
    };
    for (name, caller) in callers {
        // The kernel.
        let progs = KernelMap::create(&MapCreate::new(3, 4, 4, 4)).unwrap();
        let counter = KernelMap::create(&MapCreate::new(2, 4, 8, 1)).unwrap();
        let fds = [progs.raw_fd(), counter.raw_fd()];
        let load = |asm: &str| {
            let w = words(asm);
            let out = load_program(&ProgLoad {
                prog_type: ironbpf_progtype::ProgTypeId::Xdp.kernel_id(),
                insns: &w,
                fd_array: &fds,
                ..Default::default()
            });
            out.result
                .unwrap_or_else(|e| panic!("{name}: {e}: {:?}", out.first_error_line))
        };
        let t = load(target);
        progs
            .update(&1u32.to_ne_bytes(), &(t.raw_fd() as u32).to_ne_bytes(), 0)
            .unwrap();
        let c = load(caller);
        progs
            .update(&0u32.to_ne_bytes(), &(c.raw_fd() as u32).to_ne_bytes(), 0)
            .unwrap();
        let pkt = common::packet();
        let kernel = c
            .test_run(&TestRun {
                data: &pkt,
                ..Default::default()
            })
            .unwrap()
            .retval;
        // Ours.
        let maps = common::our_maps(&[MapDef::new(3, 4, 4, 4), MapDef::new(2, 4, 8, 1)]);
        let resolver = MapResolver(maps.clone());
        let helpers = ironbpf_helpers::HelperRegistry::standard()
            .for_prog_type(ironbpf_progtype::ProgTypeId::Xdp.kernel_id());
        let vm = |asm: &str| {
            Interpreter::with_resolver(
                &assemble_program(asm).unwrap(),
                &helpers,
                Options::default(),
                Some(&resolver),
            )
            .unwrap()
        };
        let fd = maps.get(0).unwrap();
        let fd = fd.as_any().downcast_ref::<FdMap>().unwrap();
        fd.update_object(&1u32.to_ne_bytes(), 1, Some(Arc::new(vm(target))), 0)
            .unwrap();
        let me = vm(caller);
        fd.update_object(&0u32.to_ne_bytes(), 2, Some(Arc::new(me.clone())), 0)
            .unwrap();
        let ours = testrun::run(
            &me,
            &ironbpf_vm::progtype::XDP,
            &testrun::TestRun::packet(&pkt),
            Some(&resolver),
        )
        .unwrap()
        .r0 as u32;
        assert_eq!(ours, kernel, "{name}");
    }
}

const USER_WORD: u64 = 0x0123_4567_89ab_cdef;
const USER_STRING: &[u8] = b"user space\0";

/// User memory the kernel can read from a test run. The kernel's
/// `bpf_probe_read_user` runs with page faults disabled, so it reads only
/// pages that are present: a static in `.rodata` that nothing has touched
/// yet reads as -EFAULT and zeros (this made the test fail on a fresh
/// machine, once). The bytes live in a page this process wrote and then
/// locked, so they are present whatever ran before.
struct PinnedUserMemory {
    page: *mut u8,
    len: usize,
}

impl PinnedUserMemory {
    fn new(bytes: &[u8]) -> PinnedUserMemory {
        let len = 4096;
        assert!(bytes.len() <= len);
        // SAFETY: an anonymous private mapping of one page, checked below.
        let page = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(page, libc::MAP_FAILED, "mmap of the user page");
        let page = page as *mut u8;
        // SAFETY: the page is ours, writable and `len` >= bytes.len() long;
        // mlock faults it in and keeps it resident.
        unsafe {
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), page, bytes.len());
            assert_eq!(
                libc::mlock(page as *const libc::c_void, len),
                0,
                "mlock of the user page"
            );
        }
        PinnedUserMemory { page, len }
    }

    fn addr(&self, off: usize) -> u64 {
        self.page as u64 + off as u64
    }
}

impl Drop for PinnedUserMemory {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `new`, unmapped once.
        unsafe {
            libc::munmap(self.page as *mut libc::c_void, self.len);
        }
    }
}

/// A kernel test run executes in the calling thread: its current task is
/// this test's thread, and its user memory this process's. The same program
/// reads both here and there; the bytes must agree.
#[test]
fn current_task_and_user_memory_agree_with_the_kernel() {
    if !ironbpf_kernel::available_for_test("current_task_and_user_memory_agree_with_the_kernel") {
        return;
    }
    use std::os::unix::fs::MetadataExt;
    let ns = std::fs::metadata("/proc/self/ns/pid").unwrap();
    let mut bytes = USER_WORD.to_ne_bytes().to_vec();
    bytes.extend_from_slice(USER_STRING);
    let user = PinnedUserMemory::new(&bytes);
    let word = user.addr(0);
    let string = user.addr(8);
    // Results go to the stack at r10-96.., then into the packet.
    let asm = format!(
        "r9 = r1\n\
         call bpf_get_current_pid_tgid\n*(u64 *)(r10 -96) = r0\n\
         call bpf_get_current_uid_gid\n*(u64 *)(r10 -88) = r0\n\
         call bpf_get_current_cgroup_id\n*(u64 *)(r10 -80) = r0\n\
         r1 = r10\nr1 += -72\nr2 = 16\ncall bpf_get_current_comm\n\
         r1 = r10\nr1 += -56\nr2 = 8\nr3 = {word:#x} ll\ncall bpf_probe_read_user\n\
         *(u64 *)(r10 -48) = 0\n*(u64 *)(r10 -40) = 0\nr1 = r10\nr1 += -48\nr2 = 16\nr3 = {string:#x} ll\ncall bpf_probe_read_user_str\n*(u64 *)(r10 -32) = r0\n\
         r1 = {dev}\nr2 = {ino:#x} ll\nr3 = r10\nr3 += -24\nr4 = 8\ncall bpf_get_ns_current_pid_tgid\n*(u64 *)(r10 -16) = r0\n\
         r1 = r10\nr1 += -8\nr2 = 8\nr3 = 16\ncall bpf_probe_read_user\n\
         r7 = 2\nr6 = r9\n",
        dev = ns.dev(),
        ino = ns.ino(),
    ) + &xdp_dump_stack(96, 96, 0);
    let c = Case::new("current task and user memory", &XDP, asm).packet(vec![0u8; 128]);
    let k = common::kernel(&c).unwrap();
    let o = common::ours(&c).unwrap();
    let fields = [
        "pid_tgid",
        "uid_gid",
        "cgroup_id",
        "comm",
        "comm",
        "user word",
        "user string",
        "user string",
        "string length",
        "ns pid_tgid",
        "its result",
        "read of 16",
    ];
    for (i, f) in fields.iter().enumerate() {
        assert_eq!(
            &k.data[8 * i..8 * i + 8],
            &o.data[8 * i..8 * i + 8],
            "{f}: the kernel's bytes, then ironbpf's"
        );
    }
    assert_eq!(k, o);
    // Not vacuous: a pid, the word, the string, the namespace's ids.
    let word_at = |i: usize| u64::from_ne_bytes(k.data[8 * i..8 * i + 8].try_into().unwrap());
    assert_ne!(word_at(0), 0);
    assert_eq!(word_at(5), USER_WORD);
    assert_eq!(&k.data[48..59], USER_STRING);
    assert_eq!(word_at(8), 11, "ten characters and the NUL");
    assert_eq!(
        word_at(9),
        word_at(0),
        "the same ids in the task's own namespace"
    );
    assert_eq!(word_at(10), 0);
}

/// `bpf_check_mtu` on the test run's device (ifindex 0: the packet's, the
/// loopback device, MTU 65536), on lo by number and on no device: r0 =
/// the result's low byte << 24 | the MTU written back.
#[test]
fn check_mtu_on_loopback() {
    let mut v = Vec::new();
    for (pt, name) in [(&XDP, "xdp"), (&SCHED_CLS, "tc")] {
        for (ifindex, given, diff, flags) in [
            (0u32, 0u32, 0i32, 0u64),
            (1, 0, 0, 0),
            (999_999, 0, 0, 0),
            (0, 65536, 0, 0),
            (0, 65537, 0, 0),
            (0, 0, 65536 + 14 - 64, 0),
            (0, 0, 65536 + 14 - 63, 0),
            (0, 65536, 1, 0),
            (0, 100, -200, 0),
            (0, 0x7fff_fff0, 0, 0),
            (0, 0, i32::MIN, 0),
            (0, 0, 0, 1),
            (0, 10, 0, 1),
            (0, 0, 5, 1),
            (0, 0, 0, 2),
            (999_999, 0, 0, 1),
            (999_999, 1500, 0, 0),
        ] {
            v.push(Case::new(
                format!("{name}: check_mtu ifindex {ifindex}, mtu_len {given}, len_diff {diff}, flags {flags}"),
                pt,
                format!(
                    "*(u32 *)(r10 -4) = {given}\nr2 = {ifindex}\nr3 = r10\nr3 += -4\nr4 = {diff}\nr5 = {flags}\ncall bpf_check_mtu\nr0 &= 0xff\nr0 <<= 24\nr1 = *(u32 *)(r10 -4)\nr0 |= r1\nexit\n"
                ),
            ));
        }
    }
    check("check_mtu_on_loopback", v);
}

/// `bpf_get_local_storage` in a cgroup_skb test run: the storage starts
/// zeroed (the kernel gives each test run a fresh one), the program's
/// writes stay, for the shared and the per-CPU kind and both key forms.
/// r0 = 1 when the value read back is the one expected.
#[test]
fn cgroup_local_storage_in_a_test_run() {
    let mut v = Vec::new();
    for (map_type, key_size) in [(19u32, 8u32), (19, 16), (21, 8), (21, 16)] {
        for (add, expect) in [(5, 5), (5, 6), (0, 0)] {
            v.push(
                Case::new(
                    format!("storage kind {map_type}, key {key_size} B: +{add}, expect {expect}"),
                    &CGROUP_SKB,
                    format!(
                        "r1 = map[idx:0]\nr2 = 0\ncall bpf_get_local_storage\nr6 = r0\nr1 = *(u64 *)(r6 +0)\nr1 += {add}\n*(u64 *)(r6 +0) = r1\n\
                         r1 = *(u32 *)(r6 +12)\nr1 += 1\n*(u32 *)(r6 +12) = r1\nr1 = *(u64 *)(r6 +0)\nr2 = *(u32 *)(r6 +12)\nr1 += r2\nr0 = 0\nif r1 != {} goto +1\nr0 = 1\nexit\n",
                        expect + 1
                    ),
                )
                .maps(vec![MapDef::new(map_type, key_size, 16, 0)]),
            );
        }
    }
    check("cgroup_local_storage_in_a_test_run", v);
}
