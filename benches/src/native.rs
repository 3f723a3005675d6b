//! The `native` and `native-scalar` runners: the VM suite's C compiled for the host
//! (by `build.rs`) and called through FFI. They are the yardsticks: what the same C
//! costs without a runtime, with the compiler's vectoriser (`native`) and without it
//! (`native-scalar`, built with `-fno-vectorize -fno-slp-vectorize`: the real limit of
//! a JIT, which does not vectorise).

use std::ffi::c_void;

use crate::vm_suite::{vm_program, VmMemory};
use crate::{BenchError, Runner};

/// Signature of every native VM-suite program: `u64 bpf_main(void *mem)`.
type NativeFn = unsafe extern "C" fn(mem: *mut c_void) -> u64;

extern "C" {
    fn ironbpf_native_simple(mem: *mut c_void) -> u64;
    fn ironbpf_native_memory_a_plus_b(mem: *mut c_void) -> u64;
    fn ironbpf_native_log2_int(mem: *mut c_void) -> u64;
    fn ironbpf_native_prime(mem: *mut c_void) -> u64;
    fn ironbpf_native_memcpy(mem: *mut c_void) -> u64;
    fn ironbpf_native_strcmp_full(mem: *mut c_void) -> u64;
    fn ironbpf_native_strcmp_fail(mem: *mut c_void) -> u64;
    fn ironbpf_native_switch(mem: *mut c_void) -> u64;
    fn ironbpf_native_scalar_simple(mem: *mut c_void) -> u64;
    fn ironbpf_native_scalar_memory_a_plus_b(mem: *mut c_void) -> u64;
    fn ironbpf_native_scalar_log2_int(mem: *mut c_void) -> u64;
    fn ironbpf_native_scalar_prime(mem: *mut c_void) -> u64;
    fn ironbpf_native_scalar_memcpy(mem: *mut c_void) -> u64;
    fn ironbpf_native_scalar_strcmp_full(mem: *mut c_void) -> u64;
    fn ironbpf_native_scalar_strcmp_fail(mem: *mut c_void) -> u64;
    fn ironbpf_native_scalar_switch(mem: *mut c_void) -> u64;
}

/// The C compiler `build.rs` used for the native programs: `clang-19` when it was
/// installed, else the name of the system C compiler (`cc`, `gcc`, ...).
pub fn native_compiler() -> &'static str {
    env!("IRONBPF_NATIVE_CC")
}

fn native_fn(name: &str, scalar: bool) -> Option<NativeFn> {
    if scalar {
        return Some(match name {
            "simple" => ironbpf_native_scalar_simple,
            "memory_a_plus_b" => ironbpf_native_scalar_memory_a_plus_b,
            "log2_int" => ironbpf_native_scalar_log2_int,
            "prime" => ironbpf_native_scalar_prime,
            "memcpy" => ironbpf_native_scalar_memcpy,
            "strcmp_full" => ironbpf_native_scalar_strcmp_full,
            "strcmp_fail" => ironbpf_native_scalar_strcmp_fail,
            "switch" => ironbpf_native_scalar_switch,
            _ => return None,
        });
    }
    Some(match name {
        "simple" => ironbpf_native_simple,
        "memory_a_plus_b" => ironbpf_native_memory_a_plus_b,
        "log2_int" => ironbpf_native_log2_int,
        "prime" => ironbpf_native_prime,
        "memcpy" => ironbpf_native_memcpy,
        "strcmp_full" => ironbpf_native_strcmp_full,
        "strcmp_fail" => ironbpf_native_strcmp_fail,
        "switch" => ironbpf_native_switch,
        _ => return None,
    })
}

/// Runs one VM-suite program compiled for the host, on its own copy of the program's
/// input memory.
#[derive(Debug)]
pub struct NativeRunner {
    program: &'static str,
    func: NativeFn,
    mem: VmMemory,
    scalar: bool,
}

impl NativeRunner {
    /// Prepares the native build of the VM-suite program `name` with its input memory.
    pub fn new(name: &str) -> Result<Self, BenchError> {
        Self::build(name, false)
    }

    /// The same for the scalar build (`-fno-vectorize -fno-slp-vectorize`): the
    /// `native-scalar` runner.
    pub fn scalar(name: &str) -> Result<Self, BenchError> {
        Self::build(name, true)
    }

    fn build(name: &str, scalar: bool) -> Result<Self, BenchError> {
        let program = vm_program(name)?.name;
        let func = native_fn(program, scalar).ok_or_else(|| BenchError::UnknownProgram {
            suite: "native",
            name: name.to_string(),
        })?;
        Ok(NativeRunner {
            program,
            func,
            mem: VmMemory::for_program(program),
            scalar,
        })
    }

    /// The C compiler the native programs were built with (see [`native_compiler`]).
    pub fn compiler(&self) -> &'static str {
        native_compiler()
    }
}

impl Runner for NativeRunner {
    fn runner_name(&self) -> &'static str {
        if self.scalar {
            "native-scalar"
        } else {
            "native"
        }
    }

    fn program(&self) -> &str {
        self.program
    }

    // Inline, as the JIT runner's (see `JitRunner::run`), so that both
    // hosts' calls are timed in the same shape in every binary.
    #[inline]
    fn run(&mut self) -> Result<u64, BenchError> {
        let mem = self.mem.as_mut_slice().as_mut_ptr().cast::<c_void>();
        // SAFETY: `func` is the host build of `self.program`, whose C source reads and
        // writes only inside the layout vm_input() documents for that program; `mem` is
        // exactly that input (built in `new` from vm_input of the same name), 8-byte
        // aligned as the C's u32/u64 accesses need, and borrowed mutably here, so
        // nothing else aliases it during the call. The programs take no other state.
        Ok(unsafe { (self.func)(mem) })
    }
}
