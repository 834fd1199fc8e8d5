//! Whether a BIRD answers on its control socket (`ferrovs_bird_up`, `ferrovs doctor`).
//!
//! BIRD greets every client of its control socket with a `0001 BIRD <version> ready.` line.
//! [`probe`] connects and reads that line; [`BirdWatch`] probes once a second on a thread of its
//! own, so a BIRD that hangs never stalls the control loop. What it finds changes nothing in
//! forwarding or in the route table: a BIRD that is absent or down is only reported.

use std::io::{BufRead, BufReader};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// How often the watch probes.
pub const PROBE_EVERY: Duration = Duration::from_secs(1);

/// Connect to BIRD's control socket at `path` and read its greeting within `timeout`; return
/// the greeting (`BIRD 2.0.12 ready.`), or why there is no BIRD there.
///
/// # Errors
/// The reason, one line: no socket, nobody listening, no greeting.
pub fn probe(path: &Path, timeout: Duration) -> Result<String, String> {
    let s = UnixStream::connect(path).map_err(|e| format!("no BIRD on {}: {e}", path.display()))?;
    s.set_read_timeout(Some(timeout))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let mut line = String::new();
    BufReader::new(s)
        .read_line(&mut line)
        .map_err(|e| format!("BIRD on {} sent no greeting: {e}", path.display()))?;
    match line.trim_end().strip_prefix("0001 ") {
        Some(g) => Ok(g.to_owned()),
        None => Err(format!(
            "{} answered {:?}, not BIRD's greeting",
            path.display(),
            line.trim_end()
        )),
    }
}

#[derive(Debug, Default)]
struct Shared {
    up: AtomicBool,
    problem: Mutex<Option<String>>,
}

/// Probes BIRD's control socket every [`PROBE_EVERY`]; dropping it ends the thread.
#[derive(Debug)]
pub struct BirdWatch {
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl BirdWatch {
    /// Start probing `path` (the first probe runs at once).
    ///
    /// # Errors
    /// The thread could not be started.
    pub fn start(path: PathBuf) -> std::io::Result<Self> {
        let shared = Arc::new(Shared::default());
        let stop = Arc::new(AtomicBool::new(false));
        let (sh, st) = (shared.clone(), stop.clone());
        let thread = std::thread::Builder::new()
            .name("ferrovs-bird".into())
            .spawn(move || {
                while !st.load(Ordering::Relaxed) {
                    let r = probe(&path, PROBE_EVERY);
                    sh.up.store(r.is_ok(), Ordering::Relaxed);
                    if let Ok(mut p) = sh.problem.lock() {
                        *p = r.err();
                    }
                    // Sleep in slices so a stop is quick.
                    for _ in 0..10 {
                        if st.load(Ordering::Relaxed) {
                            return;
                        }
                        std::thread::sleep(PROBE_EVERY / 10);
                    }
                }
            })?;
        Ok(Self {
            shared,
            stop,
            thread: Some(thread),
        })
    }

    /// Whether BIRD answered the last probe.
    pub fn up(&self) -> bool {
        self.shared.up.load(Ordering::Relaxed)
    }

    /// Why BIRD did not answer the last probe (`None` while it answers or before the first).
    pub fn problem(&self) -> Option<String> {
        self.shared.problem.lock().ok().and_then(|g| g.clone())
    }
}

impl Drop for BirdWatch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::unix::net::UnixListener;

    #[test]
    fn a_greeting_is_up_anything_else_is_down_with_the_reason() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("bird.ctl");
        let e = probe(&path, Duration::from_millis(200)).expect_err("no socket");
        assert!(e.starts_with("no BIRD on "), "{e}");
        let l = UnixListener::bind(&path).expect("bind");
        let server = std::thread::spawn(move || {
            for (i, s) in l.incoming().take(2).enumerate() {
                let mut s = s.expect("accept");
                let line: &[u8] = if i == 0 {
                    b"0001 BIRD 2.0.12 ready.\n"
                } else {
                    b"HTTP/1.1 400 Bad Request\n"
                };
                s.write_all(line).expect("write");
            }
        });
        assert_eq!(
            probe(&path, Duration::from_secs(2)).as_deref(),
            Ok("BIRD 2.0.12 ready.")
        );
        let e = probe(&path, Duration::from_secs(2)).expect_err("not BIRD");
        assert!(e.contains("not BIRD's greeting"), "{e}");
        server.join().expect("server");
    }
}
