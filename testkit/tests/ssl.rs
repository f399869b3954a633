//! `ssl/generate-ssl.sh`: the self-signed certificate names WEBHOOK_HOST, since
//! Telegram only calls a webhook whose certificate names its host.

use std::process::Command;

fn cert_for(webhook_host: Option<&str>) -> String {
    let dir = std::env::temp_dir().join(format!(
        "ssl-test-{}-{}",
        std::process::id(),
        webhook_host.unwrap_or("none").replace(['/', ':'], "_")
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let mut cmd = Command::new("bash");
    cmd.arg(testkit::repo_root().join("ssl/generate-ssl.sh"))
        .arg(&dir);
    match webhook_host {
        Some(h) => cmd.env("WEBHOOK_HOST", h),
        None => cmd.env_remove("WEBHOOK_HOST"),
    };
    let out = cmd.output().expect("script runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shown = Command::new("openssl")
        .args([
            "x509",
            "-noout",
            "-subject",
            "-ext",
            "subjectAltName",
            "-in",
        ])
        .arg(dir.join("cert.pem"))
        .output()
        .expect("openssl reads the certificate");
    let _ = std::fs::remove_dir_all(&dir);
    String::from_utf8_lossy(&shown.stdout).into_owned()
}

#[test]
fn the_certificate_names_the_webhook_host() {
    let named = cert_for(Some("bot.example.com"));
    assert!(named.contains("CN = bot.example.com"), "{named}");
    assert!(named.contains("DNS:bot.example.com"), "{named}");
    assert!(
        named.contains("DNS:localhost"),
        "local runs still work: {named}"
    );
}

#[test]
fn a_webhook_url_with_an_ip_names_that_ip() {
    let named = cert_for(Some("https://203.0.113.7:8443/webhook"));
    assert!(named.contains("IP Address:203.0.113.7"), "{named}");
}

#[test]
fn without_a_webhook_host_it_is_for_localhost() {
    let named = cert_for(None);
    assert!(named.contains("CN = localhost"), "{named}");
    assert!(named.contains("IP Address:127.0.0.1"), "{named}");
}
