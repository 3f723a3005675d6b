//! The scalar domain against the kernel's own verifier, instruction by
//! instruction: generated programs of ALU/ALU32 ops and conditional jumps on
//! scalars are loaded as socket filters with a level-2 log; the register
//! states the kernel prints (`N: (op) insn ; R3_w=scalar(...)`, and the full
//! states at `from X to Y:`) are compared with what a small abstract stepper
//! built on `tnum`/`scalar`/`alu`/`branch` computes along the same paths.
//!
//! Seeds are pinned and printed. Skips with `skipped: <reason>` when bpf(2)
//! is not permitted (fails instead under `IRONBPF_REQUIRE_KERNEL=1`).

use ironbpf_isa::{AluOp, Endian, JmpOp, RawInsn};
use ironbpf_kernel::{
    load_program, KernelMap, MapCreate, ProgLoad, BPF_LOG_LEVEL2, BPF_PROG_TYPE_SOCKET_FILTER,
};
use ironbpf_verifier::alu::{
    is_safe_to_compute, maybe_fork_scalars, scalar_alu, scalar_bswap, scalar_imm, scalar_load,
    scalar_mov_imm, scalar_movsx, scalar_neg,
};
use ironbpf_verifier::branch::{is_branch_taken, reg_set_min_max, reg_set_min_max_same_reg};
use ironbpf_verifier::scalar::Scalar;
use std::os::fd::AsRawFd;

// ---------------------------------------------------------------------------
// A pinned pseudo-random generator.

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len() as u64) as usize]
    }
    fn chance(&mut self, num: u64, den: u64) -> bool {
        self.below(den) < num
    }
}

// ---------------------------------------------------------------------------
// Encoding.

const CLS_LDX: u8 = 0x01;
const CLS_JMP: u8 = 0x05;
const CLS_JMP32: u8 = 0x06;
const CLS_ALU: u8 = 0x04;
const CLS_ALU64: u8 = 0x07;
const SRC_X: u8 = 0x08;

fn alu_code(op: AluOp) -> (u8, i16) {
    match op {
        AluOp::Add => (0x00, 0),
        AluOp::Sub => (0x10, 0),
        AluOp::Mul => (0x20, 0),
        AluOp::Div => (0x30, 0),
        AluOp::SDiv => (0x30, 1),
        AluOp::Or => (0x40, 0),
        AluOp::And => (0x50, 0),
        AluOp::Lsh => (0x60, 0),
        AluOp::Rsh => (0x70, 0),
        AluOp::Mod => (0x90, 0),
        AluOp::SMod => (0x90, 1),
        AluOp::Xor => (0xa0, 0),
        AluOp::Mov => (0xb0, 0),
        AluOp::Arsh => (0xc0, 0),
    }
}

fn jmp_code(op: JmpOp) -> u8 {
    match op {
        JmpOp::Jeq => 0x10,
        JmpOp::Jgt => 0x20,
        JmpOp::Jge => 0x30,
        JmpOp::Jset => 0x40,
        JmpOp::Jne => 0x50,
        JmpOp::Jsgt => 0x60,
        JmpOp::Jsge => 0x70,
        JmpOp::Jlt => 0xa0,
        JmpOp::Jle => 0xb0,
        JmpOp::Jslt => 0xc0,
        JmpOp::Jsle => 0xd0,
    }
}

// ---------------------------------------------------------------------------
// The abstract stepper.

#[derive(Clone, Copy, Debug, PartialEq)]
enum Reg {
    NotInit,
    Ptr,
    Scalar(Scalar),
}

type Regs = [Reg; 11];

/// What one instruction is, for the stepper.
#[derive(Clone, Copy, Debug)]
enum Op {
    Alu {
        op: AluOp,
        is64: bool,
        dst: u8,
        src: Option<u8>,
        imm: i32,
    },
    MovSx {
        is64: bool,
        bits: u8,
        dst: u8,
        src: u8,
    },
    Neg {
        is64: bool,
        dst: u8,
    },
    End {
        endian: Endian,
        width: u32,
        dst: u8,
    },
    LdImm64 {
        dst: u8,
        v: u64,
    },
    Load {
        dst: u8,
        size: u8,
        sx: bool,
    },
    /// A pointer is written to `dst` (stack or map pointers of the prologue).
    SetPtr {
        dst: u8,
        slots: usize,
    },
    /// A store to the stack: no register changes.
    Store,
    /// `call bpf_map_lookup_elem`: r0 a pointer (or null), r1-r5 gone.
    CallLookup,
    /// `if r0 != 0 goto pc+off` on the lookup's result, always taken.
    NullCheck {
        off: i16,
    },
    MovCtx,
    CallPrandom,
    Jmp {
        op: JmpOp,
        is32: bool,
        dst: u8,
        src: Option<u8>,
        imm: i32,
        off: i16,
    },
    Exit,
}

fn sc(r: &Reg) -> Option<Scalar> {
    match r {
        Reg::Scalar(s) => Some(*s),
        _ => None,
    }
}

/// One step. Returns the fall-through/next state and, for a jump whose
/// both edges are possible, the taken edge's state and target.
#[derive(Default)]
struct Step {
    next: Option<(usize, Regs)>,
    taken: Option<(usize, Regs)>,
    /// `verifier bug: REG INVARIANTS VIOLATION` lines the step logs.
    bugs: Vec<String>,
}

fn step(pc: usize, op: &Op, regs: &Regs) -> Step {
    let mut r = *regs;
    let next = |r: Regs| Step {
        next: Some((pc + 1, r)),
        taken: None,
        ..Default::default()
    };
    match *op {
        Op::Alu {
            op,
            is64,
            dst,
            src,
            imm,
        } => {
            let s = match src {
                Some(s) => sc(&r[s as usize]).unwrap_or_else(Scalar::unknown),
                None => scalar_imm(imm),
            };
            let mut d = sc(&r[dst as usize]).unwrap_or_else(Scalar::unknown);
            let mut forked = None;
            if is_safe_to_compute(op, is64, &s) {
                if let Some((on, pushed)) = maybe_fork_scalars(op, &d, &s) {
                    let mut rp = r;
                    rp[dst as usize] = Reg::Scalar(pushed);
                    forked = Some((pc, rp));
                    d = on;
                }
            }
            r[dst as usize] = if op == AluOp::Mov && src.is_none() {
                Reg::Scalar(scalar_mov_imm(is64, imm))
            } else {
                Reg::Scalar(scalar_alu(op, is64, &d, &s))
            };
            Step {
                next: Some((pc + 1, r)),
                taken: forked,
                ..Default::default()
            }
        }
        Op::MovSx {
            is64,
            bits,
            dst,
            src,
        } => {
            let s = sc(&r[src as usize]).unwrap_or_else(Scalar::unknown);
            r[dst as usize] = Reg::Scalar(scalar_movsx(is64, bits, &s));
            next(r)
        }
        Op::Neg { is64, dst } => {
            let d = sc(&r[dst as usize]).unwrap_or_else(Scalar::unknown);
            r[dst as usize] = Reg::Scalar(scalar_neg(is64, &d));
            next(r)
        }
        Op::End { endian, width, dst } => {
            let d = sc(&r[dst as usize]).unwrap_or_else(Scalar::unknown);
            r[dst as usize] = Reg::Scalar(scalar_bswap(endian, width, &d));
            next(r)
        }
        Op::LdImm64 { dst, v } => {
            r[dst as usize] = Reg::Scalar(Scalar::constant(v));
            Step {
                next: Some((pc + 2, r)),
                taken: None,
                ..Default::default()
            }
        }
        Op::Load { dst, size, sx } => {
            r[dst as usize] = Reg::Scalar(scalar_load(size, sx));
            next(r)
        }
        Op::SetPtr { dst, slots } => {
            r[dst as usize] = Reg::Ptr;
            Step {
                next: Some((pc + slots, r)),
                taken: None,
                ..Default::default()
            }
        }
        Op::Store => next(r),
        Op::CallLookup => {
            r[0] = Reg::Ptr;
            for x in r.iter_mut().take(6).skip(1) {
                *x = Reg::NotInit;
            }
            next(r)
        }
        Op::NullCheck { off } => {
            // A lookup of a constant key within an array's bounds never
            // returns null (6.18): the kernel takes the jump only.
            Step {
                next: Some(((pc as i64 + 1 + i64::from(off)) as usize, r)),
                taken: None,
                ..Default::default()
            }
        }
        Op::MovCtx => {
            r[6] = Reg::Ptr;
            next(r)
        }
        Op::CallPrandom => {
            r[0] = Reg::Scalar(Scalar::unknown());
            for x in r.iter_mut().take(6).skip(1) {
                *x = Reg::NotInit;
            }
            next(r)
        }
        Op::Jmp {
            op,
            is32,
            dst,
            src,
            imm,
            off,
        } => {
            let a = sc(&r[dst as usize]).unwrap_or_else(Scalar::unknown);
            let b = match src {
                Some(s) => sc(&r[s as usize]).unwrap_or_else(Scalar::unknown),
                None => scalar_imm(imm),
            };
            let target = (pc as i64 + 1 + i64::from(off)) as usize;
            match is_branch_taken(op, is32, &a, &b) {
                Some(true) => Step {
                    next: Some((target, r)),
                    taken: None,
                    ..Default::default()
                },
                Some(false) => next(r),
                None if src == Some(dst) => {
                    let e = reg_set_min_max_same_reg(op, is32, &a);
                    let mut rf = r;
                    let mut rt = r;
                    rf[dst as usize] = Reg::Scalar(e.fallthrough);
                    rt[dst as usize] = Reg::Scalar(e.taken);
                    Step {
                        next: Some((pc + 1, rf)),
                        taken: Some((target, rt)),
                        bugs: e.violations,
                    }
                }
                None => {
                    let e = reg_set_min_max(op, is32, &a, &b);
                    let ((fa, fb), (ta, tb)) = (e.fallthrough, e.taken);
                    let mut rf = r;
                    let mut rt = r;
                    if let Some(s) = src {
                        rf[s as usize] = Reg::Scalar(fb);
                        rt[s as usize] = Reg::Scalar(tb);
                    }
                    rf[dst as usize] = Reg::Scalar(fa);
                    rt[dst as usize] = Reg::Scalar(ta);
                    Step {
                        next: Some((pc + 1, rf)),
                        taken: Some((target, rt)),
                        bugs: e.violations,
                    }
                }
            }
        }
        Op::Exit => Step {
            next: None,
            taken: None,
            ..Default::default()
        },
    }
}

// ---------------------------------------------------------------------------
// The generator.

const POOL: [u8; 9] = [0, 1, 2, 3, 4, 5, 7, 8, 9];
/// `__sk_buff` fields a socket filter may read: len, pkt_type, mark,
/// queue_mapping, protocol, priority, cb[0].
const CTX_OFFS: [i16; 7] = [0, 4, 8, 12, 16, 32, 48];

fn interesting_imm(rng: &mut Rng) -> i32 {
    match rng.below(10) {
        0 => 0,
        1 => 1,
        2 => -1,
        3 => rng.pick(&[i32::MIN, i32::MAX, 0x7fff, 0x8000, 0xffff, -0x8000, 0x10000]),
        4 => rng.pick(&[0xff, 0xf0, 0x0f, 0x3, 0x7f, 0x80, 0xfff]),
        5 | 6 => rng.below(64) as i32 - 8,
        7 => (rng.next() as i32) >> rng.below(31),
        _ => rng.below(1 << 12) as i32,
    }
}

fn interesting_u64(rng: &mut Rng) -> u64 {
    match rng.below(6) {
        0 => rng.pick(&[
            1u64 << 63,
            u64::MAX,
            (1u64 << 63) - 1,
            1 << 32,
            (1 << 32) - 1,
            0xffff_ffff_0000_0000,
            0x8000_0000,
            0xffff_ffff_8000_0000,
        ]),
        1 => rng.next(),
        2 => rng.next() >> rng.below(64),
        3 => (rng.next() >> rng.below(64)) << rng.below(40),
        4 => !(rng.next() >> rng.below(64)),
        _ => (1u64 << rng.below(64)).wrapping_sub(rng.below(3)),
    }
}

struct Paths {
    here: Vec<Regs>,
    pending: Vec<(usize, Regs)>,
}

impl Paths {
    /// The states at the next instruction: those falling through to it and
    /// those jumping to it.
    fn at(&self, pc: usize) -> Vec<Regs> {
        let mut v = self.here.clone();
        v.extend(
            self.pending
                .iter()
                .filter(|(t, _)| *t == pc)
                .map(|(_, r)| *r),
        );
        v
    }
    fn count(&self) -> usize {
        self.here.len() + self.pending.len()
    }
}

struct Prog {
    ops: Vec<(usize, Op)>,
    slots: Vec<RawInsn>,
}

impl Prog {
    fn push(&mut self, op: Op, raw: &[RawInsn]) {
        self.ops.push((self.slots.len(), op));
        self.slots.extend_from_slice(raw);
    }
}

/// Builds one program: a prologue giving every pool register a constant or an
/// unknown narrow value, then `body` random ops, some of them forward jumps,
/// then `exit`. The stepper runs alongside (along the fall-through path) only
/// to avoid moves of unknown values, which would give linked ids.
fn generate(rng: &mut Rng, body: usize, map_fd: Option<i32>) -> Prog {
    let mut p = Prog {
        ops: Vec::new(),
        slots: Vec::new(),
    };
    // Every abstract state that reaches the next instruction, along all
    // paths (jumps go forward only), so that moves are generated only where
    // they cannot link ids on any path.
    let mut init: Regs = [Reg::NotInit; 11];
    init[1] = Reg::Ptr;
    init[10] = Reg::Ptr;
    let mut regs = Paths {
        here: vec![init],
        pending: Vec::new(),
    };
    let emit = |p: &mut Prog, paths: &mut Paths, op: Op, raw: &[RawInsn]| {
        let pc = p.slots.len();
        let mut here = std::mem::take(&mut paths.here);
        let mut k = 0;
        while k < paths.pending.len() {
            if paths.pending[k].0 == pc {
                here.push(paths.pending.swap_remove(k).1);
            } else {
                k += 1;
            }
        }
        let next_pc = pc + raw.len();
        for r in &here {
            let st = step(pc, &op, r);
            for (to, regs) in st.next.into_iter().chain(st.taken) {
                if to == next_pc {
                    paths.here.push(regs);
                } else {
                    paths.pending.push((to, regs));
                }
            }
        }
        // Keep the exploration small: identical states merge.
        paths.here.dedup();
        p.push(op, raw);
    };
    emit(
        &mut p,
        &mut regs,
        Op::MovCtx,
        &[RawInsn::new(CLS_ALU64 | 0xb0 | SRC_X, 6, 1, 0, 0)],
    );
    if let Some(fd) = map_fd {
        // Unknowns from a map value, loaded zero- or sign-extended: look up
        // key 0 of a one-element array, leave on null.
        emit(
            &mut p,
            &mut regs,
            Op::Store,
            &[RawInsn::new(0x62, 10, 0, -4, 0)],
        );
        emit(
            &mut p,
            &mut regs,
            Op::SetPtr { dst: 2, slots: 1 },
            &[RawInsn::new(CLS_ALU64 | 0xb0 | SRC_X, 2, 10, 0, 0)],
        );
        emit(
            &mut p,
            &mut regs,
            Op::SetPtr { dst: 2, slots: 1 },
            &[RawInsn::new(CLS_ALU64, 2, 0, 0, -4)],
        );
        emit(
            &mut p,
            &mut regs,
            Op::SetPtr { dst: 1, slots: 2 },
            &[RawInsn::new(0x18, 1, 1, 0, fd), RawInsn::new(0, 0, 0, 0, 0)],
        );
        emit(
            &mut p,
            &mut regs,
            Op::CallLookup,
            &[RawInsn::new(CLS_JMP | 0x80, 0, 0, 0, 1)],
        );
        emit(
            &mut p,
            &mut regs,
            Op::NullCheck { off: 1 },
            &[RawInsn::new(CLS_JMP | 0x50, 0, 0, 1, 0)],
        );
        emit(
            &mut p,
            &mut regs,
            Op::Exit,
            &[RawInsn::new(0x95, 0, 0, 0, 0)],
        );
        for d in [7u8, 8, 9] {
            let (size, sz) = rng.pick(&[(4u8, 0x00u8), (2, 0x08), (1, 0x10), (8, 0x18)]);
            let sx = size < 8 && rng.chance(2, 3);
            let mode = if sx { 0x80 } else { 0x60 };
            let off = (rng.below(8) * 8) as i16;
            emit(
                &mut p,
                &mut regs,
                Op::Load { dst: d, size, sx },
                &[RawInsn::new(CLS_LDX | mode | sz, d, 0, off, 0)],
            );
        }
    }
    emit(
        &mut p,
        &mut regs,
        Op::CallPrandom,
        &[RawInsn::new(CLS_JMP | 0x80, 0, 0, 0, 7)],
    );
    // r7-r9 hold the map value's fields when there is a map.
    let end = if map_fd.is_some() { 6 } else { POOL.len() };
    for &d in &POOL[1..end] {
        match rng.below(4) {
            0 => {
                let off = rng.pick(&CTX_OFFS);
                let (size, sz) = rng.pick(&[(4u8, 0x00u8), (2, 0x08), (1, 0x10)]);
                emit(
                    &mut p,
                    &mut regs,
                    Op::Load {
                        dst: d,
                        size,
                        sx: false,
                    },
                    &[RawInsn::new(CLS_LDX | 0x60 | sz, d, 6, off, 0)],
                );
            }
            1 => {
                let v = interesting_u64(rng);
                emit(
                    &mut p,
                    &mut regs,
                    Op::LdImm64 { dst: d, v },
                    &[
                        RawInsn::new(0x18, d, 0, 0, v as u32 as i32),
                        RawInsn::new(0, 0, 0, 0, (v >> 32) as u32 as i32),
                    ],
                );
            }
            _ => {
                let is64 = rng.chance(1, 2);
                let imm = interesting_imm(rng);
                let cls = if is64 { CLS_ALU64 } else { CLS_ALU };
                emit(
                    &mut p,
                    &mut regs,
                    Op::Alu {
                        op: AluOp::Mov,
                        is64,
                        dst: d,
                        src: None,
                        imm,
                    },
                    &[RawInsn::new(cls | 0xb0, d, 0, 0, imm)],
                );
            }
        }
    }
    // Body. Jumps go forward to at most the exit.
    let body_start = p.slots.len();
    let mut i = 0;
    while i < body {
        let is64 = rng.chance(1, 2);
        let cls = if is64 { CLS_ALU64 } else { CLS_ALU };
        let dst = rng.pick(&POOL);
        let src = rng.pick(&POOL);
        let kind = rng.below(100);
        if kind < 14 && i + 2 < body && regs.count() < 256 {
            // conditional jump
            let op = rng.pick(&JmpOp::ALL);
            let is32 = rng.chance(1, 3);
            let jcls = if is32 { CLS_JMP32 } else { CLS_JMP };
            let remaining = (body - i - 1) as u64;
            let off = 1 + rng.below(remaining.min(4)) as i16;
            let use_x = rng.chance(1, 2);
            let imm = interesting_imm(rng);
            let op_s = Op::Jmp {
                op,
                is32,
                dst,
                src: use_x.then_some(src),
                imm,
                off,
            };
            let raw = RawInsn::new(
                jcls | jmp_code(op) | if use_x { SRC_X } else { 0 },
                dst,
                if use_x { src } else { 0 },
                off,
                if use_x { 0 } else { imm },
            );
            emit(&mut p, &mut regs, op_s, &[raw]);
            i += 1;
            continue;
        }
        if kind < 18 {
            let raw = RawInsn::new(cls | 0x80, dst, 0, 0, 0);
            emit(&mut p, &mut regs, Op::Neg { is64, dst }, &[raw]);
            i += 1;
            continue;
        }
        if kind < 20 {
            // byte swap: le/be (ALU) or bswap (ALU64)
            let width = rng.pick(&[16, 32, 64]);
            let (raw, endian) = if is64 {
                (
                    RawInsn::new(CLS_ALU64 | 0xd0, dst, 0, 0, width),
                    Endian::Swap,
                )
            } else if rng.chance(1, 2) {
                (RawInsn::new(CLS_ALU | 0xd0, dst, 0, 0, width), Endian::ToLe)
            } else {
                (
                    RawInsn::new(CLS_ALU | 0xd0 | SRC_X, dst, 0, 0, width),
                    Endian::ToBe,
                )
            };
            emit(
                &mut p,
                &mut regs,
                Op::End {
                    endian,
                    width: width as u32,
                    dst,
                },
                &[raw],
            );
            i += 1;
            continue;
        }
        if kind < 25 {
            // movsx, only where it cannot link ids (the value needs the
            // sign extension, or is constant)
            let bits = if is64 {
                rng.pick(&[8u8, 16, 32])
            } else {
                rng.pick(&[8u8, 16])
            };
            let ok = regs
                .at(p.slots.len())
                .iter()
                .all(|r| match sc(&r[src as usize]) {
                    Some(s) => s.const_value().is_some() || s.umax >= 1u64 << (bits - 1),
                    None => false,
                });
            if ok {
                let raw = RawInsn::new(cls | 0xb0 | SRC_X, dst, src, i16::from(bits), 0);
                emit(
                    &mut p,
                    &mut regs,
                    Op::MovSx {
                        is64,
                        bits,
                        dst,
                        src,
                    },
                    &[raw],
                );
                i += 1;
            }
            continue;
        }
        let op = rng.pick(&AluOp::ALL);
        let (code, off) = alu_code(op);
        let mut use_x = rng.chance(1, 2);
        if op == AluOp::Mov && use_x {
            // Only constants are moved between registers (no linked ids).
            use_x = regs
                .at(p.slots.len())
                .iter()
                .all(|r| sc(&r[src as usize]).is_some_and(|s| s.const_value().is_some()));
        }
        let width = if is64 { 64 } else { 32 };
        let mut imm = interesting_imm(rng);
        match op {
            AluOp::Lsh | AluOp::Rsh | AluOp::Arsh if !use_x => {
                imm = rng.below(width) as i32;
            }
            AluOp::Div | AluOp::SDiv | AluOp::Mod | AluOp::SMod if !use_x && imm == 0 => {
                imm = 3;
            }
            _ => {}
        }
        let raw = RawInsn::new(
            cls | code | if use_x { SRC_X } else { 0 },
            dst,
            if use_x { src } else { 0 },
            off,
            if use_x { 0 } else { imm },
        );
        emit(
            &mut p,
            &mut regs,
            Op::Alu {
                op,
                is64,
                dst,
                src: use_x.then_some(src),
                imm,
            },
            &[raw],
        );
        i += 1;
    }
    let _ = body_start;
    emit(
        &mut p,
        &mut regs,
        Op::Exit,
        &[RawInsn::new(0x95, 0, 0, 0, 0)],
    );
    p
}

// ---------------------------------------------------------------------------
// The log.

/// `R3_w=scalar(...)` tokens of a state: (register, value with liveness
/// marks and the precision `P` removed).
fn reg_tokens(s: &str) -> Vec<(usize, String)> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && b[i] == b' ' {
            i += 1;
        }
        let start = i;
        let mut depth = 0i32;
        while i < b.len() && !(b[i] == b' ' && depth == 0) {
            match b[i] {
                b'(' => depth += 1,
                b')' => depth -= 1,
                _ => {}
            }
            i += 1;
        }
        let tok = &s[start..i];
        if let Some(rest) = tok.strip_prefix('R') {
            if let Some((name, val)) = rest.split_once('=') {
                let num: String = name.chars().take_while(char::is_ascii_digit).collect();
                if let Ok(n) = num.parse::<usize>() {
                    let val = val.strip_prefix('P').unwrap_or(val);
                    out.push((n, val.to_string()));
                }
            }
        }
    }
    out
}

#[derive(Default)]
struct Tally {
    lines: u64,
    lines_agree: u64,
    regs: u64,
    regs_agree: u64,
    desync: u64,
    /// REG INVARIANTS VIOLATION lines in the kernel's logs, and how many
    /// of them ours predicted.
    bugs: u64,
    bugs_agree: u64,
    diffs: Vec<String>,
}

fn compare_tokens(
    tally: &mut Tally,
    regs: &Regs,
    tokens: &[(usize, String)],
    what: &str,
    log_line: &str,
) {
    let mut compared = false;
    let mut all = true;
    for (n, val) in tokens {
        if *n > 10 {
            continue;
        }
        match &regs[*n] {
            Reg::Scalar(s) => {
                if let Ok(path) = std::env::var("IRONBPF_REGSTATE_COLLECT") {
                    use std::io::Write as _;
                    if let Ok(mut f) = std::fs::OpenOptions::new()
                        .append(true)
                        .create(true)
                        .open(path)
                    {
                        let _ = writeln!(f, "{val}");
                    }
                }
                let mine = s.to_log_string();
                compared = true;
                tally.regs += 1;
                if &mine == val {
                    tally.regs_agree += 1;
                } else {
                    all = false;
                    if tally.diffs.len() < 40 {
                        tally.diffs.push(format!(
                            "{what}\n    kernel: {log_line}\n    R{n}: kernel {val}\n    R{n}: ours   {mine}\n    ours in full: {s:?}"
                        ));
                    }
                }
            }
            Reg::Ptr => {}
            Reg::NotInit => {
                compared = true;
                tally.regs += 1;
                all = false;
                if tally.diffs.len() < 40 {
                    tally.diffs.push(format!(
                        "{what}\n    kernel: {log_line}\n    R{n}: kernel {val}, ours not init"
                    ));
                }
            }
        }
    }
    if compared {
        tally.lines += 1;
        if all {
            tally.lines_agree += 1;
        }
    }
}

/// Walks the kernel's log, stepping our domain along the paths it took.
fn check_log(prog: &Prog, log: &str, tally: &mut Tally, label: &str) {
    let op_at = |pc: usize| prog.ops.iter().find(|(at, _)| *at == pc).map(|(_, o)| *o);
    let mut init: Regs = [Reg::NotInit; 11];
    init[1] = Reg::Ptr;
    init[10] = Reg::Ptr;
    let mut cur: Option<(usize, Regs)> = Some((0, init));
    let mut last_pc: Option<usize> = None;
    let mut our_bugs: Vec<String> = Vec::new();
    let mut kernel_bugs: Vec<String> = log
        .lines()
        .filter(|l| l.starts_with("verifier bug: REG INVARIANTS"))
        .map(str::to_string)
        .collect();
    let mut stack: Vec<(usize, usize, Regs)> = Vec::new();
    let desync = |tally: &mut Tally, why: String| {
        tally.desync += 1;
        if tally.diffs.len() < 40 {
            tally.diffs.push(format!("{label}: paths differ: {why}"));
        }
    };
    for line in log.lines() {
        let line = line.trim_end();
        if let Some(rest) = line.strip_prefix("from ") {
            // from X to Y: <state> | from X to Y: safe
            let Some((head, state)) = rest.split_once(": ") else {
                continue;
            };
            let Some((x, y)) = head.split_once(" to ") else {
                continue;
            };
            let (Ok(x), Ok(y)) = (x.trim().parse::<usize>(), y.trim().parse::<usize>()) else {
                continue;
            };
            let Some((sx, sy, regs)) = stack.pop() else {
                return desync(
                    tally,
                    format!("kernel pops `from {x} to {y}`, ours has no pending branch"),
                );
            };
            if (sx, sy) != (x, y) {
                return desync(
                    tally,
                    format!("kernel pops from {x} to {y}, ours from {sx} to {sy}"),
                );
            }
            last_pc = None;
            if state.trim() == "safe" {
                cur = None;
            } else {
                compare_tokens(
                    tally,
                    &regs,
                    &reg_tokens(state),
                    &format!("{label} from {x} to {y}"),
                    line,
                );
                cur = Some((y, regs));
            }
            continue;
        }
        let Some((idx, rest)) = line.split_once(": ") else {
            continue;
        };
        let Ok(pc) = idx.parse::<usize>() else {
            continue;
        };
        if rest.trim() == "safe" {
            cur = None;
            continue;
        }
        if !rest.starts_with('(') && last_pc == Some(pc) {
            // The state after the instruction again, printed after the
            // precision backtracking lines.
            if let Some((_, regs)) = &cur {
                let regs = *regs;
                compare_tokens(
                    tally,
                    &regs,
                    &reg_tokens(rest),
                    &format!("{label} after {pc}"),
                    line,
                );
            }
            continue;
        }
        let Some((cpc, regs)) = cur else {
            return desync(
                tally,
                format!("kernel goes on at {pc}, ours has ended the path"),
            );
        };
        if cpc != pc {
            return desync(tally, format!("kernel at insn {pc}, ours at {cpc}"));
        }
        if !rest.starts_with('(') {
            // A full state line before the instruction.
            compare_tokens(
                tally,
                &regs,
                &reg_tokens(rest),
                &format!("{label} state at {pc}"),
                line,
            );
            continue;
        }
        let Some(op) = op_at(pc) else {
            return desync(tally, format!("kernel at {pc}, not an instruction start"));
        };
        last_pc = Some(pc);
        let st = step(pc, &op, &regs);
        our_bugs.extend(st.bugs.iter().cloned());
        if let Some((target, r)) = st.taken {
            stack.push((pc, target, r));
        }
        cur = st.next;
        if let Some((_, after)) = &cur {
            if let Some((_, state)) = rest.split_once(" ; ") {
                let after = *after;
                compare_tokens(
                    tally,
                    &after,
                    &reg_tokens(state),
                    &format!("{label} insn {pc} {op:?}"),
                    line,
                );
            }
        }
    }
    if !stack.is_empty() {
        desync(
            tally,
            format!(
                "ours has {} branches the kernel never explored",
                stack.len()
            ),
        );
    }
    kernel_bugs.sort();
    our_bugs.sort();
    tally.bugs += kernel_bugs.len() as u64;
    if kernel_bugs == our_bugs {
        tally.bugs_agree += kernel_bugs.len() as u64;
    } else if tally.diffs.len() < 40 {
        tally.diffs.push(format!(
            "{label}: invariant violations differ:\n  kernel {kernel_bugs:?}\n  ours   {our_bugs:?}"
        ));
    }
}

fn run(seed: u64, programs: usize, body: usize) -> Tally {
    let mut rng = Rng(seed);
    let mut tally = Tally::default();
    let mut rejected = 0;
    // A one-element array whose value the programs read (64 bytes).
    let map = KernelMap::create(&MapCreate::new(2, 4, 64, 1)).expect("creating an array map");
    let map_fd = map.fd().as_raw_fd();
    for n in 0..programs {
        let with_map = rng.chance(1, 2);
        let prog = generate(&mut rng, body, with_map.then_some(map_fd));
        let words: Vec<u64> = prog.slots.iter().map(|s| s.to_u64()).collect();
        let out = load_program(&ProgLoad {
            prog_type: BPF_PROG_TYPE_SOCKET_FILTER,
            insns: &words,
            log_level: BPF_LOG_LEVEL2,
            ..Default::default()
        });
        let label = format!("seed {seed:#x} program {n}");
        if std::env::var("IRONBPF_REGSTATE_DUMP").as_deref() == Ok(&n.to_string()) {
            eprintln!("{label} log:\n{}", out.log);
        }
        if !out.accepted() {
            rejected += 1;
            tally.diffs.push(format!(
                "{label}: the kernel refused it: {:?}\n{}",
                out.first_error_line,
                out.log.lines().rev().take(6).collect::<Vec<_>>().join("\n")
            ));
            continue;
        }
        check_log(&prog, &out.log, &mut tally, &label);
    }
    assert!(
        rejected <= programs / 20,
        "{rejected} of {programs} programs refused"
    );
    tally
}

fn report_and_check(seed: u64, programs: usize, body: usize) {
    eprintln!("kernel_regstate: seed {seed:#x}, {programs} programs of {body} body instructions");
    let t = run(seed, programs, body);
    let pct = |a: u64, b: u64| {
        if b == 0 {
            100.0
        } else {
            a as f64 * 100.0 / b as f64
        }
    };
    eprintln!(
        "kernel_regstate: {} of {} printed instruction states agree ({:.2}%), {} of {} register values ({:.2}%), {} path desyncs",
        t.lines_agree,
        t.lines,
        pct(t.lines_agree, t.lines),
        t.regs_agree,
        t.regs,
        pct(t.regs_agree, t.regs),
        t.desync
    );
    eprintln!(
        "kernel_regstate: {} REG INVARIANTS VIOLATION lines in the kernel's logs, {} predicted",
        t.bugs, t.bugs_agree
    );
    for d in &t.diffs {
        eprintln!("{d}");
    }
    assert_eq!(
        t.bugs_agree, t.bugs,
        "invariant violations differ (seed {seed:#x})"
    );
    assert!(t.lines > 1000, "too few states compared: {}", t.lines);
    assert_eq!(
        t.lines_agree, t.lines,
        "register states differ from the kernel's (seed {seed:#x})"
    );
    assert_eq!(
        t.desync, 0,
        "explored paths differ from the kernel's (seed {seed:#x})"
    );
}

fn env_or<T: std::str::FromStr>(k: &str, default: T) -> T {
    std::env::var(k)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// The pinned runs. IRONBPF_REGSTATE_SEED (hex) / _PROGRAMS / _BODY run
/// another instead (the seed is printed either way).
#[test]
fn register_states_match_the_kernel_log() {
    if !ironbpf_kernel::available_for_test("kernel_regstate") {
        return;
    }
    if let Ok(seed) = std::env::var("IRONBPF_REGSTATE_SEED") {
        let seed = u64::from_str_radix(seed.trim_start_matches("0x"), 16).expect("a hex seed");
        report_and_check(
            seed,
            env_or("IRONBPF_REGSTATE_PROGRAMS", 1000),
            env_or("IRONBPF_REGSTATE_BODY", 40),
        );
        return;
    }
    report_and_check(0x5ca1_ab1e_d00d_f00d, 1000, 40);
}

/// Longer programs, with more paths: edges the kernel finds empty only
/// after refining (REG INVARIANTS VIOLATION), `<<32` of negative subregs.
#[test]
fn register_states_match_the_kernel_log_on_long_programs() {
    if !ironbpf_kernel::available_for_test("kernel_regstate") {
        return;
    }
    if std::env::var("IRONBPF_REGSTATE_SEED").is_ok() {
        return;
    }
    report_and_check(0x9999, 700, 90);
}
