//! Runs each example's logic (the examples are compiled in as modules, so
//! this test needs no built example binaries) on its bundled inputs and
//! checks what it prints. `.ci/run` also runs each with `cargo run
//! --example NAME` and checks that output.

#[path = "../examples/packet_filter.rs"]
mod packet_filter;
#[path = "../examples/plugin_host.rs"]
mod plugin_host;
#[path = "../examples/test_runner.rs"]
mod test_runner;

#[test]
fn packet_filter_counts_the_bundled_capture() {
    let out = packet_filter::run(std::path::Path::new(packet_filter::SAMPLE)).unwrap();
    // make_pcap.py: 3 frames to telnet/chargen, 1 truncated IPv4 header.
    assert_eq!(out, "packets=10 pass=6 drop=3 aborted=1 tx=0 redirect=0\n");
}

#[test]
fn plugin_host_decides_by_quota_and_audits() {
    let out = plugin_host::run().unwrap();
    assert_eq!(
        out,
        "user 1 size 50: allow (ctx verdict 0)\n\
         user 1 size 500: deny (ctx verdict 1)\n\
         user 7 size 500: allow (ctx verdict 0)\n\
         audit log: [(1, 50), (1, 500), (7, 500)]\n"
    );
    // The host side stays within the 40 lines the issue allows.
    let lines = include_str!("../examples/plugin_host.rs").lines().count();
    assert!(lines <= 40, "plugin_host.rs has {lines} lines");
}

#[test]
fn test_runner_passes_its_checks_on_both_engines() {
    use ironbpf_vm::embed::Runtime;
    for rt in [Runtime::interpreter(), Runtime::jit()] {
        assert_eq!(test_runner::run(&rt), Ok(10));
    }
}
