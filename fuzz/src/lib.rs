//! ironbpf-fuzz: what the libFuzzer targets share.
//!
//! [`gen_program`] turns fuzzer bytes into an XDP-shaped program that is
//! mostly valid eBPF (registers in range, jumps inside the program, the
//! idioms a verifier accepts: packet bounds checks, a map lookup with its
//! null check), so that the engine and verifier targets spend their time
//! past the decoder. [`xdp_object`] wraps such a program in an
//! [`ironbpf_loader::Object`] with two maps, so that the runtime resolves
//! map references as it does for a real object; [`Guarded`] is a buffer
//! with canaries on both sides, to see a stray write that JIT-generated
//! code makes (AddressSanitizer sees only Rust's own accesses).

use arbitrary::{Result, Unstructured};
use ironbpf_isa::RawInsn;
use ironbpf_loader::{MapDef, MapKind, Object, Program};

/// `BPF_PSEUDO_MAP_IDX`.
const MAP_IDX: u8 = ironbpf_loader::BPF_PSEUDO_MAP_IDX;
/// `BPF_PSEUDO_MAP_IDX_VALUE`.
const MAP_IDX_VALUE: u8 = ironbpf_loader::BPF_PSEUDO_MAP_IDX_VALUE;

/// Map 0: array, 4-byte key, 16-byte value, 4 entries. Map 1: hash, same
/// sizes, 8 entries.
pub const MAPS: [(u32, u32, u32, u32); 2] = [(2, 4, 16, 4), (1, 4, 16, 8)];

/// Values that make interesting immediates.
const IMMS: [i32; 16] = [
    0,
    1,
    -1,
    2,
    4,
    7,
    8,
    16,
    31,
    32,
    63,
    64,
    0x7fff_ffff,
    i32::MIN,
    14,
    -8,
];

fn reg(u: &mut Unstructured, with_r10: bool) -> Result<u8> {
    let r = u.int_in_range(0..=if with_r10 { 10 } else { 9 })?;
    Ok(r)
}

fn imm(u: &mut Unstructured) -> Result<i32> {
    Ok(if u.ratio(3, 4)? {
        *u.choose(&IMMS)?
    } else {
        u.arbitrary()?
    })
}

fn size_bits(u: &mut Unstructured) -> Result<(u8, i16)> {
    // (BPF_W/H/B/DW, bytes)
    Ok(*u.choose(&[(0x00u8, 4i16), (0x08, 2), (0x10, 1), (0x18, 8)])?)
}

/// An XDP-shaped program from the fuzzer's bytes: at most `max` slots,
/// ending with `exit`. r10 is only ever a load/store base or copied by the
/// stack-pointer idioms, never stored or returned, so that two engines
/// (whose stacks sit at different addresses) see the same values.
pub fn gen_program(u: &mut Unstructured, max: usize) -> Result<Vec<RawInsn>> {
    let n = u.int_in_range(1..=max.max(1))?;
    let mut out: Vec<RawInsn> = Vec::with_capacity(n + 8);
    // r6 = ctx, so that later code can still reach the context.
    out.push(RawInsn::new(0xbf, 6, 1, 0, 0));
    while out.len() < n {
        let pc = out.len() as i32;
        let left = (n as i32 - pc).max(1);
        let kind: u8 = u.int_in_range(0..=19)?;
        match kind {
            // ALU, immediate or register, 64 or 32 bits.
            0..=4 => {
                let class = if u.arbitrary()? { 0x07 } else { 0x04 };
                let op = *u.choose(&[
                    0x00u8, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x80, 0x90, 0xa0, 0xb0, 0xc0,
                ])?;
                let x = u.arbitrary::<bool>()? && op != 0x80;
                let dst = reg(u, false)?;
                let src = if x { reg(u, false)? } else { 0 };
                // sdiv/smod (off 1), movsx (off 8/16/32).
                let off = match op {
                    0x30 | 0x90 if u.ratio(1, 4)? => 1,
                    0xb0 if x && u.ratio(1, 4)? => *u.choose(&[8i16, 16, 32])?,
                    _ => 0,
                };
                let k = if x { 0 } else { imm(u)? };
                out.push(RawInsn::new(
                    class | op | if x { 0x08 } else { 0 },
                    dst,
                    src,
                    off,
                    k,
                ));
            }
            // Byte swaps.
            5 => {
                let code = *u.choose(&[0xd4u8, 0xdc, 0xd7])?;
                let bits = *u.choose(&[16i32, 32, 64])?;
                out.push(RawInsn::new(code, reg(u, false)?, 0, 0, bits));
            }
            // Loads: any base (r10 and r1/r6 most often).
            6..=8 => {
                let (sz, bytes) = size_bits(u)?;
                let sx = bytes < 8 && u.ratio(1, 8)?;
                let code = if sx { 0x81 | sz } else { 0x61 | sz };
                let base = *u.choose(&[10u8, 10, 1, 6, 0, 2, 3, 4, 5, 7, 8, 9])?;
                let off = mem_off(u, base, bytes)?;
                out.push(RawInsn::new(code, reg(u, false)?, base, off, 0));
            }
            // Stores of a register or an immediate.
            9..=10 => {
                let (sz, bytes) = size_bits(u)?;
                let base = *u.choose(&[10u8, 10, 0, 2, 3, 4, 5, 7, 8, 9, 1])?;
                let off = mem_off(u, base, bytes)?;
                if u.arbitrary()? {
                    out.push(RawInsn::new(0x63 | sz, base, reg(u, false)?, off, 0));
                } else {
                    out.push(RawInsn::new(0x62 | sz, base, 0, off, imm(u)?));
                }
            }
            // Atomics.
            11 => {
                let dw = u.arbitrary::<bool>()?;
                let op = *u.choose(&[
                    0x00i32, 0x01, 0x40, 0x41, 0x50, 0x51, 0xa0, 0xa1, 0xe1, 0xf1,
                ])?;
                let base = *u.choose(&[10u8, 0, 2, 3])?;
                let off = mem_off(u, base, if dw { 8 } else { 4 })? & !7;
                let code = if dw { 0xdb } else { 0xc3 };
                out.push(RawInsn::new(code, base, reg(u, false)?, off, op));
            }
            // Conditional and unconditional jumps, forward mostly.
            12..=14 => {
                let class = if u.ratio(3, 4)? { 0x05 } else { 0x06 };
                let op = *u.choose(&[
                    0x00u8, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0xa0, 0xb0, 0xc0, 0xd0,
                ])?;
                let x = u.arbitrary::<bool>()?;
                let target = if u.ratio(7, 8)? {
                    u.int_in_range(0..=left)?
                } else {
                    -(u.int_in_range(1..=pc.clamp(1, 64))?)
                };
                let class = if op == 0 { 0x05 } else { class };
                let (src, k) = if op == 0 || !x {
                    (0, imm(u)?)
                } else {
                    (reg(u, false)?, 0)
                };
                let k = if op == 0 { 0 } else { k };
                out.push(RawInsn::new(
                    class | op | if x && op != 0 { 0x08 } else { 0 },
                    if op == 0 { 0 } else { reg(u, false)? },
                    src,
                    target as i16,
                    k,
                ));
            }
            // ld_imm64: a constant, a map, or a map value.
            15 => {
                let (src, k, k2) = match u.int_in_range(0..=2)? {
                    0 => (0u8, imm(u)?, imm(u)?),
                    1 => (MAP_IDX, u.int_in_range(0..=1)?, 0),
                    _ => (MAP_IDX_VALUE, 0, u.int_in_range(0..=15)?),
                };
                out.push(RawInsn::new(0x18, reg(u, false)?, src, 0, k));
                out.push(RawInsn::new(0, 0, 0, 0, k2));
            }
            // A packet bounds check: r2 = data; r3 = data_end; r4 = r2 + n;
            // if r4 > r3 goto exit-ish.
            16 => {
                let len = *u.choose(&[1i32, 2, 4, 8, 14, 20, 34, 64])?;
                out.push(RawInsn::new(0x61, 2, 6, 0, 0));
                out.push(RawInsn::new(0x61, 3, 6, 4, 0));
                out.push(RawInsn::new(0xbf, 4, 2, 0, 0));
                out.push(RawInsn::new(0x07, 4, 0, 0, len));
                let skip = u.int_in_range(0..=left)?;
                out.push(RawInsn::new(0x2d, 4, 3, skip as i16, 0));
            }
            // A map lookup with its null check: *(u32 *)(r10 - 4) = k;
            // r2 = r10; r2 += -4; r1 = map; call 1; if r0 == 0 goto +n.
            17 => {
                out.push(RawInsn::new(0x62, 10, 0, -4, u.int_in_range(0..=9)?));
                out.push(RawInsn::new(0xbf, 2, 10, 0, 0));
                out.push(RawInsn::new(0x07, 2, 0, 0, -4));
                out.push(RawInsn::new(0x18, 1, MAP_IDX, 0, u.int_in_range(0..=1)?));
                out.push(RawInsn::new(0, 0, 0, 0, 0));
                let helper = *u.choose(&[1i32, 1, 1, 3])?; // lookup, or delete
                out.push(RawInsn::new(0x85, 0, 0, 0, helper));
                let skip = u.int_in_range(0..=left)?;
                out.push(RawInsn::new(0x15, 0, 0, skip as i16, 0));
            }
            // A helper call.
            18 => {
                let id = *u.choose(&[1i32, 2, 3, 5, 6, 7, 8, 14, 15, 16, 44, 51, 65, 93, 130])?;
                out.push(RawInsn::new(0x85, 0, 0, 0, id));
            }
            // An exit, with r0 set first half the time.
            _ => {
                if u.arbitrary()? {
                    out.push(RawInsn::new(0xb7, 0, 0, 0, u.int_in_range(0..=4)?));
                }
                out.push(RawInsn::new(0x95, 0, 0, 0, 0));
            }
        }
    }
    // Jumps past the end land on this final exit.
    out.push(RawInsn::new(0xb7, 0, 0, 0, 2));
    out.push(RawInsn::new(0x95, 0, 0, 0, 0));
    // Clamp jump targets into the program (the generator aimed at `n`).
    let len = out.len() as i32;
    for pc in 0..out.len() {
        let i = out[pc];
        let class = i.code & 7;
        if (class == 0x05 || class == 0x06) && i.code & 0xf0 != 0x80 && i.code & 0xf0 != 0x90 {
            let t = (pc as i32 + 1 + i.off as i32).clamp(0, len - 1);
            out[pc].off = (t - pc as i32 - 1) as i16;
        }
    }
    Ok(out)
}

fn mem_off(u: &mut Unstructured, base: u8, bytes: i16) -> Result<i16> {
    Ok(match base {
        10 => -(u.int_in_range(1..=64)? * bytes.max(1)).min(512),
        1 | 6 => u.int_in_range(0..=6)? * 4,
        _ => {
            if u.ratio(7, 8)? {
                u.int_in_range(0..=16)?
            } else {
                u.arbitrary()?
            }
        }
    })
}

/// The two maps of [`MAPS`], as an object defines them.
pub fn map_defs() -> Vec<MapDef> {
    MAPS.iter()
        .enumerate()
        .map(|(i, &(t, k, v, n))| MapDef {
            name: format!("m{i}"),
            map_type: t,
            key_size: k,
            value_size: v,
            max_entries: n,
            map_flags: 0,
            pinning: 0,
            numa_node: 0,
            inner: None,
            init_slots: Vec::new(),
            initial_value: None,
            frozen: false,
            kind: MapKind::Btf,
            btf_key_type_id: 0,
            btf_value_type_id: 0,
        })
        .collect()
}

/// An object with one XDP program `prog` and the maps of [`map_defs`].
pub fn xdp_object(insns: &[RawInsn]) -> Object {
    Object {
        programs: vec![Program {
            name: "prog".into(),
            section: "xdp".into(),
            prog_type: 6,
            prog_type_name: "xdp",
            expected_attach_type: 37,
            attach_to: None,
            attach_btf_id: None,
            insns: ironbpf_isa::slots_to_bytes(insns),
            func_info: Vec::new(),
            line_info: Vec::new(),
            core_relocs_applied: 0,
            core_relocs_poisoned: 0,
            autoload: true,
            type_guessed_from: None,
        }],
        maps: map_defs(),
        license: "GPL".into(),
        kern_version: None,
        btf: None,
    }
}

/// The verifier's view of [`map_defs`].
pub fn map_infos() -> Vec<ironbpf_verifier::MapInfo> {
    map_defs()
        .into_iter()
        .map(|d| ironbpf_verifier::MapInfo {
            name: d.name,
            map_type: d.map_type,
            key_size: d.key_size,
            value_size: d.value_size,
            max_entries: d.max_entries,
            map_flags: 0,
            frozen_readonly: false,
            record: Default::default(),
        })
        .collect()
}

/// A packet for an XDP test run from the fuzzer's bytes: 14 to 128 bytes.
pub fn packet(u: &mut Unstructured) -> Result<Vec<u8>> {
    let len = u.int_in_range(14..=128)?;
    let mut p = vec![0u8; len];
    for b in p.iter_mut() {
        *b = u.arbitrary().unwrap_or(0);
    }
    Ok(p)
}

/// Whether the program calls a helper whose result changes from run to run
/// (clocks, random numbers): two engines cannot be compared on it.
pub fn nondeterministic(insns: &[RawInsn]) -> bool {
    insns
        .iter()
        .any(|i| i.code == 0x85 && i.src == 0 && matches!(i.imm, 5 | 7 | 125 | 160 | 208))
}

/// Bytes of canary on each side of a [`Guarded`] buffer.
pub const CANARY: usize = 256;
const CANARY_BYTE: u8 = 0xa5;

/// A buffer with canaries on both sides: [`Guarded::inner`] is what a run
/// gets; [`Guarded::check`] says whether anything wrote outside it.
pub struct Guarded {
    buf: Vec<u8>,
    len: usize,
}

impl Guarded {
    /// A buffer holding `data`.
    pub fn new(data: &[u8]) -> Self {
        let mut buf = vec![CANARY_BYTE; data.len() + 2 * CANARY];
        buf[CANARY..CANARY + data.len()].copy_from_slice(data);
        Guarded {
            buf,
            len: data.len(),
        }
    }

    /// Puts `data` back in the buffer (the same length), canaries too.
    pub fn reset(&mut self, data: &[u8]) {
        self.buf.fill(CANARY_BYTE);
        let n = data.len().min(self.len);
        self.buf[CANARY..CANARY + n].copy_from_slice(&data[..n]);
    }

    /// The part a run may touch.
    pub fn inner(&mut self) -> &mut [u8] {
        &mut self.buf[CANARY..CANARY + self.len]
    }

    /// Panics, naming the byte, if a canary was overwritten.
    pub fn check(&self, what: &str) {
        for (i, &b) in self.buf.iter().enumerate() {
            let inside = (CANARY..CANARY + self.len).contains(&i);
            if !inside && b != CANARY_BYTE {
                let rel = i as isize - CANARY as isize;
                panic!("{what}: byte {rel} relative to the buffer's start (len {}) was written outside it: {b:#x}", self.len);
            }
        }
    }
}
