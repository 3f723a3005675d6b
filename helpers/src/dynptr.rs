//! The dynptr helpers, as Linux 6.18 runs them: `bpf_dynptr_from_mem`,
//! `bpf_ringbuf_reserve_dynptr`, `bpf_ringbuf_submit_dynptr`,
//! `bpf_ringbuf_discard_dynptr`, `bpf_dynptr_read`, `bpf_dynptr_write` and
//! `bpf_dynptr_data`.
//!
//! A dynptr is the kernel's `struct bpf_dynptr_kern` in the program's 16
//! bytes of stack: the data pointer, then a word whose bits 0-23 are the
//! size, 28-30 the type and 31 the read-only flag, then the offset into
//! the data. A NULL dynptr is all zeroes (`bpf_dynptr_set_null`). Only
//! the helpers' types are made here (local and ring buffer dynptrs); the
//! kfunc-made ones (skb, xdp) need kfunc calls, which the engines do not
//! run.

use crate::abi::errno::{neg, E2BIG, EINVAL};
use crate::abi::{HelperCtx, HelperError, HelperRegistry};
use crate::table::def;
use ironbpf_maps::{Map, RingBuf};
use std::ptr::NonNull;

/// `DYNPTR_MAX_SIZE`.
const MAX_SIZE: u64 = (1 << 24) - 1;
/// `DYNPTR_SIZE_MASK`.
const SIZE_MASK: u32 = 0xff_ffff;
/// `DYNPTR_TYPE_SHIFT`.
const TYPE_SHIFT: u32 = 28;
/// `DYNPTR_RDONLY_BIT`.
const RDONLY_BIT: u32 = 1 << 31;
/// `BPF_DYNPTR_TYPE_LOCAL`.
const TYPE_LOCAL: u32 = 1;
/// `BPF_DYNPTR_TYPE_RINGBUF`.
const TYPE_RINGBUF: u32 = 2;

/// `struct bpf_dynptr_kern`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Dynptr {
    data: u64,
    size_word: u32,
    offset: u32,
}

impl Dynptr {
    fn new(data: u64, ty: u32, size: u32) -> Dynptr {
        Dynptr {
            data,
            size_word: (size & SIZE_MASK) | ty << TYPE_SHIFT,
            offset: 0,
        }
    }

    fn size(&self) -> u32 {
        self.size_word & SIZE_MASK
    }

    fn ty(&self) -> u32 {
        (self.size_word & !RDONLY_BIT) >> TYPE_SHIFT
    }

    fn rdonly(&self) -> bool {
        self.size_word & RDONLY_BIT != 0
    }

    /// `bpf_dynptr_check_off_len`.
    fn check_off_len(&self, offset: u64, len: u64) -> Result<(), u64> {
        let size = u64::from(self.size());
        if offset > size || len > size - offset {
            return Err(neg(E2BIG));
        }
        Ok(())
    }

    /// The address of byte `offset` of the dynptr's data.
    fn at(&self, offset: u64) -> u64 {
        self.data
            .wrapping_add(u64::from(self.offset))
            .wrapping_add(offset)
    }

    fn load(ctx: &HelperCtx<'_>, addr: u64) -> Result<Dynptr, HelperError> {
        let b: [u8; 16] = ctx.read_array(addr)?;
        let word = |i: usize| {
            let mut w = [0u8; 4];
            w.copy_from_slice(b.get(i..i + 4).unwrap_or(&[0; 4]));
            u32::from_ne_bytes(w)
        };
        let mut d = [0u8; 8];
        d.copy_from_slice(b.get(..8).unwrap_or(&[0; 8]));
        Ok(Dynptr {
            data: u64::from_ne_bytes(d),
            size_word: word(8),
            offset: word(12),
        })
    }

    fn store(&self, ctx: &HelperCtx<'_>, addr: u64) -> Result<(), HelperError> {
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&self.data.to_ne_bytes());
        b[8..12].copy_from_slice(&self.size_word.to_ne_bytes());
        b[12..].copy_from_slice(&self.offset.to_ne_bytes());
        ctx.write(addr, &b)
    }
}

/// The ring buffer of the run's maps that handed out the record `sample`.
fn ring_of(ctx: &HelperCtx<'_>, sample: u64) -> Result<std::sync::Arc<dyn Map>, HelperError> {
    let maps = ctx.maps()?;
    let p = NonNull::new(sample as *mut u8)
        .ok_or_else(|| HelperError::Failed("the dynptr's record is NULL".into()))?;
    (0..maps.len() as u32)
        .filter_map(|i| maps.get(i))
        .find(|m| {
            m.as_any()
                .downcast_ref::<RingBuf>()
                .is_some_and(|r| r.owns(p))
        })
        .ok_or_else(|| {
            HelperError::Failed(format!(
                "{sample:#x} is no reserved ring buffer record of this program's maps"
            ))
        })
}

/// `bpf_ringbuf_submit_dynptr` and `_discard_dynptr`: the record is
/// committed and the dynptr made NULL; a NULL dynptr (a failed
/// reservation) is left as it is.
fn commit(
    ctx: &mut HelperCtx<'_>,
    ptr: u64,
    flags: u64,
    discard: bool,
) -> Result<u64, HelperError> {
    let d = Dynptr::load(ctx, ptr)?;
    if d.data == 0 {
        return Ok(0);
    }
    let map = ring_of(ctx, d.data)?;
    let ring = map
        .as_any()
        .downcast_ref::<RingBuf>()
        .ok_or_else(|| HelperError::Failed("the dynptr's map is not a ring buffer".into()))?;
    let p = NonNull::new(d.data as *mut u8)
        .ok_or_else(|| HelperError::Failed("the dynptr's record is NULL".into()))?;
    if discard {
        ring.discard(p, flags);
    } else {
        ring.submit(p, flags);
    }
    Dynptr::default().store(ctx, ptr)?;
    Ok(0)
}

pub(crate) fn register(reg: &mut HelperRegistry) {
    def(reg, "dynptr_from_mem", |ctx, a| {
        let (data, size, flags, ptr) = (a[0], a[1] as u32, a[2], a[3]);
        let err = if flags != 0 {
            Some(neg(EINVAL))
        } else if u64::from(size) > MAX_SIZE {
            Some(neg(E2BIG))
        } else {
            None
        };
        if let Some(e) = err {
            Dynptr::default().store(ctx, ptr)?;
            return Ok(e);
        }
        Dynptr::new(data, TYPE_LOCAL, size).store(ctx, ptr)?;
        Ok(0)
    });
    def(reg, "ringbuf_reserve_dynptr", |ctx, a| {
        let (handle, size, flags, ptr) = (a[0], a[1] as u32, a[2], a[3]);
        if flags != 0 {
            Dynptr::default().store(ctx, ptr)?;
            return Ok(neg(EINVAL));
        }
        if u64::from(size) > MAX_SIZE {
            Dynptr::default().store(ctx, ptr)?;
            return Ok(neg(E2BIG));
        }
        let map = ctx.maps()?.by_handle(handle).ok_or_else(|| {
            HelperError::Failed(format!("r1 = {handle:#x} is not a map of this program"))
        })?;
        let ring = map.as_any().downcast_ref::<RingBuf>().ok_or_else(|| {
            HelperError::Failed(format!("map {:?} is not a ring buffer", map.spec().name))
        })?;
        match ring.reserve(u64::from(size), 0) {
            Some(p) => {
                Dynptr::new(p.as_ptr() as u64, TYPE_RINGBUF, size).store(ctx, ptr)?;
                Ok(0)
            }
            None => {
                Dynptr::default().store(ctx, ptr)?;
                Ok(neg(EINVAL))
            }
        }
    });
    def(reg, "ringbuf_submit_dynptr", |ctx, a| {
        commit(ctx, a[0], a[1], false)
    });
    def(reg, "ringbuf_discard_dynptr", |ctx, a| {
        commit(ctx, a[0], a[1], true)
    });
    def(reg, "dynptr_read", |ctx, a| {
        let (dst, len, src, offset, flags) = (a[0], a[1] as u32, a[2], a[3] as u32, a[4]);
        let d = Dynptr::load(ctx, src)?;
        if d.data == 0 || flags != 0 {
            return Ok(neg(EINVAL));
        }
        if let Err(e) = d.check_off_len(u64::from(offset), u64::from(len)) {
            return Ok(e);
        }
        if !matches!(d.ty(), TYPE_LOCAL | TYPE_RINGBUF) {
            return Err(HelperError::Failed(format!(
                "bpf_dynptr_read of a dynptr of type {}, which only kfuncs make",
                d.ty()
            )));
        }
        let bytes = ctx.read(d.at(u64::from(offset)), u64::from(len))?;
        ctx.write(dst, &bytes)?;
        Ok(0)
    });
    def(reg, "dynptr_write", |ctx, a| {
        let (dst, offset, src, len, flags) = (a[0], a[1] as u32, a[2], a[3] as u32, a[4]);
        let d = Dynptr::load(ctx, dst)?;
        if d.data == 0 || d.rdonly() {
            return Ok(neg(EINVAL));
        }
        if let Err(e) = d.check_off_len(u64::from(offset), u64::from(len)) {
            return Ok(e);
        }
        if !matches!(d.ty(), TYPE_LOCAL | TYPE_RINGBUF) {
            return Err(HelperError::Failed(format!(
                "bpf_dynptr_write to a dynptr of type {}, which only kfuncs make",
                d.ty()
            )));
        }
        if flags != 0 {
            return Ok(neg(EINVAL));
        }
        let bytes = ctx.read(src, u64::from(len))?;
        ctx.write(d.at(u64::from(offset)), &bytes)?;
        Ok(0)
    });
    def(reg, "dynptr_data", |ctx, a| {
        let (ptr, offset, len) = (a[0], a[1] as u32, a[2] as u32);
        let d = Dynptr::load(ctx, ptr)?;
        if d.data == 0
            || d.check_off_len(u64::from(offset), u64::from(len)).is_err()
            || d.rdonly()
            || !matches!(d.ty(), TYPE_LOCAL | TYPE_RINGBUF)
        {
            // skb and xdp dynptrs are read through bpf_dynptr_slice.
            return Ok(0);
        }
        Ok(d.at(u64::from(offset)))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_size_word_holds_size_type_and_read_only_bit() {
        let d = Dynptr::new(0x1000, TYPE_RINGBUF, 40);
        assert_eq!(d.size(), 40);
        assert_eq!(d.ty(), TYPE_RINGBUF);
        assert!(!d.rdonly());
        assert_eq!(d.size_word, 40 | 2 << 28);
        assert_eq!(d.check_off_len(40, 0), Ok(()));
        assert_eq!(d.check_off_len(32, 8), Ok(()));
        assert_eq!(d.check_off_len(33, 8), Err(neg(E2BIG)));
        assert_eq!(d.check_off_len(41, 0), Err(neg(E2BIG)));
        assert_eq!(d.at(8), 0x1008);
    }
}
