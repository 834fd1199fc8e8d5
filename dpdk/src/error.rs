//! One error type for the whole safe layer, carrying DPDK's errno text.

use std::ffi::CStr;
use std::os::raw::c_int;

/// A failed DPDK call or a refused request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A DPDK function returned an error.
    #[error("{op} failed: {msg} (errno {errno})")]
    Dpdk {
        /// The DPDK function that failed.
        op: &'static str,
        /// The positive errno value.
        errno: i32,
        /// `rte_strerror(errno)`.
        msg: String,
    },
    /// `Eal::init` was called a second time in this process.
    #[error(
        "the DPDK EAL is already initialised in this process (it can only be initialised once)"
    )]
    AlreadyInitialized,
    /// An earlier `Eal::init` failed; DPDK cannot be initialised again in this process.
    #[error("an earlier DPDK EAL initialisation failed in this process; restart it")]
    InitFailedBefore,
    /// A device spec names no device DPDK can probe.
    #[error("cannot probe DPDK device '{spec}': {reason}")]
    Device {
        /// The spec as given (PCI address or vdev string).
        spec: String,
        /// Why, with the fix where one is known.
        reason: String,
    },
    /// A caller-supplied value is out of range.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The resource is still in use (a queue handle alive, mbufs out of a pool...).
    #[error("busy: {0}")]
    Busy(String),
}

/// Shorthand for results of this crate.
pub type Result<T> = std::result::Result<T, Error>;

/// Return `rte_strerror(errno)` as a `String`.
pub(crate) fn strerror(errno: c_int) -> String {
    // SAFETY: rte_strerror accepts any int and returns a pointer to a NUL-terminated string
    // (static, or in thread-local storage valid until the next call on this thread); we copy it
    // out immediately.
    let p = unsafe { dpdk_sys::rte_strerror(errno) };
    if p.is_null() {
        return format!("errno {errno}");
    }
    // SAFETY: p is non-null and points to a NUL-terminated string (see above).
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

/// Build an [`Error::Dpdk`] from a positive errno.
pub(crate) fn dpdk_error(op: &'static str, errno: c_int) -> Error {
    let errno = errno.abs();
    Error::Dpdk {
        op,
        errno,
        msg: strerror(errno),
    }
}

/// Return the calling thread's `rte_errno`.
pub(crate) fn rte_errno() -> c_int {
    // SAFETY: reads a thread-local int; always valid.
    unsafe { dpdk_sys::ferrovs_rte_errno() }
}

/// Map DPDK's "negative errno on failure" convention to a `Result`.
pub(crate) fn cvt(op: &'static str, ret: c_int) -> Result<c_int> {
    if ret < 0 {
        Err(dpdk_error(op, -ret))
    } else {
        Ok(ret)
    }
}

/// Map DPDK's "-1 and rte_errno on failure" convention to a `Result`.
pub(crate) fn cvt_errno(op: &'static str, ret: c_int) -> Result<c_int> {
    if ret < 0 {
        Err(dpdk_error(op, rte_errno()))
    } else {
        Ok(ret)
    }
}

/// Map DPDK's "NULL and rte_errno on failure" convention to a `Result`.
pub(crate) fn cvt_p<T>(op: &'static str, p: *mut T) -> Result<std::ptr::NonNull<T>> {
    std::ptr::NonNull::new(p).ok_or_else(|| dpdk_error(op, rte_errno()))
}
