fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The machines have no protoc; use the vendored one unless PROTOC is set.
    if std::env::var_os("PROTOC").is_none() {
        // SAFETY: build scripts are single-threaded.
        unsafe { std::env::set_var("PROTOC", protoc_bin_vendored::protoc_bin_path()?) };
    }
    let protos = [
        "proto/bot.proto",
        "proto/payments.proto",
        "proto/broadcast.proto",
    ];
    for p in protos {
        println!("cargo:rerun-if-changed={p}");
    }
    tonic_prost_build::configure().compile_protos(&protos, &["proto"])?;
    Ok(())
}
