//! Running one program in the kernel (`BPF_PROG_TEST_RUN`) and in ironbpf's
//! interpreter (`ironbpf_vm::testrun`, the same buffer layout), with the
//! same maps, to compare r0, the packet and the maps after the run.

#![allow(dead_code)]

use ironbpf_helpers::HelperRegistry;
use ironbpf_isa::assemble_program;
use ironbpf_kernel::{load_program, KernelMap, MapCreate, ProgLoad, TestRun};
use ironbpf_maps::{MapSet, MapSpec};
use ironbpf_vm::object::MapResolver;
use ironbpf_vm::{testrun, Interpreter, Options, ProgType};
use std::sync::Arc;

/// A map both sides create: the kernel's `BPF_MAP_CREATE` attributes, the
/// elements written before the run, and whether it is frozen.
#[derive(Clone, Debug)]
pub struct MapDef {
    pub map_type: u32,
    pub key_size: u32,
    pub value_size: u32,
    pub max_entries: u32,
    pub flags: u32,
    pub elems: Vec<(Vec<u8>, Vec<u8>)>,
    pub frozen: bool,
}

impl MapDef {
    pub fn new(map_type: u32, key_size: u32, value_size: u32, max_entries: u32) -> Self {
        MapDef {
            map_type,
            key_size,
            value_size,
            max_entries,
            flags: 0,
            elems: Vec::new(),
            frozen: false,
        }
    }

    /// A frozen, program-read-only array of one value: constant strings for
    /// `bpf_snprintf` and `bpf_strncmp` (`ARG_PTR_TO_CONST_STR`).
    pub fn strings(bytes: &[u8]) -> Self {
        MapDef {
            flags: 1 << 7,
            elems: vec![(0u32.to_ne_bytes().to_vec(), bytes.to_vec())],
            frozen: true,
            ..MapDef::new(2, 4, bytes.len() as u32, 1)
        }
    }

    pub fn with(mut self, key: &[u8], value: &[u8]) -> Self {
        self.elems.push((key.to_vec(), value.to_vec()));
        self
    }
}

/// A program and what it runs on.
#[derive(Clone, Debug)]
pub struct Case {
    pub name: String,
    pub pt: &'static ProgType,
    /// Assembly; maps are `map[idx:N]` (N: the index in `maps`).
    pub asm: String,
    pub maps: Vec<MapDef>,
    pub packet: Vec<u8>,
    /// `BPF_PROG_LOAD`'s `prog_flags` on the kernel's side
    /// (`BPF_F_XDP_HAS_FRAGS`).
    pub prog_flags: u32,
    /// The context given to the test run (`struct xdp_md`, `struct
    /// __sk_buff`); the context handed back is then compared too.
    pub ctx: Option<Vec<u8>>,
}

impl Case {
    pub fn new(name: impl Into<String>, pt: &'static ProgType, asm: impl Into<String>) -> Self {
        Case {
            name: name.into(),
            pt,
            asm: asm.into(),
            maps: Vec::new(),
            packet: packet(),
            prog_flags: 0,
            ctx: None,
        }
    }

    pub fn prog_flags(mut self, flags: u32) -> Self {
        self.prog_flags = flags;
        self
    }

    pub fn ctx(mut self, ctx: Vec<u8>) -> Self {
        self.ctx = Some(ctx);
        self
    }

    pub fn maps(mut self, maps: Vec<MapDef>) -> Self {
        self.maps = maps;
        self
    }

    pub fn packet(mut self, p: Vec<u8>) -> Self {
        self.packet = p;
        self
    }
}

/// What a side gives back: r0's low 32 bits (all the kernel reports), the
/// packet, and each map's elements after the run (sorted by key).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub r0: u32,
    pub data: Vec<u8>,
    pub maps: Vec<Vec<(Vec<u8>, Vec<u8>)>>,
    /// The context handed back, when the case gave one (else empty).
    pub ctx: Vec<u8>,
}

/// Ethernet + IPv4 (checksum correct) + TCP, 64 bytes.
pub fn packet() -> Vec<u8> {
    let mut p = vec![0u8; 64];
    p[12] = 0x08;
    p[14..34].copy_from_slice(&[
        0x45, 0, 0, 50, 0, 1, 0, 0, 64, 6, 0x66, 0xc3, 10, 0, 0, 1, 10, 0, 0, 2,
    ]);
    p[34..38].copy_from_slice(&[0x9c, 0x40, 0x00, 0x17]);
    p[50..52].copy_from_slice(&[0x12, 0x34]);
    p
}

/// Map kinds whose elements can be read back and compared.
fn readable(map_type: u32) -> bool {
    matches!(map_type, 1 | 2 | 9)
}

/// The minimal BTF the kernel wants for a program with subprograms used
/// as callbacks: `int fN(void)` for each, and the `func_info` records.
fn func_btf(starts: &[usize]) -> (Vec<u8>, Vec<u8>) {
    let mut strings = b"\0int\0".to_vec();
    let mut types: Vec<u32> = vec![
        // [1] int: 4 bytes, signed, 32 bits.
        1,
        1 << 24,
        4,
        (1 << 24) | 32,
        // [2] int (void)
        0,
        13 << 24,
        1,
    ];
    let mut info = Vec::new();
    for (i, &start) in starts.iter().enumerate() {
        let name_off = strings.len() as u32;
        strings.extend_from_slice(format!("f{i}\0").as_bytes());
        // [3 + i] static func fi: type 2.
        types.extend_from_slice(&[name_off, 12 << 24, 2]);
        info.extend_from_slice(&(start as u32).to_ne_bytes());
        info.extend_from_slice(&(3 + i as u32).to_ne_bytes());
    }
    let type_bytes: Vec<u8> = types.iter().flat_map(|w| w.to_ne_bytes()).collect();
    let mut btf = Vec::new();
    btf.extend_from_slice(&0xeb9fu16.to_ne_bytes());
    btf.push(1);
    btf.push(0);
    for w in [
        24u32,
        0,
        type_bytes.len() as u32,
        type_bytes.len() as u32,
        strings.len() as u32,
    ] {
        btf.extend_from_slice(&w.to_ne_bytes());
    }
    btf.extend_from_slice(&type_bytes);
    btf.extend_from_slice(&strings);
    (btf, info)
}

pub fn kernel(c: &Case) -> Result<Outcome, String> {
    let prog = assemble_program(&c.asm).map_err(|e| format!("{e}"))?;
    let words: Vec<u64> = prog.slots().iter().map(|s| s.to_u64()).collect();
    let starts: Vec<usize> = prog.subprogs().iter().map(|s| s.start).collect();
    let (btf_bytes, func_info) = func_btf(&starts);
    let btf = if starts.len() > 1 {
        Some(
            ironbpf_kernel::KernelBtf::load(&btf_bytes)
                .map_err(|(e, line)| format!("BTF: {e}: {line}"))?,
        )
    } else {
        None
    };
    let mut maps = Vec::new();
    for d in &c.maps {
        let m = KernelMap::create(&MapCreate {
            map_flags: d.flags,
            ..MapCreate::new(d.map_type, d.key_size, d.value_size, d.max_entries)
        })
        .map_err(|e| e.to_string())?;
        for (k, v) in &d.elems {
            m.update(k, v, 0)
                .map_err(|e| format!("update: errno {e}"))?;
        }
        if d.frozen {
            m.freeze().map_err(|e| format!("freeze: errno {e}"))?;
        }
        maps.push(m);
    }
    let fds: Vec<i32> = maps.iter().map(|m| m.raw_fd()).collect();
    let out = load_program(&ProgLoad {
        prog_type: c.pt.kernel_id,
        insns: &words,
        fd_array: &fds,
        prog_btf_fd: btf.as_ref().map(|b| b.raw_fd()),
        func_info: if btf.is_some() { &func_info } else { &[] },
        prog_flags: c.prog_flags,
        ..Default::default()
    });
    let p = out.result.map_err(|e| {
        format!(
            "{e}: {}\n{}",
            out.first_error_line.unwrap_or_default(),
            out.log.lines().rev().take(6).collect::<Vec<_>>().join("\n")
        )
    })?;
    let r = p
        .test_run(&TestRun {
            data: &c.packet,
            data_out_size: 32768.max(c.packet.len() + 8192),
            ctx: c.ctx.as_deref(),
            ctx_out_size: c.ctx.as_ref().map_or(0, |x| x.len()),
            ..Default::default()
        })
        .map_err(|e| e.to_string())?;
    let mut contents = Vec::new();
    for (d, m) in c.maps.iter().zip(&maps) {
        contents.push(if readable(d.map_type) {
            kernel_elems(m, d)
        } else {
            Vec::new()
        });
    }
    Ok(Outcome {
        r0: r.retval,
        data: r.data_out,
        maps: contents,
        ctx: if c.ctx.is_some() {
            r.ctx_out
        } else {
            Vec::new()
        },
    })
}

fn kernel_elems(m: &KernelMap, d: &MapDef) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut out = Vec::new();
    let mut key = vec![0u8; d.key_size as usize];
    let mut prev: Option<Vec<u8>> = None;
    while m.get_next_key(prev.as_deref(), &mut key).is_ok() {
        let mut v = vec![0u8; d.value_size as usize];
        if m.lookup(&key, &mut v, 0).is_ok() {
            out.push((key.clone(), v));
        }
        prev = Some(key.clone());
    }
    out.sort();
    out
}

/// Our side's maps, built as the kernel's are.
pub fn our_maps(defs: &[MapDef]) -> Arc<MapSet> {
    let set = Arc::new(MapSet::new());
    for d in defs {
        let mut spec = MapSpec::new(d.map_type, d.key_size, d.value_size, d.max_entries);
        spec.map_flags = d.flags;
        let (_, m) = set.create(&spec).expect("map");
        for (k, v) in &d.elems {
            m.update(k, v, 0).expect("update");
        }
        if d.frozen {
            m.freeze().expect("freeze");
        }
    }
    set
}

pub fn ours_with(c: &Case, helpers: &HelperRegistry) -> Result<Outcome, String> {
    let prog = assemble_program(&c.asm).map_err(|e| format!("{e}"))?;
    let maps = our_maps(&c.maps);
    let resolver = MapResolver(maps.clone());
    let vm = Interpreter::with_resolver(
        &prog,
        &helpers.for_prog_type(c.pt.kernel_id),
        Options::default(),
        Some(&resolver),
    )
    .map_err(|e| e.to_string())?;
    let run = testrun::TestRun {
        ctx: c.ctx.as_deref(),
        ..testrun::TestRun::packet(&c.packet)
    };
    let out = testrun::run(&vm, c.pt, &run, Some(&resolver)).map_err(|e| e.to_string())?;
    let mut contents = Vec::new();
    for (i, d) in c.maps.iter().enumerate() {
        let m = maps.get(i as u32).unwrap();
        let mut elems = Vec::new();
        if readable(d.map_type) {
            let mut key = vec![0u8; d.key_size as usize];
            let mut prev: Option<Vec<u8>> = None;
            while m.get_next_key(prev.as_deref(), &mut key).is_ok() {
                let mut v = vec![0u8; d.value_size as usize];
                if m.lookup(&key, &mut v, 0).is_ok() {
                    elems.push((key.clone(), v));
                }
                prev = Some(key.clone());
            }
            elems.sort();
        }
        contents.push(elems);
    }
    Ok(Outcome {
        r0: out.r0 as u32,
        data: out.data_out,
        maps: contents,
        ctx: if let Some(given) = &c.ctx {
            out.ctx_out
                .get(..given.len())
                .unwrap_or(&out.ctx_out)
                .to_vec()
        } else {
            Vec::new()
        },
    })
}

pub fn ours(c: &Case) -> Result<Outcome, String> {
    ours_with(c, &HelperRegistry::standard())
}

/// Runs every case on both sides; the report of each disagreement.
/// Runs `cases` on both sides (skipped with a reason where bpf(2) is not
/// permitted) and fails listing every case that differs.
pub fn check(test: &str, cases: Vec<Case>) {
    if !ironbpf_kernel::available_for_test(test) {
        return;
    }
    let n = cases.len();
    let failures = compare(&cases);
    assert!(
        failures.is_empty(),
        "{} of {n} cases differ:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    println!("{n} cases agree with the kernel");
}

pub fn compare(cases: &[Case]) -> Vec<String> {
    let mut failures = Vec::new();
    for c in cases {
        let k = match kernel(c) {
            Ok(k) => k,
            Err(e) => {
                failures.push(format!("{}: the kernel refused it: {e}\n{}", c.name, c.asm));
                continue;
            }
        };
        let o = match ours(c) {
            Ok(o) => o,
            Err(e) => {
                failures.push(format!("{}: ironbpf failed: {e}\n{}", c.name, c.asm));
                continue;
            }
        };
        if k != o {
            let first_diff = k
                .data
                .iter()
                .zip(&o.data)
                .position(|(a, b)| a != b)
                .unwrap_or(k.data.len().min(o.data.len()));
            failures.push(format!(
                "{}: kernel r0 = {:#x}, ironbpf r0 = {:#x}; packets {} / {} bytes, first difference at {}: kernel {:02x?}, ironbpf {:02x?}; maps {}\n{}",
                c.name,
                k.r0,
                o.r0,
                k.data.len(),
                o.data.len(),
                first_diff,
                &k.data[first_diff.min(k.data.len())..(first_diff + 12).min(k.data.len())],
                &o.data[first_diff.min(o.data.len())..(first_diff + 12).min(o.data.len())],
                if k.maps == o.maps { "equal".to_string() } else { format!("differ: kernel {:?} ironbpf {:?}", k.maps, o.maps) }
                    + &if k.ctx == o.ctx { String::new() } else { format!("; ctx: kernel {:02x?} ironbpf {:02x?}", k.ctx, o.ctx) },
                c.asm
            ));
        }
    }
    failures
}

/// Stores `bytes` at r10 - `off` (8-byte chunks through r1).
pub fn on_stack(bytes: &[u8], off: i32) -> String {
    let mut s = String::new();
    for (i, c) in bytes.chunks(8).enumerate() {
        let mut w = [0u8; 8];
        w[..c.len()].copy_from_slice(c);
        s += &format!(
            "r1 = {:#x} ll\n*(u64 *)(r10 {}) = r1\n",
            u64::from_le_bytes(w),
            -off + 8 * i as i32
        );
    }
    s
}

/// Copies `n` (a multiple of 8) bytes from r10 - `off` into the XDP packet
/// at `pkt_off`; r6 must hold the context. Ends the program with r0 = r7.
pub fn xdp_dump_stack(off: i32, n: i32, pkt_off: i32) -> String {
    let mut s = "r2 = *(u32 *)(r6 +0)\nr3 = *(u32 *)(r6 +4)\nr1 = r2\n".to_string();
    s += &format!("r1 += {}\nif r1 > r3 goto +{}\n", pkt_off + n, 2 * (n / 8));
    for i in 0..n / 8 {
        s += &format!(
            "r1 = *(u64 *)(r10 {})\n*(u64 *)(r2 +{}) = r1\n",
            -off + 8 * i,
            pkt_off + 8 * i
        );
    }
    s + "r0 = r7\nexit\n"
}
