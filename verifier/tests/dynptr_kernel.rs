//! Dynptrs against the running kernel: our own BPF C programs
//! (tests/fixtures/dynptr, rebuilt by its build.sh) that make and use
//! dynptrs as real programs do: ring buffer records reserved, filled
//! through slices and submitted or discarded, XDP and TC packets parsed
//! through `bpf_dynptr_slice`, map values as local dynptrs, clones and
//! `bpf_dynptr_adjust`; and one mistake per refused program (a leaked or
//! reused record, stores over a dynptr, a dynptr never made or of the
//! wrong type, slices used after their dynptr or packet changed, a
//! writable slice where packets are read-only, a packet slice kept across
//! `bpf_xdp_adjust_head`, `bpf_dynptr_write` to an skb or
//! `bpf_xdp_pull_data`).
//!
//! Each program is loaded in the kernel and verified by ironbpf: the
//! verdict, the failing instruction and the error line must be the ones
//! written here for both, and the whole level-2 logs must be the same
//! (source lines, which ironbpf is not given here, and the verification
//! time aside; map addresses as `ADDR`).
//!
//! Skips (printing `skipped: ...`) when bpf(2) is not permitted, unless
//! IRONBPF_REQUIRE_KERNEL=1.

mod kernel_case;

use ironbpf_loader::{LoadOptions, Object, Program};
use ironbpf_progtype::ProgTypeId;
use ironbpf_verifier::{verify, MapInfo, VerifyOptions, VerifyOutcome};
use kernel_case::*;
use std::path::Path;

/// A program of a fixture and how both verifiers must end.
struct Case {
    prog: &'static str,
    verdict: Verdict<'static>,
}

const fn ok(prog: &'static str) -> Case {
    Case {
        prog,
        verdict: Verdict::Accepted,
    }
}

const fn refused(prog: &'static str, insn: usize, line: &'static str) -> Case {
    Case {
        prog,
        verdict: Verdict::RefusedAt(insn, line),
    }
}

const ACCEPTED: &[Case] = &[
    ok("rb_record"),
    ok("rb_copy_head"),
    ok("xdp_udp_filter"),
    ok("tc_ttl"),
    ok("local_scratch"),
    ok("rb_some_packets"),
    ok("rb_submit_clone"),
    ok("xdp_sum_words"),
];

const REFUSED: &[Case] = &[
    refused(
        "leak_on_one_path",
        16,
        "BPF_EXIT instruction in main prog would lead to reference leak",
    ),
    refused(
        "read_after_submit",
        18,
        "Expected an initialized dynptr as arg #2",
    ),
    refused("slice_after_discard", 17, "R6 invalid mem access 'scalar'"),
    refused("store_over_record", 8, "cannot overwrite referenced dynptr"),
    refused("byte_over_record", 8, "cannot overwrite referenced dynptr"),
    refused(
        "read_dynptr_bytes",
        5,
        "invalid read from stack off -16+0 size 8",
    ),
    refused(
        "local_destroyed",
        22,
        "Expected an initialized dynptr as arg #0",
    ),
    refused("never_made", 8, "Expected an initialized dynptr as arg #2"),
    refused("submit_local", 16, "arg 1 is an unacquired reference"),
    refused(
        "local_over_stack",
        9,
        "Unsupported reg type fp for bpf_dynptr_from_mem data",
    ),
    refused("reserve_twice", 13, "cannot overwrite referenced dynptr"),
    refused(
        "clone_after_submit",
        23,
        "Expected an initialized dynptr as arg #2",
    ),
    refused(
        "slice_after_adjust_head",
        18,
        "R8 invalid mem access 'scalar'",
    ),
    refused("write_rdonly_slice", 13, "R1 cannot write into rdonly_mem"),
    refused(
        "read_past_slice",
        14,
        "R1 min value is outside of the allowed memory range",
    ),
    refused("data_unchecked", 12, "R0 invalid mem access 'mem_or_null'"),
    refused(
        "slice_after_skb_write",
        23,
        "R6 invalid mem access 'scalar'",
    ),
    refused(
        "rdwr_in_socket_filter",
        10,
        "the prog does not allow writes to packet data",
    ),
    refused("local_or_record", 29, "arg 1 is an unacquired reference"),
];

/// The helper-only programs `cli/tests/dynptr_run.rs` runs, and
/// bpf_user_ringbuf_drain callbacks, which get a `CONST_PTR_TO_DYNPTR`.
const RUNS: &[Case] = &[
    ok("local_roundtrip"),
    ok("rb_write_submit"),
    ok("drain_requests"),
    refused(
        "drain_and_release",
        10,
        "cannot release unowned const bpf_dynptr",
    ),
];

/// Dynptrs for global functions and static ones (the caller's dynptr),
/// the skb metadata dynptr, `bpf_dynptr_copy` and `bpf_dynptr_memset`.
const GLOBALS: &[Case] = &[
    ok("global_takes_skb"),
    ok("global_takes_record"),
    refused(
        "global_takes_nothing",
        2,
        "Caller passes invalid args into func#1 ('first_byte')",
    ),
    ok("skb_meta_slice"),
    ok("copy_packet_to_record"),
    ok("callee_submits"),
    ok("callee_reserves"),
    refused(
        "callee_reserves_leak",
        4,
        "BPF_EXIT instruction in main prog would lead to reference leak",
    ),
];

/// The probe-read kfuncs into a record; a sleepable one in a kprobe.
const TRACES: &[Case] = &[
    ok("probe_into_record"),
    refused(
        "copy_from_user_in_kprobe",
        12,
        "program must be sleepable to call sleepable kfunc bpf_copy_from_user_dynptr",
    ),
];

/// Slices that may be their stack buffer.
const BUFS: &[Case] = &[
    refused("store_into_buffer", 14, "R0 invalid mem access 'scalar'"),
    ok("store_next_to_buffer"),
    refused("helper_writes_buffer", 22, "R6 invalid mem access 'scalar'"),
    refused(
        "slice_from_returned_frame",
        7,
        "R1 invalid mem access 'scalar'",
    ),
];

/// Dynptrs in bounded loops: states with dynptr slots pruned.
const LOOPS: &[Case] = &[ok("record_per_word"), ok("reserve_once_in_loop")];

const EDGES: &[Case] = &[
    refused(
        "var_store_over_record",
        14,
        "cannot overwrite referenced dynptr",
    ),
    refused(
        "spill_over_local",
        20,
        "Expected an initialized dynptr as arg #0",
    ),
    refused(
        "misaligned_dynptr",
        6,
        "Dynptr has to be an uninitialized dynptr",
    ),
    refused(
        "scalar_for_dynptr",
        5,
        "R4 type=scalar expected=fp, dynptr_ptr",
    ),
    refused(
        "read_into_dynptr",
        18,
        "potential write to dynptr at off=-16 disallowed",
    ),
    refused(
        "dynptr_as_key",
        20,
        "invalid read from stack R2 off -16+0 size 4",
    ),
    refused(
        "rdwr_slice_after_submit",
        18,
        "R6 invalid mem access 'scalar'",
    ),
    refused(
        "slice_of_destroyed_local",
        21,
        "R0 invalid mem access 'scalar'",
    ),
    refused(
        "clone_over_record",
        15,
        "cannot overwrite referenced dynptr",
    ),
    ok("two_records"),
    ok("data_of_packet"),
    refused(
        "slice_after_pull_data",
        17,
        "R7 invalid mem access 'scalar'",
    ),
    ok("pull_data_then_slice"),
];

fn fixture(name: &str) -> Object {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/dynptr")
        .join(name);
    ironbpf_loader::load_file(&path, &LoadOptions::default())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// ironbpf's options for `p` of `obj`, as `ironbpf verify` makes them.
fn options(obj: &Object, p: &Program, log_level: u32) -> VerifyOptions {
    let prog_type = ProgTypeId::from_kernel_id(p.prog_type).expect("a known program type");
    let mut o = VerifyOptions::new(prog_type);
    o.attach_type = ironbpf_progtype::AttachType::from_kernel_id(p.expected_attach_type);
    o.log_level = log_level;
    o.maps = obj
        .maps
        .iter()
        .map(|m| MapInfo {
            name: m.name.clone(),
            map_type: m.map_type,
            key_size: m.key_size,
            value_size: m.value_size,
            max_entries: m.max_entries,
            map_flags: m.map_flags,
            frozen_readonly: m.frozen,
            record: Default::default(),
        })
        .collect();
    o.set_btf(
        obj.btf.as_deref(),
        p.func_info.iter().map(|f| (f.insn, f.type_id)),
    );
    o
}

/// A log as both verifiers can agree on it; without the
/// `max_states_per_insn` figure unless `per_insn`.
fn comparable(log: &str, per_insn: bool) -> Vec<String> {
    log.lines()
        .filter(|l| !l.starts_with(';') && !l.starts_with("verification time"))
        .map(
            |l| match l.find(" max_states_per_insn ").filter(|_| !per_insn) {
                Some(i) => {
                    let rest = &l[i + " max_states_per_insn ".len()..];
                    let tail = rest.find(' ').map_or("", |j| &rest[j..]);
                    format!("{}{tail}", &l[..i])
                }
                None => l.to_string(),
            },
        )
        .map(|l: String| {
            let l = l.as_str();
            // ld_imm64 map addresses: the kernel's, and ironbpf's stand-in.
            let mut out = String::new();
            let mut rest = l;
            while let Some(i) = rest.find("0x") {
                let hex = rest[i + 2..]
                    .chars()
                    .take_while(|c| c.is_ascii_hexdigit())
                    .count();
                out.push_str(&rest[..i]);
                if hex >= 12 {
                    out.push_str("ADDR");
                } else {
                    out.push_str(&rest[i..i + 2 + hex]);
                }
                rest = &rest[i + 2 + hex..];
            }
            out.push_str(rest);
            // The live-registers listing names maps by index.
            while let Some(i) = out.find("map[idx:") {
                let end = out[i..].find(']').map_or(out.len(), |e| i + e + 1);
                out.replace_range(i..end, "ADDR");
            }
            out
        })
        .collect()
}

/// [`check_logs`] with the whole level-2 logs compared.
fn check(fixture_name: &str, cases: &[Case]) {
    check_logs(fixture_name, cases, true);
}

/// Both verifiers end as `cases` say, with the same processed
/// instructions and level-2 logs; their `max_states_per_insn` figures
/// too when `per_insn`.
fn check_logs(fixture_name: &str, cases: &[Case], per_insn: bool) {
    let name = format!("dynptr_kernel {fixture_name}");
    if !ironbpf_kernel::available_for_test(&name) {
        return;
    }
    let obj = fixture(fixture_name);
    let kobj = ironbpf_kernel::object::KernelObject::create(&obj)
        .unwrap_or_else(|e| panic!("{fixture_name}: its maps: {e}"));
    assert_eq!(
        obj.programs.len(),
        cases.len(),
        "{fixture_name}: every program has its case"
    );
    for c in cases {
        let p = obj
            .programs
            .iter()
            .find(|p| p.name == c.prog)
            .unwrap_or_else(|| panic!("{fixture_name} has no program {}", c.prog));
        let slots = ironbpf_isa::slots_from_bytes(&p.insns).expect("whole instructions");
        let what = format!("{fixture_name}: {}", c.prog);
        for level in [1u32, 2] {
            let kernel = kobj.load_program(p, level);
            let ours: VerifyOutcome = verify(&slots, &options(&obj, p, level));
            assert_verdicts(
                &format!("{what} at level {level}"),
                &kernel,
                &ours,
                c.verdict,
            );
            assert_eq!(
                kernel.processed_insns,
                Some(ours.stats.processed_insns),
                "{what} at level {level}: processed instructions"
            );
            if level == 2 {
                let (k, o) = (
                    comparable(&kernel.log, per_insn),
                    comparable(&ours.log, per_insn),
                );
                if k != o {
                    let first = k
                        .iter()
                        .zip(&o)
                        .position(|(a, b)| a != b)
                        .unwrap_or(k.len().min(o.len()));
                    panic!(
                        "{what}: the level-2 logs differ from line {first}:\n--- kernel\n{}\n--- ironbpf\n{}",
                        k[first.min(k.len())..].join("\n"),
                        o[first.min(o.len())..].join("\n")
                    );
                }
            }
        }
    }
}

#[test]
fn accepted_programs_agree_with_the_kernel() {
    check("dynptr_ok.o", ACCEPTED);
}

#[test]
fn refused_programs_agree_with_the_kernel() {
    check("dynptr_bad.o", REFUSED);
}

#[test]
fn corner_cases_agree_with_the_kernel() {
    check("dynptr_edge.o", EDGES);
}

#[test]
fn helper_programs_and_drain_callbacks_agree_with_the_kernel() {
    // ironbpf counts a callback's states per instruction otherwise
    // (`max_states_per_insn`).
    check_logs("dynptr_run.o", RUNS, false);
}

#[test]
fn global_functions_and_more_kfuncs_agree_with_the_kernel() {
    check("dynptr_global.o", GLOBALS);
}

#[test]
fn probe_read_kfuncs_agree_with_the_kernel() {
    check("dynptr_trace.o", TRACES);
}

#[test]
fn slices_of_stack_buffers_agree_with_the_kernel() {
    check("dynptr_buf.o", BUFS);
}

#[test]
fn loops_agree_with_the_kernel() {
    check("dynptr_loop.o", LOOPS);
}
