//! How soon freed memory goes back to the OS. mimalloc (the binary's allocator) keeps freed
//! pages a second, and its arenas ten, in case they are needed again: good for bulk writes,
//! but the explorer and `idgraph search` free their large blocks once (what sled reads
//! while it opens, the search index file as it is read) and then hold steady, so on a
//! store of 1M profiles the delay alone kept about 70 MB more resident at the peak.

use libmimalloc_sys::{mi_option_set, mi_option_t};

/// mimalloc's `mi_option_purge_delay`: its place in `mi_option_t` (mimalloc v3's
/// `mimalloc.h`), which libmimalloc-sys does not name.
const PURGE_DELAY: mi_option_t = 15;

/// Freed memory goes back to the OS at once from now on.
pub fn return_freed_memory_at_once() {
    // SAFETY: sets a plain integer option; mimalloc accepts any value for it at any time
    // (0 = purge at once).
    unsafe { mi_option_set(PURGE_DELAY, 0) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// How long freed memory is kept before it goes back to the OS, in milliseconds.
    fn purge_delay_ms() -> std::ffi::c_long {
        // SAFETY: reads a plain integer option.
        unsafe { libmimalloc_sys::mi_option_get(PURGE_DELAY) }
    }

    #[test]
    fn freed_memory_goes_back_at_once_when_asked() {
        // The option read is the purge delay: mimalloc v3's default is 1000 ms, unless the
        // environment sets it.
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
            assert_eq!(purge_delay_ms(), 1000);
        }
        return_freed_memory_at_once();
        assert_eq!(purge_delay_ms(), 0);
    }
}
