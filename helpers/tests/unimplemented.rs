//! A program that calls a helper of the kernel that userspace does not
//! implement is refused when it is loaded, naming the helper and the
//! instruction, instead of running a call that would return something the
//! kernel never would.

use ironbpf_helpers::catalog::{self, func_proto, ProtoEnv};
use ironbpf_helpers::HelperRegistry;
use ironbpf_isa::{AluOp, CallTarget, Insn, Operand, Program, Reg, Width};
use ironbpf_progtype::ProgTypeId;
use ironbpf_vm::{Interpreter, Options};

fn prog(insns: &[Insn]) -> Program {
    let slots: Vec<_> = insns.iter().flat_map(|i| i.encode()).collect();
    Program::from_slots(slots).expect("a valid program")
}

fn load(insns: &[Insn]) -> Result<Interpreter, ironbpf_vm::VmError> {
    let helpers = HelperRegistry::standard().for_prog_type(ProgTypeId::SchedCls.kernel_id());
    Interpreter::new(&prog(insns), &helpers, Options::default())
}

#[test]
fn get_xfrm_state_is_refused_at_load_with_its_name_and_instruction() {
    let xfrm = catalog::helper_by_name("skb_get_xfrm_state").unwrap().id as i32;
    // The kernel offers bpf_skb_get_xfrm_state to tc programs...
    assert!(func_proto(
        ProgTypeId::SchedCls,
        None,
        xfrm as i64,
        &ProtoEnv::default()
    )
    .is_ok());
    // ...and ironbpf says it cannot run it, at load.
    let err = load(&[
        Insn::Alu {
            op: AluOp::Mov,
            width: Width::W64,
            dst: Reg::R1,
            src: Operand::Imm(0),
        },
        Insn::Call(CallTarget::Helper(xfrm)),
        Insn::Exit,
    ])
    .err()
    .expect("refused at load");
    let text = err.to_string();
    assert!(
        text.starts_with("insn 1: bpf_skb_get_xfrm_state is not implemented in userspace"),
        "{text}"
    );
}

#[test]
fn an_id_the_kernel_does_not_have_is_still_unknown() {
    let err = load(&[Insn::Call(CallTarget::Helper(5000)), Insn::Exit])
        .err()
        .expect("refused at load");
    assert_eq!(
        err.to_string(),
        "insn 0: call to unknown helper 5000: no helper with that id is registered"
    );
}

#[test]
fn every_unimplemented_helper_is_named() {
    let implemented = HelperRegistry::standard();
    let missing: Vec<_> = catalog::HELPERS
        .iter()
        .filter(|h| implemented.entry(h.id as i64).is_none())
        .collect();
    assert!(!missing.is_empty());
    for h in missing {
        let err = Interpreter::new(
            &prog(&[Insn::Call(CallTarget::Helper(h.id as i32)), Insn::Exit]),
            &implemented,
            Options::default(),
        )
        .err()
        .expect("refused at load");
        assert!(
            err.to_string().contains(&format!(
                "{} is not implemented in userspace",
                h.kernel_name()
            )),
            "{err}"
        );
    }
}
