//! Ethernet ports: probe, configure, queues, start/stop, link, stats, RSS.

use std::cell::Cell;
use std::ffi::{CStr, CString};
use std::marker::PhantomData;
use std::os::raw::c_char;
use std::sync::Arc;

use crate::eal::Eal;
use crate::error::{cvt, Error, Result};
use crate::mbuf::Mbuf;
use crate::mempool::Mempool;

/// RSS over IPv4/IPv6 addresses (`RTE_ETH_RSS_IP`).
pub const RSS_IP: u64 = dpdk_sys::RTE_ETH_RSS_IP;
/// RSS over TCP ports (`RTE_ETH_RSS_TCP`).
pub const RSS_TCP: u64 = dpdk_sys::RTE_ETH_RSS_TCP;
/// RSS over UDP ports (`RTE_ETH_RSS_UDP`).
pub const RSS_UDP: u64 = dpdk_sys::RTE_ETH_RSS_UDP;
/// RSS over IPv4 TCP ports (`RTE_ETH_RSS_NONFRAG_IPV4_TCP`).
pub const RSS_IPV4_TCP: u64 = dpdk_sys::RTE_ETH_RSS_NONFRAG_IPV4_TCP;
/// RSS over IPv4 UDP ports (`RTE_ETH_RSS_NONFRAG_IPV4_UDP`).
pub const RSS_IPV4_UDP: u64 = dpdk_sys::RTE_ETH_RSS_NONFRAG_IPV4_UDP;
/// RSS over IPv6 TCP ports (`RTE_ETH_RSS_NONFRAG_IPV6_TCP`).
pub const RSS_IPV6_TCP: u64 = dpdk_sys::RTE_ETH_RSS_NONFRAG_IPV6_TCP;
/// RSS over IPv6 UDP ports (`RTE_ETH_RSS_NONFRAG_IPV6_UDP`).
pub const RSS_IPV6_UDP: u64 = dpdk_sys::RTE_ETH_RSS_NONFRAG_IPV6_UDP;

/// A DPDK port id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PortId(pub u16);

/// What a port can do, from `rte_eth_dev_info_get`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DevInfo {
    /// The PMD's name (`net_ring`, `net_pcap`, `net_ixgbe`, ...).
    pub driver_name: String,
    /// Kernel interface index, 0 if none.
    pub if_index: u32,
    /// Smallest MTU the port takes.
    pub min_mtu: u16,
    /// Largest MTU the port takes.
    pub max_mtu: u16,
    /// Most RX queues.
    pub max_rx_queues: u16,
    /// Most TX queues.
    pub max_tx_queues: u16,
    /// RX offloads (`RTE_ETH_RX_OFFLOAD_*`).
    pub rx_offload_capa: u64,
    /// TX offloads (`RTE_ETH_TX_OFFLOAD_*`).
    pub tx_offload_capa: u64,
    /// RSS hash functions the port supports (`RTE_ETH_RSS_*`); 0 means no RSS.
    pub flow_type_rss_offloads: u64,
    /// RSS redirection table size, 0 if none.
    pub reta_size: u16,
    /// RSS key size in bytes, 0 if the key cannot be set.
    pub hash_key_size: u8,
}

/// RSS settings for [`PortConfig`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RssConfig {
    /// The Toeplitz key (40 bytes for most NICs); empty keeps the driver's.
    pub key: Vec<u8>,
    /// Hash functions (`RTE_ETH_RSS_*`), masked by what the port supports.
    pub hash_functions: u64,
}

/// How to configure a port.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct PortConfig {
    /// RX queues (one per worker).
    pub rx_queues: u16,
    /// TX queues (one per worker, plus control's where used).
    pub tx_queues: u16,
    /// RSS, if wanted and more than one RX queue.
    pub rss: Option<RssConfig>,
    /// RX offloads to enable (`RTE_ETH_RX_OFFLOAD_*`); must be within the capabilities.
    pub rx_offloads: u64,
    /// TX offloads to enable (`RTE_ETH_TX_OFFLOAD_*`); must be within the capabilities.
    pub tx_offloads: u64,
    /// MTU to set, if not the default.
    pub mtu: Option<u16>,
}

/// Link state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Link {
    /// Link is up.
    pub up: bool,
    /// Speed in Mbit/s (0 unknown).
    pub speed_mbps: u32,
    /// Full duplex.
    pub full_duplex: bool,
}

/// Basic counters from `rte_eth_stats_get`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Stats {
    /// Packets received.
    pub ipackets: u64,
    /// Packets sent.
    pub opackets: u64,
    /// Bytes received.
    pub ibytes: u64,
    /// Bytes sent.
    pub obytes: u64,
    /// RX packets dropped by the hardware (RX ring full).
    pub imissed: u64,
    /// Erroneous RX packets.
    pub ierrors: u64,
    /// Failed TX packets.
    pub oerrors: u64,
    /// RX mbuf allocation failures.
    pub rx_nombuf: u64,
}

/// Keeps a port from being stopped or closed while a queue handle is alive.
#[derive(Debug)]
struct QueueGuard;

/// Rings a ring-backed port reads and writes; freed after the port is closed.
#[derive(Debug)]
pub(crate) struct OwnedRings(pub(crate) Vec<*mut dpdk_sys::rte_ring>);

// SAFETY: the ring pointers are only freed in Drop, once, after the port is closed.
unsafe impl Send for OwnedRings {}
// SAFETY: OwnedRings is never read through &self except to free in Drop.
unsafe impl Sync for OwnedRings {}

impl Drop for OwnedRings {
    fn drop(&mut self) {
        for &r in &self.0 {
            // SAFETY: each ring was created by rte_ring_create and is used by no port any more
            // (Port::drop closes the port before dropping its rings).
            unsafe { dpdk_sys::rte_ring_free(r) };
        }
    }
}

/// An owned ethdev port. Dropping it stops and closes the port.
#[derive(Debug)]
pub struct Port {
    id: PortId,
    name: String,
    guard: Arc<QueueGuard>,
    started: bool,
    /// Rings behind a ring-backed port, shared by both ports of a pair; freed after the last
    /// of them is closed.
    rings: Option<Arc<OwnedRings>>,
}

/// Names of devices look like `0000:03:00.0` (PCI) or `net_pcap0,rx_pcap=in.pcap` (vdev).
fn device_name(spec: &str) -> &str {
    spec.split(',').next().unwrap_or(spec).trim()
}

fn cstring(what: &str, s: &str) -> Result<CString> {
    CString::new(s).map_err(|_| Error::InvalidArgument(format!("{what} {s:?} contains a NUL byte")))
}

impl Port {
    /// Probe a device by PCI address (`0000:03:00.0`) or vdev spec (`net_ring0`,
    /// `net_pcap0,rx_pcap=in.pcap,tx_pcap=out.pcap`) and return its port.
    ///
    /// # Errors
    /// [`Error::Device`] with the reason and the usual fix when DPDK cannot probe it.
    #[doc(alias = "rte_dev_probe")]
    pub fn probe(_eal: &Eal, spec: &str) -> Result<Port> {
        let name = device_name(spec);
        if name.is_empty() {
            return Err(Error::Device {
                spec: spec.into(),
                reason: "empty device name".into(),
            });
        }
        if let Ok(id) = port_by_name(name) {
            return Ok(Port::adopt(id, name));
        }
        let cspec = cstring("device spec", spec)?;
        // SAFETY: cspec is a valid C string; the EAL is initialised.
        let ret = unsafe { dpdk_sys::rte_dev_probe(cspec.as_ptr()) };
        if ret < 0 {
            let errno = -ret;
            let looks_pci = name.contains(':');
            let hint = if looks_pci {
                "is the NIC bound to vfio-pci or uio_pci_generic? (dpdk-devbind.py --status; \
                 dpdk-devbind.py -b vfio-pci ADDRESS)"
            } else {
                "is the driver name right (net_ring, net_null, net_pcap, net_af_xdp, \
                 net_af_packet, net_tap, net_memif) and are its arguments valid?"
            };
            return Err(Error::Device {
                spec: spec.into(),
                reason: format!("{} (errno {errno}); {hint}", crate::error::strerror(errno)),
            });
        }
        let id = port_by_name(name).map_err(|_| Error::Device {
            spec: spec.into(),
            reason: "the device probed but created no ethdev port with that name".into(),
        })?;
        Ok(Port::adopt(id, name))
    }

    fn adopt(id: PortId, name: &str) -> Port {
        Port {
            id,
            name: name.to_owned(),
            guard: Arc::new(QueueGuard),
            started: false,
            rings: None,
        }
    }

    /// Create two ports joined back to back through `rte_ring`s (what one sends, the other
    /// receives), each with `queues` RX and TX queue rings. Useful for tests and benchmarks.
    #[doc(alias = "rte_eth_from_rings")]
    pub fn ring_pair(_eal: &Eal, name: &str, queues: u16, ring_size: u32) -> Result<(Port, Port)> {
        let mut a_to_b = Vec::new();
        let mut b_to_a = Vec::new();
        let mut all = OwnedRings(Vec::new());
        for q in 0..queues {
            for (dir, list) in [("ab", &mut a_to_b), ("ba", &mut b_to_a)] {
                let rname = cstring("ring name", &format!("{name}_{dir}{q}"))?;
                // SAFETY: valid C string; flags 0 = multi-producer/consumer, safe for any use.
                let r = unsafe {
                    dpdk_sys::rte_ring_create(rname.as_ptr(), ring_size, dpdk_sys::SOCKET_ID_ANY, 0)
                };
                let r = crate::error::cvt_p("rte_ring_create", r)?;
                all.0.push(r.as_ptr());
                list.push(r.as_ptr());
            }
        }
        let make = |pname: String,
                    rx: &mut Vec<*mut dpdk_sys::rte_ring>,
                    tx: &mut Vec<*mut dpdk_sys::rte_ring>| {
            let cname = cstring("port name", &pname)?;
            // SAFETY: rx/tx hold `queues` valid rings, kept alive by the Arc<OwnedRings> both
            // ports hold until after they are closed.
            let ret = unsafe {
                dpdk_sys::rte_eth_from_rings(
                    cname.as_ptr(),
                    rx.as_mut_ptr(),
                    u32::from(queues),
                    tx.as_mut_ptr(),
                    u32::from(queues),
                    0,
                )
            };
            let id = u16::try_from(crate::error::cvt_errno("rte_eth_from_rings", ret)?)
                .map_err(|_| Error::InvalidArgument("port id out of range".into()))?;
            Ok::<_, Error>(Port::adopt(PortId(id), &pname))
        };
        let rings = Arc::new(all);
        let mut a = make(format!("{name}_a"), &mut b_to_a, &mut a_to_b)?;
        a.rings = Some(rings.clone());
        let mut b = make(format!("{name}_b"), &mut a_to_b, &mut b_to_a)?;
        b.rings = Some(rings);
        Ok((a, b))
    }

    /// Return the port id.
    pub fn id(&self) -> PortId {
        self.id
    }

    /// Return the device name (`net_ring0`, `0000:03:00.0`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Return the port's capabilities.
    #[doc(alias = "rte_eth_dev_info_get")]
    pub fn info(&self) -> Result<DevInfo> {
        self.id.info()
    }

    /// Configure queues, RSS and offloads. The port must be stopped.
    #[doc(alias = "rte_eth_dev_configure")]
    pub fn configure(&mut self, conf: &PortConfig) -> Result<()> {
        if self.started {
            return Err(Error::Busy(format!(
                "port {} is started; stop it first",
                self.name
            )));
        }
        let info = self.info()?;
        if conf.rx_offloads & !info.rx_offload_capa != 0
            || conf.tx_offloads & !info.tx_offload_capa != 0
        {
            return Err(Error::InvalidArgument(format!(
                "port {}: offloads rx {:#x} tx {:#x} not within capabilities rx {:#x} tx {:#x}",
                self.name,
                conf.rx_offloads,
                conf.tx_offloads,
                info.rx_offload_capa,
                info.tx_offload_capa
            )));
        }
        let mut c = dpdk_sys::rte_eth_conf::default();
        c.rxmode.offloads = conf.rx_offloads;
        c.txmode.offloads = conf.tx_offloads;
        let mut key = Vec::new();
        if let Some(rss) = &conf.rss {
            let hf = rss.hash_functions & info.flow_type_rss_offloads;
            if hf != 0 && conf.rx_queues > 1 {
                c.rxmode.mq_mode = dpdk_sys::RTE_ETH_MQ_RX_RSS;
                c.rx_adv_conf.rss_conf.rss_hf = hf;
                if !rss.key.is_empty() {
                    key.clone_from(&rss.key);
                    c.rx_adv_conf.rss_conf.rss_key = key.as_mut_ptr();
                    c.rx_adv_conf.rss_conf.rss_key_len = u8::try_from(key.len()).map_err(|_| {
                        Error::InvalidArgument("RSS key longer than 255 bytes".into())
                    })?;
                }
            }
        }
        // SAFETY: c is a fully initialised rte_eth_conf; the key buffer (if any) outlives the
        // call and DPDK copies it.
        let ret = unsafe {
            dpdk_sys::rte_eth_dev_configure(self.id.0, conf.rx_queues, conf.tx_queues, &c)
        };
        cvt("rte_eth_dev_configure", ret)?;
        if let Some(mtu) = conf.mtu {
            // SAFETY: valid configured port.
            cvt("rte_eth_dev_set_mtu", unsafe {
                dpdk_sys::rte_eth_dev_set_mtu(self.id.0, mtu)
            })?;
        }
        Ok(())
    }

    /// Set up RX queue `queue` with `nb_desc` descriptors filled from `pool`.
    ///
    /// The returned handle is the only way to poll that queue. `pool` must outlive the port (a
    /// pool with mbufs still in a port's ring refuses to be freed, see [`Mempool`]).
    #[doc(alias = "rte_eth_rx_queue_setup")]
    pub fn rx_queue_setup(&mut self, queue: u16, nb_desc: u16, pool: &Mempool) -> Result<RxQueue> {
        let socket = self.id.socket();
        // SAFETY: configured, stopped port; NULL rx_conf means driver defaults; the pool is a
        // valid pktmbuf pool.
        let ret = unsafe {
            dpdk_sys::rte_eth_rx_queue_setup(
                self.id.0,
                queue,
                nb_desc,
                socket,
                std::ptr::null(),
                pool.as_ptr(),
            )
        };
        cvt("rte_eth_rx_queue_setup", ret)?;
        Ok(RxQueue {
            port: self.id.0,
            queue,
            _guard: self.guard.clone(),
            _not_sync: PhantomData,
        })
    }

    /// Set up TX queue `queue` with `nb_desc` descriptors.
    #[doc(alias = "rte_eth_tx_queue_setup")]
    pub fn tx_queue_setup(&mut self, queue: u16, nb_desc: u16) -> Result<TxQueue> {
        let socket = self.id.socket();
        // SAFETY: configured, stopped port; NULL tx_conf means driver defaults.
        let ret = unsafe {
            dpdk_sys::rte_eth_tx_queue_setup(self.id.0, queue, nb_desc, socket, std::ptr::null())
        };
        cvt("rte_eth_tx_queue_setup", ret)?;
        Ok(TxQueue {
            port: self.id.0,
            queue,
            _guard: self.guard.clone(),
            _not_sync: PhantomData,
        })
    }

    /// Start the port.
    #[doc(alias = "rte_eth_dev_start")]
    pub fn start(&mut self) -> Result<()> {
        // SAFETY: configured port with queues set up.
        cvt("rte_eth_dev_start", unsafe {
            dpdk_sys::rte_eth_dev_start(self.id.0)
        })?;
        self.started = true;
        Ok(())
    }

    /// Stop the port.
    ///
    /// # Errors
    /// [`Error::Busy`] while any queue handle is alive: drop (or join the lcores holding) them
    /// first, so no lcore polls a stopped port.
    #[doc(alias = "rte_eth_dev_stop")]
    pub fn stop(&mut self) -> Result<()> {
        if Arc::strong_count(&self.guard) > 1 {
            return Err(Error::Busy(format!(
                "port {}: queue handles still alive",
                self.name
            )));
        }
        if self.started {
            // SAFETY: started port, no queue handle alive, so no lcore polls it.
            cvt("rte_eth_dev_stop", unsafe {
                dpdk_sys::rte_eth_dev_stop(self.id.0)
            })?;
            self.started = false;
        }
        Ok(())
    }

    /// Return true when started.
    pub fn is_started(&self) -> bool {
        self.started
    }

    /// Return the link state without waiting.
    #[doc(alias = "rte_eth_link_get_nowait")]
    pub fn link(&self) -> Result<Link> {
        let mut l = dpdk_sys::rte_eth_link::default();
        // SAFETY: valid port; l is a valid out-parameter.
        cvt("rte_eth_link_get_nowait", unsafe {
            dpdk_sys::rte_eth_link_get_nowait(self.id.0, &mut l)
        })?;
        Ok(Link {
            up: l.link_status() != 0,
            speed_mbps: l.link_speed,
            full_duplex: l.link_duplex() != 0,
        })
    }

    /// Return the port's MAC address.
    #[doc(alias = "rte_eth_macaddr_get")]
    pub fn mac_addr(&self) -> Result<[u8; 6]> {
        let mut mac = [0u8; 6];
        // SAFETY: rte_ether_addr is 6 bytes (opaque here, layout [u8; 6]); we pass a 6-byte
        // buffer as its storage.
        let ret = unsafe { dpdk_sys::rte_eth_macaddr_get(self.id.0, mac.as_mut_ptr().cast()) };
        cvt("rte_eth_macaddr_get", ret)?;
        Ok(mac)
    }

    /// Receive every frame whatever its destination MAC.
    #[doc(alias = "rte_eth_promiscuous_enable")]
    pub fn promiscuous_enable(&mut self) -> Result<()> {
        // SAFETY: valid port.
        cvt("rte_eth_promiscuous_enable", unsafe {
            dpdk_sys::rte_eth_promiscuous_enable(self.id.0)
        })
        .map(|_| ())
    }

    /// Return the basic counters.
    #[doc(alias = "rte_eth_stats_get")]
    pub fn stats(&self) -> Result<Stats> {
        self.id.stats()
    }

    /// Return every extended statistic as (name, value).
    #[doc(alias = "rte_eth_xstats_get")]
    pub fn xstats(&self) -> Result<Vec<(String, u64)>> {
        self.id.xstats()
    }

    /// Return the RSS key and hash functions the port uses now (`key` empty if the driver
    /// does not report it).
    #[doc(alias = "rte_eth_dev_rss_hash_conf_get")]
    pub fn rss_hash_conf(&self, key_len: u8) -> Result<(Vec<u8>, u64)> {
        let mut key = vec![0u8; usize::from(key_len)];
        let mut conf = dpdk_sys::rte_eth_rss_conf {
            rss_key: if key.is_empty() {
                std::ptr::null_mut()
            } else {
                key.as_mut_ptr()
            },
            rss_key_len: key_len,
            rss_hf: 0,
        };
        // SAFETY: conf points to a key buffer of rss_key_len bytes (or NULL), which outlives
        // the call; DPDK writes at most that many bytes.
        let ret = unsafe { dpdk_sys::rte_eth_dev_rss_hash_conf_get(self.id.0, &mut conf) };
        cvt("rte_eth_dev_rss_hash_conf_get", ret)?;
        Ok((key, conf.rss_hf))
    }

    /// Read back the RSS redirection table (`size` entries, the device's `reta_size`).
    #[doc(alias = "rte_eth_dev_rss_reta_query")]
    pub fn reta(&self, size: u16) -> Result<Vec<u16>> {
        let group = dpdk_sys::RTE_ETH_RETA_GROUP_SIZE as usize;
        let n = usize::from(size);
        let mut conf: Vec<dpdk_sys::rte_eth_rss_reta_entry64> =
            vec![Default::default(); n.div_ceil(group)];
        for i in 0..n {
            conf[i / group].mask |= 1 << (i % group);
        }
        // SAFETY: conf holds size entries across ceil(size/64) groups, as DPDK expects.
        let ret =
            unsafe { dpdk_sys::rte_eth_dev_rss_reta_query(self.id.0, conf.as_mut_ptr(), size) };
        cvt("rte_eth_dev_rss_reta_query", ret)?;
        Ok((0..n).map(|i| conf[i / group].reta[i % group]).collect())
    }

    /// Program the RSS redirection table: entry i sends hash bucket i to queue `reta[i]`.
    #[doc(alias = "rte_eth_dev_rss_reta_update")]
    pub fn set_reta(&mut self, reta: &[u16]) -> Result<()> {
        let group = dpdk_sys::RTE_ETH_RETA_GROUP_SIZE as usize;
        let mut conf: Vec<dpdk_sys::rte_eth_rss_reta_entry64> =
            vec![Default::default(); reta.len().div_ceil(group)];
        for (i, &q) in reta.iter().enumerate() {
            conf[i / group].mask |= 1 << (i % group);
            conf[i / group].reta[i % group] = q;
        }
        let size = u16::try_from(reta.len())
            .map_err(|_| Error::InvalidArgument("RETA too large".into()))?;
        // SAFETY: conf holds size entries across ceil(size/64) groups, as DPDK expects.
        let ret =
            unsafe { dpdk_sys::rte_eth_dev_rss_reta_update(self.id.0, conf.as_mut_ptr(), size) };
        cvt("rte_eth_dev_rss_reta_update", ret).map(|_| ())
    }
}

impl Drop for Port {
    fn drop(&mut self) {
        if Arc::strong_count(&self.guard) > 1 {
            // A queue handle outlives the port value: an lcore may still poll it. Leave the port
            // open rather than close it under that lcore.
            eprintln!(
                "dpdk: port {} dropped with live queue handles; not closing it",
                self.name
            );
            std::mem::forget(self.rings.take());
            return;
        }
        if self.started {
            // SAFETY: no queue handle alive; started port.
            unsafe { dpdk_sys::rte_eth_dev_stop(self.id.0) };
        }
        // SAFETY: stopped port, no queue handle alive; the id is not used after this.
        unsafe { dpdk_sys::rte_eth_dev_close(self.id.0) };
        // Rings are freed after the close (field drop order: after this body).
    }
}

impl PortId {
    fn socket(self) -> u32 {
        // SAFETY: any port id is accepted; -1 (unknown) maps to SOCKET_ID_ANY.
        let s = unsafe { dpdk_sys::rte_eth_dev_socket_id(self.0) };
        u32::try_from(s).unwrap_or(dpdk_sys::SOCKET_ID_ANY as u32)
    }

    /// Return the port's capabilities.
    pub fn info(self) -> Result<DevInfo> {
        let mut i = dpdk_sys::rte_eth_dev_info::default();
        // SAFETY: i is a valid out-parameter; DPDK fills it for a valid port or fails.
        cvt("rte_eth_dev_info_get", unsafe {
            dpdk_sys::rte_eth_dev_info_get(self.0, &mut i)
        })?;
        let driver_name = if i.driver_name.is_null() {
            String::new()
        } else {
            // SAFETY: driver_name points to the driver's static NUL-terminated name.
            unsafe { CStr::from_ptr(i.driver_name) }
                .to_string_lossy()
                .into_owned()
        };
        Ok(DevInfo {
            driver_name,
            if_index: i.if_index,
            min_mtu: i.min_mtu,
            max_mtu: i.max_mtu,
            max_rx_queues: i.max_rx_queues,
            max_tx_queues: i.max_tx_queues,
            rx_offload_capa: i.rx_offload_capa,
            tx_offload_capa: i.tx_offload_capa,
            flow_type_rss_offloads: i.flow_type_rss_offloads,
            reta_size: i.reta_size,
            hash_key_size: i.hash_key_size,
        })
    }

    /// Return the basic counters.
    pub fn stats(self) -> Result<Stats> {
        let mut s = dpdk_sys::rte_eth_stats::default();
        // SAFETY: s is a valid out-parameter.
        cvt("rte_eth_stats_get", unsafe {
            dpdk_sys::rte_eth_stats_get(self.0, &mut s)
        })?;
        Ok(Stats {
            ipackets: s.ipackets,
            opackets: s.opackets,
            ibytes: s.ibytes,
            obytes: s.obytes,
            imissed: s.imissed,
            ierrors: s.ierrors,
            oerrors: s.oerrors,
            rx_nombuf: s.rx_nombuf,
        })
    }

    /// Return every extended statistic as (name, value).
    pub fn xstats(self) -> Result<Vec<(String, u64)>> {
        // SAFETY: NULL/0 asks for the count.
        let n = unsafe { dpdk_sys::rte_eth_xstats_get_names(self.0, std::ptr::null_mut(), 0) };
        let n = cvt("rte_eth_xstats_get_names", n)?.unsigned_abs();
        let mut names = vec![dpdk_sys::rte_eth_xstat_name::default(); n as usize];
        let mut vals = vec![dpdk_sys::rte_eth_xstat::default(); n as usize];
        // SAFETY: both buffers hold n entries.
        let got = unsafe { dpdk_sys::rte_eth_xstats_get_names(self.0, names.as_mut_ptr(), n) };
        let got_names = cvt("rte_eth_xstats_get_names", got)?.unsigned_abs().min(n);
        // SAFETY: as above.
        let got = unsafe { dpdk_sys::rte_eth_xstats_get(self.0, vals.as_mut_ptr(), n) };
        let got_vals = cvt("rte_eth_xstats_get", got)?.unsigned_abs().min(n);
        let mut out = Vec::with_capacity(got_vals as usize);
        for v in &vals[..got_vals as usize] {
            let Some(name) = names
                .get(v.id as usize)
                .filter(|_| v.id < u64::from(got_names))
            else {
                continue;
            };
            // SAFETY: DPDK NUL-terminates names within the 64-byte array.
            let s = unsafe { CStr::from_ptr(name.name.as_ptr().cast::<c_char>()) };
            out.push((s.to_string_lossy().into_owned(), v.value));
        }
        Ok(out)
    }
}

/// Return the port with the given device name.
#[doc(alias = "rte_eth_dev_get_port_by_name")]
pub fn port_by_name(name: &str) -> Result<PortId> {
    let c = cstring("port name", name)?;
    let mut id = 0u16;
    // SAFETY: valid C string and out-parameter.
    let ret = unsafe { dpdk_sys::rte_eth_dev_get_port_by_name(c.as_ptr(), &mut id) };
    cvt("rte_eth_dev_get_port_by_name", ret).map(|_| PortId(id))
}

/// An RX queue handle: the one way to poll queue `queue` of a port.
///
/// `Send` (move it into the worker's closure) but not `Sync` and not `Clone`: DPDK queues are
/// single-consumer.
#[derive(Debug)]
pub struct RxQueue {
    port: u16,
    queue: u16,
    _guard: Arc<QueueGuard>,
    _not_sync: PhantomData<Cell<()>>,
}

/// A TX queue handle; see [`RxQueue`].
#[derive(Debug)]
pub struct TxQueue {
    port: u16,
    queue: u16,
    _guard: Arc<QueueGuard>,
    _not_sync: PhantomData<Cell<()>>,
}

impl RxQueue {
    /// Return (port, queue).
    pub fn ids(&self) -> (PortId, u16) {
        (PortId(self.port), self.queue)
    }

    /// Receive up to the spare capacity of `out` (at most 65535) frames, appending them to
    /// `out`; return how many arrived. Never allocates.
    #[doc(alias = "rte_eth_rx_burst")]
    #[inline]
    pub fn rx_burst(&mut self, out: &mut Vec<Mbuf>) -> usize {
        let spare = out.capacity() - out.len();
        let want = u16::try_from(spare).unwrap_or(u16::MAX);
        let len = out.len();
        // Mbuf is repr(transparent) over NonNull<rte_mbuf>: the spare capacity is an array of
        // `want` mbuf pointer slots.
        let slots = out
            .spare_capacity_mut()
            .as_mut_ptr()
            .cast::<*mut dpdk_sys::rte_mbuf>();
        // SAFETY: slots has room for `want` pointers; this handle is the queue's only poller;
        // DPDK writes n <= want valid, owned, non-null mbuf pointers.
        let n = unsafe { dpdk_sys::rte_eth_rx_burst(self.port, self.queue, slots, want) };
        // SAFETY: the first n spare slots were initialised with owned mbufs.
        unsafe { out.set_len(len + usize::from(n)) };
        usize::from(n)
    }
}

impl TxQueue {
    /// Return (port, queue).
    pub fn ids(&self) -> (PortId, u16) {
        (PortId(self.port), self.queue)
    }

    /// Send frames from the front of `pkts` (at most 65535); the sent ones leave the vector,
    /// the rest stay (in order) for the caller to retry or drop. Return how many were sent.
    #[doc(alias = "rte_eth_tx_burst")]
    #[inline]
    pub fn tx_burst(&mut self, pkts: &mut Vec<Mbuf>) -> usize {
        let want = u16::try_from(pkts.len()).unwrap_or(u16::MAX);
        let ptr = pkts.as_mut_ptr().cast::<*mut dpdk_sys::rte_mbuf>();
        // SAFETY: ptr holds `want` owned mbuf pointers (repr(transparent)); this handle is the
        // queue's only user. DPDK takes ownership of the first n.
        let n =
            usize::from(unsafe { dpdk_sys::rte_eth_tx_burst(self.port, self.queue, ptr, want) });
        // The first n now belong to the driver: remove them without running Drop.
        pkts.drain(..n).for_each(std::mem::forget);
        n
    }
}

impl dataplane::io::RxQueue<Mbuf> for RxQueue {
    #[inline]
    fn rx_burst(&mut self, out: &mut Vec<Mbuf>) -> usize {
        RxQueue::rx_burst(self, out)
    }
}

impl dataplane::io::TxQueue<Mbuf> for TxQueue {
    #[inline]
    fn tx_burst(&mut self, pkts: &mut Vec<Mbuf>) -> usize {
        TxQueue::tx_burst(self, pkts)
    }
}

/// Return the number of ports DPDK knows.
#[doc(alias = "rte_eth_dev_count_avail")]
pub fn count_avail(_eal: &Eal) -> u16 {
    // SAFETY: EAL initialised.
    unsafe { dpdk_sys::rte_eth_dev_count_avail() }
}
