//! The web client is built into the binary: rebuild when its files change.

fn main() {
    println!("cargo:rerun-if-changed=../../web");
}
