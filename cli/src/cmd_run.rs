//! `ironbpf run`: BPF_PROG_TEST_RUN without root, on our engine.

use crate::Failure;
use clap::{Args, ValueEnum};
use ironbpf_isa::Program;
use ironbpf_vm::{progtype, HelperRegistry, Interpreter, Options, ProgType};
use std::path::PathBuf;
use std::time::Instant;

#[derive(Clone, Copy, ValueEnum)]
pub enum RunEngine {
    /// The checked interpreter
    Interp,
}

#[derive(Args)]
#[command(
    after_help = "Examples:\n  ironbpf run examples/xdp_firewall.o --prog xdp_firewall --data examples/telnet.pkt\n  ironbpf run prog.o --prog count --data-hex 0011223344 --repeat 1000 --json"
)]
pub struct RunArgs {
    /// A BPF ELF object (clang -target bpf)
    object: PathBuf,
    /// The program to run (its function name); optional when the object has one
    #[arg(long)]
    prog: Option<String>,
    #[command(flatten)]
    input: RunInput,
    /// The engine
    #[arg(long, value_enum, default_value = "interp")]
    engine: RunEngine,
    /// The program type, for section names that do not say it (xdp, socket_filter, sched_cls, kprobe, ...)
    #[arg(long = "type")]
    prog_type: Option<String>,
    /// One JSON record
    #[arg(long)]
    json: bool,
}

/// The input of a run: packet, context, repetitions (shared by `ironbpf run`
/// and `ironbpf kernel run`).
#[derive(Args)]
pub struct RunInput {
    /// The packet (data_in), from a file
    #[arg(long, conflicts_with = "data_hex")]
    pub data: Option<PathBuf>,
    /// The packet (data_in), as hex
    #[arg(long)]
    pub data_hex: Option<String>,
    /// The context struct (ctx_in), from a file: the program type's uapi struct
    #[arg(long)]
    pub ctx: Option<PathBuf>,
    /// Run this many times and report the mean duration per run
    #[arg(long, default_value_t = 1)]
    pub repeat: u32,
}

impl RunInput {
    /// The packet from `--data` or `--data-hex`, if either is given.
    pub fn data(&self) -> Result<Option<Vec<u8>>, Failure> {
        match (&self.data, &self.data_hex) {
            (Some(f), _) => std::fs::read(f)
                .map(Some)
                .map_err(|e| Failure::usage(format!("{}: {e}", f.display()))),
            (None, Some(h)) => parse_hex(h).map(Some),
            (None, None) => Ok(None),
        }
    }

    /// The context from `--ctx`, if given.
    pub fn ctx(&self) -> Result<Option<Vec<u8>>, Failure> {
        self.ctx
            .as_ref()
            .map(|f| std::fs::read(f).map_err(|e| Failure::usage(format!("{}: {e}", f.display()))))
            .transpose()
    }
}

fn parse_hex(s: &str) -> Result<Vec<u8>, Failure> {
    let clean: String = s
        .chars()
        .filter(|c| !c.is_whitespace() && *c != ':')
        .collect();
    if !clean.len().is_multiple_of(2) {
        return Err(Failure::usage(format!(
            "--data-hex has an odd number of hex digits ({})",
            clean.len()
        )));
    }
    (0..clean.len())
        .step_by(2)
        .map(|i| {
            u8::from_str_radix(&clean[i..i + 2], 16).map_err(|_| {
                Failure::usage(format!(
                    "--data-hex: `{}` at digit {i} is not a hex byte",
                    &clean[i..i + 2]
                ))
            })
        })
        .collect()
}

/// The verdict name of a return value, where the program type has names.
pub fn verdict_name(pt: &ProgType, r0: u64) -> Option<&'static str> {
    match pt.name {
        "xdp" => [
            "XDP_ABORTED",
            "XDP_DROP",
            "XDP_PASS",
            "XDP_TX",
            "XDP_REDIRECT",
        ]
        .get(r0 as usize)
        .copied(),
        "sched_cls" | "sched_act" => match r0 as i64 {
            -1 => Some("TC_ACT_UNSPEC"),
            0 => Some("TC_ACT_OK"),
            1 => Some("TC_ACT_RECLASSIFY"),
            2 => Some("TC_ACT_SHOT"),
            3 => Some("TC_ACT_PIPE"),
            4 => Some("TC_ACT_STOLEN"),
            7 => Some("TC_ACT_REDIRECT"),
            _ => None,
        },
        _ => None,
    }
}

pub fn run(args: RunArgs) -> Result<(), Failure> {
    let mut opts = ironbpf_loader::LoadOptions::default();
    if let Some(t) = &args.prog_type {
        let pt = progtype::by_name(t).ok_or_else(|| {
            Failure::usage(format!(
                "unknown program type `{t}`; known: {}",
                progtype::ALL
                    .iter()
                    .map(|p| p.name)
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?;
        opts.prog_type_override = Some(pt.kernel_id);
    }
    let obj = ironbpf_loader::load_file(&args.object, &opts)
        .map_err(|e| Failure::failed(format!("{}: {e}", args.object.display())))?;
    let names = || {
        obj.programs
            .iter()
            .map(|p| p.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let prog = match &args.prog {
        Some(n) => obj.programs.iter().find(|p| &p.name == n).ok_or_else(|| {
            Failure::usage(format!(
                "{}: no program `{n}`; it has: {}",
                args.object.display(),
                names()
            ))
        })?,
        None if obj.programs.len() == 1 => &obj.programs[0],
        None => {
            return Err(Failure::usage(format!(
                "{} has {} programs: choose one with --prog ({})",
                args.object.display(),
                obj.programs.len(),
                names()
            )))
        }
    };
    let pt = progtype::by_kernel_id(prog.prog_type).ok_or_else(|| {
        Failure::failed(format!(
            "program `{}` is of type {}, which ironbpf cannot run yet (it runs: {})",
            prog.name,
            prog.prog_type_name,
            progtype::ALL
                .iter()
                .map(|p| p.name)
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })?;
    let code = Program::from_bytes(&prog.insns)
        .map_err(|e| Failure::failed(format!("program `{}`: {e}", prog.name)))?;
    let vm = Interpreter::new(&code, &HelperRegistry::new(), Options::default())
        .map_err(|e| Failure::failed(format!("program `{}`: {e}", prog.name)))?;

    let data_in = args.input.data()?.unwrap_or_default();
    let ctx_given = args.input.ctx.is_some();
    let ctx_in = args.input.ctx()?.unwrap_or_default();
    if ctx_in.len() > pt.ctx_size as usize {
        return Err(Failure::usage(format!(
            "--ctx is {} bytes; the {} context struct is {} bytes",
            ctx_in.len(),
            pt.name,
            pt.ctx_size
        )));
    }
    let repeat = args.input.repeat.max(1);
    let mut r0 = 0;
    let mut data_out = Vec::new();
    let mut ctx_out = Vec::new();
    let start = Instant::now();
    for _ in 0..repeat {
        let mut ctx = vec![0u8; pt.ctx_size as usize];
        ctx[..ctx_in.len()].copy_from_slice(&ctx_in);
        if pt.fields.first().is_some_and(|f| f.name == "len") && !ctx_given {
            ctx[..4].copy_from_slice(&(data_in.len() as u32).to_le_bytes());
        }
        let mut pkt = data_in.clone();
        let packet = if pt.has_packet {
            Some(&mut pkt[..])
        } else {
            None
        };
        r0 = vm
            .run_ctx(pt, &mut ctx, packet, None)
            .map_err(|e| Failure::failed(format!("program `{}`: {e}", prog.name)))?;
        data_out = pkt;
        ctx_out = ctx;
    }
    let per_run_ns = start.elapsed().as_nanos() as f64 / repeat as f64;
    let verdict = verdict_name(pt, r0);
    let changed = data_out != data_in;
    if args.json {
        println!(
            "{}",
            serde_json::json!({
                "program": prog.name, "type": pt.name, "engine": "interp",
                "r0": r0, "verdict": verdict, "repeat": repeat, "duration_ns": per_run_ns,
                "data_out": hex(&data_out), "data_changed": changed, "ctx_out": hex(&ctx_out),
            })
        );
    } else {
        println!(
            "{} ({}) on {} bytes of data, interpreter",
            prog.name,
            pt.name,
            data_in.len()
        );
        match verdict {
            Some(v) => println!("r0 = {r0} ({v})"),
            None => println!("r0 = {r0} ({r0:#x})"),
        }
        println!("duration: {per_run_ns:.0} ns per run (mean of {repeat})");
        if changed {
            println!("data out ({} bytes): {}", data_out.len(), hex(&data_out));
        } else {
            println!("data out: unchanged");
        }
    }
    Ok(())
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
