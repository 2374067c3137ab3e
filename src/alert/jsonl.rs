//! The JSON Lines alert log: a sink that appends, flushes and syncs each
//! batch before it is acknowledged, and the reader that follows the log
//! as it grows.

use std::collections::{HashSet, VecDeque};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::Deserialize;

use super::delivery::BATCH;
use super::sink::{AlertSink, SinkError, SinkFuture};
use crate::store::OutboxEntry;

/// How many of the log's last ids the sink remembers. A crash (or a failed
/// outbox update) between a batch's fsync and its rows being marked
/// delivered leaves at most one batch written but pending; remembering
/// twice that many lines covers it whatever the lines' length.
const REMEMBERED: usize = 2 * BATCH;

/// Bytes read at a time when scanning the log backwards.
const CHUNK: usize = 64 * 1024;

/// The JSON Lines alert log: one alert per line, appended, flushed and
/// synced before delivery is acknowledged.
pub struct JsonlSink {
    name: String,
    inner: Arc<JsonlFile>,
}

struct JsonlFile {
    path: PathBuf,
    /// Sync each batch to the disk before acknowledging it.
    fsync: bool,
    /// The ids of the log's last lines, read from its end when it is first
    /// opened, then kept up to date by every write.
    recent: Mutex<Option<RecentIds>>,
}

/// The last [`REMEMBERED`] alert ids written, oldest first.
#[derive(Default)]
struct RecentIds {
    order: VecDeque<String>,
    set: HashSet<String>,
}

impl RecentIds {
    fn push(&mut self, id: String) {
        if self.set.insert(id.clone()) {
            self.order.push_back(id);
        }
        while self.order.len() > REMEMBERED {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
    }
}

impl JsonlSink {
    /// The sink `name` writing the log at `path`, syncing each batch.
    pub fn new(name: &str, path: &Path) -> JsonlSink {
        JsonlSink::with_fsync(name, path, true)
    }

    /// The sink `name` writing the log at `path`; `fsync` false leaves
    /// the flush to the disk to the kernel.
    pub fn with_fsync(name: &str, path: &Path, fsync: bool) -> JsonlSink {
        JsonlSink {
            name: name.to_string(),
            inner: Arc::new(JsonlFile {
                path: path.to_path_buf(),
                fsync,
                recent: Mutex::new(None),
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

    /// Appends the entries not already in the log. The file is opened by
    /// its path for every batch, so a log moved away or removed (rotation)
    /// is followed by a new one at the same path.
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
        // A line cut short by a crash or a full disk is cut away: its alert
        // was not acknowledged and is written again whole below.
        let end = drop_cut_line(&mut f).map_err(|e| self.io(e))?;
        let mut guard = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        if guard.is_none() {
            *guard = Some(last_ids(&mut f, end).map_err(|e| self.io(e))?);
        }
        let recent = guard.get_or_insert_with(RecentIds::default);
        let mut buf = Vec::new();
        let mut written = Vec::new();
        for e in entries {
            if recent.set.contains(&e.alert_id) || written.contains(&&e.alert_id) {
                continue;
            }
            buf.extend_from_slice(e.payload.trim_end().as_bytes());
            buf.push(b'\n');
            written.push(&e.alert_id);
        }
        if !buf.is_empty() {
            f.write_all(&buf).map_err(|e| self.io(e))?;
            f.flush().map_err(|e| self.io(e))?;
            if self.fsync {
                f.sync_data().map_err(|e| self.io(e))?;
            }
        }
        for id in written {
            recent.push(id.clone());
        }
        Ok(())
    }
}

/// Truncates the file after its last newline when it does not end with
/// one; returns the length it has then.
fn drop_cut_line(f: &mut std::fs::File) -> std::io::Result<u64> {
    let len = f.metadata()?.len();
    let mut end = len;
    let mut buf = vec![0u8; CHUNK];
    while end > 0 {
        let from = end.saturating_sub(CHUNK as u64);
        let n = (end - from) as usize;
        f.seek(SeekFrom::Start(from))?;
        f.read_exact(&mut buf[..n])?;
        if let Some(at) = buf[..n].iter().rposition(|b| *b == b'\n') {
            end = from + at as u64 + 1;
            break;
        }
        end = from;
    }
    if end < len {
        tracing::warn!(bytes = len - end, "the alert log ended in a cut line; it was removed");
        f.set_len(end)?;
    }
    Ok(end)
}

/// The ids of the last [`REMEMBERED`] lines before `end`, read backwards.
fn last_ids(f: &mut std::fs::File, end: u64) -> std::io::Result<RecentIds> {
    #[derive(Deserialize)]
    struct IdOnly {
        id: String,
    }
    let mut lines: Vec<Vec<u8>> = Vec::new();
    let mut tail: Vec<u8> = Vec::new();
    let mut at = end;
    let mut buf = vec![0u8; CHUNK];
    while at > 0 && lines.len() <= REMEMBERED {
        let from = at.saturating_sub(CHUNK as u64);
        let n = (at - from) as usize;
        f.seek(SeekFrom::Start(from))?;
        f.read_exact(&mut buf[..n])?;
        // `tail` holds the start-less piece of the line that runs on past
        // this chunk; prepend this chunk and split off whole lines.
        let mut chunk = buf[..n].to_vec();
        chunk.extend_from_slice(&tail);
        let mut pieces: Vec<&[u8]> = chunk.split(|b| *b == b'\n').collect();
        let first = pieces.remove(0).to_vec();
        for piece in pieces.into_iter().rev() {
            if !piece.is_empty() {
                lines.push(piece.to_vec());
            }
        }
        tail = first;
        at = from;
    }
    if at == 0 && !tail.is_empty() {
        lines.push(tail);
    }
    let mut recent = RecentIds::default();
    for line in lines.iter().take(REMEMBERED).rev() {
        if let Ok(r) = serde_json::from_slice::<IdOnly>(line) {
            recent.push(r.id);
        }
    }
    Ok(recent)
}

impl JsonlSink {
    /// Writes `entries` off the runtime threads (file I/O and fsync block).
    async fn write(&self, entries: &[OutboxEntry]) -> Result<(), SinkError> {
        let file = self.inner.clone();
        let owned = entries.to_vec();
        match tokio::task::spawn_blocking(move || file.write_batch(&owned)).await {
            Ok(r) => r,
            Err(join) => Err(SinkError::Task(std::io::Error::other(join.to_string()))),
        }
    }
}

impl AlertSink for JsonlSink {
    fn name(&self) -> &str {
        &self.name
    }

    fn deliver_one<'a>(&'a self, entry: &'a OutboxEntry) -> SinkFuture<'a, Result<(), SinkError>> {
        Box::pin(self.write(std::slice::from_ref(entry)))
    }

    /// A digest in the log is its alerts' lines.
    fn deliver_digest<'a>(&'a self, entries: &'a [OutboxEntry]) -> SinkFuture<'a, Result<(), SinkError>> {
        Box::pin(self.write(entries))
    }

    fn batched(&self) -> bool {
        true
    }

    fn deliver_batch<'a>(&'a self, entries: &'a [OutboxEntry]) -> SinkFuture<'a, Vec<Result<(), SinkError>>> {
        Box::pin(async move {
            match self.write(entries).await {
                Ok(()) => entries.iter().map(|_| Ok(())).collect(),
                Err(e) => {
                    let cause = e.chain();
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

    fn entry(id: &str, pad: usize) -> OutboxEntry {
        OutboxEntry {
            row: 1,
            alert_id: id.into(),
            sink: "log".into(),
            payload: format!("{{\"id\":\"{id}\",\"pad\":\"{}\"}}", "x".repeat(pad)),
            attempts: 0,
            next_attempt: 0,
        }
    }

    fn ids(path: &Path) -> Vec<String> {
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["id"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect()
    }

    #[test]
    fn a_cut_last_line_is_removed_before_appending() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.jsonl");
        std::fs::write(&path, "{\"id\":\"one\"}\n{\"id\":\"cu").unwrap();
        let sink = JsonlSink::new("log", &path).inner;
        sink.write_batch(&[entry("one", 0), entry("two", 0)]).unwrap();
        assert_eq!(ids(&path), ["one", "two"]);
        // A log that is one cut line and nothing else.
        std::fs::write(&path, "{\"id\":\"x").unwrap();
        let sink = JsonlSink::new("log", &path).inner;
        sink.write_batch(&[entry("x", 0)]).unwrap();
        assert_eq!(ids(&path), ["x"]);
    }

    /// The defect a kill -9 found: a whole batch of long lines written but
    /// not marked delivered was written again after a restart, because only
    /// the log's last 1 MiB was read back.
    #[test]
    fn a_whole_batch_of_long_lines_is_recognised_after_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.jsonl");
        let batch: Vec<OutboxEntry> = (0..BATCH).map(|i| entry(&format!("id{i}"), 6000)).collect();
        JsonlSink::new("log", &path).inner.write_batch(&batch).unwrap();
        assert!(std::fs::metadata(&path).unwrap().len() > 1_500_000);
        // The restart: a new sink, the same batch delivered again, a new one.
        let again = JsonlSink::new("log", &path).inner;
        again.write_batch(&batch).unwrap();
        again.write_batch(&[entry("new", 10), entry("new", 10)]).unwrap();
        let got = ids(&path);
        assert_eq!(got.len(), BATCH + 1);
        assert_eq!(got.last().unwrap(), "new");
        // The same sink asked again for what it wrote (an outbox update
        // that failed) writes nothing twice.
        again.write_batch(&batch[..3]).unwrap();
        assert_eq!(ids(&path).len(), BATCH + 1);
    }

    #[test]
    fn a_moved_log_is_followed_by_a_new_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.jsonl");
        let sink = JsonlSink::new("log", &path).inner;
        sink.write_batch(&[entry("a", 0)]).unwrap();
        std::fs::rename(&path, dir.path().join("a.jsonl.1")).unwrap();
        sink.write_batch(&[entry("b", 0)]).unwrap();
        assert_eq!(ids(&path), ["b"]);
        assert_eq!(ids(&dir.path().join("a.jsonl.1")), ["a"]);
    }
}
