//! OPML feed lists: read as a feed list (duplicate outlines are warned
//! about, naming both lines, and their tags merged), written by `feeds
//! export`, imported by `feeds import`.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use super::diagnostics::{Diagnostic, Source, whole_file};
use super::feeds::{FeedSpec, feed_identity};

/// Reads feeds from an OPML document (outlines with `xmlUrl`, nested
/// outlines' titles become tags).
pub fn parse_opml(xml: &str) -> Result<Vec<FeedSpec>, String> {
    let doc = opml::OPML::from_str(xml).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    fn walk(outlines: &[opml::Outline], tags: &[String], out: &mut Vec<FeedSpec>) {
        for o in outlines {
            let label = o.title.clone().unwrap_or_else(|| o.text.clone());
            if let Some(url) = &o.xml_url {
                out.push(FeedSpec {
                    url: url.trim().to_string(),
                    name: label.trim().to_string(),
                    lang: o
                        .language
                        .clone()
                        .map(|l| l.trim().replace('_', "-").to_ascii_lowercase())
                        .filter(|l| !l.is_empty()),
                    interval: None,
                    tags: tags.to_vec(),
                });
            }
            if !o.outlines.is_empty() {
                let mut t = tags.to_vec();
                if !label.trim().is_empty() {
                    t.push(label.trim().to_string());
                }
                walk(&o.outlines, &t, out);
            }
        }
    }
    walk(&doc.body.outlines, &[], &mut out);
    Ok(out)
}

/// Writes feeds as an OPML document, one outline per feed, grouped under
/// their first tag.
pub fn to_opml(feeds: &[FeedSpec]) -> Result<String, String> {
    let mut doc = opml::OPML {
        head: Some(opml::Head {
            title: Some("newshound feeds".to_string()),
            ..Default::default()
        }),
        ..Default::default()
    };
    for f in feeds {
        let outline = opml::Outline {
            text: f.name.clone(),
            title: Some(f.name.clone()),
            r#type: Some("rss".to_string()),
            xml_url: Some(f.url.clone()),
            language: f.lang.clone(),
            ..Default::default()
        };
        match f.tags.first() {
            Some(tag) => {
                let group = match doc
                    .body
                    .outlines
                    .iter()
                    .position(|o| o.xml_url.is_none() && &o.text == tag)
                {
                    Some(i) => i,
                    None => {
                        doc.body.outlines.push(opml::Outline {
                            text: tag.clone(),
                            ..Default::default()
                        });
                        doc.body.outlines.len() - 1
                    }
                };
                doc.body.outlines[group].outlines.push(outline);
            }
            None => doc.body.outlines.push(outline),
        }
    }
    doc.to_string().map_err(|e| e.to_string())
}

/// The byte offsets of the `xmlUrl` attributes of an OPML document, in
/// document order (the order the outlines are read in).
fn xml_url_offsets(text: &str) -> Vec<usize> {
    text.match_indices("xmlUrl").map(|(i, _)| i).collect()
}

/// An OPML list's feeds, each once: a later outline of a feed already
/// listed is a warning naming both lines, and its tags join the first's.
pub(super) fn dedup_feeds(
    list: Vec<FeedSpec>,
    src: &Source,
    diags: &mut Vec<Diagnostic>,
    warnings: &mut Vec<Diagnostic>,
) -> Vec<FeedSpec> {
    let offsets = xml_url_offsets(&src.text);
    let at = |i: usize| offsets.get(i).copied().filter(|_| offsets.len() == list.len());
    let mut first: HashMap<String, (usize, Option<usize>)> = HashMap::new();
    let mut out: Vec<FeedSpec> = Vec::new();
    for (i, f) in list.iter().enumerate() {
        let diag = |message: String| match at(i) {
            Some(o) => src.diag_at(o, "xmlUrl".len(), message),
            None => whole_file(&src.path, message),
        };
        match url::Url::parse(f.url.trim()) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {
                let key = feed_identity(u);
                if let Some(&(index, offset)) = first.get(&key) {
                    let where_first =
                        offset.map_or_else(String::new, |o| format!(" (first listed on line {})", src.line_of(o)));
                    warnings.push(
                        diag(format!("duplicate feed url{where_first}: polled once, tags merged")).into_warning(),
                    );
                    let kept: &mut FeedSpec = &mut out[index];
                    for t in &f.tags {
                        if !kept.tags.contains(t) {
                            kept.tags.push(t.clone());
                        }
                    }
                    continue;
                }
                first.insert(key.clone(), (out.len(), at(i)));
                out.push(FeedSpec { url: key, ..f.clone() });
            }
            _ => diags.push(diag(format!("outline with invalid feed url '{}'", f.url))),
        }
    }
    out
}

/// What [`import_opml`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Imported {
    pub added: usize,
    pub skipped: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: invalid OPML: {message}")]
    Opml { path: PathBuf, message: String },
    #[error("cannot write {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Adds the feeds of an OPML file to the configured feed list, skipping
/// those already listed: appended as `[[feed]]` tables to a TOML list, or
/// written back as OPML for an OPML list.
pub fn import_opml(feeds: &[FeedSpec], list: &Path, opml_file: &Path) -> Result<Imported, ImportError> {
    let read = |p: &Path| {
        std::fs::read_to_string(p).map_err(|source| ImportError::Read {
            path: p.to_path_buf(),
            source,
        })
    };
    let write = |p: &Path, text: String| {
        std::fs::write(p, text).map_err(|source| ImportError::Write {
            path: p.to_path_buf(),
            source,
        })
    };
    let incoming = parse_opml(&read(opml_file)?).map_err(|message| ImportError::Opml {
        path: opml_file.to_path_buf(),
        message,
    })?;
    let mut known: HashSet<String> = feeds.iter().map(|f| f.url.clone()).collect();
    let mut added = Vec::new();
    let mut skipped = 0;
    for f in incoming {
        match url::Url::parse(f.url.trim()) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && known.insert(feed_identity(u.clone())) => {
                added.push(FeedSpec {
                    url: feed_identity(u),
                    ..f
                });
            }
            _ => skipped += 1,
        }
    }
    if list
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("opml") || e.eq_ignore_ascii_case("xml"))
    {
        let mut all = feeds.to_vec();
        all.extend(added.iter().cloned());
        let xml = to_opml(&all).map_err(|message| ImportError::Opml {
            path: list.to_path_buf(),
            message,
        })?;
        write(list, xml)?;
    } else {
        let mut text = read(list)?;
        if !text.ends_with('\n') && !text.is_empty() {
            text.push('\n');
        }
        let q = |s: &str| toml::Value::String(s.to_string()).to_string();
        for f in &added {
            text.push_str(&format!("\n[[feed]]\nurl = {}\nname = {}\n", q(&f.url), q(&f.name)));
            if let Some(l) = &f.lang {
                text.push_str(&format!("lang = {}\n", q(l)));
            }
            if !f.tags.is_empty() {
                let tags: Vec<String> = f.tags.iter().map(|t| q(t)).collect();
                text.push_str(&format!("tags = [{}]\n", tags.join(", ")));
            }
        }
        write(list, text)?;
    }
    Ok(Imported {
        added: added.len(),
        skipped,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opml_round_trip() {
        let feeds = vec![
            FeedSpec {
                url: "https://a.example/rss".into(),
                name: "A".into(),
                lang: Some("uk".into()),
                interval: None,
                tags: vec!["wire".into()],
            },
            FeedSpec {
                url: "https://b.example/atom".into(),
                name: "B".into(),
                lang: None,
                interval: None,
                tags: vec![],
            },
        ];
        let xml = to_opml(&feeds).unwrap();
        let back = parse_opml(&xml).unwrap();
        assert_eq!(back, feeds);
    }
}
