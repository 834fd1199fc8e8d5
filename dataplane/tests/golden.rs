//! Runs the golden-packet table (`testkit::golden`) through the in-process pipeline.
//!
//! The table is a sequence: every case of `golden::cases()` goes, in order, through ONE worker
//! (`golden::worker_config()`), so a SYN's session serves the reply, the ACK and the ICMP errors
//! after it; `golden::redirect_cases()` run the same way through a fresh worker 0 of 2, and
//! `golden::redirect_owner_cases()` (the frames it redirects) through a fresh worker 1. Each
//! verdict is compared, and each transmitted frame byte for byte; a mismatch prints the first
//! differing offset with the header field it falls in and a hex dump of the differing rows.
//! The expectations are checked on their own too: every checksum of every expected frame
//! (IPv4 header, TCP, UDP, ICMP, ICMPv6, quoted and encapsulated packets) is verified here with
//! a separate RFC 1071 sum, so a wrong expectation cannot pass unnoticed.

use std::collections::HashSet;

use dataplane::frame::{Frame, VecFrame};
use dataplane::wire::DropReason;
use dataplane::worker::{nat_owner, Verdict, Worker, WorkerConfig};
use testkit::golden::{self, Case, Expect};
use testkit::{diff::diff, pcap};

/// Run `cases` in order through one worker; return it and a report per failed case.
fn run(cfg: WorkerConfig, cases: &[Case]) -> (Worker, Vec<String>) {
    let snap = golden::snapshot();
    let mut w = Worker::new(cfg);
    let mut failures = Vec::new();
    for (i, c) in cases.iter().enumerate() {
        let mut f = VecFrame::new(&c.input);
        let v = w.process_one(&snap, golden::NOW, c.in_port, &mut f);
        let want = match &c.expect {
            Expect::Tx { port, .. } => Verdict::Tx(*port),
            Expect::TxFragment { port, mtu, .. } => Verdict::TxFragment {
                port: *port,
                mtu: *mtu,
            },
            Expect::Drop(r) => Verdict::Drop(*r),
            Expect::Punt(p) => Verdict::Punt(*p),
            Expect::Redirect(o) => Verdict::Redirect(*o),
        };
        if v != want {
            failures.push(format!("#{i} {}: verdict {v:?}, expected {want:?}", c.name));
            continue;
        }
        if let Expect::Tx { frame, .. } | Expect::TxFragment { frame, .. } = &c.expect {
            if f.data() != frame.as_slice() {
                failures.push(format!(
                    "#{i} {}: frame differs\n{}",
                    c.name,
                    diff(frame, f.data())
                ));
            }
        }
    }
    (w, failures)
}

fn report(failures: &[String]) {
    assert!(
        failures.is_empty(),
        "{} golden case(s) failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn golden_cases_single_worker() {
    let cases = golden::cases();
    let (w, failures) = run(golden::worker_config(), &cases);
    report(&failures);
    let c = w.counters();
    assert_eq!(c.toa_inserted.get(), golden::TOA_INSERTED, "toa_inserted");
    assert_eq!(c.toa_skipped.get(), golden::TOA_SKIPPED, "toa_skipped");
    // Every fragmentation-needed the table expects is counted.
    let frag_needed = cases
        .iter()
        .filter(|c| c.name.contains("frag-needed") && matches!(c.expect, Expect::Tx { .. }))
        .count() as u64;
    assert!(frag_needed > 0);
    assert_eq!(
        c.icmp_frag_needed_sent.get(),
        frag_needed,
        "icmp_frag_needed_sent"
    );
    assert_eq!(c.rx.get(), cases.len() as u64);
    assert_eq!(
        c.sessions_mid_flow.get(),
        golden::MID_FLOW_SESSIONS,
        "sessions_mid_flow"
    );
    // Every drop is counted under its reason, once.
    for r in DropReason::ALL {
        let want = cases.iter().filter(|c| c.expect == Expect::Drop(r)).count() as u64;
        assert_eq!(c.drops[r.index()].get(), want, "drops {r}");
    }
}

#[test]
fn golden_cases_redirect_to_owner() {
    let cfg = golden::redirect_worker_config();
    // The NAT ports the table uses must be owned as it says (the owner is a hash).
    for (v6, client) in [false, true].into_iter().zip(golden::clients()) {
        assert_eq!(nat_owner(client, cfg.workers), 1);
        assert_eq!(nat_owner(golden::nat_client_owned_by_0(v6), cfg.workers), 0);
    }
    let (w, failures) = run(cfg, &golden::redirect_cases());
    report(&failures);
    assert!(w.counters().redirected.get() > 0);
}

/// The frames worker 0 of 2 redirects, through a fresh worker 1 of 2 in the same order: the
/// owner forwards its NAT flows and drops what no flow of its matches.
#[test]
fn golden_redirected_frames_on_their_owner() {
    let redirected: Vec<(u8, Vec<u8>)> = golden::redirect_cases()
        .into_iter()
        .filter(|c| c.expect == Expect::Redirect(1))
        .map(|c| (c.in_port, c.input))
        .collect();
    let owner = golden::redirect_owner_cases();
    let inputs: Vec<(u8, Vec<u8>)> = owner.iter().map(|c| (c.in_port, c.input.clone())).collect();
    assert_eq!(
        inputs, redirected,
        "the owner cases are the redirected frames, in order"
    );
    let (w, failures) = run(golden::redirect_owner_worker_config(), &owner);
    report(&failures);
    assert_eq!(w.counters().redirected.get(), 0);
}

#[test]
fn golden_table_is_well_formed() {
    let mut names = HashSet::new();
    let mut errors = Vec::new();
    let cases = golden::cases();
    let mut redirect = golden::redirect_cases();
    redirect.extend(golden::redirect_owner_cases());
    for c in cases.iter().chain(&redirect) {
        assert!(names.insert(c.name), "duplicate case name {:?}", c.name);
        // A fragmented case's whole frame (its later fragments have no L4 header to check).
        if let Expect::Tx { frame, .. } | Expect::TxFragment { frame, .. } = &c.expect {
            if let Err(e) = verify_frame(frame) {
                errors.push(format!("{}: expected frame: {e}", c.name));
            }
        }
    }
    assert!(errors.is_empty(), "{}", errors.join("\n"));
    // Each kind of verdict is covered.
    let has = |f: &dyn Fn(&Expect) -> bool| cases.iter().chain(&redirect).any(|c| f(&c.expect));
    assert!(has(&|e| matches!(e, Expect::Tx { .. })));
    assert!(has(&|e| matches!(e, Expect::Drop(_))));
    assert!(has(&|e| matches!(e, Expect::Punt(_))));
    assert!(has(&|e| matches!(e, Expect::Redirect(_))));
}

#[test]
fn golden_pcap_round_trip() {
    let dir = std::env::temp_dir().join(format!("ferrovs-golden-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cases = golden::cases();
    let input = golden::inputs(&cases);
    let expected = golden::outputs(&cases, None);
    let (ip, ep) = (dir.join("input.pcap"), dir.join("expected.pcap"));
    pcap::write_pcap(&ip, &input).unwrap();
    pcap::write_pcap(&ep, &expected).unwrap();
    assert_eq!(pcap::read_pcap(&ip).unwrap(), input);
    assert_eq!(pcap::read_pcap(&ep).unwrap(), expected);
    // Classic pcap, little-endian microsecond magic, version 2.4, link type 1 (Ethernet).
    let raw = std::fs::read(&ip).unwrap();
    assert_eq!(&raw[0..4], &[0xd4, 0xc3, 0xb2, 0xa1]);
    assert_eq!(&raw[4..8], &[2, 0, 4, 0]);
    assert_eq!(&raw[20..24], &[1, 0, 0, 0]);
    let total: usize = input.iter().map(|f| 16 + f.len()).sum();
    assert_eq!(raw.len(), 24 + total, "one record per case");
    let per_port: usize = (0..2).map(|p| golden::outputs(&cases, Some(p)).len()).sum();
    assert_eq!(per_port, expected.len());
    std::fs::remove_dir_all(&dir).unwrap();
}

// ---- Independent checksum verification of the expectations ----

fn sum(data: &[u8], mut acc: u32) -> u32 {
    for w in data.chunks(2) {
        acc += u32::from(u16::from_be_bytes([w[0], *w.get(1).unwrap_or(&0)]));
    }
    acc
}

fn fold(mut acc: u32) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

fn verify_frame(f: &[u8]) -> Result<(), String> {
    if f.len() < 14 {
        return Err("short frame".into());
    }
    match u16::from_be_bytes([f[12], f[13]]) {
        0x0800 => verify_ip4(&f[14..], false),
        0x86dd => verify_ip6(&f[14..], false),
        // 802.1Q: what follows the tag is checked as an untagged frame's (so is a second tag).
        0x8100 if f.len() >= 18 => verify_frame(&[&f[..12], &f[16..]].concat()),
        t => Err(format!("unexpected ethertype {t:04x}")),
    }
}

/// Verify an IPv4 packet; a `quoted` one may be cut short, so its L4 checksum is checked only
/// when the whole segment is there.
fn verify_ip4(ip: &[u8], quoted: bool) -> Result<(), String> {
    let hl = usize::from(ip[0] & 0x0f) * 4;
    if fold(sum(&ip[..hl], 0)) != 0xffff {
        return Err(format!("ipv4 header checksum (quoted: {quoted})"));
    }
    let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
    if total > ip.len() {
        return if quoted {
            Ok(())
        } else {
            Err("ipv4 total length past the frame".into())
        };
    }
    let l4 = &ip[hl..total];
    let proto = ip[9];
    match proto {
        // UDP checksum 0: "none", legal over IPv4 only.
        17 if l4.get(6..8) == Some(&[0, 0]) => Ok(()),
        6 | 17 => {
            let mut acc = sum(&ip[12..20], 0);
            acc += u32::from(proto) + l4.len() as u32;
            if fold(sum(l4, acc)) != 0xffff {
                return Err(format!(
                    "ipv4 l4 checksum, proto {proto} (quoted: {quoted})"
                ));
            }
            Ok(())
        }
        1 => {
            if fold(sum(l4, 0)) != 0xffff {
                return Err("icmp checksum".into());
            }
            if matches!(l4[0], 3 | 11 | 12) {
                verify_ip4(&l4[8..], true)?;
            }
            Ok(())
        }
        4 => verify_ip4(l4, false),
        p => Err(format!("unexpected protocol {p}")),
    }
}

fn verify_ip6(ip: &[u8], quoted: bool) -> Result<(), String> {
    let plen = usize::from(u16::from_be_bytes([ip[4], ip[5]]));
    if 40 + plen > ip.len() {
        return if quoted {
            Ok(())
        } else {
            Err("ipv6 payload length past the frame".into())
        };
    }
    let l4 = &ip[40..40 + plen];
    let nh = ip[6];
    match nh {
        6 | 17 | 58 => {
            let mut acc = sum(&ip[8..40], 0);
            acc += u32::from(nh) + l4.len() as u32;
            if fold(sum(l4, acc)) != 0xffff {
                return Err(format!(
                    "ipv6 l4 checksum, next header {nh} (quoted: {quoted})"
                ));
            }
            if nh == 58 && (1..=4).contains(&l4[0]) {
                verify_ip6(&l4[8..], true)?;
            }
            Ok(())
        }
        n => Err(format!("unexpected next header {n}")),
    }
}
