//! The kfunc table (`ironbpf_verifier::kfunc_table`) against the running
//! kernel: every kfunc vmlinux BTF tags `bpf_kfunc` is in the table, and
//! for every probed program type a program that calls it
//! (`call kfunc; r0 = 0; exit`) is refused with `calling kernel function
//! %s is not allowed` exactly where the table says the type may not call
//! it. On a disagreement the test prints the table rows the kernel implies.
//! Skips with a `skipped:` line where bpf(2) or vmlinux BTF cannot be used
//! (fails instead under IRONBPF_REQUIRE_KERNEL=1).

mod vmlinux_or_skip;
use ironbpf_btf::kind;
use ironbpf_kernel::{load_program, ProgLoad};
use ironbpf_progtype::ProgTypeId;
use ironbpf_verifier::kfunc_table::{lookup, KFUNCS, PROBED};
use vmlinux_or_skip::vmlinux_or_skip;

/// The names vmlinux BTF tags as kfuncs (`DECL_TAG bpf_kfunc` on a FUNC).
fn tagged(v: &ironbpf_verifier::vmlinux::Vmlinux) -> Vec<(String, u32)> {
    let mut out = Vec::new();
    for (i, t) in v.btf.types.iter().enumerate() {
        if t.kind == kind::DECL_TAG && v.btf.str_at(t.name_off) == "bpf_kfunc" {
            let f = t.size_or_type;
            if v.btf.kind_of(f) == kind::FUNC {
                out.push((v.name(f).to_string(), f));
            }
        }
        let _ = i;
    }
    out.sort();
    out.dedup();
    out
}

#[test]
fn the_table_lists_every_kfunc_of_vmlinux_sorted() {
    let Some(v) = vmlinux_or_skip() else {
        return;
    };
    assert!(
        KFUNCS.windows(2).all(|w| w[0].name < w[1].name),
        "KFUNCS must be sorted by name (lookup binary-searches it)"
    );
    let missing: Vec<String> = tagged(&v)
        .into_iter()
        .filter(|(n, _)| lookup(n).is_none())
        .map(|(n, _)| n)
        .collect();
    assert!(
        missing.is_empty(),
        "kfuncs of this kernel missing from the table: {missing:?}"
    );
}

#[test]
fn the_program_types_of_each_kfunc_agree_with_the_kernel() {
    let Some(v) = vmlinux_or_skip() else {
        return;
    };
    if !ironbpf_kernel::available_for_test("prog_kfunc_table") {
        return;
    }
    let tp = v
        .find("btf_trace_sched_switch", kind::TYPEDEF)
        .expect("btf_trace_sched_switch");
    // A kernel that refuses to create arenas (this machine's 6.18.44 does,
    // with EPERM even for root, and then refuses the arena kfuncs to every
    // program type) says nothing about which types may call them: the
    // table keeps 6.18's rows (BPF_PROG_TYPE_UNSPEC: every type).
    let arena = ironbpf_kernel::KernelMap::create(&ironbpf_kernel::MapCreate {
        map_flags: 1 << 10, // BPF_F_MMAPABLE
        ..ironbpf_kernel::MapCreate::new(33, 0, 0, 1)
    });
    let arenas = match &arena {
        Ok(_) => true,
        Err(e) => {
            eprintln!("this kernel cannot create an arena map ({e}): the bpf_arena_* rows are not compared");
            false
        }
    };
    let mut wrong = Vec::new();
    let mut loads = 0;
    for (name, id) in tagged(&v) {
        let Some(entry) = lookup(&name) else { continue };
        if !arenas && name.starts_with("bpf_arena_") {
            continue;
        }
        // call kfunc; r0 = 0; exit
        let words = [0x85u64 | (2u64 << 12) | ((id as u64) << 32), 0xb7, 0x95];
        let mut types = 0u32;
        for &(bit, ty, attach) in PROBED {
            let k = load_program(&ProgLoad {
                prog_type: ty.kernel_id(),
                expected_attach_type: attach.map_or(0, |a| a.kernel_id()),
                attach_btf_id: if ty == ProgTypeId::Tracing { tp } else { 0 },
                insns: &words,
                name: "kfunc_probe",
                log_level: 1,
                prog_flags: if ty == ProgTypeId::Syscall { 1 << 4 } else { 0 },
                ..Default::default()
            });
            loads += 1;
            if !k.log.contains("is not allowed") {
                types |= bit;
            }
        }
        if types != entry.types {
            wrong.push(format!(
                "{name}: the table says {:#x}, the kernel {types:#x}",
                entry.types
            ));
        }
    }
    eprintln!("{loads} probe loads");
    assert!(
        wrong.is_empty(),
        "the kfunc table disagrees with the kernel:\n{}",
        wrong.join("\n")
    );
}
