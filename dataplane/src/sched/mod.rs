//! The ipvsadm schedulers (work in progress: filled in by the schedulers change).

pub mod hash;
