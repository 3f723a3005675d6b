//! A packet filter host: runs an XDP object (the repository's
//! `examples/xdp_firewall.o`) on every frame of a pcap file and counts the
//! verdicts.
//!
//! `cargo run --example packet_filter [FILE.pcap]` (default: the bundled
//! `vm/examples/data/sample.pcap`).
use ironbpf_vm::embed::{Linker, Program, Runtime};
use pcap_file::pcap::PcapReader;
use std::path::Path;

/// The bundled inputs.
pub const FIREWALL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/xdp_firewall.o");
/// The bundled capture.
pub const SAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/data/sample.pcap");

/// Filters every frame of `pcap` through the firewall, on the JIT, and
/// says how many each verdict got.
pub fn run(pcap: &Path) -> Result<String, Box<dyn std::error::Error>> {
    let object = std::fs::read(FIREWALL).map_err(|e| format!("{FIREWALL}: {e}"))?;
    let filter = Linker::new().instantiate(
        &Runtime::jit(),
        &Program::from_elf(&object, Some("xdp_firewall"))?,
    )?;
    let mut reader = PcapReader::new(
        std::fs::File::open(pcap).map_err(|e| format!("{}: {e}", pcap.display()))?,
    )?;
    // XDP_ABORTED, XDP_DROP, XDP_PASS, XDP_TX, XDP_REDIRECT.
    let mut verdicts = [0u64; 5];
    let mut n = 0;
    while let Some(packet) = reader.next_packet() {
        let packet = packet?;
        let out = filter.test_run(&packet.data)?;
        n += 1;
        let v = verdicts.get_mut(out.r0 as usize).ok_or_else(|| {
            format!(
                "frame {n}: the program returned {}, not an XDP verdict",
                out.r0
            )
        })?;
        *v += 1;
    }
    Ok(format!(
        "packets={n} pass={} drop={} aborted={} tx={} redirect={}\n",
        verdicts[2], verdicts[1], verdicts[0], verdicts[3], verdicts[4]
    ))
}

#[allow(dead_code)]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| SAMPLE.to_string());
    print!("{}", run(Path::new(&path))?);
    Ok(())
}
