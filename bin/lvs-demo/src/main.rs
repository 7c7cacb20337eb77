//! Demonstration of the lvs-core director model (the README's main job until lvsd lands).
fn main() {
    println!("lvs-demo: placeholder");
}
