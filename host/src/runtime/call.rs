//! Calling one action in a fresh instance: its inputs made WIT values (or typed byte calls),
//! the call bounded by the step deadline, and its results made JSON.

use super::Runtime;
use crate::action::ActionRef;
use crate::bytes_calls::BytesCall;
use crate::convert::{from_val, to_val};
use crate::timing::StepTimings;
use anyhow::{anyhow, bail, Result};
use serde_json::Value;
use std::time::Instant;
use wasmtime::component::Val;

/// What a step gave back: the Ok value or the zoho-error, both as JSON, and its stderr.
#[derive(Debug, Clone)]
pub struct StepOutcome {
    pub result: std::result::Result<Value, Value>,
    pub stderr: String,
    /// The largest linear memory the step's instance grew to.
    pub peak_memory_bytes: usize,
    /// Where the step's time went.
    pub timings: StepTimings,
}

/// What a step gave back with its Ok result as text (see [`Runtime::run_text`]).
#[derive(Debug, Clone)]
pub struct TextOutcome {
    pub result: std::result::Result<String, Value>,
    pub stderr: String,
    pub peak_memory_bytes: usize,
}

impl Runtime {
    /// Runs one action in a given namespace, with the connection's allowed origins.
    pub(super) async fn run_in(&self, action: &ActionRef, connection: &Value, input: &Value, options: Option<&Value>, origins: &[String], namespace: &str) -> Result<StepOutcome> {
        let (answer, stderr, peak_memory_bytes, mut timings) = self.call_in(action, connection, input, options, origins, namespace).await?;
        let started = Instant::now();
        let result = match answer {
            Answer::Vals(results) => outcome_of(results.first()),
            Answer::Json(result) => result,
        }
        .map_err(crate::zoho_error::plain_transport);
        timings.result = started.elapsed();
        Ok(StepOutcome { result, stderr, peak_memory_bytes, timings })
    }

    /// Runs one action; its results as the component gave them, its stderr, peak memory and
    /// where its time went (the result's conversion is the caller's to time).
    pub(super) async fn call_in(
        &self,
        action: &ActionRef,
        connection: &Value,
        input: &Value,
        options: Option<&Value>,
        origins: &[String],
        namespace: &str,
    ) -> Result<(Answer, String, usize, StepTimings)> {
        let (mut store, stderr) = self.new_store(origins, namespace);
        let mut timings = StepTimings::default();
        let started = Instant::now();
        let instance = self.pre.instantiate_async(&mut store).await?;
        timings.instantiate = started.elapsed();
        let iface = instance.get_export_index(&mut store, None, &action.export_name()).ok_or_else(|| anyhow!("the component exports no interface {}", action.export_name()))?;
        let func_index = instance.get_export_index(&mut store, Some(&iface), &action.function).ok_or_else(|| anyhow!("{} has no function {}", action.export_name(), action.function))?;
        let func = instance.get_func(&mut store, func_index).ok_or_else(|| anyhow!("{} is not a function", action.function))?;

        let ty = func.ty(&store);
        let given: Vec<(&str, &Value, wasmtime::component::Type)> = ty
            .params()
            .map(|(name, param_ty)| {
                let given = match name {
                    "connection" => connection,
                    "options" => options.unwrap_or(&Value::Null),
                    _ => input,
                };
                (name, given, param_ty)
            })
            .collect();
        let answer = if let Some(call) = BytesCall::of(action) {
            let started = Instant::now();
            let call = self.typed.call(&mut store, &instance, call, &given);
            let outcome = match tokio::time::timeout(self.config.step_deadline, call).await {
                Ok(outcome) => outcome.map_err(|trap| anyhow!("the step stopped: {trap:#}"))?,
                Err(_) => bail!("the step ran past its deadline of {} s", self.config.step_deadline.as_secs()),
            };
            timings.component = started.elapsed();
            Answer::Json(outcome)
        } else {
            let started = Instant::now();
            let params = given.iter().map(|(name, value, param_ty)| to_val(value, param_ty, name)).collect::<Result<Vec<_>>>()?;
            let mut results = vec![Val::Bool(false); ty.results().len()];
            timings.to_wit = started.elapsed();
            let started = Instant::now();
            let call = func.call_async(&mut store, &params, &mut results);
            match tokio::time::timeout(self.config.step_deadline, call).await {
                Ok(outcome) => outcome.map_err(|trap| anyhow!("the step stopped: {trap:#}"))?,
                Err(_) => bail!("the step ran past its deadline of {} s", self.config.step_deadline.as_secs()),
            }
            timings.component = started.elapsed();
            Answer::Vals(results)
        };
        let clock = &store.data().clock;
        (timings.key_value, timings.http) = (clock.key_value(), clock.http());
        timings.component = timings.component.saturating_sub(timings.key_value).saturating_sub(timings.http);
        let stderr = stderr.contents();
        let peak_memory_bytes = store.data().limits.peak_memory;
        Ok((answer, stderr, peak_memory_bytes, timings))
    }
}

/// A step's results: the component's values, or the JSON the typed byte calls made of them.
pub(super) enum Answer {
    Vals(Vec<Val>),
    Json(std::result::Result<Value, Value>),
}

/// The JSON a `result<string|record, zoho-error>` stands for: a string Ok is parsed as JSON;
/// an error's `details` string is parsed too, so callers get one JSON document.
pub(super) fn outcome_of(result: Option<&Val>) -> std::result::Result<Value, Value> {
    match result {
        Some(Val::Result(Ok(Some(v)))) => match v.as_ref() {
            Val::String(s) => Ok(serde_json::from_str(s).unwrap_or_else(|_| Value::String(s.clone()))),
            other => Ok(from_val(other)),
        },
        Some(Val::Result(Ok(None))) => Ok(Value::Null),
        Some(Val::Result(Err(Some(e)))) => {
            let mut error = from_val(e);
            if let Some(details) = error.get_mut("details") {
                if let Some(parsed) = details.as_str().and_then(|s| serde_json::from_str(s).ok()) {
                    *details = parsed;
                }
            }
            Err(error)
        }
        Some(Val::Result(Err(None))) => Err(Value::Null),
        Some(other) => Ok(from_val(other)),
        None => Ok(Value::Null),
    }
}
