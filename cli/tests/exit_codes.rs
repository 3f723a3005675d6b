//! Exit codes, as `ironbpf --help` promises them: 0 success, 1 a program,
//! verifier or comparison failure, 2 bad usage or unreadable input. Every
//! subcommand that reads a file is given one that does not exist and must
//! exit with 2 and one clean line naming the path once.

use std::path::PathBuf;
use std::process::{Command, Output};

fn ironbpf(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ironbpf"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("run ironbpf")
}

fn example(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../examples")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

/// Every subcommand that reads an input file, with `@` where the file goes.
const COMMANDS: &[&[&str]] = &[
    &["test", "@"],
    &["asm", "@"],
    &["disasm", "@"],
    &["run", "@"],
    &["jit", "@"],
    &["map", "dump", "@"],
    &["verify", "@"],
    &["prog", "list", "@"],
    &["compare", "@"],
    &["kernel", "verify", "@"],
    &["kernel", "run", "@"],
    &["kernel", "xlated", "@"],
    &["kernel", "jited", "@"],
];

#[test]
fn a_missing_file_is_exit_code_2_and_one_line_naming_it_once() {
    let missing = "nosuch-ironbpf-input.o";
    assert!(!std::path::Path::new(missing).exists());
    for cmd in COMMANDS {
        let args: Vec<&str> = cmd
            .iter()
            .map(|a| if *a == "@" { missing } else { a })
            .collect();
        let out = ironbpf(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(
            err,
            format!("error: {missing}: No such file or directory\n"),
            "{args:?}: one line, the path once"
        );
        assert!(out.stdout.is_empty(), "{args:?}: nothing on stdout");
    }
}

#[test]
fn other_unreadable_inputs_are_exit_code_2() {
    let obj = example("xdp_firewall.o");
    let cases: &[&[&str]] = &[
        &["run", &obj, "--data", "nosuch.pkt"],
        &["run", &obj, "--ctx", "nosuch.ctx"],
        &["run", &obj, "--map", "blocked_ports=@nosuch.json"],
        &["run", &obj, "--repeat", "0"],
        &["run", &obj, "--type", "nosuchtype"],
        &["run", &obj, "--nosuch-option"],
        &["map", "dump", &obj, "--map", "nosuch_map=[]"],
    ];
    for args in cases {
        let out = ironbpf(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(!err.contains("os error"), "{args:?}: {err}");
    }
}

#[test]
fn a_file_that_is_not_an_object_is_exit_code_2() {
    // This test's own source is not an ELF object.
    let not_elf = file!();
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(not_elf);
    let path = path.to_string_lossy();
    for cmd in [
        &["run"][..],
        &["prog", "list"],
        &["verify"],
        &["map", "dump"],
    ] {
        let mut args = cmd.to_vec();
        args.push(&path);
        let out = ironbpf(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
    }
}

#[test]
fn a_run_that_succeeds_is_0_and_a_refused_program_is_1() {
    let obj = example("xdp_firewall.o");
    let ok = ironbpf(&["run", &obj, "--prog", "xdp_firewall"]);
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    // A program ironbpf's verifier refuses (it stores through a map
    // value pointer it never checked for NULL): exit code 1, the message
    // names the instruction and the verifier's line; --no-verify runs it in
    // the checked interpreter, which faults on the same store.
    let corpus = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/corpus/ebpf-samples/build/nullmapref.o");
    if !corpus.exists() {
        println!("skipped: ../shared not found ({})", corpus.display());
        return;
    }
    let corpus = corpus.to_string_lossy();
    let refused = ironbpf(&["run", "--type", "xdp", &corpus]);
    let err = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{err}");
    assert_eq!(
        err,
        "error: program `test_repro`: refused by ironbpf's verifier: insn 7: R0 invalid mem access \
         'map_value_or_null' (--no-verify runs it unverified in the checked interpreter)\n"
    );
    let unverified = ironbpf(&["run", "--type", "xdp", "--no-verify", &corpus]);
    let err = String::from_utf8_lossy(&unverified.stderr);
    assert_eq!(unverified.status.code(), Some(1), "{err}");
    assert!(
        err.starts_with("error: program `test_repro`: insn 7 (*(u32 *)(r0 +0) = r6): invalid store of 4 bytes at 0x0"),
        "{err}"
    );
}

#[test]
fn a_test_folder_with_data_files_only_in_subfolders_names_them() {
    // The process id keeps parallel runs of the suite apart.
    let root = std::env::temp_dir().join(format!("ironbpf-test-folders-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    for sub in ["suite_b", "suite_a", "empty"] {
        std::fs::create_dir_all(root.join(sub)).expect("mkdir");
    }
    for sub in ["suite_a", "suite_b"] {
        std::fs::write(
            root.join(sub).join("one.data"),
            "-- asm\nexit\n-- result\n0x0\n",
        )
        .expect("write");
    }
    let out = ironbpf(&["test", &root.to_string_lossy()]);
    let err = String::from_utf8_lossy(&out.stderr);
    let _ = std::fs::remove_dir_all(&root);
    assert_eq!(out.status.code(), Some(2), "{err}");
    let a = err.find("suite_a").expect("names suite_a");
    let b = err.find("suite_b").expect("names suite_b");
    assert!(a < b, "sorted: {err}");
    assert!(!err.contains("empty"), "{err}");
}
