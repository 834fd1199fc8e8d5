//! `syn_proxy = "auto"` where operators look: real workers driven over the SYN rate engage the
//! proxy; the admin listing (`ferrovsadm -L --syn-proxy`) and the console's status document,
//! served by the control loop, say on how many workers, and agree with the metrics.

use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use admin::proto::{ListQuery, SynProxyMode, SynProxyState};
use admin::server::AdminServer;
use dataplane::frame::VecFrame;
use dataplane::wire::DropReason;
use dataplane::worker::Verdict;
use testkit::packet;

use super::{Dataplane, Fixture, CLIENT, CLIENT_MAC, MAC0, VIP};
use crate::console::status::{Gateway, Status};
use crate::metrics::collect::traffic_rows;
use crate::plane::{run, Limits, Sources};
use crate::topology::Ids;

/// [`super::CONFIG`]'s FullNAT service with `syn_proxy = "auto"`, on at 5 SYNs a second a
/// worker, off below 2 held for 2 s.
fn config() -> String {
    let mut text = super::CONFIG.replace(
        "local_address_pool = \"snat\"\n\n[[service.real_server]]",
        "local_address_pool = \"snat\"\nsyn_proxy = \"auto\"\n\n[[service.real_server]]",
    );
    assert!(text.contains("syn_proxy = \"auto\""), "the fixture changed");
    text.push_str(
        "\n[syn_proxy]\nsecret = \"5f1c0a3e9b27d4866e0f1b2c3d4e5a69\"\n\
         auto_on_syn_rate = 5\nauto_off_syn_rate = 2\nauto_hold = 2\n",
    );
    text
}

/// A SYN from the client's port `sport` to the VIP, as it arrives on wan0.
fn syn(sport: u16) -> VecFrame {
    let f = packet::tcp(
        (CLIENT_MAC, MAC0),
        IpAddr::V4(CLIENT),
        IpAddr::V4(VIP),
        sport,
        80,
        packet::SYN,
        &[],
    );
    VecFrame::new(&f)
}

impl Fixture {
    /// Every driven worker takes the published snapshot and its clock ticks to `now`.
    fn tick_all(&mut self, now: u32) {
        let snap = self.shared.load_full();
        for w in &mut self.driven {
            w.sync(&snap);
            w.tick(now);
        }
    }

    /// Driven worker `w` receives `n` new SYNs at `now` (the same second: the rate is per
    /// second), from client ports starting at `from`.
    fn syns(&mut self, w: usize, now: u32, from: u16, n: u16) {
        let snap = self.shared.load_full();
        let mut frames: Vec<VecFrame> = (from..from + n).map(syn).collect();
        let mut v = vec![Verdict::Drop(DropReason::NotForUs); frames.len()];
        self.driven[w].process(&snap, now, 0, &mut frames, &mut v);
        // Not answered with cookies: the proxy is not engaged yet, so they go on to the real
        // server (through control, which resolves its neighbour first).
        assert!(
            v.iter()
                .all(|v| !matches!(v, Verdict::Drop(_) | Verdict::Tx(0))),
            "{v:?}"
        );
    }

    /// The service's SYN proxy as the admin listing says it.
    fn listed(&self) -> Option<SynProxyState> {
        let l = admin::handler::listing(&self.ctl, &ListQuery::default()).expect("listing");
        assert_eq!(l.services.len(), 1);
        l.services[0].syn_proxy
    }

    /// The same as the metrics say it: (engaged workers, engagements, releases).
    fn scraped(&self) -> (u64, u64, u64) {
        let snap = self.shared.load();
        let counters: Vec<_> = self.driven.iter().map(|w| w.counters().clone()).collect();
        let (rows, _) = traffic_rows(&snap, &counters, None);
        let r = rows[0].syn_proxy;
        (r.engaged_workers, r.engaged_total, r.released_total)
    }
}

fn state(engaged_workers: u32, engaged_total: u64, released_total: u64) -> SynProxyState {
    SynProxyState {
        mode: SynProxyMode::Auto,
        workers: 2,
        engaged_workers,
        engaged_total,
        released_total,
    }
}

/// The status document as the console serves it, built through the control loop's admin
/// queue (the path `GET /api/status` takes).
fn status_document(f: &mut Fixture) -> serde_json::Value {
    let dir = tempfile::tempdir().unwrap();
    let server = AdminServer::bind(dir.path().join("admin.sock")).expect("bind");
    let status = Status::new(server.local_client(), Arc::new(Gateway::default));
    let sources = Sources {
        admin: server.requests().clone(),
        ..Sources::idle()
    };
    let stop = sources.stop.clone();
    let console = std::thread::spawn(move || {
        let doc = status.json(|| serde_json::json!({}));
        stop.store(true, Ordering::Relaxed);
        doc
    });
    run(&mut f.ctl, &sources);
    let doc = console.join().expect("console thread");
    serde_json::from_slice(&doc).expect("JSON")
}

#[test]
fn test_auto_engaged_on_one_worker_is_listed_and_in_the_status_document() {
    let mut f = Fixture::build(
        &config(),
        Dataplane::Driven(2),
        Limits::default(),
        Ids::new(64, 256),
    );
    // The first tick starts the first one-second window.
    f.tick_all(10);
    assert_eq!(f.listed(), Some(state(0, 0, 0)), "calm");

    // Worker 0 sees 8 SYNs in a second (over its on level of 5), worker 1 one.
    f.syns(0, 10, 41000, 8);
    f.syns(1, 10, 42000, 1);
    f.tick_all(11);
    assert_eq!(f.listed(), Some(state(1, 1, 0)), "engaged on worker 0");
    assert_eq!(f.scraped(), (1, 1, 0), "the metrics say the same");

    let doc = status_document(&mut f);
    let svc = &doc["listing"]["services"][0];
    assert_eq!(
        svc["syn_proxy"],
        serde_json::json!({
            "mode": "auto",
            "workers": 2,
            "engaged_workers": 1,
            "engaged_total": 1,
            "released_total": 0,
        }),
        "{doc}"
    );

    // Quiet from now on: worker 0 lets go once both measures stayed below their off levels
    // for auto_hold (2 s).
    let mut now = 11;
    while f.scraped().0 == 1 {
        now += 1;
        assert!(now < 20, "never let go");
        f.tick_all(now);
    }
    assert_eq!(now, 14, "calm from second 12, released at 12 + 2");
    assert_eq!(f.listed(), Some(state(0, 1, 1)), "released");

    // Both over the rate: engaged on both.
    f.syns(0, now, 43000, 6);
    f.syns(1, now, 44000, 5);
    f.tick_all(now + 1);
    assert_eq!(f.listed(), Some(state(2, 3, 1)));
    assert_eq!(f.scraped(), (2, 3, 1));
}
