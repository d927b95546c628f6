//! Puts `memory.x` where the linker finds it and passes cortex-m-rt's
//! linker script (here rather than in `.cargo/config.toml`, so that it also
//! applies when cargo runs from another directory with `--manifest-path`).

use std::{env, fs, path::PathBuf};

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").unwrap());
    fs::copy("memory.x", out.join("memory.x")).unwrap();
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=memory.x");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rustc-link-arg-bins=-Tlink.x");
}
