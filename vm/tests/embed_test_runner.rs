//! "Test BPF programs without root", as a user writes it in their own
//! crate: load the libbpf-style object their build produces
//! (`vm/examples/data/counter.o` here), run its XDP program on canned
//! packets, assert on verdicts and maps. No bpf(2), no privileges.

use ironbpf_vm::embed::{Error, Instance, Linker, Program, Runtime};

const OBJECT: &[u8] = include_bytes!("../examples/data/counter.o");
const XDP_DROP: u64 = 1;
const XDP_PASS: u64 = 2;

fn eth_ipv4(proto: u8, l4: &[u8]) -> Vec<u8> {
    let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00];
    let len = 20 + l4.len() as u16;
    f.extend([
        0x45,
        0,
        (len >> 8) as u8,
        len as u8,
        0,
        1,
        0,
        0,
        64,
        proto,
        0,
        0,
    ]);
    f.extend([192, 168, 0, 1, 192, 168, 0, 2]);
    f.extend_from_slice(l4);
    f
}

fn tcp_to(port: u16) -> Vec<u8> {
    let mut seg = vec![0xc0, 0x00, (port >> 8) as u8, port as u8];
    seg.extend([0; 8]);
    seg.extend([0x50, 0x02, 0x20, 0x00, 0, 0, 0, 0]);
    eth_ipv4(6, &seg)
}

fn load(runtime: Runtime) -> (Linker, Instance) {
    let linker = Linker::new();
    let prog = Program::from_elf(OBJECT, Some("count_packets")).expect("the object loads");
    let xdp = linker
        .instantiate(&runtime, &prog)
        .expect("the verifier accepts it");
    (linker, xdp)
}

fn counter(linker: &Linker, class: u32) -> u64 {
    let mut v = [0u8; 8];
    linker
        .get_map("stats")
        .expect("the object defines `stats`")
        .lookup(&class.to_ne_bytes(), &mut v, 0)
        .expect("the class is in range");
    u64::from_ne_bytes(v)
}

#[test]
fn telnet_is_dropped_and_web_passes() {
    for rt in [Runtime::interpreter(), Runtime::jit()] {
        let (_, xdp) = load(rt);
        assert_eq!(xdp.test_run(&tcp_to(23)).unwrap().r0, XDP_DROP);
        assert_eq!(xdp.test_run(&tcp_to(80)).unwrap().r0, XDP_PASS);
        assert_eq!(xdp.test_run(&tcp_to(443)).unwrap().r0, XDP_PASS);
    }
}

#[test]
fn every_packet_is_counted_in_its_class() {
    let (linker, xdp) = load(Runtime::jit());
    for _ in 0..3 {
        xdp.test_run(&tcp_to(80)).unwrap();
    }
    xdp.test_run(&eth_ipv4(17, &[0, 53, 0, 53, 0, 8, 0, 0]))
        .unwrap();
    let arp = [&[0xffu8; 6][..], &[2, 0, 0, 0, 0, 1, 0x08, 0x06], &[0; 28]].concat();
    xdp.test_run(&arp).unwrap();
    // TCP, UDP, other IPv4, not IPv4.
    let counts: Vec<u64> = (0..4).map(|c| counter(&linker, c)).collect();
    assert_eq!(counts, [3, 1, 0, 1]);
}

#[test]
fn a_truncated_header_aborts() {
    let (_, xdp) = load(Runtime::interpreter());
    let mut short = tcp_to(80);
    short.truncate(14 + 20 + 10);
    assert_eq!(xdp.test_run(&short).unwrap().r0, 0, "XDP_ABORTED");
}

#[test]
fn the_unchecked_program_is_refused_at_its_source_line() {
    let prog = Program::from_elf(OBJECT, Some("unchecked")).unwrap();
    let err = Linker::new()
        .instantiate(&Runtime::jit(), &prog)
        .unwrap_err();
    let Error::Rejected {
        insn,
        line,
        message,
        ..
    } = &err
    else {
        panic!("{err}");
    };
    let line = line.as_ref().expect("the object has line info");
    assert!(line.file.ends_with("counter.c"), "{line}");
    assert!(line.text.contains("data[12]"), "{line}");
    assert!(message.starts_with("invalid access to packet"), "{message}");
    assert!(insn.is_some());
    let shown = err.to_string();
    assert!(
        shown.contains("counter.c:") && shown.contains("data[12]"),
        "{shown}"
    );
}

#[test]
fn a_fault_at_run_time_names_its_source_line() {
    let prog = Program::from_elf(OBJECT, Some("oob")).unwrap();
    let linker = Linker::new();
    // The verifier sees the out-of-bounds read...
    let err = linker.instantiate(&Runtime::jit(), &prog).unwrap_err();
    assert!(matches!(err, Error::Rejected { .. }), "{err}");
    assert!(
        err.line().is_some_and(|l| l.text.contains("100000")),
        "{err}"
    );
    // ...and unverified, the checked engines stop it where it faults.
    for rt in [Runtime::interpreter(), Runtime::jit()] {
        let xdp = linker.instantiate_unverified(&rt, &prog).unwrap();
        let err = xdp.test_run(&tcp_to(80)).unwrap_err();
        assert!(
            matches!(
                err.vm_error(),
                Some(ironbpf_vm::VmError::MemoryFault { .. })
            ),
            "{err}"
        );
        let line = err.line().expect("the fault has a source line");
        assert!(
            line.text.contains("v[ctx->rx_queue_index + 100000]"),
            "{line}"
        );
        assert!(err.to_string().contains("counter.c:"), "{err}");
    }
}

#[test]
fn instances_of_one_object_share_its_maps_and_shapes_must_match() {
    let (linker, first) = load(Runtime::interpreter());
    let prog = Program::from_elf(OBJECT, Some("count_packets")).unwrap();
    let second = linker.instantiate(&Runtime::jit(), &prog).unwrap();
    first.test_run(&tcp_to(80)).unwrap();
    second.test_run(&tcp_to(80)).unwrap();
    second.test_run(&tcp_to(22)).unwrap();
    assert_eq!(counter(&linker, 0), 3, "both instances count in one map");
    // A host map of that name but another shape is not silently replaced.
    let host = Linker::new();
    let hash = ironbpf_vm::embed::MapSpec::new(1, 4, 8, 16);
    host.map("stats", hash).unwrap();
    let err = host.instantiate(&Runtime::jit(), &prog).unwrap_err();
    assert!(matches!(err, Error::Link(_)), "{err}");
    assert!(err.to_string().contains("\"stats\""), "{err}");
}
