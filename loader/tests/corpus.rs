//! The loader against the ebpf-samples corpus, the hostile files of `invalid/`, our own fixture
//! (exact relocated instructions and line info) and mutated copies of it.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use ironbpf_loader::{
    load_bytes, load_file, prog_type, LoadError, LoadOptions, MapKind, Object, CORE_POISON_IMM,
};

mod common;
use common::{corpus_dir, fixtures, walk, NEEDS_TYPE, REFUSED};

/// Structural checks on a linked object: every map reference, call and function pointer lands
/// inside the object, func_info starts at 0 and increases.
fn check_linked(obj: &Object, what: &str) {
    for p in &obj.programs {
        let ctx = format!("{what}: program {} (section {})", p.name, p.section);
        assert!(
            p.prog_type != ironbpf_progtype::ProgTypeId::Unspec.kernel_id(),
            "{ctx}: no program type"
        );
        assert_ne!(p.prog_type_name, "unknown", "{ctx}");
        assert!(
            !p.insns.is_empty() && p.insns.len() % 8 == 0,
            "{ctx}: {} bytes",
            p.insns.len()
        );
        let n = p.insns.len() / 8;
        let mut i = 0;
        while i < n {
            let c = &p.insns[i * 8..i * 8 + 8];
            let src = c[1] >> 4;
            let imm = i32::from_le_bytes([c[4], c[5], c[6], c[7]]);
            if c[0] == 0x18 {
                assert!(i + 1 < n, "{ctx}: ld_imm64 at {i} without second slot");
                let imm2 = i32::from_le_bytes(p.insns[i * 8 + 12..i * 8 + 16].try_into().unwrap());
                match src {
                    5 => assert!(
                        (imm as usize) < obj.maps.len(),
                        "{ctx}: insn {i}: map {imm}"
                    ),
                    6 => {
                        let m = &obj.maps[imm as usize];
                        assert!(
                            imm2 >= 0 && (imm2 as u32) <= m.value_size,
                            "{ctx}: insn {i}: {} + {imm2}",
                            m.name
                        );
                        assert!(matches!(m.kind, MapKind::GlobalData(_)), "{ctx}: insn {i}");
                    }
                    4 => assert!(
                        (i as i64 + 1 + i64::from(imm)) < n as i64,
                        "{ctx}: insn {i}: func ptr {imm}"
                    ),
                    _ => {}
                }
                i += 2;
                continue;
            }
            if c[0] == 0x85 && src == 1 {
                let t = i as i64 + 1 + i64::from(imm);
                assert!(
                    t >= 0 && t < n as i64,
                    "{ctx}: insn {i}: call {imm} lands outside"
                );
                if !p.func_info.is_empty() {
                    assert!(
                        p.func_info.iter().any(|f| f.insn as i64 == t),
                        "{ctx}: call target {t} is no function"
                    );
                }
            }
            i += 1;
        }
        if let Some(f) = p.func_info.first() {
            assert_eq!(f.insn, 0, "{ctx}: first func_info");
            assert!(
                p.func_info.windows(2).all(|w| w[0].insn < w[1].insn),
                "{ctx}: func_info order"
            );
        }
        assert!(
            p.line_info.iter().all(|l| l.insn < n),
            "{ctx}: line_info past the end"
        );
    }
}

#[test]
fn corpus_objects_parse() {
    if !common::corpus_present("corpus_objects_parse") {
        return;
    }
    let root = corpus_dir();
    let mut files = Vec::new();
    walk(&root, &mut files);
    let files: Vec<PathBuf> = files
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "o"))
        .filter(|p| !p.starts_with(root.join("invalid")))
        .collect();
    assert_eq!(files.len(), 124, "corpus objects outside invalid/");
    let (mut parsed, mut refused, mut programs, mut with_override, mut core) = (0, 0, 0, 0, 0);
    let mut by_type = std::collections::BTreeMap::new();
    for f in &files {
        let rel = f
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let needs = NEEDS_TYPE.iter().find(|(n, _)| *n == rel).map(|(_, t)| *t);
        let refuse = REFUSED.iter().find(|(n, _)| *n == rel).map(|(_, m)| *m);
        let needs = needs.or(refuse.map(|_| prog_type::XDP));
        let first = load_file(f, &LoadOptions::default());
        let result = match (&first, needs) {
            (Err(LoadError::UnknownProgramType { section, .. }), Some(t)) => {
                assert!(!section.is_empty());
                let msg = first.as_ref().unwrap_err().to_string();
                assert!(
                    msg.contains("--type") && msg.contains(section.as_str()),
                    "{rel}: {msg}"
                );
                with_override += 1;
                load_file(
                    f,
                    &LoadOptions {
                        prog_type_override: Some(t),
                        ..Default::default()
                    },
                )
            }
            (_, Some(_)) => panic!("{rel}: expected an unknown-program-type error, got {first:?}"),
            _ => first,
        };
        match (result, refuse) {
            (Ok(obj), None) => {
                parsed += 1;
                programs += obj.programs.len();
                assert!(!obj.programs.is_empty(), "{rel}: no programs");
                check_linked(&obj, &rel);
                for p in &obj.programs {
                    *by_type.entry(p.prog_type_name).or_insert(0) += 1;
                    core += p.core_relocs_applied;
                    assert_eq!(
                        p.core_relocs_poisoned, 0,
                        "{rel}: {} poisoned CO-RE relocations",
                        p.name
                    );
                }
            }
            (Err(e), Some(expected)) => {
                refused += 1;
                assert_eq!(e.to_string(), expected, "{rel}");
            }
            (r, _) => panic!("{rel}: unexpected {:?}", r.map(|o| o.programs.len())),
        }
    }
    println!(
        "corpus: {parsed} objects parsed ({with_override} with a program type given), {refused} refused, {programs} programs, {core} CO-RE relocations applied; by type: {by_type:?}"
    );
    assert_eq!(parsed, 122);
    assert_eq!(refused, 2);
    assert_eq!(with_override, NEEDS_TYPE.len() + REFUSED.len());
    assert_eq!(programs, 240);
    assert_eq!(core, 27);
}

/// Loads in a thread; `None` if it did not end within 5 s.
fn load_with_timeout(path: PathBuf, opts: LoadOptions) -> Option<Result<Object, LoadError>> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(load_file(&path, &opts));
    });
    rx.recv_timeout(Duration::from_secs(5)).ok()
}

#[test]
fn invalid_objects_end_cleanly() {
    if !common::corpus_present("invalid_objects_end_cleanly") {
        return;
    }
    let dir = corpus_dir().join("invalid");
    let mut files = Vec::new();
    walk(&dir, &mut files);
    assert_eq!(files.len(), 11);
    // (file, expected outcome): Err(message) or Ok(number of programs). A program type is given
    // so that objects whose programs sit in .text or in custom sections get past type inference
    // and meet the structural checks.
    let expected: &[(&str, Result<usize, &str>)] = &[
        // symbol names point outside .strtab
        ("58087ea4ff41695f3186d628a3250b26dc8d237a", Err("symbol 4: name offset 0x200 is outside the string table")),
        ("662b334a22904023c13f11008e072076a4f4d215", Err("symbol 123: name offset 0xfc0000 is outside the string table")),
        // truncated section header table
        ("806cc077e56f0ec32236c99055714f63649e7a38", Err("section header table (e_shoff 0x510, e_shnum 16)")),
        // .BTF type record with kind 0
        ("ab3408afd06d68dd7e73bf21bde38350d9751a78", Err("section .BTF: invalid BTF: type [1] at offset 0x18 has unknown kind 0")),
        // section names outside .strtab
        ("af99e766f6ba44fd7f2135c3e325c817224b99a3", Err("section #17: name offset 0x20008c is outside the section-name string table")),
        ("c049438cf649269921736e7306231385350dea58", Err("section #3: name offset 0x80001 is outside the section-name string table")),
        // .symtab with sh_entsize 8 and sh_link 240
        ("badsymsize.o", Err("symbol table section .symtab (#10, offset 0x0, sh_entsize 8, sh_link 240 of 11 sections)")),
        // `r1 = ll` cut after its first slot
        ("invalid-lddw.o", Err("section .text: ld_imm64 at offset 0x8 (insn 1) is missing its second slot")),
        // damage confined to DWARF (a renamed .debug_line): the code itself is sound
        ("ef2e42c0bfcf4dab6b9c3926759365b6dfa73634", Ok(1)),
        // fuzzed copies whose code, maps and BTF are consistent: the section is named "bind"
        ("dac31099c3bb5b6395908c82cc8540e77a6a1849", Ok(1)),
        // large (36 programs); must not take long
        ("timeout-29db93548c671165313b314d4f83a3eefa24df37", Ok(36)),
    ];
    for f in &files {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        let (_, want) = expected
            .iter()
            .find(|(n, _)| *n == name)
            .unwrap_or_else(|| panic!("no expectation for invalid/{name}"));
        let opts = LoadOptions {
            prog_type_override: Some(prog_type::XDP),
            ..Default::default()
        };
        let got = load_with_timeout(f.clone(), opts)
            .unwrap_or_else(|| panic!("invalid/{name}: did not finish within 5 s"));
        match (got, want) {
            (Ok(obj), Ok(n)) => {
                assert_eq!(obj.programs.len(), *n, "invalid/{name}");
                check_linked(&obj, &name);
            }
            (Err(e), Err(msg)) => {
                assert!(
                    e.to_string().starts_with(msg),
                    "invalid/{name}: got {e}, expected {msg}"
                );
            }
            (got, want) => panic!(
                "invalid/{name}: got {:?}, expected {want:?}",
                got.map(|o| o.programs.len())
            ),
        }
    }
    // Without a type the custom-named ones are refused with the hint.
    let e = load_file(
        &dir.join("dac31099c3bb5b6395908c82cc8540e77a6a1849"),
        &LoadOptions::default(),
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "section bind: cannot infer the program type of program BindMonitor from the section name, and its ctx argument is `bind_md_t *`, which names no program type; give the type explicitly (--type TYPE)"
    );
}

fn insn(p: &[u8], i: usize) -> (u8, u8, u8, i16, i32) {
    let c = &p[i * 8..i * 8 + 8];
    (
        c[0],
        c[1] & 0xf,
        c[1] >> 4,
        i16::from_le_bytes([c[2], c[3]]),
        i32::from_le_bytes([c[4], c[5], c[6], c[7]]),
    )
}

fn fixture_opts() -> LoadOptions {
    LoadOptions {
        target_btf: Some(fixtures().join("target.btf")),
        prog_type_override: None,
        ..Default::default()
    }
}

#[test]
fn fixture_relocations_exact() {
    let obj = load_file(&fixtures().join("fixture.o"), &fixture_opts()).unwrap();
    assert_eq!(obj.license, "GPL");
    assert_eq!(obj.kern_version, None);
    assert!(obj.btf.is_some());

    let names: Vec<&str> = obj.maps.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(
        names,
        [".maps:counts", ".data", ".rodata", ".rodata.str1.1", ".bss"]
            .map(|n| n.trim_start_matches(".maps:"))
    );
    let counts = &obj.maps[0];
    assert_eq!(
        (
            counts.map_type,
            counts.key_size,
            counts.value_size,
            counts.max_entries,
            counts.pinning,
            &counts.kind
        ),
        (1, 4, 8, 16, 1, &MapKind::Btf)
    );
    assert!(counts.btf_key_type_id != 0 && counts.btf_value_type_id != 0);
    let data = &obj.maps[1];
    assert_eq!(
        (
            data.map_type,
            data.key_size,
            data.value_size,
            data.max_entries
        ),
        (2, 4, 16, 1)
    );
    assert_eq!(
        data.initial_value.as_deref(),
        Some(&[7, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0][..])
    );
    assert!(!data.frozen);
    let ro = &obj.maps[2];
    assert_eq!(ro.initial_value.as_deref(), Some(&[3, 0, 0, 0][..]));
    assert!(ro.frozen);
    assert_eq!(ro.map_flags, 0x80, "BPF_F_RDONLY_PROG");
    assert_eq!(
        obj.maps[3].initial_value.as_deref(),
        Some(&b"tgid %d\n\0"[..])
    );
    assert_eq!(
        obj.maps[4].initial_value.as_deref(),
        Some(&[0, 0, 0, 0][..])
    );
    assert_eq!(obj.maps[4].kind, MapKind::GlobalData(".bss".into()));

    assert_eq!(obj.programs.len(), 1);
    let p = &obj.programs[0];
    assert_eq!(
        (
            p.name.as_str(),
            p.section.as_str(),
            p.prog_type,
            p.prog_type_name
        ),
        ("prog", "xdp", 6, "xdp")
    );
    assert_eq!(p.expected_attach_type, 37);
    assert_eq!(p.insns.len() / 8, 55);
    assert_eq!(p.core_relocs_applied, 1);
    let i = |k| insn(&p.insns, k);
    // map `counts` -> BPF_PSEUDO_MAP_IDX, map 0
    assert_eq!(i(4), (0x18, 1, 5, 0, 0));
    assert_eq!(i(5), (0, 0, 0, 0, 0));
    // data_var2 = .data + 8 -> BPF_PSEUDO_MAP_IDX_VALUE, map 1, offset 8
    assert_eq!(i(8), (0x18, 1, 6, 0, 1));
    assert_eq!(i(9), (0, 0, 0, 0, 8));
    // CO-RE: &t->tgid, offset 4 locally, 12 in the target BTF
    assert_eq!(i(15), (0xb7, 1, 0, 0, 12));
    // loop_cb address -> BPF_PSEUDO_FUNC, placed at 42 = 23 + 18 + 1
    assert_eq!(i(23), (0x18, 2, 4, 0, 18));
    // "tgid %d\n" in .rodata.str1.1 -> map 3, offset 0
    assert_eq!(i(29), (0x18, 1, 6, 0, 3));
    assert_eq!(i(30), (0, 0, 0, 0, 0));
    // ro_var -> .rodata map 2
    assert_eq!(i(33), (0x18, 1, 6, 0, 2));
    // call add_bss, placed at 49 = 36 + 12 + 1
    assert_eq!(i(36), (0x85, 0, 1, 0, 12));
    // data_var -> .data + 0
    assert_eq!(i(37), (0x18, 1, 6, 0, 1));
    assert_eq!(i(38), (0, 0, 0, 0, 0));
    // bss_var in both subprograms -> .bss map 4
    assert_eq!(i(42), (0x18, 2, 6, 0, 4));
    assert_eq!(i(50), (0x18, 2, 6, 0, 4));
    // helper calls untouched
    assert_eq!(i(6), (0x85, 0, 0, 0, 1));
    assert_eq!(i(27), (0x85, 0, 0, 0, 181));

    let funcs: Vec<(usize, &str)> = p
        .func_info
        .iter()
        .map(|f| (f.insn, f.name.as_str()))
        .collect();
    assert_eq!(funcs, [(0, "prog"), (42, "loop_cb"), (49, "add_bss")]);
    assert_eq!(p.line_info.len(), 22);
    let l0 = &p.line_info[0];
    assert_eq!(
        (
            l0.insn,
            l0.file.as_str(),
            l0.line,
            l0.column,
            l0.source.as_str()
        ),
        (0, "./fixture.c", 55, 8, "\t__u32 key = 1;")
    );
    let l = p.line_info.iter().find(|l| l.insn == 36).unwrap();
    assert_eq!(
        (l.line, l.column, l.source.as_str()),
        (64, 9, "\treturn add_bss(ro_var) + (int)data_var;")
    );
    let l = p.line_info.iter().find(|l| l.insn == 42).unwrap();
    assert_eq!((l.line, l.source.as_str()), (48, "\tbss_var += index;"));
    let l = p.line_info.iter().find(|l| l.insn == 49).unwrap();
    assert_eq!(
        (l.line, l.column, l.source.as_str()),
        (43, 11, "\treturn x * 2 + bss_var;")
    );
    assert_eq!(l.line_col, (43 << 10) | 11);
    check_linked(&obj, "fixture");
}

#[test]
fn fixture_core_without_match_is_poisoned_and_without_target_is_an_error() {
    // A target BTF without task_struct: the relocation is poisoned as libbpf does.
    let fixture = std::fs::read(fixtures().join("fixture.o")).unwrap();
    let own_btf = fixtures().join("fixture.btf.tmp");
    let obj = load_bytes(&fixture, &fixture_opts()).unwrap();
    // The fixture's own BTF has a task_struct with tgid at 4: relocation gives 4.
    std::fs::write(&own_btf, obj.btf.as_ref().unwrap()).unwrap();
    let same = load_bytes(
        &fixture,
        &LoadOptions {
            target_btf: Some(own_btf.clone()),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(insn(&same.programs[0].insns, 15), (0xb7, 1, 0, 0, 4));
    // A BTF with no task_struct at all: poison.
    let mut other = obj.btf.clone().unwrap();
    let pos = other
        .windows(12)
        .position(|w| w == b"task_struct\0")
        .expect("name in strings");
    other[pos] = b'X';
    std::fs::write(&own_btf, &other).unwrap();
    let poisoned = load_bytes(
        &fixture,
        &LoadOptions {
            target_btf: Some(own_btf.clone()),
            ..Default::default()
        },
    )
    .unwrap();
    let _ = std::fs::remove_file(&own_btf);
    let p = &poisoned.programs[0];
    assert_eq!((p.core_relocs_applied, p.core_relocs_poisoned), (0, 1));
    assert_eq!(insn(&p.insns, 15), (0x85, 0, 0, 0, CORE_POISON_IMM));
    // An unreadable target: error naming the path.
    let e = load_bytes(
        &fixture,
        &LoadOptions {
            target_btf: Some("/nonexistent/btf".into()),
            ..Default::default()
        },
    )
    .unwrap_err();
    assert!(matches!(e, LoadError::TargetBtf { .. }), "{e}");
}

/// (name, offset, size, sh_type) of each section, read directly from the ELF64 header.
fn sections(b: &[u8]) -> Vec<(String, usize, usize, u32, usize)> {
    let u16_at = |o: usize| u16::from_le_bytes([b[o], b[o + 1]]) as usize;
    let u32_at = |o: usize| u32::from_le_bytes(b[o..o + 4].try_into().unwrap());
    let u64_at = |o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap()) as usize;
    let (shoff, shnum, shstrndx) = (u64_at(0x28), u16_at(0x3c), u16_at(0x3e));
    let hdr = |i: usize| shoff + i * 64;
    let stroff = u64_at(hdr(shstrndx) + 0x18);
    (0..shnum)
        .map(|i| {
            let h = hdr(i);
            let name_off = stroff + u32_at(h) as usize;
            let end = b[name_off..].iter().position(|&c| c == 0).unwrap();
            let name = String::from_utf8_lossy(&b[name_off..name_off + end]).into_owned();
            (name, u64_at(h + 0x18), u64_at(h + 0x20), u32_at(h + 4), h)
        })
        .collect()
}

#[test]
fn fixture_corruptions_are_named() {
    if !common::corpus_present("fixture_corruptions_are_named") {
        return;
    }
    let orig = std::fs::read(fixtures().join("fixture.o")).unwrap();
    let secs = sections(&orig);
    let find = |n: &str| secs.iter().find(|s| s.0 == n).unwrap().clone();
    let opts = fixture_opts();

    // Relocation pointing at a symbol past the end of the symbol table.
    let mut b = orig.clone();
    let (_, off, _, _, _) = find(".relxdp");
    b[off + 12..off + 16].copy_from_slice(&999u32.to_le_bytes());
    let e = load_bytes(&b, &opts).unwrap_err().to_string();
    assert!(e.starts_with("section xdp: relocation at offset 0x20: relocation #0 refers to symbol 999, but the symbol table has"), "{e}");

    // Relocation offset not on an instruction.
    let mut b = orig.clone();
    b[off..off + 8].copy_from_slice(&0x21u64.to_le_bytes());
    let e = load_bytes(&b, &opts).unwrap_err().to_string();
    assert!(
        e.starts_with("section xdp: relocation at offset 0x21: not at an instruction boundary"),
        "{e}"
    );

    // Call into the void: `call` at xdp insn 36 retargeted past .text.
    let mut b = orig.clone();
    let (_, xoff, _, _, _) = find("xdp");
    b[xoff + 36 * 8 + 4..xoff + 36 * 8 + 8].copy_from_slice(&1000i32.to_le_bytes());
    let e = load_bytes(&b, &opts).unwrap_err().to_string();
    assert!(
        e.contains("bpf-to-bpf call targets offset") && e.contains("section .text"),
        "{e}"
    );

    // BTF string section past the end of the blob.
    let mut b = orig.clone();
    let (_, boff, _, _, _) = find(".BTF");
    b[boff + 20..boff + 24].copy_from_slice(&0x10_0000u32.to_le_bytes());
    let e = load_bytes(&b, &opts).unwrap_err().to_string();
    assert!(
        e.starts_with("section .BTF: invalid BTF: string section"),
        "{e}"
    );

    // Truncated file.
    let e = load_bytes(&orig[..orig.len() / 2], &opts)
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("section header table"), "{e}");
    let e = load_bytes(&orig[..10], &opts).unwrap_err().to_string();
    assert_eq!(
        e,
        "ELF header is truncated: 10 bytes, a 64-bit header needs 64"
    );
    let e = load_bytes(b"hello", &opts).unwrap_err().to_string();
    assert_eq!(e, "not an ELF file (bad magic at offset 0)");
}

/// Deterministic random byte flips of our fixtures and of corpus objects (legacy maps, BTF maps,
/// CO-RE, many programs): every outcome is Ok or a named error, never a panic (the loader
/// catches none: a panic fails this test).
#[test]
fn mutations_never_panic() {
    if !common::corpus_present("mutations_never_panic") {
        return;
    }
    let inputs = [
        (fixtures().join("fixture.o"), fixture_opts()),
        (
            fixtures().join("core.o"),
            LoadOptions {
                target_btf: Some(fixtures().join("target_core.btf")),
                prog_type_override: None,
                ..Default::default()
            },
        ),
        (
            corpus_dir().join("linux/test_map_in_map_kern.o"),
            LoadOptions::default(),
        ),
        (
            corpus_dir().join("cilium-examples/tcprtt_sockops_bpf_bpfel.o"),
            LoadOptions::default(),
        ),
        (
            corpus_dir().join("build/map_in_map.o"),
            LoadOptions {
                prog_type_override: Some(ironbpf_progtype::ProgTypeId::Xdp.kernel_id()),
                ..Default::default()
            },
        ),
    ];
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for (path, opts) in &inputs {
        let orig = std::fs::read(path).unwrap();
        let (mut ok, mut err) = (0, 0);
        for _ in 0..1000 {
            let mut b = orig.clone();
            for _ in 0..(1 + next() % 4) {
                let pos = (next() % b.len() as u64) as usize;
                b[pos] = next() as u8;
            }
            match load_bytes(&b, opts) {
                Ok(_) => ok += 1,
                Err(_) => err += 1,
            }
        }
        assert!(ok > 0 && err > 0, "{}: ok {ok} err {err}", path.display());
    }
}

fn corpus(rel: &str, ty: Option<u32>) -> Object {
    load_file(
        &corpus_dir().join(rel),
        &LoadOptions {
            prog_type_override: ty,
            ..Default::default()
        },
    )
    .unwrap_or_else(|e| panic!("{rel}: {e}"))
}

#[test]
fn corpus_map_definitions() {
    if !common::corpus_present("corpus_map_definitions") {
        return;
    }
    // BTF map-in-map: inner template and the initial slot from .rel.maps.
    let o = corpus("build/map_in_map.o", Some(prog_type::XDP));
    let outer = o.maps.iter().find(|m| m.name == "array_of_maps").unwrap();
    assert_eq!(
        (
            outer.map_type,
            outer.key_size,
            outer.value_size,
            outer.max_entries
        ),
        (12, 4, 4, 1)
    );
    let inner = outer.inner.as_ref().unwrap();
    assert_eq!(
        (
            inner.map_type,
            inner.key_size,
            inner.value_size,
            inner.max_entries
        ),
        (2, 4, 4, 1)
    );
    assert_eq!(outer.init_slots, [(0, "inner_map".to_string())]);
    // Program array initialised with programs.
    let o = corpus("build/prog_array.o", Some(prog_type::XDP));
    let slots: Vec<(u32, &str)> = o.maps[0]
        .init_slots
        .iter()
        .map(|(i, n)| (*i, n.as_str()))
        .collect();
    assert_eq!(
        slots,
        [(0, "func0"), (1, "func1"), (2, "func2"), (3, "func3")]
    );
    // Legacy map-in-map whose inner_map_idx points into another maps/ section.
    let o = corpus("build/map_in_map_legacy.o", Some(prog_type::XDP));
    assert_eq!(o.maps[0].name, "array_of_maps");
    assert_eq!(o.maps[0].inner.as_ref().unwrap().name, "inner_map");
    assert_eq!(o.maps[0].inner.as_ref().unwrap().value_size, 8);
    // samples/bpf map-in-map without value_size: the inner map fd, 4 bytes.
    let o = corpus("linux/test_map_in_map_kern.o", None);
    let h = o.maps.iter().find(|m| m.name == "h_of_port_h").unwrap();
    assert_eq!(
        (
            h.map_type,
            h.value_size,
            h.inner.as_ref().unwrap().name.as_str()
        ),
        (13, 4, "port_h")
    );
    assert_eq!(o.kern_version, Some(267008));
    assert_eq!(o.programs[0].attach_to.as_deref(), Some("sys_connect"));
    // 28-byte legacy records.
    let o = corpus("linux/sockex1_kern.o", None);
    let m = &o.maps[0];
    assert_eq!(
        (
            m.name.as_str(),
            m.map_type,
            m.key_size,
            m.value_size,
            m.max_entries,
            &m.kind
        ),
        ("my_map", 2, 4, 8, 256, &MapKind::Legacy)
    );
    assert_eq!(
        (o.programs[0].section.as_str(), o.programs[0].prog_type),
        ("socket1", prog_type::SOCKET_FILTER)
    );
    // 36-byte iproute2 records, 7 maps in 252 bytes, plus two string sections.
    let o = corpus("ovs/datapath.o", Some(prog_type::SCHED_CLS));
    assert_eq!(o.maps.len(), 11);
    assert_eq!(
        (
            o.maps[2].name.as_str(),
            o.maps[2].key_size,
            o.maps[2].value_size
        ),
        ("flow_table", 200, 4352)
    );
    assert_eq!(
        o.maps[10].kind,
        MapKind::GlobalData(".rodata.str1.1".into())
    );
    let xdp = o.programs.iter().find(|p| p.section == "xdp").unwrap();
    assert_eq!(
        xdp.prog_type,
        prog_type::XDP,
        "named sections keep their type despite the override"
    );
    // BTF map with pinning; ring buffer with its value size cleared.
    let o = corpus("cilium-examples/kprobepin_bpf_bpfel.o", None);
    assert_eq!(o.maps[0].pinning, 1);
    let o = corpus("cilium-examples/fentry_bpf_bpfel.o", None);
    assert_eq!(
        (o.maps[0].map_type, o.maps[0].key_size, o.maps[0].value_size),
        (27, 0, 0)
    );
    let p = &o.programs[0];
    assert_eq!(
        (
            p.prog_type_name,
            p.expected_attach_type,
            p.attach_to.as_deref()
        ),
        ("tracing", 24, Some("tcp_connect"))
    );
    if Path::new("/sys/kernel/btf/vmlinux").exists() {
        assert!(p.attach_btf_id.is_some());
    }
}

/// Every CO-RE relocation kind of `core.c` against `target_core.c`'s layouts. Expected values
/// worked out from the target's DWARF (llvm-dwarfdump: `flag` at bit 173 of a u64 unit, `sflag`
/// at bit 212 of an int, `arr` at 32 with 16-byte elements, `small` a long at 160, size 176).
#[test]
fn core_relocation_kinds() {
    let opts = LoadOptions {
        target_btf: Some(fixtures().join("target_core.btf")),
        prog_type_override: None,
        ..Default::default()
    };
    let obj = load_file(&fixtures().join("core.o"), &opts).unwrap();
    let p = &obj.programs[0];
    assert_eq!(
        (p.prog_type_name, p.attach_to.as_deref()),
        ("kprobe", Some("x"))
    );
    assert_eq!((p.core_relocs_applied, p.core_relocs_poisoned), (21, 1));
    let imm = |k: usize| insn(&p.insns, k).4;
    let expect: &[(usize, i32, &str)] = &[
        (1, 8, "byte_off obj.a"),
        (
            2,
            16,
            "byte_off obj.<anon>.b (through an anonymous union in the target)",
        ),
        (4, 76, "byte_off obj.arr[2].y"),
        (6, 2, "byte_sz obj.arr[1].y"),
        (8, 0, "field_exists obj.gone (absent)"),
        (10, 1, "field_exists obj.b"),
        (12, 1, "signed obj.sflag"),
        (14, 0, "signed obj.flag"),
        (16, 16, "lshift_u64 obj.flag"),
        (18, 61, "rshift_u64 obj.flag"),
        (20, 35, "lshift_u64 obj.sflag"),
        (22, 24, "byte_off obj.sflag (load unit)"),
        (24, 8, "byte_sz obj.small"),
        (28, 1, "type_exists obj"),
        (30, 0, "type_exists missing_type"),
        (32, 176, "type_size obj"),
        (34, 1, "enumval_exists STATE_B"),
        (37, 0, "enumval_exists STATE_GONE"),
        (40, 7, "enumval_value STATE_B"),
    ];
    for &(k, v, what) in expect {
        assert_eq!(imm(k), v, "insn {k}: {what}");
    }
    // obj___v2.newer: the flavor matches struct obj, which has no `newer`: poisoned.
    assert_eq!(insn(&p.insns, 26), (0x85, 0, 0, 0, CORE_POISON_IMM));
    // target_type_id of struct obj: an id of the target BTF.
    assert!(imm(43) > 0);
    // `o->small`: u32 load at 0x30 becomes a u64 load at 160 (the field is a long in the target).
    assert_eq!(insn(&p.insns, 46), (0x79, 0, 0, 160, 0));
}
