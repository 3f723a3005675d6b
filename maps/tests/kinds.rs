//! Every map kind through the public API, with the kernel's semantics and
//! errnos (the figures the kernel gives are checked against bpf(2) in
//! `kernel_diff.rs`; these tests run without a kernel).

use std::sync::Arc;
use std::time::Duration;

use ironbpf_maps::*;

fn k4(i: u32) -> [u8; 4] {
    i.to_ne_bytes()
}

fn v8(x: u64) -> [u8; 8] {
    x.to_ne_bytes()
}

fn errno<T>(r: Result<T, MapError>) -> i32 {
    match r {
        Ok(_) => 0,
        Err(e) => e.errno,
    }
}

fn create_errno(spec: &MapSpec) -> i32 {
    match create_map(spec) {
        Ok(_) => 0,
        Err(e) => e.errno,
    }
}

fn spec_flags(t: u32, ks: u32, vs: u32, max: u32, flags: u32) -> MapSpec {
    let mut s = MapSpec::new(t, ks, vs, max);
    s.map_flags = flags;
    s
}

/// All keys of a map, by get_next_key from the start.
fn keys(m: &dyn Map) -> Vec<Vec<u8>> {
    let ks = m.spec().key_size as usize;
    let mut out = Vec::new();
    let mut prev: Option<Vec<u8>> = None;
    loop {
        let mut next = vec![0u8; ks];
        match m.get_next_key(prev.as_deref(), &mut next) {
            Ok(()) => {
                out.push(next.clone());
                prev = Some(next);
            }
            Err(e) => {
                assert_eq!(e.errno, libc::ENOENT);
                return out;
            }
        }
    }
}

mod array {
    use super::*;

    #[test]
    fn creation_is_checked_as_the_kernel_does() {
        let t = BPF_MAP_TYPE_ARRAY;
        assert_eq!(create_errno(&MapSpec::new(t, 4, 8, 4)), 0);
        assert_eq!(create_errno(&MapSpec::new(t, 8, 8, 4)), libc::EINVAL);
        assert_eq!(create_errno(&MapSpec::new(t, 4, 0, 4)), libc::EINVAL);
        assert_eq!(create_errno(&MapSpec::new(t, 4, 8, 0)), libc::EINVAL);
        assert_eq!(
            create_errno(&spec_flags(t, 4, 8, 4, BPF_F_NO_PREALLOC)),
            libc::EINVAL
        );
        assert_eq!(create_errno(&spec_flags(t, 4, 8, 4, BPF_F_MMAPABLE)), 0);
        assert_eq!(
            create_errno(&spec_flags(t, 4, 8, 4, BPF_F_RDONLY | BPF_F_WRONLY)),
            libc::EINVAL
        );
        assert_eq!(
            create_errno(&spec_flags(
                t,
                4,
                8,
                4,
                BPF_F_RDONLY_PROG | BPF_F_WRONLY_PROG
            )),
            libc::EINVAL
        );
        let p = BPF_MAP_TYPE_PERCPU_ARRAY;
        assert_eq!(create_errno(&MapSpec::new(p, 4, 32 << 10, 4)), 0);
        assert_eq!(
            create_errno(&MapSpec::new(p, 4, (32 << 10) + 1, 4)),
            libc::E2BIG
        );
        assert_eq!(
            create_errno(&spec_flags(p, 4, 8, 4, BPF_F_MMAPABLE)),
            libc::EINVAL
        );
        let mut named = MapSpec::new(t, 4, 8, 4);
        named.name = "bad name".into();
        assert_eq!(create_errno(&named), libc::EINVAL);
        named.name = "fifteen_chars_x".into();
        assert_eq!(create_errno(&named), 0);
        named.name = "sixteen_chars_xx".into();
        assert_eq!(create_errno(&named), libc::EINVAL);
        let mut extra = MapSpec::new(t, 4, 8, 4);
        extra.map_extra = 1;
        assert_eq!(create_errno(&extra), libc::EINVAL);
    }

    #[test]
    fn elements_exist_from_the_start_and_cannot_be_deleted() {
        let m = create_map(&MapSpec::new(BPF_MAP_TYPE_ARRAY, 4, 12, 4)).unwrap();
        let mut v = [0xffu8; 12];
        m.lookup(&k4(3), &mut v, 0).unwrap();
        assert_eq!(v, [0; 12]);
        assert_eq!(errno(m.lookup(&k4(4), &mut v, 0)), libc::ENOENT);
        m.update(&k4(3), &[1; 12], BPF_ANY).unwrap();
        m.update(&k4(3), &[2; 12], BPF_EXIST).unwrap();
        assert_eq!(errno(m.update(&k4(3), &[3; 12], BPF_NOEXIST)), libc::EEXIST);
        assert_eq!(errno(m.update(&k4(4), &[3; 12], BPF_ANY)), libc::E2BIG);
        assert_eq!(errno(m.update(&k4(0), &[3; 12], 3)), libc::EINVAL);
        assert_eq!(errno(m.update(&k4(0), &[3; 12], BPF_F_LOCK)), libc::EINVAL);
        assert_eq!(errno(m.lookup(&k4(0), &mut v, BPF_F_LOCK)), libc::EINVAL);
        assert_eq!(errno(m.lookup(&k4(0), &mut v, 8)), libc::EINVAL);
        m.lookup(&k4(3), &mut v, 0).unwrap();
        assert_eq!(v, [2; 12]);
        assert_eq!(errno(m.delete(&k4(3))), libc::EINVAL);
        assert_eq!(errno(m.lookup_and_delete(&k4(3), &mut v, 0)), ENOTSUPP);
        assert_eq!(m.len(), 4);
    }

    #[test]
    fn get_next_key_walks_indices_in_order() {
        let m = create_map(&MapSpec::new(BPF_MAP_TYPE_ARRAY, 4, 8, 3)).unwrap();
        assert_eq!(
            keys(m.as_ref()),
            vec![k4(0).to_vec(), k4(1).to_vec(), k4(2).to_vec()]
        );
        let mut n = [0u8; 4];
        // A key past the end starts over, as the kernel's array does.
        m.get_next_key(Some(&k4(99)), &mut n).unwrap();
        assert_eq!(n, k4(0));
        assert_eq!(errno(m.get_next_key(Some(&k4(2)), &mut n)), libc::ENOENT);
    }

    #[test]
    fn percpu_values_are_one_rounded_copy_per_cpu() {
        let m =
            create_map_with_cpus(&MapSpec::new(BPF_MAP_TYPE_PERCPU_ARRAY, 4, 12, 2), 3).unwrap();
        assert_eq!(m.value_size_user(), 16 * 3);
        m.update_on_cpu(&k4(1), &[5; 12], BPF_ANY, 2).unwrap();
        let mut all = vec![0u8; 48];
        m.lookup(&k4(1), &mut all, 0).unwrap();
        assert_eq!(&all[..32], &[0; 32]);
        assert_eq!(&all[32..44], &[5; 12]);
        // A host update writes every CPU's copy.
        let v: Vec<u8> = (0..48).collect();
        m.update(&k4(0), &v, BPF_ANY).unwrap();
        let g = pin();
        let p = m.lookup_ptr(&k4(0), 1, &g).unwrap();
        // SAFETY: CPU 1's copy has 12 bytes.
        let got = unsafe { std::slice::from_raw_parts(p.as_ptr(), 12) };
        assert_eq!(got, &v[16..28]);
        assert!(m.lookup_ptr(&k4(0), 3, &g).is_none());
        assert_eq!(
            errno(m.update_on_cpu(&k4(0), &[0; 12], BPF_ANY, 3)),
            libc::EINVAL
        );
    }

    #[test]
    fn program_pointers_are_stable_and_regions_exact() {
        let m = create_map(&MapSpec::new(BPF_MAP_TYPE_ARRAY, 4, 12, 4)).unwrap();
        let g = pin();
        let p0 = m.lookup_ptr(&k4(0), 0, &g).unwrap().as_ptr() as u64;
        let p1 = m.lookup_ptr(&k4(1), 0, &g).unwrap().as_ptr() as u64;
        assert_eq!(p1 - p0, 16, "values are 8-byte aligned, one after another");
        // A program's store is what the host reads.
        // SAFETY: element 1 has 12 bytes.
        unsafe { std::ptr::write_bytes(p1 as *mut u8, 9, 12) };
        let mut v = [0u8; 12];
        m.lookup(&k4(1), &mut v, 0).unwrap();
        assert_eq!(v, [9; 12]);
        let r = m.value_region(p1 + 4, 8).unwrap();
        assert_eq!((r.start, r.len, r.writable), (p1, 12, true));
        assert!(m.value_region(p1 + 4, 9).is_none(), "past the value");
        assert!(m.value_region(p1 + 12, 1).is_none(), "in the padding");
        assert!(m.lookup_ptr(&k4(4), 0, &g).is_none());
    }

    #[test]
    fn batches_walk_in_index_order() {
        let m = create_map(&MapSpec::new(BPF_MAP_TYPE_ARRAY, 4, 8, 5)).unwrap();
        let ks: Vec<u8> = [0u32, 2, 9, 1]
            .iter()
            .flat_map(|k| k.to_ne_bytes())
            .collect();
        let vs: Vec<u8> = (0..4u64).flat_map(|v| (v + 10).to_ne_bytes()).collect();
        // Stops at the first failure (index 9), with the count done.
        let (done, e) = m.update_batch(&ks, &vs, 4, 0).unwrap_err();
        assert_eq!((done, e.errno), (2, libc::E2BIG));
        let mut kout = vec![0u8; 4 * 3];
        let mut vout = vec![0u8; 8 * 3];
        let first = m
            .lookup_batch(None, &mut kout, &mut vout, 3, 0, false)
            .unwrap();
        assert_eq!(first.count, 3);
        assert_eq!(first.out_batch, k4(2).to_vec());
        assert_eq!(&vout[16..24], &v8(11));
        let (rest, e) = m
            .lookup_batch(Some(&first.out_batch), &mut kout, &mut vout, 3, 0, false)
            .unwrap_err();
        assert_eq!((rest.count, e.errno), (2, libc::ENOENT));
        assert_eq!(&kout[..8], &[3, 0, 0, 0, 4, 0, 0, 0]);
        let (_, e) = m
            .lookup_batch(None, &mut kout, &mut vout, 3, 0, true)
            .unwrap_err();
        assert_eq!(e.errno, ENOTSUPP);
        let (_, e) = m.delete_batch(&ks, 1, 0).unwrap_err();
        assert_eq!(e.errno, ENOTSUPP);
    }
}

mod hash {
    use super::*;

    #[test]
    fn creation_is_checked_as_the_kernel_does() {
        let t = BPF_MAP_TYPE_HASH;
        assert_eq!(create_errno(&MapSpec::new(t, 0, 8, 4)), libc::EINVAL);
        assert_eq!(create_errno(&MapSpec::new(t, 4, 0, 4)), libc::EINVAL);
        assert_eq!(create_errno(&MapSpec::new(t, 4, 8, 0)), libc::EINVAL);
        assert_eq!(create_errno(&MapSpec::new(t, 4, 4 << 20, 1)), libc::E2BIG);
        assert_eq!(
            create_errno(&spec_flags(t, 4, 8, 4, BPF_F_NO_COMMON_LRU)),
            libc::EINVAL
        );
        assert_eq!(
            create_errno(&spec_flags(t, 4, 8, 4, BPF_F_MMAPABLE)),
            libc::EINVAL
        );
        assert_eq!(create_errno(&spec_flags(t, 4, 8, 4, BPF_F_NO_PREALLOC)), 0);
        assert_eq!(create_errno(&spec_flags(t, 4, 8, 4, BPF_F_ZERO_SEED)), 0);
        assert_eq!(
            create_errno(&MapSpec::new(
                BPF_MAP_TYPE_PERCPU_HASH,
                4,
                (32 << 10) + 1,
                4
            )),
            libc::E2BIG
        );
        assert_eq!(
            create_errno(&spec_flags(
                BPF_MAP_TYPE_PERCPU_HASH,
                4,
                8,
                4,
                BPF_F_NUMA_NODE
            )),
            libc::EINVAL
        );
    }

    fn flags_semantics(flags: u32) {
        let m = create_map(&spec_flags(BPF_MAP_TYPE_HASH, 4, 8, 2, flags)).unwrap();
        let mut v = [0u8; 8];
        assert_eq!(errno(m.lookup(&k4(1), &mut v, 0)), libc::ENOENT);
        assert_eq!(errno(m.update(&k4(1), &v8(1), BPF_EXIST)), libc::ENOENT);
        m.update(&k4(1), &v8(1), BPF_NOEXIST).unwrap();
        assert_eq!(errno(m.update(&k4(1), &v8(2), BPF_NOEXIST)), libc::EEXIST);
        m.update(&k4(1), &v8(3), BPF_EXIST).unwrap();
        m.update(&k4(2), &v8(4), BPF_ANY).unwrap();
        // Full: a new key is refused, an existing one is still updated.
        assert_eq!(errno(m.update(&k4(3), &v8(5), BPF_ANY)), libc::E2BIG);
        m.update(&k4(2), &v8(6), BPF_ANY).unwrap();
        assert_eq!(errno(m.update(&k4(2), &v8(6), 4)), libc::EINVAL);
        assert_eq!(errno(m.update(&k4(2), &v8(6), 8)), libc::EINVAL);
        m.lookup(&k4(1), &mut v, 0).unwrap();
        assert_eq!(v, v8(3));
        assert_eq!(m.len(), 2);
        let mut got = keys(m.as_ref());
        got.sort();
        assert_eq!(got, vec![k4(1).to_vec(), k4(2).to_vec()]);
        // An absent key restarts the walk at the first key.
        let mut n = [0u8; 4];
        m.get_next_key(Some(&k4(77)), &mut n).unwrap();
        assert!(n == k4(1) || n == k4(2));
        m.lookup_and_delete(&k4(2), &mut v, 0).unwrap();
        assert_eq!(v, v8(6));
        assert_eq!(errno(m.lookup_and_delete(&k4(2), &mut v, 0)), libc::ENOENT);
        assert_eq!(errno(m.delete(&k4(2))), libc::ENOENT);
        m.delete(&k4(1)).unwrap();
        assert!(m.is_empty());
        assert_eq!(errno(m.get_next_key(None, &mut n)), libc::ENOENT);
        // Room again after the deletes.
        m.update(&k4(3), &v8(5), BPF_NOEXIST).unwrap();
    }

    #[test]
    fn update_flags_and_capacity_follow_the_kernel() {
        flags_semantics(0);
        flags_semantics(BPF_F_NO_PREALLOC);
    }

    #[test]
    fn keys_are_whole_byte_strings() {
        let m = create_map(&MapSpec::new(BPF_MAP_TYPE_HASH, 13, 4, 8)).unwrap();
        let a = [1u8; 13];
        let mut b = [1u8; 13];
        b[12] = 2;
        m.update(&a, &[1; 4], BPF_ANY).unwrap();
        m.update(&b, &[2; 4], BPF_ANY).unwrap();
        let mut v = [0u8; 4];
        m.lookup(&b, &mut v, 0).unwrap();
        assert_eq!(v, [2; 4]);
        let g = pin();
        let p = m.lookup_ptr(&a, 0, &g).unwrap();
        // SAFETY: the value has 4 bytes.
        assert_eq!(unsafe { *p.as_ptr() }, 1);
        assert_eq!(errno(m.lookup(&[1u8; 12], &mut v, 0)), libc::EFAULT);
    }

    #[test]
    fn a_deleted_value_stays_readable_while_a_guard_holds_it() {
        let m = create_map(&MapSpec::new(BPF_MAP_TYPE_HASH, 4, 8, 4)).unwrap();
        m.update(&k4(1), &v8(42), BPF_ANY).unwrap();
        let g = pin();
        let p = m.lookup_ptr(&k4(1), 0, &g).unwrap();
        m.delete(&k4(1)).unwrap();
        // New elements must not reuse the slot a program may still read.
        for i in 10..14 {
            m.update(&k4(i), &v8(i as u64), BPF_ANY).unwrap();
        }
        // SAFETY: the slot is not reused while `g` lives.
        assert_eq!(unsafe { *(p.as_ptr() as *const u64) }, 42);
        // The program may still touch it, as a kernel program may touch an
        // element deleted under it until its RCU read section ends.
        assert!(m.value_region(p.as_ptr() as u64, 8).is_some());
        drop(g);
        assert!(m.lookup_ptr(&k4(1), 0, &pin()).is_none());
    }

    #[test]
    fn a_program_update_of_a_new_percpu_element_zeroes_the_other_cpus() {
        let m = create_map_with_cpus(&MapSpec::new(BPF_MAP_TYPE_PERCPU_HASH, 4, 4, 4), 2).unwrap();
        assert_eq!(m.value_size_user(), 16);
        m.update(&k4(1), &[7u8; 16], BPF_ANY).unwrap();
        m.update_on_cpu(&k4(1), &[1; 4], BPF_EXIST, 1).unwrap();
        let mut v = [0u8; 16];
        m.lookup(&k4(1), &mut v, 0).unwrap();
        assert_eq!(v, [7, 7, 7, 7, 7, 7, 7, 7, 1, 1, 1, 1, 7, 7, 7, 7]);
        m.update_on_cpu(&k4(2), &[3; 4], BPF_NOEXIST, 0).unwrap();
        m.lookup(&k4(2), &mut v, 0).unwrap();
        assert_eq!(v, [3, 3, 3, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        let g = pin();
        let p0 = m.lookup_ptr(&k4(2), 0, &g).unwrap().as_ptr() as u64;
        let p1 = m.lookup_ptr(&k4(2), 1, &g).unwrap().as_ptr() as u64;
        assert_eq!(p1 - p0, 8);
        let r = m.value_region(p1, 4).unwrap();
        assert_eq!((r.start, r.len), (p1, 4));
    }

    #[test]
    fn lookup_and_delete_batch_empties_the_map() {
        let m = create_map(&MapSpec::new(BPF_MAP_TYPE_HASH, 4, 8, 64)).unwrap();
        for i in 0..40 {
            m.update(&k4(i), &v8(i as u64 * 3), BPF_ANY).unwrap();
        }
        let mut seen = Vec::new();
        let mut pos: Option<Vec<u8>> = None;
        loop {
            let mut ks = vec![0u8; 4 * 16];
            let mut vs = vec![0u8; 8 * 16];
            let (out, end) = match m.lookup_batch(pos.as_deref(), &mut ks, &mut vs, 16, 0, true) {
                Ok(o) => (o, false),
                Err((o, e)) => {
                    assert_eq!(e.errno, libc::ENOENT);
                    (o, true)
                }
            };
            for i in 0..out.count as usize {
                let k = u32::from_ne_bytes(ks[4 * i..4 * i + 4].try_into().unwrap());
                let v = u64::from_ne_bytes(vs[8 * i..8 * i + 8].try_into().unwrap());
                assert_eq!(v, k as u64 * 3);
                seen.push(k);
            }
            if end {
                break;
            }
            pos = Some(out.out_batch);
        }
        seen.sort();
        assert_eq!(seen, (0..40).collect::<Vec<_>>());
        assert!(m.is_empty());
        let ks: Vec<u8> = [1u32, 2].iter().flat_map(|k| k.to_ne_bytes()).collect();
        let vs: Vec<u8> = [1u64, 2].iter().flat_map(|v| v.to_ne_bytes()).collect();
        assert_eq!(m.update_batch(&ks, &vs, 2, 0).unwrap(), 2);
        let (done, e) = m
            .delete_batch(&[ks.clone(), k4(9).to_vec()].concat(), 3, 0)
            .unwrap_err();
        assert_eq!((done, e.errno), (2, libc::ENOENT));
        // elem_flags take only BPF_F_LOCK: BPF_NOEXIST is refused up front.
        assert_eq!(
            m.update_batch(&ks, &vs, 2, BPF_NOEXIST).unwrap_err(),
            (0, m.update_batch(&ks, &vs, 2, BPF_NOEXIST).unwrap_err().1)
        );
        assert_eq!(
            m.update_batch(&ks, &vs, 2, BPF_NOEXIST)
                .unwrap_err()
                .1
                .errno,
            libc::EINVAL
        );
        assert_eq!(m.update_batch(&ks, &vs, 2, BPF_ANY).unwrap(), 2);
    }
}

mod lru {
    use super::*;

    #[test]
    fn creation_is_checked_as_the_kernel_does() {
        let t = BPF_MAP_TYPE_LRU_HASH;
        assert_eq!(
            create_errno(&spec_flags(t, 4, 8, 4, BPF_F_NO_PREALLOC)),
            ENOTSUPP
        );
        assert_eq!(
            create_errno(&spec_flags(t, 4, 8, 4, BPF_F_NO_COMMON_LRU)),
            0
        );
        assert_eq!(
            create_errno(&spec_flags(
                t,
                4,
                8,
                4,
                BPF_F_NO_COMMON_LRU | BPF_F_NUMA_NODE
            )),
            libc::EINVAL
        );
        // Per-CPU lists: max_entries rounds up to a multiple of the CPUs.
        let m = create_map_with_cpus(&spec_flags(t, 4, 8, 5, BPF_F_NO_COMMON_LRU), 4).unwrap();
        assert_eq!(m.spec().max_entries, 8);
    }

    #[test]
    fn a_full_map_evicts_instead_of_failing() {
        let m = create_map_with_cpus(&MapSpec::new(BPF_MAP_TYPE_LRU_HASH, 4, 8, 256), 1).unwrap();
        for i in 0..1000 {
            m.update(&k4(i), &v8(i as u64), BPF_ANY).unwrap();
            assert!(m.len() <= 256);
        }
        assert!(m.len() > 128, "evictions free a few nodes at a time");
        let mut v = [0u8; 8];
        m.lookup(&k4(999), &mut v, 0).unwrap();
        assert_eq!(v, v8(999), "the newest element survives");
        assert_eq!(errno(m.lookup(&k4(0), &mut v, 0)), libc::ENOENT);
        for k in keys(m.as_ref()) {
            let i = u32::from_ne_bytes(k[..4].try_into().unwrap());
            m.lookup(&k, &mut v, 0).unwrap();
            assert_eq!(v, v8(i as u64));
        }
        // BPF_NOEXIST/BPF_EXIST still hold.
        assert_eq!(errno(m.update(&k4(999), &v8(0), BPF_NOEXIST)), libc::EEXIST);
        assert_eq!(errno(m.update(&k4(5000), &v8(0), BPF_EXIST)), libc::ENOENT);
    }

    #[test]
    fn what_programs_use_outlives_what_they_do_not() {
        let m = create_map_with_cpus(&MapSpec::new(BPF_MAP_TYPE_LRU_HASH, 4, 8, 256), 1).unwrap();
        for i in 0..256 {
            m.update(&k4(i), &v8(0), BPF_ANY).unwrap();
        }
        let hot = [3u32, 100, 200];
        for round in 0..8 {
            let g = pin();
            // A program's lookup sets the reference bit, as bpf_map_lookup_elem does.
            for h in hot {
                assert!(
                    m.lookup_ptr(&k4(h), 0, &g).is_some(),
                    "round {round}: {h} evicted"
                );
            }
            for i in 0..64 {
                m.update(&k4(1000 + round * 64 + i), &v8(1), BPF_ANY)
                    .unwrap();
            }
        }
        let mut v = [0u8; 8];
        for h in hot {
            m.lookup(&k4(h), &mut v, 0).unwrap();
        }
        let cold_left = (0..256)
            .filter(|i| !hot.contains(i) && m.lookup(&k4(*i), &mut v, 0).is_ok())
            .count();
        assert!(cold_left < 100, "{cold_left} unused elements survived");
    }

    #[test]
    fn percpu_lru_keeps_every_cpus_copy() {
        let m =
            create_map_with_cpus(&MapSpec::new(BPF_MAP_TYPE_LRU_PERCPU_HASH, 4, 8, 8), 2).unwrap();
        m.update_on_cpu(&k4(1), &v8(5), BPF_ANY, 1).unwrap();
        let mut v = [0u8; 16];
        m.lookup(&k4(1), &mut v, 0).unwrap();
        assert_eq!(v[..8], v8(0));
        assert_eq!(v[8..], v8(5));
        m.update_on_cpu(&k4(1), &v8(6), BPF_EXIST, 0).unwrap();
        m.lookup(&k4(1), &mut v, 0).unwrap();
        assert_eq!(v[..8], v8(6));
        assert_eq!(v[8..], v8(5));
    }
}

mod lpm {
    use super::*;

    fn key(prefix: u32, addr: [u8; 4]) -> Vec<u8> {
        let mut k = prefix.to_ne_bytes().to_vec();
        k.extend_from_slice(&addr);
        k
    }

    fn trie(max: u32) -> Arc<dyn Map> {
        create_map(&spec_flags(
            BPF_MAP_TYPE_LPM_TRIE,
            8,
            8,
            max,
            BPF_F_NO_PREALLOC,
        ))
        .unwrap()
    }

    #[test]
    fn creation_is_checked_as_the_kernel_does() {
        let t = BPF_MAP_TYPE_LPM_TRIE;
        assert_eq!(
            create_errno(&MapSpec::new(t, 8, 8, 4)),
            libc::EINVAL,
            "needs NO_PREALLOC"
        );
        let f = BPF_F_NO_PREALLOC;
        assert_eq!(create_errno(&spec_flags(t, 4, 8, 4, f)), libc::EINVAL);
        assert_eq!(create_errno(&spec_flags(t, 5, 8, 4, f)), 0);
        assert_eq!(create_errno(&spec_flags(t, 260, 8, 4, f)), 0);
        assert_eq!(create_errno(&spec_flags(t, 261, 8, 4, f)), libc::EINVAL);
        assert_eq!(create_errno(&spec_flags(t, 8, 0, 4, f)), libc::EINVAL);
        assert_eq!(create_errno(&spec_flags(t, 8, 8, 0, f)), libc::EINVAL);
    }

    #[test]
    fn lookup_finds_the_longest_matching_prefix() {
        let m = trie(16);
        m.update(&key(8, [10, 0, 0, 0]), &v8(8), BPF_ANY).unwrap();
        m.update(&key(16, [10, 1, 0, 0]), &v8(16), BPF_ANY).unwrap();
        m.update(&key(24, [10, 1, 2, 0]), &v8(24), BPF_ANY).unwrap();
        m.update(&key(0, [0, 0, 0, 0]), &v8(0), BPF_ANY).unwrap();
        let look = |k: Vec<u8>| {
            let mut v = [0u8; 8];
            m.lookup(&k, &mut v, 0)
                .map(|_| u64::from_ne_bytes(v))
                .map_err(|e| e.errno)
        };
        assert_eq!(look(key(32, [10, 1, 2, 3])), Ok(24));
        assert_eq!(look(key(32, [10, 1, 9, 9])), Ok(16));
        assert_eq!(look(key(32, [10, 9, 9, 9])), Ok(8));
        assert_eq!(look(key(32, [11, 0, 0, 0])), Ok(0));
        // The key's own prefix length bounds the match.
        assert_eq!(look(key(20, [10, 1, 2, 3])), Ok(16));
        assert_eq!(look(key(7, [10, 1, 2, 3])), Ok(0));
        // Longer than the trie's 32 bits: nothing matches.
        assert_eq!(look(key(33, [10, 1, 2, 3])), Err(libc::ENOENT));
        m.delete(&key(16, [10, 1, 0, 0])).unwrap();
        assert_eq!(look(key(32, [10, 1, 9, 9])), Ok(8));
        // Delete and update are exact: bits past the prefix do not matter.
        assert_eq!(errno(m.delete(&key(16, [10, 1, 0, 0]))), libc::ENOENT);
        m.delete(&key(8, [10, 77, 77, 77])).unwrap();
        assert_eq!(look(key(32, [10, 9, 9, 9])), Ok(0));
        m.delete(&key(0, [0, 0, 0, 0])).unwrap();
        assert_eq!(look(key(32, [11, 0, 0, 0])), Err(libc::ENOENT));
    }

    #[test]
    fn updates_follow_the_flags_and_the_capacity() {
        let m = trie(2);
        m.update(&key(24, [192, 168, 1, 0]), &v8(1), BPF_NOEXIST)
            .unwrap();
        assert_eq!(
            errno(m.update(&key(24, [192, 168, 1, 99]), &v8(2), BPF_NOEXIST)),
            libc::EEXIST
        );
        assert_eq!(
            errno(m.update(&key(25, [192, 168, 1, 0]), &v8(2), BPF_EXIST)),
            libc::ENOENT
        );
        m.update(&key(25, [192, 168, 1, 0]), &v8(2), BPF_ANY)
            .unwrap();
        assert_eq!(
            errno(m.update(&key(26, [192, 168, 1, 0]), &v8(3), BPF_ANY)),
            libc::ENOSPC
        );
        m.update(&key(25, [192, 168, 1, 0]), &v8(4), BPF_EXIST)
            .unwrap();
        assert_eq!(
            errno(m.update(&key(33, [0; 4]), &v8(3), BPF_ANY)),
            libc::EINVAL
        );
        assert_eq!(errno(m.delete(&key(33, [0; 4]))), libc::EINVAL);
        assert_eq!(errno(m.update(&key(8, [1; 4]), &v8(3), 3)), libc::EINVAL);
        assert_eq!(m.len(), 2);
    }

    #[test]
    fn get_next_key_gives_longer_prefixes_first() {
        let m = trie(16);
        for (p, a) in [
            (8, [10, 0, 0, 0]),
            (16, [10, 1, 0, 0]),
            (16, [10, 0, 0, 0]),
            (24, [10, 1, 2, 0]),
        ] {
            m.update(&key(p, a), &v8(p as u64), BPF_ANY).unwrap();
        }
        let order: Vec<(u32, [u8; 4])> = keys(m.as_ref())
            .into_iter()
            .map(|k| {
                (
                    u32::from_ne_bytes(k[..4].try_into().unwrap()),
                    k[4..8].try_into().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            order,
            vec![
                (16, [10, 0, 0, 0]),
                (24, [10, 1, 2, 0]),
                (16, [10, 1, 0, 0]),
                (8, [10, 0, 0, 0]),
            ]
        );
        // A key not in the trie starts over.
        let mut n = [0u8; 8];
        m.get_next_key(Some(&key(30, [1, 2, 3, 4])), &mut n)
            .unwrap();
        assert_eq!(n.to_vec(), key(16, [10, 0, 0, 0]));
    }
}

mod queue_stack {
    use super::*;

    #[test]
    fn creation_is_checked_as_the_kernel_does() {
        for t in [BPF_MAP_TYPE_QUEUE, BPF_MAP_TYPE_STACK] {
            assert_eq!(create_errno(&MapSpec::new(t, 0, 8, 4)), 0);
            assert_eq!(create_errno(&MapSpec::new(t, 4, 8, 4)), libc::EINVAL);
            assert_eq!(create_errno(&MapSpec::new(t, 0, 0, 4)), libc::EINVAL);
            assert_eq!(create_errno(&MapSpec::new(t, 0, 8, 0)), libc::EINVAL);
            assert_eq!(
                create_errno(&MapSpec::new(t, 0, (4 << 20) + 1, 1)),
                libc::E2BIG
            );
            assert_eq!(
                create_errno(&spec_flags(t, 0, 8, 4, BPF_F_NO_PREALLOC)),
                libc::EINVAL
            );
        }
    }

    fn drain(m: &dyn Map) -> Vec<u64> {
        let mut out = Vec::new();
        let mut v = [0u8; 8];
        while m.lookup_and_delete(&[], &mut v, 0).is_ok() {
            out.push(u64::from_ne_bytes(v));
        }
        out
    }

    #[test]
    fn a_queue_is_fifo_and_a_stack_lifo() {
        let q = create_map(&MapSpec::new(BPF_MAP_TYPE_QUEUE, 0, 8, 3)).unwrap();
        let s = create_map(&MapSpec::new(BPF_MAP_TYPE_STACK, 0, 8, 3)).unwrap();
        let mut v = [0u8; 8];
        for m in [&q, &s] {
            assert_eq!(errno(m.lookup(&[], &mut v, 0)), libc::ENOENT);
            assert_eq!(errno(m.lookup_and_delete(&[], &mut v, 0)), libc::ENOENT);
            for i in 1..=3 {
                m.update(&[], &v8(i), BPF_ANY).unwrap();
            }
            assert_eq!(errno(m.update(&[], &v8(4), BPF_ANY)), libc::E2BIG);
            assert_eq!(errno(m.update(&[], &v8(4), BPF_NOEXIST)), libc::EINVAL);
            assert_eq!(errno(m.delete(&[])), libc::EINVAL);
            assert_eq!(errno(m.get_next_key(None, &mut v)), libc::EINVAL);
            assert_eq!(
                errno(m.lookup_and_delete(&[], &mut v, BPF_F_LOCK)),
                libc::EINVAL
            );
            assert_eq!(m.len(), 3);
        }
        q.lookup(&[], &mut v, 0).unwrap();
        assert_eq!(v, v8(1), "a queue's peek is the oldest");
        s.lookup(&[], &mut v, 0).unwrap();
        assert_eq!(v, v8(3), "a stack's peek is the newest");
        assert_eq!(drain(q.as_ref()), vec![1, 2, 3]);
        assert_eq!(drain(s.as_ref()), vec![3, 2, 1]);
    }

    #[test]
    fn bpf_exist_makes_room_by_dropping_the_oldest() {
        let q = create_map(&MapSpec::new(BPF_MAP_TYPE_QUEUE, 0, 8, 2)).unwrap();
        let s = create_map(&MapSpec::new(BPF_MAP_TYPE_STACK, 0, 8, 2)).unwrap();
        for m in [&q, &s] {
            for i in 1..=4 {
                m.update(&[], &v8(i), BPF_EXIST).unwrap();
            }
        }
        assert_eq!(drain(q.as_ref()), vec![3, 4]);
        assert_eq!(drain(s.as_ref()), vec![4, 3]);
        // Programs push and pop through the concrete type too.
        let qs = q.as_any().downcast_ref::<QueueStack>().unwrap();
        qs.push(&v8(9), BPF_ANY).unwrap();
        let mut v = [0u8; 8];
        qs.peek(&mut v).unwrap();
        qs.pop(&mut v).unwrap();
        assert_eq!(v, v8(9));
        assert!(
            q.lookup_ptr(&[], 0, &pin()).is_none(),
            "values are copied, never pointed at"
        );
    }
}

mod bloom {
    use super::*;

    #[test]
    fn creation_is_checked_as_the_kernel_does() {
        let t = BPF_MAP_TYPE_BLOOM_FILTER;
        assert_eq!(create_errno(&MapSpec::new(t, 0, 8, 100)), 0);
        assert_eq!(create_errno(&MapSpec::new(t, 4, 8, 100)), libc::EINVAL);
        assert_eq!(create_errno(&MapSpec::new(t, 0, 0, 100)), libc::EINVAL);
        assert_eq!(create_errno(&MapSpec::new(t, 0, 8, 0)), libc::EINVAL);
        let mut s = MapSpec::new(t, 0, 8, 100);
        s.map_extra = 15;
        assert_eq!(create_errno(&s), 0);
        s.map_extra = 16;
        assert_eq!(create_errno(&s), libc::EINVAL);
        assert_eq!(
            create_errno(&MapSpec::new(t, 0, (4 << 20) + 1, 1)),
            libc::E2BIG
        );
    }

    #[test]
    fn what_was_pushed_is_always_found() {
        let m = create_map(&spec_flags(
            BPF_MAP_TYPE_BLOOM_FILTER,
            0,
            8,
            1000,
            BPF_F_ZERO_SEED,
        ))
        .unwrap();
        let mut v = v8(5);
        assert_eq!(errno(m.lookup(&[], &mut v, 0)), libc::ENOENT);
        for i in 0..1000u64 {
            m.update(&[], &v8(i * 7919), BPF_ANY).unwrap();
        }
        for i in 0..1000u64 {
            let mut v = v8(i * 7919);
            m.lookup(&[], &mut v, 0).unwrap();
        }
        let false_pos = (0..10_000u64)
            .filter(|i| {
                let mut v = v8(1 << 40 | i);
                m.lookup(&[], &mut v, 0).is_ok()
            })
            .count();
        assert!(false_pos < 500, "{false_pos} false positives in 10000");
        assert_eq!(errno(m.update(&[], &v8(1), BPF_EXIST)), libc::EINVAL);
        assert_eq!(errno(m.delete(&[])), libc::EOPNOTSUPP);
        assert_eq!(errno(m.get_next_key(None, &mut v)), libc::EOPNOTSUPP);
        assert_eq!(errno(m.lookup_and_delete(&[], &mut v, 0)), ENOTSUPP);
    }

    #[test]
    fn zero_seed_filters_agree_with_each_other() {
        let mk = || {
            create_map(&spec_flags(
                BPF_MAP_TYPE_BLOOM_FILTER,
                0,
                5,
                16,
                BPF_F_ZERO_SEED,
            ))
            .unwrap()
        };
        let (a, b) = (mk(), mk());
        for i in 0..16u8 {
            a.update(&[], &[i; 5], BPF_ANY).unwrap();
            b.update(&[], &[i; 5], BPF_ANY).unwrap();
        }
        for i in 0..=255u8 {
            let mut x = [i, 1, 2, 3, i];
            let mut y = x;
            assert_eq!(
                a.lookup(&[], &mut x, 0).is_ok(),
                b.lookup(&[], &mut y, 0).is_ok()
            );
        }
    }
}

mod ringbuf {
    use super::*;

    fn ring(size: u32) -> Arc<dyn Map> {
        create_map(&MapSpec::new(BPF_MAP_TYPE_RINGBUF, 0, 0, size)).unwrap()
    }

    fn rb(m: &Arc<dyn Map>) -> &RingBuf {
        m.as_any().downcast_ref::<RingBuf>().unwrap()
    }

    #[test]
    fn creation_is_checked_as_the_kernel_does() {
        let t = BPF_MAP_TYPE_RINGBUF;
        assert_eq!(create_errno(&MapSpec::new(t, 0, 0, 4096)), 0);
        assert_eq!(create_errno(&MapSpec::new(t, 0, 0, 4095)), libc::EINVAL);
        assert_eq!(create_errno(&MapSpec::new(t, 0, 0, 3 * 4096)), libc::EINVAL);
        assert_eq!(create_errno(&MapSpec::new(t, 0, 0, 2048)), libc::EINVAL);
        assert_eq!(create_errno(&MapSpec::new(t, 4, 0, 4096)), libc::EINVAL);
        assert_eq!(create_errno(&MapSpec::new(t, 0, 4, 4096)), libc::EINVAL);
        assert_eq!(
            create_errno(&spec_flags(t, 0, 0, 4096, BPF_F_RDONLY)),
            libc::EINVAL
        );
        let m = ring(4096);
        let mut v = [0u8; 8];
        assert_eq!(errno(m.lookup(&[], &mut v, 0)), ENOTSUPP);
        assert_eq!(errno(m.update(&[], &v, 0)), ENOTSUPP);
        assert_eq!(errno(m.delete(&[])), ENOTSUPP);
        assert_eq!(errno(m.get_next_key(None, &mut v)), ENOTSUPP);
    }

    #[test]
    fn submitted_records_reach_the_consumer_in_order_and_discarded_ones_do_not() {
        let m = ring(4096);
        let r = rb(&m);
        assert_eq!(r.query(BPF_RB_RING_SIZE), 4096);
        let a = r.reserve(5, 0).unwrap();
        let b = r.reserve(3, 0).unwrap();
        let c = r.reserve(16, 0).unwrap();
        assert!(r.owns(a) && r.owns(b) && r.owns(c));
        // Headers of 8 bytes, records rounded up to 8.
        assert_eq!(b.as_ptr() as usize - a.as_ptr() as usize, 16);
        assert_eq!(r.query(BPF_RB_PROD_POS), 16 + 16 + 24);
        assert_eq!(r.query(BPF_RB_AVAIL_DATA), 56);
        // SAFETY: each reservation has the bytes asked for.
        unsafe {
            std::ptr::copy_nonoverlapping(b"hello".as_ptr(), a.as_ptr(), 5);
            std::ptr::copy_nonoverlapping(b"abc".as_ptr(), c.as_ptr(), 3);
        }
        // The oldest is not submitted yet: the consumer sees nothing.
        r.submit(c, 0);
        assert!(r.next_record().is_none());
        assert!(!r.wait(Duration::from_millis(1)));
        r.submit(a, BPF_RB_NO_WAKEUP);
        r.discard(b, 0);
        let got: Vec<Vec<u8>> = std::iter::from_fn(|| r.next_record())
            .map(|x| x.data)
            .collect();
        assert_eq!(got[0], b"hello");
        assert_eq!(&got[1][..3], b"abc");
        assert_eq!(got.len(), 2);
        assert_eq!(r.query(BPF_RB_CONS_POS), 56);
        assert_eq!(r.query(BPF_RB_AVAIL_DATA), 0);
        r.output(b"xyz", 0).unwrap();
        assert_eq!(errno(r.output(b"xyz", 4)), libc::EINVAL);
        let mut seen = Vec::new();
        assert_eq!(r.consume(|rec| seen.push(rec.data.clone())), 1);
        assert_eq!(seen, vec![b"xyz".to_vec()]);
    }

    #[test]
    fn reserve_refuses_what_does_not_fit() {
        let m = ring(4096);
        let r = rb(&m);
        assert!(
            r.reserve(4096, 0).is_none(),
            "header included, more than the ring"
        );
        assert!(r.reserve(8, 1).is_none(), "flags must be 0");
        let big = r.reserve(4096 - 16, 0).unwrap();
        assert!(r.reserve(1, 0).is_none(), "one byte short of the ring");
        assert_eq!(errno(r.output(b"x", 0)), libc::EAGAIN);
        r.submit(big, 0);
        assert_eq!(r.next_record().unwrap().data.len(), 4096 - 16);
        assert!(r.reserve(1, 0).is_some());
    }

    #[test]
    fn a_record_across_the_end_is_contiguous() {
        let m = ring(4096);
        let r = rb(&m);
        for _ in 0..3 {
            r.output(&[1u8; 1000], 0).unwrap();
            r.next_record().unwrap();
        }
        // Position 3024: this record wraps.
        let data: Vec<u8> = (0..2000u32).map(|i| i as u8).collect();
        let p = r.reserve(2000, 0).unwrap();
        let region = r.record_region(p.as_ptr() as u64 + 1500, 500).unwrap();
        assert_eq!((region.start, region.len), (p.as_ptr() as u64, 2000));
        assert!(r.record_region(p.as_ptr() as u64 + 1500, 501).is_none());
        // SAFETY: the reservation has 2000 contiguous bytes.
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), p.as_ptr(), 2000) };
        r.submit(p, 0);
        assert!(
            r.record_region(p.as_ptr() as u64, 1).is_none(),
            "submitted: no longer the program's"
        );
        assert_eq!(r.next_record().unwrap().data, data);
    }

    #[test]
    fn a_consumer_waits_for_producers() {
        let m = ring(1 << 16);
        let producers: Vec<_> = (0..4u8)
            .map(|t| {
                let m = m.clone();
                std::thread::spawn(move || {
                    let r = rb(&m);
                    for i in 0..200u8 {
                        while r.output(&[t, i], 0).is_err() {
                            std::thread::yield_now();
                        }
                    }
                })
            })
            .collect();
        let r = rb(&m);
        let mut next = [0u8; 4];
        let mut n = 0;
        while n < 800 {
            assert!(r.wait(Duration::from_secs(10)), "no record within 10 s");
            r.consume(|rec| {
                let (t, i) = (rec.data[0] as usize, rec.data[1]);
                assert_eq!(i, next[t], "producer {t}'s records in order");
                next[t] += 1;
                n += 1;
            });
        }
        for p in producers {
            p.join().unwrap();
        }
        assert_eq!(next, [200; 4]);
    }
}

mod perf {
    use super::*;

    #[test]
    fn slots_open_and_close_like_perf_event_fds() {
        let m = create_map(&MapSpec::new(BPF_MAP_TYPE_PERF_EVENT_ARRAY, 4, 4, 2)).unwrap();
        let p = m.as_any().downcast_ref::<PerfEventArray>().unwrap();
        assert_eq!(
            create_errno(&MapSpec::new(BPF_MAP_TYPE_PERF_EVENT_ARRAY, 4, 8, 2)),
            libc::EINVAL
        );
        let mut v = [0u8; 4];
        assert_eq!(errno(m.lookup(&k4(0), &mut v, 0)), ENOTSUPP);
        assert_eq!(errno(m.update(&k4(0), &k4(7), BPF_NOEXIST)), libc::EINVAL);
        assert_eq!(errno(m.update(&k4(2), &k4(7), BPF_ANY)), libc::E2BIG);
        assert_eq!(errno(m.delete(&k4(0))), libc::ENOENT);
        m.update(&k4(0), &k4(7), BPF_ANY).unwrap();
        assert_eq!(p.slot_id(0), Some(7));
        p.output(0, 1, b"to slot 0").unwrap();
        p.output(BPF_F_CURRENT_CPU, 0, b"current").unwrap();
        assert_eq!(errno(p.output(BPF_F_CURRENT_CPU, 1, b"x")), libc::ENOENT);
        let got = p.read();
        assert_eq!(
            got,
            vec![
                PerfRecord {
                    index: 0,
                    data: b"to slot 0".to_vec()
                },
                PerfRecord {
                    index: 0,
                    data: b"current".to_vec()
                },
            ]
        );
        m.delete(&k4(0)).unwrap();
        assert_eq!(errno(p.output(0, 0, b"x")), libc::ENOENT);
        assert!(p.wait(Duration::from_millis(1)).is_empty());
        assert_eq!(keys(m.as_ref()).len(), 2);
    }
}

mod fd_maps {
    use super::*;

    #[test]
    fn maps_of_maps_check_their_template_and_hold_objects() {
        let t = BPF_MAP_TYPE_ARRAY_OF_MAPS;
        let mut s = MapSpec::new(t, 4, 4, 2);
        assert_eq!(create_errno(&s), libc::EINVAL, "no template");
        s.inner = Some(Box::new(MapSpec::new(BPF_MAP_TYPE_PROG_ARRAY, 4, 4, 2)));
        assert_eq!(create_errno(&s), ENOTSUPP);
        let mut nested = MapSpec::new(BPF_MAP_TYPE_HASH_OF_MAPS, 4, 4, 2);
        nested.inner = Some(Box::new(MapSpec::new(BPF_MAP_TYPE_ARRAY, 4, 8, 1)));
        s.inner = Some(Box::new(nested));
        assert_eq!(create_errno(&s), libc::EINVAL);
        let inner = MapSpec::new(BPF_MAP_TYPE_HASH, 4, 8, 16);
        s.inner = Some(Box::new(inner.clone()));
        let m = create_map(&s).unwrap();
        let fm = m.as_any().downcast_ref::<FdMap>().unwrap();
        assert_eq!(fm.inner_spec(), Some(&inner));
        let obj: Arc<dyn Map> = create_map(&inner).unwrap();
        fm.update_object(&k4(1), 42, Some(Arc::new(obj.clone())), BPF_ANY)
            .unwrap();
        let mut v = [0u8; 4];
        m.lookup(&k4(1), &mut v, 0).unwrap();
        assert_eq!(u32::from_ne_bytes(v), 42);
        let back = fm.object(&k4(1)).unwrap();
        let back = back.downcast_ref::<Arc<dyn Map>>().unwrap();
        assert!(Arc::ptr_eq(back, &obj));
        assert!(fm.object(&k4(0)).is_none());
        assert_eq!(errno(m.update(&k4(0), &k4(1), BPF_EXIST)), libc::EINVAL);
        assert_eq!(errno(m.lookup_and_delete(&k4(1), &mut v, 0)), ENOTSUPP);
    }

    #[test]
    fn a_hash_of_maps_follows_hash_flags() {
        let mut s = MapSpec::new(BPF_MAP_TYPE_HASH_OF_MAPS, 4, 4, 2);
        s.inner = Some(Box::new(MapSpec::new(BPF_MAP_TYPE_ARRAY, 4, 8, 1)));
        let m = create_map(&s).unwrap();
        assert_eq!(errno(m.update(&k4(1), &k4(5), BPF_EXIST)), libc::ENOENT);
        m.update(&k4(1), &k4(5), BPF_NOEXIST).unwrap();
        assert_eq!(errno(m.update(&k4(1), &k4(6), BPF_NOEXIST)), libc::EEXIST);
        m.update(&k4(2), &k4(6), BPF_ANY).unwrap();
        assert_eq!(errno(m.update(&k4(3), &k4(7), BPF_ANY)), libc::E2BIG);
        m.delete(&k4(1)).unwrap();
        assert_eq!(errno(m.delete(&k4(1))), libc::ENOENT);
        assert_eq!(keys(m.as_ref()), vec![k4(2).to_vec()]);
    }
}

mod global_data {
    use super::*;

    #[test]
    fn data_is_a_writable_single_element_array() {
        let m = create_global_data(".data", &[1, 2, 3, 4, 5], false).unwrap();
        let s = m.spec();
        assert_eq!(
            (s.map_type, s.key_size, s.value_size, s.max_entries),
            (BPF_MAP_TYPE_ARRAY, 4, 5, 1)
        );
        assert_eq!(s.map_flags, BPF_F_MMAPABLE);
        assert_eq!(s.name, ".data");
        let mut v = [0u8; 5];
        m.lookup(&k4(0), &mut v, 0).unwrap();
        assert_eq!(v, [1, 2, 3, 4, 5]);
        // A program's view: the value block itself.
        let p = m.data_ptr().as_ptr() as u64;
        let r = m.value_region(p + 1, 4).unwrap();
        assert_eq!((r.start, r.len, r.writable), (p, 5, true));
        m.update(&k4(0), &[9; 5], BPF_ANY).unwrap();
        assert_eq!(m.read_value(0, 0).unwrap(), vec![9; 5]);
        assert!(!m.is_frozen());
    }

    #[test]
    fn rodata_is_frozen_and_read_only_for_programs() {
        let m = create_global_data(".rodata.str1.1", b"hi\0", true).unwrap();
        assert_eq!(m.spec().name, ".rodata.str1.1");
        assert_eq!(m.spec().map_flags, BPF_F_MMAPABLE | BPF_F_RDONLY_PROG);
        assert!(m.is_frozen());
        assert_eq!(errno(m.update(&k4(0), b"ho\0", BPF_ANY)), libc::EPERM);
        assert_eq!(errno(m.freeze()), libc::EPERM);
        let mut v = [0u8; 3];
        m.lookup(&k4(0), &mut v, 0).unwrap();
        assert_eq!(&v, b"hi\0");
        let p = m.data_ptr().as_ptr() as u64;
        assert!(!m.value_region(p, 3).unwrap().writable);
    }

    #[test]
    fn bss_starts_zeroed_and_names_are_made_valid() {
        let m = create_global_data(".bss", &[0; 64], false).unwrap();
        assert_eq!(m.read_value(0, 0).unwrap(), vec![0; 64]);
        let m = create_global_data(".data.my-section.long", &[1], false).unwrap();
        assert_eq!(m.spec().name, ".data.my_sectio");
    }
}

mod access {
    use super::*;

    #[test]
    fn frozen_and_read_only_maps_refuse_host_writes() {
        let m = create_map(&MapSpec::new(BPF_MAP_TYPE_HASH, 4, 8, 4)).unwrap();
        m.update(&k4(1), &v8(1), BPF_ANY).unwrap();
        m.freeze().unwrap();
        // A frozen map has lost write access: freezing again is EPERM, as
        // the kernel says (checked by kernel_diff.rs).
        assert_eq!(errno(m.freeze()), libc::EPERM);
        assert_eq!(errno(m.update(&k4(1), &v8(2), BPF_ANY)), libc::EPERM);
        assert_eq!(errno(m.delete(&k4(1))), libc::EPERM);
        let mut v = [0u8; 8];
        assert_eq!(errno(m.lookup_and_delete(&k4(1), &mut v, 0)), libc::EPERM);
        m.lookup(&k4(1), &mut v, 0).unwrap();
        // Programs still write a frozen map (unless BPF_F_RDONLY_PROG).
        m.update_on_cpu(&k4(1), &v8(3), BPF_ANY, 0).unwrap();
        m.lookup(&k4(1), &mut v, 0).unwrap();
        assert_eq!(v, v8(3));

        let ro = create_map(&spec_flags(BPF_MAP_TYPE_ARRAY, 4, 8, 4, BPF_F_RDONLY)).unwrap();
        assert_eq!(errno(ro.update(&k4(1), &v8(2), BPF_ANY)), libc::EPERM);
        assert_eq!(errno(ro.freeze()), libc::EPERM);
        ro.lookup(&k4(1), &mut v, 0).unwrap();
        let wo = create_map(&spec_flags(BPF_MAP_TYPE_ARRAY, 4, 8, 4, BPF_F_WRONLY)).unwrap();
        assert_eq!(errno(wo.lookup(&k4(1), &mut v, 0)), libc::EPERM);
        // BPF_F_WRONLY is checked before BPF_F_LOCK, as bpf(2) does.
        assert_eq!(errno(wo.lookup(&k4(1), &mut v, BPF_F_LOCK)), libc::EPERM);
        assert_eq!(errno(wo.get_next_key(None, &mut v)), libc::EPERM);
        wo.update(&k4(1), &v8(2), BPF_ANY).unwrap();
    }

    #[test]
    fn unknown_and_unprovided_kinds_are_refused() {
        assert_eq!(
            create_errno(&MapSpec::new(BPF_MAP_TYPE_UNSPEC, 4, 4, 1)),
            libc::EINVAL
        );
        assert_eq!(
            create_errno(&MapSpec::new(MAX_BPF_MAP_TYPE, 4, 4, 1)),
            libc::EINVAL
        );
        // struct_ops and arena: kernel kinds ironbpf does not provide.
        assert_eq!(
            create_errno(&MapSpec::new(BPF_MAP_TYPE_STRUCT_OPS, 4, 4, 1)),
            libc::EOPNOTSUPP
        );
        assert_eq!(
            create_errno(&MapSpec::new(BPF_MAP_TYPE_ARENA, 0, 0, 1)),
            libc::EOPNOTSUPP
        );
        // devmap is provided, with the kernel's checks.
        assert_eq!(create_errno(&MapSpec::new(BPF_MAP_TYPE_DEVMAP, 4, 4, 1)), 0);
        assert_eq!(
            map_type_name(BPF_MAP_TYPE_LRU_PERCPU_HASH),
            "lru_percpu_hash"
        );
        assert_eq!(map_type_name(999), "unknown");
    }
}

mod map_set {
    use super::*;
    use ironbpf_isa::abi::RegionResolver;

    #[test]
    fn map_images_hold_the_kernel_struct_fields() {
        let mut spec = MapSpec::new(BPF_MAP_TYPE_ARRAY, 4, 12, 5);
        spec.name = "counters".into();
        let img = map_image(&spec, 3);
        let u32_at = |o: usize| u32::from_ne_bytes(img[o..o + 4].try_into().unwrap());
        // struct bpf_map: map_type, key_size, value_size, max_entries, id.
        assert_eq!(
            (u32_at(64), u32_at(68), u32_at(72), u32_at(76)),
            (2, 4, 12, 5)
        );
        assert_eq!(u32_at(92), 4);
        assert_eq!(&img[136..145], b"counters\0");
        // struct bpf_array: elem_size rounded to 8, index_mask of 8 slots.
        assert_eq!((u32_at(296), u32_at(300)), (16, 7));
        let h = map_image(&MapSpec::new(BPF_MAP_TYPE_HASH, 6, 20, 100), 0);
        let u32h = |o: usize| u32::from_ne_bytes(h[o..o + 4].try_into().unwrap());
        // struct bpf_htab: n_buckets, elem_size (48 + 8 + 24).
        assert_eq!((u32h(824), u32h(828)), (128, 80));
    }

    #[test]
    fn handles_name_maps_and_regions_resolve_across_them() {
        let set = MapSet::with_possible_cpus(2);
        let (a, am) = set
            .create(&MapSpec::new(BPF_MAP_TYPE_ARRAY, 4, 8, 2))
            .unwrap();
        let (h, hm) = set
            .create(&MapSpec::new(BPF_MAP_TYPE_PERCPU_HASH, 4, 8, 2))
            .unwrap();
        assert_eq!((a, h, set.len()), (0, 1, 2));
        assert_eq!(hm.value_size_user(), 16);
        let (ha, hh) = (set.handle(a).unwrap(), set.handle(h).unwrap());
        assert!(Arc::ptr_eq(&set.by_handle(hh).unwrap(), &hm));
        assert_eq!((set.id_of(ha), set.id_of(hh)), (Some(0), Some(1)));
        assert_eq!(hh - ha, MAP_IMAGE_SIZE);
        assert!(set.handle(7).is_none());
        assert!(set.by_handle(12345).is_none());
        assert!(
            set.by_handle(hh + 8).is_none(),
            "inside an image, not a handle"
        );
        assert!(
            set.by_handle(ha + 2 * MAP_IMAGE_SIZE).is_none(),
            "no map 2 yet"
        );
        hm.update(&k4(1), &[0; 16], BPF_ANY).unwrap();
        let g = pin();
        let pa = am.lookup_ptr(&k4(1), 0, &g).unwrap().as_ptr() as u64;
        let ph = hm.lookup_ptr(&k4(1), 1, &g).unwrap().as_ptr() as u64;
        assert_eq!(set.resolve(pa, 8).unwrap().start, pa);
        assert_eq!(set.resolve(ph + 2, 4).unwrap().start, ph);
        // A handle points at the map's image of the kernel struct: readable,
        // not writable, and only where a map is.
        let img = set.resolve(ha + 76, 4).unwrap();
        assert_eq!(
            (img.start, img.len, img.writable),
            (ha, MAP_IMAGE_SIZE, false)
        );
        assert_eq!(img.kind, ironbpf_isa::abi::RegionKind::MapStruct);
        assert!(
            set.resolve(hh + MAP_IMAGE_SIZE - 2, 4).is_none(),
            "across the end"
        );
        assert!(set.resolve(ha + 2 * MAP_IMAGE_SIZE, 4).is_none());
    }
}

mod threads {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};

    fn assert_send_sync<T: Send + Sync + ?Sized>() {}

    #[test]
    fn maps_are_send_and_sync() {
        assert_send_sync::<dyn Map>();
        assert_send_sync::<ArrayMap>();
        assert_send_sync::<HashMap>();
        assert_send_sync::<LpmTrie>();
        assert_send_sync::<QueueStack>();
        assert_send_sync::<BloomFilter>();
        assert_send_sync::<RingBuf>();
        assert_send_sync::<PerfEventArray>();
        assert_send_sync::<FdMap>();
        assert_send_sync::<MapSet>();
    }

    #[test]
    fn concurrent_updates_and_lookups_of_a_hash_stay_consistent() {
        for flags in [0, BPF_F_NO_PREALLOC] {
            let m = create_map(&spec_flags(BPF_MAP_TYPE_HASH, 4, 16, 512, flags)).unwrap();
            let workers: Vec<_> = (0..4u32)
                .map(|t| {
                    let m = m.clone();
                    std::thread::spawn(move || {
                        let mut v = [0u8; 16];
                        for round in 0..2000u32 {
                            let k = (round * 7 + t * 13) % 600;
                            // A value is always its key twice: a torn or
                            // misplaced value shows.
                            let val: Vec<u8> = [k as u64, k as u64]
                                .iter()
                                .flat_map(|x| x.to_ne_bytes())
                                .collect();
                            match round % 4 {
                                0 | 1 => {
                                    let r = m.update(&k4(k), &val, BPF_ANY);
                                    assert!(r.is_ok() || r.unwrap_err().errno == libc::E2BIG);
                                }
                                2 => {
                                    let _ = m.delete(&k4(k));
                                }
                                _ => {
                                    if m.lookup(&k4(k), &mut v, 0).is_ok() {
                                        assert_eq!(v[..], val[..]);
                                    }
                                    let g = pin();
                                    if let Some(p) = m.lookup_ptr(&k4(k), 0, &g) {
                                        // SAFETY: 16 bytes, valid while `g` lives.
                                        let first = unsafe { *(p.as_ptr() as *const u64) };
                                        assert!(first == k as u64 || first == 0 || first < 600);
                                    }
                                }
                            }
                        }
                    })
                })
                .collect();
            for w in workers {
                w.join().unwrap();
            }
            let all = keys(m.as_ref());
            assert_eq!(all.len(), m.len());
            assert!(m.len() <= 512);
            let mut v = [0u8; 16];
            for k in all {
                m.lookup(&k, &mut v, 0).unwrap();
                assert_eq!(v[..4], k[..]);
            }
        }
    }

    #[test]
    fn programs_on_many_threads_count_exactly_through_value_pointers() {
        let m = create_map(&MapSpec::new(BPF_MAP_TYPE_ARRAY, 4, 8, 4)).unwrap();
        let workers: Vec<_> = (0..8)
            .map(|_| {
                let m = m.clone();
                std::thread::spawn(move || {
                    for i in 0..10_000u32 {
                        let g = pin();
                        let p = m.lookup_ptr(&k4(i % 4), 0, &g).unwrap();
                        // SAFETY: an array value is 8-byte aligned and lives as long as the map;
                        // an atomic add is what a program's BPF_ATOMIC does.
                        let a = unsafe { &*(p.as_ptr() as *const AtomicU64) };
                        a.fetch_add(1, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
        let mut v = [0u8; 8];
        let mut total = 0;
        for i in 0..4 {
            m.lookup(&k4(i), &mut v, 0).unwrap();
            total += u64::from_ne_bytes(v);
        }
        assert_eq!(total, 80_000);
    }

    #[test]
    fn concurrent_lru_updates_never_exceed_capacity() {
        let m = create_map_with_cpus(&MapSpec::new(BPF_MAP_TYPE_LRU_HASH, 4, 8, 128), 4).unwrap();
        let workers: Vec<_> = (0..4usize)
            .map(|cpu| {
                let m = m.clone();
                std::thread::spawn(move || {
                    for i in 0..5000u32 {
                        let k = i * 4 + cpu as u32;
                        m.update_on_cpu(&k4(k), &v8(k as u64), BPF_ANY, cpu)
                            .unwrap();
                        let g = pin();
                        let _ = m.lookup_ptr(&k4(k / 2), cpu, &g);
                    }
                })
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
        assert!(m.len() <= 128);
        let mut v = [0u8; 8];
        for k in keys(m.as_ref()) {
            m.lookup(&k, &mut v, 0).unwrap();
            assert_eq!(v[..4], k[..]);
        }
    }

    #[test]
    fn a_queue_shared_by_threads_loses_nothing() {
        let m = create_map(&MapSpec::new(BPF_MAP_TYPE_QUEUE, 0, 8, 64)).unwrap();
        let total = Arc::new(AtomicU64::new(0));
        let producers: Vec<_> = (0..2u64)
            .map(|t| {
                let m = m.clone();
                std::thread::spawn(move || {
                    for i in 0..5000u64 {
                        while m.update(&[], &v8(t * 10_000 + i + 1), BPF_ANY).is_err() {
                            std::thread::yield_now();
                        }
                    }
                })
            })
            .collect();
        let consumers: Vec<_> = (0..2)
            .map(|_| {
                let m = m.clone();
                let total = total.clone();
                std::thread::spawn(move || {
                    let mut v = [0u8; 8];
                    let mut n = 0;
                    while n < 5000 {
                        if m.lookup_and_delete(&[], &mut v, 0).is_ok() {
                            total.fetch_add(u64::from_ne_bytes(v), Ordering::Relaxed);
                            n += 1;
                        } else {
                            std::thread::yield_now();
                        }
                    }
                })
            })
            .collect();
        for t in producers.into_iter().chain(consumers) {
            t.join().unwrap();
        }
        let want: u64 = (1..=5000u64).sum::<u64>() * 2 + 10_000 * 5000;
        assert_eq!(total.load(Ordering::Relaxed), want);
        assert!(m.is_empty());
    }
}

/// What programs may do that the host may not, and the helpers' own checks
/// (each found by `program_calls_agree_with_the_kernel`).
mod program_side {
    use super::*;

    #[test]
    fn a_plain_array_has_one_copy_for_every_cpu() {
        let m = create_map_with_cpus(&MapSpec::new(BPF_MAP_TYPE_ARRAY, 4, 8, 2), 4).unwrap();
        let g = pin();
        let p0 = m.lookup_ptr(&k4(1), 0, &g).unwrap();
        let p3 = m.lookup_ptr(&k4(1), 3, &g).unwrap();
        assert_eq!(p0, p3);
        m.update_on_cpu(&k4(1), &v8(5), BPF_ANY, 3).unwrap();
        let mut v = [0u8; 8];
        m.lookup(&k4(1), &mut v, 0).unwrap();
        assert_eq!(v, v8(5));
        let h = create_map_with_cpus(&MapSpec::new(BPF_MAP_TYPE_HASH, 4, 8, 2), 4).unwrap();
        h.update_on_cpu(&k4(1), &v8(6), BPF_ANY, 2).unwrap();
        assert_eq!(h.lookup_ptr(&k4(1), 3, &g), h.lookup_ptr(&k4(1), 0, &g));
    }

    #[test]
    fn frozen_and_read_only_maps_stay_writable_by_programs() {
        let mut lpm_key = 8u32.to_ne_bytes().to_vec();
        lpm_key.extend_from_slice(&[10, 0, 0, 0]);
        let keyed = [
            (MapSpec::new(BPF_MAP_TYPE_ARRAY, 4, 8, 2), k4(1).to_vec()),
            (
                MapSpec::new(BPF_MAP_TYPE_PERCPU_ARRAY, 4, 8, 2),
                k4(1).to_vec(),
            ),
            (MapSpec::new(BPF_MAP_TYPE_HASH, 4, 8, 2), k4(1).to_vec()),
            (MapSpec::new(BPF_MAP_TYPE_LRU_HASH, 4, 8, 2), k4(1).to_vec()),
            (
                spec_flags(BPF_MAP_TYPE_LPM_TRIE, 8, 8, 2, BPF_F_NO_PREALLOC),
                lpm_key,
            ),
        ];
        for (spec, key) in keyed {
            for how in ["frozen", "BPF_F_RDONLY"] {
                let mut spec = spec.clone();
                if how == "BPF_F_RDONLY" {
                    spec.map_flags |= BPF_F_RDONLY;
                }
                let m = create_map(&spec).unwrap();
                if how == "frozen" {
                    m.freeze().unwrap();
                }
                let name = map_type_name(spec.map_type);
                assert_eq!(
                    errno(m.update(&key, &v8(1), BPF_ANY)),
                    libc::EPERM,
                    "{name} {how}"
                );
                m.update_on_cpu(&key, &v8(1), BPF_ANY, 0)
                    .unwrap_or_else(|e| panic!("{name} {how}: a program's update: {e}"));
                assert!(m.lookup_ptr(&key, 0, &pin()).is_some(), "{name} {how}");
                if !matches!(
                    spec.map_type,
                    BPF_MAP_TYPE_ARRAY | BPF_MAP_TYPE_PERCPU_ARRAY
                ) {
                    assert_eq!(errno(m.delete(&key)), libc::EPERM, "{name} {how}");
                    m.prog_delete(&key)
                        .unwrap_or_else(|e| panic!("{name} {how}: a program's delete: {e}"));
                } else {
                    assert_eq!(errno(m.prog_delete(&key)), libc::EINVAL, "{name} {how}");
                }
            }
        }
        for t in [
            BPF_MAP_TYPE_QUEUE,
            BPF_MAP_TYPE_STACK,
            BPF_MAP_TYPE_BLOOM_FILTER,
        ] {
            let m = create_map(&spec_flags(t, 0, 8, 2, BPF_F_RDONLY)).unwrap();
            assert_eq!(errno(m.update(&[], &v8(1), BPF_ANY)), libc::EPERM);
            m.prog_push(&v8(1), BPF_ANY).unwrap();
            let mut v = v8(1);
            m.prog_peek(&mut v).unwrap();
            assert_eq!(v, v8(1));
        }
    }

    #[test]
    fn helpers_refuse_bpf_f_lock_without_a_spin_lock() {
        let a = create_map(&MapSpec::new(BPF_MAP_TYPE_ARRAY, 4, 8, 2)).unwrap();
        // The array checks the index first.
        assert_eq!(
            errno(a.update_on_cpu(&k4(9), &v8(1), BPF_F_LOCK, 0)),
            libc::E2BIG
        );
        assert_eq!(
            errno(a.update_on_cpu(&k4(1), &v8(1), BPF_F_LOCK, 0)),
            libc::EINVAL
        );
        for t in [
            BPF_MAP_TYPE_HASH,
            BPF_MAP_TYPE_PERCPU_HASH,
            BPF_MAP_TYPE_LRU_HASH,
        ] {
            let m = create_map(&MapSpec::new(t, 4, 8, 2)).unwrap();
            assert_eq!(
                errno(m.update_on_cpu(&k4(1), &v8(1), BPF_F_LOCK, 0)),
                libc::EINVAL
            );
            assert!(m.is_empty());
        }
    }

    #[test]
    fn pop_and_peek_of_an_empty_map_zero_the_buffer() {
        for t in [BPF_MAP_TYPE_QUEUE, BPF_MAP_TYPE_STACK] {
            let m = create_map(&MapSpec::new(t, 0, 8, 2)).unwrap();
            let mut v = v8(u64::MAX);
            assert_eq!(errno(m.prog_pop(&mut v)), libc::ENOENT);
            assert_eq!(v, v8(0));
            let mut v = v8(u64::MAX);
            assert_eq!(errno(m.prog_peek(&mut v)), libc::ENOENT);
            assert_eq!(v, v8(0));
        }
        let h = create_map(&MapSpec::new(BPF_MAP_TYPE_HASH, 4, 8, 2)).unwrap();
        assert_eq!(errno(h.prog_pop(&mut [0u8; 8])), libc::EINVAL);
    }
}

// ---------------------------------------------------------------------------
// The object maps' engine-side entry points (what the helpers will call).
// ---------------------------------------------------------------------------

#[test]
fn devmap_keeps_programs_the_engine_attaches_and_reports_their_ids() {
    let m = create_map(&MapSpec::new(BPF_MAP_TYPE_DEVMAP_HASH, 4, 8, 4)).unwrap();
    // The kernel marks devmaps read-only for programs.
    assert_ne!(m.spec().map_flags & BPF_F_RDONLY_PROG, 0);
    let dev = m.as_any().downcast_ref::<DevMap>().unwrap();
    dev.update_with_prog(7, 1, 42, Some(Arc::new("xdp prog")), BPF_ANY)
        .unwrap();
    let mut v = [0u8; 8];
    m.lookup(&7u32.to_ne_bytes(), &mut v, 0).unwrap();
    assert_eq!(&v[..4], &1u32.to_ne_bytes());
    assert_eq!(&v[4..], &42u32.to_ne_bytes());
    assert_eq!(dev.ifindex(7), Some(1));
    assert_eq!(
        dev.object(7).unwrap().downcast_ref::<&str>(),
        Some(&"xdp prog")
    );
    // A program fd from the host is refused, as the kernel refuses an fd
    // that is not a devmap XDP program.
    let mut bad = [0u8; 8];
    bad[..4].copy_from_slice(&1u32.to_ne_bytes());
    bad[4..].copy_from_slice(&3u32.to_ne_bytes());
    assert_eq!(
        m.update(&8u32.to_ne_bytes(), &bad, BPF_ANY)
            .unwrap_err()
            .errno,
        libc::EINVAL
    );
    // A program's lookup points at the value, inside a read-only region.
    let guard = ironbpf_maps::pin();
    let p = m.lookup_ptr(&7u32.to_ne_bytes(), 0, &guard).unwrap();
    let r = m.value_region(p.as_ptr() as u64, 8).unwrap();
    assert!(!r.writable);
    assert_eq!(dev.entries(), vec![(7, 1)]);
}

#[test]
fn sockmap_redirect_follows_the_sockets_state() {
    use std::os::fd::AsRawFd;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let m = create_map(&MapSpec::new(BPF_MAP_TYPE_SOCKMAP, 4, 8, 2)).unwrap();
    let sm = m.as_any().downcast_ref::<SockMap>().unwrap();
    m.update(
        &0u32.to_ne_bytes(),
        &(client.as_raw_fd() as u64).to_ne_bytes(),
        BPF_ANY,
    )
    .unwrap();
    m.update(
        &1u32.to_ne_bytes(),
        &(listener.as_raw_fd() as u64).to_ne_bytes(),
        BPF_ANY,
    )
    .unwrap();
    // An established socket takes redirects; a listening one does not.
    assert_eq!(sm.redirect(&0u32.to_ne_bytes(), BPF_F_INGRESS).0, SK_PASS);
    assert_eq!(sm.redirect(&1u32.to_ne_bytes(), 0).0, SK_DROP);
    assert_eq!(sm.redirect(&0u32.to_ne_bytes(), 2).0, SK_DROP);
    // The lookup is the socket's cookie, as SO_COOKIE reports it.
    let mut v = [0u8; 8];
    m.lookup(&0u32.to_ne_bytes(), &mut v, 0).unwrap();
    let cookie = socket_of_fd(client.as_raw_fd() as u32).unwrap().cookie;
    assert_ne!(cookie, 0);
    assert_eq!(u64::from_ne_bytes(v), cookie);
}

#[test]
fn cgroup_storage_exists_once_attached() {
    let m = create_map(&MapSpec::new(BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE, 16, 4, 0)).unwrap();
    let cs = m.as_any().downcast_ref::<CgroupStorage>().unwrap();
    let key = cs.key_of(77, 2);
    let n = m.value_size_user();
    assert_eq!(n, 8 * m.possible_cpus());
    assert_eq!(
        m.update(&key, &vec![1; n], BPF_ANY).unwrap_err().errno,
        libc::ENOENT
    );
    cs.attach(77, 2);
    let p = cs.storage_ptr(77, 2, 0).unwrap();
    // SAFETY: the storage has value_size bytes per CPU, alive while the map is.
    unsafe { p.as_ptr().write(9) };
    let mut v = vec![0u8; n];
    m.lookup(&key, &mut v, 0).unwrap();
    assert_eq!(v[0], 9);
    m.update(&key, &vec![3; n], BPF_EXIST).unwrap();
    assert_eq!(
        m.update(&key, &vec![3; n], BPF_NOEXIST).unwrap_err().errno,
        libc::EINVAL
    );
    assert_eq!(m.delete(&key).unwrap_err().errno, libc::EINVAL);
    let mut next = vec![0u8; 16];
    m.get_next_key(None, &mut next).unwrap();
    assert_eq!(next, key);
    cs.detach(77, 2);
    assert_eq!(m.lookup(&key, &mut v, 0).unwrap_err().errno, libc::ENOENT);
}

#[test]
fn sk_storage_get_creates_and_delete_removes() {
    use std::os::fd::AsRawFd;
    let mut spec = MapSpec::new(BPF_MAP_TYPE_SK_STORAGE, 4, 8, 0);
    spec.map_flags = BPF_F_NO_PREALLOC;
    // Without BTF types the kernel refuses a local storage.
    assert_eq!(create_map(&spec).err().unwrap().errno, libc::EINVAL);
    spec.btf_key_type_id = 1;
    spec.btf_value_type_id = 2;
    let m = create_map(&spec).unwrap();
    let ls = m.as_any().downcast_ref::<LocalStorage>().unwrap();
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let fd = sock.as_raw_fd();
    let owner = ls.owner_of(fd).unwrap();
    assert!(ls.storage_get(owner, None, 0).is_none());
    assert!(ls.storage_get(owner, None, 2).is_none());
    let p = ls
        .storage_get(
            owner,
            Some(&5u64.to_ne_bytes()),
            BPF_LOCAL_STORAGE_GET_F_CREATE,
        )
        .unwrap();
    // The host sees what the program stored, through the socket's fd.
    let mut v = [0u8; 8];
    m.lookup(&fd.to_ne_bytes(), &mut v, 0).unwrap();
    assert_eq!(u64::from_ne_bytes(v), 5);
    // SAFETY: the element has 8 bytes and lives until deleted.
    unsafe { p.as_ptr().write(6) };
    m.lookup(&fd.to_ne_bytes(), &mut v, 0).unwrap();
    assert_eq!(v[0], 6);
    ls.storage_delete(owner).unwrap();
    assert_eq!(ls.storage_delete(owner).unwrap_err().errno, libc::ENOENT);
    // A key that is not a socket: ENOTSOCK, as sockfd_lookup says.
    let f = std::fs::File::open("/proc/self/status").unwrap();
    assert_eq!(
        m.lookup(&f.as_raw_fd().to_ne_bytes(), &mut v, 0)
            .unwrap_err()
            .errno,
        libc::ENOTSOCK
    );
}
