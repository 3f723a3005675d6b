//! `ironbpf run`: BPF_PROG_TEST_RUN without root, on our engine.

use crate::Failure;
use clap::{Args, ValueEnum};
use ironbpf_vm::object::LoadedObject;
use ironbpf_vm::{progtype, testrun, HelperRegistry, Options, ProgType};
use std::path::PathBuf;
use std::time::Instant;

#[derive(Clone, Copy, ValueEnum)]
pub enum RunEngine {
    /// The checked interpreter
    Interp,
    /// The x86-64 JIT in checked mode (the same checks and errors as the interpreter)
    Jit,
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
    /// With --engine jit: constant blinding, as the kernel's bpf_jit_harden (no immediate of the program in the code)
    #[arg(long)]
    harden: bool,
    /// One JSON record
    #[arg(long)]
    json: bool,
    /// Fill a map before the run: NAME=JSON, the JSON a list of [key, value]
    /// pairs, each an unsigned integer (little-endian, the map's key or value
    /// size) or a hex string; NAME=@FILE reads the JSON from a file. Repeatable.
    #[arg(long = "map", value_name = "NAME=JSON")]
    maps: Vec<String>,
    /// pt_regs fields of a kprobe or perf_event program's context, by name:
    /// rdi=1,rsi=0x10 (x86-64: r15 r14 r13 r12 rbp rbx r11 r10 r9 r8 rax rcx rdx
    /// rsi rdi orig_rax rip cs eflags rsp ss, or the kernel's di, si, ax...),
    /// over --ctx's bytes
    #[arg(long, value_name = "NAME=VALUE,...")]
    regs: Option<String>,
    /// A tracepoint program's record by field name, as JSON (or @FILE):
    /// '{"err": -22, "comm": "ping"}'; integers, strings for char arrays,
    /// lists for other arrays, {"hex": "..."} for any field's bytes. The
    /// layout is the tracepoint's format file (from tracefs for the
    /// section's tracepoint/<category>/<name>, or --tp-format)
    #[arg(long, value_name = "JSON", conflicts_with = "ctx")]
    record: Option<String>,
    /// The tracepoint's format file for --record
    /// (/sys/kernel/tracing/events/<category>/<name>/format)
    #[arg(long, value_name = "FILE", requires = "record")]
    tp_format: Option<PathBuf>,
    /// Run without ironbpf's verifier (the checked interpreter still faults on bad accesses)
    #[arg(long)]
    no_verify: bool,
    /// Instructions a run may execute before it is stopped as an endless loop
    #[arg(long, default_value_t = Options::default().budget)]
    budget: u64,
}

/// A map's entries (key → value), read through get_next_key.
pub(crate) type Entries = std::collections::BTreeMap<Vec<u8>, Vec<u8>>;

pub(crate) fn entries(map: &dyn ironbpf_maps::Map) -> Entries {
    let mut out = Entries::new();
    let ks = map.spec().key_size as usize;
    if ks == 0 {
        return out;
    }
    let vs = map.value_size_user();
    let mut key: Option<Vec<u8>> = None;
    while out.len() < 1 << 16 {
        let mut next = vec![0u8; ks];
        if map.get_next_key(key.as_deref(), &mut next).is_err() || out.contains_key(&next) {
            break;
        }
        let mut v = vec![0u8; vs];
        if map.lookup(&next, &mut v, 0).is_ok() {
            out.insert(next.clone(), v);
        }
        key = Some(next);
    }
    out
}

/// One key or value of `--map`: an integer in `size` little-endian bytes, or hex.
fn map_bytes(v: &serde_json::Value, size: usize, what: &str) -> Result<Vec<u8>, Failure> {
    match v {
        serde_json::Value::Number(n) => {
            let n = n.as_u64().ok_or_else(|| {
                Failure::usage(format!("--map: {what} {n} is not an unsigned integer"))
            })?;
            if size < 8 && n >> (8 * size) != 0 {
                return Err(Failure::usage(format!(
                    "--map: {what} {n} does not fit in {size} bytes"
                )));
            }
            let mut b = n.to_le_bytes().to_vec();
            b.resize(size, 0);
            Ok(b)
        }
        serde_json::Value::String(h) => {
            let b = parse_hex(h)?;
            if b.len() != size {
                return Err(Failure::usage(format!(
                    "--map: {what} \"{h}\" is {} bytes; the map's are {size}",
                    b.len()
                )));
            }
            Ok(b)
        }
        other => Err(Failure::usage(format!(
            "--map: {what} {other} is neither an integer nor a hex string"
        ))),
    }
}

pub(crate) fn fill_map(loaded: &LoadedObject, spec: &str) -> Result<(), Failure> {
    let (name, json) = spec
        .split_once('=')
        .ok_or_else(|| Failure::usage(format!("--map {spec}: expected NAME=JSON")))?;
    let json = match json.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path).map_err(|e| {
            Failure::usage(format!(
                "--map {name}: {path}: {}",
                crate::cmd_prog::io_text(&e)
            ))
        })?,
        None => json.to_string(),
    };
    let map = loaded.map(name).ok_or_else(|| {
        let names: Vec<&str> = loaded.object.maps.iter().map(|m| m.name.as_str()).collect();
        Failure::usage(format!(
            "--map: the object has no map `{name}`; it has: {}",
            names.join(", ")
        ))
    })?;
    let pairs: Vec<(serde_json::Value, serde_json::Value)> =
        serde_json::from_str(&json).map_err(|e| {
            Failure::usage(format!(
                "--map {name}: expected a JSON list of [key, value] pairs: {e}"
            ))
        })?;
    let (ks, vs) = (map.spec().key_size as usize, map.value_size_user());
    for (i, (k, v)) in pairs.iter().enumerate() {
        let key = map_bytes(k, ks, &format!("pair {i}: key"))?;
        let value = map_bytes(v, vs, &format!("pair {i}: value"))?;
        map.update(&key, &value, 0)
            .map_err(|e| Failure::failed(format!("--map {name}: pair {i}: {e}")))?;
    }
    Ok(())
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
    /// Run this many times and report the mean duration per run (at least 1: the kernel
    /// runs a repeat of 0 once, so 0 is refused rather than given two meanings)
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub repeat: u32,
}

impl RunInput {
    /// The packet from `--data` or `--data-hex`, if either is given.
    pub fn data(&self) -> Result<Option<Vec<u8>>, Failure> {
        match (&self.data, &self.data_hex) {
            (Some(f), _) => std::fs::read(f)
                .map(Some)
                .map_err(|e| crate::cmd_prog::unreadable(f, &e)),
            (None, Some(h)) => parse_hex(h).map(Some),
            (None, None) => Ok(None),
        }
    }

    /// The context from `--ctx`, if given.
    pub fn ctx(&self) -> Result<Option<Vec<u8>>, Failure> {
        self.ctx
            .as_ref()
            .map(|f| std::fs::read(f).map_err(|e| crate::cmd_prog::unreadable(f, &e)))
            .transpose()
    }
}

fn parse_hex(s: &str) -> Result<Vec<u8>, Failure> {
    hex_bytes(s).map_err(|e| Failure::usage(format!("--data-hex: {e}")))
}

/// Hex digits to bytes; whitespace and `:` between bytes are ignored.
pub(crate) fn hex_bytes(s: &str) -> Result<Vec<u8>, String> {
    let clean: Vec<char> = s
        .chars()
        .filter(|c| !c.is_whitespace() && *c != ':')
        .collect();
    if !clean.len().is_multiple_of(2) {
        return Err(format!("an odd number of hex digits ({})", clean.len()));
    }
    clean
        .chunks(2)
        .enumerate()
        .map(|(i, pair)| {
            let text: String = pair.iter().collect();
            u8::from_str_radix(&text, 16)
                .map_err(|_| format!("`{text}` at digit {} is not a hex byte", 2 * i))
        })
        .collect()
}

/// The verdict name of a return value, where the program type has names.
pub fn verdict_name(pt: &ProgType, r0: u64) -> Option<&'static str> {
    use ironbpf_vm::progtype::ProgTypeId::*;
    match pt.id? {
        Xdp => [
            "XDP_ABORTED",
            "XDP_DROP",
            "XDP_PASS",
            "XDP_TX",
            "XDP_REDIRECT",
        ]
        .get(r0 as usize)
        .copied(),
        SchedCls | SchedAct => match r0 as i64 {
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

/// x86-64's `struct pt_regs`, in order: each field's register name and the
/// kernel's name for it (8 bytes each).
const PT_REGS: [(&str, &str); 21] = [
    ("r15", "r15"),
    ("r14", "r14"),
    ("r13", "r13"),
    ("r12", "r12"),
    ("rbp", "bp"),
    ("rbx", "bx"),
    ("r11", "r11"),
    ("r10", "r10"),
    ("r9", "r9"),
    ("r8", "r8"),
    ("rax", "ax"),
    ("rcx", "cx"),
    ("rdx", "dx"),
    ("rsi", "si"),
    ("rdi", "di"),
    ("orig_rax", "orig_ax"),
    ("rip", "ip"),
    ("cs", "cs"),
    ("eflags", "flags"),
    ("rsp", "sp"),
    ("ss", "ss"),
];

/// `--regs rdi=1,rsi=0x10`: (byte offset in pt_regs, value) pairs.
fn parse_regs(spec: &str) -> Result<Vec<(usize, u64)>, Failure> {
    let mut out = Vec::new();
    for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (name, value) = item.split_once('=').ok_or_else(|| {
            Failure::usage(format!("--regs {item}: expected NAME=VALUE, such as rdi=1"))
        })?;
        let name = name.trim().to_ascii_lowercase();
        let i = PT_REGS
            .iter()
            .position(|(r, k)| *r == name || *k == name)
            .ok_or_else(|| {
                Failure::usage(format!(
                    "--regs: `{name}` is no pt_regs field; they are: {}",
                    PT_REGS.map(|(r, _)| r).join(", ")
                ))
            })?;
        let v = value.trim();
        let parsed = match v.strip_prefix("0x") {
            Some(h) => u64::from_str_radix(h, 16),
            None => v
                .parse::<u64>()
                .or_else(|_| v.parse::<i64>().map(|x| x as u64)),
        }
        .map_err(|_| Failure::usage(format!("--regs {name}: `{v}` is not a number")))?;
        out.push((8 * i, parsed));
    }
    Ok(out)
}

/// A run-time error as the user should read it: the budget's message names
/// the option that raises it.
pub(crate) fn vm_error_text(e: &ironbpf_vm::VmError) -> String {
    match e {
        ironbpf_vm::VmError::BudgetExhausted { pc, budget } => format!(
            "insn {pc}: the instruction budget of {budget} instructions is exhausted (an endless loop?); \
             raise it with --budget N if the program is meant to run longer"
        ),
        e => e.to_string(),
    }
}

pub fn run(args: RunArgs) -> Result<(), Failure> {
    let mut opts = crate::cmd_prog::load_options();
    if let Some(t) = &args.prog_type {
        let id = crate::cmd_prog::ironbpf_kernel_prog_type(t).ok_or_else(|| {
            Failure::usage(format!(
                "unknown program type `{t}`; known: {}",
                progtype::names().join(", ")
            ))
        })?;
        opts.prog_type_override = Some(id);
    }
    let (obj, picked) = crate::cmd_prog::load_and_pick(&args.object, &opts, args.prog.as_deref())?;
    let prog = crate::cmd_prog::pick_program(&obj, Some(&picked), &args.object)?;
    crate::cmd_prog::check_type(prog, args.prog_type.as_deref())?;
    let pt = progtype::by_kernel_id(prog.prog_type).ok_or_else(|| {
        Failure::failed(format!(
            "program `{}` is of type {}, which ironbpf cannot run yet (it runs: {})",
            prog.name,
            prog.prog_type_name,
            progtype::names().join(", ")
        ))
    })?;
    // Verify before running, as the kernel does at load.
    if !args.no_verify {
        let v = crate::gate::verify_program(&obj, prog, 1).map_err(|e| {
            Failure::failed(format!(
                "program `{}`: ironbpf's verifier cannot check it: {e} (--no-verify runs it unverified)",
                prog.name
            ))
        })?;
        if let Some(why) = v.refusal() {
            return Err(Failure::failed(format!(
                "program `{}`: refused by ironbpf's verifier: {why} (--no-verify runs it unverified in the checked interpreter)",
                prog.name
            )));
        }
    }
    // The expected attach type changes some types' context rules (0 is
    // the kernel's "none").
    let attach_type = (prog.expected_attach_type != 0)
        .then(|| progtype::AttachType::from_kernel_id(prog.expected_attach_type))
        .flatten();
    let prog_name = prog.name.clone();
    let loaded = LoadedObject::new(obj.clone(), &HelperRegistry::new())
        .map_err(|e| Failure::failed(format!("{}: {e}", args.object.display())))?;
    for spec in &args.maps {
        fill_map(&loaded, spec)?;
    }
    let before: Vec<Entries> = (0..loaded.maps.len() as u32)
        .map(|i| {
            loaded
                .maps
                .get(i)
                .map(|m| entries(m.as_ref()))
                .unwrap_or_default()
        })
        .collect();
    let jit = matches!(args.engine, RunEngine::Jit);
    if args.harden && !jit {
        return Err(Failure::usage(
            "--harden blinds the JIT's constants: add --engine jit",
        ));
    }
    let vm_opts = Options {
        budget: args.budget,
        ..Options::default()
    };
    let (vm, _) = if jit && args.harden {
        loaded.interpreter(&prog_name, vm_opts).and_then(|(i, pt)| {
            let j = ironbpf_vm::JitProgram::checked_with(i, ironbpf_vm::JitOptions::hardened())?;
            Ok((Box::new(j) as Box<dyn ironbpf_vm::Engine>, pt))
        })
    } else {
        loaded.engine(&prog_name, vm_opts, jit)
    }
    .map_err(|e| Failure::failed(format!("program `{prog_name}`: {}", vm_error_text(&e))))?;
    let prog = &loaded
        .object
        .programs
        .iter()
        .find(|p| p.name == prog_name)
        .expect("found above");

    // Without --data, a program type whose test run takes a packet gets
    // the same default packet as `ironbpf kernel run`.
    let given = args.input.data()?;
    let takes_packet = testrun::runs(pt) && crate::cmd_kernel::takes_packet(prog.prog_type);
    let default_data = given.is_none() && takes_packet;
    let data_in = match given {
        Some(d) => d,
        None if default_data => crate::cmd_kernel::default_packet(),
        None => Vec::new(),
    };
    let ctx_given = args.input.ctx.is_some();
    let mut ctx_in = args.input.ctx()?.unwrap_or_default();
    // --record: a tracepoint record by field name, laid out by its format file.
    if let Some(record) = &args.record {
        if pt.id != Some(ironbpf_vm::progtype::ProgTypeId::Tracepoint) {
            return Err(Failure::usage(format!(
                "--record: program `{}` is a {} program; --record is a tracepoint's record (others take --ctx)",
                prog.name, pt.name
            )));
        }
        ctx_in = crate::tp_record::from_args(
            record,
            args.tp_format.as_deref(),
            prog.attach_to.as_deref(),
        )?;
    }
    // As the kernel's bpf_ctx_init: bytes past the struct must be zero
    // (E2BIG otherwise) and are dropped; a shorter context is zero-filled.
    if ctx_in.len() > pt.ctx_size as usize {
        if let Some(i) = ctx_in[pt.ctx_size as usize..].iter().position(|&b| b != 0) {
            return Err(Failure::failed(format!(
                "--ctx is {} bytes and byte {} is not zero; the {} context struct is {} bytes \
                 and the kernel refuses nonzero bytes past it (E2BIG)",
                ctx_in.len(),
                pt.ctx_size as usize + i,
                pt.name,
                pt.ctx_size
            )));
        }
        ctx_in.truncate(pt.ctx_size as usize);
    }
    // --regs: the pt_regs at the start of a kprobe's (or perf_event's) context.
    let regs = match &args.regs {
        None => Vec::new(),
        Some(spec) => {
            use ironbpf_vm::progtype::ProgTypeId::{Kprobe, PerfEvent};
            if !matches!(pt.id, Some(Kprobe | PerfEvent)) {
                return Err(Failure::usage(format!(
                    "--regs: a {} program's context is not pt_regs (kprobe and perf_event programs take --regs; others --ctx)",
                    pt.name
                )));
            }
            let r = parse_regs(spec)?;
            if (pt.ctx_size as usize) < 8 * PT_REGS.len() {
                return Err(Failure::usage(format!(
                    "--regs: the {} context is {} bytes, smaller than pt_regs",
                    pt.name, pt.ctx_size
                )));
            }
            r
        }
    };
    let repeat = args.input.repeat;
    let mut r0 = 0;
    let mut data_out = Vec::new();
    let mut ctx_out = Vec::new();
    let start = Instant::now();
    for _ in 0..repeat {
        if testrun::runs(pt) {
            // The packet laid out as the kernel's BPF_PROG_TEST_RUN lays it
            // out, so that results (and bpf_xdp_adjust_head & co.) match
            // `ironbpf kernel run`.
            let run = testrun::TestRun {
                data: &data_in,
                ctx: ctx_given.then_some(&ctx_in[..]),
                cpu: 0,
                attach_type,
            };
            let out =
                testrun::run(vm.as_ref(), pt, &run, Some(loaded.resolver())).map_err(|e| {
                    Failure::failed(format!("program `{}`: {}", prog.name, vm_error_text(&e)))
                })?;
            r0 = out.r0;
            data_out = out.data_out;
            // As the kernel's test run: a context comes back only when one was given.
            ctx_out = if ctx_given { out.ctx_out } else { Vec::new() };
            continue;
        }
        let mut ctx = vec![0u8; pt.ctx_size as usize];
        ctx[..ctx_in.len()].copy_from_slice(&ctx_in);
        for &(off, v) in &regs {
            ctx[off..off + 8].copy_from_slice(&v.to_ne_bytes());
        }
        r0 = ironbpf_vm::engine::run_ctx_into(
            vm.as_ref(),
            pt,
            attach_type,
            &mut ctx,
            None,
            Some(loaded.resolver()),
            None,
        )
        .map_err(|e| Failure::failed(format!("program `{}`: {}", prog.name, vm_error_text(&e))))?;
        ctx_out = ctx;
    }
    let per_run_ns = (start.elapsed().as_nanos() / repeat as u128) as u64;
    // bpf_trace_printk's output, as trace_pipe shows it.
    let trace: Vec<String> = loaded
        .env
        .trace()
        .take()
        .iter()
        .map(|r| r.trace_pipe_line())
        .collect();
    // What the run changed in the maps.
    let mut map_changes = Vec::new();
    for (i, old) in before.iter().enumerate() {
        let Some(m) = loaded.maps.get(i as u32) else {
            continue;
        };
        let new = entries(m.as_ref());
        let name = &loaded.object.maps[i].name;
        for key in old
            .keys()
            .chain(new.keys().filter(|k| !old.contains_key(*k)))
        {
            let (a, b) = (old.get(key), new.get(key));
            if a != b {
                map_changes.push(serde_json::json!({
                    "map": name, "key": hex(key),
                    "before": a.map(|v| hex(v)), "after": b.map(|v| hex(v)),
                }));
            }
        }
    }
    let verdict = verdict_name(pt, r0);
    let changed = data_out != data_in;
    if args.json {
        println!(
            "{}",
            serde_json::json!({
                "program": prog.name, "type": pt.name, "engine": vm.name(),
                "r0": r0, "verdict": verdict, "repeat": repeat, "duration_ns": per_run_ns, "data_in": hex(&data_in),
                "verified": !args.no_verify,
                "data_out": hex(&data_out), "data_changed": changed, "ctx_out": hex(&ctx_out),
                "maps_changed": map_changes, "trace": trace,
            })
        );
    } else {
        let input = if takes_packet {
            format!(
                "{} bytes of data{}",
                data_in.len(),
                if default_data {
                    " (the default packet)"
                } else {
                    ""
                }
            )
        } else if args.record.is_some() {
            format!("a {}-byte tracepoint record (--record)", ctx_in.len())
        } else {
            format!("its {}-byte context", pt.ctx_size)
        };
        println!(
            "{} ({}) on {input}, {}{}",
            prog.name,
            pt.name,
            if jit { "JIT (checked)" } else { "interpreter" },
            if args.no_verify { ", unverified" } else { "" }
        );
        match verdict {
            Some(v) => println!("r0 = {r0} ({v})"),
            None => println!("r0 = {r0} ({r0:#x})"),
        }
        println!("duration: {per_run_ns} ns per run (mean of {repeat})");
        if changed {
            println!("data out ({} bytes): {}", data_out.len(), hex(&data_out));
        } else {
            println!("data out: unchanged");
        }
        if map_changes.is_empty() {
            println!("maps: unchanged");
        }
        for line in &trace {
            println!("trace: {line}");
        }
        for c in &map_changes {
            let show =
                |v: &serde_json::Value| v.as_str().map_or("(absent)".to_string(), str::to_string);
            println!(
                "map {} key {}: {} -> {}",
                c["map"].as_str().unwrap_or(""),
                c["key"].as_str().unwrap_or(""),
                show(&c["before"]),
                show(&c["after"])
            );
        }
    }
    Ok(())
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
