//! SQLite's and OpenSSL's own allocations through mimalloc, as Rust's are.
//!
//! Both libraries call the C library's `malloc` unless told otherwise: at a
//! year's size, a CSV export spent a quarter of its time in glibc's malloc
//! (`malloc_consolidate`, `_int_malloc`) on SQLite's worker thread, copying
//! each row's values. Each library takes an allocator only before its first
//! allocation, so [`use_mimalloc`] runs first thing in `main`; when it is too
//! late (a library already allocated), the library keeps its own, which is
//! only slower. SQLite also stops counting its memory, which took a global
//! mutex at every allocation.

use std::os::raw::{c_char, c_int, c_void};
use std::sync::OnceLock;

use libmimalloc_sys::{mi_free, mi_good_size, mi_malloc, mi_realloc, mi_usable_size};

unsafe extern "C" fn sqlite_malloc(n: c_int) -> *mut c_void {
    unsafe { mi_malloc(n.max(0) as usize) }
}
unsafe extern "C" fn sqlite_free(p: *mut c_void) {
    unsafe { mi_free(p) }
}
unsafe extern "C" fn sqlite_realloc(p: *mut c_void, n: c_int) -> *mut c_void {
    unsafe { mi_realloc(p, n.max(0) as usize) }
}
unsafe extern "C" fn sqlite_size(p: *mut c_void) -> c_int {
    unsafe { mi_usable_size(p) as c_int }
}
unsafe extern "C" fn sqlite_roundup(n: c_int) -> c_int {
    unsafe { mi_good_size(n.max(0) as usize) as c_int }
}
unsafe extern "C" fn sqlite_init(_: *mut c_void) -> c_int {
    0
}
unsafe extern "C" fn sqlite_shutdown(_: *mut c_void) {}

/// SQLite copies these when configured.
const SQLITE_MEMORY: libsqlite3_sys::sqlite3_mem_methods = libsqlite3_sys::sqlite3_mem_methods {
    xMalloc: Some(sqlite_malloc),
    xFree: Some(sqlite_free),
    xRealloc: Some(sqlite_realloc),
    xSize: Some(sqlite_size),
    xRoundup: Some(sqlite_roundup),
    xInit: Some(sqlite_init),
    xShutdown: Some(sqlite_shutdown),
    pAppData: std::ptr::null_mut(),
};

type OpensslMalloc = unsafe extern "C" fn(usize, *const c_char, c_int) -> *mut c_void;
type OpensslRealloc = unsafe extern "C" fn(*mut c_void, usize, *const c_char, c_int) -> *mut c_void;
type OpensslFree = unsafe extern "C" fn(*mut c_void, *const c_char, c_int);

unsafe extern "C" {
    /// OpenSSL 1.1 and 3 (libcrypto, linked through openssl-sys).
    fn CRYPTO_set_mem_functions(m: Option<OpensslMalloc>, r: Option<OpensslRealloc>, f: Option<OpensslFree>) -> c_int;
}

unsafe extern "C" fn openssl_malloc(n: usize, _: *const c_char, _: c_int) -> *mut c_void {
    unsafe { mi_malloc(n) }
}
unsafe extern "C" fn openssl_realloc(p: *mut c_void, n: usize, _: *const c_char, _: c_int) -> *mut c_void {
    unsafe { mi_realloc(p, n) }
}
unsafe extern "C" fn openssl_free(p: *mut c_void, _: *const c_char, _: c_int) {
    unsafe { mi_free(p) }
}

/// Gives SQLite and OpenSSL mimalloc; returns whether each took it.
pub fn use_mimalloc() -> (bool, bool) {
    static TOOK: OnceLock<(bool, bool)> = OnceLock::new();
    *TOOK.get_or_init(|| {
        let methods = SQLITE_MEMORY;
        // SAFETY: SQLite copies the methods, and refuses (SQLITE_MISUSE) once
        // initialised; OpenSSL refuses (returns 0) once it has allocated: no
        // block is ever freed by the other allocator.
        unsafe {
            let sqlite = libsqlite3_sys::sqlite3_config(libsqlite3_sys::SQLITE_CONFIG_MALLOC, &methods)
                == libsqlite3_sys::SQLITE_OK;
            // Without the memory statistics (nothing reads them), an
            // allocation takes no global mutex.
            libsqlite3_sys::sqlite3_config(libsqlite3_sys::SQLITE_CONFIG_MEMSTATUS, 0 as c_int);
            let openssl =
                CRYPTO_set_mem_functions(Some(openssl_malloc), Some(openssl_realloc), Some(openssl_free)) == 1;
            (sqlite, openssl)
        }
    })
}
