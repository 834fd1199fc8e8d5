//! EAL initialisation, once per process.

use std::ffi::CString;
use std::os::raw::{c_char, c_int};
use std::sync::atomic::{AtomicU8, Ordering};

use crate::error::{cvt_errno, Error, Result};

const UNINIT: u8 = 0;
const BUSY: u8 = 1;
const READY: u8 = 2;
const FAILED: u8 = 3;

static STATE: AtomicU8 = AtomicU8::new(UNINIT);

/// Proof that the EAL is initialised: APIs that need the EAL take `&Eal`.
///
/// There is at most one per process. Dropping it does nothing (DPDK cannot be re-initialised);
/// [`Eal::cleanup`] releases DPDK's resources at exit.
#[derive(Debug)]
pub struct Eal {
    _private: (),
}

impl Eal {
    /// Initialise the EAL with `args` (the program name first, as in `argv`).
    ///
    /// # Errors
    /// [`Error::AlreadyInitialized`] on a second call, [`Error::InitFailedBefore`] after a failed
    /// one, and the EAL's own error (bad argument, no hugepages, ...) otherwise.
    #[doc(alias = "rte_eal_init")]
    pub fn init<I, S>(args: I) -> Result<Eal>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        match STATE.compare_exchange(UNINIT, BUSY, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => {}
            Err(FAILED) => return Err(Error::InitFailedBefore),
            Err(_) => return Err(Error::AlreadyInitialized),
        }
        let owned: std::result::Result<Vec<CString>, _> =
            args.into_iter().map(|a| CString::new(a.as_ref())).collect();
        let owned = match owned {
            Ok(v) => v,
            Err(_) => {
                STATE.store(UNINIT, Ordering::Release);
                return Err(Error::InvalidArgument(
                    "EAL argument contains a NUL byte".into(),
                ));
            }
        };
        // The EAL may keep pointers into argv and permutes it: give it leaked, owned strings.
        let mut argv: Vec<*mut c_char> = owned.into_iter().map(CString::into_raw).collect();
        let argc = c_int::try_from(argv.len())
            .map_err(|_| Error::InvalidArgument("too many EAL arguments".into()))?;
        argv.push(std::ptr::null_mut());
        let argv = argv.leak();
        // SAFETY: argv holds argc valid NUL-terminated strings followed by NULL, leaked so they
        // outlive the EAL; STATE guarantees this runs once per process.
        let ret = unsafe { dpdk_sys::rte_eal_init(argc, argv.as_mut_ptr()) };
        match cvt_errno("rte_eal_init", ret) {
            Ok(_) => {
                STATE.store(READY, Ordering::Release);
                Ok(Eal { _private: () })
            }
            Err(e) => {
                STATE.store(FAILED, Ordering::Release);
                Err(e)
            }
        }
    }

    /// Return true once the EAL is initialised in this process.
    pub fn is_initialized() -> bool {
        STATE.load(Ordering::Acquire) == READY
    }

    /// Release the EAL's resources (hugepage files, devices). Call once, at exit, after every
    /// port is closed and every worker lcore has returned.
    #[doc(alias = "rte_eal_cleanup")]
    pub fn cleanup(self) -> Result<()> {
        // SAFETY: we own the only Eal token, so the EAL is initialised; consuming it means no
        // further EAL calls through it.
        let ret = unsafe { dpdk_sys::rte_eal_cleanup() };
        crate::error::cvt("rte_eal_cleanup", ret).map(|_| ())
    }

    /// Return the TSC frequency in Hz.
    #[doc(alias = "rte_get_tsc_hz")]
    pub fn tsc_hz(&self) -> u64 {
        // SAFETY: the EAL is initialised (we hold the token).
        unsafe { dpdk_sys::rte_get_tsc_hz() }
    }

    /// Return the TSC as a [`dataplane::io::Clock`] for the worker loop.
    pub fn tsc_clock(&self) -> TscClock {
        TscClock { hz: self.tsc_hz() }
    }
}

/// The time-stamp counter as the worker loop's clock (its frequency read once from the EAL).
#[derive(Clone, Copy, Debug)]
pub struct TscClock {
    hz: u64,
}

impl dataplane::io::Clock for TscClock {
    #[inline]
    fn ticks(&self) -> u64 {
        rdtsc()
    }
    #[inline]
    fn hz(&self) -> u64 {
        self.hz
    }
}

/// Read the time-stamp counter.
#[doc(alias = "rte_rdtsc")]
#[inline]
pub fn rdtsc() -> u64 {
    // SAFETY: reads the CPU's TSC; no preconditions.
    unsafe { dpdk_sys::rte_rdtsc() }
}
