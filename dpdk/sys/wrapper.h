/* The DPDK headers ferrovs binds. rte_config.h comes first through pkg-config's `-include`. */
#include <rte_common.h>
#include <rte_errno.h>
#include <rte_eal.h>
#include <rte_lcore.h>
#include <rte_launch.h>
#include <rte_cycles.h>
#include <rte_dev.h>
#include <rte_bus.h>
#include <rte_mempool.h>
#include <rte_mbuf.h>
#include <rte_ethdev.h>
#include <rte_eth_ring.h>
#include <rte_ring.h>
#include <rte_flow.h>
#include <rte_thash.h>
#include <rte_version.h>
#include "src/shim.h"
