//! Map operations against a model (a BTreeMap per map, a VecDeque for
//! queues and stacks): every result and errno as the model predicts.
#![no_main]
use arbitrary::{Arbitrary, Unstructured};
use ironbpf_maps::*;
use libfuzzer_sys::fuzz_target;
use std::collections::{BTreeMap, VecDeque};

#[derive(Arbitrary, Debug)]
enum Op {
    Update { key: u8, value: u8, flags: u8 },
    Lookup { key: u8 },
    Delete { key: u8 },
    NextKey { key: Option<u8> },
    Push { value: u8, exist: bool },
    Pop,
    Peek,
    RingOutput { len: u16, flags: u8 },
    RingReserve { len: u16, submit: bool },
    RingConsume,
}

const KS: usize = 4;
const VS: usize = 8;

fn key(k: u8, max: u8) -> [u8; KS] {
    ((k % max.saturating_add(2)) as u32).to_ne_bytes()
}

fn value(v: u8) -> [u8; VS] {
    [v; VS]
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok(kind) = u.int_in_range(0u8..=8) else {
        return;
    };
    let max: u8 = u.int_in_range(1..=8).unwrap_or(4);
    let ops: Vec<Op> = u.arbitrary().unwrap_or_default();
    match kind {
        0..=5 => keyed(kind, max, &ops),
        6 | 7 => queue(kind == 7, max, &ops),
        _ => ring(&ops),
    }
});

/// hash, lru_hash, array, percpu_hash, percpu_array, lru_percpu_hash.
fn keyed(kind: u8, max: u8, ops: &[Op]) {
    let (t, array, lru, percpu) = match kind {
        0 => (BPF_MAP_TYPE_HASH, false, false, false),
        1 => (BPF_MAP_TYPE_LRU_HASH, false, true, false),
        2 => (BPF_MAP_TYPE_ARRAY, true, false, false),
        3 => (BPF_MAP_TYPE_PERCPU_HASH, false, false, true),
        4 => (BPF_MAP_TYPE_PERCPU_ARRAY, true, false, true),
        _ => (BPF_MAP_TYPE_LRU_PERCPU_HASH, false, true, true),
    };
    let ncpus = 2usize;
    let spec = MapSpec::new(t, KS as u32, VS as u32, max as u32);
    let map = create_map_with_cpus(&spec, ncpus).expect("a small map is created");
    // The user-visible value size: per-CPU values are one 8-byte slot per CPU.
    let uvs = if percpu { VS * ncpus } else { VS };
    let mut model: BTreeMap<u32, Vec<u8>> = BTreeMap::new();
    if array {
        for i in 0..max as u32 {
            model.insert(i, vec![0; uvs]);
        }
    }
    for op in ops {
        match *op {
            Op::Update {
                key: k,
                value: v,
                flags,
            } => {
                let kb = key(k, max);
                let ki = u32::from_ne_bytes(kb);
                let flags = (flags % 3) as u64;
                let val = vec![v; uvs];
                let r = map.update(&kb, &val, flags);
                let exists = model.contains_key(&ki);
                if array {
                    let expect_ok = ki < max as u32 && flags != BPF_NOEXIST;
                    assert_eq!(
                        r.is_ok(),
                        expect_ok,
                        "array update {ki} flags {flags}: {r:?}"
                    );
                    if expect_ok {
                        model.insert(ki, val);
                    }
                    continue;
                }
                if lru {
                    // An LRU update takes a free node first, evicting if it
                    // must, and only then checks the flags (as the kernel's
                    // htab_lru_map_update_elem does): even a failed update
                    // may evict, the key itself too. Forget what is gone.
                    if r.is_ok() {
                        model.insert(ki, val.clone());
                    }
                    let mut out = vec![0u8; uvs];
                    model.retain(|k, _| map.lookup(&k.to_ne_bytes(), &mut out, 0).is_ok());
                    if r.is_ok() {
                        let mut got = vec![0u8; uvs];
                        assert!(
                            map.lookup(&kb, &mut got, 0).is_ok(),
                            "map type {t}: LRU update of {ki} is not there after"
                        );
                        assert_eq!(got, val, "map type {t}: LRU value of {ki}");
                    } else {
                        let e = r.map_err(|e| e.errno).unwrap_err();
                        assert!(
                            matches!(e, libc::EEXIST | libc::ENOENT),
                            "map type {t}: LRU update of {ki} flags {flags}: errno {e}"
                        );
                    }
                    continue;
                }
                let full = model.len() >= max as usize;
                match (flags, exists) {
                    (BPF_NOEXIST, true) => assert_eq!(
                        r.map_err(|e| e.errno),
                        Err(libc::EEXIST),
                        "map type {t}: update of present key {ki} with BPF_NOEXIST"
                    ),
                    (BPF_EXIST, false) => assert_eq!(
                        r.map_err(|e| e.errno),
                        Err(libc::ENOENT),
                        "map type {t}: update of missing key {ki} with BPF_EXIST"
                    ),
                    (_, false) if full && !lru => {
                        assert_eq!(
                            r.map_err(|e| e.errno),
                            Err(libc::E2BIG),
                            "update {ki} into a full map"
                        )
                    }
                    _ => {
                        if lru {
                            // An LRU map evicts what it likes: forget the
                            // model's keys that are gone.
                            if r.is_ok() {
                                model.insert(ki, val);
                                let mut out = vec![0u8; uvs];
                                model.retain(|k, _| {
                                    map.lookup(&k.to_ne_bytes(), &mut out, 0).is_ok()
                                });
                                assert!(
                                    model.contains_key(&ki),
                                    "LRU update {ki} is not there after"
                                );
                            }
                        } else {
                            assert!(r.is_ok(), "update {ki} flags {flags}: {r:?}");
                            model.insert(ki, val);
                        }
                    }
                }
            }
            Op::Lookup { key: k } => {
                let kb = key(k, max);
                let mut out = vec![0u8; uvs];
                let r = map.lookup(&kb, &mut out, 0);
                match model.get(&u32::from_ne_bytes(kb)) {
                    Some(v) => {
                        assert!(r.is_ok(), "lookup of a present key: {r:?}");
                        assert_eq!(&out, v, "lookup value");
                    }
                    None => assert_eq!(r.map_err(|e| e.errno), Err(libc::ENOENT)),
                }
            }
            Op::Delete { key: k } => {
                let kb = key(k, max);
                let r = map.delete(&kb);
                if array {
                    assert_eq!(r.map_err(|e| e.errno), Err(libc::EINVAL), "array delete");
                } else {
                    let was = model.remove(&u32::from_ne_bytes(kb)).is_some();
                    assert_eq!(r.is_ok(), was, "delete: {r:?}");
                }
            }
            Op::NextKey { key: k } => {
                let kb = k.map(|k| key(k, max));
                let mut out = [0u8; KS];
                let r = map.get_next_key(kb.as_ref().map(|k| &k[..]), &mut out);
                if r.is_ok() {
                    let n = u32::from_ne_bytes(out);
                    assert!(
                        model.contains_key(&n),
                        "get_next_key gave {n}, not in the map"
                    );
                } else if array {
                    // Only past the last index.
                    let after = kb
                        .map(|k| u32::from_ne_bytes(k))
                        .map_or(0, |i| i.wrapping_add(1));
                    assert!(
                        after >= max as u32 || kb.is_none() && max == 0,
                        "array get_next_key: {r:?}"
                    );
                } else if kb.is_none()
                    || !model.contains_key(&u32::from_ne_bytes(kb.unwrap_or_default()))
                {
                    // No key or a missing key: the first key, so the map is empty.
                    assert!(
                        model.is_empty(),
                        "get_next_key from a missing key on a non-empty map: {r:?}"
                    );
                }
                if let Some(v) = model.iter().next() {
                    let _ = v;
                }
            }
            _ => {}
        }
        // Hash maps never hold more than max_entries.
        assert!(
            map.len() <= max as usize || array,
            "len {} > max {max}",
            map.len()
        );
    }
    // The program's view agrees with the host's for every key.
    let guard = pin();
    for (k, v) in &model {
        let p = map.lookup_ptr(&k.to_ne_bytes(), 1, &guard);
        let p = p.unwrap_or_else(|| panic!("lookup_ptr of present key {k} is None"));
        let r = map.value_region(p.as_ptr() as u64, VS as u64);
        assert!(r.is_some(), "value_region of a value pointer");
        // SAFETY: a value pointer of a live element, held under the guard,
        // points at VS readable bytes.
        let got = unsafe { std::slice::from_raw_parts(p.as_ptr(), VS) };
        let cpu1 = if percpu { &v[VS..2 * VS] } else { &v[..] };
        assert_eq!(got, cpu1, "the program's view of key {k}");
    }
}

fn queue(stack: bool, max: u8, ops: &[Op]) {
    let t = if stack {
        BPF_MAP_TYPE_STACK
    } else {
        BPF_MAP_TYPE_QUEUE
    };
    let spec = MapSpec::new(t, 0, VS as u32, max as u32);
    let map = create_map(&spec).expect("a small queue is created");
    let mut model: VecDeque<[u8; VS]> = VecDeque::new();
    for op in ops {
        match *op {
            Op::Push { value: v, exist } => {
                let flags = if exist { BPF_EXIST } else { BPF_ANY };
                let r = map.update(&[], &value(v), flags);
                if model.len() >= max as usize {
                    if exist {
                        assert!(r.is_ok(), "push with BPF_EXIST on a full queue: {r:?}");
                        // The oldest element makes room.
                        model.pop_front();
                        model.push_back(value(v));
                    } else {
                        assert_eq!(
                            r.map_err(|e| e.errno),
                            Err(libc::E2BIG),
                            "push on a full queue"
                        );
                    }
                } else {
                    assert!(r.is_ok(), "push: {r:?}");
                    model.push_back(value(v));
                }
            }
            Op::Pop | Op::Peek => {
                let mut out = [0u8; VS];
                let pop = matches!(op, Op::Pop);
                let r = if pop {
                    map.lookup_and_delete(&[], &mut out, 0)
                } else {
                    map.lookup(&[], &mut out, 0)
                };
                let want = if stack { model.back() } else { model.front() }.copied();
                match want {
                    Some(w) => {
                        assert!(r.is_ok(), "pop/peek of a non-empty queue: {r:?}");
                        assert_eq!(out, w, "pop/peek value (stack {stack})");
                        if pop {
                            if stack {
                                model.pop_back();
                            } else {
                                model.pop_front();
                            }
                        }
                    }
                    None => assert_eq!(r.map_err(|e| e.errno), Err(libc::ENOENT)),
                }
            }
            _ => {}
        }
    }
}

fn ring(ops: &[Op]) {
    let spec = MapSpec::new(BPF_MAP_TYPE_RINGBUF, 0, 0, 4096);
    let map = create_map(&spec).expect("a 4 KiB ring is created");
    let rb = map
        .as_any()
        .downcast_ref::<RingBuf>()
        .expect("a ringbuf map is a RingBuf");
    // The records written and not yet consumed, oldest first.
    let mut model: VecDeque<Vec<u8>> = VecDeque::new();
    let mut seq = 0u8;
    // Bytes the records since the last consume take (discarded ones too).
    let mut used = 0usize;
    let rec = |len: usize| (len + 8).div_ceil(8) * 8;
    for op in ops {
        match *op {
            Op::RingOutput { len, flags } => {
                let len = (len % 5000) as usize;
                seq = seq.wrapping_add(1);
                let data = vec![seq; len];
                let flags = (flags % 3) as u64;
                if rb.output(&data, flags).is_ok() {
                    model.push_back(data);
                    used += rec(len);
                } else {
                    // The kernel keeps the producer at most size - 1 bytes
                    // ahead of the consumer (`new_prod_pos - cons_pos > mask`).
                    assert!(
                        used + rec(len) > 4095,
                        "output of {len} bytes refused with {used} used"
                    );
                }
            }
            Op::RingReserve { len, submit } => {
                let len = (len % 5000) as u64;
                if let Some(p) = rb.reserve(len, 0) {
                    assert!(rb.owns(p));
                    seq = seq.wrapping_add(1);
                    // SAFETY: a reserved sample has `len` writable bytes until submitted.
                    unsafe { std::ptr::write_bytes(p.as_ptr(), seq, len as usize) };
                    used += rec(len as usize);
                    if submit {
                        rb.submit(p, 0);
                        model.push_back(vec![seq; len as usize]);
                    } else {
                        rb.discard(p, 0);
                    }
                }
            }
            Op::RingConsume => {
                let mut got = Vec::new();
                rb.consume(|r| got.push(r.data.clone()));
                let want: Vec<Vec<u8>> = model.drain(..).collect();
                used = 0;
                assert_eq!(got, want, "records consumed");
            }
            _ => {}
        }
        assert!(rb.query(BPF_RB_AVAIL_DATA) <= 4096);
    }
}
