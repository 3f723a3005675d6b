//! Allocated objects, linked lists, rbtrees and local kptrs
//! (`ironbpf_verifier`'s `obj_new` module) against the running kernel: C programs of our own
//! (fixtures/obj_new/*.c, prebuilt with clang-19 beside their source), each
//! program an accepted use or one broken rule. ironbpf must end each as
//! the table below says (the instruction and the last error line), and,
//! where bpf(2) can be used, so must the kernel, with the same level-1 log
//! and the same number of processed instructions for the accepted ones.
//!
//! The kernel half skips with a `skipped:` line where bpf(2) cannot be
//! used (fails instead under IRONBPF_REQUIRE_KERNEL=1); ironbpf's half
//! needs the running kernel's BTF (the kfuncs' prototypes) and skips
//! without it.

mod kernel_case;

use ironbpf_kernel::object::KernelObject;
use ironbpf_kernel::LoadOutcome;
use ironbpf_loader::{load_file, LoadOptions, Object, Program};
use ironbpf_progtype::{AttachType, ProgTypeId};
use ironbpf_verifier::{verify, MapInfo, VerifyOptions, VerifyOutcome};
use kernel_case::*;
use std::path::PathBuf;

const LEAK: &str = "BPF_EXIT instruction in main prog would lead to reference leak";
const NOT_SAME: &str = "bpf_spin_lock at off=0 must be held for bpf_list_head";

/// (object, program, verdict).
const CASES: &[(&str, &str, Verdict<'static>)] = &[
    ("list_basic", "queue_and_take", Verdict::Accepted),
    ("rb_basic", "arm_and_expire", Verdict::Accepted),
    ("list_rules", "move_between_lists", Verdict::Accepted),
    (
        "list_rules",
        "push_without_lock",
        Verdict::RefusedAt(12, "bpf_spin_lock at off=0 must be held for bpf_list_head"),
    ),
    ("list_rules", "push_under_other_lock", Verdict::RefusedAt(16, NOT_SAME)),
    (
        "list_rules",
        "use_after_unlock",
        Verdict::RefusedAt(20, "R6 invalid mem access 'scalar'"),
    ),
    (
        "list_rules",
        "push_twice",
        Verdict::RefusedAt(22, "arg#1 expected pointer to allocated object"),
    ),
    (
        "list_rules",
        "drop_after_push",
        Verdict::RefusedAt(22, "R1 must be referenced or trusted"),
    ),
    ("list_rules", "leak_new_object", Verdict::RefusedAt(9, LEAK)),
    ("list_rules", "leak_popped_node", Verdict::RefusedAt(13, LEAK)),
    (
        "list_rules",
        "push_wrong_member",
        Verdict::RefusedAt(
            16,
            "arg#1 offset=32, but expected bpf_list_node at offset=8 in struct item",
        ),
    ),
    (
        "list_rules",
        "push_wrong_type",
        Verdict::RefusedAt(
            15,
            "operation on bpf_list_head expects arg#1 bpf_list_node at offset=8 in struct item, but arg is at offset=0 in struct other",
        ),
    ),
    (
        "list_rules",
        "node_member_written",
        Verdict::RefusedAt(6, "direct access to bpf_list_node is disallowed"),
    ),
    (
        "list_rules",
        "new_object_not_checked",
        Verdict::RefusedAt(4, "R0 invalid mem access 'ptr_or_null_'"),
    ),
    (
        "list_rules",
        "obj_new_under_lock",
        Verdict::RefusedAt(6, "function calls are not allowed while holding a lock"),
    ),
    (
        "list_rules",
        "front_used_after_unlock",
        Verdict::RefusedAt(12, "R6 invalid mem access 'scalar'"),
    ),
    ("rb_rules", "insert_walk_remove", Verdict::Accepted),
    ("rb_rules", "root_and_left", Verdict::Accepted),
    ("rb_rules", "less_returns_a_difference", Verdict::Accepted),
    (
        "rb_rules",
        "less_returns_minus_one",
        Verdict::RefusedAt(
            32,
            "At callback return the register R0 has smin=4294967295 smax=4294967295 should have been in [0, 1]",
        ),
    ),
    (
        "rb_rules",
        "add_without_lock",
        Verdict::RefusedAt(14, "bpf_spin_lock at off=0 must be held for bpf_rb_root"),
    ),
    ("rb_rules", "remove_an_owned_node", Verdict::Accepted),
    (
        "rb_rules",
        "first_used_after_unlock",
        Verdict::RefusedAt(12, "R6 invalid mem access 'scalar'"),
    ),
    ("rb_rules", "removed_node_leaked", Verdict::RefusedAt(19, LEAK)),
    (
        "rb_rules",
        "add_a_node_twice",
        Verdict::RefusedAt(26, "arg#1 expected pointer to allocated object"),
    ),
    ("obj_rules", "percpu_new_and_drop", Verdict::Accepted),
    (
        "obj_rules",
        "percpu_loaded_directly",
        Verdict::RefusedAt(6, "R0 is ptr_counter access percpu memory: off=0"),
    ),
    (
        "obj_rules",
        "percpu_with_special_fields",
        Verdict::RefusedAt(
            3,
            "bpf_percpu_obj_new type ID argument must not contain special fields",
        ),
    ),
    (
        "obj_rules",
        "percpu_dropped_as_plain",
        Verdict::RefusedAt(8, "arg#0 expected for bpf_percpu_obj_drop_impl()"),
    ),
    (
        "obj_rules",
        "plain_dropped_as_percpu",
        Verdict::RefusedAt(8, "arg#0 expected for bpf_obj_drop_impl()"),
    ),
    ("obj_rules", "shared_in_tree_and_list", Verdict::Accepted),
    (
        "obj_rules",
        "acquire_without_refcount",
        Verdict::RefusedAt(9, "verifier bug: Couldn't find btf_record"),
    ),
    (
        "obj_rules",
        "type_id_not_constant",
        Verdict::RefusedAt(2, "R1 must be a known constant"),
    ),
    (
        "obj_rules",
        "type_id_not_a_struct",
        Verdict::RefusedAt(
            3,
            "bpf_obj_new/bpf_percpu_obj_new type ID argument must be of a struct",
        ),
    ),
    (
        "obj_rules",
        "store_past_the_object",
        Verdict::RefusedAt(6, "access beyond struct plain at off 24 size 8"),
    ),
    (
        "obj_rules",
        "refcount_read_directly",
        Verdict::RefusedAt(6, "direct access to bpf_refcount is disallowed"),
    ),
    (
        "obj_rules",
        "pointer_member_is_a_scalar",
        Verdict::RefusedAt(10, "R1 invalid mem access 'scalar'"),
    ),
    ("obj_rules", "fields_written_and_read", Verdict::Accepted),
    ("map_list", "post_to_mailbox", Verdict::Accepted),
    (
        "map_list",
        "post_under_other_element_lock",
        Verdict::RefusedAt(31, NOT_SAME),
    ),
    (
        "map_list",
        "list_head_at_wrong_offset",
        Verdict::RefusedAt(23, "bpf_list_head not found at offset=16"),
    ),
    ("map_list", "list_head_not_checked_for_null", Verdict::Accepted),
    ("map_list", "pop_and_count", Verdict::Accepted),
    ("kptr_stash", "stash_new_record", Verdict::Accepted),
    ("kptr_stash", "unstash_record", Verdict::Accepted),
    ("kptr_stash", "stash_and_index", Verdict::Accepted),
    (
        "kptr_stash",
        "stash_wrong_type",
        Verdict::RefusedAt(17, "invalid kptr access, R2 type=ptr_stranger expected=ptr_task_rec"),
    ),
    ("kptr_stash", "stash_unchecked_old_leaks", Verdict::RefusedAt(20, LEAK)),
    (
        "kptr_stash",
        "stash_a_non_owning_ref",
        Verdict::RefusedAt(33, "R2 type=scalar expected=ptr_, trusted_ptr_, rcu_ptr_"),
    ),
    ("nested_list", "bucket_of_elems", Verdict::Accepted),
    (
        "nested_list",
        "bucket_filled_under_global_lock",
        Verdict::RefusedAt(21, "bpf_spin_lock at off=40 must be held for bpf_list_head"),
    ),
    (
        "nested_list",
        "bucket_filled_without_lock",
        Verdict::RefusedAt(17, "bpf_spin_lock at off=40 must be held for bpf_list_head"),
    ),
    ("nested_list", "inner_map_inbox", Verdict::Accepted),
    ("rb_callback", "less_counts_compares", Verdict::Accepted),
    (
        "rb_callback",
        "less_unlocks",
        Verdict::RefusedAt(30, "can't spin_{lock,unlock} in rbtree cb"),
    ),
    ("rb_callback", "less_peeks", Verdict::Accepted),
    (
        "rb_callback",
        "less_removes",
        Verdict::RefusedAt(31, "bpf_rbtree_remove not allowed in rbtree cb"),
    ),
    ("rb_callback", "less_writes_a_node", Verdict::Accepted),
    ("loops", "fill_in_a_loop", Verdict::Accepted),
    ("loops", "move_with_iterator", Verdict::Accepted),
    ("loops", "drain_in_a_loop", Verdict::Accepted),
    ("loops", "drain_leaks_on_a_path", Verdict::RefusedAt(76, LEAK)),
    ("kptr_load", "bump_stashed_counter", Verdict::Accepted),
    ("kptr_load", "take_reference_to_stashed_node", Verdict::Accepted),
    (
        "kptr_load",
        "drop_a_loaded_kptr",
        Verdict::RefusedAt(13, "R1 must be referenced or trusted"),
    ),
    (
        "kptr_load",
        "deref_a_declared_only_kptr",
        Verdict::RefusedAt(12, "R1 invalid mem access 'scalar'"),
    ),
];

fn object(name: &str) -> Object {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/obj_new")
        .join(format!("{name}.o"));
    load_file(&path, &LoadOptions::default()).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The options `ironbpf verify` gives a program of `obj`: its maps with
/// their BTF records, the object's BTF and the program's func_info.
fn options(obj: &Object, p: &Program) -> VerifyOptions {
    let prog_type = ProgTypeId::from_kernel_id(p.prog_type).expect("a known program type");
    let mut o = VerifyOptions::new(prog_type);
    o.attach_type = AttachType::from_kernel_id(p.expected_attach_type);
    o.log_level = 1;
    let info = |m: &ironbpf_loader::MapDef| MapInfo {
        name: m.name.clone(),
        map_type: m.map_type,
        key_size: m.key_size,
        value_size: m.value_size,
        max_entries: m.max_entries,
        map_flags: m.map_flags,
        frozen_readonly: m.frozen,
        record: Default::default(),
    };
    o.maps = obj.maps.iter().map(info).collect();
    o.inner_maps = obj
        .maps
        .iter()
        .map(|m| m.inner.as_deref().map(info))
        .collect();
    o.frozen_values = obj
        .maps
        .iter()
        .map(|m| m.initial_value.clone().filter(|_| m.frozen))
        .collect();
    o.set_btf(
        obj.btf.as_deref(),
        p.func_info.iter().map(|f| (f.insn, f.type_id)),
    );
    let value_types: Vec<u32> = obj.maps.iter().map(|m| m.btf_value_type_id).collect();
    let inner: Vec<u32> = obj
        .maps
        .iter()
        .map(|m| m.inner.as_deref().map_or(0, |i| i.btf_value_type_id))
        .collect();
    o.set_map_value_types(&value_types, &inner);
    o
}

fn ours(obj: &Object, p: &Program) -> VerifyOutcome {
    ours_at(obj, p, 1)
}

fn ours_at(obj: &Object, p: &Program, log_level: u32) -> VerifyOutcome {
    let slots = ironbpf_isa::slots_from_bytes(&p.insns).expect("whole instructions");
    let mut o = options(obj, p);
    o.log_level = log_level;
    verify(&slots, &o)
}

/// A level-1 log without what cannot agree: the source lines the kernel
/// prints from the load's line info (ironbpf is given none here), the
/// verification time, the statistics line (compared apart: with the same
/// path and total states, rb_callback/less_peeks has `max_states_per_insn`
/// 0 against the kernel's 1, and loops/move_with_iterator `peak_states` 11
/// against 12, which counts a state of the kernel's loop bookkeeping) and
/// the addresses of map values (`ADDR`).
fn comparable(log: &str) -> Vec<String> {
    log.lines()
        .filter(|l| {
            !l.starts_with(';')
                && !l.starts_with("verification time")
                && !l.starts_with("processed ")
        })
        .map(mask_addresses)
        .collect()
}

/// `0x` and 12 or more hex digits (a kernel address) become `ADDR`.
fn mask_addresses(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(i) = rest.find("0x") {
        out.push_str(&rest[..i]);
        let tail = &rest[i + 2..];
        let n = tail.bytes().take_while(u8::is_ascii_hexdigit).count();
        if n >= 12 {
            out.push_str("ADDR");
        } else {
            out.push_str(&rest[i..i + 2 + n]);
        }
        rest = &tail[n..];
    }
    out.push_str(rest);
    out
}

fn program<'a>(obj: &'a Object, file: &str, name: &str) -> &'a Program {
    obj.programs
        .iter()
        .find(|p| p.name == name)
        .unwrap_or_else(|| panic!("{file}.o has no program {name}"))
}

/// Every program of the fixtures is in the table.
#[test]
fn every_fixture_program_has_a_verdict() {
    for file in [
        "list_basic",
        "rb_basic",
        "list_rules",
        "rb_rules",
        "obj_rules",
        "map_list",
        "kptr_stash",
        "nested_list",
        "rb_callback",
        "loops",
        "kptr_load",
    ] {
        let obj = object(file);
        for p in &obj.programs {
            assert!(
                CASES.iter().any(|(f, n, _)| *f == file && *n == p.name),
                "{file}.o: program {} has no verdict in CASES",
                p.name
            );
        }
    }
}

/// ironbpf ends each program as the table says.
#[test]
fn ironbpf_verdicts() {
    if ironbpf_verifier::vmlinux::vmlinux().is_err() {
        println!("skipped: no kernel BTF for the kfuncs' prototypes");
        return;
    }
    for (file, name, verdict) in CASES {
        let obj = object(file);
        let p = program(&obj, file, name);
        assert_ours(&format!("{file}/{name}"), &ours(&obj, p), *verdict);
    }
}

/// The kernel ends each program as the table says, with the same level-1
/// log as ironbpf's, and where it accepts one, ironbpf processes as many
/// instructions.
#[test]
fn kernel_verdicts() {
    if !ironbpf_kernel::available_for_test("obj_new_kernel") {
        return;
    }
    let mut files: Vec<&str> = CASES.iter().map(|(f, _, _)| *f).collect();
    files.dedup();
    for file in files {
        let obj = object(file);
        let kobj = KernelObject::create(&obj).unwrap_or_else(|e| panic!("{file}.o: maps: {e}"));
        for (_, name, verdict) in CASES.iter().filter(|(f, _, _)| *f == file) {
            let p = program(&obj, file, name);
            let level = 1 | ironbpf_kernel::BPF_LOG_STATS;
            let k: LoadOutcome = kobj.load_program(p, level);
            let us = ours_at(&obj, p, level);
            let what = format!("{file}/{name}");
            assert_verdicts(&what, &k, &us, *verdict);
            assert_eq!(
                comparable(&us.log),
                comparable(&k.log),
                "{what}: the level-1 logs (left ironbpf's, right the kernel's)"
            );
            if matches!(verdict, Verdict::Accepted) {
                assert_eq!(
                    k.processed_insns,
                    Some(us.stats.processed_insns),
                    "{what}: processed instructions\nkernel:\n{}\nironbpf:\n{}",
                    k.log,
                    us.log
                );
            }
        }
    }
}
