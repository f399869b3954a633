//! Files users send the bot: `getFile`, then a download from the file base,
//! bounded in size so a large upload can never fill the bot's memory.

use crate::client::Bot;
use crate::error::TgError;
use crate::types::File;
use serde_json::json;

/// Why a file could not be fetched.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum DownloadError {
    /// The file is (or turned out to be, while streaming) larger than allowed.
    #[error("the file is larger than {limit} bytes")]
    TooLarge { limit: u64 },
    /// `getFile` answered without a path (Telegram does for files over 20 MB).
    #[error("Telegram gave no download path for the file")]
    NoPath,
    #[error(transparent)]
    Telegram(#[from] TgError),
}

impl Bot {
    /// `getFile`: the file's metadata and the path to download it from.
    pub async fn get_file(&self, file_id: &str) -> Result<File, TgError> {
        self.call("getFile", &json!({ "file_id": file_id })).await
    }

    /// Downloads `{file_base}/{file_path}`, refusing more than `limit` bytes.
    pub async fn download_file(
        &self,
        file_path: &str,
        limit: u64,
    ) -> Result<Vec<u8>, DownloadError> {
        let url = format!("{}/{}", self.file_base, file_path.trim_start_matches('/'));
        let what = "file download";
        let mut resp = runtime::http::traced(self.http.get(url))
            .send()
            .await
            .map_err(|e| {
                // A download changes nothing: either way it is safe to retry.
                if e.is_connect() {
                    TgError::NotSent(format!("{what}: {}", e.without_url()))
                } else {
                    TgError::Unconfirmed(format!("{what}: {}", e.without_url()))
                }
            })?;
        let status = resp.status().as_u16();
        if status >= 500 {
            return Err(TgError::Transient(format!("{what}: HTTP {status}")).into());
        }
        if status >= 400 {
            return Err(
                TgError::from_reply(status, &format!("{what}: HTTP {status}"), None).into(),
            );
        }
        if resp.content_length().is_some_and(|n| n > limit) {
            return Err(DownloadError::TooLarge { limit });
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| TgError::Unconfirmed(format!("{what}: {}", e.without_url())))?
        {
            if body.len() as u64 + chunk.len() as u64 > limit {
                return Err(DownloadError::TooLarge { limit });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    /// `getFile` and the download in one, for a file the user sent.
    pub async fn fetch_file(&self, file_id: &str, limit: u64) -> Result<Vec<u8>, DownloadError> {
        let file = self.get_file(file_id).await?;
        if file.file_size.is_some_and(|n| n > limit) {
            return Err(DownloadError::TooLarge { limit });
        }
        let path = file.file_path.ok_or(DownloadError::NoPath)?;
        self.download_file(&path, limit).await
    }
}
