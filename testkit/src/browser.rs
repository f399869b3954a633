//! A real browser for console tests: Debian's Chromium, headless, driven
//! through ChromeDriver's W3C WebDriver protocol (plain JSON over HTTP, so no
//! client crate is needed). `scripts/deps.sh` installs both.

use anyhow::{Context, bail};
use serde_json::{Value, json};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// The key W3C WebDriver names element references by.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// One ChromeDriver with one browser session; both end on drop.
pub struct Browser {
    driver: Child,
    base: String,
    http: reqwest::Client,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Headless Chromium with a window of `width`×`height` CSS pixels (a
    /// phone is 390×844). The flags keep it off the network: this machine
    /// refuses everything but loopback, and Chromium's background fetches
    /// would otherwise fail noisily.
    pub async fn start(width: u32, height: u32) -> anyhow::Result<Browser> {
        let port = crate::ports::free_port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {CHROMEDRIVER} (scripts/deps.sh installs it)"))?;
        let http = reqwest::Client::builder().no_proxy().build()?;
        let root = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        loop {
            let ready = http.get(format!("{root}/status")).send().await;
            if let Ok(r) = ready
                && let Ok(v) = r.json::<Value>().await
                && v["value"]["ready"] == true
            {
                break;
            }
            if started.elapsed() > Duration::from_secs(20) {
                bail!("chromedriver did not become ready on port {port}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile = tempfile::tempdir()?;
        let args = [
            "--headless=new".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-quic".into(),
            "--no-first-run".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--disable-dev-shm-usage".into(),
            format!("--window-size={width},{height}"),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "acceptInsecureCerts": true,
            "goog:chromeOptions": {"binary": CHROMIUM, "args": args},
        }}});
        let v: Value = http
            .post(format!("{root}/session"))
            .json(&caps)
            .send()
            .await?
            .json()
            .await?;
        let id = v["value"]["sessionId"]
            .as_str()
            .with_context(|| format!("no browser session: {v}"))?;
        Ok(Browser {
            base: format!("{root}/session/{id}"),
            driver,
            http,
            _profile: profile,
        })
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Value,
    ) -> anyhow::Result<Value> {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if !body.is_null() {
            req = req.json(&body);
        }
        let v: Value = req.send().await?.json().await?;
        if v["value"]["error"].is_string() {
            bail!("webdriver {path}: {}", v["value"]);
        }
        Ok(v["value"].clone())
    }

    pub async fn goto(&self, url: &str) -> anyhow::Result<()> {
        self.call(reqwest::Method::POST, "/url", json!({ "url": url }))
            .await
            .map(drop)
    }

    pub async fn url(&self) -> anyhow::Result<String> {
        let v = self.call(reqwest::Method::GET, "/url", Value::Null).await?;
        Ok(v.as_str().unwrap_or_default().to_string())
    }

    /// The first element matching a CSS selector.
    pub async fn find(&self, css: &str) -> anyhow::Result<String> {
        let v = self
            .call(
                reqwest::Method::POST,
                "/element",
                json!({"using": "css selector", "value": css}),
            )
            .await
            .with_context(|| format!("no element {css}"))?;
        Ok(v[ELEMENT].as_str().unwrap_or_default().to_string())
    }

    pub async fn type_into(&self, css: &str, text: &str) -> anyhow::Result<()> {
        let el = self.find(css).await?;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{el}/value"),
            json!({ "text": text }),
        )
        .await
        .map(drop)
    }

    /// Empties an input or a text area.
    pub async fn clear(&self, css: &str) -> anyhow::Result<()> {
        let el = self.find(css).await?;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{el}/clear"),
            json!({}),
        )
        .await
        .map(drop)
    }

    pub async fn click(&self, css: &str) -> anyhow::Result<()> {
        let el = self.find(css).await?;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{el}/click"),
            json!({}),
        )
        .await
        .map(drop)
    }

    pub async fn text(&self, css: &str) -> anyhow::Result<String> {
        let el = self.find(css).await?;
        let v = self
            .call(
                reqwest::Method::GET,
                &format!("/element/{el}/text"),
                Value::Null,
            )
            .await?;
        Ok(v.as_str().unwrap_or_default().to_string())
    }

    /// Runs `script` (a function body; `return` gives the value) in the page.
    pub async fn eval(&self, script: &str) -> anyhow::Result<Value> {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            json!({"script": script, "args": []}),
        )
        .await
    }

    /// Polls `script` until it returns `true`, or fails after `within`.
    pub async fn wait_for(&self, script: &str, within: Duration) -> anyhow::Result<()> {
        let started = Instant::now();
        loop {
            if self.eval(script).await.ok() == Some(Value::Bool(true)) {
                return Ok(());
            }
            if started.elapsed() > within {
                bail!("not true within {within:?}: {script}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A PNG of the viewport, written to `path` (directories created).
    pub async fn screenshot(&self, path: &std::path::Path) -> anyhow::Result<()> {
        use base64::Engine;
        let v = self
            .call(reqwest::Method::GET, "/screenshot", Value::Null)
            .await?;
        let png = base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap_or_default())
            .context("a screenshot that is not base64")?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, png)?;
        Ok(())
    }

    /// Ends the browser session, then the driver.
    pub async fn quit(mut self) {
        let _ = self
            .http
            .delete(&self.base)
            .timeout(Duration::from_secs(5))
            .send()
            .await;
        let _ = self.driver.kill().await;
    }
}
