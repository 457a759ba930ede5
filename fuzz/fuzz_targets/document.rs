#![no_main]
//! `gwx::formats::fuzz::document` under libFuzzer.
libfuzzer_sys::fuzz_target!(|data: &[u8]| gwx::formats::fuzz::document(data));
