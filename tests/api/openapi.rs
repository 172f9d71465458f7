//! The committed OpenAPI documents: any change to an API must show up in `openapi/` and
//! be accepted on purpose (`cargo run -- openapi --out openapi/`).

use paybridge::startup::all_docs;

#[test]
fn committed_specs_match_the_generated_ones() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi");
    let mut stale = Vec::new();
    for doc in all_docs() {
        let path = dir.join(format!("{}.yaml", doc.name));
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        if committed != doc.yaml() {
            stale.push(path.display().to_string());
        }
    }
    assert!(stale.is_empty(), "stale specs {stale:?}: run `cargo run -- openapi --out openapi/` and commit them");
}

#[test]
fn rebornpay_operations_require_key_and_secret_together() {
    let doc = all_docs().into_iter().find(|d| d.name == "rebornpay").unwrap();
    let paths = doc.spec["paths"].as_object().unwrap();
    assert_eq!(paths.len(), 9, "the nine documented endpoints: {:?}", paths.keys().collect::<Vec<_>>());
    for (path, ops) in paths {
        assert!(path.starts_with("/api/v1/"), "{path}");
        for (method, op) in ops.as_object().unwrap() {
            let security = op["security"].as_array().unwrap();
            assert_eq!(security.len(), 1, "{method} {path}: one requirement");
            let schemes = security[0].as_object().unwrap();
            assert_eq!(schemes.len(), 2, "{method} {path}: both headers at once");
        }
    }
    assert_eq!(doc.spec["servers"][0]["url"], "/rebornpay");
}

#[test]
fn shadhinpay_operations_require_all_three_headers() {
    let doc = all_docs().into_iter().find(|d| d.name == "shadhinpay").unwrap();
    let paths = doc.spec["paths"].as_object().unwrap();
    let mut operations: Vec<String> = Vec::new();
    for (path, ops) in paths {
        for (method, op) in ops.as_object().unwrap() {
            operations.push(format!("{method} {path}"));
            let security = op["security"].as_array().unwrap();
            assert_eq!(security.len(), 1, "{method} {path}: one requirement");
            let mut schemes: Vec<&str> = security[0].as_object().unwrap().keys().map(String::as_str).collect();
            schemes.sort_unstable();
            assert_eq!(schemes, ["BusinessIdAuth", "ClientIdAuth", "SecretKeyAuth"], "{method} {path}");
        }
    }
    operations.sort();
    assert_eq!(
        operations,
        ["get /payments", "get /payments/{payment_id}", "post /payments", "post /payments/{payment_id}/refund"]
    );
    assert!(doc.spec["paths"]["/payments"]["post"]["responses"]["201"].is_object(), "create answers 201");
    assert!(doc.spec["paths"]["/payments"]["post"]["responses"]["200"].is_null());
    assert_eq!(doc.spec["servers"][0]["url"], "/shadhinpay/api/v1");
}

#[test]
fn starpay_operations_take_the_api_key() {
    let doc = all_docs().into_iter().find(|d| d.name == "starpay").unwrap();
    let mut operations: Vec<String> = Vec::new();
    for (path, ops) in doc.spec["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            operations.push(format!("{method} {path}"));
            assert_eq!(op["security"], serde_json::json!([{ "ApiKeyAuth": [] }]), "{method} {path}");
            let ok = if method == "post" { "201" } else { "200" };
            let headers = &op["responses"][ok]["headers"];
            assert!(headers["X-RateLimit-Limit"].is_object(), "{method} {path} documents X-RateLimit-Limit: {headers}");
        }
    }
    operations.sort();
    assert_eq!(
        operations,
        [
            "get /balance",
            "get /payments",
            "get /payments/{id}",
            "get /payouts",
            "get /profile",
            "post /payments",
            "post /payouts"
        ]
    );
    let scheme = &doc.spec["components"]["securitySchemes"]["ApiKeyAuth"];
    assert_eq!(
        (scheme["name"].as_str(), scheme["in"].as_str()),
        (Some("X-API-KEY"), Some("header")),
        "Try it out sends it"
    );
}

#[test]
fn payrequest_documents_json_and_forms() {
    let doc = all_docs().into_iter().find(|d| d.name == "payrequest").unwrap();
    for path in ["/api/create", "/api/get"] {
        let content = &doc.spec["paths"][path]["post"]["requestBody"]["content"];
        let types: Vec<&str> = content.as_object().expect(path).keys().map(String::as_str).collect();
        assert!(types.iter().any(|t| t.starts_with("application/json")), "{path}: {types:?}");
        assert!(types.contains(&"application/x-www-form-urlencoded"), "{path}: {types:?}");
    }
    assert_eq!(doc.spec["servers"][0]["url"], "/payrequest");
}

#[test]
fn qrmoney_documents_its_three_operations_behind_the_api_key() {
    let doc = all_docs().into_iter().find(|d| d.name == "qrmoney").unwrap();
    let mut operations: Vec<String> = Vec::new();
    for (path, ops) in doc.spec["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            operations.push(format!("{method} {path}"));
            assert_eq!(op["security"], serde_json::json!([{ "ApiKeyAuth": [] }]), "{method} {path}");
        }
    }
    operations.sort();
    assert_eq!(
        operations,
        ["get /payment-requests/status/{id}", "get /payments/h2h/refund/{id}", "post /payments/h2h/{accountId}"]
    );
    assert_eq!(doc.spec["components"]["securitySchemes"]["ApiKeyAuth"]["name"], "X-API-Key");
    let status = &doc.spec["components"]["schemas"]["PaymentRequestStatus"]["properties"];
    for field in ["recipientName", "paymentRequestStatusId", "transactionStatusId", "client", "lastLog"] {
        assert!(status[field].is_object(), "{field}");
    }
    assert_eq!(doc.spec["servers"][0]["url"], "/qrmoney");
}

/// Every header a spec names is spelled as its provider spells it (`Idempotency-Key`,
/// `X-Timestamp`, StarPay's `X-API-KEY`), not as poem-openapi upper-cases it.
#[test]
fn header_names_are_the_providers_spelling() {
    fn headers(value: &serde_json::Value, out: &mut Vec<String>) {
        match value {
            serde_json::Value::Object(map) => {
                if map.get("in").and_then(|v| v.as_str()) == Some("header")
                    && let Some(name) = map.get("name").and_then(|v| v.as_str())
                {
                    out.push(name.to_owned());
                }
                if let Some(serde_json::Value::Object(listed)) = map.get("headers") {
                    out.extend(listed.keys().cloned());
                }
                map.values().for_each(|v| headers(v, out));
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| headers(v, out)),
            _ => {}
        }
    }
    let schemes = ["X-Api-Key", "X-Api-Secret", "Client-Id", "Business-Id", "Secret-Key", "X-API-KEY", "X-API-Key"];
    let mut seen = std::collections::BTreeSet::new();
    for doc in all_docs() {
        let mut names = Vec::new();
        headers(&doc.spec, &mut names);
        for name in names {
            let known =
                paybridge::http::openapi::HEADER_SPELLINGS.contains(&name.as_str()) || schemes.contains(&name.as_str());
            assert!(known, "{}: header {name:?} is not spelled as its provider spells it", doc.name);
            seen.insert(name);
        }
    }
    for name in ["Idempotency-Key", "Idempotent-Replayed", "Retry-After", "X-Timestamp", "X-RateLimit-Limit"] {
        assert!(seen.contains(name), "some spec names {name}: {seen:?}");
    }
}

/// Every operation has an `operationId`, unique in its spec: generated clients name
/// their functions after it (`create_payment`, not `post_api_v1_payment_create`).
#[test]
fn every_operation_has_a_unique_operation_id() {
    for doc in all_docs() {
        let mut seen = std::collections::BTreeSet::new();
        for (path, ops) in doc.spec["paths"].as_object().unwrap() {
            for (method, op) in ops.as_object().unwrap() {
                let id = op["operationId"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{} {method} {path}: no operationId", doc.name));
                assert!(seen.insert(id.to_owned()), "{}: operationId {id} twice", doc.name);
            }
        }
    }
    let reborn = all_docs().into_iter().find(|d| d.name == "rebornpay").unwrap();
    assert_eq!(reborn.spec["paths"]["/api/v1/payment/create"]["post"]["operationId"], "createPayment");
}

/// `Idempotency-Key` is documented where it is read, on the writing operations only:
/// a reading one ignores it, so the spec must not promise what it checks.
#[test]
fn idempotency_key_is_documented_on_writes_only() {
    let mut writes = 0;
    for doc in all_docs() {
        for (path, ops) in doc.spec["paths"].as_object().unwrap() {
            for (method, op) in ops.as_object().unwrap() {
                let listed = op["parameters"].as_array().into_iter().flatten().any(|p| p["name"] == "Idempotency-Key");
                let write = method != "get";
                assert!(!listed || write, "{} {method} {path} lists Idempotency-Key", doc.name);
                writes += usize::from(listed);
            }
        }
    }
    assert_eq!(writes, 9, "the dialects' writes list it (PayRequest has no idempotency keys)");
}

/// An optional request field is documented as nullable: the server reads `null` as
/// the field left out, and the spec must not rule out what it accepts.
#[test]
fn optional_request_fields_are_nullable() {
    let reborn = all_docs().into_iter().find(|d| d.name == "rebornpay").unwrap();
    let fields = &reborn.spec["components"]["schemas"]["CreatePaymentRequest"]["properties"];
    assert_eq!(fields["customer_email"]["nullable"], true, "{}", fields["customer_email"]);
    assert_eq!(fields["payment_method"]["nullable"], true);
    assert_eq!(fields["payment_method"]["allOf"][0]["$ref"], "#/components/schemas/PaymentMethod");
    assert!(fields["invoice_id"].get("nullable").is_none(), "required fields are not nullable");
    let admin = all_docs().into_iter().find(|d| d.name == "admin").unwrap();
    let patch = &admin.spec["components"]["schemas"]["UpdateMerchant"]["properties"];
    assert_eq!(patch["default_currency"]["nullable"], true, "{patch}");
}

/// A field whose type is a named schema refers to it plainly: no `allOf` that only adds
/// a description (poem-openapi's way), which client generators read as a composition
/// and drop, with every model and answer holding it, where the schema is an enum. (A
/// nullable optional request field is `allOf: [$ref]`, which they read.)
#[test]
fn fields_refer_to_their_schemas_plainly() {
    fn compositions(value: &serde_json::Value, at: String, out: &mut Vec<String>) {
        match value {
            serde_json::Value::Object(map) => {
                // The one `allOf` a spec may hold: a nullable optional request field's.
                let nullable_ref = map.get("nullable") == Some(&serde_json::Value::Bool(true))
                    && map.get("allOf").and_then(|a| a.as_array()).is_some_and(|all| all.len() == 1);
                if map.contains_key("allOf") && !nullable_ref {
                    out.push(at.clone());
                }
                map.iter().for_each(|(k, v)| compositions(v, format!("{at}/{k}"), out));
            }
            serde_json::Value::Array(items) => {
                items.iter().enumerate().for_each(|(i, v)| compositions(v, format!("{at}/{i}"), out))
            }
            _ => {}
        }
    }
    let mut found = Vec::new();
    for doc in all_docs() {
        compositions(&doc.spec, doc.name.to_owned(), &mut found);
    }
    assert!(found.is_empty(), "allOf in {found:#?}");
    let status = &all_docs().into_iter().find(|d| d.name == "rebornpay").unwrap().spec["components"]["schemas"]["PaymentData"]
        ["properties"]["status"];
    assert_eq!(status["$ref"], "#/components/schemas/Status", "{status}");
}

/// Every operation that takes a body carries a request example in each of its media
/// types, so Swagger UI's "Try it out" starts from a realistic request.
#[test]
fn every_request_body_has_an_example() {
    let mut missing = Vec::new();
    for doc in all_docs() {
        for (path, ops) in doc.spec["paths"].as_object().unwrap() {
            for (method, op) in ops.as_object().unwrap() {
                for (media, body) in op["requestBody"]["content"].as_object().into_iter().flatten() {
                    if !body["example"].is_object() {
                        missing.push(format!("{} {method} {path} ({media})", doc.name));
                    }
                }
            }
        }
    }
    assert!(missing.is_empty(), "request bodies without an example: {missing:#?}");
}

/// A JSON value's shape: its objects' keys, all the way down (scalars and nulls alike).
fn shape(value: &serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::Object(map) => map.iter().map(|(k, v)| (k.clone(), shape(v))).collect(),
        serde_json::Value::Array(items) => items.first().map(shape).into_iter().collect(),
        _ => serde_json::Value::Null,
    }
}

/// The named examples of `path`'s POST answer `status`, in its JSON media type.
fn response_examples(doc: &paybridge::http::openapi::ApiDoc, path: &str, status: u16) -> Vec<serde_json::Value> {
    let content = &doc.spec["paths"][path]["post"]["responses"][status.to_string()]["content"];
    let media = content.as_object().into_iter().flatten().find(|(m, _)| m.starts_with("application/json"));
    let examples = media.and_then(|(_, m)| m["examples"].as_object().cloned()).unwrap_or_default();
    examples.values().map(|e| e["value"].clone()).collect()
}

/// Each dialect's create example, sent as "Try it out" sends it — to the spec's first
/// server, with the demo merchant's keys in the headers the dialect takes them in — is
/// a created payment, shaped as the spec's success example; without the keys, the
/// answer is shaped as its refusal example.
async fn each_dialects_create_example_is_accepted(backend: crate::helpers::Backend) {
    let app = crate::helpers::spawn_app(backend).await;
    let seeds = app.config.merchants[0].to_seed().credentials;
    let creates = [
        ("rebornpay", "/api/v1/payment/create"),
        ("shadhinpay", "/payments"),
        ("starpay", "/payments"),
        ("payrequest", "/api/create"),
        ("qrmoney", "/payments/h2h/{accountId}"),
    ];
    for (dialect, path) in creates {
        let entry = paybridge::adapters::DialectEntry::named(dialect).unwrap();
        let doc = entry.doc();
        let media = &doc.spec["paths"][path]["post"]["requestBody"]["content"];
        let json_media = media.as_object().unwrap().keys().find(|m| m.starts_with("application/json")).unwrap();
        let example = media[json_media]["example"].clone();
        let seed = seeds.iter().find(|s| s.dialect().as_str() == dialect && s.role.as_deref() != Some("partner"));
        let keys = paybridge::adapters::client_keys(seed.expect("a demo credential"));
        let account = keys.suite.iter().find(|(name, _)| name == "account_id").map(|(_, id)| id.clone());
        let path_in_spec = path;
        let path = path.replace("{accountId}", account.as_deref().unwrap_or_default());
        let server = doc.spec["servers"][0]["url"].as_str().unwrap();
        let mut request = app.request(reqwest::Method::POST, &format!("{server}{path}")).json(&example);
        for (name, value) in &keys.headers {
            request = request.header(*name, value);
        }
        let reply = app.send(request).await;
        assert!((200..300).contains(&reply.status), "{dialect}'s example: {} {}", reply.status, reply.body);
        let refused = reply.body["success"] == false || reply.body["status"] == "error";
        assert!(!refused, "{dialect}'s example: {}", reply.body);
        let documented: Vec<_> = response_examples(&doc, path_in_spec, reply.status).iter().map(shape).collect();
        assert!(documented.contains(&shape(&reply.body)), "{dialect}: no example shaped as {}", reply.body);

        // Without the keys (PayRequest's token is in the body).
        let mut anonymous = example.clone();
        anonymous.as_object_mut().unwrap().remove("token");
        let reply = app.send(app.request(reqwest::Method::POST, &format!("{server}{path}")).json(&anonymous)).await;
        let documented: Vec<_> = response_examples(&doc, path_in_spec, reply.status).iter().map(shape).collect();
        assert!(documented.contains(&shape(&reply.body)), "{dialect}: no example shaped as {}", reply.body);
    }
}

crate::db_test!(each_dialects_create_example_is_accepted);

/// The admin API's `role` pattern lists exactly the StarPay roles the server takes.
#[test]
fn the_admin_role_pattern_is_the_starpay_roles() {
    use paybridge::adapters::starpay::roles::Role;
    let doc = all_docs().into_iter().find(|d| d.name == "admin").unwrap();
    let names: Vec<&str> = Role::ALL.iter().map(|r| r.name()).collect();
    let expected = format!("^({})$", names.join("|"));
    for schema in ["IssueCredential", "UpdateCredential"] {
        let role = &doc.spec["components"]["schemas"][schema]["properties"]["role"];
        assert_eq!(role["pattern"], expected.as_str(), "{schema}: {role}");
    }
}

/// ShadhinPay's amounts are minor units: the spec's maximum is the core's.
#[test]
fn shadhinpay_amounts_are_bounded_as_the_core_bounds_them() {
    let doc = all_docs().into_iter().find(|d| d.name == "shadhinpay").unwrap();
    let amount = &doc.spec["components"]["schemas"]["CreatePaymentRequest"]["properties"]["amount"];
    assert_eq!(amount["maximum"].as_f64(), Some(paybridge::core::money::MAX_MINOR as f64), "{amount}");
}
