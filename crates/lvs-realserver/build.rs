//! Builds the tc decapsulation program (bpf/decap.c) with `clang -target bpf` into OUT_DIR.
//! clang, libbpf-dev (headers only) and linux-libc-dev come from scripts/deps.sh.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default());
    let src = "bpf/decap.c";
    println!("cargo:rerun-if-changed={src}");
    println!("cargo:rerun-if-env-changed=BPF_CLANG");
    let clang = std::env::var("BPF_CLANG").unwrap_or_else(|_| "clang".to_owned());
    let mut cmd = Command::new(&clang);
    cmd.args(["-O2", "-g", "-Wall", "-Werror", "-target", "bpf"]);
    // asm/types.h lives in the multiarch include dir on Debian.
    for dir in [
        "/usr/include/x86_64-linux-gnu",
        "/usr/include/aarch64-linux-gnu",
    ] {
        if std::path::Path::new(dir).join("asm/types.h").exists() {
            cmd.arg(format!("-I{dir}"));
        }
    }
    cmd.args(["-c", src, "-o"]).arg(out.join("decap.o"));
    let status = match cmd.status() {
        Ok(s) => s,
        Err(e) => panic!("lvs-realserver: cannot run {clang} ({e}); run scripts/deps.sh"),
    };
    assert!(
        status.success(),
        "lvs-realserver: {clang} -target bpf failed on {src}"
    );
}
