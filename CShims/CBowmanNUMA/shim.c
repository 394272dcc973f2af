#include "CBowmanNUMA.h"
#include <numa.h>
#include <numaif.h>

int cbowman_numa_available(void) { return numa_available() >= 0 ? 1 : 0; }
int cbowman_numa_max_node(void) { return numa_available() >= 0 ? numa_max_node() : -1; }
int cbowman_numa_node_of_cpu(int cpu) { return numa_available() >= 0 ? numa_node_of_cpu(cpu) : -1; }
void *cbowman_numa_alloc_onnode(size_t size, int node) { return numa_alloc_onnode(size, node); }
void cbowman_numa_free(void *p, size_t size) { numa_free(p, size); }
int cbowman_numa_node_of_address(void *p) {
    int node = -1;
    if (get_mempolicy(&node, NULL, 0, p, MPOL_F_NODE | MPOL_F_ADDR) != 0) return -1;
    return node;
}
