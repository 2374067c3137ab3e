//! Deterministic generators of realistic items and rules for the
//! benchmarks: about 1 KB of news-like text per item.
#![allow(dead_code)]

use newshound::rules::{RuleDef, WatchlistDef};

pub const COMMON: &[&str] = &[
    "the",
    "of",
    "and",
    "to",
    "in",
    "a",
    "for",
    "on",
    "that",
    "with",
    "said",
    "was",
    "is",
    "by",
    "as",
    "at",
    "from",
    "it",
    "his",
    "an",
    "be",
    "has",
    "have",
    "are",
    "were",
    "but",
    "not",
    "after",
    "government",
    "minister",
    "president",
    "official",
    "officials",
    "week",
    "year",
    "new",
    "state",
    "country",
    "people",
    "report",
    "reports",
    "told",
    "would",
    "could",
    "police",
    "court",
    "market",
    "markets",
    "prices",
    "bank",
    "company",
    "shares",
    "election",
    "vote",
    "party",
    "leader",
    "leaders",
    "city",
    "region",
    "border",
    "security",
    "military",
    "forces",
    "attack",
    "strike",
    "killed",
    "health",
    "hospital",
    "school",
    "climate",
    "energy",
    "oil",
    "gas",
    "trade",
    "tariffs",
    "economy",
    "growth",
    "budget",
    "tax",
    "law",
    "bill",
    "senate",
    "house",
    "congress",
    "parliament",
    "talks",
    "meeting",
    "summit",
    "deal",
    "agreement",
    "plan",
    "proposal",
    "statement",
    "crisis",
    "war",
    "peace",
    "ceasefire",
    "aid",
    "sanctions",
    "investigation",
    "trial",
    "record",
    "season",
    "game",
    "team",
    "coach",
    "points",
    "scored",
    "film",
    "music",
    "festival",
    "weather",
    "storm",
    "flood",
    "fire",
    "power",
    "water",
    "food",
    "farmers",
    "workers",
    "strike",
    "union",
    "technology",
    "data",
    "ai",
    "software",
    "users",
    "online",
    "social",
    "media",
    "news",
    "press",
    "tuesday",
    "monday",
    "friday",
    "sunday",
    "europe",
    "european",
    "union",
    "china",
    "india",
    "germany",
    "france",
    "britain",
    "london",
    "paris",
    "washington",
    "capital",
];

pub const STORY: &[&str] = &[
    "Witkoff",
    "Dmitriev",
    "Zelensky",
    "Ukraine",
    "Kyiv",
    "Russia",
    "Putin",
    "Kremlin",
    "Geneva",
    "peace plan",
    "28-point",
    "negotiators",
    "Driscoll",
    "Umerov",
    "Abu Dhabi",
    "Gaza",
    "Hamas",
    "Зеленський",
    "мирний план",
    "переговоры",
    "fredsplan",
    "Donbas",
    "security guarantees",
];

/// A deterministic pseudo-random source.
pub struct Gen(fastrand::Rng);

impl Gen {
    pub fn new(seed: u64) -> Gen {
        Gen(fastrand::Rng::with_seed(seed))
    }

    pub fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[self.0.usize(..from.len())]
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.0.f64() < p
    }

    pub fn below(&mut self, n: usize) -> usize {
        self.0.usize(..n)
    }

    /// `n` words of news text; `extra` words are mixed in with probability
    /// `p` each.
    pub fn sentence(&mut self, n: usize, extra: &[String], p: f64) -> String {
        let mut s = String::new();
        for i in 0..n {
            if i > 0 {
                s.push_str(if self.chance(0.08) { ", " } else { " " });
            }
            if !extra.is_empty() && self.chance(p) {
                s.push_str(&extra[self.below(extra.len())]);
            } else {
                s.push_str(self.pick(COMMON));
            }
        }
        s.push('.');
        s
    }
}

/// An item: title (~80 B), summary (~250 B), content (~700 B).
#[derive(Clone)]
pub struct BenchItem {
    pub title: String,
    pub summary: String,
    pub content: String,
}

impl BenchItem {
    pub fn bytes(&self) -> usize {
        self.title.len() + self.summary.len() + self.content.len()
    }
}

pub fn items(seed: u64, n: usize, extra: &[String], p: f64) -> Vec<BenchItem> {
    let mut g = Gen::new(seed);
    (0..n)
        .map(|_| BenchItem {
            title: g.sentence(12, extra, p * 2.0),
            summary: g.sentence(40, extra, p),
            content: g.sentence(120, extra, p),
        })
        .collect()
}

pub fn story_words() -> Vec<String> {
    STORY.iter().map(|s| s.to_string()).collect()
}

/// Made-up proper names (people, companies, places), as a watchlist of
/// many entities would name them.
pub fn entities(seed: u64, n: usize) -> Vec<String> {
    const SYL: &[&str] = &[
        "ka", "ro", "mi", "ten", "vol", "dra", "sen", "ber", "lin", "gor", "tal", "vas", "nik", "ost", "mar", "pel",
        "run", "zem", "hal", "tor", "quin", "bel", "dor", "fis", "lek", "nav", "ruv", "sol", "tek", "ulm",
    ];
    let mut g = Gen::new(seed);
    let name = |g: &mut Gen| {
        let k = 2 + g.below(2);
        let mut s: String = (0..k).map(|_| g.pick(SYL)).collect();
        if let Some(f) = s.get_mut(0..1) {
            f.make_ascii_uppercase();
        }
        s
    };
    (0..n)
        .map(|i| {
            if i % 3 == 0 {
                format!("{} {}", name(&mut g), name(&mut g))
            } else {
                name(&mut g)
            }
        })
        .collect()
}

/// `n` rules in the shapes analysts write: an entity (as a phrase, a
/// prefix or a fuzzy term) with topic words, proximity, or exclusions.
pub fn rules(seed: u64, ents: &[String], n: usize) -> WatchlistDef {
    let mut g = Gen::new(seed);
    let topics = [
        "deal",
        "plan",
        "talks",
        "sanctions",
        "attack",
        "election",
        "court",
        "strike",
        "summit",
        "report",
    ];
    let rules = (0..n)
        .map(|i| {
            let e = &ents[i % ents.len()];
            let t1 = g.pick(&topics);
            let t2 = g.pick(&topics);
            let ent = if e.contains(' ') {
                format!("\"{e}\"")
            } else if g.chance(0.3) && e.len() >= 5 {
                format!("{e}~")
            } else if g.chance(0.3) {
                format!("{}*", &e[..e.len() - 1])
            } else {
                e.clone()
            };
            let query = match i % 4 {
                0 => format!("{ent} AND ({t1} OR {t2})"),
                1 => format!("{ent} NEAR/8 ({t1} OR {t2})"),
                2 => format!(
                    "({ent} OR {}) -{t1}",
                    ents[(i * 7 + 1) % ents.len()].split(' ').next().unwrap_or("x")
                ),
                _ => format!("title:{ent} OR (summary:{ent} AND {t1})"),
            };
            RuleDef {
                id: format!("rule-{i}"),
                query,
                severity: None,
                weight: None,
            }
        })
        .collect();
    WatchlistDef {
        name: "generated".into(),
        rules,
        version: "bench".into(),
        ..Default::default()
    }
}

/// The titles of `../shared/corpus/news-2025/items.jsonl`, in stream order;
/// `None` when the corpus is absent.
pub fn corpus_titles() -> Option<Vec<String>> {
    Some(corpus_pieces()?.into_iter().map(|(t, _)| t).collect())
}

/// (title, summary) of every item of `../shared/corpus/news-2025/items.jsonl`,
/// in stream order; `None` when the corpus is absent.
pub fn corpus_pieces() -> Option<Vec<(String, String)>> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/news-2025/items.jsonl");
    let text = std::fs::read_to_string(&path).ok()?;
    Some(
        text.lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .map(|v| {
                let field = |k: &str| v[k].as_str().unwrap_or("").to_string();
                (field("title"), field("summary"))
            })
            .collect(),
    )
}

/// Items of about 1 KB made of real news text: consecutive headlines and
/// summaries of `../shared/corpus/news-2025/items.jsonl` (the title of one,
/// then the text of the next ones). Falls back to generated text when the
/// corpus is absent. Returns the items and where they came from.
pub fn news_items(n: usize) -> (Vec<BenchItem>, &'static str) {
    let Some(pieces) = corpus_pieces() else {
        return (items(7, n, &story_words(), 0.004), "generated text");
    };
    let mut out = Vec::with_capacity(n);
    let mut i = 0;
    while out.len() < n && i + 1 < pieces.len() {
        let title = pieces[i].0.clone();
        i += 1;
        let mut summary = String::new();
        while summary.len() < 250 && i < pieces.len() {
            summary.push_str(&pieces[i].0);
            summary.push_str(". ");
            summary.push_str(&pieces[i].1);
            summary.push(' ');
            i += 1;
        }
        let mut content = String::new();
        while content.len() < 700 && i < pieces.len() {
            content.push_str(&pieces[i].0);
            content.push_str(". ");
            content.push_str(&pieces[i].1);
            content.push(' ');
            i += 1;
        }
        out.push(BenchItem {
            title,
            summary,
            content,
        });
    }
    (out, "real news text (news-2025 corpus)")
}

/// Mixes made-up names into items' content, one word in about `1/every`.
pub fn with_names(mut items: Vec<BenchItem>, names: &[String], every: usize, seed: u64) -> Vec<BenchItem> {
    let mut g = Gen::new(seed);
    for it in &mut items {
        let words: Vec<&str> = it.content.split(' ').collect();
        let mut s = String::with_capacity(it.content.len() + 64);
        for (k, w) in words.iter().enumerate() {
            if k > 0 {
                s.push(' ');
            }
            if g.below(every) == 0 {
                s.push_str(&names[g.below(names.len())]);
                s.push(' ');
            }
            s.push_str(w);
        }
        it.content = s;
    }
    items
}

/// Words of [`COMMON`] that are not about conflict or diplomacy: the body
/// of an article on anything else.
pub fn neutral_words() -> Vec<String> {
    const STORYISH: &[&str] = &[
        "talks",
        "meeting",
        "summit",
        "deal",
        "agreement",
        "plan",
        "proposal",
        "crisis",
        "war",
        "peace",
        "ceasefire",
        "aid",
        "sanctions",
        "military",
        "forces",
        "attack",
        "strike",
        "killed",
        "security",
        "border",
        "minister",
        "president",
        "leader",
        "leaders",
        "official",
        "officials",
        "statement",
        "government",
        "state",
        "country",
        "europe",
        "european",
        "china",
        "india",
        "germany",
        "france",
        "britain",
        "london",
        "paris",
        "washington",
        "capital",
        "union",
        "region",
    ];
    COMMON
        .iter()
        .filter(|w| !STORYISH.contains(w))
        .map(|w| w.to_string())
        .collect()
}

/// Items as a monitor sees them: the title and summary of one real item of
/// the news-2025 stream (taken evenly across it), and a body of about
/// 750 bytes of words from [`neutral_words`], for items of about 1 KB: the
/// story's words come in at the rate the real stream carries them. Falls back to
/// generated text when the corpus is absent.
pub fn stream_items(n: usize) -> (Vec<BenchItem>, &'static str) {
    let Some(pieces) = corpus_pieces() else {
        return (items(7, n, &story_words(), 0.004), "generated text");
    };
    let step = (pieces.len() / n.max(1)).max(1);
    let mut g = Gen::new(23);
    let body = neutral_words();
    let out = pieces
        .into_iter()
        .step_by(step)
        .take(n)
        .map(|(title, summary)| BenchItem {
            title,
            summary,
            content: g.sentence(150, &body, 1.0),
        })
        .collect();
    (out, "news-2025 titles and summaries with neutral bodies")
}

/// The program at the first of `paths` that exists, installing Debian's
/// `package` first when none does.
pub fn ensure_program(paths: &[&str], package: &str) -> std::path::PathBuf {
    let found = || paths.iter().map(std::path::PathBuf::from).find(|p| p.exists());
    if let Some(p) = found() {
        return p;
    }
    eprintln!("{package} is missing: installing Debian's package");
    let apt = |args: &[&str]| {
        std::process::Command::new("apt-get")
            .args(args)
            .status()
            .is_ok_and(|s| s.success())
    };
    let install = ["install", "-y", "-q", "--no-install-recommends", package];
    let _ = apt(&install) || (apt(&["update", "-q"]) && apt(&install));
    found().unwrap_or_else(|| panic!("cannot install {package}; install it (apt-get install {package}) and run again"))
}
