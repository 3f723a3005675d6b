//! Disassembly of compiled code with iced-x86, per BPF instruction.

use crate::JitCode;
use iced_x86::{Decoder, DecoderOptions, Formatter, IntelFormatter};

/// One x86 instruction: its offset in the code, bytes and text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct X86Insn {
    pub offset: usize,
    pub bytes: Vec<u8>,
    pub text: String,
}

/// Decodes `code[start..end]`, with offsets relative to the code's start
/// and the code's base address for branch targets.
pub fn disassemble(code: &JitCode, start: usize, end: usize) -> Vec<X86Insn> {
    let bytes = code.code().get(start..end).unwrap_or_default();
    let ip = code.base() + start as u64;
    let mut decoder = Decoder::with_ip(64, bytes, ip, DecoderOptions::NONE);
    let mut fmt = IntelFormatter::new();
    fmt.options_mut().set_first_operand_char_index(8);
    let mut out = Vec::new();
    let mut text = String::new();
    while decoder.can_decode() {
        let insn = decoder.decode();
        text.clear();
        fmt.format(&insn, &mut text);
        let o = (insn.ip() - code.base()) as usize;
        out.push(X86Insn {
            offset: o,
            bytes: code
                .code()
                .get(o..o + insn.len())
                .unwrap_or_default()
                .to_vec(),
            text: text.clone(),
        });
    }
    out
}

/// Per BPF slot, its x86 instructions (empty for the second slot of an
/// `ld_imm64`).
pub fn per_insn(code: &JitCode) -> Vec<Vec<X86Insn>> {
    let offs = code.insn_offsets();
    offs.iter()
        .enumerate()
        .map(|(pc, &start)| {
            let end = offs.get(pc + 1).copied().unwrap_or(code.body_end());
            disassemble(code, start, end)
        })
        .collect()
}

/// The code after the body: cold stubs, trampolines, the entry.
pub fn tail(code: &JitCode) -> Vec<X86Insn> {
    disassemble(code, code.body_end(), code.code().len())
}
