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
    tonic_prost_build::configure()
        // Campaign content, audience and schedule are stored as JSON by the
        // broadcast service, exactly as they arrived over gRPC.
        .type_attribute(
            ".starshop.broadcast.v1",
            "#[derive(serde::Serialize, serde::Deserialize)]",
        )
        .compile_protos(&protos, &["proto"])?;
    Ok(())
}
