//! Story grouping beyond shared links and titles: whether two items report
//! the same story, from the words of their titles and their times. The
//! daemon's commits and `newshound stories` decide with the same function.
//!
//! The rule, chosen on `../shared/corpus/stories/dev-pairs.jsonl` for
//! precision first (merging two stories hides an alert): the titles' content
//! words (stop words dropped, cut to their first five letters so that
//! inflections meet), at least three each, overlap with a Jaccard index of
//! 0.6 or more, their numbers do not disagree (round 1, round 2), and the
//! items are at most 24 hours apart.

use std::collections::BTreeSet;

use crate::text;

/// Items further apart than this are different stories.
pub const WINDOW_MS: i64 = 24 * 3600 * 1000;
/// The least Jaccard index of two titles' words for one story.
pub const THRESHOLD: f64 = 0.6;
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

/// The words of `w` that are numbers.
fn numbers(w: &[String]) -> Vec<&String> {
    w.iter().filter(|x| x.chars().all(|c| c.is_ascii_digit())).collect()
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
    if (a_at - b_at).abs() > WINDOW_MS || a.len() < MIN_WORDS || b.len() < MIN_WORDS {
        return false;
    }
    // Numbers that disagree tell a series apart: round 1 and round 2, one
    // county's police summary and another's.
    let (na, nb) = (numbers(a), numbers(b));
    if na != nb && !na.is_empty() && !nb.is_empty() {
        return false;
    }
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
    shared as f64 >= THRESHOLD * union as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edited_headlines_of_one_report_are_one_story() {
        let hour = 3_600_000;
        let a = title_words("Witkoff and Dmitriev drafted 28-point peace plan for Ukraine, officials say");
        let b = title_words("UPDATE 1-Witkoff, Dmitriev drafted 28-point Ukraine peace plan - Reuters");
        assert!(same_story(&a, 0, &b, 3 * hour), "{a:?} {b:?}");
        // Two days apart: a follow-up, not the same report.
        assert!(!same_story(&a, 0, &b, 48 * hour));
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
