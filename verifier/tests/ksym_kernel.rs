//! Kernel variables by BTF id (`ld_imm64` with `BPF_PSEUDO_BTF_ID`, a
//! typed `extern ... __ksym`), against the running kernel: a per-CPU
//! variable (vmlinux BTF has VARs only for those), an id that is no VAR
//! or FUNC, an id past the end of the BTF, and a function. Both verifiers
//! must give the same verdict, error line and instruction, and at level 2
//! the same log. (A kernel without CONFIG_KALLSYMS_ALL, as this machine's,
//! finds no variable's address and refuses the first before any
//! instruction; ironbpf reads /proc/kallsyms to know.)
//!
//! Skips (printing `skipped: ...`) when bpf(2) is not permitted, unless
//! IRONBPF_REQUIRE_KERNEL=1.

mod kernel_case;
mod vmlinux_or_skip;

use ironbpf_btf::kind;
use ironbpf_isa::asm::assemble;
use ironbpf_kernel::{load_program, ProgLoad};
use ironbpf_progtype::ProgTypeId;
use ironbpf_verifier::{verify, VerifyOptions};
use kernel_case::last_line;
use vmlinux_or_skip::vmlinux_or_skip;

fn check(name: &str, text: &str, refused_with: Option<&str>) {
    if !ironbpf_kernel::available_for_test(name) {
        return;
    }
    let insns = assemble(text).unwrap_or_else(|e| panic!("{name}: {e}"));
    let words: Vec<u64> = insns.iter().map(|i| i.to_u64()).collect();
    for level in [1u32, 2] {
        let k = load_program(&ProgLoad {
            prog_type: ProgTypeId::Kprobe.kernel_id(),
            insns: &words,
            name: "ksym",
            log_level: level,
            ..Default::default()
        });
        let mut opts = VerifyOptions::new(ProgTypeId::Kprobe);
        opts.log_level = level;
        let ours = verify(&insns, &opts);
        assert_eq!(
            k.accepted(),
            ours.result.is_ok(),
            "{name}: verdicts\n--- kernel\n{}\n--- ironbpf\n{}",
            k.log,
            ours.log
        );
        if let Err(r) = &ours.result {
            assert_eq!(k.first_error_line.as_deref(), Some(last_line(r)), "{name}");
            assert_eq!(k.error_insn, r.insn, "{name}: the instruction");
        }
        if let Some(line) = refused_with {
            let got = ours.result.as_ref().err().map(last_line);
            // What this machine's kernel says; a kernel that finds the
            // variable accepts it, and ironbpf with it.
            if !k.accepted() {
                assert_eq!(got, Some(line), "{name}");
            }
        }
        if level == 2 {
            let strip = |l: &str| {
                l.lines()
                    .filter(|x| !x.starts_with("verification time"))
                    .map(|x| {
                        // The kernel prints the address it put in.
                        match x.find("r1 = 0x") {
                            Some(i) => format!("{}r1 = ADDR", &x[..i]),
                            None => x.to_string(),
                        }
                    })
                    .collect::<Vec<_>>()
            };
            let (kl, ol) = (strip(&k.log), strip(&ours.log));
            // ironbpf's listing names the variable by its BTF id.
            let ol: Vec<String> = ol
                .into_iter()
                .map(|x| match x.find("r1 = btf_id[") {
                    Some(i) => format!("{}r1 = ADDR", &x[..i]),
                    None => x,
                })
                .collect();
            assert_eq!(kl, ol, "{name}: level-2 logs");
        }
    }
}

#[test]
fn a_per_cpu_variable() {
    let Some(v) = vmlinux_or_skip() else { return };
    let id = v
        .find("runqueues", kind::VAR)
        .expect("runqueues in vmlinux BTF");
    check(
        "a_per_cpu_variable",
        &format!("r1 = btf_id[{id}]\nr0 = 0\nexit"),
        Some("ldimm64 failed to find the address for kernel symbol 'runqueues'."),
    );
}

#[test]
fn an_id_that_is_no_variable() {
    let Some(v) = vmlinux_or_skip() else { return };
    // Type 1 of vmlinux BTF is no VAR or FUNC.
    let k = v.btf.kind_of(1);
    assert!(k != kind::VAR && k != kind::FUNC);
    check(
        "an_id_that_is_no_variable",
        "r1 = btf_id[1]\nr0 = 0\nexit",
        Some("pseudo btf_id 1 in ldimm64 isn't KIND_VAR or KIND_FUNC"),
    );
}

#[test]
fn an_id_past_the_end() {
    let Some(v) = vmlinux_or_skip() else { return };
    let id = v.btf.types.len() + 10;
    check(
        "an_id_past_the_end",
        &format!("r1 = btf_id[{id}]\nr0 = 0\nexit"),
        Some(&format!("ldimm64 insn specifies invalid btf_id {id}.")),
    );
}

#[test]
fn a_function_is_read_only_memory_of_size_zero() {
    let Some(v) = vmlinux_or_skip() else { return };
    let id = v
        .find("bpf_dynptr_slice", kind::FUNC)
        .expect("bpf_dynptr_slice in vmlinux BTF");
    // rdonly_mem(sz=0): no byte may be read.
    check(
        "a_function_is_read_only_memory_of_size_zero",
        &format!("r1 = btf_id[{id}]\nr0 = 0\nexit"),
        None,
    );
    check(
        "a_function_has_no_bytes_to_read",
        &format!("r1 = btf_id[{id}]\nr0 = *(u8 *)(r1 +0)\nexit"),
        None,
    );
}

#[test]
fn typed_ksyms_of_an_object() {
    // tests/fixtures/ksym/ksyms.c: per-CPU variables through
    // bpf_this_cpu_ptr and bpf_per_cpu_ptr.
    if !ironbpf_kernel::available_for_test("typed_ksyms_of_an_object") {
        return;
    }
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ksym/ksyms.o");
    let obj = ironbpf_loader::load_file(&path, &ironbpf_loader::LoadOptions::default())
        .unwrap_or_else(|e| panic!("ksyms.o: {e}"));
    let kobj = ironbpf_kernel::object::KernelObject::create(&obj).expect("its BTF");
    assert_eq!(obj.programs.len(), 2);
    for p in &obj.programs {
        let slots = ironbpf_isa::slots_from_bytes(&p.insns).expect("whole instructions");
        let k = kobj.load_program(p, 1);
        let mut opts = VerifyOptions::new(ProgTypeId::Kprobe);
        opts.log_level = 1;
        opts.set_btf(
            obj.btf.as_deref(),
            p.func_info.iter().map(|f| (f.insn, f.type_id)),
        );
        let ours = verify(&slots, &opts);
        if k.accepted() {
            // A kernel that finds per-CPU variables (CONFIG_KALLSYMS_ALL):
            // ironbpf does not model bpf_this_cpu_ptr's per-CPU BTF
            // argument yet, and says so.
            if let Err(r) = &ours.result {
                assert!(
                    r.message
                        .contains("does not track the BTF type of pointers"),
                    "{}: {r}",
                    p.name
                );
            }
            continue;
        }
        let r = ours
            .result
            .as_ref()
            .err()
            .unwrap_or_else(|| panic!("{}: ironbpf accepted it", p.name));
        assert_eq!(k.error_insn, r.insn, "{}", p.name);
        assert_eq!(
            k.first_error_line.as_deref(),
            Some(last_line(r)),
            "{}",
            p.name
        );
    }
}
