//! Decode, encode, disassemble and assemble: no panic, and every round trip
//! gives back what went in (slots bit-exact, instructions equal).
#![no_main]
use ironbpf_isa::{assemble, assemble_insn, disasm_insn, disasm_program, Insn, Program};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The first byte picks the mode: raw slots, or text for the assembler.
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode & 1 == 1 {
        if let Ok(text) = std::str::from_utf8(rest) {
            // Any text: an error or slots, and what it gives decodes.
            if let Ok(slots) = assemble(text) {
                let mut pc = 0;
                while pc < slots.len() {
                    let insn = Insn::decode(&slots[pc..], pc)
                        .unwrap_or_else(|e| panic!("assembled slot {pc} does not decode: {e}"));
                    pc += insn.slots();
                }
            }
            let _ = ironbpf_isa::assemble_program(text);
        }
        return;
    }
    let usable = rest.len() / 8 * 8;
    let Ok(slots) = ironbpf_isa::slots_from_bytes(&rest[..usable]) else {
        return;
    };
    let mut pc = 0;
    while pc < slots.len() {
        match Insn::decode(&slots[pc..], pc) {
            Ok(insn) => {
                let enc = insn.encode();
                assert_eq!(
                    enc[..],
                    slots[pc..pc + insn.slots()],
                    "slot {pc}: {insn:?} encodes to other bits"
                );
                let text = disasm_insn(&insn);
                match assemble_insn(&text) {
                    Ok(back) => assert_eq!(
                        back, insn,
                        "slot {pc}: {text:?} assembles to another instruction"
                    ),
                    Err(e) => panic!(
                        "slot {pc}: the disassembly {text:?} of {insn:?} does not assemble: {e}"
                    ),
                }
                pc += insn.slots();
            }
            Err(_) => pc += 1,
        }
    }
    if let Ok(prog) = Program::from_slots(slots.clone()) {
        assert_eq!(prog.to_bytes(), &rest[..usable]);
        let text = disasm_program(&prog);
        let back = assemble(&text)
            .unwrap_or_else(|e| panic!("the program's disassembly does not assemble: {e}\n{text}"));
        assert_eq!(
            back, slots,
            "the program's disassembly assembles to other slots\n{text}"
        );
        let _ = prog.check_registers(0b10);
    }
});
