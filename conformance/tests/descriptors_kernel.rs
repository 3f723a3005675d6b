//! Every program-type descriptor probe (context accesses and return values,
//! per type and attach type) against the running kernel: any disagreement
//! fails, and so does a type the kernel will not load.

use ironbpf_conformance::descriptors::{self, Groups};

#[test]
fn descriptors_agree_with_the_kernel() {
    if !ironbpf_kernel::available_for_test("descriptors_agree_with_the_kernel") {
        return;
    }
    let report = descriptors::run(
        Groups {
            ctx: true,
            returns: true,
        },
        None,
        |_| {},
    );
    // lirc_mode2 needs CONFIG_BPF_LIRC_MODE2, which distribution kernels
    // leave out; every other type must load.
    assert!(
        report.unloadable.iter().all(|(l, _)| l == "lirc_mode2"),
        "the kernel refused these types' simplest program: {:?}",
        report.unloadable
    );
    let bad: Vec<String> = report
        .results
        .iter()
        .filter(|r| !r.agreed())
        .take(40)
        .map(|r| {
            format!(
                "{} {}: {}: ironbpf accepts {}, kernel accepts {} ({})",
                r.group,
                r.subject,
                r.probe,
                r.predicted,
                r.kernel,
                r.kernel_message.as_deref().unwrap_or("")
            )
        })
        .collect();
    assert!(bad.is_empty(), "disagreements:\n{}", bad.join("\n"));
    let summary = descriptors::summarize(&report.results);
    for g in &summary {
        eprintln!("{}: {} probes, {} agreed", g.group, g.probes, g.agreed);
    }
    // The rows of issue 9's table, each as the kernel decided it.
    let verdict = |subject: &str, probe: &str| {
        report
            .results
            .iter()
            .find(|r| r.subject == subject && r.probe == probe)
            .map(|r| r.kernel)
            .unwrap_or_else(|| panic!("no probe {subject}: {probe}"))
    };
    assert!(!verdict("socket_filter", "load u32 at off 76"));
    assert!(!verdict("socket_filter", "store reg u32 at off 8"));
    assert!(verdict("sched_cls", "store reg u32 at off 12"));
    assert!(!verdict("sched_cls", "load u16 at off 1"));
    assert!(verdict("sched_cls", "load u64 at off 168"));
    assert!(!verdict("xdp", "load u8 at off 12"));
    assert!(!verdict("xdp", "load u32 at off 20"));
    assert!(verdict("xdp/xdp_devmap", "load u32 at off 20"));
    assert!(!verdict("tracepoint", "load u64 at off 0"));
    assert!(verdict("tracepoint", "load u64 at off 4096"));
    assert!(!verdict("cgroup_skb", "r0 = 0x5"));
    assert!(verdict("cgroup_skb/cgroup_inet_egress", "r0 = 0x3"));
    assert!(summary.iter().all(|g| g.probes > 0));
}

/// The values of the enum `name` in the running kernel's BTF, from a
/// minimal reader of the BTF type section (enough to walk to the enums).
fn btf_enum(btf: &[u8], name: &str) -> Option<Vec<(String, i64)>> {
    let u32_at = |b: &[u8], o: usize| u32::from_le_bytes(b[o..o + 4].try_into().unwrap());
    let hdr_len = u32_at(btf, 4) as usize;
    let (type_off, type_len) = (u32_at(btf, 8) as usize, u32_at(btf, 12) as usize);
    let (str_off, str_len) = (u32_at(btf, 16) as usize, u32_at(btf, 20) as usize);
    let types = &btf[hdr_len + type_off..hdr_len + type_off + type_len];
    let strs = &btf[hdr_len + str_off..hdr_len + str_off + str_len];
    let s = |o: usize| {
        let end = strs[o..].iter().position(|&b| b == 0).unwrap_or(0);
        String::from_utf8_lossy(&strs[o..o + end]).into_owned()
    };
    let mut i = 0;
    while i + 12 <= types.len() {
        let (name_off, info) = (u32_at(types, i) as usize, u32_at(types, i + 4));
        i += 12;
        let (kind, vlen) = ((info >> 24) & 0x1f, (info & 0xffff) as usize);
        // The bytes that follow each kind's common header (btf.h).
        let extra = match kind {
            1 | 14 | 17 => 4,             // INT, VAR, DECL_TAG
            3 => 12,                      // ARRAY
            4 | 5 | 15 | 19 => 12 * vlen, // STRUCT, UNION, DATASEC, ENUM64
            6 | 13 => 8 * vlen,           // ENUM, FUNC_PROTO
            _ => 0,
        };
        if kind == 6 && s(name_off) == name {
            return Some(
                (0..vlen)
                    .map(|j| {
                        let o = i + 8 * j;
                        (
                            s(u32_at(types, o) as usize),
                            u32_at(types, o + 4) as i32 as i64,
                        )
                    })
                    .collect(),
            );
        }
        i += extra;
    }
    None
}

#[test]
fn prog_and_attach_type_enums_match_the_running_kernel() {
    if let Err(u) = ironbpf_kernel::probe_btf() {
        assert!(
            std::env::var("IRONBPF_REQUIRE_KERNEL").as_deref() != Ok("1"),
            "IRONBPF_REQUIRE_KERNEL=1 but {}",
            u.reason
        );
        eprintln!(
            "skipped: prog_and_attach_type_enums_match_the_running_kernel: {}",
            u.reason
        );
        return;
    }
    use ironbpf_progtype::{AttachType, ProgTypeId};
    let btf = std::fs::read("/sys/kernel/btf/vmlinux").unwrap();
    let check = |enum_name: &str, prefix: &str, ours: Vec<(String, u32)>| {
        let theirs = btf_enum(&btf, enum_name).unwrap_or_else(|| panic!("no enum {enum_name}"));
        let theirs: Vec<(String, u32)> = theirs
            .into_iter()
            .filter(|(n, _)| !n.starts_with("__MAX"))
            .map(|(n, v)| (n.trim_start_matches(prefix).to_lowercase(), v as u32))
            .collect();
        assert_eq!(ours, theirs, "{enum_name}");
    };
    check(
        "bpf_prog_type",
        "BPF_PROG_TYPE_",
        ProgTypeId::ALL
            .iter()
            .map(|p| (p.name().to_string(), p.kernel_id()))
            .collect(),
    );
    // The kernel's attach-type names drop the BPF_ prefix and nothing else.
    check(
        "bpf_attach_type",
        "BPF_",
        AttachType::ALL
            .iter()
            .map(|a| (a.name().to_string(), a.kernel_id()))
            .collect(),
    );
}
