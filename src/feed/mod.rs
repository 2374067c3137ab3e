//! Feed documents: parses RSS 0.9x/1.0/2.0, Atom and JSON Feed with feed-rs
//! and normalizes entries into [`Item`]s (plain text, canonical link, UTC
//! date, deterministic identity and story keys). Pure: no I/O.
//!
//! | file | what |
//! |---|---|
//! | [`parse`](mod@parse) | documents to entries (identity first, text later) |
//! | [`decode`] | bytes in any encoding to UTF-8; HTML pages told apart |
//! | [`dates`] | feed dates |
//! | [`identity`] | entry keys, canonical links, story keys |
//! | [`html`] | HTML to plain text |
//! | [`item`] | the normalized [`Item`] |
//! | [`json`] | items written as JSON Lines |
//! | [`error`] | [`FeedError`] |

pub mod dates;
pub mod decode;
pub mod error;
pub mod html;
pub mod identity;
pub mod item;
pub mod json;
pub mod parse;

pub use dates::parse_date;
pub use decode::{Decoded, charset_of, to_utf8};
pub use error::FeedError;
pub use html::html_to_text;
pub use identity::{canonical_url, identity_url};
pub use item::Item;
pub use json::{first_seen_ms, item_from_json, str_field};
pub use parse::{
    MAX_ITEMS, ParsedDocument, ParsedFeed, RawEntry, assign_link_keys, parse, parse_document, syndication_period,
};
