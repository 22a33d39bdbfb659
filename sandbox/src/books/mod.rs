//! Zoho Books v3: organizations and records per collection, their limits, and record actions
//! and documents.

pub mod actions;
pub mod documents;
pub mod listing;
pub mod organizations;
pub mod payments;
pub mod records;
pub mod totals;
