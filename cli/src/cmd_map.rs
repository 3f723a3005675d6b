//! `ironbpf map`: maps in ironbpf's runtime as JSON: an object's maps
//! created, filled and dumped around a run, and map creation checked as
//! `BPF_MAP_CREATE` checks it.

use crate::cmd_run::{entries, fill_map, hex, RunInput};
use crate::Failure;
use clap::{Args, Subcommand};
use ironbpf_maps::{create_map, map_type_name, MapSpec};
use ironbpf_vm::object::LoadedObject;
use ironbpf_vm::{testrun, HelperRegistry, Options};
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum MapCommand {
    /// Create an object's maps, fill them (--map), optionally run a program
    /// (--run), and print every map's entries as JSON
    #[command(
        after_help = "Examples:\n  ironbpf map dump examples/xdp_trace.o\n  ironbpf map dump examples/xdp_trace.o --map 'per_protocol=[[6, 41]]' --run xdp_trace --data examples/telnet.pkt"
    )]
    Dump(DumpArgs),
    /// Create a map in ironbpf's runtime from BPF_MAP_CREATE's attributes:
    /// the map it makes, or the kernel's errno and why
    #[command(
        after_help = "Examples:\n  ironbpf map create hash --key-size 4 --value-size 8 --max-entries 1024\n  ironbpf map create array --key-size 8 --value-size 8 --max-entries 4   # EINVAL: arrays take 4-byte keys"
    )]
    Create(CreateArgs),
}

#[derive(Args)]
pub struct DumpArgs {
    /// A BPF ELF object
    object: PathBuf,
    /// Fill a map first: NAME=JSON, a list of [key, value] pairs (integers or hex strings); NAME=@FILE reads a file. Repeatable.
    #[arg(long = "map", value_name = "NAME=JSON")]
    maps: Vec<String>,
    /// Run this program once (as BPF_PROG_TEST_RUN would) before the dump
    #[arg(long)]
    run: Option<String>,
    #[command(flatten)]
    input: RunInput,
    /// Print the maps as one JSON document instead of text
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct CreateArgs {
    /// The map type, by its kernel name (hash, array, lru_hash, lpm_trie, ringbuf...) or number
    map_type: String,
    #[arg(long)]
    key_size: u32,
    #[arg(long)]
    value_size: u32,
    #[arg(long)]
    max_entries: u32,
    /// map_flags (BPF_F_NO_PREALLOC is 1, BPF_F_RDONLY_PROG 0x80...)
    #[arg(long, default_value = "0", value_parser = parse_u32)]
    flags: u32,
    /// Print the outcome as one JSON object instead of text
    #[arg(long)]
    json: bool,
}

fn parse_u32(s: &str) -> Result<u32, String> {
    match s.strip_prefix("0x") {
        Some(h) => u32::from_str_radix(h, 16),
        None => s.parse(),
    }
    .map_err(|e| format!("{s}: {e}"))
}

pub fn run(cmd: MapCommand) -> Result<(), Failure> {
    match cmd {
        MapCommand::Dump(a) => dump(a),
        MapCommand::Create(a) => create(a),
    }
}

fn dump(args: DumpArgs) -> Result<(), Failure> {
    let obj = crate::cmd_prog::load_object(&args.object, None)?;
    let loaded = LoadedObject::new(obj, &HelperRegistry::new())
        .map_err(|e| Failure::failed(format!("{}: {e}", args.object.display())))?;
    for spec in &args.maps {
        fill_map(&loaded, spec)?;
    }
    let mut out = serde_json::Map::new();
    if let Some(name) = &args.run {
        let (vm, pt) = loaded
            .interpreter(name, Options::default())
            .map_err(|e| Failure::failed(format!("program `{name}`: {e}")))?;
        let pt = pt.ok_or_else(|| {
            Failure::failed(format!("program `{name}`: ironbpf cannot run its type yet"))
        })?;
        // Without --data, the default packet of `run` and `kernel run`.
        let data = args
            .input
            .data()?
            .unwrap_or_else(crate::cmd_kernel::default_packet);
        let result = testrun::run(
            &vm,
            pt,
            &testrun::TestRun::packet(&data),
            Some(loaded.resolver()),
        )
        .map_err(|e| Failure::failed(format!("program `{name}`: {e}")))?;
        out.insert("program".into(), name.clone().into());
        out.insert("r0".into(), result.r0.into());
    }
    let maps: Vec<serde_json::Value> = loaded
        .object
        .maps
        .iter()
        .enumerate()
        .filter_map(|(i, def)| {
            let m = loaded.maps.get(i as u32)?;
            let s = m.spec();
            let e: Vec<serde_json::Value> = entries(m.as_ref())
                .iter()
                .map(|(k, v)| serde_json::json!({"key": hex(k), "value": hex(v)}))
                .collect();
            Some(serde_json::json!({
                "name": def.name, "type": map_type_name(s.map_type), "key_size": s.key_size,
                "value_size": s.value_size, "max_entries": s.max_entries, "entries": e,
            }))
        })
        .collect();
    out.insert("maps".into(), maps.into());
    let out = serde_json::Value::Object(out);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
    } else {
        print!("{}", dump_text(&out));
    }
    Ok(())
}

/// The dump as a person reads it: the run's r0, then each map with its
/// entries, one `key -> value` line each, in hex.
fn dump_text(v: &serde_json::Value) -> String {
    use std::fmt::Write;
    let mut t = String::new();
    if let (Some(p), Some(r0)) = (v["program"].as_str(), v["r0"].as_u64()) {
        let _ = writeln!(t, "ran {p}: r0 = {r0}");
    }
    for m in v["maps"].as_array().into_iter().flatten() {
        let entries = m["entries"].as_array().map_or(&[][..], |e| e.as_slice());
        let _ = writeln!(
            t,
            "{} ({}, key {} B, value {} B, max_entries {}): {} {}",
            m["name"].as_str().unwrap_or_default(),
            m["type"].as_str().unwrap_or_default(),
            m["key_size"],
            m["value_size"],
            m["max_entries"],
            entries.len(),
            if entries.len() == 1 {
                "entry"
            } else {
                "entries"
            }
        );
        for e in entries {
            let _ = writeln!(
                t,
                "  {} -> {}",
                e["key"].as_str().unwrap_or_default(),
                e["value"].as_str().unwrap_or_default()
            );
        }
    }
    t
}

fn create(args: CreateArgs) -> Result<(), Failure> {
    let map_type = match args.map_type.parse::<u32>() {
        Ok(n) => n,
        Err(_) => (0..64)
            .find(|&t| map_type_name(t) == args.map_type)
            .ok_or_else(|| Failure::usage(format!("unknown map type `{}` (kernel names: hash, array, lru_hash, lpm_trie, queue, ringbuf...)", args.map_type)))?,
    };
    let mut spec = MapSpec::new(map_type, args.key_size, args.value_size, args.max_entries);
    spec.map_flags = args.flags;
    match create_map(&spec) {
        Ok(m) => {
            if args.json {
                println!(
                    "{}",
                    serde_json::json!({
                        "created": true, "type": map_type_name(map_type), "key_size": spec.key_size,
                        "value_size": spec.value_size, "max_entries": spec.max_entries, "map_flags": spec.map_flags,
                        "value_size_seen_by_the_host": m.value_size_user(),
                    })
                );
            } else {
                println!(
                    "created a {} map: key {} B, value {} B ({} B as the host sees it), max_entries {}, map_flags {:#x}",
                    map_type_name(map_type),
                    spec.key_size,
                    spec.value_size,
                    m.value_size_user(),
                    spec.max_entries,
                    spec.map_flags
                );
            }
            Ok(())
        }
        Err(e) => {
            if args.json {
                println!(
                    "{}",
                    serde_json::json!({"created": false, "errno": e.errno_name(), "why": e.message})
                );
            }
            Err(Failure::failed(format!(
                "BPF_MAP_CREATE would fail with {}: {}",
                e.errno_name(),
                e.message
            )))
        }
    }
}
