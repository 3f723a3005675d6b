//! The verifier suite on a few corpus objects: the kernel and PREVAIL accept what
//! they should, refusals carry the verifier's reason and are not timed as passes.

use ironbpf_benches::verifier_suite::{
    corpus_objects, default_corpus_dir, measure_verifier, verify_object, CorpusObject,
    KernelCorpusObject, PrevailCorpusObject, Verdict,
};

fn object(rel: &str) -> CorpusObject {
    let dir = default_corpus_dir();
    CorpusObject {
        rel: rel.to_string(),
        path: dir.join(rel),
    }
}

#[test]
fn the_corpus_lists_objects_outside_invalid() {
    let objects = corpus_objects(&default_corpus_dir()).unwrap();
    assert!(objects.len() > 100, "{}", objects.len());
    assert!(objects.iter().all(|o| !o.rel.starts_with("invalid")));
    assert!(objects.iter().all(|o| o.rel.ends_with(".o")));
    assert!(objects.iter().any(|o| o.rel == "build/packet_access.o"));
}

#[test]
fn prevail_accepts_and_refuses_with_a_reason() {
    let ok = PrevailCorpusObject::open(&object("build/packet_access.o")).unwrap();
    assert_eq!(ok.programs().len(), 1);
    let m = measure_verifier(3, || ok.verify(0));
    assert_eq!(m.verdict, Verdict::Accepted);
    assert_eq!(m.samples, 3);
    assert!(m.median_ns > 0.0);

    let bad = PrevailCorpusObject::open(&object("build/nullmapref.o")).unwrap();
    let m = measure_verifier(3, || bad.verify(0));
    assert_eq!(m.verdict.name(), "refused");
    assert!(
        m.verdict.reason().unwrap().contains("null"),
        "{:?}",
        m.verdict
    );
    assert_eq!(m.samples, 1);
}

#[test]
fn the_kernel_accepts_and_refuses_with_a_reason() {
    if !ironbpf_kernel::available_for_test("the_kernel_accepts_and_refuses_with_a_reason") {
        return;
    }
    let ok = KernelCorpusObject::open(&object("build/packet_access.o")).unwrap();
    let v = ok.verify(0);
    assert_eq!(v.verdict, Verdict::Accepted);
    assert!(v.processed_insns.is_some_and(|n| n > 0));
    assert!(v.load_time.is_some());

    let bad = KernelCorpusObject::open(&object("build/nullmapref.o")).unwrap();
    let v = bad.verify(0);
    let why = v.verdict.reason().unwrap();
    assert!(why.contains("map_value_or_null"), "{why}");
}

#[test]
fn a_whole_object_gets_one_row_per_program_for_both_verifiers() {
    let kernel = ironbpf_kernel::probe().is_ok();
    let rows = verify_object(&object("build/prog_array.o"), 1, kernel);
    assert_eq!(rows.len(), 5, "{rows:?}");
    for r in &rows {
        assert!(
            r.label.starts_with("build/prog_array.o:.text/func"),
            "{}",
            r.label
        );
        assert_eq!(r.prevail.as_ref().unwrap().verdict, Verdict::Accepted);
        let k = r.kernel.as_ref().unwrap();
        if kernel {
            assert_eq!(k.verdict, Verdict::Accepted, "{}", r.label);
        } else {
            assert_eq!(k.verdict.name(), "failed");
        }
    }
}

#[test]
fn an_object_our_loader_refuses_is_not_verified_by_the_kernel() {
    let rows = verify_object(&object("build/badrelo.o"), 1, true);
    assert_eq!(rows.len(), 1);
    let k = rows[0].kernel.as_ref().unwrap();
    assert_eq!(k.verdict.name(), "failed");
    assert!(k.verdict.reason().unwrap().contains("ironbpf-loader"));
}
