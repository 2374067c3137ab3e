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

use std::collections::BTreeSet;

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
    let words: BTreeSet<String> = (0..n.tokens.len())
        .map(|i| n.word(i))
        .filter(|w| {
            let letters = w.chars().count();
            (letters >= 3 || w.chars().all(|c| c.is_ascii_digit())) && !STOP.contains(w)
        })
        .map(|w| w.chars().take(STEM).collect())
        .collect();
    words.into_iter().collect()
}

fn strip_decorations(title: &str) -> &str {
    let mut t = title.trim();
    // "UPDATE 2-...", "LIVE: ...", "DN Direkt - ...".
    for prefix in ["UPDATE", "LIVE", "BREAKING", "DN Direkt", "Direkt", "EXCLUSIVE"] {
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
    let apart = (a_at - b_at).abs();
    if apart > WINDOW_MS || a.len() < MIN_WORDS || b.len() < MIN_WORDS {
        return false;
    }
    // Numbers that disagree tell a series apart: round 1 and round 2, one
    // day's police summary and the next. (A toll updated within hours is
    // one story too, but it looks like a series.)
    // A length filter first: the index asks this of thousands of stories.
    let needed = least_overlap(apart);
    let (short, long) = if a.len() <= b.len() {
        (a.len(), b.len())
    } else {
        (b.len(), a.len())
    };
    if (short as f64) < needed * long as f64 {
        return false;
    }
    let mut na = a.iter().filter(|w| is_number(w)).peekable();
    let mut nb = b.iter().filter(|w| is_number(w)).peekable();
    if na.peek().is_some() && nb.peek().is_some() && !na.eq(nb) {
        return false;
    }
    jaccard(a, b) >= needed
}

/// The least Jaccard index of two titles of one story `apart` ms apart.
fn least_overlap(apart: i64) -> f64 {
    let hours = apart as f64 / 3_600_000.0;
    (THRESHOLD + THRESHOLD_PER_HOUR * hours).min(THRESHOLD_MAX)
}

fn is_number(w: &str) -> bool {
    w.chars().all(|c| c.is_ascii_digit())
}

/// The Jaccard index of two sorted word lists (0 when both are empty).
fn jaccard(a: &[String], b: &[String]) -> f64 {
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
    let union = a.len() + b.len() - shared;
    if union == 0 { 0.0 } else { shared as f64 / union as f64 }
}

/// The stories already seen, indexed by their title words so that
/// finding the one a new title belongs to does not compare it with every
/// story in the window. Exact: a story [`same_story`] would take always
/// shares enough of the words probed. A title of `n` words shares at
/// least `k = ceil(t * n)` of them with any story it joins (`t` the least
/// Jaccard index for the time between them: THRESHOLD within a day,
/// THRESHOLD_MAX beyond), so at least `k - j` of its words outside the `j`
/// with the most stories in that time: only the stories that have that
/// many are compared.
#[derive(Debug, Default)]
pub struct StoryIndex {
    /// Stories by slot; `None` once forgotten.
    entries: Vec<Option<Entry>>,
    /// Word -> (time, slot) of the stories whose titles have it, in time
    /// order (forgotten slots stay until the next compaction).
    postings: std::collections::HashMap<String, Vec<(i64, u32)>>,
    live: usize,
    /// Scratch for [`StoryIndex::find`]: words shared, per slot (all zero
    /// between calls).
    counts: Vec<u8>,
}

#[derive(Debug)]
struct Entry {
    id: String,
    words: Vec<String>,
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
        for w in &words {
            let list = self.postings.entry(w.clone()).or_default();
            // Stories mostly come in time order: an append.
            let pos = list.partition_point(|&(t, _)| t <= at);
            list.insert(pos, (at, slot));
        }
        self.entries.push(Some(Entry { id, words, at }));
        self.live += 1;
    }

    /// The id of the earliest story held that `words` at `at` reports
    /// ([`same_story`]), if any.
    pub fn find(&mut self, words: &[String], at: i64) -> Option<&str> {
        let n = words.len();
        if n < MIN_WORDS || self.live == 0 {
            return None;
        }
        const DAY: i64 = 24 * 3600 * 1000;
        // Stories within a day of `at` need the least overlap; those further
        // away need more, so fewer of their lists are read. Each band at the
        // overlap its nearest edge needs.
        let bands = [(0, DAY), (DAY, WINDOW_MS)].map(|(near, far)| (near, far, least_overlap(near)));
        let mut best: Option<usize> = None;
        let mut touched: Vec<u32> = Vec::new();
        self.counts.resize(self.entries.len(), 0);
        for (near, far, least) in bands {
            // A story it joins shares at least `k` of its `n` words, so at
            // least `k - skip` outside the `skip` most common: count how
            // many of the others each story has, compare only those with
            // enough.
            let k = (least * n as f64 - 1e-9).ceil().max(1.0) as usize;
            let skip = k.saturating_sub(2);
            let need = (k - skip) as u8;
            let mut lists: Vec<[&[(i64, u32)]; 2]> = words
                .iter()
                .map(|w| {
                    let l = self.postings.get(w).map(Vec::as_slice).unwrap_or(&[]);
                    let range = |from: i64, to: i64| {
                        let lo = l.partition_point(|&(t, _)| t < from);
                        let hi = l.partition_point(|&(t, _)| t <= to);
                        &l[lo..hi.max(lo)]
                    };
                    if near == 0 {
                        [range(at - far, at + far), &[][..]]
                    } else {
                        [range(at - far, at - near), range(at + near, at + far)]
                    }
                })
                .collect();
            lists.sort_by_key(|l| l[0].len() + l[1].len());
            lists.truncate(n - skip);
            touched.clear();
            for &(_, slot) in lists.iter().flatten().flat_map(|l| l.iter()) {
                let c = &mut self.counts[slot as usize];
                if *c == 0 {
                    touched.push(slot);
                }
                *c = c.saturating_add(1);
            }
            for &slot in &touched {
                let c = std::mem::take(&mut self.counts[slot as usize]);
                if c < need {
                    continue;
                }
                let Some(Some(e)) = self.entries.get(slot as usize) else {
                    continue;
                };
                if let Some(Some(b)) = best.and_then(|i| self.entries.get(i)) {
                    if (b.at, &b.id) <= (e.at, &e.id) {
                        continue;
                    }
                }
                if same_story(words, at, &e.words, e.at) {
                    best = Some(slot as usize);
                }
            }
        }
        best.and_then(|i| self.entries.get(i))
            .and_then(|e| e.as_ref())
            .map(|e| e.id.as_str())
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
        // Compact when most slots are dead: postings are rebuilt once for
        // many forgettings.
        if self.live * 2 < self.entries.len() {
            let old = std::mem::take(&mut self.entries);
            self.postings.clear();
            self.live = 0;
            for e in old.into_iter().flatten() {
                self.insert(e.id, e.words, e.at);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The index finds what comparing with every story finds, on titles
    /// that share words in every degree, and forgets what it is told to.
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
        let mut index = StoryIndex::new();
        let mut all: Vec<(String, Vec<String>, i64)> = Vec::new();
        let hour = 3_600_000;
        let mut agreed = 0;
        for i in 0..600 {
            let n = 3 + (next() % 6) as usize;
            let mut words: Vec<String> = (0..n).map(|_| vocab[(next() % 12) as usize].clone()).collect();
            words.sort();
            words.dedup();
            let at = (i as i64) * hour / 4 + (next() % 1000) as i64;
            let linear = all
                .iter()
                .filter(|(_, w, t)| same_story(&words, at, w, *t))
                .min_by(|a, b| (a.2, &a.0).cmp(&(b.2, &b.0)))
                .map(|(id, _, _)| id.as_str());
            assert_eq!(index.find(&words, at), linear, "{words:?}");
            if linear.is_some() {
                agreed += 1;
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
        assert!(agreed > 50 && all.len() > 50, "{agreed} joined, {} held", all.len());
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
