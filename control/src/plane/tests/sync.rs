//! Session sync on the control plane: a reload leaves the channel alone unless `[sync]`
//! changes, the ready check waits for the peer's initial resync, and ipvsadm's sync-daemon
//! commands start, list and stop the channel through the admin socket and the control loop.
//! The channel's socket is a real UDP socket on loopback; the peer is a [`Channel`] the test
//! drives.

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use admin::proto::{DaemonSpec, DaemonState, Request, Response};
use admin::server::AdminServer;
use config::SyncMode;

use super::{with_rs2, Dataplane, Fixture, CONFIG};
use crate::plane::{run, Limits, Sources};
use crate::sync::{unix_epoch_now, Channel, Event, Settings, UdpTransport};
use crate::topology::Ids;

const KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

/// A UDP port on loopback that nothing listens on now.
fn free_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .expect("a free port")
        .port()
}

fn at(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// [`CONFIG`] with `[sync]` from `us` to `peer`, plus `extra` lines in the section.
fn sync_config(us: u16, peer: u16, extra: &str) -> String {
    format!(
        "{CONFIG}\n[sync]\nlisten = \"{}\"\npeers = [\"{}\"]\nkey = \"{KEY}\"\n{extra}\n",
        at(us),
        at(peer)
    )
}

fn fixture(text: &str) -> Fixture {
    Fixture::build_with(
        text,
        Dataplane::Running(1),
        Limits::default(),
        Ids::new(64, 256),
        true,
    )
}

impl Fixture {
    /// One iteration of the control loop's sync work (bind, drain, timers, send).
    fn sync_poll(&mut self) {
        let snap = self.shared.load_full();
        if let Some(s) = &mut self.ctl.sync {
            s.poll(&snap, 0, Instant::now());
        }
    }

    /// Take the datagrams that arrived on the channel's socket, and run its timers.
    fn sync_receive(&mut self) {
        let snap = self.shared.load_full();
        let Some(s) = &mut self.ctl.sync else {
            return;
        };
        let rx = s.datagrams();
        while let Ok(d) = rx.try_recv() {
            s.on_datagram(&d, &snap, Instant::now());
        }
        s.on_timer(&snap, Instant::now());
    }

    /// The running channel's epoch (`None`: no channel).
    fn sync_epoch(&self) -> Option<u64> {
        self.ctl.sync()?.channel().map(Channel::epoch)
    }

    /// Write `text` as the configuration file and reload it.
    fn reload_with(&mut self, text: &str) {
        // Epochs are microseconds: make a restart's visible.
        std::thread::sleep(Duration::from_millis(2));
        std::fs::write(&self.path, text).expect("write config");
        self.ctl.reload_file().expect("reload");
        self.sync_poll();
    }
}

#[test]
fn reload_restarts_the_sync_channel_only_when_its_settings_change() {
    let (us, peer) = (free_port(), free_port());
    let text = sync_config(us, peer, "enabled = true\nsyncid = 7");
    let mut f = fixture(&text);
    f.sync_poll();
    let first = f.sync_epoch().expect("the channel runs");

    // The same file, and a file whose services change but not [sync]: the same channel.
    f.reload_with(&text);
    assert_eq!(f.sync_epoch(), Some(first), "same file: channel untouched");
    let more = format!(
        "{}\n[sync]\nlisten = \"{}\"\npeers = [\"{}\"]\nkey = \"{KEY}\"\nenabled = true\nsyncid = 7\n",
        with_rs2(),
        at(us),
        at(peer)
    );
    f.reload_with(&more);
    assert_eq!(f.ctl.config().services[0].real_servers.len(), 2);
    assert_eq!(
        f.sync_epoch(),
        Some(first),
        "services changed: channel untouched"
    );

    // The rate is taken live.
    f.reload_with(&sync_config(
        us,
        peer,
        "enabled = true\nsyncid = 7\nrate = 5000",
    ));
    assert_eq!(
        f.sync_epoch(),
        Some(first),
        "rate changed: channel untouched"
    );
    let ch = f.ctl.sync().and_then(|s| s.channel()).expect("channel");
    assert_eq!(ch.settings().rate, 5000);

    // Anything else restarts it: a new epoch, which the peers resync with.
    f.reload_with(&sync_config(
        us,
        peer,
        "enabled = true\nsyncid = 9\nrate = 5000",
    ));
    let second = f.sync_epoch().expect("restarted");
    assert!(second > first, "syncid changed: a new epoch");
    let ch = f.ctl.sync().and_then(|s| s.channel()).expect("channel");
    assert_eq!(ch.settings().syncid, 9);

    // Disabled: no channel, and nothing for the ready check to wait for.
    f.reload_with(&sync_config(us, peer, "enabled = false\nsyncid = 9"));
    assert_eq!(f.sync_epoch(), None);
    assert_eq!(f.ctl.sync_ready(), Some(true));
}

/// A peer gateway: a channel on its own socket, driven by the test.
struct Peer {
    channel: Channel,
    transport: UdpTransport,
}

impl Peer {
    fn new(us: u16, gateway: u16) -> Self {
        let cfg = config::parse(&sync_config(us, gateway, "enabled = true"), "peer.toml")
            .unwrap_or_else(|e| panic!("{e}"));
        let settings = Settings::from_config(&cfg.sync).expect("settings");
        let transport = UdpTransport::bind(settings.listen).expect("bind the peer");
        Self {
            channel: Channel::new(settings, unix_epoch_now(), Instant::now()),
            transport,
        }
    }

    /// Take what arrived, run the timers, send; a resync asked of it is answered (with an
    /// empty table) only when `serve` is true. Returns whether one was asked.
    fn step(&mut self, serve: bool) -> bool {
        let now = Instant::now();
        let mut events = Vec::new();
        while let Ok(d) = self.transport.datagrams().try_recv() {
            events.extend(self.channel.on_datagram(&d.bytes, d.from, now));
        }
        events.extend(self.channel.handle_timeout(now));
        let mut asked = false;
        for e in events {
            if let Event::ResyncRequested { .. } = e {
                asked = true;
            }
        }
        if serve {
            for p in self.channel.resync_wanted() {
                self.channel
                    .begin_resync(p, Box::new(Vec::new().into_iter()), now)
                    .expect("begin the resync");
            }
        }
        while let Some(t) = self.channel.poll_transmit(now) {
            self.transport.send(&t);
        }
        asked
    }
}

#[test]
fn ready_fails_until_the_initial_resync_from_the_peer_is_complete() {
    let (us, them) = (free_port(), free_port());
    let mut f = fixture(&sync_config(us, them, "enabled = true"));
    f.sync_poll();
    let why = f.ctl.readiness(Instant::now()).expect_err("no peer yet");
    assert_eq!(
        why,
        "session sync: the initial resync from the peers is not complete"
    );

    // The peer comes up and talks, but does not answer the resync request yet: still not
    // ready, for as long as that lasts.
    let mut peer = Peer::new(them, us);
    let mut asked = false;
    let start = Instant::now();
    while start.elapsed() < Duration::from_millis(1500) {
        f.sync_poll();
        f.sync_receive();
        asked |= peer.step(false);
        assert!(
            f.ctl.readiness(Instant::now()).is_err(),
            "ready before the peer's table arrived"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(asked, "the gateway asked the peer for its table");
    let ch = f.ctl.sync().and_then(|s| s.channel()).expect("channel");
    assert!(
        ch.peer_state(at(them)).is_some(),
        "the gateway knows the peer"
    );
    assert!(!ch.ready());

    // The peer streams its (empty) table and closes the resync: ready.
    let start = Instant::now();
    loop {
        f.sync_poll();
        f.sync_receive();
        peer.step(true);
        if f.ctl.readiness(Instant::now()).is_ok() {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "not ready after the resync: {:?}",
            f.ctl.readiness(Instant::now())
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(f.ctl.sync_ready(), Some(true));
}

/// `[sync]` with only a group (no peer list), plus `extra`.
fn group_config(us: u16, extra: &str) -> String {
    format!(
        "{CONFIG}\n[sync]\nenabled = true\nlisten = \"{}\"\ngroup = \"224.0.0.81\"\nkey = \"{KEY}\"\n{extra}\n",
        at(us)
    )
}

/// Poll the channel for `d`; whether the ready check passed at the end.
fn ready_after(f: &mut Fixture, d: Duration) -> Result<String, String> {
    let start = Instant::now();
    while start.elapsed() < d {
        f.sync_poll();
        f.sync_receive();
        std::thread::sleep(Duration::from_millis(20));
    }
    f.ctl.readiness(Instant::now())
}

#[test]
fn ready_with_a_group_alone_waits_for_a_peer_it_never_heard() {
    // No peer on the group: past the 2 s listening period, still not ready (expect_peers
    // defaults to 1 with a group and no peer list).
    let mut f = fixture(&group_config(free_port(), ""));
    let why = ready_after(&mut f, Duration::from_millis(2600)).expect_err("no peer heard");
    let ch = f.ctl.sync().and_then(|s| s.channel());
    let expect = ch.map(|c| c.settings().expect_peers);
    assert_eq!(expect, Some(1), "the channel runs, expecting one peer");
    assert!(ch.is_some_and(|c| c.peers().is_empty()), "no peer heard");
    assert_eq!(
        why,
        "session sync: the initial resync from the peers is not complete"
    );
    // `expect_peers = 0`: the listening period alone.
    let mut f = fixture(&group_config(free_port(), "expect_peers = 0"));
    let ok = ready_after(&mut f, Duration::from_millis(2600));
    assert!(ok.is_ok(), "{ok:?}");
}

#[test]
fn sync_daemons_start_list_and_stop_through_the_admin_socket() {
    let (us, them) = (free_port(), free_port());
    // [sync] can run but is not enabled: the daemon commands enable it.
    let mut f = fixture(&sync_config(us, them, "syncid = 3"));
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("admin.sock");
    let server = AdminServer::bind(&socket).expect("bind");
    let sources = Sources {
        admin: server.requests().clone(),
        ..Sources::idle()
    };
    let stop = sources.stop.clone();
    let client = std::thread::spawn(move || {
        let ask = |r: Request| admin::client::request(&socket, &r).expect("request");
        // ferrovsadm's own program over the socket, for the listing's text.
        let ferrovsadm = |args: &[&str]| {
            let mut argv = vec!["ferrovsadm".to_owned(), "--socket".to_owned()];
            argv.push(socket.display().to_string());
            argv.extend(args.iter().map(|a| (*a).to_owned()));
            let (mut out, mut err) = (Vec::new(), Vec::new());
            let code = admin::cli::run(
                argv,
                &mut std::io::empty(),
                &mut out,
                &mut err,
                &admin::names::NameTables::default(),
                &mut admin::cli::socket_send,
            );
            (
                code,
                String::from_utf8(out).unwrap(),
                String::from_utf8(err).unwrap(),
            )
        };
        let none = ferrovsadm(&["-L", "--daemon"]);
        let ready_off = ask(Request::Ready);
        let started = ferrovsadm(&["--start-daemon", "backup", "--syncid", "9"]);
        let listed = ferrovsadm(&["-Ln", "--daemon"]);
        let again = ferrovsadm(&["--start-daemon", "backup"]);
        let ready_on = ask(Request::Ready);
        let master = ask(Request::StartDaemon(DaemonSpec {
            state: DaemonState::Master,
            mcast_interface: None,
            syncid: None,
            maxlen: None,
            group: None,
            mcast_port: None,
            ttl: None,
        }));
        let both = ask(Request::Daemons);
        let stopped = ferrovsadm(&["--stop-daemon", "backup"]);
        let stopped2 = ask(Request::StopDaemon {
            state: DaemonState::Master,
        });
        let after = ferrovsadm(&["-L", "--daemon"]);
        stop.store(true, Ordering::Relaxed);
        (
            none, ready_off, started, listed, again, ready_on, master, both, stopped, stopped2,
            after,
        )
    });
    run(&mut f.ctl, &sources);
    let (none, ready_off, started, listed, again, ready_on, master, both, stopped, stopped2, after) =
        client.join().expect("client");
    assert_eq!(none, (0, String::new(), String::new()), "nothing runs yet");
    assert!(
        matches!(ready_off, Response::Ready { ready: true, .. }),
        "sync disabled: nothing to wait for: {ready_off:?}"
    );
    assert_eq!(started, (0, String::new(), String::new()));
    // The listen address is on no port of the fixture (loopback): it is named instead.
    assert_eq!(
        listed.1,
        format!("backup sync daemon (mcast=127.0.0.1, syncid=9, maxlen=1400, port={us})\n")
    );
    assert_eq!(
        (again.0, again.2.lines().next()),
        (255, Some("Daemon has already run"))
    );
    // The backup direction waits for the peer's table, which never comes here.
    assert_eq!(
        ready_on,
        Response::Ready {
            ready: false,
            reason: "session sync: the initial resync from the peers is not complete".into()
        }
    );
    assert_eq!(master, Response::Ok);
    let Response::Daemons { daemons } = both else {
        panic!("{both:?}")
    };
    assert_eq!(
        daemons.iter().map(|d| d.state).collect::<Vec<_>>(),
        [DaemonState::Master, DaemonState::Backup]
    );
    assert_eq!(stopped, (0, String::new(), String::new()));
    assert_eq!(stopped2, Response::Ok);
    assert_eq!(after, (0, String::new(), String::new()));
    // The control plane followed: the channel ran both ways, then stopped.
    assert!(!f.ctl.config().sync.enabled);
    assert_eq!(f.ctl.config().sync.syncid, 9);
    assert_eq!(f.ctl.config().sync.mode, SyncMode::Master);
    assert_eq!(f.sync_epoch(), None, "the channel stopped");
    assert_eq!(f.ctl.sync_ready(), Some(true));
}
