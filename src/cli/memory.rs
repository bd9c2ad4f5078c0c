//! How the process's allocator is set up before the runtime starts.
//!
//! glibc's malloc gives each thread that allocates its own arena (up to eight per core), and
//! memory freed in one arena is only reused by allocations in that arena. The schema stage
//! builds a large schema on the runtime's worker threads in turns (catalog rows on one, objects
//! on another, the ordering on a third), so each arena grows to a share of the peak and keeps
//! it: measured on 100,000 tables, peak RSS 839 MB with the default arenas against 714 MB with
//! one. Two arenas keep that saving (the work is mostly one task at a time) while the copy
//! workers' small buffers still rarely contend on a lock.

/// Limits glibc's malloc to [`ARENAS`] arenas; nothing elsewhere (musl's allocator has none).
/// Call before any thread starts.
pub fn limit_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; called before other threads exist.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, ARENAS);
    }
}

/// Arenas glibc's malloc may use (see the module documentation).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const ARENAS: libc::c_int = 2;
