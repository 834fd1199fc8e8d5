//! Logical cores: enumerate them, launch a closure on one, join it.

use std::os::raw::{c_int, c_void};

use crate::eal::Eal;
use crate::error::{cvt, Error, Result};

/// A DPDK logical core id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LcoreId(pub u32);

/// Return the lcore the calling thread runs on, or `None` on a non-EAL thread.
#[doc(alias = "rte_lcore_id")]
pub fn current() -> Option<LcoreId> {
    // SAFETY: reads a thread-local; valid on any thread.
    let id = unsafe { dpdk_sys::rte_lcore_id() };
    (id != u32::MAX).then_some(LcoreId(id))
}

/// Return the main lcore.
#[doc(alias = "rte_get_main_lcore")]
pub fn main_lcore(_eal: &Eal) -> LcoreId {
    // SAFETY: the EAL is initialised.
    LcoreId(unsafe { dpdk_sys::rte_get_main_lcore() })
}

/// Return the enabled worker lcores (all lcores but the main one), in order.
#[doc(alias = "rte_get_next_lcore")]
pub fn workers(_eal: &Eal) -> Vec<LcoreId> {
    let mut out = Vec::new();
    let mut i: u32 = u32::MAX;
    loop {
        // SAFETY: the EAL is initialised; i is u32::MAX (start) or a previous result.
        i = unsafe { dpdk_sys::rte_get_next_lcore(i, 1, 0) };
        if i >= dpdk_sys::RTE_MAX_LCORE {
            return out;
        }
        out.push(LcoreId(i));
    }
}

/// Return the NUMA socket of an lcore.
#[doc(alias = "rte_lcore_to_socket_id")]
pub fn socket_of(_eal: &Eal, lcore: LcoreId) -> u32 {
    // SAFETY: the EAL is initialised; out-of-range ids return SOCKET_ID_ANY-like values.
    unsafe { dpdk_sys::rte_lcore_to_socket_id(lcore.0) }
}

type Job = Box<dyn FnOnce() -> i32 + Send + 'static>;

extern "C" fn trampoline(arg: *mut c_void) -> c_int {
    // SAFETY: `arg` is the Box<Job> leaked by `launch`, handed to exactly one lcore.
    let job: Box<Job> = unsafe { Box::from_raw(arg.cast::<Job>()) };
    // Unwinding into C is undefined: turn a panic into an error code (release builds abort).
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(job)).unwrap_or(-1)
}

/// A closure running on a worker lcore; [`LcoreJoin::join`] waits for its return value.
/// Dropping it also waits, so an lcore is never left running unobserved.
#[derive(Debug)]
#[must_use = "dropping a LcoreJoin waits for the lcore"]
pub struct LcoreJoin {
    lcore: LcoreId,
    joined: bool,
}

impl LcoreJoin {
    /// Return the lcore this job runs on.
    pub fn lcore(&self) -> LcoreId {
        self.lcore
    }

    /// Wait for the closure to return and give its value (-1 if it panicked).
    #[doc(alias = "rte_eal_wait_lcore")]
    pub fn join(mut self) -> i32 {
        self.joined = true;
        // SAFETY: the lcore was launched by us and the EAL is initialised.
        unsafe { dpdk_sys::rte_eal_wait_lcore(self.lcore.0) }
    }
}

impl Drop for LcoreJoin {
    fn drop(&mut self) {
        if !self.joined {
            // SAFETY: as in join().
            unsafe { dpdk_sys::rte_eal_wait_lcore(self.lcore.0) };
        }
    }
}

/// Run `f` on worker lcore `lcore`.
///
/// # Errors
/// Fails if `lcore` is the caller's own, is not a worker, or is busy.
#[doc(alias = "rte_eal_remote_launch")]
pub fn launch<F>(eal: &Eal, lcore: LcoreId, f: F) -> Result<LcoreJoin>
where
    F: FnOnce() -> i32 + Send + 'static,
{
    if !workers(eal).contains(&lcore) {
        return Err(Error::InvalidArgument(format!(
            "lcore {} is not an enabled worker lcore",
            lcore.0
        )));
    }
    let job: Box<Job> = Box::new(Box::new(f));
    let arg = Box::into_raw(job).cast::<c_void>();
    // SAFETY: trampoline matches lcore_function_t; arg is a leaked Box<Job> that the trampoline
    // reclaims exactly once, or that we reclaim below if the launch fails.
    let ret = unsafe { dpdk_sys::rte_eal_remote_launch(Some(trampoline), arg, lcore.0) };
    if let Err(e) = cvt("rte_eal_remote_launch", ret) {
        // SAFETY: the launch failed, so the trampoline never ran and never will.
        drop(unsafe { Box::from_raw(arg.cast::<Job>()) });
        return Err(e);
    }
    Ok(LcoreJoin {
        lcore,
        joined: false,
    })
}
