//! How requests reach the handlers: axum routes for Accounts, Books and CRM v8, and the
//! middleware every request passes (body limit, log, faults, recorded answer, Date) and every
//! CRM request passes (credits, concurrency, token).

use crate::accounts::{oauth, scopes};
use crate::crm::notifications::{deliveries, watch};
use crate::crm::{attachments, bulk_read, bulk_write, composite, convert, coql, files, metadata, module_settings, notes, records, related, relations, search, send_mail, tags, upsert, users};
use crate::request::RecordedRequest;
use crate::response::error_response;
use crate::state::Shared;
use crate::{apis, books, realism};
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::Uri;
use axum::middleware::{from_fn_with_state, Next};
use axum::response::Response;
use axum::routing::{any, get, on, post, put, MethodFilter, MethodRouter};
use axum::{Extension, Router};
use serde_json::json;
use std::sync::Arc;

/// Largest request body the sandbox reads (Zoho's attachment limit plus multipart overhead).
const MAX_BODY: usize = 110 << 20;

const GET: MethodFilter = MethodFilter::GET;
const POST: MethodFilter = MethodFilter::POST;
const PUT: MethodFilter = MethodFilter::PUT;
const DELETE: MethodFilter = MethodFilter::DELETE;

type Sandbox = State<Arc<Shared>>;
/// The request as logged, handed to every handler by `exchange`.
type Recorded = Extension<Arc<RecordedRequest>>;

/// The sandbox's routes; the middleware added last runs first. `exchange` wraps the routing
/// itself, so the routes see the path it rewrote (`keep_escapes`).
pub fn app(shared: Arc<Shared>) -> Router {
    let routes = routes()
        // Every record a request changed reaches the watching channels once it is answered.
        .layer(from_fn_with_state(shared.clone(), deliveries::batch))
        .layer(from_fn_with_state(shared.clone(), crm_gate))
        .with_state(shared.clone());
    Router::new().fallback_service(routes).layer(from_fn_with_state(shared.clone(), exchange)).with_state(shared)
}

/// The routes themselves, without the middleware: what `app` serves, and what a composite
/// request's sub-requests are sent through.
fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/oauth/v2/token", any(token))
        // Books keeps its own dispatch: collections nest, and every Books path answers in Books' shape.
        .route("/books/{*rest}", any(books_call))
        .route("/crm/v8/coql", zoho(post(coql_query).merge(as_module(GET, "coql", records::list))))
        .route("/crm/v8/__apis", zoho(get(list_apis)))
        .route("/crm/v8/settings/fields", zoho(get(fields).merge(as_record(PUT, "settings", "fields", records::update)).merge(as_record(DELETE, "settings", "fields", delete_of))))
        .route("/crm/v8/settings/modules", zoho(get(modules).merge(as_record(PUT, "settings", "modules", records::update)).merge(as_record(DELETE, "settings", "modules", delete_of))))
        .route("/crm/v8/org", zoho(get(org).merge(as_module(POST, "org", records::create))))
        .route("/crm/v8/settings/related_lists", zoho(get(related_lists)))
        .route("/crm/v8/settings/custom_views", zoho(get(custom_views)))
        .route("/crm/v8/settings/tags", zoho(get(module_tags)))
        .route("/crm/v8/users", zoho(get(users).merge(as_module(POST, "users", records::create))))
        .route("/crm/v8/users/{id}", zoho(get(user)))
        // Zoho's file store and Send Mail (before the module routes their paths also fit).
        .route("/crm/v8/files", zoho(post(upload_files)))
        .route("/crm/v8/settings/emails/actions/from_addresses", zoho(get(from_addresses)))
        .route("/crm/v8/{module}/{id}/actions/send_mail", zoho(post(send_mail)))
        .route("/crm/v8/{module}", zoho(get(list).post(create).put(update_many).delete(delete_many)))
        .route("/crm/v8/{module}/deleted", zoho(get(deleted).merge(deleted_as_record(PUT, records::update)).merge(deleted_as_record(DELETE, delete_of))))
        .route("/crm/v8/{module}/{id}", zoho(get(record).put(update).delete(delete)))
        .route("/crm/v8/{module}/search", zoho(get(search_records)))
        .route("/crm/v8/{module}/upsert", zoho(post(upsert::handle)))
        .route("/crm/v8/{module}/actions/count", zoho(get(record_count).post(record_count)))
        .route("/crm/v8/{module}/actions/add_tags", zoho(post(tags::add)))
        .route("/crm/v8/{module}/actions/remove_tags", zoho(post(tags::remove)))
        .route("/crm/v8/{module}/{id}/Attachments", zoho(post(upload).get(list_attachments)))
        .route("/crm/v8/{module}/{id}/Attachments/{attachment_id}", zoho(get(download_attachment)))
        // Notes is a related list too: GET reads it as any other, POST adds a note.
        .route("/crm/v8/{module}/{id}/Notes", zoho(post(notes::handle).get(notes_list)))
        .route("/crm/v8/{module}/{id}/actions/convert", zoho(post(convert::handle)))
        .route("/crm/v8/{module}/{id}/{related_list}", zoho(get(related_records)))
        .route("/crm/v8/{module}/{id}/{related_list}/{related_id}", zoho(put(link_related).delete(unlink_related)))
        .route("/crm/bulk/v8/read", zoho(post(bulk_read_create)))
        .route("/crm/bulk/v8/read/{job_id}", zoho(get(bulk_read_status)))
        .route("/crm/bulk/v8/read/{job_id}/result", zoho(get(bulk_read_result)))
        // Bulk write: the upload is the content host's, the result the download host's (one port here).
        .route("/crm/v8/upload", zoho(post(bulk_write_upload)))
        .route("/crm/bulk/v8/write", zoho(post(bulk_write_create)))
        .route("/crm/bulk/v8/write/{job_id}", zoho(get(bulk_write_status)))
        .route("/v2/crm/{zgid}/bulk-write/{job_id}/{file}", get(bulk_write_result))
        .route("/crm/v8/actions/watch", zoho(get(watch::list).post(watch::enable).put(watch::replace).patch(watch::update).delete(watch::disable)))
        .route("/crm/v8/__composite_requests", zoho(post(composite_call)))
        .fallback(unknown_path)
}

/// A CRM route answers other methods (HEAD included) as an unknown URL, as Zoho does.
fn zoho(route: MethodRouter<Arc<Shared>>) -> MethodRouter<Arc<Shared>> {
    route.head(unknown_path).fallback(unknown_path)
}

/// Every request: read the body (413 past MAX_BODY), log it, answer with a queued fault or route
/// it (its escapes kept), record the answer next to the request, and date it as Zoho does.
async fn exchange(State(shared): Sandbox, request: Request, next: Next) -> Response {
    let now = shared.clock.now();
    let mut response = recorded_answer(&shared, request, next).await;
    // Zoho dates every answer; the incremental sweep bounds itself by this server clock.
    if let Ok(date) = axum::http::HeaderValue::from_str(&now.format("%a, %d %b %Y %H:%M:%S GMT").to_string()) {
        response.headers_mut().insert(axum::http::header::DATE, date);
    }
    response
}

async fn recorded_answer(shared: &Shared, request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    let body = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(bytes) => bytes.to_vec(),
        Err(_) => return error_response(413, "FILE_SIZE_MORE_THAN_ALLOWED_SIZE", "request body too large", json!({})),
    };
    let mut recorded = RecordedRequest::from_parts(&parts, body);
    recorded.seq = shared.log(recorded.clone());
    parts.uri = keep_escapes(parts.uri);
    if let Some(fault) = shared.next_fault(&recorded.path) {
        let response = fault.respond(&recorded).await;
        return keep_answer(shared, recorded, response, true).await;
    }
    let recorded = Arc::new(recorded);
    parts.extensions.insert(recorded.clone());
    let response = next.run(Request::from_parts(parts, Body::empty())).await;
    keep_answer(shared, Arc::unwrap_or_clone(recorded), response, false).await
}

/// Records the answer's status (and its body when JSON or untyped) next to the request.
async fn keep_answer(shared: &Shared, mut exchange: RecordedRequest, response: Response, faulted: bool) -> Response {
    exchange.response_status = Some(response.status().as_u16());
    exchange.faulted = faulted;
    let content_type = response.headers().get(axum::http::header::CONTENT_TYPE).map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    // A fault's body may be a broken stream, and a download may be large: neither is read here.
    let response = if faulted || !content_type.as_deref().is_none_or(|t| t.contains("json")) {
        response
    } else {
        let (parts, body) = response.into_parts();
        let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap_or_default();
        exchange.response_body = Some(bytes.to_vec());
        Response::from_parts(parts, Body::from(bytes))
    };
    shared.answered(exchange);
    response
}

/// CRM calls count against the day's credits (Zoho's table, `apis`) and the concurrent-call
/// limit, as in Zoho; v8 calls need a valid token (checked after the limits, known path or not)
/// whose scopes cover the request (`scopes`). Once half the day's credits are used, every CRM
/// answer says how many remain (`realism::credits_remaining_header`). Books requests wait the
/// same latency and are held to Books' own limits (`books::limited`).
async fn crm_gate(State(shared): Sandbox, Extension(recorded): Recorded, request: Request, next: Next) -> Response {
    if recorded.path.starts_with("/books/") {
        // Books answers from as far away as CRM's: the same latency, refusals included.
        let wait = realism::delay(&shared.limits(), recorded.seq);
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        return match books::records::limited(&shared, &recorded) {
            Some(refusal) => refusal,
            None => {
                let mut answer = next.run(request).await;
                books::records::day_headers(&shared, &recorded, &mut answer);
                answer
            }
        };
    }
    if !recorded.path.starts_with("/crm/") {
        return next.run(request).await;
    }
    let mut admitted = realism::admit(&shared, &recorded).await;
    let mut response = match admitted.refusal.take() {
        Some(refusal) => refusal,
        None => match (recorded.path.starts_with("/crm/v8/") || recorded.path.starts_with("/crm/bulk/")).then(|| records::authenticate(&shared, &recorded)).flatten() {
            Some(denied) => denied,
            None => {
                let granted = recorded.header("authorization").and_then(|h| h.strip_prefix("Zoho-oauthtoken ")).and_then(|t| shared.token_scopes(t));
                match scopes::check(granted.as_deref(), &recorded) {
                    Some(mismatch) => mismatch,
                    None => next.run(request).await,
                }
            }
        },
    };
    drop(admitted);
    realism::credits_remaining_header(&shared, &mut response);
    response
}

/// Zoho's answer to a path it does not serve.
async fn unknown_path() -> Response {
    error_response(404, "INVALID_URL_PATTERN", "Please check if the URL trying to access is a correct one", json!({}))
}

/// Zoho echoes module names and ids as sent, escapes included, while axum's `Path` decodes
/// them: the routes see each `%` as `%25`, so every path parameter is the segment as sent (and
/// never invalid UTF-8). Routing is unchanged: `%25` splits and matches as `%` did.
fn keep_escapes(uri: Uri) -> Uri {
    if !uri.path().contains('%') {
        return uri;
    }
    let escaped = uri.path().replace('%', "%25") + uri.query().map(|q| format!("?{q}")).as_deref().unwrap_or("");
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = escaped.parse().ok();
    Uri::from_parts(parts).unwrap_or(uri)
}

/// The path parameters of a record route: `/crm/v8/{module}/{id}`.
type Record = Path<(String, String)>;
/// A handler over the module a module route passes.
type ModuleHandler = fn(&Shared, &RecordedRequest, &str) -> Response;
/// A handler over (module, id) as the record routes pass them.
type RecordHandler = fn(&Shared, &RecordedRequest, &str, &str) -> Response;

/// Serves a literal path with a module route's handler, as if `module` were its `{module}`:
/// `GET /crm/v8/coql` is the records list of a module named "coql" (400 INVALID_MODULE).
fn as_module(method: MethodFilter, module: &'static str, handler: ModuleHandler) -> MethodRouter<Arc<Shared>> {
    on(method, move |State(shared): Sandbox, Extension(request): Recorded| async move { handler(&shared, &request, module) })
}

/// Serves a literal path with a record route's handler, as if it were `/{module}/{id}`:
/// `PUT /crm/v8/settings/fields` updates record "fields" of a module named "settings".
fn as_record(method: MethodFilter, module: &'static str, id: &'static str, handler: RecordHandler) -> MethodRouter<Arc<Shared>> {
    on(method, move |State(shared): Sandbox, Extension(request): Recorded| async move { handler(&shared, &request, module, id) })
}

/// A delete as a record handler (a delete reads nothing of the request).
fn delete_of(shared: &Shared, _: &RecordedRequest, module: &str, id: &str) -> Response {
    records::delete(shared, module, id)
}

/// `PUT` and `DELETE /crm/v8/{module}/deleted` are the record routes with the id "deleted".
fn deleted_as_record(method: MethodFilter, handler: RecordHandler) -> MethodRouter<Arc<Shared>> {
    on(method, move |State(shared): Sandbox, Extension(request): Recorded, Path(module): Path<String>| async move { handler(&shared, &request, &module, "deleted") })
}

async fn token(State(shared): Sandbox, Extension(request): Recorded) -> Response {
    oauth::token(&shared, &request)
}

async fn books_call(State(shared): Sandbox, Extension(request): Recorded) -> Response {
    books::records::route(&shared, &request)
}

async fn list_apis(Extension(request): Recorded) -> Response {
    apis::serve(&request)
}

async fn coql_query(State(shared): Sandbox, Extension(request): Recorded) -> Response {
    coql::query(&shared, &request)
}

async fn record_count(State(shared): Sandbox, Extension(request): Recorded, Path(module): Path<String>) -> Response {
    crate::crm::record_count::count(&shared, &request, &module)
}

async fn fields(State(shared): Sandbox, Extension(request): Recorded) -> Response {
    metadata::fields(&shared, &request)
}

async fn modules(State(shared): Sandbox) -> Response {
    metadata::modules(&shared)
}

async fn org(State(shared): Sandbox) -> Response {
    metadata::org(&shared)
}

async fn users(Extension(request): Recorded) -> Response {
    users::list(&request)
}

async fn user(Path(id): Path<String>) -> Response {
    users::get(&id)
}

async fn related_lists(State(shared): Sandbox, Extension(request): Recorded) -> Response {
    module_settings::related_lists(&shared, &request)
}

async fn custom_views(State(shared): Sandbox, Extension(request): Recorded) -> Response {
    module_settings::custom_views(&shared, &request)
}

async fn module_tags(State(shared): Sandbox, Extension(request): Recorded) -> Response {
    module_settings::tags(&shared, &request)
}

async fn list(State(shared): Sandbox, Extension(request): Recorded, Path(module): Path<String>) -> Response {
    records::list(&shared, &request, &module)
}

async fn create(State(shared): Sandbox, Extension(request): Recorded, Path(module): Path<String>) -> Response {
    records::create(&shared, &request, &module)
}

async fn update_many(State(shared): Sandbox, Extension(request): Recorded, Path(module): Path<String>) -> Response {
    crate::crm::many_records::update(&shared, &request, &module)
}

async fn delete_many(State(shared): Sandbox, Extension(request): Recorded, Path(module): Path<String>) -> Response {
    crate::crm::many_records::delete(&shared, &request, &module)
}

async fn record(State(shared): Sandbox, Extension(request): Recorded, Path((module, id)): Record) -> Response {
    records::get(&shared, &request, &module, &id)
}

async fn update(State(shared): Sandbox, Extension(request): Recorded, Path((module, id)): Record) -> Response {
    // A note is changed by Zoho's Notes API, with its own rules (`notes`).
    if module == "Notes" {
        return notes::update(&shared, &request, &id);
    }
    records::update(&shared, &request, &module, &id)
}

async fn delete(State(shared): Sandbox, Path((module, id)): Record) -> Response {
    if module == "Notes" {
        return notes::delete(&shared, &id);
    }
    records::delete(&shared, &module, &id)
}

async fn deleted(State(shared): Sandbox, Extension(request): Recorded, Path(module): Path<String>) -> Response {
    records::deleted(&shared, &request, &module)
}

async fn upload(State(shared): Sandbox, Extension(request): Recorded, Path((module, id)): Record) -> Response {
    attachments::upload(&shared, &request, &module, &id).await
}

async fn upload_files(State(shared): Sandbox, Extension(request): Recorded) -> Response {
    files::upload(&shared, &request).await
}

async fn from_addresses() -> Response {
    crate::response::json_response(200, &json!({ "from_addresses": send_mail::from_addresses() }))
}

async fn send_mail(State(shared): Sandbox, Extension(request): Recorded, Path((module, id)): Record) -> Response {
    send_mail::send(&shared, &request, &module, &id)
}

async fn search_records(State(shared): Sandbox, Extension(request): Recorded, Path(module): Path<String>) -> Response {
    search::search(&shared, &request, &module)
}

async fn list_attachments(State(shared): Sandbox, Extension(request): Recorded, Path((module, id)): Record) -> Response {
    attachments::list(&shared, &request, &module, &id)
}

async fn download_attachment(State(shared): Sandbox, Path((module, id, attachment_id)): Path<(String, String, String)>) -> Response {
    attachments::download(&shared, &module, &id, &attachment_id)
}

async fn related_records(State(shared): Sandbox, Extension(request): Recorded, Path((module, id, related_list)): Path<(String, String, String)>) -> Response {
    related::related(&shared, &request, &module, &id, &related_list)
}

async fn composite_call(State(shared): Sandbox, Extension(request): Recorded) -> Response {
    composite::handle(&shared, &request, routes).await
}

async fn link_related(State(shared): Sandbox, Extension(request): Recorded, Path((module, id, related, related_id)): Path<(String, String, String, String)>) -> Response {
    relations::link(&shared, &request, &module, &id, &related, &related_id)
}

async fn unlink_related(State(shared): Sandbox, Path((module, id, related, related_id)): Path<(String, String, String, String)>) -> Response {
    relations::unlink(&shared, &module, &id, &related, &related_id)
}

/// `GET /{module}/{id}/Notes` reads Notes as any other related list.
async fn notes_list(State(shared): Sandbox, Extension(request): Recorded, Path((module, id)): Record) -> Response {
    related::related(&shared, &request, &module, &id, "Notes")
}

async fn bulk_read_create(State(shared): Sandbox, Extension(request): Recorded) -> Response {
    bulk_read::create(&shared, &request)
}

async fn bulk_read_status(State(shared): Sandbox, Path(job_id): Path<String>) -> Response {
    bulk_read::status(&shared, &job_id)
}

async fn bulk_write_upload(State(shared): Sandbox, Extension(request): Recorded) -> Response {
    bulk_write::upload::upload(&shared, &request).await
}

async fn bulk_write_create(State(shared): Sandbox, Extension(request): Recorded) -> Response {
    bulk_write::create(&shared, &request)
}

async fn bulk_write_status(State(shared): Sandbox, Extension(request): Recorded, Path(job_id): Path<String>) -> Response {
    bulk_write::status(&shared, &request, &job_id)
}

async fn bulk_write_result(State(shared): Sandbox, Extension(request): Recorded, Path((zgid, job_id, file)): Path<(String, String, String)>) -> Response {
    bulk_write::result(&shared, &request, &zgid, &job_id, &file)
}

async fn bulk_read_result(State(shared): Sandbox, Path(job_id): Path<String>) -> Response {
    bulk_read::result(&shared, &job_id)
}

#[cfg(test)]
mod tests {
    use crate::Sandbox;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// The status and body of one raw HTTP/1.1 exchange (no client library in the sandbox).
    async fn call(sandbox: &Sandbox, method: &str, path: &str, token: Option<&str>) -> (u16, String) {
        let mut stream = tokio::net::TcpStream::connect(sandbox.addr).await.unwrap();
        let auth = token.map(|t| format!("Authorization: Zoho-oauthtoken {t}\r\n")).unwrap_or_default();
        let request = format!("{method} {path} HTTP/1.1\r\nHost: x\r\n{auth}Content-Length: 0\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.unwrap();
        let status = answer.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
        let body = answer.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
        (status, body)
    }

    // The string dispatch these routes replaced answered exactly so; each line pins one case.
    #[tokio::test]
    async fn routes_answer_as_the_string_dispatch_did() {
        let sandbox = Sandbox::start().await.unwrap();
        let token = sandbox.issue_token();
        let t = Some(token.as_str());
        let cases: &[(&str, &str, Option<&str>, u16, &str)] = &[
            ("GET", "/nowhere", None, 404, "INVALID_URL_PATTERN"),
            ("GET", "/crm/v2/Leads", None, 404, "INVALID_URL_PATTERN"),
            ("GET", "/crm/v8/Leads/1/2/3", None, 401, "AUTHENTICATION_FAILURE"),
            ("GET", "/crm/v8/Leads/1/2/3", t, 404, "INVALID_URL_PATTERN"),
            ("PATCH", "/crm/v8/Leads", t, 404, "INVALID_URL_PATTERN"),
            ("HEAD", "/crm/v8/org", t, 404, ""),
            ("GET", "/crm/v8/Leads/1/Attachments", t, 400, "INVALID_DATA"),
            ("GET", "/crm/v8/coql", t, 400, "INVALID_MODULE"),
            ("POST", "/crm/v8/org", t, 400, "INVALID_MODULE"),
            ("PUT", "/crm/v8/settings/fields", t, 400, "INVALID_DATA"),
            ("PUT", "/crm/v8/Leads/deleted", t, 400, "INVALID_DATA"),
            ("GET", "/crm/v8/settings/deleted", t, 400, "INVALID_MODULE"),
            ("GET", "/crm/v8/org", t, 200, "\"org\""),
            ("GET", "/crm/v8/Leads/999", t, 204, ""),
            ("GET", "/books/v2/x", None, 404, "Invalid URL Passed"),
            ("GET", "/oauth/v2/token", None, 405, "invalid_request"),
        ];
        for (method, path, token, status, text) in cases {
            let (got, body) = call(&sandbox, method, path, *token).await;
            assert_eq!((got, body.contains(text)), (*status, true), "{method} {path}: {body}");
        }
        // Every CRM path counted its credits by Zoho's table (GET .../deleted costs 2); the
        // others did not.
        assert_eq!(sandbox.limits().credits_used, 14);
    }

    // Zoho echoes a path as sent: an escaped module name is not the module, and an escape that
    // is not UTF-8 is an unknown id, not a decoding failure.
    #[tokio::test]
    async fn path_parameters_are_the_segments_as_sent() {
        let sandbox = Sandbox::start().await.unwrap();
        let token = sandbox.issue_token();
        let t = Some(token.as_str());
        let id = sandbox.create_record("Leads", serde_json::json!({ "Last_Name": "Escaped" }));
        let cases = [
            ("GET", format!("/crm/v8/Leads/{id}"), 200, "Escaped"),
            ("GET", format!("/crm/v8/Le%61ds/{id}"), 400, "INVALID_MODULE"),
            ("GET", "/crm/v8/Leads/%FF".to_string(), 204, ""),
            ("GET", "/crm/v8/Leads/1%2F2".to_string(), 204, ""),
            ("GET", "/crm/v8/Leads/1%2F2/Attachments/%25".to_string(), 400, "INVALID_DATA"),
        ];
        for (method, path, status, text) in cases {
            let (got, body) = call(&sandbox, method, &path, t).await;
            assert_eq!((got, body.contains(text)), (status, true), "{method} {path}: {body}");
        }
    }
}
