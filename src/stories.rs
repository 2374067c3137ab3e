//! Story grouping beyond shared links and titles: whether two items report
//! the same story, from the words of their titles and their times. The
//! daemon's commits and `newshound stories` decide with the same function.
//!
//! The rule, chosen on `../shared/corpus/stories/dev-pairs.jsonl` for
//! precision first (merging two stories hides an alert) and checked on both
//! halves of it: the titles' content words (stop words dropped, cut to
//! their first five letters so that inflections meet), at least three
//! each, overlap with a Jaccard index that must be the higher the further
//! apart the items are (0.45 at the same moment, 0.015 more an hour, 0.8
//! from a day on, up to three days), and their numbers do not disagree
//! (round 1, round 2; one day's notice and the next day's).
//!
//! A second path takes two headlines that word one report differently
//! ("Trump pardons Texas Democratic Rep. Cuellar..." / "Trump pardons US
//! Congressman Cuellar of Texas..."): within 16 hours, sharing at least
//! two rare words (each in at most 0.3% of the titles of the last 30 days,
//! [`WordCounts`]), whose overlap weighted by rarity (each word by the log
//! of how rare it is) is at least 0.35. A story is every copy that joined
//! it: a new title is compared with each of them, and a title that
//! reports two stories makes them one.

use std::collections::VecDeque;

use crate::text;

/// Items further apart than this are different stories.
pub const WINDOW_MS: i64 = 72 * 3600 * 1000;
/// The least Jaccard index of two titles' words for one story, for items
/// published at the same moment ...
pub const THRESHOLD: f64 = 0.45;
/// ... and how much more it takes for each hour between them ...
const THRESHOLD_PER_HOUR: f64 = 0.015;
/// ... up to this.
const THRESHOLD_MAX: f64 = 0.8;
/// Titles with fewer content words do not say enough to be grouped.
pub const MIN_WORDS: usize = 3;
/// The rare-word path: items at most this far apart ...
const RARE_WITHIN_MS: i64 = 16 * 3600 * 1000;
/// ... sharing at least this many rare words ...
const RARE_SHARED: usize = 2;
/// ... a word being rare in at most this share of the recent titles ...
const RARE_SHARE: f64 = 0.003;
/// ... and overlapping, weighted by rarity, at least this much.
const RARE_OVERLAP: f64 = 0.35;
/// How far back [`WordCounts`] counts titles ...
pub const COUNTS_KEPT_MS: i64 = 30 * 24 * 3600 * 1000;
/// ... and how many of them, the most recent, at most.
pub const COUNTS_MAX_TITLES: usize = 50_000;
/// The time bands of [`StoryIndex`] (ms from the new title): each is read
/// at the overlap its near edge needs.
const BAND_EDGES: [i64; BANDS + 1] = [0, 8 * 3600 * 1000, 24 * 3600 * 1000, WINDOW_MS];
const BANDS: usize = 3;
/// Letters a word is cut to.
const STEM: usize = 5;

/// Function words of the languages the shipped feeds carry.
const STOP: &[&str] = &[
    // en
    "the",
    "and",
    "for",
    "with",
    "from",
    "that",
    "this",
    "into",
    "after",
    "over",
    "about",
    "says",
    "said",
    "say",
    "are",
    "was",
    "were",
    "has",
    "have",
    "had",
    "will",
    "not",
    "but",
    "its",
    "his",
    "her",
    "their",
    "they",
    "what",
    "who",
    "how",
    "why",
    "new",
    "more",
    "than",
    "amid",
    "out",
    "could",
    "would",
    "can",
    "may",
    "been",
    "being",
    // de
    "der",
    "die",
    "das",
    "und",
    "mit",
    "für",
    "von",
    "den",
    "dem",
    "des",
    "ein",
    "eine",
    "nach",
    "auf",
    "ist",
    "nicht",
    "auch",
    "sich",
    "bei",
    "zum",
    "zur",
    // fr, es
    "les",
    "des",
    "une",
    "pour",
    "dans",
    "sur",
    "avec",
    "par",
    "qui",
    "que",
    "est",
    "los",
    "las",
    "del",
    "con",
    "por",
    "para",
    "una",
    "como",
    // sv
    "och",
    "att",
    "som",
    "för",
    "med",
    "den",
    "det",
    "till",
    "från",
    "efter",
    "inte",
    "har",
    "ett",
    "kan",
    "vid",
    // ru, uk
    "что",
    "как",
    "это",
    "для",
    "при",
    "его",
    "она",
    "они",
    "или",
    "так",
    "уже",
    "после",
    "над",
    "под",
    "про",
    "все",
    "щодо",
    "який",
    "яка",
    "які",
    "після",
    "про",
    "для",
    "від",
    "але",
    "вже",
    "через",
    "також",
];

/// A title's content words, cut and sorted: what [`same_story`] compares.
/// An aggregator's " - Publisher" ending and a wire's "UPDATE 1-" start are
/// left out.
pub fn title_words(title: &str) -> Vec<String> {
    let t = strip_decorations(title);
    let n = text::normalize(t);
    let stop = stop_words();
    let mut words: Vec<String> = (0..n.tokens.len())
        .map(|i| n.word(i))
        .filter(|w| {
            let letters = w.chars().count();
            (letters >= 3 || w.chars().all(|c| c.is_ascii_digit())) && !stop.contains(w)
        })
        .map(|w| match w.char_indices().nth(STEM) {
            Some((end, _)) => w[..end].to_string(),
            None => w.to_string(),
        })
        .collect();
    words.sort_unstable();
    words.dedup();
    words
}

/// [`STOP`] as a set: every title's every word is looked up.
fn stop_words() -> &'static rustc_hash::FxHashSet<&'static str> {
    static SET: std::sync::OnceLock<rustc_hash::FxHashSet<&'static str>> = std::sync::OnceLock::new();
    SET.get_or_init(|| STOP.iter().copied().collect())
}

fn strip_decorations(title: &str) -> &str {
    let mut t = title.trim();
    // "UPDATE 2-...", "LIVE: ...", "DN Direkt - ...".
    for prefix in [
        "UPDATE",
        "LIVE",
        "BREAKING",
        "DN Direkt",
        "Direkt",
        "EXCLUSIVE",
        "Exclusive",
        "JUST NU",
    ] {
        if let Some(rest) = t.strip_prefix(prefix) {
            let rest = rest.trim_start_matches(|c: char| c.is_ascii_digit() || c == ' ');
            if let Some(r) = rest.strip_prefix(['-', ':', '–', '|']) {
                t = r.trim_start();
            }
        }
    }
    match t
        .rsplit_once(" - ")
        .or_else(|| t.rsplit_once(" – "))
        .or_else(|| t.rsplit_once(" | "))
    {
        Some((head, tail)) if tail.split_whitespace().count() <= 4 && head.split_whitespace().count() >= 5 => head,
        _ => t,
    }
}

/// An item's time for grouping (Unix ms): when it was published, unless
/// that is later than when it was first seen or more than 30 days before
/// (placeholder dates such as 1970), else when it was first seen.
pub fn story_time(published: Option<i64>, first_seen: i64) -> i64 {
    const MONTH_MS: i64 = 30 * 24 * 3600 * 1000;
    published
        .filter(|p| *p <= first_seen && first_seen - p <= MONTH_MS)
        .unwrap_or(first_seen)
}

/// Whether two items (their [`title_words`] and times, Unix ms) report the
/// same story.
pub fn same_story(a: &[String], a_at: i64, b: &[String], b_at: i64) -> bool {
    decide((a_at - b_at).abs(), a.len(), b.len(), numbers_differ(a, b), || {
        shared_words(a, b)
    })
}

/// Whether two items report the same story, by [`same_story`] or by the
/// rare words they share (`counts`: how common each word is lately).
pub fn same_story_given(a: &[String], a_at: i64, b: &[String], b_at: i64, counts: &WordCounts) -> bool {
    if same_story(a, a_at, b, b_at) {
        return true;
    }
    if (a_at - b_at).abs() > RARE_WITHIN_MS || a.len() < MIN_WORDS || b.len() < MIN_WORDS || numbers_differ(a, b) {
        return false;
    }
    let shared: Vec<&String> = a.iter().filter(|w| b.binary_search(w).is_ok()).collect();
    rare_overlap(
        shared.iter().map(|w| w.as_str()),
        a.iter().chain(b).map(String::as_str),
        counts,
    )
}

fn numbers_differ(a: &[String], b: &[String]) -> bool {
    let mut na = a.iter().filter(|w| is_number(w)).peekable();
    let mut nb = b.iter().filter(|w| is_number(w)).peekable();
    na.peek().is_some() && nb.peek().is_some() && !na.eq(nb)
}

/// The rare-word test on two titles' `shared` words and all their words
/// (`both`, the shared ones twice): enough shared rare words, and a shared
/// weight (each word by the log of how rare it is) of at least
/// [`RARE_OVERLAP`] of the union's.
fn rare_overlap<'w>(
    shared: impl Iterator<Item = &'w str> + Clone,
    both: impl Iterator<Item = &'w str>,
    counts: &WordCounts,
) -> bool {
    if shared.clone().filter(|w| counts.is_rare(w)).count() < RARE_SHARED {
        return false;
    }
    let common: f64 = shared.map(|w| counts.weight(w)).sum();
    // The union's weight: both titles' words, less the shared ones once.
    let union = both.map(|w| counts.weight(w)).sum::<f64>() - common;
    union > 0.0 && common / union >= RARE_OVERLAP
}

/// How many of the titles of the last [`COUNTS_KEPT_MS`] (by the time they
/// are added) have each word: what makes a word rare. The daemon counts
/// every new item's title; `newshound stories` the stream's, in time order.
#[derive(Debug, Default)]
pub struct WordCounts {
    numbers: rustc_hash::FxHashMap<Box<str>, u32>,
    /// By word number: titles that have it.
    df: Vec<u32>,
    /// The titles counted, oldest first: when, and their word numbers.
    recent: VecDeque<(i64, Box<[u32]>)>,
    /// Words with a count above zero.
    live_words: usize,
}

impl WordCounts {
    pub fn new() -> WordCounts {
        WordCounts::default()
    }

    /// Counts a title's [`title_words`] at `at` (Unix ms), and forgets the
    /// titles counted more than [`COUNTS_KEPT_MS`] before, and the oldest
    /// beyond [`COUNTS_MAX_TITLES`].
    pub fn add(&mut self, words: &[String], at: i64) {
        let mut numbered = Vec::with_capacity(words.len());
        for w in words {
            let n = match self.numbers.get(w.as_str()) {
                Some(&n) => n,
                None => {
                    let Ok(n) = u32::try_from(self.df.len()) else { continue };
                    self.numbers.insert(w.as_str().into(), n);
                    self.df.push(0);
                    n
                }
            };
            if let Some(d) = self.df.get_mut(n as usize) {
                if *d == 0 {
                    self.live_words += 1;
                }
                *d += 1;
                numbered.push(n);
            }
        }
        self.recent.push_back((at, numbered.into_boxed_slice()));
        while self.recent.len() > COUNTS_MAX_TITLES
            || self.recent.front().is_some_and(|(t, _)| *t < at - COUNTS_KEPT_MS)
        {
            let Some((_, old)) = self.recent.pop_front() else { break };
            for &n in old.iter() {
                if let Some(d) = self.df.get_mut(n as usize) {
                    *d = d.saturating_sub(1);
                    if *d == 0 {
                        self.live_words -= 1;
                    }
                }
            }
        }
        // Words no title counted has any more are renumbered away once
        // they are most of the vocabulary.
        if self.df.len() > 1024 && self.live_words * 4 < self.df.len() {
            self.compact();
        }
    }

    fn compact(&mut self) {
        let mut renumber = vec![u32::MAX; self.df.len()];
        let mut df = Vec::with_capacity(self.live_words);
        self.numbers.retain(|_, n| {
            let Some(&d) = self.df.get(*n as usize) else {
                return false;
            };
            if d == 0 {
                return false;
            }
            if let (Some(r), Ok(new)) = (renumber.get_mut(*n as usize), u32::try_from(df.len())) {
                *r = new;
                df.push(d);
                *n = new;
                true
            } else {
                false
            }
        });
        for (_, words) in self.recent.iter_mut() {
            for n in words.iter_mut() {
                *n = renumber.get(*n as usize).copied().unwrap_or(u32::MAX);
            }
        }
        self.df = df;
    }

    /// Titles counted.
    pub fn titles(&self) -> usize {
        self.recent.len()
    }

    /// How many titles counted have `word` (at least 1: the title asking).
    fn df(&self, word: &str) -> f64 {
        let d = self.numbers.get(word).and_then(|&n| self.df.get(n as usize)).copied();
        f64::from(d.unwrap_or(0).max(1))
    }

    /// A word in so few recent titles that two titles sharing it say
    /// something; numbers never are.
    fn is_rare(&self, word: &str) -> bool {
        !is_number(word) && self.df(word) <= RARE_SHARE * self.titles() as f64
    }

    /// A word's weight: the log of how rare it is.
    fn weight(&self, word: &str) -> f64 {
        (self.titles().max(1) as f64 / self.df(word)).ln().max(0.0)
    }
}

/// The decision of [`same_story`] from what it needs of two titles: how
/// far apart they are (ms), their word counts, whether their numbers
/// disagree, and (asked last, as the dearest) how many words they share.
/// The index decides with it too, so the two cannot drift apart.
fn decide(apart: i64, a_len: usize, b_len: usize, numbers_differ: bool, shared: impl FnOnce() -> usize) -> bool {
    if apart > WINDOW_MS || a_len < MIN_WORDS || b_len < MIN_WORDS {
        return false;
    }
    // A length filter first: the index asks this of thousands of stories.
    let needed = least_overlap(apart);
    let (short, long) = if a_len <= b_len { (a_len, b_len) } else { (b_len, a_len) };
    if (short as f64) < needed * long as f64 {
        return false;
    }
    // Numbers that disagree tell a series apart: round 1 and round 2, one
    // day's police summary and the next. (A toll updated within hours is
    // one story too, but it looks like a series.)
    if numbers_differ {
        return false;
    }
    let shared = shared();
    let union = a_len + b_len - shared;
    union > 0 && shared as f64 / union as f64 >= needed
}

/// The least Jaccard index of two titles of one story `apart` ms apart.
fn least_overlap(apart: i64) -> f64 {
    let hours = apart as f64 / 3_600_000.0;
    (THRESHOLD + THRESHOLD_PER_HOUR * hours).min(THRESHOLD_MAX)
}

fn is_number(w: &str) -> bool {
    w.chars().all(|c| c.is_ascii_digit())
}

/// How many words two sorted, deduplicated lists share.
fn shared_words<T: Ord>(a: &[T], b: &[T]) -> usize {
    // Both sorted: one merge pass.
    let (mut i, mut j, mut shared) = (0, 0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                shared += 1;
                i += 1;
                j += 1;
            }
        }
    }
    shared
}

/// The stories already seen, indexed by their title words so that
/// finding the one a new title belongs to does not compare it with every
/// story in the window. Exact: a story [`same_story`] would take is always
/// compared. A title of `n` words shares at least `k = ceil(t * n)` of
/// them with any story it joins (`t` the least Jaccard index for the time
/// between them, read per time band at the band's near edge: 0-8 h, 8-24
/// h, 24-72 h), so at least `k - j` of any `n - j` of its words: per band
/// the index reads the lists of its `n - j` rarest words (`j = k - 2`),
/// counts per story, and looks further only at the stories with that
/// many. Of those, the ones whose length (kept apart, one byte a story)
/// says that even all the words not read would not make the overlap are
/// left too; the rest are compared.
///
/// Words are numbered as they come (their lists, and the stories' word
/// lists, hold numbers); each word's list holds its stories' times and
/// slots apart, in time order, so that a band's edges are found by a
/// search over the times alone, from the end, where new titles fall.
#[derive(Debug, Default)]
pub struct StoryIndex {
    /// Stories by slot; `None` once forgotten.
    entries: Vec<Option<Entry>>,
    /// Word -> its number.
    numbers: rustc_hash::FxHashMap<Box<str>, u32>,
    /// By word number: the word.
    names: Vec<Box<str>>,
    /// By word number: its weight for the rare-word path, and the call of
    /// [`StoryIndex::find`] that weighed it (counts change between calls).
    weights: Vec<(u32, f64)>,
    call: u32,
    /// By word number: whether the word is a number.
    numeric: Vec<bool>,
    /// By word number: the stories whose titles have it, in time order
    /// (forgotten slots stay until the next compaction).
    postings: Vec<Postings>,
    live: usize,
    /// Scratch for [`StoryIndex::find`]: per slot, the round it was last
    /// counted in (high 8 bits) and the words it shares in that round
    /// (low 8), so that the marks are cleared once in 255 rounds; the round;
    /// the slots with enough shared words; the title's word numbers and
    /// where its lists cross the time bands.
    marks: Vec<u16>,
    round: u16,
    /// Per slot, its title's word count (255 for 255 and more).
    lens: Vec<u8>,
    candidates: Vec<u32>,
    query: Vec<u32>,
    edges: Vec<[[usize; 2]; BANDS]>,
}

#[derive(Debug, Default)]
struct Postings {
    at: Vec<i64>,
    slot: Vec<u32>,
}

/// The first index of `v` whose value fails `before` (which holds for a
/// prefix of `v`), searched from the end: in steps that double, then
/// binary, so that an edge near the end costs a few looks.
fn from_end(v: &[i64], before: impl Fn(i64) -> bool) -> usize {
    let mut hi = v.len();
    let mut step = 1;
    while step <= v.len() {
        let i = v.len() - step;
        if before(v[i]) {
            return i + 1 + v[i + 1..hi].partition_point(|&x| before(x));
        }
        hi = i;
        step *= 2;
    }
    v[..hi].partition_point(|&x| before(x))
}

/// Counts one more shared word for `slot` in `round` (the high 8 bits of
/// its mark; the low 8 count): its count so far.
fn mark(marks: &mut [u16], slot: u32, round: u16) -> Option<u16> {
    let m = marks.get_mut(slot as usize)?;
    let shared = if *m & !0xFF == round { (*m & 0xFF) + 1 } else { 1 };
    *m = round | shared.min(0xFF);
    Some(shared)
}

#[derive(Debug)]
struct Entry {
    id: String,
    /// Word numbers, sorted.
    words: Vec<u32>,
    at: i64,
}

impl StoryIndex {
    pub fn new() -> StoryIndex {
        StoryIndex::default()
    }

    /// Stories held.
    pub fn len(&self) -> usize {
        self.live
    }

    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// Adds a story: its id, its [`title_words`] and its time (Unix ms).
    /// Titles too short to be grouped are not held.
    pub fn insert(&mut self, id: String, words: Vec<String>, at: i64) {
        if words.len() < MIN_WORDS {
            return;
        }
        let Ok(slot) = u32::try_from(self.entries.len()) else {
            return;
        };
        let mut numbered = Vec::with_capacity(words.len());
        for w in words {
            let Some(n) = self.number(w) else { return };
            numbered.push(n);
        }
        numbered.sort_unstable();
        numbered.dedup();
        self.add(
            Entry {
                id,
                words: numbered,
                at,
            },
            slot,
        );
    }

    /// The number of a word, given one if it is new (`None` past u32).
    fn number(&mut self, w: String) -> Option<u32> {
        if let Some(&n) = self.numbers.get(w.as_str()) {
            return Some(n);
        }
        let n = u32::try_from(self.numeric.len()).ok()?;
        let w: Box<str> = w.into_boxed_str();
        self.numeric.push(is_number(&w));
        self.names.push(w.clone());
        self.numbers.insert(w, n);
        self.postings.push(Postings::default());
        Some(n)
    }

    fn add(&mut self, e: Entry, slot: u32) {
        for &w in &e.words {
            let Some(list) = self.postings.get_mut(w as usize) else {
                continue;
            };
            // Stories mostly come in time order: an append.
            if list.at.last().is_none_or(|&t| t <= e.at) {
                list.at.push(e.at);
                list.slot.push(slot);
            } else {
                let pos = list.at.partition_point(|&t| t <= e.at);
                list.at.insert(pos, e.at);
                list.slot.insert(pos, slot);
            }
        }
        self.lens.push(u8::try_from(e.words.len()).unwrap_or(u8::MAX));
        self.entries.push(Some(e));
        self.live += 1;
    }

    /// The ids of the stories held that `words` at `at` reports
    /// ([`same_story_given`] with any of their titles), earliest first,
    /// each once.
    pub fn find(&mut self, words: &[String], at: i64, counts: &WordCounts) -> Vec<String> {
        let n = words.len();
        if n < MIN_WORDS || self.live == 0 {
            return Vec::new();
        }
        // The title's words by number; those the index has never seen are
        // in no story and only count towards its length and numbers.
        let mut query = std::mem::take(&mut self.query);
        query.clear();
        let (mut numbers_unseen, mut has_numbers) = (false, false);
        for w in words {
            let number = is_number(w);
            has_numbers |= number;
            match self.numbers.get(w.as_str()) {
                Some(&id) => query.push(id),
                None => numbers_unseen |= number,
            }
        }
        let mut by_number = query.clone();
        by_number.sort_unstable();
        let our_numbers: Vec<u32> = by_number.iter().copied().filter(|&w| self.is_number(w)).collect();
        // Rarest first (by list length over the whole window: any choice
        // of words to leave out is exact, the commonest saves the most).
        query.sort_unstable_by_key(|&w| self.postings.get(w as usize).map_or(0, |p| p.at.len()));
        let unseen = n - query.len();
        // Stories near `at` need the least overlap; those further away need
        // more, so fewer of their lists are read. Each band at the overlap
        // its nearest edge needs: a story in a band needs at least `k`
        // shared words, so at least `k - skip` of the title's `n - skip`
        // rarest (the unseen ones, with empty lists, first).
        let mut reads = [(0usize, 0u8); BANDS];
        for (r, &near) in reads.iter_mut().zip(&BAND_EDGES) {
            let k = (least_overlap(near) * n as f64 - 1e-9).ceil().max(1.0) as usize;
            let skip = k.saturating_sub(2);
            *r = ((n - skip).saturating_sub(unseen).min(query.len()), (k - skip) as u8);
        }
        // Where each list read crosses the band edges, before `at` (first
        // story at or after `at - edge`) and after (first story after
        // `at + edge`): new titles mostly come last, so searched from the
        // end.
        let mut edges = std::mem::take(&mut self.edges);
        edges.clear();
        for (j, &w) in query[..reads[0].0].iter().enumerate() {
            let mut e = [[0usize; 2]; BANDS];
            if let Some(p) = self.postings.get(w as usize) {
                let t = &p.at;
                let bands = reads.iter().take_while(|r| j < r.0).count();
                for (i, &edge) in BAND_EDGES[1..=bands].iter().enumerate() {
                    e[i] = [from_end(t, |x| x < at - edge), from_end(t, |x| x <= at + edge)];
                }
            }
            edges.push(e);
        }
        let mut found: Vec<usize> = Vec::new();
        let mut candidates = std::mem::take(&mut self.candidates);
        self.marks.resize(self.entries.len(), 0);
        for (band, &(read, need)) in reads.iter().enumerate() {
            let round = self.next_round();
            candidates.clear();
            for (&w, e) in query[..read].iter().zip(&edges) {
                let Some(p) = self.postings.get(w as usize) else {
                    continue;
                };
                let (a, b) = if band == 0 {
                    (p.slot.get(e[0][0]..e[0][1]).unwrap_or(&[]), &[][..])
                } else {
                    let (inner, outer) = (e[band - 1], e[band]);
                    (
                        p.slot.get(outer[0]..inner[0]).unwrap_or(&[]),
                        p.slot.get(inner[1]..outer[1]).unwrap_or(&[]),
                    )
                };
                for &slot in a.iter().chain(b) {
                    let Some(shared) = mark(&mut self.marks, slot, round) else {
                        continue;
                    };
                    if shared == u16::from(need) {
                        candidates.push(slot);
                    }
                }
            }
            // The story's length bounds what it can share: the words
            // counted, and at most all the title's words not read. Those
            // that cannot reach the band's overlap even so are left
            // without reading the story itself.
            let least = least_overlap(BAND_EDGES[band]);
            let unread = query.len() - read;
            for &slot in &candidates {
                let m = self.lens.get(slot as usize).copied().unwrap_or(u8::MAX);
                let counted = self.marks.get(slot as usize).map_or(0, |&c| usize::from(c as u8));
                if m < u8::MAX {
                    let m = usize::from(m);
                    let most = (counted + unread).min(m).min(n);
                    // The division `decide` makes (never NaN: n >= 3), so
                    // that a story it would take is never left.
                    if (most as f64 / (n + m - most) as f64) < least {
                        continue;
                    }
                }
                let Some(Some(e)) = self.entries.get(slot as usize) else {
                    continue;
                };
                if found.iter().any(|&f| self.id_of(f) == Some(&e.id)) {
                    continue;
                }
                let differ = has_numbers && self.numbers_differ(e, numbers_unseen, &our_numbers);
                if decide((at - e.at).abs(), n, e.words.len(), differ, || {
                    shared_words(&by_number, &e.words)
                }) {
                    found.push(slot as usize);
                }
            }
        }
        self.edges = edges;
        // The rare-word path: the stories near in time that share two of
        // the title's rare words, read from those words' (short) lists.
        let rare: Vec<u32> = query
            .iter()
            .copied()
            .filter(|&w| self.names.get(w as usize).is_some_and(|name| counts.is_rare(name)))
            .collect();
        if rare.len() >= RARE_SHARED {
            // The title's words' weights, by number (those the index has
            // never seen count in its total only): a story whose shared
            // weight is under the share of the title's total alone cannot
            // pass, as the union weighs at least the title.
            let weights: Vec<f64> = by_number
                .iter()
                .map(|&w| self.names.get(w as usize).map_or(0.0, |name| counts.weight(name)))
                .collect();
            let total: f64 = words.iter().map(|w| counts.weight(w)).sum();
            self.call = self.call.wrapping_add(1);
            if self.call == 0 {
                self.weights.iter_mut().for_each(|w| w.0 = 0);
                self.call = 1;
            }
            let call = self.call;
            self.weights.resize(self.names.len(), (0, 0.0));
            let round = self.next_round();
            candidates.clear();
            for &w in &rare {
                let Some(p) = self.postings.get(w as usize) else {
                    continue;
                };
                let from = from_end(&p.at, |x| x < at - RARE_WITHIN_MS);
                let to = from_end(&p.at, |x| x <= at + RARE_WITHIN_MS);
                for &slot in p.slot.get(from..to).unwrap_or(&[]) {
                    let Some(shared) = mark(&mut self.marks, slot, round) else {
                        continue;
                    };
                    if shared == RARE_SHARED as u16 {
                        candidates.push(slot);
                    }
                }
            }
            candidates.sort_unstable();
            for &slot in &candidates {
                let Some(Some(e)) = self.entries.get(slot as usize) else {
                    continue;
                };
                if found.iter().any(|&f| self.id_of(f) == Some(&e.id))
                    || (has_numbers && self.numbers_differ(e, numbers_unseen, &our_numbers))
                {
                    continue;
                }
                let common: f64 = e
                    .words
                    .iter()
                    .filter_map(|w| by_number.binary_search(w).ok())
                    .filter_map(|i| weights.get(i))
                    .sum();
                if common < RARE_OVERLAP * total * (1.0 - 1e-9) {
                    continue;
                }
                // The union's weight: the title's, the story's, less the
                // shared once (the story's words weighed once a call).
                let mut theirs = 0.0;
                for &w in &e.words {
                    let Some(memo) = self.weights.get_mut(w as usize) else {
                        continue;
                    };
                    if memo.0 != call {
                        let name = self.names.get(w as usize).map_or("", |b| &**b);
                        *memo = (call, counts.weight(name));
                    }
                    theirs += memo.1;
                }
                let union = total + theirs - common;
                if union > 0.0 && common / union >= RARE_OVERLAP {
                    found.push(slot as usize);
                }
            }
        }
        self.candidates = candidates;
        self.query = query;
        let mut stories: Vec<(i64, &str)> = found
            .iter()
            .filter_map(|&i| self.entries.get(i).and_then(|e| e.as_ref()))
            .map(|e| (e.at, e.id.as_str()))
            .collect();
        stories.sort_unstable();
        let mut ids: Vec<String> = Vec::with_capacity(stories.len());
        for (_, id) in stories {
            if !ids.iter().any(|x| x == id) {
                ids.push(id.to_string());
            }
        }
        ids
    }

    /// A new round of counting: the marks are cleared once in 255.
    fn next_round(&mut self) -> u16 {
        self.round = (self.round + 1) & 0xFF;
        if self.round == 0 {
            self.marks.iter_mut().for_each(|m| *m = 0);
            self.round = 1;
        }
        self.round << 8
    }

    fn id_of(&self, slot: usize) -> Option<&String> {
        self.entries.get(slot).and_then(|e| e.as_ref()).map(|e| &e.id)
    }

    /// Numbers disagree when both titles have some and the new one has one
    /// the index has never seen (so the story lacks it) or the sets differ.
    fn numbers_differ(&self, e: &Entry, numbers_unseen: bool, ours: &[u32]) -> bool {
        let mut theirs = e.words.iter().copied().filter(|&w| self.is_number(w)).peekable();
        theirs.peek().is_some() && (numbers_unseen || !ours.iter().copied().eq(theirs))
    }

    /// Gives the stories `from` the id `to`: a title reported both.
    pub fn rename(&mut self, from: &str, to: &str) {
        for e in self.entries.iter_mut().flatten() {
            if e.id == from {
                e.id = to.to_string();
            }
        }
    }

    fn is_number(&self, w: u32) -> bool {
        self.numeric.get(w as usize).copied().unwrap_or(false)
    }

    /// Forgets the stories older than `before` (Unix ms): no title at or
    /// after `before + WINDOW_MS` can join them.
    pub fn forget_before(&mut self, before: i64) {
        for e in self.entries.iter_mut() {
            if e.as_ref().is_some_and(|x| x.at < before) {
                *e = None;
                self.live -= 1;
            }
        }
        // Compact when most slots are dead: postings and word numbers are
        // rebuilt once for many forgettings.
        if self.live * 2 < self.entries.len() {
            let old = std::mem::take(&mut self.entries);
            self.lens.clear();
            let words = std::mem::take(&mut self.names);
            self.numbers.clear();
            self.numeric.clear();
            self.postings.clear();
            self.live = 0;
            for e in old.into_iter().flatten() {
                let title = e
                    .words
                    .iter()
                    .filter_map(|&w| words.get(w as usize))
                    .map(|w| w.to_string())
                    .collect();
                self.insert(e.id, title, e.at);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The index finds what comparing with every story finds, on titles
    /// that share words in every degree (numbers, unseen words and rare
    /// words among them), and forgets what it is told to.
    #[test]
    fn the_index_agrees_with_comparing_every_story() {
        let vocab: Vec<String> = (0..40).map(|i| format!("w{i:02}x")).collect();
        let mut rng = 7u64;
        let mut next = move || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        // Many other titles, so that a word in a handful of them is rare.
        let mut counts = WordCounts::new();
        for i in 0..5000 {
            counts.add(
                &[format!("f{}", i % 700), format!("g{}", i % 300), "w00x".to_string()],
                0,
            );
        }
        let mut index = StoryIndex::new();
        let mut all: Vec<(String, Vec<String>, i64)> = Vec::new();
        let hour = 3_600_000;
        let (mut joined, mut rare_only) = (0, 0);
        for i in 0..600 {
            let n = 3 + (next() % 6) as usize;
            let mut words: Vec<String> = (0..n).map(|_| vocab[(next() % 12) as usize].clone()).collect();
            // Numbers (a series, or one report's figures), words and
            // numbers no story has had yet, and rare names.
            if next() % 3 == 0 {
                words.push(["28", "19"][(next() % 2) as usize].to_string());
            }
            match next() % 4 {
                0 => words.push(format!("{}", 1000 + i)),
                1 => words.push(format!("new{i}")),
                _ => {}
            }
            for _ in 0..(next() % 5) {
                words.push(format!("r{:03}", next() % 80));
            }
            words.sort();
            words.dedup();
            let at = (i as i64) * hour / 4 + (next() % 1000) as i64;
            counts.add(&words, at);
            let mut linear: Vec<&(String, Vec<String>, i64)> = all
                .iter()
                .filter(|(_, w, t)| same_story_given(&words, at, w, *t, &counts))
                .collect();
            linear.sort_by(|a, b| (a.2, &a.0).cmp(&(b.2, &b.0)));
            let linear: Vec<String> = linear.iter().map(|(id, _, _)| id.clone()).collect();
            rare_only += usize::from(!linear.is_empty() && !all.iter().any(|(_, w, t)| same_story(&words, at, w, *t)));
            assert_eq!(index.find(&words, at, &counts), linear, "{words:?}");
            if !linear.is_empty() {
                joined += 1;
            } else if words.len() >= MIN_WORDS {
                index.insert(format!("s{i}"), words.clone(), at);
                all.push((format!("s{i}"), words, at));
            }
            if i % 100 == 99 {
                let before = at - WINDOW_MS;
                index.forget_before(before);
                all.retain(|(_, _, t)| *t >= before);
                assert_eq!(index.len(), all.len());
            }
        }
        assert!(joined > 30 && all.len() > 50, "{joined} joined, {} held", all.len());
        assert!(rare_only >= 5, "{rare_only} joined by rare words alone");
    }

    /// Two headlines of one report worded apart share rare names; two of
    /// one topic share only common words; the counts forget old titles.
    #[test]
    fn rare_words_join_rewordings_of_one_report() {
        let hour = 3_600_000;
        let mut counts = WordCounts::new();
        // A stream where "trump", "pardons", "texas" are common.
        for i in 0..3000 {
            let t = format!(
                "Trump pardons Texas official number{i} word{} thing{}",
                i % 500,
                i % 400
            );
            counts.add(&title_words(&t), 0);
        }
        let a = title_words("Trump pardons Texas Democratic Rep. Cuellar in bribery and conspiracy case");
        let b = title_words("Trump pardons US Congressman Cuellar of Texas and his wife Imelda");
        counts.add(&a, hour);
        counts.add(&b, hour);
        assert!(!same_story(&a, 0, &b, hour), "{a:?} {b:?}");
        // Cuellar alone is one rare word: not enough.
        assert!(!same_story_given(&a, 0, &b, hour, &counts));
        let c = title_words("Trump pardons Cuellar, bribery case over, says Congressman");
        counts.add(&c, hour);
        assert!(same_story_given(&a, 0, &c, hour, &counts), "{a:?} {c:?}");
        // Too far apart for this path.
        assert!(!same_story_given(&a, 0, &c, 20 * hour, &counts));
        // Common words only.
        let d = title_words("Trump pardons Texas official in another case");
        counts.add(&d, hour);
        assert!(!same_story_given(&a, 0, &d, hour, &counts));
        // Forgetting: a month on, the counts hold only what came since.
        let n = counts.titles();
        counts.add(&a, COUNTS_KEPT_MS + 2 * hour);
        assert!(
            counts.titles() < n && counts.titles() >= 1,
            "{} of {n}",
            counts.titles()
        );
    }

    #[test]
    fn edited_headlines_of_one_report_are_one_story() {
        let hour = 3_600_000;
        let a = title_words("Witkoff and Dmitriev drafted 28-point peace plan for Ukraine, officials say");
        let b = title_words("UPDATE 1-Witkoff, Dmitriev drafted 28-point Ukraine peace plan - Reuters");
        assert!(same_story(&a, 0, &b, 3 * hour), "{a:?} {b:?}");
        // Reworded two days apart: a follow-up, not the same report; the
        // same title two days apart (a repost) is one, three days is the
        // limit.
        let f = title_words("Witkoff and Dmitriev drafted a peace plan for Ukraine, Kremlin confirms");
        assert!(same_story(&a, 0, &f, hour), "{a:?} {f:?}");
        assert!(!same_story(&a, 0, &f, 48 * hour));
        assert!(same_story(&a, 0, &b, 48 * hour));
        assert!(!same_story(&a, 0, &b, 80 * hour));
        // Same topic, another event.
        let c = title_words("Zelensky meets Macron in Paris on security guarantees for Ukraine");
        assert!(!same_story(&a, 0, &c, hour));
        // Inflections meet: Russian case endings.
        let d = title_words("Уиткофф и Дмитриев подготовили мирный план из 28 пунктов");
        let e = title_words("Уиткоффа и Дмитриева обвинили: мирный план из 28 пунктов подготовили");
        assert!(same_story(&d, 0, &e, hour), "{d:?} {e:?}");
        // A series: the numbers disagree.
        let r1 = title_words("Ukraine peace plan: round 1 of the talks in Geneva");
        let r2 = title_words("Ukraine peace plan: round 2 of the talks in Geneva");
        assert!(!same_story(&r1, 0, &r2, hour));
        // Too few words to say.
        assert!(!same_story(
            &title_words("Live updates"),
            0,
            &title_words("Live updates"),
            0
        ));
    }
}
