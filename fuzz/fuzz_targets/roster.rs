#![no_main]
//! `gwx::formats::fuzz::roster` under libFuzzer.
libfuzzer_sys::fuzz_target!(|data: &[u8]| gwx::formats::fuzz::roster(data));
