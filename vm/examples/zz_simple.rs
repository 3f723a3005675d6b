use ironbpf_isa::Program;
use ironbpf_vm::{HelperRegistry, Interpreter, Options};
fn main() {
    let bytes = std::fs::read("../benches/programs/vm/simple.bin").unwrap();
    let prog = Program::from_bytes(&bytes).unwrap();
    let vm = Interpreter::new(
        &prog,
        &HelperRegistry::new(),
        Options {
            budget: u64::MAX,
            ..Options::default()
        },
    )
    .unwrap();
    let mut s = 0u64;
    for _ in 0..100000 {
        s = s.wrapping_add(vm.run_with_memory(&mut []).unwrap());
    }
    println!("{s}");
}
