//! Shows what a fuzz input is: `replay TARGET FILE` prints the program the
//! generator makes of it (for the program targets), and the verifier's
//! verdict, statistics and time on it. For reports, not for fuzzing: build
//! it with plain `cargo run --release --bin replay` (no sanitizer).
use arbitrary::Unstructured;
use ironbpf_fuzz::{gen_program, map_infos};
use ironbpf_progtype::ProgTypeId;
use ironbpf_verifier::{verify, VerifyOptions};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(target), Some(file)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: replay TARGET FILE");
        std::process::exit(2);
    };
    let data = std::fs::read(file).unwrap_or_else(|e| {
        eprintln!("{file}: {e}");
        std::process::exit(2)
    });
    // The verifier's options as the target sets them: the soundness and
    // JIT targets verify an XDP program, privileged, without a log; the
    // verifier target takes the program type, privilege and log level from
    // its first byte (see fuzz_targets/verifier.rs).
    let mut opts = VerifyOptions::new(ProgTypeId::Xdp);
    opts.log_level = 0;
    let insns = match target.as_str() {
        "soundness" | "jit_vs_interp" => {
            let mut u = Unstructured::new(&data);
            gen_program(&mut u, 96).unwrap_or_default()
        }
        "interp_checked" | "verifier" => {
            let Some((&mode, rest)) = data.split_first() else {
                return;
            };
            if target == "verifier" {
                let types = [
                    ProgTypeId::Xdp,
                    ProgTypeId::SocketFilter,
                    ProgTypeId::SchedCls,
                    ProgTypeId::Kprobe,
                    ProgTypeId::Tracepoint,
                ];
                opts = VerifyOptions::new(types[(mode as usize >> 1) % types.len()]);
                opts.privileged = mode & 0x10 == 0;
                opts.log_level = if mode & 0x20 != 0 { 2 } else { 1 };
            }
            if mode & 1 == 0 {
                let n = rest.len().min(512 * 8) / 8 * 8;
                ironbpf_isa::slots_from_bytes(&rest[..n]).unwrap_or_default()
            } else {
                let mut u = Unstructured::new(rest);
                gen_program(&mut u, 128).unwrap_or_default()
            }
        }
        other => {
            eprintln!("replay shows program targets, not {other}");
            std::process::exit(2)
        }
    };
    if let Some(out) = std::env::var_os("REPLAY_DUMP") {
        // The raw slots, for loading them elsewhere (the kernel).
        if let Err(e) = std::fs::write(&out, ironbpf_isa::slots_to_bytes(&insns)) {
            eprintln!("REPLAY_DUMP: {e}");
        }
    }
    match ironbpf_isa::Program::from_slots(insns.clone()) {
        Ok(p) => print!("{}", ironbpf_isa::disasm_program(&p)),
        Err(e) => {
            println!("not a valid program: {e}");
            for (i, s) in insns.iter().enumerate() {
                println!("{i}: {s:?}");
            }
        }
    }
    opts.maps = map_infos();
    let t = std::time::Instant::now();
    let out = verify(&insns, &opts);
    println!(
        "verifier ({:?}, privileged {}, log level {}): {:?} in {:?}; processed {} insns, total_states {}, peak_states {}, max_states_per_insn {}, log {} bytes",
        opts.prog_type,
        opts.privileged,
        opts.log_level,
        out.result.as_ref().map(|_| "accepted").map_err(|r| r.to_string()),
        t.elapsed(),
        out.stats.processed_insns,
        out.stats.total_states,
        out.stats.peak_states,
        out.stats.max_states_per_insn,
        out.log.len()
    );
}
