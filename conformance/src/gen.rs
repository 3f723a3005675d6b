//! A random generator of XDP programs that the kernel verifier mostly
//! accepts, for differential testing against the kernel.
//!
//! Every program has the same frame: r9 = ctx, r7 = `ctx->data`, r8 =
//! `ctx->data_end`; r0-r6 hold scalars, initialised first; the 64 bytes
//! below r10 are written first, so loads may read anywhere in them. The
//! body mixes every ALU/ALU32 operation (ISA v4 included), forward JMP and
//! JMP32 branches, stack stores and (sign-extending) loads of every size,
//! atomics on the stack, bpf-to-bpf calls, and packet reads and writes
//! behind bounds checks, and lookups in an array and a hash map (the
//! [`DIFF_MAPS`], referenced as `BPF_PSEUDO_MAP_IDX`) with a null check,
//! then loads, stores and atomics on the value. Some programs (a salted
//! generator of their own decides, so that the others stay as they were)
//! end the body, or the subprogram, with a loop bounded by a counter and
//! `may_goto`. The epilogue stores the whole r0 into the first 8
//! packet bytes (test-run only returns 32 bits of it) and exits.
//!
//! Generation is a pure function of the seed: the same seed gives the same
//! program on every machine.

use ironbpf_isa::{
    AluOp, AtomicOp, CallTarget, Endian, Insn, JmpOp, LdImm64Src, Operand, Reg, Size, Width,
};

/// A small, fast, seedable PRNG (SplitMix64): generation must be
/// reproducible across machines and versions, which a library's default
/// generator does not promise.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// True with probability `num/den`.
    pub fn chance(&mut self, num: u64, den: u64) -> bool {
        self.below(den) < num
    }

    /// One element of a non-empty slice.
    pub fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len() as u64) as usize]
    }

    /// An "interesting" 32-bit immediate: edges, small values, or random.
    pub fn imm32(&mut self) -> i32 {
        match self.below(6) {
            0 => self.pick(&[
                0,
                1,
                -1,
                i32::MIN,
                i32::MAX,
                0x7f,
                0x80,
                0xff,
                0xffff,
                31,
                32,
                63,
            ]),
            1 | 2 => self.below(64) as i32 - 16,
            _ => self.next_u64() as i32,
        }
    }

    /// An interesting 64-bit constant.
    pub fn imm64(&mut self) -> u64 {
        match self.below(4) {
            0 => self.pick(&[
                0,
                u64::MAX,
                i64::MIN as u64,
                i64::MAX as u64,
                0xffff_ffff,
                1 << 32,
            ]),
            1 => self.below(1000),
            _ => self.next_u64(),
        }
    }
}

/// A generated program: its instructions and the packet it runs on.
#[derive(Clone, Debug)]
pub struct GenProgram {
    pub seed: u64,
    pub insns: Vec<Insn>,
    pub packet: Vec<u8>,
    /// How many of `insns` are the prologue (ctx, packet bounds, scalars,
    /// stack initialisation), which shrinking keeps: without it a program
    /// reads uninitialised stack, which the kernel allows a privileged
    /// loader and which holds whatever the kernel's stack held.
    pub prologue: usize,
    /// The initial contents of each of [`DIFF_MAPS`]: (key, value) pairs.
    pub maps: Vec<Vec<(u32, [u8; DIFF_VALUE_SIZE])>>,
}

/// `BPF_MAP_TYPE_ARRAY` and `BPF_MAP_TYPE_HASH`.
pub const DIFF_MAP_ARRAY: u32 = 2;
pub const DIFF_MAP_HASH: u32 = 1;
/// The value size of both diff maps; keys are u32.
pub const DIFF_VALUE_SIZE: usize = 16;
/// The maps a generated program may use, by index: (type, max_entries).
pub const DIFF_MAPS: [(u32, u32); 2] = [(DIFF_MAP_ARRAY, 4), (DIFF_MAP_HASH, 8)];
/// `w0 = w0`, after every 32-bit cmpxchg. The kernel's x86-64 JIT leaves
/// r0's upper half as it was when a 32-bit cmpxchg succeeds (the CPU does
/// not write eax then); the verifier inserts the zero-extension only where
/// it sees a 64-bit read of r0, and a pruned path hides that read. The ISA
/// (and the kernel's interpreter) zero-extends, as ours does. Found by
/// `ironbpf diff --random 100000 --seed 1` (seed 71398); the test
/// `kernel_jit_skips_cmpxchg32_zext_on_pruned_paths` keeps the case.
pub const CMPXCHG32_ZEXT: Insn = Insn::Alu {
    op: AluOp::Mov,
    width: Width::W32,
    dst: Reg::R0,
    src: Operand::Reg(Reg::R0),
};
/// Where the lookup key lives, below the 64 initialised stack bytes.
const KEY_SLOT: i16 = -72;

/// Registers that hold scalars in generated code.
const SCALARS: [Reg; 7] = [
    Reg::R0,
    Reg::R1,
    Reg::R2,
    Reg::R3,
    Reg::R4,
    Reg::R5,
    Reg::R6,
];
/// How many bytes below r10 the prologue initialises.
const STACK_BYTES: i16 = 64;
/// The packet is at least this long, so that checks can pass.
const MIN_PACKET: usize = 64;

fn alu(op: AluOp, width: Width, dst: Reg, src: Operand) -> Insn {
    Insn::Alu {
        op,
        width,
        dst,
        src,
    }
}

/// `if r0 == 0 goto +off`.
pub(crate) fn if_r0_zero(off: i16) -> Insn {
    Insn::Jmp {
        op: JmpOp::Jeq,
        width: Width::W64,
        dst: Reg::R0,
        src: Operand::Imm(0),
        off,
    }
}

fn mov_imm(dst: Reg, imm: i32) -> Insn {
    alu(AluOp::Mov, Width::W64, dst, Operand::Imm(imm))
}

fn mov_reg(dst: Reg, src: Reg) -> Insn {
    alu(AluOp::Mov, Width::W64, dst, Operand::Reg(src))
}

/// A piece of the body. Branches skip whole pieces, so that no jump lands
/// inside one (a bounds check and its load stay together).
struct Piece {
    insns: Vec<Insn>,
    /// A forward branch over the next `skip` pieces, if this piece ends in one.
    skip: Option<(JmpOp, Width, Reg, Operand, usize)>,
}

impl Piece {
    fn of(insns: Vec<Insn>) -> Self {
        Piece { insns, skip: None }
    }
}

/// The salt of the generator that decides where `may_goto` loops go.
const MAY_GOTO_SALT: u64 = 0x6d61_795f_676f_746f;

/// The salt of the generator that decides which subprograms look a key
/// up in the hash map first.
const SUB_LOOKUP_SALT: u64 = 0x7375_625f_6c6f_6f6b;

/// The start of a subprogram that looks a key up in the hash map, with
/// `r1 = map[...]` just before the call (which the engines fuse into an
/// inline lookup) and the first `saved` arguments kept in r6-r9 across it
/// (so that the callee writes `saved` of r6-r9, which the caller's frame
/// saves and restores around the call); the rest become constants. A hit
/// adds the value to r1.
fn sub_lookup_prefix(rng: &mut Rng) -> Vec<Insn> {
    let args = [Reg::R1, Reg::R2, Reg::R3, Reg::R4];
    let keep = [Reg::R6, Reg::R7, Reg::R8, Reg::R9];
    let saved = rng.below(5) as usize;
    let mut v: Vec<Insn> = (0..saved).map(|k| mov_reg(keep[k], args[k])).collect();
    v.extend([
        Insn::Store {
            size: Size::W,
            dst: Reg::R10,
            off: -4,
            imm: rng.below(u64::from(DIFF_MAPS[DIFF_MAP_HASH as usize].1) + 2) as i32,
        },
        mov_reg(Reg::R2, Reg::R10),
        alu(AluOp::Add, Width::W64, Reg::R2, Operand::Imm(-4)),
        Insn::LdImm64 {
            dst: Reg::R1,
            src: LdImm64Src::MapIdx,
            imm: DIFF_MAP_HASH as i32,
            next_imm: 0,
        },
        Insn::Call(CallTarget::Helper(1)),
    ]);
    for (k, &a) in args.iter().enumerate() {
        v.push(if k < saved {
            mov_reg(a, keep[k])
        } else {
            mov_imm(a, rng.imm32())
        });
    }
    v.push(mov_imm(Reg::R5, rng.imm32()));
    v.extend([
        if_r0_zero(2),
        Insn::Load {
            size: Size::DW,
            dst: Reg::R0,
            src: Reg::R0,
            off: 0,
            sign_extend: false,
        },
        alu(AluOp::Add, Width::W64, Reg::R1, Operand::Reg(Reg::R0)),
    ]);
    v
}

/// `c = K; l: may_goto out; ALU ops on `regs` but c; c -= 1; if c != 0
/// goto l; out:` with K in 1..=12: a loop the counter ends, long before
/// the frame's may_goto budget (so that the kernel's timed may_goto
/// agrees), with may_goto's fall-through on every iteration.
fn may_goto_loop(rng: &mut Rng, regs: &[Reg]) -> Vec<Insn> {
    let c = rng.pick(regs);
    let others: Vec<Reg> = regs.iter().copied().filter(|&r| r != c).collect();
    let n = 1 + rng.below(3) as usize;
    let mut body = Vec::with_capacity(n);
    let mut g = Gen { rng: &mut *rng };
    while body.len() < n {
        let i = g.alu_insn();
        // Keep to `regs`, and off the counter.
        let fix = |r: Reg, rng: &mut Rng| {
            if r == c || !regs.contains(&r) {
                rng.pick(&others)
            } else {
                r
            }
        };
        let Some(i) = with_alu_regs(i, g.rng, fix) else {
            continue;
        };
        body.push(i);
    }
    let k = 1 + rng.below(12) as i32;
    let mut v = vec![mov_imm(c, k), Insn::MayGoto { off: n as i16 + 2 }];
    v.extend(body);
    v.push(alu(AluOp::Add, Width::W64, c, Operand::Imm(-1)));
    v.push(Insn::Jmp {
        op: JmpOp::Jne,
        width: Width::W64,
        dst: c,
        src: Operand::Imm(0),
        off: -(n as i16 + 3),
    });
    v
}

/// Generates the program for `seed`.
pub fn generate(seed: u64) -> GenProgram {
    let mut rng = Rng::new(seed);
    let mut g = Gen { rng: &mut rng };
    g.program(seed)
}

struct Gen<'a> {
    rng: &'a mut Rng,
}

impl Gen<'_> {
    fn program(&mut self, seed: u64) -> GenProgram {
        let mut out = Vec::new();
        // Prologue: ctx, packet bounds, scalars, the stack.
        out.push(mov_reg(Reg::R9, Reg::R1));
        out.push(Insn::Load {
            size: Size::W,
            sign_extend: false,
            dst: Reg::R7,
            src: Reg::R9,
            off: 0,
        });
        out.push(Insn::Load {
            size: Size::W,
            sign_extend: false,
            dst: Reg::R8,
            src: Reg::R9,
            off: 4,
        });
        for r in SCALARS {
            out.push(self.init_scalar(r));
        }
        for slot in 1..=STACK_BYTES / 8 {
            let src = self.rng.pick(&SCALARS);
            out.push(Insn::StoreReg {
                size: Size::DW,
                dst: Reg::R10,
                src,
                off: -8 * slot,
            });
        }
        let prologue = out.len();
        // Body.
        let n = 4 + self.rng.below(36) as usize;
        let with_call = self.rng.chance(1, 4);
        let mut pieces: Vec<Piece> = (0..n).map(|_| self.piece()).collect();
        if with_call {
            let at = self.rng.below(pieces.len() as u64 + 1) as usize;
            pieces.insert(at, self.call_piece());
        }
        let body_start = out.len();
        let _ = body_start;
        // Lay out pieces, resolving branch offsets (in slots).
        let lens: Vec<usize> = pieces
            .iter()
            .map(|p| p.insns.iter().map(|i| i.slots()).sum::<usize>() + p.skip.is_some() as usize)
            .collect();
        for (i, p) in pieces.iter().enumerate() {
            out.extend(p.insns.iter().copied());
            if let Some((op, width, dst, src, skip)) = p.skip {
                let end = (i + 1 + skip).min(pieces.len());
                let off: usize = lens[i + 1..end].iter().sum();
                out.push(Insn::Jmp {
                    op,
                    width,
                    dst,
                    src,
                    off: off as i16,
                });
            }
        }
        // A loop bounded by a counter and by may_goto, from a generator of
        // its own so that the programs of the seeds without one stay what
        // they were before loops were generated.
        let mut loops = Rng::new(seed ^ MAY_GOTO_SALT);
        if loops.chance(1, 5) {
            out.extend(may_goto_loop(&mut loops, &SCALARS));
        }
        // Epilogue: *(u64 *)data = r0 behind a bounds check; exit.
        out.push(mov_reg(Reg::R2, Reg::R7));
        out.push(alu(AluOp::Add, Width::W64, Reg::R2, Operand::Imm(8)));
        out.push(Insn::Jmp {
            op: JmpOp::Jgt,
            width: Width::W64,
            dst: Reg::R2,
            src: Operand::Reg(Reg::R8),
            off: 1,
        });
        out.push(Insn::StoreReg {
            size: Size::DW,
            dst: Reg::R7,
            src: Reg::R0,
            off: 0,
        });
        out.push(Insn::Exit);
        if with_call {
            // Fix up the call: its target is the subprogram after the exit.
            let sub_start: usize = out.iter().map(|i| i.slots()).sum();
            let mut pc = 0usize;
            for insn in out.iter_mut() {
                if let Insn::Call(CallTarget::Local(_)) = insn {
                    *insn = Insn::Call(CallTarget::Local((sub_start - pc - 1) as i32));
                }
                pc += insn.slots();
            }
            let mut sub = self.subprog();
            // From a generator of its own, as the loops' (the programs of
            // seeds without it stay as they were).
            let mut lookups = Rng::new(seed ^ SUB_LOOKUP_SALT);
            if lookups.chance(1, 2) {
                let mut v = sub_lookup_prefix(&mut lookups);
                v.append(&mut sub);
                sub = v;
            }
            if loops.chance(1, 2) {
                // Before the subprogram's exit: a budget of its own.
                let exit = sub.pop();
                sub.extend(may_goto_loop(
                    &mut loops,
                    &[Reg::R0, Reg::R1, Reg::R2, Reg::R3, Reg::R4, Reg::R5],
                ));
                sub.extend(exit);
            }
            out.extend(sub);
        }
        let len = MIN_PACKET + self.rng.below(65) as usize;
        let packet = (0..len).map(|_| self.rng.next_u64() as u8).collect();
        let mut maps = Vec::with_capacity(DIFF_MAPS.len());
        for &(kind, max) in &DIFF_MAPS {
            let mut entries = Vec::new();
            for k in 0..max {
                // Arrays hold every key; the hash map about half of them.
                if kind == DIFF_MAP_ARRAY || self.rng.chance(1, 2) {
                    let mut v = [0u8; DIFF_VALUE_SIZE];
                    for b in v.iter_mut() {
                        *b = self.rng.next_u64() as u8;
                    }
                    entries.push((k, v));
                }
            }
            maps.push(entries);
        }
        GenProgram {
            seed,
            insns: out,
            prologue,
            packet,
            maps,
        }
    }

    fn init_scalar(&mut self, r: Reg) -> Insn {
        if self.rng.chance(1, 3) {
            let v = self.rng.imm64();
            Insn::LdImm64 {
                dst: r,
                src: LdImm64Src::Imm,
                imm: v as u32 as i32,
                next_imm: (v >> 32) as u32 as i32,
            }
        } else {
            mov_imm(r, self.rng.imm32())
        }
    }

    fn width(&mut self) -> Width {
        if self.rng.chance(1, 2) {
            Width::W64
        } else {
            Width::W32
        }
    }

    fn piece(&mut self) -> Piece {
        match self.rng.below(100) {
            0..=39 => Piece::of(vec![self.alu_insn()]),
            40..=49 => Piece::of(vec![self.stack_store()]),
            50..=59 => Piece::of(vec![self.stack_load()]),
            60..=65 => {
                let atomic = self.atomic();
                let mut v = vec![atomic];
                if let Insn::Atomic {
                    op: AtomicOp::CmpXchg,
                    size: Size::W,
                    ..
                } = atomic
                {
                    v.push(CMPXCHG32_ZEXT);
                }
                Piece::of(v)
            }
            66..=79 => self.branch(),
            80..=87 => self.packet_read(),
            88..=93 => self.packet_write(),
            94..=96 => self.map_lookup(),
            _ => {
                let r = self.rng.pick(&SCALARS);
                Piece::of(vec![self.init_scalar(r)])
            }
        }
    }

    fn alu_insn(&mut self) -> Insn {
        let dst = self.rng.pick(&SCALARS);
        let width = self.width();
        let bits: i32 = if width == Width::W64 { 64 } else { 32 };
        match self.rng.below(20) {
            0 => Insn::Neg { width, dst },
            1 => {
                let kind = self.rng.pick(&[Endian::ToLe, Endian::ToBe, Endian::Swap]);
                Insn::Endian {
                    kind,
                    bits: self.rng.pick(&[16u8, 32, 64]),
                    dst,
                }
            }
            2 => {
                let choices: &[u8] = if width == Width::W64 {
                    &[8, 16, 32]
                } else {
                    &[8, 16]
                };
                Insn::MovSx {
                    width,
                    dst,
                    src: self.rng.pick(&SCALARS),
                    bits: self.rng.pick(choices),
                }
            }
            _ => {
                let op = self.rng.pick(&AluOp::ALL);
                let src = if self.rng.chance(1, 2) {
                    Operand::Reg(self.rng.pick(&SCALARS))
                } else {
                    let mut imm = self.rng.imm32();
                    match op {
                        // The verifier refuses constant shifts past the width...
                        AluOp::Lsh | AluOp::Rsh | AluOp::Arsh => imm = imm.rem_euclid(bits),
                        // ...and constant division by zero.
                        AluOp::Div | AluOp::Mod | AluOp::SDiv | AluOp::SMod if imm == 0 => imm = 3,
                        _ => {}
                    }
                    Operand::Imm(imm)
                };
                alu(op, width, dst, src)
            }
        }
    }

    fn stack_off(&mut self, size: Size) -> i16 {
        let n = size.bytes() as i16;
        let slots = STACK_BYTES / n;
        -n * (1 + self.rng.below(slots as u64) as i16)
    }

    fn size(&mut self) -> Size {
        self.rng.pick(&[Size::B, Size::H, Size::W, Size::DW])
    }

    fn stack_store(&mut self) -> Insn {
        let size = self.size();
        let off = self.stack_off(size);
        if self.rng.chance(1, 3) {
            Insn::Store {
                size,
                dst: Reg::R10,
                off,
                imm: self.rng.imm32(),
            }
        } else {
            Insn::StoreReg {
                size,
                dst: Reg::R10,
                src: self.rng.pick(&SCALARS),
                off,
            }
        }
    }

    fn stack_load(&mut self) -> Insn {
        let size = self.size();
        let sign_extend = size != Size::DW && self.rng.chance(1, 3);
        let off = self.stack_off(size);
        Insn::Load {
            size,
            sign_extend,
            dst: self.rng.pick(&SCALARS),
            src: Reg::R10,
            off,
        }
    }

    fn atomic(&mut self) -> Insn {
        let size = self.rng.pick(&[Size::W, Size::DW]);
        let op = self.rng.pick(&[
            AtomicOp::Add,
            AtomicOp::Or,
            AtomicOp::And,
            AtomicOp::Xor,
            AtomicOp::FetchAdd,
            AtomicOp::FetchOr,
            AtomicOp::FetchAnd,
            AtomicOp::FetchXor,
            AtomicOp::Xchg,
            AtomicOp::CmpXchg,
        ]);
        let off = self.stack_off(size);
        Insn::Atomic {
            op,
            size,
            dst: Reg::R10,
            src: self.rng.pick(&SCALARS),
            off,
        }
    }

    fn branch(&mut self) -> Piece {
        let op = self.rng.pick(&JmpOp::ALL);
        let width = self.width();
        let dst = self.rng.pick(&SCALARS);
        let src = if self.rng.chance(1, 2) {
            Operand::Reg(self.rng.pick(&SCALARS))
        } else {
            Operand::Imm(self.rng.imm32())
        };
        let skip = 1 + self.rng.below(4) as usize;
        Piece {
            insns: Vec::new(),
            skip: Some((op, width, dst, src, skip)),
        }
    }

    /// `key = K; r0 = bpf_map_lookup_elem(map, &key); if r0 == 0 skip;
    /// loads, stores and atomics on the value; r0-r5 = scalars`. The call
    /// leaves r1-r5 uninitialised and r0 a pointer or null, so the piece
    /// ends by making them scalars; only r6 carries values in and out.
    fn map_lookup(&mut self) -> Piece {
        let map = self.rng.below(DIFF_MAPS.len() as u64) as i32;
        // Keys one past the end miss (arrays) or are absent (hash).
        let key = self.rng.below(DIFF_MAPS[map as usize].1 as u64 + 1) as i32;
        let mut ops = Vec::new();
        for _ in 0..1 + self.rng.below(3) {
            let size = self.rng.pick(&[Size::B, Size::H, Size::W, Size::DW]);
            let n = size.bytes() as u64;
            let off = (n * self.rng.below(DIFF_VALUE_SIZE as u64 / n)) as i16;
            ops.push(match self.rng.below(4) {
                0 => Insn::Load {
                    size,
                    sign_extend: size != Size::DW && self.rng.chance(1, 3),
                    dst: Reg::R6,
                    src: Reg::R0,
                    off,
                },
                1 => Insn::StoreReg {
                    size,
                    dst: Reg::R0,
                    src: Reg::R6,
                    off,
                },
                2 => Insn::Store {
                    size,
                    dst: Reg::R0,
                    off,
                    imm: self.rng.imm32(),
                },
                _ => {
                    let size = self.rng.pick(&[Size::W, Size::DW]);
                    let n = size.bytes() as u64;
                    Insn::Atomic {
                        // Not cmpxchg: it compares with r0, the pointer.
                        op: self.rng.pick(&[
                            AtomicOp::Add,
                            AtomicOp::Or,
                            AtomicOp::And,
                            AtomicOp::Xor,
                            AtomicOp::FetchAdd,
                            AtomicOp::FetchOr,
                            AtomicOp::FetchAnd,
                            AtomicOp::FetchXor,
                            AtomicOp::Xchg,
                        ]),
                        size,
                        dst: Reg::R0,
                        src: Reg::R6,
                        off: (n * self.rng.below(DIFF_VALUE_SIZE as u64 / n)) as i16,
                    }
                }
            });
        }
        let mut insns = vec![
            Insn::Store {
                size: Size::W,
                dst: Reg::R10,
                off: KEY_SLOT,
                imm: key,
            },
            Insn::LdImm64 {
                dst: Reg::R1,
                src: LdImm64Src::MapIdx,
                imm: map,
                next_imm: 0,
            },
            mov_reg(Reg::R2, Reg::R10),
            alu(
                AluOp::Add,
                Width::W64,
                Reg::R2,
                Operand::Imm(KEY_SLOT as i32),
            ),
            Insn::Call(CallTarget::Helper(1)),
            if_r0_zero(ops.len() as i16),
        ];
        insns.extend(ops);
        for r in [Reg::R0, Reg::R1, Reg::R2, Reg::R3, Reg::R4, Reg::R5] {
            insns.push(self.init_scalar(r));
        }
        Piece::of(insns)
    }

    /// `r2 = data + end; if r2 > data_end skip; load; r2 = scalar`.
    fn packet_access(&mut self, access: Insn, end: i32) -> Piece {
        Piece::of(vec![
            mov_reg(Reg::R2, Reg::R7),
            alu(AluOp::Add, Width::W64, Reg::R2, Operand::Imm(end)),
            Insn::Jmp {
                op: JmpOp::Jgt,
                width: Width::W64,
                dst: Reg::R2,
                src: Operand::Reg(Reg::R8),
                off: 1,
            },
            access,
            // r2 held a packet pointer: make it a scalar again.
            mov_imm(Reg::R2, self.rng.imm32()),
        ])
    }

    fn packet_read(&mut self) -> Piece {
        let size = self.size();
        let off = self.rng.below(MIN_PACKET as u64 + 16 - size.bytes() as u64) as i16;
        let end = off as i32 + size.bytes() as i32;
        let dst = self
            .rng
            .pick(&[Reg::R0, Reg::R1, Reg::R3, Reg::R4, Reg::R5, Reg::R6]);
        let sign_extend = size != Size::DW && self.rng.chance(1, 4);
        self.packet_access(
            Insn::Load {
                size,
                sign_extend,
                dst,
                src: Reg::R7,
                off,
            },
            end,
        )
    }

    fn packet_write(&mut self) -> Piece {
        let size = self.size();
        // Keep bytes 0..8 for r0: write from byte 8 on.
        let off = 8 + self.rng.below(MIN_PACKET as u64 - 8 - size.bytes() as u64) as i16;
        let end = off as i32 + size.bytes() as i32;
        let store = if self.rng.chance(1, 2) {
            Insn::Store {
                size,
                dst: Reg::R7,
                off,
                imm: self.rng.imm32(),
            }
        } else {
            let src = self
                .rng
                .pick(&[Reg::R0, Reg::R1, Reg::R3, Reg::R4, Reg::R5, Reg::R6]);
            Insn::StoreReg {
                size,
                dst: Reg::R7,
                src,
                off,
            }
        };
        self.packet_access(store, end)
    }

    /// Arguments in r1-r5, the call, then r1-r5 made scalars again (the
    /// call leaves them uninitialised).
    fn call_piece(&mut self) -> Piece {
        let mut v = Vec::new();
        for r in [Reg::R1, Reg::R2, Reg::R3, Reg::R4, Reg::R5] {
            if self.rng.chance(1, 2) {
                v.push(mov_reg(r, self.rng.pick(&[Reg::R0, Reg::R6])));
            }
        }
        v.push(Insn::Call(CallTarget::Local(0)));
        for r in [Reg::R1, Reg::R2, Reg::R3, Reg::R4, Reg::R5] {
            v.push(mov_imm(r, self.rng.imm32()));
        }
        Piece::of(v)
    }

    /// A subprogram of ALU work on r0-r5: r0 = r1, then a few ops, exit.
    fn subprog(&mut self) -> Vec<Insn> {
        let regs = [Reg::R0, Reg::R1, Reg::R2, Reg::R3, Reg::R4, Reg::R5];
        let mut v = vec![mov_reg(Reg::R0, Reg::R1)];
        for _ in 0..1 + self.rng.below(8) {
            let mut i = self.alu_insn();
            // Keep to the callee's registers (r6 is not initialised here).
            let fix = |r: Reg, rng: &mut Rng| if r == Reg::R6 { rng.pick(&regs) } else { r };
            if let Some(fixed) = with_alu_regs(i, self.rng, fix) {
                i = fixed;
            }
            v.push(i);
        }
        v.push(Insn::Exit);
        v
    }
}

/// `i`, an ALU instruction (`Alu`, `Neg`, `Endian`, `MovSx`), with each
/// register it names passed through `fix` (destination first, then
/// source, so that the draws from `rng` keep their order); `None` for any
/// other instruction.
fn with_alu_regs(i: Insn, rng: &mut Rng, fix: impl Fn(Reg, &mut Rng) -> Reg) -> Option<Insn> {
    Some(match i {
        Insn::Alu {
            op,
            width,
            dst,
            src,
        } => Insn::Alu {
            op,
            width,
            dst: fix(dst, rng),
            src: match src {
                Operand::Reg(r) => Operand::Reg(fix(r, rng)),
                s => s,
            },
        },
        Insn::Neg { width, dst } => Insn::Neg {
            width,
            dst: fix(dst, rng),
        },
        Insn::Endian { kind, bits, dst } => Insn::Endian {
            kind,
            bits,
            dst: fix(dst, rng),
        },
        Insn::MovSx {
            width,
            dst,
            src,
            bits,
        } => Insn::MovSx {
            width,
            dst: fix(dst, rng),
            src: fix(src, rng),
            bits,
        },
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ironbpf_isa::Program;

    #[test]
    fn programs_are_reproducible_and_structurally_valid() {
        for seed in 0..500 {
            let a = generate(seed);
            let b = generate(seed);
            assert_eq!(a.insns, b.insns);
            assert_eq!(a.packet, b.packet);
            let slots: Vec<_> = a.insns.iter().flat_map(|i| i.encode()).collect();
            let prog = Program::from_slots(slots).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
            prog.check_registers(0b10)
                .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        }
    }

    #[test]
    fn some_subprograms_look_up_the_hash_map_with_any_number_of_r6_to_r9_written() {
        // Per count of r6-r9 the subprogram writes: seeds whose subprogram
        // (after the first exit) calls bpf_map_lookup_elem right after
        // `r1 = map[...]`.
        let mut by_saved = [0usize; 5];
        for s in 0..2000u64 {
            let insns = generate(s).insns;
            let Some(e) = insns.iter().position(|i| matches!(i, Insn::Exit)) else {
                continue;
            };
            let sub = &insns[e + 1..];
            let fused = sub.windows(2).any(|w| {
                matches!(
                    w[0],
                    Insn::LdImm64 {
                        src: LdImm64Src::MapIdx,
                        ..
                    }
                ) && matches!(w[1], Insn::Call(CallTarget::Helper(1)))
            });
            if fused {
                let saved = sub
                    .iter()
                    .take_while(|i| !matches!(i, Insn::Store { .. }))
                    .count();
                by_saved[saved.min(4)] += 1;
            }
        }
        assert!(
            by_saved.iter().all(|&n| n > 0),
            "subprograms with a fused lookup, by r6-r9 written: {by_saved:?}"
        );
    }

    #[test]
    fn some_programs_loop_with_may_goto_in_main_and_in_the_subprogram() {
        let with = |seeds: std::ops::Range<u64>| {
            seeds
                .filter(|&s| {
                    generate(s)
                        .insns
                        .iter()
                        .any(|i| matches!(i, Insn::MayGoto { .. }))
                })
                .count()
        };
        let n = with(0..1000);
        assert!(
            (100..400).contains(&n),
            "{n} of 1000 programs have may_goto"
        );
        // In a subprogram: after the first exit.
        let in_sub = (0..1000u64).any(|s| {
            let insns = generate(s).insns;
            let exit = insns.iter().position(|i| matches!(i, Insn::Exit));
            exit.is_some_and(|e| insns[e..].iter().any(|i| matches!(i, Insn::MayGoto { .. })))
        });
        assert!(in_sub, "no subprogram with may_goto in 1000 programs");
    }
}
