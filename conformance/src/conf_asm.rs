//! The assembler for bpf_conformance's and uBPF's `-- asm` syntax:
//! `mov %r0, 1`, `ldxw %r1, [%r2+4]`, `stxdw [%r10-8], %r0`,
//! `lock fetch add [%r10-8], %r1`, `jeq32 %r1, 5, +3`, `ja label`,
//! `call local label`, `call %r2`, `lddw %r0, 0x123456789abcdef0`.
//! Instructions are built as typed [`Insn`]s and encoded by the isa crate,
//! so encodings live in one place.

use ironbpf_isa::{
    AluOp, AtomicOp, CallTarget, Endian, Insn, JmpOp, LdImm64Src, Operand, RawInsn, Reg, Size,
    Width,
};
use std::collections::HashMap;
use thiserror::Error;

/// An assembly error, with its line (1-based, within the asm section).
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("line {line}: {message}")]
pub struct ConfAsmError {
    pub line: usize,
    pub message: String,
}

fn err<T>(line: usize, message: impl Into<String>) -> Result<T, ConfAsmError> {
    Err(ConfAsmError {
        line,
        message: message.into(),
    })
}

/// A jump or call target before labels are resolved.
enum Target {
    Rel(i64),
    Label(String),
}

/// An instruction whose target may still be a label.
struct Pending {
    line: usize,
    insn: Insn,
    target: Option<Target>,
}

/// Assembles a program.
pub fn assemble(text: &str) -> Result<Vec<RawInsn>, ConfAsmError> {
    let mut labels: HashMap<String, usize> = HashMap::new();
    let mut pending: Vec<Pending> = Vec::new();
    let mut slot = 0usize;
    let mut last_exit = None;
    for (i, raw_line) in text.lines().enumerate() {
        let line = i + 1;
        let mut t = raw_line.split('#').next().unwrap_or("").trim();
        if t.is_empty() {
            continue;
        }
        // Labels: `name:` alone or before an instruction.
        if let Some((name, rest)) = t.split_once(':') {
            let name = name.trim();
            if !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
            {
                if labels.insert(name.to_string(), slot).is_some() {
                    return err(line, format!("label `{name}` is defined twice"));
                }
                t = rest.trim();
                if t.is_empty() {
                    continue;
                }
            }
        }
        let p = parse_insn(t, line)?;
        if p.insn == Insn::Exit {
            last_exit = Some(slot);
        }
        slot += p.insn.slots();
        pending.push(p);
    }
    // bpf_conformance writes `jeq %r1, 5, exit`: a jump to the program's
    // last `exit` (unless a label of that name exists).
    if let Some(at) = last_exit {
        labels.entry("exit".to_string()).or_insert(at);
    }
    let mut out = Vec::with_capacity(slot);
    let mut pc = 0usize;
    for p in pending {
        let insn = match p.target {
            None => p.insn,
            Some(target) => {
                let rel = match target {
                    Target::Rel(r) => r,
                    Target::Label(l) => match labels.get(&l) {
                        Some(&to) => to as i64 - pc as i64 - 1,
                        None => return err(p.line, format!("unknown label `{l}`")),
                    },
                };
                with_target(p.insn, rel, p.line)?
            }
        };
        pc += insn.slots();
        insn.encode_into(&mut out);
    }
    Ok(out)
}

fn with_target(insn: Insn, rel: i64, line: usize) -> Result<Insn, ConfAsmError> {
    let off16 = || {
        i16::try_from(rel).or_else(|_| {
            err(line, format!("jump offset {rel} is out of the 16-bit range (-32768 to 32767); use ja32 for long jumps"))
        })
    };
    let imm32 = || {
        i32::try_from(rel)
            .or_else(|_| err(line, format!("offset {rel} is out of the 32-bit range")))
    };
    Ok(match insn {
        Insn::Ja { .. } => Insn::Ja { off: off16()? },
        Insn::Gotol { .. } => Insn::Gotol { imm: imm32()? },
        Insn::Jmp {
            op,
            width,
            dst,
            src,
            ..
        } => Insn::Jmp {
            op,
            width,
            dst,
            src,
            off: off16()?,
        },
        Insn::Call(CallTarget::Local(_)) => Insn::Call(CallTarget::Local(imm32()?)),
        other => other,
    })
}

fn reg(tok: &str, line: usize) -> Result<Reg, ConfAsmError> {
    let t = tok.trim();
    let n = t
        .strip_prefix("%r")
        .and_then(|n| n.parse::<u8>().ok())
        .and_then(Reg::new);
    match n {
        Some(r) => Ok(r),
        None => err(
            line,
            format!("Invalid register `{t}`: registers are %r0 to %r10"),
        ),
    }
}

fn is_reg(tok: &str) -> bool {
    tok.trim().starts_with('%')
}

/// A number as written: decimal (maybe negative) or hex (maybe negative).
fn number(tok: &str) -> Option<i128> {
    let t = tok.trim();
    let (neg, body) = match t.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let v = if let Some(h) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        i128::from_str_radix(h, 16).ok()?
    } else {
        body.parse::<i128>().ok()?
    };
    Some(if neg { -v } else { v })
}

/// A 32-bit immediate: decimal within i32, hex within u32 (its bits).
fn imm32(tok: &str, line: usize) -> Result<i32, ConfAsmError> {
    let t = tok.trim();
    let Some(v) = number(t) else {
        return err(line, format!("Invalid immediate `{t}`: not a number"));
    };
    let hex = t.trim_start_matches(['-', '+']).starts_with("0x");
    let ok = if hex {
        (-(1i128 << 31)..(1i128 << 32)).contains(&v)
    } else {
        (i32::MIN as i128..=i32::MAX as i128).contains(&v)
    };
    if !ok {
        return err(
            line,
            format!("Invalid immediate `{t}`: out of the 32-bit range"),
        );
    }
    Ok(v as i64 as i32)
}

fn operand(tok: &str, line: usize) -> Result<Operand, ConfAsmError> {
    if is_reg(tok) {
        Ok(Operand::Reg(reg(tok, line)?))
    } else {
        Ok(Operand::Imm(imm32(tok, line)?))
    }
}

/// `[%rN]`, `[%rN+off]`, `[%rN-off]`.
fn mem(tok: &str, line: usize) -> Result<(Reg, i16), ConfAsmError> {
    let t = tok.trim();
    let Some(inner) = t.strip_prefix('[').and_then(|x| x.strip_suffix(']')) else {
        return err(
            line,
            format!("Invalid memory operand `{t}`: expected [%rN+offset]"),
        );
    };
    let (r, off) = match inner.find(['+', '-']) {
        Some(i) => (&inner[..i], &inner[i..]),
        None => (inner, "0"),
    };
    let base = reg(r, line)?;
    let Some(v) = number(off) else {
        return err(line, format!("Invalid offset `{off}` in `{t}`"));
    };
    let off = i16::try_from(v).or_else(|_| {
        err(
            line,
            format!("Invalid offset {off} in `{t}`: out of the 16-bit range"),
        )
    })?;
    Ok((base, off))
}

fn target(tok: &str) -> Target {
    match number(tok) {
        Some(v) => Target::Rel(v as i64),
        None => Target::Label(tok.trim().to_string()),
    }
}

/// Splits operands on commas.
fn operands(rest: &str) -> Vec<&str> {
    if rest.trim().is_empty() {
        return Vec::new();
    }
    rest.split(',').map(str::trim).collect()
}

fn count(mn: &str, ops: &[&str], n: usize, line: usize) -> Result<(), ConfAsmError> {
    if ops.len() != n {
        return err(
            line,
            format!(
                "Invalid number of operands for {mn}: expected {n}, got {}",
                ops.len()
            ),
        );
    }
    Ok(())
}

fn alu_op(name: &str) -> Option<AluOp> {
    Some(match name {
        "add" => AluOp::Add,
        "sub" => AluOp::Sub,
        "mul" => AluOp::Mul,
        "div" => AluOp::Div,
        "sdiv" => AluOp::SDiv,
        "or" => AluOp::Or,
        "and" => AluOp::And,
        "lsh" => AluOp::Lsh,
        "rsh" => AluOp::Rsh,
        "mod" => AluOp::Mod,
        "smod" => AluOp::SMod,
        "xor" => AluOp::Xor,
        "mov" => AluOp::Mov,
        "arsh" => AluOp::Arsh,
        _ => return None,
    })
}

fn jmp_op(name: &str) -> Option<JmpOp> {
    Some(match name {
        "jeq" => JmpOp::Jeq,
        "jgt" => JmpOp::Jgt,
        "jge" => JmpOp::Jge,
        "jset" => JmpOp::Jset,
        "jne" => JmpOp::Jne,
        "jsgt" => JmpOp::Jsgt,
        "jsge" => JmpOp::Jsge,
        "jlt" => JmpOp::Jlt,
        "jle" => JmpOp::Jle,
        "jslt" => JmpOp::Jslt,
        "jsle" => JmpOp::Jsle,
        _ => return None,
    })
}

fn size(c: &str) -> Option<Size> {
    Some(match c {
        "b" => Size::B,
        "h" => Size::H,
        "w" => Size::W,
        "dw" => Size::DW,
        _ => return None,
    })
}

/// `name32` -> (name, W32); `name64`/`name` -> (name, W64).
fn width_suffix(mn: &str) -> (&str, Width) {
    if let Some(b) = mn.strip_suffix("32") {
        (b, Width::W32)
    } else {
        (mn.strip_suffix("64").unwrap_or(mn), Width::W64)
    }
}

fn parse_insn(t: &str, line: usize) -> Result<Pending, ConfAsmError> {
    let (mn, rest) = t.split_once(char::is_whitespace).unwrap_or((t, ""));
    let ops = operands(rest);
    let done = |insn| {
        Ok(Pending {
            line,
            insn,
            target: None,
        })
    };
    let (base, width) = width_suffix(mn);

    if mn == "exit" {
        count(mn, &ops, 0, line)?;
        return done(Insn::Exit);
    }
    if mn == "lock" {
        return lock(rest, line);
    }
    if mn == "lddw" {
        count(mn, &ops, 2, line)?;
        let dst = reg(ops[0], line)?;
        let v = number(ops[1])
            .filter(|v| (i64::MIN as i128..=u64::MAX as i128).contains(v))
            .ok_or_else(|| ConfAsmError {
                line,
                message: format!("Invalid immediate `{}` for lddw", ops[1]),
            })?;
        let v = v as u64;
        return done(Insn::LdImm64 {
            dst,
            src: LdImm64Src::Imm,
            imm: v as u32 as i32,
            next_imm: (v >> 32) as u32 as i32,
        });
    }
    if mn == "call" {
        if let Some(label) = rest.trim().strip_prefix("local ") {
            return Ok(Pending {
                line,
                insn: Insn::Call(CallTarget::Local(0)),
                target: Some(target(label)),
            });
        }
        count(mn, &ops, 1, line)?;
        if is_reg(ops[0]) {
            return done(Insn::Callx {
                reg: reg(ops[0], line)?,
            });
        }
        return done(Insn::Call(CallTarget::Helper(imm32(ops[0], line)?)));
    }
    if mn == "ja" || mn == "ja32" {
        count(mn, &ops, 1, line)?;
        let insn = if mn == "ja" {
            Insn::Ja { off: 0 }
        } else {
            Insn::Gotol { imm: 0 }
        };
        return Ok(Pending {
            line,
            insn,
            target: Some(target(ops[0])),
        });
    }
    if let Some(op) = jmp_op(base) {
        count(mn, &ops, 3, line)?;
        let insn = Insn::Jmp {
            op,
            width,
            dst: reg(ops[0], line)?,
            src: operand(ops[1], line)?,
            off: 0,
        };
        return Ok(Pending {
            line,
            insn,
            target: Some(target(ops[2])),
        });
    }
    if base == "neg" {
        count(mn, &ops, 1, line)?;
        return done(Insn::Neg {
            width,
            dst: reg(ops[0], line)?,
        });
    }
    for (prefix, kind) in [
        ("le", Endian::ToLe),
        ("be", Endian::ToBe),
        ("bswap", Endian::Swap),
        ("swap", Endian::Swap),
    ] {
        if let Some(bits) = mn.strip_prefix(prefix).and_then(|b| b.parse::<u8>().ok()) {
            if !matches!(bits, 16 | 32 | 64) {
                return err(
                    line,
                    format!("Invalid byte swap width in `{mn}`: 16, 32 or 64"),
                );
            }
            count(mn, &ops, 1, line)?;
            return done(Insn::Endian {
                kind,
                bits,
                dst: reg(ops[0], line)?,
            });
        }
    }
    if let Some(spec) = mn.strip_prefix("movsx") {
        // movsx<from><to>: 832, 864, 1632, 1664, 3264.
        let (bits, w) = match spec {
            "832" => (8, Width::W32),
            "864" => (8, Width::W64),
            "1632" => (16, Width::W32),
            "1664" => (16, Width::W64),
            "3264" => (32, Width::W64),
            _ => {
                return err(
                    line,
                    format!("Invalid mnemonic `{mn}`: movsx takes 832, 864, 1632, 1664 or 3264"),
                )
            }
        };
        count(mn, &ops, 2, line)?;
        return done(Insn::MovSx {
            width: w,
            dst: reg(ops[0], line)?,
            src: reg(ops[1], line)?,
            bits,
        });
    }
    if let Some(op) = alu_op(base) {
        count(mn, &ops, 2, line)?;
        return done(Insn::Alu {
            op,
            width,
            dst: reg(ops[0], line)?,
            src: operand(ops[1], line)?,
        });
    }
    // Loads: ldx{b,h,w,dw}, ldxs{b,h,w}.
    if let Some(sz) = mn.strip_prefix("ldx") {
        let (sign_extend, sz) = match sz.strip_prefix('s') {
            Some(s) if !s.is_empty() && s != "dw" => (true, s),
            _ => (false, sz),
        };
        if let Some(size) = size(sz) {
            count(mn, &ops, 2, line)?;
            let dst = reg(ops[0], line)?;
            let (src, off) = mem(ops[1], line)?;
            return done(Insn::Load {
                size,
                sign_extend,
                dst,
                src,
                off,
            });
        }
    }
    if let Some(sz) = mn.strip_prefix("stx") {
        if let Some(size) = size(sz) {
            count(mn, &ops, 2, line)?;
            let (dst, off) = mem(ops[0], line)?;
            return done(Insn::StoreReg {
                size,
                dst,
                src: reg(ops[1], line)?,
                off,
            });
        }
    }
    if let Some(sz) = mn.strip_prefix("st") {
        if let Some(size) = size(sz) {
            count(mn, &ops, 2, line)?;
            let (dst, off) = mem(ops[0], line)?;
            return done(Insn::Store {
                size,
                dst,
                off,
                imm: imm32(ops[1], line)?,
            });
        }
    }
    if let Some(sz) = mn.strip_prefix("ldabs") {
        if let Some(size) = size(sz).filter(|s| *s != Size::DW) {
            count(mn, &ops, 1, line)?;
            return done(Insn::LdAbs {
                size,
                imm: imm32(ops[0], line)?,
            });
        }
    }
    if let Some(sz) = mn.strip_prefix("ldind") {
        if let Some(size) = size(sz).filter(|s| *s != Size::DW) {
            count(mn, &ops, 2, line)?;
            return done(Insn::LdInd {
                size,
                src: reg(ops[0], line)?,
                imm: imm32(ops[1], line)?,
            });
        }
    }
    err(line, format!("Invalid mnemonic `{mn}`"))
}

/// `lock [fetch] add|or|and|xor[32] [dst+off], src`, `lock xchg[32] ...`,
/// `lock cmpxchg[32] ...`.
fn lock(rest: &str, line: usize) -> Result<Pending, ConfAsmError> {
    let bad = || {
        err(
            line,
            "Invalid number of operands for lock: expected `lock [fetch] <op> [%rN+off], %rM`",
        )
    };
    let rest = rest.trim();
    let (fetch, rest) = match rest.strip_prefix("fetch ") {
        Some(r) => (true, r.trim()),
        None => (false, rest),
    };
    let Some((op_name, ops)) = rest.split_once(char::is_whitespace) else {
        return bad();
    };
    let ops = operands(ops);
    if ops.len() != 2 {
        return bad();
    }
    let (base, width) = width_suffix(op_name);
    let size = if width == Width::W32 {
        Size::W
    } else {
        Size::DW
    };
    let op = match (base, fetch) {
        ("add", false) => AtomicOp::Add,
        ("or", false) => AtomicOp::Or,
        ("and", false) => AtomicOp::And,
        ("xor", false) => AtomicOp::Xor,
        ("add", true) => AtomicOp::FetchAdd,
        ("or", true) => AtomicOp::FetchOr,
        ("and", true) => AtomicOp::FetchAnd,
        ("xor", true) => AtomicOp::FetchXor,
        ("xchg", _) => AtomicOp::Xchg,
        ("cmpxchg", _) => AtomicOp::CmpXchg,
        _ => return err(line, format!("Invalid atomic operation `{op_name}`: add, or, and, xor (with or without fetch), xchg, cmpxchg, each with an optional 32")),
    };
    let (dst, off) = mem(ops[0], line)?;
    let src = reg(ops[1], line)?;
    Ok(Pending {
        line,
        insn: Insn::Atomic {
            op,
            size,
            dst,
            src,
            off,
        },
        target: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(t: &str) -> RawInsn {
        let v = assemble(t).unwrap();
        v[0]
    }

    #[test]
    fn encodings_of_each_family() {
        assert_eq!(one("mov %r0, 1").to_u64(), 0x0000_0001_0000_00b7);
        assert_eq!(one("mov32 %r1, %r2").to_u64(), 0x0000_0000_0000_21bc);
        assert_eq!(one("ldxw %r1, [%r2+4]").to_u64(), 0x0000_0000_0004_2161);
        assert_eq!(one("stxdw [%r10-8], %r0").to_u64(), 0x0000_0000_fff8_0a7b);
        assert_eq!(
            one("lock fetch add [%r10-8], %r1").to_u64(),
            0x0000_0001_fff8_1adb
        );
        assert_eq!(one("exit").to_u64(), 0x95);
        assert_eq!(one("call %r2").dst, 2);
        assert_eq!(one("movsx1632 %r0, %r1").off, 16);
        assert_eq!(assemble("lddw %r0, 0x123456789abcdef0").unwrap().len(), 2);
    }

    #[test]
    fn labels_count_slots() {
        let v = assemble("ja end\nlddw %r0, 1\nend:\nexit").unwrap();
        assert_eq!(v[0].off, 2);
        let v = assemble("call local f\nexit\nf:\nexit").unwrap();
        assert_eq!(v[0].imm, 1);
    }

    #[test]
    fn errors_name_the_line_and_problem() {
        assert!(assemble("or %r0, %r50")
            .unwrap_err()
            .message
            .contains("Invalid register"));
        assert!(assemble("lock or [%r10-8]")
            .unwrap_err()
            .message
            .contains("Invalid number of operands for lock"));
        assert!(assemble("mov32 %r0, 2147483648").is_err());
        assert!(assemble("mov32 %r0, 0xffffffff").is_ok());
        assert!(assemble("mov32 %r0, 0x100000000").is_err());
        assert!(assemble("ldxb %r0, [%r1+0x10000]").is_err());
        assert!(assemble("ldxb %r0, %r1").is_err());
        assert_eq!(assemble("exit\nja NOWHERE").unwrap_err().line, 2);
        assert!(assemble("ldxq %r0, %r1")
            .unwrap_err()
            .message
            .contains("Invalid mnemonic"));
    }
}
