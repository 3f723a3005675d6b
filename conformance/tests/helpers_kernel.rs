//! Helpers in the kernel and in ironbpf: the same program, packet and maps
//! on both, compared on r0 (the low 32 bits the test run gives) and the
//! packet after the run. Skips with a `skipped:` line where bpf(2) cannot be
//! used; fails instead under IRONBPF_REQUIRE_KERNEL=1.

use ironbpf_isa::assemble_program;
use ironbpf_kernel::{load_program, KernelMap, MapCreate, ProgLoad, TestRun};
use ironbpf_loader::{MapDef, MapKind, Object};
use ironbpf_vm::object::LoadedObject;
use ironbpf_vm::{progtype, HelperRegistry, Interpreter, Options, ProgType};

/// `BPF_F_RDONLY_PROG`: with a freeze, the map's bytes are constant strings
/// for `bpf_strncmp` and `bpf_snprintf`.
const BPF_F_RDONLY_PROG: u32 = 1 << 7;

/// Ethernet + IPv4 (checksum correct) + TCP, 64 bytes.
fn packet() -> Vec<u8> {
    let mut p = vec![0u8; 64];
    p[12] = 0x08;
    p[14..34].copy_from_slice(&[
        0x45, 0, 0, 50, 0, 1, 0, 0, 64, 6, 0x66, 0xc3, 10, 0, 0, 1, 10, 0, 0, 2,
    ]);
    p[34..38].copy_from_slice(&[0x9c, 0x40, 0x00, 0x17]);
    p[50..52].copy_from_slice(&[0x12, 0x34]);
    p
}

/// One case: a program of type `pt`, optionally with a read-only string map
/// (map[idx:0], one value holding `strings`).
struct Case<'a> {
    name: &'a str,
    pt: &'static ProgType,
    asm: String,
    strings: Option<&'a [u8]>,
}

fn kernel_side(c: &Case) -> Result<(u32, Vec<u8>), String> {
    let slots = assemble_program(&c.asm).map_err(|e| e.to_string())?;
    let words: Vec<u64> = slots.slots().iter().map(|s| s.to_u64()).collect();
    let map = match c.strings {
        Some(s) => {
            let m = KernelMap::create(&MapCreate {
                map_flags: BPF_F_RDONLY_PROG,
                ..MapCreate::new(2, 4, s.len() as u32, 1)
            })
            .map_err(|e| e.to_string())?;
            m.update(&0u32.to_ne_bytes(), s, 0)
                .map_err(|e| format!("update: {e}"))?;
            m.freeze().map_err(|e| format!("freeze: {e}"))?;
            Some(m)
        }
        None => None,
    };
    let fds: Vec<i32> = map.iter().map(|m| m.raw_fd()).collect();
    let out = load_program(&ProgLoad {
        prog_type: c.pt.kernel_id(),
        insns: &words,
        fd_array: &fds,
        ..Default::default()
    });
    let prog = out
        .result
        .map_err(|e| format!("{e}: {}", out.first_error_line.unwrap_or_default()))?;
    let r = prog
        .test_run(&TestRun {
            data: &packet(),
            ..Default::default()
        })
        .map_err(|e| e.to_string())?;
    Ok((r.retval, r.data_out))
}

fn ours_side(c: &Case) -> (u32, Vec<u8>) {
    let maps = c
        .strings
        .map(|s| MapDef {
            name: ".rodata".into(),
            map_type: 2,
            key_size: 4,
            value_size: s.len() as u32,
            max_entries: 1,
            map_flags: BPF_F_RDONLY_PROG,
            pinning: 0,
            numa_node: 0,
            inner: None,
            init_slots: Vec::new(),
            initial_value: Some(s.to_vec()),
            frozen: true,
            kind: MapKind::GlobalData(".rodata".into()),
            btf_key_type_id: 0,
            btf_value_type_id: 0,
        })
        .into_iter()
        .collect();
    let obj = Object {
        programs: Vec::new(),
        maps,
        license: "GPL".into(),
        kern_version: None,
        btf: None,
    };
    let loaded = LoadedObject::new(obj, &HelperRegistry::new()).unwrap();
    let prog = assemble_program(&c.asm).unwrap();
    let vm = Interpreter::with_resolver(
        &prog,
        &loaded.helpers_for(Some(c.pt)),
        Options::default(),
        Some(&loaded),
    )
    .unwrap_or_else(|e| panic!("{}: {e}", c.name));
    let mut ctx = vec![0u8; c.pt.ctx_size as usize];
    // A socket filter sees the skb from its network header.
    let skip = if c.pt.id == Some(ironbpf_vm::progtype::ProgTypeId::SocketFilter) {
        14
    } else {
        0
    };
    let mut pkt = packet()[skip..].to_vec();
    if c.pt.id == Some(ironbpf_vm::progtype::ProgTypeId::SocketFilter) {
        ctx[..4].copy_from_slice(&(pkt.len() as u32).to_ne_bytes());
    }
    let r0 = vm
        .run_ctx(c.pt, &mut ctx, Some(&mut pkt), Some(loaded.resolver()))
        .unwrap_or_else(|e| panic!("{}: {e}", c.name));
    let mut full = packet()[..skip].to_vec();
    full.extend(pkt);
    (r0 as u32, full)
}

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

fn cases() -> Vec<Case<'static>> {
    let tc = &progtype::SCHED_CLS;
    let xdp = &progtype::XDP;
    let sf = &progtype::SOCKET_FILTER;
    let mut v = Vec::new();
    for (from, to, seed) in [
        (0x0a00_0001u64, 0x0a00_0009u64, 0u64),
        (0xffff_ffff, 0, 0),
        (0, 0, 0xffff_ffff),
        (0x1234_5678, 0x1234_5678, 7),
        (0x8000_0000, 0x7fff_ffff, 0xdead_beef),
    ] {
        v.push(Case {
            name: "csum_diff",
            pt: tc,
            asm: format!(
                "r1 = {from:#x} ll\n*(u64 *)(r10 -8) = r1\nr1 = {to:#x} ll\n*(u64 *)(r10 -16) = r1\n\
                 r1 = r10\nr1 += -8\nr2 = 8\nr3 = r10\nr3 += -16\nr4 = 8\nr5 = {seed:#x} ll\ncall bpf_csum_diff\nexit\n"
            ),
            strings: None,
        });
    }
    v.push(Case {
        name: "csum_diff bad size",
        pt: tc,
        asm: "r1 = r10\nr1 += -8\n*(u64 *)(r10 -8) = 0\nr2 = 6\nr3 = 0\nr4 = 0\nr5 = 0\ncall bpf_csum_diff\nexit\n".into(),
        strings: None,
    });
    let old = u32::from_ne_bytes([10, 0, 0, 2]);
    let new = u32::from_ne_bytes([10, 0, 0, 9]);
    for (name, call, off, from, to, flags) in [
        (
            "l3 size 4",
            "bpf_l3_csum_replace",
            24,
            old as u64,
            new as u64,
            4u64,
        ),
        ("l3 size 2", "bpf_l3_csum_replace", 24, 0x0200, 0x0900, 2),
        ("l3 by diff", "bpf_l3_csum_replace", 24, 0, 0x0007_0000, 0),
        ("l3 bad flags", "bpf_l3_csum_replace", 24, 0, 0, 0x10),
        ("l3 odd offset", "bpf_l3_csum_replace", 25, 0, 0, 2),
        ("l3 past the end", "bpf_l3_csum_replace", 64, 0, 0, 2),
        (
            "l4 size 4 pseudo",
            "bpf_l4_csum_replace",
            50,
            old as u64,
            new as u64,
            0x14,
        ),
        ("l4 size 2", "bpf_l4_csum_replace", 50, 0x0200, 0x0900, 2),
        (
            "l4 mangled 0 on zero",
            "bpf_l4_csum_replace",
            40,
            old as u64,
            new as u64,
            0x24,
        ),
        ("l4 by diff", "bpf_l4_csum_replace", 50, 0, 0x1234, 0),
        ("l4 unknown flag", "bpf_l4_csum_replace", 50, 0, 0, 1 << 9),
    ] {
        v.push(Case {
            name,
            pt: tc,
            asm: format!(
                "r2 = {off}\nr3 = {from:#x} ll\nr4 = {to:#x} ll\nr5 = {flags}\ncall {call}\nexit\n"
            ),
            strings: None,
        });
    }
    for (pt, off, len) in [
        (tc, 26, 4),
        (tc, 60, 8),
        (sf, 12, 4),
        (sf, 46, 4),
        (sf, 47, 4),
    ] {
        v.push(Case {
            name: "skb_load_bytes",
            pt,
            asm: format!(
                "*(u64 *)(r10 -8) = -1\nr2 = {off}\nr3 = r10\nr3 += -8\nr4 = {len}\ncall bpf_skb_load_bytes\nr1 = *(u32 *)(r10 -8)\nr0 ^= r1\nexit\n"
            ),
            strings: None,
        });
    }
    for (off, flags) in [(40, 0), (40, 1), (40, 4), (62, 0)] {
        v.push(Case {
            name: "skb_store_bytes",
            pt: tc,
            asm: format!("*(u32 *)(r10 -4) = 0x11223344\nr2 = {off}\nr3 = r10\nr3 += -4\nr4 = 4\nr5 = {flags}\ncall bpf_skb_store_bytes\nexit\n"),
            strings: None,
        });
    }
    for (s, flags) in [
        (&b" -123x"[..], 0u64),
        (b"0x7f", 0),
        (b"0x7f", 16),
        (b"0777", 0),
        (b"zz", 10),
        (b"9223372036854775808", 10),
        (b"-9223372036854775808", 10),
        (b"  ", 0),
        (b"12", 3),
        (b"12", 1 << 5),
    ] {
        for call in ["bpf_strtol", "bpf_strtoul"] {
            v.push(Case {
                name: call,
                pt: sf,
                asm: stack_bytes(s, 32)
                    + &format!(
                        "*(u64 *)(r10 -8) = 0\nr1 = r10\nr1 += -32\nr2 = {}\nr3 = {flags}\nr4 = r10\nr4 += -8\ncall {call}\nr1 = *(u64 *)(r10 -8)\nr0 <<= 16\nr0 ^= r1\nexit\n",
                        s.len()
                    ),
                strings: None,
            });
        }
    }
    for (s, n) in [
        (&b"abcd"[..], 3u32),
        (b"abcd", 4),
        (b"abd\0", 4),
        (b"ab\0\0", 4),
        (b"b\0\0\0", 1),
    ] {
        v.push(Case {
            name: "strncmp",
            pt: sf,
            asm: stack_bytes(s, 8)
                + &format!(
                    "r1 = r10\nr1 += -8\nr2 = {n}\nr3 = map[idx:0][0]+0\ncall bpf_strncmp\nexit\n"
                ),
            strings: Some(b"abce\0\0\0\0"),
        });
    }
    // (A format the kernel cannot render, "%f", is refused by its verifier,
    // which checks constant format strings at load: the verifier's job.)
    for fmt in [
        &b"%05u|%x\0"[..],
        b"[%-4d]\0\0",
        b"%c%c%%\0\0",
        b"%lld %lx\0",
    ] {
        v.push(Case {
            name: "snprintf",
            pt: xdp,
            // The buffer is zeroed first: snprintf writes up to its NUL only.
            asm: "r6 = r1\n*(u64 *)(r10 -16) = 0\n*(u64 *)(r10 -8) = 0\n*(u64 *)(r10 -32) = -42\n*(u64 *)(r10 -24) = 255\n\
                  r1 = r10\nr1 += -16\nr2 = 16\nr3 = map[idx:0][0]+0\nr4 = r10\nr4 += -32\nr5 = 16\ncall bpf_snprintf\n\
                  r7 = r0\nr2 = *(u32 *)(r6 +0)\nr3 = *(u32 *)(r6 +4)\nr1 = r2\nr1 += 16\nif r1 > r3 goto +4\n\
                  r1 = *(u64 *)(r10 -16)\n*(u64 *)(r2 +0) = r1\nr1 = *(u64 *)(r10 -8)\n*(u64 *)(r2 +8) = r1\nr0 = r7\nexit\n"
                .into(),
            strings: Some(fmt),
        });
    }
    for (off, len) in [(26u32, 8u32), (60, 8), (0, 64)] {
        v.push(Case {
            name: "xdp_load_bytes",
            pt: xdp,
            asm: format!("r6 = r1\n*(u64 *)(r10 -64) = 0\nr2 = {off}\nr3 = r10\nr3 += -64\nr4 = {len}\ncall bpf_xdp_load_bytes\nr1 = *(u32 *)(r10 -64)\nr0 ^= r1\nexit\n"),
            strings: None,
        });
    }
    v.push(Case {
        name: "xdp_store_bytes and get_buff_len",
        pt: xdp,
        asm: "r6 = r1\n*(u32 *)(r10 -4) = 0x0100a8c0\nr2 = 26\nr3 = r10\nr3 += -4\nr4 = 4\ncall bpf_xdp_store_bytes\nr1 = r6\ncall bpf_xdp_get_buff_len\nexit\n".into(),
        strings: None,
    });
    for (name, asm) in [
        ("csum_level query", "r2 = 0\ncall bpf_csum_level\nexit\n"),
        ("csum_level inc", "r2 = 1\ncall bpf_csum_level\nexit\n"),
        ("csum_level bad", "r2 = 9\ncall bpf_csum_level\nexit\n"),
        ("csum_update", "r2 = 5\ncall bpf_csum_update\nexit\n"),
        ("skb_pull_data", "r2 = 64\ncall bpf_skb_pull_data\nexit\n"),
        (
            "skb_pull_data past the end",
            "r2 = 65\ncall bpf_skb_pull_data\nexit\n",
        ),
        ("get_socket_uid", "call bpf_get_socket_uid\nexit\n"),
        ("get_cgroup_classid", "call bpf_get_cgroup_classid\nexit\n"),
        ("get_route_realm", "call bpf_get_route_realm\nexit\n"),
        (
            "redirect ingress",
            "r1 = 1\nr2 = 1\ncall bpf_redirect\nexit\n",
        ),
        (
            "redirect bad flags",
            "r1 = 1\nr2 = 2\ncall bpf_redirect\nexit\n",
        ),
    ] {
        v.push(Case {
            name,
            pt: tc,
            asm: asm.into(),
            strings: None,
        });
    }
    v.push(Case {
        name: "xdp redirect bad flags",
        pt: xdp,
        asm: "r1 = 1\nr2 = 1\ncall bpf_redirect\nexit\n".into(),
        strings: None,
    });
    v
}

#[test]
fn helpers_agree_with_the_kernel() {
    if !ironbpf_kernel::available_for_test("helpers_agree_with_the_kernel") {
        return;
    }
    let mut failures = Vec::new();
    let mut n = 0;
    for c in cases() {
        let theirs = match kernel_side(&c) {
            Ok(t) => t,
            Err(e) => {
                failures.push(format!(
                    "{}: the kernel refused the test program: {e}\n{}",
                    c.name, c.asm
                ));
                continue;
            }
        };
        let mut ours = ours_side(&c);
        let mut theirs = theirs;
        if c.pt.id == Some(ironbpf_vm::progtype::ProgTypeId::SocketFilter) {
            // The kernel's test run hands a socket filter's frame back with
            // its Ethernet protocol field cleared; the program never sees
            // those bytes (its skb starts at the network header).
            ours.1.drain(..14);
            theirs.1.drain(..14.min(theirs.1.len()));
        }
        n += 1;
        if ours != theirs {
            failures.push(format!(
                "{}: ours r0 = {:#x}, kernel r0 = {:#x}{}\n{}",
                c.name,
                ours.0,
                theirs.0,
                if ours.1 != theirs.1 {
                    format!(
                        " (packets differ: ours {} bytes {:02x?}, kernel {} bytes {:02x?})",
                        ours.1.len(),
                        &ours.1[..ours.1.len().min(20)],
                        theirs.1.len(),
                        &theirs.1[..theirs.1.len().min(20)]
                    )
                } else {
                    String::new()
                },
                c.asm
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {n} cases:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(n >= 60, "{n} cases ran");
}
