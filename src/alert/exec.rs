//! The exec sink: a program run without a shell, in a clean environment,
//! the alert JSON on its stdin (a digest: a JSON array), killed at its
//! deadline; exit 0 is success.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::sink::{AlertSink, SinkError, SinkFuture};
use crate::store::OutboxEntry;

/// Bytes of the program's stderr kept for the error message.
const STDERR_CAP: usize = 512;

/// `PATH` of the clean environment.
const SAFE_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

pub struct ExecSink {
    name: String,
    program: PathBuf,
    args: Vec<String>,
    timeout: Duration,
}

impl ExecSink {
    pub fn new(name: &str, program: PathBuf, args: Vec<String>, timeout: Duration) -> ExecSink {
        ExecSink {
            name: name.to_string(),
            program,
            args,
            timeout,
        }
    }

    async fn run(&self, input: Vec<u8>, alert_id: &str, digest: bool) -> Result<(), SinkError> {
        let mut child = tokio::process::Command::new(&self.program)
            .args(&self.args)
            .env_clear()
            .env("PATH", SAFE_PATH)
            .env("LANG", "C.UTF-8")
            .env("NEWSHOUND_SINK", &self.name)
            .env("NEWSHOUND_ALERT_ID", alert_id)
            .env("NEWSHOUND_DIGEST", if digest { "1" } else { "0" })
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            // Its own process group, so that a deadline kills what it
            // started too.
            .process_group(0)
            .spawn()
            .map_err(|e| SinkError::Exec(format!("cannot run {}: {e}", self.program.display())))?;
        let pid = child.id();
        let mut stdin = child.stdin.take();
        let mut stderr = child.stderr.take();
        let work = async {
            if let Some(mut s) = stdin.take() {
                // A program that exits without reading its input is its
                // own business: its exit status decides.
                let _ = s.write_all(&input).await;
                drop(s);
            }
            let mut err = Vec::new();
            if let Some(e) = stderr.as_mut() {
                let _ = e.take(64 * 1024).read_to_end(&mut err).await;
            }
            let status = child.wait().await;
            (status, err)
        };
        match tokio::time::timeout(self.timeout, work).await {
            Ok((Ok(status), _)) if status.success() => Ok(()),
            Ok((Ok(status), err)) => {
                let tail = String::from_utf8_lossy(&err[err.len().saturating_sub(STDERR_CAP)..])
                    .trim()
                    .to_string();
                Err(SinkError::Exec(format!(
                    "{} ended with {status}{}",
                    self.program.display(),
                    if tail.is_empty() {
                        String::new()
                    } else {
                        format!(": {tail}")
                    }
                )))
            }
            Ok((Err(e), _)) => Err(SinkError::Exec(format!("waiting for {}: {e}", self.program.display()))),
            Err(_) => {
                if let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()) {
                    // SAFETY: kill(2) on the process group this sink
                    // created; no memory is involved.
                    unsafe { libc::kill(-pid, libc::SIGKILL) };
                }
                Err(SinkError::Timeout(self.timeout))
            }
        }
    }
}

impl AlertSink for ExecSink {
    fn name(&self) -> &str {
        &self.name
    }

    fn deliver_one<'a>(&'a self, entry: &'a OutboxEntry) -> SinkFuture<'a, Result<(), SinkError>> {
        Box::pin(async move {
            let mut input = entry.payload.trim_end().as_bytes().to_vec();
            input.push(b'\n');
            self.run(input, &entry.alert_id, false).await
        })
    }

    fn deliver_digest<'a>(&'a self, entries: &'a [OutboxEntry]) -> SinkFuture<'a, Result<(), SinkError>> {
        Box::pin(async move {
            let list: Vec<serde_json::Value> = entries
                .iter()
                .map(|e| serde_json::from_str(&e.payload).unwrap_or(serde_json::Value::Null))
                .collect();
            let mut input = serde_json::Value::Array(list).to_string().into_bytes();
            input.push(b'\n');
            self.run(input, &super::http::digest_id(entries), true).await
        })
    }
}
