//! Errors from `bpf(2)`, named by the command and the errno so that the person
//! reading them can look both up.

use std::fmt;

/// A failed `bpf(2)` command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelError {
    /// The command, as the uapi header names it (`BPF_MAP_CREATE`).
    pub op: &'static str,
    /// The errno the kernel returned.
    pub errno: i32,
    /// What we were doing, when that helps (the map or program name).
    pub context: String,
}

impl KernelError {
    pub fn new(op: &'static str, errno: i32) -> Self {
        KernelError {
            op,
            errno,
            context: String::new(),
        }
    }
    pub fn with_context(mut self, context: impl Into<String>) -> Self {
        self.context = context.into();
        self
    }
}

impl fmt::Display for KernelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} failed: {} ({})",
            self.op,
            errno_name(self.errno),
            errno_text(self.errno)
        )?;
        if !self.context.is_empty() {
            write!(f, " for {}", self.context)?;
        }
        Ok(())
    }
}

impl std::error::Error for KernelError {}

/// The symbolic name of an errno (`ENOENT`), or `errno N` for one without
/// a name in `ironbpf_maps::errno_name`'s table.
pub fn errno_name(errno: i32) -> String {
    match ironbpf_maps::errno_name(errno) {
        "E?" => format!("errno {errno}"),
        name => name.to_string(),
    }
}

/// The C library's text for an errno.
pub fn errno_text(errno: i32) -> String {
    if errno == 524 {
        return "operation not supported by the kernel".to_string();
    }
    let text = std::io::Error::from_raw_os_error(errno).to_string();
    // std appends " (os error N)"; the name already says which.
    match text.find(" (os error") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}
