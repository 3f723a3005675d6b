//! The catalogue of error codes: each code's category, title, meaning and
//! usual fix (docs/errors.md lists the same, and a test holds the two
//! together).

/// One error code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CodeInfo {
    /// The stable code (`E-NULL-DEREF`).
    pub code: &'static str,
    /// Its category.
    pub category: &'static str,
    /// The title explanations print.
    pub title: &'static str,
}

macro_rules! codes {
    ($($code:literal, $cat:literal, $title:literal;)*) => {
        /// Every error code explanations use, in catalogue order.
        pub const CODES: &[CodeInfo] = &[$(CodeInfo { code: $code, category: $cat, title: $title },)*];
    };
}

codes! {
    "E-NULL-DEREF", "null-pointer", "possible NULL pointer dereference";
    "E-NULL-ARITH", "null-pointer", "arithmetic on a pointer that may be NULL";
    "E-PKT-BOUNDS", "packet-bounds", "packet access outside the range the bounds check proved";
    "E-PKT-NEG-OFFSET", "packet-bounds", "packet offset that may be negative";
    "E-MAP-BOUNDS", "map-value-bounds", "map value access outside the value";
    "E-MAP-VAR-UNBOUNDED", "map-value-bounds", "variable offset into a map value without a bound";
    "E-MAP-NEG-INDEX", "map-value-bounds", "map value index that may be negative";
    "E-MEM-BOUNDS", "memory-bounds", "memory access outside the region";
    "E-MEM-UNBOUNDED", "memory-bounds", "variable offset into memory without a bound";
    "E-MEM-NEG-INDEX", "memory-bounds", "memory index that may be negative";
    "E-STACK-BOUNDS", "stack", "stack access outside the 512-byte frame";
    "E-STACK-SPILL", "stack", "partial access to a spilled pointer";
    "E-STACK-SIZE", "stack", "combined stack of a call chain too large";
    "E-FP-WRITE", "stack", "write to the read-only frame pointer r10";
    "E-UNINIT-REG", "uninitialized", "register read before it is written";
    "E-UNINIT-RETURN", "uninitialized", "exit without a return value in r0";
    "E-UNINIT-STACK", "uninitialized", "stack read before it is written";
    "E-HELPER-MEM-SIZE", "helper-argument", "buffer passed to a helper smaller than the helper uses";
    "E-HELPER-ARG-TYPE", "helper-argument", "helper argument of the wrong type";
    "E-HELPER-ARG-SIZE", "helper-argument", "helper size argument negative, zero or unbounded";
    "E-HELPER-ARG-CONST", "helper-argument", "helper argument that must be a known constant";
    "E-HELPER-MAP-TYPE", "helper-argument", "map of the wrong type for the helper";
    "E-HELPER-NOT-ALLOWED", "helper-availability", "helper this program type may not call";
    "E-HELPER-UNKNOWN", "helper-availability", "helper id the kernel does not know";
    "E-HELPER-GPL", "helper-availability", "GPL-only helper in a program that is not GPL";
    "E-PTR-LEAK", "pointer-leak", "pointer value escapes to where it could be read";
    "E-PTR-COMPARE", "pointer-leak", "pointer comparison (unprivileged)";
    "E-PTR-ARITH", "pointer-arithmetic", "arithmetic the pointer type does not allow";
    "E-DEREF-SCALAR", "invalid-dereference", "dereference of a number, not a pointer";
    "E-DEREF-INVALID", "invalid-dereference", "dereference of a register that may not be dereferenced";
    "E-MAP-READONLY", "map-access", "write into a map programs may only read";
    "E-MAP-REF", "map-access", "map reference the program's map list does not have";
    "E-CTX-ACCESS", "context-access", "context field the program type may not access this way";
    "E-CTX-WRITE", "context-access", "context field the program type may not write";
    "E-CTX-MODIFIED", "context-access", "context pointer moved from the context's start";
    "E-ALIGN", "alignment", "misaligned access";
    "E-RETURN-RANGE", "return-value", "return value outside the program type's range";
    "E-REF-LEAK", "reference-leak", "reference acquired and not released on some path";
    "E-LOOP-INFINITE", "loop", "loop that never ends";
    "E-LOOP-BACK-EDGE", "loop", "loop in a program that may not have loops";
    "E-LOOP-UNBOUNDED", "loop", "loop the verifier cannot bound";
    "E-COMPLEXITY", "complexity", "program too complex to verify";
    "E-CFG-JUMP-RANGE", "program-structure", "jump out of the program or subprogram";
    "E-CFG-INTO-LDIMM64", "program-structure", "jump into the middle of a 16-byte ld_imm64";
    "E-CFG-UNREACHABLE", "program-structure", "instruction no path reaches";
    "E-CFG-FALL-OFF", "program-structure", "last instruction is not an exit or a jump";
    "E-CFG-SUBPROGS", "program-structure", "too many subprograms";
    "E-CFG-CALL-DEPTH", "program-structure", "bpf-to-bpf calls nested too deep";
    "E-PROG-EMPTY", "program-structure", "program without instructions";
    "E-PROG-TOO-LARGE", "program-structure", "more instructions than may be loaded";
    "E-INSN-OPCODE", "invalid-instruction", "opcode that does not exist";
    "E-INSN-RESERVED", "invalid-instruction", "instruction with reserved fields set";
    "E-INSN-LDIMM64", "invalid-instruction", "malformed ld_imm64";
    "E-INSN-DIV-ZERO", "invalid-instruction", "division or modulo by the constant zero";
    "E-INSN-SHIFT", "invalid-instruction", "shift by the operand's width or more";
    "E-KFUNC-NOT-ALLOWED", "kfunc", "kernel function this program may not call";
    "E-KFUNC-ARG", "kfunc", "kernel function argument of the wrong type or trust";
    "E-RCU-SECTION", "rcu", "RCU read section opened twice, closed unopened, or left open";
    "E-ITER-STATE", "iterator", "open-coded iterator used in the wrong state";
    "E-DYNPTR-STATE", "dynptr", "dynptr used in the wrong state";
    "E-PRIV-REQUIRED", "privilege", "operation only a privileged loader may use";
    "E-UNSUPPORTED", "unsupported", "feature ironbpf's verifier does not model";
    "E-OTHER", "other", "other verifier error";
}

/// The catalogue entry of `code` (`None` for a code not in [`CODES`]).
pub fn describe_code(code: &str) -> Option<&'static CodeInfo> {
    CODES.iter().find(|c| c.code == code)
}
