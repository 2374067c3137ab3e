//! The JSON Lines alert log: a sink that appends, flushes and syncs each
//! batch before it is acknowledged, and the reader that follows the log
//! as it grows.

use std::collections::HashSet;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::Deserialize;

use super::sink::{AlertSink, DeliveryFuture, SinkError};
use crate::store::OutboxEntry;

/// Bytes read from the end of the log at start-up to learn which alerts it
/// already holds (written, but not marked delivered before a crash).
const RECOVERY_TAIL: u64 = 1024 * 1024;

/// The JSON Lines alert log: one alert per line, appended, flushed and
/// synced before delivery is acknowledged.
pub struct JsonlSink {
    name: String,
    inner: Arc<JsonlFile>,
}

struct JsonlFile {
    path: PathBuf,
    /// Ids found at the end of the log when it was first opened.
    recovered: Mutex<Option<HashSet<String>>>,
}

impl JsonlSink {
    /// The sink `name` writing the log at `path`.
    pub fn new(name: &str, path: &Path) -> JsonlSink {
        JsonlSink {
            name: name.to_string(),
            inner: Arc::new(JsonlFile {
                path: path.to_path_buf(),
                recovered: Mutex::new(None),
            }),
        }
    }
}

impl JsonlFile {
    fn io(&self, source: std::io::Error) -> SinkError {
        SinkError::Io {
            path: self.path.clone(),
            source,
        }
    }

    fn write_batch(&self, entries: &[OutboxEntry]) -> Result<(), SinkError> {
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| self.io(e))?;
        }
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .read(true)
            .open(&self.path)
            .map_err(|e| self.io(e))?;
        let mut guard = self.recovered.lock().unwrap_or_else(|p| p.into_inner());
        if guard.is_none() {
            *guard = Some(recent_ids(&mut f).map_err(|e| self.io(e))?);
        }
        let recovered = guard.get_or_insert_with(HashSet::new);
        // A line cut short by a crash or a full disk is closed first, so the
        // next alert starts on a line of its own.
        let len = f.metadata().map_err(|e| self.io(e))?.len();
        let mut buf = Vec::new();
        if len > 0 {
            let mut last = [0u8; 1];
            f.seek(SeekFrom::Start(len - 1)).map_err(|e| self.io(e))?;
            f.read_exact(&mut last).map_err(|e| self.io(e))?;
            if last[0] != b'\n' {
                buf.push(b'\n');
            }
        }
        for e in entries {
            if recovered.contains(&e.alert_id) {
                continue;
            }
            buf.extend_from_slice(e.payload.trim_end().as_bytes());
            buf.push(b'\n');
        }
        f.write_all(&buf).map_err(|e| self.io(e))?;
        f.flush().map_err(|e| self.io(e))?;
        f.sync_data().map_err(|e| self.io(e))?;
        for e in entries {
            recovered.remove(&e.alert_id);
        }
        Ok(())
    }
}

/// Alert ids in the last [`RECOVERY_TAIL`] bytes of the log.
fn recent_ids(f: &mut std::fs::File) -> std::io::Result<HashSet<String>> {
    let len = f.metadata()?.len();
    let start = len.saturating_sub(RECOVERY_TAIL);
    f.seek(SeekFrom::Start(start))?;
    let mut buf = Vec::new();
    f.take(RECOVERY_TAIL).read_to_end(&mut buf)?;
    let text = String::from_utf8_lossy(&buf);
    let mut ids = HashSet::new();
    for line in text.lines().skip(usize::from(start > 0)) {
        #[derive(Deserialize)]
        struct IdOnly {
            id: String,
        }
        if let Ok(r) = serde_json::from_str::<IdOnly>(line) {
            ids.insert(r.id);
        }
    }
    Ok(ids)
}

impl AlertSink for JsonlSink {
    fn name(&self) -> &str {
        &self.name
    }

    fn deliver<'a>(&'a self, entries: &'a [OutboxEntry]) -> DeliveryFuture<'a> {
        let file = self.inner.clone();
        let owned = entries.to_vec();
        Box::pin(async move {
            // Blocking file I/O (and fsync) stays off the runtime threads.
            let result = tokio::task::spawn_blocking(move || file.write_batch(&owned)).await;
            match result {
                Ok(Ok(())) => entries.iter().map(|_| Ok(())).collect(),
                Ok(Err(e)) => {
                    let cause = std::error::Error::source(&e).map(|s| s.to_string()).unwrap_or_default();
                    entries
                        .iter()
                        .map(|_| {
                            Err(SinkError::Io {
                                path: self.inner.path.clone(),
                                source: std::io::Error::other(cause.clone()),
                            })
                        })
                        .collect()
                }
                Err(join) => {
                    let msg = join.to_string();
                    entries
                        .iter()
                        .map(|_| Err(SinkError::Task(std::io::Error::other(msg.clone()))))
                        .collect()
                }
            }
        })
    }
}

/// Reads the alert log as it grows: whole lines only (a line being written
/// waits for its end), from where the last read stopped, starting over when
/// the log is rotated or truncated.
pub struct LogReader {
    path: PathBuf,
    offset: u64,
    partial: Vec<u8>,
}

impl LogReader {
    pub fn new(path: &Path) -> LogReader {
        LogReader {
            path: path.to_path_buf(),
            offset: 0,
            partial: Vec::new(),
        }
    }

    /// The whole lines added since the last call (empty when none, or when
    /// the log does not exist yet).
    pub fn read_new(&mut self) -> std::io::Result<String> {
        let mut f = match std::fs::File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(String::new()),
            Err(e) => return Err(e),
        };
        let len = f.metadata()?.len();
        if len < self.offset {
            self.offset = 0;
            self.partial.clear();
        }
        if len > self.offset {
            f.seek(SeekFrom::Start(self.offset))?;
            let mut chunk = Vec::new();
            f.take(len - self.offset).read_to_end(&mut chunk)?;
            self.offset += chunk.len() as u64;
            self.partial.extend_from_slice(&chunk);
        }
        match self.partial.iter().rposition(|b| *b == b'\n') {
            Some(end) => {
                let text = String::from_utf8_lossy(&self.partial[..=end]).into_owned();
                self.partial.drain(..=end);
                Ok(text)
            }
            None => Ok(String::new()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_reader_returns_whole_new_lines_and_survives_truncation() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.jsonl");
        let mut r = LogReader::new(&path);
        assert_eq!(r.read_new().unwrap(), "");
        std::fs::write(&path, "one\ntw").unwrap();
        assert_eq!(r.read_new().unwrap(), "one\n");
        std::fs::write(&path, "one\ntwo\n").unwrap();
        assert_eq!(r.read_new().unwrap(), "two\n");
        assert_eq!(r.read_new().unwrap(), "");
        std::fs::write(&path, "x\n").unwrap();
        assert_eq!(r.read_new().unwrap(), "x\n");
    }

    #[test]
    fn log_recovers_ids_and_closes_cut_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.jsonl");
        std::fs::write(&path, "{\"id\":\"one\"}\n{\"id\":\"cut").unwrap();
        let sink = JsonlSink::new("log", &path).inner;
        let entry = |id: &str| OutboxEntry {
            row: 1,
            alert_id: id.into(),
            sink: "log".into(),
            payload: format!("{{\"id\":\"{id}\"}}"),
            attempts: 0,
        };
        sink.write_batch(&[entry("one"), entry("two")]).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, "{\"id\":\"one\"}\n{\"id\":\"cut\n{\"id\":\"two\"}\n");
    }
}
