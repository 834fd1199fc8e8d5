/* Helpers for what bindgen cannot bind: thread-local variables and function-like macros. */
#ifndef FERROVS_SHIM_H
#define FERROVS_SHIM_H
#include <stdint.h>
struct rte_mbuf;

/* The calling thread's rte_errno (a per-lcore TLS variable in C). */
int ferrovs_rte_errno(void);
/* Set the mbuf's l2/l3/l4 lengths used by TX checksum offloads (bitfields in C). */
void ferrovs_mbuf_set_tx_offload(struct rte_mbuf *m, uint16_t l2_len, uint16_t l3_len, uint16_t l4_len);
/* rte_pktmbuf_mtod(m, void *). */
void *ferrovs_mbuf_mtod(struct rte_mbuf *m);
/* RTE_PKTMBUF_HEADROOM as built. */
uint16_t ferrovs_pktmbuf_headroom(void);
/* The DPDK version string (rte_version() is inline in some releases). */
const char *ferrovs_version(void);
#endif
