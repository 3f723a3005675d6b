//! The test helpers that uBPF's and bpf_conformance's suites call by id
//! (uBPF's `test_helpers.h` convention): 0 gather_bytes, 1 memfrob, 2 no_op,
//! 3 sqrti, 4 strcmp_ext, 5 unwind.

use ironbpf_vm::{HelperCtx, HelperError, HelperRegistry};

/// How far `strcmp_ext` reads before it gives up on finding a NUL.
const STRCMP_MAX: u64 = 1 << 20;

/// A registry holding the six uBPF test helpers.
pub fn ubpf_test_helpers() -> HelperRegistry {
    let mut r = HelperRegistry::new();
    r.register_fn(0, "gather_bytes", |_, a| {
        Ok(((a[0] & 0xff) << 32)
            | ((a[1] & 0xff) << 24)
            | ((a[2] & 0xff) << 16)
            | ((a[3] & 0xff) << 8)
            | (a[4] & 0xff))
    });
    r.register_fn(1, "memfrob", |ctx: &mut HelperCtx<'_>, a| {
        let mut bytes = ctx.read(a[0], a[1])?;
        bytes.iter_mut().for_each(|b| *b ^= 42);
        ctx.write(a[0], &bytes)?;
        Ok(0)
    });
    r.register_fn(2, "no_op", |_, _| Ok(0));
    r.register_fn(3, "sqrti", |_, a| Ok((a[0] as f64).sqrt() as u32 as u64));
    r.register_fn(4, "strcmp_ext", |ctx: &mut HelperCtx<'_>, a| {
        let x = ctx.read_cstr(a[0], STRCMP_MAX)?;
        let y = ctx.read_cstr(a[1], STRCMP_MAX)?;
        // strcmp's sign, from the first differing byte (NUL ends a string).
        let first_diff = x
            .iter()
            .chain(std::iter::once(&0))
            .zip(y.iter().chain(std::iter::once(&0)))
            .map(|(&p, &q)| p as i64 - q as i64)
            .find(|&d| d != 0)
            .unwrap_or(0);
        Ok(first_diff as u64)
    });
    r.register_fn(5, "unwind", |_, a| {
        if a[0] == 0 {
            Err(HelperError::Stop { r0: 0 })
        } else {
            Ok(a[0])
        }
    });
    r
}
