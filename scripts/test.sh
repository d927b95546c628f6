#!/usr/bin/env bash
# braid's whole test run: what CI runs (.ci/run calls this), and what a
# developer runs before a submission. Installs what it needs itself.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "toolchain pieces"
rustup target add thumbv7em-none-eabihf thumbv7m-none-eabi >/dev/null
# The example firmware's test runs it on QEMU's lm3s6965evb (Debian's package).
if ! command -v qemu-system-arm >/dev/null; then
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
    $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y qemu-system-arm
fi
rustup component add rustfmt clippy >/dev/null 2>&1 || true

step "format"
cargo fmt --all -- --check
(cd examples/firmware && cargo fmt --check)

step "clippy (warnings denied)"
cargo clippy --workspace --all-targets -- -D warnings
cargo clippy -p braid --all-targets --features std,wakers,log,link -- -D warnings

step "no_std for thumbv7em-none-eabihf: the engine (no features, defmt, alloc+wakers+log, link, link+defmt) and braid-embedded"
cargo build -p braid --target thumbv7em-none-eabihf
cargo build -p braid --target thumbv7em-none-eabihf --features defmt
cargo build -p braid --target thumbv7em-none-eabihf --features alloc,wakers,log
cargo build -p braid --target thumbv7em-none-eabihf --features link
cargo build -p braid --target thumbv7em-none-eabihf --features link,defmt
cargo build -p braid-embedded --target thumbv7em-none-eabihf
cargo build -p braid-embedded --target thumbv7em-none-eabihf --features defmt
cargo clippy -p braid-embedded --target thumbv7em-none-eabihf --features defmt -- -D warnings

step "rustdoc (warnings denied)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps
RUSTDOCFLAGS="-D warnings" cargo doc -p braid --no-deps --features std,wakers,log,link

step "demos (double as smoke tests): TCP through braid-tokio, and the bare engine"
cargo run --release -q -p braid-examples --bin demo > /dev/null
cargo run --release -q -p braid-examples --bin sans_io > /dev/null

step "fuzzing: every target for FUZZ_SECONDS (default 60) each"
./scripts/fuzz.sh

step "example firmware (thumbv7m, for QEMU's lm3s6965evb)"
cargo build --release --manifest-path examples/firmware/Cargo.toml --target thumbv7m-none-eabi
cargo clippy --release --manifest-path examples/firmware/Cargo.toml --target thumbv7m-none-eabi -- -D warnings

step "tests"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
cargo test -p braid --features std,wakers,log,link 2>&1 | tee -a "$log"
cargo test --workspace 2>&1 | tee -a "$log"
# The firmware on QEMU, required here (the workspace run skips it without QEMU).
BRAID_REQUIRE_QEMU=1 cargo test -p braid-examples --test firmware_qemu 2>&1 | tee -a "$log"
# [S-5.5], stream id exhaustion: 2^30 opens, so only in release (about a minute).
cargo test --release -p braid-conformance --test s5_streams -- --ignored ids_are_exhausted 2>&1 | tee -a "$log"
# One closing line with the totals of every `test result:` line above.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed;?$/) p += $i; if ($(i+1) ~ /^failed;?$/) f += $i } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
