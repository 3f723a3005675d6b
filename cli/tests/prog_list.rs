//! `ironbpf prog list` over the shared corpus: every object parses and every
//! program is listed with its type; the hostile files of `invalid/` end
//! cleanly and quickly, the corrupt ones refused with an error that names
//! the section, symbol or offset at fault.

// The corpus tables (which objects need a program type, which the loader
// refuses) are the loader's; share them rather than copy them.
#[path = "../../loader/tests/common/mod.rs"]
mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ironbpf_loader::prog_type_name;

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    took: Duration,
}

/// Runs the built `ironbpf` with `args`, killing it after `limit`.
fn ironbpf(args: &[&str], limit: Duration) -> Run {
    let dir = std::env::temp_dir().join(format!("ironbpf-prog-list-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let tag = NEXT.fetch_add(1, Ordering::Relaxed);
    let (out_path, err_path) = (
        dir.join(format!("{tag}.out")),
        dir.join(format!("{tag}.err")),
    );
    let start = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ironbpf"))
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .expect("spawn ironbpf");
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("ironbpf {args:?} did not end within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let took = start.elapsed();
    let run = Run {
        code: status.code(),
        stdout: std::fs::read_to_string(&out_path).unwrap(),
        stderr: std::fs::read_to_string(&err_path).unwrap(),
        took,
    };
    let _ = std::fs::remove_file(out_path);
    let _ = std::fs::remove_file(err_path);
    assert!(
        !run.stderr.contains("panicked"),
        "ironbpf {args:?} panicked: {}",
        run.stderr
    );
    assert!(
        run.code.is_some(),
        "ironbpf {args:?} was killed by a signal: {status:?}"
    );
    run
}

fn json(run: &Run, what: &str) -> serde_json::Value {
    serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("{what}: --json output is not JSON ({e}): {}", run.stdout))
}

const LIMIT: Duration = Duration::from_secs(20);

#[test]
fn every_corpus_object_lists_every_program_with_its_type() {
    if !common::corpus_present("every_corpus_object_lists_every_program_with_its_type") {
        return;
    }
    let objects = common::corpus_objects();
    assert_eq!(objects.len(), 124, "corpus objects outside invalid/");
    let known: Vec<&str> = (1..=32).map(prog_type_name).collect();
    let (mut programs, mut untyped, mut maps) = (0, 0, 0);
    for (rel, path) in &objects {
        let p = path.to_str().unwrap();
        let text = ironbpf(&["prog", "list", p], LIMIT);
        assert_eq!(text.code, Some(0), "{rel}: {}", text.stderr);
        let listed = ironbpf(&["prog", "list", "--json", p], LIMIT);
        assert_eq!(listed.code, Some(0), "{rel}: {}", listed.stderr);
        let doc = json(&listed, rel);
        let progs = doc["programs"].as_array().expect("programs");
        assert!(!progs.is_empty(), "{rel}: no programs listed");
        maps += doc["maps"].as_array().expect("maps").len();
        for prog in progs {
            let name = prog["name"].as_str().unwrap();
            let ty = prog["type"].as_str().unwrap();
            let insns = prog["insns"].as_u64().unwrap();
            assert!(!name.is_empty() && insns > 0, "{rel}: {prog}");
            if ty == "unknown" {
                // Only where the section name says nothing and the loader's
                // table knows the type the object's project gives it.
                assert_eq!(prog["loadable"], false, "{rel}: {prog}");
                assert!(
                    common::type_for(rel).is_some()
                        || common::REFUSED.iter().any(|(n, _)| n == rel),
                    "{rel}: {name} has no type"
                );
                untyped += 1;
            } else {
                assert!(known.contains(&ty), "{rel}: {name}: type {ty}");
                assert_eq!(prog["loadable"], true, "{rel}: {prog}");
            }
            // The text listing has the same program with the same type.
            assert!(
                text.stdout.lines().any(|l| {
                    let mut w = l.split_whitespace();
                    w.next() == Some(name) && w.next() == Some(ty)
                }),
                "{rel}: `{name} {ty}` is not in the listing:\n{}",
                text.stdout
            );
            programs += 1;
        }
        // Given the type its project loads it as, every program has it.
        if let Some(t) = common::type_for(rel) {
            let run = ironbpf(
                &["prog", "list", "--json", "--type", prog_type_name(t), p],
                LIMIT,
            );
            assert_eq!(run.code, Some(0), "{rel}: {}", run.stderr);
            let doc = json(&run, rel);
            for prog in doc["programs"].as_array().unwrap() {
                assert_eq!(prog["loadable"], true, "{rel}: {prog}");
                assert!(
                    known.contains(&prog["type"].as_str().unwrap()),
                    "{rel}: {prog}"
                );
            }
        }
        // The two objects that call a function they do not define are listed,
        // and refused with the loader's error once the type is known.
        if let Some((_, msg)) = common::REFUSED.iter().find(|(n, _)| n == rel) {
            let run = ironbpf(&["prog", "list", "--type", "xdp", p], LIMIT);
            assert_eq!(run.code, Some(1), "{rel}");
            assert!(run.stderr.contains(msg), "{rel}: {}", run.stderr);
            assert!(run.stdout.contains("func"), "{rel}: {}", run.stdout);
        }
    }
    println!("prog list: 124 objects, {programs} programs ({untyped} without a type from their section), {maps} maps");
    assert_eq!(programs, 242);
    assert_eq!(untyped, 70);
}

#[test]
fn invalid_objects_end_cleanly_within_5_s() {
    if !common::corpus_present("invalid_objects_end_cleanly_within_5_s") {
        return;
    }
    let dir = common::corpus_dir().join("invalid");
    let mut files = Vec::new();
    common::walk(&dir, &mut files);
    assert_eq!(files.len(), 11);
    // The structurally corrupt files, with the start of the error naming the
    // section, symbol or offset at fault; the others list.
    let corrupt: &[(&str, &str)] = &[
        ("58087ea4ff41695f3186d628a3250b26dc8d237a", "symbol 4: name offset 0x200 is outside the string table"),
        ("662b334a22904023c13f11008e072076a4f4d215", "symbol 123: name offset 0xfc0000 is outside the string table"),
        ("806cc077e56f0ec32236c99055714f63649e7a38", "section header table (e_shoff 0x510, e_shnum 16)"),
        ("ab3408afd06d68dd7e73bf21bde38350d9751a78", "section .BTF: invalid BTF: type [1] at offset 0x18 has unknown kind 0"),
        ("af99e766f6ba44fd7f2135c3e325c817224b99a3", "section #17: name offset 0x20008c is outside the section-name string table"),
        ("c049438cf649269921736e7306231385350dea58", "section #3: name offset 0x80001 is outside the section-name string table"),
        ("badsymsize.o", "symbol table section .symtab (#10, offset 0x0, sh_entsize 8, sh_link 240 of 11 sections)"),
    ];
    let limit = Duration::from_secs(5);
    for f in &files {
        let name = f.file_name().unwrap().to_str().unwrap();
        let p = f.to_str().unwrap();
        for typed in [false, true] {
            let mut args = vec!["prog", "list", p];
            if typed {
                args.extend(["--type", "xdp"]);
            }
            let run = ironbpf(&args, limit);
            let code = run.code.unwrap();
            // 2: not an ELF object ironbpf can read; 1: an object whose
            // programs or symbols the loader refuses.
            assert!((0..=2).contains(&code), "invalid/{name}: exit {code}");
            match corrupt.iter().find(|(n, _)| *n == name) {
                Some((_, msg)) => {
                    assert_ne!(code, 0, "invalid/{name}: {}", run.stdout);
                    assert!(
                        run.stderr
                            .contains(&format!("{}: {msg}", Path::new(p).display())),
                        "invalid/{name}: {}",
                        run.stderr
                    );
                }
                None if name == "invalid-lddw.o" && typed => {
                    // Its code is corrupt: `r1 = ... ll` cut after the first slot.
                    assert_eq!(code, 1, "invalid/{name}");
                    assert!(
                        run.stderr.contains(
                            "section .text: ld_imm64 at offset 0x8 (insn 1) is missing its second slot"
                        ),
                        "invalid/{name}: {}",
                        run.stderr
                    );
                }
                None => assert_eq!(code, 0, "invalid/{name}: {}", run.stderr),
            }
            println!(
                "invalid/{name} (typed: {typed}): exit {code} in {:?}",
                run.took
            );
        }
    }
}
