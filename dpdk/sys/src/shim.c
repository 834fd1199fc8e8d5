#include <rte_errno.h>
#include <rte_mbuf.h>
#include <rte_version.h>
#include "shim.h"

int ferrovs_rte_errno(void) { return rte_errno; }

void ferrovs_mbuf_set_tx_offload(struct rte_mbuf *m, uint16_t l2_len, uint16_t l3_len, uint16_t l4_len)
{
	m->l2_len = l2_len;
	m->l3_len = l3_len;
	m->l4_len = l4_len;
}

void *ferrovs_mbuf_mtod(struct rte_mbuf *m) { return rte_pktmbuf_mtod(m, void *); }

uint16_t ferrovs_pktmbuf_headroom(void) { return RTE_PKTMBUF_HEADROOM; }

const char *ferrovs_version(void) { return rte_version(); }
