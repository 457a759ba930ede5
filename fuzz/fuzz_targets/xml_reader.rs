#![no_main]
//! `gwx::formats::fuzz::xml_reader` under libFuzzer.
libfuzzer_sys::fuzz_target!(|data: &[u8]| gwx::formats::fuzz::xml_reader(data));
