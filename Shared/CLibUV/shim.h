#include <uv.h>
#include <stddef.h>

/* mremap is variadic (Swift cannot call it) and declared only with _GNU_SOURCE. */
extern void *mremap(void *old_address, size_t old_size, size_t new_size, int flags, ...);

/* Grows an anonymous mapping, moving its pages (never copying its bytes) if it must; NULL on failure. */
static inline void *lattice_mremap(void *address, size_t old_size, size_t new_size) {
    void *moved = mremap(address, old_size, new_size, 1 /* MREMAP_MAYMOVE */);
    return moved == (void *)-1 ? NULL : moved;
}
