//! `ferrovsadm -L -c`: the session dump each worker fills on request, and control's view of
//! them (the rest of the admin API is control's, in `control::plane::admin`).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use admin::proto::ConnEntry;
use control::plane::SessionDumps;
use dataplane::session::{FwdMethod, Session, SessionAddr};
use dataplane::types::L4Proto;
use dataplane::worker::Worker;

/// At most this many connection entries per worker in one `-L -c` dump.
const DUMP_MAX: usize = 100_000;
/// How long control waits for the workers' dumps.
const DUMP_WAIT: Duration = Duration::from_secs(2);

/// A request for, and the result of, one worker's session dump.
#[derive(Debug, Default)]
pub(super) struct ConnDump {
    requested: AtomicBool,
    done: AtomicBool,
    entries: Mutex<Vec<ConnEntry>>,
}

impl ConnDump {
    /// Called by the worker every loop iteration: one relaxed load unless a dump is asked for.
    #[inline]
    pub(super) fn serve(&self, worker: &Worker, now: u32) {
        if !self.requested.load(Ordering::Relaxed) {
            return;
        }
        self.requested.store(false, Ordering::Relaxed);
        // Off the packet path: a dump is rare and asked for by an operator.
        let mut out = Vec::new();
        dump(worker.sessions4().iter().map(|(_, s)| s), now, &mut out);
        dump(worker.sessions6().iter().map(|(_, s)| s), now, &mut out);
        if let Ok(mut e) = self.entries.lock() {
            *e = out;
        }
        self.done.store(true, Ordering::Release);
    }
}

fn dump<'a, A: SessionAddr + Into<std::net::IpAddr> + 'a>(
    sessions: impl Iterator<Item = &'a Session<A>>,
    now: u32,
    out: &mut Vec<ConnEntry>,
) {
    for s in sessions.take(DUMP_MAX) {
        // A session-sync redirect stub is not a connection (its session is on another worker).
        if s.is_expired(now) || s.is_sync_stub() {
            continue;
        }
        out.push(ConnEntry {
            protocol: s.proto(),
            client: SocketAddr::new(s.client().into(), s.cport()),
            virtual_addr: SocketAddr::new(s.vip().into(), s.vport()),
            destination: SocketAddr::new(s.backend().into(), s.bport()),
            state: if s.proto() == L4Proto::Udp {
                "UDP".to_owned()
            } else {
                s.state_name().to_owned()
            },
            expire_s: s.expires().saturating_sub(now),
            local: (s.method() == FwdMethod::FullNat)
                .then(|| SocketAddr::new(s.laddr().into(), s.lport())),
        });
    }
}

/// Every worker's session dump, for control's admin API.
#[derive(Debug)]
pub(super) struct Dumps(pub(super) Vec<Arc<ConnDump>>);

impl SessionDumps for Dumps {
    fn connections(&self) -> Vec<ConnEntry> {
        for d in &self.0 {
            d.done.store(false, Ordering::Relaxed);
            d.requested.store(true, Ordering::Relaxed);
        }
        let deadline = Instant::now() + DUMP_WAIT;
        let mut out = Vec::new();
        for d in &self.0 {
            while !d.done.load(Ordering::Acquire) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(1));
            }
            if let Ok(mut e) = d.entries.lock() {
                out.append(&mut e);
            }
        }
        out
    }
}
