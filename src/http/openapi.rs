//! OpenAPI documents: built from a poem-openapi service, adjusted where poem-openapi
//! cannot say what a provider means, served as YAML/JSON with Swagger UI, and written
//! to `openapi/` by `paybridge openapi`.

use poem::endpoint::make_sync;
use poem::web::Html;
use poem::{Response, Route};
use poem_openapi::{OpenApi, OpenApiService};
use serde_json::Value;

use crate::http::idempotency::HEADER;

/// A request example: `(method, path as the spec lists it, body)`.
pub type RequestExample = (&'static str, &'static str, Value);

/// One service's OpenAPI document.
#[derive(Clone, Debug)]
pub struct ApiDoc {
    /// File and mount name: `rebornpay`, `admin`, …
    pub name: &'static str,
    /// The document.
    pub spec: Value,
    html_template: String,
}

impl ApiDoc {
    /// The document of `service`, saved as `name`, its header names spelled as the
    /// providers spell them ([`HEADER_SPELLINGS`]) and its described references plain
    /// ([`plain_refs`]), its answers given the examples a server gave
    /// ([`recorded_examples`]).
    pub fn from_service<T: OpenApi>(name: &'static str, service: &OpenApiService<T, ()>) -> ApiDoc {
        let mut spec = serde_json::from_str(&service.spec()).unwrap_or(Value::Null);
        spell_headers(&mut spec);
        plain_refs(&mut spec);
        idempotency_on_writes_only(&mut spec);
        nullable_request_optionals(&mut spec);
        let mut doc = ApiDoc { name, spec, html_template: service.swagger_ui_html() };
        doc.add_recorded_examples();
        doc
    }

    /// Makes every operation require all of its security schemes together (OpenAPI's
    /// AND), for providers that authenticate with several headers at once, where
    /// poem-openapi lists each scheme as an alternative.
    pub fn require_all_security(mut self) -> ApiDoc {
        let paths = self.spec.get_mut("paths").and_then(Value::as_object_mut);
        for operation in paths.into_iter().flat_map(|p| p.values_mut()).filter_map(Value::as_object_mut) {
            for op in operation.values_mut() {
                let Some(security) = op.get_mut("security").and_then(Value::as_array_mut) else { continue };
                let mut merged = serde_json::Map::new();
                for requirement in security.iter().filter_map(Value::as_object) {
                    merged.extend(requirement.clone());
                }
                *security = vec![Value::Object(merged)];
            }
        }
        self
    }

    /// Marks the optional properties of the named schemas `nullable`, for answers that
    /// send every field of the provider's table, `null` when it has no value
    /// (poem-openapi documents an `Option` as optional, not as nullable).
    pub fn nullable_optionals(mut self, schemas: &[&str]) -> ApiDoc {
        for name in schemas {
            let Some(schema) = self.spec.pointer_mut(&format!("/components/schemas/{name}")) else { continue };
            let required: Vec<String> = schema
                .get("required")
                .and_then(Value::as_array)
                .map(|r| r.iter().filter_map(Value::as_str).map(str::to_owned).collect())
                .unwrap_or_default();
            let Some(properties) = schema.get_mut("properties").and_then(Value::as_object_mut) else { continue };
            // (A `$ref` property cannot be marked; the dialects send none as null.)
            let optional = properties.iter_mut().filter(|(f, _)| !required.contains(f)).map(|(_, p)| p);
            for property in optional.filter_map(Value::as_object_mut).filter(|p| !p.contains_key("$ref")) {
                property.insert("nullable".into(), Value::Bool(true));
            }
        }
        self
    }

    /// Gives operations a request example, in each of their body's media types:
    /// `(method, path as the spec lists it, body)`. Swagger UI's "Try it out" starts
    /// from it; a spec test holds every operation with a body to having one, and sends
    /// each dialect's create examples to a server.
    pub fn request_examples(mut self, examples: &[RequestExample]) -> ApiDoc {
        for (method, path, example) in examples {
            let pointer = format!("/paths/{}/{method}/requestBody/content", path.replace('~', "~0").replace('/', "~1"));
            let content = self.spec.pointer_mut(&pointer).and_then(Value::as_object_mut);
            let Some(content) = content else {
                tracing::warn!(doc = self.name, method, path, "an example for an operation the spec does not have");
                continue;
            };
            for media in content.values_mut().filter_map(Value::as_object_mut) {
                media.insert("example".into(), example.clone());
            }
        }
        self
    }

    /// Gives each response the named examples recorded for it ([`recorded_examples`]),
    /// shown by Swagger UI beside the response's schema.
    fn add_recorded_examples(&mut self) {
        let recorded: Value = serde_json::from_str(recorded_examples(self.name)).unwrap_or_default();
        for (operation, statuses) in recorded.as_object().into_iter().flatten() {
            let Some((method, path)) = operation.split_once(' ') else { continue };
            for (status, named) in statuses.as_object().into_iter().flatten() {
                let path = path.replace('~', "~0").replace('/', "~1");
                let pointer = format!("/paths/{path}/{method}/responses/{status}/content");
                let Some(content) = self.spec.pointer_mut(&pointer).and_then(Value::as_object_mut) else {
                    tracing::warn!(
                        doc = self.name,
                        operation,
                        status,
                        "an example for a response the spec does not have"
                    );
                    continue;
                };
                for media in content.values_mut().filter_map(Value::as_object_mut) {
                    let examples = media.entry("examples").or_insert_with(|| Value::Object(Default::default()));
                    for (name, example) in named.as_object().into_iter().flatten() {
                        if let Some(examples) = examples.as_object_mut() {
                            examples.insert(name.clone(), serde_json::json!({ "value": example }));
                        }
                    }
                }
            }
        }
    }

    /// Gives every parameter named in `examples` (path, query or header) that example,
    /// which "Try it out" fills in: ids that exist in the demo (QR Money's account
    /// 1001) or that its request examples create (REBORNPAY's INV-1001).
    pub fn parameter_examples(mut self, examples: &[(&str, Value)]) -> ApiDoc {
        let paths = self.spec.get_mut("paths").and_then(Value::as_object_mut);
        for operation in paths.into_iter().flat_map(|p| p.values_mut()).filter_map(Value::as_object_mut) {
            for op in operation.values_mut() {
                let Some(parameters) = op.get_mut("parameters").and_then(Value::as_array_mut) else { continue };
                for parameter in parameters.iter_mut().filter_map(Value::as_object_mut) {
                    let name = parameter.get("name").and_then(Value::as_str).unwrap_or_default().to_owned();
                    if let Some((_, example)) = examples.iter().find(|(n, _)| *n == name) {
                        parameter.insert("example".into(), example.clone());
                    }
                }
            }
        }
        self
    }

    /// Replaces the document's servers with `servers` (URL, description), in order.
    pub fn with_servers(mut self, servers: Vec<(String, String)>) -> ApiDoc {
        let list =
            servers.into_iter().map(|(url, description)| serde_json::json!({ "url": url, "description": description }));
        if let Some(spec) = self.spec.as_object_mut() {
            spec.insert("servers".into(), Value::Array(list.collect()));
        }
        self
    }

    /// The document as YAML (what `openapi/<name>.yaml` holds).
    pub fn yaml(&self) -> String {
        serde_yaml::to_string(&yaml_value(&self.spec)).unwrap_or_default()
    }

    /// The document as JSON.
    pub fn json(&self) -> String {
        serde_json::to_string_pretty(&self.spec).unwrap_or_default()
    }

    /// Swagger UI for this document with Authorize filled in: each of its API-key
    /// security schemes whose header `headers` names gets that header's value (the
    /// built-in demo's keys; never a configured deployment's).
    pub fn authorized(mut self, headers: &[(&str, String)]) -> ApiDoc {
        let schemes = self.spec.pointer("/components/securitySchemes").and_then(Value::as_object);
        let mut calls = String::new();
        for (scheme, definition) in schemes.into_iter().flatten() {
            let header = definition.get("name").and_then(Value::as_str).unwrap_or_default();
            let is_header_key = definition.get("type").and_then(Value::as_str) == Some("apiKey")
                && definition.get("in").and_then(Value::as_str) == Some("header");
            if let Some((_, value)) =
                headers.iter().find(|(name, _)| is_header_key && name.eq_ignore_ascii_case(header))
            {
                let (scheme, value) = (Value::from(scheme.as_str()), Value::from(value.as_str()));
                calls.push_str(&format!("window.ui.preauthorizeApiKey({scheme}, {value}); "));
            }
        }
        // The page's own call, after the inlined bundle (which names both too).
        if let Some(at) = self.html_template.rfind("SwaggerUIBundle({")
            && !calls.is_empty()
        {
            let call = format!("window.ui = SwaggerUIBundle({{\n        onComplete: function () {{ {calls}}},");
            self.html_template.replace_range(at..at + "SwaggerUIBundle({".len(), &call);
        }
        self
    }

    /// Swagger UI for this document.
    pub fn swagger_html(&self) -> String {
        // poem-openapi's page embeds the spec as `let spec = {…};`; put ours there.
        let template = &self.html_template;
        match (template.find("let spec = "), template.find("let oauth2RedirectUrl")) {
            (Some(start), Some(end)) if start < end => format!(
                "{}let spec = {};\n    {}",
                &template[..start],
                serde_json::to_string(&self.spec).unwrap_or_default(),
                &template[end..]
            ),
            _ => template.clone(),
        }
    }

    /// Mounts `/docs` (Swagger UI), `/openapi.yaml` and `/openapi.json` under `base`.
    pub fn mount(&self, route: Route, base: &str) -> Route {
        let html = self.swagger_html();
        let yaml = self.yaml();
        let json = self.json();
        let docs = make_sync(move |_| Html(html.clone()));
        route
            .at(format!("{base}/docs"), docs)
            .at(
                format!("{base}/openapi.yaml"),
                make_sync(move |_| Response::builder().content_type("application/yaml").body(yaml.clone())),
            )
            .at(
                format!("{base}/openapi.json"),
                make_sync(move |_| Response::builder().content_type("application/json").body(json.clone())),
            )
    }
}

/// The answers a server gave, per document, which its responses carry as named
/// examples: `openapi/examples/<name>.json`, operation (`"post /path"`) → status →
/// example name → answer. `tests/api/examples.rs` records them by sending every
/// operation of every spec its success case and its main errors, and fails when an
/// answer is no longer shaped as the example recorded for it.
fn recorded_examples(name: &str) -> &'static str {
    match name {
        "admin" => include_str!("../../openapi/examples/admin.json"),
        "sandbox" => include_str!("../../openapi/examples/sandbox.json"),
        "rebornpay" => include_str!("../../openapi/examples/rebornpay.json"),
        "shadhinpay" => include_str!("../../openapi/examples/shadhinpay.json"),
        "starpay" => include_str!("../../openapi/examples/starpay.json"),
        "payrequest" => include_str!("../../openapi/examples/payrequest.json"),
        "qrmoney" => include_str!("../../openapi/examples/qrmoney.json"),
        _ => "{}",
    }
}

/// The headers the specs name besides the security schemes', as the providers (and
/// paybridge's own APIs) spell them. poem-openapi upper-cases the headers a service
/// adds to every operation and those of its responses (`IDEMPOTENCY-KEY`); HTTP
/// compares names without case, but Swagger UI and generated clients show them as the
/// spec spells them. A spec test holds every header of every spec to this list.
pub const HEADER_SPELLINGS: &[&str] = &[
    "Idempotency-Key",
    "Idempotent-Replayed",
    "Retry-After",
    "X-Timestamp",
    "X-Signature",
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
];

/// Renames, anywhere in `spec`, header parameters (`in: header`) and response headers
/// (`headers:` keys) to their [`HEADER_SPELLINGS`].
fn spell_headers(spec: &mut Value) {
    let spelled = |name: &str| HEADER_SPELLINGS.iter().find(|s| s.eq_ignore_ascii_case(name)).copied();
    match spec {
        Value::Object(map) => {
            if map.get("in").and_then(Value::as_str) == Some("header")
                && let Some(Value::String(name)) = map.get_mut("name")
                && let Some(spelling) = spelled(name)
            {
                *name = spelling.to_owned();
            }
            if let Some(Value::Object(headers)) = map.get_mut("headers") {
                let renamed = std::mem::take(headers)
                    .into_iter()
                    .map(|(name, header)| (spelled(&name).map_or(name, str::to_owned), header))
                    .collect();
                *headers = renamed;
            }
            map.values_mut().for_each(spell_headers);
        }
        Value::Array(items) => items.iter_mut().for_each(spell_headers),
        _ => {}
    }
}

/// Takes `Idempotency-Key` off the reading operations: poem-openapi adds a service's
/// extra request header to every operation, and a key is only read on a POST, PUT,
/// PATCH or DELETE ([`crate::http::idempotency`]).
fn idempotency_on_writes_only(spec: &mut Value) {
    let paths = spec.get_mut("paths").and_then(Value::as_object_mut);
    for operations in paths.into_iter().flat_map(|p| p.values_mut()).filter_map(Value::as_object_mut) {
        for (method, operation) in operations.iter_mut() {
            if matches!(method.as_str(), "post" | "put" | "patch" | "delete") {
                continue;
            }
            if let Some(parameters) = operation.get_mut("parameters").and_then(Value::as_array_mut) {
                parameters.retain(|p| {
                    !(p["in"] == "header" && p["name"].as_str().is_some_and(|n| n.eq_ignore_ascii_case(HEADER)))
                });
            }
        }
    }
}

/// Marks the optional properties of every request body's schema `nullable`: the
/// server reads an explicit `null` as the field left out (serde's `Option`), as the
/// clients that send every field of a form expect, and the spec says so. A property
/// that refers to a named schema becomes `allOf: [$ref]` beside `nullable` (OpenAPI
/// 3.0 ignores siblings of a bare `$ref`).
fn nullable_request_optionals(spec: &mut Value) {
    let mut names: Vec<String> = Vec::new();
    for operations in spec["paths"].as_object().into_iter().flat_map(|p| p.values()) {
        for operation in operations.as_object().into_iter().flat_map(|o| o.values()) {
            for media in operation["requestBody"]["content"].as_object().into_iter().flat_map(|c| c.values()) {
                if let Some(name) = media["schema"]["$ref"].as_str().and_then(|r| r.rsplit('/').next()) {
                    names.push(name.to_owned());
                }
            }
        }
    }
    names.sort();
    names.dedup();
    for name in names {
        let Some(schema) = spec.pointer_mut(&format!("/components/schemas/{name}")) else { continue };
        let required: Vec<Value> = schema["required"].as_array().cloned().unwrap_or_default();
        let Some(properties) = schema.get_mut("properties").and_then(Value::as_object_mut) else { continue };
        for (field, property) in properties.iter_mut() {
            if required.iter().any(|r| r == field.as_str()) {
                continue;
            }
            let Some(property) = property.as_object_mut() else { continue };
            if let Some(target) = property.remove("$ref") {
                property.insert("allOf".into(), Value::Array(vec![serde_json::json!({ "$ref": target })]));
            }
            property.insert("nullable".into(), Value::Bool(true));
        }
    }
}

/// Rewrites poem-openapi's `allOf: [{$ref}, {description}]`, which it writes for every
/// documented field whose type is a named schema, as the plain `$ref` it means, its
/// description beside it. Client generators read that `allOf` as a composition and
/// give up where the named schema is not an object (openapi-python-client drops every
/// model holding a documented enum field, and with them the operations' responses).
fn plain_refs(spec: &mut Value) {
    match spec {
        Value::Object(map) => {
            let described_ref = match map.get("allOf").and_then(Value::as_array).map(Vec::as_slice) {
                Some([target, extra]) if extra.as_object().is_some_and(|e| e.keys().all(|k| k == "description")) => {
                    target.get("$ref").cloned()
                }
                _ => None,
            };
            if let Some(target) = described_ref {
                map.remove("allOf");
                map.insert("$ref".into(), target);
            }
            map.values_mut().for_each(plain_refs);
        }
        Value::Array(items) => items.iter_mut().for_each(plain_refs),
        _ => {}
    }
}

/// Converts JSON to YAML values by hand: with serde_json's `arbitrary_precision`,
/// numbers serialize through serde as a private map that only serde_json understands.
fn yaml_value(value: &Value) -> serde_yaml::Value {
    use serde_yaml::Value as Y;
    match value {
        Value::Null => Y::Null,
        Value::Bool(b) => Y::Bool(*b),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Y::Number(i.into())
            } else if let Some(u) = n.as_u64() {
                Y::Number(u.into())
            } else {
                Y::Number(n.as_f64().unwrap_or(0.0).into())
            }
        }
        Value::String(s) => Y::String(s.clone()),
        Value::Array(items) => Y::Sequence(items.iter().map(yaml_value).collect()),
        Value::Object(map) => Y::Mapping(map.iter().map(|(k, v)| (Y::String(k.clone()), yaml_value(v))).collect()),
    }
}

/// A header's documented type: a string of at most `MAX` characters (the header cap
/// bounds every header; this is the tighter bound its reader applies).
pub struct HeaderText<const MAX: usize>;

impl<const MAX: usize> poem_openapi::types::Type for HeaderText<MAX> {
    const IS_REQUIRED: bool = false;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> std::borrow::Cow<'static, str> {
        format!("string(max_length={MAX})").into()
    }

    fn schema_ref() -> poem_openapi::registry::MetaSchemaRef {
        let mut schema = poem_openapi::registry::MetaSchema::new("string");
        schema.max_length = Some(MAX);
        poem_openapi::registry::MetaSchemaRef::Inline(Box::new(schema))
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        Some(self)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        Box::new(std::iter::once(self))
    }
}

/// A dialect's OpenAPI service: `api` titled and described, with the headers every
/// dialect shares documented (`Idempotency-Key` in, `Idempotent-Replayed` out).
pub fn dialect_service<T: OpenApi>(api: T, title: &str, description: &str) -> OpenApiService<T, ()> {
    OpenApiService::new(api, title, env!("CARGO_PKG_VERSION"))
        .description(description)
        .extra_request_header::<HeaderText<255>, _>(
            poem_openapi::ExtraHeader::new("Idempotency-Key")
                .description("Makes a POST safe to retry (kept 24 hours); 1 to 255 visible ASCII characters."),
        )
        .extra_response_header::<Option<String>, _>(
            poem_openapi::ExtraHeader::new("Idempotent-Replayed")
                .description("`true` when this is a stored response replayed."),
        )
}
