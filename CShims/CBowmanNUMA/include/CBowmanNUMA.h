// CBowmanNUMA: libnuma, wrapped so that a machine without NUMA support
// (numa_available() < 0) is handled in one place.
#ifndef CBOWMAN_NUMA_H
#define CBOWMAN_NUMA_H
#include <stddef.h>

/// 1 when libnuma reports NUMA support, 0 otherwise.
int cbowman_numa_available(void);
/// Highest NUMA node number, or -1 without NUMA.
int cbowman_numa_max_node(void);
/// NUMA node of a CPU, or -1.
int cbowman_numa_node_of_cpu(int cpu);
/// Allocates `size` bytes on `node` (page aligned, zeroed by the kernel on
/// first touch), or NULL. Free with cbowman_numa_free.
void *cbowman_numa_alloc_onnode(size_t size, int node);
void cbowman_numa_free(void *p, size_t size);
/// The NUMA node backing the page at `p` (after it was touched), or -1.
int cbowman_numa_node_of_address(void *p);
#endif
