//! Map values with special fields (`bpf_spin_lock`, `bpf_timer`, kptrs),
//! each rule as a small program of our own loaded in the running kernel
//! (with maps created with a BTF value type) and verified by ironbpf: both
//! must give the same verdict and, where the kernel refuses, the same error
//! line at the same instruction.
//!
//! - `bpf_spin_lock`/`bpf_spin_unlock` take the value's lock; the unlock
//!   must be of the same element; no helper call, no exit from the main
//!   program while it is held; the argument must point at the lock;
//! - plain loads and stores may not touch the lock or the timer;
//! - `bpf_timer_init` takes the value's timer and its own map;
//! - a kptr load gives a nullable BTF pointer; a referenced kptr is written
//!   only through `bpf_kptr_xchg`;
//! - tracing programs may not use a map whose value has a lock.
//!
//! Skips with a `skipped:` line where bpf(2) cannot be used (fails instead
//! under IRONBPF_REQUIRE_KERNEL=1).

use ironbpf_btf::Btf;
use ironbpf_isa::asm::assemble;
use ironbpf_kernel::{load_program, KernelBtf, KernelMap, MapCreate, ProgLoad};
use ironbpf_progtype::ProgTypeId;
use ironbpf_verifier::btf_record::BtfRecord;
use ironbpf_verifier::{verify, VerifyOptions};
use kernel_case::*;

mod kernel_case;

/// A small BTF blob, built type by type (ids from 1).
#[derive(Default)]
struct BtfBuilder {
    types: Vec<u8>,
    strings: Vec<u8>,
    next_id: u32,
}

const KIND_INT: u32 = 1;
const KIND_PTR: u32 = 2;
const KIND_STRUCT: u32 = 4;
const KIND_FUNC: u32 = 12;
const KIND_FUNC_PROTO: u32 = 13;
const KIND_TYPE_TAG: u32 = 18;

impl BtfBuilder {
    fn new() -> Self {
        BtfBuilder {
            types: Vec::new(),
            strings: vec![0],
            next_id: 1,
        }
    }

    fn name(&mut self, s: &str) -> u32 {
        if s.is_empty() {
            return 0;
        }
        let off = self.strings.len() as u32;
        self.strings.extend_from_slice(s.as_bytes());
        self.strings.push(0);
        off
    }

    fn push(&mut self, words: &[u32]) -> u32 {
        for w in words {
            self.types.extend_from_slice(&w.to_le_bytes());
        }
        self.next_id += 1;
        self.next_id - 1
    }

    fn int(&mut self, name: &str, size: u32) -> u32 {
        let n = self.name(name);
        self.push(&[n, KIND_INT << 24, size, size * 8])
    }

    /// A struct of `size` bytes with `(name, type, byte offset)` members.
    fn structure(&mut self, name: &str, size: u32, members: &[(&str, u32, u32)]) -> u32 {
        let n = self.name(name);
        let mut w = vec![n, (KIND_STRUCT << 24) | members.len() as u32, size];
        for &(mn, ty, off) in members {
            let mn = self.name(mn);
            w.extend_from_slice(&[mn, ty, off * 8]);
        }
        self.push(&w)
    }

    /// `struct S __tag *`: a pointer to a type tag on `target`.
    fn tagged_ptr(&mut self, tag: &str, target: u32) -> u32 {
        let t = self.name(tag);
        let tag_id = self.push(&[t, KIND_TYPE_TAG << 24, target]);
        self.push(&[0, KIND_PTR << 24, tag_id])
    }

    /// A static `int name(void)`.
    fn func(&mut self, name: &str, int: u32) -> u32 {
        let proto = self.push(&[0, KIND_FUNC_PROTO << 24, int]);
        let n = self.name(name);
        self.push(&[n, KIND_FUNC << 24, proto])
    }

    fn finish(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&0xeb9fu16.to_le_bytes());
        out.push(1);
        out.push(0);
        for w in [
            24u32,
            0,
            self.types.len() as u32,
            self.types.len() as u32,
            self.strings.len() as u32,
        ] {
            out.extend_from_slice(&w.to_le_bytes());
        }
        out.extend_from_slice(&self.types);
        out.extend_from_slice(&self.strings);
        out
    }
}

/// The value types of the cases: `struct lock_val { int cnt; struct
/// bpf_spin_lock lock; }` (8 bytes, the lock at 4), `struct timer_val {
/// int pad[2]; struct bpf_timer t; }` (24 bytes, the timer at 8) and
/// `struct kptr_val { int pad[2]; struct task_struct __kptr *ref;
/// struct task_struct __kptr_untrusted *unref; }` (24 bytes, kptrs at 8
/// and 16).
struct Types {
    blob: Vec<u8>,
    int: u32,
    lock_val: u32,
    timer_val: u32,
    kptr_val: u32,
    /// `struct res_val { struct bpf_res_spin_lock l; int cnt; }` (8 bytes,
    /// the lock at 0).
    res_val: u32,
    /// `int main_fn(void)` and `int cb(void)`, for func_info.
    main_fn: u32,
    cb_fn: u32,
}

fn types() -> Types {
    let mut b = BtfBuilder::new();
    let int = b.int("int", 4);
    let u64t = b.int("long long", 8);
    let lock = b.structure("bpf_spin_lock", 4, &[("val", int, 0)]);
    let lock_val = b.structure("lock_val", 8, &[("cnt", int, 0), ("lock", lock, 4)]);
    let timer = b.structure("bpf_timer", 16, &[("a", u64t, 0), ("b", u64t, 8)]);
    let timer_val = b.structure(
        "timer_val",
        24,
        &[("p0", int, 0), ("p1", int, 4), ("t", timer, 8)],
    );
    let task = b.structure("task_struct", 0, &[]);
    let kref = b.tagged_ptr("kptr", task);
    let kunref = b.tagged_ptr("kptr_untrusted", task);
    let kptr_val = b.structure(
        "kptr_val",
        24,
        &[
            ("p0", int, 0),
            ("p1", int, 4),
            ("ref", kref, 8),
            ("unref", kunref, 16),
        ],
    );
    let res = b.structure("bpf_res_spin_lock", 4, &[("val", int, 0)]);
    let res_val = b.structure("res_val", 8, &[("l", res, 0), ("cnt", int, 4)]);
    let main_fn = b.func("main_fn", int);
    let cb_fn = b.func("cb", int);
    Types {
        blob: b.finish(),
        int,
        lock_val,
        timer_val,
        kptr_val,
        res_val,
        main_fn,
        cb_fn,
    }
}

#[derive(Clone, Copy)]
enum Value {
    Lock,
    Timer,
    Kptr,
    ResLock,
}

struct Case {
    prog_type: ProgTypeId,
    text: &'static str,
    /// The maps: array maps of one value type each.
    maps: Vec<Value>,
    verdict: Verdict<'static>,
    /// The first instruction of a callback subprogram: the program is
    /// loaded with BTF and func_info then (the kernel needs them for
    /// callbacks).
    callback: Option<usize>,
}

fn check(name: &str, c: &Case) {
    if !ironbpf_kernel::available_for_test(name) {
        return;
    }
    let t = types();
    let kbtf = KernelBtf::load(&t.blob).unwrap_or_else(|e| panic!("{name}: BTF: {e:?}"));
    let btf = Btf::parse(&t.blob).unwrap_or_else(|e| panic!("{name}: BTF: {e}"));
    // `call @kfunc` names a kfunc of the running kernel.
    let vm = ironbpf_verifier::vmlinux::vmlinux().unwrap_or_else(|e| panic!("{name}: {e}"));
    let text = resolve(&vm, c.text);
    let insns = assemble(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
    let words: Vec<u64> = insns.iter().map(|i| i.to_u64()).collect();
    let mut opts = VerifyOptions::new(c.prog_type);
    opts.log_level = 1;
    let (value_ids, sizes): (Vec<u32>, Vec<u32>) = c
        .maps
        .iter()
        .map(|v| match v {
            Value::Lock => (t.lock_val, 8),
            Value::Timer => (t.timer_val, 24),
            Value::Kptr => (t.kptr_val, 24),
            Value::ResLock => (t.res_val, 8),
        })
        .unzip();
    // ironbpf's MapInfo through the harness; the kernel's maps with BTF.
    let plain: Vec<Map> = sizes
        .iter()
        .map(|&value_size| Map {
            map_type: 2,
            key_size: 4,
            value_size,
            max_entries: 1,
            map_flags: 0,
            frozen: None,
        })
        .collect();
    drop(create_maps(name, &plain, &mut opts));
    let kmaps: Vec<KernelMap> = value_ids
        .iter()
        .zip(&sizes)
        .enumerate()
        .map(|(i, (&vid, &size))| {
            let mut mc = MapCreate::new(2, 4, size, 1);
            mc.name = format!("map{i}");
            mc.btf_fd = Some(kbtf.raw_fd());
            mc.btf_key_type_id = t.int;
            mc.btf_value_type_id = vid;
            KernelMap::create(&mc).unwrap_or_else(|e| panic!("{name}: map: {e}"))
        })
        .collect();
    for (m, &vid) in opts.maps.iter_mut().zip(&value_ids) {
        m.record = BtfRecord::parse(&btf, vid).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    let fds: Vec<i32> = kmaps.iter().map(|m| m.raw_fd()).collect();
    let funcs: Vec<(usize, u32)> = match c.callback {
        Some(cb) => vec![(0, t.main_fn), (cb, t.cb_fn)],
        None => Vec::new(),
    };
    let func_info: Vec<u8> = funcs
        .iter()
        .flat_map(|&(insn, ty)| [(insn as u32).to_le_bytes(), ty.to_le_bytes()].concat())
        .collect();
    if c.callback.is_some() {
        opts.set_btf(Some(&t.blob), funcs.iter().copied());
    }
    let out = load_program(&ProgLoad {
        prog_type: c.prog_type.kernel_id(),
        insns: &words,
        name: "map_fields",
        log_level: 1,
        fd_array: &fds,
        prog_btf_fd: c.callback.map(|_| kbtf.raw_fd()),
        func_info: &func_info,
        func_info_rec_size: if c.callback.is_some() { 8 } else { 0 },
        ..Default::default()
    });
    let ours = verify(&insns, &opts);
    assert_verdicts(name, &out, &ours, c.verdict);
}

/// Looks up key 0 of map 0 into r6 (exits when null), then `body`.
fn with_value(body: &str) -> &'static str {
    Box::leak(
        format!(
            "r1 = 0\n*(u32 *)(r10 -4) = r1\nr2 = r10\nr2 += -4\nr1 = map[idx:0]\n\
             call bpf_map_lookup_elem\nif r0 != 0x0 goto +1\nexit\nr6 = r0\n{body}"
        )
        .into_boxed_str(),
    )
}

/// The first instruction of `with_value`'s body.
const BODY: usize = 10;

fn cls(text: &'static str, maps: Vec<Value>, verdict: Verdict<'static>) -> Case {
    Case {
        prog_type: ProgTypeId::SchedCls,
        text,
        maps,
        verdict,
        callback: None,
    }
}

#[test]
fn a_lock_taken_and_released_is_accepted() {
    check(
        "a_lock_taken_and_released_is_accepted",
        &cls(
            with_value(
                "r1 = r6\nr1 += 4\ncall bpf_spin_lock\nr1 = *(u32 *)(r6 +0)\nr1 += 1\n\
                 *(u32 *)(r6 +0) = r1\nr1 = r6\nr1 += 4\ncall bpf_spin_unlock\nr0 = 0\nexit",
            ),
            vec![Value::Lock],
            Verdict::Accepted,
        ),
    );
}

#[test]
fn an_exit_with_the_lock_held_is_refused() {
    check(
        "an_exit_with_the_lock_held_is_refused",
        &cls(
            with_value("r1 = r6\nr1 += 4\ncall bpf_spin_lock\nr0 = 0\nexit"),
            vec![Value::Lock],
            Verdict::RefusedAt(
                BODY + 4,
                "BPF_EXIT instruction in main prog cannot be used inside bpf_spin_lock-ed region",
            ),
        ),
    );
}

#[test]
fn a_helper_call_with_the_lock_held_is_refused() {
    check(
        "a_helper_call_with_the_lock_held_is_refused",
        &cls(
            with_value(
                "r1 = r6\nr1 += 4\ncall bpf_spin_lock\ncall bpf_get_prandom_u32\n\
                 r1 = r6\nr1 += 4\ncall bpf_spin_unlock\nr0 = 0\nexit",
            ),
            vec![Value::Lock],
            Verdict::RefusedAt(
                BODY + 3,
                "function calls are not allowed while holding a lock",
            ),
        ),
    );
}

#[test]
fn an_unlock_without_a_lock_is_refused() {
    check(
        "an_unlock_without_a_lock_is_refused",
        &cls(
            with_value("r1 = r6\nr1 += 4\ncall bpf_spin_unlock\nr0 = 0\nexit"),
            vec![Value::Lock],
            Verdict::RefusedAt(BODY + 2, "bpf_spin_unlock without taking a lock"),
        ),
    );
}

#[test]
fn an_unlock_of_another_element_is_refused() {
    // Two lookups of the same key are two elements for the verifier.
    check(
        "an_unlock_of_another_element_is_refused",
        &cls(
            with_value(
                "r2 = r10\nr2 += -4\nr1 = map[idx:0]\ncall bpf_map_lookup_elem\n\
                 if r0 != 0x0 goto +1\nexit\nr7 = r0\nr1 = r6\nr1 += 4\ncall bpf_spin_lock\n\
                 r1 = r7\nr1 += 4\ncall bpf_spin_unlock\nr0 = 0\nexit",
            ),
            vec![Value::Lock],
            Verdict::RefusedAt(BODY + 13, "bpf_spin_unlock of different lock"),
        ),
    );
}

#[test]
fn a_lock_argument_off_the_lock_is_refused() {
    check(
        "a_lock_argument_off_the_lock_is_refused",
        &cls(
            with_value("r1 = r6\ncall bpf_spin_lock\nr0 = 0\nexit"),
            vec![Value::Lock],
            Verdict::RefusedAt(
                BODY + 1,
                "off 0 doesn't point to 'struct bpf_spin_lock' that is at 4",
            ),
        ),
    );
}

#[test]
fn a_lock_in_a_value_without_one_is_refused() {
    check(
        "a_lock_in_a_value_without_one_is_refused",
        &cls(
            with_value("r1 = r6\nr1 += 8\ncall bpf_spin_lock\nr0 = 0\nexit"),
            vec![Value::Timer],
            Verdict::RefusedAt(BODY + 2, "map 'map0' has no valid bpf_spin_lock"),
        ),
    );
}

#[test]
fn a_load_of_the_lock_is_refused() {
    check(
        "a_load_of_the_lock_is_refused",
        &cls(
            with_value("r0 = *(u32 *)(r6 +4)\nexit"),
            vec![Value::Lock],
            Verdict::RefusedAt(
                BODY,
                "bpf_spin_lock cannot be accessed directly by load/store",
            ),
        ),
    );
}

#[test]
fn a_store_over_the_timer_is_refused() {
    check(
        "a_store_over_the_timer_is_refused",
        &cls(
            with_value("r1 = 0\n*(u64 *)(r6 +16) = r1\nr0 = 0\nexit"),
            vec![Value::Timer],
            Verdict::RefusedAt(
                BODY + 1,
                "bpf_timer cannot be accessed directly by load/store",
            ),
        ),
    );
}

#[test]
fn a_tracing_program_may_not_use_a_lock() {
    check(
        "a_tracing_program_may_not_use_a_lock",
        &Case {
            prog_type: ProgTypeId::Kprobe,
            text: with_value("r0 = 0\nexit"),
            maps: vec![Value::Lock],
            verdict: Verdict::RefusedWhole("tracing progs cannot use bpf_spin_lock yet"),
            callback: None,
        },
    );
}

#[test]
fn a_timer_init_on_the_timer_is_accepted() {
    check(
        "a_timer_init_on_the_timer_is_accepted",
        &cls(
            with_value(
                "r1 = r6\nr1 += 8\nr2 = map[idx:0]\nr3 = 1\ncall bpf_timer_init\nr0 = 0\nexit",
            ),
            vec![Value::Timer],
            Verdict::Accepted,
        ),
    );
}

#[test]
fn a_timer_init_with_another_map_is_refused() {
    check(
        "a_timer_init_with_another_map_is_refused",
        &cls(
            with_value(
                "r1 = r6\nr1 += 8\nr2 = map[idx:1]\nr3 = 1\ncall bpf_timer_init\nr0 = 0\nexit",
            ),
            vec![Value::Timer, Value::Timer],
            Verdict::RefusedAt(
                BODY + 5,
                "timer pointer in R1 map_uid=0 doesn't match map pointer in R2 map_uid=0",
            ),
        ),
    );
}

#[test]
fn a_timer_argument_off_the_timer_is_refused() {
    check(
        "a_timer_argument_off_the_timer_is_refused",
        &cls(
            with_value("r1 = r6\nr2 = map[idx:0]\nr3 = 1\ncall bpf_timer_init\nr0 = 0\nexit"),
            vec![Value::Timer],
            Verdict::RefusedAt(
                BODY + 4,
                "off 0 doesn't point to 'struct bpf_timer' that is at 8",
            ),
        ),
    );
}

#[test]
fn a_kptr_load_is_a_nullable_pointer() {
    // Dereferenced without the null check: refused, as a ptr_or_null.
    check(
        "a_kptr_load_is_a_nullable_pointer",
        &cls(
            with_value("r1 = *(u64 *)(r6 +16)\nr0 = *(u32 *)(r1 +0)\nexit"),
            vec![Value::Kptr],
            Verdict::RefusedAt(BODY + 1, "R1 invalid mem access 'untrusted_ptr_or_null_'"),
        ),
    );
}

#[test]
fn a_kptr_load_null_checked_is_accepted() {
    check(
        "a_kptr_load_null_checked_is_accepted",
        &cls(
            with_value(
                "r1 = *(u64 *)(r6 +8)\nif r1 == 0x0 goto +1\nr0 = *(u32 *)(r1 +0)\nr0 = 0\nexit",
            ),
            vec![Value::Kptr],
            Verdict::Accepted,
        ),
    );
}

#[test]
fn a_store_to_a_referenced_kptr_is_refused() {
    check(
        "a_store_to_a_referenced_kptr_is_refused",
        &cls(
            with_value("r1 = 0\n*(u64 *)(r6 +8) = r1\nr0 = 0\nexit"),
            vec![Value::Kptr],
            Verdict::RefusedAt(BODY + 1, "store to referenced kptr disallowed"),
        ),
    );
}

#[test]
fn a_narrow_kptr_load_is_refused() {
    check(
        "a_narrow_kptr_load_is_refused",
        &cls(
            with_value("r0 = *(u32 *)(r6 +16)\nexit"),
            vec![Value::Kptr],
            Verdict::RefusedAt(BODY, "kptr access size must be BPF_DW"),
        ),
    );
}

#[test]
fn a_kptr_xchg_of_null_gives_a_reference_to_release() {
    // The old value is acquired: exiting without releasing it leaks.
    check(
        "a_kptr_xchg_of_null_gives_a_reference_to_release",
        &cls(
            with_value("r1 = r6\nr1 += 8\nr2 = 0\ncall bpf_kptr_xchg\nr0 = 0\nexit"),
            vec![Value::Kptr],
            Verdict::RefusedAt(
                BODY + 5,
                "BPF_EXIT instruction in main prog would lead to reference leak",
            ),
        ),
    );
}

#[test]
fn a_kptr_xchg_into_an_unreferenced_kptr_is_refused() {
    check(
        "a_kptr_xchg_into_an_unreferenced_kptr_is_refused",
        &cls(
            with_value("r1 = r6\nr1 += 16\nr2 = 0\ncall bpf_kptr_xchg\nr0 = 0\nexit"),
            vec![Value::Kptr],
            Verdict::RefusedAt(BODY + 3, "off=16 kptr isn't referenced kptr"),
        ),
    );
}

/// Sets up map 0's timer with the callback `cb` (after the body's 9
/// instructions), which runs `cb_body`.
fn with_timer_callback(cb_body: &str) -> &'static str {
    with_value(Box::leak(
        format!(
            "r1 = r6\nr1 += 8\nr2 = map[idx:0]\nr3 = 1\ncall bpf_timer_init\n\
             r1 = r6\nr1 += 8\nr2 = subprog[cb]\ncall bpf_timer_set_callback\nr0 = 0\nexit\n\
             cb:\n{cb_body}"
        )
        .into_boxed_str(),
    ))
}

/// The first instruction of the callback of `with_timer_callback`.
const CB: usize = BODY + 13;

/// A sched_cls case with the callback of `with_timer_callback`.
fn cls_cb(text: &'static str, maps: Vec<Value>, verdict: Verdict<'static>) -> Case {
    Case {
        callback: Some(CB),
        ..cls(text, maps, verdict)
    }
}

#[test]
fn a_timer_callback_returning_zero_is_accepted() {
    // The callback reads its value through r3.
    check(
        "a_timer_callback_returning_zero_is_accepted",
        &cls_cb(
            with_timer_callback("r0 = *(u32 *)(r3 +0)\nr0 = 0\nexit"),
            vec![Value::Timer],
            Verdict::Accepted,
        ),
    );
}

#[test]
fn a_timer_callback_must_return_zero() {
    check(
        "a_timer_callback_must_return_zero",
        &cls_cb(
            with_timer_callback("r0 = 1\nexit"),
            vec![Value::Timer],
            Verdict::RefusedAt(
                CB + 1,
                "At async callback return the register R0 has smin=1 smax=1 should have been in [0, 0]",
            ),
        ),
    );
}

#[test]
fn a_timer_callback_reads_its_value_in_bounds() {
    check(
        "a_timer_callback_reads_its_value_in_bounds",
        &cls_cb(
            with_timer_callback("r0 = *(u32 *)(r3 +24)\nr0 = 0\nexit"),
            vec![Value::Timer],
            Verdict::RefusedAt(CB, "R3 min value is outside of the allowed memory range"),
        ),
    );
}

#[test]
fn a_res_lock_checked_and_released_is_accepted() {
    // The failed acquisition returns an error, without the lock.
    check(
        "a_res_lock_checked_and_released_is_accepted",
        &cls(
            with_value(
                "r1 = r6\ncall @bpf_res_spin_lock\nif w0 != 0x0 goto +4\nr1 = r6\n\
                 call @bpf_res_spin_unlock\nr0 = 0\nexit\nr0 = 0\nexit",
            ),
            vec![Value::ResLock],
            Verdict::Accepted,
        ),
    );
}

#[test]
fn a_res_lock_unchecked_may_be_unlocked_without_being_held() {
    // Unlocking after a failed acquisition: no lock is held on that path.
    check(
        "a_res_lock_unchecked_may_be_unlocked_without_being_held",
        &cls(
            with_value("r1 = r6\ncall @bpf_res_spin_lock\nr1 = r6\ncall @bpf_res_spin_unlock\nr0 = 0\nexit"),
            vec![Value::ResLock],
            Verdict::RefusedAt(BODY + 3, "bpf_res_spin_unlock without taking a lock"),
        ),
    );
}

#[test]
fn a_res_lock_taken_twice_is_a_deadlock() {
    check(
        "a_res_lock_taken_twice_is_a_deadlock",
        &cls(
            with_value(
                "r1 = r6\ncall @bpf_res_spin_lock\nif w0 != 0x0 goto +4\nr1 = r6\n\
                 call @bpf_res_spin_lock\nr0 = 0\nexit\nr0 = 0\nexit",
            ),
            vec![Value::ResLock],
            Verdict::RefusedAt(
                BODY + 4,
                "Acquiring the same lock again, AA deadlock detected",
            ),
        ),
    );
}

#[test]
fn a_res_lock_held_at_exit_is_refused() {
    check(
        "a_res_lock_held_at_exit_is_refused",
        &cls(
            with_value("r1 = r6\ncall @bpf_res_spin_lock\nr0 = 0\nexit"),
            vec![Value::ResLock],
            Verdict::RefusedAt(
                BODY + 3,
                "BPF_EXIT instruction in main prog cannot be used inside bpf_spin_lock-ed region",
            ),
        ),
    );
}
