//! `ironbpf helpers`: the helper table: id, name, prototype, program types.

use crate::Failure;
use clap::Args;
use ironbpf_helpers::proto::{progs, PROTOS};
use ironbpf_helpers::std_helpers::IMPLEMENTED;

#[derive(Args)]
#[command(
    after_help = "Examples:\n  ironbpf helpers\n  ironbpf helpers --json | jq '.[] | select(.name == \"map_lookup_elem\")'"
)]
pub struct HelpersArgs {
    /// One JSON array
    #[arg(long)]
    json: bool,
    /// Also name the helpers whose prototypes ironbpf knows but that it does not implement yet
    #[arg(long)]
    all: bool,
}

fn families(mask: u32) -> String {
    if mask == progs::ALL {
        return "all".into();
    }
    let mut v = Vec::new();
    for (bit, name) in [
        (progs::TRACING, "tracing"),
        (progs::SKB, "skb"),
        (progs::TC, "tc"),
        (progs::XDP, "xdp"),
    ] {
        if mask & bit != 0 {
            v.push(name);
        }
    }
    v.join(",")
}

pub fn run(args: HelpersArgs) -> Result<(), Failure> {
    // The helpers ironbpf implements, with the prototypes the verifier
    // checks calls against.
    let mut rows: Vec<_> = PROTOS
        .iter()
        .filter(|(name, _)| IMPLEMENTED.contains(name))
        .map(|(name, p)| (ironbpf_isa::disasm::helper_id(name).unwrap_or(-1), *name, p))
        .collect();
    rows.sort_by_key(|r| r.0);
    if args.json {
        let v: Vec<_> = rows
            .iter()
            .map(|(id, name, p)| {
                serde_json::json!({
                    "id": id, "name": name, "ret": p.ret.to_string(),
                    "args": p.args.iter().take(p.arg_count()).map(|a| a.to_string()).collect::<Vec<_>>(),
                    "gpl_only": p.gpl_only, "changes_pkt_data": p.changes_pkt_data,
                    "prog_types": families(p.prog_types),
                })
            })
            .collect();
        println!("{}", serde_json::Value::Array(v));
        return Ok(());
    }
    for (id, name, p) in &rows {
        println!("{id:>4}  {name:<26} {:<12} {p}", families(p.prog_types));
    }
    println!("{} helpers", rows.len());
    if !args.all {
        return Ok(());
    }
    let missing: Vec<&str> = PROTOS
        .iter()
        .map(|(n, _)| *n)
        .filter(|n| !IMPLEMENTED.contains(n))
        .collect();
    println!(
        "prototypes known but not implemented yet: {}",
        missing.join(", ")
    );
    Ok(())
}
