//! Raw Redis commands for the harness: it needs a few numbers from INFO
//! (pids, versions, command counts), not a client.

use anyhow::bail;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One command (after AUTH when a password is set) whose reply is a bulk
/// string, e.g. INFO. No QUIT: Sentinels refuse it and keep the connection.
pub async fn raw(addr: &str, password: Option<&str>, args: &[&str]) -> anyhow::Result<String> {
    let mut s = tokio::net::TcpStream::connect(addr).await?;
    let cmd = |args: &[&str]| {
        let mut out = format!("*{}\r\n", args.len());
        for a in args {
            out.push_str(&format!("${}\r\n{a}\r\n", a.len()));
        }
        out
    };
    let mut req = String::new();
    if let Some(pw) = password {
        req.push_str(&cmd(&["AUTH", pw]));
    }
    req.push_str(&cmd(args));
    s.write_all(req.as_bytes()).await?;
    let read = async {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 16 * 1024];
        loop {
            let n = s.read(&mut chunk).await?;
            if n == 0 {
                bail!("connection closed");
            }
            buf.extend_from_slice(&chunk[..n]);
            if let Some(body) = bulk_reply(&buf)? {
                return Ok(body);
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(5), read).await?
}

/// One `INFO <section>` of the node at host:port.
pub async fn info(
    host: &str,
    port: &str,
    password: Option<&str>,
    section: &str,
) -> anyhow::Result<String> {
    raw(&format!("{host}:{port}"), password, &["INFO", section]).await
}

/// The bulk string that ends `buf` (after AUTH's +OK), once it is complete.
fn bulk_reply(buf: &[u8]) -> anyhow::Result<Option<String>> {
    let mut at = 0;
    while at < buf.len() {
        let Some(eol) = buf[at..].windows(2).position(|w| w == b"\r\n") else {
            return Ok(None);
        };
        let line = std::str::from_utf8(&buf[at..at + eol])?;
        match line.as_bytes().first() {
            Some(b'+') => at += eol + 2,
            Some(b'-') => bail!("redis: {line}"),
            Some(b'$') => {
                let len: usize = line[1..].parse()?;
                let start = at + eol + 2;
                if buf.len() < start + len {
                    return Ok(None);
                }
                return Ok(Some(
                    String::from_utf8_lossy(&buf[start..start + len]).into(),
                ));
            }
            _ => bail!("redis: unexpected reply {line:?}"),
        }
    }
    Ok(None)
}

pub fn info_field<'a>(info: &'a str, name: &str) -> Option<&'a str> {
    info.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
        .map(str::trim)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bulk_replies_wait_for_every_byte() {
        assert_eq!(bulk_reply(b"+OK\r\n$5\r\nhel").unwrap(), None);
        assert_eq!(
            bulk_reply(b"+OK\r\n$5\r\nhello\r\n").unwrap().as_deref(),
            Some("hello")
        );
        assert!(bulk_reply(b"-ERR no\r\n").is_err());
    }
}
