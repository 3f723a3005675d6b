//! The conditions a program can fail, each with the register, offset or
//! state that broke it; [`crate::Rejection::message`] carries the kernel's
//! words for the same failure.

/// The failed safety condition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RejectionKind {
    /// Placeholder while the verifier is being written.
    NotYet,
}
