//! Files as the Bot API sees them: file ids of photos, videos, documents and animations (sent by
//! simulated users or by the bot), getFile, and downloads from `/file/bot<token>/<file_path>`.

use std::collections::HashMap;

use base64::Engine;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::methods::ApiError;

/// getFile refuses files over 20 MB.
const MAX_DOWNLOAD: usize = 20 * 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileKind {
    Photo,
    Video,
    Document,
    Animation,
}

impl FileKind {
    /// The send method's parameter and the message's field.
    pub fn field(self) -> &'static str {
        match self {
            Self::Photo => "photo",
            Self::Video => "video",
            Self::Document => "document",
            Self::Animation => "animation",
        }
    }

    pub(crate) fn for_method(method: &str) -> Option<Self> {
        match method {
            "sendPhoto" => Some(Self::Photo),
            "sendVideo" => Some(Self::Video),
            "sendDocument" => Some(Self::Document),
            "sendAnimation" => Some(Self::Animation),
            _ => None,
        }
    }

    /// As TDLib names it in "can't use file of type X as Y".
    fn type_name(self) -> &'static str {
        match self {
            Self::Photo => "Photo",
            Self::Video => "Video",
            Self::Document => "Document",
            Self::Animation => "Animation",
        }
    }

    /// Real file ids start with a type tag; these are the first four characters Telegram's have.
    fn id_prefix(self) -> &'static str {
        match self {
            Self::Photo => "AgAC",
            Self::Video => "BAAC",
            Self::Document => "BQAC",
            Self::Animation => "CgAC",
        }
    }

    fn dir_and_ext(self) -> (&'static str, &'static str) {
        match self {
            Self::Photo => ("photos", "jpg"),
            Self::Video => ("videos", "mp4"),
            Self::Document => ("documents", "bin"),
            Self::Animation => ("animations", "mp4"),
        }
    }

    /// A photo is never a document and vice versa; the document-like kinds are interchangeable.
    fn usable_as(self, wanted: Self) -> bool {
        (self == Self::Photo) == (wanted == Self::Photo)
    }
}

pub(crate) struct StoredFile {
    pub kind: FileKind,
    pub unique_id: String,
    pub bytes: Bytes,
    pub file_name: Option<String>,
    /// What a message carrying this file shows in its `photo`/`video`/... field; all sizes of one
    /// photo share it.
    pub media: Value,
}

#[derive(Default)]
pub(crate) struct Files {
    by_id: HashMap<String, StoredFile>,
    /// file_path → (file_id, the token that asked getFile for it).
    paths: HashMap<String, (String, String)>,
    path_of: HashMap<String, String>,
    issued: u64,
}

/// What a simulated user attaches to a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    pub kind: FileKind,
    pub bytes: Bytes,
    pub file_name: Option<String>,
    pub mime_type: Option<String>,
}

impl Files {
    fn next_seed(&mut self) -> u64 {
        self.issued += 1;
        self.issued
    }

    /// Stores an upload and returns the media JSON a message carrying it shows.
    pub fn upload(&mut self, upload: Upload) -> Value {
        let seed = self.next_seed();
        let size = upload.bytes.len();
        match upload.kind {
            FileKind::Photo => self.store_photo(seed, upload.bytes),
            kind => {
                let file_id = file_id(kind, &seed.to_string());
                let mut media = json!({
                    "file_id": file_id,
                    "file_unique_id": unique_id(&file_id),
                    "file_size": size,
                });
                if let Some(name) = &upload.file_name {
                    media["file_name"] = json!(name);
                }
                let mime = upload
                    .mime_type
                    .clone()
                    .unwrap_or_else(|| guess_mime(kind, upload.file_name.as_deref()).to_owned());
                media["mime_type"] = json!(mime);
                if kind != FileKind::Document {
                    media["width"] = json!(1280);
                    media["height"] = json!(720);
                    media["duration"] = json!(10);
                }
                self.insert(&file_id, kind, upload.bytes, upload.file_name, &media);
                media
            }
        }
    }

    /// Telegram keeps several sizes of a photo, each with its own file id.
    fn store_photo(&mut self, seed: u64, bytes: Bytes) -> Value {
        let sizes: Vec<(u32, u32, String)> = [(90, 51), (320, 180), (800, 450), (1280, 720)]
            .into_iter()
            .map(|(w, h)| (w, h, file_id(FileKind::Photo, &format!("{seed}x{w}"))))
            .collect();
        let media = json!(
            sizes
                .iter()
                .map(|(w, h, id)| json!({
                    "file_id": id,
                    "file_unique_id": unique_id(id),
                    "file_size": bytes.len(),
                    "width": w,
                    "height": h,
                }))
                .collect::<Vec<_>>()
        );
        for (_, _, id) in &sizes {
            self.insert(id, FileKind::Photo, bytes.clone(), None, &media);
        }
        media
    }

    fn insert(
        &mut self,
        file_id: &str,
        kind: FileKind,
        bytes: Bytes,
        file_name: Option<String>,
        media: &Value,
    ) {
        self.by_id.insert(
            file_id.to_owned(),
            StoredFile {
                kind,
                unique_id: unique_id(file_id),
                bytes,
                file_name,
                media: media.clone(),
            },
        );
    }

    /// The media JSON of a bot's send by file_id or URL, checked like Telegram checks it.
    pub fn for_send(&mut self, kind: FileKind, reference: &str) -> Result<Value, ApiError> {
        let wrong =
            || ApiError::bad_request("Bad Request: wrong file identifier/HTTP URL specified");
        if let Some((scheme, rest)) = reference.split_once("://") {
            let host = rest.split(['/', '?', '#']).next().unwrap_or("");
            if !matches!(scheme.to_ascii_lowercase().as_str(), "http" | "https") || host.is_empty()
            {
                return Err(wrong());
            }
            // Telegram fetches the URL and issues a file id; the same URL gets the same id here.
            let id = file_id(kind, reference);
            return Ok(self.known_or_new(kind, &id));
        }
        if reference.is_empty() {
            return Err(wrong());
        }
        let id_chars = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
        if !reference.bytes().all(id_chars) {
            return Err(ApiError::bad_request(
                "Bad Request: wrong remote file identifier specified: Wrong character in the string",
            ));
        }
        if let Some(file) = self.by_id.get(reference)
            && !file.kind.usable_as(kind)
        {
            return Err(ApiError::bad_request(format!(
                "Bad Request: can't use file of type {} as {}",
                file.kind.type_name(),
                kind.type_name()
            )));
        }
        Ok(self.known_or_new(kind, reference))
    }

    /// A file id the fake has not issued (prepared by hand in a test) is trusted and remembered.
    fn known_or_new(&mut self, kind: FileKind, file_id: &str) -> Value {
        if let Some(file) = self.by_id.get(file_id) {
            return file.media.clone();
        }
        let unique = unique_id(file_id);
        let media = if kind == FileKind::Photo {
            json!([{"file_id": file_id, "file_unique_id": unique, "width": 1280, "height": 720, "file_size": 102400}])
        } else {
            let mut m = json!({"file_id": file_id, "file_unique_id": unique, "file_size": 102400});
            if kind != FileKind::Document {
                m["width"] = json!(1280);
                m["height"] = json!(720);
                m["duration"] = json!(10);
            }
            m["mime_type"] = json!(guess_mime(kind, None));
            m
        };
        let bytes = Bytes::from(format!("sandbox {} {file_id}", kind.field()));
        self.insert(file_id, kind, bytes, None, &media);
        media
    }

    /// getFile: a File with a `file_path` this token can download.
    pub fn get_file(&mut self, token: &str, file_id: &str) -> Result<Value, ApiError> {
        let Some(file) = self.by_id.get(file_id) else {
            return Err(ApiError::bad_request("Bad Request: invalid file_id"));
        };
        if file.bytes.len() > MAX_DOWNLOAD {
            return Err(ApiError::bad_request("Bad Request: file is too big"));
        }
        let (kind, size, unique) = (file.kind, file.bytes.len(), file.unique_id.clone());
        let path = match self.path_of.get(file_id) {
            Some(path) => path.clone(),
            None => {
                let (dir, default_ext) = kind.dir_and_ext();
                let ext = file
                    .file_name
                    .as_deref()
                    .and_then(|n| n.rsplit_once('.'))
                    .map_or(default_ext, |(_, ext)| ext);
                let path = format!("{dir}/file_{}.{ext}", self.path_of.len());
                self.path_of.insert(file_id.to_owned(), path.clone());
                path
            }
        };
        self.paths
            .insert(path.clone(), (file_id.to_owned(), token.to_owned()));
        Ok(json!({
            "file_id": file_id,
            "file_unique_id": unique,
            "file_size": size,
            "file_path": path,
        }))
    }

    /// The bytes behind a file_path, for the token that got the path from getFile.
    pub fn download(&self, token: &str, path: &str) -> Option<Bytes> {
        let (file_id, owner) = self.paths.get(path)?;
        if owner != token {
            return None;
        }
        self.by_id.get(file_id).map(|f| f.bytes.clone())
    }
}

fn file_id(kind: FileKind, seed: &str) -> String {
    let digest = md5_16(&format!("{}:{seed}", kind.field()));
    let tail = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest);
    format!("{}AgADsandbox{tail}", kind.id_prefix())
}

fn unique_id(file_id: &str) -> String {
    let digest = md5_16(file_id);
    format!(
        "AQAD{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..9])
    )
}

fn guess_mime(kind: FileKind, file_name: Option<&str>) -> &'static str {
    let ext = file_name
        .and_then(|n| n.rsplit_once('.'))
        .map(|(_, e)| e.to_ascii_lowercase());
    match (kind, ext.as_deref()) {
        (_, Some("txt")) => "text/plain",
        (_, Some("csv")) => "text/csv",
        (_, Some("json")) => "application/json",
        (_, Some("pdf")) => "application/pdf",
        (FileKind::Document, _) => "application/octet-stream",
        _ => "video/mp4",
    }
}

fn md5_16(s: &str) -> Vec<u8> {
    use md5::Digest;
    md5::Md5::digest(s.as_bytes()).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn document(name: &str, body: &str) -> Upload {
        Upload {
            kind: FileKind::Document,
            bytes: Bytes::from(body.to_owned()),
            file_name: Some(name.to_owned()),
            mime_type: None,
        }
    }

    #[test]
    fn an_uploaded_document_is_downloadable_by_the_token_that_asked_for_it() {
        let mut files = Files::default();
        let media = files.upload(document("ids.csv", "1\n2\n"));
        assert_eq!(media["mime_type"], "text/csv");
        assert_eq!(media["file_size"], 4);
        let id = media["file_id"].as_str().unwrap();
        let file = files.get_file("t", id).unwrap();
        let path = file["file_path"].as_str().unwrap();
        assert!(
            path.starts_with("documents/") && path.ends_with(".csv"),
            "{path}"
        );
        assert_eq!(files.download("t", path).unwrap(), "1\n2\n");
        assert_eq!(files.download("other", path), None);
        assert_eq!(files.download("t", "documents/nope.csv"), None);
        assert_eq!(
            files.get_file("t", "AgACnope").unwrap_err().description,
            "Bad Request: invalid file_id"
        );
    }

    #[test]
    fn photos_and_documents_do_not_mix() {
        let mut files = Files::default();
        let doc = files.upload(document("a.txt", "x"))["file_id"]
            .as_str()
            .unwrap()
            .to_owned();
        let err = files.for_send(FileKind::Photo, &doc).unwrap_err();
        assert_eq!(
            err.description,
            "Bad Request: can't use file of type Document as Photo"
        );
        assert!(files.for_send(FileKind::Video, &doc).is_ok());
        assert!(
            files
                .for_send(FileKind::Photo, "https://cdn.example/a.jpg")
                .is_ok()
        );
        assert_eq!(
            files
                .for_send(FileKind::Photo, "ftp://cdn.example/a.jpg")
                .unwrap_err()
                .description,
            "Bad Request: wrong file identifier/HTTP URL specified"
        );
        assert!(files.for_send(FileKind::Photo, "not an id").is_err());
    }
}
