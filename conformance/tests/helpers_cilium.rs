//! The helpers Cilium's tc and XDP programs call, in the kernel and in
//! ironbpf: `bpf_skb_change_type`, `bpf_skb_change_proto`,
//! `bpf_skb_adjust_room`, `bpf_skb_set_tunnel_key`/`get_tunnel_key`,
//! `bpf_redirect_neigh`, `bpf_fib_lookup` and the socket lookups. Each case
//! is one program test-run on the same packet by `BPF_PROG_TEST_RUN` and by
//! `ironbpf_vm::testrun`, compared on r0 (its low 32 bits), the packet
//! handed back and `skb->cb` (where the programs leave what they read back:
//! the helper's result, `skb->len`, `protocol`, `pkt_type`, ...).
//!
//! The tables `bpf_fib_lookup` and the socket lookups read are set up the
//! same way on both sides: in the kernel, in a fresh network namespace
//! (`unshare(CLONE_NEWNET)` on the test's thread, configured with `ip`),
//! in ironbpf, a [`World`] written as JSON from what `ip` reports. What
//! cannot be set up so is said where it matters (see `fib_cases`).
//!
//! Skips with a `skipped:` line where bpf(2) (or, for the FIB and socket
//! cases, a new network namespace) cannot be had; fails instead under
//! IRONBPF_REQUIRE_KERNEL=1.

use ironbpf_helpers::env::HelperEnv;
use ironbpf_helpers::{HelperRegistry, World};
use ironbpf_isa::assemble_program;
use ironbpf_kernel::{load_program, ProgLoad, TestRun};
use ironbpf_vm::{progtype, testrun, Interpreter, Options, ProgType};
use std::process::Command;
use std::sync::Arc;

/// `skb->cb`'s offset and length in `struct __sk_buff`.
const CB: std::ops::Range<usize> = 48..68;

/// Ethernet + IPv4 (checksum correct) + TCP + payload, 128 bytes.
fn ipv4_packet() -> Vec<u8> {
    let mut p = vec![0u8; 128];
    p[12] = 0x08;
    p[14..34].copy_from_slice(&[
        0x45, 0, 0, 114, 0, 1, 0, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
    ]);
    p[34..38].copy_from_slice(&[0x9c, 0x40, 0x00, 0x17]);
    for (i, b) in p[54..].iter_mut().enumerate() {
        *b = i as u8;
    }
    p
}

/// Ethernet + IPv6 + TCP + payload, 128 bytes.
fn ipv6_packet() -> Vec<u8> {
    let mut p = vec![0u8; 128];
    p[12..14].copy_from_slice(&[0x86, 0xdd]);
    p[14..22].copy_from_slice(&[0x60, 0, 0, 0, 0, 74, 6, 64]);
    p[22] = 0xfd;
    p[37] = 1;
    p[38] = 0xfd;
    p[53] = 2;
    for (i, b) in p[74..].iter_mut().enumerate() {
        *b = 0x80 | i as u8;
    }
    p
}

/// An ARP frame: neither IPv4 nor IPv6.
fn arp_packet() -> Vec<u8> {
    let mut p = vec![0u8; 64];
    p[..6].copy_from_slice(&[0xff; 6]);
    p[12..14].copy_from_slice(&[0x08, 0x06]);
    p
}

struct Case {
    name: String,
    pt: &'static ProgType,
    asm: String,
    data: Vec<u8>,
}

/// What a run gave: r0's low 32 bits, the packet, `skb->cb`.
type Outcome = (u32, Vec<u8>, Vec<u8>);

fn kernel_side(c: &Case) -> Result<Outcome, String> {
    let slots = assemble_program(&c.asm).map_err(|e| e.to_string())?;
    let words: Vec<u64> = slots.slots().iter().map(|s| s.to_u64()).collect();
    let out = load_program(&ProgLoad {
        prog_type: c.pt.kernel_id(),
        insns: &words,
        ..Default::default()
    });
    let prog = out
        .result
        .map_err(|e| format!("{e}: {}", out.first_error_line.unwrap_or_default()))?;
    let ctx = vec![0u8; c.pt.ctx_size as usize];
    let xdp = c.pt.id == Some(progtype::ProgTypeId::Xdp);
    let r = prog
        .test_run(&TestRun {
            data: &c.data,
            ctx: (!xdp).then_some(&ctx[..]),
            data_out_size: 16384,
            ..Default::default()
        })
        .map_err(|e| e.to_string())?;
    let cb = if xdp {
        Vec::new()
    } else {
        r.ctx_out.get(CB).unwrap_or_default().to_vec()
    };
    Ok((r.retval, r.data_out, cb))
}

fn ours_side(c: &Case, env: &Arc<HelperEnv>) -> Result<Outcome, String> {
    let prog = assemble_program(&c.asm).map_err(|e| e.to_string())?;
    let helpers = HelperRegistry::standard_with(env.clone()).for_prog_type(c.pt.kernel_id());
    let vm = Interpreter::new(&prog, &helpers, Options::default()).map_err(|e| e.to_string())?;
    let xdp = c.pt.id == Some(progtype::ProgTypeId::Xdp);
    let ctx = vec![0u8; c.pt.ctx_size as usize];
    let out = testrun::run(
        &vm,
        c.pt,
        &testrun::TestRun {
            data: &c.data,
            ctx: (!xdp).then_some(&ctx[..]),
            ..Default::default()
        },
        None,
    )
    .map_err(|e| e.to_string())?;
    let cb = if xdp {
        Vec::new()
    } else {
        out.ctx_out[CB].to_vec()
    };
    Ok((out.r0 as u32, out.data_out, cb))
}

/// Runs every case on both sides; the descriptions of those that differ,
/// and the kernel's r0 by case.
fn compare(cases: &[Case], env: &Arc<HelperEnv>) -> Compared {
    let mut failures = Vec::new();
    let mut results = Vec::new();
    for c in cases {
        let theirs = match kernel_side(c) {
            Ok(t) => t,
            Err(e) => {
                failures.push(format!(
                    "{}: the kernel refused the test program: {e}\n{}",
                    c.name, c.asm
                ));
                continue;
            }
        };
        results.push((c.name.clone(), theirs.0));
        let ours = match ours_side(c, env) {
            Ok(o) => o,
            Err(e) => {
                failures.push(format!("{}: ironbpf failed: {e}\n{}", c.name, c.asm));
                continue;
            }
        };
        if ours != theirs {
            let first_diff = ours
                .1
                .iter()
                .zip(&theirs.1)
                .position(|(a, b)| a != b)
                .unwrap_or(ours.1.len().min(theirs.1.len()));
            failures.push(format!(
                "{}: ours r0 = {:#x}, kernel r0 = {:#x}; cb ours {:02x?} kernel {:02x?}; packets {} and {} bytes, first difference at byte {first_diff}: ours {:02x?} kernel {:02x?}",
                c.name,
                ours.0,
                theirs.0,
                ours.2,
                theirs.2,
                ours.1.len(),
                theirs.1.len(),
                &ours.1[first_diff.min(ours.1.len())..(first_diff + 16).min(ours.1.len())],
                &theirs.1[first_diff.min(theirs.1.len())..(first_diff + 16).min(theirs.1.len())],
            ));
        }
    }
    (results, failures)
}

/// The kernel's r0 of the case named `name`.
fn r0_of(results: &[(String, u32)], name: &str) -> u32 {
    results
        .iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no case {name:?}"))
        .1
}

/// After a helper call: r0 to cb[0], then `len`, `protocol`, `pkt_type`
/// and `hash` to cb[1..5]; the program returns the helper's r0.
const READ_BACK: &str = "r7 = r0\n*(u32 *)(r6 +48) = r7\n\
    r1 = *(u32 *)(r6 +0)\n*(u32 *)(r6 +52) = r1\n\
    r1 = *(u32 *)(r6 +16)\n*(u32 *)(r6 +56) = r1\n\
    r1 = *(u32 *)(r6 +4)\n*(u32 *)(r6 +60) = r1\n\
    r1 = *(u32 *)(r6 +68)\n*(u32 *)(r6 +64) = r1\n\
    r0 = r7\nexit\n";

/// Stores `bytes` on the stack from `r10 - off` up, 8 at a time.
fn stack_bytes(bytes: &[u8], off: i32) -> String {
    let mut s = String::new();
    for (i, c) in bytes.chunks(8).enumerate() {
        let mut w = [0u8; 8];
        w[..c.len()].copy_from_slice(c);
        s += &format!(
            "r1 = {:#x} ll\n*(u64 *)(r10 {}) = r1\n",
            u64::from_le_bytes(w),
            -off + 8 * i as i32
        );
    }
    s
}

/// A tunnel case: name, key, set size (0: no set), set flags, get size,
/// get flags.
type TunnelCase<'a> = (&'a str, &'a Vec<u8>, u32, u64, u32, u64);

/// The kernel's r0 by case, and the cases that differ.
type Compared = (Vec<(String, u32)>, Vec<String>);

/// A redirect map: its name, type, and the (key, value) the host puts in.
type RedirectMapKind<'a> = (&'a str, u32, Option<(u32, u32)>);

fn packet_cases() -> Vec<Case> {
    let tc: &'static ProgType = &progtype::SCHED_CLS;
    let mut v = Vec::new();
    let mut push = |name: String, asm: String, data: Vec<u8>| {
        v.push(Case {
            name,
            pt: tc,
            asm,
            data,
        })
    };

    // bpf_skb_change_type: the packet types up to PACKET_OTHERHOST.
    for ty in [0u32, 1, 2, 3, 4, 7, u32::MAX] {
        push(
            format!("skb_change_type {ty}"),
            format!("r6 = r1\nr2 = {ty:#x} ll\ncall bpf_skb_change_type\n{READ_BACK}"),
            ipv4_packet(),
        );
    }
    let mut bcast = ipv4_packet();
    bcast[..6].copy_from_slice(&[0xff; 6]);
    push(
        "skb_change_type on a broadcast frame".into(),
        format!("r6 = r1\nr2 = 3\ncall bpf_skb_change_type\n{READ_BACK}"),
        bcast,
    );

    // bpf_skb_change_proto: htons(ETH_P_IPV6) = 0xdd86, htons(ETH_P_IP) = 8.
    for (name, proto, flags, data) in [
        ("4 to 6", 0xdd86u32, 0u32, ipv4_packet()),
        ("4 to 6 with flags", 0xdd86, 1, ipv4_packet()),
        ("4 to 4", 0x0008, 0, ipv4_packet()),
        ("6 to 4", 0x0008, 0, ipv6_packet()),
        ("6 to 6", 0xdd86, 0, ipv6_packet()),
        ("4 to an unknown protocol", 0x3412, 0, ipv4_packet()),
        (
            "6 to 4 on a bare ipv6 header",
            0x0008,
            0,
            ipv6_packet()[..54].to_vec(),
        ),
        ("arp to 6", 0xdd86, 0, arp_packet()),
    ] {
        push(
            format!("skb_change_proto {name}"),
            format!(
                "r6 = r1\nr2 = {proto:#x}\nr3 = {flags}\ncall bpf_skb_change_proto\n{READ_BACK}"
            ),
            data,
        );
    }

    // bpf_skb_adjust_room: modes, encap and decap flags, limits.
    const NET: u32 = 0;
    const MAC: u32 = 1;
    let encap4 = 1u64 << 1;
    let encap6 = 1u64 << 2;
    let gre = 1u64 << 3;
    let udp = 1u64 << 4;
    let no_csum_reset = 1u64 << 5;
    let l2_eth = 1u64 << 6;
    let decap4 = 1u64 << 7;
    let decap6 = 1u64 << 8;
    let l2 = |n: u64| n << 56;
    for (name, diff, mode, flags, data) in [
        ("grow 8 at mac", 8i32, MAC, 0u64, ipv4_packet()),
        ("grow 8 at net", 8, NET, 0, ipv4_packet()),
        ("grow 0 at net", 0, NET, 0, ipv4_packet()),
        ("shrink 8 at net", -8, NET, 0, ipv4_packet()),
        ("shrink 8 at mac", -8, MAC, 0, ipv4_packet()),
        ("grow 40 at net on ipv6", 40, NET, 0, ipv6_packet()),
        ("shrink 40 at mac on ipv6", -40, MAC, 0, ipv6_packet()),
        ("encap ipv4 in ipv4", 20, MAC, encap4, ipv4_packet()),
        ("encap ipv4/udp", 28, MAC, encap4 | udp, ipv4_packet()),
        ("encap ipv4/gre", 24, MAC, encap4 | gre, ipv4_packet()),
        ("encap ipv6 outer on ipv4", 40, MAC, encap6, ipv4_packet()),
        ("encap ipv4 outer on ipv6", 20, MAC, encap4, ipv6_packet()),
        ("encap both l3", 20, MAC, encap4 | encap6, ipv4_packet()),
        (
            "encap gre and udp",
            40,
            MAC,
            encap4 | gre | udp,
            ipv4_packet(),
        ),
        (
            "encap l2 eth 14",
            48,
            MAC,
            encap4 | udp | l2_eth | l2(14),
            ipv4_packet(),
        ),
        (
            "encap l2 eth 10",
            48,
            MAC,
            encap4 | udp | l2_eth | l2(10),
            ipv4_packet(),
        ),
        (
            "encap l2 longer than the room",
            20,
            MAC,
            encap4 | l2(30),
            ipv4_packet(),
        ),
        ("decap ipv4", -20, MAC, decap4, ipv4_packet()),
        ("decap ipv6 from ipv4", -20, MAC, decap6, ipv4_packet()),
        ("decap ipv4 from ipv6", -20, MAC, decap4, ipv6_packet()),
        ("decap both", -20, MAC, decap4 | decap6, ipv4_packet()),
        ("decap while growing", 20, MAC, decap4, ipv4_packet()),
        ("shrink with encap flags", -20, MAC, encap4, ipv4_packet()),
        ("unknown flag", 8, NET, 1 << 9, ipv4_packet()),
        ("len_diff 0xfff", 0xfff, NET, 0, ipv4_packet()),
        ("len_diff 0x1000", 0x1000, NET, 0, ipv4_packet()),
        ("len_diff -0x1000", -0x1000, NET, 0, ipv4_packet()),
        ("mode 2", 8, 2, 0, ipv4_packet()),
        ("shrink below the ipv4 header", -100, NET, 0, ipv4_packet()),
        (
            "shrink everything past the mac header",
            -114,
            MAC,
            0,
            ipv4_packet(),
        ),
        (
            "shrink to exactly the ipv4 header",
            -94,
            MAC,
            0,
            ipv4_packet(),
        ),
        ("on arp", 8, MAC, 0, arp_packet()),
    ] {
        push(
            format!("skb_adjust_room {name}"),
            format!(
                "r6 = r1\nr2 = {diff}\nr3 = {mode}\nr4 = {flags:#x} ll\ncall bpf_skb_adjust_room\n{READ_BACK}"
            ),
            data,
        );
    }
    push(
        "skb_adjust_room encap twice".into(),
        format!(
            "r6 = r1\nr2 = 20\nr3 = 1\nr4 = 2\ncall bpf_skb_adjust_room\nr1 = r6\nr2 = 20\nr3 = 1\nr4 = 2\ncall bpf_skb_adjust_room\n{READ_BACK}"
        ),
        ipv4_packet(),
    );
    // The checksum state: csum_level INC makes the skb CHECKSUM_UNNECESSARY;
    // adjust_room resets it unless told not to; the query tells.
    for flags in [0, no_csum_reset] {
        push(
            format!("skb_adjust_room csum reset, flags {flags:#x}"),
            format!(
                "r6 = r1\nr2 = 1\ncall bpf_csum_level\nr1 = r6\nr2 = 8\nr3 = 1\nr4 = {flags}\ncall bpf_skb_adjust_room\n\
                 *(u32 *)(r6 +52) = r0\nr1 = r6\nr2 = 0\ncall bpf_csum_level\n*(u32 *)(r6 +48) = r0\nexit\n"
            ),
            ipv4_packet(),
        );
    }

    // bpf_skb_set_tunnel_key / get_tunnel_key.
    let mut key4 = vec![0u8; 44];
    key4[..4].copy_from_slice(&0x1122_3344u32.to_ne_bytes());
    key4[4..8].copy_from_slice(&0x0a00_0001u32.to_ne_bytes());
    key4[20] = 0x10;
    key4[21] = 64;
    key4[28..32].copy_from_slice(&0x0a00_0002u32.to_ne_bytes());
    let mut key6 = key4.clone();
    for i in 0..16 {
        key6[4 + i] = 0x20 + i as u8;
        key6[28 + i] = 0x40 + i as u8;
    }
    key6[24..28].copy_from_slice(&0xfff_abcdeu32.to_ne_bytes());
    let mut key4_label = key4.clone();
    key4_label[24] = 1;
    let mut key4_ext = key4.clone();
    key4_ext[22] = 1;
    let v6 = 1u64;
    let tflags = 1u64 << 4;
    // (name, key, set size, set flags, get size, get flags); a set size 0
    // is no set.
    let tunnel: Vec<TunnelCase> = vec![
        ("get without set", &key4, 0, 0, 44, 0),
        ("v4", &key4, 44, 0, 44, 0),
        ("v4 with the flags", &key4, 44, 0, 44, tflags),
        ("v4 all set flags", &key4, 44, 0b11110, 44, tflags),
        ("v4 dont fragment and seq", &key4, 44, 0b01100, 44, tflags),
        ("v4 read as v6", &key4, 44, 0, 44, v6),
        ("v6", &key6, 44, v6, 44, v6),
        ("v6 with the flags", &key6, 44, v6 | 0b10, 44, v6 | tflags),
        ("v6 read as v4", &key6, 44, v6, 44, 0),
        ("v6 read with 8 bytes", &key6, 44, v6, 8, v6),
        ("set 28, get 44", &key4, 28, 0, 44, 0),
        ("set 24, get 32", &key4, 24, 0, 32, 0),
        ("set 22, get 24", &key4, 22, 0, 24, 0),
        ("get 22", &key4, 44, 0, 22, 0),
        ("get 8", &key4, 44, 0, 8, 0),
        ("get 40", &key4, 44, 0, 40, 0),
        ("get 28", &key4, 44, 0, 28, 0),
        ("get 32", &key4, 44, 0, 32, 0),
        ("set 8, get 44", &key4, 8, 0, 44, 0),
        ("set 8 v6", &key6, 8, v6, 44, v6),
        ("set 30", &key4, 30, 0, 44, 0),
        ("set unknown flag", &key4, 44, 1 << 5, 44, 0),
        ("set v4 with a label", &key4_label, 44, 0, 44, 0),
        ("set v6 with a label", &key4_label, 44, v6, 44, v6),
        ("set with tunnel_ext", &key4_ext, 44, 0, 44, 0),
        ("get unknown flag", &key4, 44, 0, 44, 1 << 2),
    ];
    for (name, key, set_size, set_flags, get_size, get_flags) in tunnel {
        let mut asm = String::from("r6 = r1\n");
        if set_size > 0 {
            asm += &stack_bytes(key, 48);
            asm += &format!(
                "r1 = r6\nr2 = r10\nr2 += -48\nr3 = {set_size}\nr4 = {set_flags}\ncall bpf_skb_set_tunnel_key\n*(u32 *)(r6 +52) = r0\n"
            );
        }
        asm += &stack_bytes(&[0xa5; 48], 96);
        asm += &format!(
            "r1 = r6\nr2 = r10\nr2 += -96\nr3 = {get_size}\nr4 = {get_flags}\ncall bpf_skb_get_tunnel_key\n*(u32 *)(r6 +48) = r0\n\
             r1 = r6\nr2 = 0\nr3 = r10\nr3 += -96\nr4 = 48\nr5 = 0\ncall bpf_skb_store_bytes\nr0 = *(u32 *)(r6 +48)\nexit\n"
        );
        push(format!("tunnel key {name}"), asm, ipv4_packet());
    }

    // bpf_skb_set_tunnel_opt / get_tunnel_opt, on a key set first (or
    // not): (name, set the key, set_opt size (none: no set_opt), get_opt
    // size). The options are 8 Geneve-like bytes and more.
    let opts: Vec<u8> = (0..48u8).map(|i| 0x10 + i).collect();
    for (name, key, set, get) in [
        ("8 bytes", true, Some(8u32), 16u32),
        ("8 bytes, read into 8", true, Some(8), 8),
        ("8 bytes, read into 4", true, Some(8), 4),
        ("40 bytes", true, Some(40), 48),
        ("size 6", true, Some(6), 16),
        ("44 bytes, read into 44", true, Some(44), 44),
        ("no key", false, Some(8), 16),
        ("key, no options", true, None, 16),
        ("nothing", false, None, 16),
    ] {
        let mut asm = String::from("r6 = r1\n") + &stack_bytes(&opts, 112);
        if key {
            asm += &stack_bytes(&key4, 48);
            asm += "r1 = r6\nr2 = r10\nr2 += -48\nr3 = 44\nr4 = 0\ncall bpf_skb_set_tunnel_key\n";
        }
        if let Some(n) = set {
            asm += &format!(
                "r1 = r6\nr2 = r10\nr2 += -112\nr3 = {n}\ncall bpf_skb_set_tunnel_opt\n*(u32 *)(r6 +52) = r0\n"
            );
        }
        asm += &stack_bytes(&[0xa5; 48], 160);
        asm += &format!(
            "r1 = r6\nr2 = r10\nr2 += -160\nr3 = {get}\ncall bpf_skb_get_tunnel_opt\n*(u32 *)(r6 +48) = r0\n\
             r1 = r6\nr2 = 0\nr3 = r10\nr3 += -160\nr4 = 48\nr5 = 0\ncall bpf_skb_store_bytes\n\
             r1 = r6\nr2 = r10\nr2 += -48\nr3 = 44\nr4 = 16\ncall bpf_skb_get_tunnel_key\n\
             r1 = *(u16 *)(r10 -26)\n*(u32 *)(r6 +56) = r1\nr0 = *(u32 *)(r6 +48)\nexit\n"
        );
        push(format!("tunnel opt {name}"), asm, ipv4_packet());
    }

    // bpf_redirect_neigh.
    for (name, params, plen, flags) in [
        ("no params", false, 0, 0u64),
        ("params", true, 20, 0),
        ("params, plen 8", true, 8, 0),
        ("params, plen 24", true, 24, 0),
        ("flags", false, 0, 1),
    ] {
        let p = if params {
            "*(u64 *)(r10 -24) = 2\n*(u64 *)(r10 -16) = 0\n*(u64 *)(r10 -8) = 0\nr2 = r10\nr2 += -24\n"
        } else {
            "r2 = 0\n"
        };
        push(
            format!("redirect_neigh {name}"),
            format!(
                "r6 = r1\n{p}r1 = 1\nr3 = {plen}\nr4 = {flags}\ncall bpf_redirect_neigh\nexit\n"
            ),
            ipv4_packet(),
        );
    }
    v
}

#[test]
fn packet_helpers_agree_with_the_kernel() {
    if !ironbpf_kernel::available_for_test("packet_helpers_agree_with_the_kernel") {
        return;
    }
    let env = Arc::new(HelperEnv::host());
    let cases = packet_cases();
    let (results, failures) = compare(&cases, &env);
    let n = cases.len();
    eprintln!("{} of {n} cases agree with the kernel", n - failures.len());
    assert!(
        failures.is_empty(),
        "{} of {n} cases differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(n >= 80, "{n} cases ran");
    // The cases reach the helpers' paths, not one refusal over and over.
    for (name, r0) in [
        ("skb_change_proto 4 to 6", 0i32),
        ("skb_change_proto 4 to 4", -524),
        ("skb_adjust_room encap twice", -114),
        ("skb_adjust_room len_diff 0x1000", -14),
        ("tunnel key v4 read as v6", -71),
        ("tunnel key v6", 0),
        ("redirect_neigh params", 7),
        ("redirect_neigh flags", 2),
        ("tunnel opt 8 bytes", 8),
        ("tunnel opt 8 bytes, read into 4", -12),
        ("tunnel opt nothing", -2),
    ] {
        assert_eq!(
            r0_of(&results, name),
            r0 as u32,
            "the kernel's r0 for {name}"
        );
    }
}

/// Runs `sh -c script` (in the calling thread's network namespace).
fn sh(script: &str) -> Result<String, String> {
    let out = Command::new("sh")
        .arg("-c")
        .arg(script)
        .output()
        .map_err(|e| format!("sh: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "`{script}` failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The ifindex of a device, from `ip -o link`.
fn ifindex(dev: &str) -> Result<u32, String> {
    let out = sh(&format!("ip -o link show dev {dev}"))?;
    out.split(':')
        .next()
        .and_then(|n| n.trim().parse().ok())
        .ok_or_else(|| format!("cannot read {dev}'s ifindex from {out:?}"))
}

/// The namespace both sides see: lo, and a veth pair whose veth0 holds
/// 10.1.0.1/24 and fd00:1::1/64, with gateway, blackhole, unreachable,
/// prohibit, MTU-locked, IPv6-gateway and table-100 routes and three
/// neighbours. Configures the current (fresh) namespace with `ip` and
/// returns the same as a world.
fn set_up_namespace() -> Result<World, String> {
    sh("ip link set lo up
        ip link add veth0 type veth peer name veth1
        ip link set veth0 address 02:00:00:00:00:01
        ip link set veth1 address 02:00:00:00:00:02
        ip link set veth0 addrgenmode none
        ip link set veth1 addrgenmode none
        ip link set veth0 up
        ip link set veth1 up
        ip addr add 10.1.0.1/24 dev veth0
        ip -6 addr add fd00:1::1/64 dev veth0 nodad
        ip neigh add 10.1.0.2 lladdr 02:00:00:00:00:aa dev veth0 nud permanent
        ip neigh add 10.1.0.4 lladdr 02:00:00:00:00:bb dev veth0 nud stale
        ip -6 neigh add fd00:1::2 lladdr 02:00:00:00:00:cc dev veth0 nud permanent
        ip route add 192.0.2.0/24 via 10.1.0.2
        ip route add 192.0.3.0/24 via 10.1.0.2 mtu lock 1400
        ip route add 192.0.5.0/24 via 10.1.0.4 metric 20
        ip route add 192.0.4.0/24 via inet6 fd00:1::2 dev veth0
        ip route add blackhole 198.51.100.0/24
        ip route add unreachable 203.0.113.0/24
        ip route add prohibit 100.64.0.0/10
        ip route add 192.0.2.0/24 via 10.1.0.2 table 100 metric 5
        ip -6 route add 2001:db8::/32 via fd00:1::2
        for d in veth0 veth1; do
            echo 1 > /proc/sys/net/ipv4/conf/$d/forwarding
            echo 1 > /proc/sys/net/ipv6/conf/$d/forwarding
        done")?;
    let (v0, v1) = (ifindex("veth0")?, ifindex("veth1")?);
    let json = format!(
        r#"{{
        "interfaces": [
            {{"ifindex": 1, "name": "lo", "loopback": true, "mtu": 65536,
              "addresses": ["127.0.0.1/8", "::1/128"]}},
            {{"ifindex": {v0}, "name": "veth0", "mac": "02:00:00:00:00:01",
              "forwarding": true, "forwarding_v6": true,
              "addresses": ["10.1.0.1/24", "fd00:1::1/64"]}},
            {{"ifindex": {v1}, "name": "veth1", "mac": "02:00:00:00:00:02",
              "forwarding": true, "forwarding_v6": true}}
        ],
        "routes": [
            {{"dst": "192.0.2.0/24", "dev": {v0}, "gateway": "10.1.0.2"}},
            {{"dst": "192.0.3.0/24", "dev": {v0}, "gateway": "10.1.0.2", "mtu": 1400}},
            {{"dst": "192.0.5.0/24", "dev": {v0}, "gateway": "10.1.0.4", "metric": 20}},
            {{"dst": "192.0.4.0/24", "dev": {v0}, "gateway": "fd00:1::2"}},
            {{"dst": "198.51.100.0/24", "type": "blackhole"}},
            {{"dst": "203.0.113.0/24", "type": "unreachable"}},
            {{"dst": "100.64.0.0/10", "type": "prohibit"}},
            {{"dst": "192.0.2.0/24", "dev": {v0}, "gateway": "10.1.0.2", "table": 100, "metric": 5}},
            {{"dst": "2001:db8::/32", "dev": {v0}, "gateway": "fd00:1::2"}}
        ],
        "neighbours": [
            {{"ip": "10.1.0.2", "dev": {v0}, "mac": "02:00:00:00:00:aa"}},
            {{"ip": "10.1.0.4", "dev": {v0}, "mac": "02:00:00:00:00:bb", "state": "stale"}},
            {{"ip": "fd00:1::2", "dev": {v0}, "mac": "02:00:00:00:00:cc"}}
        ]
    }}"#
    );
    World::from_json(&json).map_err(|e| e.to_string())
}

/// A `struct bpf_fib_lookup`.
fn fib_params(dst: &str, ifindex: u32, tot_len: u16, tbid: u32, family: Option<u8>) -> [u8; 64] {
    let dst: std::net::IpAddr = dst.parse().expect("an address");
    let mut p = [0u8; 64];
    p[0] = family.unwrap_or(if dst.is_ipv4() { 2 } else { 10 });
    p[1] = 6;
    p[2..4].copy_from_slice(&40000u16.to_be_bytes());
    p[4..6].copy_from_slice(&80u16.to_be_bytes());
    p[6..8].copy_from_slice(&tot_len.to_ne_bytes());
    p[8..12].copy_from_slice(&ifindex.to_ne_bytes());
    match dst {
        std::net::IpAddr::V4(a) => {
            p[16..20].copy_from_slice(&[10, 9, 9, 9]);
            p[32..36].copy_from_slice(&a.octets());
        }
        std::net::IpAddr::V6(a) => {
            p[16] = 0xfd;
            p[31] = 9;
            p[32..48].copy_from_slice(&a.octets());
        }
    }
    p[48..52].copy_from_slice(&tbid.to_ne_bytes());
    // smac/dmac start as a pattern, so that what the lookup writes shows.
    p[52..64].copy_from_slice(&[0xee; 12]);
    p
}

/// A program that calls `bpf_fib_lookup` on `params` and copies them into
/// the packet; it returns the lookup's result.
fn fib_case(name: String, pt: &'static ProgType, params: [u8; 64], plen: u32, flags: u64) -> Case {
    let xdp = pt.id == Some(progtype::ProgTypeId::Xdp);
    let store = if xdp {
        "r1 = r6\nr2 = 0\nr3 = r10\nr3 += -64\nr4 = 64\ncall bpf_xdp_store_bytes\n"
    } else {
        "r1 = r6\nr2 = 0\nr3 = r10\nr3 += -64\nr4 = 64\nr5 = 0\ncall bpf_skb_store_bytes\n"
    };
    Case {
        name,
        pt,
        asm: format!(
            "r6 = r1\n{}r1 = r6\nr2 = r10\nr2 += -64\nr3 = {plen}\nr4 = {flags:#x}\ncall bpf_fib_lookup\nr7 = r0\n{store}r0 = r7\nexit\n",
            stack_bytes(&params, 64)
        ),
        data: ipv4_packet(),
    }
}

fn fib_cases(v0: u32, v1: u32) -> Vec<Case> {
    let tc: &'static ProgType = &progtype::SCHED_CLS;
    let xdp: &'static ProgType = &progtype::XDP;
    const DIRECT: u64 = 1;
    const OUTPUT: u64 = 2;
    const SKIP_NEIGH: u64 = 4;
    const TBID: u64 = 8;
    const SRC: u64 = 16;
    const MARK: u64 = 32;
    let p = |dst: &str, ifindex: u32| fib_params(dst, ifindex, 0, 0, None);
    let mut cases: Vec<(&str, [u8; 64], u32, u64)> = vec![
        ("lo does not forward", p("192.0.2.9", 1), 64, 0),
        ("unknown ifindex", p("192.0.2.9", 99), 64, 0),
        (
            "family 3",
            fib_params("192.0.2.9", v0, 0, 0, Some(3)),
            64,
            0,
        ),
        ("plen 32", p("192.0.2.9", v0), 32, 0),
        ("unknown flag", p("192.0.2.9", v0), 64, 1 << 6),
        ("via a gateway", p("192.0.2.9", v0), 64, 0),
        ("from veth1", p("192.0.2.9", v1), 64, 0),
        ("on the link, no neighbour", p("10.1.0.7", v0), 64, 0),
        ("on the link, skip neigh", p("10.1.0.7", v0), 64, SKIP_NEIGH),
        ("on the link, a neighbour", p("10.1.0.2", v0), 64, 0),
        ("own address", p("10.1.0.1", v0), 64, 0),
        ("subnet broadcast", p("10.1.0.255", v0), 64, 0),
        ("loopback address", p("127.0.0.1", v0), 64, 0),
        ("blackhole", p("198.51.100.1", v0), 64, 0),
        ("unreachable", p("203.0.113.1", v0), 64, 0),
        ("prohibit", p("100.64.1.1", v0), 64, 0),
        ("no route", p("8.8.8.8", v0), 64, 0),
        (
            "tot_len over the mtu",
            fib_params("192.0.2.9", v0, 1600, 0, None),
            64,
            0,
        ),
        (
            "tot_len under the mtu",
            fib_params("192.0.2.9", v0, 1000, 0, None),
            64,
            0,
        ),
        (
            "locked route mtu, tot_len over",
            fib_params("192.0.3.1", v0, 1450, 0, None),
            64,
            0,
        ),
        ("locked route mtu, no tot_len", p("192.0.3.1", v0), 64, 0),
        ("stale neighbour, metric 20", p("192.0.5.1", v0), 64, 0),
        ("ipv4 via an ipv6 gateway", p("192.0.4.1", v0), 64, 0),
        ("source address", p("192.0.2.9", v0), 64, SRC),
        ("output through veth0", p("192.0.2.9", v0), 64, OUTPUT),
        ("output through veth1", p("192.0.2.9", v1), 64, OUTPUT),
        ("direct", p("192.0.2.9", v0), 64, DIRECT),
        ("direct, own address", p("10.1.0.1", v0), 64, DIRECT),
        (
            "direct, table 100",
            fib_params("192.0.2.9", v0, 0, 100, None),
            64,
            DIRECT | TBID,
        ),
        (
            "direct, table 101",
            fib_params("192.0.2.9", v0, 0, 101, None),
            64,
            DIRECT | TBID,
        ),
        (
            "direct, table 255",
            fib_params("10.1.0.1", v0, 0, 255, None),
            64,
            DIRECT | TBID,
        ),
        (
            "tbid without direct",
            fib_params("192.0.2.9", v0, 0, 100, None),
            64,
            TBID,
        ),
        ("mark", p("192.0.2.9", v0), 64, MARK),
        ("ipv6 lo does not forward", p("2001:db8::5", 1), 64, 0),
        ("ipv6 via a gateway", p("2001:db8::5", v0), 64, 0),
        ("ipv6 no route", p("2001:db9::1", v0), 64, 0),
        ("ipv6 own address", p("fd00:1::1", v0), 64, 0),
        ("ipv6 on the link, no neighbour", p("fd00:1::7", v0), 64, 0),
        ("ipv6 on the link, a neighbour", p("fd00:1::2", v0), 64, 0),
        ("ipv6 source address", p("2001:db8::5", v0), 64, SRC),
        ("ipv6 skip neigh", p("fd00:1::7", v0), 64, SKIP_NEIGH),
        ("ipv6 direct", p("2001:db8::5", v0), 64, DIRECT),
        (
            "ipv6 direct, table 100",
            fib_params("2001:db8::5", v0, 0, 100, None),
            64,
            DIRECT | TBID,
        ),
        (
            "ipv6 tot_len over the mtu",
            fib_params("2001:db8::5", v0, 1600, 0, None),
            64,
            0,
        ),
    ];
    let mut v = Vec::new();
    for (name, params, plen, flags) in cases.drain(..) {
        for pt in [tc, xdp] {
            v.push(fib_case(
                format!("fib_lookup {} {name}", pt.name),
                pt,
                params,
                plen,
                flags,
            ));
        }
    }
    v
}

/// A program that looks a socket up (`call`) with `tuple` and returns 0
/// for none, else 1 with the socket's family, state, src_port and
/// dst_port in cb[1..5], releasing it.
fn sk_case(name: &str, call: &str, tuple: &[u8], size: u32, netns: i64, flags: u64) -> Case {
    Case {
        name: format!("{call} {name}"),
        pt: &progtype::SCHED_CLS,
        asm: format!(
            "r6 = r1\n{}r1 = r6\nr2 = r10\nr2 += -40\nr3 = {size}\nr4 = {netns} ll\nr5 = {flags}\ncall bpf_{call}\n\
             if r0 != 0 goto +2\nr0 = 0\nexit\nr8 = r0\n\
             r1 = *(u32 *)(r8 +4)\n*(u32 *)(r6 +52) = r1\nr1 = *(u32 *)(r8 +72)\n*(u32 *)(r6 +56) = r1\n\
             r1 = *(u32 *)(r8 +44)\n*(u32 *)(r6 +60) = r1\nr1 = *(u16 *)(r8 +48)\n*(u32 *)(r6 +64) = r1\n\
             r1 = r8\ncall bpf_sk_release\nr0 = 1\nexit\n",
            stack_bytes(&{
                let mut t = tuple.to_vec();
                t.resize(40, 0);
                t
            }, 40)
        ),
        data: ipv4_packet(),
    }
}

fn tuple4(saddr: [u8; 4], sport: u16, daddr: [u8; 4], dport: u16) -> Vec<u8> {
    let mut t = saddr.to_vec();
    t.extend_from_slice(&daddr);
    t.extend_from_slice(&sport.to_be_bytes());
    t.extend_from_slice(&dport.to_be_bytes());
    t
}

/// The FIB and socket cases, run on a thread of their own whose network
/// namespace is new (the kernel's test run uses the caller's namespace's
/// loopback device, so its lookups see what this thread configured).
#[test]
fn fib_and_socket_lookups_agree_with_the_kernel() {
    if !ironbpf_kernel::available_for_test("fib_and_socket_lookups_agree_with_the_kernel") {
        return;
    }
    let result = std::thread::spawn(|| -> Result<Compared, String> {
        // SAFETY: unshare takes no pointers; it moves only this thread.
        if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
            return Err(format!(
                "unshare(CLONE_NEWNET): {}",
                std::io::Error::last_os_error()
            ));
        }
        let mut world = set_up_namespace()?;
        let (v0, v1) = (ifindex("veth0")?, ifindex("veth1")?);
        let mut cases = fib_cases(v0, v1);

        // Sockets: a TCP listener with one connection, a bound UDP socket,
        // all on 127.0.0.1 of this namespace.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
        let l = listener.local_addr().map_err(|e| e.to_string())?;
        let client = std::net::TcpStream::connect(l).map_err(|e| e.to_string())?;
        let (_server, c) = listener.accept().map_err(|e| e.to_string())?;
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
        let u = udp.local_addr().map_err(|e| e.to_string())?;
        let socks = format!(
            r#"[{{"protocol": "tcp", "state": "listen", "local": "{l}"}},
                {{"protocol": "tcp", "state": "established", "local": "{l}", "remote": "{c}"}},
                {{"protocol": "tcp", "state": "established", "local": "{c}", "remote": "{l}"}},
                {{"protocol": "udp", "state": "listen", "local": "{u}"}}]"#
        );
        world.sockets = serde_json_sockets(&socks)?;
        let lo = [127, 0, 0, 1];
        let (lp, cp, up) = (l.port(), c.port(), u.port());
        for call in ["skc_lookup_tcp", "sk_lookup_tcp"] {
            cases.push(sk_case(
                "established",
                call,
                &tuple4(lo, cp, lo, lp),
                12,
                -1,
                0,
            ));
            cases.push(sk_case(
                "the listener",
                call,
                &tuple4([10, 9, 9, 9], 1234, lo, lp),
                12,
                -1,
                0,
            ));
            cases.push(sk_case(
                "the client end",
                call,
                &tuple4(lo, lp, lo, cp),
                12,
                -1,
                0,
            ));
            cases.push(sk_case(
                "no socket",
                call,
                &tuple4(lo, cp, lo, 1),
                12,
                -1,
                0,
            ));
            cases.push(sk_case(
                "the udp port",
                call,
                &tuple4(lo, 1234, lo, up),
                12,
                -1,
                0,
            ));
            cases.push(sk_case(
                "tuple size 20",
                call,
                &tuple4(lo, cp, lo, lp),
                20,
                -1,
                0,
            ));
            cases.push(sk_case("ipv6 tuple", call, &[0; 36], 36, -1, 0));
            cases.push(sk_case("flags", call, &tuple4(lo, cp, lo, lp), 12, -1, 1));
            cases.push(sk_case("netns 0", call, &tuple4(lo, cp, lo, lp), 12, 0, 0));
            cases.push(sk_case(
                "netns -2",
                call,
                &tuple4(lo, cp, lo, lp),
                12,
                -2,
                0,
            ));
            cases.push(sk_case(
                "netns 2^32",
                call,
                &tuple4(lo, cp, lo, lp),
                12,
                1 << 32,
                0,
            ));
        }
        cases.push(sk_case(
            "bound",
            "sk_lookup_udp",
            &tuple4(lo, 1234, lo, up),
            12,
            -1,
            0,
        ));
        cases.push(sk_case(
            "the tcp port",
            "sk_lookup_udp",
            &tuple4(lo, cp, lo, lp),
            12,
            -1,
            0,
        ));
        cases.push(sk_case(
            "no socket",
            "sk_lookup_udp",
            &tuple4(lo, 1234, lo, 1),
            12,
            -1,
            0,
        ));

        let env = Arc::new(HelperEnv::host());
        env.set_world(world);
        let (results, failures) = compare(&cases, &env);
        drop((client, udp));
        Ok((results, failures))
    })
    .join()
    .expect("the namespace thread panicked");
    let (results, failures) = match result {
        Ok(r) => r,
        Err(why) => {
            assert!(
                std::env::var("IRONBPF_REQUIRE_KERNEL").as_deref() != Ok("1"),
                "a network namespace for the FIB cases cannot be set up: {why}"
            );
            eprintln!("skipped: fib_and_socket_lookups_agree_with_the_kernel: {why}");
            return;
        }
    };
    let n = results.len() + failures.iter().filter(|f| f.contains("refused")).count();
    eprintln!("{} of {n} cases agree with the kernel", n - failures.len());
    assert!(
        failures.is_empty(),
        "{} of {n} cases differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(n >= 100, "{n} cases ran");
    // Every return code the world can give came up in the kernel.
    for (name, r0) in [
        ("fib_lookup sched_cls via a gateway", 0i32),
        ("fib_lookup xdp blackhole", 1),
        ("fib_lookup sched_cls unreachable", 2),
        ("fib_lookup sched_cls prohibit", 3),
        ("fib_lookup sched_cls no route", 4),
        ("fib_lookup xdp lo does not forward", 5),
        ("fib_lookup sched_cls on the link, no neighbour", 7),
        ("fib_lookup sched_cls tot_len over the mtu", 8),
        ("fib_lookup sched_cls unknown ifindex", -19),
        ("fib_lookup sched_cls family 3", -97),
        ("fib_lookup sched_cls plen 32", -22),
        ("skc_lookup_tcp established", 1),
        ("skc_lookup_tcp the listener", 1),
        ("sk_lookup_udp bound", 1),
        ("skc_lookup_tcp no socket", 0),
    ] {
        assert_eq!(
            r0_of(&results, name),
            r0 as u32,
            "the kernel's r0 for {name}"
        );
    }
}

/// The world's socket list from JSON.
fn serde_json_sockets(text: &str) -> Result<Vec<ironbpf_helpers::world::Socket>, String> {
    let w = World::from_json(&format!(r#"{{"sockets": {text}}}"#)).map_err(|e| e.to_string())?;
    Ok(w.sockets)
}

/// `bpf_redirect_map` on the map kinds XDP redirects through: a devmap
/// (key 0 holds lo), a devmap_hash (key 5 holds lo), a cpumap (key 0: CPU 0
/// with a 192-entry queue) and an empty xskmap (an AF_XDP socket would need
/// a umem; the empty map's answers are compared), with the broadcast flags,
/// the fallback actions and bad flags.
#[test]
fn redirect_map_agrees_with_the_kernel() {
    use ironbpf_kernel::{KernelMap, MapCreate};
    use ironbpf_loader::{MapDef, MapKind, Object};
    use ironbpf_vm::object::LoadedObject;
    if !ironbpf_kernel::available_for_test("redirect_map_agrees_with_the_kernel") {
        return;
    }
    // (name, map type, key size, the entry the host puts in)
    let kinds: [RedirectMapKind; 4] = [
        ("devmap", 14, Some((0, 1))),
        ("devmap_hash", 25, Some((5, 1))),
        ("cpumap", 16, Some((0, 192))),
        ("xskmap", 17, None),
    ];
    let def = |name: &str, t: u32| MapDef {
        name: name.into(),
        map_type: t,
        key_size: 4,
        value_size: 4,
        max_entries: 8,
        map_flags: 0,
        pinning: 0,
        numa_node: 0,
        inner: None,
        init_slots: Vec::new(),
        initial_value: None,
        frozen: false,
        kind: MapKind::Btf,
        btf_key_type_id: 0,
        btf_value_type_id: 0,
    };
    let obj = Object {
        programs: Vec::new(),
        maps: kinds.iter().map(|(n, t, _)| def(n, *t)).collect(),
        license: "GPL".into(),
        kern_version: None,
        btf: None,
    };
    let loaded = LoadedObject::new(obj, &HelperRegistry::standard()).expect("the maps are created");
    let mut kernel_maps = Vec::new();
    for (name, t, entry) in kinds {
        let km = KernelMap::create(&MapCreate::new(t, 4, 4, 8))
            .unwrap_or_else(|e| panic!("the kernel's {name}: {e}"));
        if let Some((k, v)) = entry {
            km.update(&k.to_ne_bytes(), &v.to_ne_bytes(), 0)
                .unwrap_or_else(|e| panic!("the kernel's {name} update: errno {e}"));
            loaded
                .map(name)
                .expect("the map")
                .update(&k.to_ne_bytes(), &v.to_ne_bytes(), 0)
                .unwrap_or_else(|e| panic!("ironbpf's {name} update: {e}"));
        }
        kernel_maps.push(km);
    }
    let fds: Vec<i32> = kernel_maps.iter().map(|m| m.raw_fd()).collect();
    const BROADCAST: u64 = 1 << 3;
    const EXCLUDE: u64 = 1 << 4;
    let mut n = 0;
    let mut failures = Vec::new();
    let mut kernel_r0 = std::collections::BTreeSet::new();
    for (idx, (name, _, entry)) in kinds.iter().enumerate() {
        let present = entry.map_or(0, |e| e.0);
        for (what, key, flags) in [
            ("present", present as u64, 0u64),
            ("present, fallback pass", present as u64, 2),
            ("absent", 7, 0),
            ("absent, fallback drop", 7, 1),
            ("absent, fallback tx", 7, 3),
            ("broadcast", 7, BROADCAST),
            (
                "broadcast, exclude ingress",
                present as u64,
                BROADCAST | EXCLUDE,
            ),
            ("exclude ingress alone", present as u64, EXCLUDE),
            ("unknown flag", present as u64, 1 << 5),
            ("key above 32 bits", 1 << 32 | present as u64, 0),
        ] {
            let asm = format!("r1 = map[idx:{idx}]\nr2 = {key:#x} ll\nr3 = {flags}\ncall bpf_redirect_map\nexit\n");
            let words: Vec<u64> = assemble_program(&asm)
                .expect("assembles")
                .slots()
                .iter()
                .map(|s| s.to_u64())
                .collect();
            let out = load_program(&ProgLoad {
                prog_type: progtype::XDP.kernel_id(),
                insns: &words,
                fd_array: &fds,
                ..Default::default()
            });
            let prog = match out.result {
                Ok(p) => p,
                Err(e) => {
                    failures.push(format!(
                        "{name} {what}: the kernel refused the program: {e}: {}",
                        out.first_error_line.unwrap_or_default()
                    ));
                    continue;
                }
            };
            let data = ipv4_packet();
            let theirs = prog
                .test_run(&TestRun {
                    data: &data,
                    ..Default::default()
                })
                .expect("the kernel's test run")
                .retval;
            kernel_r0.insert(theirs);
            let prog = assemble_program(&asm).expect("assembles");
            let vm = Interpreter::with_resolver(
                &prog,
                &loaded.helpers_for(Some(&progtype::XDP)),
                Options::default(),
                Some(&loaded),
            )
            .expect("ironbpf loads it");
            let ours = testrun::run(
                &vm,
                &progtype::XDP,
                &testrun::TestRun::packet(&data),
                Some(loaded.resolver()),
            )
            .expect("ironbpf runs it")
            .r0 as u32;
            n += 1;
            if ours != theirs {
                failures.push(format!("{name} {what}: ours {ours}, kernel {theirs}"));
            }
        }
    }
    eprintln!("{} of {n} cases agree with the kernel", n - failures.len());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(n, 40);
    // XDP_ABORTED, _DROP, _PASS, _TX and _REDIRECT all came up.
    assert_eq!(
        kernel_r0.into_iter().collect::<Vec<_>>(),
        vec![0, 1, 2, 3, 4]
    );
}
