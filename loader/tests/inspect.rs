//! `inspect_file`: every program of an object is accounted for, loaded or set aside with its
//! own error, so that a listing can show objects that `load_file` refuses as a whole.

mod common;

use common::{corpus_objects, type_for, REFUSED};
use ironbpf_loader::{inspect_file, load_file, LoadError, LoadOptions};

#[test]
fn every_corpus_object_is_inspected_without_a_type() {
    let objects = corpus_objects();
    assert_eq!(objects.len(), 124);
    let (mut loaded, mut unknown_type, mut unlinked) = (0, 0, 0);
    for (rel, path) in &objects {
        let ins = inspect_file(path, &LoadOptions::default())
            .unwrap_or_else(|e| panic!("{rel}: inspection failed: {e}"));
        assert!(
            !ins.object.programs.is_empty() || !ins.refused.is_empty(),
            "{rel}: no programs at all"
        );
        loaded += ins.object.programs.len();
        for r in &ins.refused {
            assert!(r.insns > 0, "{rel}: {} has no instructions", r.name);
            match &r.error {
                LoadError::UnknownProgramType {
                    section, program, ..
                } => {
                    assert_eq!((section, program), (&r.section, &r.name), "{rel}");
                    assert_eq!((r.prog_type, r.prog_type_name), (0, "unspec"), "{rel}");
                    assert!(type_for(rel).is_some() || REFUSED.iter().any(|(n, _)| n == rel));
                    unknown_type += 1;
                }
                other => panic!("{rel}: {} refused with {other}", r.name),
            }
        }
        // What loads is exactly what load_file gives, where load_file loads the object.
        if let Ok(obj) = load_file(path, &LoadOptions::default()) {
            assert_eq!(obj, ins.object, "{rel}");
            assert!(ins.refused.is_empty(), "{rel}");
        }
        // With the object's program type given, the only programs set aside are the ones
        // that call a function the object does not define.
        if let Some(t) = type_for(rel).or_else(|| {
            REFUSED
                .iter()
                .any(|(n, _)| n == rel)
                .then_some(ironbpf_loader::prog_type::XDP)
        }) {
            let opts = LoadOptions {
                prog_type_override: Some(t),
                ..Default::default()
            };
            let ins = inspect_file(path, &opts).unwrap();
            match REFUSED.iter().find(|(n, _)| n == rel) {
                Some((_, msg)) => {
                    assert_eq!(ins.refused.len(), 1, "{rel}");
                    assert_eq!(ins.refused[0].error.to_string(), *msg, "{rel}");
                    assert!(matches!(ins.refused[0].error, LoadError::Relocation { .. }));
                    assert_eq!(ins.refused[0].prog_type_name, "xdp");
                    unlinked += 1;
                }
                None => {
                    assert!(ins.refused.is_empty(), "{rel}: {:?}", ins.refused);
                    assert_eq!(Ok(ins.object), load_file(path, &opts), "{rel}");
                }
            }
        }
    }
    println!(
        "inspected 124 objects: {loaded} programs load without a type, {unknown_type} have none from their section, {unlinked} cannot be linked"
    );
    assert_eq!(unlinked, REFUSED.len());
}

#[test]
fn object_level_errors_still_fail_the_inspection() {
    let dir = common::corpus_dir().join("invalid");
    let e = inspect_file(
        &dir.join("806cc077e56f0ec32236c99055714f63649e7a38"),
        &LoadOptions::default(),
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .starts_with("section header table (e_shoff 0x510, e_shnum 16)"),
        "{e}"
    );
}
