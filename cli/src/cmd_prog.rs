//! `ironbpf prog list`: what an ELF object holds.

use crate::Failure;
use clap::{Args, Subcommand};
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum ProgCommand {
    /// List the programs (name, section, type, size) and the maps of an object
    List(ListArgs),
}

#[derive(Args)]
#[command(
    after_help = "Examples:\n  ironbpf prog list examples/xdp_firewall.o\n  ironbpf prog list --json ../shared/corpus/ebpf-samples/linux/sockex1_kern.o"
)]
pub struct ListArgs {
    /// A BPF ELF object
    object: PathBuf,
    /// The program type for sections whose name does not say it
    #[arg(long = "type")]
    prog_type: Option<String>,
    /// One JSON document
    #[arg(long)]
    json: bool,
}

/// Loads an object, with `--type` given by name.
/// The `--kconfig NAME=VALUE` values of this run, for every object loaded.
static KCONFIG: std::sync::OnceLock<Vec<(String, String)>> = std::sync::OnceLock::new();

/// Records `--kconfig` values; refuses one that is not `NAME=VALUE`.
pub fn set_kconfig(values: &[String]) -> Result<(), Failure> {
    let mut parsed = Vec::new();
    for v in values {
        let Some((name, value)) = v.split_once('=').filter(|(n, _)| !n.is_empty()) else {
            return Err(Failure::usage(format!(
                "--kconfig {v}: expected NAME=VALUE, such as CONFIG_HZ=250"
            )));
        };
        parsed.push((name.to_string(), value.to_string()));
    }
    let _ = KCONFIG.set(parsed);
    Ok(())
}

/// Load options with this run's `--kconfig` values.
pub fn load_options() -> ironbpf_loader::LoadOptions {
    ironbpf_loader::LoadOptions {
        kconfig_values: KCONFIG.get().cloned().unwrap_or_default(),
        ..Default::default()
    }
}

/// An I/O error's text as a Unix tool prints it: `No such file or
/// directory`, without the `(os error 2)` that Rust adds.
pub fn io_text(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.rfind(" (os error ") {
        Some(i) if s.ends_with(')') => s[..i].to_string(),
        _ => s,
    }
}

/// `PATH: <the I/O error>` for an input that cannot be read: exit code 2.
pub fn unreadable(path: &std::path::Path, e: &std::io::Error) -> Failure {
    Failure::usage(format!("{}: {}", path.display(), io_text(e)))
}

/// The failure for a loader error on the object at `path`, the path said
/// once: an object that cannot be read or is not an ELF object is
/// unreadable input (exit code 2); a program or map the loader refuses is
/// a failure of the job (1).
pub fn load_failure(path: &std::path::Path, e: ironbpf_loader::LoadError) -> Failure {
    use ironbpf_loader::LoadError;
    match e {
        LoadError::Io { msg, .. } => {
            let msg = match msg.rfind(" (os error ") {
                Some(i) if msg.ends_with(')') => msg[..i].to_string(),
                _ => msg,
            };
            Failure::usage(format!("{}: {msg}", path.display()))
        }
        e @ LoadError::Elf(_) => Failure::usage(format!("{}: {e}", path.display())),
        e => Failure::failed(format!("{}: {e}", path.display())),
    }
}

pub fn load_object(
    path: &std::path::Path,
    prog_type: Option<&str>,
) -> Result<ironbpf_loader::Object, Failure> {
    let mut opts = load_options();
    if let Some(t) = prog_type {
        let id = ironbpf_kernel_prog_type(t)
            .ok_or_else(|| Failure::usage(format!("unknown program type `{t}`")))?;
        opts.prog_type_override = Some(id);
    }
    ironbpf_loader::load_file(path, &opts).map_err(|e| load_failure(path, e))
}

/// The kernel's numeric program type for a program-type name or one of the
/// libbpf/bpftool aliases (`tc`, `socket`...), from `ironbpf-progtype`.
pub fn ironbpf_kernel_prog_type(name: &str) -> Option<u32> {
    ironbpf_progtype::sec::prog_type_by_name(name).map(|p| p.kernel_id())
}

pub fn run(cmd: ProgCommand) -> Result<(), Failure> {
    match cmd {
        ProgCommand::List(a) => list(a),
    }
}

/// What the type column says of a program the loader set aside.
fn refused_type(r: &ironbpf_loader::RefusedProgram) -> &'static str {
    if matches!(
        r.error,
        ironbpf_loader::LoadError::UnknownProgramType { .. }
    ) {
        "unknown"
    } else {
        r.prog_type_name
    }
}

/// Why a set-aside program cannot be loaded, in a few words for the listing.
fn refused_note(r: &ironbpf_loader::RefusedProgram) -> String {
    match &r.error {
        ironbpf_loader::LoadError::UnknownProgramType { why, .. } => {
            format!(
                "the section name does not say the program type, and {why}: give it with --type"
            )
        }
        e => format!("cannot be loaded: {e}"),
    }
}

/// A listing succeeds when every program it shows can be loaded, its type
/// aside (a listing does not need it): otherwise the first reason, naming
/// the section, symbol or offset at fault.
/// The kernel's name of a map type (`hash`, `lru_percpu_hash`), or the
/// number where this kernel has no name for it.
fn map_type_label(t: u32) -> String {
    match ironbpf_maps::map_type_name(t) {
        "unknown" => format!("map_type {t}"),
        name => name.to_string(),
    }
}

fn broken(ins: &ironbpf_loader::Inspection, path: &std::path::Path) -> Result<(), Failure> {
    let bad: Vec<_> = ins
        .refused
        .iter()
        .filter(|r| {
            !matches!(
                r.error,
                ironbpf_loader::LoadError::UnknownProgramType { .. }
            )
        })
        .collect();
    match bad.first() {
        None => Ok(()),
        Some(r) => Err(Failure::failed(format!(
            "{}: {} of {} programs cannot be loaded; program {}: {}",
            path.display(),
            bad.len(),
            ins.object.programs.len() + ins.refused.len(),
            r.name,
            r.error
        ))),
    }
}

fn list(args: ListArgs) -> Result<(), Failure> {
    let mut opts = load_options();
    if let Some(t) = &args.prog_type {
        let id = ironbpf_kernel_prog_type(t)
            .ok_or_else(|| Failure::usage(format!("unknown program type `{t}`")))?;
        opts.prog_type_override = Some(id);
    }
    // A listing shows every program, also those that cannot be loaded by themselves.
    let ins = ironbpf_loader::inspect_file(&args.object, &opts)
        .map_err(|e| load_failure(&args.object, e))?;
    let obj = &ins.object;
    if args.json {
        let mut progs: Vec<_> = obj
            .programs
            .iter()
            .map(|p| {
                serde_json::json!({
                    "name": p.name, "section": p.section, "type": p.prog_type_name,
                    "type_id": p.prog_type, "insns": p.insns.len() / 8,
                    "type_guessed_from": p.type_guessed_from,
                    "attach_to": p.attach_to, "core_relocations": p.core_relocs_applied,
                    "loadable": true,
                })
            })
            .collect();
        progs.extend(ins.refused.iter().map(|r| {
            serde_json::json!({
                "name": r.name, "section": r.section, "type": refused_type(r),
                "type_id": r.prog_type, "insns": r.insns,
                "loadable": false, "error": r.error.to_string(),
            })
        }));
        let maps: Vec<_> = obj
            .maps
            .iter()
            .map(|m| {
                serde_json::json!({
                    "name": m.name, "type": ironbpf_maps::map_type_name(m.map_type), "type_id": m.map_type, "key_size": m.key_size,
                    "value_size": m.value_size, "max_entries": m.max_entries, "flags": m.map_flags,
                })
            })
            .collect();
        println!(
            "{}",
            serde_json::json!({"object": args.object.display().to_string(), "license": obj.license, "programs": progs, "maps": maps})
        );
        return broken(&ins, &args.object);
    }
    println!("{}: license {:?}", args.object.display(), obj.license);
    println!("programs:");
    for p in &obj.programs {
        println!(
            "  {:<28} {:<16} {:>6} insns  section {}{}",
            p.name,
            p.prog_type_name,
            p.insns.len() / 8,
            p.section,
            p.attach_to
                .as_ref()
                .map(|a| format!("  (attaches to {a})"))
                .or_else(|| p.type_guessed_from.as_ref().map(|c| format!(
                    "  (type guessed from its ctx argument {c}; --type overrides)"
                )))
                .unwrap_or_default()
        );
    }
    for r in &ins.refused {
        println!(
            "  {:<28} {:<16} {:>6} insns  section {}  ({})",
            r.name,
            refused_type(r),
            r.insns,
            r.section,
            refused_note(r)
        );
    }
    if !obj.maps.is_empty() {
        println!("maps:");
        for m in &obj.maps {
            println!(
                "  {:<28} {:<16} key {:>4} B  value {:>6} B  max_entries {}",
                m.name,
                map_type_label(m.map_type),
                m.key_size,
                m.value_size,
                m.max_entries
            );
        }
    }
    broken(&ins, &args.object)
}

/// The program `--prog` names, or the object's only one; an error listing
/// the object's programs otherwise.
/// `--type` names the type of sections that do not say it; a section that
/// says another type keeps it (as the kernel's loaders keep it), and the
/// command is refused rather than run as a type the user did not ask for.
pub fn check_type(p: &ironbpf_loader::Program, wanted: Option<&str>) -> Result<(), Failure> {
    let Some(t) = wanted else { return Ok(()) };
    match ironbpf_kernel_prog_type(t) {
        Some(id) if id != p.prog_type => Err(Failure::usage(format!(
            "--type {t}: program `{}` is in section `{}`, which makes it a {} program; \
             --type applies only to sections whose name does not say the type (drop --type)",
            p.name, p.section, p.prog_type_name
        ))),
        _ => Ok(()),
    }
}

/// Loads an object program by program (one that cannot be loaded does
/// not spoil the others) and picks the program to work on: the one named,
/// or the only one that loads. A program that cannot be loaded is refused
/// only when it is the one chosen, naming it and what it lacks.
pub fn load_and_pick(
    path: &std::path::Path,
    opts: &ironbpf_loader::LoadOptions,
    name: Option<&str>,
) -> Result<(ironbpf_loader::Object, String), Failure> {
    let ins = ironbpf_loader::inspect_file(path, opts).map_err(|e| load_failure(path, e))?;
    let refused = |r: &ironbpf_loader::RefusedProgram| {
        Failure::failed(format!(
            "{}: program `{}` (section {}) cannot be loaded: {}",
            path.display(),
            r.name,
            r.section,
            r.error
        ))
    };
    if let Some(n) = name {
        if let Some(r) = ins.refused.iter().find(|r| r.name == n) {
            return Err(refused(r));
        }
    } else if ins.object.programs.is_empty() && ins.refused.len() == 1 {
        return Err(refused(&ins.refused[0]));
    }
    let picked = pick_program(&ins.object, name, path)?.name.clone();
    Ok((ins.object, picked))
}

pub fn pick_program<'o>(
    obj: &'o ironbpf_loader::Object,
    name: Option<&str>,
    path: &std::path::Path,
) -> Result<&'o ironbpf_loader::Program, Failure> {
    let names = || {
        obj.programs
            .iter()
            .map(|p| p.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match name {
        Some(n) => obj.programs.iter().find(|p| p.name == n).ok_or_else(|| {
            Failure::usage(format!(
                "{}: no program `{n}`; it has: {}",
                path.display(),
                names()
            ))
        }),
        None if obj.programs.len() == 1 => Ok(&obj.programs[0]),
        None if obj.programs.is_empty() => Err(Failure::failed(format!(
            "{} has no program that loads",
            path.display()
        ))),
        None => Err(Failure::usage(format!(
            "{} has {} programs: choose one with --prog ({})",
            path.display(),
            obj.programs.len(),
            names()
        ))),
    }
}
