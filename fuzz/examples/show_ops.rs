//! Print a `session_pair_ops` input as its setup and operations:
//! `cargo run --example show_ops -- <file>...`
use arbitrary::{Arbitrary, Unstructured};
use braid_fuzz::pair_ops::{Op, Setup};

fn main() {
    for path in std::env::args().skip(1) {
        let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let mut u = Unstructured::new(&data);
        println!("{path}:");
        match Setup::arbitrary(&mut u) {
            Ok(s) => println!("  {s:?}"),
            Err(e) => println!("  no setup: {e}"),
        }
        while !u.is_empty() {
            match Op::arbitrary(&mut u) {
                Ok(op) => println!("  {op:?}"),
                Err(e) => {
                    println!("  stop: {e}");
                    break;
                }
            }
        }
    }
}
