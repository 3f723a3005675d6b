//! Trusted JIT code calls a hash map's own lookup directly (no
//! trampoline): it finds what the interpreter finds in maps whose keys are
//! 4, 8 and 12 bytes (one specialised lookup each for 4 and 8, the generic
//! one for the rest), among hundreds of keys whose index entries share
//! probe chains, after host deletes and re-inserts, and LRU maps see the
//! same references (the same keys survive an eviction). r1-r5 keep their
//! values across the lookup, as in the interpreter.

use ironbpf_helpers::HelperRegistry;
use ironbpf_isa::assemble_program;
use ironbpf_maps::{Map, MapSet, MapSpec, BPF_MAP_TYPE_HASH, BPF_MAP_TYPE_LRU_HASH};
use ironbpf_vm::object::MapResolver;
use ironbpf_vm::{Engine, Interpreter, JitProgram, Options};
use std::sync::Arc;

/// Looks up the key at r1 (copied to the stack); a hit adds 1 to the value
/// atomically and returns the new value plus r3 (1000, set before the
/// call); a miss returns r3 + r4 (1001).
fn program(key_size: u32) -> String {
    let mut asm = String::from("r6 = r1\n");
    for j in 0..key_size / 4 {
        asm += &format!(
            "r7 = *(u32 *)(r6 + {})\n*(u32 *)(r10 - {}) = r7\n",
            4 * j,
            16 - 4 * j
        );
    }
    asm += "r3 = 1000\nr4 = 1\nr2 = r10\nr2 += -16\nr1 = map[idx:0]\ncall bpf_map_lookup_elem\n\
            if r0 == 0 goto miss\nr1 = 1\nlock *(u64 *)(r0 + 0) += r1\nr0 = *(u64 *)(r0 + 0)\n\
            r0 += r3\nexit\nmiss:\nr0 = r3\nr0 += r4\nexit\n";
    asm
}

fn key(i: u32, key_size: u32) -> Vec<u8> {
    let mut k = vec![0u8; key_size as usize];
    k[..4].copy_from_slice(&i.wrapping_mul(0x9e37_79b1).to_le_bytes());
    if key_size > 4 {
        k[4..8].copy_from_slice(&(i ^ 0x5a5a).to_le_bytes());
    }
    k
}

struct Side {
    map: Arc<dyn Map>,
    engine: Box<dyn Engine>,
}

fn side(map_type: u32, key_size: u32, max: u32, jit: bool) -> Side {
    let set = Arc::new(MapSet::new());
    let (_, map) = set
        .create(&MapSpec::new(map_type, key_size, 8, max))
        .expect("map");
    let prog = assemble_program(&program(key_size)).expect("assembles");
    let vm = Interpreter::with_resolver(
        &prog,
        &HelperRegistry::standard(),
        // The program reads r3 and r4 after the call, which the kernel's
        // rules (and the default load check) refuse: here they show that
        // the lookup leaves them as the interpreter does.
        Options {
            check_registers: false,
            ..Options::default()
        },
        Some(&MapResolver(set.clone())),
    )
    .expect("loads");
    let engine: Box<dyn Engine> = if jit {
        // SAFETY: the program reads its key_size bytes of input memory,
        // writes its own stack frame and the map value the lookup gave.
        let j = unsafe { JitProgram::trusted(vm) }.expect("compiles");
        assert!(j.code().direct_lookups(), "the lookup is a direct call");
        Box::new(j)
    } else {
        Box::new(vm)
    };
    Side { map, engine }
}

fn run(s: &Side, k: &[u8]) -> u64 {
    let mut mem = k.to_vec();
    s.engine.run_memory(&mut mem).expect("runs")
}

/// Runs both sides on key `k`: they must agree; gives their r0.
fn both(sides: &[Side; 2], k: &[u8]) -> u64 {
    let (a, b) = (run(&sides[0], k), run(&sides[1], k));
    assert_eq!(a, b, "interpreter and JIT on key {k:02x?}");
    a
}

fn value(s: &Side, k: &[u8]) -> Option<u64> {
    let mut v = [0u8; 8];
    s.map
        .lookup(k, &mut v, 0)
        .ok()
        .map(|()| u64::from_le_bytes(v))
}

#[test]
fn direct_hash_lookups_find_what_the_interpreter_finds() {
    for key_size in [4, 8, 12] {
        let sides = [false, true].map(|jit| side(BPF_MAP_TYPE_HASH, key_size, 512, jit));
        for s in &sides {
            for i in 0..300 {
                s.map
                    .update(&key(i, key_size), &u64::from(i * 7).to_le_bytes(), 0)
                    .expect("insert");
            }
        }
        let sweep = |round: &str| {
            for i in 0..320 {
                let k = key(i, key_size);
                both(&sides, &k);
                assert_eq!(
                    value(&sides[0], &k),
                    value(&sides[1], &k),
                    "{round}: the value of key {i} of {key_size} bytes"
                );
            }
        };
        sweep("first");
        let k5 = key(5, key_size);
        assert_eq!(both(&sides, &k5), 5 * 7 + 2 + 1000, "a hit adds one");
        assert_eq!(both(&sides, &key(310, key_size)), 1001, "a miss");
        for s in &sides {
            for i in (0..300).step_by(3) {
                s.map.delete(&key(i, key_size)).expect("delete");
            }
        }
        assert_eq!(both(&sides, &key(3, key_size)), 1001, "deleted");
        sweep("after deletes");
        for s in &sides {
            for i in (0..300).step_by(6) {
                s.map
                    .update(&key(i, key_size), &1u64.to_le_bytes(), 0)
                    .expect("re-insert");
            }
        }
        assert_eq!(both(&sides, &key(6, key_size)), 1002, "re-inserted");
        sweep("after re-inserts");
    }
}

#[test]
fn direct_lru_lookups_mark_the_same_keys_referenced() {
    let sides = [false, true].map(|jit| side(BPF_MAP_TYPE_LRU_HASH, 4, 64, jit));
    for s in &sides {
        for i in 0..64 {
            s.map
                .update(&key(i, 4), &0u64.to_le_bytes(), 0)
                .expect("insert");
        }
        for i in (0..64).step_by(2) {
            run(s, &key(i, 4));
        }
        for i in 64..96 {
            s.map
                .update(&key(i, 4), &0u64.to_le_bytes(), 0)
                .expect("insert past the capacity");
        }
    }
    let live = |s: &Side| -> Vec<u32> {
        (0..96)
            .filter(|&i| value(s, &key(i, 4)).is_some())
            .collect()
    };
    let (a, b) = (live(&sides[0]), live(&sides[1]));
    assert_eq!(a, b, "the keys that survived the evictions");
    assert!(a.len() < 96, "some keys were evicted: {a:?}");
}
