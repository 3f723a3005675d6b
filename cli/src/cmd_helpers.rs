//! `ironbpf helpers`: every helper of Linux 6.18 (ids 1 to 211), with its
//! prototype as the kernel's `struct bpf_func_proto` has it (return and
//! argument types with their flags, GPL-only, `pkt_access`,
//! `might_sleep`), and whether userspace implements it. With
//! `--prog-type`, only the helpers that type offers, each with the
//! prototype that type gets (several differ per type), as the kernel's
//! `get_func_proto` decides for a privileged, GPL, non-sleepable loader
//! unless told otherwise.

use crate::Failure;
use clap::Args;
use ironbpf_helpers::catalog::{self, func_proto, Privilege, ProtoEnv, ProtoRefusal};
use ironbpf_helpers::ironbpf_progtype::{AttachType, ProgTypeId};
use ironbpf_helpers::proto::Proto;
use ironbpf_helpers::HelperRegistry;

#[derive(Args)]
#[command(
    after_help = "Examples:\n  ironbpf helpers\n  ironbpf helpers --prog-type xdp\n  \
     ironbpf helpers --prog-type cgroup_sock_addr --attach cgroup_inet4_connect\n  \
     ironbpf helpers --implemented\n  \
     ironbpf helpers --json | jq '.[] | select(.name == \"bpf_fib_lookup\")'"
)]
pub struct HelpersArgs {
    /// One JSON array
    #[arg(long)]
    json: bool,
    /// Only the helpers a program of this type may call (socket_filter,
    /// sched_cls, xdp, kprobe, cgroup_sock_addr, lsm, ...), with the
    /// prototypes that type gets
    #[arg(long, value_name = "TYPE")]
    prog_type: Option<String>,
    /// The attach type, for types whose helpers depend on it
    /// (cgroup_inet4_connect, cgroup_setsockopt, trace_fentry, ...)
    #[arg(long, value_name = "ATTACH", requires = "prog_type")]
    attach: Option<String>,
    /// With --prog-type: as the kernel offers them to a loader with only
    /// this privilege (unprivileged, bpf, perfmon)
    #[arg(
        long,
        value_name = "LEVEL",
        requires = "prog_type",
        default_value = "perfmon"
    )]
    privilege: String,
    /// With --prog-type: a sleepable program (BPF_F_SLEEPABLE)
    #[arg(long, requires = "prog_type")]
    sleepable: bool,
    /// Only the helpers userspace implements
    #[arg(long)]
    implemented: bool,
}

/// One row: the helper, the prototype shown, whether userspace runs it,
/// and why the type refuses it when it does (GPL-only, sleeping).
struct Row {
    id: u32,
    name: &'static str,
    proto: &'static Proto,
    implemented: bool,
    note: Option<String>,
}

pub fn run(args: HelpersArgs) -> Result<(), Failure> {
    let implemented = HelperRegistry::standard();
    let is_implemented = |id: u32| implemented.entry(id as i64).is_some();
    let mut rows = Vec::new();
    match &args.prog_type {
        None => {
            for h in catalog::HELPERS {
                rows.push(Row {
                    id: h.id,
                    name: h.kernel_name(),
                    proto: &h.proto,
                    implemented: is_implemented(h.id),
                    note: None,
                });
            }
        }
        Some(name) => {
            let pt = ProgTypeId::from_name(name).ok_or_else(|| {
                let known: Vec<&str> = ProgTypeId::ALL.iter().map(|p| p.name()).collect();
                Failure::usage(format!(
                    "unknown program type {name:?}; the kernel has {}",
                    known.join(", ")
                ))
            })?;
            let attach = match &args.attach {
                None => None,
                Some(a) => Some(AttachType::from_name(a).ok_or_else(|| {
                    let known: Vec<&str> = AttachType::ALL.iter().map(|a| a.name()).collect();
                    Failure::usage(format!(
                        "unknown attach type {a:?}; the kernel has {}",
                        known.join(", ")
                    ))
                })?),
            };
            let privilege = match args.privilege.as_str() {
                "unprivileged" => Privilege::Unprivileged,
                "bpf" => Privilege::Bpf,
                "perfmon" => Privilege::Perfmon,
                other => {
                    return Err(Failure::usage(format!(
                        "unknown privilege {other:?}; use unprivileged, bpf or perfmon"
                    )))
                }
            };
            let env = ProtoEnv {
                gpl: true,
                privilege,
                sleepable: args.sleepable,
            };
            for h in catalog::HELPERS {
                let (proto, note) = match func_proto(pt, attach, h.id as i64, &env) {
                    Ok(p) => (p, None),
                    Err(e @ ProtoRefusal::MightSleep { .. }) => (
                        catalog::proto_named(h.name).unwrap_or(&h.proto),
                        Some(e.to_string()),
                    ),
                    Err(_) => continue,
                };
                rows.push(Row {
                    id: h.id,
                    name: h.kernel_name(),
                    proto,
                    implemented: is_implemented(h.id),
                    note,
                });
            }
        }
    }
    if args.implemented {
        rows.retain(|r| r.implemented);
    }
    if args.json {
        let v: Vec<_> = rows
            .iter()
            .map(|r| {
                let p = r.proto;
                let args: Vec<_> = (0..p.arg_count())
                    .map(|i| {
                        serde_json::json!({
                            "name": p.arg_names[i],
                            "type": p.args[i].to_string(),
                            "btf_id": p.args[i].btf,
                        })
                    })
                    .collect();
                serde_json::json!({
                    "id": r.id,
                    "name": r.name,
                    "implemented": r.implemented,
                    "prototype": p.signature(r.name),
                    "variant": p.variant,
                    "ret": p.ret_string(),
                    "ret_btf_id": p.ret_btf_id,
                    "args": args,
                    "gpl_only": p.gpl_only,
                    "pkt_access": p.pkt_access,
                    "might_sleep": p.might_sleep,
                    "allow_fastcall": p.allow_fastcall,
                    "changes_pkt_data": p.changes_pkt_data,
                    "refused": r.note,
                })
            })
            .collect();
        println!("{}", serde_json::Value::Array(v));
        return Ok(());
    }
    println!(
        "{:>4}  {:<34} {:<5} {:<14} prototype",
        "id", "name", "impl", "flags"
    );
    for r in &rows {
        let p = r.proto;
        let mut flags = Vec::new();
        if p.gpl_only {
            flags.push("gpl");
        }
        if p.pkt_access {
            flags.push("pkt");
        }
        if p.might_sleep {
            flags.push("sleep");
        }
        if p.changes_pkt_data {
            flags.push("moves");
        }
        print!(
            "{:>4}  {:<34} {:<5} {:<14} {} -> {}",
            r.id,
            r.name,
            if r.implemented { "yes" } else { "no" },
            flags.join(","),
            p.signature(r.name),
            p.ret_string()
        );
        if let Some(n) = &r.note {
            print!("  [{n}]");
        }
        println!();
    }
    let n_impl = rows.iter().filter(|r| r.implemented).count();
    println!(
        "{} helpers, {} implemented in userspace (a program calling any other is refused at load)",
        rows.len(),
        n_impl
    );
    Ok(())
}
