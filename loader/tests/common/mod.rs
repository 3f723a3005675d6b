//! Shared by the loader's integration tests: where the corpus is, and which of its objects need
//! a program type or cannot be loaded.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use ironbpf_loader::prog_type;

pub fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus/ebpf-samples")
}

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

pub fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// Corpus objects whose sections follow no naming convention, with the program type their
/// project loads them as (iproute2 `tc`/`ip route`, AF_PACKET sockets, PREVAIL test harness).
pub const NEEDS_TYPE: &[(&str, u32)] = &[
    ("build/badhelpercall.o", prog_type::XDP),
    ("build/badmapptr.o", prog_type::XDP),
    ("build/bounded_loop.o", prog_type::XDP),
    ("build/bpf2bpf.o", prog_type::XDP),
    ("build/byteswap.o", prog_type::XDP),
    ("build/divzero.o", prog_type::XDP),
    ("build/exposeptr.o", prog_type::XDP),
    ("build/exposeptr2.o", prog_type::XDP),
    ("build/global_variable.o", prog_type::XDP),
    ("build/global_variable_2.o", prog_type::XDP),
    ("build/infinite_loop.o", prog_type::XDP),
    ("build/loop.o", prog_type::XDP),
    ("build/map_in_map.o", prog_type::XDP),
    ("build/map_in_map_anonymous.o", prog_type::XDP),
    ("build/map_in_map_legacy.o", prog_type::XDP),
    ("build/map_in_map_typedef.o", prog_type::XDP),
    ("build/mapoverflow.o", prog_type::XDP),
    ("build/mapunderflow.o", prog_type::XDP),
    ("build/mapvalue-overrun.o", prog_type::XDP),
    ("build/nullmapref.o", prog_type::XDP),
    ("build/prog_array.o", prog_type::XDP),
    ("build/ringbuf_in_map.o", prog_type::XDP),
    ("build/ringbuf_uninit.o", prog_type::XDP),
    ("build/stackok.o", prog_type::XDP),
    ("build/store_map_value_in_map.o", prog_type::XDP),
    ("build/twomaps.o", prog_type::XDP),
    ("build/twomaps_btf.o", prog_type::XDP),
    ("build/twostackvars.o", prog_type::XDP),
    ("build/twotypes.o", prog_type::XDP),
    ("linux/lwt_len_hist_kern.o", prog_type::LWT_OUT),
    ("linux/tc_l2_redirect_kern.o", prog_type::SCHED_CLS),
    ("linux/tcbpf1_kern.o", prog_type::SCHED_CLS),
    ("linux/test_cgrp2_tc_kern.o", prog_type::SCHED_CLS),
    ("linux/xdp2skb_meta_kern.o", prog_type::SCHED_CLS),
    ("ovs/datapath.o", prog_type::SCHED_CLS),
    (
        "prototype-kernel/tc_bench01_redirect_kern.o",
        prog_type::SCHED_CLS,
    ),
    ("prototype-kernel/xdp_vlan01_kern.o", prog_type::SCHED_CLS),
    ("suricata/bypass_filter.o", prog_type::SOCKET_FILTER),
    ("suricata/filter.o", prog_type::SOCKET_FILTER),
    ("suricata/lb.o", prog_type::SOCKET_FILTER),
    ("suricata/vlan_filter.o", prog_type::SOCKET_FILTER),
];

/// Corpus objects that cannot be loaded: both call a function that is not defined in the object
/// (PREVAIL's "bad relocation" tests), which libbpf refuses as well. Their code sits in .text, so
/// they first need a program type (XDP here) like the PREVAIL objects of NEEDS_TYPE.
pub const REFUSED: &[(&str, &str)] = &[
    (
        "build/badrelo.o",
        "section .text: relocation at offset 0x28: call to symbol 13 (ebpf_map_update_elem) which is not defined in a code section",
    ),
    (
        "build/externalfunction.o",
        "section .text: relocation at offset 0x30: call to symbol 14 (bpf_map_lookup_elem) which is not defined in a code section",
    ),
];

/// The corpus objects outside `invalid/`, as (path relative to the corpus, full path).
pub fn corpus_objects() -> Vec<(String, PathBuf)> {
    let root = corpus_dir();
    let mut files = Vec::new();
    walk(&root, &mut files);
    files
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "o"))
        .filter(|p| !p.starts_with(root.join("invalid")))
        .map(|p| {
            (
                p.strip_prefix(&root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned(),
                p,
            )
        })
        .collect()
}

/// The program type to give `rel` (from [`NEEDS_TYPE`]), if any.
pub fn type_for(rel: &str) -> Option<u32> {
    NEEDS_TYPE.iter().find(|(n, _)| *n == rel).map(|(_, t)| *t)
}

/// Whether the shared corpus (`../shared` beside the repository) is here;
/// when it is not, prints `skipped: ../shared not found` with the path and
/// the test's name, and the test returns without checking anything.
pub fn corpus_present(test: &str) -> bool {
    shared_present(test, &corpus_dir())
}

/// [`corpus_present`] for any path under `../shared`.
pub fn shared_present(test: &str, path: &Path) -> bool {
    if path.exists() {
        return true;
    }
    println!(
        "skipped: ../shared not found ({} is missing; {test} reads it)",
        path.display()
    );
    false
}
