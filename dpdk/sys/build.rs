//! Generate bindings to the system DPDK at build time.
//!
//! DPDK is found with pkg-config (`libdpdk` >= 22.11). bindgen reads `wrapper.h` with the
//! compiler flags pkg-config gives (`-include rte_config.h`, `-march=...`), binds an allowlist of
//! the APIs ferrovs uses, and writes C wrappers for DPDK's `static inline` functions (the whole
//! fast path: `rte_eth_rx_burst`, `rte_pktmbuf_alloc`, ...), which `cc` compiles together with
//! `src/shim.c`. Nothing generated is committed.

use std::env;
use std::path::PathBuf;

const MIN_DPDK: &str = "22.11";

fn main() {
    println!("cargo:rerun-if-changed=wrapper.h");
    println!("cargo:rerun-if-changed=src/shim.h");
    println!("cargo:rerun-if-changed=src/shim.c");
    println!("cargo:rerun-if-env-changed=PKG_CONFIG_PATH");
    println!("cargo:rustc-check-cfg=cfg(dpdk_22_11)");
    println!("cargo:rustc-check-cfg=cfg(dpdk_23_11)");

    let lib = match pkg_config::Config::new()
        .atleast_version(MIN_DPDK)
        .cargo_metadata(true)
        .probe("libdpdk")
    {
        Ok(lib) => lib,
        Err(e) => {
            eprintln!(
                "error: DPDK >= {MIN_DPDK} was not found with pkg-config ({e}).\n\
                 On Debian 12 install it with:\n    \
                 apt-get install -y libdpdk-dev pkg-config clang libclang-dev\n\
                 (or run `make deps`)."
            );
            std::process::exit(1);
        }
    };

    // rte_eth_from_rings lives in the net_ring PMD, which pkg-config's list leaves to the EAL's
    // plugin loader; link it so its API is callable (the loader then finds it already loaded).
    println!("cargo:rustc-link-lib=dylib=rte_net_ring");

    let version = lib.version.clone();
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    if (major, minor) >= (22, 11) {
        println!("cargo:rustc-cfg=dpdk_22_11");
    }
    if (major, minor) >= (23, 11) {
        println!("cargo:rustc-cfg=dpdk_23_11");
    }
    println!("cargo:version={version}");
    println!("cargo:rustc-env=FERROVS_DPDK_VERSION={version}");

    // The compiler flags pkg-config gives, in order (`-include rte_config.h` matters).
    let cflags: Vec<String> = pkg_config::get_variable("libdpdk", "cflags")
        .ok()
        .filter(|s| !s.is_empty())
        .map(|s| s.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_else(|| {
            let out = std::process::Command::new("pkg-config")
                .args(["--cflags", "libdpdk"])
                .output()
                .expect("pkg-config runs");
            String::from_utf8_lossy(&out.stdout)
                .split_whitespace()
                .map(str::to_owned)
                .collect()
        });

    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR is set by cargo"));
    let wrap_path = out_dir.join("static_wrappers");
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("manifest dir"));

    let mut builder = bindgen::Builder::default()
        .header(manifest_dir.join("wrapper.h").display().to_string())
        .clang_args(&cflags)
        .clang_arg(format!("-I{}", manifest_dir.display()))
        .parse_callbacks(Box::new(bindgen::CargoCallbacks::new()))
        .wrap_static_fns(true)
        .wrap_static_fns_path(&wrap_path)
        .layout_tests(false)
        .generate_comments(false)
        .derive_default(true)
        .prepend_enum_name(false)
        .default_enum_style(bindgen::EnumVariation::Consts)
        // These nest packed inside aligned (or the reverse), which Rust cannot express; we
        // never touch their fields.
        .opaque_type("rte_arp_hdr")
        .opaque_type("rte_arp_ipv4")
        .opaque_type("rte_l2tpv2_combined_msg_hdr")
        .opaque_type("rte_gtp_psc_generic_hdr")
        .opaque_type("rte_flow_item_l2tpv2")
        .opaque_type("rte_flow_item_gtp_psc")
        .opaque_type("rte_flow_item_arp_eth_ipv4")
        .opaque_type("rte_ether_addr")
        .opaque_type("rte_ether_hdr")
        .opaque_type("rte_vlan_hdr")
        .opaque_type("rte_flow_item_eth")
        .opaque_type("rte_flow_item_vlan");
    for f in [
        "rte_eal_init",
        "rte_eal_cleanup",
        "rte_eal_process_type",
        "rte_strerror",
        "rte_version",
        "rte_lcore_id",
        "rte_lcore_count",
        "rte_lcore_is_enabled",
        "rte_get_main_lcore",
        "rte_get_next_lcore",
        "rte_lcore_to_socket_id",
        "rte_socket_id",
        "rte_eal_remote_launch",
        "rte_eal_wait_lcore",
        "rte_eal_get_lcore_state",
        "rte_eal_mp_wait_lcore",
        "rte_get_tsc_cycles",
        "rte_get_tsc_hz",
        "rte_rdtsc",
        "rte_dev_probe",
        "rte_dev_remove",
        "rte_eal_hotplug_add",
        "rte_eal_hotplug_remove",
        "rte_pktmbuf_pool_create",
        "rte_mempool_free",
        "rte_mempool_avail_count",
        "rte_mempool_in_use_count",
        "rte_mempool_full",
        "rte_mempool_lookup",
        "rte_pktmbuf_alloc",
        "rte_pktmbuf_alloc_bulk",
        "rte_pktmbuf_free",
        "rte_pktmbuf_free_bulk",
        "rte_pktmbuf_prepend",
        "rte_pktmbuf_append",
        "rte_pktmbuf_adj",
        "rte_pktmbuf_trim",
        "rte_pktmbuf_headroom",
        "rte_pktmbuf_tailroom",
        "rte_pktmbuf_reset",
        "rte_pktmbuf_is_contiguous",
        "rte_pktmbuf_refcnt_update",
        "rte_mbuf_refcnt_read",
        "rte_prefetch0",
        "rte_ring_create",
        "rte_ring_free",
        "rte_ring_count",
        "rte_ring_free_count",
        "rte_ring_enqueue_burst",
        "rte_ring_dequeue_burst",
        "rte_ring_sp_enqueue_burst",
        "rte_ring_sc_dequeue_burst",
        "rte_ring_mp_enqueue_burst",
        "rte_ring_mc_dequeue_burst",
        "rte_eth_from_rings",
        "rte_eth_dev_count_avail",
        "rte_eth_dev_is_valid_port",
        "rte_eth_dev_get_port_by_name",
        "rte_eth_dev_get_name_by_port",
        "rte_eth_dev_info_get",
        "rte_eth_dev_configure",
        "rte_eth_rx_queue_setup",
        "rte_eth_tx_queue_setup",
        "rte_eth_dev_start",
        "rte_eth_dev_stop",
        "rte_eth_dev_close",
        "rte_eth_dev_socket_id",
        "rte_eth_rx_burst",
        "rte_eth_tx_burst",
        "rte_eth_link_get_nowait",
        "rte_eth_link_get",
        "rte_eth_macaddr_get",
        "rte_eth_promiscuous_enable",
        "rte_eth_allmulticast_enable",
        "rte_eth_dev_set_mtu",
        "rte_eth_dev_get_mtu",
        "rte_eth_stats_get",
        "rte_eth_stats_reset",
        "rte_eth_xstats_get",
        "rte_eth_xstats_get_names",
        "rte_eth_xstats_reset",
        "rte_eth_dev_rss_hash_update",
        "rte_eth_dev_rss_hash_conf_get",
        "rte_eth_dev_rss_reta_update",
        "rte_eth_dev_rss_reta_query",
        "rte_flow_validate",
        "rte_flow_create",
        "rte_flow_destroy",
        "rte_flow_flush",
        "rte_softrss",
        "rte_softrss_be",
        "rte_convert_rss_key",
    ] {
        builder = builder.allowlist_function(f);
    }
    for t in [
        "rte_mbuf",
        "rte_mempool",
        "rte_ring",
        "rte_eth_conf",
        "rte_eth_dev_info",
        "rte_eth_rxconf",
        "rte_eth_txconf",
        "rte_eth_link",
        "rte_eth_stats",
        "rte_eth_xstat",
        "rte_eth_xstat_name",
        "rte_eth_rss_conf",
        "rte_eth_rss_reta_entry64",
        "rte_flow_attr",
        "rte_flow_item",
        "rte_flow_action",
        "rte_flow_action_queue",
        "rte_flow_item_ipv4",
        "rte_flow_item_ipv6",
        "rte_flow_item_tcp",
        "rte_flow_item_udp",
        "rte_flow_error",
        "rte_ipv4_tuple",
    ] {
        builder = builder.allowlist_type(t);
    }
    for v in [
        "RTE_ETH_.*",
        "RTE_MBUF_.*",
        "RTE_ETH_RSS_.*",
        "RTE_PKTMBUF_HEADROOM",
        "RTE_MAX_LCORE",
        "RTE_MAX_ETHPORTS",
        "RING_F_.*",
        "RTE_ETHER_.*",
        "SOCKET_ID_ANY",
        "RTE_FLOW_.*",
        "RTE_THASH_.*",
        "RTE_LCORE_.*",
        "RTE_VER_.*",
    ] {
        builder = builder.allowlist_var(v);
    }
    builder = builder.allowlist_function("ferrovs_.*");

    let bindings = builder.generate().unwrap_or_else(|e| {
        eprintln!("error: bindgen failed on the DPDK headers: {e}");
        std::process::exit(1);
    });
    bindings
        .write_to_file(out_dir.join("bindings.rs"))
        .expect("write bindings.rs");

    // bindgen wrote static_wrappers.c; compile it and our shim with DPDK's own flags.
    let mut cc = cc::Build::new();
    cc.file(wrap_path.with_extension("c"))
        .file(manifest_dir.join("src/shim.c"))
        .include(&manifest_dir)
        .flag_if_supported("-Wno-deprecated-declarations")
        .warnings(false);
    let mut it = cflags.iter();
    while let Some(flag) = it.next() {
        if flag == "-include" {
            if let Some(file) = it.next() {
                cc.flag("-include").flag(file);
            }
        } else {
            cc.flag(flag);
        }
    }
    cc.compile("ferrovs_dpdk_wrappers");

    write_bit_constants(&cflags, &manifest_dir, &out_dir);
}

/// Constants DPDK defines as `RTE_BIT64(n)` (function-like macros bindgen cannot evaluate).
const BIT_CONSTANTS: &[&str] = &[
    "RTE_ETH_RX_OFFLOAD_VLAN_STRIP",
    "RTE_ETH_RX_OFFLOAD_IPV4_CKSUM",
    "RTE_ETH_RX_OFFLOAD_UDP_CKSUM",
    "RTE_ETH_RX_OFFLOAD_TCP_CKSUM",
    "RTE_ETH_RX_OFFLOAD_RSS_HASH",
    "RTE_ETH_RX_OFFLOAD_SCATTER",
    "RTE_ETH_TX_OFFLOAD_IPV4_CKSUM",
    "RTE_ETH_TX_OFFLOAD_UDP_CKSUM",
    "RTE_ETH_TX_OFFLOAD_TCP_CKSUM",
    "RTE_ETH_TX_OFFLOAD_MULTI_SEGS",
    "RTE_ETH_TX_OFFLOAD_MBUF_FAST_FREE",
    "RTE_ETH_RSS_IPV4",
    "RTE_ETH_RSS_FRAG_IPV4",
    "RTE_ETH_RSS_NONFRAG_IPV4_TCP",
    "RTE_ETH_RSS_NONFRAG_IPV4_UDP",
    "RTE_ETH_RSS_NONFRAG_IPV4_OTHER",
    "RTE_ETH_RSS_IPV6",
    "RTE_ETH_RSS_FRAG_IPV6",
    "RTE_ETH_RSS_NONFRAG_IPV6_TCP",
    "RTE_ETH_RSS_NONFRAG_IPV6_UDP",
    "RTE_ETH_RSS_NONFRAG_IPV6_OTHER",
    "RTE_ETH_RSS_IP",
    "RTE_ETH_RSS_TCP",
    "RTE_ETH_RSS_UDP",
    "RTE_ETH_RSS_L3_SRC_ONLY",
    "RTE_ETH_RSS_L3_DST_ONLY",
    "RTE_ETH_RSS_L4_SRC_ONLY",
    "RTE_ETH_RSS_L4_DST_ONLY",
];

/// Compile and run a tiny C program that prints `BIT_CONSTANTS` as Rust (the host is the target:
/// DPDK is only built natively here).
fn write_bit_constants(
    cflags: &[String],
    manifest_dir: &std::path::Path,
    out_dir: &std::path::Path,
) {
    let mut c = String::from("#include <stdio.h>\n#include <rte_ethdev.h>\nint main(void) {\n");
    for name in BIT_CONSTANTS {
        c.push_str(&format!(
            "  printf(\"pub const {name}: u64 = %llu;\\n\", (unsigned long long)({name}));\n"
        ));
    }
    c.push_str("  return 0;\n}\n");
    let src = out_dir.join("bit_constants.c");
    let exe = out_dir.join("bit_constants");
    std::fs::write(&src, c).expect("write bit_constants.c");
    let compiler = cc::Build::new().get_compiler();
    let status = compiler
        .to_command()
        .args(cflags)
        .arg(format!("-I{}", manifest_dir.display()))
        .arg(&src)
        .arg("-o")
        .arg(&exe)
        .status()
        .expect("run the C compiler");
    assert!(status.success(), "compiling bit_constants.c failed");
    let out = std::process::Command::new(&exe)
        .output()
        .expect("run bit_constants");
    assert!(out.status.success(), "bit_constants failed");
    std::fs::write(out_dir.join("bit_constants.rs"), out.stdout).expect("write bit_constants.rs");
}
