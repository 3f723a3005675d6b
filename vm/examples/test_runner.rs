//! Testing a BPF program without root: a libbpf-style object
//! (`vm/examples/data/counter.c`, BTF-defined map, atomic counters) run on
//! canned packets, with assertions on its verdicts and its map. The same
//! checks, as `#[test]`s a user would write in their own crate, are in
//! `vm/tests/embed_test_runner.rs`.
use ironbpf_vm::embed::{Linker, Program, Runtime};

/// The bundled object.
pub const COUNTER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/data/counter.o");

/// An Ethernet + IPv4 frame carrying `l4` as protocol `proto`.
pub fn frame(proto: u8, l4: &[u8]) -> Vec<u8> {
    let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00];
    let len = (20 + l4.len()) as u16;
    f.extend_from_slice(&[
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
    f.extend_from_slice(&[10, 0, 0, 1, 10, 0, 0, 2]);
    f.extend_from_slice(l4);
    f
}

/// A TCP segment header to `dport`.
pub fn tcp(dport: u16) -> Vec<u8> {
    let mut t = vec![0x9c, 0x40, (dport >> 8) as u8, dport as u8];
    t.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0]);
    t
}

/// Runs the canned inputs on `runtime` and checks each result; returns
/// how many checks passed, or the first that failed.
pub fn run(runtime: &Runtime) -> Result<usize, String> {
    let object = std::fs::read(COUNTER).map_err(|e| format!("{COUNTER}: {e}"))?;
    let linker = Linker::new();
    let prog = Program::from_elf(&object, Some("count_packets")).map_err(|e| e.to_string())?;
    let xdp = linker
        .instantiate(runtime, &prog)
        .map_err(|e| e.to_string())?;
    let (pass, drop) = (2, 1);
    let cases: [(&str, Vec<u8>, u64); 5] = [
        ("http", frame(6, &tcp(80)), pass),
        ("telnet", frame(6, &tcp(23)), drop),
        ("udp", frame(17, &[0, 53, 0, 53, 0, 8, 0, 0]), pass),
        ("icmp", frame(1, &[8, 0, 0, 0]), pass),
        (
            "arp",
            [
                &[2u8, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x06][..],
                &[0; 28],
            ]
            .concat(),
            pass,
        ),
    ];
    let mut checks = 0;
    for (name, pkt, want) in &cases {
        let got = xdp.test_run(pkt).map_err(|e| format!("{name}: {e}"))?.r0;
        if got != *want {
            return Err(format!("{name}: verdict {got}, expected {want}"));
        }
        checks += 1;
    }
    // Counters: TCP 2, UDP 1, other IPv4 1, not IPv4 1.
    let stats = linker
        .get_map("stats")
        .ok_or("the object has no map `stats`")?;
    for (class, want) in [(0u32, 2u64), (1, 1), (2, 1), (3, 1)] {
        let mut v = [0u8; 8];
        stats
            .lookup(&class.to_ne_bytes(), &mut v, 0)
            .map_err(|e| e.to_string())?;
        let got = u64::from_ne_bytes(v);
        if got != want {
            return Err(format!("stats[{class}] = {got}, expected {want}"));
        }
        checks += 1;
    }
    // The program that reads the packet unchecked is refused, at its line.
    let bad = Program::from_elf(&object, Some("unchecked")).map_err(|e| e.to_string())?;
    match linker.instantiate(runtime, &bad) {
        Err(e) if e.line().is_some_and(|l| l.text.contains("data[12]")) => checks += 1,
        Err(e) => return Err(format!("unchecked: refused without its source line: {e}")),
        Ok(_) => return Err("unchecked: the verifier accepted an unchecked packet read".into()),
    }
    Ok(checks)
}

#[allow(dead_code)]
fn main() -> Result<(), String> {
    for rt in [Runtime::interpreter(), Runtime::jit()] {
        let n = run(&rt)?;
        println!(
            "test_runner: {n} checks passed on {}",
            if rt.is_jit() {
                "the JIT"
            } else {
                "the interpreter"
            }
        );
    }
    Ok(())
}
