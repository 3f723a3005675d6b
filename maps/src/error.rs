//! The one error type of this crate: an errno as the kernel would return it,
//! with a message naming the field or argument at fault.

/// A refused map operation: `errno` is what the kernel returns for the same
/// request (`libc::EINVAL`, `libc::ENOENT`, ...), `message` says why in words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct MapError {
    /// The kernel's errno for this failure (positive).
    pub errno: i32,
    /// What went wrong, naming the field, key or flag at fault.
    pub message: String,
}

/// The kernel's `ENOTSUPP` (524), returned for batch operations a map kind
/// does not implement; it is not in libc's user-space errno list.
pub const ENOTSUPP: i32 = 524;

impl MapError {
    /// An error with the given errno and message.
    pub fn new(errno: i32, message: impl Into<String>) -> Self {
        MapError {
            errno,
            message: message.into(),
        }
    }

    pub(crate) fn inval(message: impl Into<String>) -> Self {
        Self::new(libc::EINVAL, message)
    }

    pub(crate) fn noent(message: impl Into<String>) -> Self {
        Self::new(libc::ENOENT, message)
    }

    /// The errno's symbolic name (`"EINVAL"`), for messages and tests.
    pub fn errno_name(&self) -> &'static str {
        errno_name(self.errno)
    }
}

/// The symbolic name of an errno (`ENOENT`), for the ones bpf(2) and the
/// map operations return; `E?` for another.
pub fn errno_name(errno: i32) -> &'static str {
    match errno {
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::ESRCH => "ESRCH",
        libc::EINTR => "EINTR",
        libc::EIO => "EIO",
        libc::ENXIO => "ENXIO",
        libc::E2BIG => "E2BIG",
        libc::EBADF => "EBADF",
        libc::EAGAIN => "EAGAIN",
        libc::ENOMEM => "ENOMEM",
        libc::EACCES => "EACCES",
        libc::EFAULT => "EFAULT",
        libc::EBUSY => "EBUSY",
        libc::EEXIST => "EEXIST",
        libc::EXDEV => "EXDEV",
        libc::ENODEV => "ENODEV",
        libc::EINVAL => "EINVAL",
        libc::ENFILE => "ENFILE",
        libc::EMFILE => "EMFILE",
        libc::ENOSPC => "ENOSPC",
        libc::ERANGE => "ERANGE",
        libc::ENOSYS => "ENOSYS",
        libc::ELOOP => "ELOOP",
        libc::ENODATA => "ENODATA",
        libc::EOVERFLOW => "EOVERFLOW",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        libc::ETIMEDOUT => "ETIMEDOUT",
        ENOTSUPP => "ENOTSUPP",
        _ => "E?",
    }
}
