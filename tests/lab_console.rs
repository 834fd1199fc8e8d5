//! The web console (issue 20 item 1) against a lab gateway (NAT, `lab/lab up nat`), driven by a
//! real browser: Debian's headless Chromium, inside the gateway's namespace (the console listens
//! on its loopback), steered over the Chrome DevTools protocol on a pipe
//! (`--remote-debugging-pipe`: JSON messages ending in a NUL on fds 3 and 4, no WebSocket).
//! The browser loads the page and the test reads what it rendered, types into its forms and
//! clicks its buttons (DOM events, as the page's own handlers receive them); what changed is
//! read back with `ferrovsadm -L -n` and in traffic through the VIP. curl, in the same
//! namespace, sends what a browser page would not: a change without credentials, and one with
//! credentials but no CSRF token. Screenshots (desktop and phone) go to
//! `target/lab-console/`.
//!
//! Another test brings up the HA pair with session sync (`lab/lab up nat --ha --sync
//! --console`: gw MASTER, gw2 BACKUP, each with a read-only console) and reads, in the status
//! JSON and in the page Chromium renders, each gateway's ownership of the VIP and its sync
//! daemons and peer; after a crash of gw's ferrovs (`lab/lab stop gw`), gw2's page shows the VIP
//! owned and its peer down.
//!
//! Another gives the service `syn_proxy = "auto"` and floods it with hping3: the page's SYN
//! proxy badge says what `ferrovsadm -L -n --syn-proxy` lists, calm, engaged and released.
//!
//! A third test hammers the console (lab/console-hammer.py: status polls, pages, unauthorised
//! actions, oversized and malformed requests, silent clients) while a client opens connections
//! through the VIP: every connection is served, in time.
//!
//! Needs root, the release binaries and chromium; nextest group `lab`.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use base64::Engine as _;
use common::{poll, root, text, Lab};
use serde_json::{json, Value};

const CONSOLE: &str = "127.0.0.1:8081";
/// `openssl passwd -5 -salt saltsalt secret`: user "admin", password "secret".
const ADMIN: &str = "admin:$5$saltsalt$0IyaXrmV7.sGNS6tirgqHLqX/G.FBvgkYA.lpPdS5sA";

/// The gateway, killed (with `lab down` after it) when dropped.
struct Gateway(Child);

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `lab up nat` without its gateway; the configuration gets the console; the test starts
/// ferrovs itself and waits for the console to answer.
fn lab_with_console() -> (Lab, Gateway) {
    lab_with_console_edited(|toml| toml)
}

/// [`lab_with_console`] with the lab's configuration changed by `edit` first.
fn lab_with_console_edited(edit: impl FnOnce(String) -> String) -> (Lab, Gateway) {
    let lab = Lab::create("fvc", "nat", &["--no-gateway"]);
    let cfg = lab.var("CONFIG").to_owned();
    let toml = edit(std::fs::read_to_string(&cfg).expect("config"));
    let at = toml
        .find("admin_socket = ")
        .expect("[control] admin_socket");
    let eol = at + toml[at..].find('\n').expect("line end") + 1;
    // The service is the file's last table: its health check goes after it.
    let with = format!(
        "{}console = \"{CONSOLE}\"\nconsole_users = [\"{ADMIN}\"]\n{}\n[service.health_check]\n\
         type = \"tcp\"\ninterval = 1\ntimeout = 1\nretries = 0\nfall = 1\nrise = 1\n",
        &toml[..eol],
        &toml[eol..]
    );
    std::fs::write(&cfg, with).expect("write config");
    let check = Command::new(env!("CARGO_BIN_EXE_ferrovs"))
        .args(["check", &cfg])
        .output()
        .expect("ferrovs check");
    assert!(check.status.success(), "ferrovs check: {}", text(&check));

    let log = std::fs::File::create(lab.var("LOG")).expect("log");
    let child = lab
        .command(&[
            "exec",
            "gw",
            "--",
            env!("CARGO_BIN_EXE_ferrovs"),
            "run",
            "--config",
            &cfg,
        ])
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("start ferrovs");
    // `lab down` kills what this names if the test dies before the drop.
    std::fs::write(
        format!("/run/ferrovs-lab/{}/ferrovs.pid", lab.id),
        child.id().to_string(),
    )
    .expect("pid file");
    let mut gw = Gateway(child);
    let started = poll(Duration::from_secs(60), || {
        if let Ok(Some(st)) = gw.0.try_wait() {
            panic!("ferrovs exited with {st}:\n{}", lab.tails(&["LOG"]));
        }
        log_text(&lab).contains("ferrovs: console on http://127.0.0.1:8081")
    });
    assert!(started.is_some(), "no console:\n{}", lab.tails(&["LOG"]));
    // Traffic flows once the real servers' neighbours are known.
    let flowing = poll(Duration::from_secs(30), || {
        lab.try_run("client", &["curl", "-sS", "-m", "2", &vip_url(&lab)])
            .is_some()
    });
    assert!(flowing.is_some(), "no traffic:\n{}", lab.tails(&["LOG"]));
    (lab, gw)
}

fn log_text(lab: &Lab) -> String {
    std::fs::read_to_string(lab.var("LOG")).unwrap_or_default()
}

fn vip_url(lab: &Lab) -> String {
    format!("http://{}/", lab.var("VIP"))
}

/// `ferrovsadm ARGS` on the lab gateway's socket: (exit status, stdout, stderr).
fn ferrovsadm(lab: &Lab, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ferrovsadm"))
        .args(args)
        .env("FERROVS_SOCKET", lab.var("FERROVS_SOCKET"))
        .output()
        .expect("ferrovsadm");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// One service of a listing: "TCP 198.18.1.100:80", its scheduler, and its real servers as
/// (address:port, forward, weight), sorted.
type Row = (String, String, Vec<(String, String, String)>);

/// `ferrovsadm -L -n`, parsed.
fn listing(lab: &Lab) -> Vec<Row> {
    let (code, out, err) = ferrovsadm(lab, &["-L", "-n"]);
    assert_eq!(code, 0, "ferrovsadm -L -n: {err}");
    let mut rows: Vec<Row> = Vec::new();
    for line in out.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        match f.as_slice() {
            [p @ ("TCP" | "UDP"), addr, sched, ..] => {
                rows.push((format!("{p} {addr}"), (*sched).to_owned(), Vec::new()));
            }
            ["->", addr, fwd, weight, ..] if *addr != "RemoteAddress:Port" => {
                rows.last_mut().expect("a service first").2.push((
                    (*addr).to_owned(),
                    (*fwd).to_owned(),
                    (*weight).to_owned(),
                ));
            }
            _ => {}
        }
    }
    for r in &mut rows {
        r.2.sort();
    }
    rows.sort();
    rows
}

/// Real server names answering `n` new connections to the VIP.
fn backends(lab: &Lab, n: usize) -> Vec<String> {
    (0..n)
        .map(|_| {
            let body = lab.run("client", &["curl", "-sS", "-m", "5", &vip_url(lab)]);
            body.trim()
                .strip_prefix("<h1>Backend ")
                .and_then(|b| b.strip_suffix("</h1>"))
                .unwrap_or_else(|| panic!("unexpected body {body:?}"))
                .to_owned()
        })
        .collect()
}

/// `curl` in the gateway's namespace: the HTTP status of a request to the console.
fn curl_status(lab: &Lab, args: &[&str]) -> String {
    let mut cmd = vec![
        "curl",
        "-sS",
        "-m",
        "10",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
    ];
    cmd.extend_from_slice(args);
    lab.run("gw", &cmd).trim().to_owned()
}

/// Headless Chromium in the gateway's namespace, driven over the DevTools protocol on a pipe.
struct Browser {
    child: Child,
    to: ChildStdin,
    from: Receiver<Value>,
    id: u64,
    session: Option<String>,
    log: PathBuf,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Browser {
    /// Chromium in lab host `host`'s namespace (the console listens on its loopback).
    fn start(lab: &Lab, host: &str, log: &Path) -> Browser {
        let profile = tempfile::tempdir().expect("profile dir");
        // fds 3 and 4 are the protocol's pipe: our stdin and stdout, moved there.
        let script = format!(
            "exec chromium --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
             --no-first-run --no-default-browser-check --no-proxy-server \
             --remote-debugging-pipe --user-data-dir={} --window-size=1280,1000 about:blank \
             3<&0 4>&1 </dev/null >/dev/null 2>>{}",
            profile.path().display(),
            log.display()
        );
        let mut child = lab
            .command(&["exec", host, "--", "bash", "-c", &script])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromium (scripts/deps.sh installs it)");
        let to = child.stdin.take().expect("stdin");
        let out = child.stdout.take().expect("stdout");
        let (tx, from) = mpsc::channel();
        std::thread::spawn(move || {
            let mut r = BufReader::new(out);
            loop {
                let mut msg = Vec::new();
                match r.read_until(0, &mut msg) {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
                msg.pop();
                if let Ok(v) = serde_json::from_slice::<Value>(&msg) {
                    if tx.send(v).is_err() {
                        return;
                    }
                }
            }
        });
        let mut b = Browser {
            child,
            to,
            from,
            id: 0,
            session: None,
            log: log.to_owned(),
            _profile: profile,
        };
        let target = b.call("Target.createTarget", json!({ "url": "about:blank" }));
        let attached = b.call(
            "Target.attachToTarget",
            json!({ "targetId": target["targetId"], "flatten": true }),
        );
        b.session = Some(
            attached["sessionId"]
                .as_str()
                .expect("sessionId")
                .to_owned(),
        );
        b.call("Page.enable", json!({}));
        b
    }

    /// Send a command (to the page once attached) and wait for its result.
    fn call(&mut self, method: &str, params: Value) -> Value {
        self.id += 1;
        let mut msg = json!({ "id": self.id, "method": method, "params": params });
        if let Some(s) = &self.session {
            msg["sessionId"] = json!(s);
        }
        let mut bytes = serde_json::to_vec(&msg).expect("json");
        bytes.push(0);
        self.to.write_all(&bytes).expect("write to chromium");
        self.to.flush().expect("flush");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let v = self.from.recv_timeout(left).unwrap_or_else(|e| {
                panic!(
                    "chromium: no answer to {method} ({e}); its log:\n{}",
                    std::fs::read_to_string(&self.log).unwrap_or_default()
                )
            });
            if v["id"] == json!(self.id) {
                assert!(v.get("error").is_none(), "{method}: {v}");
                return v["result"].clone();
            }
        }
    }

    /// Evaluate `expr` in the page (promises awaited); its value.
    fn eval(&mut self, expr: &str) -> Value {
        let r = self.call(
            "Runtime.evaluate",
            json!({ "expression": expr, "returnByValue": true, "awaitPromise": true }),
        );
        assert!(r.get("exceptionDetails").is_none(), "{expr}: {r}");
        r["result"]["value"].clone()
    }

    /// Wait until `expr` is true in the page.
    fn wait(&mut self, expr: &str, limit: Duration) {
        let start = Instant::now();
        while self.eval(expr) != json!(true) {
            assert!(start.elapsed() < limit, "never true in the page: {expr}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The page's message line after an action: (class, text).
    fn message(&mut self) -> (String, String) {
        let v = self.eval(
            "(() => { const m = document.getElementById('msg'); return [m.className, m.textContent]; })()",
        );
        (
            v[0].as_str().unwrap_or("").to_owned(),
            v[1].as_str().unwrap_or("").to_owned(),
        )
    }

    /// Run one of the page's own actions and wait for its outcome: (ok, message text).
    fn act(&mut self, js: &str) -> (bool, String) {
        self.eval("document.getElementById('msg').className = ''; true");
        self.eval(&format!("(() => {{ {js} }})(); true"));
        self.wait(
            "['ok', 'err'].includes(document.getElementById('msg').className)",
            Duration::from_secs(30),
        );
        let (class, text) = self.message();
        (class == "ok", text)
    }

    /// A PNG of the whole page.
    fn screenshot(&mut self, path: &Path) {
        let r = self.call(
            "Page.captureScreenshot",
            json!({ "format": "png", "captureBeyondViewport": true }),
        );
        let png = base64::engine::general_purpose::STANDARD
            .decode(r["data"].as_str().expect("data"))
            .expect("base64");
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG");
        assert!(
            png.len() > 10_000,
            "a page, not a blank: {} bytes",
            png.len()
        );
        std::fs::write(path, png).expect("write screenshot");
    }

    /// What the page lists, in [`listing`]'s shape.
    fn listing(&mut self) -> Vec<Row> {
        let v = self.eval(
            "JSON.stringify([...document.querySelectorAll('div.service')].map((c) => [\
               c.querySelector('.vip').textContent, c.querySelector('.sched').textContent,\
               [...c.querySelectorAll('tr.rs')].map((r) => [r.querySelector('.server').textContent,\
                 r.querySelector('.fwd').textContent, r.querySelector('.weight').textContent])]))",
        );
        let mut rows: Vec<Row> =
            serde_json::from_str(v.as_str().expect("a JSON string")).expect("rows");
        for r in &mut rows {
            r.2.sort();
        }
        rows.sort();
        rows
    }
}

fn artifacts() -> PathBuf {
    let d = root().join("target/lab-console");
    std::fs::create_dir_all(&d).expect("target/lab-console");
    d
}

/// A real server row's selector in the page.
fn row(server: &str) -> String {
    format!("document.querySelector('tr.rs[data-server=\"{server}\"]')")
}

#[test]
fn lab_console_in_a_browser_lists_and_changes_what_ferrovsadm_does() {
    let (lab, _gw) = lab_with_console();
    let vip = format!("{}:80", lab.var("VIP"));
    let rs2 = format!("{}:80", lab.var("RS2"));
    let rs3 = format!("{}:80", lab.var("RS3"));
    let before = listing(&lab);
    assert_eq!(before.len(), 1, "{before:?}");
    assert_eq!(before[0].2.len(), 2, "{before:?}");

    let mut b = Browser::start(&lab, "gw", &artifacts().join("chromium.log"));
    b.call(
        "Page.navigate",
        json!({ "url": format!("http://{CONSOLE}/") }),
    );
    b.wait(
        "document.querySelectorAll('tr.rs').length === 2",
        Duration::from_secs(30),
    );
    assert_eq!(
        b.listing(),
        before,
        "the page lists what ferrovsadm -L -n lists"
    );
    // The service's SYN proxy (off in this lab): the mode ferrovsadm -L --syn-proxy lists.
    let sp = syn_proxy_row(&lab, &vip);
    assert_eq!(sp[2..], ["off", "0/1", "-", "-"], "{sp:?}");
    assert_eq!(
        b.eval("document.querySelector('div.service .syn-proxy').textContent"),
        json!(format!("SYN proxy {}", sp[2]))
    );
    let summary = b.eval("document.getElementById('summary').textContent");
    assert!(
        summary.as_str().is_some_and(|s| s.contains("generation")),
        "{summary}"
    );
    let workers = b.eval("document.querySelectorAll('#workers tr').length");
    assert_eq!(workers, json!(1), "one worker row");
    // Without logging in, the action controls are hidden.
    assert_eq!(
        b.eval(&format!(
            "getComputedStyle({}.querySelector('td.act')).display",
            row(&rs2)
        )),
        json!("none")
    );

    // A request without credentials changes nothing, nor one without the CSRF token: curl
    // sends them, and the browser's own fetch from the page without the token.
    let body = format!(
        r#"{{"action":"weight","protocol":"tcp","service":"{vip}","server":"{rs2}","weight":"0"}}"#
    );
    let url = format!("http://{CONSOLE}/api/action");
    let json_ct = "Content-Type: application/json";
    assert_eq!(
        curl_status(&lab, &["-X", "POST", "-H", json_ct, "--data", &body, &url]),
        "401"
    );
    assert_eq!(
        curl_status(
            &lab,
            &[
                "-u",
                "admin:secret",
                "-X",
                "POST",
                "-H",
                json_ct,
                "--data",
                &body,
                &url
            ]
        ),
        "403",
        "credentials without the CSRF token"
    );
    assert_eq!(
        curl_status(
            &lab,
            &[
                "-u",
                "admin:wrong",
                "-X",
                "POST",
                "-H",
                json_ct,
                "--data",
                &body,
                &url
            ]
        ),
        "401"
    );
    let from_page = b.eval(&format!(
        "fetch('/api/action', {{ method: 'POST', headers: {{ 'Content-Type': 'application/json', \
           'Authorization': 'Basic ' + btoa('admin:secret') }}, body: JSON.stringify({body}) }})\
           .then((r) => r.status)"
    ));
    assert_eq!(from_page, json!(403), "a CSRF-less POST from the browser");
    assert_eq!(listing(&lab), before, "nothing changed");

    // Log in through the page's form.
    b.eval(
        "document.getElementById('user').value = 'admin'; \
         document.getElementById('password').value = 'secret'; \
         document.getElementById('login-btn').click(); true",
    );
    b.wait(
        "document.body.classList.contains('authed')",
        Duration::from_secs(30),
    );

    // A bad weight: the grammar's message, as ferrovsadm prints it, and nothing changes.
    let (ok, msg) = b.act(&format!(
        "const r = {}; r.querySelector('input.w').value = '70000'; r.querySelector('button.set').click();",
        row(&rs2)
    ));
    let (code, _, err) = ferrovsadm(&lab, &["-e", "-t", &vip, "-r", &rs2, "-w", "70000", "-m"]);
    assert_ne!(code, 0);
    assert!(!ok, "{msg}");
    assert!(
        msg.contains(err.trim()),
        "page: {msg:?}, ferrovsadm: {err:?}"
    );
    assert_eq!(listing(&lab), before, "a refused change changes nothing");

    // Weight 0 for rs2 from the page: ferrovsadm shows it, and new connections all go to rs1.
    let (ok, msg) = b.act(&format!(
        "const r = {}; r.querySelector('input.w').value = '0'; r.querySelector('button.set').click();",
        row(&rs2)
    ));
    assert!(ok, "{msg}");
    assert!(
        msg.contains(&format!("ferrovsadm -e -t {vip} -r {rs2} -w 0 -m")),
        "{msg}"
    );
    let now = listing(&lab);
    let w: Vec<&str> = now[0].2.iter().map(|r| r.2.as_str()).collect();
    assert_eq!(w, ["1", "0"], "{now:?}");
    let names = backends(&lab, 12);
    assert!(names.iter().all(|n| n == "RS1"), "{names:?}");
    b.wait(
        &format!("{}.querySelector('.weight').textContent === '0'", row(&rs2)),
        Duration::from_secs(10),
    );
    // What rs1 carried shows in its row (refreshed live): connections, packets and bytes.
    let rs1 = format!("{}:80", lab.var("RS1"));
    b.wait(
        &format!(
            "(() => {{ const r = {}; const t = (l) => r.querySelector(`[data-label=\"${{l}}\"]`).textContent; \
             return parseFloat(t('Conns')) >= 12 && !t('Pkts in/out').startsWith('0 ') \
               && !t('Bytes in/out').startsWith('0 '); }})()",
            row(&rs1)
        ),
        Duration::from_secs(10),
    );
    // Its rates, the worker's load (from two refreshes), the last reload and the
    // announcements section (none configured here) are there too.
    b.wait(
        &format!(
            "/^[\\d.]+ \\/ \\S+ \\/ \\S+B$/.test({}.querySelector('[data-label=\"conn/s, pkt/s, B/s\"]').textContent) \
             && /^\\d+%$/.test(document.querySelector('#workers tr td:nth-child(2)').textContent) \
             && document.getElementById('summary').textContent.includes('last reload ok') \
             && document.getElementById('announce').textContent.includes('nothing announced')",
            row(&rs1)
        ),
        Duration::from_secs(10),
    );
    b.screenshot(&artifacts().join("console-desktop.png"));
    assert!(
        log_text(&lab).contains("ferrovs: console: admin@127.0.0.1:")
            && log_text(&lab).contains(&format!("ferrovsadm -e -t {vip} -r {rs2} -w 0 -m: ok")),
        "the action is logged with who did it:\n{}",
        lab.tails(&["LOG"])
    );

    // Back to weight 1: both answer again.
    let (ok, msg) = b.act(&format!(
        "const r = {}; r.querySelector('input.w').value = '1'; r.querySelector('button.set').click();",
        row(&rs2)
    ));
    assert!(ok, "{msg}");
    assert_eq!(listing(&lab), before);
    let names = backends(&lab, 12);
    assert!(
        names.iter().any(|n| n == "RS1") && names.iter().any(|n| n == "RS2"),
        "{names:?}"
    );

    // Take rs2 out and put it back; add rs3, then a service, and remove both.
    b.eval("window.confirm = () => true; true");
    let (ok, msg) = b.act(&format!(
        "{}.querySelector('button.out').click();",
        row(&rs2)
    ));
    assert!(ok, "{msg}");
    assert_eq!(listing(&lab)[0].2.len(), 1, "rs2 out");
    b.wait(
        "document.querySelectorAll('tr.taken-out').length === 1",
        Duration::from_secs(10),
    );
    let (ok, msg) = b.act("document.querySelector('tr.taken-out button.back').click();");
    assert!(ok, "{msg}");
    assert_eq!(listing(&lab), before, "rs2 back with its settings");
    let (ok, msg) = b.act(&format!(
        "const f = document.querySelector('form.add-server'); f.server.value = '{rs3}'; \
         f.weight.value = '2'; f.forward.value = 'nat'; f.requestSubmit();"
    ));
    assert!(ok, "{msg}");
    let with_rs3 = listing(&lab);
    assert!(
        with_rs3[0]
            .2
            .contains(&(rs3.clone(), "Masq".into(), "2".into())),
        "{with_rs3:?}"
    );
    let (ok, msg) = b.act(
        "const f = document.getElementById('add-service-form'); f.protocol.value = 'udp'; \
         f.service.value = '198.18.1.100:53'; f.scheduler.value = 'nosuch'; f.requestSubmit();",
    );
    assert!(!ok, "{msg}");
    let (code, _, err) = ferrovsadm(&lab, &["-A", "-u", "198.18.1.100:53", "-s", "nosuch"]);
    assert_ne!(code, 0);
    assert!(
        msg.contains(err.trim()),
        "page: {msg:?}, ferrovsadm: {err:?}"
    );
    let (ok, msg) = b.act(
        "const f = document.getElementById('add-service-form'); f.protocol.value = 'udp'; \
         f.service.value = '198.18.1.100:53'; f.scheduler.value = 'sh'; f.requestSubmit();",
    );
    assert!(ok, "{msg}");
    b.wait(
        "document.querySelectorAll('div.service').length === 2",
        Duration::from_secs(10),
    );
    assert_eq!(
        b.listing(),
        listing(&lab),
        "the page lists the new service too"
    );
    let (ok, msg) = b.act(
        "document.querySelector('div.service[data-service=\"udp 198.18.1.100:53\"] button.remove-service').click();",
    );
    assert!(ok, "{msg}");
    let (ok, msg) = b.act(&format!(
        "{}.querySelector('button.remove').click();",
        row(&rs3)
    ));
    assert!(ok, "{msg}");
    assert_eq!(listing(&lab), before, "back where it started");
    b.wait(
        "document.querySelectorAll('div.service').length === 1",
        Duration::from_secs(10),
    );
    assert_eq!(b.listing(), before);

    // rs1's nginx stops: the page shows it down, with the failure.
    let rs1 = format!("{}:80", lab.var("RS1"));
    b.wait(
        &format!(
            "{}.querySelector('td[data-label=\"Health\"]').className === 'up'",
            row(&rs1)
        ),
        Duration::from_secs(20),
    );
    let pid = std::fs::read_to_string(format!("/run/ferrovs-lab/{}/rs1-nginx.pid", lab.id))
        .expect("rs1 nginx pid");
    let st = Command::new("kill").arg(pid.trim()).status().expect("kill");
    assert!(st.success());
    b.wait(
        &format!(
            "(() => {{ const h = {}.querySelector('td[data-label=\"Health\"]'); \
             return h.className === 'down' && h.textContent.includes('last failure: '); }})()",
            row(&rs1)
        ),
        Duration::from_secs(20),
    );

    // On a phone: nothing wider than the screen but the tables, which scroll in their box.
    b.call(
        "Emulation.setDeviceMetricsOverride",
        json!({ "width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": true }),
    );
    b.wait(
        "document.documentElement.scrollWidth <= window.innerWidth",
        Duration::from_secs(10),
    );
    b.screenshot(&artifacts().join("console-phone.png"));
}

#[test]
fn lab_console_hammered_while_forwarding() {
    let (lab, mut gw) = lab_with_console();
    let before = listing(&lab);
    let baseline = lab
        .conn_loop(&["--count", "50", "--pause", "0.02"])
        .attempts();
    assert!(baseline.iter().all(|a| a.ok), "{baseline:?}");

    let stop = format!("/run/ferrovs-lab/{}/hammer.done", lab.id);
    let during = lab.conn_loop(&["--duration", "300", "--pause", "0.02", "--stop-file", &stop]);
    let script = root().join("lab/console-hammer.py");
    let t = Instant::now();
    let out = lab.run(
        "gw",
        &[
            "python3",
            script.to_str().expect("utf-8"),
            "--requests",
            "3000",
            "--threads",
            "16",
            "--slow",
            "4",
        ],
    );
    let took = t.elapsed();
    std::fs::write(&stop, "").expect("stop file");
    let attempts = during.attempts();

    let counts: std::collections::HashMap<String, u64> = out
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(k, v)| (k.to_owned(), v.parse().expect("count")))
        .collect();
    let n = |k: &str| counts.get(k).copied().unwrap_or(0);
    let total: u64 = counts.values().sum();
    assert_eq!(total, 3004, "every request accounted for: {out}");
    // 3000 requests in a rotation of 8 kinds: the 4 good GETs of 8 answer 200 unless the queue
    // was full (503); the rest are refused with their own status.
    assert!(n("200") >= 600, "{out}");
    assert!(n("401") >= 200, "unauthorised actions: {out}");
    assert!(n("413") >= 200 && n("400") >= 200, "{out}");
    assert!(n("431") + n("closed") >= 300, "oversized heads: {out}");
    assert_eq!(n("slow:408"), 4, "silent clients are timed out: {out}");
    let errors: u64 = counts
        .iter()
        .filter(|(k, _)| k.starts_with("error:"))
        .map(|(_, v)| v)
        .sum();
    assert!(errors <= 30, "connections failed: {out}");
    eprintln!("hammer: {took:?}: {out}");

    // Forwarding went on: every connection answered, none slowed to a stall.
    assert!(attempts.len() >= 20, "{} attempts", attempts.len());
    let failed: Vec<_> = attempts.iter().filter(|a| !a.ok).collect();
    assert!(failed.is_empty(), "{failed:?}");
    let mut lat: Vec<f64> = attempts.iter().map(|a| a.end - a.start).collect();
    lat.sort_by(f64::total_cmp);
    let mut base: Vec<f64> = baseline.iter().map(|a| a.end - a.start).collect();
    base.sort_by(f64::total_cmp);
    let (p50, p50_base) = (lat[lat.len() / 2], base[base.len() / 2]);
    eprintln!(
        "connections: {} during, p50 {p50:.4}s (before {p50_base:.4}s), max {:.4}s",
        attempts.len(),
        lat[lat.len() - 1]
    );
    assert!(p50 < 0.25, "median connection time {p50}s under the hammer");

    // Still up, still answering, nothing changed by the unauthorised actions.
    assert!(
        gw.0.try_wait().expect("wait").is_none(),
        "ferrovs still runs"
    );
    assert_eq!(
        curl_status(&lab, &[&format!("http://{CONSOLE}/api/status")]),
        "200"
    );
    assert_eq!(listing(&lab), before);
    assert!(
        !log_text(&lab).contains("panicked"),
        "{}",
        lab.tails(&["LOG"])
    );
}

/// `GET /api/status` of the console at `console` (`ADDR:PORT`), from lab host `host`.
fn status(lab: &Lab, host: &str, console: &str) -> Value {
    let url = format!("http://{console}/api/status");
    let body = lab.run(host, &["curl", "-sS", "-f", "-m", "10", &url]);
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{host}: status JSON: {e}: {body}"))
}

/// Whether the status says its gateway owns `addr` (None: HA does not follow it).
fn owns(st: &Value, addr: &str) -> Option<bool> {
    st["ha"]["addresses"]
        .as_array()?
        .iter()
        .find(|a| a["address"] == addr)?["owned"]
        .as_bool()
}

/// The state of sync peer `peer` (`ADDR:PORT`) in the status.
fn peer_state(st: &Value, peer: &str) -> Option<String> {
    st["gateway"]["sync"]["peers"]
        .as_array()?
        .iter()
        .find(|p| p["address"] == peer)?["state"]
        .as_str()
        .map(str::to_owned)
}

/// What the page's "Director HA and session sync" section says.
#[derive(Debug)]
struct HaView {
    /// Per followed address, its row's cells (address, owner, since, via).
    addresses: std::collections::BTreeMap<String, Vec<String>>,
    /// The sync daemons' line.
    daemons: Option<String>,
    /// Per sync peer, its row's cells (peer, state, sent, received, in flight).
    peers: std::collections::BTreeMap<String, Vec<String>>,
}

/// The owner cell of a followed address the gateway owns, and of one it does not.
const OWNED: &str = "this gateway (master)";
const NOT_OWNED: &str = "not owned (backup)";

impl Browser {
    /// The page's HA and sync section, as rendered.
    fn ha_view(&mut self) -> HaView {
        let v = self.eval(
            "(() => { const rows = (sel, key) => Object.fromEntries([...document.querySelectorAll(sel)]\
               .map((r) => [r.dataset[key], [...r.cells].map((c) => c.textContent)]));\
             const d = document.querySelector('#ha .sync-daemons');\
             return JSON.stringify({ addresses: rows('#ha tr.ha-address', 'address'),\
               daemons: d ? d.textContent : null, peers: rows('#ha tr.sync-peer', 'peer') }); })()",
        );
        let v: Value = serde_json::from_str(v.as_str().expect("a JSON string")).expect("JSON");
        let rows = |k: &str| {
            v[k].as_object()
                .expect("rows")
                .iter()
                .map(|(key, cells)| {
                    let cells = cells.as_array().expect("cells");
                    let cells = cells.iter().map(|c| c.as_str().expect("text").to_owned());
                    (key.clone(), cells.collect())
                })
                .collect()
        };
        HaView {
            addresses: rows("addresses"),
            daemons: v["daemons"].as_str().map(str::to_owned),
            peers: rows("peers"),
        }
    }

    /// Wait until the page shows `cell` as column `col` of the row `sel` (a row of `#ha`).
    fn wait_cell(&mut self, sel: &str, col: usize, cell: &str, limit: Duration) -> Duration {
        let t = Instant::now();
        self.wait(
            &format!(
                "(() => {{ const r = document.querySelector('#ha {sel}'); \
                 return !!r && r.cells[{col}].textContent === {}; }})()",
                json!(cell)
            ),
            limit,
        );
        t.elapsed()
    }
}

/// Issue 20 item 1's "HA ownership and peer/sync state": on the VRRP pair with session sync
/// (`lab/lab up nat --ha --sync --console`), each gateway's console says who owns the VIP, which
/// sync daemons run and how its peer is, in the status JSON and in the page a browser renders;
/// when gw's ferrovs dies, gw2's open page follows keepalived's failover on its own.
#[test]
fn lab_console_shows_ha_ownership_and_sync_state() {
    let mut lab = Lab::create("fvc", "nat", &["--ha", "--sync", "--console"]);
    lab.log_files = ["LOG", "GW_KEEPALIVED_LOG", "GW2_LOG", "GW2_KEEPALIVED_LOG"]
        .iter()
        .filter_map(|f| lab.env.get(*f).map(PathBuf::from))
        .collect();
    lab.poll = Duration::from_millis(250);
    let vip = lab.var("VIP").to_owned();
    let port = lab.var("SYNC_PORT").to_owned();
    let gw_sync = format!("{}:{port}", lab.var("GW_SYNC"));
    let gw2_sync = format!("{}:{port}", lab.var("GW2_SYNC"));
    // (host, its console, its sync peer, whether it is the VRRP master)
    let pair = [
        ("gw", lab.var("CONSOLE").to_owned(), gw2_sync.clone(), true),
        (
            "gw2",
            lab.var("GW2_CONSOLE").to_owned(),
            gw_sync.clone(),
            false,
        ),
    ];
    assert!(
        lab.holds_vip("gw") && !lab.holds_vip("gw2"),
        "keepalived: gw master"
    );

    for (host, console, peer, master) in &pair {
        // The JSON: ferrovs follows the TAP's addresses (read once HA is synced with the
        // kernel); the peer is up once each side heard the other and has its table.
        let mut st = Value::Null;
        lab.wait_for(
            &format!("{host}'s status: VIP owned {master}, peer {peer} up"),
            Duration::from_secs(30),
            || {
                st = status(&lab, host, console);
                st["ha"]["synced"] == json!(true)
                    && owns(&st, &vip) == Some(*master)
                    && peer_state(&st, peer).as_deref() == Some("up")
            },
        );
        assert_eq!(st["ha"]["mode"], json!("vrrp"), "{host}: {st}");
        assert_eq!(
            st["gateway"]["sync"]["ready"],
            json!(true),
            "{host}: initial resync complete: {st}"
        );
        let peers = st["gateway"]["sync"]["peers"].as_array().expect("peers");
        assert_eq!(peers.len(), 1, "{host}: one peer: {st}");
        let daemons = st["daemons"].as_array().expect("daemons");
        let mut states: Vec<&str> = daemons.iter().filter_map(|d| d["state"].as_str()).collect();
        states.sort_unstable();
        assert_eq!(
            states,
            ["backup", "master"],
            "{host}: both directions: {st}"
        );
        for d in daemons {
            assert_eq!(d["syncid"], json!(1), "{host}: {d}");
            assert_eq!(d["port"].to_string(), port, "{host}: {d}");
        }

        // The page, rendered by Chromium in the gateway's namespace, says the same.
        let log = artifacts().join(format!("chromium-{host}.log"));
        let mut b = Browser::start(&lab, host, &log);
        b.call(
            "Page.navigate",
            json!({ "url": format!("http://{console}/") }),
        );
        let want = if *master { OWNED } else { NOT_OWNED };
        b.wait_cell(
            &format!("tr.ha-address[data-address=\"{vip}\"]"),
            1,
            want,
            Duration::from_secs(30),
        );
        b.wait_cell(
            &format!("tr.sync-peer[data-peer=\"{peer}\"]"),
            1,
            "up",
            Duration::from_secs(30),
        );
        let page = b.ha_view();
        eprintln!("{host}: {page:?}");
        assert_eq!(page.addresses[&vip][0], vip, "{page:?}");
        assert_eq!(
            page.peers.keys().collect::<Vec<_>>(),
            [peer],
            "{host}: {page:?}"
        );
        let line = page.daemons.as_deref().unwrap_or_default();
        for d in daemons {
            let shown = format!(
                "{} (syncid {}, {}, port {})",
                d["state"].as_str().expect("state"),
                d["syncid"],
                d["mcast_interface"].as_str().expect("mcast_interface"),
                d["port"]
            );
            assert!(line.contains(&shown), "{host}: {shown:?} in {line:?}");
        }
        assert!(line.contains("initial resync complete"), "{host}: {line:?}");
        if *master {
            b.screenshot(&artifacts().join("console-ha-gw.png"));
            continue;
        }

        // gw2's page stays open: gw's ferrovs crashes, keepalived on gw2 takes the VIP (about
        // 3.6 s: three missed adverts and the skew), and the page, refreshing itself, shows it
        // owned and gw gone from sync.
        let killed = Instant::now();
        lab.lab_ok(&["stop", "gw"]);
        b.wait_cell(
            &format!("tr.ha-address[data-address=\"{vip}\"]"),
            1,
            OWNED,
            Duration::from_secs(20),
        );
        let shown = killed.elapsed();
        eprintln!("gw2's page shows the VIP owned {shown:?} after the kill");
        assert!(
            shown < Duration::from_secs(20),
            "failover shown {shown:?} after the kill"
        );
        assert!(lab.holds_vip("gw2"), "keepalived: gw2 master");
        b.wait_cell(
            &format!("tr.sync-peer[data-peer=\"{peer}\"]"),
            1,
            "down",
            Duration::from_secs(20),
        );
        let st = status(&lab, host, console);
        assert_eq!(owns(&st, &vip), Some(true), "gw2 owns the VIP: {st}");
        assert_eq!(
            peer_state(&st, peer).as_deref(),
            Some("down"),
            "gw is gone: {st}"
        );
        b.screenshot(&artifacts().join("console-ha-gw2.png"));
    }
}

/// `ferrovsadm -L -n --syn-proxy`'s row for `service` (`VIP:PORT`), split on blanks:
/// `[TCP, VIP:PORT, mode, engaged/workers, switched on, switched off]`.
fn syn_proxy_row(lab: &Lab, service: &str) -> Vec<String> {
    let (code, out, err) = ferrovsadm(lab, &["-L", "-n", "--syn-proxy", "-t", service]);
    assert_eq!(code, 0, "ferrovsadm -L -n --syn-proxy: {err}");
    let row = out.lines().nth(1).unwrap_or_default();
    row.split_whitespace().map(str::to_owned).collect()
}

/// What the page's SYN proxy badge says for an `auto` service whose `ferrovsadm` row is `row`.
fn auto_badge(row: &[String]) -> String {
    let (engaged, workers) = row[3].split_once('/').expect("ENGAGED/WORKERS");
    format!(
        "SYN proxy auto: engaged on {engaged} of {workers} workers, switched on {}, off {}",
        row[4], row[5]
    )
}

/// `syn_proxy = "auto"` in the page: the demo service with the SYN proxy on `auto` (on at 500
/// SYNs a second, off after 5 s below 100); the service's badge in the page Chromium renders
/// says what `ferrovsadm -L -n --syn-proxy` lists, calm, while an hping3 flood has the proxy
/// engaged, and after it let go (switched on 1, off 1).
#[test]
fn lab_console_shows_the_auto_syn_proxy_engaged_and_released() {
    let (lab, _gw) = lab_with_console_edited(|toml| {
        let svc = "forward = \"nat\"\n";
        assert_eq!(toml.matches(svc).count(), 1, "one NAT service:\n{toml}");
        format!(
            "{}\n[syn_proxy]\nsecret = \"5f1c0a3e9b27d4866e0f1b2c3d4e5a69\"\n\
             auto_on_syn_rate = 500\nauto_off_syn_rate = 100\nauto_hold = 5\n",
            toml.replace(svc, &format!("{svc}syn_proxy = \"auto\"\n"))
        )
    });
    let vip = lab.var("VIP").to_owned();
    let service = format!("{vip}:80");
    let calm = syn_proxy_row(&lab, &service);
    assert_eq!(
        calm,
        ["TCP", service.as_str(), "auto", "0/1", "0", "0"],
        "calm, one worker"
    );
    let badge = "document.querySelector('div.service .syn-proxy')?.textContent";
    let mut b = Browser::start(&lab, "gw", &artifacts().join("chromium-syn-proxy.log"));
    b.call(
        "Page.navigate",
        json!({ "url": format!("http://{CONSOLE}/") }),
    );
    let shows = |b: &mut Browser, text: &str| {
        b.wait(
            &format!("({badge}) === {}", json!(text)),
            Duration::from_secs(20),
        );
    };
    shows(&mut b, &auto_badge(&calm));

    // The flood: SYNs 50 µs apart from an address of the client LAN that does not exist (the
    // answers go to the client's MAC and its kernel drops them), bounded by 30 s.
    let mut flood = lab.spawn_quiet(
        "client",
        &[
            "timeout",
            "30",
            "hping3",
            "-q",
            "-S",
            "-p",
            "80",
            "-a",
            "198.18.1.77",
            "-c",
            "20000",
            "-i",
            "u50",
            &vip,
        ],
    );
    let engaged = poll(Duration::from_secs(20), || {
        syn_proxy_row(&lab, &service).get(3).map(String::as_str) == Some("1/1")
    });
    let on = syn_proxy_row(&lab, &service);
    assert!(engaged.is_some(), "the flood never engaged it: {on:?}");
    assert_eq!(
        on[..5],
        ["TCP", service.as_str(), "auto", "1/1", "1"],
        "{on:?}"
    );
    // Engaged for the rest of the flood and auto_hold after it: the page catches it.
    shows(&mut b, &auto_badge(&on));
    b.screenshot(&artifacts().join("console-syn-proxy-engaged.png"));
    let _ = flood.wait();

    let released = poll(Duration::from_secs(30), || {
        syn_proxy_row(&lab, &service).get(3).map(String::as_str) == Some("0/1")
    });
    let off = syn_proxy_row(&lab, &service);
    assert!(released.is_some(), "never let go: {off:?}");
    assert_eq!(
        off,
        ["TCP", service.as_str(), "auto", "0/1", "1", "1"],
        "released once"
    );
    shows(&mut b, &auto_badge(&off));
}
