//! The limits that keep a hostile map definition (from an object ironbpf
//! loads) from costing unbounded memory, each checked against the kernel
//! where the kernel has the same limit.

use ironbpf_kernel::{KernelMap, MapCreate};
use ironbpf_maps::*;

fn ours(t: u32, max: u32, flags: u32) -> Result<(), i32> {
    let mut spec = MapSpec::new(t, 4, 8, max);
    spec.map_flags = flags;
    create_map_with_cpus(&spec, 2)
        .map(|_| ())
        .map_err(|e| e.errno)
}

/// A hash map's table has roundup_pow_of_two(max_entries) buckets of 16
/// bytes, and the kernel refuses one above U32_MAX bytes: 2^27 entries are
/// the most. ironbpf allowed up to 2^31 and then built a 32 GiB index.
#[test]
fn hash_max_entries_is_capped_as_the_kernel_caps_it() {
    let over = (1u32 << 27) + 1;
    for t in [BPF_MAP_TYPE_HASH, BPF_MAP_TYPE_PERCPU_HASH] {
        let e = create_map_with_cpus(
            &{
                let mut s = MapSpec::new(t, 4, 8, over);
                s.map_flags = BPF_F_NO_PREALLOC;
                s
            },
            2,
        )
        .map(|_| ())
        .unwrap_err();
        assert_eq!(e.errno, libc::E2BIG, "type {t}: {e}");
        assert!(e.to_string().contains("max_entries 134217729"), "{e}");
        for max in [over, 1 << 31] {
            assert_eq!(
                ours(t, max, BPF_F_NO_PREALLOC),
                Err(libc::E2BIG),
                "type {t} max {max}"
            );
        }
    }
    if !ironbpf_kernel::available_for_test("hash_max_entries_is_capped_as_the_kernel_caps_it") {
        return;
    }
    for t in [BPF_MAP_TYPE_HASH, BPF_MAP_TYPE_PERCPU_HASH] {
        for max in [over, 1 << 28, 1 << 31] {
            let mut c = MapCreate::new(t, 4, 8, max);
            c.map_flags = BPF_F_NO_PREALLOC;
            let k = KernelMap::create(&c).map(|_| ()).map_err(|e| e.errno);
            assert_eq!(k, Err(libc::E2BIG), "the kernel, type {t} max {max}");
        }
    }
}
