//! Codec tests: golden bytes, round trips of every type, every truncation and every bit flip
//! rejected cleanly, and property tests over arbitrary records.

use core::net::{IpAddr, SocketAddr};

use dataplane::session::{FwdMethod, ProxyState, TcpState};
use dataplane::sync::PROXY_FLAGS;
use dataplane::types::L4Proto;
use proptest::prelude::*;

use super::*;
use crate::sync::record::tests::fnat4;

const KEY: [u8; 32] = [0x42; 32];

fn auth() -> Auth {
    Auth::new(&KEY)
}

fn header(kind: MsgType) -> Header {
    Header {
        kind,
        syncid: 9,
        flags: 0,
        sender: 0xdead_beef,
        epoch: 1_700_000_000_000_000,
        peer_epoch: 1_700_000_000_000_001,
        seq: 77,
        ack: 66,
        ts_us: 123_456,
    }
}

fn v6_template() -> SyncSession {
    SyncSession {
        op: SyncOp::Update,
        proto: L4Proto::Tcp,
        client: "[2001:db8:ff::]:0".parse().expect("literal"),
        vip: "[2001:db8::104]:0".parse().expect("literal"),
        local: None,
        backend: "[2001:db8:1::10]:0".parse().expect("literal"),
        method: FwdMethod::Dr,
        tcp_state: TcpState::None,
        timeout_s: 360,
        template: Some(64),
        flags: 0,
        client_hop: None,
        proxy: None,
        synproxy: None,
    }
}

/// [`fnat4`] of a PROXY v2 service, its header acknowledged.
fn fnat4_proxy() -> SyncSession {
    SyncSession {
        flags: 3 | PROXY_FLAGS,
        proxy: Some(ProxyState {
            isn1: 0x8000_0001,
            len: 28,
            v2: true,
        }),
        ..fnat4()
    }
}

fn seal_msg(h: &Header, body: &Body) -> Vec<u8> {
    let mut b = Vec::new();
    put_body(&mut b, body).expect("valid body");
    let mut d = Vec::new();
    seal(&mut d, h, &b, &auth()).expect("fits");
    d
}

/// One message of every type, with bodies that use every field.
fn every_message() -> Vec<Message> {
    let mut data = header(MsgType::Data);
    data.flags = FLAG_RESYNC;
    let mut udp = fnat4();
    udp.proto = L4Proto::Udp;
    udp.tcp_state = TcpState::None;
    udp.op = SyncOp::Delete;
    udp.client_hop = Some(crate::sync::record::ClientHop {
        port: 2,
        mac: [2, 0, 0, 0, 0, 0xfe],
    });
    let mut expired = fnat4();
    expired.op = SyncOp::Expire;
    vec![
        Message {
            header: data,
            body: Body::Data {
                first_queued_us: 99,
                records: vec![
                    fnat4(),
                    v6_template(),
                    udp,
                    expired,
                    fnat4_proxy(),
                    fnat4_synproxy(),
                ],
            },
        },
        Message {
            header: header(MsgType::Ack),
            body: Body::Ack,
        },
        Message {
            header: header(MsgType::Nack),
            body: Body::Nack {
                ranges: vec![(3, 3), (5, 9)],
            },
        },
        Message {
            header: header(MsgType::ResyncRequest),
            body: Body::ResyncRequest { req_id: 4 },
        },
        Message {
            header: header(MsgType::ResyncDone),
            body: Body::ResyncDone {
                req_id: 4,
                records: 1_000_000,
            },
        },
        Message {
            header: header(MsgType::Hello),
            body: Body::Hello,
        },
    ]
}

#[test]
fn golden_hello() {
    let d = seal_msg(&header(MsgType::Hello), &Body::Hello);
    let expect_head: [u8; HEADER_LEN] = [
        b'F', b'S', 1, 6, 9, 0, 0, 84, // magic, version, type, syncid, flags, length 84
        0xde, 0xad, 0xbe, 0xef, // sender
        0x00, 0x06, 0x0a, 0x24, 0x18, 0x1e, 0x40, 0x00, // epoch 1_700_000_000_000_000
        0x00, 0x06, 0x0a, 0x24, 0x18, 0x1e, 0x40, 0x01, // peer epoch
        0, 0, 0, 0, 0, 0, 0, 77, // seq
        0, 0, 0, 0, 0, 0, 0, 66, // ack
        0, 0, 0, 0, 0, 0x01, 0xe2, 0x40, // ts 123456
    ];
    assert_eq!(d.len(), OVERHEAD);
    assert_eq!(&d[..HEADER_LEN], &expect_head);
    assert_eq!(&d[HEADER_LEN..], &auth().sign(&d[..HEADER_LEN]));
}

#[test]
fn golden_record_v4_fullnat() {
    let mut b = Vec::new();
    put_record(&mut b, &fnat4()).expect("valid");
    let expect: &[u8] = &[
        1, 6, 3, 1, 0b0100, 0, 3, 0, // update, tcp, fullnat, established, local, -, flags 3
        0, 0, 0x03, 0x83, // timeout 899
        203, 0, 113, 7, 0x9c, 0x40, // client:40000
        198, 18, 0, 103, 0, 80, // vip:80
        198, 18, 1, 200, 0x13, 0x89, // local:5001
        198, 18, 1, 14, 0x1f, 0x90, // backend:8080
    ];
    assert_eq!(b, expect);
    assert_eq!(record_len(&fnat4()), expect.len());
    assert_eq!(record_len(&v6_template()), 12 + 3 * 18);
    let mut hop = fnat4();
    hop.client_hop = Some(crate::sync::record::ClientHop {
        port: 0x0102,
        mac: [2, 0, 0, 0, 0, 0xfe],
    });
    let mut b = Vec::new();
    put_record(&mut b, &hop).expect("valid");
    assert_eq!(b[4], 0b1_0100, "local and client hop present");
    assert_eq!(&b[expect.len()..], &[1, 2, 2, 0, 0, 0, 0, 0xfe]);
    assert_eq!(record_len(&hop), expect.len() + 8);
}

/// Parse one record as the body of a data message.
fn parse_one(rec: &[u8]) -> Result<Body, WireError> {
    let mut body = Vec::new();
    data_prefix(&mut body, 1, 1);
    body.extend_from_slice(rec);
    parse_body(MsgType::Data, &body)
}

#[test]
fn golden_record_with_proxy_state_and_without() {
    let mut plain = Vec::new();
    put_record(&mut plain, &fnat4()).expect("valid");
    let mut b = Vec::new();
    put_record(&mut b, &fnat4_proxy()).expect("valid");
    assert_eq!(b[4], 0b10_0100, "local address and PROXY state present");
    assert_eq!(
        b[6],
        3 | PROXY_FLAGS,
        "the PROXY flags ride in the pipeline flags"
    );
    assert_eq!(&b[7..plain.len()], &plain[7..], "the rest as without it");
    assert_eq!(
        &b[plain.len()..],
        &[0x80 | 28, 0x80, 0, 0, 1],
        "v2, 28 bytes, ISN+1"
    );
    assert_eq!(record_len(&fnat4_proxy()), plain.len() + 5);
    let one = |r| Body::Data {
        first_queued_us: 1,
        records: vec![r],
    };
    assert_eq!(parse_one(&b), Ok(one(fnat4_proxy())));
    // A record from a sender that predates the PROXY state reads as before.
    assert_eq!(parse_one(&plain), Ok(one(fnat4())));
}

#[test]
fn a_bad_or_truncated_proxy_extension_is_refused() {
    let mut b = Vec::new();
    put_record(&mut b, &fnat4_proxy()).expect("valid");
    for cut in 1..=5 {
        assert_eq!(
            parse_one(&b[..b.len() - cut]),
            Err(WireError::Truncated),
            "{cut} bytes short"
        );
    }
    let ext = b.len() - 5;
    let mut bad_len = b.clone();
    bad_len[ext] = 0x80 | 27;
    let proxy_err = Err(WireError::Record {
        index: 0,
        source: RecordError::Proxy,
    });
    assert_eq!(parse_one(&bad_len), proxy_err, "v2 over IPv4 is 28 bytes");
    let mut v1_short = b.clone();
    v1_short[ext] = 5;
    assert_eq!(parse_one(&v1_short), proxy_err, "no v1 header is 5 bytes");
    let mut udp = b.clone();
    udp[1] = 17;
    udp[3] = 0;
    assert_eq!(parse_one(&udp), proxy_err, "UDP has no PROXY header");
    let mut undefined = b;
    undefined[4] |= 0x40;
    assert_eq!(
        parse_one(&undefined),
        Err(WireError::BadValue {
            field: "address flags",
            value: 0b110_0100,
        })
    );
}

/// [`fnat4`] of a SYN proxy service whose server leg is open.
fn fnat4_synproxy() -> SyncSession {
    SyncSession {
        flags: 3 | dataplane::sync::SYNPROXY_FLAGS,
        synproxy: Some(dataplane::session::SynProxyState {
            seq: 0x0102_0304,
            ts: 0x0506_0708,
            client_isn: 0x090a_0b0c,
            mss: 0x0d0e,
            opts: 0x2f,
            ws: 0x70,
        }),
        ..fnat4()
    }
}

#[test]
fn golden_record_with_syn_proxy_state() {
    let mut plain = Vec::new();
    put_record(&mut plain, &fnat4()).expect("valid");
    let mut b = Vec::new();
    put_record(&mut b, &fnat4_synproxy()).expect("valid");
    assert_eq!(b[4], 0b1000_0100, "local address and an extension block");
    assert_eq!(
        b[6],
        3 | dataplane::sync::SYNPROXY_FLAGS,
        "the flags say open"
    );
    assert_eq!(&b[7..plain.len()], &plain[7..], "the rest as without it");
    assert_eq!(
        &b[plain.len()..],
        &[18, 0x81, 16, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 0x2f, 0x70],
        "block of 18: critical type 1, 16 bytes"
    );
    assert_eq!(record_len(&fnat4_synproxy()), b.len());
    let mut body = Vec::new();
    data_prefix(&mut body, 1, 2);
    body.extend_from_slice(&b);
    body.extend_from_slice(&plain);
    let mut skipped = Skipped::default();
    assert_eq!(
        parse_body_skipping(MsgType::Data, &body, &mut skipped),
        Ok(Body::Data {
            first_queued_us: 1,
            records: vec![fnat4_synproxy(), fnat4()],
        })
    );
    assert_eq!(
        skipped,
        Skipped::default(),
        "a known extension is not skipped"
    );
}

#[test]
fn a_bad_syn_proxy_extension_is_refused() {
    let mut b = Vec::new();
    put_record(&mut b, &fnat4_synproxy()).expect("valid");
    for cut in 1..=19 {
        assert!(parse_one(&b[..b.len() - cut]).is_err(), "{cut} bytes short");
    }
    let value = &b[b.len() - 16..];
    let (plain, ext) = b.split_at(b.len() - 19);
    let mut base = plain.to_vec();
    base[4] &= !0x80;
    // Another length, or twice in one block.
    let mut short = [&[0x81, 15][..], &value[..15]].concat();
    short.insert(0, 17);
    let rec = |block: &[u8]| [plain, block].concat();
    assert_eq!(
        parse_one(&rec(&short)),
        Err(WireError::BadValue {
            field: "SYN proxy extension length",
            value: 15,
        })
    );
    let twice = [&[36u8][..], &ext[1..], &ext[1..]].concat();
    assert_eq!(
        parse_one(&rec(&twice)),
        Err(WireError::BadValue {
            field: "repeated extension",
            value: 0x81,
        })
    );
    // The state without the session flag, or on a UDP record.
    let mut noflag = b.clone();
    noflag[6] &= !dataplane::sync::SYNPROXY_FLAGS;
    let err = Err(WireError::Record {
        index: 0,
        source: RecordError::SynProxy,
    });
    assert_eq!(parse_one(&noflag), err);
    let mut udp = b.clone();
    udp[1] = 17;
    udp[3] = 0;
    assert_eq!(parse_one(&udp), err, "UDP");
    // The flag without the state.
    let mut flag_only = base;
    flag_only[6] |= dataplane::sync::SYNPROXY_FLAGS;
    assert_eq!(parse_one(&flag_only), err, "flag without state");
}

/// `rec` encoded with an extension block (address flag bit 7) holding `block`.
fn with_extensions(rec: &SyncSession, block: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    put_record(&mut b, rec).expect("valid");
    b[4] |= 0x80;
    b.push(u8::try_from(block.len()).expect("short"));
    b.extend_from_slice(block);
    b
}

#[test]
fn unknown_record_extensions_are_skipped_by_length_and_counted() {
    let parse = |recs: &[Vec<u8>]| {
        let mut body = Vec::new();
        data_prefix(&mut body, 1, u16::try_from(recs.len()).expect("few"));
        for r in recs {
            body.extend_from_slice(r);
        }
        let mut skipped = Skipped::default();
        parse_body_skipping(MsgType::Data, &body, &mut skipped).map(|b| (b, skipped))
    };
    let data = |records| Body::Data {
        first_queued_us: 1,
        records,
    };
    // Non-critical (type bit 7 clear): the extensions are ignored, the record kept; after the
    // PROXY state too.
    let ignored = with_extensions(&fnat4_proxy(), &[0x01, 2, 0xaa, 0xbb, 0x7f, 0]);
    let critical = with_extensions(&fnat4(), &[0x01, 0, EXT_CRITICAL | 0x05, 1, 0xcc]);
    let mut plain = Vec::new();
    put_record(&mut plain, &v6_template()).expect("valid");
    assert_eq!(
        parse(&[ignored.clone(), critical.clone(), plain.clone()]),
        Ok((
            data(vec![fnat4_proxy(), v6_template()]),
            Skipped {
                records: 1,
                extensions: 2,
            }
        )),
        "the critical one's record skipped, the rest installed"
    );
    // The block's length is checked: cut short, overlong extension, empty block.
    for cut in 1..=6 {
        let r = &ignored[..ignored.len() - cut];
        assert!(parse(&[r.to_vec()]).is_err(), "{cut} bytes short");
    }
    let mut over = ignored.clone();
    let n = over.len();
    over[n - 1] = 1;
    assert_eq!(
        parse(&[over]),
        Err(WireError::Truncated),
        "extension past the block"
    );
    assert_eq!(
        parse(&[with_extensions(&fnat4(), &[])]),
        Err(WireError::BadValue {
            field: "extension block length",
            value: 0,
        })
    );
    // A record that skips nothing reads as before, with nothing counted.
    assert_eq!(
        parse(&[plain]),
        Ok((data(vec![v6_template()]), Skipped::default()))
    );
}

#[test]
fn every_type_round_trips() {
    for m in every_message() {
        let d = seal_msg(&m.header, &m.body);
        assert_eq!(
            decode(&d, Some(&auth())),
            Ok(m.clone()),
            "{:?}",
            m.header.kind
        );
        assert_eq!(parse_header(&d), Ok(m.header));
    }
}

#[test]
fn every_truncation_and_extension_is_rejected_cleanly() {
    for m in every_message() {
        let d = seal_msg(&m.header, &m.body);
        for len in 0..d.len() {
            let r = decode(&d[..len], Some(&auth()));
            assert!(r.is_err(), "{:?} cut to {len} accepted", m.header.kind);
            // Without the MAC check, the length field still catches it.
            let r = decode(&d[..len], None);
            let expect = if len < OVERHEAD {
                WireError::TooShort { len }
            } else {
                WireError::Length {
                    declared: d.len(),
                    actual: len,
                }
            };
            assert_eq!(r, Err(expect));
        }
        let mut longer = d.clone();
        longer.push(0);
        assert!(decode(&longer, None).is_err());
    }
}

#[test]
fn a_consistent_but_short_body_is_truncated_not_a_panic() {
    // Re-seal every prefix of the body with a fixed-up length: the body parser sees it cut.
    for m in every_message() {
        let mut body = Vec::new();
        put_body(&mut body, &m.body).expect("valid");
        for cut in 0..body.len() {
            let mut d = Vec::new();
            seal(&mut d, &m.header, &body[..cut], &auth()).expect("fits");
            let r = decode(&d, Some(&auth()));
            assert!(
                matches!(
                    r,
                    Err(WireError::Truncated | WireError::BadValue { .. } | WireError::Trailing(_))
                ),
                "{:?} body cut to {cut}: {r:?}",
                m.header.kind
            );
        }
    }
}

#[test]
fn every_bit_flip_fails_the_mac() {
    let m = &every_message()[0];
    let d = seal_msg(&m.header, &m.body);
    for i in 0..d.len() {
        for bit in 0..8 {
            let mut x = d.clone();
            x[i] ^= 1 << bit;
            assert!(
                decode(&x, Some(&auth())).is_err(),
                "flip {i}:{bit} accepted"
            );
        }
    }
    let other = Auth::new(&[0x43; 32]);
    assert_eq!(
        decode(&d, Some(&other)),
        Err(WireError::Hmac),
        "another key"
    );
}

#[test]
fn header_checks_in_order() {
    let d = seal_msg(&header(MsgType::Hello), &Body::Hello);
    let mut x = d.clone();
    x[0] = b'X';
    assert_eq!(parse_header(&x), Err(WireError::BadMagic));
    let mut x = d.clone();
    x[2] = 2;
    assert_eq!(parse_header(&x), Err(WireError::Version(2)));
    let mut x = d.clone();
    x[3] = 7;
    assert_eq!(parse_header(&x), Err(WireError::UnknownType(7)));
    let mut x = d.clone();
    x[5] = FLAG_RESYNC;
    assert_eq!(
        parse_header(&x),
        Err(WireError::BadFlags {
            kind: MsgType::Hello,
            flags: 1
        })
    );
}

#[test]
fn bad_values_in_records_and_nacks() {
    let mut b = Vec::new();
    data_prefix(&mut b, 0, 1);
    put_record(&mut b, &fnat4()).expect("valid");
    let at = DATA_PREFIX_LEN;
    for (off, val, field) in [
        (0, 4, "op"),
        (1, 1, "protocol"),
        (2, 4, "method"),
        (3, 11, "TCP state"),
        (4, 0x40, "address flags"),
        (5, 8, "prefix length of a connection"),
        (7, 1, "reserved byte"),
    ] {
        let mut x = b.clone();
        x[at + off] = val;
        match parse_body(MsgType::Data, &x) {
            Err(WireError::BadValue { field: f, .. }) => assert_eq!(f, field),
            other => panic!("{field}: {other:?}"),
        }
    }
    // A FullNAT record whose local address flag is cleared: the lengths no longer add up or
    // the invariant (FullNAT has a local address) fails; either way it is refused.
    let mut x = b.clone();
    x[at + 4] = 0;
    assert!(parse_body(MsgType::Data, &x).is_err());
    // A count the body cannot hold is refused before anything is reserved.
    let mut x = b.clone();
    x[8..10].copy_from_slice(&u16::MAX.to_be_bytes());
    assert_eq!(parse_body(MsgType::Data, &x), Err(WireError::Truncated));
    assert!(matches!(
        parse_body(MsgType::Nack, &[0]),
        Err(WireError::BadValue { .. })
    ));
    let mut n = vec![1];
    n.extend_from_slice(&5u64.to_be_bytes());
    n.extend_from_slice(&4u64.to_be_bytes());
    assert!(matches!(
        parse_body(MsgType::Nack, &n),
        Err(WireError::BadValue { .. })
    ));
    assert_eq!(
        parse_body(MsgType::Hello, &[0]),
        Err(WireError::Trailing(1))
    );
}

// ---- Property tests ----

fn ip(v6: bool) -> impl Strategy<Value = IpAddr> {
    if v6 {
        any::<[u8; 16]>().prop_map(IpAddr::from).boxed()
    } else {
        any::<[u8; 4]>().prop_map(IpAddr::from).boxed()
    }
}

fn sa(v6: bool) -> impl Strategy<Value = SocketAddr> {
    (ip(v6), any::<u16>()).prop_map(|(i, p)| SocketAddr::new(i, p))
}

prop_compose! {
    /// Any record that satisfies the invariants.
    fn record()(front in any::<bool>(), back in any::<bool>(),
               px in any::<Option<(u32, bool, u8)>>(),
               sp in any::<Option<(u32, u32, u32, u16, u8, u8)>>())
        (client in sa(front), vip in sa(front), local in sa(back), backend in sa(back),
         method in 0u8..4, tcp in any::<bool>(), state in 0u8..11, template in any::<bool>(),
         prefix in any::<u8>(), timeout_s in any::<u32>(), flags in any::<u8>(),
         op in 0u8..3, hop in any::<Option<(u16, [u8; 6])>>(), front in Just(front),
         px in Just(px), sp in Just(sp))
        -> SyncSession
    {
        let method = crate::sync::record::method_from_code(method).unwrap_or(FwdMethod::Dr);
        let template = template.then_some(prefix % if front { 129 } else { 33 });
        let tcp_state = if tcp && template.is_none() {
            crate::sync::record::tcp_state_from_code(state).unwrap_or(TcpState::None)
        } else {
            TcpState::None
        };
        let proxied = tcp && template.is_none() && matches!(method, FwdMethod::Nat | FwdMethod::FullNat);
        let px = px.filter(|_| proxied);
        let sp = sp.filter(|_| proxied && px.is_none()).map(|(seq, ts, client_isn, mss, opts, ws)| {
            dataplane::session::SynProxyState { seq, ts, client_isn, mss, opts: opts & 0x3f, ws }
        });
        let syn_flag = dataplane::session::Session::<core::net::Ipv4Addr>::FLAG_SYNPROXY;
        let flags = if sp.is_some() { flags | syn_flag } else { flags & !syn_flag };
        SyncSession {
            op: [SyncOp::Update, SyncOp::Delete, SyncOp::Expire][usize::from(op)],
            proto: if tcp { L4Proto::Tcp } else { L4Proto::Udp },
            client,
            vip,
            local: (method == FwdMethod::FullNat).then_some(local),
            backend,
            method,
            tcp_state,
            timeout_s,
            template,
            flags,
            client_hop: hop.map(|(port, mac)| crate::sync::record::ClientHop { port, mac }),
            synproxy: sp,
            proxy: px
                .map(|(isn1, v2, l)| ProxyState {
                    isn1,
                    v2,
                    len: match (v2, front) {
                        (true, false) => 28,
                        (true, true) => 52,
                        (false, _) => 32 + u16::from(l % 76),
                    },
                }),
        }
    }
}

proptest! {
    #[test]
    fn sync_records_round_trip(recs in prop::collection::vec(record(), 0..20), q in any::<u64>()) {
        for r in &recs {
            prop_assert_eq!(r.validate(), Ok(()));
            let mut one = Vec::new();
            put_record(&mut one, r).expect("valid");
            prop_assert_eq!(one.len(), record_len(r), "record_len is the encoded length");
        }
        let h = Header { flags: FLAG_RESYNC, ..header(MsgType::Data) };
        let body = Body::Data { first_queued_us: q, records: recs };
        let d = seal_msg(&h, &body);
        prop_assert_eq!(decode(&d, Some(&auth())), Ok(Message { header: h, body }));
    }

    #[test]
    fn sync_decoder_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let _ = decode(&bytes, None);
        let _ = decode(&bytes, Some(&auth()));
        for kind in [MsgType::Data, MsgType::Nack, MsgType::ResyncDone, MsgType::ResyncRequest] {
            let _ = parse_body(kind, &bytes);
        }
    }

    #[test]
    fn sync_every_cut_of_a_random_message_is_rejected(
        recs in prop::collection::vec(record(), 1..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let body = Body::Data { first_queued_us: 1, records: recs };
        let d = seal_msg(&header(MsgType::Data), &body);
        let len = cut.index(d.len());
        prop_assert!(decode(&d[..len], Some(&auth())).is_err());
    }
}
