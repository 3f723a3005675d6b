//! The embedding API gives the verifier an ELF object's BTF and func_info:
//! bpf2bpf.o's global function `add1` is verified on its own against its
//! prototype (`int add1(int *x)`, a pointer that may be NULL) and refused
//! where it dereferences `x` unchecked, as the kernel refuses it.

use ironbpf_progtype::ProgTypeId;
use ironbpf_vm::embed::{Error, Linker, Program, ProgramType, Runtime};

#[test]
fn a_global_function_is_verified_against_its_btf_prototype() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/corpus/ebpf-samples/build/bpf2bpf.o");
    let Ok(bytes) = std::fs::read(&path) else {
        println!("skipped: ../shared not found at {}", path.display());
        return;
    };
    let ptype = ProgramType::builtin(ProgTypeId::SocketFilter).expect("socket_filter");
    let prog = Program::from_elf_with_type(&bytes, None, ptype).expect("bpf2bpf.o loads");
    match Linker::new().instantiate(&Runtime::interpreter(), &prog) {
        Err(Error::Rejected { insn, message, .. }) => {
            assert_eq!(insn, Some(49));
            assert_eq!(message, "R1 invalid mem access 'mem_or_null'");
        }
        Err(e) => panic!("expected the verifier's refusal, got {e}"),
        Ok(_) => panic!("add1 dereferences a maybe-NULL argument: must be refused"),
    }
}
