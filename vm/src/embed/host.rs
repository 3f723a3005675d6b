//! Host helpers: Rust closures a program calls like kernel helpers, with
//! prototypes the verifier checks every call against.

use ironbpf_helpers::proto::{args, flags, ArgType, Proto, RetType};
use ironbpf_helpers::{Helper, HelperCtx, HelperError};
use ironbpf_isa::abi::{Access, AccessFault};
use ironbpf_maps::Map;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

/// What a host helper's argument is, as the verifier checks it at every
/// call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arg {
    /// Any value (`ARG_ANYTHING`). Programs are verified as a loader
    /// with CAP_BPF and CAP_PERFMON by default, so a pointer passes too;
    /// under [`super::Runtime::unprivileged`] the verifier refuses it, so
    /// no address reaches the host.
    Scalar,
    /// A pointer to `n` bytes the program has initialised and the helper
    /// reads (`ARG_PTR_TO_MEM | MEM_RDONLY | MEM_FIXED_SIZE`): the
    /// stack, a map value, the packet.
    Bytes(u32),
    /// A pointer to `n` writable bytes the helper fills
    /// (`ARG_PTR_TO_MEM | MEM_UNINIT | MEM_WRITE | MEM_FIXED_SIZE`).
    BytesOut(u32),
    /// A pointer to readable memory whose length is the next argument,
    /// which must be [`Arg::Len`] (`ARG_PTR_TO_MEM | MEM_RDONLY`).
    Buf,
    /// The length of the [`Arg::Buf`] before it, a bounded number, zero
    /// allowed (`ARG_CONST_SIZE_OR_ZERO`).
    Len,
    /// A map of the program (`ARG_CONST_MAP_PTR`); [`Call::map`] gives it.
    Map,
    /// The program's context (`ARG_PTR_TO_CTX`), unmodified.
    Ctx,
}

impl Arg {
    fn kernel(self) -> ArgType {
        match self {
            Arg::Scalar => args::ANY,
            Arg::Bytes(n) => ArgType {
                size: n,
                ..args::MEM_RO.with(flags::FIXED_SIZE)
            },
            Arg::BytesOut(n) => ArgType {
                size: n,
                ..args::MEM_OUT.with(flags::FIXED_SIZE)
            },
            Arg::Buf => args::MEM_RO,
            Arg::Len => args::SIZE0,
            Arg::Map => args::MAP,
            Arg::Ctx => args::CTX,
        }
    }
}

/// The prototype of a host helper with these arguments, returning an
/// integer.
pub(crate) fn proto_of(sig: &[Arg]) -> Result<Proto, String> {
    if sig.len() > 5 {
        return Err(format!(
            "a helper takes at most 5 arguments, not {}",
            sig.len()
        ));
    }
    for (i, a) in sig.iter().enumerate() {
        let next = sig.get(i + 1).copied();
        if *a == Arg::Buf && next != Some(Arg::Len) {
            return Err(format!(
                "argument {} is Arg::Buf: argument {} must be its Arg::Len",
                i + 1,
                i + 2
            ));
        }
        if *a == Arg::Len && (i == 0 || sig.get(i - 1) != Some(&Arg::Buf)) {
            return Err(format!(
                "argument {} is Arg::Len without an Arg::Buf before it",
                i + 1
            ));
        }
        if matches!(a, Arg::Bytes(0) | Arg::BytesOut(0)) {
            return Err(format!(
                "argument {} points to 0 bytes: give the size the helper reads",
                i + 1
            ));
        }
    }
    let named: Vec<(&'static str, ArgType)> = sig.iter().map(|a| ("", a.kernel())).collect();
    Ok(Proto::new(
        RetType::Integer,
        &named,
        ironbpf_helpers::proto::progs::ALL,
    ))
}

/// What a host helper can reach during one call: the memory its pointer
/// arguments point to (checked against the run's memory again, so a
/// helper called by an unverified program cannot be fooled) and the
/// program's maps.
pub struct Call<'a> {
    ctx: &'a (dyn CtxOps + 'a),
    fault: Option<HelperError>,
}

impl<'a> Call<'a> {
    /// Copies `len` bytes at `addr` of the program's memory. A pointer the
    /// program may not read ends the run with a fault once the helper
    /// returns.
    pub fn read(&mut self, addr: u64, len: u64) -> Result<Vec<u8>, AccessFault> {
        match self.ctx.read(addr, len) {
            Ok(v) => Ok(v),
            Err(e) => Err(self.record(e)),
        }
    }

    /// Reads a little-endian u64 at `addr` (see [`Call::read`]).
    pub fn read_u64(&mut self, addr: u64) -> Result<u64, AccessFault> {
        let b = self.read(addr, 8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(&b);
        Ok(u64::from_le_bytes(a))
    }

    /// Writes `bytes` at `addr` of the program's memory (see
    /// [`Call::read`] for pointers it may not write).
    pub fn write(&mut self, addr: u64, bytes: &[u8]) -> Result<(), AccessFault> {
        match self.ctx.write(addr, bytes) {
            Ok(()) => Ok(()),
            Err(e) => Err(self.record(e)),
        }
    }

    /// The map an [`Arg::Map`] argument names.
    pub fn map(&self, handle: u64) -> Option<Arc<dyn Map>> {
        self.ctx.map(handle)
    }

    /// Ends the run with an error carrying `message` once the helper
    /// returns (the value the helper returns is then ignored).
    pub fn trap(&mut self, message: impl Into<String>) -> u64 {
        self.fault = Some(HelperError::Failed(message.into()));
        0
    }

    fn record(&mut self, e: HelperError) -> AccessFault {
        let fault = match &e {
            HelperError::Fault(f) => f.clone(),
            _ => AccessFault {
                addr: 0,
                len: 0,
                access: Access::Load,
                nearest: None,
            },
        };
        if self.fault.is_none() {
            self.fault = Some(e);
        }
        fault
    }
}

/// The boxed form of a host closure: the call context and r1-r5.
pub(crate) type HostBox = Box<dyn Fn(&mut Call<'_>, [u64; 5]) -> u64 + Send + Sync>;

/// A Rust closure usable as a host helper: `Fn(&mut Call, u64, ...) -> u64`
/// with 0 to 5 `u64` arguments. `Args` only tells the arities apart.
pub trait IntoHostFn<Args>: Send + Sync + 'static {
    /// How many arguments the closure takes.
    const ARITY: usize;
    /// The closure in its boxed, uniform form.
    fn into_host_fn(self) -> HostFnBox;
}

/// A host closure in uniform form (see [`IntoHostFn`]).
pub struct HostFnBox(pub(crate) HostBox);

macro_rules! arity {
    ($n:expr, ($($t:ident),*), ($($i:tt),*)) => {
        impl<F> IntoHostFn<($($t,)*)> for F
        where
            F: Fn(&mut Call<'_>, $($t),*) -> u64 + Send + Sync + 'static,
        {
            const ARITY: usize = $n;
            fn into_host_fn(self) -> HostFnBox {
                #[allow(unused_variables)]
                HostFnBox(Box::new(move |c: &mut Call<'_>, a: [u64; 5]| self(c, $(a[$i]),*)))
            }
        }
    };
}
arity!(0, (), ());
arity!(1, (u64), (0));
arity!(2, (u64, u64), (0, 1));
arity!(3, (u64, u64, u64), (0, 1, 2));
arity!(4, (u64, u64, u64, u64), (0, 1, 2, 3));
arity!(5, (u64, u64, u64, u64, u64), (0, 1, 2, 3, 4));

/// A host closure as the engines call it. A panic in the closure is caught
/// here (`catch_unwind` around the closure only) and ends the run with an
/// error naming the helper; the process's panic hook still prints the
/// panic message to stderr, as for any caught panic.
pub(crate) struct HostHelper {
    pub(crate) name: String,
    pub(crate) f: HostBox,
}

impl Helper for HostHelper {
    fn name(&self) -> &str {
        &self.name
    }

    fn call(&self, ctx: &mut HelperCtx<'_>, args: [u64; 5]) -> Result<u64, HelperError> {
        let r = {
            let mut call = Call {
                ctx: &*ctx,
                fault: None,
            };
            let r = catch_unwind(AssertUnwindSafe(|| (self.f)(&mut call, args)));
            (r, call.fault)
        };
        match r {
            (Err(panic), _) => {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "a non-string payload".into());
                Err(HelperError::Failed(format!(
                    "the host helper {} panicked ({what}); the run was stopped, the host goes on",
                    self.name
                )))
            }
            (Ok(_), Some(e)) => Err(e),
            (Ok(v), None) => Ok(v),
        }
    }
}

/// The part of a [`HelperCtx`] a host helper uses, as a trait object so
/// that [`Call`] has one lifetime.
trait CtxOps {
    fn read(&self, addr: u64, len: u64) -> Result<Vec<u8>, HelperError>;
    fn write(&self, addr: u64, bytes: &[u8]) -> Result<(), HelperError>;
    fn map(&self, handle: u64) -> Option<Arc<dyn Map>>;
}

impl CtxOps for HelperCtx<'_> {
    fn read(&self, addr: u64, len: u64) -> Result<Vec<u8>, HelperError> {
        HelperCtx::read(self, addr, len)
    }
    fn write(&self, addr: u64, bytes: &[u8]) -> Result<(), HelperError> {
        HelperCtx::write(self, addr, bytes)
    }
    fn map(&self, handle: u64) -> Option<Arc<dyn Map>> {
        self.maps().ok()?.by_handle(handle)
    }
}
