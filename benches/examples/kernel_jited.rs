//! Writes the kernel JIT's machine code of one kernel-suite program to a file, to
//! compare with ironbpf's (`objdump -D -b binary -mi386:x86-64 FILE`):
//! `kernel_jited PROGRAM FILE`. Needs CAP_BPF.

use ironbpf_benches::kernel_suite::kernel_program;
use ironbpf_kernel::object::KernelObject;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let name = args.get(1).map_or("parse_tcp", String::as_str);
    let out = args.get(2).ok_or("usage: kernel_jited PROGRAM FILE")?;
    let p = kernel_program(name)?;
    let obj = ironbpf_loader::load_bytes(p.object, &ironbpf_loader::LoadOptions::default())?;
    let prog = obj
        .programs
        .iter()
        .find(|q| q.name == p.name)
        .ok_or("no program of that name")?;
    let object = KernelObject::create(&obj)?;
    let kprog = object.load_program(prog, 0).result?;
    std::fs::write(out, kprog.jited()?)?;
    Ok(())
}
