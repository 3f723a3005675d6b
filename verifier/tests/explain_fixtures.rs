//! The explanations of hand-written C programs that break the verifier's
//! rules the way real code does (fixtures/explain/*.c, prebuilt with
//! clang-19 beside their source): each test asserts the source line of the
//! failure, the source line of the root cause, and the suggestion. The
//! explanations need no kernel.

use ironbpf_isa::RawInsn;
use ironbpf_loader::{load_file, LoadOptions, Program};
use ironbpf_progtype::desc::ProgTypeDesc;
use ironbpf_progtype::ProgTypeId;
use ironbpf_verifier::explain::{explain, lines_per_insn, Explanation, SourceLine};
use ironbpf_verifier::{verify_with_desc, MapInfo, VerifyOptions};
use std::path::PathBuf;

struct Loaded {
    insns: Vec<RawInsn>,
    lines: Vec<Option<SourceLine>>,
    opts: VerifyOptions,
}

fn fixture(name: &str, privileged: bool) -> Loaded {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/explain")
        .join(format!("{name}.o"));
    let obj = load_file(&path, &LoadOptions::default())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let p: &Program = obj.programs.first().expect("one program");
    let insns = ironbpf_isa::slots_from_bytes(&p.insns).expect("whole slots");
    let recs: Vec<(usize, SourceLine)> = p
        .line_info
        .iter()
        .map(|l| {
            (
                l.insn,
                SourceLine {
                    file: l.file.rsplit('/').next().unwrap_or(&l.file).to_string(),
                    line: l.line,
                    column: l.column,
                    text: l.source.clone(),
                },
            )
        })
        .collect();
    assert!(!recs.is_empty(), "{name}: the fixture has BTF line info");
    let lines = lines_per_insn(insns.len(), &recs);
    let mut opts = VerifyOptions::new(ProgTypeId::from_kernel_id(p.prog_type).expect("known type"));
    opts.log_level = 0;
    opts.privileged = privileged;
    opts.maps = obj
        .maps
        .iter()
        .map(|m| MapInfo {
            name: m.name.clone(),
            map_type: m.map_type,
            key_size: m.key_size,
            value_size: m.value_size,
            max_entries: m.max_entries,
            map_flags: m.map_flags,
            frozen_readonly: m.frozen,
            record: Default::default(),
        })
        .collect();
    Loaded { insns, lines, opts }
}

fn explained(name: &str, privileged: bool) -> (Loaded, Explanation) {
    let l = fixture(name, privileged);
    let desc = ProgTypeDesc::builtin(l.opts.prog_type);
    let out = verify_with_desc(&l.insns, &l.opts, desc);
    let rej = out
        .result
        .as_ref()
        .err()
        .unwrap_or_else(|| panic!("{name}: ironbpf's verifier accepted it"))
        .clone();
    let e = explain(&l.insns, &l.opts, desc, &rej, &l.lines);
    (l, e)
}

fn at_line(e: &Explanation) -> u32 {
    e.at.as_ref()
        .and_then(|s| s.source.as_ref())
        .map_or(0, |s| s.line)
}

fn cause_line(e: &Explanation) -> u32 {
    e.root_cause
        .as_ref()
        .and_then(|c| c.site.source.as_ref())
        .map_or(0, |s| s.line)
}

fn show(e: &Explanation) -> String {
    ironbpf_verifier::explain::render::text(e)
}

#[test]
fn missing_null_check_after_lookup() {
    let (_, e) = explained("null_check", true);
    assert_eq!(e.code, "E-NULL-DEREF", "{}", show(&e));
    assert_eq!(e.category, "null-pointer");
    assert_eq!(at_line(&e), 16, "fails at `*val += 1;`\n{}", show(&e));
    assert_eq!(cause_line(&e), 15, "caused by the lookup\n{}", show(&e));
    assert!(e.reason.contains("r0 may be NULL"), "{}", show(&e));
    assert!(
        e.suggestion.contains("`if (!val) return 0;`") && e.suggestion.contains("after line 15"),
        "{}",
        show(&e)
    );
}

#[test]
fn packet_bound_one_byte_short() {
    let (_, e) = explained("packet_short", true);
    assert_eq!(e.code, "E-PKT-BOUNDS", "{}", show(&e));
    assert_eq!(at_line(&e), 12, "{}", show(&e));
    assert_eq!(
        cause_line(&e),
        10,
        "the check proving 13 bytes\n{}",
        show(&e)
    );
    assert!(
        e.reason
            .contains("reaches byte 14 of a packet proven 13 bytes long"),
        "{}",
        show(&e)
    );
    assert!(
        e.suggestion.contains("`data + 14 > data_end`"),
        "{}",
        show(&e)
    );
    // The check is on the path, fallen through.
    assert!(e
        .path
        .iter()
        .any(|b| b.site.insn == e.root_cause.as_ref().unwrap().site.insn && !b.taken));
}

#[test]
fn variable_offset_into_map_value_without_bound() {
    let (_, e) = explained("map_var_offset", true);
    assert_eq!(e.code, "E-MAP-VAR-UNBOUNDED", "{}", show(&e));
    assert_eq!(e.category, "map-value-bounds");
    assert_eq!(at_line(&e), 23, "{}", show(&e));
    // The add of the index (on the same line as the store).
    assert_eq!(cause_line(&e), 23, "{}", show(&e));
    let cause = e.root_cause.as_ref().unwrap();
    assert!(cause.site.text.contains("+="), "the add: {}", show(&e));
    assert!(
        e.suggestion
            .contains("bound the index before the add at line 23: `if (idx > 63) return 0;`"),
        "{}",
        show(&e)
    );
}

#[test]
fn uninitialised_buffer_passed_to_helper() {
    let (_, e) = explained("uninit_buffer", false);
    assert_eq!(e.code, "E-UNINIT-STACK", "{}", show(&e));
    assert_eq!(
        at_line(&e),
        22,
        "the bpf_map_update_elem call\n{}",
        show(&e)
    );
    // The instruction that points r3 at the buffer (clang emits it with the
    // key's line).
    assert_eq!(cause_line(&e), 20, "{}", show(&e));
    assert!(e.reason.contains("16 bytes at fp-24"), "{}", show(&e));
    assert!(
        e.suggestion
            .contains("initialise the buffer before the call at line 22"),
        "{}",
        show(&e)
    );
}

#[test]
fn loop_the_verifier_cannot_bound() {
    let (_, e) = explained("unbounded_loop", true);
    assert_eq!(e.code, "E-LOOP-UNBOUNDED", "{}", show(&e));
    assert_eq!(e.category, "loop");
    assert_eq!(cause_line(&e), 8, "the while's back edge\n{}", show(&e));
    assert!(
        e.suggestion.contains("bound the loop at line 8"),
        "{}",
        show(&e)
    );
    // The iterations are listed once, with their count.
    assert!(e.path.iter().any(|b| b.repeats > 100), "{}", show(&e));
    // Unprivileged, the same loop is a back-edge.
    let (_, u) = explained("unbounded_loop", false);
    assert_eq!(u.code, "E-LOOP-BACK-EDGE", "{}", show(&u));
    assert_eq!(cause_line(&u), 8, "{}", show(&u));
}

#[test]
fn pointer_stored_into_map() {
    let (_, e) = explained("pointer_into_map", false);
    assert_eq!(e.code, "E-PTR-LEAK", "{}", show(&e));
    assert_eq!(at_line(&e), 19, "{}", show(&e));
    assert_eq!(cause_line(&e), 19, "{}", show(&e));
    assert!(
        e.suggestion.contains("at line 19, store a number"),
        "{}",
        show(&e)
    );
}

#[test]
fn ringbuf_record_not_submitted_on_one_path() {
    let (_, e) = explained("ringbuf_leak", true);
    assert_eq!(e.code, "E-REF-LEAK", "{}", show(&e));
    assert_eq!(e.category, "reference-leak");
    assert_eq!(at_line(&e), 26, "the exit\n{}", show(&e));
    assert_eq!(cause_line(&e), 17, "the reserve\n{}", show(&e));
    assert!(
        e.suggestion.contains("bpf_ringbuf_submit()"),
        "{}",
        show(&e)
    );
    assert!(
        e.suggestion
            .contains("leaves through the branch at line 20"),
        "{}",
        show(&e)
    );
    // The path goes through the early return's branch, taken.
    assert!(
        e.path
            .iter()
            .any(|b| b.site.source.as_ref().is_some_and(|s| s.line == 20) && b.taken),
        "{}",
        show(&e)
    );
}

#[test]
fn context_field_the_type_may_not_write() {
    let (_, e) = explained("ctx_write", true);
    assert_eq!(e.code, "E-CTX-WRITE", "{}", show(&e));
    assert_eq!(at_line(&e), 9, "{}", show(&e));
    assert_eq!(cause_line(&e), 9, "{}", show(&e));
    assert!(e.reason.contains("offset 8"), "{}", show(&e));
    assert!(
        e.suggestion
            .contains("may not write the context field at offset 8 (line 9)"),
        "{}",
        show(&e)
    );
}

#[test]
fn without_line_info_every_part_but_the_source() {
    let (l, _) = explained("null_check", true);
    let desc = ProgTypeDesc::builtin(l.opts.prog_type);
    let rej = verify_with_desc(&l.insns, &l.opts, desc)
        .result
        .unwrap_err();
    let e = explain(&l.insns, &l.opts, desc, &rej, &[]);
    assert_eq!(e.code, "E-NULL-DEREF");
    assert!(e.at.as_ref().unwrap().source.is_none());
    let c = e.root_cause.as_ref().unwrap();
    assert!(
        c.site.text.contains("call bpf_map_lookup_elem"),
        "{}",
        show(&e)
    );
    assert!(
        e.suggestion
            .contains("right after bpf_map_lookup_elem at insn"),
        "{}",
        show(&e)
    );
}

#[test]
fn kernel73_layout() {
    let (_, e) = explained("packet_short", true);
    let t = ironbpf_verifier::explain::render::kernel73(&e);
    let heads: Vec<&str> = t
        .lines()
        .filter(|l| !l.starts_with(' ') && !l.starts_with('>'))
        .map(|l| l.split(':').next().unwrap_or(""))
        .collect();
    assert_eq!(
        heads,
        [
            "Verification failed",
            "Reason",
            "At",
            "Instruction context",
            "Causal path",
            "Suggestion"
        ],
        "{t}"
    );
    assert!(t.starts_with("Verification failed: packet-bounds: "), "{t}");
}

#[test]
fn every_code_is_in_the_catalogue_doc() {
    let doc = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/errors.md"),
    )
    .expect("docs/errors.md");
    for c in ironbpf_verifier::explain::CODES {
        assert!(
            doc.contains(&format!("`{}`", c.code)),
            "docs/errors.md does not list {}",
            c.code
        );
    }
}

#[test]
fn cfg_svg_names_the_failing_block() {
    let (l, e) = explained("packet_short", true);
    let dot = ironbpf_verifier::explain::dot::cfg_dot(&l.insns, &l.lines, Some(&e));
    let mut child = match std::process::Command::new("dot")
        .arg("-Tsvg")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(_) => {
            println!("skipped: Graphviz's dot is not installed (apt-get install graphviz)");
            return;
        }
    };
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(dot.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let svg = String::from_utf8(out.stdout).unwrap();
    let popts = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..Default::default()
    };
    let doc = roxmltree::Document::parse_with_options(&svg, popts).expect("the SVG parses as XML");
    let texts: Vec<String> = doc
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text().map(str::to_string))
        .collect();
    let at = e.at.as_ref().unwrap().insn;
    assert!(
        texts
            .iter()
            .any(|t| t.contains("FAILS at insn") && t.contains(&at.to_string())),
        "the failing block's label: {texts:?}"
    );
    assert!(
        texts.iter().any(|t| t.contains("packet_short.c:12")),
        "source lines in the blocks: {texts:?}"
    );
}
