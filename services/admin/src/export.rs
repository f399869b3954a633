//! CSV downloads that stream: rows go out in chunks as the database yields
//! them, so exporting a million users holds one chunk in memory, and a client
//! that hangs up stops the query. A failure halfway aborts the response (the
//! client sees a broken download, never a file silently cut short).

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, header};
use axum::response::Response;
use futures::TryStreamExt;
use serde::Serialize;
use sqlx::PgPool;
use sqlx::postgres::PgRow;
use std::future::Future;
use tokio::sync::mpsc;

/// Bytes gathered before a chunk is sent.
const CHUNK: usize = 64 * 1024;

/// Where an export writes its rows. The header line comes from the first
/// row's field names (an export with no rows is an empty file).
pub struct Rows {
    writer: csv::Writer<Buffer>,
    tx: mpsc::Sender<Result<Bytes, std::io::Error>>,
}

/// What the CSV writer writes into; emptied at each chunk (the writer only
/// lends it out by shared reference, hence the cell).
#[derive(Default)]
struct Buffer(std::cell::Cell<Vec<u8>>);

impl Buffer {
    fn len(&self) -> usize {
        let v = self.0.take();
        let n = v.len();
        self.0.set(v);
        n
    }
    fn take(&self) -> Vec<u8> {
        self.0.take()
    }
}

impl std::io::Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.get_mut().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
#[error("the client stopped reading the export")]
struct Gone;

impl Rows {
    pub async fn push<T: Serialize>(&mut self, row: T) -> anyhow::Result<()> {
        self.writer.serialize(&row)?;
        if self.writer.get_ref().len() >= CHUNK {
            self.flush().await?;
        }
        Ok(())
    }

    async fn flush(&mut self) -> anyhow::Result<()> {
        self.writer.flush()?;
        let chunk = self.writer.get_ref().take();
        if !chunk.is_empty() {
            self.tx
                .send(Ok(Bytes::from(chunk)))
                .await
                .map_err(|_| Gone)?;
        }
        Ok(())
    }
}

/// A query whose rows become the lines of an export.
pub type Select<T> = sqlx::query::QueryAs<'static, sqlx::Postgres, T, sqlx::postgres::PgArguments>;

/// Every row `select` yields, as a `text/csv` attachment named `filename`.
pub fn rows<T>(filename: &str, db: PgPool, select: Select<T>) -> Response
where
    T: Serialize + for<'r> sqlx::FromRow<'r, PgRow> + Send + Unpin + 'static,
{
    csv(filename, move |mut out| async move {
        let mut rows = select.fetch(&db);
        while let Some(row) = rows.try_next().await? {
            out.push(row).await?;
        }
        drop(rows);
        Ok(out)
    })
}

/// A `text/csv` attachment named `filename`, its rows written by `produce`
/// in a task of its own; `produce` hands the writer back when it is done, and
/// the last chunk goes out then.
fn csv<F, Fut>(filename: &str, produce: F) -> Response
where
    F: FnOnce(Rows) -> Fut + Send + 'static,
    Fut: Future<Output = anyhow::Result<Rows>> + Send + 'static,
{
    // Two chunks in flight: the query runs ahead of the client by no more.
    let (tx, mut rx) = mpsc::channel(2);
    let rows = Rows {
        writer: csv::Writer::from_writer(Buffer::default()),
        tx: tx.clone(),
    };
    tokio::spawn(async move {
        let result = match produce(rows).await {
            Ok(mut rows) => rows.flush().await,
            Err(e) => Err(e),
        };
        if let Err(e) = result
            && e.downcast_ref::<Gone>().is_none()
        {
            tracing::error!(error = format!("{e:#}"), "a CSV export failed halfway");
            let _ = tx
                .send(Err(std::io::Error::other("the export failed")))
                .await;
        }
    });
    let stream = futures::stream::poll_fn(move |cx| rx.poll_recv(cx));
    let mut resp = Response::new(Body::from_stream(stream));
    let headers = resp.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    let disposition = format!("attachment; filename=\"{}\"", filename.replace('"', ""));
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    resp
}
