//! `ironbpf helpers`: the helper table ironbpf implements: each helper's
//! kernel id and name, its prototype (the argument and return types the
//! verifier checks calls against) and the program types that may call it.

use crate::Failure;
use clap::Args;
use ironbpf_helpers::proto::{progs, PROTOS};
use ironbpf_helpers::HelperRegistry;

#[derive(Args)]
#[command(
    after_help = "Examples:\n  ironbpf helpers\n  ironbpf helpers --prog-type xdp\n  \
     ironbpf helpers --json | jq '.[] | select(.name == \"bpf_map_lookup_elem\")'"
)]
pub struct HelpersArgs {
    /// One JSON array
    #[arg(long)]
    json: bool,
    /// Only the helpers a program of this type may call (socket_filter,
    /// sched_cls, xdp, kprobe, ...)
    #[arg(long, value_name = "TYPE")]
    prog_type: Option<String>,
    /// Also name the helpers whose prototypes ironbpf knows but does not
    /// implement
    #[arg(long)]
    all: bool,
}

pub fn run(args: HelpersArgs) -> Result<(), Failure> {
    let table = HelperRegistry::standard();
    let table = match &args.prog_type {
        None => table,
        Some(name) => {
            let pt = ironbpf_vm::progtype::by_name(name).ok_or_else(|| {
                let known = ironbpf_vm::progtype::names();
                Failure::usage(format!(
                    "unknown program type {name:?}; ironbpf knows {}",
                    known.join(", ")
                ))
            })?;
            table.for_prog_type(pt.kernel_id())
        }
    };
    let rows: Vec<_> = table
        .entries()
        .into_iter()
        .filter_map(|e| e.proto.map(|p| (e, p)))
        .collect();
    if args.json {
        let v: Vec<_> = rows
            .iter()
            .map(|(e, p)| {
                let args: Vec<_> = (0..p.arg_count())
                    .map(|i| {
                        serde_json::json!({ "name": p.arg_names[i], "type": p.args[i].to_string() })
                    })
                    .collect();
                serde_json::json!({
                    "id": e.id,
                    "name": e.name,
                    "prototype": e.signature(),
                    "ret": p.ret.to_string(),
                    "args": args,
                    "gpl_only": p.gpl_only,
                    "changes_pkt_data": p.changes_pkt_data,
                    "prog_types": progs::names(p.prog_types).split(',').collect::<Vec<_>>(),
                })
            })
            .collect();
        println!("{}", serde_json::Value::Array(v));
        return Ok(());
    }
    println!(
        "{:>4}  {:<28} {:<32} prototype",
        "id", "name", "program types"
    );
    for (e, p) in &rows {
        println!(
            "{:>4}  {:<28} {:<32} {}",
            e.id,
            e.name,
            progs::names(p.prog_types),
            e.signature()
        );
    }
    println!("{} helpers", rows.len());
    if args.all {
        let missing: Vec<&str> = PROTOS
            .iter()
            .map(|(n, _)| *n)
            .filter(|n| table.by_name(n).is_none())
            .collect();
        println!(
            "prototypes known but not implemented: {}",
            if missing.is_empty() {
                "none".to_string()
            } else {
                missing.join(", ")
            }
        );
    }
    Ok(())
}
