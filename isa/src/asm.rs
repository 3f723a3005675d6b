//! The assembler: text in the kernel verifier log's syntax (what
//! [`crate::disasm`] prints) or in LLVM's (what `llvm-objdump -d` prints and
//! `llvm-mc` reads) into instruction slots.
//!
//! One instruction a line. Accepted around it:
//!
//! - the kernel log's prefix `N: (xx) ` (the opcode, when given, must be the
//!   opcode the text assembles to) and llvm-objdump's `N:` followed by the
//!   instruction's hex bytes; llvm-objdump's `<sym>` annotations after jump
//!   targets and its `0000000000000148 <LBB0_1>:` symbol lines;
//! - labels (`LBB0_1:`) and jumps or calls to them (`goto LBB0_1`,
//!   `if r1 > 5 goto LBB0_1`, `call my_subprog`, `r2 = subprog[my_cb]`);
//! - comments from `;`, `//`, or a `#` at the start of a word (so the
//!   kernel's `call bpf_map_lookup_elem#1` keeps its `#1`).
//!
//! Numbers are decimal or `0x` hex, with an optional sign. A 32-bit
//! immediate may be written as its unsigned bit pattern (`0xffffffff` is
//! -1), as the kernel prints the immediates of conditional jumps.
//!
//! `rN = VALUE` is a move of a 32-bit immediate (`BPF_MOV | BPF_K`) when
//! the value fits a sign-extended 32-bit immediate, and an `ld_imm64`
//! otherwise, or when it ends in LLVM's ` ll`, or when the kernel log's
//! `(18)` opcode prefix says so.

use crate::disasm::helper_id;
use crate::error::{IsaError, IsaErrorKind};
use crate::insn::{
    AluOp, AtomicOp, CallTarget, Endian, Insn, JmpOp, LdImm64Src, Operand, RawInsn, Reg, Size,
    Width,
};
use crate::program::Program;
use std::collections::HashMap;
use thiserror::Error;

/// Text that does not assemble: the line (1-based), the column (1-based,
/// in characters) of the token at fault, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("line {line}: {kind}")]
pub struct AsmError {
    /// The line, counting from 1.
    pub line: usize,
    /// The column of the token at fault, counting from 1.
    pub column: usize,
    /// What is wrong and what was expected.
    pub kind: AsmErrorKind,
}

/// What is wrong with a line of assembly.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AsmErrorKind {
    #[error(
        "unknown register `{0}` (registers are r0 to r10, or w0 to w10 for 32-bit operations)"
    )]
    UnknownRegister(String),
    #[error("expected {expected}, found {found}")]
    Expected { expected: String, found: String },
    #[error("`{0}` does not start an instruction (expected a register, `*(`, `if`, `goto`, `gotol`, `call`, `callx`, `lock`, `store_release` or `exit`)")]
    UnknownInstruction(String),
    #[error("{value} does not fit {what} ({min} to {max})")]
    OutOfRange {
        value: String,
        what: &'static str,
        min: i128,
        max: i128,
    },
    #[error("`{0}` mixes 32-bit (wN) and 64-bit (rN) registers")]
    MixedWidths(String),
    #[error("{0}")]
    WrongOperand(String),
    #[error("unknown helper or label `{0}` (helpers are named as in the kernel, e.g. `bpf_map_lookup_elem`, or by id: `call 1`)")]
    UnknownHelper(String),
    #[error("unknown label `{0}`")]
    UnknownLabel(String),
    #[error("label `{label}` is already defined on line {first_line}")]
    DuplicateLabel { label: String, first_line: usize },
    #[error("the jump to `{label}` spans {offset} instructions; `goto` and conditional jumps reach -32768 to 32767 (use `gotol`)")]
    JumpTooFar { label: String, offset: i64 },
    #[error(
        "the prefix says opcode ({prefix:02x}) but the instruction's opcode is ({actual:02x})"
    )]
    OpcodeMismatch { prefix: u8, actual: u8 },
    #[error("invalid instruction: {0}")]
    Invalid(IsaErrorKind),
    #[error("invalid program: {0}")]
    Program(IsaErrorKind),
}

// ---------------------------------------------------------------------------
// Tokens

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Ident(String),
    /// An unsigned number as written (decimal or 0x hex).
    Num(u128),
    Punct(&'static str),
}

#[derive(Clone, Debug)]
struct Token {
    tok: Tok,
    /// Byte offset in the line.
    at: usize,
    text: String,
}

const PUNCTS: [&str; 35] = [
    "s>>=", "<<=", ">>=", "s/=", "s%=", "s>=", "s<=", "+=", "-=", "*=", "/=", "%=", "|=", "&=",
    "^=", "==", "!=", ">=", "<=", "s>", "s<", "=", ">", "<", "&", "(", ")", "[", "]", "*", ",",
    "+", "-", "#", ":",
];

fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || c == '.'
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '.'
}

struct LineCtx<'a> {
    line_no: usize,
    text: &'a str,
}

impl LineCtx<'_> {
    fn col(&self, at: usize) -> usize {
        self.text[..at.min(self.text.len())].chars().count() + 1
    }

    fn err(&self, at: usize, kind: AsmErrorKind) -> AsmError {
        AsmError {
            line: self.line_no,
            column: self.col(at),
            kind,
        }
    }
}

fn tokenize(cx: &LineCtx, start: usize, end: usize) -> Result<Vec<Token>, AsmError> {
    let s = &cx.text[..end];
    let mut out = Vec::new();
    let mut i = start;
    'outer: while i < end {
        let c = s[i..].chars().next().unwrap_or(' ');
        if c.is_whitespace() {
            i += c.len_utf8();
            continue;
        }
        if c == 's' {
            for p in PUNCTS.iter().filter(|p| p.starts_with('s')) {
                if s[i..].starts_with(p) {
                    out.push(Token {
                        tok: Tok::Punct(p),
                        at: i,
                        text: p.to_string(),
                    });
                    i += p.len();
                    continue 'outer;
                }
            }
        }
        if is_ident_start(c) {
            let len = s[i..]
                .find(|ch: char| !is_ident_char(ch))
                .unwrap_or(s.len() - i);
            out.push(Token {
                tok: Tok::Ident(s[i..i + len].to_string()),
                at: i,
                text: s[i..i + len].to_string(),
            });
            i += len;
            continue;
        }
        if c.is_ascii_digit() {
            let len = s[i..]
                .find(|ch: char| !is_ident_char(ch))
                .unwrap_or(s.len() - i);
            let word = &s[i..i + len];
            let value = if let Some(h) = word.strip_prefix("0x").or_else(|| word.strip_prefix("0X"))
            {
                u128::from_str_radix(h, 16).ok()
            } else {
                word.parse::<u128>().ok()
            };
            let Some(value) = value else {
                return Err(cx.err(
                    i,
                    AsmErrorKind::Expected {
                        expected: "a number (decimal or 0x hex)".into(),
                        found: format!("`{word}`"),
                    },
                ));
            };
            out.push(Token {
                tok: Tok::Num(value),
                at: i,
                text: word.to_string(),
            });
            i += len;
            continue;
        }
        for p in PUNCTS.iter().filter(|p| !p.starts_with('s')) {
            if s[i..].starts_with(p) {
                out.push(Token {
                    tok: Tok::Punct(p),
                    at: i,
                    text: p.to_string(),
                });
                i += p.len();
                continue 'outer;
            }
        }
        return Err(cx.err(
            i,
            AsmErrorKind::Expected {
                expected: "an instruction".into(),
                found: format!("the character `{c}`"),
            },
        ));
    }
    Ok(out)
}

// ---------------------------------------------------------------------------
// Parser of one instruction

/// A reference to a label, resolved once every label is known.
#[derive(Clone, Debug)]
struct Fixup {
    label: String,
    at: usize,
}

struct Parser<'a, 'b> {
    cx: &'a LineCtx<'b>,
    toks: Vec<Token>,
    i: usize,
    end: usize,
    /// The opcode of the `(xx)` prefix, if any.
    prefix: Option<u8>,
}

type PResult<T> = Result<T, AsmError>;

const I32_MIN: i128 = i32::MIN as i128;
const U32_MAX: i128 = u32::MAX as i128;

impl Parser<'_, '_> {
    fn peek(&self) -> Option<&Token> {
        self.toks.get(self.i)
    }

    fn peek_at(&self, k: usize) -> Option<&Token> {
        self.toks.get(self.i + k)
    }

    fn here(&self) -> usize {
        self.peek().map(|t| t.at).unwrap_or(self.end)
    }

    fn found(&self) -> String {
        match self.peek() {
            Some(t) => format!("`{}`", t.text),
            None => "the end of the line".to_string(),
        }
    }

    fn expected<T>(&self, what: &str) -> PResult<T> {
        Err(self.cx.err(
            self.here(),
            AsmErrorKind::Expected {
                expected: what.to_string(),
                found: self.found(),
            },
        ))
    }

    fn err<T>(&self, at: usize, kind: AsmErrorKind) -> PResult<T> {
        Err(self.cx.err(at, kind))
    }

    fn is_punct(&self, p: &str) -> bool {
        matches!(self.peek(), Some(Token { tok: Tok::Punct(q), .. }) if *q == p)
    }

    fn is_ident(&self, name: &str) -> bool {
        matches!(self.peek(), Some(Token { tok: Tok::Ident(q), .. }) if q == name)
    }

    fn eat_punct(&mut self, p: &str) -> bool {
        if self.is_punct(p) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn punct(&mut self, p: &str) -> PResult<()> {
        if self.eat_punct(p) {
            Ok(())
        } else {
            self.expected(&format!("`{p}`"))
        }
    }

    fn keyword(&mut self, name: &str) -> PResult<()> {
        if self.is_ident(name) {
            self.i += 1;
            Ok(())
        } else {
            self.expected(&format!("`{name}`"))
        }
    }

    fn ident(&mut self, what: &str) -> PResult<(String, usize)> {
        match self.peek() {
            Some(Token {
                tok: Tok::Ident(s),
                at,
                ..
            }) => {
                let r = (s.clone(), *at);
                self.i += 1;
                Ok(r)
            }
            _ => self.expected(what),
        }
    }

    fn done(&self) -> PResult<()> {
        if self.peek().is_some() {
            self.expected("the end of the instruction")
        } else {
            Ok(())
        }
    }

    /// Whether the next token looks like a register name.
    fn at_reg(&self) -> bool {
        matches!(self.peek(), Some(Token { tok: Tok::Ident(s), .. }) if reg_name(s).is_some())
    }

    /// `rN` or `wN`.
    fn reg(&mut self) -> PResult<(Reg, Width, usize)> {
        let at = self.here();
        match self.peek() {
            Some(Token {
                tok: Tok::Ident(s), ..
            }) => match reg_name(s) {
                Some(Some((r, w))) => {
                    self.i += 1;
                    Ok((r, w, at))
                }
                Some(None) => self.err(at, AsmErrorKind::UnknownRegister(s.clone())),
                None => self.expected("a register (r0 to r10)"),
            },
            _ => self.expected("a register (r0 to r10)"),
        }
    }

    /// A 64-bit register: `rN` (or `wN` where both encode the same).
    fn reg_any(&mut self) -> PResult<Reg> {
        Ok(self.reg()?.0)
    }

    /// An optionally signed number; its value and where it starts.
    fn signed(&mut self, what: &str) -> PResult<(i128, usize)> {
        let at = self.here();
        let neg = if self.eat_punct("-") {
            true
        } else {
            self.eat_punct("+");
            false
        };
        match self.peek() {
            Some(Token {
                tok: Tok::Num(v), ..
            }) => {
                let v = *v as i128;
                self.i += 1;
                Ok((if neg { -v } else { v }, at))
            }
            _ => self.expected(what),
        }
    }

    fn at_number(&self) -> bool {
        match self.peek() {
            Some(Token {
                tok: Tok::Num(_), ..
            }) => true,
            Some(Token {
                tok: Tok::Punct("-" | "+"),
                ..
            }) => matches!(
                self.peek_at(1),
                Some(Token {
                    tok: Tok::Num(_),
                    ..
                })
            ),
            _ => false,
        }
    }

    fn range(&self, v: i128, at: usize, what: &'static str, min: i128, max: i128) -> PResult<()> {
        if v < min || v > max {
            return self.err(
                at,
                AsmErrorKind::OutOfRange {
                    value: v.to_string(),
                    what,
                    min,
                    max,
                },
            );
        }
        Ok(())
    }

    /// A 32-bit immediate: signed, or its unsigned bit pattern.
    fn imm32(&mut self) -> PResult<i32> {
        let (v, at) = self.signed("an immediate")?;
        self.range(v, at, "a 32-bit immediate", I32_MIN, U32_MAX)?;
        Ok(v as i64 as u32 as i32)
    }

    /// A signed 32-bit value (offsets and ids).
    fn s32(&mut self, what: &'static str) -> PResult<i32> {
        let (v, at) = self.signed(what)?;
        self.range(v, at, what, I32_MIN, i32::MAX as i128)?;
        Ok(v as i32)
    }

    /// A signed 16-bit value.
    fn s16(&mut self, what: &'static str) -> PResult<i16> {
        let (v, at) = self.signed(what)?;
        self.range(v, at, what, i16::MIN as i128, i16::MAX as i128)?;
        Ok(v as i16)
    }

    /// `u8`..`u64` or `s8`..`s32`: the size and whether it is signed.
    fn size_name(&mut self) -> PResult<(Size, bool)> {
        let at = self.here();
        let (name, _) = self.ident("a size (u8, u16, u32, u64, s8, s16 or s32)")?;
        Ok(match name.as_str() {
            "u8" => (Size::B, false),
            "u16" => (Size::H, false),
            "u32" => (Size::W, false),
            "u64" => (Size::DW, false),
            "s8" => (Size::B, true),
            "s16" => (Size::H, true),
            "s32" => (Size::W, true),
            _ => {
                return self.err(
                    at,
                    AsmErrorKind::Expected {
                        expected: "a size (u8, u16, u32, u64, s8, s16 or s32)".into(),
                        found: format!("`{name}`"),
                    },
                )
            }
        })
    }

    /// `(u32 *)`: a size in a pointer cast.
    fn cast(&mut self) -> PResult<(Size, bool, usize)> {
        self.punct("(")?;
        let at = self.here();
        let (size, signed) = self.size_name()?;
        self.punct("*")?;
        self.punct(")")?;
        Ok((size, signed, at))
    }

    /// `r1 +4`, `r10 -8`, `r1 + 0x4`, `r10 - 0x8`, `r1` (the inside of an
    /// address).
    fn base_off(&mut self) -> PResult<(Reg, i16)> {
        let base = self.reg_any()?;
        if self.is_punct("+") || self.is_punct("-") {
            let at = self.here();
            let neg = self.is_punct("-");
            self.i += 1;
            let (v, _) = self.signed("an offset")?;
            let v = if neg { -v } else { v };
            self.range(v, at, "a 16-bit offset", i16::MIN as i128, i16::MAX as i128)?;
            return Ok((base, v as i16));
        }
        Ok((base, 0))
    }

    /// `(r1 +4)`.
    fn paren_addr(&mut self) -> PResult<(Reg, i16)> {
        self.punct("(")?;
        let r = self.base_off()?;
        self.punct(")")?;
        Ok(r)
    }

    /// A jump target: `pc+3`, `+3`, `-1`, `3` (relative to the next
    /// instruction), or a label.
    fn target(&mut self) -> PResult<(i128, Option<Fixup>, usize)> {
        let at = self.here();
        if self.is_ident("pc") {
            self.i += 1;
            if !(self.is_punct("+") || self.is_punct("-")) {
                return self.expected("`+` or `-` after `pc`");
            }
            let (v, _) = self.signed("an offset")?;
            return Ok((v, None, at));
        }
        if self.at_number() {
            let (v, _) = self.signed("an offset")?;
            return Ok((v, None, at));
        }
        match self.peek() {
            Some(Token {
                tok: Tok::Ident(name),
                ..
            }) if reg_name(name).is_none() => {
                let label = name.clone();
                self.i += 1;
                Ok((0, Some(Fixup { label, at }), at))
            }
            _ => self.expected("a jump target (`pc+N`, `+N`, `-N` or a label)"),
        }
    }

    fn target16(&mut self) -> PResult<(i16, Option<Fixup>)> {
        let (v, fix, at) = self.target()?;
        self.range(
            v,
            at,
            "a 16-bit jump offset",
            i16::MIN as i128,
            i16::MAX as i128,
        )?;
        Ok((v as i16, fix))
    }

    fn target32(&mut self) -> PResult<(i32, Option<Fixup>)> {
        let (v, fix, at) = self.target()?;
        self.range(v, at, "a 32-bit offset", I32_MIN, i32::MAX as i128)?;
        Ok((v as i32, fix))
    }
}

/// `Some(Some(..))` for a register, `Some(None)` for a name shaped like a
/// register but out of range (`r11`), `None` for any other word.
fn reg_name(s: &str) -> Option<Option<(Reg, Width)>> {
    let width = match s.as_bytes().first()? {
        b'r' => Width::W64,
        b'w' => Width::W32,
        _ => return None,
    };
    let digits = &s[1..];
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(
        digits
            .parse::<u8>()
            .ok()
            .and_then(Reg::new)
            .map(|r| (r, width)),
    )
}

fn alu_op(p: &str) -> Option<AluOp> {
    Some(match p {
        "+=" => AluOp::Add,
        "-=" => AluOp::Sub,
        "*=" => AluOp::Mul,
        "/=" => AluOp::Div,
        "s/=" => AluOp::SDiv,
        "|=" => AluOp::Or,
        "&=" => AluOp::And,
        "<<=" => AluOp::Lsh,
        ">>=" => AluOp::Rsh,
        "%=" => AluOp::Mod,
        "s%=" => AluOp::SMod,
        "^=" => AluOp::Xor,
        "s>>=" => AluOp::Arsh,
        _ => return None,
    })
}

fn jmp_op(p: &str) -> Option<JmpOp> {
    JmpOp::ALL.into_iter().find(|o| o.symbol() == p)
}

/// One parsed line: the instruction and the label it refers to, if any.
struct Parsed {
    insn: Insn,
    fixup: Option<Fixup>,
}

impl Parser<'_, '_> {
    fn statement(&mut self) -> PResult<Parsed> {
        let Some(first) = self.peek().cloned() else {
            return self.expected("an instruction");
        };
        let plain = |insn| Ok(Parsed { insn, fixup: None });
        match &first.tok {
            Tok::Ident(w) if w == "exit" => {
                self.i += 1;
                plain(Insn::Exit)
            }
            Tok::Ident(w) if w == "goto" || w == "ja" => {
                self.i += 1;
                let (off, fixup) = self.target16()?;
                Ok(Parsed {
                    insn: Insn::Ja { off },
                    fixup,
                })
            }
            Tok::Ident(w) if w == "may_goto" => {
                self.i += 1;
                let (off, fixup) = self.target16()?;
                Ok(Parsed {
                    insn: Insn::MayGoto { off },
                    fixup,
                })
            }
            Tok::Ident(w) if w == "gotol" => {
                self.i += 1;
                let (imm, fixup) = self.target32()?;
                Ok(Parsed {
                    insn: Insn::Gotol { imm },
                    fixup,
                })
            }
            Tok::Ident(w) if w == "callx" => {
                self.i += 1;
                let reg = self.reg_any()?;
                plain(Insn::Callx { reg })
            }
            Tok::Ident(w) if w == "call" => {
                self.i += 1;
                self.call()
            }
            Tok::Ident(w) if w == "if" => {
                self.i += 1;
                self.cond_jump()
            }
            Tok::Ident(w) if w == "lock" => {
                self.i += 1;
                self.punct("*")?;
                let (size, _, _) = self.cast()?;
                let (dst, off) = self.paren_addr()?;
                let op = match self.peek().map(|t| &t.tok) {
                    Some(Tok::Punct("+=")) => AtomicOp::Add,
                    Some(Tok::Punct("|=")) => AtomicOp::Or,
                    Some(Tok::Punct("&=")) => AtomicOp::And,
                    Some(Tok::Punct("^=")) => AtomicOp::Xor,
                    _ => return self.expected("`+=`, `|=`, `&=` or `^=`"),
                };
                self.i += 1;
                let src = self.reg_any()?;
                plain(Insn::Atomic {
                    op,
                    size,
                    dst,
                    src,
                    off,
                })
            }
            Tok::Ident(w) if w == "store_release" => {
                self.i += 1;
                self.punct("(")?;
                let (size, _, _) = self.cast()?;
                let (dst, off) = self.paren_addr()?;
                self.punct(",")?;
                let src = self.reg_any()?;
                self.punct(")")?;
                plain(Insn::Atomic {
                    op: AtomicOp::StoreRelease,
                    size,
                    dst,
                    src,
                    off,
                })
            }
            Tok::Punct("*") => {
                self.i += 1;
                let (size, signed, sat) = self.cast()?;
                if signed {
                    return self.err(
                        sat,
                        AsmErrorKind::WrongOperand(
                            "a store's size is unsigned: u8, u16, u32 or u64".into(),
                        ),
                    );
                }
                let (dst, off) = self.paren_addr()?;
                self.punct("=")?;
                if self.at_reg() {
                    let src = self.reg_any()?;
                    plain(Insn::StoreReg {
                        size,
                        dst,
                        src,
                        off,
                    })
                } else if self.at_number() {
                    let imm = self.imm32()?;
                    plain(Insn::Store {
                        size,
                        dst,
                        off,
                        imm,
                    })
                } else {
                    self.expected("a register or an immediate")
                }
            }
            Tok::Ident(w) if reg_name(w).is_some() => self.reg_statement(),
            _ => self.err(
                first.at,
                AsmErrorKind::UnknownInstruction(first.text.clone()),
            ),
        }
    }

    fn call(&mut self) -> PResult<Parsed> {
        let plain = |t| {
            Ok(Parsed {
                insn: Insn::Call(t),
                fixup: None,
            })
        };
        if self.is_ident("pc") {
            self.i += 1;
            if !(self.is_punct("+") || self.is_punct("-")) {
                return self.expected("`+` or `-` after `pc`");
            }
            let imm = self.s32("a call offset")?;
            return plain(CallTarget::Local(imm));
        }
        if self.at_number() {
            let id = self.s32("a helper id")?;
            return plain(CallTarget::Helper(id));
        }
        let (name, at) = self.ident("a helper name or id, `pc+N`, or a label")?;
        if name == "kernel" && self.is_punct("-") {
            self.i += 1;
            self.keyword("function")?;
            self.punct("#")?;
            let btf_id = self.s32("a BTF id")?;
            let off = self.btf_fd_idx()?;
            return plain(CallTarget::Kfunc { btf_id, off });
        }
        if self.eat_punct("#") {
            let id_at = self.here();
            let id = self.s32("an id")?;
            if name == "unknown" {
                return plain(CallTarget::Helper(id));
            }
            return match helper_id(&name) {
                Some(h) if h == id => plain(CallTarget::Helper(id)),
                Some(h) => self.err(
                    id_at,
                    AsmErrorKind::WrongOperand(format!("`{name}` is helper {h}, not {id}")),
                ),
                // The kernel's log names a kfunc by its BTF name.
                None => {
                    let off = self.btf_fd_idx()?;
                    plain(CallTarget::Kfunc { btf_id: id, off })
                }
            };
        }
        if let Some(id) = helper_id(&name) {
            return plain(CallTarget::Helper(id));
        }
        Ok(Parsed {
            insn: Insn::Call(CallTarget::Local(0)),
            fixup: Some(Fixup { label: name, at }),
        })
    }

    /// The optional `[btf_fd_idx:N]` after a kfunc's id.
    fn btf_fd_idx(&mut self) -> PResult<i16> {
        if !self.eat_punct("[") {
            return Ok(0);
        }
        self.keyword("btf_fd_idx")?;
        self.punct(":")?;
        let off = self.s16("a BTF fd index")?;
        self.punct("]")?;
        Ok(off)
    }

    fn cond_jump(&mut self) -> PResult<Parsed> {
        let (dst, width, at) = self.reg()?;
        let op = match self.peek().map(|t| &t.tok) {
            Some(Tok::Punct(p)) => jmp_op(p),
            _ => None,
        };
        let Some(op) = op else {
            return self.expected("a comparison (==, !=, >, >=, <, <=, s>, s>=, s<, s<=, &)");
        };
        self.i += 1;
        let src = if self.at_reg() {
            let (s, w, _) = self.reg()?;
            if w != width {
                return self.err(at, AsmErrorKind::MixedWidths(self.cx.text.trim().into()));
            }
            Operand::Reg(s)
        } else if self.at_number() {
            Operand::Imm(self.imm32()?)
        } else {
            return self.expected("a register or an immediate");
        };
        self.keyword("goto")?;
        let (off, fixup) = self.target16()?;
        Ok(Parsed {
            insn: Insn::Jmp {
                op,
                width,
                dst,
                src,
                off,
            },
            fixup,
        })
    }

    fn reg_statement(&mut self) -> PResult<Parsed> {
        let (dst, width, dst_at) = self.reg()?;
        let plain = |insn| Ok(Parsed { insn, fixup: None });
        let op_at = self.here();
        let op = match self.peek().map(|t| t.tok.clone()) {
            Some(Tok::Punct(p)) => p,
            _ => return self.expected("`=` or an operator such as `+=`"),
        };
        self.i += 1;
        if op != "=" {
            let Some(alu) = alu_op(op) else {
                return self.err(
                    op_at,
                    AsmErrorKind::Expected {
                        expected: "`=` or an operator such as `+=`".into(),
                        found: format!("`{op}`"),
                    },
                );
            };
            let src = if self.at_reg() {
                let (s, w, _) = self.reg()?;
                if w != width {
                    return self.err(
                        dst_at,
                        AsmErrorKind::MixedWidths(self.cx.text.trim().into()),
                    );
                }
                Operand::Reg(s)
            } else if self.at_number() {
                Operand::Imm(self.imm32()?)
            } else {
                return self.expected("a register or an immediate");
            };
            return plain(Insn::Alu {
                op: alu,
                width,
                dst,
                src,
            });
        }
        // `dst = ...`
        if self.is_punct("-")
            && matches!(
                self.peek_at(1),
                Some(Token {
                    tok: Tok::Ident(_),
                    ..
                })
            )
        {
            self.i += 1;
            let (s, w, at) = self.reg()?;
            if s != dst || w != width {
                return self.err(
                    at,
                    AsmErrorKind::WrongOperand(format!(
                        "negation works in place: write `{0} = -{0}`",
                        reg_text(dst, width)
                    )),
                );
            }
            return plain(Insn::Neg { width, dst });
        }
        if self.at_number() {
            let (v, at) = self.signed("an immediate")?;
            let ll = self.is_ident("ll");
            if ll {
                self.i += 1;
            }
            let wide = ll
                || self.prefix == Some(0x18)
                || (width == Width::W64 && !(I32_MIN..=i32::MAX as i128).contains(&v));
            if wide {
                if width == Width::W32 {
                    return self.err(
                        dst_at,
                        AsmErrorKind::WrongOperand(
                            "a 64-bit immediate load writes a 64-bit register (rN)".into(),
                        ),
                    );
                }
                self.range(
                    v,
                    at,
                    "a 64-bit immediate",
                    i64::MIN as i128,
                    u64::MAX as i128,
                )?;
                let bits = v as i64 as u64;
                let bits = if v > i64::MAX as i128 { v as u64 } else { bits };
                return plain(Insn::LdImm64 {
                    dst,
                    src: LdImm64Src::Imm,
                    imm: bits as u32 as i32,
                    next_imm: (bits >> 32) as u32 as i32,
                });
            }
            self.range(v, at, "a 32-bit immediate", I32_MIN, U32_MAX)?;
            return plain(Insn::Alu {
                op: AluOp::Mov,
                width,
                dst,
                src: Operand::Imm(v as i64 as u32 as i32),
            });
        }
        if self.at_reg() {
            let (s, w, _) = self.reg()?;
            if w != width {
                return self.err(
                    dst_at,
                    AsmErrorKind::MixedWidths(self.cx.text.trim().into()),
                );
            }
            return plain(Insn::Alu {
                op: AluOp::Mov,
                width,
                dst,
                src: Operand::Reg(s),
            });
        }
        if self.is_punct("(") {
            // `(s8)r1`: sign-extending move.
            self.i += 1;
            let at = self.here();
            let (name, _) = self.ident("`s8`, `s16` or `s32`")?;
            let bits = match name.as_str() {
                "s8" => 8,
                "s16" => 16,
                "s32" => 32,
                _ => {
                    return self.err(
                        at,
                        AsmErrorKind::Expected {
                            expected: "`s8`, `s16` or `s32`".into(),
                            found: format!("`{name}`"),
                        },
                    )
                }
            };
            self.punct(")")?;
            let (s, w, _) = self.reg()?;
            if w != width {
                return self.err(
                    dst_at,
                    AsmErrorKind::MixedWidths(self.cx.text.trim().into()),
                );
            }
            return plain(Insn::MovSx {
                width,
                dst,
                src: s,
                bits,
            });
        }
        if self.eat_punct("*") {
            let (size, signed, sat) = self.cast()?;
            if self.is_ident("skb") {
                self.i += 1;
                if signed {
                    return self.err(
                        sat,
                        AsmErrorKind::WrongOperand(
                            "a packet load's size is unsigned: u8, u16 or u32".into(),
                        ),
                    );
                }
                if dst != Reg::R0 {
                    return self.err(
                        dst_at,
                        AsmErrorKind::WrongOperand(
                            "a packet load (ld_abs/ld_ind) always writes r0".into(),
                        ),
                    );
                }
                self.punct("[")?;
                let insn = if self.at_reg() {
                    let src = self.reg_any()?;
                    let mut imm = 0;
                    if self.is_punct("+") || self.is_punct("-") {
                        let neg = self.is_punct("-");
                        self.i += 1;
                        let (v, at) = self.signed("an offset")?;
                        let v = if neg { -v } else { v };
                        self.range(v, at, "a 32-bit offset", I32_MIN, i32::MAX as i128)?;
                        imm = v as i32;
                    }
                    Insn::LdInd { size, src, imm }
                } else {
                    Insn::LdAbs {
                        size,
                        imm: self.s32("a 32-bit offset")?,
                    }
                };
                self.punct("]")?;
                return plain(insn);
            }
            let (src, off) = self.paren_addr()?;
            return plain(Insn::Load {
                size,
                sign_extend: signed,
                dst,
                src,
                off,
            });
        }
        let (name, at) = self.ident("a value: a register, an immediate, `*(size *)(...)`, ...")?;
        self.named_value(dst, width, dst_at, &name, at)
    }

    /// `dst = name...`: byte swaps, pseudo `ld_imm64` and atomics.
    fn named_value(
        &mut self,
        dst: Reg,
        width: Width,
        dst_at: usize,
        name: &str,
        at: usize,
    ) -> PResult<Parsed> {
        let plain = |insn| Ok(Parsed { insn, fixup: None });
        let endian = match name {
            "le16" => Some((Endian::ToLe, 16)),
            "le32" => Some((Endian::ToLe, 32)),
            "le64" => Some((Endian::ToLe, 64)),
            "be16" => Some((Endian::ToBe, 16)),
            "be32" => Some((Endian::ToBe, 32)),
            "be64" => Some((Endian::ToBe, 64)),
            "bswap16" => Some((Endian::Swap, 16)),
            "bswap32" => Some((Endian::Swap, 32)),
            "bswap64" => Some((Endian::Swap, 64)),
            _ => None,
        };
        if let Some((kind, bits)) = endian {
            let (s, _, sat) = self.reg()?;
            if s != dst {
                return self.err(
                    sat,
                    AsmErrorKind::WrongOperand(format!(
                        "a byte swap works in place: write `{dst} = {name} {dst}`"
                    )),
                );
            }
            return plain(Insn::Endian { kind, bits, dst });
        }
        let need_r64 = |p: &Self| -> PResult<()> {
            if width == Width::W32 {
                return p.err(
                    dst_at,
                    AsmErrorKind::WrongOperand(
                        "a 64-bit immediate load writes a 64-bit register (rN)".into(),
                    ),
                );
            }
            Ok(())
        };
        match name {
            "map" => {
                need_r64(self)?;
                self.punct("[")?;
                let kat = self.here();
                let (kind, _) = self.ident("`fd`, `id` or `idx`")?;
                self.punct(":")?;
                let imm = self.s32("a map fd or index")?;
                self.punct("]")?;
                let mut value = None;
                if self.eat_punct("[") {
                    let (z, zat) = self.signed("`0`")?;
                    if z != 0 {
                        return self.err(
                            zat,
                            AsmErrorKind::WrongOperand("a map value is `[0]`".into()),
                        );
                    }
                    self.punct("]")?;
                    self.punct("+")?;
                    value = Some(self.s32("a value offset")?);
                } else if self.eat_punct("+") {
                    value = Some(self.s32("a value offset")?);
                }
                let src = match (kind.as_str(), value.is_some()) {
                    ("fd" | "id", false) => LdImm64Src::MapFd,
                    ("fd" | "id", true) => LdImm64Src::MapValue,
                    ("idx", false) => LdImm64Src::MapIdx,
                    ("idx", true) => LdImm64Src::MapIdxValue,
                    _ => {
                        return self.err(
                            kat,
                            AsmErrorKind::Expected {
                                expected: "`fd`, `id` or `idx`".into(),
                                found: format!("`{kind}`"),
                            },
                        )
                    }
                };
                plain(Insn::LdImm64 {
                    dst,
                    src,
                    imm,
                    next_imm: value.unwrap_or(0),
                })
            }
            "subprog" => {
                need_r64(self)?;
                self.punct("[")?;
                let (imm, fixup) = self.target32()?;
                self.punct("]")?;
                Ok(Parsed {
                    insn: Insn::LdImm64 {
                        dst,
                        src: LdImm64Src::Func,
                        imm,
                        next_imm: 0,
                    },
                    fixup,
                })
            }
            "btf_id" => {
                need_r64(self)?;
                self.punct("[")?;
                let imm = self.s32("a BTF id")?;
                self.punct("]")?;
                let mut next_imm = 0;
                if self.eat_punct("[") {
                    self.keyword("fd")?;
                    self.punct(":")?;
                    next_imm = self.s32("a BTF fd")?;
                    self.punct("]")?;
                }
                plain(Insn::LdImm64 {
                    dst,
                    src: LdImm64Src::BtfId,
                    imm,
                    next_imm,
                })
            }
            "load_acquire" => {
                self.punct("(")?;
                let (size, _, _) = self.cast()?;
                let (src, off) = self.paren_addr()?;
                self.punct(")")?;
                plain(Insn::Atomic {
                    op: AtomicOp::LoadAcquire,
                    size,
                    dst,
                    src,
                    off,
                })
            }
            // LLVM's forms: `r1 = xchg_64(r10 - 8, r1)`,
            // `r0 = cmpxchg_64(r10 - 8, r0, r1)` and the `32_32` ones.
            "xchg_64" | "xchg32_32" | "cmpxchg_64" | "cmpxchg32_32" => {
                let size = if name.ends_with("_64") {
                    Size::DW
                } else {
                    Size::W
                };
                let cmp = name.starts_with("cmp");
                self.punct("(")?;
                let (base, off) = self.base_off()?;
                self.atomic_tail(dst, dst_at, base, off, size, cmp, AtomicOp::Xchg)
            }
            _ => {
                // The kernel's `atomic[64]_fetch_OP(`, `atomic[64]_xchg(`,
                // `atomic[64]_cmpxchg(`; LLVM's `atomic_fetch_OP(`.
                let rest = name
                    .strip_prefix("atomic64_")
                    .or_else(|| name.strip_prefix("atomic_"));
                let op = match rest {
                    Some("fetch_add") => Some(AtomicOp::FetchAdd),
                    Some("fetch_or") => Some(AtomicOp::FetchOr),
                    Some("fetch_and") => Some(AtomicOp::FetchAnd),
                    Some("fetch_xor") => Some(AtomicOp::FetchXor),
                    Some("xchg") => Some(AtomicOp::Xchg),
                    Some("cmpxchg") => Some(AtomicOp::CmpXchg),
                    _ => None,
                };
                let Some(op) = op else {
                    return self.err(
                        at,
                        AsmErrorKind::Expected {
                            expected: "a value: a register, an immediate, `*(size *)(...)`, `map[...]`, a byte swap or an atomic operation".into(),
                            found: format!("`{name}`"),
                        },
                    );
                };
                self.punct("(")?;
                let (size, _, _) = self.cast()?;
                let (base, off) = self.paren_addr()?;
                self.atomic_tail(dst, dst_at, base, off, size, op == AtomicOp::CmpXchg, op)
            }
        }
    }

    /// The rest of an atomic with a result: `, [r0,] rS)`; checks that the
    /// result register is the one the instruction writes.
    #[allow(clippy::too_many_arguments)]
    fn atomic_tail(
        &mut self,
        dst: Reg,
        dst_at: usize,
        base: Reg,
        off: i16,
        size: Size,
        cmp: bool,
        op: AtomicOp,
    ) -> PResult<Parsed> {
        self.punct(",")?;
        let op = if cmp {
            let (r, _, at) = self.reg()?;
            if r != Reg::R0 {
                return self.err(
                    at,
                    AsmErrorKind::WrongOperand("cmpxchg compares with r0: write `r0` here".into()),
                );
            }
            self.punct(",")?;
            AtomicOp::CmpXchg
        } else {
            op
        };
        let src = self.reg_any()?;
        self.punct(")")?;
        let writes = if cmp { Reg::R0 } else { src };
        if dst != writes {
            return self.err(
                dst_at,
                AsmErrorKind::WrongOperand(format!(
                    "this atomic operation writes its result to {writes}: write `{writes} = ...`"
                )),
            );
        }
        Ok(Parsed {
            insn: Insn::Atomic {
                op,
                size,
                dst: base,
                src,
                off,
            },
            fixup: None,
        })
    }
}

fn reg_text(r: Reg, w: Width) -> String {
    match w {
        Width::W32 => format!("w{}", r.num()),
        Width::W64 => format!("r{}", r.num()),
    }
}

// ---------------------------------------------------------------------------
// Lines

/// Where a line's comment starts: `;`, `//`, or `#` at the start of a word.
fn comment_start(s: &str) -> usize {
    let b = s.as_bytes();
    for (i, &c) in b.iter().enumerate() {
        let after_space = i == 0 || b.get(i - 1).is_some_and(|p| p.is_ascii_whitespace());
        match c {
            b';' => return i,
            b'/' if b.get(i + 1) == Some(&b'/') => return i,
            b'#' if after_space => return i,
            _ => {}
        }
    }
    s.len()
}

fn skip_ws(s: &str, mut i: usize, end: usize) -> usize {
    while i < end && s.as_bytes().get(i).is_some_and(|c| c.is_ascii_whitespace()) {
        i += 1;
    }
    i
}

/// What a line holds, once prefixes and comments are set aside.
struct LineParts {
    /// A label defined on this line.
    label: Option<(String, usize)>,
    /// The opcode of a `(xx)` prefix.
    prefix: Option<u8>,
    /// The byte range of the instruction text, if any.
    insn: Option<(usize, usize)>,
}

fn split_line(s: &str) -> LineParts {
    let mut end = comment_start(s);
    while end > 0
        && s.as_bytes()
            .get(end - 1)
            .is_some_and(|c| c.is_ascii_whitespace())
    {
        end -= 1;
    }
    let mut parts = LineParts {
        label: None,
        prefix: None,
        insn: None,
    };
    let mut i = skip_ws(s, 0, end);
    let b = s.as_bytes();
    // llvm-objdump's symbol lines: `0000000000000148 <LBB0_1>:`.
    if let Some(lt) = s[i..end].find(" <") {
        let addr = &s[i..i + lt];
        if !addr.is_empty()
            && addr.bytes().all(|c| c.is_ascii_hexdigit())
            && s[..end].ends_with(">:")
        {
            let name_at = i + lt + 2;
            parts.label = Some((s[name_at..end - 2].to_string(), name_at));
            return parts;
        }
    }
    // `N:` pc prefix (kernel log, llvm-objdump).
    let digits = s[i..end].bytes().take_while(|c| c.is_ascii_digit()).count();
    if digits > 0 && b.get(i + digits) == Some(&b':') {
        i = skip_ws(s, i + digits + 1, end);
    }
    // `(xx)` opcode prefix.
    let at = |k: usize| b.get(k).copied().unwrap_or(0);
    if end >= i + 4
        && at(i) == b'('
        && at(i + 3) == b')'
        && at(i + 1).is_ascii_hexdigit()
        && at(i + 2).is_ascii_hexdigit()
    {
        parts.prefix = u8::from_str_radix(&s[i + 1..i + 3], 16).ok();
        i = skip_ws(s, i + 4, end);
    }
    // llvm-objdump's hex bytes: 8 or 16 two-digit words before the text.
    {
        let mut j = i;
        let mut n = 0;
        while j + 2 <= end
            && at(j).is_ascii_hexdigit()
            && at(j + 1).is_ascii_hexdigit()
            && (j + 2 == end || at(j + 2).is_ascii_whitespace())
        {
            n += 1;
            j = skip_ws(s, j + 2, end);
        }
        if (n == 8 || n == 16) && j < end {
            i = j;
        }
    }
    // A label: `name:` at the start.
    let ident_len = s[i..end]
        .char_indices()
        .take_while(|(k, c)| {
            if *k == 0 {
                is_ident_start(*c)
            } else {
                is_ident_char(*c)
            }
        })
        .count();
    if ident_len > 0
        && b.get(i + ident_len) == Some(&b':')
        && reg_name(&s[i..i + ident_len]).is_none()
    {
        parts.label = Some((s[i..i + ident_len].to_string(), i));
        i = skip_ws(s, i + ident_len + 1, end);
    }
    // llvm-objdump's `<sym+off>` after a jump target.
    if end > i && at(end - 1) == b'>' {
        if let Some(lt) = s[i..end].rfind(" <") {
            let mut e = i + lt;
            while e > i && at(e - 1).is_ascii_whitespace() {
                e -= 1;
            }
            end = e;
        }
    }
    if i < end {
        parts.insn = Some((i, end));
    }
    parts
}

/// One instruction of the text, before labels are resolved.
struct Item {
    line: usize,
    text_line: String,
    parsed: Parsed,
    prefix: Option<u8>,
    pc: usize,
    /// Where the instruction text starts in the line.
    start: usize,
}

fn parse_line(
    line_no: usize,
    text: &str,
    range: (usize, usize),
    prefix: Option<u8>,
) -> PResult<Parsed> {
    let cx = LineCtx { line_no, text };
    let toks = tokenize(&cx, range.0, range.1)?;
    let mut p = Parser {
        cx: &cx,
        toks,
        i: 0,
        end: range.1,
        prefix,
    };
    let parsed = p.statement()?;
    p.done()?;
    Ok(parsed)
}

/// Encodes and checks one resolved instruction the way the decoder would.
fn finish(cx: &LineCtx, at: usize, insn: &Insn, prefix: Option<u8>) -> PResult<Vec<RawInsn>> {
    let slots = insn.encode();
    if let Err(e) = Insn::decode(&slots, 0) {
        return Err(cx.err(at, AsmErrorKind::Invalid(e.kind)));
    }
    let code = slots.first().map_or(0, |s| s.code);
    if let Some(p) = prefix {
        if p != code {
            return Err(cx.err(
                at,
                AsmErrorKind::OpcodeMismatch {
                    prefix: p,
                    actual: code,
                },
            ));
        }
    }
    Ok(slots)
}

/// Assembles one instruction (no labels; jump targets are numbers).
///
/// ```
/// use ironbpf_isa::{assemble_insn, Insn, Reg, AluOp, Operand, Width};
/// let i = assemble_insn("w1 += 5").unwrap();
/// assert_eq!(i, Insn::Alu { op: AluOp::Add, width: Width::W32, dst: Reg::R1, src: Operand::Imm(5) });
/// ```
pub fn assemble_insn(text: &str) -> Result<Insn, AsmError> {
    let parts = split_line(text);
    let cx = LineCtx { line_no: 1, text };
    let Some(range) = parts.insn else {
        return Err(cx.err(
            text.len(),
            AsmErrorKind::Expected {
                expected: "an instruction".into(),
                found: "the end of the line".into(),
            },
        ));
    };
    let parsed = parse_line(1, text, range, parts.prefix)?;
    if let Some(f) = parsed.fixup {
        return Err(cx.err(f.at, AsmErrorKind::UnknownLabel(f.label)));
    }
    finish(&cx, range.0, &parsed.insn, parts.prefix)?;
    Ok(parsed.insn)
}

/// Assembles a whole text into instruction slots (two for each
/// `ld_imm64`). Each instruction is checked as the decoder checks it; the
/// program's control flow is not (see [`assemble_program`]).
///
/// ```
/// let slots = ironbpf_isa::assemble("r0 = 42\nexit").unwrap();
/// assert_eq!(slots[0].to_u64(), 0x0000002a000000b7);
/// ```
pub fn assemble(text: &str) -> Result<Vec<RawInsn>, AsmError> {
    Ok(assemble_with_lines(text)?.0)
}

/// Assembles a text and checks it as a whole [`Program`] (jumps in range,
/// no fall-through off the end); a program error names the line of the
/// instruction at fault.
pub fn assemble_program(text: &str) -> Result<Program, AsmError> {
    let (slots, lines) = assemble_with_lines(text)?;
    let last_line = text.lines().count().max(1);
    Program::from_slots(slots).map_err(|e: IsaError| {
        let line = lines
            .iter()
            .rev()
            .find(|(pc, _)| *pc <= e.pc)
            .map(|(_, l)| *l)
            .unwrap_or(last_line);
        AsmError {
            line,
            column: 1,
            kind: AsmErrorKind::Program(e.kind),
        }
    })
}

/// For each instruction, its first slot and its line.
type LineMap = Vec<(usize, usize)>;

/// The slots and, for each instruction, its first slot and its line.
fn assemble_with_lines(text: &str) -> Result<(Vec<RawInsn>, LineMap), AsmError> {
    let mut labels: HashMap<String, (usize, usize)> = HashMap::new();
    let mut items: Vec<Item> = Vec::new();
    let mut pc = 0usize;
    for (n, line) in text.lines().enumerate() {
        let line_no = n + 1;
        let parts = split_line(line);
        if let Some((label, at)) = parts.label {
            if let Some(&(_, first_line)) = labels.get(&label) {
                let cx = LineCtx {
                    line_no,
                    text: line,
                };
                return Err(cx.err(at, AsmErrorKind::DuplicateLabel { label, first_line }));
            }
            labels.insert(label, (pc, line_no));
        }
        let Some(range) = parts.insn else { continue };
        let parsed = parse_line(line_no, line, range, parts.prefix)?;
        let this_pc = pc;
        pc += parsed.insn.slots();
        items.push(Item {
            line: line_no,
            text_line: line.to_string(),
            parsed,
            prefix: parts.prefix,
            pc: this_pc,
            start: range.0,
        });
    }
    let mut slots = Vec::with_capacity(pc);
    let mut lines = Vec::with_capacity(items.len());
    for mut item in items {
        let cx = LineCtx {
            line_no: item.line,
            text: &item.text_line,
        };
        if let Some(f) = item.parsed.fixup.take() {
            let Some(&(target, _)) = labels.get(&f.label) else {
                let kind = if matches!(item.parsed.insn, Insn::Call(_)) {
                    AsmErrorKind::UnknownHelper(f.label)
                } else {
                    AsmErrorKind::UnknownLabel(f.label)
                };
                return Err(cx.err(f.at, kind));
            };
            let rel = target as i64 - (item.pc as i64 + 1);
            let too_far16 = || {
                cx.err(
                    f.at,
                    AsmErrorKind::JumpTooFar {
                        label: f.label.clone(),
                        offset: rel,
                    },
                )
            };
            let rel32 = i32::try_from(rel).map_err(|_| too_far16())?;
            match &mut item.parsed.insn {
                Insn::Ja { off } | Insn::Jmp { off, .. } | Insn::MayGoto { off } => {
                    *off = i16::try_from(rel).map_err(|_| too_far16())?;
                }
                Insn::Gotol { imm } | Insn::LdImm64 { imm, .. } => *imm = rel32,
                Insn::Call(t) => *t = CallTarget::Local(rel32),
                _ => {}
            }
        }
        finish(&cx, item.start, &item.parsed.insn, item.prefix)?;
        lines.push((item.pc, item.line));
        item.parsed.insn.encode_into(&mut slots);
    }
    Ok((slots, lines))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_line_sees_prefixes_labels_and_comments() {
        let p = split_line("  12: (b7) r0 = 42   ; R0_w=42");
        assert_eq!(p.prefix, Some(0xb7));
        let (a, b) = p.insn.unwrap();
        assert_eq!(&"  12: (b7) r0 = 42   ; R0_w=42"[a..b], "r0 = 42");
        let l = "      9:\t61 10 04 00 00 00 00 00\tr0 = *(u32 *)(r1 + 0x4)";
        let (a, b) = split_line(l).insn.unwrap();
        assert_eq!(&l[a..b], "r0 = *(u32 *)(r1 + 0x4)");
        let l = "LBB0_1: goto +0x3 <.text+0xf0>";
        let p = split_line(l);
        assert_eq!(p.label.unwrap().0, "LBB0_1");
        let (a, b) = p.insn.unwrap();
        assert_eq!(&l[a..b], "goto +0x3");
        let p = split_line("0000000000000148 <LBB0_1>:");
        assert_eq!(p.label.unwrap().0, "LBB0_1");
        assert!(p.insn.is_none());
        let l = "call bpf_map_lookup_elem#1 # look it up";
        let (a, b) = split_line(l).insn.unwrap();
        assert_eq!(&l[a..b], "call bpf_map_lookup_elem#1");
    }
}
