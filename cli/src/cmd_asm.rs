//! `ironbpf asm` and `ironbpf disasm`: kernel-syntax text <-> raw bytes.

use crate::Failure;
use clap::Args;
use ironbpf_isa::{slots_to_bytes, Program};
use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;

#[derive(Args)]
#[command(
    after_help = "Examples:\n  printf 'r0 = 42\\nexit\\n' | ironbpf asm - -o prog.bin\n  ironbpf asm prog.s --hex"
)]
pub struct AsmArgs {
    /// Assembly text file, or - for standard input
    input: PathBuf,
    /// Write the raw instruction bytes here
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Print the 64-bit instruction words in hex, one per line (the default when no output file is given and stdout is a terminal)
    #[arg(long)]
    hex: bool,
}

#[derive(Args)]
#[command(
    after_help = "Examples:\n  ironbpf disasm prog.bin\n  ironbpf disasm --hex prog.hex\n  ironbpf disasm examples/xdp_firewall.o   (with source lines)"
)]
pub struct DisasmArgs {
    /// A file of raw instruction bytes (8 per slot, little-endian), or - for standard input
    input: PathBuf,
    /// The input is text: 64-bit hex words (0x...) or 8 hex bytes per line
    #[arg(long)]
    hex: bool,
    /// For an ELF object: only this program
    #[arg(long)]
    prog: Option<String>,
    /// For an ELF object: the program type for sections whose name does not say it
    #[arg(long = "type")]
    prog_type: Option<String>,
}

fn read_input(path: &PathBuf) -> Result<Vec<u8>, Failure> {
    if path.as_os_str() == "-" {
        let mut v = Vec::new();
        std::io::stdin()
            .read_to_end(&mut v)
            .map_err(|e| Failure::usage(format!("reading standard input: {e}")))?;
        Ok(v)
    } else {
        std::fs::read(path).map_err(|e| crate::cmd_prog::unreadable(path, &e))
    }
}

pub fn asm(args: AsmArgs) -> Result<(), Failure> {
    let text = String::from_utf8(read_input(&args.input)?)
        .map_err(|e| Failure::usage(format!("the input is not UTF-8 text: {e}")))?;
    let slots = ironbpf_isa::asm::assemble(&text).map_err(|e| Failure::failed(e.to_string()))?;
    let bytes = slots_to_bytes(&slots);
    match args.output {
        Some(out) => std::fs::write(&out, &bytes)
            .map_err(|e| Failure::usage(format!("{}: {e}", out.display()))),
        None if args.hex || std::io::stdout().is_terminal() => {
            for s in &slots {
                println!("{:#018x}", s.to_u64());
            }
            Ok(())
        }
        None => std::io::stdout()
            .write_all(&bytes)
            .map_err(|e| Failure::usage(format!("writing standard output: {e}"))),
    }
}

/// Parses hex text: `0x...` 64-bit words or lines of 8 hex bytes.
fn parse_hex(text: &str) -> Result<Vec<u8>, Failure> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        if let Some(h) = line.strip_prefix("0x") {
            let w = u64::from_str_radix(h, 16).map_err(|e| {
                Failure::usage(format!(
                    "line {}: `{line}` is not a 64-bit hex word: {e}",
                    n + 1
                ))
            })?;
            out.extend_from_slice(&w.to_le_bytes());
        } else {
            for tok in line.split_whitespace() {
                let b = u8::from_str_radix(tok, 16).map_err(|e| {
                    Failure::usage(format!("line {}: `{tok}` is not a hex byte: {e}", n + 1))
                })?;
                out.push(b);
            }
        }
    }
    Ok(out)
}

pub fn disasm(args: DisasmArgs) -> Result<(), Failure> {
    let raw = read_input(&args.input)?;
    if raw.starts_with(b"\x7fELF") {
        return disasm_object(&args);
    }
    let bytes = if args.hex {
        parse_hex(&String::from_utf8_lossy(&raw))?
    } else {
        raw
    };
    let prog = Program::from_bytes(&bytes).map_err(|e| Failure::failed(e.to_string()))?;
    print!("{}", ironbpf_isa::disasm::disasm_program(&prog));
    Ok(())
}

/// An ELF object's programs, each instruction under the source line it
/// came from (from BTF line info).
fn disasm_object(args: &DisasmArgs) -> Result<(), Failure> {
    // Disassembly needs no program type: a section whose name says none is
    // shown as `unspec` rather than refused (unless --type names one).
    let obj = match args.prog_type.as_deref() {
        Some(t) => crate::cmd_prog::load_object(&args.input, Some(t))?,
        None => {
            let opts = ironbpf_loader::LoadOptions {
                prog_type_override: Some(ironbpf_progtype::ProgTypeId::Unspec.kernel_id()),
                ..crate::cmd_prog::load_options()
            };
            ironbpf_loader::load_file(&args.input, &opts)
                .map_err(|e| crate::cmd_prog::load_failure(&args.input, e))?
        }
    };
    let mut shown = 0;
    for p in &obj.programs {
        if args.prog.as_ref().is_some_and(|n| n != &p.name) {
            continue;
        }
        shown += 1;
        println!(
            "{}: {} ({}), {} insns",
            p.section,
            p.name,
            p.prog_type_name,
            p.insns.len() / 8
        );
        let prog = Program::from_bytes(&p.insns)
            .map_err(|e| Failure::failed(format!("program `{}`: {e}", p.name)))?;
        let mut lines = p.line_info.iter().peekable();
        for d in prog.insns() {
            while let Some(li) = lines.next_if(|l| l.insn <= d.pc) {
                if li.insn == d.pc && !li.source.trim().is_empty() {
                    let file = std::path::Path::new(&li.file)
                        .file_name()
                        .map(|f| f.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    println!("; {} @ {}:{}", li.source.trim(), file, li.line);
                }
            }
            println!(
                "{}",
                ironbpf_isa::disasm::format_log_line(d.pc, &d.insn, prog.slots()[d.pc].code)
            );
        }
        println!();
    }
    if shown == 0 {
        let names: Vec<_> = obj.programs.iter().map(|p| p.name.as_str()).collect();
        return Err(Failure::usage(format!(
            "{}: no program `{}`; it has: {}",
            args.input.display(),
            args.prog.as_deref().unwrap_or_default(),
            names.join(", ")
        )));
    }
    Ok(())
}
