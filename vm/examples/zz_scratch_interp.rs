use ironbpf_benches::*;
use ironbpf_isa::Program;
use ironbpf_vm::{HelperRegistry, Interpreter, Options};
use std::time::Duration;
struct Ours {
    name: &'static str,
    vm: Interpreter,
    mem: VmMemory,
}
impl Runner for Ours {
    fn runner_name(&self) -> &'static str {
        "ours"
    }
    fn program(&self) -> &str {
        self.name
    }
    fn run(&mut self) -> Result<u64, BenchError> {
        Ok(self.vm.run_with_memory(self.mem.as_mut_slice()).unwrap())
    }
}
fn main() {
    let mut lr = 0.0;
    let mut n = 0.0;
    for p in VM_PROGRAMS {
        let expected = vm_expected(p.name).unwrap();
        let bytes = std::fs::read(format!("../benches/programs/vm/{}.bin", p.name)).unwrap();
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
        let mut r = Ours {
            name: p.name,
            vm,
            mem: VmMemory::for_program(p.name),
        };
        check_r0(&mut r, expected).unwrap();
        let it = iterations_for(&mut r, Duration::from_millis(20)).unwrap();
        let ours = median_ns_per_run(&mut r, expected, 11, it).unwrap();
        let mut rb = vm_peer_runner(VmPeer::RbpfInterpreter, p.name).unwrap();
        let it = iterations_for(rb.as_mut(), Duration::from_millis(20)).unwrap();
        let theirs = median_ns_per_run(rb.as_mut(), expected, 11, it).unwrap();
        lr += (theirs / ours as f64).ln();
        n += 1.0;
        println!(
            "{:<16} ours {:>14.1} rbpf {:>14.1} ratio {:.2}",
            p.name,
            ours,
            theirs,
            theirs / ours
        );
    }
    println!("geomean speedup {:.2}", (lr / n).exp());
}
