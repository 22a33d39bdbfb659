//! Zoho Books v3: organizations and records per collection, their limits, and record actions
//! and documents.

pub mod actions;
pub mod listing;
pub mod records;
