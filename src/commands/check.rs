//! `newshound check`: every problem of the config, feed list, watchlists
//! and aliases as `file:line:col: message`.

use std::path::Path;

use super::shared::Failure;
use crate::config;

pub fn check(path: &Path) -> Result<(), Failure> {
    match config::load(path) {
        Ok(cfg) => {
            for w in &cfg.warnings {
                println!("{w}");
            }
            let rules: usize = cfg.watchlists.iter().map(|w| w.rules.len()).sum();
            println!(
                "{}: ok ({} feeds, {} watchlists, {} rules)",
                path.display(),
                cfg.feeds.len(),
                cfg.watchlists.len(),
                rules
            );
            Ok(())
        }
        Err(errors) => {
            for d in &errors.0 {
                println!("{d}");
            }
            Err(Failure::Problems(errors.0.len()))
        }
    }
}
