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
