//! `ironbpf jit`: a program's x86-64 code, interleaved with its BPF
//! instructions.

use crate::Failure;
use clap::{Args, ValueEnum};
use ironbpf_isa::Program;
use ironbpf_vm::object::LoadedObject;
use ironbpf_vm::{HelperRegistry, JitOptions, JitProgram, Options};
use std::path::PathBuf;

#[derive(Args)]
#[command(
    after_help = "Examples:\n  ironbpf jit examples/xdp_firewall.o --prog xdp_firewall\n  ironbpf jit prog.o --mode trusted --json\n  ironbpf jit examples/xdp_firewall.o --mode verified"
)]
pub struct JitArgs {
    /// A BPF ELF object (clang -target bpf)
    object: PathBuf,
    /// The program (its function name); optional when the object has one
    #[arg(long)]
    prog: Option<String>,
    /// The program type, for section names that do not say it (xdp, socket_filter, ...)
    #[arg(long = "type")]
    prog_type: Option<String>,
    /// The mode to compile in
    #[arg(long, value_enum, default_value = "checked")]
    mode: JitCmdMode,
    /// One JSON record: each BPF instruction with its x86 offset, bytes and text
    #[arg(long)]
    json: bool,
    /// Also print the cold stubs and trampolines after the body
    #[arg(long)]
    all: bool,
    /// Constant blinding, as the kernel's bpf_jit_harden: no immediate of the program appears in the code (fresh keys each time)
    #[arg(long)]
    harden: bool,
}

/// The JIT's modes as `ironbpf jit` offers them.
#[derive(Clone, Copy, ValueEnum, Default)]
pub enum JitCmdMode {
    /// Every memory access checked and the instruction budget charged, with the interpreter's errors
    #[default]
    Checked,
    /// No checks (only a program the checked interpreter ran cleanly on the same input is run so)
    Trusted,
    /// ironbpf's verifier first (refused programs are not compiled), then no checks, dead code
    /// dropped, decided branches resolved and constants folded from its proof
    Verified,
}

fn hex(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

pub fn run(args: JitArgs) -> Result<(), Failure> {
    let mut opts = crate::cmd_prog::load_options();
    if let Some(t) = &args.prog_type {
        let pt = ironbpf_vm::progtype::by_name(t).ok_or_else(|| {
            Failure::usage(format!(
                "unknown program type `{t}`; known: {}",
                ironbpf_vm::progtype::names().join(", ")
            ))
        })?;
        opts.prog_type_override = Some(pt.kernel_id);
    }
    let obj = ironbpf_loader::load_file(&args.object, &opts)
        .map_err(|e| crate::cmd_prog::load_failure(&args.object, e))?;
    let prog = crate::cmd_prog::pick_program(&obj, args.prog.as_deref(), &args.object)?;
    let name = prog.name.clone();
    let program = Program::from_bytes(&prog.insns)
        .map_err(|e| Failure::failed(format!("program `{name}`: {e}")))?;
    let loaded = LoadedObject::new(obj.clone(), &HelperRegistry::new())
        .map_err(|e| Failure::failed(format!("{}: {e}", args.object.display())))?;
    let (vm, pt) = loaded
        .interpreter(&name, Options::default())
        .map_err(|e| Failure::failed(format!("program `{name}`: {e}")))?;
    let jopts = JitOptions {
        harden: args.harden,
        blinding_seed: None,
    };
    let jit = match args.mode {
        JitCmdMode::Checked => JitProgram::checked_with(vm, jopts),
        // SAFETY: the trusted code is only disassembled here, never run.
        JitCmdMode::Trusted => unsafe { JitProgram::trusted_with(vm, jopts) },
        JitCmdMode::Verified => {
            let slots = ironbpf_isa::slots_from_bytes(&prog.insns)
                .map_err(|e| Failure::failed(format!("program `{name}`: {e}")))?;
            let opts = crate::cmd_verify::options(
                prog,
                &obj.maps,
                &obj.license,
                1,
                false,
                obj.btf.as_deref(),
            )
            .map_err(|e| Failure::failed(format!("{}: {e}", args.object.display())))?;
            let out = ironbpf_verifier::verify(&slots, &opts);
            match &out.result {
                // The code for runs of its own program type (context fields
                // read with no test), as `ironbpf bench` runs it; a program
                // of no known type gets the general code.
                Ok(proof) => match pt {
                    Some(pt) => JitProgram::verified_for(vm, proof, pt, jopts),
                    None => JitProgram::verified_with(vm, proof, jopts),
                },
                Err(rej) => {
                    return Err(Failure::failed(format!(
                        "program `{name}` does not verify, so it has no verified code: {rej}"
                    )))
                }
            }
        }
    }
    .map_err(|e| Failure::failed(format!("program `{name}`: {e}")))?;
    let code = jit.code();
    let per = ironbpf_jit::disasm::per_insn(code);
    let bpf = |pc: usize| {
        program
            .insn_at(pc)
            .map(|d| ironbpf_isa::disasm::disasm_insn(&d.insn))
    };
    if args.json {
        let insns: Vec<serde_json::Value> = per
            .iter()
            .enumerate()
            .filter_map(|(pc, x86)| {
                let text = bpf(pc)?;
                Some(serde_json::json!({
                    "pc": pc,
                    "bpf": text,
                    "x86_offset": code.insn_offsets()[pc],
                    "x86_len": code.insn_code(pc).len(),
                    "x86": x86.iter().map(|i| serde_json::json!({
                        "offset": i.offset, "bytes": hex(&i.bytes), "asm": i.text,
                    })).collect::<Vec<_>>(),
                }))
            })
            .collect();
        println!(
            "{}",
            serde_json::json!({
                "program": name, "mode": code.mode().to_string(), "hardened": code.hardened(),
                "code_size": code.code().len(), "body_size": code.body_end(),
                "insns": insns,
            })
        );
        return Ok(());
    }
    println!(
        "{name}: {} mode{}, {} bytes of x86-64 ({} for the instructions, {} for stubs and trampolines)",
        code.mode(),
        if code.hardened() {
            ", constants blinded"
        } else {
            ""
        },
        code.code().len(),
        code.body_end(),
        code.code().len() - code.body_end()
    );
    for (pc, x86) in per.iter().enumerate() {
        let Some(text) = bpf(pc) else { continue };
        println!("{pc:>5}: {text}");
        for i in x86 {
            println!("        {:>6x}  {:<32} {}", i.offset, hex(&i.bytes), i.text);
        }
    }
    if args.all {
        println!("stubs and trampolines:");
        for i in ironbpf_jit::disasm::tail(code) {
            println!("        {:>6x}  {:<32} {}", i.offset, hex(&i.bytes), i.text);
        }
    }
    Ok(())
}
