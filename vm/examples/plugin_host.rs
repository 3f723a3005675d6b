//! A plugin host: a custom context struct, two host helpers, verify, run.
use ironbpf_vm::embed::{Arg, Call, Error, Linker, Program, ProgramType, Runtime};
use std::sync::{Arc, Mutex};

/// Runs the bundled plugin on three requests and reports its verdicts.
pub fn run() -> Result<String, Error> {
    // struct request { u32 user; u32 size; u32 verdict; u32 pad; }
    let ty = ProgramType::new("request_hook", 16).field_ro("user", 0, 4)
        .field_ro("size", 4, 4).field_rw("verdict", 8, 4).returns(0, 1);
    let audit = Arc::new(Mutex::new(Vec::new()));
    let log = audit.clone();
    let mut linker = Linker::new();
    linker.func("quota", 1000, &[Arg::Scalar], |_: &mut Call<'_>, user: u64| user * 100)?;
    linker.func("audit", 1001, &[Arg::Bytes(8)], move |cx: &mut Call<'_>, rec: u64| {
        let Ok(r) = cx.read_u64(rec) else { return 1 };
        log.lock().unwrap().push((r as u32, (r >> 32) as u32));
        0
    })?;
    let prog = Program::from_asm(include_str!("data/plugin.s"), ty)?;
    let plugin = linker.instantiate(&Runtime::jit(), &prog)?; // the verifier runs here
    let mut out = String::new();
    for (user, size) in [(1u32, 50u32), (1, 500), (7, 500)] {
        let mut ctx = [0u8; 16];
        ctx[..4].copy_from_slice(&user.to_le_bytes());
        ctx[4..8].copy_from_slice(&size.to_le_bytes());
        let verdict = if plugin.run(&mut ctx)? == 0 { "allow" } else { "deny" };
        out += &format!("user {user} size {size}: {verdict} (ctx verdict {})\n", ctx[8]);
    }
    out += &format!("audit log: {:?}\n", audit.lock().unwrap());
    Ok(out)
}

#[allow(dead_code)]
fn main() -> Result<(), Error> {
    print!("{}", run()?);
    Ok(())
}
