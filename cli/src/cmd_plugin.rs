//! `ironbpf conformance-plugin`: bpf_conformance's plugin protocol, so that
//! its own runner (`bpf_conformance_runner --plugin_path ...`) can test
//! ironbpf. The program comes as base16 bytes on stdin (or `--program`),
//! the memory as base16 bytes in the first argument; the plugin prints r0
//! in hex. `--elf` takes an ELF object instead and runs its first XDP
//! program on the memory as packet.

use crate::Failure;
use clap::Args;
use ironbpf_conformance::runner::{EngineOutcome, InterpEngine, TestEngine};
use std::io::BufRead;

#[derive(Args)]
#[command(
    after_help = "Example:\n  echo 'b7 00 00 00 2a 00 00 00 95 00 00 00 00 00 00 00' | ironbpf conformance-plugin\n  bpf_conformance_runner --test_file_directory tests --plugin_path ironbpf --plugin_options conformance-plugin"
)]
pub struct PluginArgs {
    /// [--program <base16 program bytes>] [<base16 memory bytes>] [--debug] [--elf]
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    args: Vec<String>,
}

/// Decodes base16 bytes as bpf_conformance's runner sends them: one run of
/// hex digits (`b70000002a000000...`) or bytes separated by white space
/// (`b7 00 00 00 ...`), in either case. Anything else is refused, naming
/// the character at fault, rather than skipped.
fn base16(what: &str, s: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut col = 0usize;
    for token in s.split_whitespace() {
        let start = s[col..].find(token).map_or(col, |i| col + i);
        col = start + token.len();
        if let Some((i, c)) = token.char_indices().find(|(_, c)| !c.is_ascii_hexdigit()) {
            return Err(format!(
                "{what}: `{c}` at column {} is not a hex digit",
                start + i + 1
            ));
        }
        if token.len() % 2 != 0 {
            return Err(format!(
                "{what}: `{token}` at column {} has an odd number of hex digits (bytes are two digits each)",
                start + 1
            ));
        }
        for pair in token.as_bytes().chunks(2) {
            // Both are ASCII hex digits, checked above.
            let hi = (pair[0] as char).to_digit(16).unwrap_or(0) as u8;
            let lo = (pair[1] as char).to_digit(16).unwrap_or(0) as u8;
            out.push(hi << 4 | lo);
        }
    }
    Ok(out)
}

pub fn run(a: PluginArgs) -> Result<(), Failure> {
    let mut args = a.args.into_iter().peekable();
    let mut program = None;
    if args.peek().map(String::as_str) == Some("--program") {
        args.next();
        program = Some(
            args.next()
                .ok_or_else(|| Failure::usage("--program needs its base16 bytes"))?,
        );
    }
    let program = match program {
        Some(p) => p,
        None => {
            let mut line = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut line)
                .map_err(|e| Failure::usage(format!("reading the program from stdin: {e}")))?;
            line
        }
    };
    let mut memory = String::new();
    if args.peek().is_some_and(|a| !a.starts_with("--")) {
        memory = args.next().unwrap_or_default();
    }
    let (mut debug, mut elf) = (false, false);
    for a in args {
        match a.as_str() {
            "--debug" => debug = true,
            "--elf" => elf = true,
            other => return Err(Failure::usage(format!("unexpected argument `{other}`"))),
        }
    }
    let unreadable = |m: String| {
        if debug {
            println!("Failed to load program: {m}");
        }
        Failure::usage(m)
    };
    let bytes = base16("the program", &program).map_err(unreadable)?;
    let mem = base16("the memory", &memory).map_err(unreadable)?;
    let outcome = if elf {
        run_elf(&bytes, &mem)
    } else {
        let slots = match ironbpf_isa::slots_from_bytes(&bytes) {
            Ok(s) => s,
            Err(e) => return fail(debug, &e.to_string()),
        };
        InterpEngine::default().run(&slots, &mem)
    };
    match outcome {
        EngineOutcome::Returned(r0) => {
            println!("{r0:x}");
            Ok(())
        }
        EngineOutcome::Refused(m) | EngineOutcome::Failed(m) | EngineOutcome::Skipped(m) => {
            fail(debug, &m)
        }
    }
}

fn fail(debug: bool, message: &str) -> Result<(), Failure> {
    if debug {
        println!("Failed to load program: {message}");
    }
    Err(Failure::failed(message.to_string()))
}

fn run_elf(bytes: &[u8], mem: &[u8]) -> EngineOutcome {
    let obj = match ironbpf_loader::load_bytes(bytes, &ironbpf_loader::LoadOptions::default()) {
        Ok(o) => o,
        Err(e) => return EngineOutcome::Refused(e.to_string()),
    };
    let Some(p) = obj
        .programs
        .iter()
        .find(|p| p.prog_type == ironbpf_vm::progtype::XDP.kernel_id())
    else {
        return EngineOutcome::Refused("the object has no XDP program".into());
    };
    let prog = match ironbpf_isa::Program::from_bytes(&p.insns) {
        Ok(p) => p,
        Err(e) => return EngineOutcome::Refused(e.to_string()),
    };
    let vm = match ironbpf_vm::Interpreter::new(
        &prog,
        &ironbpf_vm::HelperRegistry::new(),
        Default::default(),
    ) {
        Ok(v) => v,
        Err(e) => return EngineOutcome::Refused(e.to_string()),
    };
    let mut ctx = vec![0u8; ironbpf_vm::progtype::XDP.ctx_size as usize];
    let mut pkt = mem.to_vec();
    match vm.run_ctx(&ironbpf_vm::progtype::XDP, &mut ctx, Some(&mut pkt), None) {
        Ok(r0) => EngineOutcome::Returned(r0),
        Err(e) => EngineOutcome::Failed(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::base16;

    #[test]
    fn base16_takes_what_the_runner_sends() {
        let want = vec![0xb7, 0, 0, 0, 0x2a, 0, 0, 0];
        assert_eq!(base16("p", "b70000002a000000").unwrap(), want);
        assert_eq!(base16("p", "b7 00 00 00 2a 00 00 00\n").unwrap(), want);
        assert_eq!(base16("p", "B700 0000 2A00 0000").unwrap(), want);
        assert_eq!(base16("p", "").unwrap(), Vec::<u8>::new());
    }

    #[test]
    fn base16_refuses_what_it_cannot_read() {
        assert_eq!(
            base16("the program", "b7 0g").unwrap_err(),
            "the program: `g` at column 5 is not a hex digit"
        );
        assert_eq!(
            base16("the memory", "b70").unwrap_err(),
            "the memory: `b70` at column 1 has an odd number of hex digits (bytes are two digits each)"
        );
    }
}
