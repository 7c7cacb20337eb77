//! `cargo run --example check -- FILE [CONFIG_ID]`: print what lvs-config
//! makes of a keepalived.conf (diagnostics, then the typed configuration).

use std::path::Path;

use lvs_config::{Options, OsFs, check};

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next() else {
        eprintln!("usage: check FILE [CONFIG_ID]");
        std::process::exit(2);
    };
    let opts = Options {
        config_id: args.next(),
        ..Options::default()
    };
    let report = check(&OsFs, Path::new(&path), &opts);
    for d in &report.diagnostics {
        println!("{d}");
    }
    match &report.config {
        Some(c) => println!("{c:#?}"),
        None => {
            println!("configuration rejected");
            std::process::exit(1);
        }
    }
}
