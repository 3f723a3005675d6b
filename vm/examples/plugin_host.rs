//! A plugin host: a custom context struct, two host helpers, verify, run.
use ironbpf_vm::embed::{Arg, Call, Error, Linker, Program, ProgramType, Runtime};
use std::sync::{Arc, Mutex};

fn quota(_: &mut Call<'_>, user: u64) -> u64 {
    user * 100
}

/// Runs the bundled plugin on three requests and reports its verdicts.
pub fn run() -> Result<String, Error> {
    // struct request { u32 user; u32 size; u32 verdict; u32 pad; }
    let ty = ProgramType::new("request", 16).field_ro("user", 0, 4);
    let ty = ty.field_ro("size", 4, 4).field_rw("verdict", 8, 4);
    let audit = Arc::new(Mutex::new(Vec::new()));
    let log = audit.clone();
    let mut linker = Linker::new();
    linker.func("quota", 1000, &[Arg::Scalar], quota)?;
    let audit_fn = move |cx: &mut Call<'_>, rec: u64| -> u64 {
        let r = cx.read_u64(rec).unwrap_or(0);
        log.lock().unwrap().push((r & 0xffff_ffff, r >> 32));
        0
    };
    linker.func("audit", 1001, &[Arg::Bytes(8)], audit_fn)?;
    let prog = Program::from_asm(include_str!("data/plugin.s"), ty.returns(0, 1))?;
    let plugin = linker.instantiate(&Runtime::jit(), &prog)?; // the verifier runs here
    let mut out = String::new();
    for (user, size) in [(1u32, 50u32), (1, 500), (7, 500)] {
        let mut ctx = [user.to_le_bytes(), size.to_le_bytes(), [0; 4], [0; 4]].concat();
        let verdict = ["allow", "deny"][plugin.run(&mut ctx)? as usize];
        let field = ctx[8];
        out += &format!("user {user} size {size}: {verdict} (ctx verdict {field})\n");
    }
    Ok(out + &format!("audit log: {:?}\n", audit.lock().unwrap()))
}

#[allow(dead_code)]
fn main() -> Result<(), Error> {
    print!("{}", run()?);
    Ok(())
}
