//! The crowded second's bookkeeping: the pages read forward, the backward pass that reads
//! them again, and the check that a pass held still.

use super::{Address, Crowded, MAX_CROWDED_PAGES, MAX_UNSTEADY_ROUNDS};
use crate::error::{ErrorKind, Result, ZohoError};
use crate::incremental::records_walk::PER_REQUEST;
use crate::zoho_time::format_iso;

impl Crowded {
    /// After a page of the crowded second (`ended`: the second ends on it): forward, the page
    /// is remembered and, at the second's end, the backward pass begins; backward, the pass
    /// moves one page back. A backward pass that did not hold still starts again from the last.
    pub(super) fn turn(&mut self, address: Address, next_token: Option<String>, ended: bool, shown: Vec<String>, list: &str, second: i64) -> Result<()> {
        match self.back {
            None => {
                self.read.push(address);
                self.next_token = next_token;
                if ended {
                    // The second ends here: read the pages before this one again, backward.
                    self.back = Some(self.read.len().saturating_sub(1));
                    self.pass_ids.clear();
                    self.pass_places = 0;
                    self.note_shown(shown);
                } else if self.read.len() >= MAX_CROWDED_PAGES {
                    return Err(ZohoError::new(
                        ErrorKind::Zoho,
                        format!("more than {} records of {list} share one modification second: the list reaches no further", MAX_CROWDED_PAGES * PER_REQUEST as usize),
                    ));
                }
            }
            Some(k) => {
                self.back = Some(k.saturating_sub(1));
                self.note_shown(shown);
            }
        }
        if self.back == Some(0) && !self.steady(list, second)? {
            // Every page again, backward from the last: whatever the moved order hid is
            // shown by a pass that holds still.
            self.back = Some(self.read.len());
            self.pass_ids.clear();
            self.pass_places = 0;
        }
        Ok(())
    }

    fn note_shown(&mut self, shown: Vec<String>) {
        self.pass_places = self.pass_places.saturating_add(shown.len() as u64);
        self.pass_ids.extend(shown);
    }

    /// Whether the finished check pass showed each of the second's places to a different
    /// record. Its pages cover every place of the second once, so when they show as many
    /// distinct ids as places, every record of the second was shown (and delivered unless
    /// already behind the walk). A record shown twice means the order of the second's records
    /// changed between requests (Books documents no order among records of one second; a record
    /// changed or deleted meanwhile shifts the rest too), and one may have been shown nowhere:
    /// the pass is read again, up to [`MAX_UNSTEADY_ROUNDS`] times, then the walk stops with an
    /// error rather than a silent gap.
    fn steady(&mut self, list: &str, second: i64) -> Result<bool> {
        if self.pass_places <= self.pass_ids.len() as u64 {
            return Ok(true);
        }
        if self.rounds >= MAX_UNSTEADY_ROUNDS {
            return Err(ZohoError::new(
                ErrorKind::Zoho,
                format!(
                    "Zoho's {list} list did not keep one order among the {} records modified at {} from one request to the next ({} places showed {} records, {} times over), so the sweep cannot tell it read them all; nothing was committed: read the sweep again from page 1 later",
                    self.pass_places,
                    format_iso(second),
                    self.pass_places,
                    self.pass_ids.len(),
                    self.rounds.saturating_add(1)
                ),
            ));
        }
        self.rounds = self.rounds.saturating_add(1);
        Ok(false)
    }
}
