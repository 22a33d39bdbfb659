//! The end-to-end tests: the built `.wasm` through the host against the sandbox, every CRM
//! exchange judged by Zoho's OpenAPI files. One binary (as wasmtime's `tests/all`), so the
//! host and wasmtime are linked once; each module is one concern's tests.

mod support;

mod attacks_everyday;
mod attacks_memory;
mod attacks_secrets;
mod attacks_sweeps;
mod auth;
mod books;
mod books_describe;
mod books_documents;
mod books_sales_documents;
mod books_streams;
mod books_sweeps;
mod books_watch;
mod bulk_backfill;
mod bulk_load;
mod bulk_read;
mod bulk_write;
mod credits;
mod crm_attachments_deleted;
mod crm_composite;
mod crm_coql_raw_attachments;
mod crm_dropdowns;
mod crm_field_types;
mod crm_find_or_create;
mod crm_links_notes;
mod crm_many_records;
mod crm_metadata;
mod crm_notes_tags;
mod crm_records;
mod crm_search_related;
mod crm_send_mail_files;
mod crm_upsert_convert;
mod forms;
mod incremental;
mod incremental_records;
mod incremental_slices;
mod layers;
mod manifest;
mod notifications;
mod oas;
mod outputs;
mod reliability;
mod sliced_backfill;
mod stale_cursors;
mod sync;
mod watch;
mod without_store;
mod zoho_examples;
